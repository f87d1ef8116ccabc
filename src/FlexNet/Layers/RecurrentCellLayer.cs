using FlexNet.Connections;
using FlexNet.Graph;
using FlexNet.Layers.Recurrent;
using FlexNet.Tensors;

namespace FlexNet.Layers;

/// <summary>
/// A recurrent layer: one cell (<see cref="RNN"/>, <see cref="GRU"/>, <see cref="LSTM"/>, ... — torch equations, e.g. for
/// an LSTM i, f, g, o = σ, σ, tanh, σ(W_ih x + b_ih + W_hh h + b_hh); c' = f ⊙ c + i ⊙ g; h' = o ⊙ tanh(c')), or two for
/// <see cref="Bidirectional"/>. The Keras-style recurrent builders add exactly this layer; in a Connect network add it
/// directly: <c>var lstm = net.Add(new RecurrentCellLayer(new LSTM(16)));</c> then <c>net.Connect(x, lstm)</c> (and
/// feedback edges such as <c>net.Connect(output, lstm, delay: 1)</c>), which make parameter-free input connections
/// whose contributions are concatenated into the cell input.
/// <para>Modes, chosen from the data's per-sample shape when the network is built: <b>stepped</b> — vector inputs
/// [F] (summing to I): one cell step per network step, y = h [H]; the cell state (h, or h and c) is explicit per-step
/// state that the plan passes from step to step (<see cref="TransformStep"/>), never kept in the layer.
/// <b>whole sequence</b> — one input of per-sample shape [T, F]: the cell runs over all T steps at once (forward or
/// backward, <see cref="RecurrentLayer.GoBackwards"/>), giving [T, H] or the last processed step [H].</para>
/// <para>Parameters are the cell's, named <c>NAME.weight_ih_l0</c> [gH, I], <c>NAME.weight_hh_l0</c> [gH, H],
/// <c>NAME.bias_ih_l0</c>, <c>NAME.bias_hh_l0</c> [gH] (g = 1 for RNN, 3 for GRU, 4 for LSTM; + <c>ci/cf/co</c> [H]
/// for a peephole LSTM; the other cells use theanets' short names, e.g. <c>NAME.xh</c>). Saved in <c>.flexnet</c> files
/// as layer kind <c>recurrent</c> (any of FlexNet's cells, or a bidirectional pair of equal halves, whose backward
/// parameters the file names <c>NAME.weight_ih_l0_reverse</c>, ... as torch does).</para>
/// </summary>
public sealed class RecurrentCellLayer : Layer
{
    private readonly RecurrentLayer _fw;
    private readonly RecurrentLayer? _bw;
    private bool _sequence;
    private int _steps, _features;
    private readonly List<(int Offset, int Width)> _dataParts = new();
    private (int Offset, int Width)? _initPart;
    private IRecurrentCell? _cellF, _cellB;

    /// <summary>Creates the layer around a cell configuration. Its weights are the configuration's cell (so two layers
    /// made from one configuration share weights, as two calls of one Keras layer do).</summary>
    /// <param name="cell">The cell kind and options (units, return sequences, direction, input width).</param>
    /// <param name="name">Unique name; the network assigns one when null. The cell's parameters are named after the
    /// configuration's name, which is set to this name when it has none.</param>
    /// <exception cref="ArgumentNullException">No configuration.</exception>
    public RecurrentCellLayer(RecurrentLayer cell, string? name = null)
        : this(cell ?? throw new ArgumentNullException(nameof(cell)), null, name, cell.InputWidth) { }

    internal RecurrentCellLayer(RecurrentLayer fw, RecurrentLayer? bw, string? name, int? inputWidth)
        : base(inputWidth is int w ? [w] : null, "linear", CombineRule.Concat, false, name)
    {
        _fw = fw;
        _bw = bw;
    }

    /// <summary>The cell configuration (the forward one of a bidirectional layer).</summary>
    public RecurrentLayer Cell => _fw;

    private IReadOnlyList<Connection> Incoming => Network is null ? [] : Network.IncomingOf(this);

    /// <inheritdoc/>
    public override bool ChangesShape => true;

    /// <summary>The forward layer's options (units, activation, direction), for exporters.</summary>
    internal RecurrentLayer ForwardLayer => _fw;

    /// <summary>The backward cell configuration of a bidirectional node (null otherwise).</summary>
    internal RecurrentLayer? BackwardLayer => _bw;

    /// <summary>True for a bidirectional node (two cells).</summary>
    internal bool IsBidirectional => _bw is not null;

    /// <summary>True when the node reads a whole sequence [T, F] per sample (after build).</summary>
    internal bool IsWholeSequence => _sequence;

    /// <summary>True when an input gives the initial state (after build).</summary>
    internal bool HasInitialStateInput => _initPart is not null;

    /// <summary>The forward cell (after build).</summary>
    internal IRecurrentCell? ForwardCell => _cellF;

    /// <summary>The backward cell of a bidirectional node (after build; null otherwise).</summary>
    internal IRecurrentCell? BackwardCell => _cellB;

    /// <summary>T and F of a whole-sequence input [T, F] (after build).</summary>
    internal (int Steps, int Features) SequenceShape => (_steps, _features);

    /// <inheritdoc/>
    public override string Kind => _bw is null ? $"{_fw.GetType().Name}{(_sequence ? "(seq)" : "")}" : "Bidirectional";

    private int HiddenTotal => _fw.Units + (_bw?.Units ?? 0);

    /// <summary>The base layer's parameters (a learned initial state), then the cell parameters (forward cell, then the
    /// backward one).</summary>
    public override IEnumerable<Tensor> Parameters
    {
        get
        {
            foreach (var p in base.Parameters) yield return p;
            if (_cellF is not null) foreach (var p in _cellF.Parameters) yield return p;
            if (_cellB is not null) foreach (var p in _cellB.Parameters) yield return p;
        }
    }

    private void Analyse(bool requireAll)
    {
        _dataParts.Clear();
        _initPart = null;
        _sequence = false;
        int offset = 0;
        foreach (var c in Incoming)
        {
            if (c.OutputShape is null)
            {
                if (requireAll) throw new GraphException($"Recurrent layer '{Name}': connection '{c.Name}' is not built.");
                // Stryker disable once Statement: equivalent: without it an unbuilt connection counts as a data part of width 1 (no shape) only until BuildParameters analyses again with every connection built; the only refusal that can come earlier (a whole sequence beside other data inputs) is the same one, in the same Build
                continue; // a recurrent input from a later layer: its width is known once every connection is built
            }
            int width = ShapeUtil.Product(c.OutputShape);
            if (c is InitialStateConnection) _initPart = (offset, width);
            else
            {
                if (c is SequenceInputConnection { IsSequence: true } sc)
                {
                    _sequence = true;
                    _steps = sc.SourceShape![0];
                    _features = sc.SourceShape[1];
                }
                _dataParts.Add((offset, width));
            }
            offset += width;
        }
        if (_sequence && _dataParts.Count != 1)
            throw new GraphException($"Recurrent layer '{Name}': a whole-sequence input [T, F] cannot be combined with other inputs into the same layer.");
        if (!_sequence && (_fw.GoBackwards || _bw is not null))
            throw new GraphException($"Recurrent layer '{Name}' ({Kind}): running backward in time needs the whole sequence; give it a sequence input of per-sample shape [T, F] (batch-first [N, T, F]) instead of a stepped vector input.");
    }

    /// <inheritdoc/>
    protected internal override int[] InferOutputShape(int[] inputShape)
    {
        Analyse(requireAll: false);
        bool returnSeq = _fw.ReturnSequences;
        return _sequence && returnSeq ? [_steps, HiddenTotal] : [HiddenTotal];
    }

    /// <inheritdoc/>
    protected internal override void BuildParameters(DType dtype, RandomGenerator rng)
    {
        base.BuildParameters(dtype, rng);
        _fw.Name ??= Name;
        Analyse(requireAll: true);
        int input = _sequence ? _features : _dataParts.Sum(p => p.Width);
        _cellF = _fw.GetCell(input, dtype, rng);
        _cellB = _bw?.GetCell(input, dtype, rng);
        if (_initPart is { } ip)
        {
            var zero = _cellF.InitialState(1, dtype);
            int total = zero.Values.Sum(v => v.Shape[1]);
            if (ip.Width != _fw.Units && ip.Width != total)
                throw new ShapeMismatchException($"Recurrent layer '{Name}': the initial state has {ip.Width} features; the cell needs h [{_fw.Units}] or all of [{string.Join(", ", zero.Names)}] ({total}).");
        }
    }

    /// <inheritdoc/>
    protected internal override bool HasStepState => !_sequence;

    private Tensor Data(Tensor z)
    {
        if (_dataParts.Count == 1 && _dataParts[0].Offset == 0 && _dataParts[0].Width == z.Shape[1] && _initPart is null) return z;
        if (_dataParts.Count == 1) return z.Slice(1, _dataParts[0].Offset, _dataParts[0].Width);
        var parts = new Tensor[_dataParts.Count];
        for (int i = 0; i < parts.Length; i++) parts[i] = z.Slice(1, _dataParts[i].Offset, _dataParts[i].Width);
        return Tensor.Concat(parts, 1);
    }

    private CellState? Initial(IRecurrentCell cell, Tensor z, int n)
    {
        if (_initPart is not { } ip) return null;
        var init = z.Slice(1, ip.Offset, ip.Width);
        var zero = cell.InitialState(n, z.DType);
        var values = new Tensor[zero.Names.Count];
        int off = 0;
        for (int i = 0; i < values.Length; i++)
        {
            int w = zero.Values[i].Shape[1];
            values[i] = ip.Width == cell.HiddenSize && i > 0 ? zero.Values[i] : init.Slice(1, off, w);
            off += w;
        }
        return zero.Next(0, values);
    }

    /// <inheritdoc/>
    protected internal override Tensor TransformStep(Tensor combined, bool training, int time, ref Tensor[]? state)
    {
        var cell = _cellF!;
        int n = combined.Shape[0];
        var cs = state is null
            ? Initial(cell, combined, n) ?? cell.InitialState(n, combined.DType)
            : cell.InitialState(n, combined.DType).Next(time, state);
        var (y, next) = cell.Step(Data(combined), cs.WithTime(time));
        state = [.. next.Values];
        return y;
    }

    /// <inheritdoc/>
    protected internal override Tensor Transform(Tensor combined, bool training)
    {
        if (!_sequence)
        {
            Tensor[]? s = null;
            return TransformStep(combined, training, 0, ref s);
        }
        int n = combined.Shape[0];
        var x = Data(combined).Reshape(n, _steps, _features).Transpose(0, 1).Contiguous();
        bool returnSeq = _fw.ReturnSequences;
        var (y, _) = Recurrence.Run(_cellF!, x, Initial(_cellF!, combined, n), _fw.GoBackwards, returnSeq);
        if (_cellB is not null)
        {
            var (yb, _) = Recurrence.Run(_cellB, x, Initial(_cellB, combined, n), !_fw.GoBackwards, returnSeq);
            y = Tensor.Concat([y, yb], -1);
        }
        return returnSeq ? y.Transpose(0, 1) : y;
    }
}
