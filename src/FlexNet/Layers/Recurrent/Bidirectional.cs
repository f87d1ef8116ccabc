using FlexNet.Tensors;

namespace FlexNet.Layers.Recurrent;

/// <summary>
/// Two cells over the same sequence, one forward and one backward in time, with outputs concatenated on the feature
/// axis: y_t = [fw_t ; bw_t] [N, H_fw + H_bw]. The backward half is re-reversed (FlexNet rule), so output step t of
/// both halves belongs to input step t (theanets leaves the backward half in processing order).
/// </summary>
public sealed class Bidirectional
{
    private readonly Tensor[] _parameters;

    /// <summary>Pairs two cells with the same input size.</summary>
    /// <param name="forward">Cell run from t = 0 to T−1.</param>
    /// <param name="backward">Cell run from t = T−1 to 0.</param>
    /// <exception cref="ShapeMismatchException">The input sizes differ.</exception>
    public Bidirectional(IRecurrentCell forward, IRecurrentCell backward)
    {
        ArgumentNullException.ThrowIfNull(forward);
        ArgumentNullException.ThrowIfNull(backward);
        if (forward.InputSize != backward.InputSize)
            throw new ShapeMismatchException($"Bidirectional: the forward cell {forward} reads {forward.InputSize} inputs but the backward cell {backward} reads {backward.InputSize}.");
        Forward = forward;
        Backward = backward;
        _parameters = [.. forward.Parameters, .. backward.Parameters];
    }

    /// <summary>The forward-in-time cell.</summary>
    public IRecurrentCell Forward { get; }

    /// <summary>The backward-in-time cell.</summary>
    public IRecurrentCell Backward { get; }

    /// <summary>Input features I.</summary>
    public int InputSize => Forward.InputSize;

    /// <summary>Output features H_fw + H_bw.</summary>
    public int OutputSize => Forward.HiddenSize + Backward.HiddenSize;

    /// <summary>Forward cell's parameters, then the backward cell's.</summary>
    public IReadOnlyList<Tensor> Parameters => _parameters;

    /// <summary>Runs both halves over x [T, N, I].</summary>
    /// <param name="x">Inputs [T, N, I].</param>
    /// <param name="initialForward">Initial state of the forward half (null: zeros).</param>
    /// <param name="initialBackward">Initial state of the backward half (null: zeros).</param>
    /// <param name="returnSequences">All steps [T, N, H_fw + H_bw]; otherwise [fw output at t = T−1 ; bw output at
    /// t = 0] [N, H_fw + H_bw], the last step each half processed (like PyTorch's h_n).</param>
    /// <returns>The output and the final states of both halves.</returns>
    /// <exception cref="ShapeMismatchException">x or an initial state does not fit.</exception>
    public (Tensor output, CellState forwardFinal, CellState backwardFinal) Run(
        Tensor x, CellState? initialForward = null, CellState? initialBackward = null, bool returnSequences = true)
    {
        var (yf, sf) = Recurrence.Run(Forward, x, initialForward, reverse: false, returnSequences);
        var (yb, sb) = Recurrence.Run(Backward, x, initialBackward, reverse: true, returnSequences);
        return (Tensor.Concat([yf, yb], -1), sf, sb);
    }

    /// <summary>Summary such as <c>Bidirectional(LstmCell(4 => 6), LstmCell(4 => 6))</c>.</summary>
    /// <returns>The summary.</returns>
    public override string ToString() => $"Bidirectional({Forward}, {Backward})";
}
