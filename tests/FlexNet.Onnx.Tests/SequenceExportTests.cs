using FlexNet.Connections;
using FlexNet.Examples;
using FlexNet.Graph;
using FlexNet.Specs;
using FlexNet.Tensors;
using static FlexNet.Onnx.Tests.Ort;

namespace FlexNet.Onnx.Tests;

/// <summary>The three forms of recurrent and feedback networks against FlexNet's own Forward: the step form driven by
/// a C# loop, the sequence form (Loop, T symbolic) in one call, the unrolled form for a fixed T.</summary>
public sealed class SequenceExportTests
{
    private static readonly OnnxExportOptions Seq = new() { Mode = OnnxExportMode.Sequence };

    /// <summary>examples/specs/feedback.yaml: 784-256-256-128 relu with h3(t−1) → h1, 8 steps of one image, logits at the
    /// last step. Step form: after step t the logits equal Forward run for t + 1 steps; sequence and unrolled: one call.</summary>
    [Fact]
    public void FeedbackSpec_StepFormEightSteps_SequenceAndUnrolledInOneCall_MatchForward()
    {
        var net = TrainingSpec.Load(Path.Combine(RepoRoot(), "examples", "specs", "feedback.yaml")).Network;
        const int n = 3, T = 8;
        Assert.Equal(T, net.Steps);
        var xs = RandomData(n * 784, 31);
        var x = Tensor.FromArray(xs, n, 784);

        var stepped = RunSteps(net.ToOnnxBytes(), n, T, _ => [("x", xs, [n, 784])]);
        for (int t = 0; t < T; t++) Close(Forward(net, t + 1, x)[0].ToFloatArray(), stepped["logits"][t], $"logits after step {t}");

        var expected = Forward(net, null, x)[0];
        Assert.Equal([n, 10], expected.Shape.ToArray());
        Close(expected, Run(net.ToOnnxBytes(Seq), ("x", xs, [n, 784]))["logits"], "sequence form logits");
        Close(expected, Run(net.ToOnnxBytes(new OnnxExportOptions { Mode = OnnxExportMode.Unrolled }), ("x", xs, [n, 784]))["logits"], "unrolled logits");
        // T of a network without temporal input is the option (else the network's Steps)
        var five = net.ToOnnxBytes(new OnnxExportOptions { Mode = OnnxExportMode.Sequence, Steps = 5 });
        Close(Forward(net, 5, x)[0], Run(five, ("x", xs, [n, 784]))["logits"], "sequence form, 5 steps");
    }

    private static void CheckSeedDemo(Network net, string input, string output, int features)
    {
        const int n = 2, T = 4;
        var xs = RandomData(T * n * features, 32);
        var x = Tensor.FromArray(xs, T, n, features);
        var expected = Forward(net, null, x)[0];
        Assert.Equal([n, 10], expected.Shape.ToArray());
        var stepped = RunSteps(net.ToOnnxBytes(), n, T, t => [(input, Row(xs, t, n * features), [n, features])]);
        Close(expected.ToFloatArray(), stepped[output][T - 1], "step form at the last step");
        Close(expected, Run(net.ToOnnxBytes(Seq), (input, xs, [T, n, features]))[output], "sequence form");
        Close(expected, Run(net.ToOnnxBytes(new OnnxExportOptions { Mode = OnnxExportMode.Unrolled }), (input, xs, [T, n, features]))[output], "unrolled form");
    }

    /// <summary>The seed's Demo network (examples/SeedNetwork): 196-300-150-50-200-10 sigmoid, two parallel L2→L3 edges,
    /// L6(t−2) → L2, L4 at the last of 4 steps.</summary>
    [Fact]
    public void SeedDemoNetwork_WithDelayTwoFeedback_MatchesForwardInEveryForm() => CheckSeedDemo(SeedNetwork.Build(3), "L1", "L4", 196);

    /// <summary>examples/specs/seed_demo.yaml: the README's first example (h2(t−2) → h1).</summary>
    [Fact]
    public void SeedDemoSpec_MatchesForwardInEveryForm() =>
        CheckSeedDemo(TrainingSpec.Load(Path.Combine(RepoRoot(), "examples", "specs", "seed_demo.yaml")).Network, "x", "y", 196);

    /// <summary>a → h (tanh) with h(t−1) → h, and no temporal input (T is the options' or the network's Steps).</summary>
    internal static Network NoTimeNetwork()
    {
        var net = new Network("no-time");
        var a = new InputLayer(2, name: "a");
        var h = new Layer(2, "tanh", name: "h");
        net.Connect(a, h);
        net.ConnectDense(h, h, delay: 1);
        return net;
    }

    /// <summary>x(T = 8) → h1 (tanh, bias) → h2 (sigmoid) → y, with h2(t−1) → h1, y(t−3) → h1 and h1(t−2) → h1
    /// (elementwise, bias); outputs y (every step), h2 (last step), y again (last step). Parameters as built.</summary>
    internal static Network OutputModesNetwork()
    {
        var net = new Network("modes");
        var x = new InputLayer(3, sequenceLength: 8, name: "x");
        var h1 = new Layer(5, "tanh", bias: true, name: "h1");
        var h2 = new Layer(4, "sigmoid", name: "h2");
        var y = new Layer(2, name: "y");
        net.Connect(x, h1);
        net.Connect(h1, h2);
        net.Connect(h2, y);
        net.ConnectDense(h2, h1, delay: 1);
        net.ConnectDense(y, h1, delay: 3);
        net.ConnectElementwise(h1, h1, delay: 2, bias: true);
        net.AddOutput(y).AddOutput(h2, OutputMode.LastStep).AddOutput(y, OutputMode.LastStep);
        return net;
    }

    /// <summary>The feedback network of the step tests with outputs y (every step), h2 (last step) and y again (last
    /// step, named y.last_step): the sequence form at T = 8 and T = 5 from the same file (T symbolic), the unrolled form at T = 8.</summary>
    [Fact]
    public void OutputModes_EveryStepAndLastStep_AreRespected()
    {
        var net = OutputModesNetwork();
        Randomize(net, 33);
        const int n = 3;
        var seq = net.ToOnnxBytes(Seq);
        foreach (int T in new[] { 8, 5 })
        {
            var xs = RandomData(T * n * 3, 34);
            var expected = Forward(net, null, Tensor.FromArray(xs, T, n, 3));
            var got = Run(seq, ("x", xs, [T, n, 3]));
            Assert.Equal(["h2", "y", "y.last_step"], got.Keys.Order(StringComparer.Ordinal));
            Close(expected[0], got["y"], $"y, every step, T = {T}");
            Close(expected[1], got["h2"], $"h2, last step, T = {T}");
            Close(expected[2], got["y.last_step"], $"y, last step, T = {T}");
            if (T != 8) continue;
            var unrolled = Run(net.ToOnnxBytes(new OnnxExportOptions { Mode = OnnxExportMode.Unrolled }), ("x", xs, [T, n, 3]));
            Close(expected[0], unrolled["y"], "unrolled y");
            Close(expected[1], unrolled["h2"], "unrolled h2");
            Close(expected[2], unrolled["y.last_step"], "unrolled y.last_step");
        }
    }

    [Fact]
    public void FeedbackOfTheStepTests_SequenceFormMatchesForwardAtEveryStep()
    {
        var net = StepExportTests.FeedbackNetwork();
        const int n = 3, T = 8;
        var xs = RandomData(T * n * 3, 35);
        var expected = Forward(net, null, Tensor.FromArray(xs, T, n, 3));
        foreach (int opset in new[] { 13, 17, 21 })
        {
            var got = Run(net.ToOnnxBytes(new OnnxExportOptions { Mode = OnnxExportMode.Sequence, Opset = opset }), ("x", xs, [T, n, 3]));
            Close(expected[0], got["y"], $"y at opset {opset}");
            Close(expected[1], got["h2"], $"h2 at opset {opset}");
        }
    }

    [Fact]
    public void StepsOption_OutsideItsForms_IsATypedError()
    {
        var net = StepExportTests.FeedbackNetwork();
        Assert.Contains("step form", Assert.Throws<OnnxExportException>(() => net.ToOnnxBytes(new OnnxExportOptions { Steps = 3 })).Message);
        Assert.Contains("temporal input 'x'", Assert.Throws<OnnxExportException>(() =>
            net.ToOnnxBytes(new OnnxExportOptions { Mode = OnnxExportMode.Sequence, Steps = 3 })).Message);
        var loop = NoTimeNetwork();
        Assert.Contains("no temporal input and no Steps", Assert.Throws<OnnxExportException>(() =>
            loop.ToOnnxBytes(new OnnxExportOptions { Mode = OnnxExportMode.Unrolled })).Message);
        Assert.Contains("at most 10000", Assert.Throws<OnnxExportException>(() =>
            loop.ToOnnxBytes(new OnnxExportOptions { Mode = OnnxExportMode.Unrolled, Steps = 10_001 })).Message);
        Assert.Contains("Steps must be positive", Assert.Throws<OnnxExportException>(() =>
            loop.ToOnnxBytes(new OnnxExportOptions { Mode = OnnxExportMode.Sequence, Steps = 0 })).Message);
    }
}
