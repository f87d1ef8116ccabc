using FlexNet.Autodiff;
using FlexNet.Connections;
using FlexNet.Graph;
using FlexNet.Tensors;

namespace FlexNet.Tests.Graph;

/// <summary>
/// Where the tensors of a run live and which graph they carry: truncated-BPTT windows in a <see cref="TensorScope"/>
/// with every-step outputs, recorded activations or a mask (each must keep the earlier windows' buffers), a stateful
/// network called in scopes of its own, the carried state cut from the previous call's graph, the state
/// <see cref="Network.Step"/> returns still attached to it, a mask that never receives a gradient, and parameters
/// rebuilt when a layer's inferred shape grows. The network is a running sum h(t) = x(t) + h(t−1), whose values are
/// known by hand.
/// </summary>
public sealed class StateLifetimeTests
{
    private const int Steps = 7, N = 2;

    private static Network RunningSum(OutputMode mode, int? window)
    {
        var net = new Network("sum", DType.Float64) { TruncatedBptt = window };
        var x = new InputLayer(3, sequenceLength: Steps, name: "x");
        var h = new Layer(3, name: "h");
        var o = new Layer(3, name: "o");
        net.ConnectIdentity(x, h);
        net.ConnectIdentity(h, h, delay: 1);
        net.ConnectIdentity(h, o);
        net.AddOutput(o, mode);
        return net;
    }

    private static (Tensor X, double[] Sums) Data()
    {
        var x = Tensor.Normal([Steps, N, 3], 0, 1, new RandomGenerator(3), DType.Float64);
        var v = x.ToDoubleArray();
        var sums = new double[v.Length];
        for (int t = 0; t < Steps; t++)
            for (int k = 0; k < N * 3; k++)
                sums[t * N * 3 + k] = v[t * N * 3 + k] + (t > 0 ? sums[(t - 1) * N * 3 + k] : 0);
        return (x, sums);
    }

    private static void Near(double[] expected, double[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++) Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-12, $"{what} [{i}]: {expected[i]} vs {actual[i]}");
    }

    /// <summary>Allocates and frees pool buffers of the run's sizes, so that a buffer given back too early is handed
    /// out again and overwritten before the result is read.</summary>
    private static void Churn()
    {
        using var s = TensorScope.Begin();
        for (int i = 0; i < 40; i++) _ = Tensor.Full([N, 3], -1e6, DType.Float64) * 2.0;
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public void WindowsInAScopeKeepEveryStepOutputs(int window)
    {
        var (x, sums) = Data();
        var net = RunningSum(OutputMode.AllSteps, window);
        for (int round = 0; round < 2; round++)
        {
            using var scope = TensorScope.Begin();
            var y = net.Forward(x)[0];
            Churn();
            Near(sums, y.ToDoubleArray(), $"every-step output, window {window}");
        }
    }

    [Fact]
    public void WindowsInAScopeKeepRecordedActivationsAndMaskedState()
    {
        var (x, sums) = Data();
        var net = RunningSum(OutputMode.LastStep, 2);
        net.RecordActivations = true;
        using (TensorScope.Begin())
        {
            var y = net.Forward(x)[0];
            Churn();
            Near(sums[^(N * 3)..], y.ToDoubleArray(), "last step");
            Near(sums, net.Activations.Single(a => a.Key == "h").Value.ToDoubleArray(), "recorded h");
        }

        // sample 1 stops after step 2: its last-step output is its sum at step 2
        net.RecordActivations = false;
        var mask = Tensor.Ones([Steps, N], DType.Float64);
        for (int t = 3; t < Steps; t++) mask[t, 1] = 0;
        using (TensorScope.Begin())
        {
            var y = net.Forward([x], training: true, mask: mask)[0];
            Churn();
            Near([.. sums[^(N * 3)..][..3], .. sums[(2 * N * 3 + 3)..(2 * N * 3 + 6)]], y.ToDoubleArray(), "masked last step");
        }
    }

    [Fact]
    public void StatefulCallsInScopesOfTheirOwnCarryTheRightValues()
    {
        var (x, sums) = Data();
        var net = RunningSum(OutputMode.AllSteps, null);
        net.Stateful = true;
        var got = new List<double>();
        foreach (var (start, len) in new[] { (0, 3), (3, 2), (5, 2) })
        {
            using (TensorScope.Begin())
            {
                got.AddRange(net.Forward(x.Slice(0, start, len).Contiguous())[0].ToDoubleArray());
            }
            Churn();
        }
        Near(sums, got.ToArray(), "stateful chunks");
    }

    [Fact]
    public void TheCarriedStateIsCutFromThePreviousCallsGraph()
    {
        // h(t) = x(t) + w·h(t−1), one unit: call 1 (x = 1, 1) ends with h1 = 1 + w; call 2 (x = 1) gives
        // h2 = 1 + w·h1, whose gradient with h1 carried as a constant is dh2/dw = h1 = 1.5 at w = 0.5 (2.0 through
        // the first call's graph)
        var net = new Network("cut", DType.Float64) { Stateful = true };
        var x = new InputLayer(1, sequenceLength: 2, name: "x");
        var h = new Layer(1, name: "h");
        net.ConnectIdentity(x, h);
        var w = net.ConnectElementwise(h, h, delay: 1);
        net.Compile();
        w.Weight.Fill(0.5);
        net.Forward(Tensor.Ones([2, 1, 1], DType.Float64));
        net.ZeroGrad();
        var y = net.Forward(Tensor.Ones([1, 1, 1], DType.Float64))[0];
        Assert.Equal(1.75, y.ToDoubleArray()[0], 12);
        y.Sum().Backward();
        Assert.Equal(1.5, w.Weight.Grad!.ToDoubleArray()[0], 12);
    }

    [Fact]
    public void StepKeepsTheGraphToThePreviousState()
    {
        // h = x + 3·p: the state passed in and the state returned are linked for autodiff
        var net = new Network("stepgrad", DType.Float64);
        var x = new InputLayer(1, name: "x");
        var h = new Layer(1, name: "h");
        net.ConnectIdentity(x, h);
        var w = net.ConnectElementwise(h, h, delay: 1);
        net.Compile();
        w.Weight.Fill(3);
        var p = Tensor.FromArray([2.0], 1, 1).RequireGrad();
        net.Step([Tensor.FromArray([1.0], 1, 1)], new Dictionary<Layer, Tensor> { [h] = p }, false, out var current);
        Assert.Equal(7.0, current[h].ToDoubleArray()[0], 12);
        (current[h] * 2.0).Sum().Backward();
        Assert.Equal(6.0, p.Grad!.ToDoubleArray()[0], 12);
    }

    [Fact]
    public void AMaskNeverReceivesAGradient()
    {
        var (x, _) = Data();
        var net = RunningSum(OutputMode.AllSteps, null);
        var mask = Tensor.Ones([Steps, N], DType.Float64).RequireGrad();
        var xg = x.Detach().RequireGrad();
        net.Forward([xg], training: true, mask: mask)[0].Sum().Backward();
        Assert.Null(mask.Grad);
        Assert.NotNull(xg.Grad);
    }

    [Fact]
    public void ParametersFollowALayerWhoseInferredShapeGrows()
    {
        var net = new Network("grow", DType.Float64);
        var a = new InputLayer(2, name: "a");
        var b = new InputLayer(3, name: "b");
        var cat = new Layer((int[]?)null, combine: CombineRule.Concat, bias: true, name: "cat");
        var o = new Layer(1, name: "o");
        net.ConnectIdentity(a, cat);
        var d = net.ConnectDense(cat, o, bias: false);
        net.AddOutput(o);
        net.Compile();
        Assert.Equal([2], cat.Bias!.ShapeArray);
        Assert.Equal([1, 2], d.Weight.ShapeArray);
        net.ConnectIdentity(b, cat);
        net.Compile();
        Assert.Equal([5], cat.Bias!.ShapeArray);
        Assert.Equal([1, 5], d.Weight.ShapeArray);
        cat.Bias!.CopyFrom(Tensor.FromArray([1.0, 2, 3, 4, 5], 5));
        d.Weight.CopyFrom(Tensor.FromArray([1.0, 10, 100, 1000, 10000], 1, 5));
        var y = net.Forward(Tensor.FromArray([0.5, 0.25], 1, 2), Tensor.FromArray([1.0, 2, 3], 1, 3))[0];
        // cat = [a, b] + bias = [1.5, 2.25, 4, 6, 8]
        Assert.Equal(1.5 + 22.5 + 400 + 6000 + 80000, y.ToDoubleArray()[0], 9);
    }
}
