using System.Text.Json.Nodes;
using FlexNet.Connections;
using FlexNet.Graph;
using FlexNet.IO;
using FlexNet.Tensors;

namespace FlexNet.Tests.Connections;

/// <summary>The planner's own copy of the transposed convolution's output rule, for a file that gives no output
/// padding (the connection infers it from its target): each axis needs 0 ≤ target − ((in − 1)·stride − 2·pad +
/// dilation·(k − 1) + 1) &lt; max(stride, dilation), checked before the network is built (session 12: the survivors
/// of the Connections rerun at that check).</summary>
public sealed class NetworkFilePlannerTransposedTests
{
    // [2, 3, 3] → 3x3, stride 2, padding 1: (3 − 1)·2 − 2 + 2 + 1 = 5 rows and columns before output padding, which
    // may be 0 or 1 (below the stride)
    private static (Dictionary<string, string> Meta, List<SafeTensorEntry> Entries) Saved()
    {
        var net = new Network("t", DType.Float64, 4);
        var x = new InputLayer([2, 3, 3], name: "x");
        var y = new Layer([3, 6, 6], name: "y");
        net.Connect(new ConvTranspose2dConnection(x, y, 3, 2, 1));
        net.AddOutput(y);
        net.Compile();
        return NetworkFile.Image(net);
    }

    /// <summary>The saved file with layer y's declared shape set to [3, h, w], without an output padding.</summary>
    private static Dictionary<string, string> WithTarget(Dictionary<string, string> meta, int h, int w)
    {
        var root = JsonNode.Parse(meta["architecture"])!;
        var layers = root["layers"]!.AsArray();
        bool found = false;
        foreach (var l in layers)
        {
            if ((string)l!["name"]! != "y") continue;
            l["shape"] = new JsonArray(3, h, w);
            found = true;
        }
        Assert.True(found);
        // the file leaves the output padding to the target (null: written as a number only when both axes have the same)
        var conn = (JsonObject)root["connections"]![0]!;
        Assert.Equal(1, (int)conn["output_padding"]!);
        conn["output_padding"] = null;
        return new Dictionary<string, string>(meta) { ["architecture"] = root.ToJsonString() };
    }

    [Theory]
    [InlineData(5, 5)]
    [InlineData(6, 6)]
    [InlineData(5, 6)]
    [InlineData(6, 5)]
    public void ATargetTheRuleReachesLoads(int h, int w)
    {
        var (meta, entries) = Saved();
        var net = NetworkFileMutationGapTests.Load(WithTarget(meta, h, w), entries);
        var y = net.Outputs[0].Layer;
        Assert.Equal([3, h, w], y.OutputShape!);
    }

    [Theory]
    [InlineData(7, 5)]
    [InlineData(4, 5)]
    [InlineData(5, 7)]
    [InlineData(5, 4)]
    public void ATargetOutOfReachInEitherAxisIsRefusedBeforeBuilding(int h, int w)
    {
        var (meta, entries) = Saved();
        var e = Assert.Throws<ModelFormatException>(() => NetworkFileMutationGapTests.Load(WithTarget(meta, h, w), entries));
        Assert.Equal("model file 'm.flexnet': connection 'x->y' (conv_transpose2d) from 'x' [2, 3, 3] to 'y': 3x3 stride 2 padding 1 dilation 1 " +
                     $"gives [3, 5+p, 5+q] with output paddings 0 <= p, q < 2, which cannot reach the target [3, {h}, {w}].", e.Message);
    }
}
