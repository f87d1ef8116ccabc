using FlexNet.Kernels;
using Xunit;

namespace FlexNet.Tests.Kernels;

/// <summary>
/// Products with few outputs per row (x·Wᵀ with W [n, k], n at most half the micro-kernel's panel width, which depends
/// on the widest vector the machine runs) run as one dot product per output: every row agrees with a hand-written double-precision product, has the bits of the
/// same row computed alone (m = 1), and is the same split over the workers or not; strided A, W and C are read and
/// written through their strides only.
/// </summary>
[Trait("Category", "Kernels")]
public sealed class GemmRowDotsTests
{
    [Fact]
    public void FewOutputsPerRow_MatchLoops_AndEachRowHasTheBitsOfThatRowAlone()
    {
        var rng = new Random(1234);
        foreach (int m in new[] { 2, 5, 64, 131 })
            foreach (int n in new[] { 1, 3, 4, 10, 16 })
                foreach (int k in new[] { 1, 7, 33, 512, 785 })
                    Check(rng, m, n, k, beta: (m + n + k) % 3 == 0 ? 0f : -0.5f);
    }

    [Fact]
    public void DoubleRowsMatchLoopsAndSingleRows()
    {
        var rng = new Random(99);
        foreach (int n in new[] { 2, 8 })
        {
            int m = 37, k = 130, lda = k + 1, ldw = k + 5, ldc = n + 2;
            double[] a = RandomD(rng, m * lda), w = RandomD(rng, n * ldw), c0 = RandomD(rng, m * ldc);
            var c = (double[])c0.Clone();
            Gemm.Run(false, true, m, n, k, 1.25, a, lda, w, ldw, 0.5, c, ldc);
            for (int i = 0; i < m; i++)
            {
                var row = new double[n];
                for (int j = 0; j < n; j++) row[j] = c0[i * ldc + j];
                Gemm.Run(false, true, 1, n, k, 1.25, a.AsSpan(i * lda, k), lda, w, ldw, 0.5, row, n);
                for (int j = 0; j < n; j++)
                {
                    double dot = 0;
                    for (int p = 0; p < k; p++) dot += a[i * lda + p] * w[j * ldw + p];
                    double want = 1.25 * dot + 0.5 * c0[i * ldc + j];
                    Assert.True(Math.Abs(c[i * ldc + j] - want) <= 1e-12, $"c[{i},{j}] = {c[i * ldc + j]}, want {want}");
                    if (n <= RowDotsMax(sizeof(double))) Assert.Equal(row[j], c[i * ldc + j]);
                }
            }
        }
    }

    /// <summary>The widest n that takes the row-dots path on this machine: half the micro-kernel's panel (two vectors,
    /// or 4 columns for the scalar kernel). Wider products go through the packed kernel, whose rows need not have the
    /// bits of a row alone.</summary>
    private static int RowDotsMax(int elementBytes) => Gemm.BestTier switch
    {
        GemmKernelTier.Vector512 => 64 / elementBytes,
        GemmKernelTier.Vector256 => 32 / elementBytes,
        GemmKernelTier.Vector128 => 16 / elementBytes,
        _ => 2,
    };

    private static void Check(Random rng, int m, int n, int k, float beta)
    {
        int lda = k + 3, ldw = k + 1, ldc = n + 2;
        float[] a = Random(rng, m * lda), w = Random(rng, n * ldw), c0 = Random(rng, m * ldc);
        float[] split = (float[])c0.Clone(), whole = (float[])c0.Clone();
        using (SplitAt(1)) Gemm.Run(false, true, m, n, k, 0.75f, a, lda, w, ldw, beta, split, ldc);
        using (SplitAt(long.MaxValue)) Gemm.Run(false, true, m, n, k, 0.75f, a, lda, w, ldw, beta, whole, ldc);
        string what = $"m={m} n={n} k={k} beta={beta}";
        Assert.True(whole.AsSpan().SequenceEqual(split), $"split differs from unsplit: {what}");
        for (int i = 0; i < m; i++)
        {
            // the same row alone (m = 1: the matrix-vector path)
            var row = new float[n];
            for (int j = 0; j < n; j++) row[j] = c0[i * ldc + j];
            Gemm.Run(false, true, 1, n, k, 0.75f, a.AsSpan(i * lda, k), lda, w, ldw, beta, row, n);
            for (int j = 0; j < n; j++)
            {
                double dot = 0, abs = 0;
                for (int p = 0; p < k; p++)
                {
                    double prod = (double)a[i * lda + p] * w[j * ldw + p];
                    dot += prod;
                    abs += Math.Abs(prod);
                }
                double want = 0.75 * dot + beta * c0[i * ldc + j];
                double tol = (k + 2) * Math.Pow(2, -23) * (0.75 * abs + Math.Abs(beta * c0[i * ldc + j])) + 1e-30;
                float got = split[i * ldc + j];
                Assert.True(Math.Abs(got - want) <= tol, $"c[{i},{j}] = {got}, want {want} ± {tol}: {what}");
                if (n <= RowDotsMax(sizeof(float)))
                    Assert.True(row[j] == got, $"row {i} alone gives c[{j}] = {row[j]}, inside the batch {got}: {what}");
            }
            // C's padding columns are never written
            for (int j = n; j < ldc; j++) Assert.Equal(c0[i * ldc + j], split[i * ldc + j]);
        }
    }

    private static GemvSplitTests.Restore SplitAt(long threshold) => GemvSplitTests.SplitAt(threshold);

    private static float[] Random(Random rng, int n) => GemvSplitTests.Random(rng, n);

    private static double[] RandomD(Random rng, int n) => GemvSplitTests.RandomD(rng, n);
}
