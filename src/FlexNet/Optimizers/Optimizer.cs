using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using FlexNet.Tensors;

namespace FlexNet.Optimizers;

/// <summary>
/// Applies an <see cref="OptimizerRule"/> to a fixed list of parameters (leaf tensors with
/// <see cref="Tensor.RequiresGrad"/>) after backward has set their <see cref="Tensor.Grad"/>:
/// optional clipping by value, then by global norm, then per parameter
/// <c>rule.Apply(state, w, g, η·schedule(t))</c>. Holds the per-parameter <see cref="ParamState"/>s (created at the
/// first step) and exports/imports them as named tensors for checkpoints. A step allocates nothing (except for
/// <see cref="Esgd"/>'s finite-difference Hessian-vector product).
/// </summary>
public sealed class Optimizer
{
    private readonly Tensor[] _params;
    private ParamState?[] _states;
    private readonly OptimizerRule[] _rules;
    private RandomGenerator? _rng;

    /// <summary>Creates the optimizer.</summary>
    /// <param name="parameters">Parameters to update, in a fixed order (the state names use the index).</param>
    /// <param name="rule">The update rule (validated here).</param>
    public Optimizer(IReadOnlyList<Tensor> parameters, OptimizerRule rule)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(rule);
        rule.Validate();
        _params = new Tensor[parameters.Count];
        for (int i = 0; i < _params.Length; i++)
        {
            var p = parameters[i] ?? throw new ArgumentException($"Optimizer: parameter {i} is null.", nameof(parameters));
            if (p.DType == DType.Int32) throw new ArgumentException($"Optimizer: parameter {ParamName(p, i)} is Int32; parameters must be float32 or float64.");
            if (!p.IsLeaf) throw new ArgumentException($"Optimizer: parameter {ParamName(p, i)} is not a leaf tensor (it was computed by {p.GradFn!.Name}).");
            if (!p.IsContiguous) throw new ArgumentException($"Optimizer: parameter {ParamName(p, i)} {ShapeUtil.Format(p.Shape)} must be contiguous.");
            _params[i] = p;
        }
        _states = new ParamState?[_params.Length];
        _rules = new OptimizerRule[_params.Length];
        Array.Fill(_rules, rule);
        Rule = rule;
    }

    /// <summary>The rule applied to parameter <paramref name="index"/> (<see cref="Rule"/> unless overridden).</summary>
    /// <param name="index">Parameter index.</param>
    /// <returns>The rule.</returns>
    public OptimizerRule RuleOf(int index) => _rules[index];

    /// <summary>Overrides the rule of every parameter whose name (<see cref="Tensor.Name"/>, or <c>#i</c>) matches
    /// the glob <paramref name="pattern"/> (<c>*</c>, <c>?</c>, alternatives split by <c>|</c>), e.g. no weight
    /// decay on biases: <c>opt.Override("*.b|*bias", r =&gt; r with { WeightDecay = 0 })</c>. The new rule must be
    /// of the same kind (same state slots). Call before the first step.</summary>
    /// <param name="pattern">Glob over parameter names.</param>
    /// <param name="change">Makes the parameter's rule from the current one.</param>
    /// <returns>The number of parameters overridden.</returns>
    public int Override(string pattern, Func<OptimizerRule, OptimizerRule> change)
    {
        ArgumentNullException.ThrowIfNull(pattern);
        ArgumentNullException.ThrowIfNull(change);
        var alts = pattern.Split('|');
        for (int i = 0; i < alts.Length; i++)
            alts[i] = System.Text.RegularExpressions.Regex.Escape(alts[i].Trim()).Replace(@"\*", ".*").Replace(@"\?", ".");
        var re = new System.Text.RegularExpressions.Regex("^(?:" + string.Join("|", alts) + ")$");
        int n = 0;
        for (int i = 0; i < _params.Length; i++)
        {
            if (!re.IsMatch(_params[i].Name ?? "#" + i)) continue;
            var r = change(_rules[i]) ?? throw new ArgumentException("Optimizer.Override: the change returned null.");
            if (r.GetType() != Rule.GetType() || r.SlotNames.Length != Rule.SlotNames.Length)
                throw new ArgumentException($"Optimizer.Override: parameter {ParamName(_params[i], i)} would get a '{r.Name}' rule; overrides must keep the kind '{Rule.Name}'.");
            r.Validate();
            if (_states[i] is not null) throw new InvalidOperationException($"Optimizer.Override: parameter {ParamName(_params[i], i)} has already been stepped.");
            _rules[i] = r;
            n++;
        }
        return n;
    }

    /// <summary>The rule.</summary>
    public OptimizerRule Rule { get; }

    /// <summary>The parameters, in state order.</summary>
    public IReadOnlyList<Tensor> Parameters => _params;

    /// <summary>Learning-rate schedule (multiplier of <see cref="OptimizerRule.LearningRate"/>); null = constant.</summary>
    public LearningRateSchedule? Schedule { get; set; }

    /// <summary>Clip every gradient element to [−c, c] before the update; null = off.</summary>
    public double? ClipValue { get; set; }

    /// <summary>Rescale gradients to at most this global L2 norm before the update; null = off.</summary>
    public double? ClipNorm { get; set; }

    /// <summary>Number of completed steps (the schedule sees this value during the next step).</summary>
    public long StepCount { get; private set; }

    /// <summary>Learning rate the next step will use: <c>η·schedule(StepCount)</c>.</summary>
    public double CurrentLearningRate => Rule.LearningRate * (Schedule?.Multiplier(StepCount) ?? 1);

    private double Multiplier => Schedule?.Multiplier(StepCount) ?? 1;

    /// <summary>Global gradient norm measured by the last step when <see cref="ClipNorm"/> is set (NaN otherwise).</summary>
    public double LastGradNorm { get; private set; } = double.NaN;

    /// <summary>Generator for ESGD's random probe vectors (default: a fixed seed).</summary>
    public RandomGenerator Random { get => _rng ??= new RandomGenerator(0x5EED); set => _rng = value; }

    /// <summary>Clears the gradients: sets them to null (PyTorch's <c>set_to_none=True</c>; a parameter that
    /// backward does not reach is then skipped by <see cref="Step"/>), or fills the existing buffers with zeros
    /// (<paramref name="setToNone"/> = false: backward accumulates into them, so steps allocate no gradient
    /// memory; an unreached parameter then gets a zero gradient and is still updated).</summary>
    /// <param name="setToNone">Null the gradients (default) or zero them in place.</param>
    public void ZeroGrad(bool setToNone = true)
    {
        for (int i = 0; i < _params.Length; i++)
        {
            if (setToNone) _params[i].Grad = null;
            else _params[i].Grad?.Fill(0);
        }
    }

    /// <summary>Sets every gradient to null as <see cref="ZeroGrad"/>(true) does, but keeps each dropped buffer
    /// with its parameter so that the next backward fills it instead of allocating one: the behaviour of
    /// set-to-none (an unreached parameter has no gradient and is skipped) without its allocation per step.
    /// For loops that own the parameters' gradients (the trainer): a reference to an old <c>Grad</c> kept across
    /// steps would see the next step's values.</summary>
    internal void RecycleGrads()
    {
        for (int i = 0; i < _params.Length; i++) _params[i].RecycleGrad();
    }

    /// <summary>One update of every parameter that has a gradient (parameters without one are left alone).</summary>
    /// <param name="lossClosure">Recomputes the loss at the current weights (forward only; the optimizer calls
    /// backward). Needed only by rules with <see cref="OptimizerRule.NeedsHessianVectorProduct"/>.</param>
    public void Step(Func<Tensor>? lossClosure = null)
    {
        if (ClipValue is { } cv) GradientClipping.ClipByValue(_params, cv);
        if (ClipNorm is { } cn) LastGradNorm = GradientClipping.ClipByGlobalNorm(_params, cn);
        Tensor?[]? hv = null;
        if (Rule.NeedsHessianVectorProduct)
        {
            if (lossClosure is null)
                throw new ArgumentException($"Optimizer: rule '{Rule.Name}' needs a Hessian-vector product; pass a loss closure to Step.", nameof(lossClosure));
            hv = HessianVector(lossClosure);
        }
        double mult = Multiplier;
        for (int i = 0; i < _params.Length; i++)
        {
            var p = _params[i];
            var g = p.Grad;
            if (g is null) continue;
            var rule = _rules[i];
            var st = _states[i] ??= rule.Init(p);
            if (!g.IsContiguous || g.DType != p.DType)
            {
                using (TensorScope.Suspend()) p.Grad = g = g.Contiguous().To(p.DType).Clone(); // outlives any step scope
            }
            rule.Apply(st, p, g, rule.LearningRate * mult, hv?[i]);
        }
        StepCount++;
    }

    /// <summary>Central-difference Hessian-vector products with r ~ N(0, 1):
    /// <c>Hr ≈ (∇L(w + h·r) − ∇L(w − h·r)) / 2h</c>, h = 1e-5 (float64) or 1e-2 (float32). Restores w and the gradients.</summary>
    private Tensor?[] HessianVector(Func<Tensor> closure)
    {
        int n = _params.Length;
        var probe = new Tensor?[n];
        var saved = new Tensor?[n];
        var plus = new Tensor?[n];
        using var suspend = TensorScope.Suspend();
        for (int i = 0; i < n; i++)
        {
            var p = _params[i];
            if (p.Grad is null) continue;
            probe[i] = Tensor.Normal(p.ShapeArray, 0, 1, Random, p.DType);
            saved[i] = p.Grad;
        }
        double h = _params.Length > 0 && _params[0].DType == DType.Float32 ? 1e-2 : 1e-5;
        for (int pass = 0; pass < 2; pass++)
        {
            double sign = pass == 0 ? 1 : -1;
            Shift(probe, sign * h);
            for (int i = 0; i < n; i++) _params[i].Grad = null;
            using (TensorScope.Begin())
            {
                var loss = closure();
                loss.Backward();
            }
            Shift(probe, -sign * h);
            for (int i = 0; i < n; i++)
            {
                // Stryker disable once Statement : speed only: a parameter without a gradient is not probed, and Step skips it, so its product (of the closure's gradient or zeros) is computed and never read
                if (probe[i] is null) continue;
                var g = _params[i].Grad ?? Tensor.ZerosLike(_params[i]);
                if (pass == 0) plus[i] = g;
                else
                {
                    var d = plus[i]!;
                    if (d.DType == DType.Float32) { TensorPrimitives.Subtract(d.F, g.F, d.F); TensorPrimitives.Multiply(d.F, (float)(0.5 / h), d.F); }
                    else { TensorPrimitives.Subtract(d.D, g.D, d.D); TensorPrimitives.Multiply(d.D, 0.5 / h, d.D); }
                }
            }
        }
        for (int i = 0; i < n; i++) _params[i].Grad = saved[i];
        return plus;
    }

    private void Shift(Tensor?[] probe, double scale)
    {
        for (int i = 0; i < _params.Length; i++)
        {
            var r = probe[i];
            if (r is null) continue;
            var p = _params[i];
            if (p.DType == DType.Float32) TensorPrimitives.MultiplyAdd(r.F, (float)scale, p.F, p.F);
            else TensorPrimitives.MultiplyAdd(r.D, scale, p.D, p.D);
        }
    }

    /// <summary>The optimizer state as named tensors (copies): <c>step</c> (scalar float64) and for parameter i
    /// <c>{i}.step</c> and <c>{i}.{slot}</c> (e.g. <c>0.exp_avg</c>). Parameters not yet stepped are absent.</summary>
    /// <returns>Name → tensor, in a stable order.</returns>
    public IReadOnlyDictionary<string, Tensor> StateDict()
    {
        var d = new Dictionary<string, Tensor>();
        using var suspend = TensorScope.Suspend();
        d["step"] = Tensor.Scalar(StepCount, DType.Float64);
        for (int i = 0; i < _states.Length; i++)
        {
            var st = _states[i];
            if (st is null) continue;
            d[$"{i}.step"] = Tensor.Scalar(st.Step, DType.Float64);
            for (int k = 0; k < st.Slots.Length; k++) d[$"{i}.{st.SlotNames[k]}"] = st.Slots[k].Clone();
        }
        return d;
    }

    /// <summary>Restores a state from <see cref="StateDict"/> (same rule kind and parameter shapes).</summary>
    /// <param name="state">Name → tensor.</param>
    public void LoadStateDict(IReadOnlyDictionary<string, Tensor> state)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (!state.TryGetValue("step", out var step))
            throw new ArgumentException("Optimizer.LoadStateDict: entry 'step' is missing.");
        var fresh = new ParamState?[_params.Length];
        for (int i = 0; i < _params.Length; i++)
        {
            if (!state.TryGetValue($"{i}.step", out var pstep)) continue;
            var st = _rules[i].Init(_params[i]);
            st.Step = (long)pstep.Item();
            for (int k = 0; k < st.Slots.Length; k++)
            {
                string key = $"{i}.{st.SlotNames[k]}";
                if (!state.TryGetValue(key, out var t))
                    throw new ArgumentException($"Optimizer.LoadStateDict: rule '{Rule.Name}' needs '{key}', which is missing.");
                if (!ShapeUtil.SameShape(t.Shape, st.Slots[k].Shape))
                    throw new ShapeMismatchException($"Optimizer.LoadStateDict: '{key}' has shape {ShapeUtil.Format(t.Shape)}; parameter {ParamName(_params[i], i)} is {ShapeUtil.Format(st.Slots[k].Shape)}.");
                st.Slots[k].CopyFrom(t.To(st.Slots[k].DType));
            }
            fresh[i] = st;
        }
        _states = fresh;
        StepCount = (long)step.Item();
    }

    /// <summary>The state of parameter <paramref name="index"/>, or null before its first update.</summary>
    /// <param name="index">Parameter index.</param>
    /// <returns>The state.</returns>
    public ParamState? State(int index) => _states[index];

    internal static string ParamName(Tensor p, int i) => p.Name is { } n ? $"'{n}'" : $"#{i}";
}
