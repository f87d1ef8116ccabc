using System.Numerics;

namespace FlexNet.Optimizers;

/// <summary>
/// RMSProp as <c>torch.optim.RMSprop</c> (ε outside the square root): <c>g ← g + λw</c>;
/// <c>v ← αv + (1−α)g²</c>; centred: <c>a ← αa + (1−α)g</c>, <c>d = √(v − a²) + ε</c>, else <c>d = √v + ε</c>;
/// with momentum μ: <c>b ← μb + g/d</c>, <c>w ← w − ηb</c>; else <c>w ← w − η·g/d</c>.
/// </summary>
public sealed record RmsProp : OptimizerRule
{
    /// <summary>Creates the rule (PyTorch defaults).</summary>
    /// <param name="learningRate">η.</param>
    /// <param name="alpha">Smoothing α of the squared-gradient average.</param>
    /// <param name="epsilon">ε.</param>
    /// <param name="momentum">μ.</param>
    /// <param name="centered">Subtract the squared mean gradient.</param>
    public RmsProp(double learningRate = 0.01, double alpha = 0.99, double epsilon = 1e-8, double momentum = 0, bool centered = false)
    {
        LearningRate = learningRate;
        Alpha = alpha;
        Epsilon = epsilon;
        Momentum = momentum;
        Centered = centered;
    }

    /// <inheritdoc/>
    public override string Name => "rmsprop";

    /// <summary>α.</summary>
    public double Alpha { get; init; }

    /// <summary>ε.</summary>
    public double Epsilon { get; init; }

    /// <summary>μ.</summary>
    public double Momentum { get; init; }

    /// <summary>Centred variant.</summary>
    public bool Centered { get; init; }

    /// <inheritdoc/>
    protected internal override string[] SlotNames => SlotList;

    private static readonly string[] SlotList = ["square_avg", "momentum_buffer", "grad_avg"];

    /// <inheritdoc/>
    public override void Validate()
    {
        base.Validate();
        if (!(Alpha >= 0) || Alpha > 1) throw new ArgumentOutOfRangeException(nameof(Alpha), $"{Name}: alpha must be in [0, 1]; got {Alpha}.");
        if (!(Momentum >= 0) || Momentum >= 1) throw new ArgumentOutOfRangeException(nameof(Momentum), $"{Name}: momentum must be in [0, 1); got {Momentum}.");
        if (!(Epsilon >= 0)) throw new ArgumentOutOfRangeException(nameof(Epsilon), $"{Name}: epsilon must be >= 0; got {Epsilon}.");
    }

    internal override bool ElementwiseUpdate => true;

    /// <inheritdoc/>
    protected override void Update<T>(ParamState state, Span<T> w, ReadOnlySpan<T> g, double lr, ReadOnlySpan<T> hv)
    {
        var v = state.Slot<T>(0);
        var b = state.Slot<T>(1);
        var a = state.Slot<T>(2);
        T eta = C<T>(lr), wd = C<T>(WeightDecay), al = C<T>(Alpha), oneMinusAl = C<T>(1 - Alpha), eps = C<T>(Epsilon), mu = C<T>(Momentum);
        bool decay = WeightDecay != 0, mom = Momentum > 0;
        int i = 0, n = w.Length, lanes = Vector<T>.Count;
        if (/* Stryker disable once Boolean : speed only: the scalar loop below computes the same expressions in the same order (width-independent results), so without the vector loop every element gets the same value */ Vector.IsHardwareAccelerated)
        {
            // lane-wise the scalar expressions below, same order: width-independent results
            Vector<T> vEta = new(eta), vWd = new(wd), vAl = new(al), vOma = new(oneMinusAl), vEps = new(eps), vMu = new(mu);
            for (; i <= n - lanes; i += lanes)
            {
                var wi = new Vector<T>(w.Slice(i));
                var gi = new Vector<T>(g.Slice(i));
                if (decay) gi += vWd * wi;
                var vi = vAl * new Vector<T>(v.Slice(i)) + vOma * gi * gi;
                vi.CopyTo(v.Slice(i));
                Vector<T> d;
                if (Centered)
                {
                    var ai = vAl * new Vector<T>(a.Slice(i)) + vOma * gi;
                    ai.CopyTo(a.Slice(i));
                    d = Vector.SquareRoot(vi - ai * ai) + vEps;
                }
                else d = Vector.SquareRoot(vi) + vEps;
                if (mom)
                {
                    var bi = vMu * new Vector<T>(b.Slice(i)) + gi / d;
                    bi.CopyTo(b.Slice(i));
                    (wi - vEta * bi).CopyTo(w.Slice(i));
                }
                else (wi - vEta * (gi / d)).CopyTo(w.Slice(i));
            }
        }
        for (; i < n; i++)
        {
            T gi = decay ? g[i] + wd * w[i] : g[i];
            T vi = al * v[i] + oneMinusAl * gi * gi;
            v[i] = vi;
            T d;
            if (Centered)
            {
                T ai = al * a[i] + oneMinusAl * gi;
                a[i] = ai;
                d = T.Sqrt(vi - ai * ai) + eps;
            }
            else d = T.Sqrt(vi) + eps;
            if (mom)
            {
                T bi = mu * b[i] + gi / d;
                b[i] = bi;
                w[i] -= eta * bi;
            }
            else w[i] -= eta * (gi / d);
        }
    }
}
