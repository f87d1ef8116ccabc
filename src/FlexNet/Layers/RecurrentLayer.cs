using FlexNet.Connections;
using FlexNet.Graph;
using FlexNet.Layers.Recurrent;
using FlexNet.Tensors;

namespace FlexNet.Layers;

/// <summary>
/// Base of the recurrent catalog layers (<see cref="RNN"/>, <see cref="GRU"/>, <see cref="LSTM"/>): wraps an
/// <see cref="IRecurrentCell"/> (torch equations and parameter names <c>NAME.weight_ih_l0</c>, ...) and adds it to a
/// network as a <see cref="RecurrentCellLayer"/> (the layer a Connect user adds with <c>net.Add(new RecurrentCellLayer(cell))</c>).
/// Input 0 is the data, optional input 1 the initial state (h₀, or [h₀; c₀] for an LSTM).
/// <para>Two modes, chosen from the data's per-sample shape when the network is built:
/// <b>stepped</b> — a vector input [F] in a network unrolled over time (temporal input [T, N, F], or any Connect
/// graph with recurrent/feedback edges): the node performs one cell step per network step, carrying (h, c) between
/// steps through the graph's per-step state; further incoming connections (e.g. feedback from later layers at a
/// delay) are concatenated to the cell input; <see cref="ReturnSequences"/> = false makes front ends return the last
/// step. <b>whole sequence</b> — a sequence input of per-sample shape [T, F] (batch-first data [N, T, F]): the node
/// runs <see cref="Recurrence.Run"/> over all T steps at once, forward or backward in time
/// (<see cref="GoBackwards"/>, outputs aligned with the input order), returning [T, H] or the last processed step [H].</para>
/// </summary>
public abstract class RecurrentLayer : CatalogLayer
{
    private IRecurrentCell? _cell;

    /// <summary>Sets the common options.</summary>
    /// <param name="units">Hidden units H.</param>
    /// <param name="returnSequences">Return every step (true) or the last one.</param>
    /// <param name="goBackwards">Run backward in time (whole-sequence mode only).</param>
    /// <param name="name">Layer name.</param>
    /// <param name="init">Initialisation (theanets attributes such as <c>radius</c> apply to weight_hh_l0 blocks).</param>
    /// <param name="inputWidth">Total width of all incoming contributions, needed only when a feedback edge from a
    /// later layer enters the node (its shape cannot be inferred then).</param>
    protected RecurrentLayer(int units, bool returnSequences, bool goBackwards, string? name, LayerInit? init, int? inputWidth)
        : base(name, init)
    {
        if (units <= 0) throw new ArgumentOutOfRangeException(nameof(units), $"{GetType().Name}: units must be positive. Received: {units}");
        if (inputWidth is <= 0) throw new ArgumentOutOfRangeException(nameof(inputWidth), $"{GetType().Name}: inputWidth must be positive. Received: {inputWidth}");
        Units = units;
        ReturnSequences = returnSequences;
        GoBackwards = goBackwards;
        InputWidth = inputWidth;
    }

    /// <summary>H.</summary>
    public int Units { get; }

    /// <summary>Every step (true) or the last step.</summary>
    public bool ReturnSequences { get; }

    /// <summary>Backward in time.</summary>
    public bool GoBackwards { get; }

    /// <summary>Declared total input width (see constructor).</summary>
    public int? InputWidth { get; }

    /// <summary>The arguments every recurrent form reads: size, return_sequences, direction, input_width and init.</summary>
    /// <returns>The configuration to complete.</returns>
    private protected Dictionary<string, object> RecurrentConfig()
    {
        var d = Config(Form);
        (d["size"], d["return_sequences"], d["direction"]) = (Units, ReturnSequences, GoBackwards ? "backward" : "forward");
        if (InputWidth is int w) d["input_width"] = w;
        return d;
    }

    /// <summary>The cell (after build).</summary>
    public IRecurrentCell? Cell => _cell;

    /// <inheritdoc/>
    public override bool ReturnsLastStep => !ReturnSequences;

    /// <inheritdoc/>
    protected override (int Min, int Max) InputArity => (1, 2);

    /// <summary>Creates the cell with the default initialisation.</summary>
    /// <param name="inputSize">I.</param>
    /// <param name="dtype">Element type.</param>
    /// <param name="rng">Generator.</param>
    /// <returns>The cell.</returns>
    protected abstract IRecurrentCell CreateCell(int inputSize, DType dtype, RandomGenerator rng);

    /// <summary>A new layer with the same options (for the backward half of <see cref="Bidirectional"/>).</summary>
    /// <param name="name">Its name.</param>
    /// <param name="goBackwards">Its direction.</param>
    /// <returns>The copy (own parameters).</returns>
    public abstract RecurrentLayer CloneConfiguration(string? name, bool goBackwards);

    internal IRecurrentCell GetCell(int inputSize, DType dtype, RandomGenerator rng)
    {
        if (_cell is not null && _cell.InputSize == inputSize && _cell.Parameters[0].DType == dtype) return _cell;
        IRecurrentCell cell;
        using (TensorScope.Suspend()) cell = CreateCell(inputSize, dtype, rng);
        foreach (var p in cell.Parameters)
        {
            string shortName = p.Name ?? "param";
            p.Name = $"{Name}.{shortName}";
            InitOnce(p, shortName, rng, shortName.StartsWith("weight_hh", StringComparison.Ordinal) || shortName == "hh" ? Units : 0);
        }
        return _cell = cell;
    }

    /// <summary>Runs the layer directly on a whole time-major sequence x [T, N, F] (PyTorch's layout), outside any
    /// network: forward or backward in time (<see cref="GoBackwards"/>, outputs aligned with the input order), from
    /// <paramref name="initial"/> (e.g. another layer's output as h₀) or zeros. Uses (and on first use creates, with
    /// I = F and x's dtype) the same cell as every attachment of this layer, so weights are shared with its graph nodes.</summary>
    /// <param name="x">Inputs [T, N, F].</param>
    /// <param name="initial">Initial state (null: zeros).</param>
    /// <param name="rng">Generator for a first-time cell (default <see cref="RandomGenerator.Default"/>).</param>
    /// <returns>[T, N, H] (or [N, H] with <see cref="ReturnSequences"/> false: the last processed step) and the final state.</returns>
    /// <exception cref="ShapeMismatchException">x is not [T, N, F] or does not fit an existing cell.</exception>
    public (Tensor Output, CellState Final) Run(Tensor x, CellState? initial = null, RandomGenerator? rng = null)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (x.Rank != 3) throw new ShapeMismatchException($"{GetType().Name} '{Name}': Run needs a sequence [T, N, F]; got {ShapeUtil.Format(x.Shape)}.");
        Name ??= Form;
        var cell = _cell ?? GetCell(x.Shape[2], x.DType, rng ?? RandomGenerator.Default);
        return Recurrence.Run(cell, x, initial, GoBackwards, ReturnSequences);
    }

    /// <inheritdoc/>
    protected override Layer AttachCore(AttachContext ctx)
    {
        var node = ctx.Add(new RecurrentCellLayer(this, null, ctx.NodeName, InputWidth));
        Own(ctx.Network, new SequenceInputConnection(ctx.Inputs[0], node));
        if (ctx.Inputs.Count == 2) Own(ctx.Network, new InitialStateConnection(ctx.Inputs[1], node));
        return node;
    }

    /// <inheritdoc/>
    public override string ToString() => $"{GetType().Name}({Name ?? "?"}, {Units}{(ReturnSequences ? "" : ", last")}{(GoBackwards ? ", backwards" : "")})";
}
