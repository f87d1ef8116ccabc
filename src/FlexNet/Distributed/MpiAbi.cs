using System.Runtime.InteropServices;
using System.Text;

namespace FlexNet.Distributed;

/// <summary>MPI element types the binding passes to MPI (their handles differ between ABIs).</summary>
internal enum MpiType
{
    Byte,
    Int32,
    Int64,
    Float32,
    Float64,
}

/// <summary>
/// The MPI functions FlexNet calls, through function pointers resolved from a library loaded at run time. The
/// functions without handle arguments have one C signature in every MPI; those that take a communicator, datatype
/// or operation differ: Open MPI's handles are pointers (addresses of exported globals), MPICH's are 32-bit
/// integers. Each subclass declares its own pointer types, so no call passes a pointer where MPI expects an int.
/// </summary>
internal abstract unsafe class MpiAbi
{
    private readonly delegate* unmanaged<int*, byte***, int, int*, int> _initThread;
    private readonly delegate* unmanaged<int*, int> _initialized;
    private readonly delegate* unmanaged<int*, int> _finalized;
    private readonly delegate* unmanaged<int> _finalize;
    private readonly delegate* unmanaged<int, byte*, int*, int> _errorString;

    protected MpiAbi(nint library, string path)
    {
        Handle = library;
        Path = path;
        _initThread = (delegate* unmanaged<int*, byte***, int, int*, int>)Export("MPI_Init_thread");
        _initialized = (delegate* unmanaged<int*, int>)Export("MPI_Initialized");
        _finalized = (delegate* unmanaged<int*, int>)Export("MPI_Finalized");
        _finalize = (delegate* unmanaged<int>)Export("MPI_Finalize");
        _errorString = (delegate* unmanaged<int, byte*, int*, int>)Export("MPI_Error_string");
    }

    /// <summary>The loaded library (dlopen handle).</summary>
    public nint Handle { get; }

    /// <summary>The name or path it was loaded by.</summary>
    public string Path { get; }

    /// <summary>"Open MPI" or "MPICH".</summary>
    public abstract string Name { get; }

    protected nint Export(string symbol) =>
        NativeLibrary.TryGetExport(Handle, symbol, out var address) && address != 0
            ? address
            : throw new DistributedException($"MPI library '{Path}' ({Name} ABI) does not export '{symbol}': it is not the MPI it claims to be.");

    public int InitThread(int required, out int provided)
    {
        int p = 0;
        int rc = _initThread(null, null, required, &p);
        provided = p;
        return rc;
    }

    public bool Initialized() { int f = 0; _initialized(&f); return f != 0; }

    public bool Finalized() { int f = 0; _finalized(&f); return f != 0; }

    public int Finalize() => _finalize();

    /// <summary>MPI's own text for an error code (MPI_MAX_ERROR_STRING is 256 in Open MPI, 512 in MPICH).</summary>
    public string ErrorString(int code)
    {
        byte* buf = stackalloc byte[1024];
        int len = 0;
        if (_errorString(code, buf, &len) != 0 || len <= 0) return $"MPI error {code}";
        return Encoding.UTF8.GetString(buf, Math.Min(len, 1024));
    }

    public abstract int CommRank(out int rank);

    public abstract int CommSize(out int size);

    /// <summary>MPI_Allreduce(MPI_IN_PLACE, buffer, count, type, op, MPI_COMM_WORLD).</summary>
    public abstract int AllReduceInPlace(void* buffer, int count, MpiType type, ReduceOp op);

    /// <summary>MPI_Bcast(buffer, count, type, root, MPI_COMM_WORLD).</summary>
    public abstract int Broadcast(void* buffer, int count, MpiType type, int root);

    public abstract int Barrier();

    public abstract int Abort(int errorCode);
}

/// <summary>Open MPI (libmpi.so.40): MPI_Comm, MPI_Datatype and MPI_Op are pointers to predefined objects, which
/// mpi.h spells as the addresses of exported globals (<c>&amp;ompi_mpi_comm_world</c>); MPI_IN_PLACE is (void*)1.</summary>
internal sealed unsafe class OpenMpiAbi : MpiAbi
{
    private readonly delegate* unmanaged<nint, int*, int> _commRank, _commSize;
    private readonly delegate* unmanaged<void*, void*, int, nint, nint, nint, int> _allreduce;
    private readonly delegate* unmanaged<void*, int, nint, int, nint, int> _bcast;
    private readonly delegate* unmanaged<nint, int> _barrier;
    private readonly delegate* unmanaged<nint, int, int> _abort;
    private readonly nint _world, _sum, _min, _max, _byte, _int32, _int64, _float32, _float64;

    public OpenMpiAbi(nint library, string path) : base(library, path)
    {
        _commRank = (delegate* unmanaged<nint, int*, int>)Export("MPI_Comm_rank");
        _commSize = (delegate* unmanaged<nint, int*, int>)Export("MPI_Comm_size");
        _allreduce = (delegate* unmanaged<void*, void*, int, nint, nint, nint, int>)Export("MPI_Allreduce");
        _bcast = (delegate* unmanaged<void*, int, nint, int, nint, int>)Export("MPI_Bcast");
        _barrier = (delegate* unmanaged<nint, int>)Export("MPI_Barrier");
        _abort = (delegate* unmanaged<nint, int, int>)Export("MPI_Abort");
        _world = Export("ompi_mpi_comm_world");
        _sum = Export("ompi_mpi_op_sum");
        _min = Export("ompi_mpi_op_min");
        _max = Export("ompi_mpi_op_max");
        _byte = Export("ompi_mpi_byte");
        _int32 = Export("ompi_mpi_int32_t");
        _int64 = Export("ompi_mpi_int64_t");
        _float32 = Export("ompi_mpi_float");
        _float64 = Export("ompi_mpi_double");
    }

    public override string Name => "Open MPI";

    private nint Type(MpiType t) => t switch
    {
        MpiType.Byte => _byte, MpiType.Int32 => _int32, MpiType.Int64 => _int64, MpiType.Float32 => _float32, _ => _float64,
    };

    private nint Op(ReduceOp op) => op switch { ReduceOp.Sum => _sum, ReduceOp.Min => _min, _ => _max };

    public override int CommRank(out int rank) { int r = 0; int rc = _commRank(_world, &r); rank = r; return rc; }

    public override int CommSize(out int size) { int s = 0; int rc = _commSize(_world, &s); size = s; return rc; }

    public override int AllReduceInPlace(void* buffer, int count, MpiType type, ReduceOp op) =>
        _allreduce((void*)1, buffer, count, Type(type), Op(op), _world);

    public override int Broadcast(void* buffer, int count, MpiType type, int root) => _bcast(buffer, count, Type(type), root, _world);

    public override int Barrier() => _barrier(_world);

    public override int Abort(int errorCode) => _abort(_world, errorCode);
}

/// <summary>The MPICH ABI (libmpich.so.12; also Intel MPI and MVAPICH): handles are 32-bit integers fixed in mpi.h
/// (MPI_COMM_WORLD = 0x44000000, MPI_FLOAT = 0x4c00040a, MPI_SUM = 0x58000003, ...); MPI_IN_PLACE is (void*)−1.</summary>
internal sealed unsafe class MpichAbi : MpiAbi
{
    private const int CommWorld = 0x44000000;
    private const int OpMax = 0x58000001, OpMin = 0x58000002, OpSum = 0x58000003;
    private const int TypeByte = 0x4c00010d, TypeInt32 = 0x4c000405, TypeInt64 = 0x4c00083a;
    private const int TypeFloat = 0x4c00040a, TypeDouble = 0x4c00080b;

    private readonly delegate* unmanaged<int, int*, int> _commRank, _commSize;
    private readonly delegate* unmanaged<void*, void*, int, int, int, int, int> _allreduce;
    private readonly delegate* unmanaged<void*, int, int, int, int, int> _bcast;
    private readonly delegate* unmanaged<int, int> _barrier;
    private readonly delegate* unmanaged<int, int, int> _abort;

    public MpichAbi(nint library, string path) : base(library, path)
    {
        _commRank = (delegate* unmanaged<int, int*, int>)Export("MPI_Comm_rank");
        _commSize = (delegate* unmanaged<int, int*, int>)Export("MPI_Comm_size");
        _allreduce = (delegate* unmanaged<void*, void*, int, int, int, int, int>)Export("MPI_Allreduce");
        _bcast = (delegate* unmanaged<void*, int, int, int, int, int>)Export("MPI_Bcast");
        _barrier = (delegate* unmanaged<int, int>)Export("MPI_Barrier");
        _abort = (delegate* unmanaged<int, int, int>)Export("MPI_Abort");
    }

    public override string Name => "MPICH";

    private static int Type(MpiType t) => t switch
    {
        MpiType.Byte => TypeByte, MpiType.Int32 => TypeInt32, MpiType.Int64 => TypeInt64, MpiType.Float32 => TypeFloat, _ => TypeDouble,
    };

    private static int Op(ReduceOp op) => op switch { ReduceOp.Sum => OpSum, ReduceOp.Min => OpMin, _ => OpMax };

    public override int CommRank(out int rank) { int r = 0; int rc = _commRank(CommWorld, &r); rank = r; return rc; }

    public override int CommSize(out int size) { int s = 0; int rc = _commSize(CommWorld, &s); size = s; return rc; }

    public override int AllReduceInPlace(void* buffer, int count, MpiType type, ReduceOp op) =>
        _allreduce((void*)-1, buffer, count, Type(type), Op(op), CommWorld);

    public override int Broadcast(void* buffer, int count, MpiType type, int root) => _bcast(buffer, count, Type(type), root, CommWorld);

    public override int Barrier() => _barrier(CommWorld);

    public override int Abort(int errorCode) => _abort(CommWorld, errorCode);
}
