using FlexNet.Graph;
using FlexNet.Layers;
using FlexNet.Tensors;

namespace FlexNet.Tests.Layers;

/// <summary>The factories of the registered forms that can fail at run time (session 11: the rest of
/// <see cref="LayerRegistry"/>'s survivors sit in its static constructor, which Stryker cannot switch): the <c>tied</c>
/// form's partner checks and the spec path a <c>classifier</c> hands to its connection kind, each with the whole
/// message.</summary>
public sealed class LayerRegistryFactoryTests
{
    private static LayerArgs Args(string path, Func<string, CatalogLayer?>? lookup, params (string Key, object Value)[] values)
    {
        var d = new Dictionary<string, object>();
        foreach (var (k, v) in values) d[k] = v;
        return new LayerArgs(d, path, lookup);
    }

    [Fact]
    public void TiedNamesAMissingUnknownOrUnfitPartnerWithTheSpecPath()
    {
        var enc = new Dense(3, name: "enc");
        var flat = new Flatten("fl");
        Func<string, CatalogLayer?> lookup = n => n switch { "enc" => enc, "fl" => flat, _ => null };
        var e = Assert.Throws<SpecValidationException>(() => LayerRegistry.Create("tied", Args("layers[2] 'dec'", lookup)));
        Assert.Equal("layers[2] 'dec': missing 'partner' (the name of the layer whose weight is shared).", e.Message);
        e = Assert.Throws<SpecValidationException>(() => LayerRegistry.Create("tied", Args("layers[2] 'dec'", lookup, ("partner", "nope"))));
        Assert.Equal("layers[2] 'dec': partner 'nope' does not name an earlier layer.", e.Message);
        // no lookup at all (a spec read outside a chain): the partner cannot be found either
        e = Assert.Throws<SpecValidationException>(() => LayerRegistry.Create("tied", Args("layers[4]", null, ("partner", "enc"))));
        Assert.Equal("layers[4]: partner 'enc' does not name an earlier layer.", e.Message);
        e = Assert.Throws<SpecValidationException>(() => LayerRegistry.Create("tied", Args("layers[2] 'dec'", lookup, ("partner", "fl"))));
        Assert.Equal("layers[2] 'dec': partner 'fl' (flatten) has no single weight to share.", e.Message);

        var tied = Assert.IsType<Tied>(LayerRegistry.Create("tied", Args("layers[2] 'dec'", lookup, ("partner", "enc"), ("name", "dec"), ("activation", "relu"))));
        Assert.Equal("dec", tied.Name);
        Assert.Equal("tied", tied.Form);
    }

    [Fact]
    public void AClassifierHandsItsSpecPathToAConnectionKindThatRefusesAnEdge()
    {
        ConnectionRegistry.Register("lgr_refuses", "test-only kind whose factory refuses every edge", _ => throw new ArgumentException("this edge is refused"));
        var net = new Network("spec-path", DType.Float64, 1);
        var x = net.Add(new InputLayer([2], name: "x"));
        var layer = LayerRegistry.Create("classifier", Args("layers[1] 'out'", null, ("size", 3), ("connection", "lgr_refuses"), ("name", "out")));
        var e = Assert.Throws<SpecValidationException>(() => layer.Attach(net, x));
        Assert.Equal("layers[1] 'out' connection 'lgr_refuses': this edge is refused", e.Message);
        // a Dense made from a spec does the same (the dense form's own factory)
        var dense = LayerRegistry.Create("dense", Args("layers[0] 'hid'", null, ("size", 3), ("connection", "lgr_refuses"), ("name", "hid")));
        e = Assert.Throws<SpecValidationException>(() => dense.Attach(net, x));
        Assert.Equal("layers[0] 'hid' connection 'lgr_refuses': this edge is refused", e.Message);
    }
}
