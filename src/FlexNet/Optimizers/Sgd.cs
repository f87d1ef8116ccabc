using System.Numerics;

namespace FlexNet.Optimizers;

/// <summary>
/// Stochastic gradient descent with optional (Nesterov) momentum, exactly as <c>torch.optim.SGD</c>:
/// <c>g ← g + λw</c>; with momentum μ: <c>b ← g</c> at t = 1, else <c>b ← μb + (1−τ)g</c> (τ = dampening);
/// the step direction is <c>g + μb</c> (Nesterov) or <c>b</c>; <c>w ← w − η·direction</c>.
/// Without momentum: <c>w ← w − η·g</c>.
/// </summary>
public record Sgd : OptimizerRule
{
    /// <summary>Creates the rule.</summary>
    /// <param name="learningRate">η.</param>
    /// <param name="momentum">μ (0: plain SGD).</param>
    /// <param name="nesterov">Nesterov momentum (PyTorch form; needs μ &gt; 0).</param>
    public Sgd(double learningRate = 0.01, double momentum = 0, bool nesterov = false)
    {
        LearningRate = learningRate;
        Momentum = momentum;
        Nesterov = nesterov;
    }

    /// <inheritdoc/>
    public override string Name => Nesterov ? "nag" : Momentum > 0 ? "momentum" : "sgd";

    /// <summary>Momentum μ in [0, 1).</summary>
    public double Momentum { get; init; }

    /// <summary>Dampening τ of the momentum buffer (PyTorch's <c>dampening</c>).</summary>
    public double Dampening { get; init; }

    /// <summary>Use Nesterov's look-ahead direction <c>g + μb</c>.</summary>
    public bool Nesterov { get; init; }

    /// <inheritdoc/>
    protected internal override string[] SlotNames => Momentum > 0 ? MomentumSlots : NoSlots;

    private static readonly string[] MomentumSlots = ["momentum_buffer"];
    private static readonly string[] NoSlots = [];

    /// <inheritdoc/>
    public override void Validate()
    {
        base.Validate();
        if (!(Momentum >= 0) || Momentum >= 1) throw new ArgumentOutOfRangeException(nameof(Momentum), $"{Name}: momentum must be in [0, 1); got {Momentum}.");
        if (Nesterov && (Momentum <= 0 || Dampening != 0))
            throw new ArgumentException($"{Name}: Nesterov momentum requires momentum > 0 and zero dampening (momentum {Momentum}, dampening {Dampening}).");
    }

    internal override bool ElementwiseUpdate => true;

    /// <inheritdoc/>
    protected override void Update<T>(ParamState state, Span<T> w, ReadOnlySpan<T> g, double lr, ReadOnlySpan<T> hv)
    {
        T eta = C<T>(lr), wd = C<T>(WeightDecay), mu = C<T>(Momentum), damp = C<T>(1 - Dampening);
        bool decay = WeightDecay != 0;
        int i = 0, n = w.Length, lanes = Vector<T>.Count;
        // Vector<T> lanes compute exactly the scalar expressions below (same operations, same order; no FMA
        // contraction), so results do not depend on the vector width; the scalar loop finishes the tail.
        var vEta = new Vector<T>(eta);
        var vWd = new Vector<T>(wd);
        if (Momentum == 0)
        {
            if (/* Stryker disable once Boolean : speed only: the scalar loop below computes the same expressions in the same order (width-independent results), so without the vector loop every element gets the same value */ Vector.IsHardwareAccelerated)
                for (; i <= n - lanes; i += lanes)
                {
                    var wi = new Vector<T>(w.Slice(i));
                    var gi = new Vector<T>(g.Slice(i));
                    if (decay) gi += vWd * wi;
                    (wi - vEta * gi).CopyTo(w.Slice(i));
                }
            for (; i < n; i++)
            {
                T gi = decay ? g[i] + wd * w[i] : g[i];
                w[i] -= eta * gi;
            }
            return;
        }
        var b = state.Slot<T>(0);
        bool first = state.Step == 1;
        if (/* Stryker disable once Boolean : speed only: the scalar loop below computes the same expressions in the same order (width-independent results), so without the vector loop every element gets the same value */ Vector.IsHardwareAccelerated)
        {
            var vMu = new Vector<T>(mu);
            var vDamp = new Vector<T>(damp);
            for (; i <= n - lanes; i += lanes)
            {
                var wi = new Vector<T>(w.Slice(i));
                var gi = new Vector<T>(g.Slice(i));
                if (decay) gi += vWd * wi;
                var bi = first ? gi : vMu * new Vector<T>(b.Slice(i)) + vDamp * gi;
                bi.CopyTo(b.Slice(i));
                (wi - vEta * (Nesterov ? gi + vMu * bi : bi)).CopyTo(w.Slice(i));
            }
        }
        for (; i < n; i++)
        {
            T gi = decay ? g[i] + wd * w[i] : g[i];
            T bi = first ? gi : mu * b[i] + damp * gi;
            b[i] = bi;
            w[i] -= eta * (Nesterov ? gi + mu * bi : bi);
        }
    }
}

/// <summary>SGD with classical momentum (default μ = 0.9); see <see cref="Sgd"/> for the update.</summary>
public sealed record Momentum : Sgd
{
    /// <summary>Creates the rule.</summary>
    /// <param name="learningRate">η.</param>
    /// <param name="momentum">μ.</param>
    public Momentum(double learningRate = 0.01, double momentum = 0.9) : base(learningRate, momentum) { }
}

/// <summary>SGD with Nesterov momentum (default μ = 0.9) in PyTorch's form; see <see cref="Sgd"/>.</summary>
public sealed record Nesterov : Sgd
{
    /// <summary>Creates the rule.</summary>
    /// <param name="learningRate">η.</param>
    /// <param name="momentum">μ.</param>
    public Nesterov(double learningRate = 0.01, double momentum = 0.9) : base(learningRate, momentum, nesterov: true) { }
}
