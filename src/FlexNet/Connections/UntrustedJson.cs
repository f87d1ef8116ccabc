using System.Text.Json;

namespace FlexNet.Connections;

/// <summary>Typed accessors of untrusted JSON for the model-file readers (<see cref="NetworkFileCodec"/> and the
/// model section of format 2): each checks the element's kind and bounds and throws the reader's
/// <see cref="ModelFormatException"/> naming the JSON path and the value found.</summary>
internal static class UntrustedJson
{
    /// <summary>Parses a file's architecture JSON, at most 16 levels deep (deeper is a format error, not a stack
    /// overflow).</summary>
    internal static JsonDocument ParseArchitecture(string json, Func<string, ModelFormatException> bad)
    {
        try
        {
            return JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 16 });
        }
        catch (JsonException e)
        {
            throw bad($"the architecture is not valid JSON (or is nested deeper than 16): {e.Message}");
        }
    }

    internal static JsonElement Obj(JsonElement e, string at, Func<string, ModelFormatException> bad) =>
        e.ValueKind == JsonValueKind.Object ? e : throw bad($"{at} must be a JSON object; got {e.ValueKind}.");

    internal static JsonElement Arr(JsonElement e, string at, Func<string, ModelFormatException> bad) =>
        e.ValueKind == JsonValueKind.Array ? e : throw bad($"{at} must be a JSON array; got {e.ValueKind}.");

    internal static JsonElement Req(JsonElement o, string name, string at, Func<string, ModelFormatException> bad) =>
        o.TryGetProperty(name, out var v) ? v : throw bad($"{at} has no '{name}'.");

    internal static void Only(JsonElement o, string at, Func<string, ModelFormatException> bad, params string[] allowed)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var p in o.EnumerateObject())
        {
            if (Array.IndexOf(allowed, p.Name) < 0) throw bad($"{at} has an unknown field '{NetworkFileCodec.Short(p.Name)}' (allowed: {string.Join(", ", allowed)}).");
            if (!seen.Add(p.Name)) throw bad($"{at} has the field '{p.Name}' twice.");
        }
    }

    internal static string Str(JsonElement e, string at, Func<string, ModelFormatException> bad) =>
        e.ValueKind == JsonValueKind.String ? e.GetString()! : throw bad($"{at} must be a string; got {e.ValueKind}.");

    internal static string Name(JsonElement e, string at, Func<string, ModelFormatException> bad)
    {
        string s = Str(e, at, bad);
        if (s.Length == 0 || s.Length > 256) throw bad($"{at} must be a name of 1 to 256 characters; got {s.Length} characters.");
        return s;
    }

    internal static bool Bool(JsonElement e, string at, Func<string, ModelFormatException> bad) => e.ValueKind switch
    {
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        _ => throw bad($"{at} must be true or false; got {e.ValueKind}."),
    };

    internal static int Int(JsonElement e, string at, Func<string, ModelFormatException> bad, int min, int max)
    {
        if (e.ValueKind != JsonValueKind.Number || !e.TryGetInt64(out long v))
            throw bad($"{at} must be an integer in [{min}, {max}]; got {(e.ValueKind == JsonValueKind.Number ? NetworkFileCodec.Short(e.GetRawText()) : e.ValueKind.ToString())}.");
        if (v < min || v > max) throw bad($"{at} must be an integer in [{min}, {max}]; got {v}.");
        return (int)v;
    }

    internal static int? OptInt(JsonElement o, string name, string at, Func<string, ModelFormatException> bad, int min, int max)
    {
        var e = Req(o, name, at, bad);
        return e.ValueKind == JsonValueKind.Null ? null : Int(e, $"{at}.{name}", bad, min, max);
    }

    internal static int[]? Shape(JsonElement e, string at, Func<string, ModelFormatException> bad, bool nullable)
    {
        if (nullable && e.ValueKind == JsonValueKind.Null) return null;
        Arr(e, at, bad);
        int n = e.GetArrayLength();
        if (n == 0 || n > NetworkFileCodec.MaxRank) throw bad($"{at} must have 1 to {NetworkFileCodec.MaxRank} dimensions; got {n}.");
        var s = new int[n];
        int i = 0;
        long p = 1;
        foreach (var d in e.EnumerateArray())
        {
            s[i] = Int(d, $"{at}[{i}]", bad, 1, int.MaxValue);
            p *= s[i++];
            if (p > NetworkFilePlanner.MaxElements) throw bad($"{at} has more than {NetworkFilePlanner.MaxElements} elements.");
        }
        return s;
    }

    internal static int[] Shape(JsonElement e, string at, Func<string, ModelFormatException> bad) => Shape(e, at, bad, nullable: false)!;
}
