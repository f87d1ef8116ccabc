// Over 400 lines on purpose: one class for the model-file round trips of every front end (Sequential, Functional,
// spec and subclassed models) and their refusals, which share the builders and the byte-level helpers at its end.
using System.Text.Json.Nodes;
using FlexNet.Autodiff;
using FlexNet.Connections;
using FlexNet.Graph;
using FlexNet.IO;
using FlexNet.Layers;
using FlexNet.Losses;
using FlexNet.Models;
using FlexNet.Optimizers;
using FlexNet.Tensors;
using FlexNet.Tests.IO;
using FlexNet.Training;
using static FlexNet.Models.Functional;

namespace FlexNet.Tests.Models;

/// <summary>.flexnet files of the front ends (format version 2): Sequential, Functional, spec models, registered
/// subclasses and feedback chains come back as the same kind with bit-identical weights, buffers and outputs, save
/// to identical bytes twice, load as networks with Network.Load, and train further; unsaveable and unknown kinds are
/// typed errors that say what to register.</summary>
public sealed class ModelFileTests
{
    internal static byte[] Bytes(Model m)
    {
        var (meta, entries) = ModelFile.Image(m);
        return SafeTensorWriter.ToBytes(meta, entries);
    }

    internal static Model FromBytes(byte[] bytes, string name = "mem.flexnet") => ModelFile.Load(SafeTensorFile.Parse(bytes, name), name);

    private static void SameState(Model a, Model b)
    {
        var sa = a.StateDict();
        var sb = b.StateDict();
        Assert.Equal(sa.Keys.ToArray(), sb.Keys.ToArray());
        foreach (var (k, v) in sa) Assert.Equal(v.ToDoubleArray(), sb[k].ToDoubleArray());
    }

    private static void SameOutputs(Model a, Model b, Tensor[] inputs)
    {
        Tensor[] ya, yb;
        using (Autograd.NoGrad())
        {
            ya = a.Forward(inputs, false);
            yb = b.Forward(inputs, false);
        }
        Assert.Equal(ya.Length, yb.Length);
        for (int i = 0; i < ya.Length; i++)
        {
            Assert.Equal(ya[i].ShapeArray, yb[i].ShapeArray);
            Assert.Equal(ya[i].ToDoubleArray(), yb[i].ToDoubleArray()); // bit-identical
        }
    }

    /// <summary>Round trip through bytes: same kind, state, outputs, identical bytes again, and Network.Load agrees.</summary>
    internal static T RoundTrip<T>(T m, Tensor[] inputs) where T : Model
    {
        byte[] first = Bytes(m);
        var back = Assert.IsType<T>(FromBytes(first));
        SameState(m, back);
        SameOutputs(m, back, inputs);
        Assert.Equal(first, Bytes(back));
        Assert.Equal(first, Bytes(m));
        var net = NetworkFile.FromFile(SafeTensorFile.Parse(first, "net.flexnet"), "net.flexnet");
        using (Autograd.NoGrad())
        {
            var a = m.Forward(inputs, false);
            var b = net.Forward(inputs);
            for (int i = 0; i < a.Length; i++) Assert.Equal(a[i].ToDoubleArray(), b[i].ToDoubleArray());
        }
        return back;
    }

    private static void Perturb(Model m, double by = 0.125)
    {
        using (Autograd.NoGrad())
            foreach (var p in m.Parameters) p.CopyFrom(p + by); // away from the seeded initial values
    }

    private static Tensor X(ulong seed, params int[] shape) => Tensor.Normal(shape, 0, 1, new RandomGenerator(seed));

    internal static Sequential DenseStack(ulong seed = 7) =>
        new("stack", DType.Float32, seed,
            new Dense(6, "relu", name: "fc1", init: new LayerInit("he_uniform", [new("std_bias", 0.1)], seed: 99)),
            new BatchNorm(momentum: 0.3, name: "bn"),
            new Dropout(0.25, name: "drop", seed: 5),
            new GaussianNoise(0.1, name: "noise"),
            new Dense(3, "linear", useBias: false, name: "out")) { InputShape = [4] };

    [Fact]
    public void Sequential_WithBatchNormAndDropout_RoundTripsAndTrainsFurther()
    {
        var m = DenseStack();
        var x = X(1, 16, 4);
        _ = m.Forward(x, training: true); // running statistics move
        Perturb(m);
        var back = RoundTrip(m, [x]);
        Assert.Equal(["fc1", "bn", "drop", "noise", "out"], back.Layers.Select(l => l.Name).ToArray());
        var bn = Assert.IsType<BatchNorm>(back.Layers[1]);
        Assert.Equal(0.3, bn.Momentum);
        Assert.Equal(((BatchNorm)m.Layers[1]).RunningMean!.ToDoubleArray(), bn.RunningMean!.ToDoubleArray());
        Assert.NotEqual(new double[6], bn.RunningMean!.ToDoubleArray());
        Assert.Equal(99UL, back.Layers[0].Init.Seed);
        Assert.Equal(0.25, Assert.IsType<Dropout>(back.Layers[2]).Rate);

        // trains further: one epoch changes the weights and the loss stays finite
        var before = back.Parameters.Select(p => p.ToDoubleArray()).ToArray();
        var y = X(2, 16, 3);
        var h = back.Fit(x, y, new TrainerOptions { Epochs = 1, BatchSize = 8, Loss = new MeanSquaredError(), Optimizer = new Sgd(0.1), Progress = ProgressMode.None });
        Assert.True(double.IsFinite(h["loss"][^1]));
        Assert.Contains(back.Parameters.Select((p, i) => !p.ToDoubleArray().SequenceEqual(before[i])), changed => changed);
    }

    [Fact]
    public void Sequential_Recurrent_LstmGruAndBidirectional_RoundTrip()
    {
        var m = new Sequential("rnn", DType.Float64, 3,
            new LSTM(5, peepholes: true, name: "lstm", init: new LayerInit("orthogonal")),
            new GRU(4, goBackwards: true, name: "gru"),
            new BidirectionalLayer(new RNN(3, returnSequences: false), name: "bi"),
            new LayerNorm(name: "ln"),
            new Dense(2, "tanh", name: "head")) { InputShape = [6, 3] }; // whole sequences, batch-first [N, T, F]
        var x = X(3, 2, 6, 3).To(DType.Float64);
        Perturb(m, 0.01);
        RoundTrip(m, [x]);
    }

    [Fact]
    public void Sequential_Convolutional_RoundTrips()
    {
        var m = new Sequential("cnn", DType.Float32, 11,
            new Conv2D(4, 3, padding: Padding.Same, activation: "relu", name: "c1"),
            new MaxPool2D(2, name: "p1"),
            new Conv2DTranspose(3, 3, stride: 2, padding: 1, outputPadding: 1, name: "up"),
            new LocalResponseNorm(3, name: "lrn"),
            new Conv2D(2, 3, stride: 2, padding: Padding.Explicit(1), useBias: false, dilation: 1, name: "c2"),
            new GlobalAvgPool(name: "gap"),
            new Dense(3, "softmax", name: "out")) { InputShape = [2, 8, 8] };
        RoundTrip(m, [X(4, 3, 2, 8, 8)]);
    }

    [Fact]
    public void Sequential_EveryOtherForm_RoundTrips()
    {
        var seq1d = new Sequential("c1d", DType.Float32, 2,
            new Conv1D(3, 3, padding: Padding.Same, name: "c"), new AvgPool1D(2, name: "p"), new Flatten(name: "f"),
            new Reshape([3, 3], name: "r"), new Flatten(name: "f2"), new ClassifierLayer(2, name: "cls")) { InputShape = [2, 6] };
        RoundTrip(seq1d, [X(5, 4, 2, 6)]);
        var cells = new Sequential("cells", DType.Float32, 2,
            new RRNN(3, rate: "vector", name: "rr"), new MUT1(3, name: "mut"), new MRNN(3, factors: 2, name: "mr"),
            new SCRN(4, rate: "uniform", name: "sc"), new Clockwork(4, [1, 2], name: "cw"), new RNN(2, "relu", returnSequences: false, name: "last"))
        { InputShape = [2], SequenceInput = true };
        RoundTrip(cells, [X(6, 5, 3, 2)]);
        var emb = new Sequential("emb", DType.Float32, 2, new Embedding(7, 3, name: "e"), new Flatten(name: "f"), new Dense(2, name: "o")) { InputShape = [4] };
        var idx = Tensor.FromArray(new float[] { 0, 1, 2, 6, 5, 4, 3, 3 }, [2, 4]);
        RoundTrip(emb, [idx]);
    }

    [Fact]
    public void Functional_SharedLayersMergesTiedAndFeedback_RoundTrip()
    {
        var a = Input(4, sequence: true, name: "a");
        var b = Input(4, sequence: true, name: "b");
        var shared = new Dense(5, "tanh", name: "shared");
        var ha = shared.Call(a);
        var hb = shared.Call(b); // same weights
        var cat = new Concatenate(name: "cat").Call(ha, hb);
        var sum = new Add(name: "sum").Call(ha, hb);
        var prod = new Product(name: "prod").Call(sum, ha);
        var enc = new Dense(3, "relu", name: "enc");
        var code = enc.Call(cat);
        var dec = new Tied(enc, "linear", name: "dec").Call(code);
        var m = new Model([a, b], [dec, prod], "fn", DType.Float32, 9);
        m.AddFeedback(code, code, delay: 1, kind: "dense");
        Perturb(m);
        var xa = X(7, 3, 2, 4);
        var xb = X(8, 3, 2, 4);
        var back = RoundTrip(m, [xa, xb]);
        Assert.Equal(typeof(Model), back.GetType());
        Assert.Equal(m.Parameters.Count, back.Parameters.Count); // sharing kept: no extra weights
    }

    [Fact]
    public void SpecModel_SavesAsModelFile_AndLoadsThroughBothLoaders()
    {
        var c = new Classifier(DataKind.Feedforward, DType.Float64, 3, new Dictionary<string, object> { ["size"] = 5, ["form"] = "dense", ["name"] = "h", ["std"] = 0.3 },
                               new Dictionary<string, object> { ["form"] = "batchnorm", ["name"] = "bn" }, 2);
        _ = c.Forward(X(9, 8, 3).To(DType.Float64), training: true);
        var back = RoundTrip(c, [X(10, 4, 3).To(DType.Float64)]);
        Assert.Equal(c.LayerNames, back.LayerNames);
        string dir = TestFiles.NewTempDir();
        try
        {
            string path = Path.Combine(dir, "c.flexnet");
            c.Save(path);
            Assert.IsType<Classifier>(SpecModel.Load(path));
            Assert.IsType<Classifier>(Model.Load(path));
            string legacy = Path.Combine(dir, "legacy.safetensors");
            c.SaveSpecWeights(legacy);
            var old = Assert.IsType<Classifier>(SpecModel.Load(legacy));
            SameState(c, old);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    /// <summary>A subclassed model: layers in fields, Forward written on symbolic values.</summary>
    public sealed class TwoTower(int units) : Model("towers", DType.Float32, 4)
    {
        private readonly Dense _left = new(units, "relu", name: "left");
        private readonly Dense _right = new(units, "sigmoid", name: "right");
        private readonly Dense _head = new(2, name: "head");

        public int Units { get; } = units;

        protected override SymbolicTensor Forward(SymbolicTensor x) =>
            _head.Call(new Product(name: "gate").Call(_left.Call(x), _right.Call(x)));

        public override IReadOnlyDictionary<string, string> GetConfig() => new Dictionary<string, string> { ["units"] = Units.ToString(System.Globalization.CultureInfo.InvariantCulture) };
    }

    public sealed class Unregistered() : Model("nope")
    {
        protected override SymbolicTensor Forward(SymbolicTensor x) => new Dense(2, name: "d").Call(x);
    }

    [Fact]
    public void RegisteredSubclass_RoundTrips_AndAnUnregisteredOneSaysHowToRegister()
    {
        ModelRegistry.Register("two_tower", cfg => new TwoTower(int.Parse(cfg["units"], System.Globalization.CultureInfo.InvariantCulture)));
        var m = new TwoTower(6) { InputShape = [3] };
        Perturb(m);
        var back = RoundTrip(m, [X(11, 5, 3)]);
        Assert.Equal(6, back.Units);

        var u = new Unregistered { InputShape = [3] };
        var e = Assert.Throws<GraphException>(() => ModelFile.Image(u));
        Assert.Contains(typeof(Unregistered).FullName!, e.Message);
        Assert.Contains("ModelRegistry.Register<Unregistered>", e.Message);
        Assert.Contains("GetConfig", e.Message);

        // an unknown class in a file: typed, lists what is registered
        var bytes = Rewrite(Bytes(m), a => a["model"]!["class"] = "gone");
        var f = Assert.Throws<ModelFormatException>(() => FromBytes(bytes));
        Assert.Contains("'gone'", f.Message);
        Assert.Contains("two_tower", f.Message);
    }

    public sealed class Scale(int size, string activation = "linear", string? name = null, LayerInit? init = null) : CustomLayer(size, activation, name, init)
    {
        public override string Form => "test_scale";

        protected override void Setup() => AddWeights("w", InputSize, Size);

        protected override Tensor Transform(Tensor input) => Activate(NN.MatMul(input, Find("w")));
    }

    public sealed class NotRegistered(int size) : CustomLayer(size)
    {
        public override string Form => "never_registered";

        protected override void Setup() => AddWeights("w", InputSize, Size);

        protected override Tensor Transform(Tensor input) => NN.MatMul(input, Find("w"));
    }

    [Fact]
    public void CustomLayerForms_SaveOnceRegistered_UnknownFormsAreTypedErrors()
    {
        LayerRegistry.Register("test_scale", "test-only", ["size", "activation"], a => new Scale(a.Int("size"), a.Activation("linear"), a.Name, a.Init()));
        var m = new Sequential("custom", DType.Float32, 1, new Scale(3, "tanh", name: "s"), new Dense(2, name: "o")) { InputShape = [4] };
        Perturb(m);
        var back = RoundTrip(m, [X(12, 3, 4)]);
        Assert.IsType<Scale>(back.Layers[0]);

        var e = Assert.Throws<GraphException>(() => ModelFile.Image(new Sequential(new NotRegistered(2)) { InputShape = [3] }));
        Assert.Contains("never_registered", e.Message);
        Assert.Contains("LayerRegistry.Register", e.Message);

        var bytes = Rewrite(Bytes(m), a => a["model"]!["layers"]![0]!["form"] = "vanished_form");
        var f = Assert.Throws<ModelFormatException>(() => FromBytes(bytes));
        Assert.Contains("'vanished_form'", f.Message);
        Assert.Contains("test_scale", f.Message);
        Assert.Contains("dense", f.Message);
    }

    internal static byte[] Rewrite(byte[] bytes, Action<JsonNode> edit)
    {
        var file = SafeTensorFile.Parse(bytes, "x");
        var meta = file.Metadata.ToDictionary(kv => kv.Key, kv => kv.Value);
        var arch = JsonNode.Parse(meta["architecture"])!;
        edit(arch);
        meta["architecture"] = arch.ToJsonString();
        return SafeTensorWriter.ToBytes(meta, file.Tensors.ToList());
    }

    internal static FeedbackChain Chain(bool tree = false)
    {
        ChainElement[] elements =
        [
            FlexNet.Models.Chain.Conv2d(3, 3, padding: Padding.Same, activation: "relu"), FlexNet.Models.Chain.Splitter("c1"),
            FlexNet.Models.Chain.MaxPool(2), FlexNet.Models.Chain.Conv2d(4, 3, padding: Padding.Same, activation: "relu"),
            FlexNet.Models.Chain.Merger("c1", (from, to, delay) => new Conv2dConnection(from, to, 1, 2, Padding.Valid, 1, delay, true, 4)),
            FlexNet.Models.Chain.Flatten(), FlexNet.Models.Chain.Dense(3),
        ];
        return tree ? new FeedbackTree("tree", [1, 6, 6], DType.Float32, 2, elements) : new FeedbackChain("fb", [1, 6, 6], DType.Float32, 2, elements);
    }

    [Fact]
    public void FeedbackChainAndTree_RoundTrip()
    {
        foreach (bool tree in new[] { false, true })
        {
            var c = Chain(tree);
            var (meta, entries) = c.Image();
            byte[] bytes = SafeTensorWriter.ToBytes(meta, entries);
            var back = FeedbackChain.FromFile(SafeTensorFile.Parse(bytes, "fb.flexnet"), "fb.flexnet");
            Assert.Equal(c.GetType(), back.GetType());
            Assert.Equal(c.SplitNames.ToArray(), back.SplitNames.ToArray());
            var x = X(13, 2, 1, 6, 6);
            Assert.Equal(c.Forward(x, 3).ToDoubleArray(), back.Forward(x, 3).ToDoubleArray());
            var (s1, y1) = c.Step(c.ZeroState(2), x);
            var (s2, y2) = back.Step(back.ZeroState(2), x);
            Assert.Equal(y1.ToDoubleArray(), y2.ToDoubleArray());
            Assert.Equal(s1["c1"].ToDoubleArray(), s2["c1"].ToDoubleArray());
            var (m2, e2) = back.Image();
            Assert.Equal(bytes, SafeTensorWriter.ToBytes(m2, e2));
            var net = NetworkFile.FromFile(SafeTensorFile.Parse(bytes, "fb.flexnet"), "fb.flexnet");
            Assert.Equal(c.Forward(x, 3).ToDoubleArray(), net.Forward([x], false, steps: 3)[0].ToDoubleArray());
            var e = Assert.Throws<ModelFormatException>(() => ModelFile.Load(SafeTensorFile.Parse(bytes, "fb.flexnet"), "fb.flexnet"));
            Assert.Contains("FeedbackChain.Load", e.Message);
        }
    }

    [Fact]
    public void ModelLoadOnAConnectNetworkFile_NamesNetworkLoad()
    {
        var (meta, entries) = NetworkFile.Image(NetworkFileTests.Recurrent());
        var e = Assert.Throws<ModelFormatException>(() => ModelFile.Load(SafeTensorFile.Parse(SafeTensorWriter.ToBytes(meta, entries), "n.flexnet"), "n.flexnet"));
        Assert.Contains("Network.Load", e.Message);
    }

    [Fact]
    public void SaveAndLoadThroughFiles()
    {
        string dir = TestFiles.NewTempDir();
        try
        {
            var m = DenseStack();
            string path = Path.Combine(dir, "m.flexnet");
            m.Save(path);
            var back = Assert.IsType<Sequential>(Model.Load(path));
            SameState(m, back);
            var net = Network.Load(path);
            Assert.Equal(m.Network.Parameters.Count(), net.Parameters.Count());
            var c = Chain();
            string cp = Path.Combine(dir, "c.flexnet");
            c.Save(cp);
            Assert.IsType<FeedbackChain>(FeedbackChain.Load(cp));
            Assert.DoesNotContain(Directory.GetFiles(dir), f => !f.EndsWith(".flexnet", StringComparison.Ordinal));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    /// <summary>Every built-in form's configuration builds an equal layer (config → registry → config is a fixed point).</summary>
    [Fact]
    public void EveryBuiltInLayerConfig_IsAFixedPointOfTheRegistry()
    {
        CatalogLayer[] layers =
        [
            new Dense(3, "relu", false, "d", new LayerInit("glorot_normal", [new("sparsity", 0.2)], seed: ulong.MaxValue)),
            new ClassifierLayer(4, "cls"), new Conv1D(2, 3, 2, Padding.Explicit(1), "tanh", false, 2, "c1"),
            new Conv2D(2, 3, 1, Padding.Same, "relu", true, 1, "c2"), new Conv2DTranspose(2, 3, 2, 1, 1, "linear", false, "ct"),
            new MaxPool1D(3, 2, 1, "p1"), new AvgPool2D(2, name: "p2"), new GlobalMaxPool("g"), new BatchNorm(0.2, 1e-3, "bn"),
            new LayerNorm(1e-4, "ln"), new LocalResponseNorm(3, 2e-4, 0.5, 2, "lrn"), new Embedding(9, 4, "emb"),
            new Dropout(0.3, "do", 12345678901234567UL), new GaussianNoise(0.2, "gn", 7), new Flatten("f"), new Reshape([2, 3], "r"),
            new Concatenate("cat"), new Add("add"), new Product("prod"),
            new RNN(3, "relu", false, true, "rnn", null, 5), new GRU(3, name: "gru"), new LSTM(3, peepholes: true, name: "lstm"),
            new RRNN(3, "log", "relu", name: "rrnn"), new MUT1(3, name: "mut1"), new MRNN(3, 2, "relu", name: "mrnn"),
            new SCRN(4, "uniform", name: "scrn"), new Clockwork(4, [1, 3], name: "cw"), new BidirectionalLayer(new GRU(2, false), name: "bi"),
        ];
        foreach (var l in layers)
        {
            var config = l.GetConfig();
            Assert.NotNull(config);
            var rebuilt = LayerRegistry.Create((string)config["form"], new LayerArgs(config, l.Name!));
            var again = rebuilt.GetConfig()!;
            Assert.Equal(Render(config), Render(again));
        }
        var asym = new Conv2D(2, 3, padding: Padding.Explicit(1, 0, 1, 0), name: "asym");
        Assert.Contains("asymmetric padding", Assert.Throws<GraphException>(() => asym.GetConfig()).Message);
        var odd = new BidirectionalLayer(new LSTM(2, peepholes: true), name: "odd");
        Assert.Contains("'odd'", Assert.Throws<GraphException>(() => odd.GetConfig()).Message);
    }

    private static string Render(IReadOnlyDictionary<string, object> d) =>
        string.Join(";", d.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => $"{kv.Key}={(kv.Value is int[] a ? string.Join(",", a) : Convert.ToString(kv.Value, System.Globalization.CultureInfo.InvariantCulture))}"));
}
