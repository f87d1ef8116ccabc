using FlexNet.Graph;

namespace FlexNet.Layers;

/// <summary>The Keras-style builder of a <see cref="GaussianNoiseLayer"/> (it adds that layer and an identity connection from its input). Additive Gaussian noise, active in training only: y = x + ε, ε ~ N(0, σ²) per element; y = x in evaluation.</summary>
public sealed class GaussianNoise : CatalogLayer
{
    /// <summary>Creates the layer.</summary>
    /// <param name="std">Noise standard deviation σ ≥ 0.</param>
    /// <param name="name">Layer name.</param>
    /// <param name="seed">Seed of the noise generator.</param>
    public GaussianNoise(double std, string? name = null, ulong? seed = null) : base(name, null)
    {
        if (std < 0 || !double.IsFinite(std)) throw new ArgumentOutOfRangeException(nameof(std), $"GaussianNoise: std must be >= 0. Received: {std}");
        Std = std;
        Seed = seed;
    }

    /// <summary>σ.</summary>
    public double Std { get; }

    /// <summary>Noise seed (null: derived from the name).</summary>
    public ulong? Seed { get; }

    /// <inheritdoc/>
    public override string Form => "noise";

    /// <inheritdoc/>
    public override IReadOnlyDictionary<string, object>? GetConfig()
    {
        var d = Config("noise", withInit: false);
        d["std"] = Std;
        if (Seed is ulong s) d["rng"] = s.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return d;
    }

    /// <inheritdoc/>
    protected override Layer AttachCore(AttachContext ctx)
    {
        var node = ctx.Add(new GaussianNoiseLayer(Std, Seed, ctx.NodeName));
        ctx.Identity(0, node);
        return node;
    }
}
