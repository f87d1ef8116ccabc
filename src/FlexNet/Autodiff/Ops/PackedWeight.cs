using System.Numerics;
using System.Runtime.InteropServices;
using FlexNet.Kernels;
using FlexNet.Tensors;

namespace FlexNet.Autodiff.Ops;

/// <summary>
/// A dense weight W [out, in] packed once as the B operand of y = x·Wᵀ (<see cref="GemmPackedB{T}"/> of Wᵀ), for a
/// layer that runs at every step of a sequence: the plan packs each such weight once per run instead of at each of
/// the T forward products. Products are bit-identical to <see cref="Gemm"/> on W wherever Gemm runs its blocked (packing)
/// path, which is the only place the plan uses a pack (<c>Gemm.PacksTransposedB</c>); its matrix-vector paths round differently. It holds a snapshot of W (weights do
/// not change within a run) in a pinned pooled buffer, with the version of W's buffer it was made from
/// (<see cref="IsPackOf"/>). A disposed object holds no snapshot (<see cref="Source"/> null, products throw) and may
/// be packed again with <see cref="Pack"/>. The plan keeps the object from run to run, and its packed values only
/// where no run can change W unseen: a frozen model's private weights, or runs without gradient recording while
/// W's version stays the same.
/// </summary>
internal sealed class PackedWeight : IDisposable
{
    private GemmPackedB<float>? _f;
    private GemmPackedB<double>? _d;

    /// <summary>Packs Wᵀ from a contiguous W [out, in] (Float32 or Float64).</summary>
    internal PackedWeight(Tensor w) => Pack(w);

    /// <summary>An object that holds no packing until <see cref="Pack"/>.</summary>
    internal PackedWeight() { }

    /// <summary>Packs Wᵀ from a contiguous W [out, in] (Float32 or Float64) into this object, first giving back a
    /// packing it still holds.</summary>
    internal void Pack(Tensor w)
    {
        if (w.Rank != 2 || !w.IsContiguous || !w.DType.IsFloatingPoint())
            throw new ShapeMismatchException($"PackedWeight: W {ShapeUtil.Format(w.Shape)} ({w.DType}) must be a contiguous floating-point [out, in] matrix.");
        // Stryker disable once Statement: memory only: without it the packing of the other dtype stays pinned until the object is disposed; the new one replaces the same dtype's (GemmPackedB.Pack gives its old buffer back)
        Dispose();
        Out = w.ShapeArray[0];
        In = w.ShapeArray[1];
        DType = w.DType;
        Provider = Gemm.Provider;
        // Stryker disable once Assignment: memory only: Dispose above has given the old packer's buffer back, so a new packer costs one small object
        // W is read without changing its buffer's version, which is recorded: a later hand-out of W's data (any read or
        // write) changes it, and IsPackOf then says the packing may be stale
        if (w.DType == DType.Float32) (_f ??= new GemmPackedB<float>()).Pack(transB: true, In, Out, w.Peek<float>(), In);
        // Stryker disable once Assignment: memory only: Dispose above has given the old packer's buffer back, so a new packer costs one small object
        else (_d ??= new GemmPackedB<double>()).Pack(transB: true, In, Out, w.Peek<double>(), In);
        Source = w;
        _storage = w.Storage;
        _version = w.Storage.Version;
    }

    private Storage? _storage;
    private long _version;

    /// <summary>True when this object holds a packing of <paramref name="w"/>'s data as it is now: the same tensor on
    /// the same buffer, whose version (<see cref="Storage.Version"/>) has not changed since the packing, and which is
    /// not a caller's array (<see cref="Storage.Aliased"/>, written behind the version's back).</summary>
    internal bool IsPackOf(Tensor w) =>
        ReferenceEquals(Source, w) && _storage is { Aliased: false } s && ReferenceEquals(s, w.Storage) && _version == s.Version;

    /// <summary>The weight that was packed (the product is used only for this very tensor); null when the object
    /// holds no packing.</summary>
    internal Tensor? Source { get; private set; }

    /// <summary>The GEMM provider the packing was made for (its products run on that provider).</summary>
    internal GemmProvider Provider { get; private set; }

    /// <summary>Rows of W (output features).</summary>
    internal int Out { get; private set; }

    /// <summary>Columns of W (input features).</summary>
    internal int In { get; private set; }

    /// <summary>The element type.</summary>
    internal DType DType { get; private set; }

    /// <summary>y [n, Out] = x [n, In]·Wᵀ + beta·y (beta 0: y is overwritten without being read).</summary>
    internal void MultiplyInto<T>(int n, ReadOnlySpan<T> x, T beta, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ObjectDisposedException.ThrowIf(Source is null, this); // no packing held: never the values of an earlier run
        if (typeof(T) == typeof(float) && DType == DType.Float32 && _f is not null)
            _f.Multiply(false, n, 1f, MemoryMarshal.Cast<T, float>(x), In, (float)(object)beta, MemoryMarshal.Cast<T, float>(y), Out);
        else if (typeof(T) == typeof(double) && DType == DType.Float64 && _d is not null)
            _d.Multiply(false, n, 1d, MemoryMarshal.Cast<T, double>(x), In, (double)(object)beta, MemoryMarshal.Cast<T, double>(y), Out);
        else throw new ArgumentException($"PackedWeight: a {DType} weight used with {typeof(T).Name} data.");
    }

    /// <summary>y [n, Out] = act(x [n, In]·Wᵀ + beta·y + bias), bit-identical to <see cref="MultiplyInto{T}"/> followed
    /// by <see cref="Activations.BiasAct{T}"/> (bias and ReLU in the GEMM epilogue, see <see cref="GemmPackedB{T}.MultiplyBiasAct"/>).</summary>
    internal void MultiplyBiasActInto<T>(int n, ReadOnlySpan<T> x, T beta, Span<T> y, ReadOnlySpan<T> bias, FusedActivation act)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ObjectDisposedException.ThrowIf(Source is null, this); // no packing held: never the values of an earlier run
        if (typeof(T) == typeof(float) && DType == DType.Float32 && _f is not null)
            _f.MultiplyBiasAct(false, n, 1f, MemoryMarshal.Cast<T, float>(x), In, (float)(object)beta, MemoryMarshal.Cast<T, float>(y), Out,
                MemoryMarshal.Cast<T, float>(bias), act);
        else if (typeof(T) == typeof(double) && DType == DType.Float64 && _d is not null)
            _d.MultiplyBiasAct(false, n, 1d, MemoryMarshal.Cast<T, double>(x), In, (double)(object)beta, MemoryMarshal.Cast<T, double>(y), Out,
                MemoryMarshal.Cast<T, double>(bias), act);
        else throw new ArgumentException($"PackedWeight: a {DType} weight used with {typeof(T).Name} data.");
    }

    /// <summary>Returns the buffer to the pool; the object holds no packing until the next <see cref="Pack"/>.</summary>
    public void Dispose()
    {
        Source = null;
        _storage = null;
        // Stryker disable once Statement: memory only: the pinned packing stays until the next Pack of this object (for good if it is dropped); products throw either way (Source is null)
        _f?.Dispose();
        // Stryker disable once Statement: memory only: the pinned packing stays until the next Pack of this object (for good if it is dropped); products throw either way (Source is null)
        _d?.Dispose();
    }
}
