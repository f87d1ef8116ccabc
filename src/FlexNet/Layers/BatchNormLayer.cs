using FlexNet.Autodiff;
using FlexNet.Graph;
using FlexNet.Tensors;

namespace FlexNet.Layers;

/// <summary>
/// A batch-normalisation node (torch BatchNorm1d/2d), usable in any network: <c>net.Add(new BatchNormLayer())</c>
/// then <c>net.Connect(h, bn)</c> (an identity connection); the <see cref="BatchNorm"/> builder adds exactly this layer.
/// For a combined input x [N, C] or [N, C, ...spatial] (per sample [C] or [C, ...spatial]; the output has the same
/// shape), y = γ ⊙ (x − μ)/√(σ² + ε) + β per channel c. Training: μ, σ² are the batch statistics over N and the spatial
/// axes (biased variance), and the running statistics are updated r ← (1 − m)·r + m·batch (the running variance with
/// the unbiased batch variance, as torch). Evaluation: μ, σ² are the running statistics. Parameters
/// <c>NAME.gamma</c> [C] (ones) and <c>NAME.beta</c> [C] (zeros); buffers <c>NAME.running_mean</c> [C] (zeros) and
/// <c>NAME.running_var</c> [C] (ones), saved with the weights but not trained. Saved in <c>.flexnet</c> files as
/// layer kind <c>batchnorm</c>.
/// </summary>
public sealed class BatchNormLayer : Layer, IIdentityInput
{
    /// <summary>Creates the layer (its shape is inferred from its input).</summary>
    /// <param name="momentum">m in (0, 1].</param>
    /// <param name="epsilon">ε &gt; 0.</param>
    /// <param name="name">Unique name; the network assigns one when null.</param>
    /// <exception cref="ArgumentOutOfRangeException">A momentum outside (0, 1] or a non-positive ε.</exception>
    public BatchNormLayer(double momentum = 0.1, double epsilon = 1e-5, string? name = null)
        : base(null, "linear", CombineRule.Sum, false, name)
    {
        CheckArguments(momentum, epsilon);
        Momentum = momentum;
        Epsilon = epsilon;
    }

    /// <summary>The argument checks of this layer and of the catalog's <see cref="BatchNorm"/>: m in (0, 1], ε positive and finite.</summary>
    internal static void CheckArguments(double momentum, double epsilon)
    {
        if (!(momentum > 0 && momentum <= 1)) throw new ArgumentOutOfRangeException(nameof(momentum), $"BatchNorm: momentum must be in (0, 1]. Received: {momentum}");
        if (!(epsilon > 0) || !double.IsFinite(epsilon)) throw new ArgumentOutOfRangeException(nameof(epsilon), $"BatchNorm: epsilon must be positive. Received: {epsilon}");
    }

    /// <summary>Momentum m of the running statistics.</summary>
    public double Momentum { get; }

    /// <summary>ε.</summary>
    public double Epsilon { get; }

    /// <summary>γ [C] (after build).</summary>
    public Tensor? Gamma { get; private set; }

    /// <summary>β [C] (after build).</summary>
    public Tensor? Beta { get; private set; }

    /// <summary>Running mean [C] (after build).</summary>
    public Tensor? RunningMean { get; private set; }

    /// <summary>Running variance [C] (after build).</summary>
    public Tensor? RunningVar { get; private set; }

    /// <summary>Where the builder keeps the tensors (shared by its attachments); null: the layer owns them.</summary>
    internal ParameterSource? Source { get; init; }

    /// <inheritdoc/>
    public override string Kind => "BatchNorm";

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
    internal override IEnumerable<Tensor> Buffers => RunningMean is null ? [] : [RunningMean, RunningVar!];

    /// <inheritdoc/>
    protected internal override void BuildParameters(DType dtype, RandomGenerator rng)
    {
        base.BuildParameters(dtype, rng);
        int c = InputShape![0];
        Gamma = Get("gamma", c, dtype, () => Tensor.Ones([c], dtype), true, rng, Gamma);
        Beta = Get("beta", c, dtype, () => Tensor.Zeros([c], dtype), true, rng, Beta);
        RunningMean = Get("running_mean", c, dtype, () => Tensor.Zeros([c], dtype), false, rng, RunningMean);
        RunningVar = Get("running_var", c, dtype, () => Tensor.Ones([c], dtype), false, rng, RunningVar);
    }

    private Tensor Get(string shortName, int c, DType dtype, Func<Tensor> create, bool trainable, RandomGenerator rng, Tensor? old) =>
        OwnParameters.Get(this, Source, shortName, [c], dtype, create, trainable, rng, old);

    /// <inheritdoc/>
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
                double m = Momentum;
                var unbiased = var.Detach().Reshape(-1) * (count > 1 ? count / (double)(count - 1) : 1.0);
                RunningMean!.CopyFrom(RunningMean * (1 - m) + mean.Detach().Reshape(-1) * m);
                RunningVar!.CopyFrom(RunningVar * (1 - m) + unbiased * m);
            }
            var norm = centered / (var + Epsilon).Sqrt();
            return norm * Gamma!.Reshape(bshape) + Beta!.Reshape(bshape);
        }
        mean = RunningMean!.Reshape(bshape);
        var = RunningVar!.Reshape(bshape);
        return (x - mean) / (var + Epsilon).Sqrt() * Gamma!.Reshape(bshape) + Beta!.Reshape(bshape);
    }
}
