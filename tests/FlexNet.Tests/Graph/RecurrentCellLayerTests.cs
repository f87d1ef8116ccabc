using FlexNet.Autodiff;
using FlexNet.Connections;
using FlexNet.Graph;
using FlexNet.Layers;
using FlexNet.Models;
using FlexNet.Tensors;
using FlexNet.Tests.IO;
using FlexNet.Tests.Testing;

namespace FlexNet.Tests.Graph;

/// <summary>Recurrent layers are one public layer kind (<see cref="RecurrentCellLayer"/>): the recurrent builders add
/// exactly that layer, a Connect network holds it with the ordinary calls (including feedback edges), it computes what
/// hand-written loops compute, and a Connect network with RNN/GRU/LSTM layers saves and loads bit-identically.</summary>
public sealed class RecurrentCellLayerTests
{
    private static Sequential SequentialNet() =>
        new("same", DType.Float64, 11, new LSTM(4, returnSequences: false, name: "lstm"), new Dense(2, name: "head")) { InputShape = [5, 3] };

    private static Network ConnectNet()
    {
        var net = new Network("same", DType.Float64, 11);
        var x = net.Add(new InputLayer([5, 3], name: "input"));
        var lstm = net.Add(new RecurrentCellLayer(new LSTM(4, returnSequences: false), "lstm"));
        net.Connect(x, lstm);
        var head = net.Add(new Layer(2, name: "head"));
        net.ConnectDense(lstm, head, name: "head");
        net.AddOutput(head, OutputMode.LastStep);
        return net;
    }

    [Fact]
    public void SameLstmNetworkDrawnWithSequentialAndConnect_IsTheSameGraph_WithIdenticalOutputs_AndMatchesLoops()
    {
        var a = SequentialNet().Network;
        var b = ConnectNet();
        a.Compile();
        b.Compile();
        Assert.Equal(a.Layers.Select(l => l.Name), b.Layers.Select(l => l.Name));
        Assert.Equal([typeof(InputLayer), typeof(RecurrentCellLayer), typeof(Layer)], a.Layers.Select(l => l.GetType()));
        Assert.Equal(a.Layers.Select(l => l.GetType()), b.Layers.Select(l => l.GetType()));
        Assert.Equal(a.Connections.Select(c => (c.GetType(), c.From.Name, c.To.Name)), b.Connections.Select(c => (c.GetType(), c.From.Name, c.To.Name)));
        Assert.Equal(a.NamedParameters.Select(p => p.Name), b.NamedParameters.Select(p => p.Name));
        Assert.Equal(new[] { "head.bias", "head.weight", "lstm.bias_hh_l0", "lstm.bias_ih_l0", "lstm.weight_hh_l0", "lstm.weight_ih_l0" },
                     b.NamedParameters.Select(p => p.Name).Order(StringComparer.Ordinal));

        var rng = new RandomGenerator(3);
        using (Autograd.NoGrad())
            foreach (var ((_, pa), (_, pb)) in a.NamedParameters.Zip(b.NamedParameters))
            {
                pa.CopyFrom(Tensor.Normal(pa.ShapeArray, 0, 0.6, rng, DType.Float64));
                pb.CopyFrom(pa);
            }
        var input = Tensor.Normal([6, 5, 3], 0, 1, new RandomGenerator(4), DType.Float64);
        var ya = NetworkFileTests.Run(a, [input]);
        NetworkFileTests.AssertBitIdentical(ya, NetworkFileTests.Run(b, [input]), "Sequential vs Connect");

        // independent: the LSTM and the head as loops
        var p = b.NamedParameters.ToDictionary(q => q.Name, q => q.Value.ToDoubleArray());
        var hLast = LstmLoops.LastH(input.ToDoubleArray(), 6, 5, 3, 4, p["lstm.weight_ih_l0"], p["lstm.weight_hh_l0"], p["lstm.bias_ih_l0"], p["lstm.bias_hh_l0"]);
        var y = ya[0].ToDoubleArray();
        Assert.Equal([6, 2], ya[0].ShapeArray);
        for (int s = 0; s < 6; s++)
            for (int o = 0; o < 2; o++)
            {
                double z = p["head.bias"][o];
                for (int k = 0; k < 4; k++) z += p["head.weight"][o * 4 + k] * hLast[s * 4 + k];
                Assert.True(Math.Abs(z - y[s * 2 + o]) <= 1e-12, $"y[{s},{o}] {y[s * 2 + o]:R} vs loops {z:R}");
            }
    }

    /// <summary>A temporal input through a stepped LSTM whose cell input also reads the readout one step late (feedback
    /// edge), a stepped GRU and a relu RNN after it, and a whole-sequence peephole LSTM (backward in time) on a second input.</summary>
    internal static Network FileNet()
    {
        var net = new Network("rec", DType.Float64, 7);
        var x = net.Add(new InputLayer(3, sequenceLength: 4, name: "x"));
        var lstm = net.Add(new RecurrentCellLayer(new LSTM(3, inputWidth: 3 + 2), "lstm"));
        net.Connect(x, lstm);
        var o = net.Add(new Layer(2, "tanh", name: "out"));
        net.ConnectDense(lstm, o, name: "out");
        net.Connect(o, lstm, delay: 1);
        var gru = net.Add(new RecurrentCellLayer(new GRU(2), "gru"));
        net.Connect(o, gru);
        var rnn = net.Add(new RecurrentCellLayer(new RNN(3, "relu"), "rnn"));
        net.Connect(gru, rnn);
        net.AddOutput(rnn, OutputMode.AllSteps);
        var s = net.Add(new InputLayer([5, 2], name: "s"));
        var back = net.Add(new RecurrentCellLayer(new LSTM(2, goBackwards: true, peepholes: true), "back"));
        net.Connect(s, back);
        net.AddOutput(back, OutputMode.LastStep);
        return net;
    }

    [Fact]
    public void ConnectNetworkWithRnnGruLstmAndFeedback_SavesAndLoadsBitIdentically()
    {
        string dir = TestFiles.NewTempDir();
        try
        {
            var net = FileNet();
            var input = new[]
            {
                Tensor.Normal([4, 3, 3], 0, 1, new RandomGenerator(8), DType.Float64),
                Tensor.Normal([3, 5, 2], 0, 1, new RandomGenerator(9), DType.Float64),
            };
            var before = NetworkFileTests.Run(net, input);
            string path = Path.Combine(dir, "r.flexnet");
            net.Save(path);
            var loaded = Network.Load(path);
            Assert.Equal(net.Layers.Select(l => (l.Name, l.GetType())), loaded.Layers.Select(l => (l.Name, l.GetType())));
            Assert.Equal(net.Connections.Select(c => (c.GetType(), c.From.Name, c.To.Name, c.Delay)), loaded.Connections.Select(c => (c.GetType(), c.From.Name, c.To.Name, c.Delay)));
            Assert.Equal(net.StateDict().Keys.Order(), loaded.StateDict().Keys.Order());
            Assert.Contains("gru.weight_hh_l0", loaded.StateDict().Keys);
            Assert.Contains("back.ci", loaded.StateDict().Keys);
            var back = (RecurrentCellLayer)loaded.Layers.First(l => l.Name == "back");
            Assert.True(back.Cell is LSTM { Peepholes: true, GoBackwards: true, Units: 2 });
            Assert.True(((RecurrentCellLayer)loaded.Layers.First(l => l.Name == "rnn")).Cell is RNN { Activation: FlexNet.Layers.Recurrent.RecurrentActivation.Relu });
            NetworkFileTests.AssertBitIdentical(before, NetworkFileTests.Run(loaded, input), "loaded");

            string again = Path.Combine(dir, "s.flexnet");
            loaded.Save(again);
            Assert.Equal(File.ReadAllBytes(path), File.ReadAllBytes(again));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void SequentialLstmNetwork_SavesAsAConnectNetwork()
    {
        string dir = TestFiles.NewTempDir();
        try
        {
            var net = SequentialNet().Network;
            var input = Tensor.Normal([2, 5, 3], 0, 1, new RandomGenerator(5), DType.Float64);
            var before = NetworkFileTests.Run(net, [input]);
            string path = Path.Combine(dir, "q.flexnet");
            net.Save(path);
            NetworkFileTests.AssertBitIdentical(before, NetworkFileTests.Run(Network.Load(path), [input]), "loaded");
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void FunctionalSteppedGruModelsNetwork_SavesAndLoadsBitIdentically()
    {
        string dir = TestFiles.NewTempDir();
        try
        {
            var input = Functional.Input(2, sequence: true, name: "x");
            var model = new Model(input, new Dense(2, name: "head").Call(new GRU(3, name: "gru").Call(input)), "f", DType.Float64, 6);
            var xs = Tensor.Normal([4, 3, 2], 0, 1, new RandomGenerator(2), DType.Float64);
            var before = NetworkFileTests.Run(model.Network, [xs]);
            Assert.Contains(model.Network.Layers, l => l is RecurrentCellLayer { IsWholeSequence: false });
            string path = Path.Combine(dir, "g.flexnet");
            model.Network.Save(path);
            var loaded = Network.Load(path);
            NetworkFileTests.AssertBitIdentical(before, NetworkFileTests.Run(loaded, [xs]), "loaded");
            Assert.Equal(model.Network.NamedParameters.Select(p => p.Name), loaded.NamedParameters.Select(p => p.Name));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}
