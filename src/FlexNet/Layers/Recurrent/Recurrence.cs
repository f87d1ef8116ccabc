using FlexNet.Tensors;

namespace FlexNet.Layers.Recurrent;

/// <summary>
/// The time loop for any <see cref="IRecurrentCell"/> over a sequence x [T, N, I] (PyTorch's layout):
/// P = cell.ProjectInput(x) for all steps in one product, then (y_t, s_t) = cell.StepProjected(P_t, s_{t−1}) for
/// t = 0..T−1 (or T−1..0 when reversed). Backpropagation through time is the reverse walk of the recorded steps.
/// </summary>
public static class Recurrence
{
    /// <summary>Runs <paramref name="cell"/> over the sequence.</summary>
    /// <param name="cell">The cell.</param>
    /// <param name="x">Inputs [T, N, I], T ≥ 1, in the cell's dtype.</param>
    /// <param name="initial">Initial state (h_0, c_0, ...); null for the cell's zero state. Its time index is ignored:
    /// each step gets its input position t.</param>
    /// <param name="reverse">Process t = T−1 down to 0. Outputs stay aligned with the input: output step t is the
    /// cell's output after reading x_t (as the backward half of <c>torch.nn.LSTM(bidirectional=True)</c>).</param>
    /// <param name="returnSequences">Return all outputs [T, N, H]; otherwise only the last processed step's
    /// output [N, H] (step T−1, or step 0 when reversed).</param>
    /// <returns>The output and the state after the last processed step (its Time is the next index: T, or −1 when reversed).</returns>
    /// <exception cref="ShapeMismatchException">x is not [T, N, I] with T ≥ 1, or the initial state does not fit.</exception>
    public static (Tensor output, CellState final) Run(IRecurrentCell cell, Tensor x, CellState? initial = null,
                                                       bool reverse = false, bool returnSequences = true)
    {
        ArgumentNullException.ThrowIfNull(cell);
        ArgumentNullException.ThrowIfNull(x);
        if (x.Rank != 3 || x.Shape[0] < 1 || x.Shape[2] != cell.InputSize)
            throw new ShapeMismatchException($"Recurrence.Run({cell}): input of shape {ShapeUtil.Format(x.Shape)} is not [T, N, {cell.InputSize}] with T >= 1.");
        int steps = x.Shape[0], batch = x.Shape[1];
        var state = initial ?? cell.InitialState(batch, x.DType);
        if (initial is not null) CheckInitial(cell, initial, batch, x.DType);

        if (cell is LstmCell { Peepholes: false } lstm && x.DType == lstm.WeightIh.DType)
            return RunLstm(lstm, x, state, reverse, returnSequences);
        if (cell is RnnCell rnn && x.DType == rnn.WeightHh.DType)
            return RunRnn(rnn, x, state, reverse, returnSequences);

        var stepInputs = TimeSteps.Unbind(cell.ProjectInput(x));
        var outputs = new Tensor[steps];
        for (int k = 0; k < steps; k++)
        {
            int t = reverse ? steps - 1 - k : k;
            (outputs[t], state) = cell.StepProjected(stepInputs[t], state.WithTime(t));
        }
        state = state.WithTime(reverse ? -1 : steps);
        var output = returnSequences ? Tensor.Stack(outputs, 0) : outputs[reverse ? 0 : steps - 1];
        return (output, state);
    }

    /// <summary>An LSTM without peepholes runs as one fused op over the whole sequence (<see cref="LstmSequence"/>):
    /// the same forward values as the step loop, with the weight gradients summed over all steps in single products.</summary>
    private static (Tensor output, CellState final) RunLstm(LstmCell cell, Tensor x, CellState state, bool reverse, bool returnSequences)
    {
        int steps = x.Shape[0];
        var z = LstmSequence.Apply(x, cell.WeightIh, cell.WeightHh, cell.BiasIh, cell.BiasHh, state["h"], state["c"], reverse);
        int last = reverse ? 0 : steps - 1;
        var hLast = z.Slice(0, last, 1).Squeeze(0);
        var cLast = z.Slice(0, steps, 1).Squeeze(0);
        var output = returnSequences ? z.Slice(0, 0, steps) : hLast;
        return (output, new CellState(reverse ? -1 : steps, ("h", hLast), ("c", cLast)));
    }

    /// <summary>An Elman RNN runs as one fused op over the whole sequence (<see cref="RnnSequence"/>): the same forward
    /// values as the step loop, without a recorded node and tensors per step.</summary>
    private static (Tensor output, CellState final) RunRnn(RnnCell cell, Tensor x, CellState state, bool reverse, bool returnSequences)
    {
        int steps = x.Shape[0];
        var y = RnnSequence.Apply(x, cell.WeightIh, cell.WeightHh, cell.BiasIh, cell.BiasHh, state["h"], cell.Activation, reverse);
        var hLast = y.Slice(0, reverse ? 0 : steps - 1, 1).Squeeze(0);
        return (returnSequences ? y : hLast, new CellState(reverse ? -1 : steps, ("h", hLast)));
    }

    private static void CheckInitial(IRecurrentCell cell, CellState initial, int batch, DType dtype)
    {
        var zero = cell.InitialState(batch, dtype);
        for (int i = 0; i < zero.Names.Count; i++)
        {
            string name = zero.Names[i];
            if (!initial.Contains(name))
                throw new ShapeMismatchException($"Recurrence.Run({cell}): the initial state lacks '{name}'; the cell needs [{string.Join(", ", zero.Names)}].");
            var t = initial[name];
            if (!ShapeUtil.SameShape(t.Shape, zero.Values[i].Shape) || t.DType != dtype)
                throw new ShapeMismatchException($"Recurrence.Run({cell}): initial '{name}' has shape {ShapeUtil.Format(t.Shape)} ({t.DType}); expected {ShapeUtil.Format(zero.Values[i].Shape)} ({dtype}).");
        }
    }
}
