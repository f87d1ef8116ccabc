using FlexNet.Graph;
using FlexNet.Layers;
using FlexNet.Layers.Recurrent;
using FlexNet.Tensors;

namespace FlexNet.Onnx;

/// <summary>The recurrent catalog layers: torch's RNN, GRU and LSTM cells as ONNX <c>RNN</c>, <c>GRU</c>
/// (linear_before_reset = 1, torch's placement of the reset gate) and <c>LSTM</c> (peepholes as P, order i o f), with
/// the weights' gate blocks reordered (torch i f g o → ONNX i o f c; torch r z n → ONNX z r h). Stepped mode (one cell
/// step per network step): the op over a sequence of length 1 from the carried state; a linear RNN as its equation.
/// Whole-sequence mode ([T, F] per sample, batch-first): the op over the T steps, forward, reverse or bidirectional.</summary>
internal sealed partial class OnnxStep
{
    private static int[] CellParts(RecurrentCellLayer r) => r.ForwardCell is LstmCell l ? [l.HiddenSize, l.HiddenSize] : [r.ForwardCell!.HiddenSize];

    private static readonly int[] LstmOrder = [0, 3, 1, 2], GruOrder = [1, 0, 2], RnnOrder = [0];

    /// <summary>torch's row blocks of <paramref name="w"/> in <paramref name="order"/>, appended to <paramref name="into"/>.</summary>
    private static void Blocks(List<float> into, Tensor w, int[] order, int hs)
    {
        var v = w.ToFloatArray();
        int block = hs * (w.Rank == 1 ? 1 : w.Shape[1]);
        foreach (int b in order) into.AddRange(v.AsSpan(b * block, block).ToArray());
    }

    private readonly Dictionary<Layer, (string W, string R, string B, string? P)> _cellWeights = [];

    /// <summary>W [D, g·H, I], R [D, g·H, H], B [D, 2·g·H] (and P [D, 3H]) of the node's D cells, written once.</summary>
    private (string W, string R, string B, string? P) Weights(RecurrentCellLayer r, IRecurrentCell[] cells)
    {
        if (_cellWeights.TryGetValue(r, out var known)) return known;
        var (w, rr, b, p) = (new List<float>(), new List<float>(), new List<float>(), new List<float>());
        int hs = cells[0].HiddenSize, gates = 1, inputs = cells[0].InputSize;
        foreach (var cell in cells)
        {
            var (wih, whh, bih, bhh, order) = cell switch
            {
                LstmCell l => (l.WeightIh, l.WeightHh, l.BiasIh, l.BiasHh, LstmOrder),
                GruCell g => (g.WeightIh, g.WeightHh, g.BiasIh, g.BiasHh, GruOrder),
                RnnCell e => (e.WeightIh, e.WeightHh, e.BiasIh, e.BiasHh, RnnOrder),
                _ => throw new InvalidOperationException(cell.GetType().Name), // refused by Check
            };
            gates = order.Length;
            Blocks(w, wih, order, hs);
            Blocks(rr, whh, order, hs);
            Blocks(b, bih, order, hs);
            Blocks(b, bhh, order, hs);
            if (cell is LstmCell { Peepholes: true } lc)
                foreach (var t in new[] { lc.PeepholeI!, lc.PeepholeO!, lc.PeepholeF! }) p.AddRange(t.ToFloatArray());
        }
        int d = cells.Length;
        string n = r.Name;
        var result = (_scope.Float(n + ".W", [.. w], [d, gates * hs, inputs]), _scope.Float(n + ".R", [.. rr], [d, gates * hs, hs]),
            _scope.Float(n + ".B", [.. b], [d, 2 * gates * hs]), p.Count > 0 ? _scope.Float(n + ".P", [.. p], [d, 3 * hs]) : null);
        _cellWeights[r] = result;
        return result;
    }

    /// <summary>The op of a cell and its attributes (hidden size, activation or reset placement, direction).</summary>
    private static (string Op, List<ProtoWriter> Attributes) CellOp(IRecurrentCell cell, string direction)
    {
        var attributes = new List<ProtoWriter> { OnnxGraph.Int("hidden_size", cell.HiddenSize), OnnxGraph.Str("direction", direction) };
        switch (cell)
        {
            case RnnCell rc:
                attributes.Add(OnnxGraph.Strings("activations", rc.Activation switch { RecurrentActivation.Tanh => "Tanh", RecurrentActivation.Relu => "Relu", _ => "Sigmoid" }));
                return ("RNN", attributes);
            case GruCell:
                attributes.Add(OnnxGraph.Int("linear_before_reset", 1));
                return ("GRU", attributes);
            default:
                return ("LSTM", attributes);
        }
    }

    /// <summary>The name of an optional ONNX input that is left out (here the RNN ops' sequence_lens).</summary>
    private const string Absent = "";

    private string Cell(RecurrentCellLayer r, string x, Dictionary<Layer, string[]> cells) =>
        r.IsWholeSequence ? WholeSequence(r, x) : SteppedCell(r, x, cells);

    private string SteppedCell(RecurrentCellLayer r, string x, Dictionary<Layer, string[]> cells)
    {
        var cell = r.ForwardCell!;
        string name = r.Name;
        var state = _b.Cells[r];
        if (cell is RnnCell { Activation: RecurrentActivation.Linear } rc)
        {
            // Stryker disable once String: names only: this stem names an intermediate value, which OnnxModelScope.Fresh keeps unique and nothing looks up; the op and attribute names here fail every model ONNX Runtime runs
            string a = Node("Gemm", [x, _scope.Weight(name + ".weight_ih_l0", rc.WeightIh), _scope.Weight(name + ".bias_ih_l0", rc.BiasIh)], name + ".ih", OnnxGraph.Int("transB", 1));
            // Stryker disable once String: names only: this stem names an intermediate value, which OnnxModelScope.Fresh keeps unique and nothing looks up; the op and attribute names here fail every model ONNX Runtime runs
            string b = Node("Gemm", [state[0], _scope.Weight(name + ".weight_hh_l0", rc.WeightHh), _scope.Weight(name + ".bias_hh_l0", rc.BiasHh)], name + ".hh", OnnxGraph.Int("transB", 1));
            string hl = Final(r, "Add", [a, b]);
            cells[r] = [Copy(r, 0, hl)];
            return hl;
        }
        // Stryker disable once String: names only: this stem names an intermediate value, which OnnxModelScope.Fresh keeps unique and nothing looks up; the op and attribute names here fail every model ONNX Runtime runs
        var axes0 = Axes(name + ".axes0", 0);
        // Stryker disable once String: names only: this stem names an intermediate value, which OnnxModelScope.Fresh keeps unique and nothing looks up; the op and attribute names here fail every model ONNX Runtime runs
        string Seq(string v, string what) => Node("Unsqueeze", [v, axes0], $"{name}.{what}");
        var (w, rr, bb, p) = Weights(r, [cell]);
        var (op, attributes) = CellOp(cell, "forward");
        // Stryker disable once String: names only: this stem names an intermediate value, which OnnxModelScope.Fresh keeps unique and nothing looks up; the op and attribute names here fail every model ONNX Runtime runs
        var inputs = new List<string> { Seq(x, "x"), w, rr, bb, Absent, Seq(state[0], "h0") };
        // Stryker disable once String: names only: this stem names an intermediate value, which OnnxModelScope.Fresh keeps unique and nothing looks up; the op and attribute names here fail every model ONNX Runtime runs
        var outputs = new List<string> { "", _scope.Fresh(_b.Stem(name + ".y_h")) };
        if (cell is LstmCell)
        {
            // Stryker disable once String: names only: this stem names an intermediate value, which OnnxModelScope.Fresh keeps unique and nothing looks up; the op and attribute names here fail every model ONNX Runtime runs
            inputs.Add(Seq(state[1], "c0"));
            if (p is not null) inputs.Add(p);
            // Stryker disable once String: names only: this stem names an intermediate value, which OnnxModelScope.Fresh keeps unique and nothing looks up; the op and attribute names here fail every model ONNX Runtime runs
            outputs.Add(_scope.Fresh(_b.Stem(name + ".y_c")));
        }
        _g.NodeTo(op, inputs, outputs, [.. attributes]);
        string h = Final(r, "Squeeze", [outputs[1], axes0]);
        if (cell is LstmCell)
        {
            string c = _b.NextCell(r, 1);
            _g.NodeTo("Squeeze", [outputs[2], axes0], [c]);
            cells[r] = [Copy(r, 0, h), c];
        }
        else cells[r] = [Copy(r, 0, h)];
        return h;
    }

    /// <summary>A [T, F] input per sample ([N, T·F] flattened): transposed to [T, N, F], run by the op (forward, reverse or
    /// bidirectional), and returned as [N, T, D·H] (every step) or [N, D·H] (the last processed step of each direction).</summary>
    private string WholeSequence(RecurrentCellLayer r, string z)
    {
        string name = r.Name;
        var (steps, features) = r.SequenceShape;
        var cells = r.BackwardCell is { } back ? new[] { r.ForwardCell!, back } : [r.ForwardCell!];
        int hs = cells[0].HiddenSize, d = cells.Length;
        // Stryker disable once String: names only: this stem names an intermediate value, which OnnxModelScope.Fresh keeps unique and nothing looks up; the op and attribute names here fail every model ONNX Runtime runs
        string seq = Node("Reshape", [z, _scope.Int64(name + ".nTF", [3], [-1, steps, features])], name + ".nTF");
        // Stryker disable once String: names only: this stem names an intermediate value, which OnnxModelScope.Fresh keeps unique and nothing looks up; the op and attribute names here fail every model ONNX Runtime runs
        string x = Node("Transpose", [seq], name + ".TNF", OnnxGraph.Ints("perm", 1, 0, 2));
        var (w, rr, bb, p) = Weights(r, cells);
        var (op, attributes) = CellOp(cells[0], d == 2 ? "bidirectional" : r.ForwardLayer.GoBackwards ? "reverse" : "forward");
        var inputs = new List<string> { x, w, rr, bb };
        if (p is not null) inputs.AddRange(["", "", "", p]);
        // Stryker disable once String: names only: this stem names an intermediate value, which OnnxModelScope.Fresh keeps unique and nothing looks up; the op and attribute names here fail every model ONNX Runtime runs
        string y = _scope.Fresh(_b.Stem(name + ".y")), yh = _scope.Fresh(_b.Stem(name + ".y_h"));
        _g.NodeTo(op, inputs, [y, yh], [.. attributes]);
        if (r.ForwardLayer.ReturnSequences)
        {
            // Stryker disable once String: names only: this stem names an intermediate value, which OnnxModelScope.Fresh keeps unique and nothing looks up; the op and attribute names here fail every model ONNX Runtime runs
            string ntdh = Node("Transpose", [y], name + ".NTDH", OnnxGraph.Ints("perm", 2, 0, 1, 3));
            // Stryker disable once String: names only: this stem names an intermediate value, which OnnxModelScope.Fresh keeps unique and nothing looks up; the op and attribute names here fail every model ONNX Runtime runs
            return Final(r, "Reshape", [ntdh, _scope.Int64(name + ".out_shape", [3], [-1, steps, d * hs])]);
        }
        // Stryker disable once String: names only: this stem names an intermediate value, which OnnxModelScope.Fresh keeps unique and nothing looks up; the op and attribute names here fail every model ONNX Runtime runs
        string ndh = Node("Transpose", [yh], name + ".NDH", OnnxGraph.Ints("perm", 1, 0, 2));
        // Stryker disable once String: names only: this stem names an intermediate value, which OnnxModelScope.Fresh keeps unique and nothing looks up; the op and attribute names here fail every model ONNX Runtime runs
        return Final(r, "Reshape", [ndh, _scope.Int64(name + ".out_shape", [2], [-1, d * hs])]);
    }

    /// <summary>The cell state part <paramref name="part"/> under its next-state name (an Identity of the output h).</summary>
    private string Copy(Layer r, int part, string value)
    {
        string name = _b.NextCell(r, part);
        _g.NodeTo("Identity", [value], [name]);
        return name;
    }
}
