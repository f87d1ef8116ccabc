using FlexNet.Autodiff;
using FlexNet.Graph;
using FlexNet.Layers;
using FlexNet.Tensors;
using Xunit;

namespace FlexNet.Tests.Layers;

/// <summary>What session 20's rerun of the first 29 files of Layers showed untested in <see cref="Dense"/>: its readable
/// form, an option for a connection kind that does not declare it, and the configuration of a custom kind (the built-in kinds declare no options);
/// and in <see cref="CustomLayer"/>: a parameter it did not declare, a tied partner without exactly one weight, and a
/// non-vector input, each refused whole.</summary>
public sealed class LayerMutationGapTests20
{
    private static Dictionary<string, object> Options(string key, object value) => new() { [key] = value };

    [Fact]
    public void Dense_ToString_NamesUnitsActivationAndKind()
    {
        Assert.Equal("Dense(?, 4)", new Dense(4).ToString());
        Assert.Equal("Dense(d, 4, tanh)", new Dense(4, "tanh", name: "d").ToString());
        Assert.Equal("Dense(e, 3, via elementwise)", new Dense(3, name: "e", connection: "elementwise").ToString());
        Assert.Equal("Dense(k, 3, relu, via complement)", new Dense(3, "relu", name: "k", connection: "Complement").ToString());
    }

    [Fact]
    public void Dense_RefusesAnOptionItsKindDoesNotDeclare_Whole()
    {
        var plain = Assert.Throws<ArgumentException>(() => new Dense(4, name: "d", connectionOptions: Options("rank", 1)));
        Assert.Equal("Dense: connection kind 'dense' has no option 'rank'. Its options: none. (Parameter 'connectionOptions')", plain.Message);
        var kind = Assert.Throws<ArgumentException>(() => new Dense(4, connection: "elementwise", connectionOptions: Options("width", 1)));
        Assert.Equal("Dense: connection kind 'elementwise' has no option 'width'. Its options: none. (Parameter 'connectionOptions')", kind.Message);
        Assert.Empty(new Dense(4, connectionOptions: new Dictionary<string, object>()).ConnectionOptions);
    }

    [Fact]
    public void Dense_ConfigOfACustomKind_NamesTheKind()
    {
        var config = new Dense(3, name: "k", connection: "Elementwise").GetConfig()!;
        Assert.Equal("elementwise", config["connection"]);
        Assert.False(new Dense(3, name: "p").GetConfig()!.ContainsKey("connection"));
    }

    /// <summary>x·W with the weights it is told to declare, reading the one named <paramref name="read"/>.</summary>
    private sealed class Weights(int size, string[] names, string read, string? name = null) : CustomLayer(size, "linear", name)
    {
        protected override void Setup()
        {
            foreach (var n in names) AddWeights(n, InputSize, Size);
        }

        protected override Tensor Transform(Tensor input) => NN.MatMul(input, Find(read));
    }

    private static (Network Net, InputLayer X) Net(params int[] shape)
    {
        var net = new Network("custom", DType.Float64, 3);
        return (net, net.Add(new InputLayer(shape, name: "x")));
    }

    [Fact]
    public void CustomLayer_ReadingAnUndeclaredParameter_NamesTheDeclaredOnes()
    {
        var (net, x) = Net(3);
        net.AddOutput(new Weights(2, ["w", "v"], "u", "c").Attach(net, x));
        var e = Assert.Throws<KeyNotFoundException>(() => net.Forward(Tensor.Ones([1, 3], DType.Float64)));
        Assert.Equal("Layer 'c' has no parameter 'u'; declared: w, v.", e.Message);
    }

    [Fact]
    public void CustomLayer_AsATiedPartner_NeedsExactlyOneWeight()
    {
        foreach (var names in new[] { new[] { "w", "v" }, ["w", "v", "u"] })
        {
            var (net, x) = Net(3);
            var partner = new Weights(2, names, "w", "c");
            var h = partner.Attach(net, x);
            net.AddOutput(new Tied(partner, name: "t").Attach(net, h));
            var e = Assert.Throws<GraphException>(() => net.Forward(Tensor.Ones([1, 3], DType.Float64)));
            Assert.Equal($"Tied: partner 'c' must declare exactly one weight; it has [{string.Join(", ", names)}].", e.Message);
        }
    }

    [Fact]
    public void CustomLayer_TakesVectorInputsOnly()
    {
        var (net, x) = Net(2, 3);
        net.AddOutput(new Weights(2, ["w"], "w", "c").Attach(net, x));
        var e = Assert.Throws<ShapeMismatchException>(() => net.Build());
        Assert.Equal("Custom layer 'c' (Weights) takes vector inputs; got [2, 3].", e.Message);
    }

    private static LayerArgs Args(object value) => new(new Dictionary<string, object> { ["size"] = value }, "layers[0]");

    /// <summary>An integer option given as a long or a double: the int range's ends exactly, and one past.</summary>
    [Fact]
    public void LayerArgs_IntegerOptions_AtTheEndsOfTheIntRange()
    {
        Assert.Equal(int.MaxValue, Args((long)int.MaxValue).OptionalInt("size"));
        Assert.Equal("layers[0]: 'size' must be positive; got -2147483648.",
            Assert.Throws<SpecValidationException>(() => Args((long)int.MinValue).OptionalInt("size")).Message);
        Assert.Equal("layers[0]: 'size' must be an integer; got 2147483648.",
            Assert.Throws<SpecValidationException>(() => Args((long)int.MaxValue + 1).OptionalInt("size")).Message);
        Assert.Equal(2147483646, Args(2147483646.0).OptionalInt("size"));
        Assert.Equal("layers[0]: 'size' must be an integer; got 2147483647.",
            Assert.Throws<SpecValidationException>(() => Args(2147483647.0).OptionalInt("size")).Message);
    }

    /// <summary>The arity message of a layer that takes a range of inputs, bounded and unbounded.</summary>
    [Fact]
    public void CatalogLayer_ArityMessages_NameTheRange()
    {
        var (net, x) = Net(3);
        var e = Assert.Throws<GraphException>(() => new Dense(2, name: "d").Attach(net, []));
        Assert.Equal("Layer 'd' (dense) takes 1 to any number of input(s); got 0.", e.Message);
        var b = new BidirectionalLayer(new GRU(2), name: "b");
        e = Assert.Throws<GraphException>(() => b.Attach(net, [x, x, x]));
        Assert.Equal("Layer 'b' (bidirectional) takes 1 to 2 input(s); got 3.", e.Message);
    }
}
