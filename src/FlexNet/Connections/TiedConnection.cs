using FlexNet.Graph;
using FlexNet.Tensors;
using FlexNet.Autodiff;

namespace FlexNet.Connections;

/// <summary>
/// Uses the transpose of a partner dense connection's weights: c = s·W_p + b, where W_p [out_p, in_p] belongs to
/// the partner (so s has out_p features and c has in_p). Gradients flow into the shared W_p; the optional bias
/// b [in_p] is this connection's own (zero-initialised). Typical use: the decoder of a tied autoencoder. The partner is
/// a dense connection (Connect graphs) or a Keras-style layer with one weight (the <c>tied</c> form of specs and the
/// <see cref="Layers.Tied"/> builder); either way this is the one tied connection of FlexNet.
/// </summary>
public sealed class TiedConnection : Connection
{
    /// <summary>Creates the connection.</summary>
    /// <param name="from">Source layer (out_p features).</param>
    /// <param name="to">Target layer (in_p features).</param>
    /// <param name="partner">The dense connection whose weight is shared.</param>
    /// <param name="delay">Delay in steps.</param>
    /// <param name="bias">Whether this connection owns a bias [in_p].</param>
    /// <param name="name">Name (default <c>From→To</c>).</param>
    public TiedConnection(Layer from, Layer to, DenseConnection partner, int delay = 0, bool bias = true, string? name = null)
        : base(from, to, delay, name)
    {
        Partner = partner ?? throw new ArgumentNullException(nameof(partner));
        PartnerName = partner.Name;
        HasBias = bias;
    }

    /// <summary>Ties to a Keras-style layer's weight [out_p, in_p]: its features are read from the shapes of the layer's
    /// node (the weight itself may be created after this connection is built).</summary>
    internal TiedConnection(Layer from, Layer to, Layers.ITiedPartner partner, Layer partnerNode, bool bias, string? name)
        : base(from, to, 0, name)
    {
        _layerPartner = partner;
        _partnerNode = partnerNode;
        PartnerName = partner.Name ?? partnerNode.Name;
        HasBias = bias;
    }

    private readonly Layers.ITiedPartner? _layerPartner;
    private readonly Layer? _partnerNode;

    /// <summary>Name of the partner (connection or layer) whose weight is used.</summary>
    public string PartnerName { get; }

    /// <summary>The partner dense connection whose weight is used transposed (null when the partner is a layer).</summary>
    public DenseConnection? Partner { get; }

    /// <summary>Whether the connection owns a bias.</summary>
    public bool HasBias { get; }

    /// <summary>The own bias (null without bias).</summary>
    public Tensor? Bias => HasBias ? BuiltParameter(0) : null;

    /// <inheritdoc/>
    public override string Kind => $"tied({PartnerName})";

    /// <inheritdoc/>
    protected override int[] Build(ConnectionBuildContext context)
    {
        var (outP, inP) = PartnerFeatures();
        if (ShapeUtil.Product(context.SourceShape) != outP)
            throw Mismatch($"the source has {ShapeUtil.Product(context.SourceShape)} features but partner '{PartnerName}' produces {outP} (weight [{outP}, {inP}]).");
        int[] shape = context.TargetShape is { } t ? t : [inP];
        if (ShapeUtil.Product(shape) != inP)
            throw Mismatch($"partner '{PartnerName}' (weight [{outP}, {inP}]) maps back to {inP} features, the target has {ShapeUtil.Format(shape)}.");
        if (HasBias) AddParameter("bias", Tensor.Zeros([inP], context.DType));
        return shape;
    }

    /// <summary>The partner weight's [out_p, in_p] once the partner is built.</summary>
    private (int Out, int In) PartnerFeatures()
    {
        if (Partner is not null)
        {
            if (!Partner.IsBuilt)
                throw new GraphException($"Tied connection '{Name}' ('{From.Name}' → '{To.Name}'): its partner ('{Partner.From.Name}' → '{Partner.To.Name}') is not built; it must belong to the same network and come before the tied layer.");
            return (Partner.OutFeatures, Partner.InFeatures);
        }
        // a layer partner: out_p from its node's output, in_p from the source of its (first) incoming connection
        var node = _partnerNode!;
        int inP = -1;
        if (node.Network is { } net)
            foreach (var c in net.Connections)
                if (ReferenceEquals(c.To, node) && c.SourceShape is { } ss) { inP = ShapeUtil.Product(ss); break; }
        if (node.OutputShape is null || inP < 0)
            throw new GraphException($"Tied connection '{Name}': partner '{PartnerName}' has no shapes yet; it must come before the tied layer.");
        return (ShapeUtil.Product(node.OutputShape), inP);
    }

    /// <inheritdoc/>
    public override Tensor Contribute(Tensor source)
    {
        // Stryker disable once Conditional,Equality : equivalent: reshaping an [N, F] source to [N, -1] gives the same [N, F] view
        var x = source.Rank > 2 ? source.Reshape(source.Shape[0], -1) : source;
        var y = NN.MatMul(x, Partner?.Weight ?? _layerPartner!.TiedWeight());
        if (Bias is not null) y = y + Bias;
        var shape = OutputShape!;
        if (shape.Length == 1) return y;
        var s = new int[shape.Length + 1];
        s[0] = source.Shape[0];
        shape.CopyTo(s, 1);
        return y.Reshape(s);
    }
}
