using FlexNet.Autodiff;
using FlexNet.Graph;
using FlexNet.Tensors;

namespace FlexNet.Layers;

/// <summary>
/// Batch normalisation over the channel/feature axis (torch BatchNorm1d/2d): for x [N, C] or [N, C, ...spatial],
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
    public BatchNorm(double momentum = 0.1, double epsilon = 1e-5, string? name = null, LayerInit? init = null) : base(name, init)
    {
        if (momentum <= 0 || momentum > 1) throw new ArgumentOutOfRangeException(nameof(momentum), $"BatchNorm: momentum must be in (0, 1]. Received: {momentum}");
        if (epsilon <= 0) throw new ArgumentOutOfRangeException(nameof(epsilon), $"BatchNorm: epsilon must be positive. Received: {epsilon}");
        Momentum = momentum;
        Epsilon = epsilon;
    }

    /// <summary>Momentum of the running statistics.</summary>
    public double Momentum { get; }

    /// <summary>ε.</summary>
    public double Epsilon { get; }

    /// <summary>Running mean [C] (after build).</summary>
    public Tensor? RunningMean { get; private set; }

    /// <summary>Running variance [C] (after build).</summary>
    public Tensor? RunningVar { get; private set; }

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
        var node = ctx.Add(new BatchNormNode(this, ctx.NodeName));
        ctx.Identity(0, node);
        return node;
    }

    private sealed class BatchNormNode(BatchNorm o, string? name) : CatalogNode(o, null, "linear", CombineRule.Sum, name)
    {
        private Tensor? _gamma, _beta;

        public override string Kind => "BatchNorm";

        public override IEnumerable<Tensor> Parameters => _gamma is null ? [] : [_gamma, _beta!];

        protected override void BuildOwnParameters(DType dtype, RandomGenerator rng)
        {
            int c = InputShape![0];
            _gamma = o.Store("gamma", [c], dtype, () => Tensor.Ones([c], dtype), rng);
            _beta = o.Store("beta", [c], dtype, () => Tensor.Zeros([c], dtype), rng);
            o.RunningMean = o.Store("running_mean", [c], dtype, () => Tensor.Zeros([c], dtype), rng, trainable: false);
            o.RunningVar = o.Store("running_var", [c], dtype, () => Tensor.Ones([c], dtype), rng, trainable: false);
        }

        protected internal override Tensor Transform(Tensor x, bool training)
        {
            int rank = x.Rank;
            var axes = new int[rank - 1];
            axes[0] = 0;
            for (int d = 2; d < rank; d++) axes[d - 1] = d;
            var bshape = new int[rank];
            Array.Fill(bshape, 1);
            bshape[1] = x.Shape[1];
            Tensor mean, var;
            if (training)
            {
                mean = x.Mean(axes, keepDims: true);
                var centered = x - mean;
                var = centered.Square().Mean(axes, keepDims: true);
                int count = x.Length / x.Shape[1];
                using (Autograd.NoGrad())
                using (TensorScope.Suspend())
                {
                    double m = o.Momentum;
                    var unbiased = var.Detach().Reshape(-1) * (count > 1 ? count / (double)(count - 1) : 1.0);
                    o.RunningMean!.CopyFrom(o.RunningMean * (1 - m) + mean.Detach().Reshape(-1) * m);
                    o.RunningVar!.CopyFrom(o.RunningVar * (1 - m) + unbiased * m);
                }
                var norm = centered / (var + o.Epsilon).Sqrt();
                return norm * _gamma!.Reshape(bshape) + _beta!.Reshape(bshape);
            }
            mean = o.RunningMean!.Reshape(bshape);
            var = o.RunningVar!.Reshape(bshape);
            return (x - mean) / (var + o.Epsilon).Sqrt() * _gamma!.Reshape(bshape) + _beta!.Reshape(bshape);
        }
    }
}
