using FlexNet.Connections;
using FlexNet.Graph;

namespace FlexNet.Layers;

/// <summary>
/// Uses the transpose of a partner's weight (theanets <c>tied</c>): y = act(x·W_p + b), W_p [out_p, in_p] the
/// partner's weight (x has out_p features, y has in_p), b [in_p] this layer's own bias (zero-initialised).
/// Gradients flow into the shared W_p. Typical use: the decoder of a tied autoencoder.
/// </summary>
public sealed class Tied : CatalogLayer
{
    private Connection? _first;

    /// <summary>Creates the layer.</summary>
    /// <param name="partner">The layer whose weight is shared (a <see cref="Dense"/> or a custom layer with one weight).</param>
    /// <param name="activation">Activation name.</param>
    /// <param name="name">Layer name.</param>
    public Tied(ITiedPartner partner, string activation = "linear", string? name = null) : base(name, null)
    {
        Partner = partner ?? throw new ArgumentNullException(nameof(partner));
        _ = Activations.Get(activation);
        Activation = activation;
    }

    /// <summary>The partner.</summary>
    public ITiedPartner Partner { get; }

    /// <summary>Activation name.</summary>
    public string Activation { get; }

    /// <inheritdoc/>
    public override string Form => "tied";

    /// <inheritdoc/>
    public override IReadOnlyDictionary<string, object>? GetConfig()
    {
        var d = Config("tied", withInit: false);
        d["partner"] = Partner.Name ?? throw new GraphException($"Tied layer '{Name}': its partner has no name yet; attach the partner first.");
        d["activation"] = Activation;
        return d;
    }

    /// <inheritdoc/>
    protected override Layer AttachCore(AttachContext ctx)
    {
        if (Partner is not CatalogLayer p || p.Nodes.Count == 0)
            throw new GraphException($"Tied layer '{Name ?? "tied"}': its partner '{Partner.Name}' must be attached to the network first.");
        var node = ctx.Add(PlainNode(null, Activation, CombineRule.Sum, ctx.NodeName));
        if (_first is null) _first = Own(ctx.Network, new TiedConnection(ctx.Inputs[0], node, Partner, p.Nodes[0], bias: true, node.Name));
        else Own(ctx.Network, new SharedConnection(_first, ctx.Inputs[0], node));
        return node;
    }
}
