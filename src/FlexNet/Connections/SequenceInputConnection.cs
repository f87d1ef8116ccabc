using FlexNet.Graph;
using FlexNet.Tensors;

namespace FlexNet.Connections;

/// <summary>The data edge into a recurrent node: a vector source [F] passes unchanged (stepped mode); a sequence
/// source [T, F] is passed flattened [T·F] (whole-sequence mode) and unflattened by the node. No parameters.</summary>
internal sealed class SequenceInputConnection : Connection
{
    /// <summary>Creates the connection.</summary>
    /// <param name="from">Source.</param>
    /// <param name="to">Recurrent node.</param>
    /// <param name="delay">Delay.</param>
    /// <param name="name">Name (null: automatic).</param>
    public SequenceInputConnection(Layer from, Layer to, int delay = 0, string? name = null) : base(from, to, delay, name) { }

    /// <summary>True when the source is a whole sequence [T, F].</summary>
    public bool IsSequence => SourceShape is { Length: 2 };

    /// <inheritdoc/>
    public override string Kind => IsSequence ? "sequence" : "identity";

    /// <inheritdoc/>
    protected override int[] Build(ConnectionBuildContext context)
    {
        var s = context.SourceShape;
        if (s.Length > 2) throw Mismatch($"a recurrent layer reads vectors [F] per step or sequences [T, F]; got {ShapeUtil.Format(s)} (flatten it first).");
        return [ShapeUtil.Product(s)];
    }

    /// <inheritdoc/>
    public override Tensor Contribute(Tensor source) => source.Rank == 2 ? source : source.Reshape(source.Shape[0], -1);
}
