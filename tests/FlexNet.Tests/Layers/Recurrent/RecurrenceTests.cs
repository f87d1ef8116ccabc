using FlexNet.Layers.Recurrent;
using FlexNet.Tests.Testing;
using FlexNet.Tensors;

namespace FlexNet.Tests.Layers.Recurrent;

/// <summary>The time loop (direction, last step, initial state, errors) and Bidirectional alignment.</summary>
public class RecurrenceTests
{
    private static Tensor Flip(Tensor x)
    {
        int steps = x.Shape[0];
        var parts = new Tensor[steps];
        for (int t = 0; t < steps; t++) parts[t] = x.Slice(0, steps - 1 - t, 1);
        return Tensor.Concat(parts, 0);
    }

    private static LstmCell Lstm(ulong seed, int hidden = 5) => new(3, hidden, dtype: DType.Float64, rng: new RandomGenerator(seed));

    [Fact]
    public void ReverseRunEqualsForwardRunOnTheFlippedSequenceRealigned()
    {
        var cell = Lstm(1);
        var x = Tensor.Normal([6, 2, 3], 0, 1, new RandomGenerator(2), DType.Float64);
        var (yr, fr) = Recurrence.Run(cell, x, reverse: true);
        var (yf, ff) = Recurrence.Run(cell, Flip(x));
        T.Close(Flip(yf).ToDoubleArray(), yr.ToDoubleArray(), 0, 0, "reverse outputs aligned to input steps");
        T.Close(ff.H.ToDoubleArray(), fr.H.ToDoubleArray(), 0, 0, "final h");
        T.Close(ff["c"].ToDoubleArray(), fr["c"].ToDoubleArray(), 0, 0, "final c");
        Assert.Equal(-1, fr.Time);
        Assert.Equal(6, ff.Time);
        // the last processed step of a reversed run is input step 0
        var (last, _) = Recurrence.Run(cell, x, reverse: true, returnSequences: false);
        T.Close(yr.Slice(0, 0, 1).ToDoubleArray(), last.ToDoubleArray(), 0, 0, "reverse last step");
        Assert.Equal([2, 5], last.ShapeArray);
    }

    [Fact]
    public void LastStepEqualsTheFinalOutputAndFinalState()
    {
        var cell = new GruCell(3, 4, DType.Float64, new RandomGenerator(3));
        var x = Tensor.Normal([4, 2, 3], 0, 1, new RandomGenerator(4), DType.Float64);
        var (y, f) = Recurrence.Run(cell, x);
        var (last, f2) = Recurrence.Run(cell, x, returnSequences: false);
        T.Close(y.Slice(0, 3, 1).ToDoubleArray(), last.ToDoubleArray(), 0, 0, "last step");
        T.Close(f.H.ToDoubleArray(), last.ToDoubleArray(), 0, 0, "final h = last output");
        T.Close(f.H.ToDoubleArray(), f2.H.ToDoubleArray(), 0, 0, "same final state");
    }

    [Fact]
    public void InitialStateIsUsedAndCheckedWithNamedErrors()
    {
        var cell = Lstm(5, 4);
        var x = Tensor.Normal([3, 2, 3], 0, 1, new RandomGenerator(6), DType.Float64);
        var h0 = Tensor.Normal([2, 4], 0, 1, new RandomGenerator(7), DType.Float64);
        var c0 = Tensor.Normal([2, 4], 0, 1, new RandomGenerator(8), DType.Float64);
        var (y0, _) = Recurrence.Run(cell, x);
        var (y1, _) = Recurrence.Run(cell, x, new CellState(("h", h0), ("c", c0)));
        Assert.NotEqual(y0.ToDoubleArray(), y1.ToDoubleArray());
        // first step by hand from h0, c0
        var (s1, _) = cell.Step(x.Slice(0, 0, 1).Squeeze(0), new CellState(("h", h0), ("c", c0)));
        T.Close(s1.ToDoubleArray(), y1.Slice(0, 0, 1).ToDoubleArray(), 0, 0, "first step from the initial state");

        var e1 = Assert.Throws<ShapeMismatchException>(() => Recurrence.Run(cell, x, new CellState(("h", h0))));
        Assert.Contains("'c'", e1.Message);
        var e2 = Assert.Throws<ShapeMismatchException>(() => Recurrence.Run(cell, x, new CellState(("h", h0), ("c", Tensor.Zeros([3, 4], DType.Float64)))));
        Assert.Contains("[3, 4]", e2.Message);
        Assert.Contains("[2, 4]", e2.Message);
        var e3 = Assert.Throws<ShapeMismatchException>(() => Recurrence.Run(cell, Tensor.Zeros([3, 2, 5], DType.Float64)));
        Assert.Contains("[3, 2, 5]", e3.Message);
        Assert.Contains("LstmCell", e3.Message);
        var e4 = Assert.Throws<ArgumentException>(() => Recurrence.Run(cell, Tensor.Zeros([3, 2, 3])));
        Assert.Contains("Float32", e4.Message);
        var e5 = Assert.Throws<ArgumentOutOfRangeException>(() => new GruCell(3, 0));
        Assert.Contains("Received: 0", e5.Message);
    }

    [Fact]
    public void BidirectionalHalvesAreAlignedWithTheInputSteps()
    {
        var fw = Lstm(10);
        var bw = Lstm(11, 4);
        var bi = new Bidirectional(fw, bw);
        Assert.Equal(9, bi.OutputSize);
        Assert.Equal(fw.Parameters.Count + bw.Parameters.Count, bi.Parameters.Count);
        var x = Tensor.Normal([5, 2, 3], 0, 1, new RandomGenerator(12), DType.Float64);
        var (y, sf, sb) = bi.Run(x);
        Assert.Equal([5, 2, 9], y.ShapeArray);
        var (yf, _) = Recurrence.Run(fw, x);
        var (yb, _) = Recurrence.Run(bw, Flip(x));
        T.Close(yf.ToDoubleArray(), y.Slice(2, 0, 5).ToDoubleArray(), 0, 0, "forward half");
        T.Close(Flip(yb).ToDoubleArray(), y.Slice(2, 5, 4).ToDoubleArray(), 0, 0, "backward half re-reversed");

        // causality: changing x_k leaves forward outputs before k and backward outputs after k unchanged
        const int k = 2;
        var x2 = x.Clone();
        for (int n = 0; n < 2; n++) for (int i = 0; i < 3; i++) x2[k, n, i] += 1;
        var (y2, _, _) = bi.Run(x2);
        for (int t = 0; t < 5; t++)
        {
            bool fwSame = Same(y, y2, t, 0, 5), bwSame = Same(y, y2, t, 5, 4);
            Assert.Equal(t < k, fwSame);
            Assert.Equal(t > k, bwSame);
        }

        var (last, _, _) = bi.Run(x, returnSequences: false);
        T.Close(yf.Slice(0, 4, 1).ToDoubleArray(), last.Slice(1, 0, 5).ToDoubleArray(), 0, 0, "forward last = step T-1");
        T.Close(y.Slice(0, 0, 1).Slice(2, 5, 4).ToDoubleArray(), last.Slice(1, 5, 4).ToDoubleArray(), 0, 0, "backward last = step 0");
        T.Close(last.Slice(1, 5, 4).ToDoubleArray(), sb.H.ToDoubleArray(), 0, 0, "backward final state");
        Assert.Throws<ShapeMismatchException>(() => new Bidirectional(fw, new GruCell(4, 2)));
    }

    private static bool Same(Tensor a, Tensor b, int t, int start, int length) =>
        a.Slice(0, t, 1).Slice(2, start, length).ToDoubleArray().SequenceEqual(b.Slice(0, t, 1).Slice(2, start, length).ToDoubleArray());

    [Fact]
    public void GradientsFlowThroughBidirectionalAndLastStep()
    {
        var bi = new Bidirectional(new GruCell(2, 3, DType.Float64, new RandomGenerator(20)), new RnnCell(2, 2, dtype: DType.Float64, rng: new RandomGenerator(21)));
        var inputs = new List<Tensor> { T.Rand(22, 3, 2, 2) };
        inputs.AddRange(bi.Parameters);
        T.GradOk("bidirectional sequences", ins => bi.Run(ins[0]).output, inputs.ToArray());
        T.GradOk("bidirectional last", ins => bi.Run(ins[0], returnSequences: false).output, inputs.ToArray());
        foreach (IRecurrentCell cell in new IRecurrentCell[] { Lstm(25, 3), new GruCell(3, 3, DType.Float64, new RandomGenerator(26)) })
        {
            var zero = cell.InitialState(2, DType.Float64);
            var ins = new List<Tensor> { T.Rand(27, 3, 2, 3) };
            foreach (var v in zero.Values) ins.Add(T.Rand(28 + (ulong)ins.Count, 2, 3));
            ins.AddRange(cell.Parameters);
            foreach (bool reverse in new[] { false, true })
                T.GradOk($"{cell} with initial state, reverse={reverse}", a =>
                {
                    var s0 = zero.Next(0, a.Skip(1).Take(zero.Names.Count).ToArray());
                    var (y, fin) = Recurrence.Run(cell, a[0], s0, reverse);
                    return Tensor.Concat([y.Reshape(-1), .. fin.Values.Select(v => v.Reshape(-1))], 0);
                }, ins.ToArray());
        }
        var lstm = Lstm(23, 3);
        var li = new List<Tensor> { T.Rand(24, 4, 2, 3) };
        li.AddRange(lstm.Parameters);
        T.GradOk("lstm last step", ins => Recurrence.Run(lstm, ins[0], returnSequences: false).output, li.ToArray());
    }

    [Fact]
    public void ParameterGradientsDoNotDependOnWhetherTheInputNeedsOne()
    {
        var cell = Lstm(30, 4);
        var x = Tensor.Normal([4, 2, 3], 0, 1, new RandomGenerator(31), DType.Float64);
        var g = Tensor.Normal([4, 2, 4], 0, 1, new RandomGenerator(32), DType.Float64);
        (Recurrence.Run(cell, x).output * g).Sum().Backward();
        var first = cell.Parameters.Select(p => p.Grad!.ToDoubleArray()).ToArray();
        foreach (var p in cell.Parameters) p.Grad = null;
        var xg = x.Clone().RequireGrad();
        (Recurrence.Run(cell, xg).output * g).Sum().Backward();
        for (int i = 0; i < first.Length; i++)
            T.Close(first[i], cell.Parameters[i].Grad!.ToDoubleArray(), 1e-14, 1e-14, cell.Parameters[i].Name!);
        Assert.NotNull(xg.Grad);
    }

    [Theory]
    [InlineData("lstm")]
    [InlineData("gru")]
    [InlineData("scrn")]
    [InlineData("clockwork")]
    public void RunAndHandSteppingGiveTheSameGradients(string kind)
    {
        // Run projects all inputs at once and unbinds the steps; stepping by hand projects each step on its own
        IRecurrentCell cell = kind switch
        {
            "lstm" => Lstm(40, 4),
            "gru" => new GruCell(3, 4, DType.Float64, new RandomGenerator(41)),
            "scrn" => new ScrnCell(3, 4, dtype: DType.Float64, rng: new RandomGenerator(42)),
            _ => new ClockworkCell(3, 4, [1, 2], dtype: DType.Float64, rng: new RandomGenerator(43)),
        };
        var x = Tensor.Normal([5, 2, 3], 0, 1, new RandomGenerator(44), DType.Float64);
        var g = Tensor.Normal([5, 2, 4], 0, 1, new RandomGenerator(45), DType.Float64);
        (Recurrence.Run(cell, x).output * g).Sum().Backward();
        var viaRun = cell.Parameters.Select(p => p.Grad!.ToDoubleArray()).ToArray();
        foreach (var p in cell.Parameters) p.Grad = null;
        var s = cell.InitialState(2, DType.Float64);
        var loss = Tensor.Scalar(0, DType.Float64);
        for (int t = 0; t < 5; t++)
        {
            (var y, s) = cell.Step(x.Slice(0, t, 1).Squeeze(0), s);
            loss = loss + (y * g.Slice(0, t, 1).Squeeze(0)).Sum();
        }
        loss.Backward();
        for (int i = 0; i < viaRun.Length; i++)
            T.Close(cell.Parameters[i].Grad!.ToDoubleArray(), viaRun[i], 1e-12, 1e-12, $"{kind} {cell.Parameters[i].Name}");
    }

    [Fact]
    public void BatchFirstViewsGiveTheSameResult()
    {
        var cell = Lstm(50, 4);
        var xbf = Tensor.Normal([2, 5, 3], 0, 1, new RandomGenerator(51), DType.Float64); // [N, T, I]
        var view = xbf.Permute(1, 0, 2);
        Assert.False(view.IsContiguous);
        var (y1, _) = Recurrence.Run(cell, view);
        var (y2, _) = Recurrence.Run(cell, view.Contiguous());
        T.Close(y2.ToDoubleArray(), y1.ToDoubleArray(), 0, 0, "non-contiguous input");
    }

    [Fact]
    public void RecurrentProductPassesGradientCheck()
    {
        T.GradOk("h·Wᵀ", x => RecurrentProduct.Apply(x[0], x[1]), T.Rand(60, 3, 4), T.Rand(61, 7, 4));
        var w = Tensor.Normal([7, 4], 0, 1, new RandomGenerator(62), DType.Float64);
        T.GradOk("h·Wᵀ (constant W)", x => RecurrentProduct.Apply(x[0], w), T.Rand(63, 3, 4));
    }

    [Fact]
    public void CellStateIsAValue()
    {
        var h = Tensor.Zeros([1, 2]);
        var s = new CellState(("h", h), ("c", h));
        var s2 = s.With("c", Tensor.Ones([1, 2])).WithTime(4);
        Assert.Equal(0, s.Time);
        Assert.Equal(4, s2.Time);
        Assert.Same(h, s["c"]);
        Assert.Equal(1.0, s2["c"][0, 1]);
        var e = Assert.Throws<KeyNotFoundException>(() => s["pre"]);
        Assert.Contains("h, c", e.Message);
        Assert.Throws<ArgumentException>(() => new CellState(("h", h), ("h", h)));
        Assert.Equal("CellState(t=0, h [1, 2], c [1, 2])", s.ToString());
    }
}
