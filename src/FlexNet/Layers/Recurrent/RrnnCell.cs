using FlexNet.Tensors;

namespace FlexNet.Layers.Recurrent;

/// <summary>
/// theanets RRNN (per-unit update rate): pre_t = x_t·W_xhᵀ + b + h_{t−1}·W_hhᵀ; ĥ_t = act(pre_t);
/// h_t = (1 − z_t) ⊙ h_{t−1} + z_t ⊙ ĥ_t, with z_t from <see cref="RateMode"/>: matrix σ(x_t·W_xrᵀ + r),
/// vector σ(r), or a fixed uniform / log-uniform vector. Output y_t = h_t.
/// Parameters (PyTorch layout [out, in]; theanets stores the transposes): xh [H, I], hh [H, H], b [H],
/// r [H] (matrix, vector), xr [H, I] (matrix). Weights start U(−1/√H, 1/√H), b and r at zero (FlexNet rule).
/// </summary>
public sealed class RrnnCell : IRecurrentCell
{
    private readonly Tensor[] _parameters;
    private readonly Tensor? _fixedRate;

    /// <summary>Creates the cell.</summary>
    /// <param name="inputSize">Input features I (positive).</param>
    /// <param name="hiddenSize">Hidden units H (positive).</param>
    /// <param name="rate">How the update rate is formed (theanets default: matrix).</param>
    /// <param name="activation">act of the candidate ĥ.</param>
    /// <param name="dtype">Parameter dtype, Float32 or Float64.</param>
    /// <param name="rng">Generator for the initial weights and fixed rates (default <see cref="RandomGenerator.Default"/>).</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is not positive.</exception>
    public RrnnCell(int inputSize, int hiddenSize, RateMode rate = RateMode.Matrix,
                    RecurrentActivation activation = RecurrentActivation.Tanh, DType dtype = DType.Float32, RandomGenerator? rng = null)
    {
        CellOps.CheckSizes("RrnnCell", inputSize, hiddenSize, dtype);
        rng ??= RandomGenerator.Default;
        double k = CellOps.TorchBound(hiddenSize);
        InputSize = inputSize;
        HiddenSize = hiddenSize;
        Rate = rate;
        Activation = activation;
        Xh = CellOps.Uniform("xh", [hiddenSize, inputSize], k, rng, dtype);
        Hh = CellOps.Uniform("hh", [hiddenSize, hiddenSize], k, rng, dtype);
        B = CellOps.Zeros("b", [hiddenSize], dtype);
        switch (rate)
        {
            case RateMode.Matrix:
                R = CellOps.Zeros("r", [hiddenSize], dtype);
                Xr = CellOps.Uniform("xr", [hiddenSize, inputSize], k, rng, dtype);
                _parameters = [Xh, Hh, B, R, Xr];
                break;
            case RateMode.Vector:
                R = CellOps.Zeros("r", [hiddenSize], dtype);
                _parameters = [Xh, Hh, B, R];
                break;
            default:
                _fixedRate = CellOps.FixedRate(rate, hiddenSize, rng, dtype);
                _parameters = [Xh, Hh, B];
                break;
        }
    }

    /// <inheritdoc/>
    public int InputSize { get; }

    /// <inheritdoc/>
    public int HiddenSize { get; }

    /// <summary>How the update rate is formed.</summary>
    public RateMode Rate { get; }

    /// <summary>act of the candidate ĥ.</summary>
    public RecurrentActivation Activation { get; }

    /// <summary>Input weights xh [H, I].</summary>
    public Tensor Xh { get; }

    /// <summary>Recurrent weights hh [H, H].</summary>
    public Tensor Hh { get; }

    /// <summary>Bias b [H].</summary>
    public Tensor B { get; }

    /// <summary>Rate bias r [H] (matrix and vector modes; else null).</summary>
    public Tensor? R { get; }

    /// <summary>Rate input weights xr [H, I] (matrix mode; else null).</summary>
    public Tensor? Xr { get; }

    /// <summary>The fixed rate z [H] in uniform and log modes (not trainable; null otherwise).</summary>
    public Tensor? FixedRate => _fixedRate;

    /// <inheritdoc/>
    public IReadOnlyList<Tensor> Parameters => _parameters;

    /// <inheritdoc/>
    public CellState InitialState(int batch, DType dtype) => CellOps.ZeroState(batch, dtype, 0, ("h", HiddenSize));

    /// <inheritdoc/>
    public (Tensor output, CellState next) Step(Tensor x, CellState state) => StepProjected(ProjectInput(x), state);

    /// <summary>[x·xhᵀ + b ; x·xrᵀ + r] (matrix mode, [..., 2H]) or x·xhᵀ + b ([..., H]).</summary>
    /// <param name="x">Inputs, last dimension I.</param>
    /// <returns>The projection.</returns>
    public Tensor ProjectInput(Tensor x) => Rate == RateMode.Matrix
        ? CellOps.Project("RrnnCell", x, CellOps.Rows(Xh, Xr!), CellOps.Rows(B, R!))
        : CellOps.Project("RrnnCell", x, Xh, B);

    /// <summary>The RRNN update from the projected input.</summary>
    /// <param name="projected">ProjectInput(x_t).</param>
    /// <param name="state">State with h [N, H].</param>
    /// <returns>(h_t, state with h_t).</returns>
    public (Tensor output, CellState next) StepProjected(Tensor projected, CellState state)
    {
        int hs = HiddenSize;
        int n = CellOps.CheckProjected("RrnnCell", projected, Rate == RateMode.Matrix ? 2 * hs : hs);
        CellOps.CheckState("RrnnCell", state, "h", n, hs);
        var h = state.H;
        var candidate = CellOps.Act(projected.Slice(1, 0, hs) + CellOps.Rec(h, Hh), Activation);
        var z = Rate switch
        {
            RateMode.Matrix => projected.Slice(1, hs, hs).Sigmoid(),
            RateMode.Vector => R!.Sigmoid(),
            _ => _fixedRate!.To(projected.DType),
        };
        var hNext = CellOps.Lerp(h, candidate, z);
        return (hNext, state.Next(state.Time + 1, hNext));
    }

    /// <summary>Summary such as <c>RrnnCell(4 => 6, Matrix, Tanh)</c>.</summary>
    /// <returns>The summary.</returns>
    public override string ToString() => $"RrnnCell({InputSize} => {HiddenSize}, {Rate}, {Activation})";
}
