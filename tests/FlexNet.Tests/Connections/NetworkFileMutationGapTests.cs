using FlexNet.Autodiff;
using FlexNet.Connections;
using FlexNet.Graph;
using FlexNet.IO;
using FlexNet.Layers;
using FlexNet.Tensors;
using FlexNet.Tests.IO;

namespace FlexNet.Tests.Connections;

/// <summary>Survivors of session 12's mutation run in <c>NetworkFile</c> (the Connect API's .flexnet files): null
/// arguments; state-dict messages with their 20-name cut; a learned initial state saved and loaded; a custom layer whose
/// tensor differs from its kind's prediction; a wrong format name; non-finite values in the last element of a float64 and
/// a float32 tensor; custom layer and connection factories that make something other than the file describes, and the file's
/// activation set on what a custom factory made; average pooling kept by a round trip. Each message is asserted whole.</summary>
public sealed class NetworkFileMutationGapTests
{
    private static (Dictionary<string, string> Meta, List<SafeTensorEntry> Entries) Image(Network net) => NetworkFile.Image(net);

    /// <summary>Loads the file that <paramref name="meta"/> and <paramref name="entries"/> make, read as <paramref name="path"/>
    /// (the name its messages give).</summary>
    internal static Network Load(IReadOnlyDictionary<string, string> meta, IEnumerable<SafeTensorEntry> entries, string path = "m.flexnet") =>
        NetworkFile.FromFile(SafeTensorFile.Parse(SafeTensorWriter.ToBytes(meta, entries), path), path);

    private static Tensor[] Run(Network net, Tensor x) => NetworkFileTests.Run(net, [x]);

    private static void AssertSame(Tensor[] a, Tensor[] b) => NetworkFileTests.AssertBitIdentical(a, b, "loaded network");

    private static Network Chain(int layers, DType dtype = DType.Float64)
    {
        var net = new Network("n", dtype, 2);
        Layer prev = new InputLayer(2, name: "x");
        for (int i = 0; i < layers; i++)
        {
            var h = new Layer(2, name: $"h{i:00}");
            net.ConnectDense(prev, h, bias: i > 0 || layers % 2 == 0);
            prev = h;
        }
        net.AddOutput(prev);
        net.Compile();
        return net;
    }

    [Fact]
    public void NullPathsAndStatesAreRefusedByName()
    {
        var net = Chain(1);
        Assert.Equal("path", Assert.Throws<ArgumentNullException>(() => net.Save(null!)).ParamName);
        Assert.Equal("state", Assert.Throws<ArgumentNullException>(() => net.LoadStateDict((IReadOnlyDictionary<string, Tensor>)null!)).ParamName);
        Assert.Equal("path", Assert.Throws<ArgumentNullException>(() => net.LoadStateDict((string)null!)).ParamName);
    }

    [Theory]
    [InlineData(10, false)]
    [InlineData(11, true)]
    public void AStateDictMessageListsTwentyNamesAndCutsTheRest(int layers, bool cut)
    {
        // 10 layers with biases: 20 tensors; 11 layers, the first without a bias: 21
        var net = Chain(layers);
        var names = net.StateDict().Keys.ToList();
        Assert.Equal(cut ? 21 : 20, names.Count);
        var e = Assert.Throws<ModelFormatException>(() => net.LoadStateDict(new Dictionary<string, Tensor>()));
        string list = string.Join(", ", names.Take(20)) + (cut ? ", ..." : "");
        Assert.Equal($"state dict: no tensor '{names[0]}' for network 'n' (it needs {list}).", e.Message);
    }

    [Fact]
    public void ALearnedInitialStateIsInTheStateDictAndSurvivesTheFile()
    {
        var net = new Network("s", DType.Float64, 3);
        var x = new InputLayer(2, sequenceLength: 3, name: "x");
        var h = new Layer(3, "tanh", name: "h") { LearnInitialState = true };
        net.ConnectDense(x, h);
        net.ConnectDense(h, h, delay: 1, bias: false);
        net.AddOutput(h);
        net.Compile();
        using (Autograd.NoGrad()) h.InitialState!.CopyFrom(Tensor.FromArray(new double[] { 0.5, -0.25, 1 }, 3));
        Assert.Same(h.InitialState, net.StateDict()["h.initial_state"]);
        var (meta, entries) = Image(net);
        var back = Load(meta, entries);
        var bh = back.Layers.Single(l => l.Name == "h");
        Assert.True(bh.LearnInitialState);
        Assert.Equal([0.5, -0.25, 1], bh.InitialState!.ToDoubleArray());
        var xs = Tensor.Normal([3, 2, 2], 0, 1, new RandomGenerator(4), DType.Float64);
        AssertSame(Run(net, xs), Run(back, xs));
    }

    /// <summary>A layer kind with one parameter <c>g</c> [F]; <see cref="Size"/> changes what it builds.</summary>
    private sealed class NfGain(string? name) : Layer((int[]?)null, "linear", CombineRule.Sum, false, name)
    {
        internal static int Size;
        internal static string Short = "g";
        private Tensor? _g;

        public override IEnumerable<Tensor> Parameters => _g is null ? base.Parameters : base.Parameters.Append(_g);

        protected internal override void BuildParameters(DType dtype, RandomGenerator rng)
        {
            base.BuildParameters(dtype, rng);
            using (TensorScope.Suspend())
            {
                _g = Tensor.Ones([Size > 0 ? Size : InputShape![0]], dtype).RequireGrad();
                _g.Name = $"{Name}.{Short}";
            }
        }

        protected internal override Tensor Transform(Tensor combined, bool training) => combined;
    }

    [Fact]
    public void ACustomLayerWhoseTensorDiffersFromItsKindsPredictionCannotBeSaved()
    {
        LayerKinds.Register<NfGain>("zz_nf_gain", _ => new Dictionary<string, string>(), (n, _) => new NfGain(n),
                                    (input, _) => new LayerShapes(input, [("g", [input[0]])]));
        Network Net()
        {
            var net = new Network("n", DType.Float64);
            var h = new NfGain("h");
            net.ConnectDense(new InputLayer(2, name: "x"), h, units: 3);
            net.AddOutput(h);
            return net;
        }
        try
        {
            NfGain.Size = 4;
            var e = Assert.Throws<GraphException>(() => Image(Net()));
            Assert.Equal("Network 'n': parameter 'h.g' is [4], the model-file format predicts [3].", e.Message);
            NfGain.Size = 0;
            NfGain.Short = "other";
            e = Assert.Throws<GraphException>(() => Image(Net()));
            Assert.Equal("Network 'n': parameter 'h.g' is missing, the model-file format predicts [3].", e.Message);
        }
        finally
        {
            NfGain.Size = 0;
            NfGain.Short = "g";
        }
    }

    [Fact]
    public void AFileOfAnotherFormatIsRefused()
    {
        var (meta, entries) = Image(Chain(1));
        meta["format"] = "other";
        var e = Assert.Throws<ModelFormatException>(() => Load(meta, entries));
        Assert.Equal("model file 'm.flexnet': metadata 'format' is 'other'; a model file has format 'flexnet' (a weights-only file loads with LoadStateDict).", e.Message);
    }

    [Theory]
    [InlineData(DType.Float64)]
    [InlineData(DType.Float32)]
    public void ANonFiniteValueInTheLastElementIsCounted(DType dtype)
    {
        var (meta, entries) = Image(Chain(1, dtype));
        var w = entries.Single(e => e.Name == "h00.weight");
        var bad = w.ToDoubleArray();
        bad[^1] = double.NaN;
        var replaced = SafeTensorEntry.FromDoubles("h00.weight", [2, 2], bad);
        if (dtype == DType.Float32)
        {
            var f = new float[bad.Length];
            for (int i = 0; i < f.Length; i++) f[i] = (float)bad[i];
            replaced = SafeTensorEntry.FromFloats("h00.weight", [2, 2], f);
        }
        var list = entries.Select(e => e.Name == "h00.weight" ? replaced : e).ToList();
        var ex = Assert.Throws<ModelFormatException>(() => Load(meta, list));
        Assert.Equal("model file 'm.flexnet': tensor 'h00.weight' [2, 2] has 1 non-finite values (NaN or ±Inf).", ex.Message);
    }

    /// <summary>A plain custom layer kind whose factory can be told to misbehave.</summary>
    private class NfPlain(int[]? shape, CombineRule combine, bool bias, string? name) : Layer(shape, "linear", combine, bias, name);

    private sealed class NfPlainSub(string? name) : NfPlain([3], CombineRule.Sum, false, name);

    private static Func<string, NfPlain> _plainFactory = n => new NfPlain([3], CombineRule.Sum, false, n);

    [Fact]
    public void ACustomLayerFactoryThatMakesSomethingElseIsRefused()
    {
        LayerKinds.Register<NfPlain>("zz_nf_plain", _ => new Dictionary<string, string>(), (n, _) => _plainFactory(n),
                                     (input, _) => new LayerShapes(input, []));
        // the factory makes a linear layer; the file's activation is set on it after
        var net = new Network("n", DType.Float64, 7);
        net.ConnectDense(new InputLayer(2, name: "x"), new NfPlain([3], CombineRule.Sum, false, "p") { Activation = "tanh" });
        net.AddOutput(net.Layers[^1]);
        var (meta, entries) = Image(net);
        const string made = "model file 'm.flexnet': the architecture does not build: the factory of registered layer kind 'zz_nf_plain' did not make a new NfPlain named 'p'.";
        const string other = "model file 'm.flexnet': the architecture does not build: the factory of registered layer kind 'zz_nf_plain' made layer 'p' with another shape, " +
                             "combine rule, bias or shape behaviour than the file describes.";
        var cases = new (Func<string, NfPlain> Factory, string Message)[]
        {
            (n => new NfPlain([3], CombineRule.Sum, false, n + "x"), made),
            (n => new NfPlainSub(n), made),
            (n => { var l = new NfPlain([3], CombineRule.Sum, false, n); new Network("elsewhere").Add(l); return l; }, made),
            (n => new NfPlain([4], CombineRule.Sum, false, n), other),
            (n => new NfPlain(null, CombineRule.Sum, false, n), other),
            (n => new NfPlain([3], CombineRule.Product, false, n), other),
            (n => new NfPlain([3], CombineRule.Sum, true, n), other),
        };
        try
        {
            foreach (var (factory, message) in cases)
            {
                _plainFactory = factory;
                Assert.Equal(message, Assert.Throws<ModelFormatException>(() => Load(meta, entries)).Message);
            }
            _plainFactory = n => new NfPlain([3], CombineRule.Sum, false, n);
            var back = Load(meta, entries);
            Assert.Equal("tanh", Assert.IsType<NfPlain>(back.Layers[^1]).Activation);
            var xs = Tensor.Normal([2, 2], 0, 1, new RandomGenerator(5), DType.Float64);
            var want = Run(net, xs);
            Assert.All(want[0].ToDoubleArray(), v => Assert.InRange(v, -1, 1));
            AssertSame(want, Run(back, xs));
        }
        finally
        {
            _plainFactory = n => new NfPlain([3], CombineRule.Sum, false, n);
        }
    }

    /// <summary>A custom connection kind (y = x) whose factory can be told to misbehave.</summary>
    private class NfConn(Layer from, Layer to, int delay, string? name) : Connection(from, to, delay, name)
    {
        public override string Kind => "nf";

        protected override int[] Build(ConnectionBuildContext context) => context.SourceShape;

        public override Tensor Contribute(Tensor source) => source;
    }

    private sealed class NfConnSub(Layer from, Layer to, int delay, string? name) : NfConn(from, to, delay, name);

    private static Func<Layer, Layer, int, string, NfConn> _connFactory = (f, t, d, n) => new NfConn(f, t, d, n);

    [Fact]
    public void ACustomConnectionFactoryThatMakesSomethingElseIsRefused()
    {
        ConnectionKinds.Register<NfConn>("zz_nf_conn", _ => new Dictionary<string, string>(), (f, t, d, n, _) => _connFactory(f, t, d, n),
                                         (s, _, _) => new ConnectionShapes(s, []));
        var net = new Network("n", DType.Float64);
        var x = new InputLayer(2, name: "x");
        var h = new Layer(2, name: "h");
        var g = new Layer(2, name: "g");
        net.Connect(new NfConn(x, h, 0, "x->h"));
        net.ConnectDense(h, g);
        net.AddOutput(g);
        var (meta, entries) = Image(net);
        const string msg = "model file 'm.flexnet': the architecture does not build: the factory of registered kind 'zz_nf_conn' did not make a NfConn from 'x' to 'h' with delay 0.";
        var cases = new Func<Layer, Layer, int, string, NfConn>[]
        {
            (f, t, d, n) => new NfConnSub(f, t, d, n),
            (f, t, d, n) => new NfConn(t, t, d, n),
            (f, t, d, n) => new NfConn(f, new Layer(2, name: "h"), d, n),
            (f, t, d, n) => new NfConn(f, t, d + 1, n),
        };
        try
        {
            foreach (var factory in cases)
            {
                _connFactory = factory;
                var e = Assert.Throws<ModelFormatException>(() => Load(meta, entries));
                Assert.Equal(msg, e.Message);
            }
            _connFactory = (f, t, d, n) => new NfConn(f, t, d, n);
            Assert.IsType<NfConn>(Load(meta, entries).Connections[0]);
        }
        finally
        {
            _connFactory = (f, t, d, n) => new NfConn(f, t, d, n);
        }
    }

    [Fact]
    public void AveragePoolingSurvivesTheFile()
    {
        var net = new Network("p", DType.Float64, 5);
        var x = new InputLayer([2, 6], name: "x");
        var pool = new PoolLayer(PoolKind.Average, 1, 2, name: "pool");
        net.Connect(x, pool);
        net.AddOutput(pool);
        net.Compile();
        var (meta, entries) = Image(net);
        var back = Load(meta, entries);
        var xs = Tensor.Normal([2, 2, 6], 0, 1, new RandomGenerator(6), DType.Float64);
        var want = Run(net, xs);
        AssertSame(want, Run(back, xs));
        // an average, (x0 + x1) / 2, for the first pair of the first sample
        var v = xs.ToDoubleArray();
        Assert.Equal((v[0] + v[1]) / 2, want[0].ToDoubleArray()[0], 1e-12);
    }
}
