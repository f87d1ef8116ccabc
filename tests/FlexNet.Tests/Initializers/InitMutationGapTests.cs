using FlexNet.Initializers;
using FlexNet.Tensors;

namespace FlexNet.Tests.Initializers;

/// <summary>
/// The gaps the first mutation run of Initializers found (docs/testing.md, "Metrics and Initializers (session 7)"):
/// boundary arguments and whole messages, the fan used by He with fanOut, the orthogonal matrix against a
/// Householder QR written here (positive diag(R), the layout of wide, square and tall shapes), theanets' weights
/// value by value from the generator's stream, and the spectral norm of a tiny matrix against Jacobi.
/// </summary>
public sealed class InitMutationGapTests
{
    private static string Message(Action a) => Record.Exception(a)!.Message;

    [Fact]
    public void NormalAndUniformAcceptADegenerateSpreadAndNameABadOne()
    {
        var rng = new RandomGenerator(1);
        Assert.All(Init.Normal([3, 4], 2.5, 0, rng, DType.Float64).ToDoubleArray(), v => Assert.Equal(2.5, v));
        Assert.All(Init.Uniform([3, 4], -1.5, -1.5, rng, DType.Float64).ToDoubleArray(), v => Assert.Equal(-1.5, v));
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => Init.Normal([2], 0, -1, rng));
        Assert.Equal("std", e.ParamName);
        Assert.Equal("Init.Normal: std must be >= 0. Received: -1 (Parameter 'std')", e.Message);
        Assert.Equal("Init.Normal: std must be >= 0. Received: NaN (Parameter 'std')",
            Assert.Throws<ArgumentOutOfRangeException>(() => Init.Normal([2], 0, double.NaN, rng)).Message);
        // exactly ArgumentException (Tensor.Uniform itself would not refuse high < low)
        Assert.Equal("Init.Uniform: high (1) must be >= low (2).",
            Assert.Throws<ArgumentException>(() => Init.Uniform([2], 2, 1, rng)).Message);
        Assert.Equal("Init.Uniform: high (NaN) must be >= low (0).",
            Assert.Throws<ArgumentException>(() => Init.Uniform([2], 0, double.NaN, rng)).Message);
    }

    [Fact]
    public void AGivenGeneratorFixesTheDraws()
    {
        // the generator passed is the one used: a fresh one with the same seed gives the same numbers
        var a = Init.Normal([5], 1, 2, new RandomGenerator(3), DType.Float64).ToDoubleArray();
        var z = new RandomGenerator(3);
        for (int i = 0; i < 5; i++) Assert.Equal(1 + 2 * z.NextNormal(), a[i]);
        var u = Init.Uniform([5], -1, 3, new RandomGenerator(4), DType.Float64).ToDoubleArray();
        var w = new RandomGenerator(4);
        for (int i = 0; i < 5; i++) Assert.Equal(-1 + 4 * w.NextDouble(), u[i]);
    }

    [Fact]
    public void TorchRecurrentDefaultIsSymmetricAndNeedsAPositiveSize()
    {
        var v = Init.TorchRecurrentDefault([100, 100], 4, new RandomGenerator(2), DType.Float64).ToDoubleArray();
        Assert.All(v, x => Assert.InRange(x, -0.5, 0.5));
        Assert.True(v.Min() < -0.49 && v.Max() > 0.49, $"range [{v.Min()}, {v.Max()}] should fill [-0.5, 0.5)");
        foreach (int h in new[] { 0, -3 })
        {
            var e = Assert.Throws<ArgumentOutOfRangeException>(() => Init.TorchRecurrentDefault([2], h));
            Assert.Equal("hiddenSize", e.ParamName);
            Assert.Equal($"Init.TorchRecurrentDefault: hiddenSize must be positive. Received: {h} (Parameter 'hiddenSize')", e.Message);
        }
    }

    [Fact]
    public void HeUniformWithFanOutUsesTheFanOut()
    {
        // [10, 1000]: fan_in 1000, fan_out 10; gain 1: b = √(3 / fan)
        double bOut = Math.Sqrt(3.0 / 10);
        var v = Init.HeUniform([10, 1000], new RandomGenerator(5), DType.Float64, gain: 1, fanOut: true).ToDoubleArray();
        Assert.All(v, x => Assert.InRange(x, -bOut, bOut));
        Assert.True(v.Max() > 0.99 * bOut && v.Min() < -0.99 * bOut, $"range [{v.Min()}, {v.Max()}] should fill ±{bOut}");
    }

    [Fact]
    public void FansAboveInt32AreRefusedInsteadOfWrapping_ZeroAndLargeFansAreExact()
    {
        // 65,536 × 65,536 = 2^32 would wrap to 0 in int arithmetic (then √(6 / 0) = ∞ bounds)
        Assert.Equal("Init.Fans: shape [2, 65536, 65536] has a fan above 2147483647.", Message(() => Init.Fans([2, 65536, 65536])));
        Assert.Equal("Init.Fans: shape [3, 2, 1073741824] has a fan above 2147483647.", Message(() => Init.Fans([3, 2, 1 << 30])));
        // the receptive field alone above 2^31, and a fan_out above it while fan_in is not
        Assert.Equal("Init.Fans: shape [1, 1, 65536, 65536] has a fan above 2147483647.", Message(() => Init.Fans([1, 1, 65536, 65536])));
        Assert.Equal("Init.Fans: shape [1073741824, 1, 2] has a fan above 2147483647.", Message(() => Init.Fans([1 << 30, 1, 2])));
        // 2^64 wraps even a long to 0: the product saturates instead
        Assert.Equal("Init.Fans: shape [1, 1, 65536, 65536, 65536, 65536] has a fan above 2147483647.",
            Message(() => Init.Fans([1, 1, 65536, 65536, 65536, 65536])));
        Assert.Equal("Init.Fans: shape [4, -3] has a negative dimension.", Message(() => Init.Fans([4, -3])));
        Assert.Equal("Init.Fans: shape [-4] has a negative dimension.", Message(() => Init.Fans([-4])));
        Assert.Equal("Init.Fans: shape [2, 65536, 65536] has a fan above 2147483647.",
            Assert.Throws<ShapeMismatchException>(() => Init.GlorotUniform([2, 65536, 65536])).Message);
        // exactly at the limit, and a zero dimension after a saturated product: exact
        Assert.Equal((int.MaxValue, 1), Init.Fans([1, int.MaxValue]));
        Assert.Equal((1 << 30, 1 << 30), Init.Fans([2, 2, 1 << 29]));
        Assert.Equal((0, 0), Init.Fans([3, 5, 65536, 65536, 0]));
        Assert.Equal((0, 6), Init.Fans([6, 0]));
    }

    [Fact]
    public void ShapeErrorsNameTheInitialiserAndTheShape()
    {
        Assert.Equal("Init.Fans: a scalar shape [] has no fan-in or fan-out.", Message(() => Init.Fans([])));
        Assert.Equal("Init.Identity needs a matrix shape; got [2, 2, 2].",
            Assert.Throws<ShapeMismatchException>(() => Init.Identity([2, 2, 2])).Message);
        Assert.Equal("Init.Orthogonal needs rank >= 2; got [4].",
            Assert.Throws<ShapeMismatchException>(() => Init.Orthogonal([4])).Message);
        Assert.Equal("Init.SpectralNorm needs a matrix; got [2, 2, 2].",
            Assert.Throws<ShapeMismatchException>(() => Init.SpectralNorm(Tensor.Ones([2, 2, 2]))).Message);
        Assert.Equal("Init.Theanets needs a matrix shape [out, in]; got [6].",
            Assert.Throws<ShapeMismatchException>(() => Init.Theanets([6], new TheanetsInit())).Message);
        Assert.Equal("options", Assert.Throws<ArgumentNullException>(() => Init.Theanets([2, 2], null!)).ParamName);
        foreach (var shape in new[] { new[] { 6 }, new[] { 2, 2, 2 }, new[] { 5, 3 }, new[] { 3, 0 } })
            Assert.Equal($"Init.ScaleBlocksToSpectralNorm: {ShapeText(shape)} is not [k·n, n] (stacked square blocks).",
                Assert.Throws<ShapeMismatchException>(() => Init.ScaleBlocksToSpectralNorm(Tensor.Zeros(shape), 1)).Message);
        foreach (double r in new[] { 0, -1, double.NaN })
        {
            var e = Assert.Throws<ArgumentOutOfRangeException>(() => Init.ScaleBlocksToSpectralNorm(Tensor.Ones([4, 2]), r));
            Assert.Equal("radius", e.ParamName);
            Assert.Equal($"Init.ScaleBlocksToSpectralNorm: radius must be positive. Received: {r} (Parameter 'radius')", e.Message);
        }
    }

    private static string ShapeText(int[] s) => "[" + string.Join(", ", s) + "]";

    [Fact]
    public void ScalingLeavesAZeroBlockAtZero()
    {
        // blocks: 2·I (norm 2) and zeros; radius 0.5 gives 0.5·I and zeros (not NaN from 0/0)
        var w = Tensor.FromArray(new double[] { 2, 0, 0, 2, 0, 0, 0, 0 }, 4, 2);
        var s = Init.ScaleBlocksToSpectralNorm(w, 0.5);
        Assert.Equal(new double[] { 0.5, 0, 0, 0.5, 0, 0, 0, 0 }, s.ToDoubleArray());
        Assert.Equal(DType.Float64, s.DType);
        Assert.Equal(0, Init.SpectralNorm(Tensor.Zeros([0, 3], DType.Float64)));
        Assert.Equal(0, Init.SpectralNorm(Tensor.Zeros([3, 0], DType.Float64)));
        Assert.Equal(0, Init.SpectralNorm(Tensor.Zeros([3, 2], DType.Float64)));
    }

    // ---- orthogonal: Householder QR written here --------------------------------------------------------------

    /// <summary>Q [m, n] (m ≥ n) of the QR decomposition of g by Householder reflections, columns signed so that
    /// diag(R) &gt; 0 (unique for a full-rank g).</summary>
    private static double[,] HouseholderQ(double[,] g)
    {
        int m = g.GetLength(0), n = g.GetLength(1);
        var a = (double[,])g.Clone();
        var vs = new double[n][];
        var rDiag = new double[n];
        for (int k = 0; k < n; k++)
        {
            double norm = 0;
            for (int i = k; i < m; i++) norm += a[i, k] * a[i, k];
            norm = Math.Sqrt(norm);
            double alpha = a[k, k] > 0 ? -norm : norm;
            var v = new double[m];
            for (int i = k; i < m; i++) v[i] = a[i, k];
            v[k] -= alpha;
            double vv = 0;
            for (int i = k; i < m; i++) vv += v[i] * v[i];
            for (int j = k; j < n; j++)
            {
                double s = 0;
                for (int i = k; i < m; i++) s += v[i] * a[i, j];
                for (int i = k; i < m; i++) a[i, j] -= 2 * s / vv * v[i];
            }
            vs[k] = v;
            rDiag[k] = a[k, k];
        }
        var q = new double[m, n];
        for (int j = 0; j < n; j++) q[j, j] = 1;
        for (int k = n - 1; k >= 0; k--)
        {
            var v = vs[k];
            double vv = 0;
            for (int i = k; i < m; i++) vv += v[i] * v[i];
            for (int j = 0; j < n; j++)
            {
                double s = 0;
                for (int i = k; i < m; i++) s += v[i] * q[i, j];
                for (int i = k; i < m; i++) q[i, j] -= 2 * s / vv * v[i];
            }
        }
        for (int j = 0; j < n; j++)
            if (rDiag[j] < 0)
                for (int i = 0; i < m; i++) q[i, j] = -q[i, j];
        return q;
    }

    [Theory]
    [InlineData(new[] { 6, 6 })]
    [InlineData(new[] { 9, 4 })]
    [InlineData(new[] { 4, 9 })]
    [InlineData(new[] { 3, 2, 2 })]
    [InlineData(new[] { 5, 1 })]
    [InlineData(new[] { 1, 5 })]
    public void OrthogonalIsTheQWithPositiveDiagonalOfTheSeededGaussian(int[] shape)
    {
        // documented construction: flatten to [rows, cols]; draw a Gaussian [max, min] matrix column by column;
        // Q of its QR with diag(R) > 0; a tall or square shape is Q, a wide one Qᵀ; times gain
        int rows = shape[0], cols = shape.Aggregate(1, (x, y) => x * y) / rows;
        bool wide = rows < cols;
        int m = Math.Max(rows, cols), n = Math.Min(rows, cols);
        var z = new RandomGenerator(21);
        var g = new double[m, n];
        for (int j = 0; j < n; j++)
            for (int i = 0; i < m; i++) g[i, j] = z.NextNormal();
        var q = HouseholderQ(g);
        const double gain = 1.5;
        var w = Init.Orthogonal(shape, gain, new RandomGenerator(21), DType.Float64);
        Assert.Equal(shape, w.ShapeArray);
        var v = w.ToDoubleArray();
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++)
            {
                double expected = gain * (wide ? q[c, r] : q[r, c]);
                Assert.True(Math.Abs(expected - v[r * cols + c]) <= 1e-12, $"W[{r}, {c}] = {v[r * cols + c]:R}, Householder {expected:R}");
            }
    }

    [Fact]
    public void GramSchmidtGivesPositiveDiagonalAndRefusesADependentColumn()
    {
        // columns (1, 0.5) and (0, 1): q0 = (2, 1)/√5, q1 = (−1, 2)/√5 (both with positive R diagonal)
        double[][] a = [[1, 0.5], [0, 1]];
        Linalg.GramSchmidt(a);
        double s5 = Math.Sqrt(5);
        FlexNet.Tests.Testing.T.Close([2 / s5, 1 / s5, -1 / s5, 2 / s5], [.. a[0], .. a[1]], 0, 1e-15, "Q");
        var e = Assert.Throws<InvalidOperationException>(() => Linalg.GramSchmidt([[1, 0], [3, 0]]));
        Assert.Equal("Orthogonal: a Gaussian column was linearly dependent (zero after projection).", e.Message);
    }

    [Fact]
    public void SpectralNormOfANearlyDegenerateMatrixStopsAtTheIterationCap()
    {
        // σ₁ = 1 and σ₂² = 1 − 1e-7: the Rayleigh quotient creeps up by about 1e-14 a step, so it would settle only
        // after some 10^7 steps (seconds for a 32×32); the cap of 20,000 steps stops it within 3e-8 of σ₁.
        const int n = 32;
        var d = new double[n * n];
        for (int i = 0; i < n; i++) d[i * n + i] = 0.5;
        d[0] = 1;
        d[n + 1] = Math.Sqrt(1 - 1e-7);
        Linalg.SpectralStepsOnThisThread = 0;
        double sigma = Init.SpectralNorm(Tensor.FromArray(d, n, n));
        Assert.InRange(sigma, 1 - 1e-7, 1);
        Assert.Equal(Linalg.MaxIterations, Linalg.SpectralStepsOnThisThread); // stopped by the cap, not by convergence
    }

    [Fact]
    public void GramSchmidtKeepsNearlyParallelColumnsOrthonormal()
    {
        // columns within 1e-9 of each other (cond ≈ 1e9): one Gram–Schmidt pass leaves QᵀQ − I near 1e-7, two near ε
        double[][] a = [[1, 1, 1, 1, 1], [1, 1, 1, 1, 1 + 1e-9], [1, 1 + 1e-9, 1, 1, 1], [1, 1, 1 - 1e-9, 1, 1 + 1e-9]];
        var original = a.Select(c => c.ToArray()).ToArray();
        Linalg.GramSchmidt(a);
        for (int i = 0; i < 4; i++)
        {
            for (int j = 0; j < 4; j++)
            {
                double s = 0;
                for (int k = 0; k < 5; k++) s += a[i][k] * a[j][k];
                Assert.True(Math.Abs(s - (i == j ? 1 : 0)) < 1e-12, $"(QᵀQ)[{i}, {j}] = {s:R}");
            }
            double r = 0; // R[i, i] = q_i · a_i > 0
            for (int k = 0; k < 5; k++) r += a[i][k] * original[i][k];
            Assert.True(r > 0, $"R[{i}, {i}] = {r:R}");
        }
    }

    [Fact]
    public void SpectralNormOfATinyMatrixConverges()
    {
        // a 7×5 matrix scaled by 1e-4 (σ² about 1e-7): the stopping rule is relative, and the iteration is on MᵀM
        var m = Tensor.Normal([7, 5], 0, 1e-4, new RandomGenerator(8), DType.Float64);
        double jacobi = InitTests.JacobiSpectralNorm(m.ToDoubleArray(), 7, 5);
        Assert.Equal(jacobi, Init.SpectralNorm(m), jacobi * 1e-10);
        // and a 2×2 in closed form: σ₁² is the larger root of λ² − tr λ + det of MᵀM
        var k = Tensor.FromArray(new double[] { 3e-5, 1e-5, -2e-5, 4e-5 }, 2, 2);
        double p = 3e-5 * 3e-5 + 2e-5 * 2e-5, q = 1e-5 * 1e-5 + 4e-5 * 4e-5, r = 3e-5 * 1e-5 - 2e-5 * 4e-5;
        double tr = p + q, det = p * q - r * r;
        double s1 = Math.Sqrt((tr + Math.Sqrt(tr * tr - 4 * det)) / 2);
        Assert.Equal(s1, Init.SpectralNorm(k), s1 * 1e-10);
    }

    // ---- theanets -----------------------------------------------------------------------------------------------

    /// <summary>theanets' weights drawn here from a generator with the same seed: mean + std·z row by row, then for
    /// sparsity p each off-diagonal entry, row by row, zeroed when a uniform draw is below p.</summary>
    private static double[] TheanetsByHand(int rows, int cols, double mean, double std, double sparsity, RandomGenerator z)
    {
        var v = new double[rows * cols];
        for (int i = 0; i < v.Length; i++) v[i] = mean + std * z.NextNormal();
        if (sparsity > 0)
            for (int r = 0; r < rows; r++)
                for (int c = 0; c < cols; c++)
                {
                    if (r == c) continue;
                    if (z.NextDouble() < sparsity) v[r * cols + c] = 0;
                }
        return v;
    }

    [Theory]
    [InlineData(4, 3, 0.0, -1.0, 0.0)] // std -1: the default 1/√(in + out)
    [InlineData(3, 5, 1.5, 2.0, 0.0)]
    [InlineData(5, 3, -0.5, -1.0, 0.4)]
    [InlineData(3, 4, 0.0, 0.3, 0.9)]
    public void TheanetsWeightsAreTheSeededDrawsValueByValue(int rows, int cols, double mean, double std, double sparsity)
    {
        var options = new TheanetsInit(mean, std < 0 ? null : std, sparsity);
        var rng = new RandomGenerator(31);
        var w = Init.Theanets([rows, cols], options, rng, DType.Float64);
        var z = new RandomGenerator(31);
        var expected = TheanetsByHand(rows, cols, mean, std < 0 ? 1 / Math.Sqrt(rows + cols) : std, sparsity, z);
        Assert.Equal(expected, w.ToDoubleArray());
        // exactly those draws were taken from the generator (a dense init draws no uniforms)
        for (int i = 0; i < 3; i++) Assert.Equal(z.NextNormal(), rng.NextNormal());
    }

    [Fact]
    public void TheanetsSparsityZeroesOnlyDrawsStrictlyBelowIt()
    {
        // P(U < p) = p for a draw U on the generator's grid of 2^-53 and p on it: a draw equal to the sparsity keeps
        // its entry. Take the sparsity equal to the first uniform draw (entry [0, 1]) of seed 41.
        const int rows = 3, cols = 4;
        var z = new RandomGenerator(41);
        for (int i = 0; i < rows * cols; i++) z.NextNormal();
        double p = z.NextDouble();
        var w = Init.Theanets([rows, cols], new TheanetsInit(Sparsity: p), new RandomGenerator(41), DType.Float64).ToDoubleArray();
        Assert.Equal(TheanetsByHand(rows, cols, 0, 1 / Math.Sqrt(rows + cols), p, new RandomGenerator(41)), w);
        Assert.NotEqual(0, w[1]);
    }

    [Fact]
    public void TheanetsRadiusSkipsAnEmptyMatrix()
    {
        Assert.Equal([3, 0], Init.Theanets([3, 0], new TheanetsInit(Radius: 1), new RandomGenerator(1)).ShapeArray);
        Assert.Equal([0, 0], Init.Theanets([0, 0], new TheanetsInit(Radius: 1), new RandomGenerator(1)).ShapeArray);
    }

    [Fact]
    public void TheanetsAttributesAcceptTheirBoundsAndNameWhatTheyRefuse()
    {
        new TheanetsInit(Std: 0, Sparsity: 0, Radius: 0).Validate();
        Assert.Equal("std must be >= 0. Received: -1", Assert.Throws<SpecValidationException>(() => new TheanetsInit(Std: -1).Validate()).Message);
        Assert.Equal("sparsity must be in [0, 1). Received: 1", Assert.Throws<SpecValidationException>(() => new TheanetsInit(Sparsity: 1).Validate()).Message);
        Assert.Equal("sparsity must be in [0, 1). Received: -1", Assert.Throws<SpecValidationException>(() => new TheanetsInit(Sparsity: -1).Validate()).Message);
        Assert.Equal("radius must be >= 0. Received: -2", Assert.Throws<SpecValidationException>(() => new TheanetsInit(Radius: -2).Validate()).Message);
    }

    [Fact]
    public void TheanetsForReadsEveryAttributeGloballyAndPerParameter()
    {
        Assert.Equal(new TheanetsInit(), TheanetsInit.For("hh", new Dictionary<string, double>()));
        var global = new Dictionary<string, double> { ["mean"] = 0.25, ["std"] = 0.5, ["sparsity"] = 0.1, ["diagonal"] = 2, ["radius"] = 1.5 };
        Assert.Equal(new TheanetsInit(0.25, 0.5, 0.1, 2, 1.5), TheanetsInit.For("hh", global));
        var own = new Dictionary<string, double>(global) { ["mean_hh"] = -1, ["std_hh"] = 0, ["sparsity_hh"] = 0.3, ["diagonal_hh"] = 3, ["radius_hh"] = 0.75 };
        Assert.Equal(new TheanetsInit(-1, 0, 0.3, 3, 0.75), TheanetsInit.For("hh", own));
        Assert.Equal(new TheanetsInit(0.25, 0.5, 0.1, 2, 1.5), TheanetsInit.For("xh", own));
        Assert.Equal("attributes", Assert.Throws<ArgumentNullException>(() => TheanetsInit.For("hh", null!)).ParamName);
    }
}
