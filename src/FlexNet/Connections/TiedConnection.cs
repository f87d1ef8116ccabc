using FlexNet.Graph;
using FlexNet.Tensors;
using FlexNet.Autodiff;

namespace FlexNet.Connections;

/// <summary>
/// Uses the transpose of a partner dense connection's weights: c = s·W_p + b, where W_p [out_p, in_p] belongs to
/// the partner (so s has out_p features and c has in_p). Gradients flow into the shared W_p; the optional bias
/// b [in_p] is this connection's own (zero-initialised). Typical use: the decoder of a tied autoencoder.
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
        HasBias = bias;
    }

    /// <summary>The partner whose weight is used transposed.</summary>
    public DenseConnection Partner { get; }

    /// <summary>Whether the connection owns a bias.</summary>
    public bool HasBias { get; }

    /// <summary>The own bias (null without bias).</summary>
    public Tensor? Bias => HasBias ? BuiltParameter(0) : null;

    /// <inheritdoc/>
    public override string Kind => $"tied({Partner.Name})";

    /// <inheritdoc/>
    protected override int[] Build(ConnectionBuildContext context)
    {
        if (!Partner.IsBuilt)
            throw new GraphException($"Tied connection '{Name}' ('{From.Name}' → '{To.Name}'): partner '{Partner.Name}' is not built; it must belong to the same network.");
        int outP = Partner.OutFeatures, inP = Partner.InFeatures;
        if (ShapeUtil.Product(context.SourceShape) != outP)
            throw Mismatch($"the source has {ShapeUtil.Product(context.SourceShape)} features but partner '{Partner.Name}' produces {outP} (weight {ShapeUtil.Format(Partner.Weight.Shape)}).");
        int[] shape = context.TargetShape is { } t && To.Combine != CombineRule.Concat ? t : [inP];
        if (ShapeUtil.Product(shape) != inP)
            throw Mismatch($"partner '{Partner.Name}' (weight {ShapeUtil.Format(Partner.Weight.Shape)}) maps back to {inP} features, the target has {ShapeUtil.Format(shape)}.");
        if (HasBias) AddParameter("bias", Tensor.Zeros([inP], context.DType));
        return shape;
    }

    /// <inheritdoc/>
    public override Tensor Contribute(Tensor source)
    {
        var x = source.Rank > 2 ? source.Reshape(source.Shape[0], -1) : source;
        var y = NN.MatMul(x, Partner.Weight);
        if (Bias is not null) y = y + Bias;
        var shape = OutputShape!;
        if (shape.Length == 1) return y;
        var s = new int[shape.Length + 1];
        s[0] = source.Shape[0];
        shape.CopyTo(s, 1);
        return y.Reshape(s);
    }
}
