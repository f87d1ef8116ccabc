namespace FlexNet.Tensors;

public sealed partial class Tensor
{
    /// <summary>A tensor over <paramref name="storage"/> with a copy of <paramref name="shape"/> and
    /// <paramref name="strides"/>. Inside a recycling <see cref="TensorScope"/> (a trainer's step) the object and its
    /// shape and stride arrays come from the shells the last step left dead (see <see cref="TensorScope"/>), so a
    /// warmed-up step allocates no tensor objects; elsewhere it is a new tensor.</summary>
    internal static Tensor Create(Storage storage, ReadOnlySpan<int> shape, ReadOnlySpan<int> strides, int offset)
    {
        var scope = TensorScope.Current;
        if (scope is { Recycles: true } && TensorScope.Shells.TryTake(shape.Length, out var t))
        {
            shape.CopyTo(t._shape);
            strides.CopyTo(t._strides);
            t.Storage = storage;
            t.Offset = offset;
            t.Length = ShapeUtil.Product(shape);
            t.IsContiguous = ShapeUtil.IsContiguous(shape, strides);
        }
        else t = new Tensor(storage, shape.ToArray(), strides.ToArray(), offset);
        if (scope is { Recycles: true }) scope.Made(t);
        return t;
    }

    /// <summary>A contiguous tensor over <paramref name="storage"/> (see <see cref="Create(Storage, ReadOnlySpan{int}, ReadOnlySpan{int}, int)"/>).</summary>
    internal static Tensor CreateContiguous(Storage storage, ReadOnlySpan<int> shape, int offset)
    {
        Span<int> strides = shape.Length <= 16 ? stackalloc int[shape.Length] : new int[shape.Length];
        ShapeUtil.ContiguousStrides(shape, strides);
        return Create(storage, shape, strides, offset);
    }

    /// <summary>Clears what a dead tensor of a finished step refers to, before its shell waits for the next step.</summary>
    internal void ResetShell()
    {
        GradFn = null;
        RequiresGrad = false;
        Grad = null;
        SpareGrad = null;
        Name = null;
    }
}
