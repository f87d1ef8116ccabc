using FlexNet.Tensors;

namespace FlexNet.Layers.Recurrent;

/// <summary>
/// GRU cell, exactly <c>torch.nn.GRU</c> (gate order r, z, n; the reset gate multiplies W_hn·h + b_hn):
/// r = σ(W_ir x + b_ir + W_hr h + b_hr), z = σ(W_iz x + b_iz + W_hz h + b_hz),
/// n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)), h' = (1 − z) ⊙ n + z ⊙ h. Output y_t = h_t.
/// Parameters: weight_ih_l0 [3H, I], weight_hh_l0 [3H, H], bias_ih_l0 [3H], bias_hh_l0 [3H], from U(−1/√H, 1/√H).
/// </summary>
public sealed class GruCell : IRecurrentCell
{
    private readonly Tensor[] _parameters;

    /// <summary>Creates the cell with PyTorch's default initialisation.</summary>
    /// <param name="inputSize">Input features I (positive).</param>
    /// <param name="hiddenSize">Hidden units H (positive).</param>
    /// <param name="dtype">Parameter dtype, Float32 or Float64.</param>
    /// <param name="rng">Generator for the initial weights (default <see cref="RandomGenerator.Default"/>).</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is not positive.</exception>
    public GruCell(int inputSize, int hiddenSize, DType dtype = DType.Float32, RandomGenerator? rng = null)
    {
        CellOps.CheckSizes("GruCell", inputSize, hiddenSize, dtype);
        rng ??= RandomGenerator.Default;
        double k = CellOps.TorchBound(hiddenSize);
        InputSize = inputSize;
        HiddenSize = hiddenSize;
        WeightIh = CellOps.Uniform("weight_ih_l0", [3 * hiddenSize, inputSize], k, rng, dtype);
        WeightHh = CellOps.Uniform("weight_hh_l0", [3 * hiddenSize, hiddenSize], k, rng, dtype);
        BiasIh = CellOps.Uniform("bias_ih_l0", [3 * hiddenSize], k, rng, dtype);
        BiasHh = CellOps.Uniform("bias_hh_l0", [3 * hiddenSize], k, rng, dtype);
        _parameters = [WeightIh, WeightHh, BiasIh, BiasHh];
    }

    /// <inheritdoc/>
    public int InputSize { get; }

    /// <inheritdoc/>
    public int HiddenSize { get; }

    /// <summary>weight_ih_l0 [3H, I], row blocks (W_ir | W_iz | W_in).</summary>
    public Tensor WeightIh { get; }

    /// <summary>weight_hh_l0 [3H, H], row blocks (W_hr | W_hz | W_hn).</summary>
    public Tensor WeightHh { get; }

    /// <summary>bias_ih_l0 [3H].</summary>
    public Tensor BiasIh { get; }

    /// <summary>bias_hh_l0 [3H].</summary>
    public Tensor BiasHh { get; }

    /// <inheritdoc/>
    public IReadOnlyList<Tensor> Parameters => _parameters;

    /// <inheritdoc/>
    public CellState InitialState(int batch, DType dtype) => CellOps.ZeroState(batch, dtype, 0, ("h", HiddenSize));

    /// <inheritdoc/>
    public (Tensor output, CellState next) Step(Tensor x, CellState state) => StepProjected(ProjectInput(x), state);

    /// <summary>x·W_ihᵀ + b_ih: [..., I] → [..., 3H] (b_hh stays in the step: the reset gate scales its n block).</summary>
    /// <param name="x">Inputs, last dimension I.</param>
    /// <returns>The projection, last dimension 3H.</returns>
    public Tensor ProjectInput(Tensor x) => CellOps.Project("GruCell", x, WeightIh, BiasIh);

    /// <summary>The GRU update from the projected input: one h·W_hhᵀ product and one fused gate op per step.</summary>
    /// <param name="projected">ProjectInput(x_t) [N, 3H].</param>
    /// <param name="state">State with h [N, H].</param>
    /// <returns>(h_t, state with h_t).</returns>
    public (Tensor output, CellState next) StepProjected(Tensor projected, CellState state)
    {
        int hs = HiddenSize;
        int n = CellOps.CheckProjected("GruCell", projected, 3 * hs);
        CellOps.CheckState("GruCell", state, "h", n, hs);
        var h = state.H;
        var hNext = GruPointwise.Apply(projected, CellOps.Rec(h, WeightHh), BiasHh, h);
        return (hNext, state.Next(state.Time + 1, hNext));
    }

    /// <summary>The torch GRU equations from primitive ops (the oracle of the fused kernel); q = h·W_hhᵀ.</summary>
    internal static Tensor Gates(Tensor projected, Tensor q, Tensor biasHh, Tensor h, int hs)
    {
        var gh = q + biasHh;
        var rz = (projected.Slice(1, 0, 2 * hs) + gh.Slice(1, 0, 2 * hs)).Sigmoid();
        var r = rz.Slice(1, 0, hs);
        var z = rz.Slice(1, hs, hs);
        var cand = (projected.Slice(1, 2 * hs, hs) + r * gh.Slice(1, 2 * hs, hs)).Tanh();
        return CellOps.Lerp(cand, h, z);
    }

    /// <summary>Summary such as <c>GruCell(4 => 6)</c>.</summary>
    /// <returns>The summary.</returns>
    public override string ToString() => $"GruCell({InputSize} => {HiddenSize})";
}
