using System.Numerics;
using System.Runtime.InteropServices;
using FlexNet.Kernels;
using FlexNet.Tensors;

namespace FlexNet.Autodiff.Ops;

/// <summary>
/// A dense weight W [out, in] packed once as the B operand of y = x·Wᵀ (<see cref="GemmPackedB{T}"/> of Wᵀ), for a
/// layer that runs at every step of a sequence: the plan packs each such weight once per run instead of at each of
/// the T forward products. Products are bit-identical to <see cref="Gemm"/> on W. It holds a snapshot of W (weights do
/// not change within a run) in a pinned pooled buffer: dispose it at the end of the run.
/// </summary>
internal sealed class PackedWeight : IDisposable
{
    private readonly GemmPackedB<float>? _f;
    private readonly GemmPackedB<double>? _d;

    /// <summary>Packs Wᵀ from a contiguous W [out, in] (Float32 or Float64).</summary>
    internal PackedWeight(Tensor w)
    {
        if (w.Rank != 2 || !w.IsContiguous || !w.DType.IsFloatingPoint())
            throw new ShapeMismatchException($"PackedWeight: W {ShapeUtil.Format(w.Shape)} ({w.DType}) must be a contiguous floating-point [out, in] matrix.");
        Out = w.ShapeArray[0];
        In = w.ShapeArray[1];
        if (w.DType == DType.Float32) _f = new GemmPackedB<float>(transB: true, In, Out, w.F, In);
        else _d = new GemmPackedB<double>(transB: true, In, Out, w.D, In);
        DType = w.DType;
        Source = w;
    }

    /// <summary>The weight that was packed (the product is used only for this very tensor).</summary>
    internal Tensor Source { get; }

    /// <summary>Rows of W (output features).</summary>
    internal int Out { get; }

    /// <summary>Columns of W (input features).</summary>
    internal int In { get; }

    /// <summary>The element type.</summary>
    internal DType DType { get; }

    /// <summary>y [n, Out] = x [n, In]·Wᵀ + beta·y (beta 0: y is overwritten without being read).</summary>
    internal void MultiplyInto<T>(int n, ReadOnlySpan<T> x, T beta, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float) && _f is not null)
            _f.Multiply(false, n, 1f, MemoryMarshal.Cast<T, float>(x), In, (float)(object)beta, MemoryMarshal.Cast<T, float>(y), Out);
        else if (typeof(T) == typeof(double) && _d is not null)
            _d.Multiply(false, n, 1d, MemoryMarshal.Cast<T, double>(x), In, (double)(object)beta, MemoryMarshal.Cast<T, double>(y), Out);
        else throw new ArgumentException($"PackedWeight: a {DType} weight used with {typeof(T).Name} data.");
    }

    /// <summary>Returns the buffer to the pool.</summary>
    public void Dispose()
    {
        _f?.Dispose();
        _d?.Dispose();
    }
}
