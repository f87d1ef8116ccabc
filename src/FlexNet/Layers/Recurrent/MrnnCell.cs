using FlexNet.Tensors;

namespace FlexNet.Layers.Recurrent;

/// <summary>
/// theanets MRNN (Sutskever 2011, factored multiplicative RNN): f_t = x_t·W_xfᵀ;
/// pre_t = x_t·W_xhᵀ + b + (f_t ⊙ (h_{t−1}·W_hfᵀ))·W_fhᵀ; h_t = act(pre_t). Output y_t = h_t.
/// Parameters ([out, in] layout): xh [H, I], xf [F, I], hf [F, H], fh [H, F], b [H] (zeros); F = factors,
/// default ⌈√H⌉.
/// </summary>
public sealed class MrnnCell : IRecurrentCell
{
    private readonly Tensor[] _parameters;

    /// <summary>Creates the cell (weights U(−1/√H, 1/√H), bias zero).</summary>
    /// <param name="inputSize">Input features I (positive).</param>
    /// <param name="hiddenSize">Hidden units H (positive).</param>
    /// <param name="factors">Factor count F (positive); null for ⌈√H⌉.</param>
    /// <param name="activation">act of the pre-activation.</param>
    /// <param name="dtype">Parameter dtype, Float32 or Float64.</param>
    /// <param name="rng">Generator for the initial weights (default <see cref="RandomGenerator.Default"/>).</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is not positive.</exception>
    public MrnnCell(int inputSize, int hiddenSize, int? factors = null, RecurrentActivation activation = RecurrentActivation.Tanh,
                    DType dtype = DType.Float32, RandomGenerator? rng = null)
    {
        CellOps.CheckSizes("MrnnCell", inputSize, hiddenSize, dtype);
        int f = factors ?? (int)Math.Ceiling(Math.Sqrt(hiddenSize));
        if (f <= 0) throw new ArgumentOutOfRangeException(nameof(factors), $"MrnnCell: factors must be positive. Received: {f}");
        rng ??= RandomGenerator.Default;
        double k = CellOps.TorchBound(hiddenSize);
        InputSize = inputSize;
        HiddenSize = hiddenSize;
        Factors = f;
        Activation = activation;
        Xh = CellOps.Uniform("xh", [hiddenSize, inputSize], k, rng, dtype);
        Xf = CellOps.Uniform("xf", [f, inputSize], k, rng, dtype);
        Hf = CellOps.Uniform("hf", [f, hiddenSize], k, rng, dtype);
        Fh = CellOps.Uniform("fh", [hiddenSize, f], k, rng, dtype);
        B = CellOps.Zeros("b", [hiddenSize], dtype);
        _parameters = [Xh, Xf, Hf, Fh, B];
    }

    /// <inheritdoc/>
    public int InputSize { get; }

    /// <inheritdoc/>
    public int HiddenSize { get; }

    /// <summary>Factor count F.</summary>
    public int Factors { get; }

    /// <summary>act of the pre-activation.</summary>
    public RecurrentActivation Activation { get; }

    /// <summary>xh [H, I].</summary>
    public Tensor Xh { get; }

    /// <summary>xf [F, I].</summary>
    public Tensor Xf { get; }

    /// <summary>hf [F, H].</summary>
    public Tensor Hf { get; }

    /// <summary>fh [H, F].</summary>
    public Tensor Fh { get; }

    /// <summary>b [H].</summary>
    public Tensor B { get; }

    /// <inheritdoc/>
    public IReadOnlyList<Tensor> Parameters => _parameters;

    /// <inheritdoc/>
    public CellState InitialState(int batch, DType dtype) => CellOps.ZeroState(batch, dtype, 0, ("h", HiddenSize));

    /// <inheritdoc/>
    public (Tensor output, CellState next) Step(Tensor x, CellState state) => StepProjected(ProjectInput(x), state);

    /// <summary>[x·xhᵀ + b ; x·xfᵀ]: [..., I] → [..., H + F].</summary>
    /// <param name="x">Inputs, last dimension I.</param>
    /// <returns>The projection.</returns>
    public Tensor ProjectInput(Tensor x) =>
        CellOps.Project("MrnnCell", x, CellOps.Rows(Xh, Xf), CellOps.Rows(B, Tensor.Zeros([Factors], B.DType)));

    /// <summary>The MRNN update from the projected input.</summary>
    /// <param name="projected">ProjectInput(x_t) [N, H + F].</param>
    /// <param name="state">State with h [N, H].</param>
    /// <returns>(h_t, state with h_t).</returns>
    public (Tensor output, CellState next) StepProjected(Tensor projected, CellState state)
    {
        int hs = HiddenSize;
        int n = CellOps.CheckProjected("MrnnCell", projected, hs + Factors);
        CellOps.CheckState("MrnnCell", state, "h", n, hs);
        var factor = projected.Slice(1, hs, Factors) * CellOps.Rec(state.H, Hf);
        var h = CellOps.Act(projected.Slice(1, 0, hs) + CellOps.Rec(factor, Fh), Activation);
        return (h, state.Next(state.Time + 1, h));
    }

    /// <summary>Summary such as <c>MrnnCell(4 => 9, factors 3, Tanh)</c>.</summary>
    /// <returns>The summary.</returns>
    public override string ToString() => $"MrnnCell({InputSize} => {HiddenSize}, factors {Factors}, {Activation})";
}
