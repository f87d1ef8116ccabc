using System.Globalization;
using FlexNet.Autodiff;
using FlexNet.Connections;
using FlexNet.Graph;
using FlexNet.IO;
using FlexNet.Tensors;

namespace FlexNet.Tests.IO;

/// <summary>User-defined layer kinds in Connect networks (<see cref="LayerKinds"/>, the twin of ConnectionKinds): a
/// registered kind with an option and its own parameter saves and loads with bit-identical outputs and identical
/// bytes; an unregistered one says how to register; an unknown kind in a file is a typed error listing the registered
/// kinds; a factory that builds something else is refused.</summary>
public sealed class LayerKindsTests
{
    /// <summary>y = scale ⊙ tanh(alpha · x), scale [F] learned.</summary>
    public sealed class ScaledTanh(double alpha, string? name = null) : Layer((int[]?)null, "linear", CombineRule.Sum, false, name)
    {
        private Tensor? _scale;

        public double Alpha { get; } = alpha;

        public override string Kind => "ScaledTanh";

        public override IEnumerable<Tensor> Parameters => _scale is null ? base.Parameters : base.Parameters.Append(_scale);

        protected internal override void BuildParameters(DType dtype, RandomGenerator rng)
        {
            base.BuildParameters(dtype, rng);
            if (_scale is not null && _scale.DType == dtype) return;
            using (TensorScope.Suspend())
            {
                _scale = Tensor.Normal([InputShape![0]], 1, 0.1, rng, dtype).RequireGrad();
                _scale.Name = $"{Name}.scale";
            }
        }

        protected internal override Tensor Transform(Tensor combined, bool training) => (combined * Alpha).Tanh() * _scale!;
    }

    public sealed class NeverRegistered(string? name = null) : Layer([2], name: name);

    internal static void Register() =>
        LayerKinds.Register<ScaledTanh>("scaled_tanh",
            describe: l => new Dictionary<string, string> { ["alpha"] = l.Alpha.ToString("R", CultureInfo.InvariantCulture) },
            create: (name, o) => new ScaledTanh(double.Parse(o["alpha"], CultureInfo.InvariantCulture), name),
            shapes: (input, o) => new LayerShapes(input, [("scale", [input[0]])]));

    internal static Network Net()
    {
        var net = new Network("custom-layer", DType.Float64, 4);
        var x = new InputLayer(3, sequenceLength: 2, name: "x");
        var h = new ScaledTanh(0.75, "st");
        var y = new Layer(2, name: "y");
        net.ConnectDense(x, h, units: 5);
        net.ConnectDense(h, h, delay: 1);
        net.Connect(h, y);
        net.AddOutput(y);
        net.Compile();
        using (Autograd.NoGrad())
            foreach (var p in net.Parameters) p.CopyFrom(p + 0.05);
        return net;
    }

    [Fact]
    public void RegisteredLayerKind_RoundTripsBitIdentical()
    {
        Register();
        var net = Net();
        var (meta, entries) = NetworkFile.Image(net);
        Assert.Contains("st.scale", entries.Select(e => e.Name));
        Assert.Contains("\"kind\":\"scaled_tanh\"", meta["architecture"]);
        byte[] bytes = SafeTensorWriter.ToBytes(meta, entries);
        var back = NetworkFile.FromFile(SafeTensorFile.Parse(bytes, "c.flexnet"), "c.flexnet");
        var st = Assert.IsType<ScaledTanh>(back.Layers.Single(l => l.Name == "st"));
        Assert.Equal(0.75, st.Alpha);
        var xs = Tensor.Normal([2, 4, 3], 0, 1, new RandomGenerator(9), DType.Float64);
        NetworkFileTests.AssertBitIdentical(NetworkFileTests.Run(net, [xs]), NetworkFileTests.Run(back, [xs]), "custom layer");
        var (m2, e2) = NetworkFile.Image(back);
        Assert.Equal(bytes, SafeTensorWriter.ToBytes(m2, e2));

        // a stored scale of the wrong shape, an unknown kind, options the factory cannot read: typed errors
        var wrong = entries.Select(e => e.Name == "st.scale" ? SafeTensorEntry.FromDoubles("st.scale", [4], new double[4]) : e).ToList();
        Assert.Contains("st.scale", Assert.Throws<ModelFormatException>(() => NetworkFile.FromFile(SafeTensorFile.Parse(SafeTensorWriter.ToBytes(meta, wrong), "w.flexnet"), "w.flexnet")).Message);
        var unknown = new Dictionary<string, string>(meta) { ["architecture"] = meta["architecture"].Replace("\"scaled_tanh\"", "\"gone_kind\"", StringComparison.Ordinal) };
        var u = Assert.Throws<ModelFormatException>(() => NetworkFile.FromFile(SafeTensorFile.Parse(SafeTensorWriter.ToBytes(unknown, entries), "u.flexnet"), "u.flexnet"));
        Assert.Contains("'gone_kind'", u.Message);
        Assert.Contains("scaled_tanh", u.Message);
        var badOption = new Dictionary<string, string>(meta) { ["architecture"] = meta["architecture"].Replace("\"alpha\":\"0.75\"", "\"alpha\":\"x\"", StringComparison.Ordinal) };
        Assert.Throws<ModelFormatException>(() => NetworkFile.FromFile(SafeTensorFile.Parse(SafeTensorWriter.ToBytes(badOption, entries), "o.flexnet"), "o.flexnet"));
    }

    [Fact]
    public void UnregisteredLayerKind_SaysHowToRegisterIt()
    {
        var net = new Network("n");
        net.Connect(new InputLayer(2, name: "x"), new NeverRegistered("odd"));
        var e = Assert.Throws<GraphException>(() => NetworkFile.Image(net));
        Assert.Contains("LayerKinds.Register<NeverRegistered>", e.Message);
        Assert.Throws<ArgumentException>(() => LayerKinds.Register<NeverRegistered>("pool", _ => new Dictionary<string, string>(), (n, _) => new NeverRegistered(n), (i, _) => new LayerShapes(i, [])));
    }
}
