// Over 400 lines on purpose: the session-11 Layers survivors of the builders BatchNorm, Add, Concatenate, Dropout, the
// convolutions, Dense/Classifier, Clockwork and CustomLayer, and of CatalogLayer and BatchNormLayer, one small test each,
// sharing the network and message helpers at the top.
using FlexNet.Autodiff;
using FlexNet.Connections;
using FlexNet.Graph;
using FlexNet.Layers;
using FlexNet.Tensors;
using FlexNet.Tests.Testing;

namespace FlexNet.Tests.Layers;

/// <summary>Gaps of the session-11 mutation run over src/FlexNet/Layers (outside Recurrent), first half of the files:
/// the argument checks at their bounds with their whole messages, the registry forms, the running statistics of batch
/// norm over several steps, what a builder initialises (its own connections, once; its stored parameters), the
/// configurations of the parameterless builders, the custom-layer weight draws replayed from the network's seed, and the
/// Dense weight/bias accessors and shared-call checks.</summary>
public sealed class LayerMutationGapTestsA
{
    /// <summary>Asserts the exception type, its parameter name and its whole message (.NET appends the parameter).</summary>
    private static void Refused<TEx>(Action make, string param, string message) where TEx : ArgumentException
    {
        var e = Assert.Throws<TEx>(make);
        Assert.Equal(param, e.ParamName);
        Assert.Equal($"{message} (Parameter '{param}')", e.Message);
    }

    private static KeyValuePair<string, double>[] Attrs(params (string Key, double Value)[] a) =>
        a.Select(p => new KeyValuePair<string, double>(p.Key, p.Value)).ToArray();

    /// <summary>Asserts the whole configuration (keys and values, any order).</summary>
    private static void AssertConfig(CatalogLayer layer, params (string Key, object Value)[] want)
    {
        var got = layer.GetConfig();
        Assert.NotNull(got);
        Assert.Equal(want.Select(p => p.Key).Order(StringComparer.Ordinal), got.Keys.Order(StringComparer.Ordinal));
        foreach (var (k, v) in want) Assert.Equal(v, got[k]);
    }

    /// <summary>A Connect network with one input <c>x</c> of <paramref name="shape"/>.</summary>
    private static (Network Net, InputLayer X) Net(ulong seed, params int[] shape)
    {
        var net = new Network("gap", DType.Float64, seed);
        var x = net.Add(new InputLayer(shape, name: "x"));
        return (net, x);
    }

    /// <summary>Attaches <paramref name="layer"/> to <paramref name="x"/>, makes its node the output and builds.</summary>
    private static Layer AttachAndBuild(Network net, InputLayer x, CatalogLayer layer)
    {
        var node = layer.Attach(net, x);
        net.AddOutput(node);
        net.Build();
        return node;
    }

    // ------------------------------------------------------------------ BatchNorm builder and BatchNormLayer

    [Fact]
    public void BatchNormBuilder_MomentumBounds_AndWholeMessages()
    {
        Refused<ArgumentOutOfRangeException>(() => new BatchNorm(momentum: 0), "momentum", "BatchNorm: momentum must be in (0, 1]. Received: 0");
        Refused<ArgumentOutOfRangeException>(() => new BatchNorm(momentum: -1), "momentum", "BatchNorm: momentum must be in (0, 1]. Received: -1");
        Refused<ArgumentOutOfRangeException>(() => new BatchNorm(momentum: 2), "momentum", "BatchNorm: momentum must be in (0, 1]. Received: 2");
        double above = Math.BitIncrement(1.0);
        Refused<ArgumentOutOfRangeException>(() => new BatchNorm(momentum: above), "momentum", $"BatchNorm: momentum must be in (0, 1]. Received: {above}");
        Refused<ArgumentOutOfRangeException>(() => new BatchNorm(momentum: double.NaN), "momentum", $"BatchNorm: momentum must be in (0, 1]. Received: {double.NaN}");
        Assert.Equal(1.0, new BatchNorm(momentum: 1).Momentum);
        Assert.Equal(double.Epsilon, new BatchNorm(momentum: double.Epsilon).Momentum);
    }

    [Fact]
    public void BatchNormBuilder_EpsilonMustBePositiveAndFinite()
    {
        Refused<ArgumentOutOfRangeException>(() => new BatchNorm(epsilon: 0), "epsilon", "BatchNorm: epsilon must be positive. Received: 0");
        Refused<ArgumentOutOfRangeException>(() => new BatchNorm(epsilon: -1), "epsilon", "BatchNorm: epsilon must be positive. Received: -1");
        // the builder refuses what its layer refuses, at once rather than at attach time
        foreach (var eps in new[] { double.NaN, double.PositiveInfinity })
            Refused<ArgumentOutOfRangeException>(() => new BatchNorm(epsilon: eps), "epsilon", $"BatchNorm: epsilon must be positive. Received: {eps}");
        Assert.Equal(double.Epsilon, new BatchNorm(epsilon: double.Epsilon).Epsilon);
    }

    [Fact]
    public void BatchNormLayer_MomentumBounds_AndWholeMessage()
    {
        Refused<ArgumentOutOfRangeException>(() => new BatchNormLayer(momentum: 0), "momentum", "BatchNorm: momentum must be in (0, 1]. Received: 0");
        Refused<ArgumentOutOfRangeException>(() => new BatchNormLayer(momentum: 2), "momentum", "BatchNorm: momentum must be in (0, 1]. Received: 2");
        double above = Math.BitIncrement(1.0);
        Refused<ArgumentOutOfRangeException>(() => new BatchNormLayer(momentum: above), "momentum", $"BatchNorm: momentum must be in (0, 1]. Received: {above}");
        Assert.Equal(1.0, new BatchNormLayer(momentum: 1).Momentum);
    }

    [Fact]
    public void BatchNormLayer_EpsilonMustBePositiveAndFinite()
    {
        Refused<ArgumentOutOfRangeException>(() => new BatchNormLayer(epsilon: 0), "epsilon", "BatchNorm: epsilon must be positive. Received: 0");
        foreach (var eps in new[] { double.NaN, double.PositiveInfinity, -1.0 })
            Refused<ArgumentOutOfRangeException>(() => new BatchNormLayer(epsilon: eps), "epsilon", $"BatchNorm: epsilon must be positive. Received: {eps}");
        Assert.Equal(double.Epsilon, new BatchNormLayer(epsilon: double.Epsilon).Epsilon);
    }

    [Fact]
    public void BatchNorm_StatisticsAreNullBeforeBuild_ThenTheNodes()
    {
        var bn = new BatchNorm(name: "bn");
        Assert.Null(bn.RunningMean);
        Assert.Null(bn.RunningVar);

        var (net, x) = Net(1, 3);
        var node = (BatchNormLayer)bn.Attach(net, x);
        Assert.Null(bn.RunningMean); // attached but not built
        Assert.Null(bn.RunningVar);
        net.AddOutput(node);
        net.Build();
        Assert.Same(node.RunningMean, bn.RunningMean);
        Assert.Same(node.RunningVar, bn.RunningVar);
        Assert.Collection(node.Buffers, t => Assert.Same(node.RunningMean, t), t => Assert.Same(node.RunningVar, t));
    }

    [Fact]
    public void BatchNormLayer_HasNoBuffersBeforeBuild()
    {
        var layer = new BatchNormLayer(name: "bnl");
        Assert.Empty(layer.Buffers);
        Assert.Null(layer.RunningMean);
        Assert.Null(layer.RunningVar);
    }

    /// <summary>r ← (1 − m)·r + m·batch over three training steps (running variance with the unbiased batch variance),
    /// from r = (0, 1): the first step alone cannot tell (1 − m)·r from r/(1 − m) or (1 + m)·r for r = 0.</summary>
    [Fact]
    public void BatchNormLayer_RunningStatistics_FollowTheMomentumRuleOverThreeSteps()
    {
        const int n = 4, c = 2, s = 3;
        const double m = 0.3;
        var (net, x) = Net(1, c, s);
        var bn = net.Add(new BatchNormLayer(m, 1e-4, "bn"));
        net.Connect(x, bn);
        net.AddOutput(bn);
        var rm = new double[c];
        var rv = new double[] { 1, 1 };
        var rng = new RandomGenerator(5);
        for (int step = 0; step < 3; step++)
        {
            var input = Tensor.Normal([n, c, s], 2 + step, 1.5, rng, DType.Float64);
            var xs = input.ToDoubleArray();
            using (Autograd.NoGrad()) _ = net.Forward([input], training: true);
            for (int k = 0; k < c; k++)
            {
                double sum = 0;
                for (int i = 0; i < n; i++) for (int j = 0; j < s; j++) sum += xs[(i * c + k) * s + j];
                double mean = sum / (n * s), q = 0;
                for (int i = 0; i < n; i++) for (int j = 0; j < s; j++) q += Math.Pow(xs[(i * c + k) * s + j] - mean, 2);
                rm[k] = (1 - m) * rm[k] + m * mean;
                rv[k] = (1 - m) * rv[k] + m * q / (n * s - 1);
            }
            T.Close(rm, bn.RunningMean!.ToDoubleArray(), 1e-12, 1e-14, $"running mean after step {step + 1}");
            T.Close(rv, bn.RunningVar!.ToDoubleArray(), 1e-12, 1e-14, $"running var after step {step + 1}");
        }
    }

    /// <summary>The node's base build still runs: a learned initial state is created (zeros [C], a parameter).</summary>
    [Fact]
    public void BatchNormLayer_BuildsTheBaseLayersLearnedInitialState()
    {
        var (net, x) = Net(1, 3);
        var bn = net.Add(new BatchNormLayer(name: "bn"));
        net.Connect(x, bn);
        net.AddOutput(bn);
        bn.LearnInitialState = true;
        net.Build();
        Assert.NotNull(bn.InitialState);
        Assert.Equal([3], bn.InitialState!.ShapeArray);
        Assert.Equal(["bn.initial_state", "bn.gamma", "bn.beta"], bn.Parameters.Select(p => p.Name));
    }

    // ------------------------------------------------------------------ CatalogLayer: init, store, padding, Build

    /// <summary>A builder initialises only the connections it made: an edge a Connect user adds into its node keeps its
    /// own (torch) initialisation, U(±1/√in), not the builder's <c>ones</c>.</summary>
    [Fact]
    public void BuilderInit_LeavesConnectionsItDidNotMakeAlone()
    {
        var (net, x) = Net(3, 3);
        var y = net.Add(new InputLayer(4, name: "y"));
        var dense = new Dense(2, init: "ones", name: "d");
        var node = dense.Attach(net, x);
        var manual = net.ConnectDense(y, node, bias: false, name: "manual");
        net.AddOutput(node);
        net.Build();
        Assert.All(dense.Weight.ToDoubleArray(), v => Assert.Equal(1.0, v));
        var w = manual.Weight.ToDoubleArray();
        Assert.Equal(8, w.Length);
        Assert.All(w, v => Assert.InRange(Math.Abs(v), 0, 0.5)); // U(±1/√4)
    }

    /// <summary>A builder initialises a parameter once: a rebuild (any change to the network) keeps trained values.</summary>
    [Fact]
    public void BuilderInit_RunsOnce_ARebuildKeepsTrainedWeights()
    {
        var (net, x) = Net(3, 3);
        var dense = new Dense(2, init: "ones", name: "d");
        var node = AttachAndBuild(net, x, dense);
        Assert.All(dense.Weight.ToDoubleArray(), v => Assert.Equal(1.0, v));
        using (Autograd.NoGrad()) dense.Weight.CopyFrom(Tensor.Full([2, 3], 0.25, DType.Float64));
        node.Activation = "tanh"; // invalidates the build
        net.Build();
        Assert.All(dense.Weight.ToDoubleArray(), v => Assert.Equal(0.25, v));
    }

    /// <summary>A builder's stored tensors (batch norm's γ, β and statistics) are shared by every attachment and kept
    /// by a rebuild of the same dtype.</summary>
    [Fact]
    public void StoredParameters_AreSharedByAttachments_AndKeptByARebuild()
    {
        var (net, x) = Net(3, 3);
        var x2 = net.Add(new InputLayer(3, name: "x2"));
        var bn = new BatchNorm(name: "bn");
        var a = (BatchNormLayer)bn.Attach(net, x);
        var b = (BatchNormLayer)bn.Attach(net, x2);
        net.AddOutput(a).AddOutput(b);
        net.Build();
        Assert.Same(a.Gamma, b.Gamma);
        Assert.Same(a.Beta, b.Beta);
        Assert.Same(a.RunningMean, b.RunningMean);
        Assert.Same(a.RunningVar, b.RunningVar);
        Assert.Equal(2, bn.Parameters.Count);
        Assert.Equal(2, bn.Buffers.Count);
        using (Autograd.NoGrad()) a.Gamma!.CopyFrom(Tensor.Full([3], 2.5, DType.Float64));
        a.Activation = "linear"; // invalidates the build
        net.Build();
        Assert.Same(a.Gamma, b.Gamma);
        Assert.All(b.Gamma!.ToDoubleArray(), v => Assert.Equal(2.5, v));
    }

    /// <summary>A stored trainable parameter gets the builder's init: per-parameter <c>mean_beta</c>/<c>std_beta</c> set β.</summary>
    [Fact]
    public void StoredParameters_GetTheBuildersInit()
    {
        var (net, x) = Net(3, 3);
        var bn = new BatchNorm(name: "bn", init: new LayerInit(null, Attrs(("mean_beta", 0.5), ("std_beta", 0))));
        var node = (BatchNormLayer)AttachAndBuild(net, x, bn);
        Assert.Equal([0.5, 0.5, 0.5], node.Beta!.ToDoubleArray());
        Assert.Equal([1.0, 1.0, 1.0], node.Gamma!.ToDoubleArray()); // a scale keeps its default
    }

    [Theory]
    [InlineData(1, 1, 1, 2, "(1, 1, 1, 2)")]
    [InlineData(1, 1, 2, 1, "(1, 1, 2, 1)")]
    [InlineData(1, 2, 1, 1, "(1, 2, 1, 1)")]
    [InlineData(2, 1, 1, 1, "(2, 1, 1, 1)")]
    public void AsymmetricPadding_HasNoFormArgument(int top, int bottom, int left, int right, string shown)
    {
        var conv = new Conv2D(2, 3, padding: Padding.Explicit(top, bottom, left, right), name: "c");
        var e = Assert.Throws<GraphException>(() => conv.GetConfig());
        Assert.Equal($"Layer 'c' (Conv2D) has the asymmetric padding {shown}, which a model file cannot describe; use a symmetric padding or 'same'.", e.Message);
        Assert.Equal(2, new Conv2D(2, 3, padding: 2, name: "s").GetConfig()!["padding"]);
        Assert.Equal("same", new Conv1D(2, 3, padding: Padding.Same, name: "t").GetConfig()!["padding"]);
    }

    [Fact]
    public void BuildByForm_NamesTheLayer()
    {
        Assert.Equal("fc", CatalogLayer.Build("dense", 3, name: "fc").Name);
        Assert.Null(CatalogLayer.Build("dense", 3).Name);
    }

    [Fact]
    public void BuildByForm_ItsErrorsNameTheLayer()
    {
        var named = Assert.Throws<SpecValidationException>(() => CatalogLayer.Build("dense", name: "fc"));
        Assert.Equal("layer 'fc': missing 'size' (a positive integer).", named.Message);
    }

    [Fact]
    public void BuildByForm_ErrorsOfAnUnnamedLayerNameTheForm()
    {
        var unnamed = Assert.Throws<SpecValidationException>(() => CatalogLayer.Build("dense"));
        Assert.Equal("layer 'dense': missing 'size' (a positive integer).", unnamed.Message);
    }

    // ------------------------------------------------------------------ forms and configurations

    [Theory]
    [InlineData("classifier")]
    [InlineData("dense")]
    [InlineData("batchnorm")]
    [InlineData("dropout")]
    [InlineData("conv1")]
    [InlineData("conv2")]
    [InlineData("conv2t")]
    public void Forms_AreTheRegisteredNames_AndShowInTheArityMessage(string form)
    {
        CatalogLayer layer = form switch
        {
            "classifier" => new ClassifierLayer(3),
            "dense" => new Dense(3),
            "batchnorm" => new BatchNorm(),
            "dropout" => new Dropout(0.5),
            "conv1" => new Conv1D(2, 3),
            "conv2" => new Conv2D(2, 3),
            _ => new Conv2DTranspose(2, 3),
        };
        Assert.Equal(form, layer.Form);
        Assert.True(LayerRegistry.IsRegistered(form), form);
        if (layer is Dense) return; // any number of inputs
        var (net, x) = Net(1, 3);
        var e = Assert.Throws<GraphException>(() => layer.Attach(net, [x, x]));
        Assert.Equal($"Layer '{form}' ({form}) takes 1 input(s); got 2.", e.Message);
    }

    /// <summary>The merges and dropout read no init settings, so their configurations carry none even when
    /// <see cref="CatalogLayer.Init"/> is set.</summary>
    [Theory]
    [InlineData("add")]
    [InlineData("concatenate")]
    [InlineData("dropout")]
    [InlineData("dropout-seeded")]
    public void ParameterlessBuilders_SaveNoInitSettings(string which)
    {
        var init = new LayerInit("ones", Attrs(("std", 0.5)), seed: 9);
        switch (which)
        {
            case "add":
                AssertConfig(new Add("a") { Init = init }, ("form", "add"), ("name", "a"));
                break;
            case "concatenate":
                AssertConfig(new Concatenate("c") { Init = init }, ("form", "concatenate"), ("name", "c"));
                break;
            case "dropout":
                AssertConfig(new Dropout(0.25, "d") { Init = init }, ("form", "dropout"), ("name", "d"), ("rate", 0.25));
                break;
            default:
                AssertConfig(new Dropout(0.25, "e", seed: 7) { Init = init }, ("form", "dropout"), ("name", "e"), ("rate", 0.25), ("rng", "7"));
                break;
        }
    }

    // ------------------------------------------------------------------ argument checks

    [Fact]
    public void Dropout_RateBounds_AndWholeMessage()
    {
        Assert.Equal(0.0, new Dropout(0).Rate);
        Assert.Equal(Math.BitDecrement(1.0), new Dropout(Math.BitDecrement(1.0)).Rate);
        foreach (var rate in new[] { 1.0, 2.0, -1.0, -double.Epsilon, double.NaN })
            Refused<ArgumentOutOfRangeException>(() => new Dropout(rate), "rate", $"Dropout: rate must be in [0, 1). Received: {rate}");
    }

    [Theory]
    [InlineData(0, 3, 1, 1)]
    [InlineData(2, 0, 1, 1)]
    [InlineData(2, 3, 0, 1)]
    [InlineData(2, 3, 1, 0)]
    [InlineData(-1, 3, 1, 1)]
    [InlineData(2, 3, 1, -2)]
    public void Conv1D_RefusesEachNonPositiveSize(int filters, int kernel, int stride, int dilation) =>
        Refused<ArgumentOutOfRangeException>(() => new Conv1D(filters, kernel, stride, dilation: dilation), "filters",
            $"Conv1D: filters, kernelSize, stride, dilation must be positive. Received: {filters}, {kernel}, {stride}, {dilation}");

    [Theory]
    [InlineData(0, 3, 1, 1)]
    [InlineData(2, 0, 1, 1)]
    [InlineData(2, 3, 0, 1)]
    [InlineData(2, 3, 1, 0)]
    [InlineData(-1, 3, 1, 1)]
    [InlineData(2, 3, 1, -2)]
    public void Conv2D_RefusesEachNonPositiveSize(int filters, int kernel, int stride, int dilation)
    {
        Refused<ArgumentOutOfRangeException>(() => new Conv2D(filters, kernel, stride, dilation: dilation), "filters",
            $"Conv2D: filters, kernelSize, stride, dilation must be positive. Received: {filters}, {kernel}, {stride}, {dilation}");
    }

    [Theory]
    [InlineData(0, 3, 1, 0, 0)]
    [InlineData(2, 0, 1, 0, 0)]
    [InlineData(2, 3, 0, 0, 0)]
    [InlineData(2, 3, 1, -1, 0)]
    [InlineData(2, 3, 1, 0, -1)]
    public void Conv2DTranspose_RefusesEachBadSize(int filters, int kernel, int stride, int padding, int outputPadding)
    {
        Refused<ArgumentOutOfRangeException>(() => new Conv2DTranspose(filters, kernel, stride, padding, outputPadding), "filters",
            $"Conv2DTranspose: bad sizes {filters}, {kernel}, {stride}, {padding}, {outputPadding}.");
    }

    [Fact]
    public void SmallestSizes_AreAccepted()
    {
        var c1 = new Conv1D(1, 1, 1, dilation: 1);
        Assert.Equal((1, 1, 1, 1), (c1.Filters, c1.KernelSize, c1.Stride, c1.Dilation));
        var t = new Conv2DTranspose(1, 1, 1, 0, 0);
        Assert.Equal((1, 1, 1, 0, 0), (t.Filters, t.KernelSize, t.Stride, t.Padding, t.OutputPadding));
        Assert.Equal(1, new Dense(1).Units);
        Assert.Equal(1, new Probe(1).Size);
    }

    [Fact]
    public void Dense_RefusesZeroUnits() =>
        Refused<ArgumentOutOfRangeException>(() => new Dense(0), "units", "Dense: units must be positive. Received: 0");

    [Fact]
    public void Custom_RefusesZeroSize()
    {
        Refused<ArgumentOutOfRangeException>(() => new Probe(0), "size", "Probe: size must be positive. Received: 0");
    }

    [Fact]
    public void Clockwork_NullPeriods() =>
        Assert.Equal("periods", Assert.Throws<ArgumentNullException>(() => new Clockwork(4, null!)).ParamName);

    [Fact]
    public void Clockwork_UnknownActivation_WholeMessage()
    {
        Refused<ArgumentException>(() => new Clockwork(4, [1, 2], "softsign"), "activation",
            "Clockwork: activation must be tanh, relu, sigmoid or linear. Received: 'softsign'");
    }

    // ------------------------------------------------------------------ Dense

    [Fact]
    public void Dense_UnknownConnectionKind_ListsTheRegisteredKindsCommaSeparated()
    {
        var e = Assert.Throws<ArgumentException>(() => new Dense(4, connection: "nosuch"));
        Assert.Equal("connection", e.ParamName);
        const string head = "Dense: unknown connection kind 'nosuch'. Registered connection kinds: ";
        const string tail = ". (Parameter 'connection')";
        Assert.StartsWith(head, e.Message);
        Assert.EndsWith(tail, e.Message);
        var listed = e.Message[head.Length..^tail.Length].Split(", ");
        Assert.Equal(listed.Order(StringComparer.Ordinal), listed); // sorted
        Assert.Subset(listed.ToHashSet(), new HashSet<string> { "complement", "dense", "elementwise", "identity" });
        Assert.All(listed, k => Assert.True(ConnectionRegistry.IsRegistered(k), k));
    }

    [Fact]
    public void DenseWeight_BeforeAttach_WholeMessage()
    {
        var plain = Assert.Throws<GraphException>(() => new Dense(3, name: "d").Weight);
        Assert.Equal("Dense layer 'd' has no weight matrix yet: attach it and build the network first.", plain.Message);
    }

    [Fact]
    public void DenseWithARegisteredKind_HasNoWeightMatrix_WholeMessages()
    {

        var (net, x) = Net(2, 3);
        var kind = new Dense(3, connection: "elementwise", name: "k");
        var noBias = Assert.Throws<GraphException>(() => kind.Bias);
        Assert.Equal("Dense layer 'k' has no bias yet: build the network first.", noBias.Message);
        net.AddOutput(kind.Attach(net, x));
        net.Build();
        var e = Assert.Throws<GraphException>(() => kind.Weight);
        Assert.Equal("Dense layer 'k' has no weight matrix: its inputs use connection kind 'elementwise' (see Connections).", e.Message);
        Assert.Equal([0.0, 0, 0], kind.Bias!.ToDoubleArray());
    }

    [Fact]
    public void DenseWithAKind_AndNoBias_HasANullBias()
    {
        var (net, x) = Net(2, 3);
        var kind = new Dense(3, useBias: false, connection: "elementwise", name: "k");
        var node = AttachAndBuild(net, x, kind);
        Assert.Null(kind.Bias);
        Assert.Null(node.Bias);
    }

    /// <summary><c>connection: "dense"</c> is the default full matrix (not a registered-kind edge): a weight matrix
    /// and the bias on the connection.</summary>
    [Fact]
    public void DenseWithTheDenseKind_IsAPlainDense()
    {
        var (net, x) = Net(2, 3);
        var d = new Dense(2, connection: "dense", name: "d");
        var node = AttachAndBuild(net, x, d);
        Assert.Equal([2, 3], d.Weight.ShapeArray);
        Assert.Equal([2], d.Bias!.ShapeArray);
        Assert.IsType<DenseConnection>(Assert.Single(d.Connections));
        Assert.Null(node.Bias);
        Assert.Equal(["d.weight", "d.bias"], net.NamedParameters.Select(p => p.Name));
    }

    [Fact]
    public void SharedDense_CalledWithMoreInputsThanAtFirst_IsRefusedByName()
    {
        var (net, x) = Net(2, 3);
        var y = net.Add(new InputLayer(3, name: "y"));
        var d = new Dense(2, name: "d");
        d.Attach(net, x);
        var e = Assert.Throws<GraphException>(() => d.Attach(net, [x, y]));
        Assert.Equal("Shared layer 'd' was first called with 1 input(s), now with 2.", e.Message);
    }

    /// <summary>The edges of a registered kind and the layer's own bias get the layer's init (per-parameter
    /// <c>mean_weight</c>/<c>mean_bias</c>), instead of the kind's ones and zeros.</summary>
    [Fact]
    public void DenseWithAKind_InitialisesItsEdgesAndItsBias()
    {
        var (net, x) = Net(2, 3);
        var init = new LayerInit(null, Attrs(("mean_weight", 0.25), ("std_weight", 0), ("mean_bias", 0.5), ("std_bias", 0)));
        var kind = new Dense(3, connection: "elementwise", name: "k", init: init);
        AttachAndBuild(net, x, kind);
        var edge = Assert.IsType<ElementwiseConnection>(Assert.Single(kind.Connections));
        Assert.Equal([0.25, 0.25, 0.25], edge.Weight.ToDoubleArray());
        Assert.Equal([0.5, 0.5, 0.5], kind.Bias!.ToDoubleArray());
    }

    [Fact]
    public void DenseWithAKind_ItsFactorysErrorNamesTheLayer()
    {
        ConnectionRegistry.Register("lga_refuses", "test-only kind whose factory refuses every edge", s => throw new ArgumentException("this edge is refused"));
        var (net, x) = Net(2, 3);
        var e = Assert.Throws<SpecValidationException>(() => new Dense(3, connection: "lga_refuses", name: "d").Attach(net, x));
        Assert.Equal("layer 'd' connection 'lga_refuses': this edge is refused", e.Message);
    }

    // ------------------------------------------------------------------ CustomLayer

    /// <summary>A custom layer x·W with W [nin, nout] from <c>AddWeights</c> (std given or the default).</summary>
    private sealed class Probe(int size, string? name = null, double mean = 0, double? std = null) : CustomLayer(size, "linear", name)
    {
        protected override void Setup() => AddWeights("w", InputSize, Size, mean, std);

        protected override Tensor Transform(Tensor input) => Activate(NN.MatMul(input, Find("w")));
    }

    /// <summary>W ~ N(mean, std²), std = 1/√(nin + nout) unless given, drawn from the network's generator: the only
    /// draws of a network whose other edges are identities, so a generator of the network's seed replays them.</summary>
    [Theory]
    [InlineData(0.0, null)]
    [InlineData(0.5, 0.3)]
    public void CustomWeights_AreTheNetworksSeededNormalDraws(double mean, double? std)
    {
        const int nin = 6, nout = 4;
        const ulong seed = 21;
        var (net, x) = Net(seed, nin);
        var probe = new Probe(nout, "p", mean, std);
        AttachAndBuild(net, x, probe);
        var w = Assert.Single(probe.Parameters);
        Assert.Equal("p.w", w.Name);
        Assert.Equal([nin, nout], w.ShapeArray);
        double sd = std ?? 1 / Math.Sqrt(nin + nout);
        var rng = new RandomGenerator(seed);
        var want = new double[nin * nout];
        for (int i = 0; i < want.Length; i++) want[i] = mean + sd * rng.NextNormal();
        T.Close(want, w.ToDoubleArray(), 1e-15, 0, $"W ~ N({mean}, {sd}²)");
    }

    /// <summary>The custom node is shape-changing: an edge a Connect user adds into it is an identity (concatenated).</summary>
    [Fact]
    public void CustomNode_ChangesShape()
    {
        var (net, x) = Net(2, 3);
        var y = net.Add(new InputLayer(2, name: "y"));
        var probe = new Probe(4, "p");
        var node = probe.Attach(net, x);
        Assert.True(node.ChangesShape);
        Assert.IsType<IdentityConnection>(net.Connect(y, node));
        net.AddOutput(node);
        net.Build();
        Assert.Equal([5, 4], probe.Parameters.Single().ShapeArray); // 3 + 2 concatenated inputs
    }

    [Fact]
    public void CustomNode_OwnsNoBias()
    {
        var (net, x) = Net(2, 3);
        var node = new Probe(4, "p").Attach(net, x);
        Assert.False(node.UseBias);
        net.AddOutput(node);
        net.Build();
        Assert.Null(node.Bias);
    }

    /// <summary>The custom node still runs the base build: a learned initial state [size] is created.</summary>
    [Fact]
    public void CustomNode_BuildsTheBaseLayersLearnedInitialState()
    {
        var (net, x) = Net(2, 3);
        var node = new Probe(4, "p").Attach(net, x);
        node.LearnInitialState = true;
        net.AddOutput(node);
        net.Build();
        Assert.NotNull(node.InitialState);
        Assert.Equal([4], node.InitialState!.ShapeArray);
    }
}
