using FlexNet.Autodiff;
using FlexNet.Connections;
using FlexNet.Graph;
using FlexNet.Tensors;

namespace FlexNet.Tests.Graph;

/// <summary>
/// Batching of layers that share their inputs (ExecutionPlan.Groups.cs, Autodiff/Ops/DenseGroup.cs): fused every-step
/// layers reading the same sources at the same delays through dense connections of their own run as one product per
/// source per step, and their weight gradients as one product per walk. Checked against plain loops written here,
/// float64 finite differences, and the per-layer plan (batching off); and the wirings where batching must not apply
/// (different delays, a member with another kind of input, shared weights, two connections from one source, hoisted
/// inputs) keep the per-layer path.
/// </summary>
public sealed class SharedInputBatchingTests
{
    private const int T = 5, N = 2, In = 3;

    /// <summary>a = σ(Wxa x + Wha h(t−1) + b), b = tanh(Whb h(t−1) + Wxb x) (connections in the other order),
    /// c = relu(Wxc x + Whc h(t−1)), h = tanh(Wah a + Wbh b + Wch c); widths 4, 3, 2, 3; every dense connection with
    /// a bias, layer a with a bias of its own. <paramref name="variant"/> changes one thing (see the tests).</summary>
    private static Network Build(bool batch, string variant = "", bool lastStep = false, DType dtype = DType.Float64)
    {
        var net = new Network("grp", dtype, 3) { BatchSharedInputs = batch };
        var x = new InputLayer(In, sequenceLength: T, name: "x");
        var a = new Layer(4, "sigmoid", bias: true, name: "a");
        var b = new Layer(3, "tanh", name: "b");
        var c = new Layer(2, "relu", name: "c");
        var h = new Layer(3, "tanh", name: "h");
        var xa = net.ConnectDense(x, a, name: "xa");
        net.ConnectDense(h, a, delay: 1, name: "ha");
        net.ConnectDense(h, b, delay: variant == "delay2" ? 2 : 1, name: "hb");
        net.ConnectDense(x, b, name: "xb");
        net.ConnectDense(x, c, name: "xc");
        net.ConnectDense(h, c, delay: 1, name: "hc");
        net.ConnectDense(a, h, name: "ah");
        net.ConnectDense(b, h, name: "bh");
        net.ConnectDense(c, h, name: "ch");
        switch (variant)
        {
            case "extra": // c also reads b: its inputs differ from a's and b's, so c runs alone
                net.ConnectDense(b, c, name: "bc");
                break;
            case "feeds": // x and h(t−1) also feed a layer that is not a member (h itself reads x): the group stays
                net.ConnectDense(x, h, name: "xh");
                break;
            case "twice": // a reads x through two connections
                net.ConnectDense(x, a, name: "xa2");
                break;
            case "shared": // a2 uses a's input weight: a and a2 must not be stacked (the weight would be there twice)
                var a2 = new Layer(4, "sigmoid", name: "a2");
                net.Connect(new SharedConnection(xa, x, a2));
                net.ConnectDense(h, a2, delay: 1, name: "ha2");
                net.ConnectDense(a2, h, name: "a2h");
                break;
            case "tied": // d reads a through xa's weight transposed; a stays batched (the group snapshots W per run)
                var d = new Layer(3, "linear", name: "d");
                net.ConnectTied(a, d, xa, name: "ad");
                net.ConnectDense(d, h, name: "dh");
                break;
            case "static": // a non-temporal input into every member: its products are hoisted, so no group
                var u = new InputLayer(2, name: "u");
                net.ConnectDense(u, a, name: "ua");
                net.ConnectDense(u, b, name: "ub");
                net.ConnectDense(u, c, name: "uc");
                break;
        }
        net.AddOutput(h, lastStep ? OutputMode.LastStep : OutputMode.AllSteps);
        net.Compile();
        var rng = new RandomGenerator(11);
        foreach (var p in net.Parameters) p.CopyFrom(Tensor.Normal(p.ShapeArray, 0, 0.7, rng, dtype));
        return net;
    }

    private static Tensor[] Inputs(string variant = "", DType dtype = DType.Float64)
    {
        var x = Tensor.Normal([T, N, In], 0, 1, new RandomGenerator(5), dtype);
        return variant == "static" ? [x, Tensor.Normal([N, 2], 0, 1, new RandomGenerator(6), dtype)] : [x];
    }

    private static int Notes(Network net) => net.DescribePlan().Split("[one product with:").Length - 1;

    private static string Line(Network net, string layer) =>
        net.DescribePlan().Split('\n').First(l => l.Contains($": {layer} <-", StringComparison.Ordinal));

    /// <summary>The oracle: the base network (no variant) stepped with loops over plain arrays.</summary>
    private static double[] Oracle(Network net, Tensor xt)
    {
        var c = net.Connections.OfType<DenseConnection>().ToDictionary(k => k.Name);
        double[] xs = xt.ToDoubleArray(), ba = net["a"].Bias!.ToDoubleArray();
        double Dot(string name, int o, double[] v, int off)
        {
            var con = c[name];
            var w = con.Weight.ToDoubleArray();
            int inF = con.InFeatures;
            double z = con.Bias!.ToDoubleArray()[o];
            for (int i = 0; i < inF; i++) z += w[o * inF + i] * v[off + i];
            return z;
        }
        var outs = new double[T * N * 3];
        var prev = new double[N * 3];
        for (int t = 0; t < T; t++)
        {
            var hNew = new double[N * 3];
            for (int n = 0; n < N; n++)
            {
                int xo = (t * N + n) * In;
                var a = new double[4];
                var b = new double[3];
                var cc = new double[2];
                for (int o = 0; o < 4; o++) a[o] = 1 / (1 + Math.Exp(-(Dot("xa", o, xs, xo) + Dot("ha", o, prev, n * 3) + ba[o])));
                for (int o = 0; o < 3; o++) b[o] = Math.Tanh(Dot("hb", o, prev, n * 3) + Dot("xb", o, xs, xo));
                for (int o = 0; o < 2; o++) cc[o] = Math.Max(0, Dot("xc", o, xs, xo) + Dot("hc", o, prev, n * 3));
                for (int o = 0; o < 3; o++) hNew[n * 3 + o] = Math.Tanh(Dot("ah", o, a, 0) + Dot("bh", o, b, 0) + Dot("ch", o, cc, 0));
            }
            Array.Copy(hNew, 0, outs, t * N * 3, N * 3);
            prev = hNew;
        }
        return outs;
    }

    [Fact]
    public void Batched_Forward_MatchesPlainLoops_AndThePlanSaysSo()
    {
        var net = Build(batch: true);
        Assert.Equal(3, Notes(net));
        Assert.Contains("[one product with: b, c]", Line(net, "a"));
        Assert.DoesNotContain("one product", Line(net, "h"));
        Assert.Equal(0, Notes(Build(batch: false)));
        var x = Inputs()[0];
        var got = net.Forward([x], training: false)[0].ToDoubleArray();
        var want = Oracle(net, x);
        for (int i = 0; i < want.Length; i++)
            Assert.True(Math.Abs(want[i] - got[i]) <= 1e-12, $"element {i}: loops {want[i]:G15}, network {got[i]:G15}");
    }

    [Fact]
    public void Batched_Gradients_MatchFiniteDifferences()
    {
        var net = Build(batch: true);
        var x = Inputs()[0].RequireGrad(); // the input's gradient goes through the per-step dx products too
        var ps = net.Parameters.Append(x).ToArray();
        var r = GradCheck.Check("batched", _ => net.Forward([x], training: true)[0], ps);
        Assert.True(r.Passed, r.Failure);
    }

    private static (double[] Y, double[][] G) Run(Network net, Tensor[] xs, Tensor? mask = null, bool scope = false, int backwards = 1)
    {
        foreach (var p in net.Parameters) p.Grad = null;
        using var s = scope ? TensorScope.Begin() : null;
        var y = net.Forward(xs, training: true, mask: mask)[0];
        var g = Tensor.Normal(y.ShapeArray, 0, 1, new RandomGenerator(9), y.DType);
        for (int k = 0; k < backwards; k++) (y * g).Sum().Backward(null, retainGraph: k < backwards - 1);
        return (y.ToDoubleArray(), net.Parameters.Select(p => p.Grad is null ? [] : p.Grad.ToDoubleArray()).ToArray());
    }

    private static void Same((double[] Y, double[][] G) a, (double[] Y, double[][] G) b, double tol, double scaleB = 1)
    {
        Assert.Equal(b.Y.Length, a.Y.Length);
        for (int i = 0; i < a.Y.Length; i++) Assert.True(Math.Abs(a.Y[i] - b.Y[i]) <= tol * (1 + Math.Abs(b.Y[i])), $"output {i}: {a.Y[i]:G17} vs {b.Y[i]:G17}");
        Assert.Equal(b.G.Length, a.G.Length);
        for (int k = 0; k < a.G.Length; k++)
        {
            Assert.Equal(b.G[k].Length, a.G[k].Length);
            for (int i = 0; i < a.G[k].Length; i++)
            {
                double want = scaleB * b.G[k][i];
                Assert.True(Math.Abs(a.G[k][i] - want) <= tol * (1 + Math.Abs(want)), $"parameter {k}, element {i}: {a.G[k][i]:G17} vs {want:G17}");
            }
        }
    }

    [Theory]
    [InlineData("", 3)]
    [InlineData("delay2", 2)]   // b reads h(t−2): a and c still share theirs
    [InlineData("extra", 2)]    // c has an input from b: a and b only
    [InlineData("feeds", 3)]    // the sources also feed a non-member
    [InlineData("twice", 2)]    // a reads x twice: b and c only
    [InlineData("shared", 2)]   // a and a2 share a weight: b and c only
    [InlineData("tied", 3)]     // a's weight also used transposed by another connection: still batched, still right
    [InlineData("static", 0)]   // hoisted inputs: no group
    public void EveryWiring_GivesThePerLayerResults(string variant, int members)
    {
        var on = Build(batch: true, variant);
        var off = Build(batch: false, variant);
        Assert.Equal(members, Notes(on));
        if (variant is "twice" or "shared") Assert.DoesNotContain("one product", Line(on, "a"));
        if (variant == "delay2") Assert.DoesNotContain("one product", Line(on, "b"));
        if (variant == "extra") Assert.DoesNotContain("one product", Line(on, "c"));
        Same(Run(on, Inputs(variant)), Run(off, Inputs(variant)), 1e-12);
    }

    [Fact]
    public void MaskTruncationAndRetainedGraphs_GiveThePerLayerResults()
    {
        var mask = Tensor.FromArray(new double[] { 1, 1, 1, 0, 0, 1, 1, 0, 1, 1 }, T, N);
        Same(Run(Build(true), Inputs(), mask), Run(Build(false), Inputs(), mask), 1e-12);

        // windowed truncation: the group's per-run tensors must outlive the first window, its stacks hold one window
        var on = Build(true, lastStep: true);
        var off = Build(false, lastStep: true);
        on.TruncatedBptt = 2;
        off.TruncatedBptt = 2;
        Same(Run(on, Inputs(), scope: true), Run(off, Inputs(), scope: true), 1e-12);

        // a second backward through a retained graph adds the same gradients again (the stacks start over)
        Same(Run(Build(true), Inputs(), backwards: 2), Run(Build(false), Inputs()), 1e-12, scaleB: 2);
    }

    [Fact]
    public void FrozenWeights_GetNoGradient_AndTheOthersAreRight()
    {
        var on = Build(true);
        var off = Build(false);
        foreach (var net in new[] { on, off })
            foreach (var c in net.Connections.OfType<DenseConnection>().Where(c => c.Name is "xa" or "hb"))
                c.Weight.RequireGrad(false);
        var a = Run(on, Inputs());
        Same(a, Run(off, Inputs()), 1e-12);
        var xa = on.Connections.OfType<DenseConnection>().Single(c => c.Name == "xa").Weight;
        Assert.Null(xa.Grad);
    }

    [Fact]
    public void Float32_InAScope_MatchesThePerLayerPlan()
    {
        var on = Build(true, dtype: DType.Float32);
        var off = Build(false, dtype: DType.Float32);
        Same(Run(on, Inputs(dtype: DType.Float32), scope: true), Run(off, Inputs(dtype: DType.Float32), scope: true), 2e-5);
    }
}
