using FlexNet.Autodiff;
using FlexNet.Autodiff.Ops;
using FlexNet.Tensors;
using FlexNet.Tests.Testing;

namespace FlexNet.Tests.Autodiff;

/// <summary>The NN functions' argument checks and wiring (issue 15, mutation testing of src/FlexNet/Autodiff):
/// Linear, dropout, Gaussian noise, 1-d convolution and pooling, global pooling. Expected values come from loops
/// written here.</summary>
public class NNMutationGapTests
{
    [Fact]
    public void LinearRejectsEveryMisfitNamingBothShapes()
    {
        var x = Tensor.Zeros([2, 3], DType.Float64);
        void Bad(Tensor input, Tensor w, string shapes)
        {
            var e = Assert.Throws<ShapeMismatchException>(() => NN.Linear(input, w));
            Assert.Equal($"Linear: input {shapes} ([out, in] with in = last input dimension).", e.Message);
        }
        Bad(x, Tensor.Zeros([3], DType.Float64), "[2, 3] does not fit weight [3]");
        Bad(x, Tensor.Zeros([1, 4, 3], DType.Float64), "[2, 3] does not fit weight [1, 4, 3]");
        Bad(Tensor.Scalar(1, DType.Float64), Tensor.Zeros([4, 1], DType.Float64), "[] does not fit weight [4, 1]");
        Bad(x, Tensor.Zeros([4, 2], DType.Float64), "[2, 3] does not fit weight [4, 2]");

        var xv = Tensor.FromArray(new double[] { 1, 2, 3 }, 3); // rank 1 input
        var w = Tensor.FromArray(new double[] { 1, 0, -1, 2, 2, 2 }, 2, 3);
        var b = Tensor.FromArray(new double[] { 0.5, -0.5 }, 2);
        Assert.Equal(new double[] { -2, 12 }, NN.Linear(xv, w).ToDoubleArray());
        Assert.Equal(new double[] { -1.5, 11.5 }, NN.Linear(xv, w, b).ToDoubleArray());
    }

    [Fact]
    public void DropoutRatesOutsideTheUnitIntervalAreRejectedAndTheIdentityIsTheSameTensor()
    {
        var x = T.Rand(1, 4);
        foreach (double p in new[] { -0.1, 1.0, 1.5 })
        {
            var e = Assert.Throws<ArgumentOutOfRangeException>(() => NN.Dropout(x, p));
            Assert.StartsWith($"Dropout rate must be in [0, 1). Received: {p}", e.Message);
            var d = Assert.Throws<ArgumentOutOfRangeException>(() => Indexing.Dropout(x, p, new RandomGenerator(1)));
            Assert.StartsWith($"Dropout rate must be in [0, 1). Received: {p}", d.Message);
        }
        Assert.Same(x, NN.Dropout(x, 0.5, training: false));
        Assert.Same(x, NN.Dropout(x, 0));
        Assert.NotSame(x, NN.Dropout(x, 1e-9, rng: new RandomGenerator(2)));
    }

    [Theory]
    [InlineData(DType.Float64)]
    [InlineData(DType.Float32)]
    public void DropoutKeepsEachElementWhenItsUniformDrawIsBelowTheKeepRate(DType dtype)
    {
        const double p = 0.3;
        var values = Enumerable.Range(0, 64).Select(i => 1.0 + i).ToArray();
        var x = Tensor.FromArray(values, 64).To(dtype).RequireGrad();
        var y = NN.Dropout(x, p, rng: new RandomGenerator(42));
        Assert.Equal(dtype, y.DType);
        var rng = new RandomGenerator(42);
        var expected = new double[64];
        var mask = new double[64];
        for (int i = 0; i < 64; i++)
        {
            mask[i] = rng.NextDouble() < 1 - p ? 1 / (1 - p) : 0;
            expected[i] = values[i] * mask[i];
        }
        Assert.Contains(0.0, mask);
        Assert.Contains(1 / (1 - p), mask);
        double tol = dtype == DType.Float32 ? 1e-5 : 1e-15;
        T.Close(expected, y.ToDoubleArray(), tol, 0, "dropout");
        y.Sum().Backward();
        T.Close(mask, x.Grad!.ToDoubleArray(), tol, 0, "gradient");
    }

    [Fact]
    public void GaussianNoiseChecksItsArgumentsAndAddsNormalDrawsWithUnitGradient()
    {
        Assert.Throws<ArgumentNullException>(() => NN.GaussianNoise(null!, 1));
        var x = Tensor.FromArray(Enumerable.Range(0, 4000).Select(i => (double)(i % 7)).ToArray(), 40, 100).RequireGrad();
        foreach (double bad in new[] { -0.5, double.NaN, double.PositiveInfinity })
        {
            var e = Assert.Throws<ArgumentOutOfRangeException>(() => NN.GaussianNoise(x, bad));
            Assert.StartsWith($"GaussianNoise: std must be finite and >= 0; got {bad}.", e.Message);
            Assert.Equal("std", e.ParamName);
        }
        var ints = Assert.Throws<ArgumentException>(() => NN.GaussianNoise(Tensor.FromArray(new[] { 1, 2 }, 2), 1));
        Assert.Equal("GaussianNoise needs a floating-point tensor; got Int32 of shape [2].", ints.Message);
        Assert.Same(x, NN.GaussianNoise(x, 0.5, training: false));
        Assert.Same(x, NN.GaussianNoise(x, 0));

        const double std = 0.5;
        var y = NN.GaussianNoise(x, std, rng: new RandomGenerator(9));
        Assert.Equal(DType.Float64, y.DType);
        var rng = new RandomGenerator(9);
        var xv = x.ToDoubleArray();
        var yv = y.ToDoubleArray();
        double sum = 0, sq = 0;
        for (int i = 0; i < xv.Length; i++)
        {
            double noise = yv[i] - xv[i];
            Assert.Equal(std * rng.NextNormal(), noise, 1e-12);
            sum += noise;
            sq += noise * noise;
        }
        double mean = sum / xv.Length, sd = Math.Sqrt(sq / xv.Length - mean * mean);
        Assert.InRange(mean, -0.03, 0.03); // 4000 draws: standard error 0.008
        Assert.InRange(sd, 0.47, 0.53);
        (y * 2.0).Sum().Backward();
        Assert.All(x.Grad!.ToDoubleArray(), g => Assert.Equal(2.0, g));
        Assert.Equal(DType.Float32, NN.GaussianNoise(x.Detach().To(DType.Float32), 1).DType);
    }

    [Fact]
    public void Conv1dChecksRanksAndUsesOnlyTheLeftAndRightPadding()
    {
        var e = Assert.Throws<ShapeMismatchException>(() => NN.Conv1d(Tensor.Zeros([1, 2, 3, 4]), Tensor.Zeros([1, 2, 3])));
        Assert.Equal("Conv1d: input [1, 2, 3, 4] must be [N, C, L] and weight [1, 2, 3] [O, C, k].", e.Message);
        var w4 = Assert.Throws<ShapeMismatchException>(() => NN.Conv1d(Tensor.Zeros([1, 2, 3]), Tensor.Zeros([1, 2, 1, 3])));
        Assert.Equal("Conv1d: input [1, 2, 3] must be [N, C, L] and weight [1, 2, 1, 3] [O, C, k].", w4.Message);

        const int n = 2, c = 2, l = 7, o = 3, k = 3, stride = 2, dil = 1, pl = 1, pr = 2;
        var x = T.Rand(21, n, c, l);
        var w = T.Rand(22, o, c, k);
        var b = T.Rand(23, o);
        var y = NN.Conv1d(x, w, b, stride, Padding.Explicit(9, 9, pl, pr), dil);
        int lout = (l + pl + pr - dil * (k - 1) - 1) / stride + 1;
        Assert.Equal([n, o, lout], y.Shape.ToArray());
        var expected = new double[n * o * lout];
        for (int ni = 0; ni < n; ni++)
            for (int oi = 0; oi < o; oi++)
                for (int j = 0; j < lout; j++)
                {
                    double s = b[oi];
                    for (int ci = 0; ci < c; ci++)
                        for (int u = 0; u < k; u++)
                        {
                            int pos = j * stride + u * dil - pl;
                            if (pos >= 0 && pos < l) s += w[oi, ci, u] * x[ni, ci, pos];
                        }
                    expected[(ni * o + oi) * lout + j] = s;
                }
        T.Close(expected, y.ToDoubleArray(), 1e-13, 1e-13, "conv1d");
    }

    /// <summary>1-d pooling by loops: windows start at j·s − p, taps i·d apart; ceil mode drops a last window
    /// that would start in the right padding.</summary>
    private static double[] Pool1d(double[] row, int k, int s, int p, int d, bool ceil, bool max, bool countPad)
    {
        int l = row.Length;
        double span = (double)(l + 2 * p - d * (k - 1) - 1) / s;
        int outL = (ceil ? (int)Math.Ceiling(span) : (int)Math.Floor(span)) + 1;
        if (ceil && (outL - 1) * s >= l + p) outL--;
        var r = new double[outL];
        for (int j = 0; j < outL; j++)
        {
            double best = double.NegativeInfinity, sum = 0;
            int real = 0, taps = 0;
            for (int i = 0; i < k; i++)
            {
                int pos = j * s - p + i * d;
                if (pos < l + p) taps++; // average windows are clipped at the end of the right padding
                if (pos < 0 || pos >= l) continue;
                real++;
                sum += row[pos];
                best = Math.Max(best, row[pos]);
            }
            r[j] = max ? best : sum / (countPad ? taps : real);
        }
        return r;
    }

    [Theory]
    [InlineData(3, null, 0, 1, false)]
    [InlineData(3, 2, 1, 1, false)]
    [InlineData(2, 1, 0, 2, false)]
    [InlineData(3, 2, 0, 1, true)]
    [InlineData(2, 3, 1, 1, true)]
    public void Pool1dMatchesLoops(int kernel, int? stride, int padding, int dilation, bool ceil)
    {
        var e = Assert.Throws<ShapeMismatchException>(() => NN.MaxPool1d(Tensor.Zeros([1, 1, 2, 6]), 2));
        Assert.Equal("MaxPool1d: input must be [N, C, L]; got [1, 1, 2, 6].", e.Message);
        var a = Assert.Throws<ShapeMismatchException>(() => NN.AvgPool1d(Tensor.Zeros([1, 6]), 2));
        Assert.Equal("AvgPool1d: input must be [N, C, L]; got [1, 6].", a.Message);

        const int n = 2, c = 2, l = 8;
        var values = Enumerable.Range(0, n * c * l).Select(i => Math.Sin(1.3 * i) + 0.01 * i).ToArray();
        var x = Tensor.FromArray(values, n, c, l);
        int s = stride ?? kernel;
        var mx = NN.MaxPool1d(x, kernel, stride, padding, dilation, ceil).ToDoubleArray();
        var expectedMax = new List<double>();
        for (int r = 0; r < n * c; r++) expectedMax.AddRange(Pool1d(values[(r * l)..((r + 1) * l)], kernel, s, padding, dilation, ceil, max: true, countPad: true));
        Assert.Equal(expectedMax.ToArray(), mx);
        if (dilation != 1) return;
        foreach (bool countPad in new[] { true, false })
        {
            var av = NN.AvgPool1d(x, kernel, stride, padding, ceil, countPad).ToDoubleArray();
            var expectedAvg = new List<double>();
            for (int r = 0; r < n * c; r++) expectedAvg.AddRange(Pool1d(values[(r * l)..((r + 1) * l)], kernel, s, padding, 1, ceil, max: false, countPad));
            T.Close(expectedAvg.ToArray(), av, 1e-14, 1e-15, $"avg countPad={countPad}");
        }
    }

    [Fact]
    public void GlobalPoolsReduceEverythingAfterTheChannel()
    {
        var values = Enumerable.Range(0, 2 * 3 * 2 * 2).Select(i => Math.Cos(0.7 * i) * (i % 5)).ToArray();
        var x = Tensor.FromArray(values, 2, 3, 2, 2);
        var avg = NN.GlobalAvgPool(x);
        var max = NN.GlobalMaxPool(x);
        Assert.Equal([2, 3], avg.Shape.ToArray());
        Assert.Equal([2, 3], max.Shape.ToArray());
        for (int r = 0; r < 6; r++)
        {
            var plane = values[(4 * r)..(4 * r + 4)];
            Assert.Equal(plane.Sum() / 4, avg.ToDoubleArray()[r], 1e-15);
            Assert.Equal(plane.Max(), max.ToDoubleArray()[r]);
        }
    }

    [Fact]
    public void Pool2dDefaultsTheStrideToTheKernelAndPassesTheDivisor()
    {
        var values = Enumerable.Range(0, 36).Select(i => (double)((i * 7) % 11)).ToArray();
        var x = Tensor.FromArray(values, 1, 1, 6, 6);
        var m = NN.MaxPool2d(x, 3);
        Assert.Equal([1, 1, 2, 2], m.Shape.ToArray());
        var a = NN.AvgPool2d(x, 3, divisorOverride: 5);
        for (int bi = 0; bi < 2; bi++)
            for (int bj = 0; bj < 2; bj++)
            {
                double best = double.NegativeInfinity, sum = 0;
                for (int u = 0; u < 3; u++)
                    for (int v = 0; v < 3; v++)
                    {
                        double e = values[(3 * bi + u) * 6 + 3 * bj + v];
                        best = Math.Max(best, e);
                        sum += e;
                    }
                Assert.Equal(best, m[0, 0, bi, bj]);
                Assert.Equal(sum / 5, a[0, 0, bi, bj], 1e-14);
            }
    }
}
