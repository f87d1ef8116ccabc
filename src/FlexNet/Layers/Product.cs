using FlexNet.Graph;

namespace FlexNet.Layers;

/// <summary>Elementwise product of its inputs (theanets <c>prod</c>): y = Πₖ xₖ (equal shapes). No parameters, no activation. Graph: a node with combine rule <see cref="CombineRule.Product"/> and identity connections.</summary>
public sealed class Product : CatalogLayer
{
    /// <summary>Creates the layer.</summary>
    /// <param name="name">Layer name.</param>
    public Product(string? name = null) : base(name, null) { }

    /// <inheritdoc/>
    public override string Form => "prod";

    /// <inheritdoc/>
    public override IReadOnlyDictionary<string, object>? GetConfig() => Config("product", withInit: false);

    /// <inheritdoc/>
    protected override (int Min, int Max) InputArity => (1, int.MaxValue);

    /// <inheritdoc/>
    protected override Layer AttachCore(AttachContext ctx)
    {
        var node = ctx.Add(PlainNode(null, "linear", CombineRule.Product, ctx.NodeName));
        for (int i = 0; i < ctx.Inputs.Count; i++) ctx.Identity(i, node);
        return node;
    }
}
