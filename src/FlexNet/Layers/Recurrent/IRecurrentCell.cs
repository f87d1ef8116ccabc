using FlexNet.Tensors;

namespace FlexNet.Layers.Recurrent;

/// <summary>
/// One step of a recurrent layer as a pure function: (x_t [N, I], state_{t-1}) → (y_t [N, H], state_t).
/// A cell keeps no time state of its own; the time loop lives in <see cref="Recurrence"/> (or the graph runner).
/// The step is split into <see cref="ProjectInput"/> (the part that depends on x only, so a time loop can compute
/// it for all steps in one matrix product) and <see cref="StepProjected"/> (the recurrent part), with
/// <c>Step(x, s) = StepProjected(ProjectInput(x), s)</c>.
/// </summary>
public interface IRecurrentCell
{
    /// <summary>Input features I per step.</summary>
    int InputSize { get; }

    /// <summary>Hidden units H: the size of the output y_t and of the hidden state h.</summary>
    int HiddenSize { get; }

    /// <summary>The trainable parameters (named, RequiresGrad), in a fixed order.</summary>
    IReadOnlyList<Tensor> Parameters { get; }

    /// <summary>The zero state for a batch of <paramref name="batch"/> sequences, at time index 0.</summary>
    /// <param name="batch">Batch size N.</param>
    /// <param name="dtype">Float32 or Float64 (the parameters' dtype).</param>
    /// <returns>A state whose tensors are [N, ·] zeros.</returns>
    CellState InitialState(int batch, DType dtype);

    /// <summary>One time step: (x_t [N, I], state) → (y_t [N, H], next state with Time + 1).</summary>
    /// <param name="x">Input of this step [N, I].</param>
    /// <param name="state">State after the previous step.</param>
    /// <returns>The output and the new state.</returns>
    (Tensor output, CellState next) Step(Tensor x, CellState state);

    /// <summary>The input-only terms of the step (x·Wᵀ + b for the cell's input weights): [..., I] → [..., P].</summary>
    /// <param name="x">Inputs with any leading dimensions, last dimension I.</param>
    /// <returns>The projected inputs, last dimension P (cell specific).</returns>
    Tensor ProjectInput(Tensor x);

    /// <summary>The rest of the step, given <see cref="ProjectInput"/> of x_t: ([N, P], state) → (y_t [N, H], next state).</summary>
    /// <param name="projected">ProjectInput(x_t) [N, P].</param>
    /// <param name="state">State after the previous step.</param>
    /// <returns>The output and the new state.</returns>
    (Tensor output, CellState next) StepProjected(Tensor projected, CellState state);
}
