using FlexNet.Tensors;

using System.Numerics;

namespace FlexNet.Optimizers;

/// <summary>
/// Equilibrated SGD, read from downhill's <c>ESGD</c> (used by theanets): with a fresh r ~ N(0, 1) per step,
/// <c>D ← γD + (1−γ)(Hr)²</c> and <c>w ← w − η·g/√(D + ε)</c>, where H is the Hessian of the loss and
/// <c>γ = exp(−ln 2 / halflife)</c> (downhill's <c>rms_halflife</c>, default 14; ε = downhill's
/// <c>rms_regularizer</c>, default 1e-8). downhill uses an exponential average instead of the paper's running mean.
/// FlexNet has no double-backward, so <see cref="Optimizer"/> estimates Hr by a central finite difference of
/// gradients, <c>Hr ≈ (∇L(w + hr) − ∇L(w − hr)) / 2h</c>, which needs a loss closure in
/// <see cref="Optimizer.Step(Func{Tensor}?)"/> (two extra forward/backward passes per step).
/// </summary>
public sealed record Esgd : OptimizerRule
{
    /// <summary>Creates the rule (downhill defaults).</summary>
    /// <param name="learningRate">η.</param>
    /// <param name="halflife">EWMA half-life h in steps: γ = exp(−ln 2 / h).</param>
    /// <param name="epsilon">ε inside the square root.</param>
    public Esgd(double learningRate = 1e-4, double halflife = 14, double epsilon = 1e-8)
    {
        LearningRate = learningRate;
        Halflife = halflife;
        Epsilon = epsilon;
    }

    /// <inheritdoc/>
    public override string Name => "esgd";

    /// <summary>Half-life h of the curvature average, in steps.</summary>
    public double Halflife { get; init; }

    /// <summary>ε.</summary>
    public double Epsilon { get; init; }

    /// <summary>γ = exp(−ln 2 / h).</summary>
    public double Gamma => Math.Exp(-Math.Log(2) / Halflife);

    /// <inheritdoc/>
    public override bool NeedsHessianVectorProduct => true;

    /// <inheritdoc/>
    protected internal override string[] SlotNames => SlotList;

    private static readonly string[] SlotList = ["d_ewma"];

    /// <inheritdoc/>
    public override void Validate()
    {
        base.Validate();
        if (!(Halflife > 0)) throw new ArgumentOutOfRangeException(nameof(Halflife), $"{Name}: halflife must be > 0; got {Halflife}.");
        if (!(Epsilon >= 0)) throw new ArgumentOutOfRangeException(nameof(Epsilon), $"{Name}: epsilon must be >= 0; got {Epsilon}.");
    }

    /// <inheritdoc/>
    protected override void Update<T>(ParamState state, Span<T> w, ReadOnlySpan<T> g, double lr, ReadOnlySpan<T> hv)
    {
        var d = state.Slot<T>(0);
        T eta = C<T>(lr), wd = C<T>(WeightDecay), gamma = C<T>(Gamma), oneMinusGamma = C<T>(1 - Gamma), eps = C<T>(Epsilon);
        bool decay = WeightDecay != 0;
        int i = 0, n = w.Length, lanes = Vector<T>.Count;
        if (/* Stryker disable once Boolean : speed only: the scalar loop below computes the same expressions in the same order (width-independent results), so without the vector loop every element gets the same value */ Vector.IsHardwareAccelerated)
        {
            // lane-wise the scalar expressions below, same order: width-independent results
            Vector<T> vEta = new(eta), vWd = new(wd), vGamma = new(gamma), vOmg = new(oneMinusGamma), vEps = new(eps);
            for (; i <= n - lanes; i += lanes)
            {
                var wi = new Vector<T>(w.Slice(i));
                var gi = new Vector<T>(g.Slice(i));
                if (decay) gi += vWd * wi;
                var h = new Vector<T>(hv.Slice(i));
                var di = vGamma * new Vector<T>(d.Slice(i)) + vOmg * h * h;
                di.CopyTo(d.Slice(i));
                (wi - vEta * gi / Vector.SquareRoot(di + vEps)).CopyTo(w.Slice(i));
            }
        }
        for (; i < n; i++)
        {
            T gi = decay ? g[i] + wd * w[i] : g[i];
            T di = gamma * d[i] + oneMinusGamma * hv[i] * hv[i];
            d[i] = di;
            w[i] -= eta * gi / T.Sqrt(di + eps);
        }
    }
}
