using System.Runtime.InteropServices;
using FlexNet.Kernels;
using Xunit;

namespace FlexNet.Tests.Kernels;

/// <summary>The OpenBLAS provider against facts found independently: whether the system's <c>libopenblas.so.0</c> loads
/// and exports both GEMMs (asked of the runtime here), and products whose single stored rows carry a leading dimension of
/// 0, which FlexNet accepts (a single row never uses it) and BLAS refuses (it wants ld ≥ max(1, cols)), each against
/// loops.</summary>
[Trait("Category", "Kernels")]
public sealed class OpenBlasTests20
{
    private static bool SystemOpenBlasLoads()
    {
        if (!NativeLibrary.TryLoad("libopenblas.so.0", out nint handle)) return false;
        return NativeLibrary.TryGetExport(handle, "cblas_sgemm", out _) && NativeLibrary.TryGetExport(handle, "cblas_dgemm", out _);
    }

    [Fact]
    public void IsAvailable_ExactlyWhenTheSystemLibraryLoads()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "libopenblas.so.0 is the Linux name");
        bool loads = SystemOpenBlasLoads();
        Assert.Equal(loads, OpenBlas.IsAvailable);
        if (loads) Assert.Equal("loaded libopenblas.so.0", OpenBlas.Description);
        else Assert.StartsWith("could not load libopenblas.so.0, libopenblas.so, libopenblas.0.dylib, libopenblas.dylib, libopenblas.dll, openblas", OpenBlas.Description);
    }

    /// <summary>(transA, transB, m, n, k, lda, ldb, ldc): every operand that is one stored row has ld = 0.</summary>
    public static TheoryData<bool, bool, int, int, int, int, int, int> SingleRows() => new()
    {
        { false, false, 1, 3, 5, 0, 3, 0 },   // A [1, 5] and C [1, 3] single rows
        { true, false, 4, 3, 1, 0, 0, 3 },    // A stored [1, 4] (k = 1), B [1, 3]
        { false, true, 2, 1, 4, 4, 0, 1 },    // B stored [1, 4] (n = 1)
        { true, true, 3, 1, 1, 0, 0, 1 },     // A stored [1, 3], B stored [1, 1]
        { false, true, 1, 4, 2, 0, 2, 0 },    // A [1, 2], C [1, 4]
    };

    private static double Naive(bool transA, bool transB, double[] a, int lda, double[] b, int ldb, int i, int j, int k)
    {
        double s = 0;
        for (int p = 0; p < k; p++)
            s += (transA ? a[p * lda + i] : a[i * lda + p]) * (transB ? b[j * ldb + p] : b[p * ldb + j]);
        return s;
    }

    /// <summary>The stored length of an operand of <paramref name="rows"/> × <paramref name="cols"/> with ld.</summary>
    private static int Stored(int rows, int cols, int ld) => (rows - 1) * ld + cols;

    [Theory]
    [MemberData(nameof(SingleRows))]
    public void SingleStoredRowsWithLeadingDimensionZero_MatchLoops(bool transA, bool transB, int m, int n, int k, int lda, int ldb, int ldc)
    {
        Assert.SkipUnless(OpenBlas.IsAvailable, $"OpenBLAS not available: {OpenBlas.Description}");
        var rng = new Random(m * 100 + n * 10 + k);
        var a = new double[Stored(transA ? k : m, transA ? m : k, lda)];
        var b = new double[Stored(transB ? n : k, transB ? k : n, ldb)];
        for (int i = 0; i < a.Length; i++) a[i] = rng.Next(-4, 5);
        for (int i = 0; i < b.Length; i++) b[i] = rng.Next(-4, 5);
        var c = new double[Stored(m, n, ldc)];
        var cf = new float[c.Length];
        Gemm.Run(GemmProvider.OpenBlas, GemmKernelTier.Auto, transA, transB, m, n, k, 1.0, a, lda, b, ldb, 0.0, c, ldc);
        Gemm.Run(GemmProvider.OpenBlas, GemmKernelTier.Auto, transA, transB, m, n, k, 1f,
            a.Select(v => (float)v).ToArray(), lda, b.Select(v => (float)v).ToArray(), ldb, 0f, cf, ldc);
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double want = Naive(transA, transB, a, lda, b, ldb, i, j, k); // small integers: exact in float too
                Assert.True(want == c[i * ldc + j], $"double C[{i}, {j}]: want {want}, got {c[i * ldc + j]}");
                Assert.True(want == cf[i * ldc + j], $"float C[{i}, {j}]: want {want}, got {cf[i * ldc + j]}");
            }
    }
}
