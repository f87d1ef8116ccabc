using FlexNet.Graph;

namespace FlexNet.Layers;

/// <summary>Flattens each sample: [N, d₁, …, d_k] → [N, d₁·…·d_k] (theanets <c>flat</c>). Graph: a
/// <see cref="FlattenLayer"/> node with an identity connection.</summary>
public sealed class Flatten : CatalogLayer
{
    /// <summary>Creates the layer.</summary>
    /// <param name="name">Layer name.</param>
    public Flatten(string? name = null) : base(name, null) { }

    /// <inheritdoc/>
    public override string Form => "flatten";

    /// <inheritdoc/>
    public override IReadOnlyDictionary<string, object>? GetConfig() => Config("flatten", withInit: false);

    /// <inheritdoc/>
    protected override Layer AttachCore(AttachContext ctx)
    {
        var node = ctx.Add(new FlattenLayer(ctx.NodeName));
        ctx.Identity(0, node);
        return node;
    }
}
