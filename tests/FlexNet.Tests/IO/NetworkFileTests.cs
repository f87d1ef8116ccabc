using FlexNet.Autodiff;
using FlexNet.Connections;
using FlexNet.Graph;
using FlexNet.IO;
using FlexNet.Layers;
using FlexNet.Tensors;

namespace FlexNet.Tests.IO;

/// <summary>.flexnet model files and state dicts of Connect-built networks: round trips with bit-identical outputs
/// and identical bytes, torch.nn names and layouts, typed errors for unknown and custom kinds, the v1 golden file.</summary>
public sealed class NetworkFileTests
{
    /// <summary>x [4] → h [5] (sigmoid, layer bias) ⇄ y [3] (tanh) with a delay-2 feedback y → h, a learned initial state,
    /// an elementwise self-recurrence, a tied decoder and two outputs.</summary>
    internal static Network Recurrent(ulong seed = 3)
    {
        var net = new Network("rec", DType.Float32, seed);
        var x = new InputLayer(4, sequenceLength: 3, name: "x");
        var h = new Layer(5, "sigmoid", bias: true, name: "h") { LearnInitialState = true };
        var y = new Layer(3, "tanh", name: "y");
        var r = new Layer(4, name: "recon");
        var enc = net.ConnectDense(x, h);
        net.Connect(h, y);
        net.ConnectDense(y, h, delay: 2);
        net.ConnectElementwise(h, h, delay: 1, bias: true);
        net.ConnectTied(h, r, enc);
        net.AddOutput(y, OutputMode.AllSteps);
        net.AddOutput(r, OutputMode.LastStep);
        net.TruncatedBptt = 2;
        return net;
    }

    internal static Network Convolutional(ulong seed = 5)
    {
        var net = new Network("cnn", DType.Float32, seed);
        var x = new InputLayer([2, 6, 6], name: "img");
        var c1 = new Layer([3, 6, 6], "relu", name: "conv1");
        var p = new PoolLayer(PoolKind.Max, 2, 2, name: "pool");
        var c2 = new Layer([4, 2, 2], "relu", bias: true, name: "conv2");
        var up = new Layer([2, 6, 6], name: "up");
        var f = new FlattenLayer("flat");
        var o = new Layer(3, "softmax", name: "out");
        net.ConnectConv2d(x, c1, 3, padding: Padding.Same);
        net.Connect(c1, p);
        net.ConnectConv2d(p, c2, 2, stride: 1, bias: false);
        net.ConnectConvTranspose2d(c2, up, 5, stride: 2, padding: 1); // 2 → 5 + output padding 1 = 6
        net.Connect(c2, f);
        net.Connect(f, o);
        net.AddOutput(o, OutputMode.AllSteps);
        net.AddOutput(up, OutputMode.AllSteps);
        return net;
    }

    internal static Tensor[] Run(Network net, Tensor[] inputs)
    {
        using (Autograd.NoGrad()) return net.Forward(inputs);
    }

    internal static void AssertBitIdentical(Tensor[] a, Tensor[] b, string what)
    {
        Assert.Equal(a.Length, b.Length);
        for (int i = 0; i < a.Length; i++)
        {
            Assert.True(a[i].Shape.SequenceEqual(b[i].Shape), $"{what}: output {i} shapes differ");
            var x = a[i].ToDoubleArray();
            var y = b[i].ToDoubleArray();
            for (int j = 0; j < x.Length; j++)
                Assert.True(BitConverter.DoubleToInt64Bits(x[j]) == BitConverter.DoubleToInt64Bits(y[j]), $"{what}: output {i}[{j}] {x[j]:R} vs {y[j]:R}");
        }
    }

    [Fact]
    public void RecurrentNetwork_RoundTripsBitIdentical_SavesIdenticalBytes_AndTrainsFurther()
    {
        string dir = TestFiles.NewTempDir();
        try
        {
            var net = Recurrent();
            var xs = Tensor.Normal([3, 2, 4], 0, 1, new RandomGenerator(11));
            // move the weights away from their initial values so that a loader that re-initialises is caught
            foreach (var p in net.Parameters)
                using (Autograd.NoGrad()) p.CopyFrom(p + Tensor.Normal(p.Shape.ToArray(), 0, 0.1, new RandomGenerator(7), p.DType));
            var before = Run(net, [xs]);
            string path = Path.Combine(dir, "rec.flexnet");
            net.Save(path);
            var loaded = Network.Load(path);
            AssertBitIdentical(before, Run(loaded, [xs]), "loaded");
            Assert.Equal(net.TruncatedBptt, loaded.TruncatedBptt);
            Assert.Equal(["x", "h", "y", "recon"], loaded.Layers.Select(l => l.Name));
            string again = Path.Combine(dir, "again.flexnet");
            loaded.Save(again);
            Assert.Equal(File.ReadAllBytes(path), File.ReadAllBytes(again));

            // the file is a plain safetensors file whose tensors are the state dict
            var file = SafeTensorFile.Read(path);
            Assert.Equal(net.StateDict().Keys.Order(StringComparer.Ordinal), file.Tensors.Select(t => t.Name));
            Assert.Equal("flexnet", file.Metadata["format"]);

            // both train further identically: one SGD step on each gives the same weights
            foreach (var n in new[] { net, loaded })
            {
                n.ZeroGrad();
                var outs = n.Forward([xs], training: true);
                (outs[0].Square().Sum() + outs[1].Sum()).Backward();
                using (Autograd.NoGrad())
                    foreach (var p in n.Parameters) p.CopyFrom(p - 0.1 * p.Grad!);
            }
            var a = net.StateDict();
            var b = loaded.StateDict();
            foreach (var (name, t) in a)
                Assert.Equal(t.ToFloatArray(), b[name].ToFloatArray());
            Assert.NotEqual(File.ReadAllBytes(path), TrySave(loaded, Path.Combine(dir, "trained.flexnet")));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    private static byte[] TrySave(Network n, string path)
    {
        n.Save(path);
        return File.ReadAllBytes(path);
    }

    [Fact]
    public void ConvolutionalNetwork_RoundTripsBitIdentical()
    {
        string dir = TestFiles.NewTempDir();
        try
        {
            var net = Convolutional();
            var xs = Tensor.Normal([2, 2, 6, 6], 0, 1, new RandomGenerator(12));
            var before = Run(net, [xs]);
            string path = Path.Combine(dir, "cnn.flexnet");
            net.Save(path);
            var loaded = Network.Load(path);
            AssertBitIdentical(before, Run(loaded, [xs]), "cnn");
            loaded.Save(path + "2");
            Assert.Equal(File.ReadAllBytes(path), File.ReadAllBytes(path + "2"));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    /// <summary>The kinds the other tests do not reach: conv1d, 1-D pooling, reshape, concat with dense units, identity,
    /// complement, shared, product combine, explicit asymmetric padding, dilation, global max pooling, float64.</summary>
    internal static Network EveryKind()
    {
        var net = new Network("every", DType.Float64, 9);
        var seq = new InputLayer([2, 8], name: "seq");
        var c1 = new Layer([3, 8], "tanh", name: "c1");
        var p1 = new PoolLayer(PoolKind.Average, 1, 2, name: "p1");
        var r = new ReshapeLayer([3, 2, 2], "r");
        var c2 = new Layer([2, 2, 2], "relu", bias: true, name: "c2");
        var g = PoolLayer.Global(PoolKind.Max, "g");
        var cat = new Layer((int[]?)null, "sigmoid", CombineRule.Concat, name: "cat");
        var gate = new Layer(5, "sigmoid", name: "gate");
        var prod = new Layer(5, combine: CombineRule.Product, name: "prod");
        var twin = new Layer(5, name: "twin");
        net.Connect(new Conv1dConnection(seq, c1, 3, 3, padding: Padding.Same));
        net.Connect(c1, p1);
        net.Connect(p1, r);
        net.ConnectConv2d(r, c2, 2, padding: Padding.Explicit(1, 0, 0, 1), dilation: 1);
        net.Connect(c2, g);
        net.ConnectDense(g, cat, units: 3);
        net.ConnectDense(p1, cat, units: 2, bias: false);
        var toGate = net.ConnectDense(cat, gate);
        net.ConnectIdentity(cat, prod);
        net.Connect(new ComplementConnection(gate, prod));
        net.Connect(new SharedConnection(toGate, prod, twin));
        net.AddOutput(prod, OutputMode.LastStep);
        net.AddOutput(twin, OutputMode.AllSteps);
        return net;
    }

    [Fact]
    public void EveryOtherKind_RoundTripsBitIdentical()
    {
        var net = EveryKind();
        var xs = Tensor.Normal([3, 2, 8], 0, 1, new RandomGenerator(5), DType.Float64);
        using (Autograd.NoGrad())
            foreach (var p in net.Parameters) p.CopyFrom(p + Tensor.Normal(p.Shape.ToArray(), 0, 0.2, new RandomGenerator(6), DType.Float64));
        var before = Run(net, [xs]);
        byte[] bytes = NetworkFileImage(net);
        var loaded = NetworkFile.FromFile(SafeTensorFile.Parse(bytes, "every.flexnet"), "every.flexnet");
        AssertBitIdentical(before, Run(loaded, [xs]), "every kind");
        Assert.Equal(bytes, NetworkFileImage(loaded));
        Assert.Equal(["c1.weight", "c1.bias", "c2.weight", "c2.bias", "cat.g.weight", "cat.g.bias", "cat.p1.weight", "gate.weight", "gate.bias", "c2.layer_bias"],
                     net.StateDict().Keys);
        Assert.Equal([3, 2, 3], net.StateDict()["c1.weight"].Shape.ToArray());
        Assert.Contains(loaded.Connections, c => c is SharedConnection s && s.Partner.Name == "cat->gate");
    }

    [Fact]
    public void StateDict_UsesTorchNamesAndLayouts()
    {
        var mlp = new Network("mlp");
        var x = new InputLayer(4, name: "x");
        var fc1 = new Layer(8, "relu", name: "fc1");
        var fc2 = new Layer(2, name: "fc2");
        mlp.Connect(x, fc1);
        mlp.Connect(fc1, fc2);
        var sd = mlp.StateDict();
        Assert.Equal(["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"], sd.Keys);
        Assert.Equal([8, 4], sd["fc1.weight"].Shape.ToArray());
        Assert.Equal([8], sd["fc1.bias"].Shape.ToArray());
        Assert.Same(((DenseConnection)mlp.Connections[0]).Weight, sd["fc1.weight"]);

        // several weighted inputs into one layer: {to}.{from}.param; several from one source: {to}.{from}.{k}.param
        var net = Recurrent();
        var names = net.StateDict().Keys.ToList();
        Assert.Equal(["h.x.weight", "h.x.bias", "y.weight", "y.bias", "h.y.weight", "h.y.bias", "h.h.weight", "h.h.bias", "recon.bias",
                      "h.layer_bias", "h.initial_state"], names);
        var twice = new Network("twice");
        var a = new InputLayer(3, name: "a");
        var b = new Layer(2, name: "b");
        twice.ConnectDense(a, b);
        twice.ConnectDense(a, b, bias: false);
        twice.ConnectDense(b, b, delay: 1);
        Assert.Equal(["b.a.0.weight", "b.a.0.bias", "b.a.1.weight", "b.b.weight", "b.b.bias"], twice.StateDict().Keys);

        // conv2d [Cout, Cin, k, k], conv-transpose [Cin, Cout, k, k]
        var sd2 = Convolutional().StateDict();
        Assert.Equal([3, 2, 3, 3], sd2["conv1.weight"].Shape.ToArray());
        Assert.Equal([4, 3, 2, 2], sd2["conv2.weight"].Shape.ToArray());
        Assert.Equal([4, 2, 5, 5], sd2["up.weight"].Shape.ToArray());
        Assert.Equal([2], sd2["up.bias"].Shape.ToArray());
        Assert.Equal([4], sd2["conv2.layer_bias"].Shape.ToArray());
    }

    [Fact]
    public void LoadStateDict_ChecksEverythingBeforeChangingAnything()
    {
        var net = Recurrent();
        var sd = net.StateDict().ToDictionary(kv => kv.Key, kv => kv.Value.Clone(), StringComparer.Ordinal);
        var target = Recurrent(seed: 99);
        var original = target.StateDict().ToDictionary(kv => kv.Key, kv => kv.Value.ToFloatArray(), StringComparer.Ordinal);
        var broken = new Dictionary<string, Tensor>(sd, StringComparer.Ordinal) { ["recon.bias"] = Tensor.Full([4], double.NaN) };
        var e = Assert.Throws<ModelFormatException>(() => target.LoadStateDict(broken));
        Assert.Contains("recon.bias", e.Message);
        foreach (var (name, t) in target.StateDict()) Assert.Equal(original[name], t.ToFloatArray()); // unchanged
        var missing = new Dictionary<string, Tensor>(sd, StringComparer.Ordinal);
        missing.Remove("y.weight");
        Assert.Contains("y.weight", Assert.Throws<ModelFormatException>(() => target.LoadStateDict(missing)).Message);
        var misshapen = new Dictionary<string, Tensor>(sd, StringComparer.Ordinal) { ["y.weight"] = Tensor.Zeros([5, 3]) };
        Assert.Contains("[5, 3]", Assert.Throws<ModelFormatException>(() => target.LoadStateDict(misshapen)).Message);
        target.LoadStateDict(sd);
        var xs = Tensor.Normal([3, 2, 4], 0, 1, new RandomGenerator(1));
        AssertBitIdentical(Run(net, [xs]), Run(target, [xs]), "state dict copy");
    }

    private sealed class Doubling(Layer from, Layer to) : Connection(from, to)
    {
        protected override int[] Build(ConnectionBuildContext context) => context.SourceShape;

        public override Tensor Contribute(Tensor source) => source * 2;
    }

    [Fact]
    public void CustomAndUnknownKinds_GiveTypedErrorsThatSayWhatIsKnown()
    {
        var net = new Network("custom");
        var x = new InputLayer(3, name: "x");
        var h = new Layer(3, name: "h");
        net.Connect(new Doubling(x, h));
        var e = Assert.Throws<GraphException>(() => net.Save(Path.Combine(Path.GetTempPath(), "never.flexnet")));
        Assert.Contains("Doubling", e.Message);
        Assert.Contains("dense, conv2d", e.Message);

        var image = NetworkFile.Image(Recurrent());
        var arch = image.Meta["architecture"];
        foreach (var (from, to, expect) in new[]
                 {
                     ("\"kind\":\"dense\"", "\"kind\":\"System.Diagnostics.Process\"", "unknown connection kind 'System.Diagnostics.Process'. Known connection kinds: dense, conv2d"),
                     ("\"kind\":\"layer\"", "\"kind\":\"lstm\"", "unknown layer kind 'lstm'. Known layer kinds: layer, input"),
                 })
        {
            Assert.Contains(from, arch);
            var meta = new Dictionary<string, string>(image.Meta) { ["architecture"] = ReplaceFirst(arch, from, to) };
            byte[] bytes = SafeTensorWriter.ToBytes(meta, image.Entries);
            var ex = Assert.Throws<ModelFormatException>(() => NetworkFile.FromFile(SafeTensorFile.Parse(bytes, "k.flexnet"), "k.flexnet"));
            Assert.Contains(expect, ex.Message);
            Assert.Contains("k.flexnet", ex.Message);
        }
    }

    /// <summary>c = s ⊙ g with a learned gain g [features], initialised to a constant given as an option.</summary>
    private sealed class GainConnection(Layer from, Layer to, double init, int delay = 0, string? name = null) : Connection(from, to, delay, name)
    {
        public double Init { get; } = init;

        protected override int[] Build(ConnectionBuildContext context)
        {
            AddParameter("gain", Tensor.Full(context.SourceShape, Init, context.DType));
            return context.SourceShape;
        }

        public override Tensor Contribute(Tensor source) => source * Parameters[0];
    }

    [Fact]
    public void RegisteredConnectionKind_SavesAndLoads_AndIsCheckedBeforeAllocation()
    {
        ConnectionKinds.Register<GainConnection>("test-gain",
            describe: c => new Dictionary<string, string> { ["init"] = c.Init.ToString("R", System.Globalization.CultureInfo.InvariantCulture) },
            create: (from, to, delay, name, o) => new GainConnection(from, to, double.Parse(o["init"], System.Globalization.CultureInfo.InvariantCulture), delay, name),
            shapes: (source, target, o) => new ConnectionShapes(source, [("gain", source)]));
        Assert.Contains("test-gain", ConnectionKinds.Registered);
        var net = new Network("gain");
        var x = new InputLayer(3, name: "x");
        var h = new Layer(3, "tanh", name: "h");
        net.Connect(new GainConnection(x, h, 0.5));
        net.Connect(new GainConnection(h, h, 0.25, delay: 1));
        net.Steps = 3;
        Assert.Equal(["h.x.gain", "h.h.gain"], net.StateDict().Keys);
        using (Autograd.NoGrad())
            foreach (var p in net.Parameters) p.CopyFrom(p + Tensor.Normal(p.Shape.ToArray(), 0, 0.3, new RandomGenerator(4)));
        var (meta, entries) = NetworkFile.Image(net);
        Assert.Contains("\"kind\":\"test-gain\"", meta["architecture"]);
        byte[] bytes = SafeTensorWriter.ToBytes(meta, entries);
        var loaded = NetworkFile.FromFile(SafeTensorFile.Parse(bytes, "gain.flexnet"), "gain.flexnet");
        var xs = Tensor.Normal([2, 3], 0, 1, new RandomGenerator(2));
        AssertBitIdentical(Run(net, [xs]), Run(loaded, [xs]), "registered kind");
        Assert.Equal(bytes, NetworkFileImage(loaded));

        // a file whose options make the registered kind predict other shapes than the stored tensors
        ConnectionKinds.Register<GainConnection>("test-gain",
            describe: c => new Dictionary<string, string> { ["init"] = "0" },
            create: (from, to, delay, name, o) => new GainConnection(from, to, 0, delay, name),
            shapes: (source, target, o) => new ConnectionShapes(source, [("gain", [1_000_000, 1000])]));
        var e = Assert.Throws<ModelFormatException>(() => NetworkFile.FromFile(SafeTensorFile.Parse(bytes, "gain.flexnet"), "gain.flexnet"));
        Assert.Contains("h.x.gain", e.Message);
        Assert.Contains("[1000000, 1000]", e.Message);
    }

    [Fact]
    public void UnregisteredCustomConnection_SaysHowToRegisterIt()
    {
        var net = new Network("custom");
        net.Connect(new Doubling(new InputLayer(3, name: "x"), new Layer(3, name: "h")));
        var e = Assert.Throws<GraphException>(() => NetworkFile.Image(net));
        Assert.Contains("ConnectionKinds.Register<Doubling>", e.Message);
    }

    internal static string ReplaceFirst(string s, string from, string to)
    {
        int i = s.IndexOf(from, StringComparison.Ordinal);
        return s[..i] + to + s[(i + from.Length)..];
    }

    [Fact]
    public void GoldenV1File_StillLoads()
    {
        // written once (Recurrent(seed 3).Save, its initial weights) by the v1 code; never regenerate it
        string path = TestFiles.TestData("model-files", "v1", "recurrent.flexnet");
        var loaded = Network.Load(path);
        var fresh = Recurrent();
        var xs = Tensor.Normal([3, 2, 4], 0, 1, new RandomGenerator(11));
        AssertBitIdentical(Run(fresh, [xs]), Run(loaded, [xs]), "golden v1");
        Assert.Equal(File.ReadAllBytes(path), NetworkFileImage(loaded));
    }

    private static byte[] NetworkFileImage(Network n)
    {
        var (meta, entries) = NetworkFile.Image(n);
        return SafeTensorWriter.ToBytes(meta, entries);
    }
}
