using FlexNet.Layers.Recurrent;
using FlexNet.Tests.Testing;
using static FlexNet.Tests.Layers.Recurrent.NaiveCells;
using FlexNet.Tensors;

namespace FlexNet.Tests.Layers.Recurrent;

/// <summary>RRNN, MUT1, MRNN, SCRN, Clockwork and the peephole LSTM against plain-loop evaluations of LAYERS.md B.3,
/// forward and reversed, with initial states; float64 gradient checks through time; float32 against float64.</summary>
public class ExoticCellTests
{
    // plain loops and the cells differ only in summation order: a few ulps on values of order 1
    private const double Tol = 1e-12;

    // float32 runs compared to the float64 run of the same weights (6-7 significant digits, T = 5 steps)
    private const double Tol32 = 1e-4;

    private const int I = 3, N = 3, Steps = 5;

    internal static IRecurrentCell Make(string kind, DType dtype) => kind switch
    {
        "rrnn-matrix" => new RrnnCell(I, 4, RateMode.Matrix, RecurrentActivation.Tanh, dtype, new RandomGenerator(1)),
        "rrnn-vector" => new RrnnCell(I, 4, RateMode.Vector, RecurrentActivation.Tanh, dtype, new RandomGenerator(2)),
        "rrnn-uniform" => new RrnnCell(I, 4, RateMode.Uniform, RecurrentActivation.Tanh, dtype, new RandomGenerator(3)),
        "rrnn-log" => new RrnnCell(I, 4, RateMode.Log, RecurrentActivation.Tanh, dtype, new RandomGenerator(4)),
        "mut1" => new Mut1Cell(I, 4, dtype, new RandomGenerator(5)),
        "mrnn" => new MrnnCell(I, 5, null, RecurrentActivation.Tanh, dtype, new RandomGenerator(6)),
        "scrn-vector" => new ScrnCell(I, 4, RateMode.Vector, RecurrentActivation.Tanh, dtype, new RandomGenerator(7)),
        "scrn-log" => new ScrnCell(I, 4, RateMode.Log, RecurrentActivation.Sigmoid, dtype, new RandomGenerator(8)),
        "clockwork" => new ClockworkCell(I, 6, [3, 1, 2], RecurrentActivation.Tanh, dtype, new RandomGenerator(9)),
        "lstm-peep" => new LstmCell(I, 4, peepholes: true, dtype, new RandomGenerator(10)),
        "rnn-relu" => new RnnCell(I, 4, RecurrentActivation.Relu, dtype, new RandomGenerator(11)),
        _ => throw new ArgumentException(kind),
    };

    public static TheoryData<string> Kinds => new(
        "rrnn-matrix", "rrnn-vector", "rrnn-uniform", "rrnn-log", "mut1", "mrnn", "scrn-vector", "scrn-log", "clockwork", "lstm-peep");

    /// <summary>Non-trivial values for every parameter (biases and rates included, which start at zero).</summary>
    internal static void Randomize(IRecurrentCell cell, ulong seed)
    {
        var rng = new RandomGenerator(seed);
        foreach (var p in cell.Parameters) p.CopyFrom(Tensor.Normal(p.ShapeArray, 0, 0.6, rng, DType.Float64));
    }

    private static double[] P(IRecurrentCell cell, string name) =>
        cell.Parameters.Single(p => p.Name == name).ToDoubleArray();

    private static double[]? Fixed(IRecurrentCell cell) => cell switch
    {
        RrnnCell r => r.FixedRate?.ToDoubleArray(),
        ScrnCell s => s.FixedRate?.ToDoubleArray(),
        _ => null,
    };

    private static CellState RandomState(IRecurrentCell cell, ulong seed)
    {
        var zero = cell.InitialState(N, DType.Float64);
        var entries = new (string, Tensor)[zero.Names.Count];
        for (int i = 0; i < entries.Length; i++)
            entries[i] = (zero.Names[i], Tensor.Normal(zero.Values[i].ShapeArray, 0, 0.5, new RandomGenerator(seed + (ulong)i), DType.Float64));
        return new CellState(entries);
    }

    /// <summary>The plain-loop oracle: outputs y and final state tensors in the cell's state order.</summary>
    private static (double[] y, double[][] finals) Oracle(string kind, IRecurrentCell cell, Tensor x, CellState s0, bool reverse)
    {
        var xs = Seq(x);
        int hs = cell.HiddenSize;
        var h0 = Rows(s0.H);
        switch (kind)
        {
            case "lstm-peep":
            {
                var (y, h, c) = Lstm(xs, hs, P(cell, "weight_ih_l0"), P(cell, "weight_hh_l0"), P(cell, "bias_ih_l0"), P(cell, "bias_hh_l0"),
                                     P(cell, "ci"), P(cell, "cf"), P(cell, "co"), h0, Rows(s0["c"]), reverse);
                return (Flat(y), [Flat(h), Flat(c)]);
            }
            case "rnn-relu":
            {
                // an RNN is an RRNN whose rate is fixed at 1
                var one = Enumerable.Repeat(1.0, hs).ToArray();
                var wih = P(cell, "weight_ih_l0");
                var b = P(cell, "bias_ih_l0").Zip(P(cell, "bias_hh_l0"), (a, c) => a + c).ToArray();
                var (y, h) = Rrnn(xs, hs, "relu", "fixed", wih, P(cell, "weight_hh_l0"), b, null, null, one, h0, reverse);
                return (Flat(y), [Flat(h)]);
            }
            case "mut1":
            {
                var (y, h) = Mut1(xs, hs, P(cell, "xh"), P(cell, "xr"), P(cell, "xz"), P(cell, "hh"), P(cell, "hr"),
                                  P(cell, "bh"), P(cell, "br"), P(cell, "bz"), h0, reverse);
                return (Flat(y), [Flat(h)]);
            }
            case "mrnn":
            {
                var m = (MrnnCell)cell;
                var (y, h) = Mrnn(xs, hs, m.Factors, "tanh", P(cell, "xh"), P(cell, "xf"), P(cell, "hf"), P(cell, "fh"), P(cell, "b"), h0, reverse);
                return (Flat(y), [Flat(h)]);
            }
            case "clockwork":
            {
                var (y, h, pre) = Clockwork(xs, hs, [3, 1, 2], "tanh", P(cell, "xh"), P(cell, "hh"), P(cell, "b"), h0, Rows(s0["pre"]), reverse);
                return (Flat(y), [Flat(h), Flat(pre)]);
            }
            case "scrn-vector":
            case "scrn-log":
            {
                var rho = kind == "scrn-vector" ? P(cell, "r").Select(Sig).ToArray() : Fixed(cell)!;
                var (y, h, s) = Scrn(xs, hs, kind == "scrn-vector" ? "tanh" : "sigmoid", P(cell, "w"), P(cell, "sh"), P(cell, "hh"),
                                     P(cell, "ho"), P(cell, "so"), P(cell, "b"), rho, h0, Rows(s0["s"]), reverse);
                return (Flat(y), [Flat(h), Flat(s)]);
            }
            default:
            {
                string rate = kind["rrnn-".Length..];
                bool learned = rate is "matrix" or "vector";
                var (y, h) = Rrnn(xs, hs, "tanh", learned ? rate : "fixed", P(cell, "xh"), P(cell, "hh"), P(cell, "b"),
                                  learned ? P(cell, "r") : null, rate == "matrix" ? P(cell, "xr") : null, Fixed(cell), h0, reverse);
                return (Flat(y), [Flat(h)]);
            }
        }
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    [InlineData("rnn-relu")]
    public void MatchesPlainLoopsForwardAndReversed(string kind)
    {
        var cell = Make(kind, DType.Float64);
        Randomize(cell, 100);
        var x = Tensor.Normal([Steps, N, I], 0, 1, new RandomGenerator(200), DType.Float64);
        foreach (bool reverse in new[] { false, true })
        {
            var s0 = RandomState(cell, 300);
            var (y, final) = Recurrence.Run(cell, x, s0, reverse);
            var (ey, efinal) = Oracle(kind, cell, x, s0, reverse);
            Assert.Equal([Steps, N, cell.HiddenSize], y.ShapeArray);
            T.Close(ey, y.ToDoubleArray(), Tol, Tol, $"{kind} reverse={reverse} outputs");
            for (int i = 0; i < efinal.Length; i++)
                T.Close(efinal[i], final.Values[i].ToDoubleArray(), Tol, Tol, $"{kind} reverse={reverse} final {final.Names[i]}");
            // the zero initial state gives the oracle's zero start too
            var (yz, _) = Recurrence.Run(cell, x, null, reverse);
            var (eyz, _) = Oracle(kind, cell, x, cell.InitialState(N, DType.Float64), reverse);
            T.Close(eyz, yz.ToDoubleArray(), Tol, Tol, $"{kind} reverse={reverse} zero start");
        }
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void PassesGradientCheckThroughTime(string kind)
    {
        var cell = Make(kind, DType.Float64);
        Randomize(cell, 400);
        var x = T.Rand(500, 3, 2, I);
        var s0 = cell.InitialState(2, DType.Float64);
        var inputs = new List<Tensor> { x };
        foreach (var v in s0.Values) inputs.Add(T.Rand(600 + (ulong)inputs.Count, v.ShapeArray));
        int nState = s0.Names.Count;
        inputs.AddRange(cell.Parameters);
        foreach (bool reverse in new[] { false, true })
        {
            T.GradOk($"{cell} reverse={reverse}", ins =>
            {
                var entries = new (string, Tensor)[nState];
                for (int i = 0; i < nState; i++) entries[i] = (s0.Names[i], ins[1 + i]);
                var (y, final) = Recurrence.Run(cell, ins[0], new CellState(entries), reverse);
                var parts = new List<Tensor> { y.Reshape(-1) };
                foreach (var v in final.Values) parts.Add(v.Reshape(-1));
                return Tensor.Concat(parts.ToArray(), 0);
            }, inputs.ToArray());
        }
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Float32AgreesWithFloat64(string kind)
    {
        var c64 = Make(kind, DType.Float64);
        var c32 = Make(kind, DType.Float32);
        Randomize(c64, 700);
        for (int i = 0; i < c64.Parameters.Count; i++)
        {
            Assert.Equal(DType.Float32, c32.Parameters[i].DType);
            c32.Parameters[i].CopyFrom(c64.Parameters[i]);
        }
        var x = Tensor.Normal([Steps, N, I], 0, 1, new RandomGenerator(800), DType.Float64);
        var (y64, _) = Recurrence.Run(c64, x);
        var (y32, f32) = Recurrence.Run(c32, x.To(DType.Float32));
        Assert.Equal(DType.Float32, y32.DType);
        Assert.Equal(DType.Float32, f32.H.DType);
        T.Close(y64.ToDoubleArray(), y32.ToDoubleArray(), Tol32, Tol32, $"{kind} float32");
    }

    [Fact]
    public void StepByStepEqualsTheTimeLoop()
    {
        foreach (var kind in new[] { "clockwork", "lstm-peep", "scrn-vector" })
        {
            var cell = Make(kind, DType.Float64);
            Randomize(cell, 900);
            var x = Tensor.Normal([Steps, N, I], 0, 1, new RandomGenerator(901), DType.Float64);
            var (y, final) = Recurrence.Run(cell, x);
            var s = cell.InitialState(N, DType.Float64);
            for (int t = 0; t < Steps; t++)
            {
                Assert.Equal(t, s.Time);
                (var yt, s) = cell.Step(x.Slice(0, t, 1).Squeeze(0), s);
                T.Close(y.Slice(0, t, 1).ToDoubleArray(), yt.ToDoubleArray(), 0, 0, $"{kind} step {t}");
            }
            T.Close(final.H.ToDoubleArray(), s.H.ToDoubleArray(), 0, 0, $"{kind} final h");
        }
    }

    [Fact]
    public void ClockworkMaskLetsSlowModulesFeedFastOnes()
    {
        var cell = new ClockworkCell(2, 6, [4, 1, 2], dtype: DType.Float64);
        Assert.Equal([1, 2, 4], cell.Periods);
        var m = cell.Mask;
        for (int target = 0; target < 6; target++)
            for (int source = 0; source < 6; source++)
                Assert.Equal(source / 2 >= target / 2 ? 1.0 : 0.0, m[target, source]);
        var e = Assert.Throws<ArgumentException>(() => new ClockworkCell(2, 7, [1, 2]));
        Assert.Contains("7", e.Message);
    }

    [Fact]
    public void ExoticDefaultsFollowFlexNetRules()
    {
        var cell = new Mut1Cell(3, 4, DType.Float64, new RandomGenerator(1));
        foreach (var b in cell.Parameters.Where(p => p.Name!.StartsWith('b')))
            Assert.All(b.ToDoubleArray(), v => Assert.Equal(0.0, v));
        var other = new Mut1Cell(3, 4, DType.Float64);
        var again = new Mut1Cell(3, 4, DType.Float64);
        Assert.NotEqual(other.Xh.ToDoubleArray(), again.Xh.ToDoubleArray()); // never identical by accident
        Assert.All(cell.Xh.ToDoubleArray(), v => Assert.InRange(v, -0.5, 0.5));
        Assert.Throws<ArgumentException>(() => new ScrnCell(3, 4, RateMode.Matrix));
        var mr = new MrnnCell(3, 10);
        Assert.Equal(4, mr.Factors);
    }
}
