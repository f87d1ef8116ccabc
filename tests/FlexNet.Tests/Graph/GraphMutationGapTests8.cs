using FlexNet.Connections;
using FlexNet.Graph;
using FlexNet.Layers;
using FlexNet.Tensors;

namespace FlexNet.Tests.Graph;

/// <summary>
/// Behaviour of <c>Layer</c>, <c>Connection</c>, <c>Network.Build</c> and <c>RunState</c> that Graph mutation run 8
/// (session 8, issue 15) found unasserted. Expected values, shapes and messages are written out in the test; the
/// networks are identity sums whose outputs are known by hand.
/// </summary>
public sealed class GraphMutationGapTests8
{
    private static string Fail<TEx>(Action a) where TEx : Exception => Assert.Throws<TEx>(a).Message;

    /// <summary>A connection that records the target shape each build is given and passes its source through.</summary>
    private sealed class Probe(Layer from, Layer to, string name) : Connection(from, to, 0, name)
    {
        public List<int[]?> Targets { get; } = new();

        public override string Kind => "probe";

        protected override int[] Build(ConnectionBuildContext context)
        {
            Targets.Add(context.TargetShape is null ? null : (int[])context.TargetShape.Clone());
            return context.SourceShape;
        }

        public override Tensor Contribute(Tensor source) => source;
    }

    /// <summary>A shape-changing layer: y = [z, z] (its input twice), [N, u] → [N, 2u], declared with any shape.</summary>
    private sealed class Twice(int[] declared, string name) : Layer(declared, name: name)
    {
        public override string Kind => "Twice";

        public override bool ChangesShape => true;

        protected internal override int[] InferOutputShape(int[] inputShape) => [2 * inputShape[0]];

        protected internal override Tensor Transform(Tensor combined, bool training) => Tensor.Concat([combined, combined], 1);
    }

    /// <summary>A plain layer that counts how often the network builds its parameters.</summary>
    private sealed class Counting(int units, string name) : Layer(units, name: name)
    {
        public int Builds { get; private set; }

        protected internal override void BuildParameters(DType dtype, RandomGenerator rng)
        {
            Builds++;
            base.BuildParameters(dtype, rng);
        }
    }

    // ------------------------------------------------------------------ Layer

    // Each overrides exactly one of the five members that decide HasPlainStep (bodies as the base's).
    private class OnlyTransform() : Layer(2)
    {
        protected internal override Tensor Transform(Tensor combined, bool training) => base.Transform(combined, training);
    }

    private sealed class OnlyTransformStep() : Layer(2)
    {
        protected internal override Tensor TransformStep(Tensor combined, bool training, int time, ref Tensor[]? state) => base.TransformStep(combined, training, time, ref state);
    }

    private sealed class OnlyInferOutputShape() : Layer(2)
    {
        protected internal override int[] InferOutputShape(int[] inputShape) => inputShape;
    }

    private sealed class OnlyHasStepState() : Layer(2)
    {
        protected internal override bool HasStepState => false;
    }

    private sealed class OnlyChangesShape() : Layer(2)
    {
        public override bool ChangesShape => false;
    }

    private class OnlyKind() : Layer(2)
    {
        public override string Kind => "Renamed";
    }

    private sealed class BelowOnlyKind : OnlyKind;

    private sealed class BelowOnlyTransform : OnlyTransform;

    /// <summary>The base step belongs to <see cref="Layer"/> and to subclasses that override none of Transform,
    /// TransformStep, InferOutputShape, HasStepState and ChangesShape; overriding any one of them, anywhere between the
    /// type and Layer, takes it away. (The uncached reflection is asked: the cache keeps one answer per type.)</summary>
    [Fact]
    public void APlainStepNeedsAllFiveMembersFromTheBaseLayer()
    {
        Assert.True(Layer.IsPlainStepType(typeof(Layer)));
        Assert.True(Layer.IsPlainStepType(typeof(OnlyKind)));
        Assert.True(Layer.IsPlainStepType(typeof(BelowOnlyKind)));
        Assert.True(Layer.IsPlainStepType(typeof(Counting)));
        Assert.False(Layer.IsPlainStepType(typeof(OnlyTransform)));
        Assert.False(Layer.IsPlainStepType(typeof(BelowOnlyTransform)));
        Assert.False(Layer.IsPlainStepType(typeof(OnlyTransformStep)));
        Assert.False(Layer.IsPlainStepType(typeof(OnlyInferOutputShape)));
        Assert.False(Layer.IsPlainStepType(typeof(OnlyHasStepState)));
        Assert.False(Layer.IsPlainStepType(typeof(OnlyChangesShape)));
        Assert.False(Layer.IsPlainStepType(typeof(FlattenLayer)));
        // the cached property gives the same answers
        Assert.True(new Layer(2).HasPlainStep);
        Assert.True(new OnlyKind().HasPlainStep);
        Assert.False(new OnlyTransformStep().HasPlainStep);
        Assert.False(new OnlyChangesShape().HasPlainStep);
    }

    /// <summary>A built layer describes its output shape, also when it was declared with another one (here its input
    /// shape [3], doubled to [6]); before the build it shows the declared shape.</summary>
    [Fact]
    public void ALayerDescribesItsBuiltOutputShapeRatherThanItsDeclaredOne()
    {
        var net = new Network("twice", DType.Float64);
        var x = new InputLayer(3, name: "x");
        var w = new Twice([3], "w");
        net.ConnectIdentity(x, w);
        Assert.Equal("w: Twice([3])", w.ToString());
        var y = net.Forward(Tensor.FromArray([1.0, 2, 3], 1, 3))[0];
        Assert.Equal([1, 1, 6], y.ShapeArray);
        Assert.Equal([1.0, 2, 3, 1, 2, 3], y.ToDoubleArray());
        Assert.Equal("w: Twice([6])", w.ToString());
    }

    /// <summary>The build hook of a layer runs once per build, after every connection of the network is built (also the
    /// delayed one from a later layer, which is built after the loop over the order).</summary>
    [Fact]
    public void TheAfterBuildHookRunsOnceAllConnectionsAreBuilt()
    {
        var net = new Network("hook", DType.Float64);
        var x = new InputLayer(2, name: "x");
        var h = new Layer(2, name: "h");
        var g = new Layer(2, name: "g");
        var xh = net.ConnectDense(x, h);
        var hg = net.ConnectDense(h, g);
        var gh = net.ConnectDense(g, h, delay: 1);
        int calls = 0;
        bool allBuilt = false;
        h.AfterBuild = _ =>
        {
            calls++;
            allBuilt = xh.IsBuilt && hg.IsBuilt && gh.IsBuilt;
        };
        net.Compile();
        Assert.Equal(1, calls);
        Assert.True(allBuilt);
    }

    // ------------------------------------------------------------------ Network.Build

    /// <summary>A built network is not built again by later runs or by Build and Compile; a change (a new connection)
    /// builds it once more.</summary>
    [Fact]
    public void ANetworkIsBuiltOncePerChange()
    {
        var net = new Network("once", DType.Float64);
        var x = new InputLayer(2, name: "x");
        var h = new Counting(2, "h");
        net.ConnectIdentity(x, h);
        int afterBuild = 0;
        h.AfterBuild = _ => afterBuild++;
        var xs = Tensor.FromArray([1.0, 2], 1, 2);
        Assert.Equal([1.0, 2], net.Forward(xs)[0].ToDoubleArray());
        Assert.Equal([1.0, 2], net.Forward(xs)[0].ToDoubleArray());
        net.Build();
        net.Compile();
        Assert.Equal(1, h.Builds);
        Assert.Equal(1, afterBuild);
        var u = new InputLayer(2, name: "u");
        net.ConnectIdentity(u, h);
        Assert.Equal([11.0, 22], net.Forward(xs, Tensor.FromArray([10.0, 20], 1, 2))[0].ToDoubleArray());
        Assert.Equal(2, h.Builds);
        Assert.Equal(2, afterBuild);
    }

    /// <summary>Connections into a concat layer or a shape-changing layer are built without a target shape
    /// (<see cref="ConnectionBuildContext.TargetShape"/> is null), even when the layer declares one; into a plain
    /// layer they get its declared shape.</summary>
    [Fact]
    public void ConcatAndShapeChangingTargetsGiveConnectionsNoTargetShape()
    {
        var net = new Network("probe", DType.Float64);
        var x = new InputLayer(2, name: "x");
        var cat = new Layer([4], combine: CombineRule.Concat, name: "cat");
        var w = new Twice([2], "w");
        var p = new Layer(2, name: "p");
        var toCat1 = net.Connect(new Probe(x, cat, "c1"));
        var toCat2 = net.Connect(new Probe(x, cat, "c2"));
        var toTwice = net.Connect(new Probe(x, w, "tw"));
        var toPlain = net.Connect(new Probe(x, p, "pl"));
        net.AddOutput(cat).AddOutput(w).AddOutput(p);
        var ys = net.Forward(Tensor.FromArray([1.0, 2], 1, 2));
        Assert.Equal([null], toCat1.Targets);
        Assert.Equal([null], toCat2.Targets);
        Assert.Equal([null], toTwice.Targets);
        Assert.Single(toPlain.Targets);
        Assert.Equal([2], toPlain.Targets[0]!);
        Assert.Equal([1.0, 2, 1, 2], ys[0].ToDoubleArray());
        Assert.Equal([1.0, 2, 1, 2], ys[1].ToDoubleArray());
        Assert.Equal([1.0, 2], ys[2].ToDoubleArray());
    }

    /// <summary>When a layer sits on two delay-0 cycles, the message spells one cycle through the layer added first:
    /// the walk goes back through each layer's first unfinished source (by insertion order), here a(0) ← b(1) ← a(0),
    /// not through c, b's other source.</summary>
    [Fact]
    public void TwoCyclesThroughOneLayerAreSpelledFromTheFirstSource()
    {
        var net = new Network("two");
        var a = net.Add(new Layer(2, name: "a"));
        var b = net.Add(new Layer(2, name: "b"));
        var c = net.Add(new Layer(2, name: "c"));
        net.ConnectDense(a, b);
        net.ConnectDense(b, a);
        net.ConnectDense(b, c);
        net.ConnectDense(c, b);
        net.ConnectDense(new InputLayer(2, name: "x"), a);
        Assert.Equal("Network 'two': the delay-0 connections form a cycle 'a' -> 'b' -> 'a'. " +
                     "Connections within one step must form a DAG; give one connection on the cycle a delay >= 1.",
            Fail<GraphException>(() => net.Compile()));
    }

    // ------------------------------------------------------------------ Connection

    /// <summary>A connection that fails its build names its target's input shape once that is known (a delayed input
    /// from a later layer is built after the order): the inferred [3] of h, and the input [3] of a shape-changing layer
    /// declared with its output shape [6].</summary>
    [Fact]
    public void AMismatchNamesTheTargetsInputShapeOnceItIsKnown()
    {
        var net = new Network("late", DType.Float64);
        var x = new InputLayer(3, name: "x");
        var h = new Layer((int[]?)null, name: "h");
        var g = new Layer(2, name: "g");
        net.ConnectIdentity(x, h);
        net.ConnectDense(h, g);
        net.ConnectIdentity(g, h, delay: 1);
        Assert.Equal("Connection 'g->h' (identity, delay 1) from layer 'g' [2] to layer 'h' [3]: an identity connection needs equal shapes; source [2] vs target [3].",
            Fail<ShapeMismatchException>(() => net.Compile()));

        var net2 = new Network("late2", DType.Float64);
        var x2 = new InputLayer(3, name: "x");
        var w = new Twice([6], "w");
        var g2 = new Layer(2, name: "g");
        net2.ConnectIdentity(x2, w);
        net2.ConnectDense(w, g2);
        net2.ConnectIdentity(g2, w, delay: 1);
        Assert.Equal("Connection 'g->w' (identity, delay 1) from layer 'g' [2] to layer 'w' [3]: an identity connection needs equal shapes; source [2] vs target [3].",
            Fail<ShapeMismatchException>(() => net2.Compile()));
    }

    /// <summary>A connection describes the source shape it was built for: its source's current shape before its first
    /// build, and the old shape after a rebuild that failed (the concat layer grew from [2] to [5], and the identity
    /// connection after it refused [5]). A successful rebuild then makes new parameters of the new shape.</summary>
    [Fact]
    public void AConnectionDescribesTheSourceShapeItWasBuiltFor()
    {
        var net = new Network("grow", DType.Float64);
        var x = new InputLayer(2, name: "x");
        var cat = new Layer((int[]?)null, combine: CombineRule.Concat, name: "cat");
        var o = new Layer(2, name: "o");
        net.ConnectIdentity(x, cat);
        var co = net.ConnectIdentity(cat, o, name: "co");
        var d = new Layer(1, name: "d");
        var cd = net.ConnectDense(cat, d, name: "cd");
        Assert.Equal("co: identity [?] -> [?], delay 0", co.ToString());
        net.Compile();
        Assert.Equal("co: identity [2] -> [2], delay 0", co.ToString());
        Assert.Equal([1, 2], cd.Weight.ShapeArray);

        // not built yet, from a layer that is: the source's shape
        var e = new Layer(4, name: "e");
        var ce = net.ConnectDense(x, e, name: "ce");
        Assert.Equal("ce: dense [2] -> [?], delay 0", ce.ToString());

        // cat grows to [5]; co cannot follow, and stays built for [2]
        var z = new InputLayer(3, name: "z");
        net.ConnectIdentity(z, cat);
        Assert.Equal("Connection 'co' (identity, delay 0) from layer 'cat' [5] to layer 'o' [2]: an identity connection needs equal shapes; source [5] vs target [2].",
            Fail<ShapeMismatchException>(() => net.Compile()));
        Assert.Equal([5], cat.OutputShape!);
        Assert.Equal("co: identity [2] -> [2], delay 0", co.ToString());

        // without co, the network builds again: cd is rebuilt for [5]
        var net2 = new Network("grow2", DType.Float64);
        var x2 = new InputLayer(2, name: "x");
        var cat2 = new Layer((int[]?)null, combine: CombineRule.Concat, name: "cat");
        var d2 = new Layer(1, name: "d");
        net2.ConnectIdentity(x2, cat2);
        var cd2 = net2.ConnectDense(cat2, d2, name: "cd");
        net2.Compile();
        Assert.Equal([1, 2], cd2.Weight.ShapeArray);
        net2.ConnectIdentity(new InputLayer(3, name: "z"), cat2);
        net2.Compile();
        Assert.Equal([1, 5], cd2.Weight.ShapeArray);
        Assert.Equal("cd: dense [5] -> [1], delay 0", cd2.ToString());
    }

    /// <summary>c = s ⊙ g with one parameter g (ones), which Build renames to <paramref name="rename"/> when given.</summary>
    private sealed class Gain(Layer from, Layer to, string name, string? rename) : Connection(from, to, 0, name)
    {
        public override string Kind => "gain";

        protected override int[] Build(ConnectionBuildContext context)
        {
            var g = AddParameter("g", Tensor.Ones(context.SourceShape, context.DType));
            if (rename is not null) g.Name = rename;
            return context.SourceShape;
        }

        public override Tensor Contribute(Tensor source) => source * BuiltParameter(0);

        public Tensor Value => BuiltParameter(0);
    }

    /// <summary>A connection parameter whose name has no dot (the connection renamed it in Build) gets the init
    /// settings of <c>weight</c>; a parameter keeping its <c>NAME.short</c> name gets those of its short name.</summary>
    [Fact]
    public void AParameterNamedWithoutADotIsInitialisedAsAWeight()
    {
        var init = new LayerInit(null, [new("mean_weight", 3.0), new("std_weight", 0.0), new("mean_g", 5.0), new("std_g", 0.0)]);
        var net = new Network("gain", DType.Float64);
        var x = new InputLayer(2, name: "x");
        var kept = net.Connect(new Gain(x, new Layer(2, name: "a"), "ka", null).WithInit(init));
        var renamed = net.Connect(new Gain(x, new Layer(2, name: "b"), "kb", "scale").WithInit(init));
        net.Compile();
        Assert.Equal("ka.g", kept.Value.Name);
        Assert.Equal([5.0, 5], kept.Value.ToDoubleArray());
        Assert.Equal("scale", renamed.Value.Name);
        Assert.Equal([3.0, 3], renamed.Value.ToDoubleArray());
    }

    // ------------------------------------------------------------------ RunState

    /// <summary>A run starts with empty rings although the network's scratch state is reused: h(t) = x(t) + h(t−2)
    /// gives 1, 2, 4 on x = 1, 2, 3, then 10, 20 on x = 10, 20 (nothing from the first run is two steps back).</summary>
    [Fact]
    public void ASecondRunReadsNothingFromTheFirstRunsRings()
    {
        var net = new Network("rings", DType.Float64);
        var x = new InputLayer(1, sequenceLength: 3, name: "x");
        var h = new Layer(1, name: "h");
        net.ConnectIdentity(x, h);
        net.ConnectIdentity(h, h, delay: 2);
        Assert.Equal([1.0, 2, 4], net.Forward(Tensor.FromArray([1.0, 2, 3], 3, 1, 1))[0].ToDoubleArray());
        Assert.Equal([10.0, 20], net.Forward(Tensor.FromArray([10.0, 20], 2, 1, 1))[0].ToDoubleArray());
        // and a third run of three steps: 5, 6, 12
        Assert.Equal([5.0, 6, 12], net.Forward(Tensor.FromArray([5.0, 6, 7], 3, 1, 1))[0].ToDoubleArray());
    }
}
