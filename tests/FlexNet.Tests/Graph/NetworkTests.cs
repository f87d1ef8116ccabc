// Over 400 lines on purpose: the Network API end to end (Connect, delays, combine rules, Forward, training steps,
// errors), sharing the small graphs built at the top.
using FlexNet.Autodiff;
using FlexNet.Connections;
using FlexNet.Examples;
using FlexNet.Graph;
using FlexNet.Layers;
using FlexNet.Tests.Testing;
using FlexNet.Tensors;

namespace FlexNet.Tests.Graph;

public sealed class NetworkTests
{
    /// <summary>x(t) [3] temporal and c [2] static; h1 = tanh(W x + F h2(t−1) + e⊙h1(t−2)), h2 = σ(V h1 + V' h1 + U c),
    /// g = σ(G x(t−1)), p = h2 ⊙ g (product), y = Wy p. Outputs y every step and h1 at the last step.</summary>
    private static (Network net, InputLayer x, InputLayer c) FeedbackNet(ulong seed = 3)
    {
        var net = new Network("fb", DType.Float64, seed);
        var x = new InputLayer(3, sequenceLength: 4, name: "x");
        var c = new InputLayer(2, name: "c");
        var h1 = new Layer(4, "tanh", bias: true, name: "h1");
        var h2 = new Layer(3, "sigmoid", name: "h2");
        var g = new Layer(3, "sigmoid", name: "g");
        var p = new Layer(3, combine: CombineRule.Product, name: "p");
        var y = new Layer(2, name: "y");
        net.Connect(x, h1);
        net.Connect(h1, h2);
        net.ConnectDense(h1, h2, bias: false); // a second connection between the same pair adds
        net.ConnectDense(c, h2, bias: false);
        net.ConnectDense(h2, h1, delay: 1);
        net.ConnectElementwise(h1, h1, delay: 2);
        net.ConnectDense(x, g, delay: 1);
        net.ConnectIdentity(h2, p);
        net.ConnectIdentity(g, p);
        net.Connect(p, y);
        net.AddOutput(y);
        net.AddOutput(h1, OutputMode.LastStep);
        net.Compile();
        // make the elementwise weights non-trivial
        var rng = new RandomGenerator(seed + 100);
        foreach (var prm in net.Parameters)
            prm.CopyFrom(Tensor.Normal(prm.ShapeArray, 0, 0.6, rng, DType.Float64));
        return (net, x, c);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(5)]
    public void UnrolledFeedbackNetworkPassesGradCheck(int steps)
    {
        var (net, _, _) = FeedbackNet();
        var x = T.Rand(11, steps, 2, 3);
        var c = T.Rand(12, 2, 2);
        var inputs = net.Parameters.Append(x).Append(c).ToArray();
        T.GradOk($"feedback net T={steps}", _ =>
        {
            var o = net.Forward(x, c);
            return Tensor.Concat([o[0].Reshape(-1), o[1].Reshape(-1)], 0);
        }, inputs);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void FusedDenseLayersEqualTheUnfusedOps(bool masked)
    {
        const int steps = 5;
        var (net, _, _) = FeedbackNet();
        Assert.False(net.Plan!.IsFused(net["h1"])); // has an elementwise input
        Assert.True(net.Plan.IsFused(net["h2"]));
        Assert.True(net.Plan.IsFused(net["g"]));
        Assert.True(net.Plan.IsFused(net["y"]));
        Assert.False(net.Plan.IsFused(net["p"])); // product rule
        var x = T.Rand(91, steps, 2, 3);
        var c = T.Rand(92, 2, 2);
        var gy = T.Rand(93, steps, 2, 2).Detach();
        var gh = T.Rand(94, 2, 4).Detach();
        var mask = Tensor.Ones([steps, 2], DType.Float64);
        mask[4, 1] = 0; mask[3, 1] = 0;
        (double[][] Grads, double[] Y, double[] Gx) Run()
        {
            net.ZeroGrad();
            x.ZeroGrad();
            var o = net.Forward([x, c], false, masked ? mask : null);
            ((o[0] * gy).Sum() + (o[1] * gh).Sum()).Backward();
            return (Grads(net), o[0].ToDoubleArray(), x.Grad!.ToDoubleArray());
        }
        var fused = Run();
        net.FuseDenseLayers = false;
        Assert.False(net.CompilePlan().IsFused(net["h2"]));
        var plain = Run();
        T.Close(plain.Y, fused.Y, 1e-13, 1e-14, "outputs");
        T.Close(plain.Gx, fused.Gx, 1e-12, 1e-13, "grad x");
        for (int i = 0; i < plain.Grads.Length; i++) T.Close(plain.Grads[i], fused.Grads[i], 1e-12, 1e-13, $"grad {i}");
    }

    [Fact]
    public void DelayZeroCycleNamesEveryLayerOnIt()
    {
        var net = new Network("cyc");
        var x = new InputLayer(2, name: "x");
        var a = new Layer(3, name: "a");
        var b = new Layer(3, name: "b");
        var c = new Layer(3, name: "c");
        var d = new Layer(3, name: "d");
        net.Connect(x, a);
        net.Connect(a, b);
        net.Connect(b, c);
        net.Connect(c, a);
        net.Connect(c, d);
        var e = Assert.Throws<GraphException>(() => net.Compile());
        Assert.Contains("'a' -> 'b' -> 'c' -> 'a'", e.Message);
        Assert.DoesNotContain("'d'", e.Message);

        // the same loop with a delay is fine
        var ok = new Network("nocyc");
        var x2 = new InputLayer(2, name: "x");
        var a2 = new Layer(3, name: "a");
        var b2 = new Layer(3, name: "b");
        ok.Connect(x2, a2);
        ok.Connect(a2, b2);
        ok.Connect(b2, a2, delay: 1);
        ok.Compile();

        var self = new Network("self");
        var s = new Layer(3, name: "s");
        self.Connect(new InputLayer(2, name: "x"), s);
        self.ConnectIdentity(s, s);
        Assert.Contains("'s' -> 's'", Assert.Throws<GraphException>(() => self.Compile()).Message);
    }

    [Fact]
    public void ShapeMismatchNamesConnectionLayersAndShapes()
    {
        var net = new Network("shapes");
        var x = new InputLayer(4, name: "in");
        var h = new Layer(5, name: "hid");
        net.ConnectIdentity(x, h, name: "skip");
        var e = Assert.Throws<ShapeMismatchException>(() => net.Compile());
        Assert.Contains("'skip'", e.Message);
        Assert.Contains("'in'", e.Message);
        Assert.Contains("'hid'", e.Message);
        Assert.Contains("[4]", e.Message);
        Assert.Contains("[5]", e.Message);

        var conv = new Network("conv");
        var img = new InputLayer([1, 8, 8], name: "img");
        var c1 = new Layer([4, 8, 8], "relu", name: "c1");
        conv.ConnectConv2d(img, c1, 3, name: "k3"); // valid padding gives [4, 6, 6]
        e = Assert.Throws<ShapeMismatchException>(() => conv.Compile());
        Assert.Contains("'k3'", e.Message);
        Assert.Contains("'img'", e.Message);
        Assert.Contains("'c1'", e.Message);
        Assert.Contains("[4, 6, 6]", e.Message);
        Assert.Contains("[4, 8, 8]", e.Message);

        // conv feedback from a later map that cannot reach the earlier map's size
        var fb = new Network("fb");
        var i2 = new InputLayer([1, 8, 8], name: "img");
        var l1 = new Layer([4, 8, 8], "relu", name: "l1");
        var l2 = new Layer([4, 4, 4], "relu", name: "l2");
        var l3 = new Layer([4, 2, 2], "relu", name: "l3");
        fb.ConnectConv2d(i2, l1, 3, padding: Padding.Same);
        fb.ConnectConv2d(l1, l2, 3, stride: 2, padding: 1);
        fb.ConnectConv2d(l2, l3, 3, stride: 2, padding: 1);
        fb.ConnectConvTranspose2d(l3, l1, 3, stride: 2, padding: 1, delay: 1, name: "top-down");
        e = Assert.Throws<ShapeMismatchException>(() => fb.Compile());
        Assert.Contains("'top-down'", e.Message);
        Assert.Contains("'l3'", e.Message);
        Assert.Contains("'l1'", e.Message);
        Assert.Contains("[4, 2, 2]", e.Message);
        Assert.Contains("[4, 8, 8]", e.Message);

        // a wrong input tensor names the input layer
        var d = new Network("dense");
        var xi = new InputLayer(3, name: "feat");
        d.Connect(xi, new Layer(2, name: "out"));
        d.Compile();
        var ie = Assert.Throws<ShapeMismatchException>(() => d.Forward(Tensor.Zeros([5, 4])));
        Assert.Contains("'feat'", ie.Message);
        Assert.Contains("[5, 4]", ie.Message);
    }

    private static double[][] Grads(Network net) => net.Parameters.Select(p => p.Grad?.ToDoubleArray() ?? new double[p.Length]).ToArray();

    private static void Train(Network net, Tensor x, Tensor c, Tensor gy, Tensor gh)
    {
        net.ZeroGrad();
        var o = net.Forward(x, c);
        ((o[0] * gy).Sum() + (o[1] * gh).Sum()).Backward();
    }

    [Fact]
    public void TruncatedBpttWithWindowTEqualsFullBptt()
    {
        const int steps = 6;
        var (net, _, _) = FeedbackNet();
        var x = T.Rand(21, steps, 2, 3);
        var c = T.Rand(22, 2, 2);
        var gy = T.Rand(23, steps, 2, 2).Detach();
        var gh = T.Rand(24, 2, 4).Detach();
        Train(net, x, c, gy, gh);
        var full = Grads(net);
        var fullX = x.Grad!.ToDoubleArray();

        net.TruncatedBptt = steps;
        x.ZeroGrad();
        Train(net, x, c, gy, gh);
        var trunc = Grads(net);
        for (int i = 0; i < full.Length; i++) Assert.Equal(full[i], trunc[i]);
        Assert.Equal(fullX, x.Grad!.ToDoubleArray());

        // a shorter window really cuts gradient paths
        net.TruncatedBptt = 2;
        Train(net, x, c, gy, gh);
        var shorter = Grads(net);
        Assert.Contains(Enumerable.Range(0, full.Length), i => !full[i].SequenceEqual(shorter[i]));
    }

    [Fact]
    public void StatefulHalvesEqualTheWholeSequence()
    {
        const int steps = 6;
        var (net, _, _) = FeedbackNet();
        var x = T.Rand(31, steps, 2, 3).Detach();
        var c = T.Rand(32, 2, 2).Detach();
        var gy = T.Rand(33, steps, 2, 2).Detach();

        // whole sequence, truncated at the half: the gradient the stateful halves compute
        net.TruncatedBptt = steps / 2;
        net.ZeroGrad();
        var whole = net.Forward(x, c);
        (whole[0] * gy).Sum().Backward();
        var wholeGrads = Grads(net);
        var wholeY = whole[0].ToDoubleArray();
        var wholeH = whole[1].ToDoubleArray();

        net.TruncatedBptt = null;
        net.Stateful = true;
        net.ZeroGrad();
        var ys = new List<double>();
        double[] lastH = [];
        for (int half = 0; half < 2; half++)
        {
            var xh = x.Slice(0, half * steps / 2, steps / 2);
            var o = net.Forward(xh, c);
            (o[0] * gy.Slice(0, half * steps / 2, steps / 2)).Sum().Backward();
            ys.AddRange(o[0].ToDoubleArray());
            lastH = o[1].ToDoubleArray();
        }
        T.Close(wholeY, ys.ToArray(), 1e-13, 1e-14, "stateful outputs");
        T.Close(wholeH, lastH, 1e-13, 1e-14, "stateful last h1");
        var halves = Grads(net);
        for (int i = 0; i < halves.Length; i++) T.Close(wholeGrads[i], halves[i], 1e-12, 1e-13, $"stateful grad {i}");

        // reset: the next call starts from zeros again and equals a fresh stateless run of the first half
        net.ResetState();
        var again = net.Forward(x.Slice(0, 0, steps / 2), c)[0].ToDoubleArray();
        T.Close(ys.Take(again.Length).ToArray(), again, 1e-13, 1e-14, "after ResetState");
    }

    [Fact]
    public void MaskedPaddedBatchEqualsSeparateRuns()
    {
        const int steps = 5;
        int[] lengths = [5, 3];
        var (net, _, _) = FeedbackNet();
        var x = T.Rand(41, steps, 2, 3).Detach();
        var c = T.Rand(42, 2, 2).Detach();
        var gy = T.Rand(43, steps, 2, 2).Detach();
        var gh = T.Rand(44, 2, 4).Detach();
        var mask = Tensor.Zeros([steps, 2], DType.Float64);
        for (int b = 0; b < 2; b++) for (int t = 0; t < lengths[b]; t++) mask[t, b] = 1;

        net.ZeroGrad();
        var o = net.Forward([x, c], training: true, mask: mask);
        ((o[0] * gy).Sum() + (o[1] * gh).Sum()).Backward();
        var batched = Grads(net);
        var y = o[0];
        var hLast = o[1];

        var sum = batched.Select(g => new double[g.Length]).ToArray();
        net.ZeroGrad();
        for (int b = 0; b < 2; b++)
        {
            int len = lengths[b];
            var xb = x.Slice(1, b, 1).Slice(0, 0, len).Contiguous();
            var cb = c.Slice(0, b, 1).Contiguous();
            var ob = net.Forward(xb, cb);
            ((ob[0] * gy.Slice(1, b, 1).Slice(0, 0, len)).Sum() + (ob[1] * gh.Slice(0, b, 1)).Sum()).Backward();
            for (int t = 0; t < steps; t++)
            {
                var expect = t < len ? ob[0].Slice(0, t, 1).ToDoubleArray() : new double[2];
                T.Close(expect, y.Slice(0, t, 1).Slice(1, b, 1).ToDoubleArray(), 1e-13, 1e-14, $"sample {b} step {t}");
            }
            T.Close(ob[1].ToDoubleArray(), hLast.Slice(0, b, 1).ToDoubleArray(), 1e-13, 1e-14, $"sample {b} last h1");
        }
        var separate = Grads(net); // accumulated over both separate runs
        for (int i = 0; i < batched.Length; i++) T.Close(separate[i], batched[i], 1e-12, 1e-13, $"masked grad {i}");
    }

    [Fact]
    public void RecurrentConvNetWithTransposedConvFeedbackPassesGradCheck()
    {
        // conv -> pool -> conv, stride-2 transposed-conv top-down feedback conv2 -> conv1, lateral conv1 -> conv1
        var net = new Network("rcnn", DType.Float64, seed: 5);
        var img = new InputLayer([1, 8, 8], name: "img");
        var c1 = new Layer([3, 8, 8], "tanh", name: "conv1");
        var pool = new PoolLayer(PoolKind.Max, 2, 2, name: "pool");
        var c2 = new Layer([4, 4, 4], "tanh", name: "conv2");
        var flat = new FlattenLayer(name: "flat");
        var outL = new Layer(3, name: "out");
        net.ConnectConv2d(img, c1, 3, padding: Padding.Same);
        net.Connect(c1, pool);
        net.ConnectConv2d(pool, c2, 3, padding: 1);
        var td = net.ConnectConvTranspose2d(c2, c1, 3, stride: 2, padding: 1, delay: 1, name: "top-down");
        net.ConnectConv2d(c1, c1, 3, padding: Padding.Same, delay: 1, bias: false, name: "lateral");
        net.Connect(c2, flat);
        net.Connect(flat, outL);
        net.AddOutput(outL, OutputMode.LastStep);
        net.Steps = 3;
        net.Compile();
        Assert.Equal([3, 8, 8], td.OutputShape!);
        Assert.Equal((1, 1), td.OutputPadding);
        Assert.Equal([64], flat.OutputShape!);
        var x = T.RandU(51, 0, 1, 2, 1, 8, 8);
        var y = net.Forward(x)[0];
        Assert.Equal([2, 3], y.Shape.ToArray());
        // the feedback matters: a 1-step run differs
        var y1 = net.Forward([x], false, steps: 1)[0];
        Assert.NotEqual(y.ToDoubleArray(), y1.ToDoubleArray());
        T.GradOk("recurrent conv net", _ => net.Forward(x)[0], net.Parameters.Append(x).ToArray());
    }

    /// <summary>A user-defined connection: c = tanh(a · s) with a learned scalar a.</summary>
    private sealed class ScaledTanh(Layer from, Layer to, int delay = 0) : Connection(from, to, delay)
    {
        public Tensor A => Parameters[0];

        protected override int[] Build(ConnectionBuildContext context)
        {
            AddParameter("a", Tensor.Full([1], 0.7, context.DType));
            return context.SourceShape;
        }

        public override Tensor Contribute(Tensor source) => (source * A).Tanh();
    }

    [Fact]
    public void UserDefinedTiedElementwiseConcatAndLearnedInitialStateGradCheck()
    {
        var net = new Network("misc", DType.Float64, seed: 9);
        var x = new InputLayer(4, sequenceLength: 3, name: "x");
        var enc = new Layer(3, "tanh", name: "enc");
        var cat = new Layer((int[]?)null, combine: CombineRule.Concat, name: "cat");
        var dec = new Layer(4, name: "dec");
        var mem = new Layer(3, "tanh", bias: true, name: "mem") { LearnInitialState = true };
        var encW = net.ConnectDense(x, enc);
        net.ConnectTied(enc, dec, encW);
        var user = net.Connect(new ScaledTanh(enc, mem));
        net.ConnectDense(mem, mem, delay: 1);
        net.ConnectIdentity(mem, cat);
        net.ConnectIdentity(enc, cat);
        net.ConnectElementwise(dec, cat, delay: 2, bias: true);
        net.AddOutput(cat);
        net.AddOutput(dec, OutputMode.LastStep);
        net.Compile();
        Assert.Equal([10], cat.OutputShape!);
        Assert.Equal("mem.initial_state", mem.InitialState!.Name);
        Assert.Contains(user.A, net.Parameters);
        Assert.Contains(mem.InitialState, net.Parameters);
        var rng = new RandomGenerator(77);
        foreach (var p in net.Parameters) p.CopyFrom(Tensor.Normal(p.ShapeArray, 0, 0.5, rng, DType.Float64));
        var xs = T.Rand(61, 3, 2, 4);
        T.GradOk("misc net", _ =>
        {
            var o = net.Forward(xs);
            return Tensor.Concat([o[0].Reshape(-1), o[1].Reshape(-1)], 0);
        }, net.Parameters.Append(xs).ToArray());
    }

    /// <summary>A user connection whose Contribute returns the wrong shape.</summary>
    private sealed class Broken(Layer from, Layer to) : Connection(from, to)
    {
        protected override int[] Build(ConnectionBuildContext context) => context.SourceShape;

        public override Tensor Contribute(Tensor source) => source.Slice(1, 0, 2);
    }

    [Fact]
    public void ShapeLayersInferTheirShapesAndWrongContributionsAreNamed()
    {
        var net = new Network("shape-layers");
        var img = new InputLayer([2, 9, 9], name: "img");
        var pool = new PoolLayer(PoolKind.Average, 2, 3, stride: 2, padding: 1, name: "pool");
        var flat = new FlattenLayer(name: "flat");
        var rs = new ReshapeLayer([5, 10], name: "rs");
        var d = new Layer(50, name: "d");
        net.Connect(img, pool);
        net.Connect(pool, flat);
        net.Connect(flat, d);
        net.Connect(d, rs);
        net.AddOutput(rs);
        net.Compile();
        Assert.Equal([2, 5, 5], pool.OutputShape!);
        Assert.Equal([50], flat.OutputShape!);
        Assert.Equal([5, 10], rs.OutputShape!);
        var y = net.Forward(Tensor.Ones([3, 2, 9, 9]))[0];
        Assert.Equal([1, 3, 5, 10], y.Shape.ToArray());

        var bad = new Network("bad-reshape");
        var i2 = new InputLayer(6, name: "in");
        var r2 = new ReshapeLayer([4, 2], name: "r");
        bad.Connect(i2, r2);
        var e = Assert.Throws<ShapeMismatchException>(() => bad.Compile());
        Assert.Contains("'r'", e.Message);
        Assert.Contains("[6]", e.Message);
        Assert.Contains("[4, 2]", e.Message);

        var user = new Network("user");
        var i3 = new InputLayer(4, name: "in");
        var h3 = new Layer(4, name: "h");
        user.Connect(new Broken(i3, h3));
        user.Compile();
        var ue = Assert.Throws<ShapeMismatchException>(() => user.Forward(Tensor.Ones([2, 4])));
        Assert.Contains("in->h", ue.Message);
        Assert.Contains("[2, 2]", ue.Message);
        Assert.Contains("[2, 4]", ue.Message);
    }

    [Fact]
    public void ZeroStateStillAppliesTheConnectionBias()
    {
        // y(0) = tanh(W x + (U·0 + c)): the recurrent connection's bias c counts at step 0 (as in PyTorch)
        var net = new Network("bias0", DType.Float64);
        var x = new InputLayer(2, name: "x");
        var h = new Layer(2, "linear", name: "h");
        var w = net.ConnectDense(x, h, bias: false);
        var u = net.ConnectDense(h, h, delay: 3, bias: true);
        net.Steps = 1;
        net.Compile();
        w.Weight.Fill(0);
        u.Bias!.CopyFrom(Tensor.FromArray([1.5, -2.0], 2));
        var y = net.Forward(Tensor.Ones([1, 2], DType.Float64))[0];
        Assert.Equal([1.5, -2.0], y.ToDoubleArray());
        Assert.Equal(3, net.Plan!.HistoryDepth(h));
    }

    [Fact]
    public void SummaryAndDotShowLayersShapesAndRecurrentEdges()
    {
        var net = SeedNetwork.Build(seed: 1);
        net.Compile();
        var s = net.Summary();
        foreach (var name in new[] { "L1", "L2", "L3", "L4", "L5", "L6" }) Assert.Contains(name, s);
        Assert.Contains("[300]", s);
        Assert.Contains("L6->L2", s);
        Assert.Contains("L2->L3#2", s);
        Assert.Contains($"Total parameters: {net.ParameterCount}", s);
        // 196·300+300 + 2·(300·150+150) + 150·50+50 + 50·200+200 + 200·10+10 + 200·300+300
        Assert.Equal(196 * 300 + 300 + 2 * (300 * 150 + 150) + 150 * 50 + 50 + 50 * 200 + 200 + 200 * 10 + 10 + 200 * 300 + 300, net.ParameterCount);
        var dot = net.ToDot();
        Assert.StartsWith("digraph \"Demo\" {", dot);
        Assert.Contains("\"L6\" -> \"L2\" [label=\"dense d=2\", style=dashed", dot);
        Assert.Contains("\"L1\" -> \"L2\" [label=\"dense\"]", dot);
        Assert.Equal(2, dot.Split("\"L2\" -> \"L3\"").Length - 1);
    }

    [Fact]
    public void RunsInsideATensorScopeWithoutLeakingBuffers()
    {
        var net = SeedNetwork.Build(seed: 2);
        net.Compile();
        var x = Tensor.Uniform([4, 8, 196], 0, 1, new RandomGenerator(1));
        for (int i = 0; i < 3; i++)
        {
            long before = BufferPool.Outstanding;
            using (TensorScope.Begin())
            {
                net.ZeroGrad();
                var y = net.Forward(x)[0];
                y.Sum().Backward();
            }
            if (i > 0) Assert.Equal(before, BufferPool.Outstanding);
        }
    }
}
