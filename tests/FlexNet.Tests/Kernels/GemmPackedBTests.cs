using FlexNet.Kernels;

namespace FlexNet.Tests.Kernels;

/// <summary>Products with a B packed once (<see cref="GemmPackedB{T}"/>) against a hand-written double loop and, bit for
/// bit, against <see cref="Gemm"/> (same k blocks, same micro-kernel).</summary>
public class GemmPackedBTests
{
    private static double[] Naive(bool transA, bool transB, int m, int n, int k, double alpha, double[] a, int lda,
        double[] b, int ldb, double beta, double[] c0, int ldc)
    {
        var c = (double[])c0.Clone();
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double s = 0;
                for (int p = 0; p < k; p++)
                    s += (transA ? a[p * lda + i] : a[i * lda + p]) * (transB ? b[j * ldb + p] : b[p * ldb + j]);
                c[i * ldc + j] = alpha * s + (beta == 0 ? 0 : beta * c0[i * ldc + j]);
            }
        return c;
    }

    private static double[] Random(int length, ulong seed)
    {
        var rng = new FlexNet.Tensors.RandomGenerator(seed);
        var v = new double[length];
        for (int i = 0; i < v.Length; i++) v[i] = rng.NextDouble() * 2 - 1;
        return v;
    }

    // (m, n, k): tails in every direction; k = 400 and 800 cross the float/double k blocks; 67·129·130 > 2²⁰ runs split over
    // cores by column panels (m < n), 203·70·150 by row tiles (m ≥ n; 203 rows end in a partial tile)
    public static TheoryData<int, int, int> Shapes => new() { { 1, 1, 1 }, { 13, 45, 7 }, { 9, 33, 400 }, { 64, 96, 800 }, { 67, 129, 130 }, { 203, 70, 150 } };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void FloatEqualsTheNaiveLoopAndGemmBitForBit(int m, int n, int k)
    {
        foreach (bool transA in new[] { false, true })
            foreach (bool transB in new[] { false, true })
                foreach (var (alpha, beta) in new[] { (1.0, 0.0), (1.0, 1.0), (0.5, -0.75) })
                {
                    int lda = (transA ? m : k) + 3, ldb = (transB ? k : n) + 2, ldc = n + 1;
                    var a = Random((transA ? k : m) * lda, 1).Select(v => (double)(float)v).ToArray();
                    var b = Random((transB ? n : k) * ldb, 2).Select(v => (double)(float)v).ToArray();
                    var c0 = Random(m * ldc, 3).Select(v => (double)(float)v).ToArray();
                    float[] af = a.Select(v => (float)v).ToArray(), bf = b.Select(v => (float)v).ToArray();
                    var packedC = c0.Select(v => (float)v).ToArray();
                    var gemmC = (float[])packedC.Clone();
                    using (var pb = new GemmPackedB<float>(transB, k, n, bf, ldb))
                        pb.Multiply(transA, m, (float)alpha, af, lda, (float)beta, packedC, ldc);
                    Gemm.Run(transA, transB, m, n, k, (float)alpha, af, lda, bf, ldb, (float)beta, gemmC, ldc);
                    Assert.Equal(gemmC, packedC);
                    var expected = Naive(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c0, ldc);
                    for (int i = 0; i < m; i++)
                        for (int j = 0; j < n; j++)
                        {
                            double e = expected[i * ldc + j];
                            Assert.True(Math.Abs(packedC[i * ldc + j] - e) <= 1e-5 * (k + 1) * (1 + Math.Abs(e)),
                                $"m={m} n={n} k={k} transA={transA} transB={transB} C[{i},{j}] = {packedC[i * ldc + j]} expected {e}");
                        }
                    // padding columns of C are never written
                    for (int i = 0; i < m; i++) Assert.Equal((float)c0[i * ldc + n], packedC[i * ldc + n]);
                }
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void DoubleEqualsTheNaiveLoopAndGemmBitForBit(int m, int n, int k)
    {
        foreach (bool transA in new[] { false, true })
        {
            int lda = transA ? m : k, ldb = n, ldc = n;
            var a = Random((transA ? k : m) * lda, 4);
            var b = Random(k * ldb, 5);
            var c0 = Random(m * ldc, 6);
            var packedC = (double[])c0.Clone();
            var gemmC = (double[])c0.Clone();
            using (var pb = new GemmPackedB<double>(false, k, n, b, ldb)) pb.Multiply(transA, m, 1.0, a, lda, 1.0, packedC, ldc);
            Gemm.Run(transA, false, m, n, k, 1.0, a, lda, b, ldb, 1.0, gemmC, ldc);
            Assert.Equal(gemmC, packedC);
            var expected = Naive(transA, false, m, n, k, 1, a, lda, b, ldb, 1, c0, ldc);
            for (int i = 0; i < expected.Length; i++) Assert.True(Math.Abs(packedC[i] - expected[i]) <= 1e-12 * (k + 1), $"C[{i}]");
        }
    }

    [Fact]
    public void EveryKernelTierAndOpenBlasGiveTheSameProduct()
    {
        const int m = 11, n = 70, k = 50;
        var a = Random(m * k, 7).Select(v => (float)v).ToArray();
        var b = Random(k * n, 8).Select(v => (float)v).ToArray();
        var expected = Naive(false, false, m, n, k, 1, a.Select(v => (double)v).ToArray(), k, b.Select(v => (double)v).ToArray(), n, 0, new double[m * n], n);
        var tiers = new List<(GemmProvider, GemmKernelTier)> { (GemmProvider.Managed, GemmKernelTier.Scalar) };
        for (var t = GemmKernelTier.Vector128; t <= Gemm.BestTier; t++) tiers.Add((GemmProvider.Managed, t));
        if (Gemm.OpenBlasAvailable) tiers.Add((GemmProvider.OpenBlas, GemmKernelTier.Auto));
        foreach (var (provider, tier) in tiers)
        {
            var c = new float[m * n];
            using (var pb = new GemmPackedB<float>(provider, tier, false, k, n, b, n)) pb.Multiply(false, m, 1f, a, k, 0f, c, n);
            for (int i = 0; i < c.Length; i++) Assert.True(Math.Abs(c[i] - expected[i]) <= 1e-4, $"{provider}/{tier} C[{i}] = {c[i]} expected {expected[i]}");
        }
    }

    [Fact]
    public void WrongSizesAndUseAfterDisposeThrow()
    {
        var b = new float[12];
        Assert.Throws<FlexNet.ShapeMismatchException>(() => new GemmPackedB<float>(false, 4, 4, b, 4));
        var pb = new GemmPackedB<float>(false, 3, 4, b, 4);
        var ex = Assert.Throws<FlexNet.ShapeMismatchException>(() => pb.Multiply(false, 2, 1f, new float[5], 3, 0f, new float[8], 4));
        Assert.Contains("lda=3", ex.Message);
        pb.Dispose();
        Assert.Throws<ObjectDisposedException>(() => pb.Multiply(false, 2, 1f, new float[6], 3, 0f, new float[8], 4));
    }
}

/// <summary>A dense weight packed for x·Wᵀ (<see cref="FlexNet.Autodiff.Ops.PackedWeight"/>) against a hand-written loop
/// and, bit for bit, against <see cref="Gemm"/> on W.</summary>
public class PackedWeightTests
{
    [Theory]
    [InlineData(FlexNet.Tensors.DType.Float32, 5, 37, 19)]
    [InlineData(FlexNet.Tensors.DType.Float32, 64, 256, 256)]
    [InlineData(FlexNet.Tensors.DType.Float64, 7, 33, 17)]
    public void ProductEqualsTheLoopAndGemmOnW(FlexNet.Tensors.DType dtype, int n, int outF, int inF)
    {
        var w = FlexNet.Tensors.Tensor.Normal([outF, inF], 0, 1, new FlexNet.Tensors.RandomGenerator(1), dtype);
        var x = FlexNet.Tensors.Tensor.Normal([n, inF], 0, 1, new FlexNet.Tensors.RandomGenerator(2), dtype);
        var y0 = FlexNet.Tensors.Tensor.Normal([n, outF], 0, 1, new FlexNet.Tensors.RandomGenerator(3), dtype);
        double[] wd = w.ToDoubleArray(), xd = x.ToDoubleArray(), y0d = y0.ToDoubleArray();
        using var pw = new FlexNet.Autodiff.Ops.PackedWeight(w);
        foreach (double beta in new[] { 0.0, 1.0 })
        {
            var y = y0.Clone();
            var g = y0.Clone();
            if (dtype == FlexNet.Tensors.DType.Float32)
            {
                pw.MultiplyInto<float>(n, x.F, (float)beta, y.F);
                Gemm.Run(false, true, n, outF, inF, 1f, x.F, inF, w.F, inF, (float)beta, g.F, outF);
            }
            else
            {
                pw.MultiplyInto<double>(n, x.D, beta, y.D);
                Gemm.Run(false, true, n, outF, inF, 1d, x.D, inF, w.D, inF, beta, g.D, outF);
            }
            Assert.Equal(g.ToDoubleArray(), y.ToDoubleArray());
            var yd = y.ToDoubleArray();
            for (int r = 0; r < n; r++)
                for (int o = 0; o < outF; o++)
                {
                    double s = beta * y0d[r * outF + o];
                    for (int i = 0; i < inF; i++) s += xd[r * inF + i] * wd[o * inF + i];
                    Assert.True(Math.Abs(yd[r * outF + o] - s) <= 1e-4 * (1 + Math.Abs(s)), $"{dtype} y[{r},{o}] = {yd[r * outF + o]} expected {s}");
                }
        }
        if (dtype == FlexNet.Tensors.DType.Float32) // a weight of one dtype used with data of the other
            Assert.Throws<ArgumentException>(() => pw.MultiplyInto<double>(n, xd, 0d, new double[n * outF]));
    }
}
