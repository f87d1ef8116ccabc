using FlexNet.Optimizers;
using FlexNet.Tests.Testing;
using FlexNet.Tensors;

namespace FlexNet.Tests.Optimizers;

public sealed class OptimizerTests
{
    private static readonly double[] W0 = [1.0, -2.0, 0.5, 3.0, -0.25, 0.0, 1.5, -1.0, 2.0, 0.75, -0.5];

    /// <summary>Gradient of step t (1-based): g = sin(w·(t+1)) + 0.1·t·i, deterministic and varying in sign.</summary>
    private static double Grad(double w, int t, int i) => Math.Sin(w * (t + 1)) + 0.1 * t * (i % 3 - 1);

    /// <summary>Runs <paramref name="steps"/> steps of <paramref name="rule"/> through the public API on W0.</summary>
    private static double[] Run(OptimizerRule rule, int steps, DType dtype = DType.Float64, LearningRateSchedule? schedule = null)
    {
        var p = Tensor.FromArray(W0, W0.Length).To(dtype).RequireGrad();
        var opt = new Optimizer([p], rule) { Schedule = schedule };
        for (int t = 1; t <= steps; t++)
        {
            var w = p.ToDoubleArray();
            var g = new double[w.Length];
            for (int i = 0; i < g.Length; i++) g[i] = Grad(w[i], t, i);
            p.Grad = Tensor.FromArray(g, g.Length).To(dtype);
            opt.Step();
        }
        return p.ToDoubleArray();
    }

    /// <summary>The same trajectory with a hand-written per-element update.</summary>
    private static double[] Hand(int steps, Func<int, int, double, double, double> update)
    {
        var w = (double[])W0.Clone();
        for (int t = 1; t <= steps; t++)
            for (int i = 0; i < w.Length; i++) w[i] = update(t, i, w[i], Grad(w[i], t, i));
        return w;
    }

    [Fact]
    public void SgdMomentumNesterovAndWeightDecayMatchHandComputation()
    {
        var buf = new double[W0.Length];
        var exp = Hand(4, (t, i, w, g) =>
        {
            g += 0.01 * w;
            buf[i] = t == 1 ? g : 0.8 * buf[i] + (1 - 0.1) * g;
            return w - 0.05 * buf[i];
        });
        T.Close(exp, Run(new Momentum(0.05, 0.8) { Dampening = 0.1, WeightDecay = 0.01 }, 4), 1e-13, 1e-15, "momentum");
        Array.Clear(buf);
        exp = Hand(4, (t, i, w, g) =>
        {
            buf[i] = t == 1 ? g : 0.9 * buf[i] + g;
            return w - 0.05 * (g + 0.9 * buf[i]);
        });
        T.Close(exp, Run(new Nesterov(0.05), 4), 1e-13, 1e-15, "nesterov");
        T.Close(Hand(3, (t, i, w, g) => w - 0.1 * g), Run(new Sgd(0.1), 3), 1e-13, 1e-15, "sgd");
    }

    [Fact]
    public void AdamWAdaDeltaRPropAndCenteredRmsPropMatchHandComputation()
    {
        double[] m = new double[W0.Length], v = new double[W0.Length];
        var exp = Hand(5, (t, i, w, g) =>
        {
            w *= 1 - 0.01 * 0.1;
            m[i] = 0.9 * m[i] + 0.1 * g;
            v[i] = 0.999 * v[i] + 0.001 * g * g;
            double mh = m[i] / (1 - Math.Pow(0.9, t)), vh = v[i] / (1 - Math.Pow(0.999, t));
            return w - 0.01 * mh / (Math.Sqrt(vh) + 1e-8);
        });
        T.Close(exp, Run(new AdamW(0.01, weightDecay: 0.1), 5), 1e-10, 1e-13, "adamw");

        double[] sq = new double[W0.Length], acc = new double[W0.Length];
        exp = Hand(5, (t, i, w, g) =>
        {
            sq[i] = 0.9 * sq[i] + 0.1 * g * g;
            double d = Math.Sqrt(acc[i] + 1e-6) / Math.Sqrt(sq[i] + 1e-6) * g;
            acc[i] = 0.9 * acc[i] + 0.1 * d * d;
            return w - 1.0 * d;
        });
        T.Close(exp, Run(new Adadelta(), 5), 1e-12, 1e-15, "adadelta");

        double[] prev = new double[W0.Length], step = Enumerable.Repeat(0.01, W0.Length).ToArray();
        exp = Hand(6, (t, i, w, g) =>
        {
            double s = g * prev[i];
            if (s > 0) step[i] = Math.Min(step[i] * 1.2, 50);
            else if (s < 0) { step[i] = Math.Max(step[i] * 0.5, 1e-6); g = 0; }
            prev[i] = g;
            return w - Math.Sign(g) * step[i];
        });
        T.Close(exp, Run(new Rprop(), 6), 1e-13, 1e-15, "rprop");

        double[] sa = new double[W0.Length], ga = new double[W0.Length], mb = new double[W0.Length];
        exp = Hand(4, (t, i, w, g) =>
        {
            sa[i] = 0.9 * sa[i] + 0.1 * g * g;
            ga[i] = 0.9 * ga[i] + 0.1 * g;
            mb[i] = 0.5 * mb[i] + g / (Math.Sqrt(sa[i] - ga[i] * ga[i]) + 1e-8);
            return w - 0.01 * mb[i];
        });
        T.Close(exp, Run(new RmsProp(0.01, alpha: 0.9, momentum: 0.5, centered: true), 4), 1e-10, 1e-13, "rmsprop centered");

        double[] sum = Enumerable.Repeat(0.1, W0.Length).ToArray();
        exp = Hand(4, (t, i, w, g) =>
        {
            sum[i] += g * g;
            return w - 0.1 / (1 + (t - 1) * 0.5) * g / (Math.Sqrt(sum[i]) + 1e-10);
        });
        T.Close(exp, Run(new Adagrad(0.1, learningRateDecay: 0.5, initialAccumulator: 0.1), 4), 1e-12, 1e-15, "adagrad");
    }

    [Fact]
    public void Float32UpdatesFollowFloat64()
    {
        foreach (var rule in new OptimizerRule[] { new Adam(0.01), new Nesterov(0.05), new RmsProp(0.01), new Adagrad(0.1), new Adadelta(), new AdamW(0.01) })
            T.Close(Run(rule, 5), Run(rule, 5, DType.Float32), 1e-4, 1e-5, rule.Name + " float32");
    }

    [Fact]
    public void EsgdUsesTheHessianDiagonalOfAQuadratic()
    {
        // L = ½ Σ a_i w_i²: ∇L = a ⊙ w, H r = a ⊙ r exactly (central differences are exact on quadratics)
        var a = new[] { 1.0, 4.0, 0.25, 9.0 };
        var w0 = new[] { 1.0, -1.0, 2.0, 0.5 };
        var p = Tensor.FromArray(w0, 4).RequireGrad();
        var at = Tensor.FromArray(a, 4);
        var rule = new Esgd(0.1);
        var opt = new Optimizer([p], rule) { Random = new RandomGenerator(77) };
        Tensor Loss() => (at * p.Square()).Sum() * 0.5;
        Loss().Backward();
        opt.Step(Loss);
        var r = Tensor.Normal([4], 0, 1, new RandomGenerator(77), DType.Float64).ToDoubleArray();
        double gamma = Math.Exp(-Math.Log(2) / 14);
        var exp = new double[4];
        for (int i = 0; i < 4; i++)
        {
            double d = (1 - gamma) * (a[i] * r[i]) * (a[i] * r[i]);
            exp[i] = w0[i] - 0.1 * a[i] * w0[i] / Math.Sqrt(d + 1e-8);
        }
        T.Close(exp, p.ToDoubleArray(), 1e-6, 1e-9, "esgd step");
        T.Close([a[0] * w0[0], a[1] * w0[1], a[2] * w0[2], a[3] * w0[3]], p.Grad!.ToDoubleArray(), 1e-12, 0, "gradient restored after probing");
        Assert.Throws<ArgumentException>(() => opt.Step());
    }

    [Fact]
    public void SchedulesGiveTheirValues()
    {
        var step = LearningRateSchedule.Step(3, 0.5);
        Assert.Equal([1, 1, 1, 0.5, 0.5, 0.5, 0.25], Enumerable.Range(0, 7).Select(t => step.Multiplier(t)).ToArray());
        var exp = LearningRateSchedule.Exponential(0.9);
        Assert.Equal(Math.Pow(0.9, 5), exp.Multiplier(5), 15);
        var cos = LearningRateSchedule.Cosine(10, 0.1);
        Assert.Equal(1.0, cos.Multiplier(0), 15);
        Assert.Equal(0.55, cos.Multiplier(5), 15);
        Assert.Equal(0.1, cos.Multiplier(10), 15);
        Assert.Equal(0.1, cos.Multiplier(50), 15);
        var warm = LearningRateSchedule.Warmup(4, 0.2);
        Assert.Equal([0.2, 0.4, 0.6, 0.8, 1, 1], Enumerable.Range(0, 6).Select(t => Math.Round(warm.Multiplier(t), 12)).ToArray());
        var composed = LearningRateSchedule.Warmup(2).Then(2, LearningRateSchedule.Cosine(4));
        Assert.Equal([0, 0.5, 1, (1 + Math.Cos(Math.PI / 4)) / 2, 0.5], Enumerable.Range(0, 5).Select(t => composed.Multiplier(t)).ToArray());
        var product = LearningRateSchedule.Warmup(2) * LearningRateSchedule.Exponential(0.5);
        Assert.Equal(0.5 * 0.5, product.Multiplier(1), 15);
        // the optimizer applies schedule(t) at step t (0-based): SGD moves by lr·m(t)·g
        var p = Tensor.FromArray(new[] { 0.0 }, 1).RequireGrad();
        var opt = new Optimizer([p], new Sgd(1.0)) { Schedule = LearningRateSchedule.Step(1, 0.1) };
        for (int t = 0; t < 3; t++) { p.Grad = Tensor.FromArray(new[] { 1.0 }, 1); opt.Step(); }
        Assert.Equal(-(1 + 0.1 + 0.01), p.Item(), 14);
        Assert.Throws<ArgumentOutOfRangeException>(() => LearningRateSchedule.Step(0));
    }

    [Fact]
    public void ClippingByValueAndGlobalNorm()
    {
        var a = Tensor.FromArray(new[] { 3.0, 0.0 }, 2).RequireGrad();
        var b = Tensor.FromArray(new[] { 4.0 }, 1).RequireGrad();
        a.Grad = Tensor.FromArray(new[] { 3.0, 0.0 }, 2);
        b.Grad = Tensor.FromArray(new[] { -4.0 }, 1);
        Assert.Equal(5.0, GradientClipping.GlobalNorm([a, b]), 14);
        Assert.Equal(5.0, GradientClipping.ClipByGlobalNorm([a, b], 1.0), 14);
        double s = 1.0 / (5 + 1e-6);
        T.Close([3 * s, 0], a.Grad.ToDoubleArray(), 1e-14, 0, "a");
        T.Close([-4 * s], b.Grad.ToDoubleArray(), 1e-14, 0, "b");
        GradientClipping.ClipByGlobalNorm([a, b], 10.0); // below the limit: unchanged
        T.Close([3 * s, 0], a.Grad.ToDoubleArray(), 1e-14, 0, "unchanged");
        b.Grad = Tensor.FromArray(new float[] { -4, 0.5f, 7 }, 3).To(DType.Float64);
        GradientClipping.ClipByValue([b], 1.0);
        Assert.Equal([-1.0, 0.5, 1.0], b.Grad.ToDoubleArray());
        // through the optimizer: SGD(lr 1) with ClipNorm 1 moves by the clipped gradient
        var p = Tensor.FromArray(new float[] { 0, 0 }, 2).RequireGrad();
        p.Grad = Tensor.FromArray(new float[] { 30, 40 }, 2);
        var opt = new Optimizer([p], new Sgd(1)) { ClipNorm = 1 };
        opt.Step();
        T.Close([-0.6, -0.8], p.ToDoubleArray(), 1e-6, 0, "clip in Step");
        Assert.Equal(50, opt.LastGradNorm, 4);
    }

    [Fact]
    public void StateDictRoundTripContinuesIdentically()
    {
        var p1 = Tensor.FromArray(W0, W0.Length).RequireGrad();
        var p2 = Tensor.FromArray(W0, W0.Length).RequireGrad();
        var o1 = new Optimizer([p1], new Adam(0.01));
        for (int t = 1; t <= 3; t++) { p1.Grad = Tensor.FromArray(W0.Select((w, i) => Grad(w, t, i)).ToArray(), W0.Length); o1.Step(); }
        p2.CopyFrom(p1);
        var state = o1.StateDict();
        Assert.Equal(3, state["step"].Item());
        Assert.Equal(3, state["0.step"].Item());
        Assert.True(state.ContainsKey("0.exp_avg") && state.ContainsKey("0.exp_avg_sq"));
        var o2 = new Optimizer([p2], new Adam(0.01));
        o2.LoadStateDict(state);
        for (int t = 4; t <= 6; t++)
        {
            var g = W0.Select((w, i) => Grad(w, t, i)).ToArray();
            p1.Grad = Tensor.FromArray(g, g.Length);
            p2.Grad = Tensor.FromArray(g, g.Length);
            o1.Step();
            o2.Step();
        }
        Assert.Equal(p1.ToDoubleArray(), p2.ToDoubleArray());
        var bad = new Dictionary<string, Tensor>(state) { ["0.exp_avg"] = Tensor.Zeros([2], DType.Float64) };
        var e = Assert.Throws<ShapeMismatchException>(() => new Optimizer([p2], new Adam()).LoadStateDict(bad));
        Assert.Contains("0.exp_avg", e.Message);
    }

    [Fact]
    public void OverridesGiveParametersTheirOwnRule()
    {
        var w = Tensor.FromArray(new[] { 1.0, 2.0 }, 1, 2).RequireGrad();
        var b = Tensor.FromArray(new[] { 1.0 }, 1).RequireGrad();
        (w.Name, b.Name) = ("dense.weight", "dense.bias");
        var opt = new Optimizer([w, b], new Sgd(0.5) { WeightDecay = 0.1 });
        Assert.Equal(1, opt.Override("*.bias", r => r with { WeightDecay = 0 }));
        Assert.Equal(0, opt.Override("nothing", r => r));
        w.Grad = Tensor.Zeros([1, 2], DType.Float64);
        b.Grad = Tensor.Zeros([1], DType.Float64);
        opt.Step();
        T.Close([1 - 0.05, 2 - 0.1], w.ToDoubleArray(), 1e-15, 0, "decayed weight");
        Assert.Equal(1.0, b.Item()); // no decay on the bias
        Assert.Throws<InvalidOperationException>(() => opt.Override("*", r => r));
        var fresh = new Optimizer([w, b], new Adam());
        Assert.Throws<ArgumentException>(() => fresh.Override("*", _ => new Sgd()));
        Assert.Equal(2, fresh.Override("dense.*", r => r with { LearningRate = 0.5 }));
        Assert.Equal(0.5, fresh.RuleOf(1).LearningRate);
    }

    [Fact]
    public void StepAllocatesNothingAfterTheFirst()
    {
        var ps = new[] { Tensor.Normal([64, 33], 0, 1, new RandomGenerator(1)).RequireGrad(), Tensor.Normal([33], 0, 1, new RandomGenerator(2)).RequireGrad() };
        foreach (var p in ps) p.Grad = Tensor.Normal(p.Shape.ToArray(), 0, 1, new RandomGenerator(3));
        foreach (var rule in new OptimizerRule[] { new Adam(), new Nesterov(), new RmsProp(), new Adagrad(), new Adadelta(), new Rprop(), new AdamW() })
        {
            var opt = new Optimizer(ps, rule) { ClipNorm = 1, Schedule = LearningRateSchedule.Cosine(100) };
            opt.Step();
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 10; i++) opt.Step();
            Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        }
    }

    [Fact]
    public void FactoryNamesDefaultsAndValidation()
    {
        var h = new Dictionary<string, string>();
        Assert.Equal(new Sgd(1e-3), OptimizerFactory.FromPyTorchName("SGD", h));
        var nag = (Sgd)OptimizerFactory.FromPyTorchName("SGD nesterov", new Dictionary<string, string> { ["lr"] = "0.1", ["momentum"] = "0.9" });
        Assert.True(nag.Nesterov);
        var adam = (Adam)OptimizerFactory.FromPyTorchName("Adam", new Dictionary<string, string> { ["betas"] = "(0.8, 0.99)", ["weight_decay"] = "0.1" });
        Assert.Equal((0.8, 0.99, 1e-3, 0.1), (adam.Beta1, adam.Beta2, adam.LearningRate, adam.WeightDecay));
        Assert.Equal(0.01, OptimizerFactory.FromPyTorchName("AdamW", h).WeightDecay);
        Assert.Equal(0.99, ((RmsProp)OptimizerFactory.FromPyTorchName("RMSprop", h)).Alpha);
        Assert.Equal(1e-10, ((Adagrad)OptimizerFactory.FromPyTorchName("Adagrad", h)).Epsilon);
        Assert.IsType<Rprop>(OptimizerFactory.FromPyTorchName("Rprop", h));
        Assert.IsType<Adadelta>(OptimizerFactory.FromPyTorchName("adadelta", h));
        Assert.Throws<ArgumentException>(() => OptimizerFactory.FromPyTorchName("LBFGS", h));
        Assert.Throws<ArgumentException>(() => OptimizerFactory.FromPyTorchName("SGD", new Dictionary<string, string> { ["lr"] = "fast" }));
        foreach (var n in new[] { "sgd", "momentum", "nag", "rmsprop", "adam", "adamw", "adadelta", "adagrad", "rprop", "esgd" })
            Assert.Equal(0.5, OptimizerFactory.Create(n, 0.5).LearningRate);
        Assert.Throws<ArgumentOutOfRangeException>(() => new Optimizer([Tensor.Zeros([1]).RequireGrad()], new Adam(-1)));
        Assert.Throws<ArgumentException>(() => new Optimizer([Tensor.Zeros([1]).RequireGrad()], new Sgd(0.1, 0, nesterov: true)));
        var nonLeaf = Tensor.Zeros([2]).RequireGrad() * 2.0;
        Assert.Throws<ArgumentException>(() => new Optimizer([nonLeaf], new Sgd()));
    }
}
