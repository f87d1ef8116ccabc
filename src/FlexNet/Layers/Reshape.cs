using FlexNet.Graph;

namespace FlexNet.Layers;

/// <summary>Reshapes each sample: [N, ...in] → [N, ...shape] (same element count). Graph: a
/// <see cref="ReshapeLayer"/> node with an identity connection.</summary>
public sealed class Reshape : CatalogLayer
{
    private readonly int[] _shape;

    /// <summary>Creates the layer.</summary>
    /// <param name="shape">Per-sample target shape.</param>
    /// <param name="name">Layer name.</param>
    public Reshape(int[] shape, string? name = null) : base(name, null)
    {
        ArgumentNullException.ThrowIfNull(shape);
        _shape = (int[])shape.Clone();
    }

    /// <summary>Per-sample target shape.</summary>
    public IReadOnlyList<int> TargetShape => _shape;

    /// <inheritdoc/>
    public override string Form => "reshape";

    /// <inheritdoc/>
    public override IReadOnlyDictionary<string, object>? GetConfig()
    {
        var d = Config("reshape", withInit: false);
        d["shape"] = (int[])_shape.Clone();
        return d;
    }

    /// <inheritdoc/>
    protected override Layer AttachCore(AttachContext ctx)
    {
        var node = ctx.Add(new ReshapeLayer(_shape, ctx.NodeName));
        ctx.Identity(0, node);
        return node;
    }
}
