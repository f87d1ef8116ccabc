using System.Numerics;

namespace FlexNet.Optimizers;

/// <summary>
/// Resilient backpropagation as <c>torch.optim.Rprop</c>: per element a step size s (starts at η) and the
/// previous gradient p. With <c>σ = sign(g·p)</c>: σ &gt; 0 → <c>s ← min(s·η₊, s_max)</c>; σ &lt; 0 →
/// <c>s ← max(s·η₋, s_min)</c> and g is treated as 0; then <c>w ← w − sign(g)·s</c>, <c>p ← g</c>.
/// (downhill's Rprop differs only in defaults: η₊ = 1.01, η₋ = 0.99, s ∈ [0, 100]; set them to reproduce it.)
/// </summary>
public sealed record Rprop : OptimizerRule
{
    /// <summary>Creates the rule (PyTorch defaults).</summary>
    /// <param name="learningRate">Initial step size η.</param>
    /// <param name="etaMinus">η₋ (decrease factor).</param>
    /// <param name="etaPlus">η₊ (increase factor).</param>
    /// <param name="minStep">s_min.</param>
    /// <param name="maxStep">s_max.</param>
    public Rprop(double learningRate = 0.01, double etaMinus = 0.5, double etaPlus = 1.2, double minStep = 1e-6, double maxStep = 50)
    {
        LearningRate = learningRate;
        EtaMinus = etaMinus;
        EtaPlus = etaPlus;
        MinStep = minStep;
        MaxStep = maxStep;
    }

    /// <inheritdoc/>
    public override string Name => "rprop";

    /// <summary>η₋.</summary>
    public double EtaMinus { get; init; }

    /// <summary>η₊.</summary>
    public double EtaPlus { get; init; }

    /// <summary>s_min.</summary>
    public double MinStep { get; init; }

    /// <summary>s_max.</summary>
    public double MaxStep { get; init; }

    /// <inheritdoc/>
    protected internal override string[] SlotNames => SlotList;

    private static readonly string[] SlotList = ["prev", "step_size"];

    /// <inheritdoc/>
    public override void Validate()
    {
        base.Validate();
        if (!(EtaMinus > 0 && EtaMinus < 1 && EtaPlus > 1))
            throw new ArgumentOutOfRangeException(nameof(EtaPlus), $"{Name}: need 0 < etaMinus < 1 < etaPlus; got {EtaMinus}, {EtaPlus}.");
        if (!(MinStep >= 0 && MaxStep >= MinStep))
            throw new ArgumentOutOfRangeException(nameof(MaxStep), $"{Name}: need 0 <= minStep <= maxStep; got {MinStep}, {MaxStep}.");
    }

    /// <inheritdoc/>
    protected override void InitSlots(ParamState state) => state.Slots[1].Fill(LearningRate);

    internal override bool ElementwiseUpdate => true;

    /// <inheritdoc/>
    protected override void Update<T>(ParamState state, Span<T> w, ReadOnlySpan<T> g, double lr, ReadOnlySpan<T> hv)
    {
        var prev = state.Slot<T>(0);
        var step = state.Slot<T>(1);
        T wd = C<T>(WeightDecay), up = C<T>(EtaPlus), down = C<T>(EtaMinus), lo = C<T>(MinStep), hi = C<T>(MaxStep);
        bool decay = WeightDecay != 0;
        int i = 0, n = w.Length, lanes = Vector<T>.Count;
        if (/* Stryker disable once Boolean : speed only: the scalar loop below computes the same expressions in the same order (width-independent results), so without the vector loop every element gets the same value */ Vector.IsHardwareAccelerated)
        {
            // lane-wise the scalar branches below as masks: prod > 0 grows the step, prod < 0 shrinks it and
            // zeroes g; the move is sign(g)·s (0 for g = 0), exactly the scalar CopySign form for s > 0
            Vector<T> vWd = new(wd), vUp = new(up), vDown = new(down), vLo = new(lo), vHi = new(hi), one = Vector<T>.One, zero = Vector<T>.Zero;
            for (; i <= n - lanes; i += lanes)
            {
                var wi = new Vector<T>(w.Slice(i));
                var gi = new Vector<T>(g.Slice(i));
                if (decay) gi += vWd * wi;
                var prod = gi * new Vector<T>(prev.Slice(i));
                var s = new Vector<T>(step.Slice(i));
                var grow = Vector.GreaterThan(prod, zero);
                var shrink = Vector.LessThan(prod, zero);
                s = Vector.ConditionalSelect(grow, Vector.Min(s * vUp, vHi), s);
                s = Vector.ConditionalSelect(shrink, Vector.Max(s * vDown, vLo), s);
                gi = Vector.ConditionalSelect(shrink, zero, gi);
                s.CopyTo(step.Slice(i));
                var sign = Vector.ConditionalSelect(Vector.GreaterThan(gi, zero), one, Vector.ConditionalSelect(Vector.LessThan(gi, zero), -one, zero));
                (wi - sign * s).CopyTo(w.Slice(i));
                gi.CopyTo(prev.Slice(i));
            }
        }
        for (; i < n; i++)
        {
            T gi = decay ? g[i] + wd * w[i] : g[i];
            T prod = gi * prev[i];
            T s = step[i];
            if (prod > T.Zero) s = T.Min(s * up, hi);
            else if (prod < T.Zero) { s = T.Max(s * down, lo); gi = T.Zero; }
            step[i] = s;
            w[i] -= T.CopySign(s, gi) * (gi == T.Zero ? T.Zero : T.One);
            prev[i] = gi;
        }
    }
}
