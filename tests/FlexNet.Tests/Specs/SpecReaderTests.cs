using FlexNet.Specs;
using FlexNet.Tests.IO;

namespace FlexNet.Tests.Specs;

/// <summary>The spec reader's limits at their bounds and its choice of JSON or YAML, each with its whole message.</summary>
public sealed class SpecReaderTests : IDisposable
{
    private readonly string _dir = TestFiles.NewTempDir();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private const string Json = """{"name": "t", "inputs": [{"name": "x", "size": 4}], "layers": [{"name": "h", "size": 3}], "connections": [{"from": "x", "to": "h"}], "outputs": ["h"]}""";

    private static string Message(string text, string file) =>
        Assert.Throws<SpecValidationException>(() => TrainingSpec.Parse(text, file)).Message;

    [Fact]
    public void AFileOfExactlyTheLimitIsReadAndOneByteMoreIsRefused()
    {
        int limit = 1 << 20;
        string body = TestLines();
        string atLimit = body + "#" + new string('x', limit - body.Length - 2) + "\n";
        Assert.Equal(limit, atLimit.Length);
        string path = Path.Combine(_dir, "s.yaml");
        File.WriteAllText(path, atLimit);
        Assert.Equal("t", TrainingSpec.Load(path).Name);
        Assert.Equal("t", TrainingSpec.Parse(atLimit, "s.yaml").Name);
        File.WriteAllText(path, atLimit + "\n");
        Assert.Equal($"{path}: the spec file has {limit + 1} bytes; a spec may have at most {limit}.",
            Assert.Throws<SpecValidationException>(() => TrainingSpec.Load(path)).Message);
        Assert.Equal($"s.yaml: a spec may have at most {limit} characters.", Message(atLimit + "\n", "s.yaml"));
        string missing = Path.Combine(_dir, "none.yaml");
        Assert.Equal($"{missing}: the spec file does not exist.", Assert.Throws<SpecValidationException>(() => TrainingSpec.Load(missing)).Message);
    }

    private static string TestLines() => "name: t\ninputs: [{name: x, size: 4}]\nlayers: [{name: h, size: 3}]\nconnections: [{from: x, to: h}]\noutputs: [h]\n";

    [Fact]
    public void AJsonFileIsReadAsJsonWhateverItHoldsAndABraceMakesAnyFileJson()
    {
        Assert.Equal("s.json: $: a spec must be a JSON object.", Message("[1]", "s.json"));
        Assert.Equal("s.json: $: a spec must be a JSON object.", Message("  \"text\"", "s.json"));
        Assert.Equal("s.yaml: $: a spec must be one YAML mapping (key: value lines).", Message("[1]", "s.yaml"));
        // a leading brace reads a .yaml file as JSON: JSON's comments and trailing commas are accepted
        var s = TrainingSpec.Parse("  " + Json.Replace("\"outputs\": [\"h\"]", "// the output\n\"outputs\": [\"h\",],", StringComparison.Ordinal), "s.yaml");
        Assert.Equal("t", s.Name);
        Assert.Equal("t", TrainingSpec.Parse(Json, "S.JSON").Name);
        Assert.StartsWith("s.json: line 2: not valid JSON: ", Message("{\n\"name\": }", "s.json"), StringComparison.Ordinal);
    }

    [Fact]
    public void JsonNestsThirtyTwoLevelsDeep()
    {
        // the spec object is level 1; "d" holds 31 more levels of lists, then 32 more
        string ok = Json[..^1] + ", \"description\": " + new string('[', 31) + new string(']', 31) + "}";
        Assert.Equal("t", TrainingSpec.Parse(ok, "s.json").Name);
        string deep = Json[..^1] + ", \"description\": " + new string('[', 32) + new string(']', 32) + "}";
        Assert.StartsWith("s.json: line 1: not valid JSON: ", Message(deep, "s.json"), StringComparison.Ordinal);
    }

    [Fact]
    public void YamlNestsThirtyTwoLevelsBelowTheTop()
    {
        // $ is depth 0, $.deep depth 1; k brackets put the scalar at depth k + 1
        string Nested(int k) => TestLines() + "deep: " + new string('[', k) + "1" + new string(']', k) + "\n";
        Assert.Equal("s.yaml: $.deep (line 6): unknown key 'deep'. Allowed here: name, description, seed, steps, inputs, layers, connections, outputs, loss, optimizer, epochs, batch, validation_split, data, metrics, schedule, regularizers, early_stopping, checkpoint, model.",
            Message(Nested(31), "s.yaml"));
        Assert.Equal("s.yaml: $.deep" + string.Concat(Enumerable.Repeat("[0]", 32)) + ": nested too deeply.", Message(Nested(32), "s.yaml"));
        string Mapped(int k) => TestLines() + "deep: " + string.Concat(Enumerable.Repeat("{a: ", k)) + "1" + new string('}', k) + "\n";
        Assert.Equal("s.yaml: $.deep" + string.Concat(Enumerable.Repeat(".a", 32)) + ": nested too deeply.", Message(Mapped(32), "s.yaml"));
        Assert.StartsWith("s.yaml: $.deep (line 6): unknown key 'deep'.", Message(Mapped(31), "s.yaml"), StringComparison.Ordinal);
    }

    private static bool? Bias(string value)
    {
        var s = TrainingSpec.Parse(TestLines().Replace("{name: h, size: 3}", "{name: h, size: 3, bias: " + value + "}", StringComparison.Ordinal), "s.yaml");
        return s.Network.Layers.Single(l => l.Name == "h").UseBias;
    }

    [Fact]
    public void YamlScalarsBecomeNullTrueFalseNumbersOrText()
    {
        // null in YAML 1.2's spellings: the key counts as left out (a layer's bias is off by default)
        foreach (string v in new[] { "", "~", "null", "Null", "NULL" }) Assert.False(Bias(v), v);
        foreach (string v in new[] { "true", "True", "TRUE" }) Assert.True(Bias(v), v);
        foreach (string v in new[] { "false", "False", "FALSE" }) Assert.False(Bias(v), v);
        // other spellings, and quoted or block scalars, are text
        foreach (string v in new[] { "tRUE", "nULL", "'true'", "\"true\"", "yes" })
        {
            string text = v.Trim('\'', '"');
            Assert.Equal($"s.yaml: $.layers[0].bias (line 3): 'bias' must be true or false, found the text '{text}'.",
                Assert.Throws<SpecValidationException>(() => Bias(v)).Message);
        }
        var block = TrainingSpec.Parse(TestLines().Replace("name: t\n", "name: |\n  t\n", StringComparison.Ordinal), "s.yaml");
        Assert.Equal("t\n", block.Name);
        var folded = TrainingSpec.Parse(TestLines().Replace("name: t\n", "name: >-\n  a\n  b\n", StringComparison.Ordinal), "s.yaml");
        Assert.Equal("a b", folded.Name);
        var number = TrainingSpec.Parse(TestLines().Replace("name: t\n", "name: '5'\nepochs: +5\nvalidation_split: 5e-1\n", StringComparison.Ordinal), "s.yaml");
        Assert.Equal(("5", 5, 0.5), (number.Name, number.Epochs, number.ValidationSplit));
        Assert.Equal("s.yaml: $.validation_split (line 2): 'validation_split' must be a number, found the text 'inf'.",
            Message(TestLines().Replace("name: t\n", "name: t\nvalidation_split: inf\n", StringComparison.Ordinal), "s.yaml"));
        Assert.Equal("s.yaml: $.name (line 1): expected a name, found the number 5.", Message(TestLines().Replace("name: t\n", "name: 5\n", StringComparison.Ordinal), "s.yaml"));
    }

    [Fact]
    public void ArgumentsAreCheckedAndTheFileIsKeptAsGiven()
    {
        Assert.Throws<ArgumentNullException>(() => TrainingSpec.Load(null!));
        Assert.Throws<ArgumentException>(() => TrainingSpec.Load(" "));
        Assert.Throws<ArgumentNullException>(() => TrainingSpec.Parse(null!, "s.yaml"));
        Assert.Equal("dir/s.yaml", TrainingSpec.Parse(TestLines(), "dir/s.yaml").File);
        string path = Path.Combine(_dir, "f.yaml");
        File.WriteAllText(path, TestLines());
        Assert.Equal(path, TrainingSpec.Load(path).File);
        // a seed given to Load replaces the spec's, and the initial weights follow it
        File.WriteAllText(path, TestLines() + "seed: 5\n");
        var (own, replaced, same) = (TrainingSpec.Load(path), TrainingSpec.Load(path, seed: 7), TrainingSpec.Load(path, seed: 5));
        Assert.Equal((5UL, 7UL, 5UL), (own.Seed, replaced.Seed, same.Seed));
        float[] W(TrainingSpec s) => s.Network.NamedParameters.First().Value.ToFloatArray();
        Assert.Equal(W(own), W(same));
        Assert.NotEqual(W(own), W(replaced));
    }
}
