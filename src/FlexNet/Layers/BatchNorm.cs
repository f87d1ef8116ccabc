using FlexNet.Graph;
using FlexNet.Tensors;

namespace FlexNet.Layers;

/// <summary>
/// The Keras-style builder of a <see cref="BatchNormLayer"/> (it adds that layer and an identity connection from its
/// input; every attachment shares one set of γ, β and running statistics). Batch normalisation over the channel/feature axis (torch BatchNorm1d/2d): for x [N, C] or [N, C, ...spatial],
/// y = γ ⊙ (x − μ)/√(σ² + ε) + β per channel. Training: μ, σ² are the batch statistics over N and the spatial axes
/// (biased variance), and the running statistics are updated r ← (1 − m)·r + m·batch (running variance with the
/// unbiased batch variance, as torch). Evaluation: μ, σ² are the running statistics. Parameters <c>NAME.gamma</c>
/// (ones), <c>NAME.beta</c> (zeros); buffers <c>NAME.running_mean</c> (zeros), <c>NAME.running_var</c> (ones).
/// </summary>
public sealed class BatchNorm : CatalogLayer
{
    /// <summary>Creates the layer.</summary>
    /// <param name="momentum">m in (0, 1].</param>
    /// <param name="epsilon">ε &gt; 0.</param>
    /// <param name="name">Layer name.</param>
    /// <param name="init">Initialisation.</param>
    /// <exception cref="ArgumentOutOfRangeException">A momentum outside (0, 1] (or NaN), or an ε that is not positive and finite (the checks of <see cref="BatchNormLayer"/>).</exception>
    public BatchNorm(double momentum = 0.1, double epsilon = 1e-5, string? name = null, LayerInit? init = null) : base(name, init)
    {
        BatchNormLayer.CheckArguments(momentum, epsilon);
        Momentum = momentum;
        Epsilon = epsilon;
    }

    /// <summary>Momentum of the running statistics.</summary>
    public double Momentum { get; }

    /// <summary>ε.</summary>
    public double Epsilon { get; }

    /// <summary>Running mean [C] (after build; shared by every attachment).</summary>
    public Tensor? RunningMean => Nodes.Count == 0 ? null : ((BatchNormLayer)Nodes[0]).RunningMean;

    /// <summary>Running variance [C] (after build; shared by every attachment).</summary>
    public Tensor? RunningVar => Nodes.Count == 0 ? null : ((BatchNormLayer)Nodes[0]).RunningVar;

    /// <inheritdoc/>
    public override string Form => "batchnorm";

    /// <inheritdoc/>
    public override IReadOnlyDictionary<string, object>? GetConfig()
    {
        var d = Config("batchnorm");
        (d["momentum"], d["epsilon"]) = (Momentum, Epsilon);
        return d;
    }

    /// <inheritdoc/>
    protected override Layer AttachCore(AttachContext ctx)
    {
        var node = ctx.Add(new BatchNormLayer(Momentum, Epsilon, ctx.NodeName)
        {
            Source = StoreSource,
        });
        ctx.Identity(0, node);
        return node;
    }
}
