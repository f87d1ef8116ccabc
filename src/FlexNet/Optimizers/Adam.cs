using System.Numerics;

namespace FlexNet.Optimizers;

/// <summary>
/// Adam as <c>torch.optim.Adam</c>: <c>g ← g + λw</c>; <c>m ← m + (1−β₁)(g − m)</c>; <c>v ← β₂v + (1−β₂)g²</c>;
/// <c>w ← w − (η/(1−β₁ᵗ))·m / (√v/√(1−β₂ᵗ) + ε)</c>.
/// </summary>
public record Adam : OptimizerRule
{
    /// <summary>Creates the rule (PyTorch defaults).</summary>
    /// <param name="learningRate">η.</param>
    /// <param name="beta1">β₁.</param>
    /// <param name="beta2">β₂.</param>
    /// <param name="epsilon">ε, added after the square root.</param>
    public Adam(double learningRate = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double epsilon = 1e-8)
    {
        LearningRate = learningRate;
        Beta1 = beta1;
        Beta2 = beta2;
        Epsilon = epsilon;
    }

    /// <inheritdoc/>
    public override string Name => "adam";

    /// <summary>β₁, decay of the first moment.</summary>
    public double Beta1 { get; init; }

    /// <summary>β₂, decay of the second moment.</summary>
    public double Beta2 { get; init; }

    /// <summary>ε.</summary>
    public double Epsilon { get; init; }

    /// <inheritdoc/>
    protected internal override string[] SlotNames => SlotList;

    private static readonly string[] SlotList = ["exp_avg", "exp_avg_sq"];

    /// <inheritdoc/>
    public override void Validate()
    {
        base.Validate();
        if (!(Beta1 >= 0) || Beta1 >= 1) throw new ArgumentOutOfRangeException(nameof(Beta1), $"{Name}: beta1 must be in [0, 1); got {Beta1}.");
        if (!(Beta2 >= 0) || Beta2 >= 1) throw new ArgumentOutOfRangeException(nameof(Beta2), $"{Name}: beta2 must be in [0, 1); got {Beta2}.");
        if (!(Epsilon >= 0)) throw new ArgumentOutOfRangeException(nameof(Epsilon), $"{Name}: epsilon must be >= 0; got {Epsilon}.");
    }

    /// <summary>Decoupled decay factor applied to w before the Adam step (AdamW); 1 for Adam.</summary>
    /// <param name="lr">Learning rate of the step.</param>
    /// <returns>The multiplier of w.</returns>
    private protected virtual double DecoupledFactor(double lr) => 1;

    /// <summary>Coupled decay added to the gradient; 0 for AdamW.</summary>
    private protected virtual double CoupledDecay => WeightDecay;

    internal override bool ElementwiseUpdate => true;

    /// <inheritdoc/>
    protected override void Update<T>(ParamState state, Span<T> w, ReadOnlySpan<T> g, double lr, ReadOnlySpan<T> hv)
    {
        var m = state.Slot<T>(0);
        var v = state.Slot<T>(1);
        double t = state.Step;
        double bc1 = 1 - Math.Pow(Beta1, t), bc2 = 1 - Math.Pow(Beta2, t);
        T stepSize = C<T>(lr / bc1), bc2Sqrt = C<T>(Math.Sqrt(bc2)), eps = C<T>(Epsilon);
        T oneMinusB1 = C<T>(1 - Beta1), b2 = C<T>(Beta2), oneMinusB2 = C<T>(1 - Beta2);
        T wd = C<T>(CoupledDecay), keep = C<T>(DecoupledFactor(lr));
        bool decay = CoupledDecay != 0;
        int i = 0, n = w.Length, lanes = Vector<T>.Count;
        if (/* Stryker disable once Boolean : speed only: the scalar loop below computes the same expressions in the same order (width-independent results), so without the vector loop every element gets the same value */ Vector.IsHardwareAccelerated)
        {
            // lane-wise the same expressions as the scalar loop (no FMA contraction): width-independent results
            Vector<T> vStep = new(stepSize), vBc2 = new(bc2Sqrt), vEps = new(eps), vOmb1 = new(oneMinusB1), vB2 = new(b2),
                vOmb2 = new(oneMinusB2), vWd = new(wd), vKeep = new(keep);
            for (; i <= n - lanes; i += lanes)
            {
                var wi = new Vector<T>(w.Slice(i)) * vKeep; // keep = 1 (Adam) leaves w exactly as it is
                var gi = new Vector<T>(g.Slice(i));
                if (decay) gi += vWd * wi;
                var m0 = new Vector<T>(m.Slice(i));
                var mi = m0 + vOmb1 * (gi - m0);
                var vi = vB2 * new Vector<T>(v.Slice(i)) + vOmb2 * gi * gi;
                mi.CopyTo(m.Slice(i));
                vi.CopyTo(v.Slice(i));
                (wi - vStep * (mi / (Vector.SquareRoot(vi) / vBc2 + vEps))).CopyTo(w.Slice(i));
            }
        }
        for (; i < n; i++)
        {
            T wi = w[i] * keep;
            T gi = decay ? g[i] + wd * wi : g[i];
            T mi = m[i] + oneMinusB1 * (gi - m[i]);
            T vi = b2 * v[i] + oneMinusB2 * gi * gi;
            m[i] = mi;
            v[i] = vi;
            w[i] = wi - stepSize * (mi / (T.Sqrt(vi) / bc2Sqrt + eps));
        }
    }
}

/// <summary>
/// AdamW as <c>torch.optim.AdamW</c>: first <c>w ← w·(1 − ηλ)</c> (decoupled decay, default λ = 0.01),
/// then the <see cref="Adam"/> step without coupled decay.
/// </summary>
public sealed record AdamW : Adam
{
    /// <summary>Creates the rule (PyTorch defaults).</summary>
    /// <param name="learningRate">η.</param>
    /// <param name="beta1">β₁.</param>
    /// <param name="beta2">β₂.</param>
    /// <param name="epsilon">ε.</param>
    /// <param name="weightDecay">Decoupled λ.</param>
    public AdamW(double learningRate = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double epsilon = 1e-8, double weightDecay = 0.01)
        : base(learningRate, beta1, beta2, epsilon) => WeightDecay = weightDecay;

    /// <inheritdoc/>
    public override string Name => "adamw";

    private protected override double DecoupledFactor(double lr) => 1 - lr * WeightDecay;

    private protected override double CoupledDecay => 0;
}
