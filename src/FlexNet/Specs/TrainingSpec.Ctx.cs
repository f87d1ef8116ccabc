using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using FlexNet.Autodiff;
using FlexNet.Graph;
using FlexNet.Layers;

namespace FlexNet.Specs;

/// <summary>Reading values from a spec's JSON tree: every reader checks the kind and range and fails with the file,
/// the JSON path and, for YAML, the line.</summary>
public sealed partial class TrainingSpec
{
    /// <summary>Reads values from the JSON tree and makes errors that name the file, the path and the line.</summary>
    internal sealed class Ctx(string file, Dictionary<string, int> lines)
    {
        internal string File => file;

        internal SpecValidationException Fail(string path, string message)
        {
            string line = "";
            for (string p = path; p.Length > 0; p = Parent(p))
                if (lines.TryGetValue(p, out int l)) { line = $" (line {l})"; break; }
            return new SpecValidationException($"{file}: {path}{line}: {message}");
        }

        private static string Parent(string p)
        {
            int cut = Math.Max(p.LastIndexOf('.'), p.LastIndexOf('['));
            // Stryker disable once Equality : cut = 0 gives "" either way (p[..0])
            return cut <= 0 ? "" : p[..cut];
        }

        internal JsonObject Obj(JsonNode? node, string path) =>
            node as JsonObject ?? throw Fail(path, $"expected an object (key: value pairs), found {Describe(node)}.");

        internal JsonArray? Arr(JsonObject o, string key, string path, bool required)
        {
            var n = o[key];
            if (n is null) return required ? throw Fail($"{path}.{key}", $"'{key}' is missing; it must be a list.") : null;
            return n as JsonArray ?? throw Fail($"{path}.{key}", $"'{key}' must be a list, found {Describe(n)}.");
        }

        internal void Keys(JsonObject o, string path, string[] allowed)
        {
            foreach (var (k, _) in o)
                if (Array.IndexOf(allowed, k) < 0)
                    throw Fail($"{path}.{k}", $"unknown key '{k}'. Allowed here: {string.Join(", ", allowed)}.");
        }

        internal string AsString(JsonNode? n, string path) =>
            n is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : throw Fail(path, $"expected a name, found {Describe(n)}.");

        internal string? Str(JsonObject o, string key, string path) =>
            o[key] is null ? null : AsString(o[key], $"{path}.{key}");

        internal string Name(JsonObject o, string path)
        {
            string name = Str(o, "name", path) ?? throw Fail($"{path}.name", "'name' is missing.");
            if (name.Length == 0 || name.Length > 128) throw Fail($"{path}.name", "a name must have 1 to 128 characters.");
            return name;
        }

        internal void Unique(string name, string path, Dictionary<string, string> declaredAt)
        {
            if (declaredAt.TryGetValue(name, out var first)) throw Fail($"{path}.name", $"the name '{name}' is already used at {first}.");
            declaredAt[name] = path;
        }

        internal Layer LayerRef(JsonObject o, string key, string path, Dictionary<string, Layer> byName)
        {
            string n = Str(o, key, path) ?? throw Fail($"{path}.{key}", $"'{key}' is missing; it names a layer or input.");
            return byName.TryGetValue(n, out var l) ? l : throw Fail($"{path}.{key}", $"no layer or input is named '{n}'. Declared: {Join(byName.Keys)}.");
        }

        internal string? Word(JsonObject o, string key, string path, IReadOnlyList<string> known, string what)
        {
            string? w = Str(o, key, $"{path}");
            if (w is null) return null;
            NotTypeName(w, $"{path}.{key}", what);
            string lower = w.ToLowerInvariant();
            foreach (var k in known) if (k == lower) return k;
            throw Fail($"{path}.{key}", $"unknown {what} '{w}'. Registered: {string.Join(", ", known)}.");
        }

        internal string Activation(JsonObject o, string path)
        {
            string? a = Str(o, "activation", path);
            if (a is null) return "linear";
            NotTypeName(a, $"{path}.activation", "activation");
            if (!Activations.IsKnown(a)) throw Fail($"{path}.activation", $"unknown activation '{a}'. Registered: {string.Join(", ", Activations.Names.Order(StringComparer.Ordinal))}.");
            return a;
        }

        internal void NotTypeName(string value, string path, string what)
        {
            if (LooksLikeTypeName(value) || value.Contains('`') || value.Contains("Version=", StringComparison.Ordinal))
                throw Fail(path, $"'{value}' looks like a .NET type name; a spec names a registered {what} by its short name. FlexNet never loads a type named in a file.");
        }

        /// <summary>Dotted identifiers (<c>A.B</c>, <c>A.B.C, Assembly</c>): the shape of a .NET type name.</summary>
        private static bool LooksLikeTypeName(string value)
        {
            int comma = value.IndexOf(',');
            // Stryker disable once Equality : a comma at 0 leaves an empty first part either way (the whole value then starts with ','), which is not a type name
            var parts = (comma >= 0 ? value[..comma] : value).Trim().Split('.');
            if (parts.Length < 2) return false;
            foreach (var part in parts)
            {
                if (part.Length == 0 || !(char.IsAsciiLetter(part[0]) || part[0] == '_')) return false;
                foreach (char ch in part) if (!(char.IsAsciiLetterOrDigit(ch) || ch == '_')) return false;
            }
            return true;
        }

        internal int? Int(JsonObject o, string key, string path, int min, int max)
        {
            long? v = Long(o, key, path, min, max);
            return v is null ? null : (int)v.Value;
        }

        internal long? Long(JsonObject o, string key, string path, long min, long max)
        {
            var n = o[key];
            if (n is null) return null;
            if (n is not JsonValue v || v.GetValueKind() != JsonValueKind.Number || !v.TryGetValue(out long l) && !(v.TryGetValue(out double d) && d == Math.Floor(d) && Math.Abs(d) < 9e15 && (l = (long)d) == l))
                throw Fail($"{path}.{key}", $"'{key}' must be a whole number, found {Describe(n)}.");
            if (l < min || l > max)
                // Stryker disable once Equality : the message is made only when l < min or l > max, so l <= min differs only where l == min, which is not refused
                throw Fail($"{path}.{key}", $"'{key}' must be {(l < min && min >= 0 ? (min == 0 ? "non-negative" : "positive") + $" (from {min} to {max})" : $"from {min} to {max}")}; it is {l}.");
            return l;
        }

        internal double? Num(JsonObject o, string key, string path, double min, double max)
        {
            var n = o[key];
            if (n is null) return null;
            // a YAML whole number is held as a long, a JSON one as an element: both convert
            if (n is not JsonValue v || v.GetValueKind() != JsonValueKind.Number || !(v.TryGetValue(out double d) || v.TryGetValue(out long l) && (d = l) == d))
                throw Fail($"{path}.{key}", $"'{key}' must be a number, found {Describe(n)}.");
            if (d < min || d > max) throw Fail($"{path}.{key}", $"'{key}' must be between {min} and {max}; it is {d}.");
            return d;
        }

        internal string NumberText(JsonNode? n, string path)
        {
            if (n is JsonValue v && v.GetValueKind() == JsonValueKind.Number && (v.TryGetValue(out double d) || v.TryGetValue(out long l) && (d = l) == d) && double.IsFinite(d))
                // Stryker disable once String : equivalent: since .NET Core 3.0 a double's default format is the shortest round-trip text, the same as "R"
                return d.ToString("R", CultureInfo.InvariantCulture);
            throw Fail(path, $"expected a number, found {Describe(n)}.");
        }

        /// <summary>A catalog form's argument: text, a whole number (int), a number, true/false, or a list of whole numbers.</summary>
        internal object ArgValue(JsonNode? n, string path)
        {
            switch (n)
            {
                case JsonValue v when v.GetValueKind() == JsonValueKind.String:
                    return v.GetValue<string>();
                case JsonValue v when v.GetValueKind() is JsonValueKind.True or JsonValueKind.False:
                    return v.GetValue<bool>();
                case JsonValue v when v.GetValueKind() == JsonValueKind.Number:
                    // a whole number outside int's range is a number all the same (a YAML one is held as a long only)
                    if (v.TryGetValue(out long l)) return l is >= int.MinValue and <= int.MaxValue ? (object)(int)l : (double)l;
                    if (v.TryGetValue(out double d) && double.IsFinite(d)) return d;
                    break;
                case JsonArray a when a.Count is > 0 and <= 8:
                    var r = new int[a.Count];
                    for (int i = 0; i < a.Count; i++)
                        r[i] = a[i] is JsonValue e && e.TryGetValue(out long x) && x is >= 0 and <= MaxLayerElements ? (int)x
                            : throw Fail($"{path}[{i}]", $"expected a whole number from 0 to {MaxLayerElements}, found {Describe(a[i])}.");
                    return r;
            }
            throw Fail(path, $"a form's argument must be text, a number, true/false or a list of whole numbers; found {Describe(n)}.");
        }

        internal bool? Bool(JsonObject o, string key, string path)
        {
            var n = o[key];
            if (n is null) return null;
            return n is JsonValue v && v.TryGetValue(out bool b) ? b : throw Fail($"{path}.{key}", $"'{key}' must be true or false, found {Describe(n)}.");
        }

        internal int[] Shape(JsonObject o, string path, bool sizeKey = true)
        {
            if (sizeKey && o["size"] is not null)
            {
                if (o["shape"] is not null) throw Fail($"{path}.shape", "give 'size' or 'shape', not both.");
                return [Int(o, "size", path, 1, MaxLayerElements)!.Value];
            }
            if (o["shape"] is JsonArray a)
            {
                if (a.Count is 0 or > 4) throw Fail($"{path}.shape", $"a shape has 1 to 4 dimensions; it has {a.Count}.");
                var s = new int[a.Count];
                long n = 1;
                for (int i = 0; i < a.Count; i++)
                {
                    if (a[i] is not JsonValue v || !v.TryGetValue(out long d) || d < 1 || d > MaxLayerElements)
                        throw Fail($"{path}.shape[{i}]", $"a dimension must be a whole number from 1 to {MaxLayerElements}, found {Describe(a[i])}.");
                    s[i] = (int)d;
                    n *= d;
                }
                if (n > MaxLayerElements) throw Fail($"{path}.shape", $"the shape has {n} elements; at most {MaxLayerElements} are allowed.");
                return s;
            }
            if (o["shape"] is { } bad) throw Fail($"{path}.shape", $"'shape' must be a list of dimensions, found {Describe(bad)}.");
            throw Fail($"{path}.{(sizeKey ? "size" : "shape")}", sizeKey ? "'size' (or 'shape') is missing." : "'shape' is missing.");
        }

        internal Padding Padding(JsonObject o, string path)
        {
            var n = o["padding"];
            if (n is null) return Autodiff.Padding.Valid;
            if (n is JsonValue v && v.GetValueKind() == JsonValueKind.String)
            {
                string s = v.GetValue<string>().ToLowerInvariant();
                return s switch
                {
                    "same" => Autodiff.Padding.Same,
                    "valid" => Autodiff.Padding.Valid,
                    _ => throw Fail($"{path}.padding", $"padding must be 'same', 'valid' or a whole number, found '{s}'."),
                };
            }
            return Autodiff.Padding.Explicit(Int(o, "padding", path, 0, 64)!.Value);
        }

        internal static string Describe(JsonNode? n) => n switch
        {
            null => "nothing",
            JsonObject => "an object",
            JsonArray => "a list",
            JsonValue v => v.GetValueKind() switch
            {
                JsonValueKind.String => $"the text '{Trunc(v.GetValue<string>())}'",
                JsonValueKind.Number => $"the number {v.ToJsonString()}",
                JsonValueKind.True or JsonValueKind.False => $"{v.ToJsonString()}",
                _ => v.ToJsonString(),
            },
            _ => "something else",
        };

        private static string Trunc(string s) => s.Length > 60 ? s[..60] + "…" : s;
    }
}
