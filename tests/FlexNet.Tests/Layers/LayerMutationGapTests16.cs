using FlexNet.Connections;
using FlexNet.Graph;
using FlexNet.Layers;
using FlexNet.Layers.Recurrent;
using FlexNet.Models;
using FlexNet.Tensors;
using FlexNet.Tests.Testing;
using static FlexNet.Models.Functional;

namespace FlexNet.Tests.Layers;

/// <summary>Gaps of the session-16 Layers mutation run (lay16: LocalResponseNorm to Tied): the configurations of
/// LocalResponseNorm, Pooling, Product, Reshape and Tied (no init keys), the Kind strings of Dropout, GaussianNoise,
/// Flatten, Reshape, PoolLayer and RecurrentCellLayer, every argument check of Dropout/GaussianNoise layers, Pooling,
/// PoolLayer, ReshapeLayer, RecurrentLayer, the recurrent activations and rates (RNN, MRNN, RRNN, SCRN) and
/// SymbolicTensor with its whole message at the limit and one past, PoolLayer's shape rules, the noise layers'
/// generators (replayed from a twin of the same seed), own parameters (kept, replaced, trainable), the recurrent
/// cell cache and the radius hint, and RecurrentCellLayer: the initial-state input (h, or h and c, against a
/// hand-written LSTM), its refusals, feedback inputs, the learned initial state and a stepped Transform.</summary>
public sealed class LayerMutationGapTests16
{
    // ---------------------------------------------------------------- helpers

    private static readonly LayerInit Seeded = new("zeros", [new("std", 0.1)], seed: 3);

    private static Dictionary<string, object> D(params (string Key, object Value)[] kv) => kv.ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal);

    private static void AssertConfig(IReadOnlyDictionary<string, object> expected, IReadOnlyDictionary<string, object>? actual)
    {
        Assert.NotNull(actual);
        Assert.Equal(expected.Keys.Order(StringComparer.Ordinal), actual.Keys.Order(StringComparer.Ordinal));
        foreach (var (k, v) in expected)
        {
            if (v is int[] a) Assert.Equal(a, Assert.IsType<int[]>(actual[k]));
            else Assert.True(Equals(v, actual[k]), $"config '{k}': expected {v} ({v.GetType().Name}), got {actual[k]} ({actual[k].GetType().Name})");
        }
    }

    private static T1 Refused<T1>(Action a, string message) where T1 : Exception
    {
        var e = Assert.Throws<T1>(a);
        Assert.Equal(message, e.Message);
        return e;
    }

    // ---------------------------------------------------------------- configurations carry no init keys

    [Fact]
    public void ConfigurationsOfInitFreeLayersIgnoreAnInitSetting()
    {
        AssertConfig(D(("form", "lrn"), ("name", "n"), ("size", 3), ("alpha", 0.5), ("beta", 0.25), ("k", 2.0)),
            new LocalResponseNorm(3, 0.5, 0.25, 2.0, "n") { Init = Seeded }.GetConfig());
        AssertConfig(D(("form", "pool2"), ("name", "p"), ("mode", "max"), ("size", 3), ("stride", 1), ("padding", 1)),
            new Pooling(PoolKind.Max, 2, 3, 1, 1, name: "p") { Init = Seeded }.GetConfig());
        AssertConfig(D(("form", "globalpool"), ("name", "g"), ("mode", "avg")),
            new Pooling(PoolKind.Average, 2, global: true, name: "g") { Init = Seeded }.GetConfig());
        AssertConfig(D(("form", "product"), ("name", "x")), new Product("x") { Init = Seeded }.GetConfig());
        AssertConfig(D(("form", "reshape"), ("name", "r"), ("shape", new[] { 2, 3 })), new Reshape([2, 3], "r") { Init = Seeded }.GetConfig());
        AssertConfig(D(("form", "tied"), ("name", "t"), ("partner", "d"), ("activation", "relu")),
            new Tied(new Dense(3, name: "d"), "relu", "t") { Init = Seeded }.GetConfig());
    }

    [Fact]
    public void FormsOfProductAndPooling()
    {
        Assert.Equal("prod", new Product().Form);
        Assert.Equal("reshape", new Reshape([2]).Form);
        Assert.Equal("globalmaxpool", new Pooling(PoolKind.Max, 2, global: true).Form);
        Assert.Equal("globalavgpool", new Pooling(PoolKind.Average, 1, global: true).Form);
        Assert.Equal("pool1", new Pooling(PoolKind.Max, 1).Form);
        Assert.Equal("pool2", new Pooling(PoolKind.Average, 2).Form);
    }

    [Fact]
    public void ReshapeRefusesANullShapeByName()
    {
        Assert.Equal("shape", Assert.Throws<ArgumentNullException>(() => new Reshape(null!)).ParamName);
        Assert.Equal("shape", Assert.Throws<ArgumentNullException>(() => new ReshapeLayer(null!)).ParamName);
    }

    // ---------------------------------------------------------------- Tied

    [Fact]
    public void TiedNeedsANamedAndAttachedPartner()
    {
        Refused<GraphException>(() => new Tied(new Dense(3), name: "t").GetConfig(),
            "Tied layer 't': its partner has no name yet; attach the partner first.");
        var net = new Network("n", DType.Float64, 1);
        var x = net.Add(new InputLayer(3, name: "x"));
        Refused<GraphException>(() => new Tied(new Dense(3, name: "d")).Attach(net, x),
            "Tied layer 'tied': its partner 'd' must be attached to the network first.");
        Refused<GraphException>(() => new Tied(new Dense(3, name: "d"), name: "t2").Attach(net, x),
            "Tied layer 't2': its partner 'd' must be attached to the network first.");
    }

    // ---------------------------------------------------------------- LRN, Dropout, GaussianNoise layers

    [Fact]
    public void NormAndNoiseNodesOwnNoBias()
    {
        Assert.False(new LocalResponseNormLayer(3).UseBias);
        Assert.False(new GaussianNoiseLayer(0.5).UseBias);
        Assert.False(new DropoutLayer(0.5).UseBias);
    }

    [Fact]
    public void DropoutLayerRateIsInZeroToOneExcludingOne()
    {
        Assert.Equal(0, new DropoutLayer(0).Rate);
        Assert.Equal(0.999, new DropoutLayer(0.999).Rate);
        Refused<ArgumentOutOfRangeException>(() => new DropoutLayer(1), "Dropout: rate must be in [0, 1). Received: 1 (Parameter 'rate')");
        Refused<ArgumentOutOfRangeException>(() => new DropoutLayer(-0.5), "Dropout: rate must be in [0, 1). Received: -0.5 (Parameter 'rate')");
        Assert.Equal("Dropout(0.25)", new DropoutLayer(0.25).Kind);
    }

    [Theory]
    [InlineData(-1.0)]
    [InlineData(-1e-300)]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    public void GaussianNoiseLayerStdMustBeFiniteAndNotNegative(double std)
    {
        Refused<ArgumentOutOfRangeException>(() => new GaussianNoiseLayer(std), $"GaussianNoise: std must be >= 0. Received: {std} (Parameter 'std')");
    }

    [Fact]
    public void GaussianNoiseLayerAcceptsZeroAndNamesItsStd()
    {
        Assert.Equal(0, new GaussianNoiseLayer(0).Std);
        Assert.Equal("GaussianNoise(0.5)", new GaussianNoiseLayer(0.5).Kind);
    }

    [Fact]
    public void NoiseGeneratorsAreKeptAndDependOnTheSeed()
    {
        var d = new DropoutLayer(0.5, 1, "d");
        Assert.Same(d.Generator, d.Generator);
        var g = new GaussianNoiseLayer(0.5, 1, "g");
        Assert.Same(g.Generator, g.Generator);
        static double[] Draws(RandomGenerator r) => Tensor.Normal([8], 0, 1, r, DType.Float64).ToDoubleArray();
        Assert.NotEqual(Draws(new DropoutLayer(0.5, 1, "d").Generator), Draws(new DropoutLayer(0.5, 2, "d").Generator));
        Assert.NotEqual(Draws(new GaussianNoiseLayer(0.5, 1, "g").Generator), Draws(new GaussianNoiseLayer(0.5, 2, "g").Generator));
        Assert.Equal(Draws(new GaussianNoiseLayer(0.5, 7, "g").Generator), Draws(new GaussianNoiseLayer(0.5, 7, "g").Generator));
    }

    [Fact]
    public void GaussianNoiseLayerAddsTheNoiseOfItsGenerator()
    {
        var layer = new GaussianNoiseLayer(0.5, 9, "gn");
        var twin = new GaussianNoiseLayer(0.5, 9, "gn");
        var x = T.Rand(161, 3, 4).Detach();
        var y = layer.Transform(x, training: true).ToDoubleArray();
        var noise = Tensor.Normal([3, 4], 0, 0.5, twin.Generator, DType.Float64).ToDoubleArray();
        var xs = x.ToDoubleArray();
        var expected = new double[12];
        for (int i = 0; i < 12; i++) expected[i] = xs[i] + noise[i];
        T.Close(expected, y, 1e-15, 1e-15, "x + noise");
    }

    // ---------------------------------------------------------------- own parameters

    [Fact]
    public void OwnParametersAreKeptWhileTheDTypeFitsAndOnlyTrainableOnesTakeGradients()
    {
        var ln = new LayerNormLayer(name: "ln") { InputShape = [4] };
        ln.BuildParameters(DType.Float64, new RandomGenerator(1));
        var gamma = ln.Gamma!;
        Assert.Equal("ln.gamma", gamma.Name);
        Assert.True(gamma.RequiresGrad);
        ln.BuildParameters(DType.Float64, new RandomGenerator(1));
        Assert.Same(gamma, ln.Gamma);
        ln.BuildParameters(DType.Float32, new RandomGenerator(1));
        Assert.NotSame(gamma, ln.Gamma);
        Assert.Equal(DType.Float32, ln.Gamma!.DType);

        var bn = new BatchNormLayer(name: "bn") { InputShape = [3] };
        bn.BuildParameters(DType.Float64, new RandomGenerator(1));
        Assert.True(bn.Gamma!.RequiresGrad);
        Assert.False(bn.RunningMean!.RequiresGrad);
        Assert.Equal("bn.running_mean", bn.RunningMean.Name);
    }

    // ---------------------------------------------------------------- Pooling (catalog)

    [Fact]
    public void PoolingChecksItsArgumentsAtTheLimitAndOnePast()
    {
        Refused<ArgumentOutOfRangeException>(() => new Pooling(PoolKind.Max, 3), "Pooling: dimensions must be 1 or 2. Received: 3 (Parameter 'dimensions')");
        Refused<ArgumentOutOfRangeException>(() => new Pooling(PoolKind.Max, 0), "Pooling: dimensions must be 1 or 2. Received: 0 (Parameter 'dimensions')");
        Refused<ArgumentOutOfRangeException>(() => new Pooling(PoolKind.Max, 1, 0), "Pooling: size must be positive. Received: 0 (Parameter 'size')");
        Assert.Equal(1, new Pooling(PoolKind.Max, 1, 1).Size);
        Refused<ArgumentOutOfRangeException>(() => new Pooling(PoolKind.Max, 1, 2, 0), "Pooling: stride must be positive. Received: 0 (Parameter 'stride')");
        Assert.Equal(1, new Pooling(PoolKind.Max, 1, 2, 1).Stride);
        Refused<ArgumentOutOfRangeException>(() => new Pooling(PoolKind.Max, 2, 4, padding: -1), "Pooling: padding must be in [0, size/2]. Received: -1 (Parameter 'padding')");
        Assert.Equal(0, new Pooling(PoolKind.Max, 2, 4, padding: 0).Padding);
        Assert.Equal(2, new Pooling(PoolKind.Max, 2, 4, padding: 2).Padding);
        Refused<ArgumentOutOfRangeException>(() => new Pooling(PoolKind.Max, 2, 4, padding: 3), "Pooling: padding must be in [0, size/2]. Received: 3 (Parameter 'padding')");
        Refused<ArgumentOutOfRangeException>(() => new Pooling(PoolKind.Max, 1, 3, padding: 2), "Pooling: padding must be in [0, size/2]. Received: 2 (Parameter 'padding')");
    }

    [Fact]
    public void GlobalPoolingIgnoresTheWindowArgumentsAndStrideDefaultsToTheSize()
    {
        var g = new Pooling(PoolKind.Max, 0, 0, 0, -1, global: true);
        Assert.True(g.Global);
        Assert.Equal(3, new Pooling(PoolKind.Max, 1, 3).Stride);
        Assert.Equal(2, new Pooling(PoolKind.Max, 1, 3, 2).Stride);
    }

    // ---------------------------------------------------------------- PoolLayer, Flatten, ReshapeLayer

    [Fact]
    public void PoolLayerChecksItsArgumentsAtTheLimitAndOnePast()
    {
        Refused<ArgumentException>(() => new PoolLayer(PoolKind.Max, 3, name: "p"), "Pool layer 'p': dimensions must be 1 or 2. Received: 3 (Parameter 'dimensions')");
        Refused<ArgumentException>(() => new PoolLayer(PoolKind.Max, 0, name: "p"), "Pool layer 'p': dimensions must be 1 or 2. Received: 0 (Parameter 'dimensions')");
        Assert.Equal(1, new PoolLayer(PoolKind.Max, 1).Dimensions);
        Refused<ArgumentException>(() => new PoolLayer(PoolKind.Max, 2, 0, name: "p"), "Pool layer 'p': size must be positive. Received: 0 (Parameter 'size')");
        Assert.Equal(1, new PoolLayer(PoolKind.Max, 2, 1).Size);
        Refused<ArgumentException>(() => new PoolLayer(PoolKind.Max, 2, 2, 0, name: "p"), "Pool layer 'p': stride must be positive. Received: 0 (Parameter 'stride')");
        Assert.Equal(1, new PoolLayer(PoolKind.Max, 2, 2, 1).Stride);
        Refused<ArgumentException>(() => new PoolLayer(PoolKind.Max, 2, 4, padding: -1, name: "p"), "Pool layer 'p': padding must be in [0, size/2]. Received: -1 for size 4 (Parameter 'padding')");
        Assert.Equal(0, new PoolLayer(PoolKind.Max, 2, 4, padding: 0).Padding);
        Assert.Equal(2, new PoolLayer(PoolKind.Max, 2, 4, padding: 2).Padding);
        Refused<ArgumentException>(() => new PoolLayer(PoolKind.Max, 2, 4, padding: 3, name: "p"), "Pool layer 'p': padding must be in [0, size/2]. Received: 3 for size 4 (Parameter 'padding')");
        Refused<ArgumentException>(() => new PoolLayer(PoolKind.Average, 1, 3, padding: 2, name: "q"), "Pool layer 'q': padding must be in [0, size/2]. Received: 2 for size 3 (Parameter 'padding')");
    }

    [Fact]
    public void KindsOfShapeLayers()
    {
        Assert.Equal("Flatten", new FlattenLayer().Kind);
        Assert.Equal("Reshape", new ReshapeLayer([2, 3]).Kind);
        Assert.Equal("GlobalMaxPool", PoolLayer.Global(PoolKind.Max).Kind);
        Assert.Equal("GlobalAvgPool", PoolLayer.Global(PoolKind.Average).Kind);
        Assert.Equal("MaxPool2d(2/2)", new PoolLayer(PoolKind.Max).Kind);
        Assert.Equal("AvgPool2d(3/2)", new PoolLayer(PoolKind.Average, 2, 3, 2).Kind);
        Assert.Equal("MaxPool1d(3/1, pad 1)", new PoolLayer(PoolKind.Max, 1, 3, 1, 1).Kind);
        Assert.Equal("AvgPool1d(4/4, pad 2)", new PoolLayer(PoolKind.Average, 1, 4, padding: 2).Kind);
    }

    [Fact]
    public void GlobalPoolLayerNeedsAChannelAndASpatialAxis()
    {
        var g = PoolLayer.Global(PoolKind.Max, "g");
        Assert.Equal([3], g.InferOutputShape([3, 4]));
        Assert.Equal([3], g.InferOutputShape([3, 4, 5]));
        Refused<ShapeMismatchException>(() => g.InferOutputShape([3]), "Pool layer 'g' (GlobalMaxPool): needs [C, ...spatial]; got [3].");
    }

    [Fact]
    public void PoolLayerNeedsItsRankAndAWindowThatFits()
    {
        var p = new PoolLayer(PoolKind.Max, 1, 3, name: "p");
        Refused<ShapeMismatchException>(() => p.InferOutputShape([3, 4, 5]), "Pool layer 'p' (MaxPool1d(3/3)): needs a [C, L] input; got [3, 4, 5].");
        Refused<ShapeMismatchException>(() => new PoolLayer(PoolKind.Average, 2, name: "q").InferOutputShape([3, 4]),
            "Pool layer 'q' (AvgPool2d(2/2)): needs a [C, H, W] input; got [3, 4].");
        Assert.Equal([2, 1], p.InferOutputShape([2, 3])); // the window exactly fits
        Refused<ShapeMismatchException>(() => p.InferOutputShape([2, 2]), "Pool layer 'p' (MaxPool1d(3/3)): window 3 does not fit [2, 2] with padding 0.");
        var padded = new PoolLayer(PoolKind.Max, 1, 3, 1, 1, "pp");
        Assert.Equal([2, 1], padded.InferOutputShape([2, 1])); // 1 + 2·1 = 3 fits
        Assert.Equal([2, 5], padded.InferOutputShape([2, 5]));
        Assert.Equal([2, 3], new PoolLayer(PoolKind.Max, 1, 3, 2, 1).InferOutputShape([2, 5])); // (5 + 2 − 3)/2 + 1
        Assert.Equal([1, 2, 3], new PoolLayer(PoolKind.Max, 2, 2).InferOutputShape([1, 4, 6]));
    }

    [Fact]
    public void ReshapeLayerDimensionsArePositiveAndTheCountMustMatch()
    {
        Refused<ArgumentException>(() => new ReshapeLayer([2, 0]), "Reshape dimensions must be positive. Received: [2, 0] (Parameter 'shape')");
        Refused<ArgumentException>(() => new ReshapeLayer([-1]), "Reshape dimensions must be positive. Received: [-1] (Parameter 'shape')");
        var r = new ReshapeLayer([2, 3], "r");
        Assert.Equal([2, 3], r.InferOutputShape([3, 2]));
        Assert.Equal([1], new ReshapeLayer([1]).InferOutputShape([1, 1]));
        Refused<ShapeMismatchException>(() => r.InferOutputShape([5]), "Reshape layer 'r': input [5] has 5 elements, target [2, 3] has 6.");
    }

    // ---------------------------------------------------------------- SymbolicTensor

    [Fact]
    public void InputShapesAreNonEmptyAndPositive()
    {
        Assert.Equal("shape", Assert.Throws<ArgumentNullException>(() => Input((int[])null!)).ParamName);
        Refused<ArgumentException>(() => Input(Array.Empty<int>()), "Input shape must be non-empty with positive dimensions. Received: [] (Parameter 'shape')");
        Refused<ArgumentException>(() => Input([2, 0]), "Input shape must be non-empty with positive dimensions. Received: [2, 0] (Parameter 'shape')");
        Refused<ArgumentException>(() => Input([0]), "Input shape must be non-empty with positive dimensions. Received: [0] (Parameter 'shape')");
        Refused<ArgumentException>(() => Input(-1), "Input shape must be non-empty with positive dimensions. Received: [-1] (Parameter 'shape')");
        Assert.Equal([1, 2], Input([1, 2]).Shape!);
    }

    [Fact]
    public void CallsNeedNonNullInputs()
    {
        var x = Input(3);
        Assert.Equal("inputs", Assert.Throws<ArgumentNullException>(() => new Product().Call(null!)).ParamName);
        Assert.Equal("inputs", Assert.Throws<ArgumentNullException>(() => new Product().Call(x, null!)).ParamName);
        Refused<ArgumentException>(() => new Product("p").Call(), "Layer 'p' was called without inputs. (Parameter 'inputs')");
        Refused<ArgumentException>(() => new Product().Call(), "Layer 'prod' was called without inputs. (Parameter 'inputs')");
        var y = new Product().Call(x, x);
        Assert.False(y.IsSequence);
        Assert.False(new Product().Call(Input([4, 3], sequence: true)).IsSequence);
    }

    [Fact]
    public void LastStepOnlyWhenAnyInputIsOne()
    {
        var x = Input([4, 3]);
        var h = Input(2);
        var last = new LSTM(2, returnSequences: false).Call(x);
        Assert.True(last.LastStepOnly);
        Assert.False(h.LastStepOnly);
        Assert.True(new Product().Call(last, h).LastStepOnly);
        Assert.True(new Product().Call(h, last).LastStepOnly);
        Assert.False(new Product().Call(h, h).LastStepOnly);
    }

    [Fact]
    public void AncestryListsEachTensorOnceInputsFirst()
    {
        var x = Input(3);
        var d = new Dense(3, name: "d").Call(x);
        var p = new Product("p").Call(d, x);
        var order = p.Ancestry();
        Assert.Equal(3, order.Count);
        Assert.Same(x, order[0]);
        Assert.Same(d, order[1]);
        Assert.Same(p, order[2]);
        var twice = new Product("q").Call(x, x).Ancestry();
        Assert.Equal(2, twice.Count);
        Assert.Same(x, twice[0]);
    }

    [Fact]
    public void SymbolicTensorsDescribeThemselves()
    {
        Assert.Equal("Input([3, 4])", Input([3, 4]).ToString());
        Assert.Equal("Input([5, 2], sequence)", Input([5, 2], sequence: true).ToString());
        Assert.Equal("Input([7])", Input(7).ToString());
        Assert.Equal("Product(p)(...)", new Product("p").Call(Input(2)).ToString());
        Assert.Equal("Product(?)(...)", new Product().Call(Input(2)).ToString());
    }

    // ---------------------------------------------------------------- recurrent layers: arguments

    [Fact]
    public void RecurrentUnitsAndInputWidthArePositive()
    {
        Refused<ArgumentOutOfRangeException>(() => new RNN(0), "RNN: units must be positive. Received: 0 (Parameter 'units')");
        Refused<ArgumentOutOfRangeException>(() => new GRU(-1), "GRU: units must be positive. Received: -1 (Parameter 'units')");
        Assert.Equal(1, new RNN(1).Units);
        Refused<ArgumentOutOfRangeException>(() => new LSTM(2, inputWidth: 0), "LSTM: inputWidth must be positive. Received: 0 (Parameter 'inputWidth')");
        Assert.Equal(1, new LSTM(2, inputWidth: 1).InputWidth);
    }

    [Fact]
    public void RnnActivationsAndTheirRefusal()
    {
        Assert.Equal(RecurrentActivation.Sigmoid, new RNN(2, "sigmoid").Activation);
        Assert.Equal(RecurrentActivation.Sigmoid, new RNN(2, "logistic").Activation);
        Assert.Equal(RecurrentActivation.Linear, new RNN(2, "linear").Activation);
        Assert.Equal(RecurrentActivation.Relu, new RNN(2, "ReLU").Activation);
        Refused<ArgumentException>(() => new RNN(2, "softsign"), "RNN: activation must be tanh, relu, sigmoid or linear. Received: 'softsign' (Parameter 'activation')");
    }

    [Theory]
    [InlineData("sigmoid")]
    [InlineData("logistic")]
    [InlineData("linear")]
    [InlineData("Tanh")]
    public void TheanetsCellsAcceptEachActivationSpelling(string activation)
    {
        Assert.Equal(activation, new MRNN(2, activation: activation).Activation);
        Assert.Equal(activation, new RRNN(2, activation: activation).Activation);
        Assert.Equal(activation, new SCRN(2, activation: activation).Activation);
    }

    [Fact]
    public void TheanetsCellsNameThemselvesWhenRefusingAnActivationOrRate()
    {
        Refused<ArgumentException>(() => new MRNN(2, activation: "elu"), "MRNN: activation must be tanh, relu, sigmoid or linear. Received: 'elu' (Parameter 'activation')");
        Refused<ArgumentException>(() => new RRNN(2, activation: "elu"), "RRNN: activation must be tanh, relu, sigmoid or linear. Received: 'elu' (Parameter 'activation')");
        Refused<ArgumentException>(() => new SCRN(2, activation: "elu"), "SCRN: activation must be tanh, relu, sigmoid or linear. Received: 'elu' (Parameter 'activation')");
        Refused<ArgumentException>(() => new RRNN(2, "cubic"), "rate must be matrix, vector, uniform or log. Received: 'cubic' (Parameter 'rate')");
        Refused<ArgumentException>(() => new SCRN(2, "cubic"), "rate must be matrix, vector, uniform or log. Received: 'cubic' (Parameter 'rate')");
    }

    [Theory]
    [InlineData("matrix")]
    [InlineData("vector")]
    [InlineData("uniform")]
    [InlineData("log")]
    public void RateCellsAcceptEachRate(string rate)
    {
        Assert.Equal(rate, new RRNN(2, rate).Rate);
        Assert.Equal(rate, new SCRN(2, rate).Rate);
    }

    // ---------------------------------------------------------------- RecurrentLayer: cell, Run

    [Fact]
    public void GetCellKeepsTheCellWhileInputSizeAndDTypeFit()
    {
        var rnn = new RNN(2, name: "r");
        var cell = rnn.GetCell(3, DType.Float64, new RandomGenerator(1));
        Assert.Same(cell, rnn.GetCell(3, DType.Float64, new RandomGenerator(2)));
        var wider = rnn.GetCell(4, DType.Float64, new RandomGenerator(1));
        Assert.NotSame(cell, wider);
        Assert.Equal(4, wider.InputSize);
        var single = rnn.GetCell(4, DType.Float32, new RandomGenerator(1));
        Assert.NotSame(wider, single);
        Assert.Equal(DType.Float32, single.Parameters[0].DType);
    }

    private static bool AllZero(Tensor t) => t.ToDoubleArray().All(v => v == 0);

    [Fact]
    public void RadiusRescalesOnlyTheRecurrentMatrices()
    {
        var radius0 = new LayerInit(null, [new("radius", 0.0)]);
        var rnn = new RNN(3, name: "r", init: radius0);
        var cell = rnn.GetCell(3, DType.Float64, new RandomGenerator(1)); // weight_ih [3, 3] is square too
        var p = cell.Parameters.ToDictionary(t => t.Name!);
        Assert.True(AllZero(p["r.weight_hh_l0"]));
        Assert.False(AllZero(p["r.weight_ih_l0"]));

        var rrnn = new RRNN(3, name: "q", init: radius0);
        var q = rrnn.GetCell(4, DType.Float64, new RandomGenerator(1)).Parameters.ToDictionary(t => t.Name!);
        Assert.True(AllZero(q["q.hh"]));
        Assert.False(AllZero(q["q.xh"]));
    }

    /// <summary>A recurrent layer whose cell leaves its recurrent bias unnamed.</summary>
    private sealed class UnnamedBias(int units, string? name) : RecurrentLayer(units, true, false, name, null, null)
    {
        public override string Form => "unnamed";

        public override RecurrentLayer CloneConfiguration(string? name, bool goBackwards) => new UnnamedBias(Units, name);

        protected override IRecurrentCell CreateCell(int inputSize, DType dtype, RandomGenerator rng)
        {
            var c = new RnnCell(inputSize, Units, RecurrentActivation.Tanh, dtype, rng);
            c.Parameters[3].Name = null;
            return c;
        }
    }

    [Fact]
    public void AnUnnamedCellParameterIsNamedParam()
    {
        var cell = new UnnamedBias(2, "u").GetCell(3, DType.Float64, new RandomGenerator(1));
        Assert.Equal(["u.weight_ih_l0", "u.weight_hh_l0", "u.bias_ih_l0", "u.param"], cell.Parameters.Select(t => t.Name!));
    }

    [Fact]
    public void RunChecksItsInputAndUsesTheGivenGeneratorAndTheExistingCell()
    {
        var rnn = new RNN(2, name: "r");
        Assert.Equal("x", Assert.Throws<ArgumentNullException>(() => rnn.Run(null!)).ParamName);
        Refused<ShapeMismatchException>(() => rnn.Run(T.Rand(162, 2, 3).Detach()), "RNN 'r': Run needs a sequence [T, N, F]; got [2, 3].");

        var a = new RNN(2, name: "same");
        var b = new RNN(2, name: "same");
        var x = T.Rand(163, 3, 2, 3).Detach();
        a.Run(x, rng: new RandomGenerator(5));
        b.Run(x, rng: new RandomGenerator(5));
        Assert.Equal(a.Cell!.Parameters[0].ToDoubleArray(), b.Cell!.Parameters[0].ToDoubleArray());
        Assert.Equal(a.Cell.Parameters[1].ToDoubleArray(), b.Cell.Parameters[1].ToDoubleArray());

        var cell = a.Cell;
        Refused<ShapeMismatchException>(() => a.Run(T.Rand(164, 3, 2, 4).Detach()),
            "Recurrence.Run(RnnCell(3 => 2, Tanh)): input of shape [3, 2, 4] is not [T, N, 3] with T >= 1.");
        Assert.Same(cell, a.Cell);
    }

    // ---------------------------------------------------------------- RecurrentCellLayer

    [Fact]
    public void ADetachedNodeIsAForwardSteppedLayer()
    {
        var node = new RecurrentCellLayer(new RNN(2));
        Assert.True(node.ChangesShape);
        Assert.False(node.IsBidirectional);
        Assert.False(node.HasInitialStateInput);
        Assert.Equal("RNN", node.Kind);
        Assert.Equal([2], node.InferOutputShape([3]));
    }

    [Fact]
    public void KindsOfSteppedWholeSequenceAndBidirectionalNodes()
    {
        var x = Input([4, 3]);
        var lstm = new LSTM(2, name: "l");
        var bi = new BidirectionalLayer(new GRU(1, name: "f"), name: "bi"); // [T, 1 + 1], as the LSTM's [T, 2]
        var m = new Model(x, new Product().Call(lstm.Call(x), bi.Call(x)), "m", DType.Float64);
        _ = m.Forward(T.Rand(165, 2, 4, 3).Detach());
        var node = Assert.IsType<RecurrentCellLayer>(lstm.Nodes[0]);
        Assert.Equal("LSTM(seq)", node.Kind);
        Assert.False(node.IsBidirectional);
        var biNode = Assert.IsType<RecurrentCellLayer>(bi.Nodes[0]);
        Assert.Equal("Bidirectional", biNode.Kind);
        Assert.True(biNode.IsBidirectional);

        var net = new Network("s", DType.Float64, 1);
        var v = net.Add(new InputLayer(3, name: "v"));
        var r = net.Add(new RecurrentCellLayer(new GRU(2), "r"));
        net.Connect(v, r);
        net.AddOutput(r);
        net.Compile();
        Assert.Equal("GRU", r.Kind);
    }

    /// <summary>A parameter-free cell with state parts of unequal widths, h [1] and m [2]: y = h + 10·m₀ + 100·m₁,
    /// h' = y, m' = m (so the output shows which initial-state columns reached which part).</summary>
    private sealed class TallyCell(int inputSize, DType dtype) : IRecurrentCell
    {
        private readonly Tensor[] _parameters = [Tensor.Zeros([1], dtype)];

        public int InputSize => inputSize;

        public int HiddenSize => 1;

        public IReadOnlyList<Tensor> Parameters => _parameters;

        public CellState InitialState(int batch, DType dt) => new(("h", Tensor.Zeros([batch, 1], dt)), ("m", Tensor.Zeros([batch, 2], dt)));

        public (Tensor output, CellState next) Step(Tensor x, CellState state)
        {
            var m = state.Values[1];
            var y = state.Values[0] + m.Slice(1, 0, 1) * 10.0 + m.Slice(1, 1, 1) * 100.0;
            return (y, state.Next(state.Time + 1, y, m));
        }

        public Tensor ProjectInput(Tensor x) => x;

        public (Tensor output, CellState next) StepProjected(Tensor projected, CellState state) => Step(projected, state);
    }

    private sealed class Tally(string? name) : RecurrentLayer(1, true, false, name, null, null)
    {
        public override string Form => "tally";

        public override RecurrentLayer CloneConfiguration(string? name, bool goBackwards) => new Tally(name);

        protected override IRecurrentCell CreateCell(int inputSize, DType dtype, RandomGenerator rng) => new TallyCell(inputSize, dtype);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void TheInitialStateColumnsFillTheStatePartsInOrder(int width)
    {
        const int n = 2, t = 3;
        var tally = new Tally("tally");
        var xin = Input([t, 2]);
        var sin = Input(width);
        var m = new Model([xin, sin], [tally.Call(xin, sin)], "m", DType.Float64);
        var init = T.Rand(172, n, width).Detach();
        var y = m.Forward([T.Rand(173, n, t, 2).Detach(), init], false)[0];
        Assert.Equal([n, t, 1], y.ShapeArray);
        var iv = init.ToDoubleArray();
        var expected = new double[n * t];
        for (int b = 0; b < n; b++)
        {
            // h only (width 1): m starts at zeros; all parts (width 3): h = column 0, m = columns 1 and 2
            double h = iv[b * width], m0 = width == 3 ? iv[b * width + 1] : 0, m1 = width == 3 ? iv[b * width + 2] : 0;
            for (int s = 0; s < t; s++)
            {
                h += 10 * m0 + 100 * m1;
                expected[b * t + s] = h;
            }
        }
        T.Close(expected, y.ToDoubleArray(), 1e-12, 1e-12, $"tally from a width-{width} initial state");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void AnLstmStartsFromItsInitialStateInput_HOrHAndC(bool withC)
    {
        const int n = 2, t = 3, f = 3, h = 2;
        var lstm = new LSTM(h, name: "l");
        var xin = Input([t, f]);
        var hin = Input(withC ? 2 * h : h);
        var m = new Model([xin, hin], [lstm.Call(xin, hin)], "m", DType.Float64);
        var x = T.Rand(166, n, t, f).Detach();
        var init = T.Rand(167, n, withC ? 2 * h : h).Detach();
        var y = m.Forward([x, init], false)[0];
        Assert.Equal([n, t, h], y.ShapeArray);
        var node = Assert.IsType<RecurrentCellLayer>(lstm.Nodes[0]);
        Assert.True(node.HasInitialStateInput);
        var p = node.Parameters.ToDictionary(q => q.Name!, q => q.ToDoubleArray());
        var iv = init.ToDoubleArray();
        double[] h0 = new double[n * h], c0 = new double[n * h];
        for (int b = 0; b < n; b++)
            for (int j = 0; j < h; j++)
            {
                h0[b * h + j] = iv[b * (withC ? 2 * h : h) + j];
                c0[b * h + j] = withC ? iv[b * 2 * h + h + j] : 0;
            }
        T.Close(LstmLoops.EveryH(x.ToDoubleArray(), n, t, f, h, p["l.weight_ih_l0"], p["l.weight_hh_l0"], p["l.bias_ih_l0"], p["l.bias_hh_l0"], h0, c0), y.ToDoubleArray(), 1e-12, 1e-12, withC ? "from h0, c0" : "from h0");
    }

    [Fact]
    public void AnInitialStateOfAnotherWidthIsRefused()
    {
        var lstm = new LSTM(2, name: "l");
        var xin = Input([3, 3]);
        var hin = Input(3);
        var m = new Model([xin, hin], [lstm.Call(xin, hin)], "m", DType.Float64);
        Refused<ShapeMismatchException>(() => m.Forward([T.Rand(168, 2, 3, 3).Detach(), T.Rand(169, 2, 3).Detach()], false),
            "Recurrent layer 'l': the initial state has 3 features; the cell needs h [2] or all of [h, c] (4).");
    }

    [Fact]
    public void BackwardInTimeNeedsAWholeSequence()
    {
        var net = new Network("s", DType.Float64, 1);
        var v = net.Add(new InputLayer(3, name: "v"));
        var r = net.Add(new RecurrentCellLayer(new RNN(2, goBackwards: true), "r"));
        net.Connect(v, r);
        net.AddOutput(r);
        Refused<GraphException>(net.Compile,
            "Recurrent layer 'r' (RNN): running backward in time needs the whole sequence; give it a sequence input of per-sample shape [T, F] (batch-first [N, T, F]) instead of a stepped vector input.");
    }

    [Fact]
    public void AWholeSequenceInputTakesNoOtherInputs()
    {
        var net = new Network("s", DType.Float64, 1);
        var s = net.Add(new InputLayer([5, 3], name: "s"));
        var v = net.Add(new InputLayer(2, name: "v"));
        var r = net.Add(new RecurrentCellLayer(new RNN(2), "r"));
        net.Connect(s, r);
        net.Connect(v, r);
        net.AddOutput(r);
        Refused<GraphException>(net.Compile,
            "Recurrent layer 'r': a whole-sequence input [T, F] cannot be combined with other inputs into the same layer.");
    }

    [Fact]
    public void BuildingBeforeItsConnectionsAreBuiltIsRefused()
    {
        var net = new Network("n", DType.Float64, 1);
        var x = net.Add(new InputLayer(3, name: "x"));
        var r = net.Add(new RecurrentCellLayer(new RNN(2), "r"));
        var c = net.Connect(x, r);
        Refused<GraphException>(() => r.BuildParameters(DType.Float64, new RandomGenerator(1)), $"Recurrent layer 'r': connection '{c.Name}' is not built.");
    }

    [Fact]
    public void AFeedbackInputFromALaterLayerWidensTheCellInput()
    {
        var net = new Network("fb", DType.Float64, 7);
        var x = net.Add(new InputLayer(3, sequenceLength: 4, name: "x"));
        var lstm = net.Add(new RecurrentCellLayer(new LSTM(3, inputWidth: 3 + 2), "lstm"));
        net.Connect(x, lstm);
        var o = net.Add(new Layer(2, "tanh", name: "out"));
        net.ConnectDense(lstm, o, name: "out");
        net.Connect(o, lstm, delay: 1);
        net.AddOutput(o, OutputMode.AllSteps);
        net.Compile();
        Assert.Equal(5, lstm.ForwardCell!.InputSize);
        var y = net.Forward(T.Rand(170, 4, 2, 3).Detach())[0];
        Assert.Equal([4, 2, 2], y.ShapeArray);
    }

    [Fact]
    public void ALearnedInitialStateComesFirstInTheParameters()
    {
        var net = new Network("s", DType.Float64, 1);
        var v = net.Add(new InputLayer(3, name: "v"));
        var r = net.Add(new RecurrentCellLayer(new RNN(2), "r") { LearnInitialState = true });
        net.Connect(v, r);
        net.AddOutput(r);
        net.Compile();
        Assert.Equal(["r.initial_state", "r.weight_ih_l0", "r.weight_hh_l0", "r.bias_ih_l0", "r.bias_hh_l0"], r.Parameters.Select(p => p.Name!));
    }

    [Fact]
    public void ASteppedTransformIsOneCellStepFromZeros()
    {
        var net = new Network("s", DType.Float64, 1);
        var v = net.Add(new InputLayer(3, name: "v"));
        var r = net.Add(new RecurrentCellLayer(new RNN(2), "r"));
        net.Connect(v, r);
        net.AddOutput(r);
        net.Compile();
        var x = T.Rand(171, 4, 3).Detach();
        var y = r.Transform(x, false);
        var p = r.Parameters.ToDictionary(q => q.Name!, q => q.ToDoubleArray());
        var xs = x.ToDoubleArray();
        var expected = new double[4 * 2];
        for (int b = 0; b < 4; b++)
            for (int j = 0; j < 2; j++)
            {
                double z = p["r.bias_ih_l0"][j] + p["r.bias_hh_l0"][j];
                for (int k = 0; k < 3; k++) z += p["r.weight_ih_l0"][j * 3 + k] * xs[b * 3 + k];
                expected[b * 2 + j] = Math.Tanh(z);
            }
        Assert.Equal([4, 2], y.ShapeArray);
        T.Close(expected, y.ToDoubleArray(), 1e-12, 1e-12, "one step");
    }
}
