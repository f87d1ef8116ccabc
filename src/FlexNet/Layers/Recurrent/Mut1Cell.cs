using FlexNet.Tensors;

namespace FlexNet.Layers.Recurrent;

/// <summary>
/// theanets MUT1 (Jozefowicz 2015): z_t = σ(x_t·W_xzᵀ + b_z); r_t = σ(x_t·W_xrᵀ + b_r + h_{t−1}·W_hrᵀ);
/// pre_t = tanh(x_t·W_xhᵀ + b_h) + (r_t ⊙ h_{t−1})·W_hhᵀ; ĥ_t = tanh(pre_t); h_t = (1 − z_t) ⊙ h_{t−1} + z_t ⊙ ĥ_t.
/// b_h sits inside the inner tanh as in theanets' code. Output y_t = h_t; no activation option (tanh is fixed).
/// Parameters ([out, in] layout): xh, xr, xz [H, I]; hh, hr [H, H]; bh, br, bz [H] (zeros).
/// </summary>
public sealed class Mut1Cell : IRecurrentCell
{
    private readonly Tensor[] _parameters;

    /// <summary>Creates the cell (weights U(−1/√H, 1/√H), biases zero).</summary>
    /// <param name="inputSize">Input features I (positive).</param>
    /// <param name="hiddenSize">Hidden units H (positive).</param>
    /// <param name="dtype">Parameter dtype, Float32 or Float64.</param>
    /// <param name="rng">Generator for the initial weights (default <see cref="RandomGenerator.Default"/>).</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is not positive.</exception>
    public Mut1Cell(int inputSize, int hiddenSize, DType dtype = DType.Float32, RandomGenerator? rng = null)
    {
        CellOps.CheckSizes("Mut1Cell", inputSize, hiddenSize, dtype);
        rng ??= RandomGenerator.Default;
        double k = CellOps.TorchBound(hiddenSize);
        InputSize = inputSize;
        HiddenSize = hiddenSize;
        Xh = CellOps.Uniform("xh", [hiddenSize, inputSize], k, rng, dtype);
        Xr = CellOps.Uniform("xr", [hiddenSize, inputSize], k, rng, dtype);
        Xz = CellOps.Uniform("xz", [hiddenSize, inputSize], k, rng, dtype);
        Hh = CellOps.Uniform("hh", [hiddenSize, hiddenSize], k, rng, dtype);
        Hr = CellOps.Uniform("hr", [hiddenSize, hiddenSize], k, rng, dtype);
        Bh = CellOps.Zeros("bh", [hiddenSize], dtype);
        Br = CellOps.Zeros("br", [hiddenSize], dtype);
        Bz = CellOps.Zeros("bz", [hiddenSize], dtype);
        _parameters = [Xh, Xr, Xz, Hh, Hr, Bh, Br, Bz];
    }

    /// <inheritdoc/>
    public int InputSize { get; }

    /// <inheritdoc/>
    public int HiddenSize { get; }

    /// <summary>xh [H, I].</summary>
    public Tensor Xh { get; }

    /// <summary>xr [H, I].</summary>
    public Tensor Xr { get; }

    /// <summary>xz [H, I].</summary>
    public Tensor Xz { get; }

    /// <summary>hh [H, H].</summary>
    public Tensor Hh { get; }

    /// <summary>hr [H, H].</summary>
    public Tensor Hr { get; }

    /// <summary>bh [H].</summary>
    public Tensor Bh { get; }

    /// <summary>br [H].</summary>
    public Tensor Br { get; }

    /// <summary>bz [H].</summary>
    public Tensor Bz { get; }

    /// <inheritdoc/>
    public IReadOnlyList<Tensor> Parameters => _parameters;

    /// <inheritdoc/>
    public CellState InitialState(int batch, DType dtype) => CellOps.ZeroState(batch, dtype, 0, ("h", HiddenSize));

    /// <inheritdoc/>
    public (Tensor output, CellState next) Step(Tensor x, CellState state) => StepProjected(ProjectInput(x), state);

    /// <summary>[x·xhᵀ + bh ; x·xrᵀ + br ; x·xzᵀ + bz]: [..., I] → [..., 3H].</summary>
    /// <param name="x">Inputs, last dimension I.</param>
    /// <returns>The projection.</returns>
    public Tensor ProjectInput(Tensor x) => CellOps.Project("Mut1Cell", x, CellOps.Rows(Xh, Xr, Xz), CellOps.Rows(Bh, Br, Bz));

    /// <summary>The MUT1 update from the projected input.</summary>
    /// <param name="projected">ProjectInput(x_t) [N, 3H].</param>
    /// <param name="state">State with h [N, H].</param>
    /// <returns>(h_t, state with h_t).</returns>
    public (Tensor output, CellState next) StepProjected(Tensor projected, CellState state)
    {
        int hs = HiddenSize;
        int n = CellOps.CheckProjected("Mut1Cell", projected, 3 * hs);
        CellOps.CheckState("Mut1Cell", state, "h", n, hs);
        var h = state.H;
        var z = projected.Slice(1, 2 * hs, hs).Sigmoid();
        var r = (projected.Slice(1, hs, hs) + CellOps.Rec(h, Hr)).Sigmoid();
        var pre = projected.Slice(1, 0, hs).Tanh() + CellOps.Rec(r * h, Hh);
        var hNext = CellOps.Lerp(h, pre.Tanh(), z);
        return (hNext, state.Next(state.Time + 1, hNext));
    }

    /// <summary>Summary such as <c>Mut1Cell(4 => 6)</c>.</summary>
    /// <returns>The summary.</returns>
    public override string ToString() => $"Mut1Cell({InputSize} => {HiddenSize})";
}
