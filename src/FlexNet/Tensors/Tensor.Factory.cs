namespace FlexNet.Tensors;

public sealed partial class Tensor
{
    /// <summary>Allocates an uninitialised contiguous tensor (pooled inside a <see cref="TensorScope"/>).</summary>
    internal static Tensor Empty(ReadOnlySpan<int> shape, DType dtype)
    {
        int n = ShapeUtil.Product(shape);
        var storage = Storage.Create(dtype, n, TensorScope.Current);
        return CreateContiguous(storage, shape, storage.Origin);
    }

    /// <summary>Allocates an uninitialised contiguous tensor like <paramref name="t"/> (same shape and dtype).</summary>
    internal static Tensor EmptyLike(Tensor t) => Empty(t.ShapeArray, t.DType);

    /// <summary>A tensor of zeros.</summary>
    /// <param name="shape">Dimensions, e.g. <c>[2, 3]</c>.</param>
    /// <param name="dtype">Element type (Float32 by default).</param>
    /// <returns>A new contiguous tensor filled with 0.</returns>
    public static Tensor Zeros(int[] shape, DType dtype = DType.Float32)
    {
        var t = Empty(shape, dtype);
        t.Fill(0);
        return t;
    }

    /// <summary>A tensor of ones.</summary>
    /// <param name="shape">Dimensions.</param>
    /// <param name="dtype">Element type (Float32 by default).</param>
    /// <returns>A new contiguous tensor filled with 1.</returns>
    public static Tensor Ones(int[] shape, DType dtype = DType.Float32) => Full(shape, 1, dtype);

    /// <summary>A tensor with every element equal to <paramref name="value"/>.</summary>
    /// <param name="shape">Dimensions.</param>
    /// <param name="value">The fill value.</param>
    /// <param name="dtype">Element type (Float32 by default).</param>
    /// <returns>A new contiguous tensor.</returns>
    public static Tensor Full(int[] shape, double value, DType dtype = DType.Float32)
    {
        var t = Empty(shape, dtype);
        t.Fill(value);
        return t;
    }

    /// <summary>A zero tensor with the shape and dtype of <paramref name="like"/>.</summary>
    /// <param name="like">Template tensor.</param>
    /// <returns>A new contiguous tensor of zeros.</returns>
    public static Tensor ZerosLike(Tensor like) => Zeros(like.ShapeArray, like.DType);

    /// <summary>A rank-0 tensor holding <paramref name="value"/>.</summary>
    /// <param name="value">The value.</param>
    /// <param name="dtype">Element type (Float32 by default).</param>
    /// <returns>A scalar tensor of shape <c>[]</c>.</returns>
    public static Tensor Scalar(double value, DType dtype = DType.Float32) => Full([], value, dtype);

    /// <summary>The values start, start+step, ... below <paramref name="stop"/> as a rank-1 tensor.</summary>
    /// <param name="start">First value.</param>
    /// <param name="stop">Exclusive upper (or lower, for negative step) bound.</param>
    /// <param name="step">Increment, non-zero.</param>
    /// <param name="dtype">Element type (Float32 by default).</param>
    /// <returns>A rank-1 tensor of ceil((stop-start)/step) elements.</returns>
    public static Tensor Arange(double start, double stop, double step = 1, DType dtype = DType.Float32)
    {
        if (step == 0) throw new ArgumentException("Arange: step must be non-zero. Received: 0", nameof(step));
        int n = Math.Max(0, (int)Math.Ceiling((stop - start) / step));
        var t = Empty([n], dtype);
        for (int i = 0; i < n; i++) t.SetFlat(t.Offset + i, start + i * step);
        return t;
    }

    /// <summary>Samples from N(<paramref name="mean"/>, <paramref name="std"/>²).</summary>
    /// <param name="shape">Dimensions.</param>
    /// <param name="mean">Mean.</param>
    /// <param name="std">Standard deviation, non-negative.</param>
    /// <param name="rng">Generator (default: <see cref="RandomGenerator.Default"/>).</param>
    /// <param name="dtype">Element type (Float32 by default).</param>
    /// <returns>A new tensor of normal samples.</returns>
    public static Tensor Normal(int[] shape, double mean = 0, double std = 1, RandomGenerator? rng = null,
                                DType dtype = DType.Float32)
    {
        if (std < 0) throw new ArgumentOutOfRangeException(nameof(std), $"std must be non-negative. Received: {std}");
        rng ??= RandomGenerator.Default;
        var t = Empty(shape, dtype);
        for (int i = 0; i < t.Length; i++) t.SetFlat(t.Offset + i, mean + std * rng.NextNormal());
        return t;
    }

    /// <summary>Samples from U[<paramref name="low"/>, <paramref name="high"/>).</summary>
    /// <param name="shape">Dimensions.</param>
    /// <param name="low">Lower bound.</param>
    /// <param name="high">Upper bound.</param>
    /// <param name="rng">Generator (default: <see cref="RandomGenerator.Default"/>).</param>
    /// <param name="dtype">Element type (Float32 by default).</param>
    /// <returns>A new tensor of uniform samples.</returns>
    public static Tensor Uniform(int[] shape, double low = 0, double high = 1, RandomGenerator? rng = null,
                                 DType dtype = DType.Float32)
    {
        rng ??= RandomGenerator.Default;
        var t = Empty(shape, dtype);
        for (int i = 0; i < t.Length; i++) t.SetFlat(t.Offset + i, low + (high - low) * rng.NextDouble());
        return t;
    }

    /// <summary>A float32 tensor holding a copy of <paramref name="data"/> with the given shape.</summary>
    /// <param name="data">Row-major values; length must equal the product of <paramref name="shape"/>.</param>
    /// <param name="shape">Dimensions (default: rank 1 of data's length).</param>
    /// <returns>A new contiguous tensor.</returns>
    public static Tensor FromArray(ReadOnlySpan<float> data, params int[] shape) =>
        From(data, shape, DType.Float32);

    /// <summary>A float64 tensor holding a copy of <paramref name="data"/> with the given shape.</summary>
    /// <param name="data">Row-major values; length must equal the product of <paramref name="shape"/>.</param>
    /// <param name="shape">Dimensions (default: rank 1 of data's length).</param>
    /// <returns>A new contiguous tensor.</returns>
    public static Tensor FromArray(ReadOnlySpan<double> data, params int[] shape) =>
        From(data, shape, DType.Float64);

    /// <summary>An Int32 tensor holding a copy of <paramref name="data"/> with the given shape.</summary>
    /// <param name="data">Row-major values; length must equal the product of <paramref name="shape"/>.</param>
    /// <param name="shape">Dimensions (default: rank 1 of data's length).</param>
    /// <returns>A new contiguous tensor.</returns>
    public static Tensor FromArray(ReadOnlySpan<int> data, params int[] shape) =>
        From(data, shape, DType.Int32);

    private static Tensor From<T>(ReadOnlySpan<T> data, int[] shape, DType dtype)
    {
        if (shape.Length == 0 && data.Length != 1) shape = [data.Length];
        int n = ShapeUtil.Product(shape);
        if (n != data.Length)
            throw new ShapeMismatchException($"FromArray: {data.Length} values do not fill shape {ShapeUtil.Format(shape)} ({n} elements).");
        var t = Empty(shape, dtype);
        data.CopyTo(t.Data<T>());
        return t;
    }

    /// <summary>Wraps <paramref name="data"/> without copying (the tensor aliases the array).</summary>
    /// <param name="data">Row-major values, kept by reference.</param>
    /// <param name="shape">Dimensions whose product is data's length.</param>
    /// <returns>A tensor view of the array.</returns>
    public static Tensor Wrap(float[] data, params int[] shape) => WrapArray(data, shape, DType.Float32);

    /// <summary>Wraps <paramref name="data"/> without copying (the tensor aliases the array).</summary>
    /// <param name="data">Row-major values, kept by reference.</param>
    /// <param name="shape">Dimensions whose product is data's length.</param>
    /// <returns>A tensor view of the array.</returns>
    public static Tensor Wrap(double[] data, params int[] shape) => WrapArray(data, shape, DType.Float64);

    private static Tensor WrapArray(Array data, int[] shape, DType dtype)
    {
        if (shape.Length == 0) shape = [data.Length];
        int n = ShapeUtil.Product(shape);
        if (n != data.Length)
            throw new ShapeMismatchException($"Wrap: {data.Length} values do not fill shape {ShapeUtil.Format(shape)} ({n} elements).");
        return new Tensor(new Storage(data, dtype, n), (int[])shape.Clone(), ShapeUtil.ContiguousStrides(shape), 0);
    }

    /// <summary>Sets every element to <paramref name="value"/> in place (not recorded for autodiff).</summary>
    /// <param name="value">The value.</param>
    /// <returns>This tensor.</returns>
    public Tensor Fill(double value)
    {
        if (IsContiguous)
        {
            switch (DType)
            {
                case DType.Float32: F.Fill((float)value); break;
                case DType.Float64: D.Fill(value); break;
                default: Data<int>().Fill(checked((int)value)); break;
            }
            return this;
        }
        foreach (int i in ShapeUtil.Offsets(this)) SetFlat(i, value);
        return this;
    }

    /// <summary>Copies <paramref name="source"/>'s values into this tensor in place (shapes must match; not recorded).</summary>
    /// <param name="source">Tensor of the same shape (any dtype; values are converted).</param>
    /// <returns>This tensor.</returns>
    public Tensor CopyFrom(Tensor source)
    {
        if (!ShapeUtil.SameShape(Shape, source.Shape))
            throw new ShapeMismatchException($"CopyFrom: destination shape {ShapeUtil.Format(Shape)} differs from source shape {ShapeUtil.Format(source.Shape)}.");
        if (IsContiguous && source.IsContiguous && DType == source.DType)
        {
            switch (DType)
            {
                case DType.Float32: source.F.CopyTo(F); break;
                case DType.Float64: source.D.CopyTo(D); break;
                default: source.Data<int>().CopyTo(Data<int>()); break;
            }
            return this;
        }
        var src = source.ToDoubleArray();
        int k = 0;
        foreach (int i in ShapeUtil.Offsets(this)) SetFlat(i, src[k++]);
        return this;
    }

    /// <summary>A copy converted to <paramref name="dtype"/> (recorded for autodiff between float types).</summary>
    /// <param name="dtype">Target element type.</param>
    /// <returns>This tensor if already of that type, else a converted copy.</returns>
    public Tensor To(DType dtype) => dtype == DType ? this : Autodiff.Ops.Movement.Cast(this, dtype);
}
