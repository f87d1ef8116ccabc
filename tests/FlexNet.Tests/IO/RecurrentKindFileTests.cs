using FlexNet.Autodiff;
using FlexNet.Connections;
using FlexNet.Graph;
using FlexNet.IO;
using FlexNet.Layers;
using FlexNet.Layers.Recurrent;
using FlexNet.Tensors;

namespace FlexNet.Tests.IO;

/// <summary>Every recurrent cell kind (MRNN, MUT1, SCRN, RRNN, Clockwork) and bidirectional layers in a Connect network
/// save to a <c>.flexnet</c> file and load back computing bit-identical outputs on new data (weights set at random first,
/// fixed update rates changed, so nothing matches by default initialisation); a parameter of the wrong shape in the
/// file is refused naming the tensor, its layer and both shapes.</summary>
public sealed class RecurrentKindFileTests
{
    public static TheoryData<string> Kinds() =>
    [
        "mrnn", "mrnn-stepped", "mut1-feedback", "scrn", "scrn-uniform", "rrnn-backward", "rrnn-vector", "rrnn-log",
        "clockwork", "clockwork-sequence", "bi-gru", "bi-lstm-peepholes", "bi-mrnn", "bi-clockwork",
    ];

    /// <summary>The network of a kind: a recurrent layer "r" (or bidirectional "bi") then a dense head "out". Stepped
    /// kinds read a temporal vector input (4 steps, data [T, N, 3]); the others a whole sequence [5, 3] (data [N, 5, 3]).</summary>
    internal static (Network Net, bool Stepped) Build(string kind)
    {
        var net = new Network(kind, DType.Float64, 13);
        bool stepped = kind is "mrnn-stepped" or "mut1-feedback" or "scrn-uniform" or "rrnn-log" or "clockwork";
        var x = net.Add(stepped ? new InputLayer(3, sequenceLength: 4, name: "x") : new InputLayer([5, 3], name: "x"));
        Layer r;
        if (kind.StartsWith("bi-", StringComparison.Ordinal))
        {
            RecurrentLayer half = kind switch
            {
                "bi-gru" => new GRU(3),
                "bi-lstm-peepholes" => new LSTM(2, peepholes: true),
                "bi-mrnn" => new MRNN(3, factors: 2, activation: "relu", returnSequences: false),
                _ => new Clockwork(4, [2, 1], "sigmoid"),
            };
            r = new BidirectionalLayer(half, name: "bi").Attach(net, x);
        }
        else
        {
            RecurrentLayer cell = kind switch
            {
                "mrnn" => new MRNN(4, factors: 3, activation: "relu"),
                "mrnn-stepped" => new MRNN(5),
                "mut1-feedback" => new MUT1(3, inputWidth: 3 + 2),
                "scrn" => new SCRN(3, "vector", "tanh", returnSequences: false),
                "scrn-uniform" => new SCRN(3, "uniform", "relu"),
                "rrnn-backward" => new RRNN(3, "matrix", goBackwards: true),
                "rrnn-vector" => new RRNN(3, "vector", "linear"),
                "rrnn-log" => new RRNN(3, "log", "sigmoid"),
                "clockwork" => new Clockwork(4, [1, 2]),
                "clockwork-sequence" => new Clockwork(6, [1, 3, 2], "relu"),
                _ => throw new ArgumentException(kind),
            };
            r = net.Add(new RecurrentCellLayer(cell, "r"));
            net.Connect(x, r);
        }
        var o = net.Add(new Layer(2, "tanh", name: "out"));
        net.ConnectDense(r, o, name: "out");
        if (kind == "mut1-feedback") net.Connect(o, r, delay: 1);
        net.AddOutput(o, stepped ? OutputMode.AllSteps : OutputMode.LastStep);
        net.Compile();
        return (net, stepped);
    }

    private static Tensor Data(bool stepped, ulong seed) =>
        Tensor.Normal(stepped ? [4, 3, 3] : [3, 5, 3], 0, 1, new RandomGenerator(seed), DType.Float64);

    /// <summary>Sets every parameter to N(0, 0.6²) values and every fixed update rate to U(0.05, 0.95) values.</summary>
    private static void Randomise(Network net)
    {
        ulong seed = 100;
        using (Autograd.NoGrad())
        {
            foreach (var (_, p) in net.NamedParameters)
                p.CopyFrom(Tensor.Normal(p.ShapeArray, 0, 0.6, new RandomGenerator(seed++), DType.Float64));
            foreach (var l in net.Layers.OfType<RecurrentCellLayer>())
                foreach (var cell in new[] { l.ForwardCell, l.BackwardCell })
                    if (FixedRate(cell) is { } rate)
                        rate.CopyFrom(Tensor.Uniform(rate.ShapeArray, 0.05, 0.95, new RandomGenerator(seed++), DType.Float64));
        }
    }

    private static Tensor? FixedRate(IRecurrentCell? cell) => cell switch { ScrnCell s => s.FixedRate, RrnnCell r => r.FixedRate, _ => null };

    [Theory]
    [MemberData(nameof(Kinds))]
    public void ConnectNetwork_SavesAndLoads_BitIdenticalOnNewData(string kind)
    {
        var (net, stepped) = Build(kind);
        Randomise(net);
        string dir = TestFiles.NewTempDir();
        try
        {
            string path = Path.Combine(dir, "n.flexnet");
            net.Save(path);
            var loaded = Network.Load(path);
            var fresh = Data(stepped, 77);
            var before = NetworkFileTests.Run(net, [fresh]);
            Assert.Contains(before[0].ToDoubleArray(), v => v != 0);
            NetworkFileTests.AssertBitIdentical(before, NetworkFileTests.Run(loaded, [fresh]), kind);

            var a = (RecurrentCellLayer)net.Layers.Single(l => l is RecurrentCellLayer);
            var b = (RecurrentCellLayer)loaded.Layers.Single(l => l is RecurrentCellLayer);
            Assert.Equal(a.Cell.GetType(), b.Cell.GetType());
            Assert.Equal(a.IsBidirectional, b.IsBidirectional);
            Assert.Equal(net.StateDict().Keys, loaded.StateDict().Keys);
            if (a.IsBidirectional) Assert.Contains(loaded.StateDict().Keys, k => k.StartsWith("bi.", StringComparison.Ordinal) && k.EndsWith("_reverse", StringComparison.Ordinal));
            if (kind is "scrn-uniform" or "rrnn-log")
                Assert.Equal(FixedRate(a.ForwardCell)!.ToDoubleArray(), FixedRate(b.ForwardCell)!.ToDoubleArray());

            string again = Path.Combine(dir, "again.flexnet");
            loaded.Save(again);
            Assert.Equal(File.ReadAllBytes(path), File.ReadAllBytes(again));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void ParameterOfTheWrongShape_IsRefusedNamingLayerAndShapes(string kind)
    {
        var (net, _) = Build(kind);
        var (meta, entries) = NetworkFile.Image(net);
        string layer = kind.StartsWith("bi-", StringComparison.Ordinal) ? "bi" : "r";
        // the last tensor of the recurrent layer: a backward cell's, a fixed rate or the cell's last parameter
        int i = entries.FindLastIndex(e => e.Name.StartsWith(layer + ".", StringComparison.Ordinal));
        var old = entries[i];
        int[] shape = old.Shape, wrong = (int[])shape.Clone();
        wrong[0] += 1;
        entries[i] = SafeTensorEntry.FromDoubles(old.Name, wrong, new double[wrong.Aggregate(1, (p, d) => p * d)]);
        string dir = TestFiles.NewTempDir();
        try
        {
            string path = Path.Combine(dir, "bad.flexnet");
            SafeTensorWriter.Write(path, meta, entries);
            var e = Assert.Throws<ModelFormatException>(() => Network.Load(path));
            Assert.Contains($"'{old.Name}'", e.Message);
            Assert.StartsWith(layer + ".", old.Name);
            Assert.Contains(NetworkFilePlanner.Format(wrong), e.Message);
            Assert.Contains(NetworkFilePlanner.Format(shape), e.Message);
            Assert.Contains(path, e.Message);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Theory]
    [InlineData("clockwork-sequence", "\"periods\":\"1,3,2\"", "\"periods\":\"1,0,2\"", "periods")]
    [InlineData("clockwork-sequence", "\"periods\":\"1,3,2\"", "\"periods\":\"1,4,2,5\"", "multiple of the number of periods")]
    [InlineData("scrn", "\"rate\":\"vector\"", "\"rate\":\"matrix\"", "rate")]
    [InlineData("mrnn", "\"cell\":\"mrnn\"", "\"cell\":\"System.IO.File\"", "not rnn, gru")]
    [InlineData("mrnn", "\"factors\":\"3\"", "\"factors\":\"-3\"", "factors")]
    [InlineData("bi-gru", "\"go_backwards\":\"false\"", "\"go_backwards\":\"true\"", "bidirectional")]
    [InlineData("bi-gru", "\"bidirectional\":\"true\"", "\"bidirectional\":\"yes\"", "bidirectional")]
    [InlineData("mut1-feedback", "\"cell\":\"mut1\"", "\"activation\":\"tanh\",\"cell\":\"mut1\"", "unknown option 'activation'")]
    public void BadOptions_AreRefusedNamingTheLayer(string kind, string from, string to, string says)
    {
        var (net, _) = Build(kind);
        var (meta, entries) = NetworkFile.Image(net);
        Assert.Contains(from, meta["architecture"]);
        meta["architecture"] = NetworkFileTests.ReplaceFirst(meta["architecture"], from, to);
        string dir = TestFiles.NewTempDir();
        try
        {
            string path = Path.Combine(dir, "bad.flexnet");
            SafeTensorWriter.Write(path, meta, entries);
            var e = Assert.Throws<ModelFormatException>(() => Network.Load(path));
            Assert.Contains(kind.StartsWith("bi-", StringComparison.Ordinal) ? "'bi'" : "'r'", e.Message);
            Assert.Contains(says, e.Message);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    private sealed class OwnGru(int units) : RecurrentLayer(units, true, false, null, null, null)
    {
        public override string Form => "own_gru";

        protected override IRecurrentCell CreateCell(int inputSize, DType dtype, RandomGenerator rng) => new GruCell(inputSize, Units, dtype, rng);

        public override RecurrentLayer CloneConfiguration(string? name, bool goBackwards) => new OwnGru(Units);
    }

    [Fact]
    public void CellsTheFileCannotDescribe_AreRefusedNamingTheLayer()
    {
        var net = new Network("bi", DType.Float64, 1);
        var x = net.Add(new InputLayer([4, 2], name: "x"));
        var bi = new BidirectionalLayer(new GRU(2), new GRU(3), name: "bi").Attach(net, x);
        net.AddOutput(bi, OutputMode.LastStep);
        net.Compile();
        var e = Assert.Throws<GraphException>(() => NetworkFile.Image(net));
        Assert.Contains("'bi'", e.Message);
        Assert.Contains("'units'", e.Message);

        var other = new Network("own", DType.Float64, 1);
        var r = other.Add(new RecurrentCellLayer(new OwnGru(3), "own"));
        other.Connect(other.Add(new InputLayer([4, 2], name: "x")), r);
        other.AddOutput(r);
        other.Compile();
        e = Assert.Throws<GraphException>(() => NetworkFile.Image(other));
        Assert.Contains("'own'", e.Message);
        Assert.Contains("OwnGru", e.Message);
    }
}
