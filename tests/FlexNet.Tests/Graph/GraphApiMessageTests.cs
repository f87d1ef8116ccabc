using FlexNet.Autodiff;
using FlexNet.Connections;
using FlexNet.Graph;
using FlexNet.Tensors;

namespace FlexNet.Tests.Graph;

/// <summary>
/// The graph API's argument checks, errors and descriptions, each asserted with its whole text (exception type and
/// message), and the bookkeeping behind them: automatic and unique names, the stable topological order, the parameter
/// list, rebuilds that keep parameters. Mutation testing of Graph showed most of these messages asserted only by a
/// fragment or not at all.
/// </summary>
public sealed class GraphApiMessageTests
{
    private static string Fail<TEx>(Action a) where TEx : Exception => Assert.Throws<TEx>(a).Message;

    [Fact]
    public void ConstructorAndSetterArgumentsAreChecked()
    {
        Assert.Equal("Network dtype must be Float32 or Float64. Received: Int32 (Parameter 'dtype')",
            Fail<ArgumentException>(() => _ = new Network("n", DType.Int32)));
        var net = new Network("n");
        Assert.Equal(1, net.Steps);
        Assert.Equal("Steps must be positive. Received: 0 (Parameter 'value')", Fail<ArgumentException>(() => net.Steps = 0));
        net.Steps = 1;
        Assert.Equal("TruncatedBptt must be positive. Received: 0 (Parameter 'value')", Fail<ArgumentException>(() => net.TruncatedBptt = 0));
        net.TruncatedBptt = 1;
        Assert.Equal(1, net.TruncatedBptt);
        net.TruncatedBptt = null;
        Assert.Null(net.TruncatedBptt);

        Assert.Equal("Layer shape must have at least one dimension. Received: [] (Parameter 'shape')",
            Fail<ArgumentException>(() => _ = new Layer(Array.Empty<int>())));
        Assert.Equal("Layer dimensions must be positive. Received: [2, 0] (Parameter 'shape')",
            Fail<ArgumentException>(() => _ = new Layer([2, 0])));
        Assert.Equal([1, 1], new Layer([1, 1]).DeclaredShape!);
        Assert.Equal("sequenceLength must be positive. Received: 0 (Parameter 'sequenceLength')",
            Fail<ArgumentException>(() => _ = new InputLayer(2, sequenceLength: 0)));
        Assert.Equal(1, new InputLayer(2, sequenceLength: 1).SequenceLength);
        Assert.Equal("shape", Assert.Throws<ArgumentNullException>(() => _ = new InputLayer((int[])null!)).ParamName);
        Assert.Equal("Input", new InputLayer(2).Kind);
        Assert.Equal("Input(T=3)", new InputLayer(2, sequenceLength: 3).Kind);

        var a = new Layer(2, name: "a");
        var x = new InputLayer(2, name: "x");
        Assert.Equal("Connection delay must be >= 0. Received: -1 (Parameter 'delay')",
            Fail<ArgumentException>(() => _ = new DenseConnection(x, a, -1)));
        Assert.Equal(0, new DenseConnection(x, a, 0).Delay);
        Assert.Equal("from", Assert.Throws<ArgumentNullException>(() => _ = new IdentityConnection(null!, a)).ParamName);
        Assert.Equal("to", Assert.Throws<ArgumentNullException>(() => _ = new IdentityConnection(a, null!)).ParamName);
        Assert.Equal("Connection into input layer 'x' from 'a': input layers take no connections.",
            Fail<GraphException>(() => _ = new IdentityConnection(a, x)));
    }

    [Fact]
    public void LayersGetUniqueNamesAndBelongToOneNetwork()
    {
        var net = new Network("names");
        var i1 = net.Add(new InputLayer(2));
        var taken = net.Add(new Layer(2, name: "layer3"));
        var auto = net.Add(new Layer(2));
        var pool = net.Add(new FlexNet.Layers.PoolLayer(FlexNet.Layers.PoolKind.Max, 2, 1));
        var stem = new Layer(2) { AutoNameStem = "dense" };
        net.Add(stem);
        Assert.Equal("input1", i1.Name);
        Assert.Equal("layer4", auto.Name); // layer3 is taken
        Assert.Equal(pool.Kind.Split('(')[0].ToLowerInvariant() + "4", pool.Name);
        Assert.DoesNotContain("(", pool.Name);
        Assert.Equal("dense5", stem.Name);
        Assert.Same(auto, net.Add(auto));
        Assert.Equal(5, net.Layers.Count);
        Assert.Same(taken, net["layer3"]);
        Assert.Equal("Network 'names' has no layer 'nope'.", Fail<KeyNotFoundException>(() => _ = net["nope"]));
        Assert.Equal("Network 'names' already has a layer named 'layer3'.", Fail<GraphException>(() => net.Add(new Layer(2, name: "layer3"))));
        var other = new Network("other");
        Assert.Equal("Layer 'layer4' already belongs to network 'names'.", Fail<GraphException>(() => other.Add(auto)));

        // the steps of a network without an explicit count: the longest declared sequence
        var seq = new Network("seq");
        seq.Add(new InputLayer(1, sequenceLength: 5));
        seq.Add(new InputLayer(1, sequenceLength: 3));
        Assert.Equal(5, seq.Steps);
    }

    [Fact]
    public void ConnectionsGetUniqueNamesAndAreAddedOnce()
    {
        var net = new Network("c");
        var x = new InputLayer(2, name: "x");
        var h = new Layer(2, name: "h");
        var c1 = net.ConnectDense(x, h);
        var c2 = net.ConnectDense(x, h);
        var c3 = net.ConnectDense(x, h);
        var w1 = net.ConnectDense(x, h, name: "w");
        var w2 = net.ConnectDense(x, h, name: "w");
        Assert.Equal(["x->h", "x->h#2", "x->h#3", "w", "w#2"], new[] { c1, c2, c3, w1, w2 }.Select(c => c.Name));
        Assert.Same(c2, net.Connect(c2));
        Assert.Equal(5, net.Connections.Count);
        var id = net.ConnectIdentity(x, h);
        Assert.Equal("Network 'c': layer 'h' already receives 'x' (delay 0) through identity connection 'x->h#4'; a second identity edge would add " +
                     "the same values twice. (A builder's Attach already made that edge: do not Connect it again.)",
            Fail<GraphException>(() => net.ConnectIdentity(x, h)));
        Assert.Equal("x->h#4", id.Name);
        net.ConnectIdentity(x, h, delay: 2); // another delay is another edge
        Assert.Equal("Network 'c': 2 layers, 7 connections", net.ToString());
    }

    [Fact]
    public void BuildErrorsNameTheNetworkTheLayerAndTheShapes()
    {
        Assert.Equal("Network 'e' has no layers.", Fail<GraphException>(() => new Network("e").Compile()));
        var onlyInputs = new Network("oi");
        onlyInputs.Add(new InputLayer(2, name: "x"));
        Assert.Equal("Network 'oi' has no layers besides inputs.", Fail<GraphException>(() => onlyInputs.Compile()));

        var lonely = new Network("l");
        lonely.ConnectDense(new InputLayer(2, name: "x"), new Layer(2, name: "h"));
        lonely.Add(new Layer(2, name: "island"));
        Assert.Equal("Network 'l': layer 'island' has no incoming connections (only input layers may be sources without inputs).",
            Fail<GraphException>(() => lonely.Compile()));

        var infer = new Network("i");
        var x = new InputLayer(2, name: "x");
        var a = new Layer((int[]?)null, name: "a");
        var b = new Layer(3, name: "b");
        infer.ConnectDense(x, b);
        infer.ConnectDense(b, a, delay: 1, units: 3);
        infer.ConnectDense(a, b);
        Assert.Equal("Network 'i': cannot infer the shape of layer 'a' (its inputs are all recurrent from later layers); declare its shape.",
            Fail<GraphException>(() => infer.Compile()));

        var cat = new Network("k");
        var x2 = new InputLayer(2, name: "x");
        var c = new Layer((int[]?)null, combine: CombineRule.Concat, name: "cat");
        var later = new Layer(3, name: "later");
        cat.ConnectIdentity(x2, c);
        cat.ConnectIdentity(later, c, delay: 1);
        cat.ConnectDense(c, later);
        Assert.Equal("Network 'k': concat layer 'cat' has recurrent inputs from later layers; declare its shape.",
            Fail<GraphException>(() => cat.Compile()));

        // declared, but wrong: the sum of the parts is [5]
        var cat2 = new Network("k2");
        var x3 = new InputLayer(2, name: "x");
        var c2 = new Layer(4, combine: CombineRule.Concat, name: "cat");
        var later2 = new Layer(3, name: "later");
        cat2.ConnectIdentity(x3, c2);
        cat2.ConnectIdentity(later2, c2, delay: 1);
        cat2.ConnectDense(c2, later2);
        Assert.Equal("Network 'k2': concat layer 'cat' is declared [4] but its inputs concatenate to [5].",
            Fail<ShapeMismatchException>(() => cat2.Compile()));
        // declared wrong with every input feed-forward: the inferred shape is right, the declaration is not
        var cat4 = new Network("k4");
        var c4 = new Layer(4, combine: CombineRule.Concat, name: "cat");
        cat4.ConnectIdentity(new InputLayer(2, name: "x"), c4);
        cat4.ConnectIdentity(new InputLayer(3, name: "z"), c4);
        Assert.Equal("Network 'k4': concat layer 'cat' is declared [4] but its inputs concatenate to [5].",
            Fail<ShapeMismatchException>(() => cat4.Compile()));
        // declared right: builds, and the recurrent part comes second
        var cat3 = new Network("k3", DType.Float64);
        var x4 = new InputLayer(2, name: "x");
        var c3 = new Layer(5, combine: CombineRule.Concat, name: "cat");
        var later3 = new Layer(3, name: "later");
        cat3.ConnectIdentity(x4, c3);
        cat3.ConnectIdentity(later3, c3, delay: 1);
        cat3.ConnectDense(c3, later3);
        cat3.AddOutput(c3);
        cat3.Steps = 2;
        var y = cat3.Forward(Tensor.FromArray([1.0, 2], 1, 2))[0];
        Assert.Equal([2, 1, 5], y.ShapeArray);
        Assert.Equal([1.0, 2, 0, 0, 0], y.Slice(0, 0, 1).ToDoubleArray());

        var join = new Network("j");
        var img = new InputLayer([2, 3, 3], name: "img");
        var vec = new InputLayer([2, 4, 4], name: "vec");
        var j = new Layer((int[]?)null, combine: CombineRule.Concat, name: "join");
        join.ConnectIdentity(img, j);
        join.ConnectIdentity(vec, j, name: "v");
        Assert.Equal("Network 'j': concat layer 'join' cannot join [2, 3, 3] and [2, 4, 4] (from connection 'v'): all but the first " +
                     "(feature/channel) dimension must agree.", Fail<ShapeMismatchException>(() => join.Compile()));
        var rank = new Network("r");
        var j2 = new Layer((int[]?)null, combine: CombineRule.Concat, name: "join");
        rank.ConnectIdentity(new InputLayer([2, 3], name: "m"), j2);
        rank.ConnectIdentity(new InputLayer([2], name: "v"), j2);
        Assert.Contains("cannot join [2, 3] and [2]", Fail<ShapeMismatchException>(() => rank.Compile()));
        var ok = new Network("ok");
        var j3 = new Layer((int[]?)null, combine: CombineRule.Concat, name: "join");
        ok.ConnectIdentity(new InputLayer([2, 3, 3], name: "a"), j3);
        ok.ConnectIdentity(new InputLayer([1, 3, 3], name: "b"), j3);
        ok.Compile();
        Assert.Equal([3, 3, 3], j3.OutputShape!);

        var mismatch = new Network("mm");
        var src = new InputLayer(2, name: "src");
        var dst = new Layer(3, name: "dst");
        mismatch.ConnectDense(src, dst);
        mismatch.ConnectDense(src, dst, units: 4, name: "wide");
        Assert.Equal("Connection 'wide' (dense, delay 0) from layer 'src' [2] to layer 'dst' [3]: units 4 differ from the target shape [3].",
            Fail<ShapeMismatchException>(() => mismatch.Compile()));
        var fixedNet = new Network("mm1");
        var s1 = new InputLayer(2, name: "src");
        var d1 = new Layer(3, name: "dst");
        fixedNet.ConnectDense(s1, d1);
        fixedNet.Connect(new Fixed(s1, d1, [4], 0));
        Assert.Equal("Connection 'src->dst#2' (Fixed, delay 0) from layer 'src' [2] to layer 'dst' [3]: it produces [4], the target's input is [3].",
            Fail<ShapeMismatchException>(() => fixedNet.Compile()));
        var late = new Network("mm2");
        var s2 = new InputLayer(2, name: "src");
        var d2 = new Layer(3, name: "dst");
        var e2 = new Layer(2, name: "e");
        late.ConnectDense(s2, d2);
        late.ConnectDense(d2, e2);
        late.Connect(new Fixed(e2, d2, [5], 1));
        Assert.Equal("Connection 'e->dst' (Fixed, delay 1) from layer 'e' [2] to layer 'dst' [3]: it produces [5], the target's input is [3].",
            Fail<ShapeMismatchException>(() => late.Compile()));
        var fits = new Network("mm3");
        var s3 = new InputLayer(2, name: "src");
        var d3 = new Layer(3, name: "dst");
        fits.ConnectDense(s3, d3);
        fits.Connect(new Fixed(d3, d3, [3], 1));
        fits.Compile();
    }

    /// <summary>A user connection that returns a fixed shape from Build (and zeros of it).</summary>
    private sealed class Fixed(Layer from, Layer to, int[] shape, int delay) : Connection(from, to, delay)
    {
        protected override int[] Build(ConnectionBuildContext context) => shape;

        public override Tensor Contribute(Tensor source) => Tensor.Zeros([source.Shape[0], .. shape], source.DType);
    }

    [Fact]
    public void TopologicalOrderIsStableAndCyclesAreSpelledOut()
    {
        var net = new Network("topo");
        var c = new Layer(2, name: "c");
        var b = new Layer(2, name: "b");
        var x = new InputLayer(2, name: "x");
        var a = new Layer(2, name: "a");
        net.Add(c);
        net.Add(b);
        net.Add(x);
        net.Add(a);
        net.ConnectDense(x, a);
        net.ConnectDense(a, c);
        net.ConnectDense(x, b);
        net.ConnectDense(c, b, delay: 1);
        // b is free once x is done and comes before a (insertion order); c needs a
        Assert.Equal(["x", "b", "a", "c"], net.TopologicalOrder().Select(l => l.Name));
        Assert.Equal("  0: x\n  1: b <- x, c(t-1)\n  2: a <- x  [once per run: x]\n  3: c <- a  [ring 1]\n".ReplaceLineEndings(), net.DescribePlan());
        Assert.Equal(1, net.Plan!.HistoryDepth(c));
        Assert.Equal(0, net.Plan.HistoryDepth(a));

        var cyc = new Network("cyc");
        var p = new Layer(2, name: "p");
        var q = new Layer(2, name: "q");
        var r = new Layer(2, name: "r");
        cyc.ConnectDense(new InputLayer(2, name: "x"), r);
        cyc.ConnectDense(r, p);
        cyc.ConnectDense(p, q);
        cyc.ConnectDense(q, p);
        Assert.Equal("Network 'cyc': the delay-0 connections form a cycle 'p' -> 'q' -> 'p'. Connections within one step must form a DAG; " +
                     "give one connection on the cycle a delay >= 1.", Fail<GraphException>(() => cyc.Compile()));
    }

    [Fact]
    public void ParametersAreListedOnceWithTheirNames_AndKeptAcrossRebuilds()
    {
        var net = new Network("p", DType.Float64);
        var x = new InputLayer(3, sequenceLength: 2, name: "x");
        var h = new Layer(2, "tanh", bias: true, name: "h") { LearnInitialState = true };
        var d = new Layer(3, name: "d");
        var enc = net.ConnectDense(x, h);
        net.ConnectDense(h, h, delay: 1, bias: false);
        net.ConnectTied(h, d, enc, bias: false);
        Assert.Equal(["x->h.weight", "x->h.bias", "h->h.weight", "h.bias", "h.initial_state"], net.NamedParameters.Select(p => p.Name));
        Assert.Equal(6 + 2 + 4 + 2 + 2, net.ParameterCount);
        Assert.Equal(net.NamedParameters.Select(p => p.Value), net.Parameters);
        // a parameter without a name is listed under its owner's
        enc.Weight.Name = null;
        h.Bias!.Name = null;
        Assert.Equal(["x->h", "x->h.bias", "h->h.weight", "h", "h.initial_state"], net.NamedParameters.Select(p => p.Name));

        var weight = enc.Weight;
        var bias = h.Bias!;
        var init = h.InitialState!;
        h.Bias!.Fill(0.25);
        init.Fill(-0.5);
        h.Activation = "relu"; // invalidates the plan, not the parameters
        Assert.Null(net.Plan);
        Assert.Equal("relu", h.Activation);
        net.Compile();
        Assert.Same(weight, enc.Weight);
        Assert.Same(bias, h.Bias);
        Assert.Equal([0.25, 0.25], h.Bias!.ToDoubleArray());
        Assert.Same(init, h.InitialState);
        Assert.Equal([-0.5, -0.5], h.InitialState!.ToDoubleArray());

        h.LearnInitialState = false;
        Assert.Null(net.Plan);
        net.Compile();
        Assert.Null(h.InitialState);
        Assert.DoesNotContain("h.initial_state", net.NamedParameters.Select(p => p.Name));

        net.Forward(Tensor.Ones([2, 1, 3], DType.Float64))[0].Sum().Backward();
        Assert.All(net.Parameters, p => Assert.NotNull(p.Grad));
        net.ZeroGrad();
        Assert.All(net.Parameters, p => Assert.Null(p.Grad));
    }

    [Fact]
    public void SummaryDotPlanAndToStringSpellOutTheGraph()
    {
        var net = new Network("S \"q\"", DType.Float64, 1) { Stateful = true, TruncatedBptt = 2 };
        var x = new InputLayer(3, sequenceLength: 3, name: "x");
        var h = new Layer(3, "tanh", CombineRule.Product, bias: true, name: "h");
        var o = new Layer(1, name: "o");
        net.ConnectIdentity(x, h, name: "in");
        net.ConnectElementwise(h, h, delay: 2, name: "self");
        net.ConnectDense(h, o, name: "out");
        net.AddOutput(o);
        net.AddOutput(h, OutputMode.LastStep);
        Assert.Equal("x: Input(T=3)([3])", x.ToString());
        Assert.Equal("h: Layer([3], tanh, Product, bias)", h.ToString());
        Assert.Equal("o: Layer([1])", o.ToString());
        var inferred = new Layer((int[]?)null, combine: CombineRule.Concat, name: "cat");
        Assert.Equal("cat: Layer(?, Concat)", inferred.ToString());
        var shapes = new Network("shapes");
        shapes.ConnectIdentity(new InputLayer(2, name: "a"), inferred);
        shapes.ConnectIdentity(new InputLayer(3, name: "b"), inferred);
        shapes.Compile();
        Assert.Equal("cat: Layer([5], Concat)", inferred.ToString());
        Assert.Equal("in: identity [?] -> [?], delay 0", net.Connections[0].ToString());
        net.Compile();
        Assert.Equal("in: identity [3] -> [3], delay 0", net.Connections[0].ToString());
        Assert.Equal("self: elementwise [3] -> [3], delay 2", net.Connections[1].ToString());
        string expected = string.Join(Environment.NewLine,
            "Network 'S \"q\"' (Float64, 3 steps, truncated BPTT 2, stateful)",
            "Layer            Kind               Shape            Activation  Combine      Params",
            "x                Input(T=3)         [3]              linear      Sum               0",
            "h                Layer              [3]              tanh        Product           3",
            "o                Layer              [1]              linear      Sum               0",
            "Connection               Kind                 From -> To shape           Delay     Params",
            "in                       identity             [3] -> [3]                     0          0",
            "self                     elementwise          [3] -> [3]                     2          3",
            "out                      dense                [3] -> [1]                     0          4",
            "Outputs: o (every step), h (last step)",
            "Total parameters: 10", "");
        Assert.Equal(expected, net.Summary());
        string dot = string.Join(Environment.NewLine,
            "digraph \"S \\\"q\\\"\" {",
            "  rankdir=TB;",
            "  node [shape=box, fontname=\"Helvetica\"];",
            "  \"x\" [label=\"x\\nInput(T=3) [3]\", shape=ellipse];",
            "  \"h\" [label=\"h\\nLayer [3]\\ntanh (Product)\"];",
            "  \"o\" [label=\"o\\nLayer [1]\"];",
            "  \"x\" -> \"h\" [label=\"identity\"];",
            "  \"h\" -> \"h\" [label=\"elementwise d=2\", style=dashed, color=\"#c0392b\", constraint=false];",
            "  \"h\" -> \"o\" [label=\"dense\"];",
            "}", "");
        Assert.Equal(dot, net.ToDot());
        Assert.Equal("Network 'S \"q\"': 3 layers, 3 connections", net.ToString());

        var quoted = new Network("qq");
        quoted.ConnectIdentity(new InputLayer(1, name: "a\\b"), new Layer(1, name: "c\"d"));
        Assert.Contains("  \"c\\\"d\" [label=\"c\\\"d\\nLayer [1]\"];", quoted.ToDot());
        Assert.Contains("  \"a\\\\b\" -> \"c\\\"d\" [label=\"identity\"];", quoted.ToDot());

        var one = new Network("one");
        one.ConnectDense(new InputLayer(1, name: "i"), new Layer(1, name: "l"));
        Assert.StartsWith("Network 'one' (Float32, 1 step)" + Environment.NewLine, one.Summary());
        Assert.DoesNotContain("Outputs:", one.Summary());
        one.Compile(); // the default output: the last layer added that is not an input, every step
        Assert.Contains("Outputs: l (every step)", one.Summary());
    }
}
