using System.Numerics;

namespace FlexNet.Optimizers;

/// <summary>
/// Adadelta as <c>torch.optim.Adadelta</c>: <c>g ← g + λw</c>; <c>v ← ρv + (1−ρ)g²</c>;
/// <c>δ = √(u + ε)/√(v + ε)·g</c>; <c>u ← ρu + (1−ρ)δ²</c>; <c>w ← w − ηδ</c> (η = 1 by default).
/// </summary>
public sealed record Adadelta : OptimizerRule
{
    /// <summary>Creates the rule (PyTorch defaults).</summary>
    /// <param name="learningRate">η.</param>
    /// <param name="rho">ρ.</param>
    /// <param name="epsilon">ε (inside the square roots).</param>
    public Adadelta(double learningRate = 1.0, double rho = 0.9, double epsilon = 1e-6)
    {
        LearningRate = learningRate;
        Rho = rho;
        Epsilon = epsilon;
    }

    /// <inheritdoc/>
    public override string Name => "adadelta";

    /// <summary>ρ.</summary>
    public double Rho { get; init; }

    /// <summary>ε.</summary>
    public double Epsilon { get; init; }

    /// <inheritdoc/>
    protected internal override string[] SlotNames => SlotList;

    private static readonly string[] SlotList = ["square_avg", "acc_delta"];

    /// <inheritdoc/>
    public override void Validate()
    {
        base.Validate();
        if (!(Rho >= 0) || Rho > 1) throw new ArgumentOutOfRangeException(nameof(Rho), $"{Name}: rho must be in [0, 1]; got {Rho}.");
        if (!(Epsilon >= 0)) throw new ArgumentOutOfRangeException(nameof(Epsilon), $"{Name}: epsilon must be >= 0; got {Epsilon}.");
    }

    internal override bool ElementwiseUpdate => true;

    /// <inheritdoc/>
    protected override void Update<T>(ParamState state, Span<T> w, ReadOnlySpan<T> g, double lr, ReadOnlySpan<T> hv)
    {
        var v = state.Slot<T>(0);
        var u = state.Slot<T>(1);
        T eta = C<T>(lr), wd = C<T>(WeightDecay), rho = C<T>(Rho), oneMinusRho = C<T>(1 - Rho), eps = C<T>(Epsilon);
        bool decay = WeightDecay != 0;
        int i = 0, n = w.Length, lanes = Vector<T>.Count;
        if (/* Stryker disable once Boolean : speed only: the scalar loop below computes the same expressions in the same order (width-independent results), so without the vector loop every element gets the same value */ Vector.IsHardwareAccelerated)
        {
            // lane-wise the scalar expressions below, same order: width-independent results
            Vector<T> vEta = new(eta), vWd = new(wd), vRho = new(rho), vOmr = new(oneMinusRho), vEps = new(eps);
            for (; i <= n - lanes; i += lanes)
            {
                var wi = new Vector<T>(w.Slice(i));
                var gi = new Vector<T>(g.Slice(i));
                if (decay) gi += vWd * wi;
                var vi = vRho * new Vector<T>(v.Slice(i)) + vOmr * gi * gi;
                vi.CopyTo(v.Slice(i));
                var ui = new Vector<T>(u.Slice(i));
                var delta = Vector.SquareRoot(ui + vEps) / Vector.SquareRoot(vi + vEps) * gi;
                (vRho * ui + vOmr * delta * delta).CopyTo(u.Slice(i));
                (wi - vEta * delta).CopyTo(w.Slice(i));
            }
        }
        for (; i < n; i++)
        {
            T gi = decay ? g[i] + wd * w[i] : g[i];
            T vi = rho * v[i] + oneMinusRho * gi * gi;
            v[i] = vi;
            T delta = T.Sqrt(u[i] + eps) / T.Sqrt(vi + eps) * gi;
            u[i] = rho * u[i] + oneMinusRho * delta * delta;
            w[i] -= eta * delta;
        }
    }
}
