using FlexNet.Autodiff;
using FlexNet.Tensors;

namespace FlexNet.Tests.Autodiff;

/// <summary>Gradient temporaries go back to the pool as soon as their node is done, so the memory of a backward
/// pass follows the frontier of the walk, not the length of the graph. Reads the process-wide pool counters, so
/// it runs in the non-parallel "Training" collection.</summary>
[Collection("Training")]
public sealed class BackwardMemoryTests
{
    [Fact]
    public void BackwardThroughALongChainHoldsAFewGradientBuffersNotOnePerNode()
    {
        const int n = 64, steps = 60;
        const long buffer = n * n * sizeof(float); // 16 KB, exactly one pool bucket
        var rng = new RandomGenerator(3);
        var x = Tensor.Normal([n, n], 0, 1, rng).RequireGrad();
        var w = Tensor.Normal([n, n], 0, 0.5, rng);
        using var scope = TensorScope.Begin();
        var h = x;
        for (int t = 0; t < steps; t++) h = (h * w).Tanh(); // 2 nodes per step, each gradient [n, n]
        var loss = h.Sum();
        long live = BufferPool.LiveBytes;
        BufferPool.ResetPeak();
        loss.Backward();
        long peak = BufferPool.PeakLiveBytes - live;
        // one gradient per node kept to the end would be 2 · 60 buffers; the walk needs a handful at a time
        Assert.True(peak <= 8 * buffer, $"backward held {peak} bytes at its peak ({peak / buffer} buffers of {buffer})");

        // and the gradient is right: d/dx of Σ tanh(...tanh(x·w)...·w), by hand
        var xs = x.ToFloatArray();
        var ws = w.ToFloatArray();
        var g = x.Grad!.ToFloatArray();
        for (int i = 0; i < n * n; i += 97)
        {
            double v = xs[i], d = 1;
            for (int t = 0; t < steps; t++)
            {
                double y = Math.Tanh(v * ws[i]);
                d *= ws[i] * (1 - y * y);
                v = y;
            }
            Assert.True(Math.Abs(g[i] - d) <= 1e-4 * Math.Max(1, Math.Abs(d)) + 1e-30, $"grad[{i}] {g[i]} vs {d}");
        }
    }
}
