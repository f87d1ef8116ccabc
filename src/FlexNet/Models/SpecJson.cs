using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;

namespace FlexNet.Models;

/// <summary>Canonical specs ↔ JSON: an array of objects whose values are numbers, strings, booleans or arrays of
/// numbers/strings. Plain data only — nothing in the JSON names a type.</summary>
internal static class SpecJson
{
    internal static string Write(IReadOnlyList<Dictionary<string, object>> specs)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms))
        {
            w.WriteStartArray();
            foreach (var d in specs)
            {
                w.WriteStartObject();
                foreach (var (k, v) in d.OrderBy(kv => kv.Key, StringComparer.Ordinal))
                {
                    w.WritePropertyName(k);
                    WriteValue(w, k, v);
                }
                w.WriteEndObject();
            }
            w.WriteEndArray();
        }
        return Encoding.UTF8.GetString(ms.ToArray());
    }

    private static void WriteValue(Utf8JsonWriter w, string key, object v)
    {
        switch (v)
        {
            case int i: w.WriteNumberValue(i); break;
            case long l: w.WriteNumberValue(l); break;
            case double d: w.WriteNumberValue(d); break;
            case float f: w.WriteNumberValue(f); break;
            case bool b: w.WriteBooleanValue(b); break;
            case string s: w.WriteStringValue(s); break;
            case int[] a:
                w.WriteStartArray();
                foreach (var x in a) w.WriteNumberValue(x);
                w.WriteEndArray();
                break;
            case string[] a:
                w.WriteStartArray();
                foreach (var x in a) w.WriteStringValue(x);
                w.WriteEndArray();
                break;
            case ITuple t:
                w.WriteStartArray();
                for (int j = 0; j < t.Length; j++)
                {
                    if (t[j] is int x) w.WriteNumberValue(x);
                    else throw new ModelFormatException($"Spec value '{key}' = {t} cannot be saved (tuples of ints only).");
                }
                w.WriteEndArray();
                break;
            default: throw new ModelFormatException($"Spec value '{key}' of kind {v.GetType().Name} cannot be saved (numbers, strings, booleans and arrays only).");
        }
    }

    internal static object[] Read(string json, string path)
    {
        try
        {
            using var doc = JsonDocument.Parse(json);
            if (doc.RootElement.ValueKind != JsonValueKind.Array) throw new ModelFormatException($"{path}: the stored spec is not a JSON array.");
            var list = new List<object>();
            foreach (var e in doc.RootElement.EnumerateArray())
            {
                if (e.ValueKind != JsonValueKind.Object) throw new ModelFormatException($"{path}: spec {list.Count} is not a JSON object.");
                var d = new Dictionary<string, object>(StringComparer.Ordinal);
                foreach (var p in e.EnumerateObject()) d[p.Name] = ReadValue(p.Value, p.Name, path);
                list.Add(d);
            }
            return list.ToArray();
        }
        catch (JsonException ex)
        {
            throw new ModelFormatException($"{path}: the stored spec is not valid JSON: {ex.Message}", ex);
        }
    }

    private static object ReadValue(JsonElement v, string key, string path) => v.ValueKind switch
    {
        JsonValueKind.Number => v.TryGetInt32(out int i) ? (object)i
            : v.TryGetDouble(out double d) && double.IsFinite(d) ? (object)d
            : throw new ModelFormatException($"{path}: spec value '{key}' = {Raw(v)} is not a finite number."),
        JsonValueKind.String => v.GetString()!,
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        JsonValueKind.Array => ReadArray(v, key, path),
        _ => throw new ModelFormatException($"{path}: spec value '{key}' has an unsupported JSON kind {v.ValueKind}."),
    };

    private static object ReadArray(JsonElement v, string key, string path)
    {
        int n = v.GetArrayLength();
        if (n == 0) return Array.Empty<int>();
        var first = v[0].ValueKind;
        if (first == JsonValueKind.Number)
        {
            var a = new int[n];
            int k = 0;
            foreach (var x in v.EnumerateArray())
                a[k++] = x.ValueKind == JsonValueKind.Number && x.TryGetInt32(out int i) ? i
                    : throw new ModelFormatException($"{path}: spec value '{key}' = {Raw(v)}: array entries must be integers in the int32 range; got {Raw(x)}.");
            return a;
        }
        if (first == JsonValueKind.String)
        {
            var a = new string[n];
            int k = 0;
            foreach (var x in v.EnumerateArray())
                a[k++] = x.ValueKind == JsonValueKind.String ? x.GetString()!
                    : throw new ModelFormatException($"{path}: spec value '{key}' = {Raw(v)}: an array holds only integers or only strings; got {Raw(x)}.");
            return a;
        }
        throw new ModelFormatException($"{path}: spec value '{key}' = {Raw(v)}: an array holds only integers or only strings.");
    }

    private static string Raw(JsonElement v)
    {
        string s = v.GetRawText();
        return s.Length <= 64 ? s : s[..64] + "...";
    }
}
