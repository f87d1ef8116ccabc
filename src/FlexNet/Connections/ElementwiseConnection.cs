using FlexNet.Graph;
using FlexNet.Tensors;

namespace FlexNet.Connections;

/// <summary>One weight per unit: c = w ⊙ s + b with w, b of the source's per-sample shape (equal to the target's).
/// Initialised to w = 1, b = 0 (so it starts as the identity); used for peepholes and diagonal recurrences.</summary>
public sealed class ElementwiseConnection : Connection
{
    /// <summary>Creates the connection.</summary>
    /// <param name="from">Source layer.</param>
    /// <param name="to">Target layer.</param>
    /// <param name="delay">Delay in steps.</param>
    /// <param name="bias">Whether the connection owns a bias b.</param>
    /// <param name="name">Name (default <c>From→To</c>).</param>
    public ElementwiseConnection(Layer from, Layer to, int delay = 0, bool bias = false, string? name = null)
        : base(from, to, delay, name) => HasBias = bias;

    /// <summary>Whether the connection owns a bias.</summary>
    public bool HasBias { get; }

    /// <summary>The weights w [...shape] (after build).</summary>
    public Tensor Weight => BuiltParameter(0);

    /// <summary>The bias [...shape] (null without bias).</summary>
    public Tensor? Bias => HasBias ? BuiltParameter(1) : null;

    /// <inheritdoc/>
    public override string Kind => "elementwise";

    /// <inheritdoc/>
    protected override int[] Build(ConnectionBuildContext context)
    {
        if (context.TargetShape is { } t && !ShapeUtil.SameShape(t, context.SourceShape))
            throw Mismatch($"an elementwise connection needs equal shapes; source {ShapeUtil.Format(context.SourceShape)} vs target {ShapeUtil.Format(t)}.");
        AddParameter("weight", Tensor.Ones(context.SourceShape, context.DType));
        if (HasBias) AddParameter("bias", Tensor.Zeros(context.SourceShape, context.DType));
        return context.SourceShape;
    }

    /// <inheritdoc/>
    public override Tensor Contribute(Tensor source)
    {
        var y = source * Weight;
        return Bias is null ? y : y + Bias;
    }
}
