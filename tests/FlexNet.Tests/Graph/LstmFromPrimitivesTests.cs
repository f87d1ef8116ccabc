using FlexNet.Connections;
using FlexNet.Graph;
using FlexNet.Tests.Testing;
using FlexNet.Tensors;
using FlexNet.Autodiff;
using FlexNet.Layers;

namespace FlexNet.Tests.Graph;

/// <summary>
/// Example: an LSTM assembled from graph primitives (README "LSTM from primitives"). Gates are sigmoid/tanh
/// layers fed by dense connections from x(t) and from h(t−1); multiplicative combination is the Product rule;
/// the cell keeps its value through an identity connection of delay 1:
/// <code>
/// i,f,o = σ(W x + b_i + U h(t−1) + b_h)   g = tanh(...)
/// ig = i ⊙ g   fc = f ⊙ c(t−1)   c = ig + fc   h = o ⊙ tanh(c)
/// </code>
/// With torch.nn.LSTM's weights loaded it reproduces testdata/reference/lstm (outputs and every gradient);
/// peepholes and a coupled input-forget gate are a few lines away (<see cref="Build"/>'s flags).
/// </summary>
public sealed class LstmFromPrimitivesTests
{
    internal sealed record Lstm(Network Net, DenseConnection[] Wx, DenseConnection[] Wh, ElementwiseConnection[] Peep, Layer H);

    /// <summary>Builds the LSTM graph with <see cref="MemoryUnits.AddLstm"/> (see that method for the wiring).
    /// Gate order i, f, g, o as in torch (with <paramref name="coupled"/> the i gate is 1 − f and Wx[0], Wh[0] are null).</summary>
    internal static Lstm Build(int input, int hidden, int steps, bool peepholes = false, bool coupled = false, DType dtype = DType.Float64)
    {
        var net = new Network(coupled ? "cifg-lstm" : peepholes ? "peephole-lstm" : "lstm", dtype, seed: 4);
        var x = new InputLayer(input, sequenceLength: steps, name: "x");
        var unit = MemoryUnits.AddLstm(net, x, hidden, peepholes, coupled);
        net.AddOutput(unit.Hidden, OutputMode.AllSteps);
        net.AddOutput(unit.Hidden, OutputMode.LastStep);
        net.Compile();
        return new Lstm(net, unit.InputWeights!, unit.RecurrentWeights!, unit.Peepholes, unit.Hidden);
    }

    private static void LoadTorch(Lstm m, Reference r, int hidden)
    {
        for (int k = 0; k < 4; k++)
        {
            m.Wx[k].Weight.CopyFrom(r.Tensor("weight_ih_l0").Slice(0, k * hidden, hidden));
            m.Wx[k].Bias!.CopyFrom(r.Tensor("bias_ih_l0").Slice(0, k * hidden, hidden));
            m.Wh[k].Weight.CopyFrom(r.Tensor("weight_hh_l0").Slice(0, k * hidden, hidden));
            m.Wh[k].Bias!.CopyFrom(r.Tensor("bias_hh_l0").Slice(0, k * hidden, hidden));
        }
    }

    [Fact]
    public void LstmFromPrimitivesMatchesTorchOutputsAndGradients()
    {
        var r = Reference.Load("lstm");
        var x = r.Tensor("x").RequireGrad();
        int steps = x.Shape[0], input = x.Shape[2], hidden = r.Tensor("weight_hh_l0").Shape[1];
        var m = Build(input, hidden, steps);
        LoadTorch(m, r, hidden);
        var o = m.Net.Forward(x);
        ((o[0] * r.Tensor("g_y")).Sum() + (o[1] * r.Tensor("g_h_last")).Sum()).Backward();
        const double tol = 1e-9;
        T.Close(r.Tensor("out_y").ToDoubleArray(), o[0].ToDoubleArray(), tol, tol, "out_y");
        T.Close(r.Tensor("out_h_last").ToDoubleArray(), o[1].ToDoubleArray(), tol, tol, "out_h_last");
        T.Close(r.Tensor("grad_x").ToDoubleArray(), x.Grad!.ToDoubleArray(), tol, tol, "grad_x");
        T.Close(r.Tensor("grad_weight_ih_l0").ToDoubleArray(), Tensor.Concat(m.Wx.Select(c => c.Weight.Grad!).ToArray(), 0).ToDoubleArray(), tol, tol, "grad_weight_ih_l0");
        T.Close(r.Tensor("grad_weight_hh_l0").ToDoubleArray(), Tensor.Concat(m.Wh.Select(c => c.Weight.Grad!).ToArray(), 0).ToDoubleArray(), tol, tol, "grad_weight_hh_l0");
        T.Close(r.Tensor("grad_bias_ih_l0").ToDoubleArray(), Tensor.Concat(m.Wx.Select(c => c.Bias!.Grad!).ToArray(), 0).ToDoubleArray(), tol, tol, "grad_bias_ih_l0");
        T.Close(r.Tensor("grad_bias_hh_l0").ToDoubleArray(), Tensor.Concat(m.Wh.Select(c => c.Bias!.Grad!).ToArray(), 0).ToDoubleArray(), tol, tol, "grad_bias_hh_l0");
    }

    [Fact]
    public void PeepholesAtZeroEqualThePlainLstmAndMatter()
    {
        var r = Reference.Load("lstm");
        var x = r.Tensor("x");
        int steps = x.Shape[0], input = x.Shape[2], hidden = r.Tensor("weight_hh_l0").Shape[1];
        var m = Build(input, hidden, steps, peepholes: true);
        LoadTorch(m, r, hidden);
        foreach (var p in m.Peep) p.Weight.Fill(0);
        T.Close(r.Tensor("out_y").ToDoubleArray(), m.Net.Forward(x)[0].ToDoubleArray(), 1e-9, 1e-9, "peephole lstm with zero peepholes");
        foreach (var p in m.Peep) p.Weight.Fill(0.5);
        Assert.NotEqual(r.Tensor("out_y").ToDoubleArray(), m.Net.Forward(x)[0].ToDoubleArray());
    }

    [Fact]
    public void CoupledPeepholeVariantMatchesItsEquationsAndGradCheck()
    {
        const int input = 3, hidden = 2, steps = 4, n = 2;
        var m = Build(input, hidden, steps, peepholes: true, coupled: true);
        var rng = new RandomGenerator(8);
        foreach (var p in m.Net.Parameters) p.CopyFrom(Tensor.Normal(p.ShapeArray, 0, 0.5, rng, DType.Float64));
        var x = T.Rand(81, steps, n, input);

        // the equations written out with tensor ops: f = σ(Wf x + Uf h + pf ⊙ c(t−1)), i = 1 − f,
        // c = f ⊙ c(t−1) + i ⊙ tanh(Wg x + Ug h), o = σ(Wo x + Uo h + po ⊙ c), h = o ⊙ tanh(c)
        Tensor Lin(DenseConnection d, Tensor v) => NN.Linear(v, d.Weight, d.Bias);
        var h = Tensor.Zeros([n, hidden], DType.Float64);
        var c = Tensor.Zeros([n, hidden], DType.Float64);
        var ys = new List<Tensor>();
        for (int t = 0; t < steps; t++)
        {
            var xt = x.Slice(0, t, 1).Squeeze(0);
            var f = (Lin(m.Wx[1], xt) + Lin(m.Wh[1], h) + c * m.Peep[0].Weight).Sigmoid();
            var g = (Lin(m.Wx[2], xt) + Lin(m.Wh[2], h)).Tanh();
            c = f * c + (1 - f) * g;
            var o = (Lin(m.Wx[3], xt) + Lin(m.Wh[3], h) + c * m.Peep[1].Weight).Sigmoid();
            h = o * c.Tanh();
            ys.Add(h);
        }
        var expected = Tensor.Stack(ys.ToArray(), 0);
        T.Close(expected.ToDoubleArray(), m.Net.Forward(x)[0].ToDoubleArray(), 1e-12, 1e-13, "coupled peephole lstm");
        T.GradOk("coupled peephole lstm", _ => m.Net.Forward(x)[0], m.Net.Parameters.Append(x).ToArray());
    }
}
