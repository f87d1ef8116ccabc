using FlexNet.Connections;
using FlexNet.Graph;
using FlexNet.Layers;
using FlexNet.Tests.Testing;
using FlexNet.Tensors;

namespace FlexNet.Tests.Graph;

/// <summary>
/// The LSTM-cell recogniser of the plan (ExecutionPlan.Cells.cs) against networks that differ from the standard cell
/// in one detail it checks, and against standard cells drawn in ways its other tests do not draw them (issue 15,
/// the survivors of the Stryker run on Graph). A network that must fuse is fused (the plan says so) and gives the
/// per-layer path's outputs and gradients and a hand-written loop's outputs; a network that must not fuse runs layer
/// by layer and gives exactly the per-layer path's values (fusion off), and where the loop below can say it, the
/// loop's. Each case was checked by planting its mutants in the recogniser by hand: the case fails with them.
/// </summary>
public sealed class CellFusionMutationGapTests
{
    private const int In = 3, H = 4, Steps = 5, N = 2;

    /// <summary>One variant of x → LSTM cell (primitives) → dense head; the defaults are the standard cell.</summary>
    private sealed record V
    {
        public string IAct { get; init; } = "sigmoid";
        public string FAct { get; init; } = "sigmoid";
        public string GAct { get; init; } = "tanh";
        public string OAct { get; init; } = "sigmoid";
        public string Linear { get; init; } = "linear";     // activation name of i*g, f*c, c and h
        public string? BiasOn { get; init; }                 // "i*g", "f*c", "c", "tanh(c)" or "h" gets a layer bias
        public bool HSums { get; init; }                     // h = o + tanh(c)
        public bool TcDoubled { get; init; }                 // tanh(c) is a layer type that overrides Transform (2·tanh)
        public bool TcDense { get; init; }                   // c → tanh(c) through a dense connection
        public int CDelay { get; init; } = 1;                // delay of c into f*c
        public bool CFirst { get; init; }                    // f*c's first connection is the one from c
        public int FHDelay { get; init; } = 1;               // delay of h into f
        public bool FHIdentity { get; init; }                // h → f through an identity connection
        public bool FReadsZ { get; init; }                   // f reads z(t−1) (z = dense(x)) instead of h(t−1); head reads h(t−1) too
        public bool OReadsX2 { get; init; }                  // o reads a second temporal input
        public string[] InnerOutputs { get; init; } = [];   // inner layers that are also (last-step) outputs
        public bool HeadAllSteps { get; init; }              // the only output is the head at every step
        public bool Acc { get; init; }                       // acc = W·h + b + acc(t−1) after the cell; output acc (last step)
        public bool LearnInit { get; init; }                 // learned h₀ and c₀
        public bool DropoutBeforeHead { get; init; }         // h → dropout → head (the head still reads the last step only)
    }

    private sealed class Built
    {
        public required Network Net;
        public required V V;
        public required Layer[] Gates;                       // i, f, g, o
        public required DenseConnection[] FromX, FromH;      // per gate (FromH null where the gate does not read h by dense)
        public required Layer Ig, Fc, C, Tc, Hl, Head;
        public required DenseConnection HeadW;
        public DenseConnection? AccW;
    }

    /// <summary>tanh(c) drawn as a layer type of its own whose step is 2·act(z + b): not the base step.</summary>
    private sealed class DoubledLayer(int units, string activation, string name) : Layer(units, activation, name: name)
    {
        protected internal override Tensor Transform(Tensor combined, bool training) => base.Transform(combined, training) * 2.0;
    }

    private static Built Build(V v, bool fuse)
    {
        var net = new Network("cellgap", DType.Float64, seed: 3) { FuseCells = fuse };
        var x = new InputLayer(In, sequenceLength: Steps, name: "x");
        net.Add(x);
        var x2 = v.OReadsX2 ? new InputLayer(In, sequenceLength: Steps, name: "x2") : null;
        if (x2 is not null) net.Add(x2);
        Layer Gate(string act, string name) => new(H, act, bias: true, name: name);
        Layer Inner(string act, CombineRule combine, string name) => new(H, act, combine, bias: v.BiasOn == name, name: name);
        var gates = new[] { Gate(v.IAct, "i"), Gate(v.FAct, "f"), Gate(v.GAct, "g"), Gate(v.OAct, "o") };
        var ig = Inner(v.Linear, CombineRule.Product, "i*g");
        var fc = Inner(v.Linear, CombineRule.Product, "f*c");
        var c = Inner(v.Linear, CombineRule.Sum, "c");
        c.LearnInitialState = v.LearnInit;
        var tc = v.TcDoubled ? new DoubledLayer(H, "tanh", "tanh(c)") : Inner("tanh", CombineRule.Sum, "tanh(c)");
        var h = Inner(v.Linear, v.HSums ? CombineRule.Sum : CombineRule.Product, "h");
        h.LearnInitialState = v.LearnInit;
        var head = new Layer(2, name: "head");
        var fromX = new DenseConnection[4];
        var fromH = new DenseConnection[4];
        var z = v.FReadsZ ? new Layer(H, name: "z") : null;
        if (z is not null) net.ConnectDense(x, z);
        for (int k = 0; k < 4; k++)
        {
            fromX[k] = net.ConnectDense(k == 3 && x2 is not null ? x2 : x, gates[k]);
            if (k == 1 && v.FHIdentity) net.ConnectIdentity(h, gates[k], delay: 1);
            else if (k == 1 && z is not null) net.ConnectDense(z, gates[k], delay: 1);
            else fromH[k] = net.ConnectDense(h, gates[k], delay: k == 1 ? v.FHDelay : 1);
        }
        net.ConnectIdentity(gates[0], ig);
        net.ConnectIdentity(gates[2], ig);
        if (v.CFirst) net.ConnectIdentity(c, fc, delay: v.CDelay);
        net.ConnectIdentity(gates[1], fc);
        if (!v.CFirst) net.ConnectIdentity(c, fc, delay: v.CDelay);
        net.ConnectIdentity(ig, c);
        net.ConnectIdentity(fc, c);
        if (v.TcDense) net.ConnectDense(c, tc);
        else net.ConnectIdentity(c, tc);
        net.ConnectIdentity(gates[3], h);
        net.ConnectIdentity(tc, h);
        Layer headIn = h;
        if (v.DropoutBeforeHead)
        {
            headIn = new DropoutLayer(0.5, seed: 9, name: "drop");
            net.ConnectIdentity(h, headIn);
        }
        var headW = net.ConnectDense(headIn, head);
        if (z is not null) net.ConnectDense(h, head, delay: 1);
        DenseConnection? accW = null;
        if (v.Acc)
        {
            var acc = new Layer(2, name: "acc");
            accW = net.ConnectDense(h, acc);
            net.ConnectIdentity(acc, acc, delay: 1);
            net.AddOutput(acc, OutputMode.LastStep);
        }
        else net.AddOutput(head, v.HeadAllSteps ? OutputMode.AllSteps : OutputMode.LastStep);
        foreach (var name in v.InnerOutputs) net.AddOutput(net.Layers.Single(l => l.Name == name), OutputMode.LastStep);
        net.Compile();
        var rng = new RandomGenerator(5);
        foreach (var p in net.Parameters) p.CopyFrom(Tensor.Normal(p.ShapeArray, 0, 0.6, rng, DType.Float64));
        return new Built { Net = net, V = v, Gates = gates, FromX = fromX, FromH = fromH, Ig = ig, Fc = fc, C = c, Tc = tc, Hl = h, Head = head, HeadW = headW, AccW = accW };
    }

    private static Tensor[] Inputs(V v)
    {
        var x = Tensor.Normal([Steps, N, In], 0, 1, new RandomGenerator(7), DType.Float64).RequireGrad();
        if (!v.OReadsX2) return [x];
        return [x, Tensor.Normal([Steps, N, In], 0, 1, new RandomGenerator(8), DType.Float64).RequireGrad()];
    }

    /// <summary>Forward, loss Σ outᵢ ⊙ Gᵢ, backward: the outputs, the inputs' and every parameter's gradient.</summary>
    private static List<double[]> Run(Built b, bool expectFused)
    {
        var xs = Inputs(b.V);
        var outs = b.Net.Forward(xs, training: true);
        Assert.Equal(expectFused, b.Net.Plan!.LastRunFusedCells);
        var seen = new List<double[]>();
        Tensor? loss = null;
        for (int k = 0; k < outs.Length; k++)
        {
            var g = Tensor.Normal(outs[k].ShapeArray, 0, 1, new RandomGenerator(20 + (ulong)k), DType.Float64);
            var term = (outs[k] * g).Sum();
            loss = loss is null ? term : loss + term;
            seen.Add(outs[k].ToDoubleArray());
        }
        loss!.Backward();
        foreach (var x in xs) seen.Add(x.Grad!.ToDoubleArray());
        foreach (var p in b.Net.Parameters) seen.Add(p.Grad?.ToDoubleArray() ?? []);
        return seen;
    }

    private static double Act(string name, double z) => name switch
    {
        "sigmoid" or "logistic" => 1 / (1 + Math.Exp(-z)),
        "tanh" => Math.Tanh(z),
        "relu" => Math.Max(z, 0),
        "linear" or "identity" => z,
        _ => throw new ArgumentException(name),
    };

    /// <summary>The variant's equations by hand, in doubles: the first output ([N, 2] last step, or [T, N, 2]).</summary>
    private static double[] Hand(Built b)
    {
        var v = b.V;
        Assert.False(v.TcDense || v.FHIdentity || v.FReadsZ || v.OReadsX2 || v.DropoutBeforeHead, "the loop does not draw this variant");
        var x = Inputs(v)[0].ToDoubleArray();
        static double[] Vals(Tensor? t) => t?.ToDoubleArray() ?? new double[H];
        double[] LayerBias(Layer l) => Vals(l.Bias);
        var hs = new List<double[]>();
        var cs = new List<double[]>();
        var h0 = v.LearnInit ? b.Hl.InitialState!.ToDoubleArray() : new double[H];
        var c0 = v.LearnInit ? b.C.InitialState!.ToDoubleArray() : new double[H];
        double HAt(int t, int n, int u) => t < 0 ? h0[u] : hs[t][n * H + u];
        double CAt(int t, int n, int u) => t < 0 ? c0[u] : cs[t][n * H + u];
        string[] acts = [v.IAct, v.FAct, v.GAct, v.OAct];
        var head = new List<double>();
        var acc = new double[N * 2];
        for (int t = 0; t < Steps; t++)
        {
            var ht = new double[N * H];
            var ct = new double[N * H];
            for (int n = 0; n < N; n++)
            {
                var gate = new double[4][];
                for (int k = 0; k < 4; k++)
                {
                    var wx = b.FromX[k].Weight.ToDoubleArray();
                    var bx = Vals(b.FromX[k].Bias);
                    var wh = b.FromH[k].Weight.ToDoubleArray();
                    var bh = Vals(b.FromH[k].Bias);
                    var bl = LayerBias(b.Gates[k]);
                    int d = k == 1 ? v.FHDelay : 1;
                    gate[k] = new double[H];
                    for (int u = 0; u < H; u++)
                    {
                        double s = bx[u] + bh[u] + bl[u];
                        for (int j = 0; j < In; j++) s += wx[u * In + j] * x[(t * N + n) * In + j];
                        for (int j = 0; j < H; j++) s += wh[u * H + j] * HAt(t - d, n, j);
                        gate[k][u] = Act(acts[k], s);
                    }
                }
                double[] bIg = LayerBias(b.Ig), bFc = LayerBias(b.Fc), bC = LayerBias(b.C), bTc = LayerBias(b.Tc), bH = LayerBias(b.Hl);
                for (int u = 0; u < H; u++)
                {
                    double ig = gate[0][u] * gate[2][u] + bIg[u];
                    double fc = gate[1][u] * CAt(t - v.CDelay, n, u) + bFc[u];
                    double c = ig + fc + bC[u];
                    double tc = Math.Tanh(c + bTc[u]) * (v.TcDoubled ? 2 : 1);
                    ct[n * H + u] = c;
                    ht[n * H + u] = (v.HSums ? gate[3][u] + tc : gate[3][u] * tc) + bH[u];
                }
            }
            hs.Add(ht);
            cs.Add(ct);
            var dense = v.Acc ? b.AccW! : b.HeadW;
            var w = dense.Weight.ToDoubleArray();
            var bb = Vals(dense.Bias);
            for (int n = 0; n < N; n++)
                for (int o = 0; o < 2; o++)
                {
                    double s = bb[o];
                    for (int j = 0; j < H; j++) s += w[o * H + j] * ht[n * H + j];
                    if (v.Acc) acc[n * 2 + o] += s;
                    else if (v.HeadAllSteps || t == Steps - 1) head.Add(s);
                }
        }
        return v.Acc ? acc : head.ToArray();
    }

    private static void AssertClose(List<double[]> expected, List<double[]> actual, double tol)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (int k = 0; k < expected.Count; k++) T.Close(expected[k], actual[k], tol, tol, $"value {k}");
    }

    public static TheoryData<string> FusingCases =>
        ["aliases identity and logistic", "c(t-1) first into f*c", "head at every step only", "accumulator after the cell", "accumulator, learned initial state"];

    private static V FusingCase(string name) => name switch
    {
        "aliases identity and logistic" => new V { Linear = "identity", IAct = "logistic", FAct = "logistic", OAct = "logistic" },
        "c(t-1) first into f*c" => new V { CFirst = true },
        "head at every step only" => new V { HeadAllSteps = true },
        "accumulator after the cell" => new V { Acc = true },
        "accumulator, learned initial state" => new V { Acc = true, LearnInit = true },
        _ => throw new ArgumentException(name),
    };

    /// <summary>Standard cells drawn another way fuse, and give the per-layer path's values and gradients and the
    /// loop's outputs: activation aliases, f*c's inputs in the other order, an every-step output that is the only
    /// output, and a layer after the cell that must run at every step (it has a ring buffer and reads h(t)).</summary>
    [Theory]
    [MemberData(nameof(FusingCases))]
    public void AStandardCellDrawnAnotherWayFuses(string name)
    {
        var v = FusingCase(name);
        var fused = Build(v, fuse: true);
        var layers = Build(v, fuse: false);
        Assert.Equal(1, fused.Net.CompilePlan().FusedCellCount);
        var got = Run(fused, expectFused: true);
        AssertClose(Run(layers, expectFused: false), got, 1e-12);
        T.Close(Hand(fused), got[0], 1e-12, 1e-12, "outputs against the loop");
    }

    public static TheoryData<string> NonFusingCases =>
    [
        "relu f gate", "h sums", "tanh(c) overrides Transform", "tanh(c) reads c through a dense connection",
        "f reads h(t-2)", "f reads z(t-1)", "f reads h through an identity connection", "bias on h", "bias on tanh(c)",
        "bias on c", "bias on i*g", "bias on f*c", "f*c reads c(t-2)", "f*c reads c(t-2) first", "o reads another input",
        "f and tanh(c) are outputs", "f is an output",
    ];

    private static V NonFusingCase(string name) => name switch
    {
        "relu f gate" => new V { FAct = "relu" },
        "h sums" => new V { HSums = true },
        "tanh(c) overrides Transform" => new V { TcDoubled = true },
        "tanh(c) reads c through a dense connection" => new V { TcDense = true },
        "f reads h(t-2)" => new V { FHDelay = 2 },
        "f reads z(t-1)" => new V { FReadsZ = true },
        "f reads h through an identity connection" => new V { FHIdentity = true },
        "bias on h" => new V { BiasOn = "h" },
        "bias on tanh(c)" => new V { BiasOn = "tanh(c)" },
        "bias on c" => new V { BiasOn = "c" },
        "bias on i*g" => new V { BiasOn = "i*g" },
        "bias on f*c" => new V { BiasOn = "f*c" },
        "f*c reads c(t-2)" => new V { CDelay = 2 },
        "f*c reads c(t-2) first" => new V { CDelay = 2, CFirst = true },
        "o reads another input" => new V { OReadsX2 = true },
        "f and tanh(c) are outputs" => new V { InnerOutputs = ["f", "tanh(c)"] },
        "f is an output" => new V { InnerOutputs = ["f"] },
        _ => throw new ArgumentException(name),
    };

    /// <summary>A cell that differs from the standard one in one detail the recogniser checks runs layer by layer,
    /// with exactly the values of fusion off, and (where the loop draws it) the loop's outputs.</summary>
    [Theory]
    [MemberData(nameof(NonFusingCases))]
    public void ACellThatDiffersInOneDetailRunsLayerByLayer(string name)
    {
        var v = NonFusingCase(name);
        var on = Build(v, fuse: true);
        var off = Build(v, fuse: false);
        Assert.Equal(0, on.Net.CompilePlan().FusedCellCount);
        Assert.DoesNotContain("LSTM cell", on.Net.DescribePlan());
        var got = Run(on, expectFused: false);
        AssertClose(Run(off, expectFused: false), got, 0);
        if (!(v.TcDense || v.FHIdentity || v.FReadsZ || v.OReadsX2))
            T.Close(Hand(on), got[0], 1e-12, 1e-12, "outputs against the loop");
    }

    /// <summary>A layer after the cell that only a last-step output needs runs at the last step only, in the fused run
    /// as in the per-layer one: a dropout there draws one mask per run, so both runs drop the same units (a fused
    /// run that ran it at every step would draw T masks and end on another one).</summary>
    [Fact]
    public void ALayerNeededAtTheLastStepOnlyRunsOnceInTheFusedRun()
    {
        var v = new V { DropoutBeforeHead = true };
        var fused = Build(v, fuse: true);
        Assert.Equal(1, fused.Net.CompilePlan().FusedCellCount);
        var got = Run(fused, expectFused: true);
        AssertClose(Run(Build(v, fuse: false), expectFused: false), got, 1e-12);
        // the dropout is active: the outputs differ from those of the same network without it
        var eval = Build(v with { DropoutBeforeHead = false }, fuse: true);
        Assert.NotEqual(Run(eval, expectFused: true)[0], got[0]);
    }

    /// <summary>The plan text marks h's line with the whole cell and each inner layer's line with the cell it is in.</summary>
    [Fact]
    public void ThePlanTextNamesTheFusedCellOnEachOfItsLayers()
    {
        var b = Build(new V(), fuse: true);
        var lines = b.Net.DescribePlan().Split('\n', StringSplitOptions.TrimEntries);
        string Line(string layer) => Assert.Single(lines, l => l.Contains($": {layer} <-", StringComparison.Ordinal));
        Assert.EndsWith("  [fused LSTM cell over the whole sequence: i, f, g, o, i*g, f*c, c, tanh(c), h; input x]", Line("h"));
        foreach (var inner in new[] { "i", "f", "g", "o", "i*g", "f*c", "c", "tanh(c)" })
            Assert.EndsWith("  [in LSTM cell 'h']", Line(inner));
        Assert.DoesNotContain("LSTM cell", Line("head"));
    }
}
