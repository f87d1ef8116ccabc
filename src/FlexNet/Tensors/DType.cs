namespace FlexNet.Tensors;

/// <summary>Element type of a <see cref="Tensor"/>.</summary>
public enum DType
{
    /// <summary>32-bit IEEE float: the default for training.</summary>
    Float32,

    /// <summary>64-bit IEEE float: used for gradient checks and reference comparisons; every op supports it.</summary>
    Float64,

    /// <summary>32-bit signed integer: class labels and gather indices. Not differentiable.</summary>
    Int32,
}

/// <summary>Helpers on <see cref="DType"/>.</summary>
public static class DTypeExtensions
{
    /// <summary>Size of one element in bytes.</summary>
    /// <param name="dtype">The element type.</param>
    /// <returns>4 for Float32 and Int32, 8 for Float64.</returns>
    public static int SizeInBytes(this DType dtype) => dtype == DType.Float64 ? 8 : 4;

    /// <summary>True for the floating-point types.</summary>
    /// <param name="dtype">The element type.</param>
    /// <returns>Whether values of this type can carry gradients.</returns>
    public static bool IsFloatingPoint(this DType dtype) => dtype != DType.Int32;
}
