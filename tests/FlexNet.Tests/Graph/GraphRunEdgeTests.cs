using FlexNet.Autodiff;
using FlexNet.Connections;
using FlexNet.Graph;
using FlexNet.Tensors;

namespace FlexNet.Tests.Graph;

/// <summary>
/// Run-time edges of the graph engine that mutation testing found unchecked: which layers take the fused kernel and
/// with which activation (values against <see cref="Math"/>), the built-in activations by name, the checks a run makes
/// on what user layers and connections return, the carried state of a stateful network, and the messages of each.
/// </summary>
public sealed class GraphRunEdgeTests
{
    private static string Fail<TEx>(Action a) where TEx : Exception => Assert.Throws<TEx>(a).Message;

    private static double Sigmoid(double z) => 1 / (1 + Math.Exp(-z));

    [Theory]
    [InlineData("linear", true)]
    [InlineData("identity", true)]
    [InlineData("relu", true)]
    [InlineData("ReLU", true)]
    [InlineData("tanh", true)]
    [InlineData("sigmoid", true)]
    [InlineData("logistic", true)]
    [InlineData("elu", false)]
    [InlineData("softplus", false)]
    public void FusedLayersApplyTheirOwnActivation(string activation, bool fused)
    {
        Func<double, double> f = activation.ToLowerInvariant() switch
        {
            "linear" or "identity" => z => z,
            "relu" => z => Math.Max(z, 0),
            "tanh" => Math.Tanh,
            "sigmoid" or "logistic" => Sigmoid,
            "elu" => z => z > 0 ? z : Math.Exp(z) - 1,
            _ => z => Math.Log(1 + Math.Exp(z)),
        };
        var net = new Network("act", DType.Float64, 3);
        var x = new InputLayer(2, name: "x");
        var h = new Layer(3, activation, bias: true, name: "h");
        var c = net.ConnectDense(x, h);
        net.AddOutput(h, OutputMode.LastStep);
        net.Compile();
        Assert.Equal(fused, net.Plan!.IsFused(h));
        Assert.False(net.Plan.IsFused(x));
        var rng = new RandomGenerator(4);
        foreach (var p in net.Parameters) p.CopyFrom(Tensor.Normal(p.ShapeArray, 0, 1, rng, DType.Float64));
        double[] xs = [0.9, -1.3, -0.4, 0.7];
        var y = net.Forward(Tensor.FromArray(xs, 2, 2))[0].ToDoubleArray();
        var w = c.Weight.ToDoubleArray();
        var b = c.Bias!.ToDoubleArray();
        var lb = h.Bias!.ToDoubleArray();
        for (int n = 0; n < 2; n++)
            for (int o = 0; o < 3; o++)
            {
                double z = b[o] + lb[o] + w[o * 2] * xs[n * 2] + w[o * 2 + 1] * xs[n * 2 + 1];
                Assert.Equal(f(z), y[n * 3 + o], 12);
            }
    }

    [Fact]
    public void OnlyPlainSumLayersOfVectorsWithAffineInputsAreFused()
    {
        var net = new Network("fuse", DType.Float64, 1);
        var x = new InputLayer(3, name: "x");
        var img = new InputLayer([2, 2], name: "img");
        var sum = new Layer(3, "tanh", name: "sum");
        var prod = new Layer(3, "tanh", CombineRule.Product, name: "prod");
        var fromImage = new Layer(3, name: "fromImage");
        var elem = new Layer(3, name: "elem");
        var map = new Layer([2, 2], name: "map");
        net.ConnectDense(x, sum);
        net.ConnectIdentity(x, sum);
        net.ConnectDense(x, prod);
        net.ConnectDense(img, fromImage);
        net.ConnectElementwise(x, elem);
        net.ConnectIdentity(img, map);
        net.AddOutput(sum);
        net.AddOutput(prod);
        net.AddOutput(fromImage);
        net.AddOutput(elem);
        net.AddOutput(map);
        net.Compile();
        Assert.True(net.Plan!.IsFused(sum));
        Assert.False(net.Plan.IsFused(prod));
        Assert.False(net.Plan.IsFused(fromImage));
        Assert.False(net.Plan.IsFused(elem));
        Assert.False(net.Plan.IsFused(map));
        net.FuseDenseLayers = false;
        Assert.False(net.FuseDenseLayers);
        net.Compile();
        Assert.False(net.Plan!.IsFused(sum));
    }

    [Fact]
    public void BuiltInActivationsByName()
    {
        double[] z = [-2, -0.5, 0, 0.5, 3];
        var x = Tensor.FromArray(z, 1, 5);
        void Check(string name, Func<double, double> f)
        {
            Assert.True(Activations.IsKnown(name));
            var y = Activations.Get(name)(x).ToDoubleArray();
            for (int i = 0; i < z.Length; i++) Assert.Equal(f(z[i]), y[i], 12);
        }
        Check("linear", v => v);
        Check("identity", v => v);
        Check("sigmoid", Sigmoid);
        Check("logistic", Sigmoid);
        Check("tanh", Math.Tanh);
        Check("relu", v => Math.Max(v, 0));
        Check("leaky-relu", v => v > 0 ? v : 0.01 * v);
        Check("leaky_relu", v => v > 0 ? v : 0.01 * v);
        Check("elu", v => v > 0 ? v : Math.Exp(v) - 1);
        Check("softplus", v => Math.Log(1 + Math.Exp(v)));
        Check("softsign", v => v / (1 + Math.Abs(v)));
        double total = z.Sum(Math.Exp);
        Check("softmax", v => Math.Exp(v) / total);
        Check("log-softmax", v => v - Math.Log(total));
        Check("log_softmax", v => v - Math.Log(total));
        Assert.False(Activations.IsKnown("swishy"));
        foreach (var name in new[] { "linear", "sigmoid", "tanh", "relu", "leaky-relu", "elu", "softplus", "softsign", "softmax", "log-softmax" })
            Assert.Contains(name, Activations.Names);
        var e = Assert.Throws<ArgumentException>(() => Activations.Get("swishy"));
        Assert.Equal("name", e.ParamName);
        Assert.Contains("'swishy'", e.Message);
        Assert.Contains("softsign", e.Message);
        Assert.Throws<ArgumentException>(() => Activations.Register(" ", v => v));
        Assert.Throws<ArgumentNullException>(() => Activations.Register("mut-test-null", null!));
        Activations.Register("mut-test-cube", v => v * v * v);
        Assert.Equal([-8.0, -0.125, 0, 0.125, 27], Activations.Get("mut-test-cube")(x).ToDoubleArray());
        Assert.Throws<ArgumentException>(() => new Layer(2, "swishy"));
        Assert.Throws<ArgumentException>(() => new Layer(2).Activation = "swishy");
    }

    /// <summary>A user layer whose Transform returns the wrong shape.</summary>
    private sealed class Narrowing(int units, string name) : Layer(units, name: name)
    {
        public override string Kind => "Narrowing";

        protected internal override Tensor Transform(Tensor combined, bool training) => combined.Slice(1, 0, 1);
    }

    /// <summary>A user layer that drops all but the first sample.</summary>
    private sealed class FirstSample(int units, string name) : Layer(units, name: name)
    {
        public override string Kind => "FirstSample";

        protected internal override Tensor Transform(Tensor combined, bool training) => combined.Slice(0, 0, 1);
    }

    /// <summary>A user connection whose Contribute returns the wrong shape.</summary>
    private sealed class Halving(Layer from, Layer to) : Connection(from, to)
    {
        public override string Kind => "halving";

        protected override int[] Build(ConnectionBuildContext context) => context.SourceShape;

        public override Tensor Contribute(Tensor source) => source.Slice(1, 0, 2);
    }

    /// <summary>A user connection into a layer whose shape it cannot know.</summary>
    private sealed class NeedsTarget(Layer from, Layer to) : Connection(from, to)
    {
        protected override int[] Build(ConnectionBuildContext context) => context.RequireTargetShape();

        public override Tensor Contribute(Tensor source) => source;
    }

    [Fact]
    public void WhatUserLayersAndConnectionsReturnIsChecked()
    {
        var net = new Network("user", DType.Float64);
        var x = new InputLayer(4, name: "in");
        net.ConnectIdentity(x, new Narrowing(4, "narrow"));
        Assert.Equal("Network 'user': layer 'narrow' (Narrowing) produced [2, 1], expected [2, 4].",
            Fail<ShapeMismatchException>(() => net.Forward(Tensor.Ones([2, 4], DType.Float64))));

        var nb = new Network("user1", DType.Float64);
        nb.ConnectIdentity(new InputLayer(4, name: "in"), new FirstSample(4, "first"));
        Assert.Equal("Network 'user1': layer 'first' (FirstSample) produced [1, 4], expected [3, 4].",
            Fail<ShapeMismatchException>(() => nb.Forward(Tensor.Ones([3, 4], DType.Float64))));

        var c = new Network("user2", DType.Float64);
        var x2 = new InputLayer(4, name: "in");
        c.Connect(new Halving(x2, new Layer(4, name: "h")));
        Assert.Equal("Network 'user2': connection 'in->h' (halving) from layer 'in' to layer 'h' returned [3, 2] from Contribute, expected [3, 4].",
            Fail<ShapeMismatchException>(() => c.Forward(Tensor.Ones([3, 4], DType.Float64))));
        // a contribution with the right features but a wrong batch is caught too
        var b = new Network("user3", DType.Float64);
        var x3 = new InputLayer(4, name: "in");
        b.Connect(new Batching(x3, new Layer(4, name: "h")));
        Assert.Equal("Network 'user3': connection 'in->h' (Batching) from layer 'in' to layer 'h' returned [1, 4] from Contribute, expected [3, 4].",
            Fail<ShapeMismatchException>(() => b.Forward(Tensor.Ones([3, 4], DType.Float64))));

        var t = new Network("tgt");
        var cat = new Layer((int[]?)null, combine: CombineRule.Concat, name: "cat");
        t.Connect(new NeedsTarget(new InputLayer(2, name: "x"), cat));
        Assert.Equal("Connection 'x->cat' (NeedsTarget) from 'x' to 'cat' needs the target's shape: give layer 'cat' a shape (it cannot be inferred from this connection).",
            Fail<GraphException>(() => t.Compile()));

        var d = new Network("unbuilt");
        var dense = d.ConnectDense(new InputLayer(2, name: "x"), new Layer(3, name: "h"));
        Assert.Equal("Connection 'x->h' (dense) from 'x' to 'h' has no parameters yet: call Compile() (or Build()) on the network first.",
            Fail<GraphException>(() => _ = dense.Weight));
        d.Compile();
        Assert.Equal([3, 2], dense.Weight.ShapeArray);
        Assert.Equal([3], dense.Bias!.ShapeArray);
    }

    /// <summary>A user connection that drops all but the first sample.</summary>
    private sealed class Batching(Layer from, Layer to) : Connection(from, to)
    {
        protected override int[] Build(ConnectionBuildContext context) => context.SourceShape;

        public override Tensor Contribute(Tensor source) => source.Slice(0, 0, 1);
    }

    [Fact]
    public void RecurrenceWithoutTimeNamesTheFirstDelayedConnection()
    {
        var net = new Network("fb", DType.Float64);
        var x = new InputLayer(1, name: "x");
        var h = new Layer(1, name: "h");
        net.ConnectDense(x, h);
        net.ConnectDense(h, h, delay: 2, name: "slow");
        net.ConnectDense(h, h, delay: 1, name: "fast");
        Assert.Equal("Network 'fb' has recurrent connections ('slow' (delay 2)) but no temporal input and no number of steps: it would run one step, " +
                     "before any delayed edge carries a value. Set Steps (or pass steps:), or give an input layer a sequenceLength and [T, N, ...] data.",
            Fail<GraphException>(() => net.Forward(Tensor.Ones([1, 1], DType.Float64))));
        Assert.Equal(2, net.Plan!.HistoryDepth(h)); // the largest outgoing delay, whatever the order

        // one temporal input among static ones is enough time
        var mixed = new Network("mixed", DType.Float64);
        var s = new InputLayer(1, name: "s");
        var q = new InputLayer(1, sequenceLength: 3, name: "q");
        var g = new Layer(1, name: "g");
        mixed.ConnectIdentity(s, g);
        mixed.ConnectIdentity(q, g);
        mixed.ConnectIdentity(g, g, delay: 1);
        var y = mixed.Forward(Tensor.FromArray([10.0], 1, 1), Tensor.FromArray([1.0, 2, 3], 3, 1, 1))[0];
        Assert.Equal([11.0, 23, 36], y.ToDoubleArray()); // g(t) = s + q(t) + g(t−1)
        Assert.DoesNotContain("once per run", mixed.DescribePlan()); // an identity edge has no product to hoist
        var plan = mixed.Plan;
        mixed.Forward(Tensor.FromArray([10.0], 1, 1), Tensor.FromArray([1.0, 2, 3], 3, 1, 1));
        Assert.Same(plan, mixed.Plan); // compiled once, reused by every call

        // no input at all: a layer fed only by itself has nothing to set the batch size
        var none = new Network("none", DType.Float64) { Steps = 2 };
        var self = new Layer(2, name: "self");
        none.ConnectDense(self, self, delay: 1);
        Assert.Equal("Network 'none' has no inputs; nothing sets the batch size.", Fail<ArgumentException>(() => none.Forward()));

        // no recurrence: one step is right
        var ff = new Network("ff", DType.Float64);
        ff.ConnectIdentity(new InputLayer(1, name: "x"), new Layer(1, name: "h"));
        Assert.Equal([1, 1, 1], ff.Forward(Tensor.Ones([1, 1], DType.Float64))[0].ShapeArray);
    }

    [Fact]
    public void AStatefulNetworkRefusesAnotherBatchSizeUntilReset()
    {
        var net = new Network("st", DType.Float64) { Stateful = true };
        var x = new InputLayer(1, sequenceLength: 2, name: "x");
        var h = new Layer(1, name: "h");
        net.ConnectIdentity(x, h);
        net.ConnectIdentity(h, h, delay: 1);
        var y1 = net.Forward(Tensor.Ones([2, 2, 1], DType.Float64))[0];
        Assert.Equal([1.0, 1, 2, 2], y1.ToDoubleArray());
        var y2 = net.Forward(Tensor.Ones([2, 2, 1], DType.Float64))[0];
        Assert.Equal([3.0, 3, 4, 4], y2.ToDoubleArray());
        Assert.Equal("Network 'st' is stateful with a carried state for batch size 2, but this call has batch size 3; call ResetState() first.",
            Fail<ShapeMismatchException>(() => net.Forward(Tensor.Ones([2, 3, 1], DType.Float64))));
        net.ResetState();
        Assert.Equal([1.0, 1, 1, 2, 2, 2], net.Forward(Tensor.Ones([2, 3, 1], DType.Float64))[0].ToDoubleArray());
        h.Activation = "linear"; // changing the graph drops the carried state too
        Assert.Equal([1.0, 1, 1, 2, 2, 2], net.Forward(Tensor.Ones([2, 3, 1], DType.Float64))[0].ToDoubleArray());
        // the carried state holds no graph: a backward pass of the next call ends at this call's inputs
        var xs = Tensor.Ones([2, 3, 1], DType.Float64).RequireGrad();
        net.Forward(xs)[0].Sum().Backward();
        Assert.Equal([2.0, 2, 2, 1, 1, 1], xs.Grad!.ToDoubleArray());
    }

    [Fact]
    public void NonFiniteValuesAreCountedInBothPrecisions()
    {
        foreach (var dtype in new[] { DType.Float32, DType.Float64 })
        {
            var net = new Network("nf", dtype) { CheckFinite = true };
            var x = new InputLayer(3, name: "x");
            var h = new Layer(3, name: "h");
            net.ConnectIdentity(x, h);
            var xs = Tensor.Zeros([2, 3], dtype);
            xs[0, 1] = double.PositiveInfinity;
            xs[1, 2] = double.NegativeInfinity;
            xs[1, 0] = double.NaN;
            Assert.Equal("layer 'x' produced 3 non-finite values (output [2, 3]) in phase 'forward' at time step 0.",
                Fail<NonFiniteValueException>(() => net.Forward(xs)));
            xs[1, 0] = 1e30;
            xs[0, 1] = -1e30;
            xs[1, 2] = 0;
            Assert.Equal([1, 2, 3], net.Forward([xs], false, steps: 1)[0].ShapeArray);
        }
    }
}
