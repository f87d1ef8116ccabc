using FlexNet.Losses;
using FlexNet.Tests.Testing;
using FlexNet.Tensors;
using FlexNet.Autodiff;

namespace FlexNet.Tests.Losses;

public sealed class LossTests
{
    private static Tensor D(double[] v, params int[] shape) => Tensor.FromArray(v, shape);

    private static Tensor Labels(params int[] v) => Tensor.FromArray(v, v.Length);

    [Fact]
    public void EveryLossPassesGradientCheck()
    {
        var x = T.Rand(1, 4, 5);
        var tf = Tensor.Normal([4, 5], 0, 1, new RandomGenerator(2), DType.Float64);
        var probs = NN.Softmax(Tensor.Normal([4, 5], 0, 1, new RandomGenerator(3), DType.Float64));
        var lab = Labels(1, 0, 4, 2);
        var w = D([1, 0.5, 2, 0], 4);
        var pm = Tensor.FromArray(new double[] { 1, -1, 1, 1, -1, -1, 1, -1, 1, 1, 1, -1, -1, 1, -1, 1, 1, -1, 1, 1 }, 4, 5);
        var bt = Tensor.Uniform([4, 5], 0, 1, new RandomGenerator(4), DType.Float64);
        T.GradOk("mse", v => new MeanSquaredError().Compute(v[0], tf), x);
        T.GradOk("mse weighted", v => new MeanSquaredError().Compute(v[0], tf, w), x);
        T.GradOk("mae", v => new MeanAbsoluteError().Compute(v[0], tf), x);
        T.GradOk("huber", v => new Huber(0.7).Compute(v[0], tf), x);
        T.GradOk("bce", v => new BinaryCrossEntropy().Compute(v[0], bt), x);
        T.GradOk("xe labels", v => new CrossEntropy().Compute(v[0], lab), x);
        T.GradOk("xe labels weighted sum", v => new CrossEntropy { Reduction = Reduction.Sum }.Compute(v[0], lab, w), x);
        T.GradOk("xe smoothing", v => new CrossEntropy { LabelSmoothing = 0.1 }.Compute(v[0], lab), x);
        T.GradOk("xe probabilities", v => new CrossEntropy().Compute(v[0], probs), x);
        T.GradOk("hinge labels", v => new Hinge().Compute(v[0], lab), x);
        T.GradOk("hinge binary", v => new Hinge(0.5).Compute(v[0], pm), x);
        T.GradOk("kl logits", v => new KLDivergence().Compute(v[0], probs), x);
        T.GradOk("kl probabilities", v => new KLDivergence { FromLogits = false }.Compute(NN.Softmax(v[0]), probs), x);
        T.GradOk("none", v => new MeanSquaredError { Reduction = Reduction.None }.Compute(v[0], tf, w), x);
        var seq = T.Rand(5, 3, 4, 5);
        var seqLab = Tensor.FromArray(new[] { 0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1 }, 3, 4);
        var mask = D([1, 1, 1, 1, 1, 1, 0, 0, 1, 0, 0, 0], 3, 4);
        T.GradOk("xe sequence masked", v => new CrossEntropy().Compute(v[0], seqLab, null, mask), seq);
        T.GradOk("xe last step", v => new CrossEntropy { LastStepOnly = true }.Compute(v[0], seqLab), seq);
    }

    [Fact]
    public void FloatLossesMatchHandComputation()
    {
        var o = D([1, 2, 3, -1], 2, 2);
        var t = D([0, 4, 3, 1], 2, 2);
        // errors: (1, -2), (0, -2)
        Assert.Equal((1 + 4 + 0 + 4) / 4.0, new MeanSquaredError().Compute(o, t).Item(), 12);
        Assert.Equal((1 + 2 + 0 + 2) / 4.0, new MeanAbsoluteError().Compute(o, t).Item(), 12);
        // huber δ=1: |e|=1 -> 0.5; |e|=2 -> 1.5; 0 -> 0
        Assert.Equal((0.5 + 1.5 + 0 + 1.5) / 4.0, new Huber(1).Compute(o, t).Item(), 12);
        // per-sample mse (2.5, 2) weighted (1, 3): (2.5 + 6) / 4
        Assert.Equal(8.5 / 4, new MeanSquaredError().Compute(o, t, D([1, 3], 2)).Item(), 12);
        Assert.Equal(8.5, new MeanSquaredError { Reduction = Reduction.Sum }.Compute(o, t, D([1, 3], 2)).Item(), 12);
        T.Close([2.5, 2], new MeanSquaredError { Reduction = Reduction.None }.Compute(o, t).ToDoubleArray(), 1e-12, 0, "none");
        // bce: x = 0, t = 1 -> log 2; x = 30, t = 0 -> 30 + log(1+e^-30); x = -800, t = 0 -> ~0 (stable)
        var b = new BinaryCrossEntropy { Reduction = Reduction.None }.Compute(D([0, 30, -800], 3), D([1, 0, 0], 3)).ToDoubleArray();
        T.Close([Math.Log(2), 30 + Math.Log(1 + Math.Exp(-30)), 0], b, 1e-12, 1e-300, "bce");
    }

    [Fact]
    public void ClassificationLossesMatchHandComputation()
    {
        var x = D([1, 2, 0.5, 0, 0, 3], 2, 3);
        var y = Labels(0, 2);
        double Lse(double a, double b, double c) => Math.Log(Math.Exp(a) + Math.Exp(b) + Math.Exp(c));
        double l0 = Lse(1, 2, 0.5) - 1, l1 = Lse(0, 0, 3) - 3;
        Assert.Equal((l0 + l1) / 2, new CrossEntropy().Compute(x, y).Item(), 12);
        Assert.Equal((l0 + l1) / 2, new CrossEntropy().Compute(x, CrossEntropy.OneHot(y, 3, DType.Float64)).Item(), 12);
        // masked second sample: only l0 counts
        Assert.Equal(l0, new CrossEntropy().Compute(x, y, null, D([1, 0], 2)).Item(), 12);
        // hinge margin 1: row0: max(0, 1 + 2 - 1) = 2; row1: max(0, 1 + 0 - 3) = 0
        Assert.Equal(1.0, new Hinge().Compute(x, y).Item(), 12);
        // theanets hinge (margin 0): row0 = 1
        Assert.Equal(0.5, new Hinge(0).Compute(x, y).Item(), 12);
        // KL(t || softmax(x)) row 0 with t = (0.5, 0.5, 0)
        var t = D([0.5, 0.5, 0, 1.0 / 3, 1.0 / 3, 1.0 / 3], 2, 3);
        var kl = new KLDivergence { Reduction = Reduction.None }.Compute(x, t).ToDoubleArray();
        double lse0 = Lse(1, 2, 0.5), lse1 = Lse(0, 0, 3);
        double k0 = 0.5 * (Math.Log(0.5) - (1 - lse0)) + 0.5 * (Math.Log(0.5) - (2 - lse0));
        double k1 = (Math.Log(1.0 / 3) - (0 - lse1)) * 2 / 3 + (Math.Log(1.0 / 3) - (3 - lse1)) / 3;
        T.Close([k0, k1], kl, 1e-12, 1e-15, "kl");
    }

    [Fact]
    public void SequenceCrossEntropyOverEveryStepOrTheLast()
    {
        var x = Tensor.Normal([3, 2, 4], 0, 1, new RandomGenerator(9), DType.Float64);
        var lab = Tensor.FromArray(new[] { 0, 1, 2, 3, 1, 1 }, 3, 2);
        var all = new CrossEntropy { Reduction = Reduction.None }.Compute(x, lab);
        Assert.Equal([3, 2], all.Shape.ToArray());
        var flat = new CrossEntropy { Reduction = Reduction.None }.Compute(x.Reshape(6, 4), lab.Reshape(6)).ToDoubleArray();
        T.Close(flat, all.ToDoubleArray(), 1e-14, 0, "sequence = flattened rows");
        var last = new CrossEntropy { LastStepOnly = true }.Compute(x, lab).Item();
        Assert.Equal((flat[4] + flat[5]) / 2, last, 12);
        var lastLabelsOnly = new CrossEntropy { LastStepOnly = true }.Compute(x, Labels(1, 1)).Item();
        Assert.Equal(last, lastLabelsOnly, 14);
    }

    [Fact]
    public void RegistryAndErrors()
    {
        Assert.IsType<MeanSquaredError>(Loss.Create("mse"));
        Assert.IsType<CrossEntropy>(Loss.Create("XE"));
        Assert.IsType<Hinge>(Loss.Create("hinge"));
        Assert.IsType<KLDivergence>(Loss.Create("kl"));
        Assert.Contains("mae", Loss.RegisteredNames);
        var e = Assert.Throws<ArgumentException>(() => Loss.Create("nope"));
        Assert.Contains("nope", e.Message);
        var s = Assert.Throws<ShapeMismatchException>(() => new MeanSquaredError().Compute(Tensor.Zeros([2, 3]), Tensor.Zeros([3, 2])));
        Assert.Contains("[3, 2]", s.Message);
        var w = Assert.Throws<ShapeMismatchException>(() => new CrossEntropy().Compute(Tensor.Zeros([2, 3]), Labels(0, 1), Tensor.Ones([3])));
        Assert.Contains("weights", w.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new CrossEntropy().Compute(Tensor.Zeros([2, 3]), Labels(0, 3)));
    }

    [Fact]
    public void Float32CrossEntropyIsStableForHugeLogits()
    {
        var x = Tensor.FromArray(new float[] { 1e4f, -1e4f, 0, 1e4f }, 2, 2).RequireGrad();
        var l = new CrossEntropy().Compute(x, Labels(1, 0));
        Assert.True(double.IsFinite(l.Item()));
        l.Backward();
        Assert.All(x.Grad!.ToFloatArray(), v => Assert.True(float.IsFinite(v)));
        var b = new BinaryCrossEntropy().Compute(x, Tensor.Ones([2, 2]));
        Assert.True(double.IsFinite(b.Item()));
    }
}
