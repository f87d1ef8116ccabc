using FlexNet.Graph;
using FlexNet.Tensors;

namespace FlexNet.Layers;

/// <summary>
/// Layer normalisation over the last axis (torch LayerNorm(normalized_shape = last dim), Keras default):
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
        var node = ctx.Add(new LayerNormNode(this, ctx.NodeName));
        ctx.Identity(0, node);
        return node;
    }

    private sealed class LayerNormNode(LayerNorm o, string? name) : CatalogNode(o, null, "linear", CombineRule.Sum, name)
    {
        private Tensor? _gamma, _beta;

        public override string Kind => "LayerNorm";

        public override IEnumerable<Tensor> Parameters => _gamma is null ? [] : [_gamma, _beta!];

        protected override void BuildOwnParameters(DType dtype, RandomGenerator rng)
        {
            int d = InputShape![^1];
            _gamma = o.Store("gamma", [d], dtype, () => Tensor.Ones([d], dtype), rng);
            _beta = o.Store("beta", [d], dtype, () => Tensor.Zeros([d], dtype), rng);
        }

        protected internal override Tensor Transform(Tensor x, bool training)
        {
            int last = x.Rank - 1;
            var mean = x.Mean([last], keepDims: true);
            var c = x - mean;
            var v = c.Square().Mean([last], keepDims: true);
            return c / (v + o.Epsilon).Sqrt() * _gamma! + _beta!;
        }
    }
}
