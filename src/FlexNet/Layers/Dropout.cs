using FlexNet.Graph;

namespace FlexNet.Layers;

/// <summary>The Keras-style builder of a <see cref="DropoutLayer"/> (it adds that layer and an identity connection from its input). Inverted dropout, active in training only: y = x ⊙ m / (1 − p), m ~ Bernoulli(1 − p) per element;
/// y = x in evaluation. The mask generator is the layer's own (seeded by <c>rng</c>, else by its name).</summary>
public sealed class Dropout : CatalogLayer
{
    /// <summary>Creates the layer.</summary>
    /// <param name="rate">Drop probability p in [0, 1).</param>
    /// <param name="name">Layer name.</param>
    /// <param name="seed">Seed of the mask generator.</param>
    /// <exception cref="ArgumentOutOfRangeException">A rate outside [0, 1) (or NaN), as <see cref="DropoutLayer"/>.</exception>
    public Dropout(double rate, string? name = null, ulong? seed = null) : base(name, null)
    {
        DropoutLayer.CheckRate(rate);
        Rate = rate;
        Seed = seed;
    }

    /// <summary>Drop probability.</summary>
    public double Rate { get; }

    /// <summary>Mask seed (null: derived from the name).</summary>
    public ulong? Seed { get; }

    /// <inheritdoc/>
    public override string Form => "dropout";

    /// <inheritdoc/>
    public override IReadOnlyDictionary<string, object>? GetConfig()
    {
        var d = Config("dropout", withInit: false);
        d["rate"] = Rate;
        if (Seed is ulong s) d["rng"] = s.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return d;
    }

    /// <inheritdoc/>
    protected override Layer AttachCore(AttachContext ctx)
    {
        var node = ctx.Add(new DropoutLayer(Rate, Seed, ctx.NodeName));
        ctx.Identity(0, node);
        return node;
    }
}
