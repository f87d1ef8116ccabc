using FlexNet.Graph;
using FlexNet.Tensors;
using FlexNet.Autodiff;

namespace FlexNet.Layers;

/// <summary>
/// Lookup table: y[n, l, :] = W[x[n, l], :] with W [vocab, dim] ~ N(0, 1) (torch default). The input holds integer
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
        var node = ctx.Add(new EmbeddingNode(this, ctx.NodeName));
        ctx.Identity(0, node);
        return node;
    }

    private sealed class EmbeddingNode(Embedding owner, string? name) : CatalogNode(owner, null, "linear", CombineRule.Sum, name)
    {
        private Tensor? _weight;

        public override bool ChangesShape => true;

        public override string Kind => $"Embedding({owner.Vocabulary}x{owner.Dimension})";

        public override IEnumerable<Tensor> Parameters => _weight is null ? [] : [_weight];

        protected internal override int[] InferOutputShape(int[] inputShape) => [.. inputShape, owner.Dimension];

        protected override void BuildOwnParameters(DType dtype, RandomGenerator rng) =>
            _weight = owner.Store("weight", [owner.Vocabulary, owner.Dimension], dtype, () => Tensor.Normal([owner.Vocabulary, owner.Dimension], 0, 1, rng, dtype), rng);

        protected internal override Tensor Transform(Tensor combined, bool training)
        {
            var idx = combined.Detach().To(DType.Int32);
            return NN.Embedding(_weight!, idx);
        }
    }
}
