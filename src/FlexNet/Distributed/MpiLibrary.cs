using System.Runtime.InteropServices;

namespace FlexNet.Distributed;

/// <summary>
/// Finds and loads the MPI shared library at run time and picks the ABI from what it exports (Open MPI exports
/// <c>ompi_mpi_comm_world</c>; an MPICH-ABI library does not). The search order follows the launcher found in the
/// environment (Open MPI's <c>mpirun</c> sets <c>OMPI_COMM_WORLD_SIZE</c>; MPICH's Hydra sets <c>PMI_SIZE</c>), since
/// a process started by one launcher must load the matching library; <c>FLEXNET_MPI_LIBRARY</c> overrides it.
/// </summary>
internal static unsafe class MpiLibrary
{
    /// <summary>Environment variable naming the MPI library to load (a path or a soname).</summary>
    public const string OverrideVariable = "FLEXNET_MPI_LIBRARY";

    private const string OpenMpi = "libmpi.so.40", Mpich = "libmpich.so.12", MpichAbi12 = "libmpi.so.12";
    private const int RtldNow = 2, RtldGlobal = 0x100;

    /// <summary>Library names in the order to try.</summary>
    public static string[] Candidates()
    {
        var env = Environment.GetEnvironmentVariable(OverrideVariable);
        if (!string.IsNullOrWhiteSpace(env)) return [env];
        if (Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_SIZE") is not null) return [OpenMpi, Mpich, MpichAbi12];
        if (Environment.GetEnvironmentVariable("PMI_SIZE") is not null || Environment.GetEnvironmentVariable("PMI_RANK") is not null)
            return [Mpich, MpichAbi12, OpenMpi];
        return [OpenMpi, Mpich, MpichAbi12];
    }

    /// <summary>Keeps MPI's transports from taking over the signals .NET relies on. UCX (the transport of Debian's
    /// MPICH, and of Open MPI on InfiniBand) installs its own SIGSEGV handler at MPI_Init, which turns every
    /// NullReferenceException into a crash of the process; <c>UCX_ERROR_SIGNALS=""</c> (the JVM's workaround too)
    /// leaves the handlers alone. Set in the native environment (setenv), since MPI reads it with getenv; a value
    /// the user already set is kept.</summary>
    public static void PrepareEnvironment()
    {
        if (!NativeLibrary.TryLoad("libc.so.6", out var libc) || !NativeLibrary.TryGetExport(libc, "setenv", out var setenv)) return;
        var name = "UCX_ERROR_SIGNALS\0"u8;
        var empty = "\0"u8;
        fixed (byte* n = name)
        fixed (byte* v = empty)
            ((delegate* unmanaged<byte*, byte*, int, int>)setenv)(n, v, 0);
    }

    /// <summary>Loads the first candidate that opens.</summary>
    /// <exception cref="DistributedException">None loads; the message says what to install.</exception>
    public static MpiAbi Load()
    {
        var candidates = Candidates();
        var errors = new List<string>();
        foreach (var name in candidates)
        {
            nint h = Open(name, out var error);
            if (h == 0) { errors.Add($"{name}: {error}"); continue; }
            return NativeLibrary.TryGetExport(h, "ompi_mpi_comm_world", out _) ? new OpenMpiAbi(h, name) : new MpichAbi(h, name);
        }
        throw new DistributedException(
            "Distributed training needs an MPI library, and none could be loaded (" + string.Join("; ", errors) + "). " +
            "On Debian or Ubuntu install Open MPI with 'apt-get install openmpi-bin libopenmpi3' (or MPICH with " +
            "'apt-get install mpich libmpich12'), on every node, or set " + OverrideVariable + " to the path of libmpi.so.");
    }

    /// <summary>Opens with RTLD_GLOBAL when libc's dlopen is reachable: Open MPI loads its components as plugins that
    /// resolve symbols of libmpi itself, which fails when libmpi was opened RTLD_LOCAL (NativeLibrary's default).</summary>
    private static nint Open(string name, out string error)
    {
        error = "";
        if (NativeLibrary.TryLoad("libc.so.6", out var libc) && NativeLibrary.TryGetExport(libc, "dlopen", out var dlopen)
            && NativeLibrary.TryGetExport(libc, "dlerror", out var dlerror))
        {
            // dlerror is resolved first: a dlsym between dlopen and dlerror would clear the message.
            nint h;
            var bytes = System.Text.Encoding.UTF8.GetBytes(name + "\0");
            fixed (byte* p = bytes) h = ((delegate* unmanaged<byte*, int, nint>)dlopen)(p, RtldNow | RtldGlobal);
            if (h != 0) return h;
            var msg = ((delegate* unmanaged<byte*>)dlerror)();
            error = msg == null ? "" : Marshal.PtrToStringUTF8((nint)msg) ?? "";
            if (error.Length == 0) error = "cannot be opened";
            return 0;
        }
        // Stryker disable once all: not reached on Linux, whose C library always has dlopen (other platforms)
        if (NativeLibrary.TryLoad(name, out var handle)) return handle;
        // Stryker disable once all: not reached on Linux (above)
        error = "not found";
        return 0;
    }
}
