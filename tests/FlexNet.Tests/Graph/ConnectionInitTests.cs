using FlexNet.Autodiff;
using FlexNet.Connections;
using FlexNet.Graph;
using FlexNet.IO;
using FlexNet.Layers;
using FlexNet.Tensors;

namespace FlexNet.Tests.Graph;

/// <summary>Connect-API connections take the catalog layers' init settings (scheme names, attributes, seeds): the
/// weight distributions change as the schemes say (checked against their formulas with hand-written statistics), and
/// model files keep the settings (format version 2).</summary>
public sealed class ConnectionInitTests
{
    private static (Network Net, DenseConnection C) Dense(LayerInit? init, ulong seed = 1, int inF = 400, int outF = 300)
    {
        var net = new Network("n", DType.Float64, seed);
        var x = new InputLayer(inF, name: "x");
        var h = new Layer(outF, name: "h");
        var c = net.ConnectDense(x, h, init: init);
        net.Compile();
        return (net, c);
    }

    private static (double Std, double MaxAbs) Stats(Tensor t)
    {
        var v = t.ToDoubleArray();
        double mean = 0, sq = 0, max = 0;
        foreach (double d in v) mean += d;
        mean /= v.Length;
        foreach (double d in v)
        {
            sq += (d - mean) * (d - mean);
            max = Math.Max(max, Math.Abs(d));
        }
        return (Math.Sqrt(sq / v.Length), max);
    }

    [Fact]
    public void DenseSchemes_ChangeTheDistributionAsTheirFormulasSay()
    {
        const int inF = 400, outF = 300;
        var (defStd, defMax) = Stats(Dense(null).C.Weight);
        double torchBound = 1 / Math.Sqrt(inF);
        Assert.True(defMax <= torchBound && Math.Abs(defStd - torchBound / Math.Sqrt(3)) < 0.02 * torchBound, $"default: std {defStd}, max {defMax}");

        var (heStd, _) = Stats(Dense("he_normal").C.Weight);
        Assert.True(Math.Abs(heStd - Math.Sqrt(2.0 / inF)) < 0.02 * Math.Sqrt(2.0 / inF), $"he_normal std {heStd}");

        double glorot = Math.Sqrt(6.0 / (inF + outF));
        var (gStd, gMax) = Stats(Dense("glorot_uniform").C.Weight);
        Assert.True(gMax <= glorot && gMax > 0.99 * glorot && Math.Abs(gStd - glorot / Math.Sqrt(3)) < 0.02 * glorot, $"glorot_uniform: std {gStd}, max {gMax}");

        var (net, zeros) = Dense("zeros");
        Assert.All(zeros.Weight.ToDoubleArray(), w => Assert.Equal(0.0, w));
        Assert.All(zeros.Bias!.ToDoubleArray(), b => Assert.Equal(0.0, b));
        _ = net;

        // theanets attributes: N(mean, std) with 90% of the off-diagonal entries zeroed
        var (_, sparse) = Dense(new LayerInit(null, [new("mean", 0), new("std", 0.5), new("sparsity", 0.9)]));
        var w = sparse.Weight.ToDoubleArray();
        double zeroFraction = w.Count(d => d == 0) / (double)w.Length;
        Assert.InRange(zeroFraction, 0.88, 0.92);
    }

    [Fact]
    public void ConvSeedsAndElementwise_FollowTheirSettings()
    {
        var net = new Network("c", DType.Float64, 3);
        var x = new InputLayer([8, 10, 10], name: "x");
        var h = new Layer([16, 10, 10], name: "h");
        var conv = net.ConnectConv2d(x, h, 3, padding: Padding.Same, init: "he_uniform");
        var e = net.ConnectElementwise(h, h, delay: 1, init: new LayerInit(null, [new("mean_weight", 0.5), new("std_weight", 0)])); // default: ones
        net.Steps = 2;
        net.Compile();
        double bound = Math.Sqrt(6.0 / (8 * 9));
        var (std, max) = Stats(conv.Weight);
        Assert.True(max <= bound && max > 0.98 * bound && Math.Abs(std - bound / Math.Sqrt(3)) < 0.03 * bound, $"he_uniform conv: std {std}, max {max}; bound {bound}");
        Assert.All(e.Parameters[0].ToDoubleArray(), v => Assert.Equal(0.5, v));

        // a per-connection seed gives the same weights whatever the network's seed
        var a = Dense(new LayerInit("orthogonal", seed: 42), seed: 1, inF: 6, outF: 4).C.Weight.ToDoubleArray();
        var b = Dense(new LayerInit("orthogonal", seed: 42), seed: 2, inF: 6, outF: 4).C.Weight.ToDoubleArray();
        var c = Dense(new LayerInit("orthogonal"), seed: 2, inF: 6, outF: 4).C.Weight.ToDoubleArray();
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
        // orthogonal rows: W Wᵀ = I for W [4, 6]
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++)
            {
                double dot = 0;
                for (int k = 0; k < 6; k++) dot += a[i * 6 + k] * a[j * 6 + k];
                Assert.Equal(i == j ? 1.0 : 0.0, dot, 1e-9);
            }

        var built = Dense(null).C;
        Assert.Throws<GraphException>(() => built.WithInit("zeros"));
        Assert.Throws<SpecValidationException>(() => Dense("no_such_scheme"));
    }

    [Fact]
    public void ModelFiles_KeepConnectionInit()
    {
        var (net, c) = Dense(new LayerInit("glorot_normal", [new("std_bias", 0.25)], seed: 12345678901234UL), inF: 5, outF: 3);
        var (meta, entries) = NetworkFile.Image(net);
        Assert.Equal("2", meta["format_version"]);
        Assert.Contains("\"init\":{\"scheme\":\"glorot_normal\",\"seed\":\"12345678901234\",\"attributes\":{\"std_bias\":0.25}}", meta["architecture"]);
        byte[] bytes = SafeTensorWriter.ToBytes(meta, entries);
        var back = NetworkFile.FromFile(SafeTensorFile.Parse(bytes, "i.flexnet"), "i.flexnet");
        var init = ConnectionInit.InitOf(back.Connections[0])!;
        Assert.Equal("glorot_normal", init.Scheme);
        Assert.Equal(12345678901234UL, init.Seed);
        Assert.Equal(0.25, init.Attributes["std_bias"]);
        var (m2, e2) = NetworkFile.Image(back);
        Assert.Equal(bytes, SafeTensorWriter.ToBytes(m2, e2));
        Assert.Equal(c.Weight.ToDoubleArray(), ((DenseConnection)back.Connections[0]).Weight.ToDoubleArray());
        // a network without init settings keeps writing version 1
        Assert.Equal("1", NetworkFile.Image(Dense(null, inF: 2, outF: 2).Net).Meta["format_version"]);
        // version 1 has no init: a v1 file carrying one is refused
        var v1 = SafeTensorWriter.ToBytes(new Dictionary<string, string>(meta) { ["format_version"] = "1", ["architecture"] = meta["architecture"].Replace("\"format_version\":2", "\"format_version\":1", StringComparison.Ordinal) }, entries);
        Assert.Contains("'init'", Assert.Throws<ModelFormatException>(() => NetworkFile.FromFile(SafeTensorFile.Parse(v1, "v1.flexnet"), "v1.flexnet")).Message);
    }
}
