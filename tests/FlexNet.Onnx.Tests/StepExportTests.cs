using FlexNet.Autodiff;
using FlexNet.Connections;
using FlexNet.Graph;
using FlexNet.Layers;
using FlexNet.Tensors;
using Tensor = FlexNet.Tensors.Tensor;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace FlexNet.Onnx.Tests;

/// <summary>Runs exported step models in ONNX Runtime, feeding each state output back as the next step's state input,
/// and compares every step's outputs with FlexNet's own unrolled Forward over the same steps.</summary>
public sealed class StepExportTests
{
    private const int T = 8, N = 3;
    private const double Rtol = 1e-4, Atol = 1e-5;

    /// <summary>Every parameter (weights and biases, which start at zero) set to N(0, 0.5²) so biases are exercised.</summary>
    private static void Randomize(Network net, ulong seed)
    {
        net.Build();
        var rng = new RandomGenerator(seed);
        using (Autograd.NoGrad())
            foreach (var p in net.Parameters) p.CopyFrom(Tensor.Normal(p.Shape.ToArray(), 0, 0.5, rng));
    }

    /// <summary>x → h (relu, bias) → g (tanh); gate = sigmoid(dense(g) ⊙ (h ⊙ w + b)) (product combine); y = softmax(dense(gate)).</summary>
    private static Network Mlp()
    {
        var net = new Network("mlp");
        var x = new InputLayer(4, name: "x");
        var h = new Layer(6, "relu", bias: true, name: "h");
        var g = new Layer(5, "tanh", name: "g");
        var gate = new Layer(6, "sigmoid", CombineRule.Product, name: "gate");
        var y = new Layer(3, "softmax", name: "y");
        net.Connect(x, h);
        net.Connect(h, g);
        net.Connect(g, gate);
        net.ConnectElementwise(h, gate, bias: true);
        net.Connect(gate, y);
        net.AddOutput(y);
        Randomize(net, 11);
        return net;
    }

    /// <summary>x → h1 (tanh) → h2 (sigmoid) → y, with h2(t−1) → h1 (dense), y(t−2) → h1 (dense, delay 2),
    /// h1(t−1) → h1 (elementwise) and x(t−3) → h2 (identity into a concat layer).</summary>
    private static Network Feedback()
    {
        var net = new Network("feedback");
        var x = new InputLayer(3, sequenceLength: T, name: "x");
        var h1 = new Layer(5, "tanh", bias: true, name: "h1");
        var h2 = new Layer(4, "sigmoid", name: "h2");
        var cat = new Layer(7, name: "cat", combine: CombineRule.Concat);
        var y = new Layer(2, name: "y");
        net.Connect(x, h1);
        net.Connect(h1, h2);
        net.ConnectDense(h2, h1, delay: 1);
        net.ConnectDense(y, h1, delay: 2);
        net.ConnectElementwise(h1, h1, delay: 1, bias: true);
        net.ConnectIdentity(h2, cat);
        net.ConnectIdentity(x, cat, delay: 3);
        net.Connect(cat, y);
        net.AddOutput(y).AddOutput(h2);
        Randomize(net, 12);
        return net;
    }

    private static float[] Data(int length, ulong seed)
    {
        var t = Tensor.Normal([length], 0, 1, new RandomGenerator(seed));
        return t.ToFloatArray();
    }

    /// <summary>Drives the step model for <paramref name="steps"/> steps; returns per output name the [steps][N·units] values.</summary>
    private static Dictionary<string, float[][]> RunSteps(byte[] model, string inputName, int features, float[] xs, int steps)
    {
        using var session = new InferenceSession(model);
        var state = new Dictionary<string, DenseTensor<float>>();
        foreach (var (name, meta) in session.InputMetadata)
            if (name.EndsWith(".state", StringComparison.Ordinal))
            {
                int k = meta.Dimensions[0], units = meta.Dimensions[2];
                Assert.Equal(-1, meta.Dimensions[1]); // the symbolic batch dimension
                state[name] = new DenseTensor<float>(new float[k * N * units], [k, N, units]);
            }
        var result = new Dictionary<string, float[][]>();
        for (int t = 0; t < steps; t++)
        {
            var feeds = new List<NamedOnnxValue>
            {
                NamedOnnxValue.CreateFromTensor(inputName, new DenseTensor<float>(xs.AsSpan(t * N * features, N * features).ToArray(), [N, features])),
            };
            foreach (var (name, value) in state) feeds.Add(NamedOnnxValue.CreateFromTensor(name, value));
            using var outputs = session.Run(feeds);
            foreach (var o in outputs)
            {
                var tensor = o.AsTensor<float>();
                var copy = new DenseTensor<float>(tensor.ToArray(), tensor.Dimensions.ToArray());
                if (o.Name.EndsWith(".state_next", StringComparison.Ordinal))
                    state[o.Name[..^".state_next".Length] + ".state"] = copy;
                else
                {
                    if (!result.TryGetValue(o.Name, out var perStep)) result[o.Name] = perStep = new float[steps][];
                    perStep[t] = copy.Buffer.ToArray();
                }
            }
        }
        return result;
    }

    private static void Close(float[] expected, float[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            double diff = Math.Abs(expected[i] - actual[i]);
            Assert.True(diff <= Atol + Rtol * Math.Abs(expected[i]), $"{what}[{i}]: FlexNet {expected[i]}, ONNX Runtime {actual[i]} (|diff| {diff})");
        }
    }

    [Fact]
    public void Mlp_OneStep_MatchesForward()
    {
        var net = Mlp();
        var xs = Data(N * 4, 5);
        var onnx = RunSteps(net.ToOnnxBytes(), "x", 4, xs, 1);
        Tensor expected;
        using (Autograd.NoGrad()) expected = net.Forward(Tensor.FromArray(xs, N, 4))[0];
        Assert.Equal(["y"], onnx.Keys);
        Close(expected.ToFloatArray(), onnx["y"][0], "y");
    }

    internal static Network FeedbackNetwork() => Feedback();

    internal static void CheckFeedback(Network net, byte[] model)
    {
        var xs = Data(T * N * 3, 6);
        var onnx = RunSteps(model, "x", 3, xs, T);
        Tensor[] expected;
        using (Autograd.NoGrad()) expected = net.Forward(Tensor.FromArray(xs, T, N, 3));
        Assert.Equal(2, onnx.Count);
        foreach (var (name, index) in new[] { ("y", 0), ("h2", 1) })
        {
            var all = expected[index].ToFloatArray();
            int per = all.Length / T;
            for (int t = 0; t < T; t++) Close(all.AsSpan(t * per, per).ToArray(), onnx[name][t], $"{name} at step {t}");
        }
    }

    [Fact]
    public void Feedback_EightSteps_MatchForwardAtEveryStep() => CheckFeedback(Feedback(), Feedback().ToOnnxBytes());

    [Theory]
    [InlineData(13)]
    [InlineData(17)]
    [InlineData(21)]
    public void Feedback_EverySupportedOpsetRuns(int opset) =>
        CheckFeedback(Feedback(), Feedback().ToOnnxBytes(new OnnxExportOptions { Opset = opset }));

    [Fact]
    public void StateBuffers_HoldTheLargestDelayOfEachSource()
    {
        using var session = new InferenceSession(Feedback().ToOnnxBytes());
        var dims = session.InputMetadata.Where(p => p.Key.EndsWith(".state", StringComparison.Ordinal))
            .ToDictionary(p => p.Key, p => string.Join(",", p.Value.Dimensions));
        Assert.Equal(new Dictionary<string, string> { ["h1.state"] = "1,-1,5", ["h2.state"] = "1,-1,4", ["y.state"] = "2,-1,2", ["x.state"] = "3,-1,3" }, dims);
        Assert.Equal(["h1.state_next", "h2.state_next", "x.state_next", "y.state_next", "h2", "y"],
            session.OutputMetadata.Keys.OrderBy(k => k.Contains(".state", StringComparison.Ordinal) ? 0 : 1).ThenBy(k => k, StringComparer.Ordinal));
    }

    [Fact]
    public void SavedAndReloadedNetwork_ExportsTheSameStepModel()
    {
        var net = Feedback();
        string dir = Path.Combine(Path.GetTempPath(), "flexnet-onnx-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            string model = Path.Combine(dir, "net.flexnet"), onnx = Path.Combine(dir, "net.onnx");
            net.Save(model);
            var again = Network.Load(model);
            again.ExportOnnx(onnx);
            CheckFeedback(net, File.ReadAllBytes(onnx));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void UnsupportedLayer_IsATypedErrorNamingIt()
    {
        var net = new Network("norm");
        var x = new InputLayer(6, name: "x");
        var norm = new LayerNorm(name: "norm").Attach(net, x);
        net.Connect(norm, new Layer(2, name: "out"));
        var e = Assert.Throws<OnnxExportException>(() => net.ToOnnxBytes());
        Assert.Contains("'norm'", e.Message);
        Assert.Contains("own code", e.Message);
    }

    [Fact]
    public void UnsupportedActivationAndOpset_AreTypedErrors()
    {
        Activations.Register("onnx-test-cube", t => t * t * t);
        var net = new Network("act");
        var x = new InputLayer(2, name: "x");
        var h = new Layer(2, "onnx-test-cube", name: "hidden");
        net.Connect(x, h);
        var e = Assert.Throws<OnnxExportException>(() => net.ToOnnxBytes());
        Assert.Contains("'hidden'", e.Message);
        Assert.Contains("'onnx-test-cube'", e.Message);
        h.Activation = "tanh";
        Assert.Contains("opset 12", Assert.Throws<OnnxExportException>(() => net.ToOnnxBytes(new OnnxExportOptions { Opset = 12 })).Message);
    }
}
