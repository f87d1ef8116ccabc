using FlexNet.Graph;
using FlexNet.Tensors;

namespace FlexNet.Layers;

/// <summary>
/// The base of the nodes that still belong to one builder (custom layers, dense layers over a
/// registered connection kind): a <see cref="Layer"/> that knows its <see cref="Owner"/>, so the owner can initialise
/// the parameters of the connections it made once the network is built (per its <see cref="LayerInit"/>). Every other
/// builder adds a public layer instead (a plain <see cref="Layer"/>, <see cref="BatchNormLayer"/>,
/// <see cref="DropoutLayer"/>, <see cref="LayerNormLayer"/>, <see cref="EmbeddingLayer"/>, <see cref="RecurrentCellLayer"/>, ...).
/// </summary>
internal class CatalogNode : Layer
{
    /// <summary>Creates the node.</summary>
    /// <param name="owner">The catalog layer that made it.</param>
    /// <param name="shape">Per-sample shape, or null to infer it.</param>
    /// <param name="activation">Activation name.</param>
    /// <param name="combine">How inputs combine.</param>
    /// <param name="name">Node name (null: automatic).</param>
    public CatalogNode(CatalogLayer owner, int[]? shape, string activation = "linear", CombineRule combine = CombineRule.Sum, string? name = null)
        : base(shape, activation, combine, false, name)
    {
        Owner = owner ?? throw new ArgumentNullException(nameof(owner));
    }

    /// <summary>The catalog layer that made this node.</summary>
    public CatalogLayer Owner { get; }

    /// <inheritdoc/>
    public override string Kind => Owner.GetType().Name;

    /// <summary>Incoming connections in combine order (after the node joined a network).</summary>
    protected IReadOnlyList<Connection> Incoming
    {
        get
        {
            if (Network is null) return [];
            return [.. Network.IncomingOf(this)];
        }
    }

    /// <inheritdoc/>
    protected internal override void BuildParameters(DType dtype, RandomGenerator rng)
    {
        base.BuildParameters(dtype, rng);
        Owner.InitIncoming(this, rng);
        BuildOwnParameters(dtype, rng);
    }

    /// <summary>Creates node-level parameters (override; default none). Shapes are known.</summary>
    /// <param name="dtype">Element type.</param>
    /// <param name="rng">Network generator.</param>
    protected virtual void BuildOwnParameters(DType dtype, RandomGenerator rng) { }

    /// <summary>Node-level parameters (override to list them; default: the base layer's).</summary>
    public override IEnumerable<Tensor> Parameters => base.Parameters;

    /// <summary>Reshapes a per-sample shape into a batch shape [n, ...shape].</summary>
    /// <param name="n">Batch size.</param>
    /// <param name="shape">Per-sample shape.</param>
    /// <returns>The batch shape.</returns>
    protected static int[] Batch(int n, int[] shape)
    {
        var s = new int[shape.Length + 1];
        s[0] = n;
        shape.CopyTo(s, 1);
        return s;
    }
}
