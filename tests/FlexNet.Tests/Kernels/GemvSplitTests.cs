using FlexNet.Kernels;
using Xunit;

namespace FlexNet.Tests.Kernels;

/// <summary>
/// The matrix-vector products (m = 1 or n = 1) split over the worker threads by output block: every form (dots and
/// axpy, both orientations, strided x, alpha/beta) gives the bits of the unsplit kernel, and both agree with a
/// hand-written double-precision product.
/// </summary>
[Trait("Category", "Kernels")]
public sealed class GemvSplitTests
{
    private static readonly (bool TA, bool TB)[] TransCombos = [(false, false), (false, true), (true, false), (true, true)];

    [Fact]
    public void SplitProducts_AreBitwiseEqualToUnsplit_AndMatchAHandWrittenProduct()
    {
        var rng = new Random(314);
        // lengths around the block boundaries: the dots kernel groups 4 outputs, the axpy kernel 8 vectors (128 floats)
        foreach (int len in new[] { 2, 7, 9, 127, 129, 256, 300, 513 })
            foreach (int k in new[] { 1, 5, 33, 600 })
                foreach (var (ta, tb) in TransCombos)
                    foreach (bool rowVector in new[] { true, false })
                        Check(rng, len, k, ta, tb, rowVector, beta: (len + k) % 2 == 0 ? 0f : 0.5f);
    }

    [Fact]
    public void DoubleSplitProducts_AreBitwiseEqualToUnsplit()
    {
        var rng = new Random(2718);
        foreach (int len in new[] { 3, 64, 65, 200 })
            foreach (var (ta, tb) in TransCombos)
            {
                int m = 1, n = len, k = 77;
                int lda = ta ? m + 2 : k, ldb = tb ? k : n;
                double[] a = RandomD(rng, (ta ? k : m) * lda), b = RandomD(rng, (tb ? n : k) * ldb), c0 = RandomD(rng, n);
                double[] split = (double[])c0.Clone(), whole = (double[])c0.Clone();
                using (SplitAt(1)) Gemm.Run(ta, tb, m, n, k, 1.5, a, lda, b, ldb, -0.5, split, n);
                using (SplitAt(long.MaxValue)) Gemm.Run(ta, tb, m, n, k, 1.5, a, lda, b, ldb, -0.5, whole, n);
                Assert.Equal(whole, split);
            }
    }

    [Fact]
    public void DotsOfALargeMatrix_RowAtATime_EqualTheFourRowGroupsOfSmallOnes()
    {
        // 203 × 400 floats (317 KB) and 203 × 200 doubles are past OneRowBytes: read one row at a time; the same rows
        // 8 at a time (12.5 KB) go in groups of four. Every output must have the same bits either way.
        var rng = new Random(99);
        const int len = 203;
        foreach (int k in new[] { 400, 401 })
        {
            Assert.True((long)len * k * sizeof(float) >= GemmVector<float>.OneRowBytes);
            float[] w = Random(rng, len * k), x = Random(rng, k);
            var (whole, eights) = WholeAndInEights<float>(len, (r, rows, y) =>
                Gemm.Run(false, true, 1, rows, k, 1.25f, x, k, w.AsSpan(r * k, rows * k), k, 0f, y, rows));
            Assert.Equal(eights, whole);
        }
        const int kd = 200;
        double[] wd = RandomD(rng, len * kd), xd = RandomD(rng, kd);
        var (wholeD, eightsD) = WholeAndInEights<double>(len, (r, rows, y) =>
            Gemm.Run(false, true, 1, rows, kd, 1.0, xd, kd, wd.AsSpan(r * kd, rows * kd), kd, 0.0, y, rows));
        Assert.Equal(eightsD, wholeD);
    }

    private delegate void RowsProduct<T>(int first, int rows, Span<T> y);

    /// <summary>The outputs of all <paramref name="len"/> rows in one product, and the same rows 8 at a time.</summary>
    private static (T[] Whole, T[] Eights) WholeAndInEights<T>(int len, RowsProduct<T> run)
    {
        T[] whole = new T[len], eights = new T[len];
        using (SplitAt(long.MaxValue))
        {
            run(0, len, whole);
            for (int r = 0; r < len; r += 8)
            {
                int rows = Math.Min(8, len - r);
                run(r, rows, eights.AsSpan(r, rows));
            }
        }
        return (whole, eights);
    }

    /// <summary>One product c = 0.75·op(A)op(B) + beta·c with m = 1 (row vector) or n = 1 (column vector), x read with
    /// a stride when the orientation makes it strided; split at every size vs never split, and vs double loops.</summary>
    private static void Check(Random rng, int len, int k, bool ta, bool tb, bool rowVector, float beta)
    {
        int m = rowVector ? 1 : len, n = rowVector ? len : 1;
        int pad = 3;
        int lda = (ta ? m : k) + pad, ldb = (tb ? k : n) + pad, ldc = n + (rowVector ? 0 : pad);
        int aRows = ta ? k : m, bRows = tb ? n : k;
        float[] a = Random(rng, aRows * lda), b = Random(rng, bRows * ldb), c0 = Random(rng, m * ldc);
        float[] split = (float[])c0.Clone(), whole = (float[])c0.Clone();
        using (SplitAt(1)) Gemm.Run(ta, tb, m, n, k, 0.75f, a, lda, b, ldb, beta, split, ldc);
        using (SplitAt(long.MaxValue)) Gemm.Run(ta, tb, m, n, k, 0.75f, a, lda, b, ldb, beta, whole, ldc);
        string what = $"len={len} k={k} transA={ta} transB={tb} {(rowVector ? "m=1" : "n=1")} beta={beta}";
        Assert.True(whole.AsSpan().SequenceEqual(split), $"split differs from unsplit: {what}");
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double dot = 0, abs = 0;
                for (int p = 0; p < k; p++)
                {
                    double av = ta ? a[p * lda + i] : a[i * lda + p];
                    double bv = tb ? b[j * ldb + p] : b[p * ldb + j];
                    dot += av * bv;
                    abs += Math.Abs(av * bv);
                }
                double want = 0.75 * dot + beta * c0[i * ldc + j];
                double tol = (k + 2) * Math.Pow(2, -23) * (0.75 * abs + Math.Abs(beta * c0[i * ldc + j])) + 1e-30;
                Assert.True(Math.Abs(split[i * ldc + j] - want) <= tol, $"c[{i},{j}] = {split[i * ldc + j]}, want {want} ± {tol}: {what}");
            }
        // the padding of a strided C is never written
        for (int i = 0; i < m; i++)
            for (int j = n; j < ldc; j++)
                Assert.Equal(c0[i * ldc + j], split[i * ldc + j]);
    }

    /// <summary>Sets the split threshold of both element types on this thread until disposed (shared with
    /// <see cref="GemmRowDotsTests"/>).</summary>
    internal static Restore SplitAt(long threshold)
    {
        long old = GemmVector<float>.SplitThresholdOnThisThread;
        GemmVector<float>.SplitThresholdOnThisThread = threshold;
        GemmVector<double>.SplitThresholdOnThisThread = threshold;
        return new Restore(old);
    }

    internal readonly struct Restore(long old) : IDisposable
    {
        public void Dispose()
        {
            GemmVector<float>.SplitThresholdOnThisThread = old;
            GemmVector<double>.SplitThresholdOnThisThread = old;
        }
    }

    internal static float[] Random(Random rng, int n)
    {
        var x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);
        return x;
    }

    internal static double[] RandomD(Random rng, int n)
    {
        var x = new double[n];
        for (int i = 0; i < n; i++) x[i] = rng.NextDouble() * 2 - 1;
        return x;
    }
}
