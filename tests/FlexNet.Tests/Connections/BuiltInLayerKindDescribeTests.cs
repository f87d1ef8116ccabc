using FlexNet.Connections;
using FlexNet.Graph;
using FlexNet.Layers;

namespace FlexNet.Tests.Connections;

/// <summary>What each of FlexNet's own layer kinds writes into a <c>.flexnet</c> file (its options map) and the parameters
/// its shape function predicts, against maps and shapes written out here from the layers' constructor arguments. The
/// round-trip tests compare a loaded layer with the saved one, so a kind that forgets an option whose default the load
/// happens to give back (a dropout or noise seed left out gives a fresh random seed, not a failure) passes them.</summary>
public sealed class BuiltInLayerKindDescribeTests
{
    private static void AssertOptions(Layer layer, string kind, params (string Key, string Value)[] expected)
    {
        var entry = LayerKinds.Find(kind)!;
        Assert.Equal(kind, entry.Kind);
        Assert.Same(entry, LayerKinds.Find(layer.GetType()));
        var got = entry.Describe(layer);
        Assert.Equal(expected.Length, got.Count);
        foreach (var (k, v) in expected)
        {
            Assert.True(got.TryGetValue(k, out var text), $"'{kind}' does not write option '{k}'");
            Assert.Equal(v, text);
        }
    }

    [Fact]
    public void EachKindWritesEveryOptionOfItsLayer()
    {
        AssertOptions(new BatchNormLayer(0.25, 0.001, "bn"), "batchnorm", ("momentum", "0.25"), ("epsilon", "0.001"));
        AssertOptions(new DropoutLayer(0.3, 77UL, "d"), "dropout", ("rate", "0.3"), ("seed", "77"));
        AssertOptions(new DropoutLayer(0.3, null, "d"), "dropout", ("rate", "0.3"));
        AssertOptions(new GaussianNoiseLayer(0.125, 18446744073709551615UL, "g"), "gaussian_noise", ("std", "0.125"), ("seed", "18446744073709551615"));
        AssertOptions(new GaussianNoiseLayer(0.125, null, "g"), "gaussian_noise", ("std", "0.125"));
        AssertOptions(new LayerNormLayer(0.002, "ln"), "layernorm", ("epsilon", "0.002"));
        AssertOptions(new LocalResponseNormLayer(7, 0.0002, 0.5, 2.5, "lrn"), "lrn", ("size", "7"), ("alpha", "0.0002"), ("beta", "0.5"), ("k", "2.5"));
        AssertOptions(new EmbeddingLayer(12, 5, "e"), "embedding", ("vocabulary", "12"), ("dimension", "5"));
    }

    private static Dictionary<string, string> O(params (string K, string V)[] kv)
    {
        var d = new Dictionary<string, string>();
        foreach (var (k, v) in kv) d[k] = v;
        return d;
    }

    private static void AssertShapes(LayerShapes s, int[] output, params (string Name, int[] Shape)[] parameters)
    {
        Assert.Equal(output, s.Output);
        Assert.Equal(parameters.Length, s.Parameters.Count);
        for (int i = 0; i < parameters.Length; i++)
        {
            Assert.Equal(parameters[i].Name, s.Parameters[i].Name);
            Assert.Equal(parameters[i].Shape, s.Parameters[i].Shape);
        }
    }

    [Fact]
    public void EachKindPredictsItsOutputAndParametersFromTheInputShape()
    {
        // batch norm over channels: one value per channel (the first axis of [C, H, W])
        AssertShapes(LayerKinds.Find("batchnorm")!.Shapes([3, 4, 5], O(("momentum", "0.1"), ("epsilon", "1e-5"))), [3, 4, 5],
            ("gamma", [3]), ("beta", [3]), ("running_mean", [3]), ("running_var", [3]));
        // layer norm over the last axis
        AssertShapes(LayerKinds.Find("layernorm")!.Shapes([3, 4, 5], O(("epsilon", "1e-5"))), [3, 4, 5], ("gamma", [5]), ("beta", [5]));
        AssertShapes(LayerKinds.Find("dropout")!.Shapes([6, 2], O(("rate", "0.5"))), [6, 2]);
        AssertShapes(LayerKinds.Find("gaussian_noise")!.Shapes([6, 2], O(("std", "0.5"))), [6, 2]);
        AssertShapes(LayerKinds.Find("lrn")!.Shapes([4, 3, 3], O(("size", "3"), ("alpha", "1e-4"), ("beta", "0.75"), ("k", "1"))), [4, 3, 3]);
        // an embedding appends its dimension to the index shape; its table is [vocabulary, dimension]
        AssertShapes(LayerKinds.Find("embedding")!.Shapes([7], O(("vocabulary", "11"), ("dimension", "4"))), [7, 4], ("weight", [11, 4]));
        // each shape function checks the options as the layer's constructor does
        var e = Assert.Throws<FormatException>(() => LayerKinds.Find("batchnorm")!.Shapes([3], O(("momentum", "0.1"))));
        Assert.Equal("option 'epsilon' is missing.", e.Message);
        e = Assert.Throws<FormatException>(() => LayerKinds.Find("layernorm")!.Shapes([3], O()));
        Assert.Equal("option 'epsilon' is missing.", e.Message);
        e = Assert.Throws<FormatException>(() => LayerKinds.Find("lrn")!.Shapes([3, 2], O(("size", "3"), ("alpha", "1e-4"), ("beta", "0.75"))));
        Assert.Equal("option 'k' is missing.", e.Message);
        e = Assert.Throws<FormatException>(() => LayerKinds.Find("embedding")!.Shapes([3], O(("vocabulary", "0"), ("dimension", "4"))));
        Assert.Equal("option 'vocabulary' is '0', not an integer from 1 to 2147483647.", e.Message);
    }
}
