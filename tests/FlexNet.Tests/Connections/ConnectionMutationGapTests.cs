using FlexNet.Autodiff;
using FlexNet.Connections;
using FlexNet.Graph;
using FlexNet.Layers;
using FlexNet.Tensors;

namespace FlexNet.Tests.Connections;

/// <summary>Survivors of session 12's first mutation run of <c>Connections</c>: the convolution connections' argument
/// checks at their boundaries, output lengths for 'same' with a stride and for padding that differs between rows and
/// columns, their default init bounds and descriptions; the complement connection's shape check; the init settings'
/// argument checks and per-parameter seeds; the connection-kind registry's refusal of FlexNet's own first kind; and
/// the built-in layer kinds' option parsing with its 40-character cut. Expected values come from the formulas
/// (torch's conv output length, U(±1/√fan-in)), not from the library.</summary>
public sealed class ConnectionMutationGapTests
{
    private static (Network Net, Layer Y) Conv(int[] input, Func<Layer, Layer, Connection> connect, int[]? target = null)
    {
        var net = new Network("c", DType.Float64, 3);
        var x = new InputLayer(input, name: "x");
        var y = new Layer(target, name: "y");
        net.Connect(connect(x, y));
        net.AddOutput(y);
        net.Compile();
        return (net, y);
    }

    [Theory]
    [InlineData(0, 3, 1, 1)]
    [InlineData(2, 0, 1, 1)]
    [InlineData(2, 3, 0, 1)]
    [InlineData(2, 3, 1, 0)]
    [InlineData(-1, 3, 1, 1)]
    public void Conv1dRefusesAZeroOrNegativeSize(int outChannels, int kernel, int stride, int dilation)
    {
        var x = new InputLayer([2, 8], name: "x");
        var e = Assert.Throws<ArgumentException>(() => new Conv1dConnection(x, new Layer(null, name: "y"), outChannels, kernel, stride, dilation: dilation));
        Assert.Equal($"Conv1d: outChannels, kernelSize, stride and dilation must be positive. Received: {outChannels}, {kernel}, {stride}, {dilation}", e.Message);
    }

    [Fact]
    public void Conv1dLengthsFollowTorchAndAKernelThatDoesNotFitIsNamed()
    {
        // all ones are allowed
        var (_, y1) = Conv([2, 5], (x, y) => new Conv1dConnection(x, y, 1, 1, 1, dilation: 1));
        Assert.Equal([1, 5], y1.OutputShape!);
        // 'same' with stride 2 keeps ⌈L/stride⌉ = ⌈7/2⌉ = 4
        var (net, y2) = Conv([2, 7], (x, y) => new Conv1dConnection(x, y, 3, 3, 2, Padding.Same));
        Assert.Equal([3, 4], y2.OutputShape!);
        Tensor o;
        using (Autograd.NoGrad()) o = net.Forward(Tensor.Ones([2, 2, 7], DType.Float64))[0];
        Assert.Equal([1, 2, 3, 4], o.ShapeArray);
        // a kernel exactly as long as the input gives one position; one longer gives none
        var (_, y3) = Conv([2, 3], (x, y) => new Conv1dConnection(x, y, 3, 3));
        Assert.Equal([3, 1], y3.OutputShape!);
        var e = Assert.Throws<ShapeMismatchException>(() => Conv([2, 2], (x, y) => new Conv1dConnection(x, y, 3, 3)));
        Assert.EndsWith(": the kernel 3 does not fit the length 2.", e.Message);
    }

    /// <summary>All of <paramref name="t"/> within ±bound, and its extremes beyond ±0.8·bound (a uniform draw, not a constant).</summary>
    internal static void AssertUniformBound(Tensor t, double bound, string what)
    {
        var v = t.ToDoubleArray();
        double min = double.MaxValue, max = double.MinValue;
        foreach (double d in v)
        {
            min = Math.Min(min, d);
            max = Math.Max(max, d);
        }
        Assert.True(min >= -bound && max <= bound, $"{what}: [{min}, {max}] outside ±{bound}");
        Assert.True(min < -0.8 * bound && max > 0.8 * bound, $"{what}: [{min}, {max}] does not span ±{bound}");
    }

    [Fact]
    public void ConvWeightsAndBiasesAreUniformWithinOneOverTheRootOfTheFanIn()
    {
        var c1 = new Conv1dConnection[1];
        Conv([4, 9], (x, y) => c1[0] = new Conv1dConnection(x, y, 40, 5));
        AssertUniformBound(c1[0].Weight, 1 / Math.Sqrt(4 * 5), "conv1d weight");
        AssertUniformBound(c1[0].Bias!, 1 / Math.Sqrt(4 * 5), "conv1d bias");
        var c2 = new Conv2dConnection[1];
        Conv([3, 6, 6], (x, y) => c2[0] = new Conv2dConnection(x, y, 3, outChannels: 40));
        AssertUniformBound(c2[0].Weight, 1 / Math.Sqrt(3 * 9), "conv2d weight");
        AssertUniformBound(c2[0].Bias!, 1 / Math.Sqrt(3 * 9), "conv2d bias");

        var nb = new Conv1dConnection[1];
        Conv([4, 9], (x, y) => nb[0] = new Conv1dConnection(x, y, 2, 5, bias: false));
        Assert.Null(nb[0].Bias);
        Assert.Single(nb[0].Parameters);
    }

    [Theory]
    [InlineData(0, 1, 1, "kernelSize")]
    [InlineData(3, 0, 1, "stride")]
    [InlineData(3, 1, 0, "dilation")]
    public void Conv2dRefusesAZeroSize(int kernel, int stride, int dilation, string which)
    {
        var x = new InputLayer([2, 8, 8], name: "x");
        var e = Assert.Throws<ArgumentException>(() => new Conv2dConnection(x, new Layer(null, name: "y"), kernel, stride, dilation: dilation, outChannels: 2));
        Assert.Equal(which, e.ParamName);
        Assert.StartsWith($"{which} must be positive. Received: 0", e.Message);
    }

    [Fact]
    public void Conv2dAcceptsOnesAndDescribesPaddingAndDilation()
    {
        var (_, y) = Conv([2, 4, 4], (x, t) => new Conv2dConnection(x, t, 1, 1, dilation: 1, outChannels: 1));
        Assert.Equal([1, 4, 4], y.OutputShape!);
        var x = new InputLayer([2, 8, 8], name: "x");
        var t = new Layer(null, name: "t");
        Assert.Equal("conv2d 3x3/1", new Conv2dConnection(x, t, 3).Kind);
        Assert.Equal("conv2d 3x3/2 same", new Conv2dConnection(x, t, 3, 2, Padding.Same).Kind);
        Assert.Equal("conv2d 5x5/1 pad 1,0,0,0", new Conv2dConnection(x, t, 5, padding: Padding.Explicit(1, 0, 0, 0)).Kind);
        Assert.Equal("conv2d 3x3/1 pad 0,1,0,0", new Conv2dConnection(x, t, 3, padding: Padding.Explicit(0, 1, 0, 0)).Kind);
        Assert.Equal("conv2d 3x3/1 pad 0,0,1,0", new Conv2dConnection(x, t, 3, padding: Padding.Explicit(0, 0, 1, 0)).Kind);
        Assert.Equal("conv2d 3x3/1 pad 0,0,0,1 dil 2", new Conv2dConnection(x, t, 3, padding: Padding.Explicit(0, 0, 0, 1), dilation: 2).Kind);
    }

    [Fact]
    public void Conv2dOutputSizeUsesTheRowPaddingForRowsAndTheColumnPaddingForColumns()
    {
        // H' = (5 + 1 + 0 − 2 − 1) + 1 = 4, W' = (5 + 0 + 2 − 2 − 1) + 1 = 5
        var (net, y) = Conv([2, 5, 5], (x, t) => new Conv2dConnection(x, t, 3, padding: Padding.Explicit(1, 0, 0, 2), outChannels: 3));
        Assert.Equal([3, 4, 5], y.OutputShape!);
        Tensor o;
        using (Autograd.NoGrad()) o = net.Forward(Tensor.Ones([2, 2, 5, 5], DType.Float64))[0];
        Assert.Equal([1, 2, 3, 4, 5], o.ShapeArray);
        // 'same' with stride 2: ⌈7/2⌉ × ⌈5/2⌉
        var (_, s) = Conv([2, 7, 5], (x, t) => new Conv2dConnection(x, t, 3, 2, Padding.Same, outChannels: 3));
        Assert.Equal([3, 4, 3], s.OutputShape!);
    }

    [Fact]
    public void AComplementIntoASumNeedsEqualShapesButIntoAConcatenationItDoesNot()
    {
        var net = new Network("k", DType.Float64);
        var g = new InputLayer(3, name: "g");
        var p = new Layer(4, name: "p");
        net.Connect(new ComplementConnection(g, p));
        net.AddOutput(p);
        var e = Assert.Throws<ShapeMismatchException>(() => net.Compile());
        Assert.EndsWith(": a complement connection needs equal shapes; source [3] vs target [4].", e.Message);

        var cat = new Network("cat", DType.Float64);
        var g2 = new InputLayer(3, name: "g");
        var c = new Layer(5, combine: CombineRule.Concat, name: "c");
        cat.Connect(new ComplementConnection(g2, c));
        cat.ConnectDense(g2, c, units: 2);
        cat.AddOutput(c);
        cat.Compile();
        Tensor o;
        using (Autograd.NoGrad()) o = cat.Forward(Tensor.FromArray(new double[] { 0.25, 1, -2 }, 1, 3))[0];
        Assert.Equal([0.75, 0, 3], o.ToDoubleArray()[0..3]);
    }

    [Fact]
    public void InitSettingsCheckTheirArgumentsAndSeedEachParameterByItsFullName()
    {
        var x = new InputLayer(3, name: "x");
        var h = new Layer(2, name: "h");
        Assert.Equal("connection", Assert.Throws<ArgumentNullException>(() => ConnectionInit.WithInit<DenseConnection>(null!, "zeros")).ParamName);
        Assert.Equal("init", Assert.Throws<ArgumentNullException>(() => new DenseConnection(x, h).WithInit(null!)).ParamName);
        Assert.Equal("connection", Assert.Throws<ArgumentNullException>(() => ConnectionInit.InitOf(null!)).ParamName);

        var net = new Network("n", DType.Float64, 1);
        var c = net.ConnectDense(x, h);
        net.Compile();
        var e = Assert.Throws<GraphException>(() => c.WithInit("zeros"));
        Assert.Equal("Connection 'x->h' from 'x' to 'h' is built already; set its init before Compile().", e.Message);

        // the same seeded settings on two connections of the same shape: each parameter draws from its own stream
        var two = new Network("two", DType.Float64, 1);
        var i = new InputLayer(6, name: "i");
        var seeded = new LayerInit("glorot_uniform", seed: 77);
        var a = two.ConnectDense(i, new Layer(4, name: "a"), init: seeded);
        var b = two.ConnectDense(i, new Layer(4, name: "b"), init: seeded);
        two.Compile();
        Assert.NotEqual(a.Weight.ToDoubleArray(), b.Weight.ToDoubleArray());
    }

    private sealed class Plain(Layer from, Layer to) : Connection(from, to, 0, null)
    {
        public override string Kind => "plain";

        protected override int[] Build(ConnectionBuildContext context) => context.SourceShape;

        public override Tensor Contribute(Tensor source) => source;
    }

    [Fact]
    public void ConnectionKindRegistrationChecksItsArgumentsAndRefusesEveryOwnKind()
    {
        static IReadOnlyDictionary<string, string> D(Plain p) => new Dictionary<string, string>();
        static Plain C(Layer f, Layer t, int d, string n, IReadOnlyDictionary<string, string> o) => new(f, t);
        static ConnectionShapes S(int[] s, int[]? t, IReadOnlyDictionary<string, string> o) => new(s, []);
        Assert.Equal("kind", Assert.Throws<ArgumentException>(() => ConnectionKinds.Register<Plain>(" ", D, C, S)).ParamName);
        Assert.Equal("describe", Assert.Throws<ArgumentNullException>(() => ConnectionKinds.Register<Plain>("plain_k", null!, C, S)).ParamName);
        Assert.Equal("create", Assert.Throws<ArgumentNullException>(() => ConnectionKinds.Register<Plain>("plain_k", D, null!, S)).ParamName);
        Assert.Equal("shapes", Assert.Throws<ArgumentNullException>(() => ConnectionKinds.Register<Plain>("plain_k", D, C, null!)).ParamName);
        foreach (var own in new[] { "dense", "conv2d", "shared" })
        {
            var e = Assert.Throws<ArgumentException>(() => ConnectionKinds.Register<Plain>(own, D, C, S));
            Assert.StartsWith($"'{own}' is one of FlexNet's own connection kinds; choose another name.", e.Message);
        }
        Assert.DoesNotContain("plain_k", ConnectionKinds.Registered);
    }

    private static Dictionary<string, string> O(params (string K, string V)[] kv)
    {
        var d = new Dictionary<string, string>();
        foreach (var (k, v) in kv) d[k] = v;
        return d;
    }

    [Fact]
    public void LayerKindOptionsShowAValueOfFortyCharactersWholeAndCutALongerOne()
    {
        string forty = new('7', 40), longer = new string('7', 41);
        string cut = new string('7', 40) + "...";
        var e = Assert.Throws<FormatException>(() => BuiltInLayerKinds.Flag(O(("f", forty)), "f"));
        Assert.Equal($"option 'f' is '{forty}', not true or false.", e.Message);
        e = Assert.Throws<FormatException>(() => BuiltInLayerKinds.Flag(O(("f", longer)), "f"));
        Assert.Equal($"option 'f' is '{cut}', not true or false.", e.Message);

        e = Assert.Throws<FormatException>(() => BuiltInLayerKinds.Count(O(("n", forty)), "n"));
        Assert.Equal($"option 'n' is '{forty}', not an integer from 1 to 2147483647.", e.Message);
        e = Assert.Throws<FormatException>(() => BuiltInLayerKinds.Count(O(("n", longer)), "n"));
        Assert.Equal($"option 'n' is '{cut}', not an integer from 1 to 2147483647.", e.Message);
        e = Assert.Throws<FormatException>(() => BuiltInLayerKinds.Count(O(("n", "0")), "n"));
        Assert.Equal("option 'n' is '0', not an integer from 1 to 2147483647.", e.Message);
        Assert.Equal(1, BuiltInLayerKinds.Count(O(("n", "1")), "n"));

        string key40 = new('k', 40), key41 = new('k', 41);
        e = Assert.Throws<FormatException>(() => BuiltInLayerKinds.Only(O((key40, "1")), "a", "b"));
        Assert.Equal($"unknown option '{key40}' (allowed: a, b).", e.Message);
        e = Assert.Throws<FormatException>(() => BuiltInLayerKinds.Only(O((key41, "1")), "a", "b"));
        Assert.Equal($"unknown option '{key40}...' (allowed: a, b).", e.Message);

        // the seed of a dropout layer, read through its kind's shape check
        var dropout = LayerKinds.Find("dropout")!;
        e = Assert.Throws<FormatException>(() => dropout.Shapes([3], O(("rate", "0.5"), ("seed", forty))));
        Assert.Equal($"option 'seed' is '{forty}', not an unsigned 64-bit integer.", e.Message);
        e = Assert.Throws<FormatException>(() => dropout.Shapes([3], O(("rate", "0.5"), ("seed", longer))));
        Assert.Equal($"option 'seed' is '{cut}', not an unsigned 64-bit integer.", e.Message);
    }

    [Fact]
    public void TheNoiseKindsShapeCheckReadsItsOptions()
    {
        var noise = LayerKinds.Find("gaussian_noise")!;
        Assert.Equal([3, 2], noise.Shapes([3, 2], O(("std", "0.1"))).Output);
        var e = Assert.Throws<FormatException>(() => noise.Shapes([3], O(("std", "abc"))));
        Assert.Equal("option 'std' is 'abc', not a finite number.", e.Message);
        e = Assert.Throws<FormatException>(() => noise.Shapes([3], O(("std", "0.1"), ("rate", "0.5"))));
        Assert.Equal("unknown option 'rate' (allowed: std, seed).", e.Message);
    }

    [Theory]
    [InlineData("batchnorm", "momentum=0.1;epsilon=1e-5", "momentum, epsilon")]
    [InlineData("dropout", "rate=0.5", "rate, seed")]
    [InlineData("gaussian_noise", "std=0.1", "std, seed")]
    [InlineData("layernorm", "epsilon=1e-5", "epsilon")]
    [InlineData("lrn", "size=3;alpha=0.0001;beta=0.75;k=1", "size, alpha, beta, k")]
    [InlineData("embedding", "vocabulary=10;dimension=4", "vocabulary, dimension")]
    public void EachBuiltInLayerKindRefusesAnOptionItDoesNotRead(string kind, string options, string allowed)
    {
        var o = new Dictionary<string, string>();
        foreach (var kv in options.Split(';'))
        {
            int eq = kv.IndexOf('=');
            o[kv[..eq]] = kv[(eq + 1)..];
        }
        var entry = LayerKinds.Find(kind)!;
        Assert.NotNull(entry.Shapes([3], o).Output);
        o["zz"] = "1";
        var e = Assert.Throws<FormatException>(() => entry.Shapes([3], o));
        Assert.Equal($"unknown option 'zz' (allowed: {allowed}).", e.Message);
    }

    [Fact]
    public void ANumberOptionShowsFortyCharactersWholeAndCutsALongerOne()
    {
        var bn = LayerKinds.Find("batchnorm")!;
        string forty = new('x', 40), longer = new('x', 41);
        var e = Assert.Throws<FormatException>(() => bn.Shapes([3], O(("momentum", forty), ("epsilon", "1e-5"))));
        Assert.Equal($"option 'momentum' is '{forty}', not a finite number.", e.Message);
        e = Assert.Throws<FormatException>(() => bn.Shapes([3], O(("momentum", longer), ("epsilon", "1e-5"))));
        Assert.Equal($"option 'momentum' is '{forty}...', not a finite number.", e.Message);
    }
}
