using FlexNet.Graph;
using FlexNet.Tensors;

namespace FlexNet.Connections;

/// <summary>c = s: passes the source's output unchanged (shapes must match the target's). No parameters.
/// With delay 1 from a layer to itself (or through a product layer) it keeps a memory cell.</summary>
public sealed class IdentityConnection : Connection
{
    /// <summary>Creates the connection.</summary>
    /// <param name="from">Source layer.</param>
    /// <param name="to">Target layer.</param>
    /// <param name="delay">Delay in steps.</param>
    /// <param name="name">Name (default <c>From→To</c>).</param>
    public IdentityConnection(Layer from, Layer to, int delay = 0, string? name = null) : base(from, to, delay, name) { }

    /// <inheritdoc/>
    public override string Kind => "identity";

    /// <inheritdoc/>
    protected override int[] Build(ConnectionBuildContext context)
    {
        if (context.TargetShape is { } t && !ShapeUtil.SameShape(t, context.SourceShape))
            throw Mismatch($"an identity connection needs equal shapes; source {ShapeUtil.Format(context.SourceShape)} vs target {ShapeUtil.Format(t)}.");
        return context.SourceShape;
    }

    internal override bool IsIdentity => true;

    internal override bool TryGetAffine(out Tensor? weight, out Tensor? bias)
    {
        weight = null;
        bias = null;
        return true;
    }

    /// <inheritdoc/>
    public override Tensor Contribute(Tensor source) => source;
}
