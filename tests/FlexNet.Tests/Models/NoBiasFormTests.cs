using FlexNet.Layers;
using FlexNet.Models;
using FlexNet.Tensors;
using FlexNet.Tests.Testing;
using FlexNet.Autodiff;

namespace FlexNet.Tests.Models;

/// <summary>The built-in <c>nobias</c> form (theanets' documented custom layer): the README's and theanets' tied
/// autoencoder <c>(4, (3, "nobias", "linear"), (4, "tied", "linear"))</c> builds without registering anything.</summary>
public class NoBiasFormTests
{
    [Fact]
    public void IsRegisteredAndBuildsADenseLayerWithoutBias()
    {
        Assert.True(LayerRegistry.IsRegistered("nobias"));
        var layer = Assert.IsType<Dense>(CatalogLayer.Build("nobias", size: 3));
        Assert.False(layer.UseBias);
        Assert.Equal(3, layer.Units);
    }

    [Fact]
    public void TiedAutoencoderMatchesHandLoops()
    {
        var ae = new Autoencoder(DataKind.Feedforward, DType.Float64, 4, (3, "nobias", "linear"), (4, "tied", "linear"));
        Assert.Equal(["in", "hid1", "out"], ae.LayerNames);
        Assert.Equal("nobias", ae.CanonicalSpecs[1]!["form"]);
        // one weight W [3, 4] (hid1, no bias) shared by the decoder, which owns only its bias b [4]
        var ps = ae.NamedParameters;
        Assert.Equal(2, ps.Count);
        var w = ((Dense)ae.Layer("hid1")).Weight;
        Assert.Equal([3, 4], w.ShapeArray);
        Assert.Null(((Dense)ae.Layer("hid1")).Bias);
        var b = ps.Single(p => p.Name.StartsWith("out", StringComparison.Ordinal)).Value;
        Assert.Equal([4], b.ShapeArray);
        using (FlexNet.Autodiff.Autograd.NoGrad()) b.CopyFrom(b + 0.5); // a zero bias would hide a missing one

        const int n = 5;
        var x = T.Rand(7, n, 4).Detach();
        var xs = x.ToDoubleArray();
        var ws = w.ToDoubleArray();
        var bs = b.ToDoubleArray();
        var code = new double[n * 3];
        var expected = new double[n * 4];
        for (int r = 0; r < n; r++)
        {
            for (int k = 0; k < 3; k++)
                for (int i = 0; i < 4; i++) code[r * 3 + k] += xs[r * 4 + i] * ws[k * 4 + i];   // h = x·Wᵀ
            for (int j = 0; j < 4; j++)
            {
                double s = bs[j];
                for (int k = 0; k < 3; k++) s += code[r * 3 + k] * ws[k * 4 + j];           // y = h·W + b
                expected[r * 4 + j] = s;
            }
        }
        T.Close(code, ae.Encode(x).ToDoubleArray(), 1e-12, 1e-12, "code");
        T.Close(expected, ae.Predict(x).ToDoubleArray(), 1e-12, 1e-12, "reconstruction");
    }

    [Fact]
    public void RejectsAnUnknownOptionNamingTheLayer()
    {
        var e = Assert.Throws<SpecValidationException>(() =>
            new Autoencoder(4, new Dictionary<string, object> { ["form"] = "nobias", ["size"] = 3, ["bias"] = true }, (4, "tied")));
        Assert.Contains("layers[1]", e.Message);
        Assert.Contains("bias", e.Message);
    }
}
