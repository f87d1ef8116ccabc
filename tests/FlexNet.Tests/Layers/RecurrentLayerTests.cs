using FlexNet.Connections;
using FlexNet.Layers;
using FlexNet.Models;
using FlexNet.Tests.Testing;
using static FlexNet.Models.Functional;
using FlexNet.Tensors;
using FlexNet.Autodiff;

namespace FlexNet.Tests.Layers;

/// <summary>Recurrent catalog layers: torch reference cases through the public layers (stepped and whole-sequence),
/// backward direction, initial state, Bidirectional, and a gradient check through a Connect graph with feedback.</summary>
public class RecurrentLayerTests
{
    private static RecurrentLayer Make(string op, int h, bool returnSequences = true, bool back = false) => op switch
    {
        "rnn_tanh" => new RNN(h, "tanh", returnSequences, back),
        "gru" => new GRU(h, returnSequences, back),
        _ => new LSTM(h, returnSequences, back),
    };

    private static void Load(RecurrentLayer layer, Reference r)
    {
        foreach (var p in layer.Cell!.Parameters)
            p.CopyFrom(r.Tensor(p.Name![(p.Name!.IndexOf('.') + 1)..]));
    }

    [Theory]
    [InlineData("rnn_tanh", true)]
    [InlineData("gru", true)]
    [InlineData("lstm", true)]
    [InlineData("rnn_tanh", false)]
    [InlineData("gru", false)]
    [InlineData("lstm", false)]
    public void ReferenceCasesMatchThroughTheLayer(string op, bool stepped)
    {
        var r = Reference.Load(op);
        var x = r.Tensor("x");
        int steps = x.Shape[0], n = x.Shape[1], f = x.Shape[2], h = r.Tensor("weight_hh_l0").Shape[1];
        var layer = Make(op, h);
        var input = stepped ? Input(f, sequence: true) : Input([steps, f]);
        var m = new Model(input, layer.Call(input), op, DType.Float64);
        var data = (stepped ? x : x.Transpose(0, 1).Contiguous()).Detach().Clone().RequireGrad();
        _ = m.Forward(data);
        Load(layer, r);
        var y = m.Forward(data, training: true);
        var yt = stepped ? y : y.Transpose(0, 1);
        Assert.Equal([steps, n, h], yt.ShapeArray);
        var last = yt.Slice(0, steps - 1, 1).Squeeze(0);
        var loss = (yt * r.Tensor("g_y")).Sum() + (last * r.Tensor("g_h_last")).Sum();
        loss.Backward();
        T.Close(r.Tensor("out_y").ToDoubleArray(), yt.ToDoubleArray(), 1e-9, 1e-9, "out_y");
        var gx = stepped ? data.Grad! : data.Grad!.Transpose(0, 1);
        T.Close(r.Tensor("grad_x").ToDoubleArray(), gx.Contiguous().ToDoubleArray(), 1e-9, 1e-9, "grad_x");
        foreach (var p in layer.Cell!.Parameters)
        {
            string shortName = p.Name![(p.Name!.IndexOf('.') + 1)..];
            T.Close(r.Tensor("grad_" + shortName).ToDoubleArray(), p.Grad!.ToDoubleArray(), 1e-9, 1e-9, "grad_" + shortName);
        }
    }

    [Fact]
    public void LastStepOnlyReturnsFinalHidden()
    {
        var r = Reference.Load("lstm");
        var x = r.Tensor("x");
        int h = r.Tensor("weight_hh_l0").Shape[1];
        var layer = new LSTM(h, returnSequences: false);
        var input = Input(x.Shape[2], sequence: true);
        var m = new Model(input, layer.Call(input), "last", DType.Float64);
        _ = m.Forward(x);
        Load(layer, r);
        var y = m.Forward(x);
        Assert.Equal([x.Shape[1], h], y.ShapeArray);
        T.Close(r.Tensor("out_h_last").ToDoubleArray(), y.ToDoubleArray(), 1e-9, 1e-9, "h_last");
    }

    [Fact]
    public void BackwardInTimeMatchesForwardOnReversedInput()
    {
        var xs = T.Rand(5, 6, 3, 2).Detach(); // [N=6? no: batch-first N, T, F]
        var fw = new GRU(4, name: "fw");
        var bw = new GRU(4, goBackwards: true, name: "bw");
        var inp = Input([3, 2]);
        var m = new Model(inp, fw.Call(inp), "f", DType.Float64);
        var mb = new Model(inp, bw.Call(inp), "b", DType.Float64);
        _ = m.Forward(xs);
        _ = mb.Forward(xs);
        for (int i = 0; i < 4; i++) bw.Cell!.Parameters[i].CopyFrom(fw.Cell!.Parameters[i]);
        var reversed = Tensor.Concat([xs.Slice(1, 2, 1), xs.Slice(1, 1, 1), xs.Slice(1, 0, 1)], 1);
        var yf = m.Forward(reversed);
        var yb = mb.Forward(xs);
        for (int t = 0; t < 3; t++)
            T.Close(yf.Slice(1, 2 - t, 1).ToDoubleArray(), yb.Slice(1, t, 1).ToDoubleArray(), 1e-12, 1e-12, $"t={t}");
    }

    [Fact]
    public void InitialStateFromAnotherLayer()
    {
        var seq = Input([4, 3], name: "seq");
        var ctx = Input(5, name: "ctx");
        var h0 = new Dense(6, "tanh", name: "h0").Call(ctx);
        var rnn = new RNN(6, returnSequences: false, name: "rnn");
        var m = new Model([seq, ctx], [rnn.Call(seq, h0)], "init", DType.Float64);
        var xs = T.Rand(1, 2, 4, 3).Detach();
        var c = T.Rand(2, 2, 5).Detach();
        var y = m.Forward([xs, c], false)[0];
        var cell = (FlexNet.Layers.Recurrent.RnnCell)rnn.Cell!;
        var d = (Dense)m.Outputs[0].Inputs[1].Layer!;
        var h = (NN.MatMul(c, d.Weight.T) + d.Bias!).Tanh();
        for (int t = 0; t < 4; t++)
        {
            var xt = xs.Slice(1, t, 1).Squeeze(1);
            h = (NN.MatMul(xt, cell.WeightIh.T) + cell.BiasIh + NN.MatMul(h, cell.WeightHh.T) + cell.BiasHh).Tanh();
        }
        T.Close(h.ToDoubleArray(), y.ToDoubleArray(), 1e-12, 1e-12, "rnn with h0");
    }

    [Fact]
    public void BidirectionalAlignsBothHalvesToInputOrder()
    {
        var xs = T.Rand(9, 2, 5, 3).Detach();
        var fw = new LSTM(4, name: "f");
        var bi = new BidirectionalLayer(fw, name: "bi");
        var inp = Input([5, 3]);
        var m = new Model(inp, bi.Call(inp), "bi", DType.Float64);
        var y = m.Forward(xs);
        Assert.Equal([2, 5, 8], y.ShapeArray);
        var x = xs.Transpose(0, 1).Contiguous();
        var (yf, _) = FlexNet.Layers.Recurrent.Recurrence.Run(fw.Cell!, x);
        var (yb, _) = FlexNet.Layers.Recurrent.Recurrence.Run(bi.Backward.Cell!, x, reverse: true);
        T.Close(Tensor.Concat([yf, yb], -1).Transpose(0, 1).Contiguous().ToDoubleArray(), y.ToDoubleArray(), 1e-12, 1e-12, "bidirectional");
        T.Close(Tensor.Concat([yf, yb], -1).ToDoubleArray(), bi.Run(x).ToDoubleArray(), 1e-12, 1e-12, "bidirectional Run (time-major)");
    }

    [Fact]
    public void LstmNodeInConnectGraphWithFeedbackPassesGradCheckThroughTime()
    {
        var lstm = new LSTM(3, peepholes: true, name: "lstm", inputWidth: 3 + 2);
        var readout = new Dense(2, "tanh", name: "out");
        var net = new FlexNet.Graph.Network("g", DType.Float64, 5);
        var inp = net.Add(new FlexNet.Graph.InputLayer(3, sequenceLength: 4, name: "x"));
        var node = lstm.Attach(net, inp);
        var o = readout.Attach(net, node);
        net.ConnectIdentity(o, node, delay: 1); // the readout feeds back into the cell input one step later
        net.AddOutput(o);
        net.Compile();
        var x = T.Rand(3, 4, 2, 3);
        var inputs = new List<Tensor> { x };
        inputs.AddRange(net.Parameters);
        Assert.Equal(4 + 3 + 2, inputs.Count - 1); // lstm (4 + 3 peepholes), dense W and b
        T.GradOk("lstm+feedback", p => net.Forward(p[0])[0], [.. inputs]);
    }

    [Fact]
    public void StatefulSteppedLayerCarriesStateAcrossChunks()
    {
        var gru = new GRU(3, name: "gru");
        var input = Input(2, sequence: true);
        var m = new Model(input, gru.Call(input), "s", DType.Float64);
        var xs = T.Rand(8, 6, 2, 2).Detach();
        var whole = m.Forward(xs);
        m.Network.Stateful = true;
        var a = m.Forward(xs.Slice(0, 0, 4));
        var b = m.Forward(xs.Slice(0, 4, 2));
        T.Close(whole.ToDoubleArray(), Tensor.Concat([a, b], 0).ToDoubleArray(), 1e-12, 1e-12, "chunks");
    }

    [Fact]
    public void MaskedStepsKeepTheCellState()
    {
        var lstm = new LSTM(3, returnSequences: false, name: "lstm");
        var input = Input(2, sequence: true);
        var m = new Model(input, lstm.Call(input), "mask", DType.Float64);
        var xs = T.Rand(4, 5, 2, 2).Detach();
        // sample 0 has 5 valid steps; sample 1 skips step 2 (a gap inside the sequence) and its state must be held there
        var mask = Tensor.FromArray([1.0, 1, 1, 1, 1, 0, 1, 1, 1, 1], 5, 2);
        var y = m.Forward([xs], false, mask)[0];
        var s1 = xs.Slice(1, 1, 1);
        var gapless = Tensor.Concat([s1.Slice(0, 0, 2), s1.Slice(0, 3, 2)], 0).Contiguous();
        var expected1 = m.Forward(gapless);
        var full0 = m.Forward(xs.Slice(1, 0, 1).Contiguous());
        T.Close(full0.ToDoubleArray(), y.Slice(0, 0, 1).ToDoubleArray(), 1e-12, 1e-12, "sample 0");
        T.Close(expected1.ToDoubleArray(), y.Slice(0, 1, 1).ToDoubleArray(), 1e-12, 1e-12, "sample 1 (gap)");
    }

    [Fact]
    public void TruncatedBpttCutsGradientsThroughTheCellState()
    {
        var rnn = new RNN(3, name: "rnn", returnSequences: false);
        var input = Input(2, sequence: true);
        var m = new Model(input, rnn.Call(input), "tbptt", DType.Float64);
        var xs = T.Rand(6, 6, 1, 2);
        m.Network.TruncatedBptt = 3;
        m.Forward(xs).Sum().Backward();
        var g = xs.Grad!;
        Assert.All(g.Slice(0, 0, 3).ToDoubleArray(), v => Assert.Equal(0.0, v)); // before the last window
        Assert.Contains(g.Slice(0, 3, 3).ToDoubleArray(), v => v != 0);
        xs.ZeroGrad();
        m.Network.TruncatedBptt = 6;
        m.Forward(xs).Sum().Backward();
        Assert.Contains(xs.Grad!.Slice(0, 0, 3).ToDoubleArray(), v => v != 0);
    }

    [Theory]
    [InlineData("rnn_tanh")]
    [InlineData("gru")]
    [InlineData("lstm")]
    public void RunOnATimeMajorSequenceMatchesTheReference(string op)
    {
        var r = Reference.Load(op);
        var x = r.Tensor("x").Detach().Clone().RequireGrad();
        var layer = Make(op, r.Tensor("weight_hh_l0").Shape[1]);
        _ = layer.Run(x);
        Load(layer, r);
        var (y, final) = layer.Run(x);
        T.Close(r.Tensor("out_y").ToDoubleArray(), y.ToDoubleArray(), 1e-9, 1e-9, "out_y");
        T.Close(r.Tensor("out_h_last").ToDoubleArray(), final.H.ToDoubleArray(), 1e-9, 1e-9, "h_last");
        // backward in time with an initial state: equals the forward run over the reversed sequence
        var back = Make(op, layer.Units, back: true);
        _ = back.Run(x);
        for (int i = 0; i < 4; i++) back.Cell!.Parameters[i].CopyFrom(layer.Cell!.Parameters[i]);
        var h0 = final;
        int steps = x.Shape[0];
        var rev = Tensor.Concat(Enumerable.Range(0, steps).Select(t => x.Slice(0, steps - 1 - t, 1)).ToArray(), 0);
        var (yr, _) = layer.Run(rev, h0);
        var (yb, _) = back.Run(x, h0);
        for (int t = 0; t < steps; t++)
            T.Close(yr.Slice(0, steps - 1 - t, 1).ToDoubleArray(), yb.Slice(0, t, 1).ToDoubleArray(), 1e-12, 1e-12, $"reversed t={t}");
    }
}
