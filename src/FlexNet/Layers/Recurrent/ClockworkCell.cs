using FlexNet.Tensors;

namespace FlexNet.Layers.Recurrent;

/// <summary>
/// theanets Clockwork RNN (Koutnik 2014): the H units form K = len(periods) equal modules, module i (units
/// [i·H/K, (i+1)·H/K)) with period T_i, periods sorted ascending (module 0 fastest). Recurrent input flows only from
/// a module to itself and to faster modules ("slow → fast"): M[target block i, source block j] = 1 iff j ≥ i.
/// cand_t = x_t·W_xhᵀ + b + h_{t−1}·(W_hh ⊙ M)ᵀ; pre_t = cand_t on the units whose module has t mod T_i = 0, else
/// pre_{t−1}; h_t = act(pre_t). t is the step's input position (<see cref="CellState.Time"/>), so every module
/// updates at t = 0, and in a reversed run the index runs backwards. State (h, pre), both [N, H], zeros initially.
/// Parameters ([out, in] layout): xh [H, I], hh [H, H] (U(−1/√H, 1/√H)), b [H] (zero).
/// </summary>
public sealed class ClockworkCell : IRecurrentCell
{
    private readonly Tensor[] _parameters;
    private readonly int[] _periods;
    private readonly Tensor _mask;

    /// <summary>Creates the cell.</summary>
    /// <param name="inputSize">Input features I (positive).</param>
    /// <param name="hiddenSize">Hidden units H, a multiple of the number of periods.</param>
    /// <param name="periods">Module periods (positive; sorted ascending here).</param>
    /// <param name="activation">act of the pre-activation.</param>
    /// <param name="dtype">Parameter dtype, Float32 or Float64.</param>
    /// <param name="rng">Generator for the initial weights (default <see cref="RandomGenerator.Default"/>).</param>
    /// <exception cref="ArgumentException">No periods, a period below 1, or H not a multiple of their count.</exception>
    public ClockworkCell(int inputSize, int hiddenSize, int[] periods, RecurrentActivation activation = RecurrentActivation.Tanh,
                         DType dtype = DType.Float32, RandomGenerator? rng = null)
    {
        CellOps.CheckSizes("ClockworkCell", inputSize, hiddenSize, dtype);
        ArgumentNullException.ThrowIfNull(periods);
        if (periods.Length == 0) throw new ArgumentException("ClockworkCell: periods must not be empty.", nameof(periods));
        foreach (int p in periods)
            if (p < 1) throw new ArgumentException($"ClockworkCell: periods must be >= 1. Received: [{string.Join(", ", periods)}]", nameof(periods));
        if (hiddenSize % periods.Length != 0)
            throw new ArgumentException($"ClockworkCell: hiddenSize ({hiddenSize}) must be a multiple of the number of periods ({periods.Length}).", nameof(periods));
        rng ??= RandomGenerator.Default;
        double k = CellOps.TorchBound(hiddenSize);
        InputSize = inputSize;
        HiddenSize = hiddenSize;
        Activation = activation;
        _periods = (int[])periods.Clone();
        Array.Sort(_periods);
        Xh = CellOps.Uniform("xh", [hiddenSize, inputSize], k, rng, dtype);
        Hh = CellOps.Uniform("hh", [hiddenSize, hiddenSize], k, rng, dtype);
        B = CellOps.Zeros("b", [hiddenSize], dtype);
        _parameters = [Xh, Hh, B];
        int block = ModuleSize;
        var m = new double[hiddenSize * hiddenSize];
        for (int target = 0; target < hiddenSize; target++)
            for (int source = 0; source < hiddenSize; source++)
                m[target * hiddenSize + source] = source / block >= target / block ? 1 : 0;
        _mask = Tensor.FromArray(m, hiddenSize, hiddenSize).To(dtype);
    }

    /// <inheritdoc/>
    public int InputSize { get; }

    /// <inheritdoc/>
    public int HiddenSize { get; }

    /// <summary>act of the pre-activation.</summary>
    public RecurrentActivation Activation { get; }

    /// <summary>The module periods, ascending.</summary>
    public IReadOnlyList<int> Periods => _periods;

    /// <summary>Units per module, H / len(periods).</summary>
    public int ModuleSize => HiddenSize / _periods.Length;

    /// <summary>xh [H, I].</summary>
    public Tensor Xh { get; }

    /// <summary>hh [H, H]; only the entries where the connectivity mask is 1 are used.</summary>
    public Tensor Hh { get; }

    /// <summary>b [H].</summary>
    public Tensor B { get; }

    /// <summary>The slow → fast connectivity mask M [H, H] (1 where a source unit's module is not faster than the target's).</summary>
    public Tensor Mask => _mask;

    /// <inheritdoc/>
    public IReadOnlyList<Tensor> Parameters => _parameters;

    /// <inheritdoc/>
    public CellState InitialState(int batch, DType dtype) =>
        CellOps.ZeroState(batch, dtype, 0, ("h", HiddenSize), ("pre", HiddenSize));

    /// <inheritdoc/>
    public (Tensor output, CellState next) Step(Tensor x, CellState state) => StepProjected(ProjectInput(x), state);

    /// <summary>x·xhᵀ + b: [..., I] → [..., H].</summary>
    /// <param name="x">Inputs, last dimension I.</param>
    /// <returns>The projection.</returns>
    public Tensor ProjectInput(Tensor x) => CellOps.Project("ClockworkCell", x, Xh, B);

    /// <summary>The Clockwork update at time index <c>state.Time</c>.</summary>
    /// <param name="projected">ProjectInput(x_t) [N, H].</param>
    /// <param name="state">State with h, pre [N, H].</param>
    /// <returns>(h_t, state with h_t, pre_t).</returns>
    public (Tensor output, CellState next) StepProjected(Tensor projected, CellState state)
    {
        int hs = HiddenSize;
        int n = CellOps.CheckProjected("ClockworkCell", projected, hs);
        CellOps.CheckState("ClockworkCell", state, "h", n, hs);
        CellOps.CheckState("ClockworkCell", state, "pre", n, hs);
        var candidate = projected + CellOps.Rec(state.H, Hh * _mask.To(Hh.DType));
        int t = state.Time;
        var active = new double[hs];
        bool all = true;
        for (int u = 0; u < hs; u++)
        {
            int p = _periods[u / ModuleSize];
            active[u] = ((t % p) + p) % p == 0 ? 1 : 0;
            all &= active[u] == 1;
        }
        var pre = all ? candidate : Tensor.Where(Tensor.FromArray(active, hs), candidate, state["pre"]);
        var h = CellOps.Act(pre, Activation);
        return (h, state.Next(t + 1, h, pre));
    }

    /// <summary>Summary such as <c>ClockworkCell(4 => 6, periods [1, 2, 4], Tanh)</c>.</summary>
    /// <returns>The summary.</returns>
    public override string ToString() => $"ClockworkCell({InputSize} => {HiddenSize}, periods [{string.Join(", ", _periods)}], {Activation})";
}
