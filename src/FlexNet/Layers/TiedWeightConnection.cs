using FlexNet.Graph;
using FlexNet.Tensors;
using FlexNet.Autodiff;

namespace FlexNet.Layers;

/// <summary>c = s·W_p + b with W_p [out_p, in_p] read from an <see cref="ITiedPartner"/> at run time; b [in_p]
/// is this connection's own bias (zeros). in_p is the partner node's input size, out_p its output size.</summary>
public sealed class TiedWeightConnection : Connection
{
    private readonly ITiedPartner _partner;
    private readonly Layer _partnerNode;

    /// <summary>Creates the connection.</summary>
    /// <param name="partner">The partner layer.</param>
    /// <param name="partnerNode">The partner's node (for the shapes).</param>
    /// <param name="from">Source (out_p features).</param>
    /// <param name="to">Target (in_p features).</param>
    /// <param name="name">Name.</param>
    public TiedWeightConnection(ITiedPartner partner, Layer partnerNode, Layer from, Layer to, string? name = null) : base(from, to, 0, name)
    {
        _partner = partner;
        _partnerNode = partnerNode;
    }

    /// <inheritdoc/>
    public override string Kind => $"tied({_partner.Name})";

    /// <summary>The bias b [in_p].</summary>
    public Tensor Bias => BuiltParameter(0);

    /// <inheritdoc/>
    protected override int[] Build(ConnectionBuildContext context)
    {
        var pin = _partnerNode.InputShape;
        var pout = _partnerNode.OutputShape;
        // the partner node's input shape is its combined input; its weight maps the partner's *source* features
        int inP = -1;
        foreach (var c in _partnerNode.Network!.Connections)
            if (ReferenceEquals(c.To, _partnerNode) && c.SourceShape is { } ss) { inP = ShapeUtil.Product(ss); break; }
        if (pin is null || pout is null || inP < 0)
            throw new GraphException($"Tied connection '{Name}': partner '{_partner.Name}' has no shapes yet; it must come before the tied layer.");
        if (ShapeUtil.Product(context.SourceShape) != ShapeUtil.Product(pout))
            throw Mismatch($"the source has {ShapeUtil.Product(context.SourceShape)} features but partner '{_partner.Name}' produces {ShapeUtil.Product(pout)}.");
        AddParameter("bias", Tensor.Zeros([inP], context.DType));
        return [inP];
    }

    /// <inheritdoc/>
    public override Tensor Contribute(Tensor source)
    {
        var x = source.Rank > 2 ? source.Reshape(source.Shape[0], -1) : source;
        return NN.MatMul(x, _partner.TiedWeight()) + Bias;
    }
}
