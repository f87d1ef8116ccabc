using FlexNet.Autodiff;
using FlexNet.Graph;
using FlexNet.Tensors;

namespace FlexNet.Layers;

/// <summary>
/// An inverted-dropout node, usable in any network (<c>net.Add(new DropoutLayer(0.5))</c>, then <c>net.Connect(h, d)</c>);
/// the <see cref="Dropout"/> builder adds exactly this layer. Training: y = x ⊙ m / (1 − p), m ~ Bernoulli(1 − p) per
/// element; evaluation: y = x. Input and output have the same per-sample shape; no parameters. The mask generator is
/// the layer's own, seeded by <see cref="Seed"/> (else a fixed seed) mixed with the layer's name. Saved in
/// <c>.flexnet</c> files as layer kind <c>dropout</c>.
/// </summary>
public sealed class DropoutLayer : Layer, IStochasticNode, IIdentityInput
{
    private RandomGenerator? _rng;

    /// <summary>Creates the layer (its shape is inferred from its input).</summary>
    /// <param name="rate">Drop probability p in [0, 1).</param>
    /// <param name="seed">Seed of the mask generator (null: a fixed seed mixed with the name).</param>
    /// <param name="name">Unique name; the network assigns one when null.</param>
    /// <exception cref="ArgumentOutOfRangeException">A rate outside [0, 1).</exception>
    public DropoutLayer(double rate, ulong? seed = null, string? name = null) : base(null, "linear", CombineRule.Sum, false, name)
    {
        CheckRate(rate);
        Rate = rate;
        Seed = seed;
    }

    /// <summary>The rate check of this layer and of the catalog's <see cref="Dropout"/>: p in [0, 1) (NaN refused).</summary>
    internal static void CheckRate(double rate)
    {
        if (!(rate >= 0 && rate < 1)) throw new ArgumentOutOfRangeException(nameof(rate), $"Dropout: rate must be in [0, 1). Received: {rate}");
    }

    /// <summary>Drop probability p.</summary>
    public double Rate { get; }

    /// <summary>Seed of the mask generator (null: derived from the name).</summary>
    public ulong? Seed { get; }

    /// <inheritdoc/>
    public override string Kind => $"Dropout({Rate})";

    /// <summary>The mask generator (created on first use).</summary>
    public RandomGenerator Generator => _rng ??= new RandomGenerator(LayerInit.Mix(Seed ?? 0x5eed, Name));

    /// <inheritdoc/>
    protected internal override Tensor Transform(Tensor combined, bool training)
    {
        if (!training || Rate == 0) return combined;
        return NN.Dropout(combined, Rate, true, Generator);
    }
}

/// <summary>
/// An additive Gaussian-noise node, usable in any network; the <see cref="GaussianNoise"/> builder adds exactly this
/// layer. Training: y = x + ε, ε ~ N(0, σ²) per element; evaluation: y = x. Input and output have the same
/// per-sample shape; no parameters. The generator is the layer's own, seeded by <see cref="Seed"/> (else a fixed
/// seed) mixed with the layer's name. Saved in <c>.flexnet</c> files as layer kind <c>gaussian_noise</c>.
/// </summary>
public sealed class GaussianNoiseLayer : Layer, IStochasticNode, IIdentityInput
{
    private RandomGenerator? _rng;

    /// <summary>Creates the layer (its shape is inferred from its input).</summary>
    /// <param name="std">Noise standard deviation σ ≥ 0.</param>
    /// <param name="seed">Seed of the noise generator (null: a fixed seed mixed with the name).</param>
    /// <param name="name">Unique name; the network assigns one when null.</param>
    /// <exception cref="ArgumentOutOfRangeException">A negative or non-finite σ.</exception>
    public GaussianNoiseLayer(double std, ulong? seed = null, string? name = null) : base(null, "linear", CombineRule.Sum, false, name)
    {
        if (!(std >= 0) || !double.IsFinite(std)) throw new ArgumentOutOfRangeException(nameof(std), $"GaussianNoise: std must be >= 0. Received: {std}");
        Std = std;
        Seed = seed;
    }

    /// <summary>σ.</summary>
    public double Std { get; }

    /// <summary>Seed of the noise generator (null: derived from the name).</summary>
    public ulong? Seed { get; }

    /// <inheritdoc/>
    public override string Kind => $"GaussianNoise({Std})";

    /// <summary>The noise generator (created on first use).</summary>
    public RandomGenerator Generator => _rng ??= new RandomGenerator(LayerInit.Mix(Seed ?? 0x5eed, Name));

    /// <inheritdoc/>
    protected internal override Tensor Transform(Tensor combined, bool training)
    {
        if (!training || Std == 0) return combined;
        return combined + Tensor.Normal(combined.ShapeArray, 0, Std, Generator, combined.DType);
    }
}
