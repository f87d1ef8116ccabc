using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace FlexNet.Specs;

/// <summary>Reads a spec file (JSON, or YAML turned into the same JSON tree) and remembers, for YAML, the line of
/// every JSON path so that errors can name it.</summary>
internal static class SpecReader
{
    /// <summary>Largest spec file read (a spec is a few kilobytes; this bounds what a file can make us allocate).</summary>
    internal const long MaxBytes = 1 << 20;

    internal static (JsonNode Root, Dictionary<string, int> Lines) Read(string path)
    {
        var info = new FileInfo(path);
        if (!info.Exists) throw new SpecValidationException($"{path}: the spec file does not exist.");
        if (info.Length > MaxBytes) throw new SpecValidationException($"{path}: the spec file has {info.Length} bytes; a spec may have at most {MaxBytes}.");
        return Parse(File.ReadAllText(path), path);
    }

    internal static (JsonNode Root, Dictionary<string, int> Lines) Parse(string text, string file)
    {
        var lines = new Dictionary<string, int>(StringComparer.Ordinal);
        string trimmed = text.TrimStart();
        bool json = file.EndsWith(".json", StringComparison.OrdinalIgnoreCase) || trimmed.StartsWith('{');
        if (json)
        {
            try
            {
                var node = JsonNode.Parse(text, documentOptions: new JsonDocumentOptions { MaxDepth = 32, CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
                if (node is not JsonObject) throw new SpecValidationException($"{file}: $: a spec must be a JSON object.");
                return (node, lines);
            }
            catch (JsonException e)
            {
                throw new SpecValidationException($"{file}: line {(e.LineNumber ?? 0) + 1}: not valid JSON: {e.Message}");
            }
        }
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(text));
        }
        catch (YamlException e)
        {
            throw new SpecValidationException($"{file}: line {e.Start.Line}: not valid YAML: {e.Message}");
        }
        catch (InvalidOperationException e) // YamlDotNet's scanner throws this for some unterminated constructs
        {
            throw new SpecValidationException($"{file}: not valid YAML ({e.Message}); check brackets and quotes.");
        }
        if (stream.Documents.Count != 1 || stream.Documents[0].RootNode is not YamlMappingNode map)
            throw new SpecValidationException($"{file}: $: a spec must be one YAML mapping (key: value lines).");
        return (Convert(map, "$", lines, file, 0)!, lines);
    }

    private static JsonNode? Convert(YamlNode node, string path, Dictionary<string, int> lines, string file, int depth)
    {
        if (depth > 32) throw new SpecValidationException($"{file}: {path}: nested too deeply.");
        lines[path] = (int)node.Start.Line;
        switch (node)
        {
            case YamlMappingNode m:
                var o = new JsonObject();
                foreach (var (k, v) in m.Children)
                {
                    if (k is not YamlScalarNode { Value: { } key })
                        throw new SpecValidationException($"{file}: line {k.Start.Line}: {path}: keys must be plain names.");
                    if (o.ContainsKey(key)) throw new SpecValidationException($"{file}: line {k.Start.Line}: {path}: key '{key}' appears twice.");
                    o[key] = Convert(v, path + "." + key, lines, file, depth + 1);
                }
                return o;
            case YamlSequenceNode s:
                var a = new JsonArray();
                int i = 0;
                foreach (var item in s.Children) a.Add(Convert(item, $"{path}[{i++}]", lines, file, depth + 1));
                return a;
            case YamlScalarNode sc:
                string value = sc.Value ?? "";
                if (sc.Style is ScalarStyle.SingleQuoted or ScalarStyle.DoubleQuoted or ScalarStyle.Literal or ScalarStyle.Folded)
                    return JsonValue.Create(value);
                if (value is "" or "~" or "null" or "Null" or "NULL") return null;
                if (value is "true" or "True" or "TRUE") return JsonValue.Create(true);
                if (value is "false" or "False" or "FALSE") return JsonValue.Create(false);
                if (long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long l)) return JsonValue.Create(l);
                if (double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out double d) && double.IsFinite(d)) return JsonValue.Create(d);
                return JsonValue.Create(value);
            default:
                throw new SpecValidationException($"{file}: line {node.Start.Line}: {path}: aliases and tags are not supported in specs.");
        }
    }
}
