using FlexNet.Autodiff;
using FlexNet.Connections;
using FlexNet.Graph;
using FlexNet.Tensors;

namespace FlexNet.Tests.Connections;

/// <summary>Survivors of session 12's first mutation run of <c>Connections</c>, second part: the transposed
/// convolution against a loop written here (bias, output padding that differs between rows and columns), its output
/// padding range, empty maps, concatenated targets, bounds and descriptions; the dense connection's units check,
/// multi-axis targets and message; the elementwise connection's bias and shape check; and the layer-kind registry
/// (argument checks, a kind registered again for another type, sorted names).</summary>
public sealed class ConnectionMutationGapTests2
{
    internal static Tensor Run(Network net, Tensor x)
    {
        using (Autograd.NoGrad()) return net.Forward(x)[0];
    }

    /// <summary>y[n, co, i·s − p + ki·d, j·s − p + kj·d] += x[n, ci, i, j]·W[ci, co, ki, kj], plus b[co], cropped to [H', W'].</summary>
    private static double[] TransposedConv(double[] x, int n, int cin, int h, int w, double[] wt, double[]? b, int cout, int k, int s, int p, int d,
                                           int oh, int ow)
    {
        var y = new double[n * cout * oh * ow];
        for (int a = 0; a < n; a++)
            for (int co = 0; co < cout; co++)
            {
                for (int r = 0; r < oh; r++)
                    for (int c = 0; c < ow; c++)
                        y[((a * cout + co) * oh + r) * ow + c] = b?[co] ?? 0;
                for (int ci = 0; ci < cin; ci++)
                    for (int i = 0; i < h; i++)
                        for (int j = 0; j < w; j++)
                            for (int ki = 0; ki < k; ki++)
                                for (int kj = 0; kj < k; kj++)
                                {
                                    int r = i * s - p + ki * d, c = j * s - p + kj * d;
                                    if (r < 0 || r >= oh || c < 0 || c >= ow) continue;
                                    y[((a * cout + co) * oh + r) * ow + c] += x[((a * cin + ci) * h + i) * w + j] * wt[((ci * cout + co) * k + ki) * k + kj];
                                }
            }
        return y;
    }

    [Fact]
    public void TransposedConvWithBiasAndUnequalOutputPaddingMatchesTheLoop()
    {
        // base size (3 − 1)·2 − 2·1 + (3 − 1) + 1 = 5; the target [3, 6, 5] needs output padding 1 for rows, 0 for columns
        var net = new Network("t", DType.Float64, 4);
        var xin = new InputLayer([2, 3, 3], name: "x");
        var y = new Layer([3, 6, 5], name: "y");
        var conv = net.Connect(new ConvTranspose2dConnection(xin, y, 3, 2, 1));
        net.AddOutput(y);
        net.Compile();
        Assert.Equal((1, 0), conv.OutputPadding);
        Assert.Equal("convT2d 3x3/2 pad 1 outpad 1,0", conv.Kind);
        var x = Tensor.Normal([2, 2, 3, 3], 0, 1, new RandomGenerator(8), DType.Float64);
        var got = Run(net, x);
        Assert.Equal([1, 2, 3, 6, 5], got.ShapeArray);
        var want = TransposedConv(x.ToDoubleArray(), 2, 2, 3, 3, conv.Weight.ToDoubleArray(), conv.Bias!.ToDoubleArray(), 3, 3, 2, 1, 1, 6, 5);
        var g = got.ToDoubleArray();
        for (int i = 0; i < want.Length; i++) Assert.Equal(want[i], g[i], 1e-12);
        Assert.Contains(conv.Bias!.ToDoubleArray(), v => v != 0);
    }

    [Fact]
    public void TransposedConvDescribesItselfAndChecksItsArguments()
    {
        var x = new InputLayer([2, 3, 3], name: "x");
        var t = new Layer(null, name: "t");
        Assert.Equal("convT2d 3x3/1", new ConvTranspose2dConnection(x, t, 3).Kind);
        Assert.Equal("convT2d 3x3/1 dil 2", new ConvTranspose2dConnection(x, t, 3, dilation: 2).Kind);
        Assert.Equal("convT2d 1x1/1", new ConvTranspose2dConnection(x, t, 1, 1, dilation: 1).Kind);
        foreach (var (k, s, d, which) in new[] { (0, 1, 1, "kernelSize"), (3, 0, 1, "stride"), (3, 1, 0, "dilation") })
        {
            var e = Assert.Throws<ArgumentException>(() => new ConvTranspose2dConnection(x, t, k, s, dilation: d));
            Assert.Equal(which, e.ParamName);
            Assert.StartsWith($"{which} must be positive. Received: 0", e.Message);
        }
    }

    private static Network TransposedInto(int[] input, int[]? target, int k, int s, int p, int? outChannels = null)
    {
        var net = new Network("t", DType.Float64, 4);
        var xin = new InputLayer(input, name: "x");
        var y = new Layer(target, name: "y");
        net.Connect(new ConvTranspose2dConnection(xin, y, k, s, p, outChannels: outChannels));
        net.AddOutput(y);
        return net;
    }

    [Theory]
    [InlineData(7, 5)]
    [InlineData(5, 7)]
    [InlineData(4, 5)]
    [InlineData(5, 4)]
    public void TransposedConvOutputPaddingMustBeBelowTheStride(int h, int w)
    {
        var e = Assert.Throws<ShapeMismatchException>(() => TransposedInto([2, 3, 3], [3, h, w], 3, 2, 1).Compile());
        Assert.EndsWith($": conv_transpose2d 3x3 stride 2 padding 1 maps [2, 3, 3] to [3, 5+p, 5+p] with 0 <= p < 2, which cannot reach the target [3, {h}, {w}].",
                        e.Message);
        // one below the stride is reachable
        TransposedInto([2, 3, 3], [3, 6, 6], 3, 2, 1).Compile();
    }

    [Fact]
    public void SummariesNameTheComplementAndConv1dKinds()
    {
        var x = new InputLayer([2, 9], name: "x");
        Assert.Equal("1-x", new ComplementConnection(new InputLayer(3, name: "a"), new Layer(3, name: "b")).Kind);
        Assert.Equal("conv1d 3/2", new Conv1dConnection(x, new Layer((int[]?)null, name: "c"), 4, 3, 2).Kind);
    }

    [Fact]
    public void AnExplicitOutputPaddingIsBelowTheStrideOrTheDilation()
    {
        // PyTorch: output_padding < max(stride, dilation). [2, 3, 3], 3x3 stride 2 padding 1 gives 5 + output padding
        var net = new Network("t", DType.Float64, 4);
        var x = new InputLayer([2, 3, 3], name: "x");
        var y = new Layer([3, 6, 6], name: "y");
        net.Connect(new ConvTranspose2dConnection(x, y, 3, 2, 1, outputPadding: 1));
        net.AddOutput(y);
        net.Compile();
        var e = Assert.Throws<ArgumentException>(() => new ConvTranspose2dConnection(x, new Layer([3, 7, 7], name: "z"), 3, 2, 1, outputPadding: 2));
        Assert.Equal("outputPadding must be smaller than the stride (2) or the dilation (1). Received: 2 (Parameter 'outputPadding')", e.Message);
        // the dilation's bound: stride 1, dilation 3 allows 0, 1 and 2
        Assert.NotNull(new ConvTranspose2dConnection(x, new Layer((int[]?)null, name: "d2"), 3, 1, 0, outputPadding: 2, dilation: 3));
        e = Assert.Throws<ArgumentException>(() => new ConvTranspose2dConnection(x, new Layer((int[]?)null, name: "d3"), 3, 1, 0, outputPadding: 3, dilation: 3));
        Assert.Equal("outputPadding must be smaller than the stride (1) or the dilation (3). Received: 3 (Parameter 'outputPadding')", e.Message);
        // inferred from a target, the same bound: (3 − 1) + 3·(3 − 1) + 1 = 9 rows plus 0, 1 or 2
        var dilated = new Network("d", DType.Float64, 4);
        var dx = new InputLayer([2, 3, 3], name: "x");
        var dy = new Layer([3, 12, 12], name: "y");
        dilated.Connect(new ConvTranspose2dConnection(dx, dy, 3, 1, 0, dilation: 3));
        dilated.AddOutput(dy);
        var m = Assert.Throws<ShapeMismatchException>(() => dilated.Compile());
        Assert.EndsWith(": conv_transpose2d 3x3 stride 1 padding 0 maps [2, 3, 3] to [3, 9+p, 9+p] with 0 <= p < 3, which cannot reach the target [3, 12, 12].", m.Message);
    }

    [Fact]
    public void TransposedConvRefusesAnEmptyMapInEitherAxis()
    {
        // (1 − 1)·1 − 2 + (2 − 1) + 1 = 0 rows; (3 − 1) − 2 + 2 = 2 columns
        var e = Assert.Throws<ShapeMismatchException>(() => TransposedInto([1, 1, 3], null, 2, 1, 1, outChannels: 2).Compile());
        Assert.EndsWith(": conv_transpose2d produces an empty map [2, 0, 2].", e.Message);
        e = Assert.Throws<ShapeMismatchException>(() => TransposedInto([1, 3, 1], null, 2, 1, 1, outChannels: 2).Compile());
        Assert.EndsWith(": conv_transpose2d produces an empty map [2, 2, 0].", e.Message);
    }

    [Fact]
    public void TransposedConvIntoAConcatenationTakesItsChannelsFromOutChannels()
    {
        var net = new Network("cat", DType.Float64, 4);
        var x = new InputLayer([2, 3, 3], name: "x");
        var z = new InputLayer([1, 4, 4], name: "z");
        var cat = new Layer([3, 4, 4], combine: CombineRule.Concat, name: "cat");
        var conv = net.Connect(new ConvTranspose2dConnection(x, cat, 2, outChannels: 2));
        net.ConnectIdentity(z, cat);
        net.AddOutput(cat);
        net.Compile();
        Assert.Equal([2, 4, 4], conv.OutputShape!);
    }

    [Fact]
    public void TransposedConvWeightsAreUniformWithinOneOverTheRootOfCoutTimesTheKernelArea()
    {
        var net = TransposedInto([30, 2, 2], null, 2, 1, 0, outChannels: 40);
        net.Compile();
        var conv = (ConvTranspose2dConnection)net.Connections[0];
        Assert.Equal([30, 40, 2, 2], conv.Weight.ShapeArray);
        double bound = 1 / Math.Sqrt(40 * 2 * 2);
        ConnectionMutationGapTests.AssertUniformBound(conv.Weight, bound, "weight");
        ConnectionMutationGapTests.AssertUniformBound(conv.Bias!, bound, "bias");
    }

    [Fact]
    public void DenseChecksItsUnitsAndReshapesIntoAMultiAxisTarget()
    {
        var x = new InputLayer(3, name: "x");
        var e = Assert.Throws<ArgumentException>(() => new DenseConnection(x, new Layer(4, name: "h"), units: 0));
        Assert.StartsWith("units must be positive. Received: 0", e.Message);

        var bad = new Network("bad", DType.Float64);
        var bx = new InputLayer(3, name: "x");
        var bh = new Layer(4, name: "h");
        bad.ConnectDense(bx, bh, units: 3);
        bad.AddOutput(bh);
        var m = Assert.Throws<ShapeMismatchException>(() => bad.Compile());
        Assert.EndsWith(": units 3 differ from the target shape [4].", m.Message);

        var net = new Network("grid", DType.Float64, 2);
        var gx = new InputLayer(3, name: "x");
        var grid = new Layer([2, 3], name: "g");
        var d = net.ConnectDense(gx, grid);
        net.AddOutput(grid);
        net.Compile();
        var xs = new double[] { 0.5, -1, 2, 1, 0.25, -0.75 };
        var got = Run(net, Tensor.FromArray(xs, 2, 3));
        Assert.Equal([1, 2, 2, 3], got.ShapeArray);
        var wv = d.Weight.ToDoubleArray();
        var bv = d.Bias!.ToDoubleArray();
        var g = got.ToDoubleArray();
        for (int n = 0; n < 2; n++)
            for (int o = 0; o < 6; o++)
            {
                double want = bv[o];
                for (int i = 0; i < 3; i++) want += wv[o * 3 + i] * xs[n * 3 + i];
                Assert.Equal(want, g[n * 6 + o], 1e-12);
            }
    }

    [Fact]
    public void ElementwiseAddsItsBiasAndChecksShapesOnlyForASum()
    {
        var net = new Network("e", DType.Float64);
        var x = new InputLayer(3, name: "x");
        var h = new Layer(3, name: "h");
        var c = net.Connect(new ElementwiseConnection(x, h, bias: true));
        net.AddOutput(h);
        net.Compile();
        c.Weight.CopyFrom(Tensor.FromArray(new double[] { 2, 3, 4 }, 3));
        c.Bias!.CopyFrom(Tensor.FromArray(new double[] { 1, -1, 0.5 }, 3));
        Assert.Equal([3.0, 2, 4.5], Run(net, Tensor.Ones([1, 3], DType.Float64)).ToDoubleArray());

        var bad = new Network("bad", DType.Float64);
        var bx = new InputLayer(3, name: "x");
        var bh = new Layer(4, name: "h");
        bad.Connect(new ElementwiseConnection(bx, bh));
        bad.AddOutput(bh);
        var m = Assert.Throws<ShapeMismatchException>(() => bad.Compile());
        Assert.EndsWith(": an elementwise connection needs equal shapes; source [3] vs target [4].", m.Message);

        var cat = new Network("cat", DType.Float64);
        var cx = new InputLayer(3, name: "x");
        var ch = new Layer(5, combine: CombineRule.Concat, name: "c");
        cat.Connect(new ElementwiseConnection(cx, ch));
        cat.ConnectDense(cx, ch, units: 2);
        cat.AddOutput(ch);
        cat.Compile();
        Assert.Equal([1, 1, 5], Run(cat, Tensor.Ones([1, 3], DType.Float64)).ShapeArray);
    }

    private sealed class KindA(string? name) : Layer(null, "linear", CombineRule.Sum, false, name);

    private sealed class KindB(string? name) : Layer(null, "linear", CombineRule.Sum, false, name);

    [Fact]
    public void LayerKindRegistrationChecksItsArgumentsReplacesByKindAndListsNamesInOrder()
    {
        static IReadOnlyDictionary<string, string> D(Layer l) => new Dictionary<string, string>();
        static LayerShapes S(int[] i, IReadOnlyDictionary<string, string> o) => new(i, []);
        Assert.Equal("kind", Assert.Throws<ArgumentException>(() => LayerKinds.Register<KindA>(" ", D, (n, o) => new KindA(n), S)).ParamName);
        Assert.Equal("describe", Assert.Throws<ArgumentNullException>(() => LayerKinds.Register<KindA>("zz_gap_x", null!, (n, o) => new KindA(n), S)).ParamName);
        Assert.Equal("create", Assert.Throws<ArgumentNullException>(() => LayerKinds.Register<KindA>("zz_gap_x", D, null!, S)).ParamName);
        Assert.Equal("shapes", Assert.Throws<ArgumentNullException>(() => LayerKinds.Register<KindA>("zz_gap_x", D, (n, o) => new KindA(n), null!)).ParamName);
        Assert.DoesNotContain("zz_gap_x", LayerKinds.Registered);

        LayerKinds.Register<KindA>("zz_gap_b", D, (n, o) => new KindA(n), S);
        LayerKinds.Register<KindB>("zz_gap_a", D, (n, o) => new KindB(n), S);
        var names = LayerKinds.Registered;
        int ia = names.ToList().IndexOf("zz_gap_a"), ib = names.ToList().IndexOf("zz_gap_b");
        Assert.True(ia >= 0 && ib == ia + 1, string.Join(", ", names));
        for (int i = 1; i < names.Count; i++) Assert.True(string.CompareOrdinal(names[i - 1], names[i]) < 0, string.Join(", ", names));
        Assert.Equal("zz_gap_b", LayerKinds.Find(typeof(KindA))!.Kind);

        // "zz_gap_b" registered again for KindB: KindA no longer has a kind
        LayerKinds.Register<KindB>("zz_gap_b", D, (n, o) => new KindB(n), S);
        Assert.Null(LayerKinds.Find(typeof(KindA)));
        Assert.Equal(typeof(KindB), LayerKinds.Find("zz_gap_b")!.Type);
    }
}
