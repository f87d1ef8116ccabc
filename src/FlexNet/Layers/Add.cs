using FlexNet.Graph;

namespace FlexNet.Layers;

/// <summary>Elementwise sum of its inputs: y = Σₖ xₖ (equal shapes). No parameters, no activation. Graph: a node with combine rule <see cref="CombineRule.Sum"/> and identity connections.</summary>
public sealed class Add : CatalogLayer
{
    /// <summary>Creates the layer.</summary>
    /// <param name="name">Layer name.</param>
    public Add(string? name = null) : base(name, null) { }

    /// <inheritdoc/>
    public override string Form => "add";

    /// <inheritdoc/>
    public override IReadOnlyDictionary<string, object>? GetConfig() => Config("add", withInit: false);

    /// <inheritdoc/>
    protected override (int Min, int Max) InputArity => (1, int.MaxValue);

    /// <inheritdoc/>
    protected override Layer AttachCore(AttachContext ctx)
    {
        var node = ctx.Add(PlainNode(null, "linear", CombineRule.Sum, ctx.NodeName));
        for (int i = 0; i < ctx.Inputs.Count; i++) ctx.Identity(i, node);
        return node;
    }
}
