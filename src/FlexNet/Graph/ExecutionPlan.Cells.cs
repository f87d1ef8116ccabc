using FlexNet.Autodiff;
using FlexNet.Tensors;

namespace FlexNet.Graph;

/// <content>
/// Fused LSTM cells: the plan recognises a standard LSTM cell built from layers and connections and runs it as one
/// whole-sequence op (the catalog LSTM's <c>LstmSequence</c>, reached through <see cref="LstmSequenceOp"/> since it
/// lives in a higher tier) instead of nine layers per step. The pattern, checked exactly (anything else runs per
/// layer as before):
/// <code>
/// i, f, o = sigmoid(x·W_x + b_x + h(t−1)·W_h + b_h + b),  g = tanh(same form)   (Sum, plain layers, 2 dense inputs each)
/// ig = i ⊙ g,  fc = f ⊙ c(t−1),  c = ig + fc,  tc = tanh(c),  h = o ⊙ tc          (identity connections, no biases)
/// </code>
/// x is a temporal input layer (the same for the four gates), every gate reads h with delay 1 and nothing else, the
/// inner layers (i, f, g, o, ig, fc, tc) have no other reader and are no output, c is read only by fc (delay 1) and
/// tc, h's delayed readers are only the four gates; h and c may carry a learned initial state (h₀, c₀).
/// A run fuses only without a mask, a truncation window, recorded activations, finiteness checks and carried or kept
/// state; the others take the per-layer path. Then W_ih = [W_xi; W_xf; W_xg; W_xo], W_hh likewise,
/// b_ih = [b_x…] (zeros where absent), b_hh = [b_h + b…] (differentiable concatenations, so each connection's weight
/// gets its gradient), and at each step the plan reads h(t) as row t of the op's output [T + 1, N, H].
/// </content>
internal sealed partial class ExecutionPlan
{
    /// <summary>The whole-sequence LSTM (x [T, N, I], W_ih [4H, I], W_hh [4H, H], b_ih, b_hh [4H], h₀, c₀ [N, H],
    /// reverse) → [T + 1, N, H]; set by the recurrent layers' tier when the library loads. Null: no cell fuses.</summary>
    internal static Func<Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, bool, Tensor>? LstmSequenceOp;

    /// <summary>One recognised cell: positions in the plan order, and per gate (i, f, g, o) its two connections.</summary>
    private sealed class CellPlan
    {
        internal required int X, H, C;
        internal required int[] Gates;      // i, f, g, o
        internal required Connection[] FromX, FromH;
        internal required int[] Inner;      // i, f, g, o, ig, fc, c, tc: not run per step when the cell fuses
        internal Tensor? Zeros;             // see ExecutionPlan.Zeros
    }

    private CellPlan[] _cells = [];
    private int[] _cellOf = [];             // per position: index of the cell whose inner layer or h it is, −1 none
    private bool[] _everyStepCells = [];    // _everyStep for a run whose cells are fused

    /// <summary>Whether the latest run used the fused cells (diagnostics for tests; a plan that has none: false).</summary>
    internal bool LastRunFusedCells { get; private set; }

    /// <summary>How many LSTM cells the plan fuses when a run allows it.</summary>
    internal int FusedCellCount => _cells.Length;

    private static bool ActivationIs(string name, string want) => name.ToLowerInvariant() switch
    {
        "linear" or "identity" => want == "linear",
        "sigmoid" or "logistic" => want == "sigmoid",
        "tanh" => want == "tanh",
        _ => false,
    };

    /// <summary>A plain vector layer of <paramref name="units"/> units with the given activation and combine rule.</summary>
    private static bool CellLayer(Layer l, int units, string act, CombineRule combine, bool bias, bool initial) =>
        l is not InputLayer && l.HasPlainStep && l.Combine == combine && ActivationIs(l.Activation, act)
        && l.InputShape is { Length: 1 } && l.OutputShape is { Length: 1 } && l.OutputShape[0] == units
        && (bias || l.Bias is null) && (initial || l.InitialState is null);

    private bool Identity(int i, int j, int delay) => _in[i][j].IsIdentity && _in[i][j].Delay == delay;

    /// <summary>A gate at <paramref name="p"/>: two dense connections, x (delay 0, a temporal input) and h (delay 1).</summary>
    private bool Gate(int p, int hPos, int units, string act, out int x, out Connection fromX, out Connection fromH)
    {
        // Stryker disable once Unary: x is read only with fromX, which is set together with it (the return checks both), or by
        // Match after a failed Gate, which ends Match's loop over the gates
        x = -1;
        fromX = fromH = null!;
        if (!CellLayer(_order[p], units, act, CombineRule.Sum, bias: true, initial: false) || _in[p].Length != 2) return false;
        // Stryker disable once Boolean: unreachable: a vector layer's bias is [InputShape[0]] = [units] (BuildParameters and the
        // shared bias of a builder both make it so), so the return is never taken
        if (_order[p].Bias is { } b && (b.Rank != 1 || b.Shape[0] != units)) return false;
        for (int j = 0; j < 2; j++)
        {
            var c = _in[p][j];
            int s = _inSrc[p][j];
            if (!c.TryGetAffine(out var w, out var bias) || w is null || w.Rank != 2 || w.Shape[0] != units) return false;
            if (bias is not null && (bias.Rank != 1 || bias.Shape[0] != units)) return false;
            if (c.Delay == 0 && _order[s] is InputLayer { IsTemporal: true, OutputShape.Length: 1 } xl && w.Shape[1] == xl.OutputShape![0])
            {
                x = s;
                fromX = c;
            }
            else if (c.Delay == 1 && s == hPos && w.Shape[1] == units) fromH = c;
        }
        return x >= 0 && fromH is not null && fromX is not null;
    }

    /// <summary>Finds the fusable cells (called by the constructor once the plan's inputs are known).</summary>
    private void FindCells(Network net)
    {
        int L = _order.Length;
        _cellOf = new int[L];
        Array.Fill(_cellOf, -1);
        if (!net.FuseCells || LstmSequenceOp is null || (net.DType != DType.Float32 && net.DType != DType.Float64)) return;
        var readers = new int[L];         // outgoing connections per source
        var delayedReaders = new int[L];
        for (int i = 0; i < L; i++)
            for (int j = 0; j < _in[i].Length; j++)
            {
                readers[_inSrc[i][j]]++;
                if (_in[i][j].Delay > 0) delayedReaders[_inSrc[i][j]]++;
            }
        var isOutput = new bool[L];
        foreach (var (index, _) in _outs) isOutput[index] = true;
        var cells = new List<CellPlan>();
        for (int h = 0; h < L; h++)
        {
            var cell = Match(h, readers, delayedReaders, isOutput);
            if (cell is null) continue;
            // cells cannot overlap: from an inner layer, the chain of delay-0 readers (one each) leads to its own h, and an h
            // (four delayed readers) is no inner layer of another cell; the check guards the recogniser
            bool free = _cellOf[h] == -1;
            // Stryker disable once Assignment: free is true here and each term is true (cells cannot overlap, above), so |= and
            // ^= (eight toggles) give true as &= does
            foreach (int p in cell.Inner) free &= _cellOf[p] == -1;
            // Stryker disable once Statement: free is always true (cells cannot overlap, above)
            if (!free) continue;
            foreach (int p in cell.Inner) _cellOf[p] = cells.Count;
            _cellOf[h] = cells.Count;
            cells.Add(cell);
        }
        _cells = cells.ToArray();
    }

    private CellPlan? Match(int h, int[] readers, int[] delayedReaders, bool[] isOutput)
    {
        var hl = _order[h];
        if (hl.OutputShape is not { Length: 1 }) return null;
        int units = hl.OutputShape[0];
        if (!CellLayer(hl, units, "linear", CombineRule.Product, bias: false, initial: true) || _in[h].Length != 2
            || !Identity(h, 0, 0) || !Identity(h, 1, 0))
            return null;
        for (int a = 0; a < 2; a++)
        {
            int o = _inSrc[h][a], tc = _inSrc[h][1 - a];
            if (!CellLayer(_order[tc], units, "tanh", CombineRule.Sum, bias: false, initial: false) || _in[tc].Length != 1 || !Identity(tc, 0, 0))
                continue;
            int c = _inSrc[tc][0];
            if (!CellLayer(_order[c], units, "linear", CombineRule.Sum, bias: false, initial: true) || _in[c].Length != 2
                || !Identity(c, 0, 0) || !Identity(c, 1, 0))
                continue;
            for (int b = 0; b < 2; b++)
            {
                int ig = _inSrc[c][b], fc = _inSrc[c][1 - b];
                if (!CellLayer(_order[ig], units, "linear", CombineRule.Product, bias: false, initial: false) || _in[ig].Length != 2
                    || !Identity(ig, 0, 0) || !Identity(ig, 1, 0))
                    continue;
                if (!CellLayer(_order[fc], units, "linear", CombineRule.Product, bias: false, initial: false) || _in[fc].Length != 2)
                    continue;
                int cAt = Identity(fc, 0, 1) && _inSrc[fc][0] == c ? 0 : Identity(fc, 1, 1) && _inSrc[fc][1] == c ? 1 : -1;
                if (cAt < 0 || !Identity(fc, 1 - cAt, 0)) continue;
                int f = _inSrc[fc][1 - cAt];
                int i = _inSrc[ig][0], g = _inSrc[ig][1];
                if (ActivationIs(_order[i].Activation, "tanh")) (i, g) = (g, i);
                int[] gates = [i, f, g, o];
                string[] acts = ["sigmoid", "sigmoid", "tanh", "sigmoid"];
                var fromX = new Connection[4];
                var fromH = new Connection[4];
                int x = -1;
                bool ok = true;
                for (int k = 0; ok && k < 4; k++)
                {
                    ok = Gate(gates[k], h, units, acts[k], out int xk, out fromX[k], out fromH[k]) && (x < 0 || xk == x);
                    x = xk;
                }
                // Stryker disable once Statement: ok stays false (only &= follows), so the same check below skips this cell anyway
                if (!ok) continue;
                int[] inner = [i, f, g, o, ig, fc, c, tc];
                // nine distinct layers
                var seen = new HashSet<int>(inner) { h };
                // Stryker disable once Statement: equivalent: only two gates can coincide (the other layers differ in combine rule,
                // activation or input count; i ≠ g and ig ≠ fc as Network.Connect refuses a second identity edge between two layers),
                // and such a gate has two readers, which the readers == 1 checks below reject
                if (seen.Count != 9) continue;
                // nothing outside the cell reads an inner layer; the inner layers are no outputs
                foreach (int p in inner) ok &= !isOutput[p];
                ok &= readers[i] == 1 && readers[f] == 1 && readers[g] == 1 && readers[o] == 1 && readers[ig] == 1
                      && readers[fc] == 1 && readers[tc] == 1 && readers[c] == 2 && delayedReaders[c] == 1;
                // h(t−1) is read by the four gates only (its delay-0 readers may be anything)
                ok &= delayedReaders[h] == 4;
                if (!ok) continue;
                return new CellPlan { X = x, H = h, C = c, Gates = gates, FromX = fromX, FromH = fromH, Inner = inner };
            }
        }
        return null;
    }

    /// <summary><see cref="_everyStep"/> for a run whose cells are fused: the inner layers never run per step, and h
    /// runs at every step only when something outside the cell needs it then.</summary>
    private void EveryStepWithCells()
    {
        // Stryker disable once Statement: memory only: _everyStepCells is read only by runs that use cells (CellsApply)
        if (_cells.Length == 0) return;
        int L = _order.Length;
        _everyStepCells = new bool[L];
        foreach (var (index, mode) in _outs) if (mode == OutputMode.AllSteps) _everyStepCells[index] = true;
        for (int i = 0; i < L; i++)
            if (_cellOf[i] == -1 && (_depth[i] > 0 || _order[i].HasStepState)) _everyStepCells[i] = true;
        for (int i = L - 1; i >= 0; i--)
        {
            if (_cellOf[i] != -1)
            {
                _everyStepCells[i] &= _cells[_cellOf[i]].H == i; // h's inputs are inner
                // Stryker disable once Statement: h would mark o and tanh(c), which come before it and are cleared by the
                // line above when the loop reaches them; a cleared inner layer then marks nothing
                continue;
            }
            if (!_everyStepCells[i]) continue;
            for (int j = 0; j < _in[i].Length; j++)
                if (_in[i][j].Delay == 0) _everyStepCells[_inSrc[i][j]] = true;
        }
    }

    /// <summary>Whether a run with these settings may use the fused cells (otherwise it runs every layer).</summary>
    private bool CellsApply(Tensor? mask, int T, int? truncate, RunState? carried, bool keepState, List<Tensor>[]? record) =>
        _cells.Length > 0 && mask is null && (truncate is null || truncate >= T) && carried is null && !keepState
        && record is null && !_net.CheckFinite;

    /// <summary>Runs cell <paramref name="k"/> over the whole sequence: [T + 1, N, H] (rows 0..T−1 are h_t).</summary>
    private Tensor RunCell(int k, Tensor x, Tensor h0, Tensor c0, Tensor[] parts)
    {
        var cell = _cells[k];
        var p = parts.AsSpan(0, 16);
        Span<Tensor> wx = p[..4], wh = p[4..8], bx = p[8..12], bh = p[12..16];
        for (int g = 0; g < 4; g++)
        {
            cell.FromX[g].TryGetAffine(out var w1, out var b1);
            cell.FromH[g].TryGetAffine(out var w2, out var b2);
            wx[g] = w1!;
            wh[g] = w2!;
            bx[g] = b1 ?? Zeros(cell);
            var layerBias = _order[cell.Gates[g]].Bias;
            bh[g] = b2 is null ? layerBias ?? Zeros(cell) : layerBias is null ? b2 : b2 + layerBias;
        }
        var z = LstmSequenceOp!(x, Stack4(wx), Stack4(wh), Stack4(bx), Stack4(bh), h0, c0, false);
        // Stryker disable once Statement: memory only: the scratch would keep the parameters (and a bias sum) referenced until the
        // next run overwrites every entry before reading it
        p.Clear();
        return z;
    }

    /// <summary>A constant zero bias [H] of the cell's dtype, made once (outside every scope) for absent biases.</summary>
    private Tensor Zeros(CellPlan cell)
    {
        if (cell.Zeros is { } z) return z;
        using (TensorScope.Suspend()) return cell.Zeros = Tensor.Zeros([_order[cell.H].OutputShape![0]], _net.DType);
    }

    /// <summary>Plan text for a layer of a fused cell (empty for other layers).</summary>
    private string CellNote(int i)
    {
        if (_cellOf.Length == 0 || _cellOf[i] < 0) return "";
        var cell = _cells[_cellOf[i]];
        if (cell.H != i) return $"  [in LSTM cell '{_order[cell.H].Name}']";
        return $"  [fused LSTM cell over the whole sequence: {string.Join(", ", cell.Inner.Select(p => _order[p].Name))}, {_order[i].Name}; input {_order[cell.X].Name}]";
    }

    /// <summary>[a; b; c; d] along axis 0 of four tensors of one shape [H, ...]: <see cref="Tensor.Concat"/>'s values
    /// and gradients (each part gets its rows of the gradient), with a pooled node and no allocation per run.</summary>
    private static Tensor Stack4(ReadOnlySpan<Tensor> parts)
    {
        var first = parts[0];
        int rows = first.Shape[0], len = first.Length;
        Span<int> shape = stackalloc int[first.Rank];
        first.Shape.CopyTo(shape);
        shape[0] = 4 * rows;
        foreach (var p in parts)
            // Stryker disable once Logical: unreachable: Gate has checked each W_x [H, I], W_h [H, H] and bias [H], and all are
            // parameters (or zeros, or a sum of them) of the network's dtype
            if (!ShapeUtil.SameShape(p.Shape, first.Shape) || p.DType != first.DType)
                // Stryker disable once Statement,String: unreachable, see above
                throw new ShapeMismatchException($"Stack4: {ShapeUtil.Format(p.Shape)} ({p.DType}) does not fit {ShapeUtil.Format(first.Shape)} ({first.DType}).");
        var y = Tensor.Empty(shape, first.DType);
        for (int k = 0; k < 4; k++)
        {
            var c = parts[k].Contiguous();
            if (c.DType == DType.Float32) c.F.CopyTo(y.F.Slice(k * len, len));
            else c.D.CopyTo(y.D.Slice(k * len, len));
        }
        if (Autograd.ShouldRecord(parts))
        {
            // Stryker disable once NullCoalescing: a pooled node or a new one: the same node state after Arm
            var node = NodePool<Stack4Backward>.Take() ?? new Stack4Backward();
            node.Arm(parts, rows);
            y.MarkRecorded(node);
        }
        return y;
    }

    private sealed class Stack4Backward : Node
    {
        private int _rows;

        internal void Arm(ReadOnlySpan<Tensor> parts, int rows)
        {
            Rearm([parts[0], parts[1], parts[2], parts[3]]);
            _rows = rows;
        }

        internal override bool Recycle() => NodePool<Stack4Backward>.Return(this);

        protected internal override void Backward(Tensor gy)
        {
            for (int k = 0; k < 4; k++)
                if (NeedsGrad(k)) Accumulate(k, gy.Slice(0, k * _rows, _rows), owned: false);
        }
    }
}
