using FlexNet.Tensors;

namespace FlexNet.Graph;

/// <summary>
/// A source of data. Non-temporal (no <see cref="SequenceLength"/>): the input tensor is [N, ...shape] and is
/// presented at every step. Temporal: the input tensor is [T, N, ...shape] (PyTorch's sequence layout) and step t
/// reads x[t]; the network unrolls over T (taken from the tensor, so stateful chunks may be shorter than the
/// declared length).
/// </summary>
public sealed class InputLayer : Layer
{
    /// <summary>An input of per-sample shape <paramref name="shape"/>.</summary>
    /// <param name="shape">Per-sample shape, e.g. [196] or [1, 28, 28].</param>
    /// <param name="sequenceLength">Nominal number of time steps for a temporal input; null for a non-temporal input.</param>
    /// <param name="name">Unique name; the network assigns one when null.</param>
    public InputLayer(int[] shape, int? sequenceLength = null, string? name = null)
        : base(shape ?? throw new ArgumentNullException(nameof(shape)), "linear", CombineRule.Sum, false, name)
    {
        if (sequenceLength is <= 0)
            throw new ArgumentException($"sequenceLength must be positive. Received: {sequenceLength}", nameof(sequenceLength));
        SequenceLength = sequenceLength;
    }

    /// <summary>A vector input of <paramref name="units"/> features.</summary>
    /// <param name="units">Features per sample.</param>
    /// <param name="sequenceLength">Nominal number of time steps for a temporal input; null for a non-temporal input.</param>
    /// <param name="name">Unique name; the network assigns one when null.</param>
    public InputLayer(int units, int? sequenceLength = null, string? name = null) : this([units], sequenceLength, name)
    {
    }

    /// <summary>Nominal sequence length (null: non-temporal).</summary>
    public int? SequenceLength { get; }

    /// <summary>True when the input is a sequence [T, N, ...].</summary>
    public bool IsTemporal => SequenceLength is not null;

    /// <inheritdoc/>
    public override string Kind => IsTemporal ? $"Input(T={SequenceLength})" : "Input";

    /// <inheritdoc/>
    protected internal override Tensor Transform(Tensor combined, bool training) => combined;
}
