using FlexNet.Tensors;

namespace FlexNet.Layers.Recurrent;

/// <summary>
/// Elman RNN cell, exactly <c>torch.nn.RNN</c>: h_t = act(x_t·W_ihᵀ + b_ih + h_{t−1}·W_hhᵀ + b_hh), act ∈ {tanh, relu}
/// (any <see cref="RecurrentActivation"/> is accepted). Output y_t = h_t. Parameters (PyTorch names and layouts):
/// weight_ih_l0 [H, I], weight_hh_l0 [H, H], bias_ih_l0 [H], bias_hh_l0 [H], all drawn from U(−1/√H, 1/√H).
/// </summary>
public sealed class RnnCell : IRecurrentCell
{
    private readonly Tensor[] _parameters;

    /// <summary>Creates the cell with PyTorch's default initialisation.</summary>
    /// <param name="inputSize">Input features I (positive).</param>
    /// <param name="hiddenSize">Hidden units H (positive).</param>
    /// <param name="activation">The nonlinearity (torch: tanh or relu).</param>
    /// <param name="dtype">Parameter dtype, Float32 or Float64.</param>
    /// <param name="rng">Generator for the initial weights (default <see cref="RandomGenerator.Default"/>).</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is not positive.</exception>
    public RnnCell(int inputSize, int hiddenSize, RecurrentActivation activation = RecurrentActivation.Tanh,
                   DType dtype = DType.Float32, RandomGenerator? rng = null)
    {
        CellOps.CheckSizes("RnnCell", inputSize, hiddenSize, dtype);
        rng ??= RandomGenerator.Default;
        double k = CellOps.TorchBound(hiddenSize);
        InputSize = inputSize;
        HiddenSize = hiddenSize;
        Activation = activation;
        WeightIh = CellOps.Uniform("weight_ih_l0", [hiddenSize, inputSize], k, rng, dtype);
        WeightHh = CellOps.Uniform("weight_hh_l0", [hiddenSize, hiddenSize], k, rng, dtype);
        BiasIh = CellOps.Uniform("bias_ih_l0", [hiddenSize], k, rng, dtype);
        BiasHh = CellOps.Uniform("bias_hh_l0", [hiddenSize], k, rng, dtype);
        _parameters = [WeightIh, WeightHh, BiasIh, BiasHh];
    }

    /// <inheritdoc/>
    public int InputSize { get; }

    /// <inheritdoc/>
    public int HiddenSize { get; }

    /// <summary>The nonlinearity applied to the pre-activation.</summary>
    public RecurrentActivation Activation { get; }

    /// <summary>weight_ih_l0 [H, I].</summary>
    public Tensor WeightIh { get; }

    /// <summary>weight_hh_l0 [H, H].</summary>
    public Tensor WeightHh { get; }

    /// <summary>bias_ih_l0 [H].</summary>
    public Tensor BiasIh { get; }

    /// <summary>bias_hh_l0 [H].</summary>
    public Tensor BiasHh { get; }

    /// <inheritdoc/>
    public IReadOnlyList<Tensor> Parameters => _parameters;

    /// <inheritdoc/>
    public CellState InitialState(int batch, DType dtype) => CellOps.ZeroState(batch, dtype, 0, ("h", HiddenSize));

    /// <inheritdoc/>
    public (Tensor output, CellState next) Step(Tensor x, CellState state) => StepProjected(ProjectInput(x), state);

    /// <summary>x·W_ihᵀ + b_ih + b_hh: [..., I] → [..., H].</summary>
    /// <param name="x">Inputs, last dimension I.</param>
    /// <returns>The projection, last dimension H.</returns>
    public Tensor ProjectInput(Tensor x) => CellOps.Project("RnnCell", x, WeightIh, BiasIh + BiasHh);

    /// <summary>h_t = act(p_t + h_{t−1}·W_hhᵀ).</summary>
    /// <param name="projected">ProjectInput(x_t) [N, H].</param>
    /// <param name="state">State with h [N, H].</param>
    /// <returns>(h_t, state with h_t).</returns>
    public (Tensor output, CellState next) StepProjected(Tensor projected, CellState state)
    {
        int n = CellOps.CheckProjected("RnnCell", projected, HiddenSize);
        CellOps.CheckState("RnnCell", state, "h", n, HiddenSize);
        var h = RnnStep.Apply(projected, state.H, WeightHh, Activation);
        return (h, state.Next(state.Time + 1, h));
    }

    /// <summary>Summary such as <c>RnnCell(4 => 6, Tanh)</c>.</summary>
    /// <returns>The summary.</returns>
    public override string ToString() => $"RnnCell({InputSize} => {HiddenSize}, {Activation})";
}
