using FlexNet.Tensors;

namespace FlexNet.Layers.Recurrent;

/// <summary>
/// LSTM cell, exactly <c>torch.nn.LSTM</c> (gate order i, f, g, o): a = x·W_ihᵀ + b_ih + h·W_hhᵀ + b_hh split into
/// a_i, a_f, a_g, a_o; i = σ(a_i), f = σ(a_f), g = tanh(a_g), o = σ(a_o); c' = f ⊙ c + i ⊙ g; h' = o ⊙ tanh(c').
/// With <c>peepholes</c> (theanets / Graves 2013 diagonal peepholes): i = σ(a_i + c ⊙ p_i), f = σ(a_f + c ⊙ p_f),
/// o = σ(a_o + c' ⊙ p_o). Output y_t = h_t; state (h, c).
/// Parameters: weight_ih_l0 [4H, I], weight_hh_l0 [4H, H], bias_ih_l0 [4H], bias_hh_l0 [4H] (U(−1/√H, 1/√H)),
/// and with peepholes ci, cf, co [H] (same distribution).
/// </summary>
public sealed class LstmCell : IRecurrentCell
{
    private readonly Tensor[] _parameters;

    /// <summary>Creates the cell with PyTorch's default initialisation.</summary>
    /// <param name="inputSize">Input features I (positive).</param>
    /// <param name="hiddenSize">Hidden units H (positive).</param>
    /// <param name="peepholes">Add theanets' diagonal peephole weights ci, cf, co.</param>
    /// <param name="dtype">Parameter dtype, Float32 or Float64.</param>
    /// <param name="rng">Generator for the initial weights (default <see cref="RandomGenerator.Default"/>).</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is not positive.</exception>
    public LstmCell(int inputSize, int hiddenSize, bool peepholes = false, DType dtype = DType.Float32, RandomGenerator? rng = null)
    {
        CellOps.CheckSizes("LstmCell", inputSize, hiddenSize, dtype);
        rng ??= RandomGenerator.Default;
        double k = CellOps.TorchBound(hiddenSize);
        InputSize = inputSize;
        HiddenSize = hiddenSize;
        WeightIh = CellOps.Uniform("weight_ih_l0", [4 * hiddenSize, inputSize], k, rng, dtype);
        WeightHh = CellOps.Uniform("weight_hh_l0", [4 * hiddenSize, hiddenSize], k, rng, dtype);
        BiasIh = CellOps.Uniform("bias_ih_l0", [4 * hiddenSize], k, rng, dtype);
        BiasHh = CellOps.Uniform("bias_hh_l0", [4 * hiddenSize], k, rng, dtype);
        if (peepholes)
        {
            PeepholeI = CellOps.Uniform("ci", [hiddenSize], k, rng, dtype);
            PeepholeF = CellOps.Uniform("cf", [hiddenSize], k, rng, dtype);
            PeepholeO = CellOps.Uniform("co", [hiddenSize], k, rng, dtype);
            _parameters = [WeightIh, WeightHh, BiasIh, BiasHh, PeepholeI, PeepholeF, PeepholeO];
        }
        else _parameters = [WeightIh, WeightHh, BiasIh, BiasHh];
    }

    /// <inheritdoc/>
    public int InputSize { get; }

    /// <inheritdoc/>
    public int HiddenSize { get; }

    /// <summary>True when the cell has the diagonal peepholes ci, cf, co.</summary>
    public bool Peepholes => PeepholeI is not null;

    /// <summary>weight_ih_l0 [4H, I], row blocks (W_ii | W_if | W_ig | W_io).</summary>
    public Tensor WeightIh { get; }

    /// <summary>weight_hh_l0 [4H, H], row blocks (W_hi | W_hf | W_hg | W_ho).</summary>
    public Tensor WeightHh { get; }

    /// <summary>bias_ih_l0 [4H].</summary>
    public Tensor BiasIh { get; }

    /// <summary>bias_hh_l0 [4H].</summary>
    public Tensor BiasHh { get; }

    /// <summary>Input-gate peephole ci [H] (null without peepholes).</summary>
    public Tensor? PeepholeI { get; }

    /// <summary>Forget-gate peephole cf [H] (null without peepholes).</summary>
    public Tensor? PeepholeF { get; }

    /// <summary>Output-gate peephole co [H], applied to the new cell c' (null without peepholes).</summary>
    public Tensor? PeepholeO { get; }

    /// <inheritdoc/>
    public IReadOnlyList<Tensor> Parameters => _parameters;

    /// <inheritdoc/>
    public CellState InitialState(int batch, DType dtype) =>
        CellOps.ZeroState(batch, dtype, 0, ("h", HiddenSize), ("c", HiddenSize));

    /// <inheritdoc/>
    public (Tensor output, CellState next) Step(Tensor x, CellState state) => StepProjected(ProjectInput(x), state);

    /// <summary>x·W_ihᵀ + b_ih + b_hh: [..., I] → [..., 4H].</summary>
    /// <param name="x">Inputs, last dimension I.</param>
    /// <returns>The projection, last dimension 4H.</returns>
    public Tensor ProjectInput(Tensor x) => CellOps.Project("LstmCell", x, WeightIh, BiasIh + BiasHh);

    /// <summary>The LSTM update from the projected input: one h·W_hhᵀ product and one fused gate op per step.</summary>
    /// <param name="projected">ProjectInput(x_t) [N, 4H].</param>
    /// <param name="state">State with h, c [N, H].</param>
    /// <returns>(h_t, state with h_t, c_t).</returns>
    public (Tensor output, CellState next) StepProjected(Tensor projected, CellState state)
    {
        int hs = HiddenSize;
        int n = CellOps.CheckProjected("LstmCell", projected, 4 * hs);
        CellOps.CheckState("LstmCell", state, "h", n, hs);
        CellOps.CheckState("LstmCell", state, "c", n, hs);
        var recurrent = CellOps.Rec(state.H, WeightHh);
        if (Peepholes)
        {
            var (hp, cp) = PeepholeGates(projected + recurrent, state["c"]);
            return (hp, state.Next(state.Time + 1, hp, cp));
        }
        // one fused op for the gates; its [h ; c] output is split into two views with O(N·H) backward each
        var hc = TimeSteps.Unbind(LstmPointwise.Apply(projected, recurrent, state["c"]));
        return (hc[0], state.Next(state.Time + 1, hc[0], hc[1]));
    }

    /// <summary>The torch gate equations from ops (the oracle of the fused kernel).</summary>
    internal static (Tensor h, Tensor c) Gates(Tensor gates, Tensor c, int hs)
    {
        var s = gates.Sigmoid();
        var g = gates.Slice(1, 2 * hs, hs).Tanh();
        var cNext = s.Slice(1, hs, hs) * c + s.Slice(1, 0, hs) * g;
        var h = s.Slice(1, 3 * hs, hs) * cNext.Tanh();
        return (h, cNext);
    }

    private (Tensor h, Tensor c) PeepholeGates(Tensor gates, Tensor c)
    {
        int hs = HiddenSize;
        var i = (gates.Slice(1, 0, hs) + c * PeepholeI!).Sigmoid();
        var f = (gates.Slice(1, hs, hs) + c * PeepholeF!).Sigmoid();
        var g = gates.Slice(1, 2 * hs, hs).Tanh();
        var cNext = f * c + i * g;
        var o = (gates.Slice(1, 3 * hs, hs) + cNext * PeepholeO!).Sigmoid();
        return (o * cNext.Tanh(), cNext);
    }

    /// <summary>Summary such as <c>LstmCell(4 => 6)</c> or <c>LstmCell(4 => 6, peepholes)</c>.</summary>
    /// <returns>The summary.</returns>
    public override string ToString() => Peepholes ? $"LstmCell({InputSize} => {HiddenSize}, peepholes)" : $"LstmCell({InputSize} => {HiddenSize})";
}
