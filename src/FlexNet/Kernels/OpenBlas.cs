using System.Runtime.InteropServices;

namespace FlexNet.Kernels;

/// <summary>
/// Optional OpenBLAS GEMM provider, bound at run time: no build-time or package dependency. When
/// <c>libopenblas.so.0</c> (or a platform equivalent) loads and exports <c>cblas_sgemm</c>/<c>cblas_dgemm</c>,
/// <see cref="Gemm"/> can forward to it (<see cref="GemmProvider.OpenBlas"/>).
/// </summary>
internal static unsafe class OpenBlas
{
    /// <summary>Error code of configuration failures (provider requested but unavailable, bad value).</summary>
    internal const string ConfigErrorCode = "FN900";

    private const int CblasRowMajor = 101;
    private const int CblasNoTrans = 111;
    private const int CblasTrans = 112;

    private static readonly string[] Candidates =
    [
        "libopenblas.so.0", "libopenblas.so", "libopenblas.0.dylib", "libopenblas.dylib", "libopenblas.dll",
        "openblas",
    ];

    private static readonly State Loaded = Load();

    /// <summary>True when OpenBLAS was found and both GEMM entry points resolved.</summary>
    public static bool IsAvailable => Loaded.Sgemm != null;

    /// <summary>The library that was loaded, or why none was.</summary>
    public static string Description => Loaded.Description;

    /// <summary>Throws a <see cref="FlexNetException"/> naming <paramref name="requestedBy"/> if unavailable.</summary>
    public static void EnsureAvailable(string requestedBy)
    {
        if (!IsAvailable)
        {
            throw new FlexNetException(ConfigErrorCode,
                $"{requestedBy}: OpenBLAS is not available ({Loaded.Description}). Install it " +
                "(Debian/Ubuntu: apt-get install libopenblas0-pthread) or use FLEXNET_BLAS=managed.");
        }
    }

    /// <summary>
    /// Row-major <c>cblas_sgemm</c>; dimensions were validated by the caller, m, n, k &gt; 0. BLAS semantics:
    /// beta == 0 sets C without reading it (checked by the tests with NaN in C).
    /// </summary>
    public static void Sgemm(bool transA, bool transB, int m, int n, int k, float alpha, float* a, int lda,
        float* b, int ldb, float beta, float* c, int ldc)
    {
        EnsureAvailable("Gemm (float)");
        Loaded.Sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
            m, n, k, alpha, a, Ld(lda, transA ? k : m, transA ? m : k), b, Ld(ldb, transB ? n : k, transB ? k : n),
            beta, c, Ld(ldc, m, n));
    }

    /// <summary>Row-major <c>cblas_dgemm</c>; dimensions were validated by the caller, m, n, k &gt; 0.</summary>
    public static void Dgemm(bool transA, bool transB, int m, int n, int k, double alpha, double* a, int lda,
        double* b, int ldb, double beta, double* c, int ldc)
    {
        EnsureAvailable("Gemm (double)");
        Loaded.Dgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
            m, n, k, alpha, a, Ld(lda, transA ? k : m, transA ? m : k), b, Ld(ldb, transB ? n : k, transB ? k : n),
            beta, c, Ld(ldc, m, n));
    }

    /// <summary>BLAS requires ld ≥ max(1, cols) even for a single row, whose ld is never used.</summary>
    // Stryker disable once Conditional: equivalent (true): for more than one stored row Gemm.Validate has required ld >= cols, so max(1, cols, ld) is ld
    private static int Ld(int ld, int rows, int cols) => rows <= 1 ? Math.Max(Math.Max(1, cols), ld) : ld;

    private static State Load()
    {
        var tried = new List<string>();
        foreach (string name in Candidates)
        {
            if (!NativeLibrary.TryLoad(name, out nint handle))
            {
                tried.Add(name);
                continue;
            }
            if (NativeLibrary.TryGetExport(handle, "cblas_sgemm", out nint s) &&
                NativeLibrary.TryGetExport(handle, "cblas_dgemm", out nint d))
            {
                return new State(
                    (delegate* unmanaged[Cdecl]<int, int, int, int, int, int, float, float*, int, float*, int, float,
                        float*, int, void>)s,
                    (delegate* unmanaged[Cdecl]<int, int, int, int, int, int, double, double*, int, double*, int,
                        double, double*, int, void>)d,
                    $"loaded {name}");
            }
            tried.Add(name + " (no cblas_sgemm/cblas_dgemm export)");
        }
        return new State(null, null, "could not load " + string.Join(", ", tried));
    }

    private sealed class State(
        delegate* unmanaged[Cdecl]<int, int, int, int, int, int, float, float*, int, float*, int, float, float*, int,
            void> sgemm,
        delegate* unmanaged[Cdecl]<int, int, int, int, int, int, double, double*, int, double*, int, double, double*,
            int, void> dgemm,
        string description)
    {
        public readonly delegate* unmanaged[Cdecl]<int, int, int, int, int, int, float, float*, int, float*, int,
            float, float*, int, void> Sgemm = sgemm;

        public readonly delegate* unmanaged[Cdecl]<int, int, int, int, int, int, double, double*, int, double*, int,
            double, double*, int, void> Dgemm = dgemm;

        public readonly string Description = description;
    }
}
