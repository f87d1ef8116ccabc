using FlexNet.Autodiff;
using FlexNet.Connections;
using FlexNet.Graph;
using FlexNet.Tensors;

namespace FlexNet.Tests.Graph;

/// <summary>
/// The plan's handling of layers that carry their own per-step state (<see cref="Layer.HasStepState"/>): the step
/// counter passed to <see cref="Layer.TransformStep"/>, the state held at masked steps, the cut at truncated-BPTT window
/// boundaries, the state carried between stateful calls and moved between window scopes. The layer here is a leaky
/// accumulator whose values and gradients are worked out by hand: s_t = ½ s_{t−1} + z_t (s_{−1} absent: s_0 = z_0),
/// y_t = s_t + time. Mutation testing of Graph found none of this exercised by the Graph tests.
/// </summary>
public sealed class StepStateLayerOracleTests
{
    /// <summary>s_t = ½ s_{t−1} + z_t, y_t = s_t + time (time: steps since the state started).</summary>
    private sealed class Leaky(int units, string name) : Layer(units, name: name)
    {
        protected internal override bool HasStepState => true;

        protected internal override Tensor TransformStep(Tensor combined, bool training, int time, ref Tensor[]? state)
        {
            var s = state is null ? combined : state[0] * 0.5 + combined;
            state = [s];
            return s + (double)time;
        }
    }

    /// <summary>The same accumulator on a [2, 3] map: its state has rank 3 with the batch axis.</summary>
    private sealed class LeakyMap(string name) : Layer([2, 3], name: name)
    {
        protected internal override bool HasStepState => true;

        protected internal override Tensor TransformStep(Tensor combined, bool training, int time, ref Tensor[]? state)
        {
            var s = state is null ? combined : state[0] * 0.5 + combined;
            state = [s];
            return s + (double)time;
        }
    }

    [Fact]
    public void MasksBroadcastOverTheStateOfAMapLayer()
    {
        // per element the map is the scalar accumulator: each of its 6 elements follows the oracle of its own x
        var net = new Network("map", DType.Float64, 1);
        var x = new InputLayer([2, 3], sequenceLength: 5, name: "x");
        var acc = new LeakyMap("acc");
        net.ConnectIdentity(x, acc);
        net.AddOutput(acc);
        net.Compile();
        var mask = new double[,] { { 0, 1 }, { 1, 1 }, { 1, 0 }, { 0, 0 }, { 1, 0 } };
        var m = Tensor.Zeros([5, 2], DType.Float64);
        for (int t = 0; t < 5; t++) for (int b = 0; b < 2; b++) m[t, b] = mask[t, b];
        var xs = Tensor.Zeros([5, 2, 2, 3], DType.Float64);
        for (int t = 0; t < 5; t++) for (int b = 0; b < 2; b++) for (int k = 0; k < 6; k++) xs[t, b, k / 3, k % 3] = X[t, b] * (k + 1);
        var y = net.Forward([xs], training: false, mask: m)[0];
        for (int k = 0; k < 6; k++)
        {
            var xk = new double[5, 2];
            for (int t = 0; t < 5; t++) for (int b = 0; b < 2; b++) xk[t, b] = X[t, b] * (k + 1);
            var e = Oracle(xk, mask);
            for (int t = 0; t < 5; t++)
                for (int b = 0; b < 2; b++)
                    Assert.Equal(e[t, b] * mask[t, b], y[t, b, k / 3, k % 3], 12);
        }
    }

    /// <summary>x [1] temporal (T steps) → (identity) acc [1]; output acc.</summary>
    private static (Network Net, Layer Acc) Build(int steps, OutputMode mode)
    {
        var net = new Network("leaky", DType.Float64, 1);
        var x = new InputLayer(1, sequenceLength: steps, name: "x");
        var acc = new Leaky(1, "acc");
        net.ConnectIdentity(x, acc);
        net.AddOutput(acc, mode);
        net.Compile();
        return (net, acc);
    }

    /// <summary>The oracle: y[t][n] of the accumulator with an optional mask (held state and output at masked steps,
    /// per-step outputs zeroed there); the step counter runs on at masked steps.</summary>
    private static double[,] Oracle(double[,] x, double[,]? mask, int time0 = 0, double[]? s0 = null, double[]? y0 = null)
    {
        int steps = x.GetLength(0), n = x.GetLength(1);
        var y = new double[steps, n];
        for (int b = 0; b < n; b++)
        {
            double? s = s0?[b];
            double prevY = y0?[b] ?? 0;
            for (int t = 0; t < steps; t++)
            {
                double m = mask?[t, b] ?? 1;
                double sNew = s is null ? x[t, b] : 0.5 * s.Value + x[t, b];
                double yNew = sNew + time0 + t;
                s = s is null ? sNew * m : s.Value + m * (sNew - s.Value);
                prevY += m * (yNew - prevY);
                y[t, b] = prevY;
            }
        }
        return y;
    }

    private static Tensor Seq(double[,] x)
    {
        int steps = x.GetLength(0), n = x.GetLength(1);
        var t = Tensor.Zeros([steps, n, 1], DType.Float64);
        for (int i = 0; i < steps; i++) for (int b = 0; b < n; b++) t[i, b, 0] = x[i, b];
        return t;
    }

    private static readonly double[,] X = { { 0.5, -1.0 }, { 2.0, 0.25 }, { -0.75, 1.5 }, { 1.25, -0.5 }, { 0.3, 0.9 } };

    [Fact]
    public void StepCounterAndStateFollowTheEquations()
    {
        var (net, _) = Build(5, OutputMode.AllSteps);
        var y = net.Forward(Seq(X))[0];
        Assert.Equal([5, 2, 1], y.ShapeArray);
        var e = Oracle(X, null);
        for (int t = 0; t < 5; t++)
            for (int b = 0; b < 2; b++)
                Assert.Equal(e[t, b], y[t, b, 0], 12);
        // by hand for sample 0: s = 0.5, 2.25, 0.375, 1.4375, 1.01875; y = s + t
        Assert.Equal(1.01875 + 4, y[4, 0, 0], 12);
    }

    [Fact]
    public void MaskedStepsHoldTheStateAndZeroTheOutputs_WhileTheCounterRunsOn()
    {
        // sample 0 is masked at step 0 (its state starts as z·0 = 0) and at step 3; sample 1 ends after step 1
        var mask = new double[,] { { 0, 1 }, { 1, 1 }, { 1, 0 }, { 0, 0 }, { 1, 0 } };
        var m = Tensor.Zeros([5, 2], DType.Float64);
        for (int t = 0; t < 5; t++) for (int b = 0; b < 2; b++) m[t, b] = mask[t, b];
        var (net, _) = Build(5, OutputMode.AllSteps);
        var y = net.Forward([Seq(X)], training: false, mask: m)[0];
        var held = Oracle(X, mask);
        for (int t = 0; t < 5; t++)
            for (int b = 0; b < 2; b++)
                Assert.Equal(held[t, b] * mask[t, b], y[t, b, 0], 12);
        // sample 0 by hand: s0 = 0 (masked), s1 = 2, s2 = 0.25, s3 held, s4 = 0.425; y4 = 0.425 + 4
        Assert.Equal(4.425, y[4, 0, 0], 12);

        // last-step output: each sample's last valid step (sample 1: step 1, y = 0.5·(−1) + 0.25 + 1)
        var (last, _) = Build(5, OutputMode.LastStep);
        var yl = last.Forward([Seq(X)], training: false, mask: m)[0];
        Assert.Equal([2, 1], yl.ShapeArray);
        Assert.Equal(4.425, yl[0, 0], 12);
        Assert.Equal(0.75, yl[1, 0], 12);
    }

    [Fact]
    public void TruncationCutsTheStateAndTheHeldOutputs()
    {
        // unmasked: y_3 = s_3 + 3 with s_3 = x_3 + ½ x_2 + ¼ x_1 + ⅛ x_0; a window of 2 keeps only x_3 and x_2
        var x = Seq(new double[,] { { 1, 1 }, { 1, 1 }, { 1, 1 }, { 1, 1 } }).RequireGrad();
        var (net, _) = Build(4, OutputMode.LastStep);
        net.Forward(x)[0].Sum().Backward();
        Assert.Equal([0.125, 0.125, 0.25, 0.25, 0.5, 0.5, 1, 1], x.Grad!.ToDoubleArray());

        net.TruncatedBptt = 2;
        x.ZeroGrad();
        net.Forward(x)[0].Sum().Backward();
        Assert.Equal([0, 0, 0, 0, 0.5, 0.5, 1, 1], x.Grad!.ToDoubleArray());

        // masked: sample 1 stops after step 1, so its last-step output is y_1 held through steps 2 and 3 (the held
        // output is cut at t = 2 with the rest of the state)
        var mask = Tensor.FromArray([1.0, 1, 1, 1, 1, 0, 1, 0], 4, 2);
        net.TruncatedBptt = null;
        x.ZeroGrad();
        var y = net.Forward([x], training: true, mask: mask)[0];
        Assert.Equal(0.5 + 1 + 1, y[1, 0], 12);
        y.Sum().Backward();
        Assert.Equal([0.125, 0.5, 0.25, 1, 0.5, 0, 1, 0], x.Grad!.ToDoubleArray());

        net.TruncatedBptt = 2;
        x.ZeroGrad();
        net.Forward([x], training: true, mask: mask)[0].Sum().Backward();
        Assert.Equal([0, 0, 0, 0, 0.5, 0, 1, 0], x.Grad!.ToDoubleArray());
    }

    [Fact]
    public void StatefulCallsCarryTheStateAndTheCounter()
    {
        var (net, _) = Build(5, OutputMode.AllSteps);
        net.Stateful = true;
        var whole = Oracle(X, null);
        var first = net.Forward(Seq(X).Slice(0, 0, 2).Contiguous())[0];
        var second = net.Forward(Seq(X).Slice(0, 2, 3).Contiguous())[0];
        for (int b = 0; b < 2; b++)
        {
            for (int t = 0; t < 2; t++) Assert.Equal(whole[t, b], first[t, b, 0], 12);
            for (int t = 2; t < 5; t++) Assert.Equal(whole[t, b], second[t - 2, b, 0], 12);
        }
        net.ResetState();
        var again = net.Forward(Seq(X).Slice(0, 2, 3).Contiguous())[0];
        Assert.Equal(X[2, 0], again[0, 0, 0], 12); // a fresh state: s_0 = z_0, time 0
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public void WindowedRunInAScopeKeepsTheStepStateOfTheLastWindow(int window)
    {
        const int steps = 9;
        var rng = new RandomGenerator(12);
        var xs = new double[steps, 2];
        for (int t = 0; t < steps; t++) for (int b = 0; b < 2; b++) xs[t, b] = rng.NextNormal();
        var e = Oracle(xs, null);
        var (net, _) = Build(steps, OutputMode.LastStep);
        net.TruncatedBptt = window;
        for (int round = 0; round < 3; round++)
        {
            using var scope = TensorScope.Begin();
            // churn the pool between windows: every window allocates, so a state buffer given back too early is reused
            var y = net.Forward([Seq(xs)], training: true)[0];
            for (int b = 0; b < 2; b++) Assert.Equal(e[steps - 1, b], y[b, 0], 12);
        }
    }
}
