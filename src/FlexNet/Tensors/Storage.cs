using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using FlexNet.Autodiff;

namespace FlexNet.Tensors;

/// <summary>
/// The buffer behind one or more tensors (views share it). Buffers created inside a <see cref="TensorScope"/>
/// are rented from <see cref="BufferPool"/> and go back to it when the scope ends, unless kept.
/// </summary>
internal sealed class Storage
{
    private Array? _buffer;

    internal Storage(DType dtype, int length, bool pooled) => Init(dtype, length, pooled);

    private void Init(DType dtype, int length, bool pooled)
    {
        AllocationBudget.Charge(dtype, length);
        DType = dtype;
        Length = length;
        Pooled = pooled;
        HandOffs = 0;
        _version++; // a recycled storage object holds other data now
        Owner = null;
        int origin = 0;
        _buffer = pooled ? BufferPool.Rent(dtype, length) : Allocate(dtype, length, out origin);
        Origin = origin;
        BornInBackward = Autodiff.Autograd.InBackward;
    }

    /// <summary>A buffer of <paramref name="length"/> elements for a tensor made while <paramref name="scope"/> is the
    /// innermost scope (null: a garbage-collected array). A recycling scope hands out the storage object of a buffer
    /// the last step released (<see cref="TensorScope.Shells"/>) instead of a new one.</summary>
    internal static Storage Create(DType dtype, int length, TensorScope? scope)
    {
        Storage s;
        if (scope is { Recycles: true } && TensorScope.Shells.TryTakeStorage(out var spare))
        {
            spare.Init(dtype, length, pooled: true);
            s = spare;
        }
        else s = new Storage(dtype, length, pooled: scope is not null);
        scope?.Register(s);
        return s;
    }

    /// <summary>A buffer made while <see cref="Autodiff.Autograd.Backward"/> ran on this thread: a gradient
    /// temporary, which backward may hand back to the pool as soon as the node that consumed it is done (when it is
    /// <see cref="Pooled"/>: backward checks that too).</summary>
    internal bool BornInBackward { get; private set; }

    /// <summary>How many times a tensor on this buffer became a node's pending gradient without a copy.</summary>
    internal int HandOffs;

    internal Storage(Array buffer, DType dtype, int length)
    {
        _buffer = buffer;
        DType = dtype;
        Length = length;
        Aliased = true;
    }

    private long _version;

    /// <summary>Changes (grows) every time the buffer is handed out (<see cref="Buffer"/>, <see cref="Array{T}"/>:
    /// every read and every write of the data goes through them) and when the object is given new data, and never
    /// otherwise, so a reader that takes the data with <see cref="PeekArray{T}"/> and records the version knows the
    /// data unchanged as long as the version is (unless <see cref="Aliased"/>). A lost increment of two threads at
    /// once still leaves the version above the recorded one.</summary>
    internal long Version => Volatile.Read(ref _version);

    /// <summary>The buffer is a caller's array (<see cref="Tensor.Wrap(float[], int[])"/>), which the caller may write
    /// without going through this object: <see cref="Version"/> says nothing about its data.</summary>
    internal bool Aliased { get; }

    internal DType DType { get; private set; }

    internal int Length { get; private set; }

    internal bool Pooled { get; private set; }

    /// <summary>The scope that returns this buffer to the pool when it ends (null: garbage-collected).</summary>
    internal TensorScope? Owner { get; set; }

    internal bool IsReleased => _buffer is null;

    internal Array Buffer
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get
        {
            _version++;
            return _buffer ?? throw Released();
        }
    }

    private static ObjectDisposedException Released() => new(
        "Tensor", "The tensor's buffer went back to the pool when its TensorScope ended; call scope.Keep(t) " +
        "or t.Clone() outside the scope to keep a tensor alive.");

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal T[] Array<T>() => Unsafe.As<T[]>(Buffer);

    /// <summary>The buffer for reading only, without changing <see cref="Version"/>: for a reader that keeps something
    /// made from the data (a packed weight) as long as the version stays the one it recorded.</summary>
    internal T[] PeekArray<T>() => Unsafe.As<T[]>(_buffer ?? throw Released());

    /// <summary>Leaves pooled management: the buffer now belongs to the garbage collector.</summary>
    internal void Detach()
    {
        Owner = null;
        if (Pooled && _buffer is not null)
        {
            Pooled = false;
            BufferPool.Forget(_buffer);
        }
    }

    internal void Release()
    {
        var b = _buffer;
        if (b is null) return;
        _buffer = null;
        if (Pooled) BufferPool.Return(b);
    }

    /// <summary>Where the first element of the tensors of a fresh buffer sits in it: 0, or for a garbage-collected buffer
    /// of at least <see cref="AlignFromBytes"/> the index at which the data starts on a 64-byte boundary. A weight matrix
    /// then starts every 512-bit load of a matrix-vector product on a cache line (the MLP at batch 1 ran 11 % faster with
    /// aligned weights on Zen 5, bench/NOTES.md section 34). Such buffers live in the large object heap, which the
    /// garbage collector does not move by default; if it ever did, only the alignment (the speed) would change.</summary>
    internal int Origin { get; private set; }

    /// <summary>Bytes from which a garbage-collected buffer is allocated with room to align its data (85,000 and more go
    /// to the large object heap).</summary>
    internal const int AlignFromBytes = 85_000;

    private const int AlignBytes = 64;

    private static unsafe Array Allocate(DType dtype, int length, out int origin)
    {
        int size = dtype.SizeInBytes();
        bool align = (long)length * size >= AlignFromBytes;
        int total = align ? length + AlignBytes / size - 1 : length;
        Array a = dtype switch
        {
            DType.Float32 => new float[total],
            DType.Float64 => new double[total],
            _ => new int[total],
        };
        origin = 0;
        if (align)
        {
            nint address = (nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(a));
            origin = (int)(((AlignBytes - (address & (AlignBytes - 1))) & (AlignBytes - 1)) / size);
        }
        return a;
    }
}
