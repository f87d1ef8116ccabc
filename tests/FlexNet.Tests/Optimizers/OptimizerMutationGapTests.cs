using FlexNet.Optimizers;
using FlexNet.Tests.Testing;
using FlexNet.Tensors;

namespace FlexNet.Tests.Optimizers;

/// <summary>
/// The update rules against update loops written here from their formulas (PyTorch's docs, downhill's ESGD), on 19
/// elements (vector body and scalar tail for any vector width) and on 3 (fewer than one vector), with weight decay,
/// hyper-parameters that matter (large ε, clamped step sizes, several steps) and the state slots compared too; every
/// rejection of a hyper-parameter with its whole message, and every bound accepted. Written for the Stryker run of
/// session 8 (docs/testing.md, "Optimizers (session 8)").
/// </summary>
public sealed class OptimizerMutationGapTests
{
    private const int N = 19;

    private static double[] W0(int n)
    {
        var w = new double[n];
        for (int i = 0; i < n; i++) w[i] = 1.7 * Math.Sin(1.3 * i + 0.4);
        return w;
    }

    /// <summary>Gradient at step t (1-based): changes sign between steps for some elements and not for others.</summary>
    private static double G(int t, int i, double w) => 1.5 * Math.Cos(0.9 * t + 1.1 * i) + 0.3 * w;

    /// <summary>Runs the rule through <see cref="Optimizer"/>; returns the weights and the state slots.</summary>
    private static (double[] W, double[][] Slots) Run(OptimizerRule rule, int n, int steps, DType dtype = DType.Float64)
    {
        var p = Tensor.FromArray(W0(n), n).To(dtype).RequireGrad();
        var opt = new Optimizer([p], rule);
        for (int t = 1; t <= steps; t++)
        {
            var w = p.ToDoubleArray();
            var g = new double[n];
            for (int i = 0; i < n; i++) g[i] = G(t, i, w[i]);
            p.Grad = Tensor.FromArray(g, n).To(dtype);
            opt.Step();
        }
        var st = opt.State(0)!;
        Assert.Equal(steps, st.Step);
        return (p.ToDoubleArray(), st.Slots.Select(s => s.ToDoubleArray()).ToArray());
    }

    /// <summary>Runs a hand-written per-element update <c>(t, i, w, g) → w</c> on the same trajectory.</summary>
    private static double[] Hand(int n, int steps, Func<int, int, double, double, double> update)
    {
        var w = W0(n);
        for (int t = 1; t <= steps; t++)
            for (int i = 0; i < n; i++) w[i] = update(t, i, w[i], G(t, i, w[i]));
        return w;
    }

    private static void Check(double[] expected, double[] actual, DType dtype, string what) =>
        T.Close(expected, actual, dtype == DType.Float64 ? 1e-12 : 2e-4, dtype == DType.Float64 ? 1e-14 : 2e-5, what);

    public static TheoryData<int, DType> Sizes => new() { { N, DType.Float64 }, { 3, DType.Float64 }, { N, DType.Float32 }, { 3, DType.Float32 } };

    [Theory]
    [MemberData(nameof(Sizes))]
    public void AdadeltaWithWeightDecayMatchesItsFormula(int n, DType dtype)
    {
        double[] v = new double[n], u = new double[n];
        var exp = Hand(n, 4, (t, i, w, g) =>
        {
            g += 0.2 * w;
            v[i] = 0.7 * v[i] + 0.3 * g * g;
            double delta = Math.Sqrt(u[i] + 0.01) / Math.Sqrt(v[i] + 0.01) * g;
            u[i] = 0.7 * u[i] + 0.3 * delta * delta;
            return w - 0.5 * delta;
        });
        var (wgot, slots) = Run(new Adadelta(0.5, rho: 0.7, epsilon: 0.01) { WeightDecay = 0.2 }, n, 4, dtype);
        Check(exp, wgot, dtype, "adadelta w");
        Check(v, slots[0], dtype, "adadelta square_avg");
        Check(u, slots[1], dtype, "adadelta acc_delta");
    }

    [Theory]
    [MemberData(nameof(Sizes))]
    public void AdagradWithWeightDecayLrDecayAndAccumulatorMatchesItsFormula(int n, DType dtype)
    {
        var s = Enumerable.Repeat(0.2, n).ToArray();
        var exp = Hand(n, 4, (t, i, w, g) =>
        {
            g += 0.2 * w;
            s[i] += g * g;
            return w - 0.5 / (1 + (t - 1) * 0.3) * g / (Math.Sqrt(s[i]) + 0.05);
        });
        var (wgot, slots) = Run(new Adagrad(0.5, epsilon: 0.05, learningRateDecay: 0.3, initialAccumulator: 0.2) { WeightDecay = 0.2 }, n, 4, dtype);
        Check(exp, wgot, dtype, "adagrad w");
        Check(s, slots[0], dtype, "adagrad sum");
    }

    [Theory]
    [MemberData(nameof(Sizes))]
    public void AdamWithCoupledDecayAndAdamWMatchTheirFormulas(int n, DType dtype)
    {
        foreach (bool decoupled in new[] { false, true })
        {
            double[] m = new double[n], v = new double[n];
            var exp = Hand(n, 4, (t, i, w, g) =>
            {
                if (decoupled) w *= 1 - 0.05 * 0.3;
                else g += 0.3 * w;
                m[i] = 0.8 * m[i] + 0.2 * g;
                v[i] = 0.9 * v[i] + 0.1 * g * g;
                double mh = m[i] / (1 - Math.Pow(0.8, t)), vh = v[i] / (1 - Math.Pow(0.9, t));
                return w - 0.05 * mh / (Math.Sqrt(vh) + 0.01);
            });
            OptimizerRule rule = decoupled ? new AdamW(0.05, 0.8, 0.9, 0.01, weightDecay: 0.3) : new Adam(0.05, 0.8, 0.9, 0.01) { WeightDecay = 0.3 };
            var (wgot, slots) = Run(rule, n, 4, dtype);
            Check(exp, wgot, dtype, rule.Name + " w");
            Check(m, slots[0], dtype, rule.Name + " exp_avg");
            Check(v, slots[1], dtype, rule.Name + " exp_avg_sq");
        }
    }

    [Theory]
    [MemberData(nameof(Sizes))]
    public void RmsPropPlainWithLargeEpsilonAndCenteredWithMomentumMatchTheirFormulas(int n, DType dtype)
    {
        var v = new double[n];
        var exp = Hand(n, 4, (t, i, w, g) =>
        {
            g += 0.2 * w;
            v[i] = 0.8 * v[i] + 0.2 * g * g;
            return w - 0.05 * (g / (Math.Sqrt(v[i]) + 0.1));
        });
        var (wgot, slots) = Run(new RmsProp(0.05, alpha: 0.8, epsilon: 0.1) { WeightDecay = 0.2 }, n, 4, dtype);
        Check(exp, wgot, dtype, "rmsprop w");
        Check(v, slots[0], dtype, "rmsprop square_avg");
        Assert.All(slots[1], b => Assert.Equal(0.0, b)); // no momentum: the buffer is never written
        Assert.All(slots[2], a => Assert.Equal(0.0, a)); // not centred: no gradient average

        double[] sa = new double[n], ga = new double[n], mb = new double[n];
        exp = Hand(n, 4, (t, i, w, g) =>
        {
            g += 0.2 * w;
            sa[i] = 0.8 * sa[i] + 0.2 * g * g;
            ga[i] = 0.8 * ga[i] + 0.2 * g;
            mb[i] = 0.6 * mb[i] + g / (Math.Sqrt(sa[i] - ga[i] * ga[i]) + 0.1);
            return w - 0.05 * mb[i];
        });
        (wgot, slots) = Run(new RmsProp(0.05, alpha: 0.8, epsilon: 0.1, momentum: 0.6, centered: true) { WeightDecay = 0.2 }, n, 4, dtype);
        Check(exp, wgot, dtype, "rmsprop centred w");
        Check(sa, slots[0], dtype, "rmsprop centred square_avg");
        Check(mb, slots[1], dtype, "rmsprop centred momentum_buffer");
        Check(ga, slots[2], dtype, "rmsprop centred grad_avg"); // its sign is seen only here: the update uses ga²
    }

    [Theory]
    [MemberData(nameof(Sizes))]
    public void RpropWithWeightDecayAndClampedStepSizesMatchesItsFormula(int n, DType dtype)
    {
        // η₊ = 2 reaches s_max = 0.05 from 0.02 in two growths; η₋ = 0.3 reaches s_min = 0.01 from 0.02 in one shrink
        double[] prev = new double[n], step = Enumerable.Repeat(0.02, n).ToArray();
        var exp = Hand(n, 7, (t, i, w, g) =>
        {
            g += 0.2 * w;
            double s = g * prev[i];
            if (s > 0) step[i] = Math.Min(step[i] * 2, 0.05);
            else if (s < 0) { step[i] = Math.Max(step[i] * 0.3, 0.01); g = 0; }
            prev[i] = g;
            return w - Math.Sign(g) * step[i];
        });
        var (wgot, slots) = Run(new Rprop(0.02, etaMinus: 0.3, etaPlus: 2, minStep: 0.01, maxStep: 0.05) { WeightDecay = 0.2 }, n, 7, dtype);
        Check(exp, wgot, dtype, "rprop w");
        Check(prev, slots[0], dtype, "rprop prev");
        Check(step, slots[1], dtype, "rprop step_size");
        if (n == N)
        {
            Assert.Contains(0.05, step); // both clamps were reached
            Assert.Contains(0.01, step);
        }
    }

    [Theory]
    [MemberData(nameof(Sizes))]
    public void SgdPlainAndMomentumWithWeightDecayMatchTheirFormulas(int n, DType dtype)
    {
        var exp = Hand(n, 3, (t, i, w, g) => w - 0.1 * (g + 0.2 * w));
        var (wgot, slots) = Run(new Sgd(0.1) { WeightDecay = 0.2 }, n, 3, dtype);
        Check(exp, wgot, dtype, "sgd w");
        Assert.Empty(slots);
        foreach (bool nesterov in new[] { false, true })
        {
            var b = new double[n];
            exp = Hand(n, 3, (t, i, w, g) =>
            {
                g += 0.2 * w;
                b[i] = t == 1 ? g : 0.7 * b[i] + g;
                return w - 0.1 * (nesterov ? g + 0.7 * b[i] : b[i]);
            });
            (wgot, slots) = Run(new Sgd(0.1, 0.7, nesterov) { WeightDecay = 0.2 }, n, 3, dtype);
            Check(exp, wgot, dtype, "momentum w");
            Check(b, slots[0], dtype, "momentum_buffer");
        }
    }

    /// <summary>ESGD's arithmetic with a given Hessian-vector product (the rule alone, through Apply).</summary>
    [Theory]
    [MemberData(nameof(Sizes))]
    public void EsgdWithWeightDecayMatchesItsFormula(int n, DType dtype)
    {
        var rule = new Esgd(0.05, halflife: 3, epsilon: 0.01) { WeightDecay = 0.2 };
        double gamma = Math.Pow(0.5, 1.0 / 3);
        Assert.Equal(gamma, rule.Gamma, 15);
        var w = W0(n);
        var p = Tensor.FromArray(w, n).To(dtype);
        var st = rule.Init(p);
        var d = new double[n];
        for (int t = 1; t <= 4; t++)
        {
            var g = new double[n];
            var hv = new double[n];
            var cur = p.ToDoubleArray();
            for (int i = 0; i < n; i++) { g[i] = G(t, i, cur[i]); hv[i] = Math.Sin(t + 0.5 * i); }
            rule.Apply(st, p, Tensor.FromArray(g, n).To(dtype), 0.05, Tensor.FromArray(hv, n).To(dtype));
            for (int i = 0; i < n; i++)
            {
                double gi = g[i] + 0.2 * w[i];
                d[i] = gamma * d[i] + (1 - gamma) * hv[i] * hv[i];
                w[i] -= 0.05 * gi / Math.Sqrt(d[i] + 0.01);
            }
        }
        Check(w, p.ToDoubleArray(), dtype, "esgd w");
        Check(d, st.Slots[0].ToDoubleArray(), dtype, "esgd d_ewma");
        Assert.Equal(4, st.Step);
    }

    /// <summary>Without weight decay a rule must not read the weights into the gradient: an infinite weight (in the
    /// vector body and in the tail) stays infinite and leaves every state slot finite (PyTorch skips the decay term
    /// when weight_decay = 0; adding 0·∞ would make NaNs).</summary>
    [Fact]
    public void ZeroWeightDecayNeverReadsTheWeightsIntoTheGradient()
    {
        var rules = new OptimizerRule[]
        {
            new Sgd(0.1), new Momentum(0.1), new Nesterov(0.1), new Adam(0.1), new RmsProp(0.1),
            new RmsProp(0.1, momentum: 0.5, centered: true), new Adagrad(0.1), new Adadelta(), new Rprop(), new Esgd(0.1),
        };
        foreach (var dtype in new[] { DType.Float64, DType.Float32 })
            foreach (var rule in rules)
            {
                var w = W0(N);
                w[2] = double.PositiveInfinity;
                w[17] = double.PositiveInfinity;
                var p = Tensor.FromArray(w, N).To(dtype);
                var st = rule.Init(p);
                for (int t = 1; t <= 3; t++)
                {
                    var g = new double[N];
                    for (int i = 0; i < N; i++) g[i] = G(t, i, 0);
                    var hv = Tensor.FromArray(g, N).To(dtype);
                    rule.Apply(st, p, Tensor.FromArray(g, N).To(dtype), rule.LearningRate, rule.NeedsHessianVectorProduct ? hv : null);
                }
                var got = p.ToDoubleArray();
                for (int i = 0; i < N; i++)
                    if (i is 2 or 17) Assert.True(double.IsPositiveInfinity(got[i]), $"{rule.Name} {dtype}: w[{i}] = {got[i]}");
                    else Assert.True(double.IsFinite(got[i]), $"{rule.Name} {dtype}: w[{i}] = {got[i]}");
                foreach (var s in st.Slots)
                    Assert.All(s.ToDoubleArray(), x => Assert.True(double.IsFinite(x), $"{rule.Name} {dtype}: a slot holds {x}"));
            }
    }

    [Fact]
    public void RuleNamesAndSlotNames()
    {
        var cases = new (OptimizerRule Rule, string Name, string[] Slots)[]
        {
            (new Sgd(), "sgd", []), (new Sgd(0.1, 0.5), "momentum", ["momentum_buffer"]), (new Momentum(), "momentum", ["momentum_buffer"]),
            (new Nesterov(), "nag", ["momentum_buffer"]), (new Sgd(0.1, 0.5, nesterov: true), "nag", ["momentum_buffer"]),
            (new Adam(), "adam", ["exp_avg", "exp_avg_sq"]), (new AdamW(), "adamw", ["exp_avg", "exp_avg_sq"]),
            (new RmsProp(), "rmsprop", ["square_avg", "momentum_buffer", "grad_avg"]), (new Adagrad(), "adagrad", ["sum"]),
            (new Adadelta(), "adadelta", ["square_avg", "acc_delta"]), (new Rprop(), "rprop", ["prev", "step_size"]),
            (new Esgd(), "esgd", ["d_ewma"]),
        };
        foreach (var (rule, name, slots) in cases)
        {
            Assert.Equal(name, rule.Name);
            var p = Tensor.Zeros([2], DType.Float64).RequireGrad();
            p.Grad = Tensor.FromArray(new[] { 0.5, -0.5 }, 2);
            var opt = new Optimizer([p], rule);
            opt.Step(rule.NeedsHessianVectorProduct ? () => (p * p).Sum() : null);
            var expected = new List<string> { "step", "0.step" };
            expected.AddRange(slots.Select(s => "0." + s));
            Assert.Equal(expected, opt.StateDict().Keys.ToList());
        }
    }

    private static void Rejects(OptimizerRule rule, string param, string message)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(rule.Validate);
        Assert.Equal(param, e.ParamName);
        Assert.Equal($"{message} (Parameter '{param}')", e.Message);
    }

    [Fact]
    public void EveryHyperParameterIsRejectedOutsideItsRangeWithItsMessage()
    {
        Rejects(new Adadelta(rho: -0.1), "Rho", "adadelta: rho must be in [0, 1]; got -0.1.");
        Rejects(new Adadelta(rho: 1.5), "Rho", "adadelta: rho must be in [0, 1]; got 1.5.");
        Rejects(new Adadelta(rho: double.NaN), "Rho", "adadelta: rho must be in [0, 1]; got NaN.");
        Rejects(new Adadelta(epsilon: -1), "Epsilon", "adadelta: epsilon must be >= 0; got -1.");
        Rejects(new Adadelta(-1), "LearningRate", "adadelta: learning rate must be finite and >= 0; got -1.");
        Rejects(new Adagrad(learningRateDecay: -1), "LearningRateDecay", "adagrad: lr_decay must be >= 0; got -1.");
        Rejects(new Adagrad(initialAccumulator: -1), "InitialAccumulator", "adagrad: initial accumulator must be >= 0; got -1.");
        Rejects(new Adagrad(epsilon: -1), "Epsilon", "adagrad: epsilon must be >= 0; got -1.");
        Rejects(new Adagrad() { WeightDecay = -1 }, "WeightDecay", "adagrad: weight decay must be finite and >= 0; got -1.");
        Rejects(new Adam(beta1: -0.1), "Beta1", "adam: beta1 must be in [0, 1); got -0.1.");
        Rejects(new Adam(beta1: 1), "Beta1", "adam: beta1 must be in [0, 1); got 1.");
        Rejects(new Adam(beta2: -0.1), "Beta2", "adam: beta2 must be in [0, 1); got -0.1.");
        Rejects(new Adam(beta2: 1), "Beta2", "adam: beta2 must be in [0, 1); got 1.");
        Rejects(new Adam(-1), "LearningRate", "adam: learning rate must be finite and >= 0; got -1.");
        Rejects(new AdamW(epsilon: -1), "Epsilon", "adamw: epsilon must be >= 0; got -1.");
        Rejects(new Esgd(halflife: 0), "Halflife", "esgd: halflife must be > 0; got 0.");
        Rejects(new Esgd(epsilon: -1), "Epsilon", "esgd: epsilon must be >= 0; got -1.");
        Rejects(new Esgd(-1), "LearningRate", "esgd: learning rate must be finite and >= 0; got -1.");
        Rejects(new RmsProp(alpha: -0.1), "Alpha", "rmsprop: alpha must be in [0, 1]; got -0.1.");
        Rejects(new RmsProp(alpha: 1.5), "Alpha", "rmsprop: alpha must be in [0, 1]; got 1.5.");
        Rejects(new RmsProp(momentum: 1), "Momentum", "rmsprop: momentum must be in [0, 1); got 1.");
        Rejects(new RmsProp(momentum: -0.1), "Momentum", "rmsprop: momentum must be in [0, 1); got -0.1.");
        Rejects(new RmsProp(epsilon: -1), "Epsilon", "rmsprop: epsilon must be >= 0; got -1.");
        Rejects(new RmsProp(-1), "LearningRate", "rmsprop: learning rate must be finite and >= 0; got -1.");
        foreach (var (minus, plus) in new[] { (0.5, 1.0), (0.0, 1.2), (1.0, 1.2), (1.5, 1.2), (-0.5, 1.2) })
            Rejects(new Rprop(etaMinus: minus, etaPlus: plus), "EtaPlus", $"rprop: need 0 < etaMinus < 1 < etaPlus; got {minus}, {plus}.");
        Rejects(new Rprop(minStep: -1), "MaxStep", "rprop: need 0 <= minStep <= maxStep; got -1, 50.");
        Rejects(new Rprop(minStep: 1, maxStep: 0.5), "MaxStep", "rprop: need 0 <= minStep <= maxStep; got 1, 0.5.");
        Rejects(new Rprop(-1), "LearningRate", "rprop: learning rate must be finite and >= 0; got -1.");
        Rejects(new Sgd(0.1, 1), "Momentum", "momentum: momentum must be in [0, 1); got 1.");
        Rejects(new Sgd(0.1, -0.5), "Momentum", "sgd: momentum must be in [0, 1); got -0.5.");
        Rejects(new Sgd(-1), "LearningRate", "sgd: learning rate must be finite and >= 0; got -1.");
        var e = Assert.Throws<ArgumentException>(new Sgd(0.1, 0, nesterov: true).Validate);
        Assert.Equal("nag: Nesterov momentum requires momentum > 0 and zero dampening (momentum 0, dampening 0).", e.Message);
        e = Assert.Throws<ArgumentException>(new Nesterov() { Dampening = 0.1 }.Validate);
        Assert.Equal("nag: Nesterov momentum requires momentum > 0 and zero dampening (momentum 0.9, dampening 0.1).", e.Message);
    }

    [Fact]
    public void EveryHyperParameterIsAcceptedAtItsBounds()
    {
        var ok = new OptimizerRule[]
        {
            new Adadelta(0, rho: 0, epsilon: 0), new Adadelta(rho: 1), new Adagrad(epsilon: 0, learningRateDecay: 0, initialAccumulator: 0),
            new Adam(beta1: 0, beta2: 0, epsilon: 0), new AdamW(epsilon: 0, weightDecay: 0), new Esgd(halflife: 1e-9, epsilon: 0),
            new RmsProp(alpha: 0, momentum: 0, epsilon: 0), new RmsProp(alpha: 1), new Rprop(minStep: 0, maxStep: 0),
            new Rprop(etaMinus: 1e-9, etaPlus: 1 + 1e-9, minStep: 0.1, maxStep: 0.1), new Sgd(0, 0) { WeightDecay = 0 },
        };
        foreach (var rule in ok) rule.Validate();
    }
}
