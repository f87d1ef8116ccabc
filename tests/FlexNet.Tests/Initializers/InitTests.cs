using FlexNet.Initializers;
using FlexNet.Tests.Testing;
using FlexNet.Tensors;

namespace FlexNet.Tests.Initializers;

/// <summary>Statistics and exact properties of the initialisers.</summary>
public class InitTests
{
    // sample moments of 10⁵–10⁶ draws: relative standard error of a variance estimate is about √(2/n) < 0.5 %
    private const double MomentTol = 0.03;

    private static (double mean, double std) Moments(Tensor t)
    {
        var v = t.ToDoubleArray();
        double mean = v.Average();
        return (mean, Math.Sqrt(v.Select(x => (x - mean) * (x - mean)).Average()));
    }

    [Fact]
    public void FansFollowPyTorch()
    {
        Assert.Equal((3, 5), Init.Fans([5, 3]));
        Assert.Equal((3 * 4 * 2, 5 * 4 * 2), Init.Fans([5, 3, 4, 2]));
        Assert.Equal((7, 7), Init.Fans([7]));
        Assert.Throws<ShapeMismatchException>(() => Init.Fans([]));
    }

    [Fact]
    public void GlorotAndHeHaveTheirVariances()
    {
        int[] shape = [300, 400];
        var rng = new RandomGenerator(1);
        double a = Math.Sqrt(6.0 / 700);
        var gu = Init.GlorotUniform(shape, rng: rng, dtype: DType.Float64);
        Assert.All(gu.ToDoubleArray(), v => Assert.InRange(v, -a, a));
        Assert.Equal(a / Math.Sqrt(3), Moments(gu).std, a / Math.Sqrt(3) * MomentTol);
        var gn = Init.GlorotNormal(shape, gain: 2, rng: rng, dtype: DType.Float64);
        Assert.Equal(2 * Math.Sqrt(2.0 / 700), Moments(gn).std, 2 * Math.Sqrt(2.0 / 700) * MomentTol);
        var hn = Init.HeNormal(shape, rng, DType.Float64);
        Assert.Equal(Math.Sqrt(2.0 / 400), Moments(hn).std, Math.Sqrt(2.0 / 400) * MomentTol);
        Assert.Equal(0, Moments(hn).mean, 0.01 * Math.Sqrt(2.0 / 400));
        var hu = Init.HeUniform(shape, rng, DType.Float64);
        double b = Math.Sqrt(6.0 / 400);
        Assert.All(hu.ToDoubleArray(), v => Assert.InRange(v, -b, b));
        Assert.Equal(b / Math.Sqrt(3), Moments(hu).std, b / Math.Sqrt(3) * MomentTol);
        var ho = Init.KaimingNormal([100, 1000], rng, DType.Float64, gain: 1, fanOut: true);
        Assert.Equal(Math.Sqrt(1.0 / 100), Moments(ho).std, Math.Sqrt(1.0 / 100) * MomentTol);
        var xu = Init.XavierUniform(shape, rng: new RandomGenerator(77), dtype: DType.Float64);
        Assert.Equal(Init.GlorotUniform(shape, rng: new RandomGenerator(77), dtype: DType.Float64).ToDoubleArray(), xu.ToDoubleArray());
        var td = Init.TorchRecurrentDefault([1024, 256], 256, rng, DType.Float64);
        Assert.All(td.ToDoubleArray(), v => Assert.InRange(v, -1 / 16.0, 1 / 16.0));
        var n = Init.Normal([500, 400], 3, 0.5, rng, DType.Float64);
        Assert.Equal(3, Moments(n).mean, 0.01);
        Assert.Equal(0.5, Moments(n).std, 0.5 * MomentTol);
    }

    [Fact]
    public void ConstantsAndIdentityAreExact()
    {
        Assert.All(Init.Zeros([3, 2]).ToDoubleArray(), v => Assert.Equal(0, v));
        Assert.All(Init.Ones([3, 2]).ToDoubleArray(), v => Assert.Equal(1, v));
        Assert.All(Init.Constant([4], 2.5, DType.Float64).ToDoubleArray(), v => Assert.Equal(2.5, v));
        var eye = Init.Identity([3, 4], 2, DType.Float64);
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 4; j++) Assert.Equal(i == j ? 2 : 0, eye[i, j]);
        Assert.Equal(DType.Float32, Init.Ones([1]).DType);
    }

    [Theory]
    [InlineData(6, 6)]
    [InlineData(9, 4)]
    [InlineData(4, 9)]
    public void OrthogonalGivesOrthonormalColumnsOrRows(int rows, int cols)
    {
        var q = Init.Orthogonal([rows, cols], gain: 1, rng: new RandomGenerator(5), dtype: DType.Float64);
        int k = Math.Min(rows, cols);
        // Gram matrix of the shorter side: QᵀQ (tall) or QQᵀ (wide) must be I
        for (int a = 0; a < k; a++)
            for (int b = 0; b < k; b++)
            {
                double s = 0;
                if (rows >= cols) for (int i = 0; i < rows; i++) s += q[i, a] * q[i, b];
                else for (int j = 0; j < cols; j++) s += q[a, j] * q[b, j];
                Assert.Equal(a == b ? 1 : 0, s, 1e-12);
            }
        var scaled = Init.Orthogonal([rows, cols], gain: 3, rng: new RandomGenerator(5), dtype: DType.Float64);
        T.Close(q.ToDoubleArray().Select(v => 3 * v).ToArray(), scaled.ToDoubleArray(), 1e-15, 0, "gain");
        Assert.NotEqual(q.ToDoubleArray(), Init.Orthogonal([rows, cols], rng: new RandomGenerator(6), dtype: DType.Float64).ToDoubleArray());
    }

    /// <summary>Largest singular value by cyclic Jacobi on MᵀM (independent of the library's power iteration).</summary>
    internal static double JacobiSpectralNorm(double[] m, int rows, int cols)
    {
        var a = new double[cols, cols];
        for (int i = 0; i < cols; i++)
            for (int j = 0; j < cols; j++)
                for (int r = 0; r < rows; r++) a[i, j] += m[r * cols + i] * m[r * cols + j];
        for (int sweep = 0; sweep < 100; sweep++)
        {
            double off = 0;
            for (int p = 0; p < cols; p++) for (int q = p + 1; q < cols; q++) off += a[p, q] * a[p, q];
            if (off < 1e-30) break;
            for (int p = 0; p < cols; p++)
                for (int q = p + 1; q < cols; q++)
                {
                    if (a[p, q] == 0) continue;
                    double theta = (a[q, q] - a[p, p]) / (2 * a[p, q]);
                    double t = Math.Sign(theta) / (Math.Abs(theta) + Math.Sqrt(theta * theta + 1));
                    if (theta == 0) t = 1;
                    double c = 1 / Math.Sqrt(t * t + 1), s = t * c;
                    for (int k = 0; k < cols; k++)
                    {
                        double akp = a[k, p], akq = a[k, q];
                        a[k, p] = c * akp - s * akq;
                        a[k, q] = s * akp + c * akq;
                    }
                    for (int k = 0; k < cols; k++)
                    {
                        double apk = a[p, k], aqk = a[q, k];
                        a[p, k] = c * apk - s * aqk;
                        a[q, k] = s * apk + c * aqk;
                    }
                }
        }
        double max = 0;
        for (int i = 0; i < cols; i++) max = Math.Max(max, a[i, i]);
        return Math.Sqrt(max);
    }

    [Fact]
    public void SpectralNormMatchesJacobi()
    {
        var m = Tensor.Normal([7, 5], 0, 1, new RandomGenerator(8), DType.Float64);
        Assert.Equal(JacobiSpectralNorm(m.ToDoubleArray(), 7, 5), Init.SpectralNorm(m), 1e-10);
    }

    [Fact]
    public void RadiusGivesEveryRecurrentBlockThatSpectralNorm()
    {
        const int n = 8;
        var w = Init.Theanets([4 * n, n], new TheanetsInit(Radius: 1.1), new RandomGenerator(9), DType.Float64);
        var v = w.ToDoubleArray();
        for (int blk = 0; blk < 4; blk++)
            Assert.Equal(1.1, JacobiSpectralNorm(v.AsSpan(blk * n * n, n * n).ToArray(), n, n), 1e-9);
        // a non-square-block matrix is left alone (theanets: no radius unless out is a multiple of in)
        var x = Init.Theanets([n, 3], new TheanetsInit(Std: 1, Radius: 0.5), new RandomGenerator(10), DType.Float64);
        Assert.True(Init.SpectralNorm(x) > 1);
        Assert.Throws<ShapeMismatchException>(() => Init.ScaleBlocksToSpectralNorm(Tensor.Ones([5, 3]), 1));
    }

    [Fact]
    public void TheanetsSparsityDiagonalAndDefaults()
    {
        var w = Init.Theanets([200, 100], new TheanetsInit(Sparsity: 0.7), new RandomGenerator(11), DType.Float64);
        int zeros = 0, offDiagonal = 0;
        for (int r = 0; r < 200; r++)
            for (int c = 0; c < 100; c++)
            {
                if (r == c) { Assert.NotEqual(0, w[r, c]); continue; }
                offDiagonal++;
                if (w[r, c] == 0) zeros++;
            }
        Assert.Equal(0.7, zeros / (double)offDiagonal, 0.01);
        var dense = Init.Theanets([300, 200], new TheanetsInit(Mean: 1), new RandomGenerator(12), DType.Float64);
        Assert.Equal(1, Moments(dense).mean, 0.01);
        Assert.Equal(1 / Math.Sqrt(500), Moments(dense).std, MomentTol / Math.Sqrt(500));
        var d = Init.Theanets([3, 3], new TheanetsInit(Std: 5, Diagonal: 0.9), dtype: DType.Float64);
        T.Close([0.9, 0, 0, 0, 0.9, 0, 0, 0, 0.9], d.ToDoubleArray(), 0, 0, "diagonal");
    }

    [Fact]
    public void PerParameterAttributesWin()
    {
        var attrs = new Dictionary<string, double> { ["std"] = 0.1, ["std_hh"] = 0.3, ["radius_hh"] = 1.2, ["sparsity"] = 0.2 };
        var hh = TheanetsInit.For("hh", attrs);
        var xh = TheanetsInit.For("xh", attrs);
        Assert.Equal(new TheanetsInit(0, 0.3, 0.2, null, 1.2), hh);
        Assert.Equal(new TheanetsInit(0, 0.1, 0.2, null, 0), xh);
        var e = Assert.Throws<SpecValidationException>(() => TheanetsInit.For("b", new Dictionary<string, double> { ["sparsity_b"] = 1.5 }));
        Assert.Contains("1.5", e.Message);
    }
}
