using FlexNet.Connections;
using FlexNet.Graph;
using FlexNet.Tensors;

namespace FlexNet.Tests.Graph;

/// <summary>
/// A learned initial state must be what a recurrent edge reads before step 0: a non-zero value changes the step-0
/// output (compared with a hand computation) and receives the gradient the chain rule gives by hand.
/// </summary>
public sealed class LearnedInitialStateTests
{
    private static (Network Net, Layer H, DenseConnection In, DenseConnection Rec) Build(bool fused)
    {
        var net = new Network("init", DType.Float64, 9) { FuseDenseLayers = fused };
        var x = new InputLayer(2, sequenceLength: 3, name: "x");
        var h = new Layer(3, "tanh", name: "h") { LearnInitialState = true };
        var inp = net.ConnectDense(x, h);
        var rec = net.ConnectDense(h, h, delay: 1);
        net.AddOutput(h);
        net.Compile();
        h.InitialState!.CopyFrom(Tensor.FromArray([0.8, -0.6, 0.4], 3));
        return (net, h, inp, rec);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void NonZeroLearnedStateChangesTheStep0OutputAndGetsItsGradient(bool fused)
    {
        var (net, h, inp, rec) = Build(fused);
        double[] s0 = [0.8, -0.6, 0.4];
        double[] xs = [0.3, -1.2, 0.7, 0.5, /* t = 1 */ 0.1, 0.2, -0.3, 0.4, /* t = 2 */ 1, -1, 0.5, 0.25];
        var wx = inp.Weight.ToDoubleArray();
        var bx = inp.Bias!.ToDoubleArray();
        var wh = rec.Weight.ToDoubleArray();
        var bh = rec.Bias!.ToDoubleArray();

        // step 0 by hand: y0 = tanh(Wx x0 + bx + Wh s0 + bh), and the same with s0 = 0
        var y0 = new double[2, 3];
        var y0Zero = new double[2, 3];
        for (int n = 0; n < 2; n++)
            for (int o = 0; o < 3; o++)
            {
                double z = bx[o] + bh[o];
                for (int i = 0; i < 2; i++) z += wx[o * 2 + i] * xs[n * 2 + i];
                double r = 0;
                for (int i = 0; i < 3; i++) r += wh[o * 3 + i] * s0[i];
                y0[n, o] = Math.Tanh(z + r);
                y0Zero[n, o] = Math.Tanh(z);
            }

        var y = net.Forward(Tensor.FromArray(xs, 3, 2, 2))[0];
        var step0 = y.Slice(0, 0, 1).Squeeze(0);
        var got = step0.ToDoubleArray();
        double change = 0;
        for (int n = 0; n < 2; n++)
            for (int o = 0; o < 3; o++)
            {
                Assert.True(Math.Abs(got[n * 3 + o] - y0[n, o]) < 1e-12, $"step 0, sample {n}, unit {o}: hand {y0[n, o]:G15}, network {got[n * 3 + o]:G15}");
                change = Math.Max(change, Math.Abs(y0[n, o] - y0Zero[n, o]));
            }
        Assert.True(change > 0.05, $"the learned state should move the step-0 output; largest change {change}");

        // L = Σ y(0): dL/ds0_i = Σ_n Σ_o (1 − y0[n,o]²) · Wh[o, i]
        net.ZeroGrad();
        step0.Sum().Backward();
        var g = h.InitialState!.Grad;
        Assert.NotNull(g);
        var ga = g!.ToDoubleArray();
        for (int i = 0; i < 3; i++)
        {
            double want = 0;
            for (int n = 0; n < 2; n++)
                for (int o = 0; o < 3; o++) want += (1 - y0[n, o] * y0[n, o]) * wh[o * 3 + i];
            Assert.True(Math.Abs(ga[i] - want) < 1e-12, $"dL/ds0[{i}]: hand {want:G15}, network {ga[i]:G15}");
            Assert.True(Math.Abs(want) > 1e-3, $"hand gradient {i} should be non-zero");
        }
    }

    [Fact]
    public void LearnedStateIsOnlyReadBeforeStep0()
    {
        // The step-1 output reads y(0), not the initial state: change the state and only through y(0) does step 1 move.
        var (net, h, inp, rec) = Build(fused: false);
        double[] xs = [0.3, -1.2, 0.7, 0.5, 0.1, 0.2, -0.3, 0.4, 1, -1, 0.5, 0.25];
        var y = net.Forward(Tensor.FromArray(xs, 3, 2, 2))[0].ToDoubleArray();
        var wx = inp.Weight.ToDoubleArray();
        var bx = inp.Bias!.ToDoubleArray();
        var wh = rec.Weight.ToDoubleArray();
        var bh = rec.Bias!.ToDoubleArray();
        for (int n = 0; n < 2; n++)
            for (int o = 0; o < 3; o++)
            {
                double z = bx[o] + bh[o];
                for (int i = 0; i < 2; i++) z += wx[o * 2 + i] * xs[4 + n * 2 + i];
                for (int i = 0; i < 3; i++) z += wh[o * 3 + i] * y[n * 3 + i];
                Assert.True(Math.Abs(Math.Tanh(z) - y[6 + n * 3 + o]) < 1e-12, $"step 1, sample {n}, unit {o}");
            }
        Assert.NotNull(h.InitialState);
    }
}
