using FlexNet.Connections;
using FlexNet.Graph;
using FlexNet.Tensors;

namespace FlexNet.Tests.Graph;

/// <summary>
/// Behaviour of the graph engine (<c>ExecutionPlan</c>, <c>Network</c>, <c>RunState</c>) that mutation testing found
/// untested (issue 15, Graph session 5), each checked against values or messages written out in the test. The
/// networks are identity sums (h(t) = x(t) + h(t−1) and the like) whose outputs are known by hand.
/// </summary>
public sealed class GraphMutationGapTests
{
    private static string Fail<TEx>(Action a) where TEx : Exception => Assert.Throws<TEx>(a).Message;

    private static void Near(double[] expected, double[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-12, $"{what} [{i}]: expected {expected[i]:G17}, got {actual[i]:G17}");
    }

    private const string DagAdvice = "Connections within one step must form a DAG; give one connection on the cycle a delay >= 1.";

    /// <summary>A layer fed by the cycle and added before it used to make the cycle's description walk off the graph
    /// (IndexOutOfRangeException): the walk went forward from the first unfinished layer, which feeds nothing.</summary>
    [Fact]
    public void ACycleBehindALayerAddedBeforeItIsStillSpelledOut()
    {
        var net = new Network("tail");
        var s = net.Add(new Layer(2, name: "s"));
        var p = new Layer(2, name: "p");
        var q = new Layer(2, name: "q");
        net.ConnectDense(new InputLayer(2, name: "x"), p);
        net.ConnectDense(p, q);
        net.ConnectDense(q, p);
        net.ConnectDense(q, s);
        Assert.Equal("Network 'tail': the delay-0 connections form a cycle 'p' -> 'q' -> 'p'. " + DagAdvice,
            Fail<GraphException>(() => net.Compile()));

        // three layers on the cycle, the one added first (c) in the middle of the connections' order a -> b -> c -> a;
        // d hangs off the cycle and e off d, both added first
        var three = new Network("three");
        var e = three.Add(new Layer(2, name: "e"));
        var d = three.Add(new Layer(2, name: "d"));
        var c = three.Add(new Layer(2, name: "c"));
        var a = new Layer(2, name: "a");
        var b = new Layer(2, name: "b");
        three.ConnectDense(new InputLayer(2, name: "x"), a);
        three.ConnectDense(a, b);
        three.ConnectDense(b, c);
        three.ConnectDense(c, a);
        three.ConnectDense(b, d);
        three.ConnectDense(d, e);
        Assert.Equal("Network 'three': the delay-0 connections form a cycle 'c' -> 'a' -> 'b' -> 'c'. " + DagAdvice,
            Fail<GraphException>(() => three.Compile()));

        // a layer on its own delay-0 loop
        var self = new Network("self");
        var h = new Layer(2, name: "h");
        self.ConnectDense(new InputLayer(2, name: "x"), h);
        self.ConnectDense(h, h);
        Assert.Equal("Network 'self': the delay-0 connections form a cycle 'h' -> 'h'. " + DagAdvice,
            Fail<GraphException>(() => self.Compile()));
    }

    private static (Network Net, Tensor X) RunningSum()
    {
        var net = new Network("sum", DType.Float64);
        var x = new InputLayer(1, sequenceLength: 2, name: "x");
        var h = new Layer(1, name: "h");
        net.ConnectIdentity(x, h);
        net.ConnectIdentity(h, h, delay: 1);
        return (net, Tensor.Ones([2, 1, 1], DType.Float64));
    }

    /// <summary>h(t) = x(t) + h(t−1) on x = 1, 1: a fresh call gives 1, 2; a stateful call after it 3, 4. A call with
    /// <see cref="Network.Stateful"/> off starts from zeros even while a carried state is kept for later.</summary>
    [Fact]
    public void ACallWithStatefulOffIgnoresTheCarriedState()
    {
        var (net, xs) = RunningSum();
        net.Stateful = true;
        Assert.Equal([1.0, 2], net.Forward(xs)[0].ToDoubleArray());
        net.Stateful = false;
        Assert.Equal([1.0, 2], net.Forward(xs)[0].ToDoubleArray());
        net.Stateful = true;
        Assert.Equal([3.0, 4], net.Forward(xs)[0].ToDoubleArray());
        Assert.Equal([5.0, 6], net.Forward(xs)[0].ToDoubleArray());
    }

    /// <summary>The input list is cached; an input layer added after it was read must still be in it (and the next run
    /// must take a tensor for it).</summary>
    [Fact]
    public void AnInputAddedAfterARunIsListedAndFed()
    {
        var (net, xs) = RunningSum();
        Assert.Equal([1.0, 2], net.Forward(xs)[0].ToDoubleArray());
        Assert.Equal(["x"], net.Inputs.Select(i => i.Name));
        var u = new InputLayer(1, name: "u");
        net.ConnectIdentity(u, net["h"]);
        Assert.Equal(["x", "u"], net.Inputs.Select(i => i.Name));
        // h = x + u + h(t−1) with u = 10 at every step: 11, 22
        Assert.Equal([11.0, 22], net.Forward(xs, Tensor.Full([1, 1], 10.0, DType.Float64))[0].ToDoubleArray());
        Assert.Equal("Network 'sum' has 2 input layer(s) (x, u) but 1 tensor(s) were given.",
            Fail<ArgumentException>(() => net.Forward(xs)));
    }

    /// <summary>The refusal of a second identity edge names the edge it would repeat: same source, same target, same
    /// delay, and an identity edge, although other edges into the layer came first.</summary>
    [Fact]
    public void TheRepeatedIdentityEdgeIsNamedAmongOtherEdgesIntoTheLayer()
    {
        var net = new Network("dup");
        var x = new InputLayer(2, name: "x");
        var y = new InputLayer(2, name: "y");
        var h = new Layer(2, name: "h");
        net.ConnectIdentity(y, h, name: "from y");
        net.ConnectIdentity(h, h, delay: 1, name: "self");
        net.ConnectDense(x, h, name: "dense x");
        net.ConnectIdentity(x, h, delay: 1, name: "x late");
        net.ConnectIdentity(x, h, name: "x now");
        Assert.Equal("Network 'dup': layer 'h' already receives 'x' (delay 0) through identity connection 'x now'; a second identity edge " +
                     "would add the same values twice. (A builder's Attach already made that edge: do not Connect it again.)",
            Fail<GraphException>(() => net.ConnectIdentity(x, h)));
        Assert.Equal("Network 'dup': layer 'h' already receives 'x' (delay 1) through identity connection 'x late'; a second identity edge " +
                     "would add the same values twice. (A builder's Attach already made that edge: do not Connect it again.)",
            Fail<GraphException>(() => net.ConnectIdentity(x, h, delay: 1)));
    }

    /// <summary>Adding a layer or an output after a compile changes the graph: the next compile must see it (an
    /// unconnected layer is refused, a new output is returned).</summary>
    [Fact]
    public void LayersAndOutputsAddedAfterACompileAreSeen()
    {
        var (net, xs) = RunningSum();
        net.Compile();
        net.Add(new Layer(1, name: "loose"));
        Assert.Null(net.Plan);
        Assert.Equal("Network 'sum': layer 'loose' has no incoming connections (only input layers may be sources without inputs).",
            Fail<GraphException>(() => net.Forward(xs)));

        var (more, ys) = RunningSum();
        var h = more["h"];
        var o = new Layer(1, name: "o");
        more.ConnectIdentity(h, o);
        more.AddOutput(o);
        Assert.Equal([1.0, 2], more.Forward(ys)[0].ToDoubleArray());
        more.AddOutput(h, OutputMode.LastStep);
        Assert.Null(more.Plan);
        var outs = more.Forward(ys);
        Assert.Equal(2, outs.Length);
        Assert.Equal([1.0, 2], outs[0].ToDoubleArray());
        Assert.Equal([1, 1], outs[1].ShapeArray);
        Assert.Equal([2.0], outs[1].ToDoubleArray());
    }

    /// <summary>Hoisting computes z₀ once per run for a layer that runs at every step; a layer that runs only at the
    /// last step computes its product once anyway, so the plan hoists nothing for it (and says so).</summary>
    [Fact]
    public void OnlyLayersThatRunAtEveryStepHoistTheirStaticInputs()
    {
        foreach (var mode in new[] { OutputMode.LastStep, OutputMode.AllSteps })
        {
            var net = new Network("hoist", DType.Float64) { Steps = 3 };
            var x = new InputLayer(2, name: "x");
            var h = new Layer(2, "tanh", name: "h");
            var c = net.ConnectDense(x, h);
            net.AddOutput(h, mode);
            string hoisted = mode == OutputMode.AllSteps ? "  [once per run: x]" : "";
            Assert.Equal($"  0: x\n  1: h <- x{hoisted}\n".ReplaceLineEndings(), net.DescribePlan());
            c.Weight.CopyFrom(Tensor.FromArray([0.5, -1.0, 2.0, 0.25], 2, 2));
            c.Bias!.CopyFrom(Tensor.FromArray([0.1, -0.2], 2));
            var y = net.Forward(Tensor.FromArray([1.0, 3.0], 1, 2))[0];
            double[] step = [Math.Tanh(0.5 * 1 - 1.0 * 3 + 0.1), Math.Tanh(2.0 * 1 + 0.25 * 3 - 0.2)];
            Near(mode == OutputMode.AllSteps ? [.. step, .. step, .. step] : step, y.ToDoubleArray(), $"h ({mode})");
        }
    }

    /// <summary>A rebuild forgets the shapes of the previous build first: a recurrent edge from a layer later in the
    /// order (cat, which grows from [2] to [5] when b is joined) into an earlier one (h) must be built for the new
    /// shape, not the stale one. h(t) = x + F cat(t−1), cat = [a, b].</summary>
    [Fact]
    public void ARebuildUsesTheNewShapeOfALaterLayerThatFeedsBack()
    {
        var net = new Network("grow", DType.Float64) { Steps = 2 };
        var x = new InputLayer(1, name: "x");
        var h = new Layer(1, name: "h");
        var a = new InputLayer(2, name: "a");
        var cat = new Layer((int[]?)null, combine: CombineRule.Concat, name: "cat");
        var w = net.ConnectDense(x, h, bias: false);
        net.ConnectIdentity(a, cat);
        var f = net.ConnectDense(cat, h, delay: 1, bias: false);
        net.AddOutput(h);
        net.Compile();
        Assert.Equal([1, 2], f.Weight.ShapeArray);
        var b = new InputLayer(3, name: "b");
        net.ConnectIdentity(b, cat);
        net.Compile();
        Assert.Equal([5], cat.OutputShape!);
        Assert.Equal([1, 5], f.Weight.ShapeArray);
        w.Weight.CopyFrom(Tensor.FromArray([1.0], 1, 1));
        f.Weight.CopyFrom(Tensor.FromArray([1.0, 10, 100, 1000, 10000], 1, 5));
        var y = net.Forward(Tensor.FromArray([0.5], 1, 1), Tensor.FromArray([1.0, 2], 1, 2), Tensor.FromArray([3.0, 4, 5], 1, 3))[0];
        Assert.Equal([0.5, 0.5 + 1 + 20 + 300 + 4000 + 50000], y.ToDoubleArray());
    }

    /// <summary>Stateful call 1 (no mask) on h(t) = x(t) + h(t−1), then call 2 with sample 1 masked at both steps: sample
    /// 1 holds call 1's last output (6), sample 0 runs on (4 + 10 = 14, 14 + 30 = 44). The held value is the carried
    /// copy, cut from call 1's graph: call 1's input gets no gradient.</summary>
    [Fact]
    public void TheCarriedLastOutputsAreCutFromThePreviousCall()
    {
        var (net, _) = RunningSum();
        net.AddOutput(net["h"], OutputMode.LastStep);
        net.Stateful = true;
        var x1 = Tensor.FromArray([1.0, 2, 3, 4], 2, 2, 1);
        x1.RequireGrad();
        Assert.Equal([4.0, 6], net.Forward(x1)[0].ToDoubleArray());
        var x2 = Tensor.FromArray([10.0, 20, 30, 40], 2, 2, 1);
        x2.RequireGrad();
        var y = net.Forward([x2], training: false, mask: Tensor.FromArray([1.0, 0, 1, 0], 2, 2))[0];
        Assert.Equal([44.0, 6], y.ToDoubleArray());
        y.Sum().Backward();
        Assert.Null(x1.Grad);
        Assert.Equal([1.0, 0, 1, 0], x2.Grad!.ToDoubleArray());
    }

    /// <summary>s_t = ½ s_{t−1} + z_t (s_0 = z_0), y_t = s_t + time.</summary>
    private sealed class Leaky() : Layer(1, name: "acc")
    {
        protected internal override bool HasStepState => true;

        protected internal override Tensor TransformStep(Tensor combined, bool training, int time, ref Tensor[]? state)
        {
            var s = state is null ? combined : state[0] * 0.5 + combined;
            state = [s];
            return s + (double)time;
        }
    }

    /// <summary>Call 1 on x = 1, 2: s = 1, 2.5 (y = 1, 3.5); call 2 on x = 4: s = 1.25 + 4, y = 5.25 + 2. The carried step
    /// state is a copy cut from call 1's graph.</summary>
    [Fact]
    public void TheCarriedStepStateIsCutFromThePreviousCall()
    {
        var net = new Network("leaky", DType.Float64) { Stateful = true };
        var x = new InputLayer(1, sequenceLength: 2, name: "x");
        net.ConnectIdentity(x, new Leaky());
        var x1 = Tensor.FromArray([1.0, 2], 2, 1, 1);
        x1.RequireGrad();
        Assert.Equal([1.0, 3.5], net.Forward(x1)[0].ToDoubleArray());
        var x2 = Tensor.FromArray([4.0], 1, 1, 1);
        x2.RequireGrad();
        var y = net.Forward(x2)[0];
        Assert.Equal([7.25], y.ToDoubleArray());
        y.Sum().Backward();
        Assert.Null(x1.Grad);
        Assert.Equal([1.0], x2.Grad!.ToDoubleArray());
    }

    /// <summary>The finiteness check reads Float64 outputs as doubles: 1e300 is finite (as a float it would be ∞), and a
    /// NaN next to it is counted alone.</summary>
    [Fact]
    public void TheFiniteCheckOfFloat64OutputsDoesNotRoundThroughFloat()
    {
        var net = new Network("big", DType.Float64) { CheckFinite = true };
        net.ConnectIdentity(new InputLayer(2, name: "x"), new Layer(2, name: "h"));
        Assert.Equal([1e300, -1e300], net.Forward(Tensor.FromArray([1e300, -1e300], 1, 2))[0].ToDoubleArray());
        Assert.Equal("layer 'x' produced 1 non-finite values (output [1, 2]) in phase 'forward' at time step 0.",
            Fail<NonFiniteValueException>(() => net.Forward(Tensor.FromArray([1e300, double.NaN], 1, 2))));
    }
}
