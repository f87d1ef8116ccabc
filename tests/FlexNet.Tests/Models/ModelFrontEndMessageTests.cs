using FlexNet.Connections;
using FlexNet.Graph;
using FlexNet.Layers;
using FlexNet.Models;
using FlexNet.Tensors;
using static FlexNet.Models.Functional;

namespace FlexNet.Tests.Models;

/// <summary>The refusals of the model front ends (Model, Sequential, feedback chains, spec models, the model registry)
/// with their whole messages and exact exception types; before session 16 none of these messages was asserted (the
/// feedback-chain refusals only by type). The expected messages are written from the rules: what was given, what is
/// needed.</summary>
public sealed class ModelFrontEndMessageTests
{
    [Fact]
    public void Model_AndSequential_RefuseWhatCannotBuild()
    {
        var x = Input(3, name: "x");
        Assert.Equal("Model: at least one output is needed. (Parameter 'outputs')",
                     Assert.Throws<ArgumentException>(() => new Model([x], Array.Empty<SymbolicTensor>(), "m")).Message);

        var h = new Dense(2, name: "h").Call(x);
        var m = new Model(x, h, "m");
        Assert.Equal("Feedback kind must be 'dense' or 'identity'. Received: 'conv' (Parameter 'kind')",
                     Assert.Throws<ArgumentException>(() => m.AddFeedback(h, h, 1, "conv")).Message);

        var empty = new Sequential("empty", DType.Float32, 1) { InputShape = [3] };
        Assert.Equal("Sequential 'empty' has no layers.", Assert.Throws<GraphException>(() => empty.Forward(Tensor.Zeros([2, 3]))).Message);

        var built = new Sequential("built", DType.Float32, 1, new Dense(2, name: "d")) { InputShape = [3] };
        _ = built.Forward(Tensor.Zeros([2, 3]));
        Assert.Equal("Sequential 'built': layers must be added before the first call.",
                     Assert.Throws<GraphException>(() => built.Add(new Dense(2, name: "late"))).Message);
        Assert.Single(built.Layers);
        var open = new Sequential("open", DType.Float32, 1, new Dense(2, name: "d")) { InputShape = [3] };
        Assert.Same(open, open.Add(new Dense(1, name: "e")));
        Assert.Equal(2, open.Layers.Count);
    }

    [Fact]
    public void FeedbackChain_NamesItsSplittersAndMergers()
    {
        Assert.Equal("A feedback chain needs at least one element. (Parameter 'elements')",
                     Assert.Throws<ArgumentException>(() => new FeedbackChain("c", [3], OutputMode.LastStep, DType.Float32, 1)).Message);
        Assert.Equal("Splitter name must be non-empty. (Parameter 'name')", Assert.Throws<ArgumentException>(() => new Splitter("")).Message);
        Assert.Equal("Feedback chain 'dup': Splitter name 'a' is used twice.",
                     Assert.Throws<GraphException>(() => new FeedbackChain("dup", [3], Chain.Splitter("a"), Chain.Dense(3), Chain.Splitter("a"))).Message);
        Assert.Equal("Feedback chain 'bad': Merger 'nope' has no Splitter of that name (splitters: a, b).",
                     Assert.Throws<GraphException>(() => new FeedbackChain("bad", [3], Chain.Splitter("a"), Chain.Dense(3), Chain.Splitter("b"),
                                                                           Chain.Merger("nope", (f, t, d) => new DenseConnection(f, t, d)), Chain.Dense(3))).Message);

        var chain = new FeedbackChain("ok", [3], DType.Float64, 1, Chain.Dense(4, "tanh"), Chain.Splitter("s1"), Chain.Dense(2));
        var state = new Dictionary<string, Tensor> { ["s2"] = Tensor.Zeros([1, 4], DType.Float64) };
        Assert.Equal("Feedback chain 'ok': the state has 's2', which no Splitter records (splitters: s1).",
                     Assert.Throws<GraphException>(() => chain.Step(state, Tensor.Zeros([1, 3], DType.Float64))).Message);
    }

    [Fact]
    public void ModelRegistry_NamesHaveAtMost256Characters()
    {
        string tooLong = new('r', 257);
        Assert.Equal("A model class name has at most 256 characters; got 257. (Parameter 'name')",
                     Assert.Throws<ArgumentException>(() => ModelRegistry.Register(tooLong, _ => new Sequential(new Dense(1)))).Message);
        Assert.DoesNotContain(tooLong, ModelRegistry.Registered);
        string longest = new('r', 256);
        ModelRegistry.Register(longest, _ => new Sequential(new Dense(1)));
        Assert.Contains(longest, ModelRegistry.Registered);
    }

    public static TheoryData<object, string> BadInputSpecs => new()
    {
        { 0, "layers[0] 'in': the input size must be positive; got 0." },
        { -4, "layers[0] 'in': the input size must be positive; got -4." },
        { (3, 0), "layers[0] 'in': an input shape tuple holds positive ints; got (3, 0)." },
        { (3, "x"), "layers[0] 'in': an input shape tuple holds positive ints; got (3, x)." },
        { "in", "layers[0] 'in': an input spec is an int, a shape or a dictionary; got String." },
        { 2.5, "layers[0] 'in': an input spec is an int, a shape or a dictionary; got Double." },
        { new[] { 3, 0 }, "layers[0] 'in': an input shape holds one or more positive ints; got [3, 0]." },
        { Array.Empty<int>(), "layers[0] 'in': an input shape holds one or more positive ints; got []." },
    };

    [Theory]
    [MemberData(nameof(BadInputSpecs))]
    public void SpecModel_InputSpecs_AreCheckedWithTheirValue(object spec, string message) =>
        Assert.Equal(message, Assert.Throws<SpecValidationException>(() => new Regressor(spec, 2)).Message);

    [Fact]
    public void SpecModel_Scores_RefuseMismatchedShapes()
    {
        var c = new Classifier(DataKind.Feedforward, DType.Float64, 3, 2);
        var x = Tensor.Zeros([4, 3], DType.Float64);
        Assert.Equal("Classifier.Score: 4 predictions but 3 labels.",
                     Assert.Throws<ShapeMismatchException>(() => c.Score(x, Tensor.FromArray(new[] { 0, 1, 1 }, 3))).Message);
        // one sample labelled with its predicted class, one with the other class: half right
        var two = Tensor.FromArray(new double[] { 1, 0, 0, -1, 0, 0 }, [2, 3]);
        Assert.Equal(0.5, c.Score(two, Tensor.FromArray(new[] { ArgMaxOf(c, 1), 1 - ArgMaxOf(c, -1) }, 2)));

        var r = new Regressor(DataKind.Feedforward, DType.Float64, 3, 2);
        Assert.Equal("Score: targets [4, 3] and predictions [4, 2] differ in shape.",
                     Assert.Throws<ShapeMismatchException>(() => r.Score(x, Tensor.Zeros([4, 3], DType.Float64))).Message);
    }

    /// <summary>The class the classifier gives the sample (s, 0, 0), computed from its logits in the test.</summary>
    private static int ArgMaxOf(Classifier c, double s)
    {
        var logits = c.Forward(Tensor.FromArray(new double[] { s, 0, 0 }, [1, 3])).ToDoubleArray();
        int best = 0;
        for (int i = 1; i < logits.Length; i++) if (logits[i] > logits[best]) best = i;
        return best;
    }
}
