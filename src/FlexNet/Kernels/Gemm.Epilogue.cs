namespace FlexNet.Kernels;

internal static partial class Gemm
{
    /// <summary>Test hook: how many products on this thread applied bias/activation in the micro-kernels' epilogue
    /// (<c>RunBiasAct</c>, <see cref="GemmPackedB{T}.MultiplyBiasAct"/>) instead of a separate pass.</summary>
    [ThreadStatic] internal static int FusedEpiloguesOnThisThread;

    /// <summary>True when <paramref name="act"/> (with a bias of <paramref name="biasLength"/> elements, 0 = none)
    /// can go in the epilogue: bias only or ReLU, whose vector and scalar forms give the same bits for every element
    /// (so where a tile's column tail falls does not matter). Tanh and sigmoid are not: their vector forms
    /// (SimdMath) and scalar forms round differently, and <see cref="Activations.BiasAct{T}"/> picks one by the
    /// column's place in its own vector loop.</summary>
    internal static bool Fusable(FusedActivation act, int biasLength)
        => act == FusedActivation.Relu || (act == FusedActivation.Linear && biasLength > 0);

    internal static void CheckBiasAct(int m, int n, int ldc, int cLength, int biasLength, FusedActivation act)
    {
        if ((uint)act > (uint)FusedActivation.Sigmoid)
            throw new ArgumentOutOfRangeException(nameof(act), act, "Gemm: unknown activation.");
        if (biasLength != 0 && biasLength != n)
            throw new ShapeMismatchException($"Gemm (m={m}, n={n}): the bias has {biasLength} elements; expected {n} or none.");
        if (m > 1 && ldc != n)
            throw new ShapeMismatchException($"Gemm (m={m}, n={n}): bias and activation need a contiguous C (ldc={ldc}, expected {n}).");
        if ((long)m * n > cLength)
            throw new ShapeMismatchException($"Gemm (m={m}, n={n}): C [{m}, {n}] does not fit a span of {cLength}.");
    }

    /// <summary>
    /// <c>C = act(alpha * op(A) * op(B) + beta * C + bias)</c>: bit-identical to <see cref="Run{T}"/> followed by
    /// <see cref="Activations.BiasAct{T}"/> on C (bias [n] per column, or empty), with bias and ReLU applied by the
    /// micro-kernels as they store the last k block (<see cref="GemmEpilogue{T}"/>) where the product runs the
    /// managed blocked driver. Matrix-vector paths, OpenBLAS, k = 0, alpha = 0, tanh and sigmoid take the
    /// separate pass. C must be contiguous (<paramref name="ldc"/> = n).
    /// </summary>
    internal static unsafe void RunBiasAct<T>(bool transA, bool transB, int m, int n, int k, T alpha,
        ReadOnlySpan<T> a, int lda, ReadOnlySpan<T> b, int ldb, T beta, Span<T> c, int ldc, ReadOnlySpan<T> bias,
        FusedActivation act) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
        => RunBiasAct(Provider, GemmKernelTier.Auto, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, bias, act);

    /// <summary><see cref="RunBiasAct{T}(bool, bool, int, int, int, T, ReadOnlySpan{T}, int, ReadOnlySpan{T}, int, T, Span{T}, int, ReadOnlySpan{T}, FusedActivation)"/>
    /// with an explicit provider and micro-kernel tier (tests).</summary>
    internal static unsafe void RunBiasAct<T>(GemmProvider provider, GemmKernelTier tier, bool transA, bool transB,
        int m, int n, int k, T alpha, ReadOnlySpan<T> a, int lda, ReadOnlySpan<T> b, int ldb, T beta, Span<T> c,
        int ldc, ReadOnlySpan<T> bias, FusedActivation act) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        if (typeof(T) != typeof(float) && typeof(T) != typeof(double))
            throw new NotSupportedException($"Gemm: element type {typeof(T).Name} is not supported (float, double).");
        Validate(transA, transB, m, n, k, a.Length, lda, b.Length, ldb, c.Length, ldc);
        CheckBiasAct(m, n, ldc, c.Length, bias.Length, act);
        if (m == 0 || n == 0) return;
        bool fused = false;
        if (provider == GemmProvider.Managed && k > 0 && alpha != T.Zero && Fusable(act, bias.Length))
        {
            fixed (T* pa = a)
            fixed (T* pb = b)
            fixed (T* pc = c)
            fixed (T* pbias = bias)
            {
                var epi = new GemmEpilogue<T>(bias.IsEmpty ? null : pbias, act == FusedActivation.Relu);
                fused = DispatchEpilogue(ResolveTier(tier), transA, transB, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc, epi);
            }
            if (fused) FusedEpiloguesOnThisThread++;
        }
        else if (typeof(T) == typeof(float))
        {
            Run(provider, tier, transA, transB, m, n, k, (float)(object)alpha, Cast<T, float>(a), lda, Cast<T, float>(b), ldb,
                (float)(object)beta, Cast<T, float>(c), ldc);
        }
        else
        {
            Run(provider, tier, transA, transB, m, n, k, (double)(object)alpha, Cast<T, double>(a), lda, Cast<T, double>(b), ldb,
                (double)(object)beta, Cast<T, double>(c), ldc);
        }
        if (!fused) Activations.BiasAct<T>(c[..(m * n)], bias, c[..(m * n)], m, n, act);
    }

    private static unsafe bool DispatchEpilogue<T>(GemmKernelTier tier, bool transA, bool transB, int m, int n, int k,
        T alpha, T* a, int lda, T* b, int ldb, T beta, T* c, int ldc, GemmEpilogue<T> epi)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
        => tier switch
        {
            GemmKernelTier.Vector512 => GemmDriver<T, Kernel512<T>>.Run(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, epi),
            GemmKernelTier.Vector256 => GemmDriver<T, Kernel256<T>>.Run(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, epi),
            GemmKernelTier.Vector128 => GemmDriver<T, Kernel128<T>>.Run(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, epi),
            _ => GemmDriver<T, KernelScalar<T>>.Run(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, epi),
        };
}
