using FlexNet.Connections;
using FlexNet.Graph;
using FlexNet.IO;
using FlexNet.Tensors;

namespace FlexNet.Tests.Connections;

/// <summary>The planner's own checks, with whole messages: what a registered layer kind's shape function may return (an
/// output of 1 to 8 positive dimensions, parameters with a name other than the planner's own and 1 to 8 positive
/// dimensions), a kind that rejects its options, and a file whose delay-0 connections form a cycle (session 12:
/// survivors and uncovered mutants of the Connections run).</summary>
public sealed class NetworkFilePlannerCheckTests
{
    private sealed class PkLayer(string? name) : Layer((int[]?)null, "linear", CombineRule.Sum, false, name);

    private static Func<int[], LayerShapes> _shapes = i => new LayerShapes(i, []);

    private static Network Net()
    {
        LayerKinds.Register<PkLayer>("zz_planner_kind", _ => new Dictionary<string, string>(), (n, _) => new PkLayer(n), (i, _) => _shapes(i));
        var net = new Network("n", DType.Float64);
        var p = new PkLayer("p");
        net.ConnectDense(new InputLayer(2, name: "x"), p, units: 3);
        net.AddOutput(p);
        return net;
    }

    public static TheoryData<string, string> Cases => new()
    {
        { "null output", "gives no valid output shape." },
        { "no dimensions", "gives no valid output shape." },
        { "9 dimensions", "gives no valid output shape." },
        { "a zero dimension", "shape [3, 0] has a non-positive size or more than 2147483647 elements." },
        { "a parameter named layer_bias", "gives an invalid parameter 0." },
        { "a parameter named initial_state", "gives an invalid parameter 0." },
        { "an unnamed parameter", "gives an invalid parameter 0." },
        { "a parameter without dimensions", "gives an invalid parameter 0." },
        { "a parameter of 9 dimensions", "gives an invalid parameter 0." },
        { "a parameter with a zero dimension", "shape [0] has a non-positive size or more than 2147483647 elements." },
        { "rejected options", "the registered kind 'zz_planner_kind' rejects its options: option 'x' is bad." },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void ARegisteredKindsShapesAreChecked(string what, string message)
    {
        int[] nine = [1, 1, 1, 1, 1, 1, 1, 1, 1];
        _shapes = what switch
        {
            "null output" => _ => new LayerShapes(null!, []),
            "no dimensions" => _ => new LayerShapes([], []),
            "9 dimensions" => _ => new LayerShapes(nine, []),
            "a zero dimension" => _ => new LayerShapes([3, 0], []),
            "a parameter named layer_bias" => i => new LayerShapes(i, [("layer_bias", [3])]),
            "a parameter named initial_state" => i => new LayerShapes(i, [("initial_state", [3])]),
            "an unnamed parameter" => i => new LayerShapes(i, [("", [3])]),
            "a parameter without dimensions" => i => new LayerShapes(i, [("g", [])]),
            "a parameter of 9 dimensions" => i => new LayerShapes(i, [("g", nine)]),
            "a parameter with a zero dimension" => i => new LayerShapes(i, [("g", [0])]),
            "rejected options" => _ => throw new FormatException("option 'x' is bad."),
            _ => throw new ArgumentException(what),
        };
        try
        {
            var e = Assert.Throws<GraphException>(() => NetworkFile.Image(Net()));
            string who = "Network 'n': layer 'p' (zz_planner_kind) with input [3]: ";
            Assert.Equal(message.StartsWith("shape", StringComparison.Ordinal) || message.StartsWith("the registered", StringComparison.Ordinal)
                             ? who + message
                             : who + "the registered kind 'zz_planner_kind' " + message, e.Message);
        }
        finally
        {
            _shapes = i => new LayerShapes(i, []);
        }
    }

    [Fact]
    public void AnOutputOfEightDimensionsIsAccepted()
    {
        _shapes = _ => new LayerShapes([1, 1, 1, 1, 1, 1, 1, 3], []);
        try
        {
            Assert.Contains("zz_planner_kind", NetworkFile.Image(Net()).Meta["architecture"]);
        }
        finally
        {
            _shapes = i => new LayerShapes(i, []);
        }
    }

    [Fact]
    public void AFileWhoseDelayZeroConnectionsFormACycleIsRefused()
    {
        var net = new Network("c", DType.Float64);
        var x = new InputLayer(2, sequenceLength: 2, name: "x");
        var h = new Layer(2, "tanh", name: "h");
        var g = new Layer(2, "tanh", name: "g");
        net.ConnectDense(x, h);
        net.ConnectDense(h, g);
        net.ConnectDense(g, h, delay: 1);
        net.AddOutput(g);
        net.Compile();
        var (meta, entries) = NetworkFile.Image(net);
        meta["architecture"] = meta["architecture"].Replace("\"delay\":1", "\"delay\":0", StringComparison.Ordinal);
        var e = Assert.Throws<ModelFormatException>(() => NetworkFileMutationGapTests.Load(meta, entries, "c.flexnet"));
        Assert.Equal("model file 'c.flexnet': the delay-0 connections form a cycle through 'h', 'g'; connections within one step must form a DAG.", e.Message);
    }
}
