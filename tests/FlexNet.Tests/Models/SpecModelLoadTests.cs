using System.Diagnostics;
using FlexNet.IO;
using FlexNet.Models;
using FlexNet.Tests.IO;

namespace FlexNet.Tests.Models;

/// <summary>SpecModel.Load on hostile files: typed errors naming the file and the spec path, no allocation out of
/// proportion to the file, no silent acceptance of undefined enum values or non-finite weights.</summary>
public sealed class SpecModelLoadTests
{
    private static byte[] Saved(out string spec)
    {
        string dir = TestFiles.NewTempDir();
        try
        {
            string path = Path.Combine(dir, "m.safetensors");
            new Regressor(4, new Dictionary<string, object> { ["size"] = 3, ["name"] = "hid1" }, 2).SaveSpecWeights(path); // the spec-weights format (the .flexnet format: ModelFileTests, NetworkFileFuzzTests)
            spec = SafeTensorFile.Read(path).Metadata["spec"];
            return File.ReadAllBytes(path);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>A copy of the saved model with its metadata and tensors changed.</summary>
    internal static byte[] Edit(byte[] image, Action<Dictionary<string, string>>? meta = null, Func<List<SafeTensorEntry>, List<SafeTensorEntry>>? tensors = null)
    {
        var f = SafeTensorFile.Parse(image, "seed");
        var m = new Dictionary<string, string>(f.Metadata, StringComparer.Ordinal);
        meta?.Invoke(m);
        var list = f.Tensors.ToList();
        if (tensors is not null) list = tensors(list);
        return SafeTensorWriter.ToBytes(m, list);
    }

    private static Exception? LoadBytes(byte[] image, out string path)
    {
        string dir = TestFiles.NewTempDir();
        path = Path.Combine(dir, "hostile.safetensors");
        File.WriteAllBytes(path, image);
        try
        {
            SpecModel.Load(path);
            return null;
        }
        catch (Exception e)
        {
            return e;
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static string AssertTyped(byte[] image, params string[] fragments)
    {
        var e = LoadBytes(image, out string path);
        Assert.NotNull(e);
        Assert.True(e is ModelFormatException or SpecValidationException, $"leaked {e!.GetType().FullName}: {e.Message}\n{e.StackTrace}");
        Assert.Contains(path, e.Message);
        foreach (var f in fragments) Assert.Contains(f, e.Message);
        return e.Message;
    }

    [Fact]
    public void SavedSpec_LoadsBack()
    {
        var image = Saved(out string spec);
        Assert.Null(LoadBytes(image, out _));
        Assert.Contains("\"size\":3", spec);
    }

    public static TheoryData<string, string, string> SpecEdits() => new()
    {
        // description, JSON to replace, replacement; the message must contain the spec path fragment
        { "non-integer shape", "\"shape\":[4]", "\"shape\":[1.5]" },
        { "shape beyond int32", "\"shape\":[4]", "\"shape\":[3000000000]" },
        { "negative shape", "\"shape\":[4]", "\"shape\":[-4]" },
        { "zero shape", "\"shape\":[4]", "\"shape\":[0]" },
        { "size beyond int32", "\"size\":3", "\"size\":2147483648" },
        { "fractional size", "\"size\":3", "\"size\":2.5" },
        { "negative size", "\"size\":3", "\"size\":-3" },
        { "2^30 size", "\"size\":3", "\"size\":1073741824" },
        { "inputs cut a layer out", "\"name\":\"out\"", "\"name\":\"out\",\"inputs\":[\"in\"]" },
        { "inputs name a missing layer", "\"name\":\"out\"", "\"name\":\"out\",\"inputs\":[\"nowhere\"]" },
        { "mixed array", "\"shape\":[4]", "\"shape\":[4,\"x\"]" },
        { "nested array", "\"shape\":[4]", "\"shape\":[[4]]" },
        { "object value", "\"shape\":[4]", "\"shape\":{\"a\":4}" },
        { "null value", "\"shape\":[4]", "\"shape\":null" },
        { "unknown form", "\"form\":\"dense\"", "\"form\":\"System.Diagnostics.Process\"" },
    };

    [Theory]
    [MemberData(nameof(SpecEdits))]
    public void MalformedSpec_ThrowsTypedErrorNamingTheFile(string what, string find, string replace)
    {
        var image = Saved(out string spec);
        Assert.Contains(find, spec);
        var bad = Edit(image, m => m["spec"] = ReplaceFirst(spec, find, replace));
        string msg = AssertTyped(bad);
        Assert.DoesNotContain("System.", msg.Replace("System.Diagnostics.Process", "", StringComparison.Ordinal), StringComparison.Ordinal);
        _ = what;
    }

    private static string ReplaceFirst(string s, string find, string replace)
    {
        int i = s.IndexOf(find, StringComparison.Ordinal);
        return s[..i] + replace + s[(i + find.Length)..];
    }

    [Fact]
    public void SizeBeyondInt32_IsReportedAsSuchNotAsMissing()
    {
        var image = Saved(out string spec);
        string msg = AssertTyped(Edit(image, m => m["spec"] = ReplaceFirst(spec, "\"size\":3", "\"size\":2147483648")), "2147483648");
        Assert.DoesNotContain("missing", msg, StringComparison.Ordinal);
    }

    [Fact]
    public void ArrayValueInErrorMessage_IsPrintedAsValuesNotAsATypeName()
    {
        var image = Saved(out string spec);
        string msg = AssertTyped(Edit(image, m => m["spec"] = ReplaceFirst(spec, "\"shape\":[4]", "\"shape\":[4,-1]")), "[4, -1]");
        Assert.DoesNotContain("System.Int32[]", msg, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("kind", "99")]
    [InlineData("kind", "Feedforward,Recurrent")]
    [InlineData("kind", "-1")]
    [InlineData("dtype", "Int32")]
    [InlineData("dtype", "Float32,Float64")]
    [InlineData("dtype", "7")]
    [InlineData("type", "Model")]
    public void UndefinedOrUnsupportedEnumValues_AreRejected(string key, string value)
    {
        var image = Saved(out _);
        AssertTyped(Edit(image, m => m[key] = value), value);
    }

    [Fact]
    public void NonFiniteWeight_IsRejectedNamingTheTensorAndTheFile()
    {
        var image = Saved(out _);
        var bad = Edit(image, tensors: list => list.Select(e => e.Name.EndsWith(".weight", StringComparison.Ordinal) && e.Name.StartsWith("hid1", StringComparison.Ordinal)
            ? SafeTensorEntry.FromFloats(e.Name, e.Shape, e.ToFloatArray().Select((v, i) => i == 1 ? float.PositiveInfinity : v).ToArray()) : e).ToList());
        string name = SafeTensorFile.Parse(image, "x").Tensors.First(e => e.Name.StartsWith("hid1", StringComparison.Ordinal) && e.Name.EndsWith(".weight", StringComparison.Ordinal)).Name;
        AssertTyped(bad, name, "non-finite");
    }

    [Fact]
    public void HugeDeclaredLayer_FailsFastWithoutAllocatingIt()
    {
        // A few hundred bytes declaring a 20000 x 20000 dense layer (1.6 GB of float32 weights) and storing none.
        var image = Saved(out string spec);
        var bad = Edit(image, m => m["spec"] = ReplaceFirst(ReplaceFirst(spec, "\"shape\":[4]", "\"shape\":[20000]"), "\"size\":3", "\"size\":20000"));
        Assert.True(bad.Length < 2000, $"{bad.Length} bytes");
        long before = GC.GetAllocatedBytesForCurrentThread();
        var sw = Stopwatch.StartNew();
        AssertTyped(bad);
        sw.Stop();
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(allocated < 16L << 20, $"allocated {allocated} bytes for a {bad.Length}-byte file");
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(1), $"took {sw.Elapsed}");
    }

    [Fact]
    public void MissingOrExtraOrMisshapenTensors_AreTyped()
    {
        var image = Saved(out _);
        AssertTyped(Edit(image, tensors: l => l.Skip(1).ToList()));
        AssertTyped(Edit(image, tensors: l => [.. l, SafeTensorEntry.FromFloats("extra.weight", [2], [1, 2])]));
        AssertTyped(Edit(image, tensors: l => l.Select(e => e.Rank == 2 ? SafeTensorEntry.FromFloats(e.Name, [e.Shape[1], e.Shape[0]], e.ToFloatArray()) : e).ToList()));
    }
}
