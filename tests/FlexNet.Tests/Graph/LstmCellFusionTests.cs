using FlexNet.Autodiff;
using FlexNet.Connections;
using FlexNet.Graph;
using FlexNet.Optimizers;
using FlexNet.Tests.Testing;
using FlexNet.Tensors;

namespace FlexNet.Tests.Graph;

/// <summary>
/// The plan's fused LSTM cell (ExecutionPlan.Cells.cs): an LSTM built from layers and connections runs as one
/// whole-sequence op when, and only when, it is exactly the standard cell. Each case builds the same float64 network
/// twice (same seed, same parameters), once with <see cref="Network.FuseCells"/> off (nine layers per step, the path
/// <see cref="LstmFromPrimitivesTests"/> checks against torch) and once on, and compares outputs, the input's and every
/// parameter's gradient, and a second pass after one Adam step. Networks that differ from the pattern in one respect
/// must not fuse and give the per-layer results bit for bit.
/// </summary>
public sealed class LstmCellFusionTests
{
    private const int In = 3, H = 5, Steps = 6, N = 4;

    internal sealed record Options
    {
        public bool XBias { get; init; } = true;
        public bool HBias { get; init; } = true;
        public bool GateBias { get; init; }
        public bool LearnInit { get; init; }
        public string IAct { get; init; } = "sigmoid";
        public bool ExtraReaderOfF { get; init; }
        public bool ThirdInput { get; init; }
        public bool HAllSteps { get; init; }
        public bool SwapInputOrder { get; init; }
        public DType DType { get; init; } = DType.Float64;
    }

    /// <summary>x → LSTM cell (primitives) → head (dense, last step); optionally h every step as a second output.</summary>
    private static Network Build(Options o, bool fuse)
    {
        var net = new Network("cell", o.DType, seed: 11) { FuseCells = fuse };
        var x = new InputLayer(In, sequenceLength: Steps, name: "x");
        var gi = new Layer(H, o.IAct, bias: o.GateBias, name: "i");
        var gf = new Layer(H, "sigmoid", bias: o.GateBias, name: "f");
        var gg = new Layer(H, "tanh", bias: o.GateBias, name: "g");
        var go = new Layer(H, "sigmoid", bias: o.GateBias, name: "o");
        var ig = new Layer(H, combine: CombineRule.Product, name: "i*g");
        var fc = new Layer(H, combine: CombineRule.Product, name: "f*c");
        var c = new Layer(H, name: "c") { LearnInitialState = o.LearnInit };
        var tc = new Layer(H, "tanh", name: "tanh(c)");
        var h = new Layer(H, combine: CombineRule.Product, name: "h") { LearnInitialState = o.LearnInit };
        var head = new Layer(2, name: "head");
        foreach (var gate in new[] { gi, gf, gg, go })
        {
            if (o.SwapInputOrder)
            {
                net.ConnectDense(h, gate, delay: 1, bias: o.HBias);
                net.ConnectDense(x, gate, bias: o.XBias);
            }
            else
            {
                net.ConnectDense(x, gate, bias: o.XBias);
                net.ConnectDense(h, gate, delay: 1, bias: o.HBias);
            }
        }
        if (o.SwapInputOrder) net.ConnectIdentity(gg, ig);
        net.ConnectIdentity(gi, ig);
        if (!o.SwapInputOrder) net.ConnectIdentity(gg, ig);
        net.ConnectIdentity(gf, fc);
        net.ConnectIdentity(c, fc, delay: 1);
        net.ConnectIdentity(ig, c);
        net.ConnectIdentity(fc, c);
        net.ConnectIdentity(c, tc);
        if (o.SwapInputOrder) net.ConnectIdentity(tc, h);
        net.ConnectIdentity(go, h);
        if (!o.SwapInputOrder) net.ConnectIdentity(tc, h);
        net.ConnectDense(h, head);
        if (o.ExtraReaderOfF) net.ConnectDense(gf, head);
        if (o.ThirdInput) net.ConnectDense(x, gf, delay: 1);
        net.AddOutput(head, OutputMode.LastStep);
        if (o.HAllSteps) net.AddOutput(h, OutputMode.AllSteps);
        net.Compile();
        var rng = new RandomGenerator(5);
        foreach (var p in net.Parameters) p.CopyFrom(Tensor.Normal(p.ShapeArray, 0, 0.5, rng, o.DType));
        return net;
    }

    /// <summary>Forward, loss Σ out ⊙ G, backward, one Adam step, forward and backward again: every value seen.</summary>
    private static List<double[]> Train(Network net, Options o, Tensor? mask = null, bool? expectFused = null, int passes = 2)
    {
        var x = Tensor.Normal([Steps, N, In], 0, 1, new RandomGenerator(7), o.DType).RequireGrad();
        var opt = new Optimizer(net.Parameters.ToList(), new Adam(0.01));
        var seen = new List<double[]>();
        for (int pass = 0; pass < passes; pass++)
        {
            opt.ZeroGrad();
            x.Grad = null;
            var outs = net.Forward([x], training: true, mask: mask);
            if (expectFused is bool f) Assert.Equal(f, net.Plan!.LastRunFusedCells);
            Tensor? loss = null;
            for (int k = 0; k < outs.Length; k++)
            {
                var g = Tensor.Normal(outs[k].ShapeArray, 0, 1, new RandomGenerator(20 + (ulong)k), o.DType);
                var term = (outs[k] * g).Sum();
                loss = loss is null ? term : loss + term;
                seen.Add(outs[k].ToDoubleArray());
            }
            loss!.Backward();
            seen.Add(x.Grad!.ToDoubleArray());
            foreach (var p in net.Parameters)
            {
                Assert.NotNull(p.Grad);
                seen.Add(p.Grad!.ToDoubleArray());
            }
            if (pass == passes - 1 && passes == 1) break; // (float32: Adam's m/√v would magnify rounding of near-zero gradients)
            opt.Step();
            foreach (var p in net.Parameters) seen.Add(p.ToDoubleArray());
        }
        return seen;
    }

    private static void AssertClose(List<double[]> expected, List<double[]> actual, double tol)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (int k = 0; k < expected.Count; k++) T.Close(expected[k], actual[k], tol, tol, $"value {k}");
    }

    public static TheoryData<string> FusingCases => ["plain", "no biases", "gate biases only", "all biases", "learned initial state", "h every step", "inputs in other order"];

    private static Options Case(string name) => name switch
    {
        "plain" => new Options(),
        "no biases" => new Options { XBias = false, HBias = false },
        "gate biases only" => new Options { XBias = false, HBias = false, GateBias = true },
        "all biases" => new Options { GateBias = true },
        "learned initial state" => new Options { LearnInit = true, GateBias = true, HBias = false },
        "h every step" => new Options { HAllSteps = true },
        "inputs in other order" => new Options { SwapInputOrder = true },
        _ => throw new ArgumentException(name),
    };

    [Theory]
    [MemberData(nameof(FusingCases))]
    public void FusedCellEqualsTheLayersAndTheirGradients(string name)
    {
        var o = Case(name);
        var fused = Build(o, fuse: true);
        var layers = Build(o, fuse: false);
        Assert.Equal(1, fused.CompilePlan().FusedCellCount);
        Assert.Contains("fused LSTM cell over the whole sequence", fused.DescribePlan());
        Assert.Equal(0, layers.CompilePlan().FusedCellCount);
        Assert.DoesNotContain("LSTM cell", layers.DescribePlan());
        var want = Train(layers, o, expectFused: false);
        var got = Train(fused, o, expectFused: true);
        AssertClose(want, got, 1e-12);
    }

    [Fact]
    public void LearnedInitialStatesGetTheirGradients()
    {
        var o = new Options { LearnInit = true };
        var fused = Build(o, fuse: true);
        Train(fused, o, expectFused: true);
        foreach (var l in fused.Layers.Where(l => l.LearnInitialState))
            Assert.Contains(l.InitialState!.Grad!.ToDoubleArray(), v => v != 0);
    }

    public static TheoryData<string> NonFusingCases => ["extra reader of f", "relu gate", "third input into a gate"];

    [Theory]
    [MemberData(nameof(NonFusingCases))]
    public void ADifferentCellRunsLayerByLayer(string name)
    {
        var o = name switch
        {
            "extra reader of f" => new Options { ExtraReaderOfF = true },
            "relu gate" => new Options { IAct = "relu" },
            "third input into a gate" => new Options { ThirdInput = true },
            _ => throw new ArgumentException(name),
        };
        var on = Build(o, fuse: true);
        var off = Build(o, fuse: false);
        Assert.Equal(0, on.CompilePlan().FusedCellCount);
        Assert.DoesNotContain("LSTM cell", on.DescribePlan());
        var want = Train(off, o);
        var got = Train(on, o, expectFused: false);
        AssertClose(want, got, 0);
    }

    [Fact]
    public void AMaskedRunRunsLayerByLayer()
    {
        var o = new Options { HAllSteps = true };
        var m = new double[Steps * N];
        Array.Fill(m, 1.0);
        m[(Steps - 1) * N] = m[(Steps - 2) * N] = 0; // sample 0 ends two steps early
        var mask = Tensor.FromArray(m, Steps, N);
        var want = Train(Build(o, fuse: false), o, mask);
        var got = Train(Build(o, fuse: true), o, mask, expectFused: false);
        AssertClose(want, got, 0);
    }

    [Fact]
    public void ATruncatedRunRunsLayerByLayerAndAWindowAsLongAsTheSequenceFuses()
    {
        var o = new Options();
        var off = Build(o, fuse: false);
        var on = Build(o, fuse: true);
        off.TruncatedBptt = on.TruncatedBptt = 2;
        AssertClose(Train(off, o), Train(on, o, expectFused: false), 0);
        var off2 = Build(o, fuse: false);
        var on2 = Build(o, fuse: true);
        off2.TruncatedBptt = on2.TruncatedBptt = Steps;
        AssertClose(Train(off2, o), Train(on2, o, expectFused: true), 1e-12);
    }

    [Fact]
    public void RecordedActivationsAndStatefulRunsRunLayerByLayer()
    {
        var o = new Options();
        var on = Build(o, fuse: true);
        on.RecordActivations = true;
        AssertClose(Train(Build(o, fuse: false), o), Train(on, o, expectFused: false), 0);
        Assert.Contains(on.Activations, a => a.Key == "i*g");
        var stateful = Build(o, fuse: true);
        stateful.Stateful = true;
        var plain = Build(o, fuse: false);
        plain.Stateful = true;
        AssertClose(Train(plain, o), Train(stateful, o, expectFused: false), 0);
    }

    /// <summary>The benchmark's network (bench LstmWorkload.BuildPrimitives, float32, smaller) fuses, and its fused
    /// outputs stay within float32 rounding of the layers'.</summary>
    [Fact]
    public void TheBenchmarksCellFusesInFloat32()
    {
        var o = new Options { DType = DType.Float32 };
        var fused = Build(o, fuse: true);
        Assert.Equal(1, fused.CompilePlan().FusedCellCount);
        AssertClose(Train(Build(o, fuse: false), o, passes: 1), Train(fused, o, expectFused: true, passes: 1), 2e-5);
    }
}
