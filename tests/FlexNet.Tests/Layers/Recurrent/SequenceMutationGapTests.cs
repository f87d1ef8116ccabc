using FlexNet.Autodiff;
using FlexNet.Layers.Recurrent;
using FlexNet.Tests.Testing;
using FlexNet.Tensors;

namespace FlexNet.Tests.Layers.Recurrent;

/// <summary>Survivors of the session-10 Layers/Recurrent mutation run (80.1 %) in the time loop and the fused sequences:
/// <see cref="Recurrence.Run"/>'s argument checks and its final state on the step-loop path, <c>TimeSteps.Unbind</c>,
/// the SCRN cell's checks with their whole messages, and the fused Elman and LSTM sequences' backward when the pool hands
/// out dirty buffers, when both biases are results of other ops, when a gradient buffer is recycled or laid out
/// transposed, and when the flush of subnormal gradients is on or off.</summary>
public sealed class SequenceMutationGapTests
{
    private static Tensor R(int seed, params int[] shape) => Tensor.Normal(shape, 0, 0.5, new RandomGenerator((ulong)seed), DType.Float64);

    // ---- Recurrence.Run ----

    [Fact]
    public void RunNamesANullCellOrInput()
    {
        var cell = new GruCell(3, 2, DType.Float64, new RandomGenerator(1));
        Assert.Equal("cell", Assert.Throws<ArgumentNullException>(() => Recurrence.Run(null!, R(1, 2, 1, 3))).ParamName);
        Assert.Equal("x", Assert.Throws<ArgumentNullException>(() => Recurrence.Run(cell, null!)).ParamName);
    }

    [Fact]
    public void RunRejectsEachBadInputShapeWithTheWholeMessage()
    {
        foreach (IRecurrentCell cell in new IRecurrentCell[]
                 {
                     new GruCell(3, 2, DType.Float64, new RandomGenerator(1)), new RnnCell(3, 2, dtype: DType.Float64),
                     new LstmCell(3, 2, dtype: DType.Float64),
                 })
            foreach (var shape in new[] { new[] { 2, 3 }, [0, 1, 3], [2, 1, 4], [2, 1, 3, 1], [3] })
            {
                var e = Assert.Throws<ShapeMismatchException>(() => Recurrence.Run(cell, Tensor.Zeros(shape, DType.Float64)));
                Assert.Equal($"Recurrence.Run({cell}): input of shape [{string.Join(", ", shape)}] is not [T, N, 3] with T >= 1.", e.Message);
            }
    }

    [Fact]
    public void RunChecksTheInitialStateByNameShapeAndDType()
    {
        var gru = new GruCell(3, 2, DType.Float64, new RandomGenerator(1));
        var lstm = new LstmCell(3, 2, dtype: DType.Float64);
        var x = R(2, 4, 5, 3);
        var lacks = Assert.Throws<ShapeMismatchException>(() => Recurrence.Run(lstm, x, new CellState(("h", Tensor.Zeros([5, 2], DType.Float64)))));
        Assert.Equal("Recurrence.Run(LstmCell(3 => 2)): the initial state lacks 'c'; the cell needs [h, c].", lacks.Message);
        foreach (var (shape, dtype) in new[] { (new[] { 4, 2 }, DType.Float64), ([5, 3], DType.Float64), ([5, 2, 1], DType.Float64), ([10], DType.Float64), ([5, 2], DType.Float32) })
        {
            var e = Assert.Throws<ShapeMismatchException>(() => Recurrence.Run(gru, x, new CellState(("h", Tensor.Zeros(shape, dtype)))));
            Assert.Equal($"Recurrence.Run(GruCell(3 => 2)): initial 'h' has shape [{string.Join(", ", shape)}] ({dtype}); expected [5, 2] (Float64).", e.Message);
        }
        // a fitting initial state is used: the first step reads it (an independent step by the cell itself)
        var h0 = R(3, 5, 2);
        var (y, _) = Recurrence.Run(gru, x, new CellState(("h", h0)));
        var (y0, _) = gru.Step(x.Slice(0, 0, 1).Squeeze(0), new CellState(("h", h0)));
        T.Close(y0.ToDoubleArray(), y.Slice(0, 0, 1).ToDoubleArray(), 1e-14, 1e-14, "step 0 from the given h0");
    }

    /// <summary>The step loop (a cell without a fused sequence: GRU) against the cell's own steps taken by hand, forward
    /// and reversed: every output, the last processed output when only it is asked for, and the final state's time.</summary>
    [Fact]
    public void TheStepLoopWalksForwardOrBackwardAndEndsAtTheNextIndex()
    {
        var gru = new GruCell(3, 4, DType.Float64, new RandomGenerator(5));
        const int steps = 5;
        var x = R(6, steps, 2, 3);
        foreach (bool reverse in new[] { false, true })
        {
            var want = new double[steps][];
            var state = gru.InitialState(2, DType.Float64);
            for (int k = 0; k < steps; k++)
            {
                int t = reverse ? steps - 1 - k : k;
                (var yt, state) = gru.Step(x.Slice(0, t, 1).Squeeze(0), state);
                want[t] = yt.ToDoubleArray();
            }
            var (all, final) = Recurrence.Run(gru, x, reverse: reverse);
            Assert.Equal([steps, 2, 4], all.ShapeArray);
            for (int t = 0; t < steps; t++) T.Close(want[t], all.Slice(0, t, 1).ToDoubleArray(), 1e-14, 1e-14, $"reverse={reverse} step {t}");
            Assert.Equal(reverse ? -1 : steps, final.Time);
            T.Close(want[reverse ? 0 : steps - 1], final.H.ToDoubleArray(), 1e-14, 1e-14, $"reverse={reverse} final h");
            var (last, lastState) = Recurrence.Run(gru, x, reverse: reverse, returnSequences: false);
            Assert.Equal([2, 4], last.ShapeArray);
            T.Close(want[reverse ? 0 : steps - 1], last.ToDoubleArray(), 1e-14, 1e-14, $"reverse={reverse} last output");
            Assert.Equal(reverse ? -1 : steps, lastState.Time);
        }
        // the fused paths end at the same index
        foreach (IRecurrentCell fused in new IRecurrentCell[] { new RnnCell(3, 4, dtype: DType.Float64), new LstmCell(3, 4, dtype: DType.Float64) })
        {
            Assert.Equal(steps, Recurrence.Run(fused, x).final.Time);
            Assert.Equal(-1, Recurrence.Run(fused, x, reverse: true).final.Time);
        }
    }

    // ---- TimeSteps.Unbind ----

    [Fact]
    public void UnbindRejectsAScalarAndSplitsAVectorIntoScalars()
    {
        var e = Assert.Throws<ShapeMismatchException>(() => TimeSteps.Unbind(Tensor.Scalar(2, DType.Float64)));
        Assert.Equal("TimeSteps.Unbind: a [T, ...] tensor is needed; got shape [].", e.Message);
        var v = Tensor.FromArray(new double[] { 1.5, -2, 7 }, [3]);
        var steps = TimeSteps.Unbind(v);
        Assert.Equal(3, steps.Length);
        for (int t = 0; t < 3; t++)
        {
            Assert.Equal(0, steps[t].Rank);
            Assert.Equal(v.ToDoubleArray()[t], steps[t].ToDoubleArray()[0]);
        }
        // recorded: each scalar step's gradient lands at its own index
        var w = Tensor.FromArray(new double[] { 1.5, -2, 7 }, [3]).RequireGrad();
        var ws = TimeSteps.Unbind(w);
        (ws[0] * 2.0 + ws[2] * 5.0).Backward();
        Assert.Equal([2.0, 0.0, 5.0], w.Grad!.ToDoubleArray());
    }

    [Fact]
    public void UnbindRecordsTheStepsOnlyWhenTheSequenceIsRecorded()
    {
        var plain = R(1, 3, 2, 2);
        Assert.All(TimeSteps.Unbind(plain), s => Assert.False(s.RequiresGrad));
        var leaf = R(1, 3, 2, 2).RequireGrad();
        using (Autograd.NoGrad()) Assert.All(TimeSteps.Unbind(leaf), s => Assert.False(s.RequiresGrad));
        var recorded = TimeSteps.Unbind(leaf);
        Assert.All(recorded, s => Assert.True(s.RequiresGrad));
        // two steps used twice each: the gradient sums per step and reaches the sequence once
        var g = R(2, 2, 2);
        ((recorded[0] + recorded[2] * 3.0 + recorded[0]) * g).Sum().Backward();
        var want = new double[12];
        var gd = g.ToDoubleArray();
        for (int j = 0; j < 4; j++)
        {
            want[j] = 2 * gd[j];
            want[8 + j] = 3 * gd[j];
        }
        T.Close(want, leaf.Grad!.ToDoubleArray(), 1e-15, 0, "dL/dx per step");
    }

    // ---- ScrnCell ----

    [Fact]
    public void ScrnCellChecksItsArgumentsWithTheWholeMessage()
    {
        foreach (int bad in new[] { 0, -1 })
        {
            var e = Assert.Throws<ArgumentOutOfRangeException>(() => new ScrnCell(bad, 3));
            Assert.Equal($"ScrnCell: inputSize must be positive. Received: {bad} (Parameter 'inputSize')", e.Message);
            e = Assert.Throws<ArgumentOutOfRangeException>(() => new ScrnCell(3, bad));
            Assert.Equal($"ScrnCell: hiddenSize must be positive. Received: {bad} (Parameter 'hiddenSize')", e.Message);
        }
        var d = Assert.Throws<ArgumentException>(() => new ScrnCell(3, 2, dtype: DType.Int32));
        Assert.Equal("ScrnCell: dtype must be Float32 or Float64. Received: Int32", d.Message);
        var m = Assert.Throws<ArgumentException>(() => new ScrnCell(3, 2, RateMode.Matrix));
        Assert.Equal("ScrnCell: rate must be Vector, Uniform or Log. Received: Matrix (Parameter 'rate')", m.Message);
        Assert.Equal("ScrnCell(4 => 6, Log, Relu)", new ScrnCell(4, 6, RateMode.Log, RecurrentActivation.Relu).ToString());
        Assert.Equal("ScrnCell(1 => 1, Vector, Tanh)", new ScrnCell(1, 1).ToString());
    }

    [Fact]
    public void ScrnCellChecksItsInputProjectionAndStateWithTheWholeMessage()
    {
        var cell = new ScrnCell(3, 4, dtype: DType.Float64, rng: new RandomGenerator(2));
        var e = Assert.Throws<ShapeMismatchException>(() => cell.ProjectInput(Tensor.Zeros([2, 5], DType.Float64)));
        Assert.Equal("ScrnCell: input of shape [2, 5] does not end in the input size 3.", e.Message);
        var dt = Assert.Throws<ArgumentException>(() => cell.ProjectInput(Tensor.Zeros([2, 3], DType.Float32)));
        Assert.Equal("ScrnCell: input dtype Float32 differs from the parameters' dtype Float64; convert with To(Float64).", dt.Message);
        var s = cell.InitialState(2, DType.Float64);
        Assert.Equal(["h", "s"], s.Names);
        var good = Tensor.Zeros([2, 8], DType.Float64);
        Assert.Equal([2, 4], cell.StepProjected(good, s).output.ShapeArray);
        foreach (var bad in new[] { Tensor.Zeros([2, 9], DType.Float64), Tensor.Zeros([2, 4], DType.Float64), Tensor.Zeros([8], DType.Float64) })
        {
            var p = Assert.Throws<ShapeMismatchException>(() => cell.StepProjected(bad, s));
            Assert.Equal($"ScrnCell: projected input has shape [{string.Join(", ", bad.ShapeArray)}]; expected [N, 8] (ProjectInput of one step).", p.Message);
        }
        foreach (var name in new[] { "h", "s" })
            foreach (var badShape in new[] { new[] { 3, 4 }, [2, 5], [8] })
            {
                var st = Assert.Throws<ShapeMismatchException>(() => cell.StepProjected(good, s.With(name, Tensor.Zeros(badShape, DType.Float64))));
                Assert.Equal($"ScrnCell: state '{name}' has shape [{string.Join(", ", badShape)}]; expected [2, 4].", st.Message);
            }
    }

    // ---- the fused Elman and LSTM sequences' backward ----

    private const int Ts = 4, Ns = 3, Is = 5, Hs = 6;

    private static Tensor[] RnnArgs() => [R(1, Ts, Ns, Is), R(2, Hs, Is), R(3, Hs, Hs), R(4, Hs), R(5, Hs), R(6, Ns, Hs)];

    private static Tensor[] LstmArgs() => [R(11, Ts, Ns, Is), R(12, 4 * Hs, Is), R(13, 4 * Hs, Hs), R(14, 4 * Hs), R(15, 4 * Hs), R(16, Ns, Hs), R(17, Ns, Hs)];

    private static Tensor Rnn(Tensor[] a, RecurrentActivation act, bool reverse) =>
        RnnSequence.Apply(a[0], a[1], a[2], a[3], a[4], a[5], act, reverse);

    private static Tensor Lstm(Tensor[] a, bool reverse) => LstmSequence.Apply(a[0], a[1], a[2], a[3], a[4], a[5], a[6], reverse);

    /// <summary><paramref name="a"/> with every tensor marked as a leaf that needs a gradient.</summary>
    private static Tensor[] Leaves(Tensor[] a)
    {
        foreach (var t in a) t.RequireGrad();
        return a;
    }

    /// <summary>Fills the pool of this thread with NaN buffers of every small size, so that a buffer rented in the next
    /// scope holds NaN wherever the code reads it before writing it.</summary>
    private static void PoisonPool()
    {
        using var scope = TensorScope.Begin();
        for (int bits = 4; bits <= 12; bits++)
            for (int j = 0; j < 8; j++)
            {
                Tensor.Empty([1 << bits], DType.Float64).Fill(double.NaN);
                Tensor.Empty([(1 << bits) - 1], DType.Float64).Fill(double.NaN);
            }
    }

    private static double[][] Grads(Func<Tensor[]> args, Func<Tensor[], Tensor> f, Tensor g, bool dirty)
    {
        var a = Leaves(args());
        if (dirty)
        {
            PoisonPool();
            using var scope = TensorScope.Begin();
            (f(a) * g).Sum().Backward();
        }
        else (f(a) * g).Sum().Backward();
        var r = new double[a.Length][];
        for (int k = 0; k < a.Length; k++) r[k] = a[k].Grad!.ToDoubleArray();
        return r;
    }

    /// <summary>The gradients of every input of <paramref name="f"/> are finite outside a scope and bit for bit the same
    /// inside a scope whose pool holds NaN buffers.</summary>
    private static void AssertCleanAndDirtyAgree(Func<Tensor[]> args, Func<Tensor[], Tensor> f, Tensor g, string what)
    {
        var clean = Grads(args, f, g, dirty: false);
        var dirty = Grads(args, f, g, dirty: true);
        for (int k = 0; k < clean.Length; k++)
        {
            Assert.All(clean[k], v => Assert.True(double.IsFinite(v)));
            T.Close(clean[k], dirty[k], 0, 0, $"{what} input {k}");
        }
    }

    [Theory]
    [InlineData(RecurrentActivation.Linear, false)]
    [InlineData(RecurrentActivation.Linear, true)]
    [InlineData(RecurrentActivation.Tanh, false)]
    [InlineData(RecurrentActivation.Relu, true)]
    public void ElmanBackwardWritesEveryBufferItReadsWhenThePoolIsDirty(RecurrentActivation act, bool reverse)
    {
        AssertCleanAndDirtyAgree(RnnArgs, a => Rnn(a, act, reverse), R(9, Ts, Ns, Hs), $"{act} reverse={reverse}");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void LstmBackwardWritesEveryBufferItReadsWhenThePoolIsDirty(bool reverse)
    {
        // the op returns h for every step and then the last c
        AssertCleanAndDirtyAgree(LstmArgs, a => Lstm(a, reverse), R(19, Ts + 1, Ns, Hs), $"reverse={reverse}");
    }

    /// <summary>Both biases as results of other ops, each also used once more: their gradients are pending sums that
    /// the other uses add to in place, so the sequence must not hand the two one shared buffer.</summary>
    [Fact]
    public void ElmanBiasGradientsAreSeparateBuffersWhenTheBiasesAreResultsOfOps()
    {
        var g = R(9, Ts, Ns, Hs);
        var baseline = Leaves(RnnArgs());
        (Rnn(baseline, RecurrentActivation.Tanh, false) * g).Sum().Backward();
        double[] cIh = [1, 2, 3, 4, 5, 6], cHh = [-3, 0.5, 7, 1, -1, 2];
        foreach (bool extraFirst in new[] { false, true })
        {
            var a = Leaves(RnnArgs());
            var used = (Tensor[])a.Clone();
            used[3] = a[3] * 1.0;
            used[4] = a[4] * 1.0;
            var y = Rnn(used, RecurrentActivation.Tanh, false);
            var extra = (used[3] * Tensor.FromArray(cIh, [Hs])).Sum() + (used[4] * Tensor.FromArray(cHh, [Hs])).Sum();
            // the walk's order follows the operands: with the extra uses first, their gradients are added after the
            // sequence's node ran (into the pending gradients it handed on); second, before
            (extraFirst ? extra + (y * g).Sum() : (y * g).Sum() + extra).Backward();
            var wantIh = baseline[3].Grad!.ToDoubleArray();
            var wantHh = baseline[4].Grad!.ToDoubleArray();
            for (int j = 0; j < Hs; j++)
            {
                wantIh[j] += cIh[j];
                wantHh[j] += cHh[j];
            }
            T.Close(wantIh, a[3].Grad!.ToDoubleArray(), 1e-14, 1e-14, $"b_ih (extra uses first: {extraFirst})");
            T.Close(wantHh, a[4].Grad!.ToDoubleArray(), 1e-14, 1e-14, $"b_hh (extra uses first: {extraFirst})");
        }
    }

    /// <summary>A weight gradient recycled as a spare buffer (what the trainer does between steps) holds the previous
    /// step's values; the next backward must overwrite them, not add to them.</summary>
    [Fact]
    public void ARecycledWeightGradientIsOverwrittenNotAddedTo()
    {
        static void Check(Tensor[] a, Func<Tensor[], Tensor> f, Tensor g, string what)
        {
            (f(a) * g).Sum().Backward();
            var once = new[] { a[1].Grad!.ToDoubleArray(), a[2].Grad!.ToDoubleArray() };
            a[1].RecycleGrad();
            a[2].RecycleGrad();
            Assert.Null(a[1].Grad);
            (f(a) * g).Sum().Backward();
            T.Close(once[0], a[1].Grad!.ToDoubleArray(), 0, 0, $"{what} W_ih after a recycle");
            T.Close(once[1], a[2].Grad!.ToDoubleArray(), 0, 0, $"{what} W_hh after a recycle");
        }
        Check(Leaves(RnnArgs()), a => Rnn(a, RecurrentActivation.Tanh, false), R(9, Ts, Ns, Hs), "RNN");
        Check(Leaves(LstmArgs()), a => Lstm(a, false), R(19, Ts + 1, Ns, Hs), "LSTM");
    }

    /// <summary>A gradient the user set that is laid out transposed is added to element by element, not written as if
    /// it were contiguous.</summary>
    [Fact]
    public void AWeightGradientLaidOutTransposedIsAddedToByIndex()
    {
        var g = R(9, Ts, Ns, Hs);
        var fresh = Leaves(RnnArgs());
        (Rnn(fresh, RecurrentActivation.Tanh, false) * g).Sum().Backward();

        var a = Leaves(RnnArgs());
        var startIh = R(21, Is, Hs).Transpose(0, 1); // [H, I], not contiguous
        var startHh = R(22, Hs, Hs).Transpose(0, 1);
        Assert.False(startIh.IsContiguous);
        double[] s1 = startIh.ToDoubleArray(), s2 = startHh.ToDoubleArray();
        a[1].Grad = startIh;
        a[2].Grad = startHh;
        (Rnn(a, RecurrentActivation.Tanh, false) * g).Sum().Backward();
        var want1 = fresh[1].Grad!.ToDoubleArray();
        var want2 = fresh[2].Grad!.ToDoubleArray();
        for (int j = 0; j < want1.Length; j++) want1[j] += s1[j];
        for (int j = 0; j < want2.Length; j++) want2[j] += s2[j];
        T.Close(want1, a[1].Grad!.ToDoubleArray(), 1e-14, 1e-14, "W_ih onto a transposed gradient");
        T.Close(want2, a[2].Grad!.ToDoubleArray(), 1e-14, 1e-14, "W_hh onto a transposed gradient");
    }
}

/// <summary>The fused Elman sequence's flush of subnormal gradients (process-wide switch: the non-parallel "Training"
/// collection, like <see cref="FlexNet.Tests.Autodiff.SubnormalFlushTests"/>).</summary>
[Collection("Training")]
public sealed class RnnSequenceFlushTests
{
    [Fact]
    public void SubnormalGradientsAreFlushedOnlyWhenTheSwitchIsOn()
    {
        const int steps = 3, n = 2, inF = 2, hs = 20;
        var cell = new RnnCell(inF, hs, RecurrentActivation.Sigmoid, rng: new RandomGenerator(60));
        var x = Tensor.Normal([steps, n, inF], 0, 1, new RandomGenerator(61), DType.Float32);
        // dL/dh_T = 2e-38 is normal, every g_t = dh ⊙ h(1 − h) ≤ dh / 4 it makes is below float's smallest normal
        var flushed = LstmSequenceTests.BiasGradient(cell, cell.BiasIh, x, 2e-38, flush: true);
        Assert.All(flushed, v => Assert.Equal(0.0, v));
        var kept = LstmSequenceTests.BiasGradient(cell, cell.BiasIh, x, 2e-38, flush: false);
        Assert.Contains(kept, v => v != 0 && Math.Abs(v) < 1.1754943508222875e-38);
        // a subnormal seed is kept as it is when the switch is off (1e-39 · h(1 − h) at the last step stays non-zero)
        var tiny = LstmSequenceTests.BiasGradient(cell, cell.BiasIh, x, 1e-39, flush: false);
        Assert.Contains(tiny, v => v != 0);
        Assert.All(LstmSequenceTests.BiasGradient(cell, cell.BiasIh, x, 1e-39, flush: true), v => Assert.Equal(0.0, v));
    }
}
