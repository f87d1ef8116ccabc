using FlexNet.Layers;

namespace FlexNet.Tests.Layers;

/// <summary>The built-in layer catalog (what <c>flexnet layers</c> lists and specs may name) against a table written
/// here: every form in registration order, its aliases, its parameter keys, and a description that says something.
/// <see cref="LayerRegistry"/> registers these in its static constructor, which Stryker cannot switch, so this table
/// is what catches a dropped registration or a blanked name, alias, description or parameter (each planted by hand).</summary>
public sealed class LayerCatalogTableTests
{
    private static readonly string[] Init = ["init", "rng", "mean,", "mean_PARAM,"];
    private static readonly string[] Rec = ["size", "return_sequences", "direction", "input_width", .. Init];
    private static readonly string[] Conv = ["size", "filter_size", "stride", "padding", "activation", "bias", "dilation", .. Init];
    private static readonly string[] Pool = ["mode", "size", "stride", "padding"];

    /// <summary>Form, aliases, and the first word of each parameter hint, in registration order.</summary>
    private static readonly (string Name, string[] Aliases, string[] Keys)[] Expected =
    [
        ("dense", ["ff", "feedforward"], ["size", "activation", "bias", "connection", .. Init]),
        ("nobias", [], ["size", "activation", .. Init]),
        ("classifier", ["softmax"], ["size", "connection", .. Init]),
        ("tied", [], ["partner", "activation"]),
        ("concatenate", ["concat"], []),
        ("add", [], []),
        ("product", ["prod"], []),
        ("flatten", ["flat"], []),
        ("reshape", [], ["shape"]),
        ("dropout", [], ["rate", "rng"]),
        ("noise", ["gaussiannoise"], ["std", "rng"]),
        ("conv1", ["conv1d"], Conv),
        ("conv2", ["conv2d"], Conv),
        ("conv2t", ["conv2dtranspose"], ["size", "filter_size", "stride", "padding", "output_padding", "activation", "bias", .. Init]),
        ("pool1", [], Pool),
        ("pool2", [], Pool),
        ("globalpool", [], ["mode"]),
        ("batchnorm", ["bn"], ["momentum", "epsilon"]),
        ("layernorm", [], ["epsilon"]),
        ("lrn", [], ["size", "alpha", "beta", "k"]),
        ("embedding", [], ["vocabulary", "size", .. Init]),
        ("rnn", [], [.. Rec, "activation"]),
        ("gru", [], Rec),
        ("lstm", [], [.. Rec, "peepholes"]),
        ("rrnn", [], [.. Rec, "rate", "activation"]),
        ("mut1", [], Rec),
        ("mrnn", [], [.. Rec, "factors", "activation"]),
        ("scrn", [], [.. Rec, "rate", "activation"]),
        ("clockwork", [], [.. Rec, "periods", "activation"]),
        ("bidirectional", ["bdrnn"], ["worker", "size", "return_sequences", .. Init]),
    ];

    [Fact]
    public void BuiltInFormsAliasesAndParameterKeysAreTheCatalog()
    {
        var forms = LayerRegistry.Forms;
        Assert.True(forms.Count >= Expected.Length, $"{forms.Count} forms registered, {Expected.Length} built in");
        for (int i = 0; i < Expected.Length; i++)
        {
            var (name, aliases, keys) = Expected[i];
            var f = forms[i];
            Assert.Equal(name, f.Name);
            Assert.Equal(aliases, f.Aliases);
            var first = new string[f.Parameters.Count];
            for (int j = 0; j < first.Length; j++) first[j] = f.Parameters[j].Split(' ')[0];
            Assert.Equal(keys, first);
            // a hint is more than its key wherever the catalog gives one (the keys alone: "stride", "rng", "epsilon" ...)
            foreach (var p in f.Parameters) Assert.False(string.IsNullOrWhiteSpace(p), $"form '{name}' has a blank parameter hint");
            Assert.True(f.Description.Length >= 10, $"form '{name}' has description \"{f.Description}\"");
            foreach (var a in aliases)
            {
                Assert.True(LayerRegistry.IsRegistered(a), $"alias '{a}' of '{name}' is not registered");
                Assert.Same(f, LayerRegistry.Describe(a));
            }
            Assert.Same(f, LayerRegistry.Describe(name));
        }
    }
}
