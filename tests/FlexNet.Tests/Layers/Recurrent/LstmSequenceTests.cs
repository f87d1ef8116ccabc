using FlexNet.Autodiff;
using FlexNet.Layers.Recurrent;
using FlexNet.Tests.Testing;
using FlexNet.Tensors;

namespace FlexNet.Tests.Layers.Recurrent;

/// <summary>The fused whole-sequence LSTM (<see cref="LstmSequence"/>, what <see cref="Recurrence.Run"/> uses for an LSTM
/// without peepholes) against a hand-written loop, the per-step cell, and finite differences.</summary>
[Trait("Category", "Kernels")] // vector paths of the backward row kernel: rerun by CI with the SIMD levels switched off
public class LstmSequenceTests
{
    private static double Sig(double v) => 1 / (1 + Math.Exp(-v));

    /// <summary>torch.nn.LSTM by hand in double: returns h for every input step [T][N·H] and the last processed c.</summary>
    private static (double[][] H, double[] C) Naive(double[] x, double[] wih, double[] whh, double[] bih, double[] bhh,
        double[] h0, double[] c0, int steps, int n, int inF, int hs, bool reverse)
    {
        var hOut = new double[steps][];
        var h = (double[])h0.Clone();
        var c = (double[])c0.Clone();
        for (int k = 0; k < steps; k++)
        {
            int t = reverse ? steps - 1 - k : k;
            var hn = new double[n * hs];
            var cn = new double[n * hs];
            for (int b = 0; b < n; b++)
            {
                for (int u = 0; u < hs; u++)
                {
                    var a = new double[4];
                    for (int gate = 0; gate < 4; gate++)
                    {
                        int r = gate * hs + u;
                        double s = bih[r] + bhh[r];
                        for (int i = 0; i < inF; i++) s += x[(t * n + b) * inF + i] * wih[r * inF + i];
                        for (int j = 0; j < hs; j++) s += h[b * hs + j] * whh[r * hs + j];
                        a[gate] = s;
                    }
                    double ig = Sig(a[0]), fg = Sig(a[1]), gg = Math.Tanh(a[2]), og = Sig(a[3]);
                    cn[b * hs + u] = fg * c[b * hs + u] + ig * gg;
                    hn[b * hs + u] = og * Math.Tanh(cn[b * hs + u]);
                }
            }
            h = hn;
            c = cn;
            hOut[t] = hn;
        }
        return (hOut, c);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ForwardEqualsAHandWrittenLoop(bool reverse)
    {
        // odd sizes: H = 37 leaves vector tails at every width
        const int steps = 4, n = 5, inF = 3, hs = 37;
        var cell = new LstmCell(inF, hs, dtype: DType.Float64, rng: new RandomGenerator(1));
        var x = Tensor.Normal([steps, n, inF], 0, 1, new RandomGenerator(2), DType.Float64);
        var h0 = Tensor.Normal([n, hs], 0, 1, new RandomGenerator(3), DType.Float64);
        var c0 = Tensor.Normal([n, hs], 0, 1, new RandomGenerator(4), DType.Float64);
        var (y, final) = Recurrence.Run(cell, x, new CellState(("h", h0), ("c", c0)), reverse);
        var (hs_, c) = Naive(x.ToDoubleArray(), cell.WeightIh.ToDoubleArray(), cell.WeightHh.ToDoubleArray(), cell.BiasIh.ToDoubleArray(),
            cell.BiasHh.ToDoubleArray(), h0.ToDoubleArray(), c0.ToDoubleArray(), steps, n, inF, hs, reverse);
        Assert.Equal([steps, n, hs], y.ShapeArray);
        for (int t = 0; t < steps; t++) T.Close(hs_[t], y.Slice(0, t, 1).ToDoubleArray(), 1e-12, 1e-13, $"h step {t}");
        T.Close(hs_[reverse ? 0 : steps - 1], final.H.ToDoubleArray(), 1e-12, 1e-13, "final h");
        T.Close(c, final["c"].ToDoubleArray(), 1e-12, 1e-13, "final c");
        Assert.Equal(reverse ? -1 : steps, final.Time);
    }

    // H = 19: the two-region step; H a whole number of GEMM panels (32 floats / 16 doubles with Vector512, fewer on
    // narrower CPUs): one region per step, split by blocks of units, inline (small) or over the workers (N·4H·H ≥ 2²⁰)
    [Theory]
    [InlineData(DType.Float32, false, 6, 3, 19)]
    [InlineData(DType.Float32, true, 6, 3, 19)]
    [InlineData(DType.Float64, false, 6, 3, 19)]
    [InlineData(DType.Float32, false, 5, 3, 64)]
    [InlineData(DType.Float32, true, 5, 3, 96)]
    [InlineData(DType.Float64, true, 4, 3, 48)]
    [InlineData(DType.Float32, false, 3, 9, 256)]
    [InlineData(DType.Float32, true, 3, 9, 256)]
    public void ValuesAndGradientsEqualThePerStepCell(DType dtype, bool reverse, int steps, int n, int hs)
    {
        const int inF = 5;
        double tol = dtype == DType.Float32 ? 2e-5 : 1e-12;
        var cell = new LstmCell(inF, hs, dtype: dtype, rng: new RandomGenerator(10));
        var x = Tensor.Normal([steps, n, inF], 0, 1, new RandomGenerator(11), dtype).RequireGrad();
        var h0 = Tensor.Normal([n, hs], 0, 1, new RandomGenerator(12), dtype).RequireGrad();
        var c0 = Tensor.Normal([n, hs], 0, 1, new RandomGenerator(13), dtype).RequireGrad();
        var gy = Tensor.Normal([steps, n, hs], 0, 1, new RandomGenerator(14), dtype);
        var gc = Tensor.Normal([n, hs], 0, 1, new RandomGenerator(15), dtype);
        var inputs = new[] { x, h0, c0, cell.WeightIh, cell.WeightHh, cell.BiasIh, cell.BiasHh };

        // fused: every output step, and the final c
        var (y, final) = Recurrence.Run(cell, x, new CellState(("h", h0), ("c", c0)), reverse);
        ((y * gy).Sum() + (final["c"] * gc).Sum()).Backward();
        var fused = inputs.Select(t => t.Grad!.ToDoubleArray()).ToArray();
        var fusedY = y.ToDoubleArray();
        foreach (var t in inputs) t.Grad = null;

        // the per-step cell, stepped by hand
        var state = new CellState(("h", h0), ("c", c0));
        var outs = new Tensor[steps];
        for (int k = 0; k < steps; k++)
        {
            int t = reverse ? steps - 1 - k : k;
            (outs[t], state) = cell.Step(x.Slice(0, t, 1).Squeeze(0), state);
        }
        var yLoop = Tensor.Stack(outs, 0);
        ((yLoop * gy).Sum() + (state["c"] * gc).Sum()).Backward();
        T.Close(yLoop.ToDoubleArray(), fusedY, tol, tol, $"{dtype} H={hs} outputs");
        string[] what = ["dx", "dh0", "dc0", "dW_ih", "dW_hh", "db_ih", "db_hh"];
        for (int i = 0; i < inputs.Length; i++) T.Close(inputs[i].Grad!.ToDoubleArray(), fused[i], tol, tol, $"{dtype} H={hs} reverse={reverse} {what[i]}");
    }

    [Theory]
    [InlineData(4, 33)]
    [InlineData(4, 64)]
    [InlineData(9, 256)]
    public void ForwardValuesAreBitIdenticalToThePerStepCellInFloat32(int n, int hs)
    {
        const int steps = 5, inF = 7;
        var cell = new LstmCell(inF, hs, rng: new RandomGenerator(30));
        var x = Tensor.Normal([steps, n, inF], 0, 1, new RandomGenerator(31), DType.Float32);
        Tensor y;
        using (Autograd.NoGrad()) (y, _) = Recurrence.Run(cell, x);
        var state = cell.InitialState(n, DType.Float32);
        var proj = cell.ProjectInput(x);
        for (int t = 0; t < steps; t++)
        {
            Tensor h;
            (h, state) = cell.StepProjected(proj.Slice(0, t, 1).Squeeze(0), state);
            Assert.Equal(h.ToDoubleArray(), y.Slice(0, t, 1).ToDoubleArray());
        }
    }

    [Fact]
    public void PassesGradientCheck()
    {
        foreach (bool reverse in new[] { false, true })
        {
            // all seven inputs as free variables; loss reads every h and the last c
            T.GradOk($"lstm sequence reverse={reverse}",
                v => LstmSequence.Apply(v[0], v[1], v[2], v[3], v[4], v[5], v[6], reverse),
                T.Rand(41, 4, 2, 2), T.Rand(42, 12, 2), T.Rand(43, 12, 3), T.Rand(44, 12), T.Rand(45, 12), T.Rand(46, 2, 3), T.Rand(47, 2, 3));
            // only the weights (zero initial state, an input that needs no gradient): the last step's h
            var x = Tensor.Normal([3, 2, 2], 0, 1, new RandomGenerator(48), DType.Float64);
            var zero = Tensor.Zeros([2, 3], DType.Float64);
            T.GradOk($"lstm sequence weights reverse={reverse}",
                v => LstmSequence.Apply(x, v[0], v[1], v[2], v[3], zero, zero, reverse).Slice(0, reverse ? 0 : 2, 1),
                T.Rand(49, 12, 2), T.Rand(50, 12, 3), T.Rand(51, 12), T.Rand(52, 12));
        }
    }

    [Fact]
    public void SubnormalGradientsAreFlushedInsideTheOpWhenTheSwitchIsOn()
    {
        const int steps = 3, n = 2, inF = 2, hs = 20;
        var cell = new LstmCell(inF, hs, rng: new RandomGenerator(60));
        var x = Tensor.Normal([steps, n, inF], 0, 1, new RandomGenerator(61), DType.Float32);
        // dL/dh_T = 2e-38 is normal (and, as the caller's seed, reaches the op unchanged), but every gate
        // gradient it makes is below float's smallest normal 1.18e-38: subnormal, or zero with the flush
        var flushed = BiasGradient(cell, cell.BiasIh, x, 2e-38, flush: true);
        Assert.All(flushed, v => Assert.Equal(0.0, v));
        var kept = BiasGradient(cell, cell.BiasIh, x, 2e-38, flush: false);
        Assert.Contains(kept, v => v != 0 && Math.Abs(v) < 1.1754943508222875e-38); // kept subnormal (sums over rows and steps may be normal)
    }

    /// <summary>Runs <paramref name="cell"/> over <paramref name="x"/> (last step only), seeds dL/dh_T with
    /// <paramref name="seed"/> everywhere and returns the gradient of <paramref name="bias"/>, with
    /// <see cref="Autograd.FlushSubnormals"/> set to <paramref name="flush"/> for the call (restored after).</summary>
    internal static double[] BiasGradient(IRecurrentCell cell, Tensor bias, Tensor x, double seed, bool flush)
    {
        bool saved = Autograd.FlushSubnormals;
        try
        {
            Autograd.FlushSubnormals = flush;
            bias.Grad = null;
            var (y, _) = Recurrence.Run(cell, x, returnSequences: false);
            Autograd.Backward(y, Tensor.Full(y.ShapeArray, seed, DType.Float32));
            return bias.Grad!.ToDoubleArray();
        }
        finally { Autograd.FlushSubnormals = saved; }
    }
}

/// <summary>The row kernels of the LSTM (forward gates, backward with the flush) at every forced vector width,
/// against the hand-written loop and finite differences; odd H leaves tails at every width.</summary>
[Collection(FlexNet.Tests.Kernels.SimdPathsCollection.Name)]
[Trait("Category", "Kernels")]
public class LstmSequenceSimdPathTests
{
    [Fact]
    public void EveryVectorWidthMatchesTheLoopAndPassesGradientCheck()
    {
        FlexNet.Tests.Kernels.SimdTestSupport.ForEachPath(bits =>
        {
            foreach (var (dtype, hs) in new[] { (DType.Float64, 19), (DType.Float32, 37), (DType.Float32, 64) })
            {
                const int steps = 3, n = 2, inF = 2;
                double tol = dtype == DType.Float32 ? 3e-6 : 1e-12;
                var cell = new LstmCell(inF, hs, dtype: dtype, rng: new RandomGenerator(70));
                var x = Tensor.Normal([steps, n, inF], 0, 1, new RandomGenerator(71), dtype);
                var (y, final) = Recurrence.Run(cell, x);
                var (h, c) = LstmSequenceTestsNaive.Run(cell, x, steps, n, inF, hs);
                for (int t = 0; t < steps; t++) T.Close(h[t], y.Slice(0, t, 1).ToDoubleArray(), tol, tol, $"{bits} bits {dtype} H={hs} h step {t}");
                T.Close(c, final["c"].ToDoubleArray(), tol, tol, $"{bits} bits {dtype} H={hs} c");
            }
            var x64 = Tensor.Normal([3, 2, 2], 0, 1, new RandomGenerator(72), DType.Float64);
            T.GradOk($"lstm sequence at {bits} bits",
                v => LstmSequence.Apply(x64, v[0], v[1], v[2], v[3], v[4], v[5], reverse: false),
                T.Rand(73, 4 * 19, 2), T.Rand(74, 4 * 19, 19), T.Rand(75, 4 * 19), T.Rand(76, 4 * 19), T.Rand(77, 2, 19), T.Rand(78, 2, 19));
        });
    }
}

internal static class LstmSequenceTestsNaive
{
    internal static (double[][] H, double[] C) Run(LstmCell cell, Tensor x, int steps, int n, int inF, int hs)
    {
        static double Sig(double v) => 1 / (1 + Math.Exp(-v));
        double[] xs = x.ToDoubleArray(), wih = cell.WeightIh.ToDoubleArray(), whh = cell.WeightHh.ToDoubleArray();
        double[] bih = cell.BiasIh.ToDoubleArray(), bhh = cell.BiasHh.ToDoubleArray();
        var h = new double[n * hs];
        var c = new double[n * hs];
        var outs = new double[steps][];
        for (int t = 0; t < steps; t++)
        {
            var hn = new double[n * hs];
            var cn = new double[n * hs];
            for (int b = 0; b < n; b++)
                for (int u = 0; u < hs; u++)
                {
                    var a = new double[4];
                    for (int gate = 0; gate < 4; gate++)
                    {
                        int r = gate * hs + u;
                        double s = bih[r] + bhh[r];
                        for (int i = 0; i < inF; i++) s += xs[(t * n + b) * inF + i] * wih[r * inF + i];
                        for (int j = 0; j < hs; j++) s += h[b * hs + j] * whh[r * hs + j];
                        a[gate] = s;
                    }
                    cn[b * hs + u] = Sig(a[1]) * c[b * hs + u] + Sig(a[0]) * Math.Tanh(a[2]);
                    hn[b * hs + u] = Sig(a[3]) * Math.Tanh(cn[b * hs + u]);
                }
            (h, c, outs[t]) = (hn, cn, hn);
        }
        return (outs, c);
    }
}
