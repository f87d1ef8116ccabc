using System.Runtime.Intrinsics;

namespace FlexNet.Kernels;

/// <summary>Which implementation <see cref="Gemm"/> uses.</summary>
internal enum GemmProvider
{
    /// <summary>FlexNet's managed, packed, SIMD micro-kernel GEMM (the default).</summary>
    Managed = 0,

    /// <summary>OpenBLAS's <c>cblas_sgemm</c>/<c>cblas_dgemm</c>, loaded at run time when present.</summary>
    OpenBlas = 1,
}

/// <summary>SIMD width of the managed GEMM micro-kernel (tests can force a narrower one).</summary>
internal enum GemmKernelTier
{
    /// <summary>The widest tier the hardware accelerates (<see cref="Gemm.BestTier"/>).</summary>
    Auto = 0,

    /// <summary>Plain scalar code.</summary>
    Scalar = 1,

    /// <summary><see cref="Vector128{T}"/> micro-kernel.</summary>
    Vector128 = 2,

    /// <summary><see cref="Vector256{T}"/> micro-kernel.</summary>
    Vector256 = 3,

    /// <summary><see cref="Vector512{T}"/> micro-kernel.</summary>
    Vector512 = 4,
}

/// <summary>
/// Row-major general matrix multiply: <c>C = alpha * op(A) * op(B) + beta * C</c> with <c>op(X) = X</c> or
/// <c>Xᵀ</c>, for float and double, with leading dimensions (row strides).
/// </summary>
/// <remarks>
/// Shapes: <c>op(A)</c> is <c>[m, k]</c>, <c>op(B)</c> is <c>[k, n]</c>, <c>C</c> is <c>[m, n]</c>. A is stored
/// as <c>[m, k]</c> (<c>transA = false</c>) or <c>[k, m]</c> (<c>transA = true</c>) with row stride <c>lda</c>;
/// likewise B as <c>[k, n]</c> or <c>[n, k]</c> with row stride <c>ldb</c>; C as <c>[m, n]</c> with row stride
/// <c>ldc</c>. <c>beta == 0</c> overwrites C without reading it (NaN garbage in C is ignored). C must not
/// overlap A or B.
/// <para>
/// Results do not depend on the number of cores: every element of C is accumulated over k in the same order
/// whatever the task split (blocks of <c>KC</c> along k, FMA within a block, then
/// <c>c = alpha*acc + beta*c</c> as separate multiply and add).
/// </para>
/// </remarks>
internal static partial class Gemm
{
    private static int _provider = -1; // -1 = not resolved from FLEXNET_BLAS yet

    /// <summary>
    /// Test hook: when set, single-threaded managed GEMMs started on this thread pack both operands even when
    /// they are small enough to be read in place (covers the packed paths on tiny shapes).
    /// </summary>
    [ThreadStatic] internal static bool ForcePackingOnThisThread;

    /// <summary>
    /// Test hook: when set, parallel managed GEMMs started on this thread give every row task its own packed B
    /// (the path used when the shared packed B would be too large).
    /// </summary>
    [ThreadStatic] internal static bool NoSharedPackingOnThisThread;

    /// <summary>The widest micro-kernel tier this machine accelerates.</summary>
    public static GemmKernelTier BestTier { get; } = DetectTier();

    /// <summary>True when <c>libopenblas.so.0</c> (or a platform equivalent) could be loaded.</summary>
    public static bool OpenBlasAvailable => OpenBlas.IsAvailable;

    /// <summary>
    /// The implementation used by <see cref="Run(bool, bool, int, int, int, float, ReadOnlySpan{float}, int,
    /// ReadOnlySpan{float}, int, float, Span{float}, int)"/>. Defaults to the <c>FLEXNET_BLAS</c> environment
    /// variable (<c>managed</c> or <c>openblas</c>; unset = managed). Setting <see cref="GemmProvider.OpenBlas"/>
    /// when OpenBLAS cannot be loaded throws.
    /// </summary>
    public static GemmProvider Provider
    {
        get
        {
            int p = Volatile.Read(ref _provider);
            if (p < 0)
            {
                p = (int)ProviderFrom(Environment.GetEnvironmentVariable("FLEXNET_BLAS"));
                Volatile.Write(ref _provider, p);
            }
            return (GemmProvider)p;
        }
        set
        {
            if (value == GemmProvider.OpenBlas) OpenBlas.EnsureAvailable("Gemm.Provider = OpenBlas");
            else if (value != GemmProvider.Managed)
                throw new ArgumentOutOfRangeException(nameof(value), value, "Gemm.Provider: unknown provider.");
            Volatile.Write(ref _provider, (int)value);
        }
    }

    /// <summary>Test hook: forget the provider, so that the next read of <see cref="Provider"/> takes it from
    /// <c>FLEXNET_BLAS</c> again.</summary>
    internal static void ResetProvider() => Volatile.Write(ref _provider, -1);

    /// <summary>The provider a <c>FLEXNET_BLAS</c> value <paramref name="v"/> names: unset, blank or <c>managed</c>
    /// (any case, surrounding blanks ignored) is <see cref="GemmProvider.Managed"/>; <c>openblas</c> is
    /// <see cref="GemmProvider.OpenBlas"/> when it loads (a <see cref="FlexNetException"/> otherwise); anything else
    /// is refused.</summary>
    internal static GemmProvider ProviderFrom(string? v)
    {
        if (string.IsNullOrWhiteSpace(v) || v.Trim().Equals("managed", StringComparison.OrdinalIgnoreCase))
            return GemmProvider.Managed;
        if (v.Trim().Equals("openblas", StringComparison.OrdinalIgnoreCase))
        {
            OpenBlas.EnsureAvailable("FLEXNET_BLAS=openblas");
            return GemmProvider.OpenBlas;
        }
        throw new FlexNetException(OpenBlas.ConfigErrorCode,
            $"FLEXNET_BLAS='{v}' is not a known GEMM provider: use 'managed' or 'openblas'.");
    }

    private static GemmKernelTier DetectTier()
    {
        if (Vector512.IsHardwareAccelerated) return GemmKernelTier.Vector512;
        if (Vector256.IsHardwareAccelerated) return GemmKernelTier.Vector256;
        if (Vector128.IsHardwareAccelerated) return GemmKernelTier.Vector128;
        return GemmKernelTier.Scalar;
    }

    /// <summary>
    /// <c>C = alpha * op(A) * op(B) + beta * C</c> in float (row-major, see the class remarks for the shapes).
    /// </summary>
    public static void Run(bool transA, bool transB, int m, int n, int k, float alpha, ReadOnlySpan<float> a,
        int lda, ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc)
        => Run(Provider, GemmKernelTier.Auto, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);

    /// <summary>
    /// <c>C = alpha * op(A) * op(B) + beta * C</c> in double (row-major, see the class remarks for the shapes).
    /// </summary>
    public static void Run(bool transA, bool transB, int m, int n, int k, double alpha, ReadOnlySpan<double> a,
        int lda, ReadOnlySpan<double> b, int ldb, double beta, Span<double> c, int ldc)
        => Run(Provider, GemmKernelTier.Auto, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);

    /// <summary>
    /// Generic entry for kernels written over <typeparamref name="T"/>: float or double only
    /// (<see cref="NotSupportedException"/> otherwise).
    /// </summary>
    public static void Run<T>(bool transA, bool transB, int m, int n, int k, T alpha, ReadOnlySpan<T> a,
        int lda, ReadOnlySpan<T> b, int ldb, T beta, Span<T> c, int ldc) where T : unmanaged
    {
        if (typeof(T) == typeof(float))
        {
            Run(transA, transB, m, n, k, (float)(object)alpha, Cast<T, float>(a), lda, Cast<T, float>(b), ldb,
                (float)(object)beta, Cast<T, float>(c), ldc);
        }
        else if (typeof(T) == typeof(double))
        {
            Run(transA, transB, m, n, k, (double)(object)alpha, Cast<T, double>(a), lda, Cast<T, double>(b), ldb,
                (double)(object)beta, Cast<T, double>(c), ldc);
        }
        else
        {
            throw new NotSupportedException($"Gemm: element type {typeof(T).Name} is not supported (float, double).");
        }
    }

    private static ReadOnlySpan<TTo> Cast<TFrom, TTo>(ReadOnlySpan<TFrom> s) where TFrom : unmanaged where TTo : unmanaged
        => System.Runtime.InteropServices.MemoryMarshal.Cast<TFrom, TTo>(s);

    private static Span<TTo> Cast<TFrom, TTo>(Span<TFrom> s) where TFrom : unmanaged where TTo : unmanaged
        => System.Runtime.InteropServices.MemoryMarshal.Cast<TFrom, TTo>(s);

    /// <summary>Float GEMM with an explicit provider and micro-kernel tier (tests, benchmarks).</summary>
    internal static unsafe void Run(GemmProvider provider, GemmKernelTier tier, bool transA, bool transB, int m,
        int n, int k, float alpha, ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, float beta,
        Span<float> c, int ldc)
    {
        Validate(transA, transB, m, n, k, a.Length, lda, b.Length, ldb, c.Length, ldc);
        // Stryker disable once Statement: equivalent: an empty C gets nothing from either path below
        if (m == 0 || n == 0) return;
        fixed (float* pa = a)
        fixed (float* pb = b)
        fixed (float* pc = c)
        {
            if (k == 0 || alpha == 0f)
            {
                ScaleC(m, n, beta, pc, ldc);
            }
            else if (provider == GemmProvider.OpenBlas)
            {
                OpenBlas.Sgemm(transA, transB, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc);
            }
            else
            {
                Dispatch(ResolveTier(tier), transA, transB, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc);
            }
        }
    }

    /// <summary>Double GEMM with an explicit provider and micro-kernel tier (tests, benchmarks).</summary>
    internal static unsafe void Run(GemmProvider provider, GemmKernelTier tier, bool transA, bool transB, int m,
        int n, int k, double alpha, ReadOnlySpan<double> a, int lda, ReadOnlySpan<double> b, int ldb, double beta,
        Span<double> c, int ldc)
    {
        Validate(transA, transB, m, n, k, a.Length, lda, b.Length, ldb, c.Length, ldc);
        // Stryker disable once Statement: equivalent: an empty C gets nothing from either path below
        if (m == 0 || n == 0) return;
        fixed (double* pa = a)
        fixed (double* pb = b)
        fixed (double* pc = c)
        {
            if (k == 0 || alpha == 0d)
            {
                ScaleC(m, n, beta, pc, ldc);
            }
            else if (provider == GemmProvider.OpenBlas)
            {
                OpenBlas.Dgemm(transA, transB, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc);
            }
            else
            {
                Dispatch(ResolveTier(tier), transA, transB, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc);
            }
        }
    }

    private static GemmKernelTier ResolveTier(GemmKernelTier tier)
    {
        if (tier == GemmKernelTier.Auto) return BestTier;
        if (tier < GemmKernelTier.Scalar || tier > GemmKernelTier.Vector512)
            throw new ArgumentOutOfRangeException(nameof(tier), tier, "Gemm: unknown kernel tier.");
        if (tier > BestTier)
            throw new NotSupportedException($"Gemm: kernel tier {tier} is not accelerated here (best: {BestTier}).");
        return tier;
    }

    private static unsafe void Dispatch<T>(GemmKernelTier tier, bool transA, bool transB, int m, int n, int k,
        T alpha, T* a, int lda, T* b, int ldb, T beta, T* c, int ldc)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        switch (tier)
        {
            case GemmKernelTier.Vector512:
                GemmDriver<T, Kernel512<T>>.Run(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
                break;
            case GemmKernelTier.Vector256:
                GemmDriver<T, Kernel256<T>>.Run(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
                break;
            case GemmKernelTier.Vector128:
                GemmDriver<T, Kernel128<T>>.Run(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
                break;
            default:
                GemmDriver<T, KernelScalar<T>>.Run(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
                break;
        }
    }

    /// <summary><c>C = beta * C</c> (<c>beta == 0</c> writes zeros without reading C).</summary>
    private static unsafe void ScaleC<T>(int m, int n, T beta, T* c, int ldc)
        where T : unmanaged, System.Numerics.INumber<T>
    {
        if (beta == T.One) return;
        for (int i = 0; i < m; i++)
        {
            var row = new Span<T>(c + (nint)i * ldc, n);
            if (beta == T.Zero) row.Clear();
            else for (int j = 0; j < row.Length; j++) row[j] *= beta;
        }
    }

    private static void Validate(bool transA, bool transB, int m, int n, int k, int aLength, int lda,
        int bLength, int ldb, int cLength, int ldc)
    {
        if (m < 0 || n < 0 || k < 0)
            throw new ShapeMismatchException($"Gemm: dimensions m={m}, n={n}, k={k} must be non-negative.");
        CheckOperand("A", transA ? k : m, transA ? m : k, transA, aLength, lda, m, n, k);
        CheckOperand("B", transB ? n : k, transB ? k : n, transB, bLength, ldb, m, n, k);
        CheckOperand("C", m, n, false, cLength, ldc, m, n, k);
    }

    private static string TransNote(string name, bool trans) => trans ? $" (trans{name}=true)" : "";

    private static void CheckOperand(string name, int rows, int cols, bool trans, int length, int ld,
        int m, int n, int k)
    {
        // (the note is formatted on the error paths only: a string per transposed operand per call was garbage)
        // A single stored row never uses its leading dimension (tensor views may report any stride there).
        if (ld < 0 || (rows > 1 && ld < cols))
        {
            throw new ShapeMismatchException(
                $"Gemm (m={m}, n={n}, k={k}): {name} is stored as [{rows}, {cols}]{TransNote(name, trans)} but its leading dimension " +
                $"ld{name.ToLowerInvariant()}={ld} is smaller than its row length {cols}.");
        }
        if (rows == 0 || cols == 0) return;
        long need = (long)(rows - 1) * ld + cols;
        if (length < need)
        {
            throw new ShapeMismatchException(
                $"Gemm (m={m}, n={n}, k={k}): {name} is stored as [{rows}, {cols}]{TransNote(name, trans)} with " +
                $"ld{name.ToLowerInvariant()}={ld}, which needs {need} elements, but the span has {length}.");
        }
    }
}
