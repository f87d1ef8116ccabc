using System.Numerics;

namespace FlexNet.Optimizers;

/// <summary>
/// Adagrad as <c>torch.optim.Adagrad</c>: <c>g ← g + λw</c>; <c>η_t = η / (1 + (t−1)·lr_decay)</c>;
/// <c>s ← s + g²</c> (s starts at <see cref="InitialAccumulator"/>); <c>w ← w − η_t·g/(√s + ε)</c>.
/// </summary>
public sealed record Adagrad : OptimizerRule
{
    /// <summary>Creates the rule (PyTorch defaults).</summary>
    /// <param name="learningRate">η.</param>
    /// <param name="epsilon">ε (outside the square root).</param>
    /// <param name="learningRateDecay">lr_decay.</param>
    /// <param name="initialAccumulator">Initial value of the squared-gradient sum.</param>
    public Adagrad(double learningRate = 0.01, double epsilon = 1e-10, double learningRateDecay = 0, double initialAccumulator = 0)
    {
        LearningRate = learningRate;
        Epsilon = epsilon;
        LearningRateDecay = learningRateDecay;
        InitialAccumulator = initialAccumulator;
    }

    /// <inheritdoc/>
    public override string Name => "adagrad";

    /// <summary>ε.</summary>
    public double Epsilon { get; init; }

    /// <summary>PyTorch's <c>lr_decay</c>.</summary>
    public double LearningRateDecay { get; init; }

    /// <summary>PyTorch's <c>initial_accumulator_value</c>.</summary>
    public double InitialAccumulator { get; init; }

    /// <inheritdoc/>
    protected internal override string[] SlotNames => SlotList;

    private static readonly string[] SlotList = ["sum"];

    /// <inheritdoc/>
    public override void Validate()
    {
        base.Validate();
        if (!(LearningRateDecay >= 0)) throw new ArgumentOutOfRangeException(nameof(LearningRateDecay), $"{Name}: lr_decay must be >= 0; got {LearningRateDecay}.");
        if (!(InitialAccumulator >= 0)) throw new ArgumentOutOfRangeException(nameof(InitialAccumulator), $"{Name}: initial accumulator must be >= 0; got {InitialAccumulator}.");
        if (!(Epsilon >= 0)) throw new ArgumentOutOfRangeException(nameof(Epsilon), $"{Name}: epsilon must be >= 0; got {Epsilon}.");
    }

    /// <inheritdoc/>
    protected override void InitSlots(ParamState state)
    {
        if (InitialAccumulator != 0) state.Slots[0].Fill(InitialAccumulator);
    }

    internal override bool ElementwiseUpdate => true;

    /// <inheritdoc/>
    protected override void Update<T>(ParamState state, Span<T> w, ReadOnlySpan<T> g, double lr, ReadOnlySpan<T> hv)
    {
        var s = state.Slot<T>(0);
        T clr = C<T>(lr / (1 + (state.Step - 1) * LearningRateDecay)), wd = C<T>(WeightDecay), eps = C<T>(Epsilon);
        bool decay = WeightDecay != 0;
        int i = 0, n = w.Length, lanes = Vector<T>.Count;
        if (/* Stryker disable once Boolean : speed only: the scalar loop below computes the same expressions in the same order (width-independent results), so without the vector loop every element gets the same value */ Vector.IsHardwareAccelerated)
        {
            // lane-wise the scalar expressions below: width-independent results
            Vector<T> vClr = new(clr), vWd = new(wd), vEps = new(eps);
            for (; i <= n - lanes; i += lanes)
            {
                var wi = new Vector<T>(w.Slice(i));
                var gi = new Vector<T>(g.Slice(i));
                if (decay) gi += vWd * wi;
                var si = new Vector<T>(s.Slice(i)) + gi * gi;
                si.CopyTo(s.Slice(i));
                (wi - vClr * (gi / (Vector.SquareRoot(si) + vEps))).CopyTo(w.Slice(i));
            }
        }
        for (; i < n; i++)
        {
            T gi = decay ? g[i] + wd * w[i] : g[i];
            T si = s[i] + gi * gi;
            s[i] = si;
            w[i] -= clr * (gi / (T.Sqrt(si) + eps));
        }
    }
}
