using FlexNet.Graph;
using FlexNet.Tensors;

namespace FlexNet.Layers;

/// <summary>
/// The Keras-style builder of a <see cref="LayerNormLayer"/> (it adds that layer and an identity connection from its
/// input; every attachment shares γ and β). Layer normalisation over the last axis (torch LayerNorm(normalized_shape = last dim), Keras default):
/// y = γ ⊙ (x − μ)/√(σ² + ε) + β with μ, σ² (biased) of each sample's last-axis vector; γ [D] ones, β [D] zeros.
/// Same in training and evaluation. Parameters <c>NAME.gamma</c>, <c>NAME.beta</c>.
/// </summary>
public sealed class LayerNorm : CatalogLayer
{
    /// <summary>Creates the layer.</summary>
    /// <param name="epsilon">ε &gt; 0.</param>
    /// <param name="name">Layer name.</param>
    /// <param name="init">Initialisation.</param>
    public LayerNorm(double epsilon = 1e-5, string? name = null, LayerInit? init = null) : base(name, init)
    {
        if (epsilon <= 0) throw new ArgumentOutOfRangeException(nameof(epsilon), $"LayerNorm: epsilon must be positive. Received: {epsilon}");
        Epsilon = epsilon;
    }

    /// <summary>ε.</summary>
    public double Epsilon { get; }

    /// <inheritdoc/>
    public override string Form => "layernorm";

    /// <inheritdoc/>
    public override IReadOnlyDictionary<string, object>? GetConfig()
    {
        var d = Config("layernorm");
        d["epsilon"] = Epsilon;
        return d;
    }

    /// <inheritdoc/>
    protected override Layer AttachCore(AttachContext ctx)
    {
        var node = ctx.Add(new LayerNormLayer(Epsilon, ctx.NodeName) { Source = StoreSource });
        ctx.Identity(0, node);
        return node;
    }
}
