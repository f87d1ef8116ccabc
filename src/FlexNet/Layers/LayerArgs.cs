using System.Globalization;

namespace FlexNet.Layers;

/// <summary>
/// The keyword arguments of one layer spec (theanets' dictionary form), read by a registered form's factory with
/// typed accessors. Every error is a <see cref="SpecValidationException"/> naming the spec <see cref="Path"/>
/// (e.g. <c>layers[2] 'hid2'</c>) and the argument. Keys are case-insensitive; values are ints, doubles, strings,
/// bools or int arrays — never type names.
/// </summary>
public sealed class LayerArgs
{
    private readonly Dictionary<string, object> _values;
    private readonly HashSet<string> _used = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Wraps the arguments.</summary>
    /// <param name="values">Key → value.</param>
    /// <param name="path">Where the spec is, for error messages.</param>
    /// <param name="lookup">Resolves another layer by name (for <c>tied</c>'s partner); null when unavailable.</param>
    public LayerArgs(IReadOnlyDictionary<string, object> values, string path, Func<string, CatalogLayer?>? lookup = null)
    {
        ArgumentNullException.ThrowIfNull(values);
        _values = new Dictionary<string, object>(StringComparer.OrdinalIgnoreCase);
        foreach (var (k, v) in values) _values[k] = v;
        Path = path;
        Lookup = lookup;
    }

    /// <summary>Where the spec is (for messages).</summary>
    public string Path { get; }

    /// <summary>Resolves a layer by name.</summary>
    public Func<string, CatalogLayer?>? Lookup { get; }

    /// <summary>Whether <paramref name="key"/> was given.</summary>
    /// <param name="key">Argument name.</param>
    /// <returns>True when present.</returns>
    public bool Has(string key) => _values.ContainsKey(key);

    /// <summary>The layer name, if given.</summary>
    public string? Name => OptionalString("name");

    /// <summary>An error naming this spec.</summary>
    /// <param name="what">What is wrong.</param>
    /// <returns>The exception.</returns>
    public SpecValidationException Error(string what) => new($"{Path}: {what}");

    private object? Raw(string key)
    {
        _used.Add(key);
        return _values.TryGetValue(key, out var v) ? v : null;
    }

    /// <summary>A required positive int.</summary>
    /// <param name="key">Argument name.</param>
    /// <returns>The value.</returns>
    public int Int(string key) => OptionalInt(key) ?? throw Error($"missing '{key}' (a positive integer).");

    /// <summary>An optional int (must be positive unless <paramref name="allowZero"/>).</summary>
    /// <param name="key">Argument name.</param>
    /// <param name="allowZero">Accept 0.</param>
    /// <returns>The value or null.</returns>
    public int? OptionalInt(string key, bool allowZero = false)
    {
        var v = Raw(key);
        if (v is null) return null;
        int i = v switch
        {
            int x => x,
            long x when x is >= int.MinValue and <= int.MaxValue => (int)x,
            double d when d == Math.Floor(d) && Math.Abs(d) < int.MaxValue => (int)d,
            _ => throw Error($"'{key}' must be an integer; got {Describe(v)}."),
        };
        if (i < 0 || (i == 0 && !allowZero)) throw Error($"'{key}' must be {(allowZero ? "non-negative" : "positive")}; got {i}.");
        return i;
    }

    /// <summary>An optional double.</summary>
    /// <param name="key">Argument name.</param>
    /// <returns>The value or null.</returns>
    public double? OptionalDouble(string key)
    {
        var v = Raw(key);
        return v switch
        {
            null => null,
            int x => x,
            long x => x,
            float x => x,
            double x => x,
            _ => throw Error($"'{key}' must be a number; got {Describe(v)}."),
        };
    }

    /// <summary>An optional string.</summary>
    /// <param name="key">Argument name.</param>
    /// <returns>The value or null.</returns>
    public string? OptionalString(string key)
    {
        var v = Raw(key);
        return v switch { null => null, string s => s, _ => throw Error($"'{key}' must be a string; got {Describe(v)}.") };
    }

    /// <summary>An optional bool.</summary>
    /// <param name="key">Argument name.</param>
    /// <returns>The value or null.</returns>
    public bool? OptionalBool(string key)
    {
        var v = Raw(key);
        return v switch { null => null, bool b => b, _ => throw Error($"'{key}' must be true or false; got {Describe(v)}.") };
    }

    /// <summary>An optional int array (shape).</summary>
    /// <param name="key">Argument name.</param>
    /// <returns>The value or null.</returns>
    public int[]? OptionalShape(string key)
    {
        var v = Raw(key);
        if (v is null) return null;
        if (v is int one) return [one];
        if (v is int[] a && a.Length > 0 && a.All(d => d > 0)) return (int[])a.Clone();
        if (v is System.Runtime.CompilerServices.ITuple t && t.Length > 0)
        {
            var r = new int[t.Length];
            for (int i = 0; i < t.Length; i++) r[i] = t[i] is int d && d > 0 ? d : throw Error($"'{key}' must be a shape of positive integers; got {Describe(v)}.");
            return r;
        }
        throw Error($"'{key}' must be a shape of positive integers; got {Describe(v)}.");
    }

    /// <summary>An optional seed: a non-negative integer (int, long or ulong) or its decimal string (how model files
    /// keep 64-bit seeds exactly).</summary>
    /// <param name="key">Argument name.</param>
    /// <returns>The value or null.</returns>
    public ulong? OptionalSeed(string key)
    {
        var v = Raw(key);
        return v switch
        {
            null => null,
            int x when x >= 0 => (ulong)x,
            long x when x >= 0 => (ulong)x,
            ulong x => x,
            double d when d >= 0 && d == Math.Floor(d) && d < 9007199254740992.0 => (ulong)d,
            string s when ulong.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var u) => u,
            _ => throw Error($"'{key}' must be a non-negative integer seed (or its decimal string); got {Describe(v)}."),
        };
    }

    /// <summary>The activation (validated), or <paramref name="fallback"/>.</summary>
    /// <param name="fallback">Default.</param>
    /// <returns>The activation name.</returns>
    public string Activation(string fallback)
    {
        var a = OptionalString("activation") ?? fallback;
        if (!Graph.Activations.IsKnown(a))
            throw Error($"unknown activation '{a}'. Known: {string.Join(", ", Graph.Activations.Names)}.");
        return a;
    }

    /// <summary>The init options from <c>init</c> (scheme), <c>rng</c> (seed) and the theanets attributes.</summary>
    /// <returns>The options.</returns>
    public LayerInit Init()
    {
        var scheme = OptionalString("init");
        ulong? seed = OptionalSeed("rng");
        var attrs = new List<KeyValuePair<string, double>>();
        foreach (var k in _values.Keys)
            if (LayerInit.IsAttribute(k)) attrs.Add(new(k, OptionalDouble(k)!.Value));
        try
        {
            return new LayerInit(scheme, attrs, seed);
        }
        catch (SpecValidationException e)
        {
            throw Error(e.Message);
        }
    }

    /// <summary>The given values of <paramref name="keys"/> (marked as read), e.g. a connection kind's options.</summary>
    /// <param name="keys">Argument names.</param>
    /// <returns>Key → value for the keys present.</returns>
    internal Dictionary<string, object> Take(IEnumerable<string> keys)
    {
        var d = new Dictionary<string, object>(StringComparer.OrdinalIgnoreCase);
        foreach (var k in keys)
            if (Raw(k) is { } v) d[k] = v;
        return d;
    }

    /// <summary>Throws when an argument was given that no accessor read (a typo or an option the form lacks).</summary>
    /// <param name="form">The form name.</param>
    /// <param name="ignore">Keys handled elsewhere (e.g. <c>form</c>, <c>inputs</c>).</param>
    public void RejectUnused(string form, params string[] ignore)
    {
        foreach (var k in _values.Keys)
            if (!_used.Contains(k) && !ignore.Contains(k, StringComparer.OrdinalIgnoreCase))
                throw Error($"form '{form}' has no argument '{k}'. Its arguments: {string.Join(", ", LayerRegistry.Describe(form)?.Parameters ?? [])}.");
    }

    private static string Describe(object v) => v switch
    {
        string s => $"\"{s}\"",
        int[] a => "[" + string.Join(", ", a) + "]",
        string[] a => "[" + string.Join(", ", a.Select(x => $"\"{x}\"")) + "]",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => v.ToString() ?? "null",
    };
}
