using FlexNet.Autodiff;
using FlexNet.Graph;
using FlexNet.Connections;
using FlexNet.Tensors;
using Xunit;

namespace FlexNet.Tests.Graph;

/// <summary>
/// Truncated BPTT inside a <see cref="TensorScope"/> with last-step outputs: each window's buffers go back to the
/// pool at the next cut (backward can never reach them), so the memory of a training step is flat in T, and the
/// results are those of the same run without a scope (where nothing is released early).
/// </summary>
public sealed class TruncatedWindowMemoryTests
{
    /// <summary>x(t) [3] temporal; h1 = tanh(W x + F h2(t−1) + e⊙h1(t−2) + D h1(t−3)), h2 = σ(V h1), g = σ(G x(t−1)),
    /// y = Wy (h2 + g); outputs y and h1 at the last step only.</summary>
    private static Network Net()
    {
        var net = new Network("tw", DType.Float64, 5);
        var x = new InputLayer(3, sequenceLength: 4, name: "x");
        var h1 = new Layer(4, "tanh", bias: true, name: "h1");
        var h2 = new Layer(3, "sigmoid", name: "h2");
        var g = new Layer(3, "sigmoid", name: "g");
        var y = new Layer(2, name: "y");
        net.Connect(x, h1);
        net.Connect(h1, h2);
        net.ConnectDense(h2, h1, delay: 1);
        net.ConnectElementwise(h1, h1, delay: 2);
        net.ConnectDense(h1, h1, delay: 3, bias: false); // deeper than the window: its ring outlives a cut
        net.ConnectDense(x, g, delay: 1);
        net.Connect(h2, y);
        net.Connect(g, y);
        net.AddOutput(y, OutputMode.LastStep);
        net.AddOutput(h1, OutputMode.LastStep);
        net.Compile();
        var rng = new RandomGenerator(77);
        foreach (var p in net.Parameters) p.CopyFrom(Tensor.Normal(p.ShapeArray, 0, 0.6, rng, DType.Float64));
        return net;
    }

    private static (double[] Y, double[] H, double[][] Grads, double[] Gx) Step(Network net, Tensor x, bool scoped)
    {
        net.ZeroGrad();
        x.ZeroGrad();
        using var scope = scoped ? TensorScope.Begin() : null;
        var o = net.Forward([x], training: true);
        ((o[0] * o[0]).Sum() + o[1].Sum()).Backward();
        return (o[0].ToDoubleArray(), o[1].ToDoubleArray(),
                net.Parameters.Select(p => p.Grad?.ToDoubleArray() ?? []).ToArray(), x.Grad?.ToDoubleArray() ?? []);
    }

    [Theory]
    [InlineData(2, 9)]
    [InlineData(3, 12)]
    [InlineData(4, 5)]
    public void WindowedRunInAScope_GivesTheBitsOfTheUnscopedRun(int window, int steps)
    {
        var net = Net();
        net.TruncatedBptt = window;
        var x = Tensor.Normal([steps, 2, 3], 0, 1, new RandomGenerator(11), DType.Float64);
        x.RequireGrad();
        var free = Step(net, x, scoped: false);
        var windowed = Step(net, x, scoped: true);
        Assert.Equal(free.Y, windowed.Y);
        Assert.Equal(free.H, windowed.H);
        for (int i = 0; i < free.Grads.Length; i++) Assert.Equal(free.Grads[i], windowed.Grads[i]);
        Assert.Equal(free.Gx, windowed.Gx);
        // only the last window's inputs get a gradient (the cut detaches the input's ring too, so x(s − 1) gets none)
        int firstLive = (steps - 1) / window * window;
        Assert.Contains(free.Gx.Skip(firstLive * 6), v => v != 0);
        for (int t = 0; t < firstLive; t++)
            for (int j = 0; j < 6; j++) Assert.Equal(0.0, free.Gx[t * 6 + j]);
    }

    [Fact]
    public void PeakTensorMemory_IsFlatInTWithTruncation_AndGrowsWithout()
    {
        var net = Net();
        long Peak(int steps, int? window)
        {
            net.TruncatedBptt = window;
            var x = Tensor.Normal([steps, 64, 3], 0, 1, new RandomGenerator(3), DType.Float64);
            Step(net, x, scoped: true); // warm
            long live = BufferPool.LiveBytes;
            BufferPool.ResetPeak();
            Step(net, x, scoped: true);
            Assert.Equal(live, BufferPool.LiveBytes); // everything went back at the end of the scope
            return BufferPool.PeakLiveBytes - live;
        }
        long t8 = Peak(8, 4), t32 = Peak(32, 4), t128 = Peak(128, 4);
        Assert.Equal(t8, t32);
        Assert.Equal(t8, t128);
        long f8 = Peak(8, null), f32 = Peak(32, null);
        // full BPTT keeps every step: at least h1 and h2 outputs (4 + 3 doubles per sample and step) per added step
        Assert.True(f32 - f8 >= 24L * 64 * (4 + 3) * 8, $"full BPTT peak {f8} -> {f32}");
        Assert.True(t32 < f32, $"truncated {t32} vs full {f32}");
    }
}
