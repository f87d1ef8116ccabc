using FlexNet.Metrics;
using FlexNet.Tensors;

namespace FlexNet.Tests.Metrics;

/// <summary>
/// The gaps the first mutation run of Metrics found (docs/testing.md, "Metrics and Initializers (session 7)"):
/// the registry names and messages, ties and the binary threshold, top-k's ranking, one-hot and binary float
/// targets, and every rejection with its whole message. Values are compared with loops written here.
/// </summary>
public sealed class MetricMutationGapTests
{
    private static readonly string[] Names =
    [
        "acc", "accuracy", "sparse_categorical_accuracy", "categorical_accuracy", "binary_accuracy", "topK (e.g. top5)",
        "top_k_categorical_accuracy", "sparse_top_k_categorical_accuracy", "mse", "mean_squared_error", "mae", "mean_absolute_error",
    ];

    [Fact]
    public void KnownNamesAreListedInFullAndNamedByTheUnknownNameError()
    {
        Assert.Equal(Names, Metric.KnownNames);
        var e = Assert.Throws<ArgumentException>(() => Metric.Create("f1"));
        Assert.Equal("name", e.ParamName);
        Assert.Equal("Unknown metric 'f1' (known: " + string.Join(", ", Names) + "). (Parameter 'name')", e.Message);
        Assert.Equal("name", Assert.Throws<ArgumentNullException>(() => Metric.Create(null!)).ParamName);
    }

    [Theory]
    [InlineData("acc", "acc")]
    [InlineData(" Accuracy ", "acc")]
    [InlineData("sparse_categorical_accuracy", "acc")]
    [InlineData("categorical_accuracy", "acc")]
    [InlineData("BINARY_ACCURACY", "acc")]
    [InlineData("mse", "mse")]
    [InlineData("mean_squared_error", "mse")]
    [InlineData("mae", "mae")]
    [InlineData("Mean_Absolute_Error", "mae")]
    [InlineData("top_k_categorical_accuracy", "top5")]
    [InlineData("sparse_top_k_categorical_accuracy", "top5")]
    [InlineData("top1", "top1")]
    [InlineData("TOP12", "top12")]
    public void EveryKnownNameCreatesItsMetric(string name, string metricName)
    {
        var m = Metric.Create(name);
        Assert.Equal(metricName, m.Name);
        Type expected = metricName switch
        {
            "acc" => typeof(Accuracy),
            "mse" => typeof(MeanSquaredErrorMetric),
            "mae" => typeof(MeanAbsoluteErrorMetric),
            _ => typeof(TopKAccuracy),
        };
        Assert.IsType(expected, m);
        if (m is TopKAccuracy t) Assert.Equal(int.Parse(metricName.AsSpan(3)), t.K);
    }

    [Theory]
    [InlineData("top0")]
    [InlineData("top-2")]
    [InlineData("top")]
    [InlineData("topx")]
    [InlineData("f1")]
    public void NamesThatAreNoMetricAreRefusedAsUnknown(string name)
    {
        // exactly ArgumentException: "top0" must not reach TopKAccuracy's ArgumentOutOfRangeException
        var e = Assert.Throws<ArgumentException>(() => Metric.Create(name));
        Assert.StartsWith($"Unknown metric '{name}' (known: acc, ", e.Message);
    }

    [Fact]
    public void NamesAndDirections()
    {
        Assert.True(new Accuracy().HigherIsBetter);
        Assert.True(new TopKAccuracy(3).HigherIsBetter);
        Assert.False(new MeanSquaredErrorMetric().HigherIsBetter);
        Assert.False(new MeanAbsoluteErrorMetric().HigherIsBetter);
        Assert.Equal("acc", new Accuracy().Name);
        Assert.Equal("top3", new TopKAccuracy(3).Name);
        Assert.Equal("mse", new MeanSquaredErrorMetric().Name);
        Assert.Equal("mae", new MeanAbsoluteErrorMetric().Name);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-3)]
    public void TopKRefusesKBelowOne(int k)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new TopKAccuracy(k));
        Assert.Equal("k", e.ParamName);
        Assert.Equal($"TopKAccuracy: k must be >= 1; got {k}. (Parameter 'k')", e.Message);
        Assert.Equal(1, new TopKAccuracy(1).K);
    }

    // ---- independent oracles -------------------------------------------------------------------------------

    /// <summary>First index of the largest value of row r (a scan that keeps the first maximum).</summary>
    private static int ArgMaxFirst(double[] m, int r, int c)
    {
        double best = double.NegativeInfinity;
        int at = -1;
        for (int j = 0; j < c; j++)
            if (at < 0 || m[r * c + j] > best) { best = m[r * c + j]; at = j; }
        return at;
    }

    /// <summary>Whether label is among the k classes picked one by one as the largest remaining value, earlier class
    /// first on ties.</summary>
    private static bool InTopK(double[] m, int r, int c, int label, int k)
    {
        var taken = new bool[c];
        for (int pick = 0; pick < Math.Min(k, c); pick++)
        {
            int at = -1;
            for (int j = 0; j < c; j++)
                if (!taken[j] && (at < 0 || m[r * c + j] > m[r * c + at])) at = j;
            if (at == label) return true;
            taken[at] = true;
        }
        return false;
    }

    /// <summary>Small integers, so that ties are common.</summary>
    private static double[] TieProne(Random g, int n, int levels)
    {
        var v = new double[n];
        for (int i = 0; i < n; i++) v[i] = g.Next(levels) - 1;
        return v;
    }

    [Theory]
    [InlineData(new[] { 40, 5 }, 1)]
    [InlineData(new[] { 3, 7, 4 }, 2)]
    [InlineData(new[] { 64, 2 }, 3)]
    public void AccuracyAndTopKMatchLoopsOnOutputsWithTies(int[] shape, int seed)
    {
        var g = new Random(seed);
        int c = shape[^1], rows = shape.Aggregate(1, (a, b) => a * b) / c;
        var o = TieProne(g, rows * c, 4);
        var labels = new int[rows];
        for (int r = 0; r < rows; r++) labels[r] = g.Next(c);
        // a float target with ties in most rows: its label is the first maximum
        var soft = TieProne(g, rows * c, 2);
        var softLabels = new int[rows];
        for (int r = 0; r < rows; r++) softLabels[r] = ArgMaxFirst(soft, r, c);

        var output = Tensor.FromArray(o, shape);
        var intTarget = Tensor.FromArray(labels, shape[..^1]);
        var softTarget = Tensor.FromArray(soft, shape);
        foreach (var (target, lab) in new[] { (intTarget, labels), (softTarget, softLabels) })
        {
            double hits = 0;
            for (int r = 0; r < rows; r++) if (ArgMaxFirst(o, r, c) == lab[r]) hits++;
            Assert.Equal((hits, (double)rows), new Accuracy().Evaluate(output, target));
            for (int k = 1; k <= c; k++)
            {
                double topHits = 0;
                for (int r = 0; r < rows; r++) if (InTopK(o, r, c, lab[r], k)) topHits++;
                Assert.Equal((topHits, (double)rows), new TopKAccuracy(k).Evaluate(output, target));
            }
        }
    }

    [Fact]
    public void ArgMaxAndTopKKeepTheEarlierClassOnTies()
    {
        // row 0: classes 0 and 2 tie for the maximum; row 1: 1 and 2 tie below class 0
        var o = Tensor.FromArray(new double[] { 5, 1, 5, 9, 4, 4 }, 2, 3);
        Assert.Equal((2.0, 2.0), new Accuracy().Evaluate(o, Tensor.FromArray(new[] { 0, 0 }, 2)));
        Assert.Equal((0.0, 2.0), new Accuracy().Evaluate(o, Tensor.FromArray(new[] { 2, 1 }, 2)));
        Assert.Equal((2.0, 2.0), new TopKAccuracy(2).Evaluate(o, Tensor.FromArray(new[] { 2, 1 }, 2)));
        Assert.Equal((0.0, 2.0), new TopKAccuracy(2).Evaluate(o, Tensor.FromArray(new[] { 1, 2 }, 2)));
        // a one-hot-like float target with a tie: its label is the first of the tied classes
        var t = Tensor.FromArray(new double[] { 0.5, 0, 0.5, 0, 0.5, 0.5 }, 2, 3);
        Assert.Equal((1.0, 2.0), new Accuracy().Evaluate(o, t)); // labels 0 and 1: row 0 right, row 1 wrong
    }

    [Fact]
    public void BinaryOutputsPredictOneOnlyAboveTheThreshold()
    {
        double[] o = [-2, 0, 1e-9, 0.5, 0.75, 3];
        int[] labels = [0, 1, 1, 0, 1, 1];
        foreach (double threshold in new[] { 0.0, 0.5 })
        {
            double hits = 0;
            for (int i = 0; i < o.Length; i++) if ((o[i] > threshold ? 1 : 0) == labels[i]) hits++;
            var m = new Accuracy { Threshold = threshold };
            // as [N], as [N, 1], with Int32 labels and with float 0/1 targets
            Assert.Equal((hits, 6.0), m.Evaluate(Tensor.FromArray(o, 6), Tensor.FromArray(labels, 6)));
            Assert.Equal((hits, 6.0), m.Evaluate(Tensor.FromArray(o, 6, 1), Tensor.FromArray(labels, 6)));
            Assert.Equal((hits, 6.0), m.Evaluate(Tensor.FromArray(o, 6, 1), Tensor.FromArray(labels.Select(l => (double)l).ToArray(), 6, 1)));
        }
        // float targets are probabilities: the label is t > 0.5 (0.5 itself is class 0)
        var p = Tensor.FromArray(new double[] { 0.5, 0.51, 0.2, 1 }, 4);
        Assert.Equal((4.0, 4.0), new Accuracy().Evaluate(Tensor.FromArray(new double[] { -1, 1, -1, 1 }, 4), p));
        Assert.Equal((0.0, 4.0), new Accuracy().Evaluate(Tensor.FromArray(new double[] { 1, -1, 1, -1 }, 4), p));
        // a scalar output is one binary sample
        Assert.Equal((1.0, 1.0), new Accuracy().Evaluate(Tensor.Scalar(0.3, DType.Float64), Tensor.Scalar(1, DType.Int32)));
        Assert.Equal((0.0, 1.0), new Accuracy().Evaluate(Tensor.Scalar(0.0, DType.Float64), Tensor.Scalar(1, DType.Int32)));
    }

    [Fact]
    public void TopKTakesAOneColumnOutputAsOneClass()
    {
        // Accuracy reads one column as binary (labels 0 and 1); top-k has one class there, so only label 0 exists
        var o = Tensor.FromArray(new double[] { -1, 2, 0.5 }, 3, 1);
        Assert.Equal((3.0, 3.0), new TopKAccuracy(1).Evaluate(o, Tensor.FromArray(new[] { 0, 0, 0 }, 3)));
        Assert.Equal((3.0, 3.0), new TopKAccuracy(2).Evaluate(o, Tensor.FromArray(new double[] { 1, 1, 1 }, 3, 1)));
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new TopKAccuracy(1).Evaluate(o, Tensor.FromArray(new[] { 0, 0, 1 }, 3)));
        Assert.Equal("top1: label 1 at sample 2 is outside [0, 1). (Parameter 'target')", e.Message);
    }

    [Fact]
    public void AnEmptyBatchCountsNothing()
    {
        var o = Tensor.Zeros([0, 3], DType.Float64);
        Assert.Equal((0.0, 0.0), new Accuracy().Evaluate(o, Tensor.FromArray(Array.Empty<int>(), 0)));
        Assert.Equal((0.0, 0.0), new TopKAccuracy(2).Evaluate(o, Tensor.Zeros([0, 3], DType.Float64)));
    }

    [Fact]
    public void EachRejectionNamesTheMetricAndTheShapes()
    {
        var o = Tensor.FromArray(new double[12], 4, 3);
        string M(Action a) => Record.Exception(a)!.Message;
        Assert.Equal("acc: 2 labels for 4 output rows (target [2]).",
            Assert.Throws<ShapeMismatchException>(() => new Accuracy().Evaluate(o, Tensor.FromArray(new[] { 1, 2 }, 2))).Message);
        Assert.Equal("top2: 5 labels for 4 output rows (target [5]).",
            Assert.Throws<ShapeMismatchException>(() => new TopKAccuracy(2).Evaluate(o, Tensor.FromArray(new int[5], 5))).Message);
        Assert.Equal("acc: label 3 at sample 2 is outside [0, 3). (Parameter 'target')",
            M(() => new Accuracy().Evaluate(o, Tensor.FromArray(new[] { 1, 2, 3, 0 }, 4))));
        Assert.Equal("acc: label -1 at sample 0 is outside [0, 3). (Parameter 'target')",
            M(() => new Accuracy().Evaluate(o, Tensor.FromArray(new[] { -1, 2, 2, 0 }, 4))));
        Assert.Equal("acc: label 2 at sample 1 is outside [0, 2). (Parameter 'target')",
            M(() => new Accuracy().Evaluate(Tensor.FromArray(new double[3], 3, 1), Tensor.FromArray(new[] { 1, 2, 0 }, 3))));
        Assert.Equal("acc: target [4] does not match 3 binary outputs.",
            Assert.Throws<ShapeMismatchException>(() => new Accuracy().Evaluate(Tensor.FromArray(new double[3], 3, 1), Tensor.FromArray(new double[4], 4))).Message);
        Assert.Equal("acc: target [4, 2] does not match 4 rows of 3 classes.",
            Assert.Throws<ShapeMismatchException>(() => new Accuracy().Evaluate(o, Tensor.FromArray(new double[8], 4, 2))).Message);
        Assert.Equal("top2: target [4, 4] does not match 4 rows of 3 classes.",
            Assert.Throws<ShapeMismatchException>(() => new TopKAccuracy(2).Evaluate(o, Tensor.FromArray(new double[16], 4, 4))).Message);
        Assert.Equal("acc: output [2, 0] has no classes (its last axis is empty).",
            Assert.Throws<ShapeMismatchException>(() => new Accuracy().Evaluate(Tensor.Zeros([2, 0], DType.Float64), Tensor.FromArray(new int[2], 2))).Message);
        Assert.Equal("top1: output [0, 0] has no classes (its last axis is empty).",
            Assert.Throws<ShapeMismatchException>(() => new TopKAccuracy(1).Evaluate(Tensor.Zeros([0, 0], DType.Float64), Tensor.FromArray(Array.Empty<int>(), 0))).Message);
        Assert.Equal("mse: output [3] vs target [4].",
            Assert.Throws<ShapeMismatchException>(() => new MeanSquaredErrorMetric().Evaluate(Tensor.FromArray(new double[3], 3), Tensor.FromArray(new double[4], 4))).Message);
        Assert.Equal("mae: output [2, 2] vs target [3].",
            Assert.Throws<ShapeMismatchException>(() => new MeanAbsoluteErrorMetric().Evaluate(Tensor.FromArray(new double[4], 2, 2), Tensor.FromArray(new double[3], 3))).Message);
    }

    [Fact]
    public void RegressionMetricsMatchLoopsOverEveryElement()
    {
        var g = new Random(4);
        var o = new double[2 * 3 * 4];
        var t = new double[o.Length];
        for (int i = 0; i < o.Length; i++) { o[i] = g.NextDouble() * 4 - 2; t[i] = g.NextDouble() * 4 - 2; }
        double se = 0, ae = 0;
        for (int i = 0; i < o.Length; i++) { se += (o[i] - t[i]) * (o[i] - t[i]); ae += Math.Abs(o[i] - t[i]); }
        // the target may be laid out differently as long as it has as many elements
        var mse = new MeanSquaredErrorMetric().Evaluate(Tensor.FromArray(o, 2, 3, 4), Tensor.FromArray(t, 6, 4));
        var mae = new MeanAbsoluteErrorMetric().Evaluate(Tensor.FromArray(o, 2, 3, 4), Tensor.FromArray(t, 24));
        Assert.Equal(se, mse.Sum, 1e-12);
        Assert.Equal(24.0, mse.Count);
        Assert.Equal(ae, mae.Sum, 1e-12);
        Assert.Equal(24.0, mae.Count);
    }
}
