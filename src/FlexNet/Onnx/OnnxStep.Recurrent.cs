using FlexNet.Graph;
using FlexNet.Layers;
using FlexNet.Layers.Recurrent;
using FlexNet.Tensors;

namespace FlexNet.Onnx;

/// <summary>The recurrent catalog layers in their stepped mode (one cell step per network step): torch's RNN, GRU and
/// LSTM cells as ONNX <c>RNN</c>, <c>GRU</c> (linear_before_reset = 1, torch's placement of the reset gate) and
/// <c>LSTM</c> over a sequence of length 1, with the weights' gate blocks reordered (torch i f g o → ONNX i o f c;
/// torch r z n → ONNX z r h); a linear RNN as its equation.</summary>
internal sealed partial class OnnxStep
{
    private static int[] CellParts(RecurrentNode r) => r.ForwardCell is LstmCell l ? [l.HiddenSize, l.HiddenSize] : [r.ForwardCell!.HiddenSize];

    /// <summary>[1, blocks·H, cols] with torch's row blocks taken in <paramref name="order"/>.</summary>
    private string Blocks(string stem, Tensor w, int[] order, int hs)
    {
        var v = w.ToFloatArray();
        int cols = w.Rank == 1 ? 1 : w.Shape[1], block = hs * cols;
        var r = new float[order.Length * block];
        for (int i = 0; i < order.Length; i++) Array.Copy(v, order[i] * block, r, i * block, block);
        return _scope.Float(stem, r, w.Rank == 1 ? [1, order.Length * hs] : [1, order.Length * hs, cols]);
    }

    private string Bias2(string stem, Tensor bih, Tensor bhh, int[] order, int hs)
    {
        var a = bih.ToFloatArray();
        var b = bhh.ToFloatArray();
        var r = new float[2 * order.Length * hs];
        for (int i = 0; i < order.Length; i++)
        {
            Array.Copy(a, order[i] * hs, r, i * hs, hs);
            Array.Copy(b, order[i] * hs, r, (order.Length + i) * hs, hs);
        }
        return _scope.Float(stem, r, [1, r.Length]);
    }

    private string Cell(RecurrentNode r, string x, Dictionary<Layer, string[]> cells)
    {
        var cell = r.ForwardCell!;
        string name = r.Name;
        int hs = cell.HiddenSize;
        var state = _b.Cells[r];
        var axes0 = Axes(name + ".axes0", 0);
        string Seq(string v, string what) => Node("Unsqueeze", [v, axes0], $"{name}.{what}");
        switch (cell)
        {
            case RnnCell rc when rc.Activation == RecurrentActivation.Linear:
            {
                string a = Node("Gemm", [x, _scope.Weight(name + ".weight_ih_l0", rc.WeightIh), _scope.Weight(name + ".bias_ih_l0", rc.BiasIh)], name + ".ih", OnnxGraph.Int("transB", 1));
                string b = Node("Gemm", [state[0], _scope.Weight(name + ".weight_hh_l0", rc.WeightHh), _scope.Weight(name + ".bias_hh_l0", rc.BiasHh)], name + ".hh", OnnxGraph.Int("transB", 1));
                string h = Final(r, "Add", [a, b]);
                cells[r] = [Copy(r, 0, h)];
                return h;
            }
            case RnnCell rc:
            {
                var (w, rr, bb) = Weights(r, [0], hs, rc.WeightIh, rc.WeightHh, rc.BiasIh, rc.BiasHh);
                string act = rc.Activation switch { RecurrentActivation.Tanh => "Tanh", RecurrentActivation.Relu => "Relu", _ => "Sigmoid" };
                string yh = LastH("RNN", [Seq(x, "x"), w, rr, bb, "", Seq(state[0], "h0")], name,
                    OnnxGraph.Int("hidden_size", hs), OnnxGraph.Strings("activations", act));
                return FinishH(r, yh, cells, axes0);
            }
            case GruCell gc:
            {
                var (w, rr, bb) = Weights(r, [1, 0, 2], hs, gc.WeightIh, gc.WeightHh, gc.BiasIh, gc.BiasHh);
                string yh = LastH("GRU", [Seq(x, "x"), w, rr, bb, "", Seq(state[0], "h0")], name,
                    OnnxGraph.Int("hidden_size", hs), OnnxGraph.Int("linear_before_reset", 1));
                return FinishH(r, yh, cells, axes0);
            }
            case LstmCell lc:
            {
                var (w, rr, bb) = Weights(r, [0, 3, 1, 2], hs, lc.WeightIh, lc.WeightHh, lc.BiasIh, lc.BiasHh);
                var inputs = new List<string> { Seq(x, "x"), w, rr, bb, "", Seq(state[0], "h0"), Seq(state[1], "c0") };
                if (lc.Peepholes)
                {
                    var p = new float[3 * hs];
                    lc.PeepholeI!.ToFloatArray().CopyTo(p, 0);
                    lc.PeepholeO!.ToFloatArray().CopyTo(p, hs);
                    lc.PeepholeF!.ToFloatArray().CopyTo(p, 2 * hs);
                    inputs.Add(_scope.Float(name + ".peepholes_iof", p, [1, 3 * hs]));
                }
                string yh = _scope.Fresh(_b.Stem(name + ".y_h")), yc = _scope.Fresh(_b.Stem(name + ".y_c"));
                _g.NodeTo("LSTM", inputs, ["", yh, yc], OnnxGraph.Int("hidden_size", hs));
                string h = Final(r, "Squeeze", [yh, axes0]);
                string c = _b.NextCell(r, 1);
                _g.NodeTo("Squeeze", [yc, axes0], [c]);
                cells[r] = [Copy(r, 0, h), c];
                return h;
            }
        }
        throw new OnnxExportException($"ONNX export of network '{_net.Name}': layer '{name}' has cell {cell.GetType().Name}, which has no ONNX form here.");
    }

    private readonly Dictionary<Layer, (string, string, string)> _cellWeights = [];

    private (string W, string R, string B) Weights(Layer r, int[] order, int hs, Tensor wih, Tensor whh, Tensor bih, Tensor bhh)
    {
        if (_cellWeights.TryGetValue(r, out var known)) return known;
        string n = r.Name;
        var result = (Blocks(n + ".W", wih, order, hs), Blocks(n + ".R", whh, order, hs), Bias2(n + ".B", bih, bhh, order, hs));
        _cellWeights[r] = result;
        return result;
    }

    /// <summary>A recurrent op whose only used output is Y_h (its second) [1, N, H].</summary>
    private string LastH(string op, IReadOnlyList<string> inputs, string name, params ProtoWriter[] attributes)
    {
        string yh = _scope.Fresh(_b.Stem(name + ".y_h"));
        _g.NodeTo(op, inputs, ["", yh], attributes);
        return yh;
    }

    private string FinishH(RecurrentNode r, string yh, Dictionary<Layer, string[]> cells, string axes0)
    {
        string h = Final(r, "Squeeze", [yh, axes0]);
        cells[r] = [Copy(r, 0, h)];
        return h;
    }

    /// <summary>The cell state part <paramref name="part"/> under its next-state name (an Identity of the output h).</summary>
    private string Copy(Layer r, int part, string value)
    {
        string name = _b.NextCell(r, part);
        _g.NodeTo("Identity", [value], [name]);
        return name;
    }
}
