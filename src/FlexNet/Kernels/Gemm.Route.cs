using System.Numerics;

namespace FlexNet.Kernels;

internal static partial class Gemm
{
    /// <summary>Test hook: how many managed GEMMs started on this thread ran on the blocked driver (which packs its
    /// operands) rather than a matrix-vector path.</summary>
    [ThreadStatic] internal static int BlockedRunsOnThisThread;

    /// <summary>Whether <see cref="Run(bool, bool, int, int, int, float, ReadOnlySpan{float}, int, ReadOnlySpan{float}, int, float, Span{float}, int)"/>
    /// computes a dense layer's product C [m, n] = A [m, k]·Wᵀ (W [n, k], row-major, so op(B) = Wᵀ) on the panel
    /// micro-kernels, which pack Wᵀ at every call: exactly the products a <see cref="GemmPackedB{T}"/> of Wᵀ computes
    /// with the same bits, so a caller holding such a packing may use it instead. False for the paths that read W in
    /// place without packing it (and round differently): the matrix-vector products (m = 1 or n = 1), the dot
    /// products of few outputs per row (n ≤ NR/2, a classifier's last layer), and OpenBLAS.</summary>
    /// <param name="m">Rows of A and C (the batch).</param>
    /// <param name="n">Rows of W, columns of C (output features).</param>
    /// <param name="k">Columns of A and W (input features).</param>
    /// <returns>True when the managed blocked driver runs the product (and packs Wᵀ).</returns>
    internal static bool PacksTransposedB<T>(int m, int n, int k) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (Provider != GemmProvider.Managed || m <= 1 || n <= 1) return false; // (k ≥ 1: a dense layer has inputs)
        // the driver's RowDots test: n ≤ NR/2 with A plain and B transposed, unless a test forces the packed path
        return n > PanelWidth<T>(BestTier) / 2 || ForcePackingOnThisThread;
    }

    /// <summary>NR of <paramref name="tier"/>'s micro-kernel for <typeparamref name="T"/> (Auto and Scalar: the scalar one's).</summary>
    internal static int PanelWidth<T>(GemmKernelTier tier) where T : unmanaged, IFloatingPointIeee754<T> => tier switch
    {
        GemmKernelTier.Vector512 => Kernel512<T>.NR,
        GemmKernelTier.Vector256 => Kernel256<T>.NR,
        GemmKernelTier.Vector128 => Kernel128<T>.NR,
        _ => KernelScalar<T>.NR,
    };

    /// <summary>KC (the longest k block) of <paramref name="tier"/>'s micro-kernel for <typeparamref name="T"/>.</summary>
    internal static int KBlock<T>(GemmKernelTier tier) where T : unmanaged, IFloatingPointIeee754<T> => tier switch
    {
        GemmKernelTier.Vector512 => Kernel512<T>.KC,
        GemmKernelTier.Vector256 => Kernel256<T>.KC,
        GemmKernelTier.Vector128 => Kernel128<T>.KC,
        _ => KernelScalar<T>.KC,
    };
}
