using FlexNet.Layers;
using FlexNet.Models;
using FlexNet.Tests.Testing;
using FlexNet.Tensors;
using FlexNet.Autodiff;

namespace FlexNet.Tests.Models;

/// <summary>theanets-style specs: grammar, names, tied autoencoders, custom layers, model kinds, bad specs.</summary>
public class SpecModelTests
{
    /// <summary>The theanets docs' NoBias example: y = act(x·W), W [in, out], no bias.</summary>
    public sealed class NoBias(int size, string activation = "linear", string? name = null, LayerInit? init = null)
        : CustomLayer(size, activation, name, init)
    {
        public override string Form => "mynobias";

        protected override void Setup() => AddWeights("w", InputSize, Size);

        protected override Tensor Transform(Tensor input) => Activate(NN.MatMul(input, Find("w")));
    }

    static SpecModelTests() =>
        LayerRegistry.Register("mynobias", "Feedforward without bias (theanets docs example)", ["size (int, required)", "activation"],
                               a => new NoBias(a.Int("size"), a.Activation("linear"), a.Name, a.Init()));

    private static Dictionary<string, object> D(params (string, object)[] kv) => kv.ToDictionary(p => p.Item1, p => p.Item2);

    [Fact]
    public void BuildsARegisteredFormByName()
    {
        var layer = CatalogLayer.Build("mynobias", size: 4);
        Assert.IsType<NoBias>(layer);
        Assert.Equal(4, ((NoBias)layer).Size);
    }

    [Fact]
    public void TiedAutoencoderWithNoBiasMatchesHandComputation()
    {
        var ae = new Autoencoder(DataKind.Feedforward, DType.Float64, 4, (3, "mynobias", "linear"), (4, "tied", "linear"));
        Assert.Equal(["in", "hid1", "out"], ae.LayerNames);
        var ps = ae.NamedParameters;
        Assert.Equal(2, ps.Count); // the shared W [4, 3] and the tied layer's bias [4]
        var w = ((NoBias)ae.Layer("hid1")).Parameters[0];
        Assert.Equal([4, 3], w.ShapeArray);
        var x = T.Rand(3, 5, 4).Detach();
        var y = ae.Forward(x, true);
        var b = ps.Single(p => p.Name.StartsWith("out", StringComparison.Ordinal)).Value;
        var expected = NN.MatMul(NN.MatMul(x, w), w.T) + b;
        T.Close(expected.ToDoubleArray(), y.ToDoubleArray(), 1e-12, 1e-12, "tied AE");
        // encode/decode go through the same weights
        var code = ae.Encode(x);
        T.Close(NN.MatMul(x, w).ToDoubleArray(), code.ToDoubleArray(), 1e-12, 1e-12, "encode");
        T.Close(y.ToDoubleArray(), ae.Decode(code).ToDoubleArray(), 1e-12, 1e-12, "decode");
        // gradients reach the shared weight from both uses
        (y * y).Sum().Backward();
        var inputs = new[] { w, b };
        T.GradOk("tied autoencoder", p => ae.Forward(x, true), inputs);
    }

    [Fact]
    public void MirroredTiedStackPairsPartners()
    {
        var ae = new Autoencoder(DataKind.Feedforward, DType.Float64, 6, 4, 2, "tied", "tied");
        Assert.Equal(["in", "hid1", "hid2", "hid3", "out"], ae.LayerNames);
        var x = T.Rand(1, 3, 6).Detach();
        Assert.Equal([3, 6], ae.Forward(x).ShapeArray);
        Assert.Equal([3, 2], ae.Encode(x).ShapeArray);
        Assert.Equal(4 * 6 + 4 + 2 * 4 + 2 + 4 + 6, ae.Parameters.Sum(p => p.Length));
    }

    [Fact]
    public void DictionarySpecsWithInputsAndInitAttributes()
    {
        var m = new Classifier(DataKind.Feedforward, DType.Float64,
            D(("size", 6), ("name", "x")),
            D(("size", 5), ("name", "a"), ("std", 0.5), ("rng", 3)),
            D(("size", 5), ("name", "b"), ("inputs", "x"), ("std_weight", 0.0), ("mean_weight", 0.25)),
            D(("size", 3), ("inputs", new[] { "a", "b" })));
        var net = m.Network;
        Assert.Equal(["x", "a", "b", "out"], m.LayerNames);
        var wb = m.Layer("b").Parameters[0];
        Assert.All(wb.ToDoubleArray(), v => Assert.Equal(0.25, v));
        var wa = m.Layer("a").Parameters[0].ToDoubleArray();
        double sd = Math.Sqrt(wa.Select(v => v * v).Average());
        Assert.InRange(sd, 0.3, 0.7);
        Assert.Equal(0.0, m.Layer("a").Parameters[1].ToDoubleArray().Sum(Math.Abs)); // theanets attributes: biases start at zero
        Assert.Equal(2, net.Connections.Count(c => c.To.Name == "out"));
        var x = T.Rand(2, 7, 6).Detach();
        var p = m.PredictProba(x);
        Assert.Equal([7, 3], p.ShapeArray);
        Assert.Equal([7], m.Predict(x).ShapeArray);
        double acc = m.Score(x, m.Predict(x));
        Assert.Equal(1.0, acc);
    }

    [Fact]
    public void TwoLayersNeverShareInitialWeightsByAccident()
    {
        var m = new Regressor(DataKind.Feedforward, DType.Float64, 5, D(("size", 5), ("rng", 1)), D(("size", 5), ("rng", 1)), 5);
        var w1 = m.Layer("hid1").Parameters[0].ToDoubleArray();
        var w2 = m.Layer("hid2").Parameters[0].ToDoubleArray();
        Assert.NotEqual(w1, w2);
        var again = new Regressor(DataKind.Feedforward, DType.Float64, 5, D(("size", 5), ("rng", 1)), D(("size", 5), ("rng", 1)), 5);
        Assert.Equal(w1, again.Layer("hid1").Parameters[0].ToDoubleArray()); // repeatable
        Assert.All(m.Layer("hid1").Parameters[1].ToDoubleArray(), b => Assert.Equal(0.0, b)); // rng selects the theanets rules: zero biases
    }

    [Fact]
    public void RecurrentAndConvolutionalKinds()
    {
        var r = new Regressor(DataKind.Recurrent, DType.Float64, 3, D(("form", "lstm"), ("size", 4)), 2);
        var xs = T.Rand(1, 5, 2, 3).Detach();
        var y = r.Predict(xs);
        Assert.Equal([5, 2, 2], y.ShapeArray);
        Assert.True(double.IsFinite(r.Score(xs, y)));
        var c = new Classifier(DataKind.Convolutional, DType.Float64, (1, 6, 6),
            D(("form", "conv2"), ("size", 2), ("filter_size", 3)), D(("form", "pool2"), ("size", 2)), "flatten", 3);
        var img = T.Rand(2, 4, 1, 6, 6).Detach();
        Assert.Equal([4, 3], c.PredictProba(img).ShapeArray);
        var ae = new Autoencoder(DataKind.Recurrent, DType.Float64, 3, D(("form", "gru"), ("size", 2)), 3);
        Assert.Equal([5, 2, 3], ae.Predict(xs).ShapeArray);
    }

    [Fact]
    public void RegressorScoreIsRSquared()
    {
        var m = new Regressor(DataKind.Feedforward, DType.Float64, 2, 1);
        var x = T.Rand(5, 10, 2).Detach();
        var p = m.Predict(x);
        Assert.Equal(1.0, m.Score(x, p), 12);
        var y = p + 1.0;
        double sst = (y - y.Mean()).Square().Sum().Item();
        Assert.Equal(1 - 10 / sst, m.Score(x, y), 12);
    }

    public static TheoryData<object[], string[]> BadSpecs => new()
    {
        { [4, (3, "nosuchform")], ["layers[1] 'out'", "nosuchform", "dense", "lstm", "mynobias"] },
        { [4, D(("form", "nosuch"), ("size", 2))], ["layers[1] 'out'", "unknown form 'nosuch'", "Registered forms"] },
        { [4, D(("form", "dense"))], ["layers[1] 'out'", "missing 'size'"] },
        { [4, 3, D(("size", 2), ("inputs", "ghost"))], ["layers[2] 'out'", "'ghost'", "not an earlier layer", "in, hid1"] },
        { [4, (3, "linear"), D(("form", "tied"), ("size", 5))], ["layers[2] 'out'", "size 5 does not fit", "[4]"] },
        { [4, D(("size", 3), ("colour", "red"))], ["layers[1] 'out'", "no argument 'colour'"] },
        { [4, D(("size", 3), ("std", -1.0))], ["layers[1] 'out'", "'std'", "out of range"] },
        { [4, (3, 5)], ["layers[1] 'out'", "second int"] },
        { [4, D(("form", "concat"), ("inputs", new[] { "in" })), D(("size", 2), ("inputs", "nothere"))], ["layers[2] 'out'", "'nothere'"] },
        { [4, 3, "tied", "tied"], ["layers[3] 'out'", "partner"] },
    };

    [Theory]
    [MemberData(nameof(BadSpecs))]
    public void BadSpecsNameTheLayerAndTheProblem(object[] spec, string[] fragments)
    {
        var e = Assert.Throws<SpecValidationException>(() => new Regressor(DataKind.Feedforward, DType.Float64, spec));
        foreach (var f in fragments) Assert.Contains(f, e.Message);
    }

    [Fact]
    public void AutoencoderOutputMustMatchInput()
    {
        var e = Assert.Throws<SpecValidationException>(() => new Autoencoder(4, 3, 5));
        Assert.Contains("'out'", e.Message);
        Assert.Contains("[4]", e.Message);
    }

    [Fact]
    public void SpecsNeverNameDotNetTypes()
    {
        var e = Assert.Throws<SpecValidationException>(() => new Regressor(4, D(("form", "FlexNet.Layers.Dense"), ("size", 2))));
        Assert.Contains("unknown form", e.Message);
        Assert.DoesNotContain(LayerRegistry.Names, n => n.Contains('.'));
    }

    [Fact]
    public void RecurrentSpecWithInitialStateFromAnotherLayer()
    {
        var m = new Regressor(DataKind.Recurrent, DType.Float64, 3,
            D(("size", 4), ("activation", "tanh"), ("name", "init")),
            D(("form", "rnn"), ("size", 4), ("h_0", "init"), ("inputs", "in"), ("name", "rnn")),
            D(("size", 2), ("activation", "linear")));
        var xs = T.Rand(3, 5, 2, 3).Detach();
        var y = m.Predict(xs);
        var init = (Dense)m.Layer("init");
        var rnn = (RNN)m.Layer("rnn");
        var h0 = (NN.MatMul(xs.Slice(0, 0, 1).Squeeze(0), init.Weight.T) + init.Bias!).Tanh();
        var (hs, _) = rnn.Run(xs, new FlexNet.Layers.Recurrent.CellState(("h", h0)));
        var o = (Dense)m.Layer("out");
        T.Close((NN.MatMul(hs, o.Weight.T) + o.Bias!).ToDoubleArray(), y.ToDoubleArray(), 1e-12, 1e-12, "h_0");
        var e = Assert.Throws<SpecValidationException>(() => new Regressor(DataKind.Recurrent, DType.Float64, 3, D(("size", 4), ("h_0", "in"))));
        Assert.Contains("recurrent forms only", e.Message);
    }

    [Fact]
    public void BidirectionalSpecSizeIsTheTotalOfBothHalves()
    {
        var m = new Regressor(DataKind.Feedforward, DType.Float64, D(("shape", new[] { 5, 3 })), D(("form", "bidirectional"), ("worker", "gru"), ("size", 6)), 2);
        var x = T.Rand(1, 4, 5, 3).Detach();
        Assert.Equal([4, 2], m.Predict(x).ShapeArray); // a dense layer after a whole-sequence [T, 6] output flattens it (graph dense semantics)
        Assert.Equal(3, ((BidirectionalLayer)m.Layer("hid1")).Forward.Units);
        var e = Assert.Throws<SpecValidationException>(() => new Regressor(DataKind.Feedforward, DType.Float64, D(("shape", new[] { 5, 3 })), D(("form", "bidirectional"), ("size", 5)), 2));
        Assert.Contains("even", e.Message);
    }
}
