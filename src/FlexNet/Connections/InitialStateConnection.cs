using FlexNet.Graph;
using FlexNet.Tensors;

namespace FlexNet.Connections;

/// <summary>The edge that gives a recurrent node its initial state: the source's output [H] (h₀) or, for an LSTM,
/// [2H] (h₀; c₀) is read when the node starts (step 0, or the start of a whole-sequence run). No parameters.</summary>
internal sealed class InitialStateConnection : Connection
{
    /// <summary>Creates the connection.</summary>
    /// <param name="from">Source of the initial state.</param>
    /// <param name="to">Recurrent node.</param>
    public InitialStateConnection(Layer from, Layer to) : base(from, to, 0) { }

    /// <inheritdoc/>
    public override string Kind => "initial-state";

    /// <inheritdoc/>
    protected override int[] Build(ConnectionBuildContext context)
    {
        if (context.SourceShape.Length != 1) throw Mismatch($"an initial state must be a vector [H] per sample; got {ShapeUtil.Format(context.SourceShape)}.");
        return context.SourceShape;
    }

    /// <inheritdoc/>
    public override Tensor Contribute(Tensor source) => source;
}
