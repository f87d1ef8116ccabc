using FlexNet.Autodiff;
using FlexNet.Connections;
using FlexNet.Graph;
using FlexNet.Layers;
using FlexNet.Tensors;
using Microsoft.ML.OnnxRuntime;
using static FlexNet.Onnx.Tests.Ort;
using Tensor = FlexNet.Tensors.Tensor;

namespace FlexNet.Onnx.Tests;

/// <summary>What the first whole mutation run of the Onnx folder showed untested: every refusal with its whole message,
/// the value names a state needs, the documented names and shapes of inputs, outputs and initializers (read back by a
/// reader written here, or from ONNX Runtime's metadata), the graph's description of how to drive each form, and which
/// cell state is h and which is c.</summary>
public sealed class OnnxMutationGapTests20
{
    private static readonly OnnxExportOptions Seq = new() { Mode = OnnxExportMode.Sequence };
    private static readonly OnnxExportOptions Flat = new() { Mode = OnnxExportMode.Unrolled };

    /// <summary>The output-modes network of <see cref="SequenceExportTests"/> with parameters of its own.</summary>
    private static Network Modes()
    {
        var net = SequenceExportTests.OutputModesNetwork();
        Randomize(net, 201);
        return net;
    }

    private static string Refusal(Network net, OnnxExportOptions? options = null) =>
        Assert.Throws<OnnxExportException>(() => net.ToOnnxBytes(options)).Message;

    [Fact]
    public void EveryOptionRefusal_IsAWholeMessage()
    {
        var net = Modes();
        const string What = "ONNX export of network 'modes'";
        Assert.Equal($"{What}: opset 12 is outside the supported range 13..21.", Refusal(net, new OnnxExportOptions { Opset = 12 }));
        Assert.Equal($"{What}: opset 22 is outside the supported range 13..21.", Refusal(net, new OnnxExportOptions { Opset = 22 }));
        Assert.Equal($"{What}: Steps must be positive; got 0.", Refusal(net, new OnnxExportOptions { Mode = OnnxExportMode.Unrolled, Steps = 0 }));
        Assert.Equal($"{What}: Steps must be positive; got -2.", Refusal(net, new OnnxExportOptions { Mode = OnnxExportMode.Sequence, Steps = -2 }));
        Assert.Equal($"{What}: Steps = 3 does not apply to the step form (it computes one step).", Refusal(net, new OnnxExportOptions { Steps = 3 }));
        Assert.Equal($"{What} (Sequence form): Steps = 3 does not apply: T is read from the temporal input 'x' [T, N, ...] at run time.",
            Refusal(net, new OnnxExportOptions { Mode = OnnxExportMode.Sequence, Steps = 3 }));
        Assert.Equal("ONNX export of network 'no-time' (Unrolled form): the network has delayed connections but no temporal input and no Steps; " +
                     "set Steps on the network or in the options.", Refusal(SequenceExportTests.NoTimeNetwork(), Flat));
        Assert.Equal("ONNX export of network 'no-time' (Unrolled form): 10001 steps would write 10001 copies of the step; at most 10000 are " +
                     "unrolled. Use the sequence form (a Loop, any T).", Refusal(SequenceExportTests.NoTimeNetwork(), new OnnxExportOptions { Mode = OnnxExportMode.Unrolled, Steps = 10_001 }));

        Assert.Equal($"{What}: unknown mode 7.", Refusal(net, new OnnxExportOptions { Mode = (OnnxExportMode)7 }));
        var closed = new Network("closed") { Steps = 2 };
        var loop = new Layer(3, "tanh", name: "loop");
        closed.ConnectDense(loop, loop, delay: 1);
        Assert.Equal("ONNX export of network 'closed': the network has no input layer.", Refusal(closed));

        var wide = new Network("wide", DType.Float64);
        wide.Connect(new InputLayer(2, name: "a"), new Layer(2, "tanh", name: "h"));
        Assert.Equal("ONNX export of network 'wide': dtype Float64 is not supported; only float32 networks are exported.", Refusal(wide));
    }

    /// <summary>T = 10,000 is the most the unrolled form writes, and it writes them: one delay-1 product (Gemm) per step.</summary>
    [Fact]
    public void TheUnrolledForm_WritesExactlyMaxUnrolledSteps()
    {
        var model = OnnxProto.Read(SequenceExportTests.NoTimeNetwork().ToOnnxBytes(new OnnxExportOptions { Mode = OnnxExportMode.Unrolled, Steps = OnnxExport.MaxUnrolledSteps }));
        Assert.Equal(10_000, OnnxExport.MaxUnrolledSteps);
        Assert.Equal(2 * 10_000, model.Graph.Nodes.Count(n => n.Op == "Gemm")); // a -> h and h(t-1) -> h at every step
        Assert.Equal("FlexNet unrolled form: 10000 steps from zero state; outputs as Network.Forward.", model.Graph.Doc);
    }

    [Fact]
    public void NamesAStateNeeds_ThatALayerHas_AreRefusedByName()
    {
        static Network Clash(string other)
        {
            var net = new Network("clash");
            var x = new InputLayer(3, sequenceLength: 4, name: "x");
            var h = new Layer(3, "tanh", name: "h");
            var l = new LSTM(2, name: "l").Attach(net, x);
            net.Connect(x, h);
            net.ConnectDense(h, h, delay: 1);
            net.ConnectDense(l, new Layer(2, name: other));
            return net;
        }
        foreach (var name in new[] { "h.state", "h.state_next", "l.state_h", "l.state_h_next", "l.state_c", "l.state_c_next" })
            Assert.Equal($"ONNX export of network 'clash': the value name '{name}' is needed for a state but a layer already has that name; rename the layer.",
                Refusal(Clash(name)));
        // the second listing of an output takes its mode's suffix, which another output layer has
        var twice = new Network("twice");
        var a = new InputLayer(2, sequenceLength: 3, name: "a");
        var y = new Layer(2, "tanh", name: "y");
        var last = new Layer(2, name: "y.last_step");
        twice.Connect(a, y);
        twice.ConnectDense(y, last);
        twice.AddOutput(y).AddOutput(y, OutputMode.LastStep).AddOutput(last);
        Assert.Equal("ONNX export of network 'twice': the value name 'y.last_step' is needed for a state but a layer already has that name; rename the layer.",
            Refusal(twice, Seq));
    }

    /// <summary>Listed at the last step first and at every step second, a layer's every-step output is <c>name.all_steps</c>.</summary>
    [Fact]
    public void ALayerListedAgainAtEveryStep_IsNamedAllSteps()
    {
        var net = new Network("again");
        var x = new InputLayer(3, sequenceLength: 5, name: "x");
        var h = new Layer(4, "tanh", bias: true, name: "h");
        net.Connect(x, h);
        net.ConnectDense(h, h, delay: 1);
        net.AddOutput(h, OutputMode.LastStep).AddOutput(h);
        Randomize(net, 202);
        const int n = 2, T = 5;
        var xs = RandomData(T * n * 3, 203);
        var expected = Forward(net, null, Tensor.FromArray(xs, T, n, 3));
        foreach (var options in new[] { Seq, Flat })
        {
            var got = Run(net.ToOnnxBytes(options), ("x", xs, [T, n, 3]));
            Assert.Equal(["h", "h.all_steps"], got.Keys.Order(StringComparer.Ordinal));
            Close(expected[0], got["h"], $"h at the last step, {options.Mode} form");
            Close(expected[1], got["h.all_steps"], $"h at every step, {options.Mode} form");
        }
    }

    [Fact]
    public void EachForm_DescribesHowItIsDriven()
    {
        var net = Modes();
        string Doc(byte[] model)
        {
            using var session = new InferenceSession(model);
            return session.ModelMetadata.GraphDescription;
        }
        Assert.Equal("FlexNet step form: feed each 'X_next' output back as the 'X' input of the next step ('<layer>.state' buffers, " +
                     "'<layer>.state_h'/'.state_c' cell states); start from zeros.", Doc(net.ToOnnxBytes()));
        Assert.Equal("FlexNet sequence form: a Loop over the time steps from zero state; outputs as Network.Forward.", Doc(net.ToOnnxBytes(Seq)));
        Assert.Equal("FlexNet unrolled form: 8 steps from zero state; outputs as Network.Forward.", Doc(net.ToOnnxBytes(Flat)));
    }

    private static Dictionary<string, string> Shapes(IReadOnlyDictionary<string, NodeMetadata> meta) =>
        meta.ToDictionary(m => m.Key, m => "[" + string.Join(", ", m.Value.Dimensions.Select((d, i) =>
            d >= 0 ? d.ToString(System.Globalization.CultureInfo.InvariantCulture) : m.Value.SymbolicDimensions[i])) + "]");

    /// <summary>Batch N and time T are symbolic (named N and T) where the forms say so; T is fixed in the unrolled form;
    /// buffers are [K, N, ...], cell states [N, H].</summary>
    [Fact]
    public void InputsAndOutputs_HaveTheDocumentedShapes()
    {
        var net = Modes();
        var l = new LSTM(6, name: "l").Attach(net, net.Layers.First(x => x.Name == "x"));
        net.AddOutput(l, OutputMode.LastStep);
        using (var step = new InferenceSession(net.ToOnnxBytes()))
        {
            Assert.Equal(new Dictionary<string, string>
            {
                ["x"] = "[N, 3]", ["h1.state"] = "[2, N, 5]", ["h2.state"] = "[1, N, 4]", ["y.state"] = "[3, N, 2]",
                ["l.state_h"] = "[N, 6]", ["l.state_c"] = "[N, 6]",
            }, Shapes(step.InputMetadata));
            Assert.Equal(new Dictionary<string, string>
            {
                ["y"] = "[N, 2]", ["h2"] = "[N, 4]", ["l"] = "[N, 6]", ["h1.state_next"] = "[2, N, 5]", ["h2.state_next"] = "[1, N, 4]",
                ["y.state_next"] = "[3, N, 2]", ["l.state_h_next"] = "[N, 6]", ["l.state_c_next"] = "[N, 6]",
            }, Shapes(step.OutputMetadata));
        }
        var outputs = new Dictionary<string, string> { ["y"] = "[T, N, 2]", ["h2"] = "[N, 4]", ["y.last_step"] = "[N, 2]", ["l"] = "[N, 6]" };
        using (var seq = new InferenceSession(net.ToOnnxBytes(Seq)))
        {
            Assert.Equal(new Dictionary<string, string> { ["x"] = "[T, N, 3]" }, Shapes(seq.InputMetadata));
            Assert.Equal(outputs, Shapes(seq.OutputMetadata));
        }
        using var flat = new InferenceSession(net.ToOnnxBytes(Flat));
        Assert.Equal(new Dictionary<string, string> { ["x"] = "[8, N, 3]" }, Shapes(flat.InputMetadata));
        outputs["y"] = "[8, N, 2]";
        Assert.Equal(outputs, Shapes(flat.OutputMetadata));
    }

    /// <summary>One LSTM step from zeros in the step form: <c>l.state_h_next</c> is the layer's output h, and
    /// <c>l.state_c_next</c> the cell c with h = o ⊙ tanh(c) (0 &lt; o &lt; 1): same sign, |h| &lt; |tanh c|.</summary>
    [Fact]
    public void TheLstmStepForm_NamesHAndCForWhatTheyHold()
    {
        var net = new Network("lstm1");
        var x = new InputLayer(3, sequenceLength: 1, name: "x");
        var l = new LSTM(5, name: "l").Attach(net, x);
        net.AddOutput(l);
        Randomize(net, 204);
        const int n = 4;
        var xs = RandomData(n * 3, 205);
        var h = Forward(net, null, Tensor.FromArray(xs, 1, n, 3))[0].ToFloatArray();
        var got = Run(net.ToOnnxBytes(), ("x", xs, [n, 3]), ("l.state_h", new float[n * 5], [n, 5]), ("l.state_c", new float[n * 5], [n, 5]));
        Close(h, got["l"].Values, "l");
        Close(h, got["l.state_h_next"].Values, "l.state_h_next");
        var c = got["l.state_c_next"].Values;
        for (int i = 0; i < h.Length; i++)
        {
            Assert.True(Math.Sign(h[i]) == Math.Sign(c[i]), $"h[{i}] = {h[i]} and c[{i}] = {c[i]} differ in sign");
            Assert.True(Math.Abs(h[i]) < Math.Abs(Math.Tanh(c[i])), $"|h[{i}]| = {Math.Abs(h[i])} is not below |tanh c[{i}]| = {Math.Abs(Math.Tanh(c[i]))}");
        }
    }

    /// <summary>An image through a 'same' conv (bias) into a dense layer (flattened), a dense edge into a [2, 2] layer
    /// (reshaped), a tied edge from that [2, 2] layer (flattened, no bias) and one back into a [2, 2] layer (reshaped, bias),
    /// conv2d, conv1d ('same' and explicit padding) and transposed conv edges with and without bias, elementwise edges with and without bias, layer biases, batch
    /// norm, and a peephole LSTM, a GRU and a linear RNN stepped.</summary>
    private static Network Everything()
    {
        var net = new Network("everything") { Steps = 2 };
        var x = new InputLayer([1, 5, 5], name: "x");
        var c = new Layer([2, 5, 5], "relu", bias: true, name: "c");
        var h = new Layer(4, "tanh", bias: true, name: "h");
        var m = new Layer([2, 2], "sigmoid", name: "m");
        var back = new Layer(4, "tanh", name: "back");
        var sq = new Layer([2, 2], "tanh", bias: true, name: "sq");
        var k = new Layer(4, "tanh", name: "k");
        var g = new Layer(4, name: "g");
        net.ConnectConv2d(x, c, kernelSize: 3, padding: Padding.Same);
        net.ConnectDense(c, h);
        var hm = net.ConnectDense(h, m);
        var mk = net.ConnectDense(m, k);
        net.ConnectTied(m, back, hm, bias: false); // [2, 2] -> 4: x · W_h->m, x flattened
        // the same kinds of edge with and without bias: conv2d c -> c2 (none), conv1d m -> q (none, 'same') and q -> q2 (bias, padding 2),
        // convtranspose2d x -> up (none) and x -> up2 (bias), each reaching g
        var c2 = new Layer([2, 5, 5], "tanh", name: "c2");
        var q = new Layer([2, 2], "tanh", name: "q");
        var q2 = new Layer([3, 4], "tanh", name: "q2");
        var up = new Layer([1, 10, 10], name: "up");
        var up2 = new Layer([2, 10, 10], name: "up2");
        var pu = PoolLayer.Global(PoolKind.Max, name: "pu");
        var pu2 = PoolLayer.Global(PoolKind.Average, name: "pu2");
        net.ConnectConv2d(c, c2, kernelSize: 3, padding: Padding.Same, bias: false);
        net.ConnectDense(c2, g);
        net.Connect(new Conv1dConnection(m, q, outChannels: 2, kernelSize: 3, padding: Padding.Same, bias: false));
        net.Connect(new Conv1dConnection(q, q2, outChannels: 3, kernelSize: 3, padding: Padding.Explicit(2))); // [2, 2] -> [3, 4]
        net.ConnectElementwise(k, g);           // no bias
        net.ConnectDense(q2, g);
        net.ConnectConvTranspose2d(x, up, kernelSize: 2, stride: 2, bias: false);
        net.ConnectConvTranspose2d(x, up2, kernelSize: 2, stride: 2);
        net.Connect(up, pu);
        net.Connect(up2, pu2);
        net.ConnectDense(pu, g);
        net.ConnectDense(pu2, g, bias: false);
        net.ConnectTied(back, sq, mk);         // 4 -> [2, 2]: x · W_m->k, reshaped
        net.ConnectElementwise(back, g, bias: true);
        net.ConnectDense(k, g);
        net.ConnectDense(sq, g, delay: 1);
        var bn = new BatchNorm(name: "bn").Attach(net, g);
        var seqIn = new InputLayer(3, sequenceLength: 2, name: "s");
        var lstm = new LSTM(3, peepholes: true, name: "lstm").Attach(net, seqIn);
        var gru = new GRU(2, name: "gru").Attach(net, lstm);
        var rnn = new RNN(2, "linear", name: "rnn").Attach(net, gru);
        sq.LearnInitialState = true;            // sq.initial_state: what its delayed read sees before step 0
        net.AddOutput(bn).AddOutput(sq).AddOutput(rnn, OutputMode.LastStep);
        Randomize(net, 206, std: 0.3);
        return net;
    }

    /// <summary>docs/onnx.md: "the weights are initializers named after the parameters" — every parameter that the export
    /// writes as it is (not reordered into ONNX's gate blocks) is an initializer with its FlexNet name and values; the
    /// recurrent layers' reordered weights are <c>name.W</c>, <c>.R</c>, <c>.B</c> (and <c>.P</c>); and the model computes
    /// what Forward does (the flatten and reshape paths of dense and tied edges).</summary>
    [Fact]
    public void Initializers_AreNamedAfterTheParameters_AndTheModelMatchesForward()
    {
        var net = Everything();
        var model = OnnxProto.Read(net.ToOnnxBytes(Seq));
        var written = model.Graph.Initializers.ToDictionary(i => i.Name);
        var reordered = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, value) in net.NamedParameters)
        {
            if (name.StartsWith("lstm.", StringComparison.Ordinal) || name.StartsWith("gru.", StringComparison.Ordinal)) { reordered.Add(name); continue; }
            Assert.True(written.TryGetValue(name, out var init), $"parameter '{name}' is not an initializer; initializers: {string.Join(", ", written.Keys.Order())}");
            Assert.Equal(value.ToFloatArray(), init.Floats());
        }
        Assert.NotEmpty(reordered);
        var norm = (BatchNormLayer)net.Layers.First(l => l.Name == "bn");   // running statistics are buffers, not parameters
        Assert.Equal(norm.RunningMean!.ToFloatArray(), written["bn.running_mean"].Floats());
        Assert.Equal(norm.RunningVar!.ToFloatArray(), written["bn.running_var"].Floats());
        foreach (var layer in new[] { "lstm", "gru" })
            foreach (var part in new[] { "W", "R", "B" }) Assert.Contains($"{layer}.{part}", written.Keys);
        Assert.Contains("lstm.P", written.Keys);
        Assert.DoesNotContain("gru.P", written.Keys);
        Assert.Equal([1, 12, 3], written["lstm.W"].Dims); // [directions, 4 gates x H, inputs]
        Assert.Equal([1, 9], written["lstm.P"].Dims);     // [directions, 3 x H]

        const int n = 3, T = 2;
        var xs = RandomData(n * 25, 207);
        var ss = RandomData(T * n * 3, 208);
        var expected = Forward(net, null, Tensor.FromArray(xs, n, 1, 5, 5), Tensor.FromArray(ss, T, n, 3));
        foreach (var options in new[] { Seq, Flat })
        {
            var got = Run(net.ToOnnxBytes(options), ("x", xs, [n, 1, 5, 5]), ("s", ss, [T, n, 3]));
            Close(expected[0], got["bn"], $"bn, {options.Mode} form");
            Close(expected[1], got["sq"], $"sq, {options.Mode} form");
            Close(expected[2], got["rnn"], $"rnn, {options.Mode} form");
        }
    }

    /// <summary>A layer listed twice in the same mode is one graph output (Forward returns it twice).</summary>
    [Fact]
    public void AnOutputListedTwiceInOneMode_IsOneGraphOutput()
    {
        var net = new Network("dup");
        var x = new InputLayer(3, sequenceLength: 4, name: "x");
        var y = new Layer(2, "tanh", name: "y");
        net.Connect(x, y);
        net.ConnectDense(y, y, delay: 1);
        net.AddOutput(y).AddOutput(y);
        Randomize(net, 209);
        const int n = 2, T = 4;
        var xs = RandomData(T * n * 3, 210);
        var expected = Forward(net, null, Tensor.FromArray(xs, T, n, 3));
        Assert.Equal(2, expected.Length);
        foreach (var options in new[] { Seq, Flat })
        {
            var got = Run(net.ToOnnxBytes(options), ("x", xs, [T, n, 3]));
            Assert.Equal(["y"], got.Keys);
            Close(expected[1], got["y"], $"y, {options.Mode} form");
        }
    }

    /// <summary>The sequence form's Loop body declares its inputs and outputs as the outer graph does: the iteration and
    /// condition scalars, the buffers [K, N, ...], the cell states [N, H], the last-step outputs [N, ...] carried along,
    /// and every-step rows [N, ...].</summary>
    [Fact]
    public void TheLoopBody_DeclaresTheDocumentedShapes()
    {
        var net = Modes();
        var l = new LSTM(6, name: "l").Attach(net, net.Layers.First(x => x.Name == "x"));
        net.AddOutput(l, OutputMode.LastStep);
        var graph = OnnxProto.Read(net.ToOnnxBytes(Seq)).Graph;
        var loop = graph.Nodes.Single(n => n.Op == "Loop");
        var body = loop.Attr("body").Body!;
        Assert.Equal(["[]", "[]", "[2, N, 5]", "[1, N, 4]", "[3, N, 2]", "[N, 6]", "[N, 6]", "[N, 4]", "[N, 2]", "[N, 6]"],
            body.Inputs.Select(v => v.Shape));
        Assert.Equal(["[]", "[2, N, 5]", "[1, N, 4]", "[3, N, 2]", "[N, 6]", "[N, 6]", "[N, 4]", "[N, 2]", "[N, 6]", "[N, 2]"],
            body.Outputs.Select(v => v.Shape));
        Assert.Equal(["T", ""], loop.Inputs.Take(2));
        Assert.Equal(["[T, N, 3]"], graph.Inputs.Select(v => v.Shape));
        Assert.Equal(["y [T, N, 2]", "h2 [N, 4]", "y.last_step [N, 2]", "l [N, 6]"], graph.Outputs.Select(v => $"{v.Name} {v.Shape}"));
    }

    /// <summary>A connection a user wrote (y = 2x), which the export cannot see into.</summary>
    private sealed class Doubling(Layer from, Layer to) : Connection(from, to)
    {
        public override string Kind => "doubling";

        protected override int[] Build(ConnectionBuildContext context) => context.SourceShape;

        public override Tensor Contribute(Tensor source) => source * 2.0;
    }

    [Fact]
    public void WhatHasNoExactOnnxForm_IsRefusedWithTheLayerOrConnection()
    {
        var user = new Network("user");
        var x = new InputLayer(3, name: "x");
        var h = new Layer(3, "tanh", name: "h");
        user.Connect(new Doubling(x, h));
        Assert.Equal("ONNX export of network 'user': connection 'x->h' (x -> h) of kind doubling (Doubling) is not supported; dense, identity, " +
                     "elementwise, complement, conv1d, conv2d, convtranspose2d, tied (to a dense connection) and shared connections are.", Refusal(user));

        // an LSTM's data edge shared into a second LSTM: the recurrent layers' data edges are not shared
        var shared = new Network("sh");
        var s = new InputLayer(3, sequenceLength: 2, name: "x");
        var l = new LSTM(2, name: "l").Attach(shared, s);
        var l2 = new LSTM(2, name: "l2", inputWidth: 6).Attach(shared, s);
        shared.Connect(new SharedConnection(shared.Connections.First(c => c.To == l), s, l2));
        Assert.Equal("ONNX export of network 'sh': connection 'x->l2#2' (x -> l2) of kind shared(x->l) (SharedConnection) is not supported; dense, " +
                     "identity, elementwise, complement, conv1d, conv2d, convtranspose2d, tied (to a dense connection) and shared connections are.", Refusal(shared));

        var model = new FlexNet.Models.Sequential("lin", DType.Float32, 3, new RNN(5, "linear", name: "rec"), new Flatten(), new Dense(3)) { InputShape = [6, 4] };
        Assert.Equal("ONNX export of network 'lin': layer 'rec' of kind RNN(seq) (RecurrentCellLayer) is a linear RNN over a whole [T, F] sequence; " +
                     "ONNX RNN has no linear activation (the stepped mode is exported as its equation).", Refusal(model.Network));
    }
}
