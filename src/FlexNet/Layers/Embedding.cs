using FlexNet.Graph;
using FlexNet.Tensors;
using FlexNet.Autodiff;

namespace FlexNet.Layers;

/// <summary>
/// The Keras-style builder of an <see cref="EmbeddingLayer"/> (it adds that layer and an identity connection from its
/// input; every attachment shares W). Lookup table: y[n, l, :] = W[x[n, l], :] with W [vocab, dim] ~ N(0, 1) (torch default). The input holds integer
/// indices in [0, vocab) stored in the network's float dtype (per-sample shape [L]); the output is [L, dim].
/// Parameter <c>NAME.weight</c>.
/// </summary>
public sealed class Embedding : CatalogLayer
{
    /// <summary>Creates the layer.</summary>
    /// <param name="vocabulary">Number of rows V.</param>
    /// <param name="dimension">Embedding size D.</param>
    /// <param name="name">Layer name.</param>
    /// <param name="init">Initialisation.</param>
    public Embedding(int vocabulary, int dimension, string? name = null, LayerInit? init = null) : base(name, init)
    {
        if (vocabulary <= 0 || dimension <= 0)
            throw new ArgumentOutOfRangeException(nameof(vocabulary), $"Embedding: vocabulary and dimension must be positive. Received: {vocabulary}, {dimension}");
        Vocabulary = vocabulary;
        Dimension = dimension;
    }

    /// <summary>V.</summary>
    public int Vocabulary { get; }

    /// <summary>D.</summary>
    public int Dimension { get; }

    /// <inheritdoc/>
    public override string Form => "embedding";

    /// <inheritdoc/>
    public override IReadOnlyDictionary<string, object>? GetConfig()
    {
        var d = Config("embedding");
        (d["vocabulary"], d["size"]) = (Vocabulary, Dimension);
        return d;
    }

    /// <inheritdoc/>
    protected override Layer AttachCore(AttachContext ctx)
    {
        var node = ctx.Add(new EmbeddingLayer(Vocabulary, Dimension, ctx.NodeName) { Source = StoreSource });
        ctx.Identity(0, node);
        return node;
    }
}
