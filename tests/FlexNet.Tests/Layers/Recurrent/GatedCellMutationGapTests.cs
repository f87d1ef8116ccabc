using FlexNet.Autodiff;
using FlexNet.Layers.Recurrent;
using FlexNet.Tests.Testing;
using FlexNet.Tensors;

namespace FlexNet.Tests.Layers.Recurrent;

/// <summary>Gaps of the tenth Layers/Recurrent mutation run in the gated cells (GRU, LSTM with and without peepholes),
/// their fused gate ops, Bidirectional and CellState: the initialisation of fresh cells (replayed from a second generator
/// of the same seed), the argument and shape checks with their whole messages, the descriptions and the time index of
/// the next state, when the fused ops record themselves (each input alone, none, under NoGrad), and the gradients the
/// fused LSTM op hands to inputs that are themselves results of ops.</summary>
public sealed class GatedCellMutationGapTests
{
    private const int I = 20, H = 15;

    private static Tensor R(int seed, params int[] shape) => Tensor.Normal(shape, 0, 0.7, new RandomGenerator((ulong)seed), DType.Float64);

    // ---- fresh parameters ----

    /// <summary>A fresh cell and its parameters as the docs give them: name and shape in Parameters order, every one
    /// drawn from U(−1/√H, 1/√H) in that order.</summary>
    private static (IRecurrentCell Cell, (string Name, int[] Shape)[] Spec) Fresh(string kind, DType dtype, ulong seed)
    {
        var rng = new RandomGenerator(seed);
        static (string, int[])[] torch(int gates) =>
            [("weight_ih_l0", [gates * H, I]), ("weight_hh_l0", [gates * H, H]), ("bias_ih_l0", [gates * H]), ("bias_hh_l0", [gates * H])];
        return kind switch
        {
            "gru" => (new GruCell(I, H, dtype, rng), torch(3)),
            "lstm" => (new LstmCell(I, H, false, dtype, rng), torch(4)),
            _ => (new LstmCell(I, H, true, dtype, rng), [.. torch(4), ("ci", [H]), ("cf", [H]), ("co", [H])]),
        };
    }

    public static TheoryData<string, DType> FreshKinds()
    {
        var data = new TheoryData<string, DType>();
        foreach (var kind in new[] { "gru", "lstm", "lstm-peepholes" })
            foreach (var dtype in new[] { DType.Float64, DType.Float32 })
                data.Add(kind, dtype);
        return data;
    }

    [Theory]
    [MemberData(nameof(FreshKinds))]
    public void FreshParametersAreTheSeededDrawsInParameterOrder(string kind, DType dtype)
    {
        const ulong seed = 91;
        var (cell, spec) = Fresh(kind, dtype, seed);
        double k = 1 / Math.Sqrt(H);
        var rng = new RandomGenerator(seed); // the same generator, drawn in the order the parameters are listed
        Assert.Equal(spec.Select(s => s.Name), cell.Parameters.Select(p => p.Name!));
        for (int i = 0; i < spec.Length; i++)
        {
            var (name, shape) = spec[i];
            CellMutationGapTests.AssertSeededDraws(cell.Parameters[i], shape, dtype, rng, k, $"{kind} {dtype} {name}");
        }
    }

    // ---- checks, messages, descriptions, time ----

    public static TheoryData<string> CellNames => new("GruCell", "LstmCell", "LstmCell+peepholes");

    private static IRecurrentCell Build(string name, int inputSize, int hiddenSize, DType dtype = DType.Float64, ulong seed = 1) => name switch
    {
        "GruCell" => new GruCell(inputSize, hiddenSize, dtype, new RandomGenerator(seed)),
        "LstmCell" => new LstmCell(inputSize, hiddenSize, false, dtype, new RandomGenerator(seed)),
        _ => new LstmCell(inputSize, hiddenSize, true, dtype, new RandomGenerator(seed)),
    };

    private static string Short(string name) => name.Split('+')[0];

    [Theory]
    [MemberData(nameof(CellNames))]
    public void SizesAndDTypeAreCheckedWithTheWholeMessage(string name)
    {
        string cell = Short(name);
        foreach (int bad in new[] { 0, -1 })
        {
            var e = Assert.Throws<ArgumentOutOfRangeException>(() => Build(name, bad, 3));
            Assert.Equal($"{cell}: inputSize must be positive. Received: {bad} (Parameter 'inputSize')", e.Message);
            e = Assert.Throws<ArgumentOutOfRangeException>(() => Build(name, 3, bad));
            Assert.Equal($"{cell}: hiddenSize must be positive. Received: {bad} (Parameter 'hiddenSize')", e.Message);
        }
        var d = Assert.Throws<ArgumentException>(() => Build(name, 3, 2, DType.Int32));
        Assert.Equal($"{cell}: dtype must be Float32 or Float64. Received: Int32", d.Message);
        foreach (var dtype in new[] { DType.Float32, DType.Float64 })
        {
            var c = Build(name, 1, 1, dtype);
            Assert.Equal((1, 1), (c.InputSize, c.HiddenSize));
            var (y, s) = c.Step(Tensor.Ones([2, 1], dtype), c.InitialState(2, dtype));
            Assert.Equal([2, 1], y.ShapeArray);
            Assert.Equal(dtype, y.DType);
            Assert.Equal(1, s.Time);
        }
    }

    [Theory]
    [MemberData(nameof(CellNames))]
    public void ProjectionChecksTheInputWithTheWholeMessage(string name)
    {
        string cell = Short(name);
        var c = Build(name, 3, 4);
        var e = Assert.Throws<ShapeMismatchException>(() => c.ProjectInput(Tensor.Zeros([2, 5], DType.Float64)));
        Assert.Equal($"{cell}: input of shape [2, 5] does not end in the input size 3.", e.Message);
        e = Assert.Throws<ShapeMismatchException>(() => c.ProjectInput(Tensor.Scalar(1, DType.Float64)));
        Assert.Equal($"{cell}: input of shape [] does not end in the input size 3.", e.Message);
        var d = Assert.Throws<ArgumentException>(() => c.ProjectInput(Tensor.Zeros([2, 3], DType.Float32)));
        Assert.Equal($"{cell}: input dtype Float32 differs from the parameters' dtype Float64; convert with To(Float64).", d.Message);
        e = Assert.Throws<ShapeMismatchException>(() => c.Step(Tensor.Zeros([2, 2], DType.Float64), c.InitialState(2, DType.Float64)));
        Assert.Equal($"{cell}: input of shape [2, 2] does not end in the input size 3.", e.Message);
    }

    [Theory]
    [MemberData(nameof(CellNames))]
    public void StepChecksTheProjectedInputWithTheWholeMessage(string name)
    {
        string cell = Short(name);
        var c = Build(name, 3, 4);
        int width = cell == "GruCell" ? 12 : 16;
        var good = R(5, 2, width);
        var s = c.InitialState(2, DType.Float64).With("h", R(6, 2, 4));
        Assert.Equal(cell == "GruCell" ? new[] { "h" } : new[] { "h", "c" }, s.Names);
        Assert.Equal([2, 4], c.StepProjected(good, s).output.ShapeArray);
        foreach (var bad in new[] { Tensor.Zeros([2, width + 1], DType.Float64), Tensor.Zeros([2, width - 4], DType.Float64), Tensor.Zeros([width], DType.Float64), Tensor.Zeros([1, 2, width], DType.Float64) })
        {
            var e = Assert.Throws<ShapeMismatchException>(() => c.StepProjected(bad, s));
            Assert.Equal($"{cell}: projected input has shape [{string.Join(", ", bad.ShapeArray)}]; expected [N, {width}] (ProjectInput of one step).", e.Message);
        }
    }

    [Theory]
    [InlineData("GruCell", "h")]
    [InlineData("LstmCell", "h")]
    [InlineData("LstmCell", "c")]
    [InlineData("LstmCell+peepholes", "h")]
    [InlineData("LstmCell+peepholes", "c")]
    public void StepChecksEachStateTensorWithTheWholeMessage(string name, string stateName)
    {
        string cell = Short(name);
        var c = Build(name, 3, 4);
        var good = R(5, 2, cell == "GruCell" ? 12 : 16);
        var s = c.InitialState(2, DType.Float64).With("h", R(6, 2, 4));
        Assert.Equal([2, 4], c.StepProjected(good, s).output.ShapeArray);
        foreach (var badShape in new[] { new[] { 3, 4 }, [1, 4], [2, 5], [2, 3], [2, 4, 1], [8] })
        {
            var bad = s.With(stateName, Tensor.Zeros(badShape, DType.Float64));
            var e = Assert.Throws<ShapeMismatchException>(() => c.StepProjected(good, bad));
            Assert.Equal($"{cell}: state '{stateName}' has shape [{string.Join(", ", badShape)}]; expected [2, 4].", e.Message);
        }
    }

    [Theory]
    [MemberData(nameof(CellNames))]
    public void StepsAdvanceTheTimeByOneAndLeaveTheGivenStateAlone(string name)
    {
        var c = Build(name, 3, 4);
        var x = R(3, 2, 3);
        foreach (int t in new[] { 0, 5, -3 })
        {
            var s0 = c.InitialState(2, DType.Float64).With("h", R(4, 2, 4)).WithTime(t);
            var (y, next) = c.Step(x, s0);
            Assert.Equal(t + 1, next.Time);
            Assert.Equal(s0.Names, next.Names);
            Assert.Same(y, next.H);
            Assert.Equal(t, s0.Time);
            var (yp, nextP) = c.StepProjected(c.ProjectInput(x), s0);
            Assert.Equal(t + 1, nextP.Time);
            T.Close(y.ToDoubleArray(), yp.ToDoubleArray(), 0, 0, $"{name} Step = StepProjected(ProjectInput)");
        }
    }

    [Fact]
    public void GruDescriptionNamesTheSizes()
    {
        Assert.Equal("GruCell(4 => 6)", new GruCell(4, 6).ToString());
        Assert.Equal("GruCell(1 => 9)", new GruCell(1, 9).ToString());
    }

    [Fact]
    public void LstmDescriptionNamesTheSizesAndThePeepholes()
    {
        var plain = new LstmCell(4, 6);
        Assert.False(plain.Peepholes);
        Assert.Equal("LstmCell(4 => 6)", plain.ToString());
        var peep = new LstmCell(5, 3, peepholes: true);
        Assert.True(peep.Peepholes);
        Assert.Equal("LstmCell(5 => 3, peepholes)", peep.ToString());
    }

    // ---- Bidirectional and CellState arguments ----

    [Fact]
    public void BidirectionalRejectsNullCellsAndDifferentInputSizesWithTheWholeMessage()
    {
        var gru = new GruCell(3, 2);
        var fw = Assert.Throws<ArgumentNullException>(() => new Bidirectional(null!, gru));
        Assert.Equal("forward", fw.ParamName);
        var bw = Assert.Throws<ArgumentNullException>(() => new Bidirectional(gru, null!));
        Assert.Equal("backward", bw.ParamName);
        var e = Assert.Throws<ShapeMismatchException>(() => new Bidirectional(new LstmCell(3, 2, peepholes: true), new GruCell(4, 2)));
        Assert.Equal("Bidirectional: the forward cell LstmCell(3 => 2, peepholes) reads 3 inputs but the backward cell GruCell(4 => 2) reads 4.", e.Message);
        e = Assert.Throws<ShapeMismatchException>(() => new Bidirectional(new GruCell(7, 2), new LstmCell(6, 5)));
        Assert.Equal("Bidirectional: the forward cell GruCell(7 => 2) reads 7 inputs but the backward cell LstmCell(6 => 5) reads 6.", e.Message);
        Assert.Equal("Bidirectional(LstmCell(5 => 3, peepholes), GruCell(5 => 2))", new Bidirectional(new LstmCell(5, 3, peepholes: true), new GruCell(5, 2)).ToString());
    }

    [Fact]
    public void CellStateRejectsARepeatedNameAtAnyDistanceWithTheWholeMessage()
    {
        var a = Tensor.Zeros([1, 2]);
        (string Name, Tensor Value)[][] repeats =
        [
            [("h", a), ("h", a)],                     // adjacent
            [("h", a), ("c", a), ("h", a)],           // two apart
            [("x", a), ("h", a), ("c", a), ("c", a)], // adjacent, later
            [("c", a), ("h", a), ("pre", a), ("c", a)],
        ];
        foreach (var entries in repeats)
        {
            string twice = entries.GroupBy(e => e.Name).Single(g => g.Count() > 1).Key;
            var e = Assert.Throws<ArgumentException>(() => new CellState(entries));
            Assert.Equal($"CellState: the name '{twice}' is given twice.", e.Message);
            e = Assert.Throws<ArgumentException>(() => new CellState(7, entries));
            Assert.Equal($"CellState: the name '{twice}' is given twice.", e.Message);
        }
        var ok = new CellState(3, ("h", a), ("c", a), ("pre", a));
        Assert.Equal(["h", "c", "pre"], ok.Names);
        Assert.Equal(3, ok.Time);

        // a name is only compared with the names before it: the slot of the name being added is still empty (null),
        // which only a null name would match; the nullable annotation forbids one, but it is not reported as repeated
        var lone = new CellState((null!, a));
        Assert.Null(lone.Names[0]);
        var e2 = Assert.Throws<ArgumentException>(() => new CellState(("h", a), (null!, a), (null!, a)));
        Assert.Equal("CellState: the name '' is given twice.", e2.Message);
    }

    // ---- when the fused gate ops record, and what each input gets ----

    private const int N = 3, Hs = 4;

    private static Tensor[] GruArgs() => [R(11, N, 3 * Hs), R(12, N, 3 * Hs), R(13, 3 * Hs), R(14, N, Hs)];

    private static Tensor[] LstmArgs() => [R(21, N, 4 * Hs), R(22, N, 4 * Hs), R(23, N, Hs)];

    private static Tensor RunGru(Tensor[] a) => GruPointwise.Apply(a[0], a[1], a[2], a[3]);

    private static Tensor RunLstm(Tensor[] a) => LstmPointwise.Apply(a[0], a[1], a[2]);

    public static TheoryData<string> FusedOps => new("gru", "lstm");

    [Theory]
    [MemberData(nameof(FusedOps))]
    public void FusedGateOpRecordsWhenAnyInputAloneNeedsAGradientAndGivesItTheSameGradient(string op)
    {
        Func<Tensor[]> args = op == "gru" ? GruArgs : LstmArgs;
        Func<Tensor[], Tensor> run = op == "gru" ? RunGru : RunLstm;
        var g = R(30, op == "gru" ? new[] { N, Hs } : new[] { 2, N, Hs });
        var all = args();
        foreach (var t in all) t.RequireGrad();
        (run(all) * g).Sum().Backward();
        for (int k = 0; k < all.Length; k++)
        {
            var a = args();
            a[k].RequireGrad();
            var y = run(a);
            Assert.True(y.RequiresGrad, $"{op}: input {k} requires a gradient, the output does not");
            Assert.NotNull(y.GradFn);
            (y * g).Sum().Backward();
            T.Close(all[k].Grad!.ToDoubleArray(), a[k].Grad!.ToDoubleArray(), 0, 0, $"{op}: input {k} alone");
            for (int j = 0; j < a.Length; j++) if (j != k) Assert.Null(a[j].Grad);
            using (Autograd.NoGrad())
            {
                var off = run(a);
                Assert.False(off.RequiresGrad, $"{op}: input {k}: recorded under NoGrad");
                Assert.Null(off.GradFn);
                T.Close(y.ToDoubleArray(), off.ToDoubleArray(), 0, 0, $"{op}: same values under NoGrad");
            }
        }
        var none = run(args()); // nothing needs a gradient, recording on
        Assert.False(none.RequiresGrad, $"{op}: recorded with no input needing a gradient");
        Assert.Null(none.GradFn);
    }

    /// <summary>The LSTM op's dL/da is the gradient of both p and r (a = p + r). When both are results of ops whose
    /// gradients are still collected afterwards (here c is computed from p and r, so their other contributions arrive
    /// after the fused op's backward), each must get its own buffer: a shared one would take both contributions.</summary>
    [Fact]
    public void LstmGivesProjectedAndRecurrentTheirOwnGradientWhenBothAreStillCollecting()
    {
        var g = R(31, 2, N, Hs);
        var p0 = R(32, N, 4 * Hs).RequireGrad();
        var r0 = R(33, N, 4 * Hs).RequireGrad();
        var c0 = R(34, N, Hs).RequireGrad();
        var p = p0 * 1.0;
        var r = r0 * 1.0;
        var c = c0 + p.Slice(1, 0, Hs) * 0.5 + r.Slice(1, 0, Hs) * 0.25;
        var y = LstmPointwise.Apply(p, r, c);
        (y * g).Sum().Backward();

        // the same op on leaves of the same values, then the chain rule by hand
        var pl = Tensor.FromArray(p0.ToDoubleArray(), N, 4 * Hs).RequireGrad();
        var rl = Tensor.FromArray(r0.ToDoubleArray(), N, 4 * Hs).RequireGrad();
        var cl = Tensor.FromArray(c.ToDoubleArray(), N, Hs).RequireGrad();
        var yl = LstmPointwise.Apply(pl, rl, cl);
        (yl * g).Sum().Backward();
        T.Close(yl.ToDoubleArray(), y.ToDoubleArray(), 0, 0, "values");
        double[] da = pl.Grad!.ToDoubleArray(), dc = cl.Grad!.ToDoubleArray();
        T.Close(da, rl.Grad!.ToDoubleArray(), 0, 0, "a = p + r: the same gradient");
        var wantP = new double[da.Length];
        var wantR = new double[da.Length];
        for (int b = 0; b < N; b++)
            for (int j = 0; j < 4 * Hs; j++)
            {
                double viaC = j < Hs ? dc[b * Hs + j] : 0;
                wantP[b * 4 * Hs + j] = da[b * 4 * Hs + j] + 0.5 * viaC;
                wantR[b * 4 * Hs + j] = da[b * 4 * Hs + j] + 0.25 * viaC;
            }
        Assert.Contains(dc, v => Math.Abs(v) > 1e-3);
        T.Close(wantP, p0.Grad!.ToDoubleArray(), 1e-14, 1e-15, "dL/dp0");
        T.Close(wantR, r0.Grad!.ToDoubleArray(), 1e-14, 1e-15, "dL/dr0");
        T.Close(dc, c0.Grad!.ToDoubleArray(), 0, 0, "dL/dc0");
    }

    /// <summary>The same for the GRU op: p, q, b_hh and h all results of ops, h computed from the other three.</summary>
    [Fact]
    public void GruGivesEachInputItsOwnGradientWhenAllAreStillCollecting()
    {
        var g = R(41, N, Hs);
        var p0 = R(42, N, 3 * Hs).RequireGrad();
        var q0 = R(43, N, 3 * Hs).RequireGrad();
        var b0 = R(44, 3 * Hs).RequireGrad();
        var h0 = R(45, N, Hs).RequireGrad();
        var p = p0 * 1.0;
        var q = q0 * 1.0;
        var b = b0 * 1.0;
        var h = h0 + p.Slice(1, 0, Hs) * 0.5 + q.Slice(1, 0, Hs) * 0.25 + b.Slice(0, 0, Hs) * 0.125;
        var y = GruPointwise.Apply(p, q, b, h);
        (y * g).Sum().Backward();

        var pl = Tensor.FromArray(p0.ToDoubleArray(), N, 3 * Hs).RequireGrad();
        var ql = Tensor.FromArray(q0.ToDoubleArray(), N, 3 * Hs).RequireGrad();
        var bl = Tensor.FromArray(b0.ToDoubleArray(), 3 * Hs).RequireGrad();
        var hl = Tensor.FromArray(h.ToDoubleArray(), N, Hs).RequireGrad();
        var yl = GruPointwise.Apply(pl, ql, bl, hl);
        (yl * g).Sum().Backward();
        T.Close(yl.ToDoubleArray(), y.ToDoubleArray(), 0, 0, "values");
        double[] dp = pl.Grad!.ToDoubleArray(), dq = ql.Grad!.ToDoubleArray(), db = bl.Grad!.ToDoubleArray(), dh = hl.Grad!.ToDoubleArray();
        var wantP = (double[])dp.Clone();
        var wantQ = (double[])dq.Clone();
        var wantB = (double[])db.Clone();
        for (int r = 0; r < N; r++)
            for (int u = 0; u < Hs; u++)
            {
                wantP[r * 3 * Hs + u] += 0.5 * dh[r * Hs + u];
                wantQ[r * 3 * Hs + u] += 0.25 * dh[r * Hs + u];
                wantB[u] += 0.125 * dh[r * Hs + u];
            }
        T.Close(wantP, p0.Grad!.ToDoubleArray(), 1e-14, 1e-15, "dL/dp0");
        T.Close(wantQ, q0.Grad!.ToDoubleArray(), 1e-14, 1e-15, "dL/dq0");
        T.Close(wantB, b0.Grad!.ToDoubleArray(), 1e-14, 1e-15, "dL/db0");
        T.Close(dh, h0.Grad!.ToDoubleArray(), 0, 0, "dL/dh0");
    }

    /// <summary>An empty batch steps to an empty output and zero weight gradients (the fused ops skip their kernels for
    /// N = 0; running them over zero rows would do nothing either). The peephole LSTM's composite gates slice an empty
    /// [0, 4H] tensor at a nonzero offset, past the end of its empty buffer: that view's data is the empty span (it
    /// threw ArgumentOutOfRangeException before).</summary>
    [Theory]
    [InlineData("GruCell")]
    [InlineData("LstmCell")]
    [InlineData("LstmCell+peepholes")]
    public void AnEmptyBatchStepsToAnEmptyOutputAndZeroGradients(string name)
    {
        var c = Build(name, 3, 4);
        var (y, s) = c.Step(Tensor.Zeros([0, 3], DType.Float64), c.InitialState(0, DType.Float64));
        Assert.Equal([0, 4], y.ShapeArray);
        Assert.All(s.Values, v => Assert.Equal([0, 4], v.ShapeArray));
        Assert.True(y.RequiresGrad);
        (y.Sum() + s.Values[^1].Sum()).Backward();
        foreach (var p in c.Parameters) Assert.All(p.Grad!.ToDoubleArray(), v => Assert.Equal(0.0, v));
    }
}
