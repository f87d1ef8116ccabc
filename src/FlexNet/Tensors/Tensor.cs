using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Diagnostics;
using FlexNet.Autodiff;

namespace FlexNet.Tensors;

/// <summary>
/// An n-dimensional dense array of <see cref="DType.Float32"/> (default), <see cref="DType.Float64"/> or
/// <see cref="DType.Int32"/> values, row-major, possibly a strided view of another tensor's buffer. Floating-point
/// tensors take part in reverse-mode automatic differentiation: a tensor with <see cref="RequiresGrad"/> set
/// records the ops applied to it, and <see cref="Backward()"/> accumulates d(this)/d(leaf) into each leaf's
/// <see cref="Grad"/>.
/// </summary>
public sealed partial class Tensor
{
    // Not readonly: a recycling TensorScope (Tensor.Recycling.cs) re-fills the shells of a finished step's dead
    // tensors for the next step; nothing else writes these after construction.
    private int[] _shape;
    private int[] _strides;

    internal Tensor(Storage storage, int[] shape, int[] strides, int offset)
    {
        Storage = storage;
        _shape = shape;
        _strides = strides;
        Offset = offset;
        Length = ShapeUtil.Product(shape);
        IsContiguous = ShapeUtil.IsContiguous(shape, strides);
    }

    internal Storage Storage { get; private set; }

    internal int Offset { get; private set; }

    internal int[] ShapeArray => _shape;

    internal int[] StridesArray => _strides;

    /// <summary>The element type.</summary>
    public DType DType => Storage.DType;

    /// <summary>The dimensions, outermost first.</summary>
    public ReadOnlySpan<int> Shape => _shape;

    /// <summary>Element strides of each dimension in the underlying buffer (views have non-standard strides).</summary>
    public ReadOnlySpan<int> Strides => _strides;

    /// <summary>Number of dimensions.</summary>
    public int Rank => _shape.Length;

    /// <summary>Total number of elements (product of <see cref="Shape"/>; 1 for a scalar of rank 0).</summary>
    public int Length { get; private set; }

    /// <summary>True when the elements lie densely in row-major order in the buffer.</summary>
    public bool IsContiguous { get; private set; }

    /// <summary>Size of dimension <paramref name="dim"/>; negative values count from the end.</summary>
    /// <param name="dim">Dimension index in [-Rank, Rank).</param>
    /// <returns>The size of that dimension.</returns>
    public int Size(int dim) => _shape[ShapeUtil.NormalizeAxis(dim, Rank, "Size")];

    /// <summary>Whether gradients are computed for this tensor.</summary>
    public bool RequiresGrad { get; private set; }

    /// <summary>The accumulated gradient d(output)/d(this) of a leaf after <see cref="Backward()"/>; null before.</summary>
    public Tensor? Grad { get; set; }

    /// <summary>The op that produced this tensor, when it was recorded for differentiation; null for leaves.</summary>
    public Node? GradFn { get; internal set; }

    /// <summary>True for tensors not produced by a recorded op (user data, parameters).</summary>
    public bool IsLeaf => GradFn is null;

    /// <summary>Optional name, used in error messages and summaries (e.g. a parameter's name).</summary>
    public string? Name { get; set; }

    /// <summary>Marks this leaf as requiring gradients (or not).</summary>
    /// <param name="requiresGrad">Whether to track gradients.</param>
    /// <returns>This tensor.</returns>
    /// <exception cref="AutogradException">When called on a non-leaf or an integer tensor.</exception>
    public Tensor RequireGrad(bool requiresGrad = true)
    {
        if (!IsLeaf)
            throw new AutogradException("RequireGrad can only be set on leaf tensors; use Detach() first.");
        if (requiresGrad && !DType.IsFloatingPoint())
            throw new AutogradException($"Only floating-point tensors can require gradients (this one is {DType}).");
        RequiresGrad = requiresGrad;
        return this;
    }

    internal void MarkRecorded(Node node)
    {
        GradFn = node;
        RequiresGrad = true;
    }

    /// <summary>The contiguous data of a float32 tensor (this tensor must be contiguous).</summary>
    internal Span<float> F
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => Data<float>();
    }

    /// <summary>The contiguous data of a float64 tensor (this tensor must be contiguous).</summary>
    internal Span<double> D
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => Data<double>();
    }

    /// <summary>The contiguous data as <typeparamref name="T"/> (must match the dtype; tensor must be contiguous).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal Span<T> Data<T>()
    {
        // Stryker disable once Statement,String: equivalent: Debug.Assert is compiled out of the Release build the tests run
        Debug.Assert(IsContiguous, "Data<T> on a non-contiguous view");
        // an empty view may start past the end of its buffer (a slice of an empty [0, 4H] tensor at column H)
        return Length == 0 ? Span<T>.Empty : new Span<T>(Storage.Array<T>(), Offset, Length);
    }

    /// <summary>The contiguous data for reading only, without changing the buffer's version (see
    /// <see cref="Storage.Version"/>): only for a reader that records the version to notice later writes.</summary>
    internal ReadOnlySpan<T> Peek<T>()
    {
        // Stryker disable once Statement,String: equivalent: Debug.Assert is compiled out of the Release build the tests run
        Debug.Assert(IsContiguous, "Peek<T> on a non-contiguous view");
        return Length == 0 ? ReadOnlySpan<T>.Empty : new ReadOnlySpan<T>(Storage.PeekArray<T>(), Offset, Length);
    }

    /// <summary>The whole underlying buffer (for strided kernels).</summary>
    internal T[] Buffer<T>() => Storage.Array<T>();

    /// <summary>True when the buffer went back to the pool (its scope ended).</summary>
    public bool IsDisposed => Storage.IsReleased;

    /// <summary>The value of a one-element tensor as a double.</summary>
    /// <returns>The single value.</returns>
    /// <exception cref="ShapeMismatchException">When the tensor has more than one element.</exception>
    public double Item()
    {
        if (Length != 1)
            throw new ShapeMismatchException($"Item() needs a one-element tensor; got shape {ShapeUtil.Format(_shape)}.");
        return GetFlat(Offset);
    }

    /// <summary>Reads the element at the given multi-index as a double.</summary>
    /// <param name="index">One index per dimension.</param>
    [System.Runtime.CompilerServices.IndexerName("At")]
    public double this[params int[] index]
    {
        get => GetFlat(FlatIndex(index));
        set => SetFlat(FlatIndex(index), value);
    }

    private int FlatIndex(int[] index)
    {
        if (index.Length != Rank)
            throw new ArgumentException($"Index has {index.Length} components but the tensor has rank {Rank} " +
                                        $"(shape {ShapeUtil.Format(_shape)}).", nameof(index));
        int flat = Offset;
        for (int d = 0; d < index.Length; d++)
        {
            int i = index[d];
            if (i < 0) i += _shape[d];
            if ((uint)i >= (uint)_shape[d])
                throw new IndexOutOfRangeException($"Index {index[d]} is out of range for dimension {d} of size " +
                                                   $"{_shape[d]} (shape {ShapeUtil.Format(_shape)}).");
            flat += i * _strides[d];
        }
        return flat;
    }

    internal double GetFlat(int bufferIndex) => DType switch
    {
        DType.Float32 => Storage.Array<float>()[bufferIndex],
        DType.Float64 => Storage.Array<double>()[bufferIndex],
        _ => Storage.Array<int>()[bufferIndex],
    };

    internal void SetFlat(int bufferIndex, double value)
    {
        switch (DType)
        {
            case DType.Float32: Storage.Array<float>()[bufferIndex] = (float)value; break;
            case DType.Float64: Storage.Array<double>()[bufferIndex] = value; break;
            default: Storage.Array<int>()[bufferIndex] = checked((int)value); break;
        }
    }

    /// <summary>Returns a tensor sharing this one's data but cut from the autodiff graph (no gradient flows back).</summary>
    /// <returns>A leaf view of the same buffer.</returns>
    public Tensor Detach() => Create(Storage, _shape, _strides, Offset);

    /// <summary>Copies the elements, in row-major order, into a new float array.</summary>
    /// <returns>The values converted to float.</returns>
    public float[] ToFloatArray()
    {
        var r = new float[Length];
        var c = Contiguous();
        switch (DType)
        {
            case DType.Float32: c.F.CopyTo(r); break;
            case DType.Float64: { var s = c.D; for (int i = 0; i < r.Length; i++) r[i] = (float)s[i]; break; }
            default: { var s = c.Data<int>(); for (int i = 0; i < r.Length; i++) r[i] = s[i]; break; }
        }
        return r;
    }

    /// <summary>Copies the elements, in row-major order, into a new double array.</summary>
    /// <returns>The values converted to double.</returns>
    public double[] ToDoubleArray()
    {
        var r = new double[Length];
        var c = Contiguous();
        switch (DType)
        {
            case DType.Float32: { var s = c.F; for (int i = 0; i < r.Length; i++) r[i] = s[i]; break; }
            case DType.Float64: c.D.CopyTo(r); break;
            default: { var s = c.Data<int>(); for (int i = 0; i < r.Length; i++) r[i] = s[i]; break; }
        }
        return r;
    }

    /// <summary>Copies the elements of an Int32 tensor, in row-major order, into a new int array.</summary>
    /// <returns>The values.</returns>
    public int[] ToInt32Array()
    {
        if (DType != DType.Int32) return Array.ConvertAll(ToDoubleArray(), v => checked((int)v));
        var r = new int[Length];
        Contiguous().Data<int>().CopyTo(r);
        return r;
    }

    /// <summary>Copies the elements (row-major) into <paramref name="destination"/> (float32 tensors only).</summary>
    /// <param name="destination">A span of at least <see cref="Length"/> elements.</param>
    public void CopyTo(Span<float> destination)
    {
        RequireDType(DType.Float32, "CopyTo(Span<float>)");
        Contiguous().F.CopyTo(destination);
    }

    /// <summary>Copies the elements (row-major) into <paramref name="destination"/> (float64 tensors only).</summary>
    /// <param name="destination">A span of at least <see cref="Length"/> elements.</param>
    public void CopyTo(Span<double> destination)
    {
        RequireDType(DType.Float64, "CopyTo(Span<double>)");
        Contiguous().D.CopyTo(destination);
    }

    internal void RequireDType(DType dtype, string op)
    {
        if (DType != dtype)
            throw new ArgumentException($"{op} needs a {dtype} tensor; got {DType} of shape {ShapeUtil.Format(_shape)}.");
    }

    internal void RequireFloat(string op)
    {
        if (!DType.IsFloatingPoint())
            throw new ArgumentException($"{op} needs a floating-point tensor; got {DType} of shape {ShapeUtil.Format(_shape)}.");
    }

    /// <summary>A compact description: shape, dtype and (for small tensors) the values.</summary>
    /// <returns>e.g. <c>Tensor[2, 3] Float32 [[1, 2, 3], [4, 5, 6]]</c>.</returns>
    public override string ToString() => TensorFormatter.Format(this);

    /// <summary>Copies every element into a new contiguous tensor with the same dtype (recorded for autodiff).</summary>
    /// <returns>A contiguous copy.</returns>
    public Tensor Clone() => Autodiff.Ops.Movement.Clone(this);

    /// <summary>This tensor if already contiguous, else a contiguous copy (recorded for autodiff).</summary>
    /// <returns>A contiguous tensor with the same values.</returns>
    public Tensor Contiguous() => IsContiguous ? this : Autodiff.Ops.Movement.Clone(this);
}
