using FlexNet.Autodiff;
using FlexNet.Connections;
using FlexNet.Graph;
using FlexNet.Tensors;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Tensor = FlexNet.Tensors.Tensor;

namespace FlexNet.Onnx.Tests;

/// <summary>More shapes of the step form: a non-temporal input presented at every step, and refusals.</summary>
public sealed class MoreStepTests
{
    /// <summary>x (non-temporal) → h (relu, bias) with h(t−1) → h (dense) and x → y, h → y; Steps = 5. Each step of the
    /// ONNX model gets the same x; its y must equal Forward's y at every step, and y.state must not exist.</summary>
    [Fact]
    public void NonTemporalInput_WithSteps_MatchesForwardAtEveryStep()
    {
        const int steps = 5, n = 2;
        var net = new Network("constant-input") { Steps = steps };
        var x = new InputLayer(3, name: "x");
        var h = new Layer(4, "relu", bias: true, name: "h");
        var y = new Layer(2, "sigmoid", name: "y");
        net.Connect(x, h);
        net.ConnectDense(h, h, delay: 1);
        net.Connect(h, y);
        net.Connect(x, y);
        net.AddOutput(y);
        net.Build();
        var rng = new RandomGenerator(21);
        using (Autograd.NoGrad())
            foreach (var p in net.Parameters) p.CopyFrom(Tensor.Normal(p.Shape.ToArray(), 0, 0.7, rng));
        var xs = Tensor.Normal([n, 3], 0, 1, new RandomGenerator(22)).ToFloatArray();
        float[] expected;
        using (Autograd.NoGrad()) expected = net.Forward(Tensor.FromArray(xs, n, 3))[0].ToFloatArray();
        Assert.Equal(steps * n * 2, expected.Length);

        using var session = new InferenceSession(net.ToOnnxBytes());
        Assert.Equal(["h.state", "x"], session.InputMetadata.Keys.Order(StringComparer.Ordinal));
        var state = new DenseTensor<float>(new float[n * 4], [1, n, 4]);
        for (int t = 0; t < steps; t++)
        {
            using var outs = session.Run([
                NamedOnnxValue.CreateFromTensor("x", new DenseTensor<float>((float[])xs.Clone(), [n, 3])),
                NamedOnnxValue.CreateFromTensor("h.state", state)]);
            var got = outs.First(o => o.Name == "y").AsTensor<float>().ToArray();
            var next = outs.First(o => o.Name == "h.state_next").AsTensor<float>();
            state = new DenseTensor<float>(next.ToArray(), [1, n, 4]);
            for (int i = 0; i < got.Length; i++)
            {
                float e = expected[t * n * 2 + i];
                Assert.True(Math.Abs(e - got[i]) <= 1e-5 + 1e-4 * Math.Abs(e), $"y at step {t}[{i}]: FlexNet {e}, ONNX Runtime {got[i]}");
            }
        }
    }

    [Fact]
    public void InputLayerAsOutput_Float64AndLearnedInitialState_AreTypedErrors()
    {
        var net = new Network("in-out");
        var x = new InputLayer(2, name: "x");
        net.Connect(x, new Layer(2, name: "y"));
        net.AddOutput(x);
        Assert.Contains("output 'x'", Assert.Throws<OnnxExportException>(() => net.ToOnnxBytes()).Message);

        var wide = new Network("wide", DType.Float64);
        wide.Connect(new InputLayer(2, name: "x"), new Layer(2, name: "y"));
        Assert.Contains("Float64", Assert.Throws<OnnxExportException>(() => wide.ToOnnxBytes()).Message);

        var learned = new Network("learned");
        var lx = new InputLayer(2, sequenceLength: 3, name: "x");
        var lh = new Layer(2, "tanh", name: "h") { LearnInitialState = true };
        learned.Connect(lx, lh);
        learned.ConnectDense(lh, lh, delay: 1);
        Assert.Contains("'h' learns its initial state", Assert.Throws<OnnxExportException>(() => learned.ToOnnxBytes()).Message);
    }

    /// <summary>A learned initial state (what a delayed read sees before step 0) in the sequence and unrolled forms:
    /// h(t−1) and h(t−2) feed h, y(t−1) feeds h; h and y learn their initial states.</summary>
    [Fact]
    public void LearnedInitialState_InSequenceAndUnrolledForms_MatchesForward()
    {
        const int T = 4, n = 2;
        var net = new Network("learned");
        var x = new InputLayer(3, sequenceLength: T, name: "x");
        var h = new Layer(4, "tanh", name: "h") { LearnInitialState = true };
        var y = new Layer(2, name: "y") { LearnInitialState = true };
        net.Connect(x, h);
        net.ConnectDense(h, h, delay: 1);
        net.ConnectElementwise(h, h, delay: 2);
        net.Connect(h, y);
        net.ConnectDense(y, h, delay: 1);
        net.AddOutput(y);
        Ort.Randomize(net, 91);
        var xs = Ort.RandomData(T * n * 3, 92);
        var expected = Ort.Forward(net, null, Tensor.FromArray(xs, T, n, 3))[0];
        foreach (var mode in new[] { OnnxExportMode.Sequence, OnnxExportMode.Unrolled })
            Ort.Close(expected, Ort.Run(net.ToOnnxBytes(new OnnxExportOptions { Mode = mode }), ("x", xs, [T, n, 3]))["y"], $"y, {mode} form");
    }
}
