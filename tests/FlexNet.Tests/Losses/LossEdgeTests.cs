using FlexNet.Losses;
using FlexNet.Tests.Testing;
using FlexNet.Tensors;

namespace FlexNet.Tests.Losses;

/// <summary>Values, argument checks and messages of the losses that mutation testing found untested: binary hinge,
/// KL on probabilities and on one sample, label smoothing, the float32 cross-entropy gradient, mixed dtypes, the
/// registry, and last-step slicing of per-step weights.</summary>
public sealed class LossEdgeTests
{
    private static Tensor D(double[] v, params int[] shape) => Tensor.FromArray(v, shape);

    private static Tensor Labels(params int[] v) => Tensor.FromArray(v, v.Length);

    private static double Lse(params double[] v) => Math.Log(v.Sum(Math.Exp));

    [Fact]
    public void RegistryNamesAndTypes()
    {
        (string Name, Type Type, string Own)[] all =
        [
            ("mse", typeof(MeanSquaredError), "mse"), ("mae", typeof(MeanAbsoluteError), "mae"),
            ("xe", typeof(CrossEntropy), "xe"), ("crossentropy", typeof(CrossEntropy), "xe"),
            ("cross_entropy", typeof(CrossEntropy), "xe"), ("bce", typeof(BinaryCrossEntropy), "bce"),
            ("binary_crossentropy", typeof(BinaryCrossEntropy), "bce"), ("huber", typeof(Huber), "huber"),
            ("hinge", typeof(Hinge), "hinge"), ("kl", typeof(KLDivergence), "kl"),
        ];
        foreach (var (name, type, own) in all)
        {
            var loss = Loss.Create(" " + name.ToUpperInvariant() + " ");
            Assert.IsType(type, loss);
            Assert.Equal(own, loss.Name);
            Assert.Contains(name, Loss.RegisteredNames);
        }
        var names = Loss.RegisteredNames;
        Assert.Equal(names.Order(), names);
    }

    [Fact]
    public void RegistryArgumentsAndUnknownNames()
    {
        Assert.Throws<ArgumentNullException>(() => Loss.Create(null!));
        var e = Assert.Throws<ArgumentException>(() => Loss.Create("nope"));
        Assert.StartsWith("Unknown loss 'nope'. Registered: ", e.Message);
        var listed = e.Message["Unknown loss 'nope'. Registered: ".Length..].Split(" (Parameter")[0].TrimEnd('.').Split(", ");
        Assert.Contains("mse", listed);
        Assert.Contains("kl", listed);
        Assert.Contains("xe", listed);
        Assert.DoesNotContain("crossentropy", listed); // the message lists each loss once, by its canonical name
        foreach (var n in listed) Assert.Contains(n, Loss.RegisteredNames);
        Assert.Throws<ArgumentException>(() => Loss.Register(" ", () => new MeanSquaredError()));
        Assert.Throws<ArgumentNullException>(() => Loss.Register("issue15-loss", null!));
        Loss.Register(" issue15-loss ", () => new Huber(2));
        Assert.Equal(2, Assert.IsType<Huber>(Loss.Create("ISSUE15-LOSS")).Delta);
    }

    [Fact]
    public void ArgumentChecks()
    {
        Assert.Throws<ArgumentNullException>(() => new MeanSquaredError().Compute(null!, D([1], 1)));
        Assert.Throws<ArgumentNullException>(() => new MeanSquaredError().Compute(D([1], 1), null!));
        var i = Assert.Throws<ArgumentException>(() => new MeanSquaredError().Compute(Tensor.FromArray([1, 2], 2), D([1, 2], 2)));
        Assert.Equal("mse needs a floating-point tensor; got Int32 of shape [2].", i.Message);
        var s = Assert.Throws<ShapeMismatchException>(() => new MeanSquaredError().Compute(Tensor.Zeros([2, 3]), Tensor.Zeros([3, 2])));
        Assert.Equal("mse loss: target [3, 2] must have the output's shape [2, 3].", s.Message);
        var h = Assert.Throws<ArgumentOutOfRangeException>(() => new Huber(0));
        Assert.StartsWith("huber loss: delta must be > 0; got 0.", h.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new Huber(double.NaN));
        var m = Assert.Throws<ArgumentOutOfRangeException>(() => new Hinge(-0.5));
        Assert.StartsWith("hinge loss: margin must be >= 0; got -0.5.", m.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new Hinge(double.NaN));
        Assert.Equal(0, new Hinge(0).Margin);
    }

    [Fact]
    public void BinaryHingeByHand()
    {
        // mean_c max(0, m − t·o), m = 0.5
        var o = D([0.2, -1, 2, 0.4], 2, 2);
        var t = D([1, 1, -1, -1], 2, 2);
        double r0 = (Math.Max(0, 0.5 - 0.2) + Math.Max(0, 0.5 + 1)) / 2, r1 = (Math.Max(0, 0.5 + 2) + Math.Max(0, 0.5 + 0.4)) / 2;
        T.Close([r0, r1], new Hinge(0.5) { Reduction = Reduction.None }.Compute(o, t).ToDoubleArray(), 1e-14, 0, "binary hinge");
    }

    [Fact]
    public void MultiClassHingeWithTwoClassesAndItsErrors()
    {
        var o = D([0.3, 1.0, 2.0, -1.0], 2, 2);
        // row 0: y = 0: max(0, 1 + 1.0 − 0.3) = 1.7; row 1: y = 0: max(0, 1 − 1 − 2) = 0
        T.Close([1.7, 0], new Hinge { Reduction = Reduction.None }.Compute(o, Labels(0, 0)).ToDoubleArray(), 1e-14, 0, "hinge C = 2");
        // one sample: logits [C] with a scalar label, max(0, 1 + 2 − 0.5) = 2.5
        Assert.Equal(2.5, new Hinge().Compute(D([0.5, 2, -1], 3), Tensor.FromArray([0], [])).Item(), 14);
        var one = Assert.Throws<ShapeMismatchException>(() => new Hinge().Compute(D([1, 2], 2, 1), Labels(0, 0)));
        Assert.Equal("hinge loss: integer labels need at least 2 classes; output is [2, 1].", one.Message);
        var shape = Assert.Throws<ShapeMismatchException>(() => new Hinge().Compute(o, Labels(0, 1, 1)));
        Assert.Equal("hinge loss: integer labels [3] must have the sample shape of the output [2, 2].", shape.Message);
    }

    [Fact]
    public void KlOnProbabilitiesAndOnOneSample()
    {
        // probabilities: p = clip(o, 1e-8, 1); KL = Σ t (log t − log p)
        var p = D([0.2, 0.5, 0.3, 1e-12, 0.6, 0.4], 2, 3);
        var t = D([0.1, 0.6, 0.3, 0.5, 0.25, 0.25], 2, 3);
        double k0 = 0.1 * Math.Log(0.1 / 0.2) + 0.6 * Math.Log(0.6 / 0.5) + 0.3 * Math.Log(0.3 / 0.3);
        double k1 = 0.5 * Math.Log(0.5 / 1e-8) + 0.25 * Math.Log(0.25 / 0.6) + 0.25 * Math.Log(0.25 / 0.4);
        T.Close([k0, k1], new KLDivergence { FromLogits = false, Reduction = Reduction.None }.Compute(p, t).ToDoubleArray(), 1e-12, 0, "kl probabilities");
        // a single sample [C]: the per-sample value is the sum over classes (a scalar)
        var x = D([1, 2, 0.5], 3);
        var q = D([0.2, 0.3, 0.5], 3);
        double lse = Lse(1, 2, 0.5);
        double k = 0.2 * (Math.Log(0.2) - (1 - lse)) + 0.3 * (Math.Log(0.3) - (2 - lse)) + 0.5 * (Math.Log(0.5) - (0.5 - lse));
        var single = new KLDivergence { Reduction = Reduction.None }.Compute(x, q);
        Assert.Equal(0, single.Rank);
        Assert.Equal(k, single.Item(), 13);
    }

    [Fact]
    public void CrossEntropyOnOneSampleAndItsErrors()
    {
        // logits [C] with a scalar label
        var x = D([1, 2, 0.5], 3);
        Assert.Equal(Lse(1, 2, 0.5) - 2, new CrossEntropy().Compute(x, Tensor.FromArray([1], [])).Item(), 13);
        var sc = Assert.Throws<ShapeMismatchException>(() => new CrossEntropy().Compute(Tensor.Scalar(1, DType.Float64), Tensor.FromArray([0], [])));
        Assert.Equal("xe loss: logits must be [..., classes]; got a scalar.", sc.Message);
        var sh = Assert.Throws<ShapeMismatchException>(() => new CrossEntropy().Compute(D([1, 2, 3, 4], 2, 2), Labels(0, 1, 0)));
        Assert.Equal("xe loss: integer labels [3] must have the logits' sample shape [2] (logits [2, 2]).", sh.Message);
        var lab = Assert.Throws<ArgumentOutOfRangeException>(() => new CrossEntropy().Compute(D([1, 2, 3, 4], 2, 2), Labels(0, 2)));
        Assert.StartsWith("xe loss: label 2 at sample 1 is outside [0, 2) for logits [2, 2].", lab.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new CrossEntropy().Compute(D([1, 2, 3, 4], 2, 2), Labels(-1, 0)));
    }

    [Fact]
    public void OneHotChecksLabels()
    {
        T.Close([0, 1, 0, 0, 0, 1], CrossEntropy.OneHot(Labels(1, 2), 3, DType.Float64).ToDoubleArray(), 0, 0, "one-hot");
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => CrossEntropy.OneHot(Labels(0, 3), 3));
        Assert.StartsWith("OneHot: label 3 at position 1 is outside [0, 3).", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => CrossEntropy.OneHot(Labels(-1), 3));
        var f = Assert.Throws<ArgumentException>(() => CrossEntropy.OneHot(D([1.0], 1), 3));
        Assert.Equal("OneHot needs a Int32 tensor; got Float64 of shape [1].", f.Message);
    }

    [Fact]
    public void LabelSmoothingByHand()
    {
        // target (1 − ε)·onehot + ε/C, loss −Σ target · log softmax
        const double eps = 0.2;
        var x = D([1, 2, 0.5, 0, -1, 3], 2, 3);
        var y = Labels(0, 2);
        double[] rows = new double[2];
        double[][] xs = [[1, 2, 0.5], [0, -1, 3]];
        for (int n = 0; n < 2; n++)
        {
            double lse = Lse(xs[n]);
            for (int c = 0; c < 3; c++)
            {
                double tgt = (c == y.ToInt32Array()[n] ? 1 - eps : 0) + eps / 3;
                rows[n] -= tgt * (xs[n][c] - lse);
            }
        }
        var loss = new CrossEntropy { LabelSmoothing = eps, Reduction = Reduction.None };
        T.Close(rows, loss.Compute(x, y).ToDoubleArray(), 1e-13, 0, "label smoothing");
        Assert.Equal(eps, loss.LabelSmoothing);
    }

    [Fact]
    public void LabelSmoothingOnSequencesNormalisesOverTheClassAxis()
    {
        // [T = 2, N = 3, C = 2]: softmax and the sum run over the last axis, not axis 1
        const double eps = 0.3;
        double[] xv = [1, -1, 0.5, 2, -0.25, 0, /* t = 1 */ 3, 1, -2, 0.5, 0.75, 0.25];
        int[] yv = [0, 1, 1, 1, 0, 0];
        var rows = new double[6];
        for (int r = 0; r < 6; r++)
        {
            double lse = Lse(xv[2 * r], xv[2 * r + 1]);
            for (int c = 0; c < 2; c++) rows[r] -= ((c == yv[r] ? 1 - eps : 0) + eps / 2) * (xv[2 * r + c] - lse);
        }
        var got = new CrossEntropy { LabelSmoothing = eps, Reduction = Reduction.None }.Compute(D(xv, 2, 3, 2), Tensor.FromArray(yv, 2, 3));
        Assert.Equal([2, 3], got.ShapeArray);
        T.Close(rows, got.ToDoubleArray(), 1e-13, 0, "label smoothing [T, N, C]");
    }

    [Fact]
    public void Float32CrossEntropyValuesByHand()
    {
        float[] xv = [1, 2, 0.5f, 0, -1, 3];
        var got = new CrossEntropy { Reduction = Reduction.None }.Compute(Tensor.FromArray(xv, 2, 3), Labels(1, 2)).ToFloatArray();
        Assert.Equal(DType.Float32, new CrossEntropy().Compute(Tensor.FromArray(xv, 2, 3), Labels(1, 2)).DType);
        double r0 = Lse(1, 2, 0.5) - 2, r1 = Lse(0, -1, 3) - 3;
        Assert.True(Math.Abs(got[0] - r0) < 1e-6 && Math.Abs(got[1] - r1) < 1e-6, $"float32 xe: hand ({r0}, {r1}), got ({got[0]}, {got[1]})");
    }

    [Fact]
    public void Float32CrossEntropyGradientIsSoftmaxMinusOneHotTimesTheUpstreamGradient()
    {
        float[] xv = [1, 2, 0.5f, 0, -1, 3, 0.25f, 0.25f, -2];
        var x = Tensor.FromArray(xv, 3, 3).RequireGrad();
        var lab = Labels(2, 0, 1);
        var per = new CrossEntropy { Reduction = Reduction.None }.Compute(x, lab);
        Assert.Contains("grad_fn=", per.ToString());
        (per * Tensor.FromArray(new float[] { 1, 2, -0.5f }, 3)).Sum().Backward();
        var g = x.Grad!.ToFloatArray();
        float[] up = [1, 2, -0.5f];
        for (int n = 0; n < 3; n++)
        {
            double lse = Lse(xv[n * 3], xv[n * 3 + 1], xv[n * 3 + 2]);
            for (int c = 0; c < 3; c++)
            {
                double want = (Math.Exp(xv[n * 3 + c] - lse) - (c == lab.ToInt32Array()[n] ? 1 : 0)) * up[n];
                Assert.True(Math.Abs(want - g[n * 3 + c]) < 1e-6, $"dL/dx[{n}, {c}]: hand {want}, got {g[n * 3 + c]}");
            }
        }
    }

    [Fact]
    public void CrossEntropyBackwardNodeIsNamed()
    {
        var x = Tensor.FromArray([1.0, 2, 3, 4], 2, 2).RequireGrad();
        var rows = CrossEntropy.LabelRows(x, Labels(0, 1));
        Assert.Equal("CrossEntropyBackward", rows.GradFn!.Name);
    }

    [Fact]
    public void MixedDTypeWeightsAndTargetsFollowTheOutput()
    {
        // float64 output, float32 weights and targets chosen exactly representable: the loss is float64 and exact
        var o = D([0.1, 0.7, -0.3, 0.9], 2, 2);
        var t32 = Tensor.FromArray(new float[] { 0.5f, 0.25f, -0.75f, 1 }, 2, 2);
        var w32 = Tensor.FromArray(new float[] { 0.5f, 2f }, 2);
        double e00 = 0.1 - 0.5, e01 = 0.7 - 0.25, e10 = -0.3 + 0.75, e11 = 0.9 - 1;
        double l0 = (e00 * e00 + e01 * e01) / 2, l1 = (e10 * e10 + e11 * e11) / 2;
        var loss = new MeanSquaredError().Compute(o, t32, w32);
        Assert.Equal(DType.Float64, loss.DType);
        Assert.Equal((0.5 * l0 + 2 * l1) / 2.5, loss.Item(), 15);
        var none = new MeanSquaredError { Reduction = Reduction.None }.Compute(o, t32, w32);
        Assert.Equal(DType.Float64, none.DType);
        // float32 output with float64 weights: float32 result
        var o32 = Tensor.FromArray(new float[] { 0.1f, 0.7f, -0.3f, 0.9f }, 2, 2);
        Assert.Equal(DType.Float32, new MeanSquaredError { Reduction = Reduction.None }.Compute(o32, t32, D([0.5, 2], 2)).DType);
    }

    [Fact]
    public void SumWithoutWeightsAndNoneWithoutWeights()
    {
        var o = D([1, 2, 3, -1, 0.5, 0.5], 3, 2);
        var t = D([0, 4, 3, 1, 0, 0], 3, 2);
        // per sample (1 + 4)/2, (0 + 4)/2, (0.25 + 0.25)/2
        Assert.Equal(2.5 + 2 + 0.25, new MeanSquaredError { Reduction = Reduction.Sum }.Compute(o, t).Item(), 14);
        T.Close([2.5, 2, 0.25], new MeanSquaredError { Reduction = Reduction.None }.Compute(o, t).ToDoubleArray(), 1e-15, 0, "none");
    }

    [Fact]
    public void LastStepOnlySlicesPerStepWeightsButNotPerSampleOnes()
    {
        // T = 2, N = 2, C = 2: weights [T, N] are sliced to their last row; labels [N] with N = T are not sliced
        var x = D([0.5, -0.5, 1, 2, /* t = 1 */ 3, 0, -1, 1], 2, 2, 2);
        double l0 = Lse(3, 0) - 0, l1 = Lse(-1, 1) - 1; // last step, labels (1, 1)
        var w = D([9, 9, 0.25, 1], 2, 2);
        var loss = new CrossEntropy { LastStepOnly = true };
        Assert.Equal((0.25 * l0 + 1 * l1) / 1.25, loss.Compute(x, Labels(1, 1), w).Item(), 13);
        Assert.Equal((0.25 * l0 + 1 * l1) / 1.25, loss.Compute(x, Tensor.FromArray([0, 0, 1, 1], 2, 2), w).Item(), 13);
        // float targets [N, C] with N = T = 2 are the last step's targets as they are
        var mse = new MeanSquaredError { LastStepOnly = true, Reduction = Reduction.None };
        var tg = D([1, 0, 0, 1], 2, 2);
        double m0 = ((3 - 1) * (3 - 1) + 0) / 2.0, m1 = ((-1) * (-1) + 0) / 2.0;
        T.Close([m0, m1], mse.Compute(x, tg).ToDoubleArray(), 1e-15, 0, "mse last step, targets [N, C]");
        // a rank-2 output is not a sequence: LastStepOnly leaves it alone
        T.Close([2.5, 2], new MeanSquaredError { LastStepOnly = true, Reduction = Reduction.None }
            .Compute(D([1, 2, 3, -1], 2, 2), D([0, 4, 3, 1], 2, 2)).ToDoubleArray(), 1e-15, 0, "rank 2");
    }
}
