using FlexNet.Autodiff;
using FlexNet.Layers.Recurrent;
using FlexNet.Tests.Testing;
using FlexNet.Tensors;

namespace FlexNet.Tests.Layers.Recurrent;

/// <summary>Gaps of the first Layers/Recurrent mutation run (78.4 %) in CellOps, the Elman cell and the theanets cells
/// (RRNN, MUT1, MRNN, Clockwork) and RnnSequence: the initialisation of fresh cells (replayed from a second generator of the
/// same seed), the argument and shape checks with their whole messages, the cells' descriptions and states, the
/// activations other than tanh, Clockwork steps where no module or only some modules update, and when the fused Elman
/// sequence records itself and where its weight gradients go.</summary>
public sealed class CellMutationGapTests
{
    private const int I = 20, H = 15;

    private static double Sig(double v) => 1 / (1 + Math.Exp(-v));

    private static double Act(double v, RecurrentActivation act) => act switch
    {
        RecurrentActivation.Tanh => Math.Tanh(v),
        RecurrentActivation.Relu => Math.Max(v, 0),
        RecurrentActivation.Sigmoid => Sig(v),
        _ => v,
    };

    /// <summary>A fresh cell and its parameters as the docs and LAYERS.md B.3 give them: name, shape, and whether it is
    /// drawn from U(−1/√H, 1/√H) (true) or starts at zero (false), in <see cref="IRecurrentCell.Parameters"/> order.</summary>
    private static (IRecurrentCell Cell, (string Name, int[] Shape, bool Drawn)[] Spec) Fresh(string kind, DType dtype, ulong seed)
    {
        var rng = new RandomGenerator(seed);
        const int f = 4; // ⌈√15⌉ (⌊√15⌋ = 3)
        return kind switch
        {
            "rnn" => (new RnnCell(I, H, RecurrentActivation.Relu, dtype, rng),
                [("weight_ih_l0", [H, I], true), ("weight_hh_l0", [H, H], true), ("bias_ih_l0", [H], true), ("bias_hh_l0", [H], true)]),
            "mrnn" => (new MrnnCell(I, H, null, RecurrentActivation.Sigmoid, dtype, rng),
                [("xh", [H, I], true), ("xf", [f, I], true), ("hf", [f, H], true), ("fh", [H, f], true), ("b", [H], false)]),
            "mut1" => (new Mut1Cell(I, H, dtype, rng),
                [("xh", [H, I], true), ("xr", [H, I], true), ("xz", [H, I], true), ("hh", [H, H], true), ("hr", [H, H], true),
                 ("bh", [H], false), ("br", [H], false), ("bz", [H], false)]),
            "rrnn-matrix" => (new RrnnCell(I, H, RateMode.Matrix, RecurrentActivation.Tanh, dtype, rng),
                [("xh", [H, I], true), ("hh", [H, H], true), ("b", [H], false), ("r", [H], false), ("xr", [H, I], true)]),
            "rrnn-vector" => (new RrnnCell(I, H, RateMode.Vector, RecurrentActivation.Tanh, dtype, rng),
                [("xh", [H, I], true), ("hh", [H, H], true), ("b", [H], false), ("r", [H], false)]),
            "rrnn-uniform" => (new RrnnCell(I, H, RateMode.Uniform, RecurrentActivation.Tanh, dtype, rng),
                [("xh", [H, I], true), ("hh", [H, H], true), ("b", [H], false)]),
            "rrnn-log" => (new RrnnCell(I, H, RateMode.Log, RecurrentActivation.Tanh, dtype, rng),
                [("xh", [H, I], true), ("hh", [H, H], true), ("b", [H], false)]),
            _ => (new ClockworkCell(I, H, [5, 1, 3], RecurrentActivation.Tanh, dtype, rng),
                [("xh", [H, I], true), ("hh", [H, H], true), ("b", [H], false)]),
        };
    }

    /// <summary>Asserts that <paramref name="p"/> is a trainable parameter of <paramref name="shape"/> and
    /// <paramref name="dtype"/> holding the next draws of <paramref name="rng"/> as U(−k, k) = −k + 2k·u, each inside
    /// the bound; returns its values. Shared with <see cref="GatedCellMutationGapTests"/>.</summary>
    internal static double[] AssertSeededDraws(Tensor p, int[] shape, DType dtype, RandomGenerator rng, double k, string what)
    {
        Assert.Equal(shape, p.ShapeArray);
        Assert.Equal(dtype, p.DType);
        Assert.True(p.RequiresGrad, $"{what} is trainable");
        var values = p.ToDoubleArray();
        var want = new double[values.Length];
        for (int j = 0; j < want.Length; j++)
        {
            double u = -k + 2 * k * rng.NextDouble();
            want[j] = dtype == DType.Float32 ? (float)u : u;
        }
        T.Close(want, values, 1e-15, 0, what);
        Assert.All(values, v => Assert.InRange(Math.Abs(v), 0, k));
        return values;
    }

    public static TheoryData<string, DType> FreshKinds()
    {
        var data = new TheoryData<string, DType>();
        foreach (var kind in new[] { "rnn", "mrnn", "mut1", "rrnn-matrix", "rrnn-vector", "rrnn-uniform", "rrnn-log", "clockwork" })
            foreach (var dtype in new[] { DType.Float64, DType.Float32 })
                data.Add(kind, dtype);
        return data;
    }

    [Theory]
    [MemberData(nameof(FreshKinds))]
    public void FreshParametersAreTheSeededDrawsInParameterOrderAndZeros(string kind, DType dtype)
    {
        const ulong seed = 77;
        var (cell, spec) = Fresh(kind, dtype, seed);
        double k = 1 / Math.Sqrt(H);
        // the same generator, drawn in the order the parameters are listed (zeros draw nothing), then the fixed rate
        var rng = new RandomGenerator(seed);
        Assert.Equal(spec.Select(s => s.Name), cell.Parameters.Select(p => p.Name!));
        for (int i = 0; i < spec.Length; i++)
        {
            var (name, shape, drawn) = spec[i];
            var p = cell.Parameters[i];
            if (!drawn)
            {
                Assert.Equal(shape, p.ShapeArray);
                Assert.Equal(dtype, p.DType);
                Assert.True(p.RequiresGrad, $"{kind} {name} is trainable");
                Assert.All(p.ToDoubleArray(), v => Assert.Equal(0.0, v));
                continue;
            }
            var values = AssertSeededDraws(p, shape, dtype, rng, k, $"{kind} {dtype} {name}");
            // a few hundred draws of U(−1/√H, 1/√H) come close to the bound
            if (values.Length >= 100) Assert.True(values.Max(Math.Abs) > 0.9 * k, $"{kind} {name}: max |w| {values.Max(Math.Abs)} of bound {k}");
        }
        if (cell is RrnnCell r)
        {
            Assert.Equal(r.Rate is RateMode.Matrix or RateMode.Vector, r.R is not null);
            Assert.Equal(r.Rate == RateMode.Matrix, r.Xr is not null);
            if (r.Rate is RateMode.Uniform or RateMode.Log)
            {
                var rate = r.FixedRate!;
                Assert.False(rate.RequiresGrad, "a fixed rate is not trained");
                Assert.Equal(dtype, rate.DType);
                Assert.Equal([H], rate.ShapeArray);
                var want = new double[H];
                for (int j = 0; j < H; j++)
                {
                    double u = rng.NextDouble();
                    double z = r.Rate == RateMode.Uniform ? 1e-4 + (1 - 2e-4) * u : Math.Exp(-6 + (6 - 1e-4) * u);
                    want[j] = dtype == DType.Float32 ? (float)z : z;
                }
                var got = rate.ToDoubleArray();
                T.Close(want, got, 1e-15, 0, $"{kind} {dtype} fixed rate");
                (double lo, double hi) = r.Rate == RateMode.Uniform ? (1e-4, 1 - 1e-4) : (Math.Exp(-6), Math.Exp(-1e-4));
                Assert.All(got, v => Assert.InRange(v, lo * (1 - 1e-7), hi * (1 + 1e-7)));
            }
            else Assert.Null(r.FixedRate);
        }
    }

    [Fact]
    public void FixedRatesOfTheTwoModesFollowTheirFormulasOnTheirOwnDraws()
    {
        // the uniform and log formulas differ: the same draws give different rates (a swapped mode test would show)
        var uni = new RrnnCell(2, 6, RateMode.Uniform, dtype: DType.Float64, rng: new RandomGenerator(5)).FixedRate!.ToDoubleArray();
        var log = new RrnnCell(2, 6, RateMode.Log, dtype: DType.Float64, rng: new RandomGenerator(5)).FixedRate!.ToDoubleArray();
        var rng = new RandomGenerator(5);
        for (int j = 0; j < 2 * 6 + 6 * 6; j++) rng.NextDouble(); // xh [6, 2], hh [6, 6]
        for (int j = 0; j < 6; j++)
        {
            double u = rng.NextDouble();
            Assert.Equal(1e-4 + u * 0.9998, uni[j], 15);
            Assert.Equal(Math.Exp(-6 + u * 5.9999), log[j], 15);
            Assert.Equal(Math.Log(log[j]), -6 + 5.9999 * (uni[j] - 1e-4) / 0.9998, 12);
        }
    }

    public static TheoryData<string> CellNames => new("RnnCell", "MrnnCell", "Mut1Cell", "RrnnCell", "ClockworkCell");

    private static IRecurrentCell Build(string name, int inputSize, int hiddenSize, DType dtype = DType.Float64, ulong seed = 1) => name switch
    {
        "RnnCell" => new RnnCell(inputSize, hiddenSize, RecurrentActivation.Tanh, dtype, new RandomGenerator(seed)),
        "MrnnCell" => new MrnnCell(inputSize, hiddenSize, null, RecurrentActivation.Tanh, dtype, new RandomGenerator(seed)),
        "Mut1Cell" => new Mut1Cell(inputSize, hiddenSize, dtype, new RandomGenerator(seed)),
        "RrnnCell" => new RrnnCell(inputSize, hiddenSize, RateMode.Matrix, RecurrentActivation.Tanh, dtype, new RandomGenerator(seed)),
        _ => new ClockworkCell(inputSize, hiddenSize, [1], RecurrentActivation.Tanh, dtype, new RandomGenerator(seed)),
    };

    [Theory]
    [MemberData(nameof(CellNames))]
    public void SizesAndDTypeAreCheckedWithTheWholeMessage(string name)
    {
        foreach (int bad in new[] { 0, -1 })
        {
            var e = Assert.Throws<ArgumentOutOfRangeException>(() => Build(name, bad, 3));
            Assert.Equal($"{name}: inputSize must be positive. Received: {bad} (Parameter 'inputSize')", e.Message);
            e = Assert.Throws<ArgumentOutOfRangeException>(() => Build(name, 3, bad));
            Assert.Equal($"{name}: hiddenSize must be positive. Received: {bad} (Parameter 'hiddenSize')", e.Message);
        }
        var d = Assert.Throws<ArgumentException>(() => Build(name, 3, 2, DType.Int32));
        Assert.Equal($"{name}: dtype must be Float32 or Float64. Received: Int32", d.Message);
        // the smallest sizes are valid, in both float dtypes
        foreach (var dtype in new[] { DType.Float32, DType.Float64 })
        {
            var cell = Build(name, 1, 1, dtype);
            Assert.Equal(1, cell.InputSize);
            Assert.Equal(1, cell.HiddenSize);
            var (y, s) = cell.Step(Tensor.Ones([2, 1], dtype), cell.InitialState(2, dtype));
            Assert.Equal([2, 1], y.ShapeArray);
            Assert.Equal(dtype, y.DType);
            Assert.Equal(1, s.Time);
        }
    }

    [Fact]
    public void MrnnFactorsAndClockworkPeriodsAreCheckedWithTheWholeMessage()
    {
        foreach (int bad in new[] { 0, -2 })
        {
            var e = Assert.Throws<ArgumentOutOfRangeException>(() => new MrnnCell(3, 4, bad));
            Assert.Equal($"MrnnCell: factors must be positive. Received: {bad} (Parameter 'factors')", e.Message);
        }
        var one = new MrnnCell(3, 4, 1, dtype: DType.Float64);
        Assert.Equal(1, one.Factors);
        Assert.Equal([1, 3], one.Xf.ShapeArray);
        Assert.Equal(3, new MrnnCell(3, 9).Factors); // ⌈√9⌉ = 3 exactly
        Assert.Equal(4, new MrnnCell(3, 15).Factors);
        Assert.Equal(1, new MrnnCell(3, 1).Factors);

        Assert.Throws<ArgumentNullException>(() => new ClockworkCell(3, 4, null!));
        var empty = Assert.Throws<ArgumentException>(() => new ClockworkCell(3, 4, []));
        Assert.Equal("ClockworkCell: periods must not be empty. (Parameter 'periods')", empty.Message);
        var zero = Assert.Throws<ArgumentException>(() => new ClockworkCell(3, 4, [2, 0]));
        Assert.Equal("ClockworkCell: periods must be >= 1. Received: [2, 0] (Parameter 'periods')", zero.Message);
        var multiple = Assert.Throws<ArgumentException>(() => new ClockworkCell(3, 7, [1, 2]));
        Assert.Equal("ClockworkCell: hiddenSize (7) must be a multiple of the number of periods (2). (Parameter 'periods')", multiple.Message);
        // the caller's array is copied before sorting
        int[] periods = [4, 1, 2];
        var cw = new ClockworkCell(3, 6, periods);
        Assert.Equal([4, 1, 2], periods);
        Assert.Equal([1, 2, 4], cw.Periods);
        Assert.Equal(2, cw.ModuleSize);
        Assert.Equal([6, 6], cw.Mask.ShapeArray);
    }

    [Fact]
    public void DescriptionsAndPropertiesNameWhatWasAskedFor()
    {
        var rnn = new RnnCell(4, 6, RecurrentActivation.Relu);
        Assert.Equal("RnnCell(4 => 6, Relu)", rnn.ToString());
        Assert.Equal((4, 6, RecurrentActivation.Relu), (rnn.InputSize, rnn.HiddenSize, rnn.Activation));
        Same(rnn.Parameters, rnn.WeightIh, rnn.WeightHh, rnn.BiasIh, rnn.BiasHh);
        var mrnn = new MrnnCell(4, 9, 2, RecurrentActivation.Sigmoid);
        Assert.Equal("MrnnCell(4 => 9, factors 2, Sigmoid)", mrnn.ToString());
        Assert.Equal((4, 9, 2, RecurrentActivation.Sigmoid), (mrnn.InputSize, mrnn.HiddenSize, mrnn.Factors, mrnn.Activation));
        Same(mrnn.Parameters, mrnn.Xh, mrnn.Xf, mrnn.Hf, mrnn.Fh, mrnn.B);
        var mut1 = new Mut1Cell(5, 3);
        Assert.Equal("Mut1Cell(5 => 3)", mut1.ToString());
        Assert.Equal((5, 3), (mut1.InputSize, mut1.HiddenSize));
        Same(mut1.Parameters, mut1.Xh, mut1.Xr, mut1.Xz, mut1.Hh, mut1.Hr, mut1.Bh, mut1.Br, mut1.Bz);
        var rrnn = new RrnnCell(4, 6, RateMode.Log, RecurrentActivation.Linear);
        Assert.Equal("RrnnCell(4 => 6, Log, Linear)", rrnn.ToString());
        Assert.Equal((4, 6, RateMode.Log, RecurrentActivation.Linear), (rrnn.InputSize, rrnn.HiddenSize, rrnn.Rate, rrnn.Activation));
        var matrix = new RrnnCell(4, 6);
        Same(matrix.Parameters, matrix.Xh, matrix.Hh, matrix.B, matrix.R!, matrix.Xr!);
        var cw = new ClockworkCell(4, 6, [4, 1, 2], RecurrentActivation.Relu);
        Assert.Equal("ClockworkCell(4 => 6, periods [1, 2, 4], Relu)", cw.ToString());
        Assert.Equal((4, 6, RecurrentActivation.Relu), (cw.InputSize, cw.HiddenSize, cw.Activation));
        Same(cw.Parameters, cw.Xh, cw.Hh, cw.B);
    }

    private static void Same(IReadOnlyList<Tensor> got, params Tensor[] want)
    {
        Assert.Equal(want.Length, got.Count);
        for (int i = 0; i < want.Length; i++) Assert.Same(want[i], got[i]);
    }

    [Theory]
    [MemberData(nameof(CellNames))]
    public void InitialStatesAreZerosAtTimeZeroAndStepsAdvanceTheTime(string name)
    {
        var cell = Build(name, 3, 4);
        string[] names = name == "ClockworkCell" ? ["h", "pre"] : ["h"];
        foreach (var dtype in new[] { DType.Float32, DType.Float64 })
        {
            var s = cell.InitialState(5, dtype);
            Assert.Equal(names, s.Names);
            Assert.Equal(0, s.Time);
            foreach (var v in s.Values)
            {
                Assert.Equal([5, 4], v.ShapeArray);
                Assert.Equal(dtype, v.DType);
                Assert.All(v.ToDoubleArray(), e => Assert.Equal(0.0, e));
            }
        }
        var x = Tensor.Normal([2, 3], 0, 1, new RandomGenerator(3), DType.Float64);
        foreach (int t in new[] { 0, 5, -3 })
        {
            var s0 = cell.InitialState(2, DType.Float64).WithTime(t);
            var (y, next) = cell.Step(x, s0);
            Assert.Equal(t + 1, next.Time);
            Assert.Equal(names, next.Names);
            Assert.Same(y, next.H);
            Assert.Equal(t, s0.Time); // the given state is left as it was
            var (yp, nextP) = cell.StepProjected(cell.ProjectInput(x), s0);
            Assert.Equal(t + 1, nextP.Time);
            T.Close(y.ToDoubleArray(), yp.ToDoubleArray(), 0, 0, $"{name} Step = StepProjected(ProjectInput)");
        }
    }

    [Theory]
    [MemberData(nameof(CellNames))]
    public void ProjectionChecksTheInputWithTheWholeMessage(string name)
    {
        var cell = Build(name, 3, 4);
        var e = Assert.Throws<ShapeMismatchException>(() => cell.ProjectInput(Tensor.Zeros([2, 5], DType.Float64)));
        Assert.Equal($"{name}: input of shape [2, 5] does not end in the input size 3.", e.Message);
        e = Assert.Throws<ShapeMismatchException>(() => cell.ProjectInput(Tensor.Scalar(1, DType.Float64)));
        Assert.Equal($"{name}: input of shape [] does not end in the input size 3.", e.Message);
        var d = Assert.Throws<ArgumentException>(() => cell.ProjectInput(Tensor.Zeros([2, 3], DType.Float32)));
        Assert.Equal($"{name}: input dtype Float32 differs from the parameters' dtype Float64; convert with To(Float64).", d.Message);
        var s = cell.InitialState(2, DType.Float64);
        e = Assert.Throws<ShapeMismatchException>(() => cell.Step(Tensor.Zeros([2, 2], DType.Float64), s));
        Assert.Equal($"{name}: input of shape [2, 2] does not end in the input size 3.", e.Message);

        // rank 1, 2 and 3 inputs project row by row alike
        var x = Tensor.Normal([2, 3, 3], 0, 1, new RandomGenerator(9), DType.Float64);
        var p3 = cell.ProjectInput(x);
        var p2 = cell.ProjectInput(x.Reshape(6, 3));
        var p1 = cell.ProjectInput(x.Slice(0, 1, 1).Slice(1, 2, 1).Reshape(3));
        int width = p2.Shape[1];
        Assert.Equal([2, 3, width], p3.ShapeArray);
        Assert.Equal([width], p1.ShapeArray);
        T.Close(p2.ToDoubleArray(), p3.ToDoubleArray(), 1e-15, 1e-15, $"{name} rank 3");
        T.Close(p2.Slice(0, 5, 1).ToDoubleArray(), p1.ToDoubleArray(), 1e-15, 1e-15, $"{name} rank 1");
    }

    [Theory]
    [MemberData(nameof(CellNames))]
    public void StepChecksTheProjectedInputAndTheStateWithTheWholeMessage(string name)
    {
        var cell = Build(name, 3, 4);
        int width = name switch { "MrnnCell" => 4 + 2, "Mut1Cell" => 12, "RrnnCell" => 8, _ => 4 };
        var good = Tensor.Zeros([2, width], DType.Float64);
        var s = cell.InitialState(2, DType.Float64);
        Assert.Equal([2, 4], cell.StepProjected(good, s).output.ShapeArray);
        foreach (var bad in new[] { Tensor.Zeros([2, width + 1], DType.Float64), Tensor.Zeros([width], DType.Float64), Tensor.Zeros([1, 2, width], DType.Float64) })
        {
            var e = Assert.Throws<ShapeMismatchException>(() => cell.StepProjected(bad, s));
            Assert.Equal($"{name}: projected input has shape [{string.Join(", ", bad.ShapeArray)}]; expected [N, {width}] (ProjectInput of one step).", e.Message);
        }
        foreach (var stateName in s.Names)
            foreach (var badShape in new[] { new[] { 3, 4 }, [2, 5], [2, 4, 1], [8] })
            {
                var bad = s.With(stateName, Tensor.Zeros(badShape, DType.Float64));
                var e = Assert.Throws<ShapeMismatchException>(() => cell.StepProjected(good, bad));
                Assert.Equal($"{name}: state '{stateName}' has shape [{string.Join(", ", badShape)}]; expected [2, 4].", e.Message);
            }
    }

    private static double[] Project(double[] x, int n, int inF, double[] w, int outF)
    {
        var y = new double[n * outF];
        for (int b = 0; b < n; b++)
            for (int o = 0; o < outF; o++)
            {
                double s = 0;
                for (int i = 0; i < inF; i++) s += x[b * inF + i] * w[o * inF + i];
                y[b * outF + o] = s;
            }
        return y;
    }

    private static void Fill(IRecurrentCell cell, ulong seed)
    {
        var rng = new RandomGenerator(seed);
        foreach (var p in cell.Parameters) p.CopyFrom(Tensor.Normal(p.ShapeArray, 0, 0.8, rng, DType.Float64));
    }

    [Theory]
    [InlineData(RecurrentActivation.Relu)]
    [InlineData(RecurrentActivation.Sigmoid)]
    [InlineData(RecurrentActivation.Linear)]
    [InlineData(RecurrentActivation.Tanh)]
    public void OneStepOfEachCellWithAnActivationEqualsTheHandFormula(RecurrentActivation act)
    {
        const int n = 3, inF = 2, hs = 4;
        var x = Tensor.Normal([n, inF], 0, 1.5, new RandomGenerator(20), DType.Float64);
        var h0 = Tensor.Normal([n, hs], 0, 1, new RandomGenerator(21), DType.Float64);
        double[] xs = x.ToDoubleArray(), h = h0.ToDoubleArray();

        // MRNN: act(x·xhᵀ + b + (x·xfᵀ ⊙ h·hfᵀ)·fhᵀ)
        var mrnn = new MrnnCell(inF, hs, 3, act, DType.Float64);
        Fill(mrnn, 22);
        var xf = Project(xs, n, inF, mrnn.Xf.ToDoubleArray(), 3);
        var hf = Project(h, n, hs, mrnn.Hf.ToDoubleArray(), 3);
        var factor = xf.Zip(hf, (a, b) => a * b).ToArray();
        var pre = Project(xs, n, inF, mrnn.Xh.ToDoubleArray(), hs);
        var viaF = Project(factor, n, 3, mrnn.Fh.ToDoubleArray(), hs);
        var b = mrnn.B.ToDoubleArray();
        var want = pre.Select((v, j) => Act(v + b[j % hs] + viaF[j], act)).ToArray();
        Check(want, mrnn.Step(x, new CellState(("h", h0))).output, $"mrnn {act}");

        // RRNN (vector rate): h + σ(r) ⊙ (act(x·xhᵀ + b + h·hhᵀ) − h)
        var rrnn = new RrnnCell(inF, hs, RateMode.Vector, act, DType.Float64);
        Fill(rrnn, 23);
        pre = Project(xs, n, inF, rrnn.Xh.ToDoubleArray(), hs);
        var rec = Project(h, n, hs, rrnn.Hh.ToDoubleArray(), hs);
        b = rrnn.B.ToDoubleArray();
        var r = rrnn.R!.ToDoubleArray();
        want = pre.Select((v, j) => h[j] + Sig(r[j % hs]) * (Act(v + b[j % hs] + rec[j], act) - h[j])).ToArray();
        Check(want, rrnn.Step(x, new CellState(("h", h0))).output, $"rrnn {act}");

        // Clockwork at t = 0 (every module updates): act(x·xhᵀ + b + h·(hh ⊙ M)ᵀ), M[target, source] = source module ≥ target module
        var cw = new ClockworkCell(inF, hs, [1, 2], act, DType.Float64);
        Fill(cw, 24);
        var hh = cw.Hh.ToDoubleArray();
        for (int target = 0; target < hs; target++)
            for (int source = 0; source < hs; source++)
                if (source / 2 < target / 2) hh[target * hs + source] = 0;
        pre = Project(xs, n, inF, cw.Xh.ToDoubleArray(), hs);
        rec = Project(h, n, hs, hh, hs);
        b = cw.B.ToDoubleArray();
        want = pre.Select((v, j) => Act(v + b[j % hs] + rec[j], act)).ToArray();
        var s0 = cw.InitialState(n, DType.Float64).With("h", h0);
        Check(want, cw.Step(x, s0).output, $"clockwork {act}");
        Assert.Contains(pre.Select((v, j) => v + b[j % hs] + rec[j]), v => v < 0); // relu has both signs to tell apart
        Assert.Contains(pre.Select((v, j) => v + b[j % hs] + rec[j]), v => v > 0);

        static void Check(double[] want, Tensor got, string what) => T.Close(want, got.ToDoubleArray(), 1e-13, 1e-14, what);
    }

    [Fact]
    public void ClockworkModulesUpdateOnlyWhenTheTimeIsAMultipleOfTheirPeriod()
    {
        // periods 2 and 3 without a period 1: at t = 1, 5, 7 (and −1, −5) no module updates; t may be negative
        const int n = 2, inF = 3, hs = 4;
        var cell = new ClockworkCell(inF, hs, [3, 2], RecurrentActivation.Tanh, DType.Float64);
        Fill(cell, 30);
        var wx = cell.Xh.ToDoubleArray();
        var b = cell.B.ToDoubleArray();
        var hh = cell.Hh.ToDoubleArray();
        for (int target = 0; target < hs; target++)
            for (int source = 0; source < hs; source++)
                if (source / 2 < target / 2) hh[target * hs + source] = 0;
        foreach (int start in new[] { 0, -6 })
        {
            var x = Tensor.Normal([8, n, inF], 0, 1, new RandomGenerator(31), DType.Float64);
            var h = Tensor.Normal([n, hs], 0, 1, new RandomGenerator(32), DType.Float64).ToDoubleArray();
            var prev = Tensor.Normal([n, hs], 0, 1, new RandomGenerator(33), DType.Float64).ToDoubleArray();
            var s = new CellState(start, ("h", Tensor.FromArray(h, n, hs)), ("pre", Tensor.FromArray(prev, n, hs)));
            for (int k = 0; k < 8; k++)
            {
                int t = start + k;
                var xt = x.Slice(0, k, 1).Squeeze(0);
                var cand = Project(xt.ToDoubleArray(), n, inF, wx, hs);
                var rec = Project(h, n, hs, hh, hs);
                var pre = new double[n * hs];
                for (int j = 0; j < pre.Length; j++)
                {
                    int period = j % hs < 2 ? 2 : 3;
                    pre[j] = Math.Abs(t) % period == 0 ? cand[j] + b[j % hs] + rec[j] : prev[j];
                }
                (var y, s) = cell.Step(xt, s);
                Assert.Equal(t + 1, s.Time);
                T.Close(pre, s["pre"].ToDoubleArray(), 1e-13, 1e-14, $"pre at t={t}");
                h = pre.Select(Math.Tanh).ToArray();
                T.Close(h, y.ToDoubleArray(), 1e-13, 1e-14, $"h at t={t}");
                prev = pre;
            }
        }
    }

    // ---- RnnSequence (internal fused Elman op) ----

    private const int Ts = 3, Ns = 2, Is = 4, Hs = 5;

    private static Tensor R(int seed, params int[] shape) => Tensor.Normal(shape, 0, 0.5, new RandomGenerator((ulong)seed), DType.Float64);

    private static Tensor[] Args() => [R(1, Ts, Ns, Is), R(2, Hs, Is), R(3, Hs, Hs), R(4, Hs), R(5, Hs), R(6, Ns, Hs)];

    private static Tensor Run(Tensor[] a, bool reverse = false) =>
        RnnSequence.Apply(a[0], a[1], a[2], a[3], a[4], a[5], RecurrentActivation.Tanh, reverse);

    [Fact]
    public void RnnSequenceRejectsEachBadShapeOnItsOwnWithTheWholeMessage()
    {
        using var _ = Autograd.NoGrad();
        Assert.Equal([Ts, Ns, Hs], Run(Args()).ShapeArray);
        var one = Args();
        one[0] = R(1, 1, Ns, Is);
        Assert.Equal([1, Ns, Hs], Run(one).ShapeArray);
        (int Index, Tensor Bad, string X, string Wih, string Whh, string H0)[] cases =
        [
            (0, R(1, 0, Ns, Is), "[0, 2, 4]", "[5, 4]", "[5, 5]", "[2, 5]"),
            (1, R(2, Hs + 1, Is), "[3, 2, 4]", "[6, 4]", "[5, 5]", "[2, 5]"),
            (1, R(2, Hs, Is + 1), "[3, 2, 4]", "[5, 5]", "[5, 5]", "[2, 5]"),
            (2, R(3, Hs + 1, Hs), "[3, 2, 4]", "[5, 4]", "[6, 5]", "[2, 5]"),
            (5, R(6, Ns, Hs, 1), "[3, 2, 4]", "[5, 4]", "[5, 5]", "[2, 5, 1]"),
            (5, R(6, Ns * Hs), "[3, 2, 4]", "[5, 4]", "[5, 5]", "[10]"),
            (5, R(6, Ns + 1, Hs), "[3, 2, 4]", "[5, 4]", "[5, 5]", "[3, 5]"),
            (5, R(6, Ns, Hs + 1), "[3, 2, 4]", "[5, 4]", "[5, 5]", "[2, 6]"),
        ];
        foreach (var (index, bad, x, wih, whh, h0) in cases)
        {
            var a = Args();
            a[index] = bad;
            var e = Assert.Throws<ShapeMismatchException>(() => Run(a));
            Assert.Equal($"RnnSequence: x {x}, W_ih {wih}, W_hh {whh}, h0 {h0} do not fit an Elman RNN over [T, N, I].", e.Message);
        }
    }

    [Fact]
    public void RnnSequenceRecordsWhenAnyInputNeedsAGradientAndGivesItTheSameGradient()
    {
        var g = R(9, Ts, Ns, Hs);
        foreach (bool reverse in new[] { false, true })
        {
            var all = Args();
            foreach (var t in all) t.RequireGrad();
            (Run(all, reverse) * g).Sum().Backward();
            for (int k = 0; k < 6; k++)
            {
                var a = Args();
                a[k].RequireGrad();
                var y = Run(a, reverse);
                Assert.True(y.RequiresGrad, $"input {k} requires a gradient, the output does not");
                (y * g).Sum().Backward();
                Assert.NotNull(a[k].Grad);
                T.Close(all[k].Grad!.ToDoubleArray(), a[k].Grad!.ToDoubleArray(), 1e-14, 1e-14, $"input {k} alone, reverse={reverse}");
                using (Autograd.NoGrad()) Assert.False(Run(a, reverse).RequiresGrad, $"input {k}: recorded under NoGrad");
            }
            Assert.False(Run(Args(), reverse).RequiresGrad); // nothing needs a gradient
        }
    }

    [Fact]
    public void RnnSequenceGradientsReachWeightsThatAreNotLeavesAndAStridedOutputGradient()
    {
        var g = R(9, Ts, Ns, Hs);
        var leaf = Args();
        foreach (var t in leaf) t.RequireGrad();
        (Run(leaf) * g).Sum().Backward();

        // the weights as results of ops (their gradient goes through a temporary, then on to the leaves)
        var src = Args();
        foreach (var t in src) t.RequireGrad();
        var used = src.Select(t => t * 1.0).ToArray();
        (Run(used) * g).Sum().Backward();
        for (int k = 0; k < 6; k++)
            T.Close(leaf[k].Grad!.ToDoubleArray(), src[k].Grad!.ToDoubleArray(), 1e-14, 1e-14, $"input {k} through an op");

        // the node handed a transposed (non-contiguous) gradient: the walk always hands contiguous ones, so call it directly
        var tr = Args();
        foreach (var t in tr) t.RequireGrad();
        var strided = g.Transpose(0, 1).Contiguous().Transpose(0, 1);
        Assert.False(strided.IsContiguous);
        Run(tr).GradFn!.Backward(strided);
        for (int k = 0; k < 6; k++)
            T.Close(leaf[k].Grad!.ToDoubleArray(), tr[k].Grad!.ToDoubleArray(), 1e-14, 1e-14, $"input {k} with a strided dY");

        // a second backward adds to the gradients already there
        (Run(leaf) * g).Sum().Backward();
        var twice = Args();
        foreach (var t in twice) t.RequireGrad();
        (Run(twice) * g).Sum().Backward();
        for (int k = 0; k < 6; k++)
            T.Close(twice[k].Grad!.ToDoubleArray().Select(v => 2 * v).ToArray(), leaf[k].Grad!.ToDoubleArray(), 1e-14, 1e-14, $"input {k} accumulated");
    }
}
