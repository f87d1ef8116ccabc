using FlexNet.Tensors;

namespace FlexNet.Layers.Recurrent;

/// <summary>
/// theanets SCRN (Mikolov 2015, structurally constrained RNN, with output bias): a slow context
/// s_t = (1 − ρ) ⊙ s_{t−1} + ρ ⊙ (x_t·W_xsᵀ), a hidden h_t = act(x_t·W_xhᵀ + h_{t−1}·W_hhᵀ + s_t·W_shᵀ) (no hidden bias),
/// and the output y_t = h_t·W_hoᵀ + s_t·W_soᵀ + b (no activation, as theanets HEAD). ρ = σ(r) (vector mode) or a
/// fixed uniform / log-uniform vector. State (h, s), both [N, H].
/// Parameters ([out, in] layout): w [2H, I] = rows (W_xh ; W_xs), sh, hh, ho, so [H, H], b [H] (zero), r [H] (vector, zero).
/// theanets' context_size is not offered: its state is hard-wired to H units, so other sizes cannot work there either.
/// </summary>
public sealed class ScrnCell : IRecurrentCell
{
    private readonly Tensor[] _parameters;
    private readonly Tensor? _fixedRate;

    /// <summary>Creates the cell (weights U(−1/√H, 1/√H), b and r zero).</summary>
    /// <param name="inputSize">Input features I (positive).</param>
    /// <param name="hiddenSize">Hidden units H (positive).</param>
    /// <param name="rate">Vector (learned), Uniform or Log (fixed); Matrix is not an SCRN mode.</param>
    /// <param name="activation">act of the hidden units.</param>
    /// <param name="dtype">Parameter dtype, Float32 or Float64.</param>
    /// <param name="rng">Generator for the initial weights and fixed rates (default <see cref="RandomGenerator.Default"/>).</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is not positive.</exception>
    /// <exception cref="ArgumentException"><paramref name="rate"/> is Matrix.</exception>
    public ScrnCell(int inputSize, int hiddenSize, RateMode rate = RateMode.Vector,
                    RecurrentActivation activation = RecurrentActivation.Tanh, DType dtype = DType.Float32, RandomGenerator? rng = null)
    {
        CellOps.CheckSizes("ScrnCell", inputSize, hiddenSize, dtype);
        if (rate == RateMode.Matrix) throw new ArgumentException("ScrnCell: rate must be Vector, Uniform or Log. Received: Matrix", nameof(rate));
        rng ??= RandomGenerator.Default;
        double k = CellOps.TorchBound(hiddenSize);
        InputSize = inputSize;
        HiddenSize = hiddenSize;
        Rate = rate;
        Activation = activation;
        W = CellOps.Uniform("w", [2 * hiddenSize, inputSize], k, rng, dtype);
        Sh = CellOps.Uniform("sh", [hiddenSize, hiddenSize], k, rng, dtype);
        Hh = CellOps.Uniform("hh", [hiddenSize, hiddenSize], k, rng, dtype);
        Ho = CellOps.Uniform("ho", [hiddenSize, hiddenSize], k, rng, dtype);
        So = CellOps.Uniform("so", [hiddenSize, hiddenSize], k, rng, dtype);
        B = CellOps.Zeros("b", [hiddenSize], dtype);
        if (rate == RateMode.Vector)
        {
            R = CellOps.Zeros("r", [hiddenSize], dtype);
            _parameters = [W, Sh, Hh, Ho, So, B, R];
        }
        else
        {
            _fixedRate = CellOps.FixedRate(rate, hiddenSize, rng, dtype);
            _parameters = [W, Sh, Hh, Ho, So, B];
        }
    }

    /// <inheritdoc/>
    public int InputSize { get; }

    /// <inheritdoc/>
    public int HiddenSize { get; }

    /// <summary>How ρ is formed.</summary>
    public RateMode Rate { get; }

    /// <summary>act of the hidden units.</summary>
    public RecurrentActivation Activation { get; }

    /// <summary>w [2H, I]: rows 0..H−1 are W_xh, rows H..2H−1 are W_xs.</summary>
    public Tensor W { get; }

    /// <summary>sh [H, H] (context → hidden).</summary>
    public Tensor Sh { get; }

    /// <summary>hh [H, H] (hidden → hidden).</summary>
    public Tensor Hh { get; }

    /// <summary>ho [H, H] (hidden → output).</summary>
    public Tensor Ho { get; }

    /// <summary>so [H, H] (context → output).</summary>
    public Tensor So { get; }

    /// <summary>Output bias b [H].</summary>
    public Tensor B { get; }

    /// <summary>Rate logits r [H] (vector mode; else null).</summary>
    public Tensor? R { get; }

    /// <summary>The fixed ρ [H] in uniform and log modes (null otherwise).</summary>
    public Tensor? FixedRate => _fixedRate;

    /// <inheritdoc/>
    public IReadOnlyList<Tensor> Parameters => _parameters;

    /// <inheritdoc/>
    public CellState InitialState(int batch, DType dtype) =>
        CellOps.ZeroState(batch, dtype, 0, ("h", HiddenSize), ("s", HiddenSize));

    /// <inheritdoc/>
    public (Tensor output, CellState next) Step(Tensor x, CellState state) => StepProjected(ProjectInput(x), state);

    /// <summary>x·wᵀ = [x·W_xhᵀ ; x·W_xsᵀ]: [..., I] → [..., 2H].</summary>
    /// <param name="x">Inputs, last dimension I.</param>
    /// <returns>The projection.</returns>
    public Tensor ProjectInput(Tensor x) => CellOps.Project("ScrnCell", x, W, null);

    /// <summary>The SCRN update from the projected input.</summary>
    /// <param name="projected">ProjectInput(x_t) [N, 2H].</param>
    /// <param name="state">State with h, s [N, H].</param>
    /// <returns>(y_t, state with h_t, s_t).</returns>
    public (Tensor output, CellState next) StepProjected(Tensor projected, CellState state)
    {
        int hs = HiddenSize;
        int n = CellOps.CheckProjected("ScrnCell", projected, 2 * hs);
        CellOps.CheckState("ScrnCell", state, "h", n, hs);
        CellOps.CheckState("ScrnCell", state, "s", n, hs);
        var rho = Rate == RateMode.Vector ? R!.Sigmoid() : _fixedRate!.To(projected.DType);
        var s = CellOps.Lerp(state["s"], projected.Slice(1, hs, hs), rho);
        var h = CellOps.Act(projected.Slice(1, 0, hs) + CellOps.Rec(state.H, Hh) + CellOps.Rec(s, Sh), Activation);
        var y = CellOps.Rec(h, Ho) + CellOps.Rec(s, So) + B;
        return (y, state.Next(state.Time + 1, h, s));
    }

    /// <summary>Summary such as <c>ScrnCell(4 => 6, Vector, Tanh)</c>.</summary>
    /// <returns>The summary.</returns>
    public override string ToString() => $"ScrnCell({InputSize} => {HiddenSize}, {Rate}, {Activation})";
}
