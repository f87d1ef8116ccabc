using FlexNet.Autodiff;
using FlexNet.Layers.Recurrent;
using FlexNet.Tests.Testing;
using FlexNet.Tensors;

namespace FlexNet.Tests.Layers.Recurrent;

/// <summary>The fused whole-sequence Elman RNN (<see cref="RnnSequence"/>, what <see cref="Recurrence.Run"/> uses for an
/// <see cref="RnnCell"/>) against a hand-written loop, the per-step cell, and finite differences.</summary>
public class RnnSequenceTests
{
    private static double Act(double v, RecurrentActivation act) => act switch
    {
        RecurrentActivation.Tanh => Math.Tanh(v),
        RecurrentActivation.Relu => Math.Max(v, 0),
        RecurrentActivation.Sigmoid => 1 / (1 + Math.Exp(-v)),
        _ => v,
    };

    /// <summary>torch.nn.RNN by hand in double: h for every input step [T][N·H].</summary>
    private static double[][] Naive(RnnCell cell, Tensor x, double[] h0, bool reverse)
    {
        int steps = x.Shape[0], n = x.Shape[1], inF = x.Shape[2], hs = cell.HiddenSize;
        double[] xs = x.ToDoubleArray(), wih = cell.WeightIh.ToDoubleArray(), whh = cell.WeightHh.ToDoubleArray();
        double[] bih = cell.BiasIh.ToDoubleArray(), bhh = cell.BiasHh.ToDoubleArray();
        var outs = new double[steps][];
        var h = (double[])h0.Clone();
        for (int k = 0; k < steps; k++)
        {
            int t = reverse ? steps - 1 - k : k;
            var hn = new double[n * hs];
            for (int b = 0; b < n; b++)
                for (int u = 0; u < hs; u++)
                {
                    double s = bih[u] + bhh[u];
                    for (int i = 0; i < inF; i++) s += xs[(t * n + b) * inF + i] * wih[u * inF + i];
                    for (int j = 0; j < hs; j++) s += h[b * hs + j] * whh[u * hs + j];
                    hn[b * hs + u] = Act(s, cell.Activation);
                }
            h = hn;
            outs[t] = hn;
        }
        return outs;
    }

    [Theory]
    [InlineData(RecurrentActivation.Tanh, false)]
    [InlineData(RecurrentActivation.Tanh, true)]
    [InlineData(RecurrentActivation.Relu, false)]
    [InlineData(RecurrentActivation.Sigmoid, true)]
    [InlineData(RecurrentActivation.Linear, false)]
    public void ForwardEqualsAHandWrittenLoop(RecurrentActivation act, bool reverse)
    {
        const int steps = 5, n = 3, inF = 4, hs = 19;
        var cell = new RnnCell(inF, hs, act, DType.Float64, new RandomGenerator(1));
        var x = Tensor.Normal([steps, n, inF], 0, 1, new RandomGenerator(2), DType.Float64);
        var h0 = Tensor.Normal([n, hs], 0, 1, new RandomGenerator(3), DType.Float64);
        var (y, final) = Recurrence.Run(cell, x, new CellState(("h", h0)), reverse);
        var want = Naive(cell, x, h0.ToDoubleArray(), reverse);
        Assert.Equal([steps, n, hs], y.ShapeArray);
        for (int t = 0; t < steps; t++) T.Close(want[t], y.Slice(0, t, 1).ToDoubleArray(), 1e-12, 1e-13, $"{act} h step {t}");
        T.Close(want[reverse ? 0 : steps - 1], final.H.ToDoubleArray(), 1e-12, 1e-13, "final h");
        Assert.Equal(reverse ? -1 : steps, final.Time);
        var (last, _) = Recurrence.Run(cell, x, new CellState(("h", h0)), reverse, returnSequences: false);
        Assert.Equal([n, hs], last.ShapeArray);
        T.Close(want[reverse ? 0 : steps - 1], last.ToDoubleArray(), 1e-12, 1e-13, "last step only");
    }

    [Theory]
    [InlineData(DType.Float32, RecurrentActivation.Tanh, false, 1, 64)]
    [InlineData(DType.Float32, RecurrentActivation.Tanh, true, 4, 37)]
    [InlineData(DType.Float64, RecurrentActivation.Relu, false, 3, 19)]
    [InlineData(DType.Float64, RecurrentActivation.Sigmoid, true, 2, 8)]
    [InlineData(DType.Float32, RecurrentActivation.Linear, false, 5, 16)]
    public void ValuesAndGradientsEqualThePerStepCell(DType dtype, RecurrentActivation act, bool reverse, int n, int hs)
    {
        const int steps = 6, inF = 5;
        double tol = dtype == DType.Float32 ? 2e-5 : 1e-12;
        var cell = new RnnCell(inF, hs, act, dtype, new RandomGenerator(10));
        var x = Tensor.Normal([steps, n, inF], 0, 1, new RandomGenerator(11), dtype).RequireGrad();
        var h0 = Tensor.Normal([n, hs], 0, 0.5, new RandomGenerator(12), dtype).RequireGrad();
        var gy = Tensor.Normal([steps, n, hs], 0, 1, new RandomGenerator(14), dtype);
        var gh = Tensor.Normal([n, hs], 0, 1, new RandomGenerator(15), dtype);
        var inputs = new[] { x, h0, cell.WeightIh, cell.WeightHh, cell.BiasIh, cell.BiasHh };

        // fused: every output step, and the final h once more
        var (y, final) = Recurrence.Run(cell, x, new CellState(("h", h0)), reverse);
        ((y * gy).Sum() + (final.H * gh).Sum()).Backward();
        var fused = inputs.Select(t => t.Grad!.ToDoubleArray()).ToArray();
        var fusedY = y.ToDoubleArray();
        foreach (var t in inputs) t.Grad = null;

        // the per-step cell, stepped by hand
        var state = new CellState(("h", h0));
        var outs = new Tensor[steps];
        for (int k = 0; k < steps; k++)
        {
            int t = reverse ? steps - 1 - k : k;
            (outs[t], state) = cell.Step(x.Slice(0, t, 1).Squeeze(0), state);
        }
        var yLoop = Tensor.Stack(outs, 0);
        ((yLoop * gy).Sum() + (state.H * gh).Sum()).Backward();
        T.Close(yLoop.ToDoubleArray(), fusedY, tol, tol, $"{dtype} {act} H={hs} outputs");
        string[] what = ["dx", "dh0", "dW_ih", "dW_hh", "db_ih", "db_hh"];
        for (int i = 0; i < inputs.Length; i++)
            T.Close(inputs[i].Grad!.ToDoubleArray(), fused[i], tol, tol, $"{dtype} {act} H={hs} N={n} reverse={reverse} {what[i]}");
    }

    [Theory]
    [InlineData(1, 64)]
    [InlineData(4, 33)]
    public void ForwardValuesAreBitIdenticalToThePerStepCellInFloat32(int n, int hs)
    {
        const int steps = 7, inF = 6;
        var cell = new RnnCell(inF, hs, rng: new RandomGenerator(30));
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
            foreach (var act in new[] { RecurrentActivation.Tanh, RecurrentActivation.Sigmoid })
            {
                // all six inputs as free variables; the loss reads every h
                T.GradOk($"rnn sequence {act} reverse={reverse}",
                    v => RnnSequence.Apply(v[0], v[1], v[2], v[3], v[4], v[5], act, reverse),
                    T.Rand(41, 4, 2, 3), T.Rand(42, 5, 3), T.Rand(43, 5, 5), T.Rand(44, 5), T.Rand(45, 5), T.Rand(46, 2, 5));
                // only the weights (an input and a state that need no gradient): the last processed step's h
                var x = Tensor.Normal([3, 2, 2], 0, 1, new RandomGenerator(48), DType.Float64);
                var zero = Tensor.Zeros([2, 3], DType.Float64);
                T.GradOk($"rnn sequence weights {act} reverse={reverse}",
                    v => RnnSequence.Apply(x, v[0], v[1], v[2], v[3], zero, act, reverse).Slice(0, reverse ? 0 : 2, 1),
                    T.Rand(49, 3, 2), T.Rand(50, 3, 3), T.Rand(51, 3), T.Rand(52, 3));
            }
    }

    [Fact]
    public void SubnormalGradientsAreFlushedInsideTheOpWhenTheSwitchIsOn()
    {
        // one step of one sample: the bias gradient is g = dh ⊙ (1 − h²) itself, normal or zero once g is flushed
        // (with more rows or steps it is a sum, which may leave the subnormal range or cancel into it)
        const int steps = 1, n = 1, inF = 2, hs = 20;
        var cell = new RnnCell(inF, hs, rng: new RandomGenerator(60));
        var x = Tensor.Normal([steps, n, inF], 0, 1, new RandomGenerator(61), DType.Float32);
        // dL/dh_T = 1.2e-38 is normal (the caller's seed reaches the op unchanged), but g = dh ⊙ (1 − h²) falls
        // below float's smallest normal 1.1755e-38 wherever h² > 0.02: subnormal, or zero with the flush
        var flushed = LstmSequenceTests.BiasGradient(cell, cell.BiasIh, x, 1.2e-38, flush: true);
        Assert.All(flushed, v => Assert.True(v == 0 || Math.Abs(v) >= 1.1754943508222875e-38, $"subnormal {v} with the flush on"));
        Assert.Contains(flushed, v => v == 0);
        var kept = LstmSequenceTests.BiasGradient(cell, cell.BiasIh, x, 1.2e-38, flush: false);
        Assert.Contains(kept, v => v != 0 && Math.Abs(v) < 1.1754943508222875e-38);
    }

    [Fact]
    public void AStepRecordsOneNodeForTheWholeSequence()
    {
        var cell = new RnnCell(3, 4, rng: new RandomGenerator(80));
        var x = Tensor.Normal([9, 2, 3], 0, 1, new RandomGenerator(81), DType.Float32);
        var (y, _) = Recurrence.Run(cell, x);
        Assert.Equal("RnnSequenceBackward", y.GradFn!.Name);
        // the parameters hang directly off that one node
        bool found = false;
        foreach (var input in y.GradFn.Inputs) found |= ReferenceEquals(input, cell.WeightHh);
        Assert.True(found, "W_hh is an input of the sequence node");
    }
}
