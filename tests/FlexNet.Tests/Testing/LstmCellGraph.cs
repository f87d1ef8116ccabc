using FlexNet.Connections;
using FlexNet.Graph;

namespace FlexNet.Tests.Testing;

/// <summary>The standard LSTM cell drawn from layers, the pattern the plan fuses (ExecutionPlan.Cells): gate layers
/// i, f, o (sigmoid) and g (tanh), each with a dense connection from <c>x</c> and a delayed dense one from h(t−1);
/// product layers i*g and f*c (the latter reading c(t−1)), c = i*g + f*c, tanh(c), and h = o ⊙ tanh(c).</summary>
internal static class LstmCellGraph
{
    /// <summary>Adds the cell's layers and connections to <paramref name="net"/> over input <paramref name="x"/> and
    /// returns h.</summary>
    internal static Layer Wire(Network net, Layer x, int units)
    {
        var gi = new Layer(units, "sigmoid", name: "i");
        var gf = new Layer(units, "sigmoid", name: "f");
        var gg = new Layer(units, "tanh", name: "g");
        var go = new Layer(units, "sigmoid", name: "o");
        var ig = new Layer(units, combine: CombineRule.Product, name: "i*g");
        var fc = new Layer(units, combine: CombineRule.Product, name: "f*c");
        var c = new Layer(units, name: "c");
        var tc = new Layer(units, "tanh", name: "tanh(c)");
        var h = new Layer(units, combine: CombineRule.Product, name: "h");
        foreach (var gate in new[] { gi, gf, gg, go })
        {
            net.ConnectDense(x, gate);
            net.ConnectDense(h, gate, delay: 1);
        }
        net.ConnectIdentity(gi, ig);
        net.ConnectIdentity(gg, ig);
        net.ConnectIdentity(gf, fc);
        net.ConnectIdentity(c, fc, delay: 1);
        net.ConnectIdentity(ig, c);
        net.ConnectIdentity(fc, c);
        net.ConnectIdentity(c, tc);
        net.ConnectIdentity(go, h);
        net.ConnectIdentity(tc, h);
        return h;
    }
}
