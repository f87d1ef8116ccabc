using FlexNet.Losses;
using FlexNet.Optimizers;
using FlexNet.Regularizers;
using FlexNet.Tests.Testing;
using FlexNet.Tests.Training;
using FlexNet.Training;
using FlexNet.Tensors;
using FlexNet.Autodiff;

namespace FlexNet.Tests.Regularizers;

[Collection("Training")]
public sealed class RegularizerTests
{
    private static Tensor Named(string name, double[] v, params int[] shape)
    {
        var t = Tensor.FromArray(v, shape).RequireGrad();
        t.Name = name;
        return t;
    }

    [Fact]
    public void WeightPenaltiesAverageMatrixMeansAndSkipBiases()
    {
        var w1 = Named("hid.w", [1, -2, 3, -4], 2, 2);
        var b1 = Named("hid.b", [10, 10], 2);
        var w2 = Named("out.w", [0.5, -0.5, 1], 1, 3);
        var ctx = new RegularizationContext([w1, b1, w2], [], []);
        // mean(W1²) = 30/4, mean(W2²) = 1.5/3
        Assert.Equal((7.5 + 0.5) / 2, new WeightL2().Penalty(ctx)!.Item(), 14);
        Assert.Equal((2.5 + 2.0 / 3) / 2, new WeightL1().Penalty(ctx)!.Item(), 14);
        Assert.Equal(7.5, new WeightL2 { Pattern = "hid.*" }.Penalty(ctx)!.Item(), 14);
        Assert.Equal(0.5, new WeightL2 { Pattern = "out.?" }.Penalty(ctx)!.Item(), 14);
        Assert.Equal(8.0 / 2, new WeightL2 { Pattern = "hid.w|out.w" }.Penalty(ctx)!.Item(), 14);
        Assert.Null(new WeightL2 { Pattern = "*.b" }.Penalty(ctx)); // rank-1 parameters never match
        T.GradOk("weight_l2", p => new WeightL2().Penalty(new RegularizationContext(p, [], []))!, w1, w2);
        T.GradOk("weight_l1", p => new WeightL1().Penalty(new RegularizationContext(p, [], []))!, w1, w2);
    }

    [Fact]
    public void HiddenL1AndContractive()
    {
        var h1 = T.Rand(1, 3, 4);
        var h2 = T.Rand(2, 3, 2);
        var acts = new List<KeyValuePair<string, Tensor>> { new("hid1", h1), new("hid2", h2) };
        double expected = (h1.Abs().Mean().Item() + h2.Abs().Mean().Item()) / 2;
        Assert.Equal(expected, new HiddenL1().Penalty(new RegularizationContext([], acts, []))!.Item(), 14);
        Assert.Equal(h2.Abs().Mean().Item(), new HiddenL1 { Pattern = "hid2" }.Penalty(new RegularizationContext([], acts, []))!.Item(), 14);

        // contractive of a sigmoid layer equals the squared Frobenius norm of the Jacobian, computed by finite differences
        var w = Named("enc.w", Tensor.Normal([3, 2], 0, 1, new RandomGenerator(3), DType.Float64).ToDoubleArray(), 3, 2);
        var b = Named("enc.b", [0.1, -0.2, 0.3], 3);
        var x = Tensor.Normal([4, 2], 0, 1, new RandomGenerator(4), DType.Float64);
        Tensor Enc(Tensor input) => NN.Linear(input, w, b).Sigmoid();
        var h = Enc(x);
        var pen = new Contractive("hid", "enc.w").Penalty(new RegularizationContext([w, b], [new("hid", h)], [x]))!.Item();
        double fro = 0, eps = 1e-6;
        for (int n = 0; n < 4; n++)
            for (int i = 0; i < 2; i++)
            {
                var xp = x.Clone(); xp[n, i] += eps;
                var xm = x.Clone(); xm[n, i] -= eps;
                var hp = Enc(xp).ToDoubleArray();
                var hm = Enc(xm).ToDoubleArray();
                for (int j = 0; j < 3; j++) { double d = (hp[n * 3 + j] - hm[n * 3 + j]) / (2 * eps); fro += d * d; }
            }
        Assert.Equal(fro / 4, pen, 7);
        T.GradOk("contractive", p => new Contractive("hid", "enc.w").Penalty(
            new RegularizationContext([p[0], b], [new("hid", NN.Linear(x, p[0], b).Sigmoid())], [x]))!, w);
        Assert.Throws<ArgumentException>(() => new Contractive("nope", "enc.w").Penalty(new RegularizationContext([w], [], [])));
    }

    [Fact]
    public void TrainerAddsWeightedPenaltiesToTheLoss()
    {
        var x = Tensor.Normal([8, 3], 0, 1, new RandomGenerator(5));
        var y = Tensor.FromArray(new[] { 0, 1, 2, 0, 1, 2, 0, 1 }, 8);
        var model = new TinyMlp(3, 4, 3, seed: 6);
        var w = new WeightL2 { Weight = 0.5 };
        var hl = new HiddenL1 { Weight = 0.25 };
        double logged = double.NaN;
        var o = new TrainerOptions
        {
            Epochs = 1, BatchSize = 8, Shuffle = false, Progress = ProgressMode.None, Optimizer = new Sgd(0),
            Loss = new CrossEntropy(), Regularizers = [w, hl], OnBatchEnd = b => logged = b.Loss,
        };
        new Trainer(model, o).Fit(x, y);
        var outp = model.Forward(x, true);
        var ctx = new RegularizationContext(model.Parameters, model.Activations, [x]);
        double expected = new CrossEntropy().Compute(outp, y).Item() + 0.5 * w.Penalty(ctx)!.Item() + 0.25 * hl.Penalty(ctx)!.Item();
        Assert.Equal(expected, logged, 5);

        // a strong L2 penalty shrinks the weights compared with no penalty
        double Norm(TinyMlp m) => m.W1.Square().Sum().Item();
        var plain = new TinyMlp(3, 4, 3, seed: 6);
        var decayed = new TinyMlp(3, 4, 3, seed: 6);
        var opts = new TrainerOptions { Epochs = 30, BatchSize = 8, Progress = ProgressMode.None, Optimizer = new Sgd(0.1), Loss = new CrossEntropy() };
        Trainer.Fit(plain, x, y, opts);
        opts.Regularizers = [new WeightL2 { Weight = 5 }];
        Trainer.Fit(decayed, x, y, opts);
        Assert.True(Norm(decayed) < 0.5 * Norm(plain), $"{Norm(decayed)} vs {Norm(plain)}");
    }

    [Fact]
    public void GaussianNoiseActsOnlyInTraining()
    {
        var x = Tensor.Zeros([2000], DType.Float64).RequireGrad();
        Assert.Same(x, NN.GaussianNoise(x, 0.5, training: false));
        var y = NN.GaussianNoise(x, 0.5, training: true, new RandomGenerator(7));
        var v = y.ToDoubleArray();
        double mean = v.Average(), sd = Math.Sqrt(v.Select(a => (a - mean) * (a - mean)).Average());
        Assert.InRange(mean, -0.05, 0.05);
        Assert.InRange(sd, 0.45, 0.55);
        y.Sum().Backward();
        Assert.All(x.Grad!.ToDoubleArray(), g => Assert.Equal(1.0, g));
        Assert.Throws<ArgumentOutOfRangeException>(() => NN.GaussianNoise(x, -1));
    }
}
