using FlexNet.Graph;

namespace FlexNet.Tests.Architecture;

/// <summary>One node vocabulary: every node of every network is a <see cref="Layer"/> — the plain one, a public layer
/// kind, or a private node of the one extension point (a custom layer) deriving from <see cref="Layer"/> directly. No
/// second, hidden node base.</summary>
public class NodeTypeTests
{
    [Fact]
    public void EveryNonPublicLayerTypeDerivesFromLayerDirectly()
    {
        var offenders = typeof(Layer).Assembly.GetTypes()
            .Where(t => typeof(Layer).IsAssignableFrom(t) && t != typeof(Layer) && !t.IsVisible && t.BaseType != typeof(Layer))
            .Select(t => $"{t.FullName} : {t.BaseType?.FullName}")
            .ToList();
        Assert.True(offenders.Count == 0, "non-public node types with a second base: " + string.Join("; ", offenders));
        Assert.Null(typeof(Layer).Assembly.GetType("FlexNet.Layers.CatalogNode"));
    }
}
