using FlexNet.Connections;
using FlexNet.Graph;
using FlexNet.IO;
using FlexNet.Tensors;

namespace FlexNet.Tests.Connections;

/// <summary>Defective .flexnet files and state dicts, one defect each, with whole messages: metadata without a format,
/// with a version that is missing, not a number or out of range, without an architecture; tensors that are extra,
/// missing, of another dtype or shape; a state-dict file with an integer tensor or a wrong shape; and the JSON reader's
/// general rules (invalid or too deep JSON, a field twice, names of 0 or 257 characters, integers out of range or not
/// whole, shapes of 0 or 9 dimensions or too many elements). Session 12: these paths had no coverage from the tests a
/// mutation run can afford (the fuzz tests reach them, but take 20 s and assert less).</summary>
public sealed class NetworkFileDefectTests
{
    private static Network One()
    {
        var net = new Network("n", DType.Float64, 2);
        var x = new InputLayer(2, name: "x");
        var h = new Layer(2, name: "h");
        net.ConnectDense(x, h);
        net.AddOutput(h);
        net.Compile();
        return net;
    }

    private static string Refusal(Dictionary<string, string> meta, IEnumerable<SafeTensorEntry> entries) =>
        Assert.Throws<ModelFormatException>(() => NetworkFileMutationGapTests.Load(meta, entries)).Message;

    [Fact]
    public void MetadataDefectsAreNamed()
    {
        var (meta, entries) = NetworkFile.Image(One());
        const string p = "model file 'm.flexnet': ";
        var m = new Dictionary<string, string>(meta);
        m.Remove("format");
        Assert.Equal(p + "metadata 'format' is missing; a model file has format 'flexnet' (a weights-only file loads with LoadStateDict).", Refusal(m, entries));
        foreach (var (version, shown) in new[] { ((string?)null, "missing"), ("x", "'x'"), ("0", "'0'"), ("3", "'3'") })
        {
            m = new Dictionary<string, string>(meta);
            if (version is null) m.Remove("format_version");
            else m["format_version"] = version;
            Assert.Equal(p + $"metadata 'format_version' is {shown}; this FlexNet reads versions 1 to 2.", Refusal(m, entries));
        }
        m = new Dictionary<string, string>(meta);
        m.Remove("architecture");
        Assert.Equal(p + "metadata has no 'architecture'.", Refusal(m, entries));
    }

    [Fact]
    public void TensorDefectsAreNamed()
    {
        var (meta, entries) = NetworkFile.Image(One());
        const string p = "model file 'm.flexnet': ";
        Assert.Equal(p + "tensor 'zz' is not a parameter of the architecture (it has h.weight, h.bias).",
                     Refusal(meta, [.. entries, SafeTensorEntry.FromDoubles("zz", [1], [1.0])]));
        Assert.Equal(p + "no tensor 'h.bias' for the architecture's parameter [2].", Refusal(meta, entries.Where(e => e.Name != "h.bias")));
        Assert.Equal(p + "tensor 'h.weight' has dtype F32; the network is Float64 (F64).",
                     Refusal(meta, entries.Select(e => e.Name == "h.weight" ? SafeTensorEntry.FromFloats("h.weight", [2, 2], [1f, 2, 3, 4]) : e)));
        Assert.Equal(p + "tensor 'h.weight' has shape [4]; the architecture needs [2, 2].",
                     Refusal(meta, entries.Select(e => e.Name == "h.weight" ? SafeTensorEntry.FromDoubles("h.weight", [4], [1.0, 2, 3, 4]) : e)));
    }

    [Fact]
    public void AStateDictFileWithAnIntegerTensorOrAnotherShapeIsRefused()
    {
        var dir = Directory.CreateTempSubdirectory("flexnet-sd-");
        try
        {
            var net = One();
            string path = Path.Combine(dir.FullName, "w.safetensors");
            SafeTensorWriter.Write(path, null, [SafeTensorEntry.FromInt32s("h.weight", [2, 2], [1, 2, 3, 4]), SafeTensorEntry.FromDoubles("h.bias", [2], [0.5, 1])]);
            var e = Assert.Throws<ModelFormatException>(() => net.LoadStateDict(path));
            Assert.Equal($"state dict '{path}': tensor 'h.weight' has dtype I32; a parameter needs a floating-point dtype.", e.Message);
            SafeTensorWriter.Write(path, null, [SafeTensorEntry.FromDoubles("h.weight", [4], [1.0, 2, 3, 4]), SafeTensorEntry.FromDoubles("h.bias", [2], [0.5, 1])]);
            e = Assert.Throws<ModelFormatException>(() => net.LoadStateDict(path));
            Assert.Equal($"state dict '{path}': tensor 'h.weight' has shape [4]; network 'n' needs [2, 2].", e.Message);
            SafeTensorWriter.Write(path, null, [SafeTensorEntry.FromFloats("h.weight", [2, 2], [1f, 2, 3, 4]), SafeTensorEntry.FromDoubles("h.bias", [2], [0.5, 1])]);
            net.LoadStateDict(path);
            Assert.Equal([1.0, 2, 3, 4], net.StateDict()["h.weight"].ToDoubleArray());
            Assert.Equal([0.5, 1], net.StateDict()["h.bias"].ToDoubleArray());
        }
        finally
        {
            dir.Delete(true);
        }
    }

    private static string Arch() => NetworkFile.Image(One()).Meta["architecture"];

    private static string JsonRefusal(string json) =>
        Assert.Throws<ModelFormatException>(() => NetworkFileCodec.FromJson(json, m => new ModelFormatException(m), 1, false)).Message;

    [Fact]
    public void TheJsonReadersGeneralRulesNameTheirField()
    {
        string a = Arch();
        Assert.StartsWith("the architecture is not valid JSON (or is nested deeper than 16): ", JsonRefusal(a[..^1]));
        string deep = new string('[', 17) + new string(']', 17);
        Assert.StartsWith("the architecture is not valid JSON (or is nested deeper than 16): ", JsonRefusal(a.Replace("\"stateful\":false", $"\"stateful\":{deep}", StringComparison.Ordinal)));
        Assert.Equal("architecture must be a JSON object; got Array.", JsonRefusal("[]"));
        Assert.Equal("network has the field 'stateful' twice.", JsonRefusal(a.Replace("\"stateful\":false", "\"stateful\":false,\"stateful\":false", StringComparison.Ordinal)));
        Assert.Equal("layers[1].name must be a name of 1 to 256 characters; got 0 characters.", JsonRefusal(a.Replace("\"name\":\"h\"", "\"name\":\"\"", StringComparison.Ordinal)));
        string longName = new('q', 257);
        Assert.Equal("layers[1].name must be a name of 1 to 256 characters; got 257 characters.", JsonRefusal(a.Replace("\"name\":\"h\"", $"\"name\":\"{longName}\"", StringComparison.Ordinal)));
        Assert.Equal("connections[0].delay must be an integer in [0, 65536]; got 65537.", JsonRefusal(a.Replace("\"delay\":0", "\"delay\":65537", StringComparison.Ordinal)));
        Assert.Equal("connections[0].delay must be an integer in [0, 65536]; got -1.", JsonRefusal(a.Replace("\"delay\":0", "\"delay\":-1", StringComparison.Ordinal)));
        Assert.Equal("connections[0].delay must be an integer in [0, 65536]; got 1.5.", JsonRefusal(a.Replace("\"delay\":0", "\"delay\":1.5", StringComparison.Ordinal)));
        Assert.Equal("layers[0].shape must have 1 to 8 dimensions; got 0.", JsonRefusal(a.Replace("\"shape\":[2]", "\"shape\":[]", StringComparison.Ordinal)));
        Assert.Equal("layers[0].shape must have 1 to 8 dimensions; got 9.", JsonRefusal(a.Replace("\"shape\":[2]", "\"shape\":[1,1,1,1,1,1,1,1,1]", StringComparison.Ordinal)));
        Assert.Equal("layers[0].shape[1] must be an integer in [1, 2147483647]; got 0.", JsonRefusal(a.Replace("\"shape\":[2]", "\"shape\":[2,0]", StringComparison.Ordinal)));
        Assert.Equal("layers[0].shape has more than 2147483647 elements.", JsonRefusal(a.Replace("\"shape\":[2]", "\"shape\":[65536,32768]", StringComparison.Ordinal)));
        // at the limit itself the shape is read (the network then fails elsewhere, not on the shape)
        Assert.DoesNotContain("elements", JsonRefusal(a.Replace("\"shape\":[2]", "\"shape\":[2147483647,1]", StringComparison.Ordinal).Replace("\"kind\":\"layer\"", "\"kind\":\"nope\"", StringComparison.Ordinal)));
    }
}
