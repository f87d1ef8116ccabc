using FlexNet.Autodiff;
using FlexNet.Connections;
using FlexNet.Graph;
using FlexNet.Layers;
using FlexNet.Specs;
using FlexNet.Tensors;
using static FlexNet.Onnx.Tests.Ort;
using Tensor = FlexNet.Tensors.Tensor;

namespace FlexNet.Onnx.Tests;

/// <summary>The standard pieces (Gemm, Conv, ConvTranspose, pooling, Flatten/Reshape, Concat, batch norm, dropout
/// removed, activations) against FlexNet's Forward: the example specs' MLP, CNN and BLT network, and a network that
/// gathers the rest.</summary>
public sealed class ConvExportTests
{
    private static Network Spec(string file) => TrainingSpec.Load(Path.Combine(RepoRoot(), "examples", "specs", file)).Network;

    private static readonly OnnxExportOptions Sequence = new() { Mode = OnnxExportMode.Sequence };
    private static readonly OnnxExportOptions Unrolled = new() { Mode = OnnxExportMode.Unrolled };

    /// <summary>Every form of a network with one non-temporal input: the step form driven Steps times (its last step
    /// compared with the last step of Forward), the sequence and unrolled forms in one call.</summary>
    private static void CheckAllForms(Network net, string input, int[] sample, int n, ulong seed)
    {
        int per = sample.Aggregate(1, (a, b) => a * b);
        int[] dims = [n, .. sample];
        var xs = RandomData(n * per, seed);
        var expected = Forward(net, null, Tensor.FromArray(xs, dims));
        int T = net.Steps;
        var stepped = RunSteps(net.ToOnnxBytes(), n, T, _ => [(input, xs, dims)]);
        var seq = Run(net.ToOnnxBytes(Sequence), (input, xs, dims));
        var flat = Run(net.ToOnnxBytes(Unrolled), (input, xs, dims));
        for (int o = 0; o < net.Outputs.Count; o++)
        {
            var (layer, mode) = net.Outputs[o];
            var all = expected[o].ToFloatArray();
            int last = mode == OutputMode.LastStep ? all.Length : all.Length / T;
            Close(Row(all, all.Length / last - 1, last), stepped[layer.Name][T - 1], $"{layer.Name}, step form at step {T - 1}");
            Close(expected[o], seq[layer.Name], $"{layer.Name}, sequence form");
            Close(expected[o], flat[layer.Name], $"{layer.Name}, unrolled form");
        }
    }

    [Fact]
    public void MlpSpec_MatchesForward() => CheckAllForms(Spec("mlp.yaml"), "x", [784], 4, 51);

    /// <summary>examples/specs/cnn.yaml: conv 3×3 same → max-pool 2 → conv → max-pool → flatten → dense.</summary>
    [Fact]
    public void CnnSpec_MatchesForward() => CheckAllForms(Spec("cnn.yaml"), "x", [1, 28, 28], 2, 52);

    /// <summary>examples/specs/blt.yaml: lateral conv2d edges (delay 1) on both conv layers, a stride-2 bottom-up conv
    /// and the top-down transposed conv l2(t−1) → l1; 3 steps, logits at the last.</summary>
    [Fact]
    public void BltSpec_LateralAndTopDownFeedback_MatchForwardAtEveryStep()
    {
        var net = Spec("blt.yaml");
        const int n = 2, T = 3;
        Assert.Equal(T, net.Steps);
        CheckAllForms(net, "x", [1, 28, 28], n, 53);
        var xs = RandomData(n * 784, 54);
        var stepped = RunSteps(net.ToOnnxBytes(), n, T, _ => [("x", xs, [n, 1, 28, 28])]);
        for (int t = 0; t < T; t++)
            Close(Forward(net, t + 1, Tensor.FromArray(xs, n, 1, 28, 28))[0].ToFloatArray(), stepped["logits"][t], $"logits after step {t}");
    }

    /// <summary>conv1d (same, stride 2: uneven padding) → avg-pool 1-d with padding (counted) → reshape; conv2d same
    /// stride 2 with an even kernel → max-pool with padding → global average pool; a transposed conv whose output padding
    /// differs per axis; batch norm with running statistics; dropout and Gaussian noise (identity in inference); a
    /// complement edge; concat and product combines; the activations elu, leaky-relu, softplus, softsign, log-softmax.</summary>
    [Fact]
    public void ConvPoolingNormAndActivations_MatchForward()
    {
        var net = new Network("pieces") { Steps = 2 };
        var seq = new InputLayer([2, 9], name: "seq");
        var img = new InputLayer([3, 3, 4], name: "img");
        var c1 = new Layer([4, 5], "elu", bias: true, name: "c1");
        var p1 = new PoolLayer(PoolKind.Average, dimensions: 1, size: 3, stride: 2, padding: 1, name: "p1");
        var r1 = new ReshapeLayer([12], name: "r1");
        var up = new Layer([2, 7, 8], "leaky-relu", name: "up");
        var c2 = new Layer([5, 4, 4], "softplus", name: "c2");
        var p2 = new PoolLayer(PoolKind.Max, size: 3, stride: 2, padding: 1, name: "p2");
        var g2 = PoolLayer.Global(PoolKind.Average, name: "g2");
        var gm = PoolLayer.Global(PoolKind.Max, name: "gm");
        var cat = new Layer(19, "softsign", CombineRule.Concat, name: "cat");
        var gate = new Layer(19, "sigmoid", CombineRule.Product, name: "gate");
        var y = new Layer(4, "log-softmax", name: "y");
        net.Connect(new Conv1dConnection(seq, c1, outChannels: 4, kernelSize: 3, stride: 2, padding: Padding.Same));
        net.Connect(c1, p1);
        net.Connect(p1, r1);
        net.ConnectConvTranspose2d(img, up, kernelSize: 2, stride: 2);
        net.ConnectConv2d(up, c2, kernelSize: 4, stride: 2, padding: Padding.Same);
        net.Connect(c2, p2);
        net.Connect(p2, g2);
        net.Connect(up, gm);
        net.ConnectIdentity(r1, cat);
        net.ConnectIdentity(g2, cat);
        net.ConnectIdentity(gm, cat);
        var bn = new BatchNorm(name: "bn").Attach(net, cat);
        var drop = new Dropout(0.5, name: "drop").Attach(net, bn);
        var noise = new GaussianNoise(0.3, name: "noise").Attach(net, drop);
        net.ConnectDense(noise, gate);
        net.Connect(new ComplementConnection(cat, gate));
        net.ConnectDense(gate, y);
        net.ConnectDense(y, gate, delay: 1); // feedback into the product layer
        net.AddOutput(y).AddOutput(p1, OutputMode.LastStep);
        Randomize(net, 55);
        var stats = net.Layers.First(l => l.Name == "bn");
        var owner = (BatchNormLayer)stats;
        using (Autograd.NoGrad())
        {
            owner.RunningMean!.CopyFrom(Tensor.Normal([19], 0, 0.5, new RandomGenerator(56)));
            owner.RunningVar!.CopyFrom(Tensor.Uniform([19], 0.5, 2, new RandomGenerator(57)));
        }
        Assert.Equal((1, 0), net.Connections.OfType<ConvTranspose2dConnection>().Single().OutputPadding);
        const int n = 3;
        var xs = RandomData(n * 18, 58);
        var ims = RandomData(n * 36, 59);
        var expected = Forward(net, null, Tensor.FromArray(xs, n, 2, 9), Tensor.FromArray(ims, n, 3, 3, 4));
        foreach (var options in new[] { Sequence, Unrolled })
        {
            var got = Run(net.ToOnnxBytes(options), ("seq", xs, [n, 2, 9]), ("img", ims, [n, 3, 3, 4]));
            Close(expected[0], got["y"], $"y, {options.Mode} form");
            Close(expected[1], got["p1"], $"p1, {options.Mode} form");
        }
    }

    /// <summary>examples/specs/autoencoder.yaml: the decoder uses the encoder's weight transposed (a tied connection).</summary>
    [Fact]
    public void TiedAutoencoderSpec_MatchesForward()
    {
        var net = Spec("autoencoder.yaml");
        Randomize(net, 81, std: 0.1);
        CheckAllForms(net, "x", [784], 2, 82);
    }

    /// <summary>A dense connection applied twice (shared: one weight) and a tied edge back, with feedback.</summary>
    [Fact]
    public void SharedAndTiedConnections_MatchForward()
    {
        var net = new Network("shared") { Steps = 3 };
        var a = new InputLayer(5, name: "a");
        var b = new InputLayer(5, name: "b");
        var ha = new Layer(4, "tanh", name: "ha");
        var hb = new Layer(4, "tanh", name: "hb");
        var back = new Layer(5, "sigmoid", bias: true, name: "back");
        var enc = net.ConnectDense(a, ha);
        net.Connect(new SharedConnection(enc, b, hb));
        net.ConnectTied(hb, back, enc);
        net.ConnectDense(back, ha, delay: 1);
        net.AddOutput(ha, OutputMode.LastStep).AddOutput(back);
        Randomize(net, 83);
        const int n = 2;
        var xa = RandomData(n * 5, 84);
        var xb = RandomData(n * 5, 85);
        var expected = Forward(net, null, Tensor.FromArray(xa, n, 5), Tensor.FromArray(xb, n, 5));
        var onnx = net.ToOnnxBytes(Sequence);
        var got = Run(onnx, ("a", xa, [n, 5]), ("b", xb, [n, 5]));
        Close(expected[0], got["ha"], "ha");
        Close(expected[1], got["back"], "back");
        using var session = new Microsoft.ML.OnnxRuntime.InferenceSession(onnx);
        Assert.Equal(["a", "b"], session.InputMetadata.Keys.Order(StringComparer.Ordinal));
    }
}
