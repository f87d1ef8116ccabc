using System.Globalization;

namespace FlexNet.Distributed;

/// <summary>
/// MPI_COMM_WORLD through a thin binding loaded at run time: Open MPI (libmpi.so.40) or an MPICH-ABI library
/// (libmpich.so.12), whichever the launcher in the environment calls for (see <see cref="LaunchedUnderMpi"/>). Nothing
/// is loaded until <see cref="Initialize"/>; a machine without MPI never touches it. MPI allows one initialization
/// per process, so there is one instance; <see cref="Dispose"/> calls MPI_Finalize (collective: every rank must).
/// </summary>
/// <example><code>
/// if (MpiCommunicator.LaunchedUnderMpi)          // started by mpirun -np R ...
/// {
///     using var world = MpiCommunicator.Initialize();
///     options.Communicator = world;              // Trainer.Fit now trains data-parallel
///     trainer.Fit(x, y);
/// }
/// </code></example>
public sealed unsafe class MpiCommunicator : ICommunicator, IDisposable
{
    private static readonly object Gate = new();
    private static MpiCommunicator? s_current;
    private static bool s_finalized;
    private readonly MpiAbi _abi;
    private bool _disposed;

    private MpiCommunicator(MpiAbi abi, MpiThreadLevel provided, int rank, int size)
    {
        _abi = abi;
        ThreadLevel = provided;
        Rank = rank;
        Size = size;
    }

    /// <summary>True when a known MPI launcher started this process: Open MPI's <c>mpirun</c>
    /// (<c>OMPI_COMM_WORLD_SIZE</c>), MPICH's Hydra or Slurm's PMI (<c>PMI_SIZE</c>/<c>PMI_RANK</c>) or PMIx
    /// (<c>PMIX_RANK</c>). The CLI uses it to switch to data-parallel training without a flag.</summary>
    public static bool LaunchedUnderMpi => LaunchedWorldSize is not null || Environment.GetEnvironmentVariable("PMIX_RANK") is not null;

    /// <summary>The world size announced by the launcher's environment, without loading MPI (null when not launched
    /// by <c>mpirun</c>/<c>mpiexec</c>).</summary>
    public static int? LaunchedWorldSize
    {
        get
        {
            foreach (var name in (ReadOnlySpan<string>)["OMPI_COMM_WORLD_SIZE", "PMI_SIZE"])
                if (int.TryParse(Environment.GetEnvironmentVariable(name), NumberStyles.Integer, CultureInfo.InvariantCulture, out int n) && n > 0)
                    return n;
            return null;
        }
    }

    /// <inheritdoc/>
    public int Rank { get; }

    /// <inheritdoc/>
    public int Size { get; }

    /// <summary>The thread level MPI granted (may be lower than requested; FlexNet needs only
    /// <see cref="MpiThreadLevel.Funneled"/>: it calls MPI from the thread that initialized it).</summary>
    public MpiThreadLevel ThreadLevel { get; }

    /// <summary>"Open MPI" or "MPICH": the ABI in use.</summary>
    public string Implementation => _abi.Name;

    /// <summary>The library that was loaded (soname or path).</summary>
    public string Library => _abi.Path;

    /// <summary>Loads MPI and calls MPI_Init_thread (or returns the instance of an earlier call that is not yet
    /// disposed).</summary>
    /// <param name="threadLevel">Requested thread support.</param>
    /// <returns>The world communicator.</returns>
    /// <exception cref="DistributedException">No MPI library loads (the message names the Debian packages), MPI was
    /// already finalized in this process, or initialization failed.</exception>
    public static MpiCommunicator Initialize(MpiThreadLevel threadLevel = MpiThreadLevel.Funneled)
    {
        lock (Gate)
        {
            if (s_current is { _disposed: false } c) return c;
            if (s_finalized) throw new DistributedException("MPI was finalized in this process; MPI cannot be initialized twice.");
            MpiLibrary.PrepareEnvironment(); // before the load: UCX reads its settings when the library is loaded
            var abi = MpiLibrary.Load();
            if (abi.Finalized()) throw new DistributedException($"MPI ({abi.Name}, {abi.Path}) was already finalized in this process.");
            int provided = (int)threadLevel;
            if (!abi.Initialized())
            {
                int rc = abi.InitThread((int)threadLevel, out provided);
                if (rc != 0) throw new DistributedException($"MPI_Init_thread failed ({abi.Name}, {abi.Path}): {abi.ErrorString(rc)}.");
            }
            Check(abi, abi.CommRank(out int rank), "MPI_Comm_rank", -1);
            Check(abi, abi.CommSize(out int size), "MPI_Comm_size", rank);
            return s_current = new MpiCommunicator(abi, (MpiThreadLevel)provided, rank, size);
        }
    }

    /// <inheritdoc/>
    public void AllReduce<T>(Span<T> data, ReduceOp op) where T : unmanaged
    {
        ThrowIfDisposed();
        var type = typeof(T) == typeof(float) ? MpiType.Float32
            : typeof(T) == typeof(double) ? MpiType.Float64
            : typeof(T) == typeof(int) ? MpiType.Int32
            : typeof(T) == typeof(long) ? MpiType.Int64
            : throw new ArgumentException($"AllReduce supports float, double, int and long; got {typeof(T).Name}.", nameof(data));
        if (op is not (ReduceOp.Sum or ReduceOp.Min or ReduceOp.Max)) throw new ArgumentOutOfRangeException(nameof(op), $"Unknown reduce operation {op}.");
        fixed (T* p = data)
        {
            // MPI counts are int: long buffers go in chunks (every rank chunks the same way).
            // Stryker disable all: the chunk arithmetic differs from one call only beyond int.MaxValue / 2 elements (4 GB of
            // floats on each rank, more than a test can hold); an empty span makes one call of count 0 either way
            for (int start = 0; start < data.Length; start += int.MaxValue / 2)
            {
                int count = Math.Min(int.MaxValue / 2, data.Length - start);
                // Stryker restore all
                Check(_abi, _abi.AllReduceInPlace(p + start, count, type, op), "MPI_Allreduce", Rank);
            }
        }
    }

    /// <inheritdoc/>
    public void Broadcast<T>(Span<T> data, int root) where T : unmanaged
    {
        ThrowIfDisposed();
        if ((uint)root >= (uint)Size) throw new ArgumentOutOfRangeException(nameof(root), $"Broadcast root must be in [0, {Size}); got {root}.");
        var bytes = System.Runtime.InteropServices.MemoryMarshal.AsBytes(data);
        fixed (byte* p = bytes)
        {
            // Stryker disable all: the chunk arithmetic differs from one call only beyond 2^30 bytes on each rank (more than
            // a test can hold); an empty span makes one call of count 0 either way
            for (int start = 0; start < bytes.Length; start += 1 << 30)
            {
                int count = Math.Min(1 << 30, bytes.Length - start);
                // Stryker restore all
                Check(_abi, _abi.Broadcast(p + start, count, MpiType.Byte, root), "MPI_Bcast", Rank);
            }
        }
    }

    /// <inheritdoc/>
    public void Barrier()
    {
        ThrowIfDisposed();
        Check(_abi, _abi.Barrier(), "MPI_Barrier", Rank);
    }

    /// <inheritdoc/>
    public void Abort(int errorCode, string message)
    {
        try
        {
            Console.Out.Flush();
            Console.Error.WriteLine($"[rank {Rank} of {Size}] {message}");
            Console.Error.Flush();
            // the launcher forwards each rank's output asynchronously and drops what is still in flight when
            // MPI_Abort tears the job down (seen with MPICH's Hydra on a loaded machine): give it a moment
            Thread.Sleep(500);
        }
        finally
        {
            _abi.Abort(errorCode);
            // Stryker disable once all: not reached: MPI_Abort does not return (belt and braces)
            Environment.Exit(errorCode == 0 ? 1 : errorCode); // MPI_Abort does not return; this is belt and braces.
        }
    }

    /// <summary>MPI_Finalize (collective). MPI cannot be initialized again in this process afterwards.</summary>
    public void Dispose()
    {
        lock (Gate)
        {
            if (_disposed) return;
            _disposed = true;
            s_finalized = true;
            if (!_abi.Finalized()) Check(_abi, _abi.Finalize(), "MPI_Finalize", Rank);
        }
    }

    /// <inheritdoc/>
    public override string ToString() => $"MpiCommunicator(rank {Rank} of {Size}, {Implementation}, {Library})";

    private void ThrowIfDisposed()
    {
        if (_disposed) throw new ObjectDisposedException(nameof(MpiCommunicator), "MPI was finalized (the communicator is disposed).");
    }

    private static void Check(MpiAbi abi, int rc, string call, int rank)
    {
        if (rc != 0)
            throw new DistributedException($"{call} failed on rank {rank} ({abi.Name}): {abi.ErrorString(rc)} (code {rc}).");
    }
}
