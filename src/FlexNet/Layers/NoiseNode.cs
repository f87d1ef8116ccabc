using FlexNet.Graph;
using FlexNet.Tensors;
using FlexNet.Autodiff;

namespace FlexNet.Layers;

/// <summary>The node of <see cref="Dropout"/> and <see cref="GaussianNoise"/>: identity in evaluation, the noise in training.</summary>
internal sealed class NoiseNode : CatalogNode, IStochasticNode
{
    internal enum NoiseKind { Dropout, Gaussian }

    private readonly NoiseKind _kind;
    private readonly double _amount;
    private readonly ulong? _seed;
    private RandomGenerator? _rng;

    internal NoiseNode(CatalogLayer owner, string? name, NoiseKind kind, double amount, ulong? seed)
        : base(owner, null, "linear", CombineRule.Sum, name)
    {
        _kind = kind;
        _amount = amount;
        _seed = seed;
    }

    public override string Kind => _kind == NoiseKind.Dropout ? $"Dropout({_amount})" : $"GaussianNoise({_amount})";

    /// <inheritdoc/>
    public RandomGenerator Generator => _rng ??= new RandomGenerator(LayerInit.Mix(_seed ?? 0x5eed, Name));

    protected internal override Tensor Transform(Tensor combined, bool training)
    {
        if (!training || _amount == 0) return combined;
        _rng ??= new RandomGenerator(LayerInit.Mix(_seed ?? 0x5eed, Name));
        if (_kind == NoiseKind.Dropout) return NN.Dropout(combined, _amount, true, _rng);
        return combined + Tensor.Normal(combined.ShapeArray, 0, _amount, _rng, combined.DType);
    }
}
