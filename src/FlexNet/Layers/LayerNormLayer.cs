using FlexNet.Graph;
using FlexNet.Tensors;

namespace FlexNet.Layers;

/// <summary>
/// A layer-normalisation node over the last axis (torch LayerNorm(normalized_shape = last dim), Keras' default), usable
/// in any network (<c>net.Connect(h, net.Add(new LayerNormLayer()))</c> makes an identity connection); the
/// <see cref="LayerNorm"/> builder adds exactly this layer. For x [N, ..., D]: y = γ ⊙ (x − μ)/√(σ² + ε) + β with
/// μ, σ² (biased) of each last-axis vector; the output has the input's shape. Same in training and evaluation.
/// Parameters <c>NAME.gamma</c> [D] (ones) and <c>NAME.beta</c> [D] (zeros). Saved in <c>.flexnet</c> files as layer
/// kind <c>layernorm</c>.
/// </summary>
public sealed class LayerNormLayer : Layer, IIdentityInput
{
    /// <summary>Creates the layer (its shape is inferred from its input).</summary>
    /// <param name="epsilon">ε &gt; 0.</param>
    /// <param name="name">Unique name; the network assigns one when null.</param>
    /// <exception cref="ArgumentOutOfRangeException">A non-positive ε.</exception>
    public LayerNormLayer(double epsilon = 1e-5, string? name = null) : base(null, "linear", CombineRule.Sum, false, name)
    {
        if (!(epsilon > 0) || !double.IsFinite(epsilon)) throw new ArgumentOutOfRangeException(nameof(epsilon), $"LayerNorm: epsilon must be positive. Received: {epsilon}");
        Epsilon = epsilon;
    }

    /// <summary>ε.</summary>
    public double Epsilon { get; }

    /// <summary>γ [D] (after build).</summary>
    public Tensor? Gamma { get; private set; }

    /// <summary>β [D] (after build).</summary>
    public Tensor? Beta { get; private set; }

    internal ParameterSource? Source { get; init; }

    /// <inheritdoc/>
    public override string Kind => "LayerNorm";

    /// <summary>The base layer's parameters, then γ and β.</summary>
    public override IEnumerable<Tensor> Parameters
    {
        get
        {
            foreach (var p in base.Parameters) yield return p;
            if (Gamma is not null) { yield return Gamma; yield return Beta!; }
        }
    }

    /// <inheritdoc/>
    protected internal override void BuildParameters(DType dtype, RandomGenerator rng)
    {
        base.BuildParameters(dtype, rng);
        int d = InputShape![^1];
        Gamma = OwnParameters.Get(this, Source, "gamma", [d], dtype, () => Tensor.Ones([d], dtype), true, rng, Gamma);
        Beta = OwnParameters.Get(this, Source, "beta", [d], dtype, () => Tensor.Zeros([d], dtype), true, rng, Beta);
    }

    /// <inheritdoc/>
    protected internal override Tensor Transform(Tensor x, bool training)
    {
        int last = x.Rank - 1;
        var mean = x.Mean([last], keepDims: true);
        var c = x - mean;
        var v = c.Square().Mean([last], keepDims: true);
        return c / (v + Epsilon).Sqrt() * Gamma! + Beta!;
    }
}
