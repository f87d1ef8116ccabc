using FlexNet.Graph;
using FlexNet.Tensors;

namespace FlexNet.Connections;

/// <summary>c = 1 − s (no parameters): e.g. the input gate of a coupled input-forget LSTM, i = 1 − f.</summary>
public sealed class ComplementConnection : Connection
{
    /// <summary>Creates the connection.</summary>
    /// <param name="from">Source layer.</param>
    /// <param name="to">Target layer (same shape).</param>
    /// <param name="delay">Delay in steps.</param>
    /// <param name="name">Name (default <c>From→To</c>).</param>
    public ComplementConnection(Layer from, Layer to, int delay = 0, string? name = null) : base(from, to, delay, name) { }

    /// <inheritdoc/>
    public override string Kind => "1-x";

    /// <inheritdoc/>
    protected override int[] Build(ConnectionBuildContext context)
    {
        if (context.TargetShape is { } t && !ShapeUtil.SameShape(t, context.SourceShape))
            throw Mismatch($"a complement connection needs equal shapes; source {ShapeUtil.Format(context.SourceShape)} vs target {ShapeUtil.Format(t)}.");
        return context.SourceShape;
    }

    /// <inheritdoc/>
    public override Tensor Contribute(Tensor source) => 1 - source;
}
