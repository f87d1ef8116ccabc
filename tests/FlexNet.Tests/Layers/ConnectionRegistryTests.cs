using FlexNet.Autodiff;
using FlexNet.Graph;
using FlexNet.Layers;
using FlexNet.Models;
using FlexNet.Tests.Testing;
using FlexNet.Tensors;

namespace FlexNet.Tests.Layers;

/// <summary>Custom connections registered by name and used from theanets-style specs: forward against a hand
/// computation, float64 gradient check, training, save/load, and errors for unknown kinds and options.</summary>
public class ConnectionRegistryTests
{
    /// <summary>A low-rank factorised dense edge written in ordinary tensor ops: W = U·V with U [out, r], V [r, in];
    /// c = s·Wᵀ = (s·Vᵀ)·Uᵀ.</summary>
    public sealed class LowRank(Layer from, Layer to, int rank, string? name = null) : Connection(from, to, 0, name)
    {
        public int Rank { get; } = rank > 0 ? rank : throw new ArgumentException($"LowRank: rank must be positive; got {rank}.", nameof(rank));

        public Tensor U => Parameters[0];

        public Tensor V => Parameters[1];

        public override string Kind => $"lowrank r={Rank}";

        protected override int[] Build(ConnectionBuildContext context)
        {
            int inF = 1;
            foreach (int d in context.SourceShape) inF *= d;
            var target = context.RequireTargetShape();
            int outF = 1;
            foreach (int d in target) outF *= d;
            AddParameter("u", Tensor.Normal([outF, Rank], 0, 1 / Math.Sqrt(Rank), context.Random, context.DType));
            AddParameter("v", Tensor.Normal([Rank, inF], 0, 1 / Math.Sqrt(inF), context.Random, context.DType));
            return target;
        }

        public override Tensor Contribute(Tensor source) => NN.MatMul(NN.MatMul(source, V.T), U.T);
    }

    static ConnectionRegistryTests() =>
        ConnectionRegistry.Register("lowrank", "Low-rank factorised dense edge W = U·V (test)", ["rank (int, required)"],
                                    s => new LowRank(s.From, s.To, s.Options.Int("rank"), s.Name));

    private static Dictionary<string, object> D(params (string, object)[] kv) => kv.ToDictionary(p => p.Item1, p => p.Item2);

    private static string TempFile(string name) => Path.Combine(Path.GetTempPath(), $"flexnet-{Environment.ProcessId}-{Guid.NewGuid():N}-{name}.safetensors");

    private static Regressor LowRankModel() => new(DataKind.Feedforward, DType.Float64,
        5, D(("size", 4), ("connection", "lowrank"), ("rank", 2), ("activation", "tanh")), 3);

    private static Tensor P(Model m, string name) => m.NamedParameters.Single(p => p.Name == name).Value;

    [Fact]
    public void BuiltInKindsAreRegistered()
    {
        foreach (var k in new[] { "dense", "identity", "elementwise", "complement", "lowrank" })
            Assert.True(ConnectionRegistry.IsRegistered(k), k);
        Assert.Equal(["rank"], ConnectionRegistry.Describe("LowRank")!.OptionKeys);
    }

    [Fact]
    public void LowRankSpecMatchesHandComputation()
    {
        var m = LowRankModel();
        Assert.Equal(["hid1.bias", "hid1:in.u", "hid1:in.v", "out.bias", "out.weight"], m.NamedParameters.Select(p => p.Name).Order(StringComparer.Ordinal));
        var dense = Assert.IsType<Dense>(m.Layer("hid1"));
        Assert.Equal("lowrank", dense.ConnectionKindName);
        var conn = Assert.IsType<LowRank>(Assert.Single(dense.Connections));
        Assert.Equal(2, conn.Rank);
        Assert.Equal([4, 2], conn.U.ShapeArray);
        Assert.Equal([2, 5], conn.V.ShapeArray);
        var b = P(m, "hid1.bias");
        using (Autograd.NoGrad()) b.CopyFrom(Tensor.FromArray(new[] { 0.1, -0.2, 0.3, -0.4 }, 4));
        Assert.Same(b, dense.Bias);
        var x = T.Rand(11, 6, 5).Detach();
        var y = m.Forward(x, true);
        // hand computation in plain loops: h = tanh(x·(U·V)ᵀ + b), y = h·Woutᵀ + bout
        double[] xs = x.ToDoubleArray(), u = conn.U.ToDoubleArray(), v = conn.V.ToDoubleArray(), bs = b.ToDoubleArray();
        double[] wo = P(m, "out.weight").ToDoubleArray(), bo = P(m, "out.bias").ToDoubleArray();
        var expected = new double[6 * 3];
        for (int n = 0; n < 6; n++)
        {
            var h = new double[4];
            for (int o = 0; o < 4; o++)
            {
                double z = bs[o];
                for (int i = 0; i < 5; i++)
                {
                    double w = 0;
                    for (int r = 0; r < 2; r++) w += u[o * 2 + r] * v[r * 5 + i];
                    z += xs[n * 5 + i] * w;
                }
                h[o] = Math.Tanh(z);
            }
            for (int k = 0; k < 3; k++)
            {
                double z = bo[k];
                for (int o = 0; o < 4; o++) z += h[o] * wo[k * 4 + o];
                expected[n * 3 + k] = z;
            }
        }
        T.Close(expected, y.ToDoubleArray(), 1e-12, 1e-12, "lowrank spec forward");
    }

    [Fact]
    public void LowRankSpecPassesGradCheck()
    {
        var m = LowRankModel();
        var x = T.Rand(12, 4, 5).Detach();
        T.GradOk("lowrank spec", _ => m.Forward(x, true), P(m, "hid1:in.u"), P(m, "hid1:in.v"), P(m, "hid1.bias"), P(m, "out.weight"));
    }

    [Fact]
    public void LowRankSpecTrains()
    {
        var m = LowRankModel();
        var rng = new RandomGenerator(5);
        var x = Tensor.Normal([32, 5], 0, 1, rng, DType.Float64);
        // a rank-2 linear target the layer can fit
        var y = NN.MatMul(NN.MatMul(x, Tensor.Normal([5, 2], 0, 0.5, rng, DType.Float64)), Tensor.Normal([2, 3], 0, 0.5, rng, DType.Float64));
        var u0 = P(m, "hid1:in.u").ToDoubleArray();
        double before = new FlexNet.Losses.MeanSquaredError().Compute(m.Predict(x), y).Item();
        var hist = m.Fit(x, y, new FlexNet.Training.TrainerOptions
        {
            Epochs = 60, BatchSize = 32, Loss = new FlexNet.Losses.MeanSquaredError(), Optimizer = new FlexNet.Optimizers.Adam(0.02),
            Progress = FlexNet.Training.ProgressMode.None,
        });
        double after = new FlexNet.Losses.MeanSquaredError().Compute(m.Predict(x), y).Item();
        Assert.True(after < 0.25 * before, $"loss {before} -> {after}");
        Assert.True(hist["loss"][^1] < hist["loss"][0], $"history {hist["loss"][0]} -> {hist["loss"][^1]}");
        Assert.NotEqual(u0, P(m, "hid1:in.u").ToDoubleArray()); // the custom connection's own weights were trained
    }

    [Fact]
    public void LowRankSpecModelSavesAndLoads()
    {
        var m = LowRankModel();
        using (Autograd.NoGrad())
            foreach (var p in m.Parameters) p.CopyFrom(p + 0.125);
        var x = T.Rand(13, 7, 5).Detach();
        var path = TempFile("lowrank");
        try
        {
            m.Save(path);
            var back = Assert.IsType<Regressor>(SpecModel.Load(path));
            Assert.Equal("lowrank", Assert.IsType<Dense>(back.Layer("hid1")).ConnectionKindName);
            Assert.Equal("lowrank", back.CanonicalSpecs[1]!["connection"]);
            Assert.Equal(2, back.CanonicalSpecs[1]!["rank"]);
            Assert.Equal(m.NamedParameters.Select(p => p.Name), back.NamedParameters.Select(p => p.Name));
            foreach (var (name, value) in m.NamedParameters)
                Assert.Equal(value.ToDoubleArray(), P(back, name).ToDoubleArray());
            Assert.Equal(m.Predict(x).ToDoubleArray(), back.Predict(x).ToDoubleArray());
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void BuiltInElementwiseKindFromSpec()
    {
        var m = new Regressor(DataKind.Feedforward, DType.Float64,
            D(("size", 3), ("name", "x")), D(("size", 3), ("name", "e"), ("connection", "elementwise")));
        Assert.Equal(["e.bias", "e:x.weight"], m.NamedParameters.Select(p => p.Name).Order(StringComparer.Ordinal));
        var w = P(m, "e:x.weight");
        var b = P(m, "e.bias");
        Assert.Equal([1.0, 1.0, 1.0], w.ToDoubleArray()); // starts as the identity
        using (Autograd.NoGrad())
        {
            w.CopyFrom(Tensor.FromArray(new[] { 2.0, -1.0, 0.5 }, 3));
            b.CopyFrom(Tensor.FromArray(new[] { 0.25, 0.0, -1.0 }, 3));
        }
        var x = T.Rand(14, 4, 3).Detach();
        var expected = new double[12];
        double[] xs = x.ToDoubleArray(), ws = w.ToDoubleArray(), bs = b.ToDoubleArray();
        for (int n = 0; n < 4; n++)
            for (int j = 0; j < 3; j++) expected[n * 3 + j] = xs[n * 3 + j] * ws[j] + bs[j];
        T.Close(expected, m.Forward(x).ToDoubleArray(), 1e-12, 1e-12, "elementwise kind");
    }

    [Fact]
    public void CodeBuiltSharedLayerWithCustomKindSharesItsConnection()
    {
        var a = Functional.Input(5, name: "a");
        var b = Functional.Input(5, name: "b");
        var shared = new Dense(3, "tanh", name: "shared", connection: "LOWRANK", connectionOptions: new Dictionary<string, object> { ["rank"] = 1 });
        Assert.Equal("lowrank", shared.ConnectionKindName);
        var m = new Model([a, b], [new FlexNet.Layers.Add().Call(shared.Call(a), shared.Call(b))], "siamese", DType.Float64);
        var xa = T.Rand(15, 2, 5).Detach();
        var xb = T.Rand(16, 2, 5).Detach();
        m.Network.Build();
        // both calls are plain graph layers with bias, and the second one's bias is the first one's tensor
        Assert.Equal(2, shared.Nodes.Count);
        Assert.All(shared.Nodes, n => Assert.Equal(typeof(Layer), n.GetType()));
        Assert.All(shared.Nodes, n => Assert.Same(shared.Bias, n.Bias));
        using (Autograd.NoGrad()) shared.Bias!.CopyFrom(Tensor.FromArray(new[] { 0.25, -0.5, 0.75 }, 3));
        var y = m.Forward([xa, xb], false)[0];
        Assert.Equal(["shared.bias", "shared:a.u", "shared:a.v"], m.NamedParameters.Select(p => p.Name).Order(StringComparer.Ordinal));
        var c = (LowRank)shared.Connections[0];
        Tensor H(Tensor x) => (NN.MatMul(NN.MatMul(x, c.V.T), c.U.T) + shared.Bias!).Tanh();
        T.Close((H(xa) + H(xb)).ToDoubleArray(), y.ToDoubleArray(), 1e-12, 1e-12, "shared lowrank");
        Assert.Throws<GraphException>(() => shared.Weight);
    }

    [Fact]
    public void SharedLayerBias_IsNotSavedAsTwoBiasesOfAConnectNetwork()
    {
        var a = Functional.Input(3, name: "a");
        var b = Functional.Input(3, name: "b");
        var shared = new Dense(3, "tanh", name: "shared", connection: "elementwise");
        var m = new Model([a, b], [new FlexNet.Layers.Add().Call(shared.Call(a), shared.Call(b))], "siamese", DType.Float64);
        m.Network.Build();
        Assert.Same(shared.Nodes[0].Bias, shared.Nodes[1].Bias);
        var e = Assert.Throws<GraphException>(() => FlexNet.Connections.NetworkFile.StateDict(m.Network));
        Assert.Contains("'shared_2.layer_bias'", e.Message);
        Assert.Contains("model.Save", e.Message);
    }

    [Fact]
    public void ClassifierFormTakesAConnectionKind()
    {
        var m = new Classifier(DataKind.Feedforward, DType.Float64, 6, D(("form", "classifier"), ("size", 3), ("connection", "lowrank"), ("rank", 2)));
        var p = m.PredictProba(T.Rand(17, 4, 6).Detach()).Sum(1).ToDoubleArray();
        T.Close([1, 1, 1, 1], p, 1e-12, 1e-12, "softmax rows");
        Assert.Contains("out:in.u", m.NamedParameters.Select(q => q.Name));
    }

    [Fact]
    public void LoadingAKindThatIsNoLongerAvailableFailsByName()
    {
        ConnectionRegistry.Register("tmpkind", "test-only kind", s => new LowRank(s.From, s.To, 1, s.Name));
        var r = new Regressor(DataKind.Feedforward, DType.Float64, 3, D(("size", 2), ("connection", "tmpkind")));
        var path = TempFile("tmpkind");
        try
        {
            r.Save(path);
            ConnectionRegistry.Register("tmpkind", "replaced", s => throw new ArgumentException("kind 'tmpkind' is no longer available."));
            var e = Assert.Throws<ModelFormatException>(() => SpecModel.Load(path)); // a file that no longer builds: the format error
            Assert.Contains("layers[1] 'out'", e.Message);
            Assert.Contains("tmpkind", e.Message);
            Assert.Contains("no longer available", e.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Theory]
    [InlineData("nosuch")]
    [InlineData("")]
    public void UnknownKindNamesTheSpecAndListsKinds(string kind)
    {
        var e = Assert.Throws<SpecValidationException>(() => new Regressor(DataKind.Feedforward, DType.Float64,
            5, D(("size", 4), ("connection", kind)), 3));
        foreach (var part in new[] { "layers[1] 'hid1'", $"unknown connection kind '{kind}'", "Registered connection kinds", "elementwise", "lowrank" })
            Assert.Contains(part, e.Message);
    }

    [Fact]
    public void OptionsTheKindDoesNotDeclareAreRejected()
    {
        var e = Assert.Throws<SpecValidationException>(() => new Regressor(DataKind.Feedforward, DType.Float64,
            5, D(("size", 5), ("connection", "elementwise"), ("rank", 2)), 3));
        Assert.Contains("layers[1] 'hid1'", e.Message);
        Assert.Contains("'rank'", e.Message);
        var missing = Assert.Throws<SpecValidationException>(() => new Regressor(DataKind.Feedforward, DType.Float64,
            5, D(("size", 4), ("connection", "lowrank")), 3));
        Assert.Contains("layers[1] 'hid1'", missing.Message);
        Assert.Contains("missing 'rank'", missing.Message);
        var bad = Assert.Throws<ArgumentException>(() => new Dense(4, connection: "nosuch"));
        Assert.Contains("Registered connection kinds", bad.Message);
        Assert.Throws<ArgumentException>(() => ConnectionRegistry.Register("clash", "uses a dense argument", ["size (int)"], s => new LowRank(s.From, s.To, 1, s.Name)));
    }
}
