using FlexNet.Connections;
using FlexNet.Graph;
using FlexNet.Tensors;

namespace FlexNet.Tests.Graph;

/// <summary>
/// Delayed edges against an independent oracle: every network here is also written out as plain double loops
/// (<see cref="Oracle"/>) that know nothing of ring buffers, plans or fused kernels: y_L(t) = act(Σ_c W_c·y_from(t − k_c)
/// + b_c), where a read before step 0 sees zeros or the source's learned initial state. Only the weights are taken
/// from the library (after compiling); everything else is recomputed. Each network runs with the fused dense path on
/// and off.
/// </summary>
public sealed class DelayedEdgeOracleTests
{
    private const int Batch = 2;

    /// <summary>One edge of the oracle: dense W [out, in] and b [out] (or none) read at delay <c>Delay</c>.</summary>
    private sealed record Edge(string From, string To, int Delay, double[] W, double[]? B);

    /// <summary>
    /// The oracle. <paramref name="order"/> lists the non-input layers so that every delay-0 edge goes forward;
    /// <paramref name="x"/> is the input sequence [T][N][units]; <paramref name="init"/> the value before step 0 per
    /// layer (null = zeros). Returns y[layer][t][n][unit].
    /// </summary>
    private static Dictionary<string, double[][][]> Oracle(
        string input, double[][][] x, (string Name, int Units, bool Tanh)[] order, Edge[] edges,
        Dictionary<string, double[]>? init = null)
    {
        int steps = x.Length;
        var units = new Dictionary<string, int> { [input] = x[0][0].Length };
        foreach (var (name, u, _) in order) units[name] = u;
        var y = new Dictionary<string, double[][][]> { [input] = x };
        foreach (var (name, u, _) in order)
        {
            y[name] = new double[steps][][];
            for (int t = 0; t < steps; t++)
            {
                y[name][t] = new double[Batch][];
                for (int n = 0; n < Batch; n++) y[name][t][n] = new double[u];
            }
        }

        double Read(string layer, int t, int n, int i)
        {
            if (t >= 0) return y[layer][t][n][i];
            return init is not null && init.TryGetValue(layer, out var s) ? s[i] : 0.0;
        }

        for (int t = 0; t < steps; t++)
        {
            foreach (var (name, u, tanh) in order)
            {
                for (int n = 0; n < Batch; n++)
                {
                    for (int o = 0; o < u; o++)
                    {
                        double z = 0;
                        foreach (var e in edges)
                        {
                            if (e.To != name) continue;
                            int inF = units[e.From];
                            double c = e.B is null ? 0 : e.B[o];
                            for (int i = 0; i < inF; i++) c += e.W[o * inF + i] * Read(e.From, t - e.Delay, n, i);
                            z += c;
                        }
                        y[name][t][n][o] = tanh ? Math.Tanh(z) : z;
                    }
                }
            }
        }
        return y;
    }

    private static double[][][] Sequence(ulong seed, int steps, int units)
    {
        var rng = new RandomGenerator(seed);
        var x = new double[steps][][];
        for (int t = 0; t < steps; t++)
        {
            x[t] = new double[Batch][];
            for (int n = 0; n < Batch; n++)
            {
                x[t][n] = new double[units];
                for (int i = 0; i < units; i++) x[t][n][i] = rng.NextNormal();
            }
        }
        return x;
    }

    private static Tensor ToTensor(double[][][] x)
    {
        int steps = x.Length, units = x[0][0].Length;
        var flat = new double[steps * Batch * units];
        for (int t = 0; t < steps; t++)
            for (int n = 0; n < Batch; n++)
                for (int i = 0; i < units; i++) flat[(t * Batch + n) * units + i] = x[t][n][i];
        return Tensor.FromArray(flat, steps, Batch, units);
    }

    /// <summary>Gives every parameter N(0, 0.5²) values (no zero biases to hide a missing term) and returns the
    /// oracle's copy of each dense edge.</summary>
    private static Edge[] Randomise(Network net, ulong seed)
    {
        var rng = new RandomGenerator(seed);
        foreach (var p in net.Parameters) p.CopyFrom(Tensor.Normal(p.ShapeArray, 0, 0.5, rng, DType.Float64));
        return net.Connections.Cast<DenseConnection>()
            .Select(c => new Edge(c.From.Name, c.To.Name, c.Delay, c.Weight.ToDoubleArray(), c.Bias?.ToDoubleArray()))
            .ToArray();
    }

    private static void AssertMatches(double[][][] expected, Tensor actual, string what)
    {
        int steps = expected.Length, units = expected[0][0].Length;
        Assert.Equal([steps, Batch, units], actual.ShapeArray);
        var a = actual.ToDoubleArray();
        for (int t = 0; t < steps; t++)
            for (int n = 0; n < Batch; n++)
                for (int i = 0; i < units; i++)
                {
                    double e = expected[t][n][i], g = a[(t * Batch + n) * units + i];
                    Assert.True(Math.Abs(e - g) <= 1e-12 + 1e-12 * Math.Abs(e),
                        $"{what}: step {t}, sample {n}, unit {i}: oracle {e:G15}, network {g:G15}");
                }
    }

    private static void AssertLastStep(double[][][] expected, Tensor actual, string what)
    {
        int units = expected[0][0].Length;
        Assert.Equal([Batch, units], actual.ShapeArray);
        var a = actual.ToDoubleArray();
        var last = expected[^1];
        for (int n = 0; n < Batch; n++)
            for (int i = 0; i < units; i++)
                Assert.True(Math.Abs(last[n][i] - a[n * units + i]) <= 1e-12 + 1e-12 * Math.Abs(last[n][i]),
                    $"{what} (last step): sample {n}, unit {i}: oracle {last[n][i]:G15}, network {a[n * units + i]:G15}");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Delay2RingBufferWrapsAndReadsTwoStepsBack(bool fused)
    {
        // h(t) = tanh(Wx x(t) + bx + Wh h(t−2) + bh): with a ring of depth 2, from t = 3 on the slot for t−2 has been
        // overwritten once; a ring that clamps instead of wrapping reads h(t−1) there.
        const int steps = 7;
        var net = new Network("ring", DType.Float64, 1) { FuseDenseLayers = fused };
        var x = new InputLayer(2, sequenceLength: steps, name: "x");
        var h = new Layer(3, "tanh", name: "h");
        net.ConnectDense(x, h);
        net.ConnectDense(h, h, delay: 2);
        net.AddOutput(h);
        net.Compile();
        var edges = Randomise(net, 11);
        var xs = Sequence(12, steps, 2);
        var want = Oracle("x", xs, [("h", 3, true)], edges);
        var got = net.Forward(ToTensor(xs))[0];
        AssertMatches(want["h"], got, "h");

        // The oracle itself must tell t−2 from t−1: the same net read at delay 1 differs from step 2 on.
        var wrong = Oracle("x", xs, [("h", 3, true)], edges.Select(e => e.Delay == 2 ? e with { Delay = 1 } : e).ToArray());
        Assert.True(Math.Abs(wrong["h"][3][0][0] - want["h"][3][0][0]) > 1e-6, "the delay-1 variant should differ at t = 3");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void DelaysLongerThanTheSequenceSeeOnlyTheInitialValueButStillApplyTheirBias(bool fused)
    {
        // T = 3 with delays 3 and 5: those edges never see a real output, so they contribute W·0 + b = b every step.
        const int steps = 3;
        var net = new Network("long", DType.Float64, 2) { FuseDenseLayers = fused };
        var x = new InputLayer(2, sequenceLength: steps, name: "x");
        var h = new Layer(3, "tanh", name: "h");
        var y = new Layer(2, name: "y");
        net.ConnectDense(x, h);
        net.ConnectDense(h, h, delay: 1);
        net.ConnectDense(h, h, delay: 5);
        net.ConnectDense(y, h, delay: 3);
        net.ConnectDense(h, y);
        net.AddOutput(y);
        net.AddOutput(h, OutputMode.LastStep);
        net.Compile();
        var edges = Randomise(net, 21);
        var xs = Sequence(22, steps, 2);
        var want = Oracle("x", xs, [("h", 3, true), ("y", 2, false)], edges);
        var got = net.Forward(ToTensor(xs));
        AssertMatches(want["y"], got[0], "y");
        AssertLastStep(want["h"], got[1], "h");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void SeveralDelaysIntoOneLayerEachReadTheirOwnStep(bool fused)
    {
        // h(t) = tanh(A x(t) + B h(t−1) + C h(t−2) + D h(t−3) + E y(t−2)), y(t) = F h(t): h's ring has depth 3 and y's 2.
        const int steps = 8;
        var net = new Network("multi", DType.Float64, 3) { FuseDenseLayers = fused };
        var x = new InputLayer(2, sequenceLength: steps, name: "x");
        var h = new Layer(4, "tanh", name: "h");
        var y = new Layer(2, name: "y");
        net.ConnectDense(x, h);
        net.ConnectDense(h, h, delay: 1);
        net.ConnectDense(h, h, delay: 2);
        net.ConnectDense(h, h, delay: 3);
        net.ConnectDense(y, h, delay: 2);
        net.ConnectDense(h, y);
        net.AddOutput(y);
        net.AddOutput(h);
        net.Compile();
        var edges = Randomise(net, 31);
        var xs = Sequence(32, steps, 2);
        var want = Oracle("x", xs, [("h", 4, true), ("y", 2, false)], edges);
        var got = net.Forward(ToTensor(xs));
        AssertMatches(want["y"], got[0], "y");
        AssertMatches(want["h"], got[1], "h");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void ParallelEdgesBetweenTheSameLayersAllContribute(bool fused)
    {
        // Two feed-forward edges x→h, two h→y and two recurrent y→h(t−1): each pair must add both terms.
        const int steps = 5;
        var net = new Network("parallel", DType.Float64, 4) { FuseDenseLayers = fused };
        var x = new InputLayer(3, sequenceLength: steps, name: "x");
        var h = new Layer(4, "tanh", name: "h");
        var y = new Layer(2, name: "y");
        net.ConnectDense(x, h);
        net.ConnectDense(x, h);
        net.ConnectDense(h, y);
        net.ConnectDense(h, y, bias: false);
        net.ConnectDense(y, h, delay: 1);
        net.ConnectDense(y, h, delay: 1);
        net.AddOutput(y);
        net.Compile();
        Assert.Equal(6, net.Connections.Count);
        var edges = Randomise(net, 41);
        var xs = Sequence(42, steps, 3);
        var want = Oracle("x", xs, [("h", 4, true), ("y", 2, false)], edges);
        AssertMatches(want["y"], net.Forward(ToTensor(xs))[0], "y");
    }

    [Theory]
    [InlineData(true, false)]
    [InlineData(false, false)]
    [InlineData(true, true)]
    [InlineData(false, true)]
    public void DelayedEdgesWhoseSourceIsFedByADelayedEdge(bool fused, bool learnedInitial)
    {
        // a(t) = tanh(P x(t) + Q c(t−1)), b(t) = tanh(R a(t−1)), c(t) = tanh(S b(t−2) + U a(t)), y(t) = V c(t) + Z b(t−1):
        // a chain of delays 1 → 2 closing a loop of total delay 4; with learned initial states on b and c the reads
        // before step 0 (c at t = 0, b at t = 0 and 1) see those values.
        const int steps = 9;
        var net = new Network("chain", DType.Float64, 5) { FuseDenseLayers = fused };
        var x = new InputLayer(2, sequenceLength: steps, name: "x");
        var a = new Layer(3, "tanh", name: "a");
        var b = new Layer(3, "tanh", name: "b") { LearnInitialState = learnedInitial };
        var c = new Layer(2, "tanh", name: "c") { LearnInitialState = learnedInitial };
        var y = new Layer(2, name: "y");
        net.ConnectDense(x, a);
        net.ConnectDense(c, a, delay: 1);
        net.ConnectDense(a, b, delay: 1);
        net.ConnectDense(b, c, delay: 2);
        net.ConnectDense(a, c);
        net.ConnectDense(c, y);
        net.ConnectDense(b, y, delay: 1);
        net.AddOutput(y);
        net.AddOutput(b);
        net.Compile();
        var edges = Randomise(net, 51); // also gives the learned initial states non-zero values
        Dictionary<string, double[]>? init = null;
        if (learnedInitial)
        {
            init = new() { ["b"] = b.InitialState!.ToDoubleArray(), ["c"] = c.InitialState!.ToDoubleArray() };
            Assert.All(init.Values, v => Assert.Contains(v, e => Math.Abs(e) > 0.05));
        }
        var xs = Sequence(52, steps, 2);
        var want = Oracle("x", xs, [("a", 3, true), ("b", 3, true), ("c", 2, true), ("y", 2, false)], edges, init);
        var got = net.Forward(ToTensor(xs));
        AssertMatches(want["y"], got[0], "y");
        AssertMatches(want["b"], got[1], "b");
    }
}
