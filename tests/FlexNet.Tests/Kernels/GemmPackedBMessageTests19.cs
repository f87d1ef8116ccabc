using FlexNet.Kernels;

namespace FlexNet.Tests.Kernels;

/// <summary>
/// The shape checks of <see cref="GemmPackedB{T}"/> (found untested by session 19's mutation run of Gemm.PackedB): each
/// refusal with its whole message, each storage bound accepted at its exact size and refused one element short, and a
/// product with strided B, A and C against a hand-written loop.
/// </summary>
public sealed class GemmPackedBMessageTests19
{
    private static double[] Seq(int n, double scale = 0.25)
    {
        var v = new double[n];
        for (int i = 0; i < n; i++) v[i] = ((i * 7) % 11 - 5) * scale;
        return v;
    }

    [Fact]
    public void Pack_RefusesEmptyShapes_AndAStorageOneShort_ByName()
    {
        Assert.Equal("GemmPackedB: k=0 and n=3 must be positive.",
                     Assert.Throws<ShapeMismatchException>(() => new GemmPackedB<double>(false, 0, 3, new double[6], 3)).Message);
        Assert.Equal("GemmPackedB: k=2 and n=0 must be positive.",
                     Assert.Throws<ShapeMismatchException>(() => new GemmPackedB<double>(false, 2, 0, new double[6], 3)).Message);
        Assert.Equal("GemmPackedB: k=-1 and n=-1 must be positive.",
                     Assert.Throws<ShapeMismatchException>(() => new GemmPackedB<double>(false, -1, -1, new double[6], 3)).Message);
        // B [2, 3] stored with ldb = 4 needs (2 − 1)·4 + 3 = 7 elements: 7 fit, 6 do not
        using (new GemmPackedB<double>(false, 2, 3, new double[7], 4)) { }
        Assert.Equal("GemmPackedB: B stored as [2, 3] with ldb=4 needs 7 elements; the span has 6.",
                     Assert.Throws<ShapeMismatchException>(() => new GemmPackedB<double>(false, 2, 3, new double[6], 4)).Message);
        // ldb below the row length
        Assert.Equal("GemmPackedB: B stored as [2, 3] with ldb=2 needs 5 elements; the span has 100.",
                     Assert.Throws<ShapeMismatchException>(() => new GemmPackedB<double>(false, 2, 3, new double[100], 2)).Message);
        // transposed: Bᵀ stored as [n, k] = [3, 2] with ldb = 5 needs (3 − 1)·5 + 2 = 12
        using (new GemmPackedB<double>(true, 2, 3, new double[12], 5)) { }
        Assert.Equal("GemmPackedB: B stored as [3, 2] with ldb=5 needs 12 elements; the span has 11.",
                     Assert.Throws<ShapeMismatchException>(() => new GemmPackedB<double>(true, 2, 3, new double[11], 5)).Message);
    }

    [Fact]
    public void Multiply_RefusesANegativeM_AndAOrCOneShort_ByName_AndRunsStridedAtTheExactSizes()
    {
        int k = 3, n = 5, m = 4, ldb = 7, lda = 6, ldc = 8;
        var b = Seq((k - 1) * ldb + n);
        using var pb = new GemmPackedB<double>(false, k, n, b, ldb);
        var a = Seq((m - 1) * lda + k, 0.5);
        var c0 = Seq((m - 1) * ldc + n, 0.125);

        Assert.Equal("GemmPackedB.Multiply: m=-1 must be non-negative.",
                     Assert.Throws<ShapeMismatchException>(() => pb.Multiply(false, -1, 1.0, a, lda, 0.0, (double[])c0.Clone(), ldc)).Message);
        Assert.Equal("GemmPackedB.Multiply (m=4, n=5, k=3): A stored as [4, 3] with lda=6 does not fit a span of 20.",
                     Assert.Throws<ShapeMismatchException>(() => pb.Multiply(false, m, 1.0, a.AsSpan(0, a.Length - 1).ToArray(), lda, 0.0, (double[])c0.Clone(), ldc)).Message);
        Assert.Equal("GemmPackedB.Multiply (m=4, n=5, k=3): A stored as [4, 3] with lda=2 does not fit a span of 21.",
                     Assert.Throws<ShapeMismatchException>(() => pb.Multiply(false, m, 1.0, a, 2, 0.0, (double[])c0.Clone(), ldc)).Message);
        Assert.Equal("GemmPackedB.Multiply (m=4, n=5, k=3): C [4, 5] with ldc=8 does not fit a span of 28.",
                     Assert.Throws<ShapeMismatchException>(() => pb.Multiply(false, m, 1.0, a, lda, 0.0, new double[c0.Length - 1], ldc)).Message);
        Assert.Equal("GemmPackedB.Multiply (m=4, n=5, k=3): C [4, 5] with ldc=4 does not fit a span of 29.",
                     Assert.Throws<ShapeMismatchException>(() => pb.Multiply(false, m, 1.0, a, lda, 0.0, (double[])c0.Clone(), 4)).Message);

        // m = 0 touches nothing, whatever the spans
        var untouched = (double[])c0.Clone();
        pb.Multiply(false, 0, 1.0, [], lda, 0.0, untouched, ldc);
        Assert.Equal(c0, untouched);

        // the exact sizes: C = 1.5·A·B + 0.5·C, gaps between rows left alone
        var c = (double[])c0.Clone();
        pb.Multiply(false, m, 1.5, a, lda, 0.5, c, ldc);
        var want = (double[])c0.Clone();
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double s = 0;
                for (int p = 0; p < k; p++) s += a[i * lda + p] * b[p * ldb + j];
                want[i * ldc + j] = 1.5 * s + 0.5 * c0[i * ldc + j];
            }
        for (int i = 0; i < want.Length; i++) Assert.True(Math.Abs(want[i] - c[i]) <= 1e-12, $"c[{i}] = {c[i]}, want {want[i]}");

        pb.Dispose();
        Assert.Throws<ObjectDisposedException>(() => pb.Multiply(false, m, 1.0, a, lda, 0.0, c, ldc));
    }
}
