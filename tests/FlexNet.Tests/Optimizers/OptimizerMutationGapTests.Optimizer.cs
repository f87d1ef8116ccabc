using FlexNet.Optimizers;
using FlexNet.Tests.Testing;
using FlexNet.Tensors;

namespace FlexNet.Tests.Optimizers;

/// <summary>
/// <see cref="Optimizer"/> itself (argument checks with their messages, overrides by glob, gradient handling in
/// Step, ESGD's probing with the step h and its order seen from inside the loss closure, the state dictionary),
/// <see cref="OptimizerRule.Apply"/>'s checks, clipping, schedules at their boundaries and the factory's parsers.
/// Written for the Stryker run of session 8 (docs/testing.md, "Optimizers (session 8)").
/// </summary>
public sealed class OptimizerMutationGapTestsOptimizer
{
    private static Tensor P(params double[] v) => Tensor.FromArray(v, v.Length).RequireGrad();

    [Fact]
    public void ConstructorRejectsEachBadParameterWithItsMessage()
    {
        Assert.Equal("parameters", Assert.Throws<ArgumentNullException>(() => new Optimizer(null!, new Sgd())).ParamName);
        Assert.Equal("rule", Assert.Throws<ArgumentNullException>(() => new Optimizer([P(1)], null!)).ParamName);
        var e = Assert.Throws<ArgumentException>(() => new Optimizer([P(1), null!], new Sgd()));
        Assert.Equal("Optimizer: parameter 1 is null. (Parameter 'parameters')", e.Message);
        var ints = Tensor.FromArray(new[] { 1, 2 }, 2);
        ints.Name = "counts";
        e = Assert.Throws<ArgumentException>(() => new Optimizer([P(1), ints], new Sgd()));
        Assert.Equal("Optimizer: parameter 'counts' is Int32; parameters must be float32 or float64.", e.Message);
        var computed = P(1, 2) * 2.0;
        e = Assert.Throws<ArgumentException>(() => new Optimizer([computed], new Sgd()));
        Assert.Equal($"Optimizer: parameter #0 is not a leaf tensor (it was computed by {computed.GradFn!.Name}).", e.Message);
        Assert.False(string.IsNullOrEmpty(computed.GradFn!.Name));
        var strided = T.NonContiguous(T.Rand(3, 2, 3));
        Assert.False(strided.IsContiguous);
        e = Assert.Throws<ArgumentException>(() => new Optimizer([P(1), strided], new Sgd()));
        Assert.Equal("Optimizer: parameter #1 [2, 3] must be contiguous.", e.Message);
    }

    [Fact]
    public void OverrideMatchesGlobsAndRejectsEachBadChangeWithItsMessage()
    {
        var ps = new[] { P(1), P(2), P(3), P(4), P(5), P(6) };
        (ps[0].Name, ps[1].Name, ps[2].Name, ps[3].Name) = ("w", "w1", "w12", "ab");
        // ps[4] and ps[5] are unnamed: #4 and #5
        var opt = new Optimizer(ps, new Sgd(0.1));
        Assert.Equal("pattern", Assert.Throws<ArgumentNullException>(() => opt.Override(null!, r => r)).ParamName);
        Assert.Equal("change", Assert.Throws<ArgumentNullException>(() => opt.Override("*", null!)).ParamName);
        Assert.Equal(1, opt.Override("w?", r => r with { LearningRate = 0.2 })); // ? is exactly one character
        Assert.Equal([0.1, 0.2, 0.1], new[] { opt.RuleOf(0), opt.RuleOf(1), opt.RuleOf(2) }.Select(r => r.LearningRate).ToArray());
        Assert.Equal(2, opt.Override("w | ab", r => r with { LearningRate = 0.3 })); // alternatives, trimmed
        Assert.Equal(1, opt.Override("#5", r => r with { LearningRate = 0.4 }));
        Assert.Equal([0.3, 0.2, 0.1, 0.3, 0.1, 0.4], Enumerable.Range(0, 6).Select(i => opt.RuleOf(i).LearningRate).ToArray());
        var e = Assert.Throws<ArgumentException>(() => opt.Override("w", _ => null!));
        Assert.Equal("Optimizer.Override: the change returned null.", e.Message);
        // a different kind with the same slots, and the same kind with other slots
        var adam = new Optimizer(ps, new Adam());
        e = Assert.Throws<ArgumentException>(() => adam.Override("ab", _ => new AdamW()));
        Assert.Equal("Optimizer.Override: parameter 'ab' would get a 'adamw' rule; overrides must keep the kind 'adam'.", e.Message);
        e = Assert.Throws<ArgumentException>(() => opt.Override("#4", r => (Sgd)r with { Momentum = 0.9 }));
        Assert.Equal("Optimizer.Override: parameter #4 would get a 'momentum' rule; overrides must keep the kind 'sgd'.", e.Message);
        var range = Assert.Throws<ArgumentOutOfRangeException>(() => opt.Override("w", r => r with { LearningRate = -2 }));
        Assert.Equal("LearningRate", range.ParamName);
        Assert.Equal(0.3, opt.RuleOf(0).LearningRate);
        foreach (var p in ps) p.Grad = Tensor.FromArray(new[] { 1.0 }, 1);
        opt.Step();
        var stepped = Assert.Throws<InvalidOperationException>(() => opt.Override("#4", r => r));
        Assert.Equal("Optimizer.Override: parameter #4 has already been stepped.", stepped.Message);
        stepped = Assert.Throws<InvalidOperationException>(() => opt.Override("w1", r => r));
        Assert.Equal("Optimizer.Override: parameter 'w1' has already been stepped.", stepped.Message);
    }

    [Fact]
    public void CurrentLearningRateFollowsTheSchedule()
    {
        var p = P(0);
        var opt = new Optimizer([p], new Sgd(0.5));
        Assert.Equal(0.5, opt.CurrentLearningRate);
        opt.Schedule = LearningRateSchedule.Step(1, 0.1);
        Assert.Equal(0.5, opt.CurrentLearningRate);
        for (int t = 0; t < 2; t++) { p.Grad = Tensor.FromArray(new[] { 1.0 }, 1); opt.Step(); }
        Assert.Equal(2, opt.StepCount);
        Assert.Equal(0.5 * 0.1 * 0.1, opt.CurrentLearningRate, 15);
        Assert.Equal(-(0.5 + 0.05), p.Item(), 15);
    }

    [Fact]
    public void ZeroGradNullsOrZeroesAndRecycleGradsNullsEveryGradient()
    {
        var (a, b, c) = (P(1, 2), P(3), P(4));
        var opt = new Optimizer([a, b, c], new Sgd());
        var ga = Tensor.FromArray(new[] { 5.0, 6.0 }, 2);
        (a.Grad, b.Grad) = (ga, Tensor.FromArray(new[] { 7.0 }, 1));
        opt.ZeroGrad(setToNone: false);
        Assert.Same(ga, a.Grad);
        Assert.Equal([0.0, 0.0], a.Grad!.ToDoubleArray());
        Assert.Equal([0.0], b.Grad!.ToDoubleArray());
        Assert.Null(c.Grad);
        opt.ZeroGrad();
        Assert.Null(a.Grad);
        Assert.Null(b.Grad);
        (a.Grad, b.Grad, c.Grad) = (ga, Tensor.FromArray(new[] { 7.0 }, 1), Tensor.FromArray(new[] { 8.0 }, 1));
        opt.RecycleGrads();
        Assert.Null(a.Grad);
        Assert.Null(b.Grad);
        Assert.Null(c.Grad);
    }

    [Fact]
    public void StepClipsByValueSkipsParametersWithoutGradientAndConvertsForeignGradients()
    {
        var (a, b) = (P(0, 0, 0), P(1));
        var opt = new Optimizer([a, b], new Sgd(1)) { ClipValue = 0.5 };
        a.Grad = Tensor.FromArray(new[] { -2.0, 0.25, 3.0 }, 3);
        opt.Step();
        Assert.Equal([0.5, -0.25, -0.5], a.ToDoubleArray());
        Assert.Equal(1.0, b.Item());
        Assert.Null(opt.State(1));
        Assert.NotNull(opt.State(0));

        // a float32 gradient of a float64 parameter, and a strided one: both used as contiguous float64 copies
        var c = Tensor.FromArray(new[] { 1.0, 2.0, 3.0, 4.0, 5.0, 6.0 }, 2, 3).RequireGrad();
        var d = Tensor.FromArray(new[] { 1.0, 2.0 }, 2).RequireGrad();
        var opt2 = new Optimizer([c, d], new Sgd(0.5));
        var gc = T.NonContiguous(Tensor.FromArray(new[] { 2.0, 4.0, 6.0, 8.0, 10.0, 12.0 }, 2, 3));
        Assert.False(gc.IsContiguous);
        c.Grad = gc;
        d.Grad = Tensor.FromArray(new float[] { 0.5f, -1.5f }, 2);
        opt2.Step();
        Assert.Equal([0.0, 0.0, 0.0, 0.0, 0.0, 0.0], c.ToDoubleArray());
        Assert.Equal([0.75, 2.75], d.ToDoubleArray());
        Assert.True(c.Grad!.IsContiguous);
        Assert.Equal(DType.Float64, d.Grad!.DType);
        Assert.Equal([0.5, -1.5], d.Grad.ToDoubleArray());
    }

    /// <summary>ESGD through the optimizer on L = Σ a·w⁴/4 (∇L = a·w³): the closure sees w + h·r first, then w − h·r,
    /// with h = 1e-5 for float64 and 1e-2 for float32 and r the generator's normals for each parameter that has a
    /// gradient (in order); the central difference is a·(3w²r + h²r³) exactly; parameters without a gradient are
    /// neither probed nor moved.</summary>
    [Theory]
    [InlineData(DType.Float64)]
    [InlineData(DType.Float32)]
    public void EsgdProbesWithTheRightStepOrderAndGenerator(DType dtype)
    {
        const int n = 19;
        double h = dtype == DType.Float64 ? 1e-5 : 1e-2;
        var a = new double[n];
        var w = new double[n];
        for (int i = 0; i < n; i++) { a[i] = 0.5 + 0.1 * i; w[i] = Math.Cos(0.7 * i + 0.2); }
        var idle = Tensor.FromArray(new[] { 3.0, 4.0 }, 2).To(dtype).RequireGrad();
        var p = Tensor.FromArray(w, n).To(dtype).RequireGrad();
        var at = Tensor.FromArray(a, n).To(dtype);
        var rule = new Esgd(0.05, halflife: 2, epsilon: 1e-3);
        var opt = new Optimizer([idle, p], rule) { Random = new RandomGenerator(41) };
        var seen = new List<double[]>();
        Tensor Loss()
        {
            seen.Add(p.ToDoubleArray());
            return (at * p.Square().Square()).Sum() * 0.25;
        }
        var rng = new RandomGenerator(41);
        double gamma = Math.Pow(0.5, 0.5);
        var dd = new double[n];
        var cur = p.ToDoubleArray();
        for (int step = 0; step < 3; step++)
        {
            p.Grad = null;
            Loss().Backward();
            seen.Clear();
            opt.Step(Loss);
            var r = Tensor.Normal([n], 0, 1, rng, dtype).ToDoubleArray();
            Assert.Equal(2, seen.Count);
            for (int i = 0; i < n; i++)
            {
                Assert.Equal(cur[i] + h * r[i], seen[0][i], dtype == DType.Float64 ? 1e-13 : 1e-6);
                Assert.Equal(cur[i] - h * r[i], seen[1][i], dtype == DType.Float64 ? 1e-13 : 1e-6);
                double hv = a[i] * (3 * cur[i] * cur[i] * r[i] + h * h * r[i] * r[i] * r[i]);
                dd[i] = gamma * dd[i] + (1 - gamma) * hv * hv;
                cur[i] -= 0.05 * a[i] * cur[i] * cur[i] * cur[i] / Math.Sqrt(dd[i] + 1e-3);
            }
            T.Close(cur, p.ToDoubleArray(), dtype == DType.Float64 ? 1e-9 : 2e-3, dtype == DType.Float64 ? 1e-12 : 2e-4, $"esgd step {step}");
            cur = p.ToDoubleArray();
            Assert.Equal([3.0, 4.0], idle.ToDoubleArray());
            Assert.Null(idle.Grad);
            Assert.Null(opt.State(0));
        }
        var e = Assert.Throws<ArgumentException>(() => opt.Step());
        Assert.Equal("Optimizer: rule 'esgd' needs a Hessian-vector product; pass a loss closure to Step. (Parameter 'lossClosure')", e.Message);
    }

    [Fact]
    public void EsgdWithoutParametersStillSteps()
    {
        var z = Tensor.Scalar(1.0, DType.Float64).RequireGrad();
        var opt = new Optimizer([], new Esgd());
        int calls = 0;
        opt.Step(() => { calls++; return z * 2.0; });
        Assert.Equal(2, calls);
        Assert.Equal(1, opt.StepCount);
    }

    [Fact]
    public void StateDictListsSteppedParametersAndLoadRejectsMissingEntriesWithTheirMessages()
    {
        var (a, b) = (P(1, 2), P(3));
        var opt = new Optimizer([a, b], new Adam(0.1));
        a.Grad = Tensor.FromArray(new[] { 0.5, -0.5 }, 2);
        opt.Step();
        var state = opt.StateDict();
        Assert.Equal(["step", "0.step", "0.exp_avg", "0.exp_avg_sq"], state.Keys.ToList());

        // load: b has no entries and stays unstepped; a continues from its state
        var (a2, b2) = (P(1, 2), P(3));
        var opt2 = new Optimizer([a2, b2], new Adam(0.1));
        opt2.LoadStateDict(state);
        Assert.Equal(1, opt2.StepCount);
        Assert.Null(opt2.State(1));
        Assert.Equal(1, opt2.State(0)!.Step);
        Assert.Equal(state["0.exp_avg"].ToDoubleArray(), opt2.State(0)!.Slots[0].ToDoubleArray());

        // entries of parameters beyond the list are ignored, as those of unstepped ones are
        var wide = new Dictionary<string, Tensor>(state) { ["1.step"] = Tensor.Scalar(1, DType.Float64), ["1.exp_avg"] = Tensor.Zeros([1], DType.Float64), ["1.exp_avg_sq"] = Tensor.Zeros([1], DType.Float64) };
        var single = new Optimizer([P(1, 2)], new Adam(0.1));
        single.LoadStateDict(wide);
        Assert.NotNull(single.State(0));

        Assert.Equal("state", Assert.Throws<ArgumentNullException>(() => opt2.LoadStateDict(null!)).ParamName);
        var noStep = new Dictionary<string, Tensor>(state);
        noStep.Remove("step");
        var e = Assert.Throws<ArgumentException>(() => opt2.LoadStateDict(noStep));
        Assert.Equal("Optimizer.LoadStateDict: entry 'step' is missing.", e.Message);
        var noSlot = new Dictionary<string, Tensor>(state);
        noSlot.Remove("0.exp_avg_sq");
        e = Assert.Throws<ArgumentException>(() => opt2.LoadStateDict(noSlot));
        Assert.Equal("Optimizer.LoadStateDict: rule 'adam' needs '0.exp_avg_sq', which is missing.", e.Message);
        var badShape = new Dictionary<string, Tensor>(state) { ["0.exp_avg"] = Tensor.Zeros([3], DType.Float64) };
        var s = Assert.Throws<ShapeMismatchException>(() => opt2.LoadStateDict(badShape));
        Assert.Equal("Optimizer.LoadStateDict: '0.exp_avg' has shape [3]; parameter #0 is [2].", s.Message);
    }

    [Fact]
    public void ApplyRejectsEachMismatchWithItsMessage()
    {
        var rule = new Adam();
        var w = Tensor.FromArray(new[] { 1.0, 2.0 }, 2);
        w.Name = "w";
        var st = rule.Init(w);
        var strided = T.NonContiguous(Tensor.FromArray(new[] { 1.0, 2.0, 3.0, 4.0, 5.0, 6.0 }, 2, 3));
        var e = Assert.Throws<ArgumentException>(() => rule.Apply(st, w, strided, 0.1));
        Assert.Equal("adam: parameter 'w' and its gradient must be contiguous.", e.Message);
        var s = Assert.Throws<ShapeMismatchException>(() => rule.Apply(st, w, Tensor.Zeros([3], DType.Float64), 0.1));
        Assert.Equal("adam: gradient [3] Float64 does not match parameter 'w' [2] Float64.", s.Message);
        s = Assert.Throws<ShapeMismatchException>(() => rule.Apply(st, w, Tensor.Zeros([2], DType.Float32), 0.1));
        Assert.Equal("adam: gradient [2] Float32 does not match parameter 'w' [2] Float64.", s.Message);
        e = Assert.Throws<ArgumentException>(() => rule.Apply(rule.Init(Tensor.Zeros([3], DType.Float64)), w, Tensor.Zeros([2], DType.Float64), 0.1));
        Assert.Equal("adam: state does not belong to parameter 'w' [2].", e.Message);
        e = Assert.Throws<ArgumentException>(() => rule.Apply(new Adagrad().Init(w), w, Tensor.Zeros([2], DType.Float64), 0.1));
        Assert.Equal("adam: state does not belong to parameter 'w' [2].", e.Message);
        var esgd = new Esgd();
        e = Assert.Throws<ArgumentException>(() => esgd.Apply(esgd.Init(w), w, Tensor.Zeros([2], DType.Float64), 0.1));
        Assert.Equal("esgd: needs a Hessian-vector product; call Optimizer.Step with a loss closure.", e.Message);
        Assert.Equal(0, st.Step);
        Assert.Equal([1.0, 2.0], w.ToDoubleArray());
        e = Assert.Throws<ArgumentException>(() => new ParamState(["a", "b"], [Tensor.Zeros([1])]));
        Assert.Equal("ParamState: one tensor per slot name.", e.Message);
    }

    [Fact]
    public void ClippingRejectsNonPositiveLimitsSkipsMissingGradientsAndClampsFloat32()
    {
        var (a, b) = (P(0, 0, 0), P(0));
        a.Grad = Tensor.FromArray(new float[] { -3, 0.5f, 2 }, 3);
        var ps = new[] { b, a };
        GradientClipping.ClipByValue(ps, 1);
        Assert.Equal([-1.0, 0.5, 1.0], a.Grad.ToDoubleArray());
        Assert.Equal(Math.Sqrt(2.25), GradientClipping.GlobalNorm(ps), 12);
        Assert.Equal(1.5, GradientClipping.ClipByGlobalNorm(ps, 0.75), 6);
        double scale = 0.75 / (1.5 + 1e-6);
        T.Close([-scale, 0.5 * scale, scale], a.Grad.ToDoubleArray(), 1e-6, 0, "clipped float32");
        Assert.Null(b.Grad);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => GradientClipping.ClipByValue(ps, 0));
        Assert.Equal("ClipByValue: clip value must be > 0; got 0. (Parameter 'clipValue')", e.Message);
        e = Assert.Throws<ArgumentOutOfRangeException>(() => GradientClipping.ClipByGlobalNorm(ps, 0));
        Assert.Equal("ClipByGlobalNorm: max norm must be > 0; got 0. (Parameter 'maxNorm')", e.Message);
    }

    [Fact]
    public void SchedulesAtTheirBoundaries()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => LearningRateSchedule.Step(0));
        Assert.Equal("Step schedule: step size must be > 0; got 0. (Parameter 'size')", e.Message);
        e = Assert.Throws<ArgumentOutOfRangeException>(() => LearningRateSchedule.Cosine(0));
        Assert.Equal("Cosine schedule: total steps must be > 0; got 0. (Parameter 'total')", e.Message);
        e = Assert.Throws<ArgumentOutOfRangeException>(() => LearningRateSchedule.Warmup(0));
        Assert.Equal("Warm-up schedule: steps must be > 0; got 0. (Parameter 'steps')", e.Message);
        Assert.Equal(0.5, LearningRateSchedule.Cosine(1).Multiplier(0) / 2); // T = 1 is allowed
        Assert.Equal(1.0, LearningRateSchedule.Warmup(1, 0.5).Multiplier(1));
        // at t = W the warm-up is exactly 1 (0.3 + 0.7·3/3 rounds to 0.9999999999999998)
        var warm = LearningRateSchedule.Warmup(3, 0.3);
        Assert.Equal(1.0, warm.Multiplier(3));
        Assert.Equal(0.3 + 0.7 * 2 / 3.0, warm.Multiplier(2), 15);
        // the next phase starts at t = n, counted from 0
        var seq = LearningRateSchedule.Exponential(0.5).Then(3, LearningRateSchedule.Exponential(0.9));
        Assert.Equal([1.0, 0.5, 0.25, 1.0, 0.9], Enumerable.Range(0, 5).Select(t => Math.Round(seq.Multiplier(t), 15)).ToArray());
    }

    [Fact]
    public void FactoryParsesBooleansAndPairsAndNamesUnknownOptimizers()
    {
        Dictionary<string, string> H(string k, string v) => new() { [k] = v };
        foreach (var (text, value) in new[] { ("true", true), ("1", true), (" TRUE ", true), ("false", false), ("0", false) })
        {
            Assert.Equal(value, ((RmsProp)OptimizerFactory.FromPyTorchName("RMSprop", H("centered", text))).Centered);
        }
        var e = Assert.Throws<ArgumentException>(() => OptimizerFactory.FromPyTorchName("RMSprop", H("centered", "yes")));
        Assert.Equal("OptimizerFactory: 'centered' = 'yes' is not a boolean.", e.Message);
        e = Assert.Throws<ArgumentException>(() => OptimizerFactory.FromPyTorchName("Adam", H("betas", "0.9")));
        Assert.Equal("OptimizerFactory: 'betas' = '0.9' is not a pair 'a,b'.", e.Message);
        e = Assert.Throws<ArgumentException>(() => OptimizerFactory.FromPyTorchName("Adam", H("betas", "0.9, x")));
        Assert.Equal("OptimizerFactory: 'betas' = '0.9, x' is not a pair 'a,b'.", e.Message);
        e = Assert.Throws<ArgumentException>(() => OptimizerFactory.FromPyTorchName("   ", H("lr", "1")));
        Assert.Equal("OptimizerFactory: unknown PyTorch optimizer '   ' (known: SGD, SGD nesterov, Adam, AdamW, RMSprop, Adagrad, Adadelta, Rprop). (Parameter 'op')", e.Message);
        e = Assert.Throws<ArgumentException>(() => OptimizerFactory.Create("lbfgs"));
        Assert.StartsWith("OptimizerFactory: ", e.Message);
        Assert.Contains("'lbfgs'", e.Message);
        Assert.Equal("name", ((ArgumentException)e).ParamName);
        var rp = (Rprop)OptimizerFactory.FromPyTorchName("Rprop", new Dictionary<string, string> { ["etas"] = "(0.4, 1.3)", ["step_sizes"] = "[0.001, 10]" });
        Assert.Equal((0.4, 1.3, 0.001, 10.0), (rp.EtaMinus, rp.EtaPlus, rp.MinStep, rp.MaxStep));
    }
}
