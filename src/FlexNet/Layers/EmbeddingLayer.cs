using FlexNet.Autodiff;
using FlexNet.Graph;
using FlexNet.Tensors;

namespace FlexNet.Layers;

/// <summary>
/// A lookup-table node, usable in any network (<c>net.Connect</c> into it makes an identity connection, as into every
/// shape-changing layer); the <see cref="Embedding"/> builder adds exactly this layer. The input holds integer indices
/// in [0, V) stored in the network's float dtype, per-sample shape [L]; the output is y[n, l, :] = W[x[n, l], :],
/// per-sample shape [L, D]. Parameter <c>NAME.weight</c> W [V, D] ~ N(0, 1) (torch's default). Saved in
/// <c>.flexnet</c> files as layer kind <c>embedding</c>.
/// </summary>
public sealed class EmbeddingLayer : Layer
{
    /// <summary>Creates the layer.</summary>
    /// <param name="vocabulary">Number of rows V ≥ 1.</param>
    /// <param name="dimension">Embedding size D ≥ 1.</param>
    /// <param name="name">Unique name; the network assigns one when null.</param>
    /// <exception cref="ArgumentOutOfRangeException">A non-positive size.</exception>
    public EmbeddingLayer(int vocabulary, int dimension, string? name = null) : base(null, "linear", CombineRule.Sum, false, name)
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

    /// <summary>W [V, D] (after build).</summary>
    public Tensor? Weight { get; private set; }

    internal ParameterSource? Source { get; init; }

    /// <inheritdoc/>
    public override bool ChangesShape => true;

    /// <inheritdoc/>
    public override string Kind => $"Embedding({Vocabulary}x{Dimension})";

    /// <summary>The base layer's parameters, then W.</summary>
    public override IEnumerable<Tensor> Parameters
    {
        get
        {
            foreach (var p in base.Parameters) yield return p;
            if (Weight is not null) yield return Weight;
        }
    }

    /// <inheritdoc/>
    protected internal override int[] InferOutputShape(int[] inputShape) => [.. inputShape, Dimension];

    /// <inheritdoc/>
    protected internal override void BuildParameters(DType dtype, RandomGenerator rng)
    {
        base.BuildParameters(dtype, rng);
        Weight = OwnParameters.Get(this, Source, "weight", [Vocabulary, Dimension], dtype,
                                   () => Tensor.Normal([Vocabulary, Dimension], 0, 1, rng, dtype), true, rng, Weight);
    }

    /// <inheritdoc/>
    protected internal override Tensor Transform(Tensor combined, bool training)
    {
        var idx = combined.Detach().To(DType.Int32);
        return NN.Embedding(Weight!, idx);
    }
}
