using FlexNet.Connections;
using FlexNet.Graph;
using FlexNet.Layers;
using FlexNet.Specs;
using FlexNet.Tensors;
using static FlexNet.Onnx.Tests.Ort;

namespace FlexNet.Onnx.Tests;

/// <summary>The RNN, GRU and LSTM layers (torch semantics) as ONNX RNN/GRU/LSTM ops, against FlexNet's Forward.</summary>
public sealed class RecurrentExportTests
{
    /// <summary>Step form driven T steps (cell states fed back), sequence and unrolled forms in one call.</summary>
    private static void CheckAllForms(Network net, string input, int features, int T, int n, ulong seed)
    {
        var xs = RandomData(T * n * features, seed);
        var expected = Forward(net, null, Tensor.FromArray(xs, T, n, features));
        var stepped = RunSteps(net.ToOnnxBytes(), n, T, t => [(input, Row(xs, t, n * features), [n, features])]);
        var seq = Run(net.ToOnnxBytes(new OnnxExportOptions { Mode = OnnxExportMode.Sequence }), (input, xs, [T, n, features]));
        var flat = Run(net.ToOnnxBytes(new OnnxExportOptions { Mode = OnnxExportMode.Unrolled, Steps = T }), (input, xs, [T, n, features]));
        for (int o = 0; o < net.Outputs.Count; o++)
        {
            var (layer, mode) = net.Outputs[o];
            var all = expected[o].ToFloatArray();
            if (mode == OutputMode.AllSteps)
                for (int t = 0; t < T; t++) Close(Row(all, t, all.Length / T), stepped[layer.Name][t], $"{layer.Name}, step form at step {t}");
            else Close(all, stepped[layer.Name][T - 1], $"{layer.Name}, step form at the last step");
            Close(expected[o], seq[layer.Name], $"{layer.Name}, sequence form");
            Close(expected[o], flat[layer.Name], $"{layer.Name}, unrolled form");
        }
    }

    /// <summary>examples/specs/lstm.yaml: an LSTM (128 units) reading 28 rows of 28 pixels, logits at the last step.</summary>
    [Fact]
    public void RowLstmSpec_MatchesForward()
    {
        var net = TrainingSpec.Load(Path.Combine(RepoRoot(), "examples", "specs", "lstm.yaml")).Network;
        Randomize(net, 61, std: 0.2);
        CheckAllForms(net, "rows", 28, 28, 2, 62);
        using var session = new Microsoft.ML.OnnxRuntime.InferenceSession(net.ToOnnxBytes());
        Assert.Equal(["lstm.state_c", "lstm.state_h", "rows"], session.InputMetadata.Keys.Order(StringComparer.Ordinal));
    }

    /// <summary>A GRU fed by the input and, one step late, by a later layer's output (feedback concatenated to the cell
    /// input); every-step outputs of the GRU and the readout.</summary>
    [Fact]
    public void GruWithFeedback_MatchesForwardAtEveryStep()
    {
        var net = new Network("gru");
        var x = new InputLayer(5, sequenceLength: 6, name: "x");
        var gru = new GRU(7, name: "gru", inputWidth: 8).Attach(net, x);
        var y = new Layer(3, "tanh", bias: true, name: "y");
        net.ConnectDense(gru, y);
        net.ConnectIdentity(y, gru, delay: 1);
        net.AddOutput(y).AddOutput(gru);
        Randomize(net, 63);
        CheckAllForms(net, "x", 5, 6, 3, 64);
    }

    /// <summary>Elman RNNs with tanh, relu and sigmoid (ONNX RNN) and linear (its equation), and an LSTM with peepholes
    /// (ONNX LSTM's P input, order i o f), chained.</summary>
    [Fact]
    public void RnnActivationsAndPeepholeLstm_MatchForward()
    {
        var net = new Network("rnns");
        var x = new InputLayer(4, sequenceLength: 5, name: "x");
        Layer h = x;
        foreach (var act in new[] { "tanh", "relu", "sigmoid", "linear" }) h = new RNN(5, act, name: "rnn_" + act).Attach(net, h);
        var lstm = new LSTM(6, peepholes: true, name: "peep").Attach(net, h);
        var y = new Layer(2, name: "y");
        net.ConnectDense(lstm, y);
        net.AddOutput(y).AddOutput(h, OutputMode.LastStep);
        Randomize(net, 65);
        CheckAllForms(net, "x", 4, 5, 2, 66);
    }

    /// <summary>The network of docs/onnx.md: a BLT-style conv pair with lateral and top-down feedback, global pooling and
    /// an LSTM readout (stepped, in a network without temporal input), 3 steps.</summary>
    [Theory]
    [InlineData(13)]
    [InlineData(17)]
    [InlineData(21)]
    public void ConvFeedbackWithLstmReadout_OfTheDocs_MatchesForward(int opset)
    {
        var net = new Network("blt-lstm") { Steps = 3 };
        var x = new InputLayer([1, 12, 12], name: "x");
        var l1 = new Layer([4, 12, 12], "relu", name: "l1");
        var l2 = new Layer([8, 6, 6], "relu", name: "l2");
        var pool = PoolLayer.Global(PoolKind.Average, name: "pool");
        net.ConnectConv2d(x, l1, kernelSize: 3, padding: FlexNet.Autodiff.Padding.Same);
        net.ConnectConv2d(l1, l1, kernelSize: 3, padding: FlexNet.Autodiff.Padding.Same, delay: 1);
        net.ConnectConv2d(l1, l2, kernelSize: 3, stride: 2, padding: 1);
        net.ConnectConvTranspose2d(l2, l1, kernelSize: 2, stride: 2, delay: 1);
        net.Connect(l2, pool);
        var lstm = new LSTM(6, name: "lstm").Attach(net, pool);
        var y = new Layer(3, name: "y");
        net.ConnectDense(lstm, y);
        net.AddOutput(y, OutputMode.LastStep).AddOutput(lstm);
        Randomize(net, 67, std: 0.3);
        const int n = 2;
        var xs = RandomData(n * 144, 68);
        var expected = Forward(net, null, Tensor.FromArray(xs, n, 1, 12, 12));
        var stepped = RunSteps(net.ToOnnxBytes(new OnnxExportOptions { Opset = opset }), n, 3, _ => [("x", xs, [n, 1, 12, 12])]);
        Close(expected[0].ToFloatArray(), stepped["y"][2], "y, step form");
        for (int t = 0; t < 3; t++) Close(Row(expected[1].ToFloatArray(), t, n * 6), stepped["lstm"][t], $"lstm, step form at step {t}");
        foreach (var mode in new[] { OnnxExportMode.Sequence, OnnxExportMode.Unrolled })
        {
            var got = Run(net.ToOnnxBytes(new OnnxExportOptions { Mode = mode, Opset = opset }), ("x", xs, [n, 1, 12, 12]));
            Close(expected[0], got["y"], $"y, {mode} form");
            Close(expected[1], got["lstm"], $"lstm, {mode} form");
        }
    }

    /// <summary>Recurrent layers reading a whole [T, F] sequence per sample (Sequential models, batch-first [N, T, F]): a
    /// bidirectional GRU (every step), a backward relu RNN (last processed step), a peephole LSTM (last step) and a
    /// forward LSTM (every step), each as one ONNX op over the T steps, in every form.</summary>
    [Theory]
    [InlineData("bigru")]
    [InlineData("backward-rnn")]
    [InlineData("peephole-lstm")]
    [InlineData("lstm")]
    public void WholeSequenceRecurrentLayers_MatchForward(string kind)
    {
        CatalogLayer layer = kind switch
        {
            "bigru" => new BidirectionalLayer(new GRU(5, returnSequences: true), name: "rec"),
            "backward-rnn" => new RNN(5, "relu", returnSequences: false, goBackwards: true, name: "rec"),
            "peephole-lstm" => new LSTM(5, returnSequences: false, peepholes: true, name: "rec"),
            _ => new LSTM(5, returnSequences: true, name: "rec"),
        };
        var model = new FlexNet.Models.Sequential("whole-" + kind, DType.Float32, 3, layer, new Flatten(), new Dense(3, "tanh")) { InputShape = [6, 4] };
        var net = model.Network;
        Randomize(net, 69);
        const int n = 3;
        var xs = RandomData(n * 24, 70);
        var expected = Forward(net, null, Tensor.FromArray(xs, n, 6, 4))[0];
        string input = net.Inputs[0].Name, output = net.Outputs[0].Layer.Name;
        foreach (var mode in new[] { OnnxExportMode.Step, OnnxExportMode.Sequence, OnnxExportMode.Unrolled })
        {
            var got = Run(net.ToOnnxBytes(new OnnxExportOptions { Mode = mode }), (input, xs, [n, 6, 4]))[output];
            Close(expected.ToFloatArray(), got.Values, $"{kind}, {mode} form");
        }
    }

    [Fact]
    public void InitialStateInputAndOtherCells_AreTypedErrors()
    {
        var net = new Network("init");
        var x = new InputLayer(4, sequenceLength: 3, name: "x");
        var h0 = new Layer(3, name: "h0");
        net.Connect(x, h0);
        net.AddOutput(new LSTM(3, name: "seeded").Attach(net, [x, h0]));
        var e = Assert.Throws<OnnxExportException>(() => net.ToOnnxBytes());
        Assert.Contains("'seeded'", e.Message);
        Assert.Contains("initial state", e.Message);

        var other = new Network("mrnn");
        var t = new InputLayer(4, sequenceLength: 3, name: "x");
        other.AddOutput(new MRNN(3, name: "mult").Attach(other, t));
        e = Assert.Throws<OnnxExportException>(() => other.ToOnnxBytes());
        Assert.Contains("'mult'", e.Message);
        Assert.Contains("MrnnCell", e.Message);
    }
}
