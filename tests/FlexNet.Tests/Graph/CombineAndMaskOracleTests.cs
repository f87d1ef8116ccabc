using FlexNet.Connections;
using FlexNet.Graph;
using FlexNet.Tensors;

namespace FlexNet.Tests.Graph;

/// <summary>
/// Parts of a network run that mutation testing found checked only against the library itself, here against plain
/// loops written in the test: the product and concat combine rules, a layer bias on a layer whose static inputs are
/// hoisted out of the loop, masks on a layer of rank 2 with a per-channel bias, the recorded hidden activations, and
/// the one-step functional form <see cref="Network.Step"/>. Only the weights are read from the library.
/// </summary>
public sealed class CombineAndMaskOracleTests
{
    private const int N = 2;

    private static void Randomise(Network net, ulong seed)
    {
        var rng = new RandomGenerator(seed);
        foreach (var p in net.Parameters) p.CopyFrom(Tensor.Normal(p.ShapeArray, 0, 0.7, rng, DType.Float64));
    }

    /// <summary>c = W s + b for one sample (W [out, in] row-major).</summary>
    private static double[] Dense(DenseConnection c, double[] s)
    {
        var w = c.Weight.ToDoubleArray();
        var b = c.Bias?.ToDoubleArray();
        int outF = c.Weight.Shape[0], inF = c.Weight.Shape[1];
        var y = new double[outF];
        for (int o = 0; o < outF; o++)
        {
            double z = b?[o] ?? 0;
            for (int i = 0; i < inF; i++) z += w[o * inF + i] * s[i];
            y[o] = z;
        }
        return y;
    }

    private static double[] Row(Tensor t, params int[] lead)
    {
        var s = t;
        foreach (int i in lead) s = s.Slice(0, i, 1).Squeeze(0);
        return s.ToDoubleArray();
    }

    private static void Near(double[] expected, double[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-12 * (1 + Math.Abs(expected[i])),
                $"{what} [{i}]: oracle {expected[i]:G15}, network {actual[i]:G15}");
    }

    private static double Sigmoid(double z) => 1 / (1 + Math.Exp(-z));

    /// <summary>a = tanh(A x), b = B x(t−1) + U u, p = σ(a ⊙ b ⊙ (P u) + bias_p) (product), cat = [p, a, C b] (concat,
    /// last step only).</summary>
    [Fact]
    public void ProductAndConcatLayersCombineTheirInputsInOrder()
    {
        const int steps = 3;
        var net = new Network("pc", DType.Float64, 4);
        var x = new InputLayer(3, sequenceLength: steps, name: "x");
        var u = new InputLayer(2, name: "u");
        var a = new Layer(2, "tanh", name: "a");
        var b = new Layer(2, name: "b");
        var p = new Layer(2, "sigmoid", CombineRule.Product, bias: true, name: "p");
        var cat = new Layer((int[]?)null, combine: CombineRule.Concat, name: "cat");
        var A = net.ConnectDense(x, a);
        var B = net.ConnectDense(x, b, delay: 1);
        var U = net.ConnectDense(u, b);
        net.ConnectIdentity(a, p);
        net.ConnectIdentity(b, p);
        var P = net.ConnectDense(u, p);
        net.ConnectIdentity(p, cat);
        net.ConnectIdentity(a, cat);
        var C = net.ConnectDense(b, cat, units: 3);
        net.AddOutput(p);
        net.AddOutput(cat, OutputMode.LastStep);
        net.Compile();
        Assert.Equal([7], cat.OutputShape!);
        Randomise(net, 5);
        var xs = Tensor.Normal([steps, N, 3], 0, 1, new RandomGenerator(6), DType.Float64);
        var us = Tensor.Normal([N, 2], 0, 1, new RandomGenerator(7), DType.Float64);
        var o = net.Forward(xs, us);
        Assert.Equal([steps, N, 2], o[0].ShapeArray);
        Assert.Equal([N, 7], o[1].ShapeArray);
        var bias = p.Bias!.ToDoubleArray();
        for (int n = 0; n < N; n++)
        {
            var un = Row(us, n);
            double[] av = [], bv = [], pv = [];
            for (int t = 0; t < steps; t++)
            {
                av = Dense(A, Row(xs, t, n)).Select(Math.Tanh).ToArray();
                var bx = t == 0 ? Dense(B, new double[3]) : Dense(B, Row(xs, t - 1, n));
                bv = bx.Zip(Dense(U, un), (l, r) => l + r).ToArray();
                var pu = Dense(P, un);
                pv = new double[2];
                for (int k = 0; k < 2; k++) pv[k] = Sigmoid(av[k] * bv[k] * pu[k] + bias[k]);
                Near(pv, Row(o[0], t, n), $"p at step {t}, sample {n}");
            }
            Near([.. pv, .. av, .. Dense(C, bv)], Row(o[1], n), $"cat, sample {n}");
        }
    }

    /// <summary>h = tanh(X x + U u + H h(t−1) + V v + bias_h): the static inputs u and v (the second and fourth
    /// connection) are summed once per run; the layer's own bias must still count at every step.</summary>
    [Theory]
    [InlineData(true, true)]
    [InlineData(true, false)]
    [InlineData(false, false)]
    public void HoistedInputsKeepTheLayerBiasAndEveryOtherTerm(bool fuse, bool hoist)
    {
        const int steps = 4;
        var net = new Network("hb", DType.Float64, 8) { FuseDenseLayers = fuse, HoistInvariants = hoist };
        var x = new InputLayer(2, sequenceLength: steps, name: "x");
        var u = new InputLayer(3, name: "u");
        var v = new InputLayer(2, name: "v");
        var h = new Layer(3, "tanh", bias: true, name: "h");
        var X = net.ConnectDense(x, h);
        var U = net.ConnectDense(u, h);
        var H = net.ConnectDense(h, h, delay: 1, bias: false);
        var V = net.ConnectDense(v, h, bias: false);
        var D = net.ConnectDense(u, h, delay: 1, name: "Ud"); // static, but read one step late: zeros at step 0, not invariant
        net.AddOutput(h);
        net.Compile();
        Assert.Equal(fuse && hoist, net.DescribePlan().Contains("[once per run: u + v]\n".ReplaceLineEndings()));
        // the switches take effect on a compiled network: the plan is made again
        net.HoistInvariants = !hoist;
        Assert.Equal(fuse && !hoist, net.DescribePlan().Contains("[once per run: u + v]"));
        net.HoistInvariants = hoist;
        net.FuseDenseLayers = !fuse;
        Assert.Equal(!fuse && hoist, net.DescribePlan().Contains("[once per run: u + v]"));
        net.FuseDenseLayers = fuse;
        Randomise(net, 9);
        var xs = Tensor.Normal([steps, N, 2], 0, 1, new RandomGenerator(10), DType.Float64);
        var us = Tensor.Normal([N, 3], 0, 1, new RandomGenerator(11), DType.Float64);
        var vs = Tensor.Normal([N, 2], 0, 1, new RandomGenerator(12), DType.Float64);
        var y = net.Forward(xs, us, vs)[0];
        var bias = h.Bias!.ToDoubleArray();
        for (int n = 0; n < N; n++)
        {
            var prev = new double[3];
            for (int t = 0; t < steps; t++)
            {
                var zx = Dense(X, Row(xs, t, n));
                var zu = Dense(U, Row(us, n));
                var zh = Dense(H, prev);
                var zv = Dense(V, Row(vs, n));
                var zd = Dense(D, t == 0 ? new double[3] : Row(us, n));
                var hv = new double[3];
                for (int k = 0; k < 3; k++) hv[k] = Math.Tanh(zx[k] + zu[k] + zh[k] + zv[k] + zd[k] + bias[k]);
                Near(hv, Row(y, t, n), $"h at step {t}, sample {n}");
                prev = hv;
            }
        }
    }

    /// <summary>A [2, 3] layer: h(t) = tanh(x(t) + w ⊙ h(t−1) + b[c]) with a per-channel bias b [2]; under a mask a
    /// padded step keeps h and its every-step output is zero.</summary>
    [Fact]
    public void MaskOnARank2LayerWithAChannelBias()
    {
        const int steps = 4;
        var net = new Network("m2", DType.Float64, 3);
        var x = new InputLayer([2, 3], sequenceLength: steps, name: "x");
        var h = new Layer([2, 3], "tanh", bias: true, name: "h");
        net.ConnectIdentity(x, h);
        var w = net.ConnectElementwise(h, h, delay: 1);
        net.AddOutput(h);
        net.AddOutput(h, OutputMode.LastStep);
        net.Compile();
        Assert.Equal([2], h.Bias!.ShapeArray);
        Randomise(net, 13);
        var xs = Tensor.Normal([steps, N, 2, 3], 0, 1, new RandomGenerator(14), DType.Float64);
        double[,] mask = { { 1, 0 }, { 1, 1 }, { 0, 1 }, { 1, 0 } };
        var m = Tensor.Zeros([steps, N], DType.Float64);
        for (int t = 0; t < steps; t++) for (int n = 0; n < N; n++) m[t, n] = mask[t, n];
        var o = net.Forward([xs], training: false, mask: m);
        Assert.Equal([steps, N, 2, 3], o[0].ShapeArray);
        Assert.Equal([N, 2, 3], o[1].ShapeArray);
        var wv = w.Weight.ToDoubleArray();
        var bias = h.Bias!.ToDoubleArray();
        for (int n = 0; n < N; n++)
        {
            var held = new double[6];
            for (int t = 0; t < steps; t++)
            {
                var xt = Row(xs, t, n);
                var next = new double[6];
                for (int k = 0; k < 6; k++)
                    next[k] = held[k] + mask[t, n] * (Math.Tanh(xt[k] + wv[k] * held[k] + bias[k / 3]) - held[k]);
                held = next;
                Near(held.Select(v => v * mask[t, n]).ToArray(), Row(o[0], t, n), $"h at step {t}, sample {n}");
            }
            Near(held, Row(o[1], n), $"last h, sample {n}");
        }
    }

    /// <summary>x [2] temporal → h1 = x + h1(t−1) (a running sum, every step) → r = h1 (last step only) → out = r.
    /// The recorded activations are the hidden layers h1 [T, N, 2] and r [N, 2], in plan order; inputs and outputs are
    /// not recorded.</summary>
    [Fact]
    public void RecordedActivationsAreTheHiddenLayersAtTheStepsTheyRan()
    {
        const int steps = 3;
        var net = new Network("rec", DType.Float64);
        var x = new InputLayer(2, sequenceLength: steps, name: "x");
        var h1 = new Layer(2, name: "h1");
        var r = new Layer(2, name: "r");
        var outL = new Layer(2, name: "out");
        net.ConnectIdentity(x, h1);
        net.ConnectIdentity(h1, h1, delay: 1);
        net.ConnectIdentity(h1, r);
        net.ConnectIdentity(r, outL);
        net.AddOutput(outL, OutputMode.LastStep);
        var xs = Tensor.FromArray([1.0, 2, 10, 20, /* t = 1 */ 3, 4, 30, 40, /* t = 2 */ 5, 6, 50, 60], steps, N, 2);
        net.Forward(xs);
        Assert.Empty(net.Activations);
        net.RecordActivations = true;
        var y = net.Forward(xs)[0];
        Assert.Equal([9.0, 12, 90, 120], y.ToDoubleArray());
        Assert.Equal(["h1", "r"], net.Activations.Select(kv => kv.Key));
        var a = net.Activations[0].Value;
        Assert.Equal([steps, N, 2], a.ShapeArray);
        Assert.Equal([1.0, 2, 10, 20, 4, 6, 40, 60, 9, 12, 90, 120], a.ToDoubleArray());
        var rv = net.Activations[1].Value;
        Assert.Equal([N, 2], rv.ShapeArray);
        Assert.Equal([9.0, 12, 90, 120], rv.ToDoubleArray());
    }

    /// <summary>Step: y = X x + bx + H h_prev + bh for one step, with the previous h given by the caller.</summary>
    [Fact]
    public void StepRunsOneStepFromTheGivenStateAndRejectsWhatItCannotUse()
    {
        var net = new Network("step", DType.Float64, 2);
        var x = new InputLayer(2, name: "x");
        var h = new Layer(3, name: "h");
        var X = net.ConnectDense(x, h);
        var H = net.ConnectDense(h, h, delay: 1);
        net.AddOutput(h);
        net.AddOutput(h, OutputMode.LastStep);
        net.Compile();
        Randomise(net, 21);
        var xs = Tensor.FromArray([0.5, -1, 2, 0.25], N, 2);
        var hp = Tensor.FromArray([1.0, -2, 0.5, 0.3, 0.2, -0.1], N, 3);
        var res = net.Step([xs], new Dictionary<Layer, Tensor> { [h] = hp, [x] = Tensor.Ones([N, 2], DType.Float64) }, false, out var current);
        Assert.Equal([1, N, 3], res[0].ShapeArray);
        Assert.Equal([N, 3], res[1].ShapeArray);
        for (int n = 0; n < N; n++)
        {
            var e = Dense(X, Row(xs, n)).Zip(Dense(H, Row(hp, n)), (l, r) => l + r).ToArray();
            Near(e, Row(res[1], n), $"step output, sample {n}");
            Near(e, Row(current[h], n), $"current h, sample {n}");
        }
        Assert.Equal(xs.ToDoubleArray(), current[x].ToDoubleArray());
        Assert.Equal(2, current.Count);

        // no previous state: the recurrent edge reads zeros (its bias still counts)
        var cold = net.Step([xs], new Dictionary<Layer, Tensor>(), false, out _)[1];
        for (int n = 0; n < N; n++) Near(Dense(X, Row(xs, n)).Zip(H.Bias!.ToDoubleArray(), (l, r) => l + r).ToArray(), Row(cold, n), $"cold, sample {n}");

        Assert.Equal("Step needs the inputs. (Parameter 'inputs')",
            Assert.Throws<ArgumentException>(() => net.Step([], new Dictionary<Layer, Tensor>(), false, out _)).Message);
        var stranger = new Layer(3, name: "stranger");
        Assert.Equal("Network 'step': layer 'stranger' in the state does not belong to this network.",
            Assert.Throws<GraphException>(() => net.Step([xs], new Dictionary<Layer, Tensor> { [stranger] = hp }, false, out _)).Message);

        var seq = new Network("seq", DType.Float64);
        var xt = new InputLayer(2, sequenceLength: 3, name: "xt");
        seq.ConnectDense(xt, new Layer(1, name: "o"));
        Assert.Equal("Network 'seq': Step takes one step of non-temporal inputs; input 'xt' is temporal.",
            Assert.Throws<GraphException>(() => seq.Step([Tensor.Zeros([N, 2], DType.Float64)], new Dictionary<Layer, Tensor>(), false, out _)).Message);
    }
}
