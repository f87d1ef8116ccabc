using FlexNet.Layers;
using Xunit;

namespace FlexNet.Tests.Layers;

/// <summary>What session 20's rerun of the first 29 files of Layers showed untested in <see cref="Dense"/>: its readable
/// form, an option for a connection kind that does not declare it, and the configuration of a custom kind (the built-in kinds declare no options).</summary>
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
}
