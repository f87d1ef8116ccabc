using FlexNet.Connections;
using FlexNet.Graph;
using FlexNet.Tensors;

namespace FlexNet.Tests.Graph;

/// <summary>
/// Behaviour of <c>ExecutionPlan</c> and <c>Network</c> that the Graph mutation run of session 7 found unasserted
/// (issue 15). Every expected value is written out or computed by plain loops in the test; the networks are
/// identity sums and dense layers whose outputs are known by hand.
/// </summary>
public sealed class PlanMutationGapTests
{
    private static string Fail<TEx>(Action a) where TEx : Exception => Assert.Throws<TEx>(a).Message;

    private static void Near(double[] expected, double[] actual, string what, double tol = 1e-12)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tol, $"{what} [{i}]: expected {expected[i]:G17}, got {actual[i]:G17}");
    }

    /// <summary>Two temporal inputs and a delayed edge: the steps come from the data, no Steps needed.
    /// h(t) = a(t) + b(t) + h(t−1).</summary>
    [Fact]
    public void TwoTemporalInputsGiveTheStepsOfARecurrentNetwork()
    {
        var net = new Network("two", DType.Float64);
        var a = new InputLayer(1, sequenceLength: 3, name: "a");
        var b = new InputLayer(1, sequenceLength: 3, name: "b");
        var h = new Layer(1, name: "h");
        net.ConnectIdentity(a, h);
        net.ConnectIdentity(b, h);
        net.ConnectIdentity(h, h, delay: 1);
        net.AddOutput(h);
        var xa = Tensor.FromArray(new double[] { 1, 2, 3 }, 3, 1, 1);
        var xb = Tensor.FromArray(new double[] { 10, 20, 30 }, 3, 1, 1);
        var y = net.Forward(xa, xb)[0];
        Assert.Equal([3, 1, 1], y.ShapeArray);
        Near([11, 33, 66], y.ToDoubleArray(), "h");
    }

    /// <summary>A batch of zero samples runs (and gives empty outputs); a zero-sized batch or step count on the first
    /// input is still compared with the later inputs, and zero steps are refused by name.</summary>
    [Fact]
    public void EmptyBatchesAndEmptySequencesAreComparedLikeOthers()
    {
        var net = new Network("empty", DType.Float64);
        var u = new InputLayer(2, name: "u");
        var h = new Layer(3, name: "h");
        net.ConnectDense(u, h);
        net.AddOutput(h);
        var y = net.Forward(Tensor.Zeros([0, 2], DType.Float64))[0];
        Assert.Equal([1, 0, 3], y.ShapeArray);

        var two = new Network("two", DType.Float64);
        var p = new InputLayer(2, name: "p");
        var q = new InputLayer(2, name: "q");
        var g = new Layer(2, name: "g");
        two.ConnectIdentity(p, g);
        two.ConnectIdentity(q, g);
        two.AddOutput(g);
        Assert.Equal("Network 'two': input 'q' has batch size 2, an earlier input has 0 (shape [2, 2]).",
            Fail<ShapeMismatchException>(() => two.Forward(Tensor.Zeros([0, 2], DType.Float64), Tensor.Zeros([2, 2], DType.Float64))));

        var seq = new Network("seq", DType.Float64);
        var s1 = new InputLayer(1, sequenceLength: 3, name: "s1");
        var s2 = new InputLayer(1, sequenceLength: 3, name: "s2");
        var k = new Layer(1, name: "k");
        seq.ConnectIdentity(s1, k);
        seq.ConnectIdentity(s2, k);
        seq.AddOutput(k);
        Assert.Equal("Network 'seq': temporal input 's2' has 3 steps, an earlier one has 0 (shape [3, 2, 1]).",
            Fail<ShapeMismatchException>(() => seq.Forward(Tensor.Zeros([0, 2, 1], DType.Float64), Tensor.Zeros([3, 2, 1], DType.Float64))));
        Assert.Equal("Network 'seq': the number of steps must be positive; got 0.",
            Fail<ArgumentException>(() => seq.Forward(Tensor.Zeros([0, 2, 1], DType.Float64), Tensor.Zeros([0, 2, 1], DType.Float64))));
    }

    /// <summary>A user layer of shape [2, 3] returning [N, 6].</summary>
    private sealed class Flattening(string name) : Layer([2, 3], name: name)
    {
        protected internal override Tensor Transform(Tensor combined, bool training) => combined.Reshape(combined.Shape[0], 6);
    }

    /// <summary>A user connection that says [2, 3] and contributes the flat [N, 6].</summary>
    private sealed class FlatContribution(Layer from, Layer to) : Connection(from, to)
    {
        public override string Kind => "flat";

        protected override int[] Build(ConnectionBuildContext context) => [2, 3];

        public override Tensor Contribute(Tensor source) => source.Reshape(source.Shape[0], 6);
    }

    /// <summary>Messages about shapes of more than one axis list every axis, comma-separated.</summary>
    [Fact]
    public void ShapeMessagesListEveryAxis()
    {
        var net = new Network("maps", DType.Float64);
        var x = new InputLayer([2, 3], name: "img");
        net.ConnectIdentity(x, new Flattening("flat"));
        Assert.Equal("Network 'maps': input layer 'img' expects [N, 2, 3], got [4, 6].",
            Fail<ShapeMismatchException>(() => net.Forward(Tensor.Zeros([4, 6], DType.Float64))));
        Assert.Equal("Network 'maps': layer 'flat' (Layer) produced [4, 6], expected [4, 2, 3].",
            Fail<ShapeMismatchException>(() => net.Forward(Tensor.Zeros([4, 2, 3], DType.Float64))));

        var seq = new Network("seqmaps", DType.Float64);
        seq.ConnectIdentity(new InputLayer([2, 3], sequenceLength: 2, name: "v"), new Layer([2, 3], name: "m"));
        Assert.Equal("Network 'seqmaps': input layer 'v' expects [T, N, 2, 3], got [2, 4, 6].",
            Fail<ShapeMismatchException>(() => seq.Forward(Tensor.Zeros([2, 4, 6], DType.Float64))));

        var c = new Network("conn", DType.Float64);
        c.Connect(new FlatContribution(new InputLayer(6, name: "v"), new Layer([2, 3], name: "m")));
        Assert.Equal("Network 'conn': connection 'v->m' (flat) from layer 'v' to layer 'm' returned [5, 6] from Contribute, expected [5, 2, 3].",
            Fail<ShapeMismatchException>(() => c.Forward(Tensor.Zeros([5, 6], DType.Float64))));
    }

    /// <summary>y = z + time. <c>Keeps</c>: the state holds the previous z, so time counts the steps; otherwise the
    /// layer leaves its state null, and time stays 0 (the documented "0 with state null").</summary>
    private sealed class Clocked(bool keeps, string name) : Layer(1, name: name)
    {
        protected internal override bool HasStepState => true;

        protected internal override Tensor TransformStep(Tensor combined, bool training, int time, ref Tensor[]? state)
        {
            if (keeps) state = [combined];
            return combined + (double)time;
        }
    }

    [Fact]
    public void AStepStateLayerThatKeepsNoStateAlwaysSeesTimeZero()
    {
        var net = new Network("clock", DType.Float64);
        var x = new InputLayer(1, sequenceLength: 4, name: "x");
        var none = new Clocked(false, "none");
        var kept = new Clocked(true, "kept");
        net.ConnectIdentity(x, none);
        net.ConnectIdentity(x, kept);
        net.AddOutput(none);
        net.AddOutput(kept);
        var ys = net.Forward(Tensor.FromArray(new double[] { 5, 5, 5, 5 }, 4, 1, 1));
        Near([5, 5, 5, 5], ys[0].ToDoubleArray(), "none");
        Near([5, 6, 7, 8], ys[1].ToDoubleArray(), "kept");
    }

    /// <summary>An LSTM cell built from primitives (fused by default) next to a recurrent layer outside the cell:
    /// r(t) = W x(t) + b + r(t−1). The fused run must still keep r's history: r(T−1) = Σ_t (W x(t) + b).</summary>
    [Fact]
    public void ARecurrentLayerBesideAFusedCellKeepsItsHistory()
    {
        const int In = 2, H = 3, T = 4, N = 2;
        var net = new Network("beside", DType.Float64, seed: 3);
        var x = new InputLayer(In, sequenceLength: T, name: "x");
        var h = Testing.LstmCellGraph.Wire(net, x, H);
        var r = new Layer(2, name: "r");
        var wr = net.ConnectDense(x, r, name: "xr");
        net.ConnectIdentity(r, r, delay: 1);
        net.AddOutput(h, OutputMode.LastStep);
        net.AddOutput(r, OutputMode.LastStep);
        net.Compile();
        var rng = new RandomGenerator(8);
        foreach (var p in net.Parameters) p.CopyFrom(Tensor.Normal(p.ShapeArray, 0, 0.5, rng, DType.Float64));
        var xs = Tensor.Normal([T, N, In], 0, 1, new RandomGenerator(9), DType.Float64);
        var got = net.Forward(xs)[1];
        Assert.Equal(1, net.Plan!.FusedCellCount); // cells fuse by default
        Assert.True(net.Plan.LastRunFusedCells);

        double[] w = wr.Weight.ToDoubleArray(), b = wr.Bias!.ToDoubleArray(), xv = xs.ToDoubleArray();
        var want = new double[N * 2];
        for (int t = 0; t < T; t++)
            for (int n = 0; n < N; n++)
                for (int o = 0; o < 2; o++)
                {
                    double z = b[o];
                    for (int i = 0; i < In; i++) z += w[o * In + i] * xv[(t * N + n) * In + i];
                    want[n * 2 + o] += z;
                }
        Near(want, got.ToDoubleArray(), "r(T-1)");
    }

    /// <summary>The trainer's ForwardInto writes into the array it is given when that has one entry per output, and
    /// leaves an array of another length alone.</summary>
    [Fact]
    public void ForwardIntoFillsTheGivenArrayOnlyWhenItFits()
    {
        var net = new Network("into", DType.Float64);
        var x = new InputLayer(1, name: "x");
        var h = new Layer(1, name: "h");
        net.ConnectIdentity(x, h);
        net.AddOutput(h, OutputMode.LastStep);
        var input = Tensor.FromArray(new double[] { 2, 3 }, 2, 1);
        var reuse = new Tensor[1];
        var got = net.ForwardInto([input], training: false, mask: null, reuse);
        Assert.Same(reuse, got);
        Near([2, 3], reuse[0].ToDoubleArray(), "reused");

        var wrong = new Tensor[2];
        var other = net.ForwardInto([input], training: false, mask: null, wrong);
        Assert.NotSame(wrong, other);
        Assert.Single(other);
        Assert.Null(wrong[0]);
        Near([2, 3], other[0].ToDoubleArray(), "new");
    }

    /// <summary>A layer listed twice as an output (every step and last step) is still an output, not a hidden layer
    /// whose activations are recorded.</summary>
    [Fact]
    public void ALayerListedTwiceAsOutputIsNotRecordedAsHidden()
    {
        var net = new Network("twice", DType.Float64) { RecordActivations = true };
        var x = new InputLayer(1, sequenceLength: 2, name: "x");
        var h = new Layer(1, name: "h");
        var y = new Layer(1, name: "y");
        net.ConnectIdentity(x, h);
        net.ConnectIdentity(h, y);
        net.AddOutput(y, OutputMode.AllSteps);
        net.AddOutput(y, OutputMode.LastStep);
        var outs = net.Forward(Tensor.FromArray(new double[] { 1, 2 }, 2, 1, 1));
        Assert.Equal(["h"], net.Activations.Select(a => a.Key).ToArray());
        Near([1, 2], outs[0].ToDoubleArray(), "y every step");
        Near([2], outs[1].ToDoubleArray(), "y last step");
    }

    [Fact]
    public void NullLayersAndConnectionsAreRefusedByName()
    {
        var net = new Network("nulls");
        Assert.Equal("layer", Assert.Throws<ArgumentNullException>(() => net.Add<Layer>(null!)).ParamName);
        Assert.Equal("connection", Assert.Throws<ArgumentNullException>(() => net.Connect<Connection>(null!)).ParamName);
    }

    /// <summary>A connection made after a run between layers already in the network takes part in the next run.</summary>
    [Fact]
    public void AConnectionBetweenExistingLayersAfterARunIsUsed()
    {
        var net = new Network("late", DType.Float64);
        var x = new InputLayer(1, name: "x");
        var u = new InputLayer(1, name: "u");
        var h = new Layer(1, name: "h");
        net.ConnectIdentity(x, h);
        net.Add(u);
        net.AddOutput(h, OutputMode.LastStep);
        var xs = Tensor.FromArray(new double[] { 1 }, 1, 1);
        var us = Tensor.FromArray(new double[] { 10 }, 1, 1);
        Near([1], net.Forward(xs, us)[0].ToDoubleArray(), "before");
        net.ConnectIdentity(u, h);
        Near([11], net.Forward(xs, us)[0].ToDoubleArray(), "after");
    }

    /// <summary>AddOutput adds a layer that is not in the network yet (and names it), like Add.</summary>
    [Fact]
    public void AddOutputAddsAndNamesANewLayer()
    {
        var net = new Network("out");
        var y = new Layer(2);
        net.AddOutput(y);
        Assert.Same(net, y.Network);
        Assert.Equal("layer1", y.Name);
        Assert.Equal([y], net.Layers.ToArray());
    }

    /// <summary>Summary builds the network first: an uncompiled network shows its inferred shapes and parameters.</summary>
    [Fact]
    public void SummaryOfAnUncompiledNetworkShowsItsParameters()
    {
        var net = new Network("fresh");
        net.ConnectDense(new InputLayer(2, name: "x"), new Layer(3, name: "h"));
        var lines = net.Summary().Split(Environment.NewLine);
        // the connection's line: its shapes and its 6 weights + 3 biases are known only after the build
        Assert.Contains($"{"x->h",-24} {"dense",-20} {"[2] -> [3]",-26} {0,5} {9,10}", lines);
        Assert.Contains("Total parameters: 9", lines);
    }
}
