using FlexNet.Graph;

namespace FlexNet.Layers;

/// <summary>Joins its inputs along the feature/channel axis (per-sample axis 0): y = [x₁; …; x_k]; all other dimensions must agree. No parameters, no activation. Graph: a node with combine rule <see cref="CombineRule.Concat"/> and identity connections.</summary>
public sealed class Concatenate : CatalogLayer
{
    /// <summary>Creates the layer.</summary>
    /// <param name="name">Layer name.</param>
    public Concatenate(string? name = null) : base(name, null) { }

    /// <inheritdoc/>
    public override string Form => "concat";

    /// <inheritdoc/>
    public override IReadOnlyDictionary<string, object>? GetConfig() => Config("concatenate", withInit: false);

    /// <inheritdoc/>
    protected override (int Min, int Max) InputArity => (1, int.MaxValue);

    /// <inheritdoc/>
    protected override Layer AttachCore(AttachContext ctx)
    {
        var node = ctx.Add(PlainNode(null, "linear", CombineRule.Concat, ctx.NodeName));
        for (int i = 0; i < ctx.Inputs.Count; i++) ctx.Identity(i, node);
        return node;
    }
}
