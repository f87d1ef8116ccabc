using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using System.Text.Json;
using FlexNet.Tensors;

namespace FlexNet.Tests.Testing;

/// <summary>
/// Test-only reader for the reference <c>.safetensors</c> cases: 8-byte little-endian header length, a JSON
/// header (<c>name → {dtype, shape, data_offsets}</c> plus optional <c>__metadata__</c> of strings), then raw
/// little-endian data. Supports F64 and I64 tensors (and F32 widened to double). Independent of the library's
/// own reader on purpose.
/// </summary>
internal sealed class SafetensorsTestReader
{
    private readonly byte[] _bytes;
    private readonly long _dataStart;
    private readonly Dictionary<string, (string DType, int[] Shape, long Begin, long End)> _tensors = new(StringComparer.Ordinal);

    private SafetensorsTestReader(string path, byte[] bytes)
    {
        Path = path;
        _bytes = bytes;
        if (bytes.Length < 8) throw new InvalidDataException($"{path}: shorter than the 8-byte header length.");
        long headerLength = BinaryPrimitives.ReadInt64LittleEndian(bytes);
        if (headerLength <= 0 || 8 + headerLength > bytes.Length)
            throw new InvalidDataException($"{path}: header length {headerLength} does not fit the {bytes.Length}-byte file.");
        _dataStart = 8 + headerLength;
        using var doc = JsonDocument.Parse(Encoding.UTF8.GetString(bytes, 8, (int)headerLength));
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var prop in doc.RootElement.EnumerateObject())
        {
            if (prop.Name == "__metadata__")
            {
                foreach (var m in prop.Value.EnumerateObject())
                    metadata[m.Name] = m.Value.ValueKind == JsonValueKind.String ? m.Value.GetString()! : m.Value.GetRawText();
                continue;
            }
            string dtype = prop.Value.GetProperty("dtype").GetString()!;
            var shape = new List<int>();
            foreach (var d in prop.Value.GetProperty("shape").EnumerateArray()) shape.Add(d.GetInt32());
            var offs = prop.Value.GetProperty("data_offsets");
            long begin = offs[0].GetInt64(), end = offs[1].GetInt64();
            if (begin < 0 || end < begin || _dataStart + end > bytes.Length)
                throw new InvalidDataException($"{path}: tensor '{prop.Name}' offsets [{begin}, {end}) outside the data.");
            _tensors[prop.Name] = (dtype, shape.ToArray(), begin, end);
        }
        Metadata = metadata;
    }

    /// <summary>File path.</summary>
    public string Path { get; }

    /// <summary>The <c>__metadata__</c> strings.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>Tensor names.</summary>
    public IEnumerable<string> Names => _tensors.Keys;

    /// <summary>Opens a file.</summary>
    public static SafetensorsTestReader Open(string path) => new(path, File.ReadAllBytes(path));

    /// <summary>Opens <c>testdata/reference/&lt;caseName&gt;.safetensors</c> next to the test binary.</summary>
    public static SafetensorsTestReader OpenReference(string caseName) =>
        Open(System.IO.Path.Combine(AppContext.BaseDirectory, "testdata", "reference", caseName + ".safetensors"));

    /// <summary>Whether a tensor exists.</summary>
    public bool Has(string name) => _tensors.ContainsKey(name);

    /// <summary>Stored dtype name of a tensor (e.g. <c>F64</c>, <c>I64</c>).</summary>
    public string DType(string name) => Get(name).DType;

    /// <summary>Shape of a tensor.</summary>
    public int[] Shape(string name) => (int[])Get(name).Shape.Clone();

    /// <summary>A floating tensor as doubles (F64, or F32 widened).</summary>
    public double[] F64(string name)
    {
        var t = Get(name);
        var span = _bytes.AsSpan((int)(_dataStart + t.Begin), (int)(t.End - t.Begin));
        long count = Count(t.Shape);
        switch (t.DType)
        {
            case "F64":
                CheckSize(name, span.Length, count, 8);
                var d = new double[count];
                for (int i = 0; i < d.Length; i++) d[i] = BinaryPrimitives.ReadDoubleLittleEndian(span.Slice(i * 8, 8));
                return d;
            case "F32":
                CheckSize(name, span.Length, count, 4);
                var f = new double[count];
                for (int i = 0; i < f.Length; i++) f[i] = BinaryPrimitives.ReadSingleLittleEndian(span.Slice(i * 4, 4));
                return f;
            default:
                throw new InvalidDataException($"{Path}: tensor '{name}' has dtype {t.DType}, expected F64 or F32.");
        }
    }

    /// <summary>An I64 tensor.</summary>
    public long[] I64(string name)
    {
        var t = Get(name);
        if (t.DType != "I64") throw new InvalidDataException($"{Path}: tensor '{name}' has dtype {t.DType}, expected I64.");
        var span = _bytes.AsSpan((int)(_dataStart + t.Begin), (int)(t.End - t.Begin));
        long count = Count(t.Shape);
        CheckSize(name, span.Length, count, 8);
        var r = new long[count];
        for (int i = 0; i < r.Length; i++) r[i] = BinaryPrimitives.ReadInt64LittleEndian(span.Slice(i * 8, 8));
        return r;
    }

    /// <summary>Metadata string, or null.</summary>
    public string? Meta(string key) => Metadata.TryGetValue(key, out var v) ? v : null;

    /// <summary>
    /// Integer hyper-parameter with <paramref name="count"/> components: "2" → [2, 2, ...], "(1, 2)" or "[1, 2]" →
    /// [1, 2]; absent → <paramref name="defaultValue"/> repeated.
    /// </summary>
    public int[] MetaInts(string key, int count, int defaultValue)
    {
        var r = new int[count];
        string? s = Meta(key);
        if (s is null || s.Trim() is "None" or "null" or "")
        {
            Array.Fill(r, defaultValue);
            return r;
        }
        var parts = s.Trim().Trim('(', ')', '[', ']').Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (parts.Length == 1)
        {
            Array.Fill(r, int.Parse(parts[0], CultureInfo.InvariantCulture));
            return r;
        }
        if (parts.Length != count)
            throw new InvalidDataException($"{Path}: metadata '{key}' = '{s}' has {parts.Length} components, expected 1 or {count}.");
        for (int i = 0; i < count; i++) r[i] = int.Parse(parts[i], CultureInfo.InvariantCulture);
        return r;
    }

    /// <summary>Boolean hyper-parameter ("True"/"true"/"1" / "False"/"false"/"0"); absent → default.</summary>
    public bool MetaBool(string key, bool defaultValue)
    {
        string? s = Meta(key);
        if (s is null) return defaultValue;
        return s.Trim().ToLowerInvariant() switch
        {
            "true" or "1" => true,
            "false" or "0" => false,
            _ => throw new InvalidDataException($"{Path}: metadata '{key}' = '{s}' is not a boolean."),
        };
    }

    private (string DType, int[] Shape, long Begin, long End) Get(string name) =>
        _tensors.TryGetValue(name, out var t) ? t
            : throw new KeyNotFoundException($"{Path}: no tensor '{name}' (has: {string.Join(", ", _tensors.Keys)}).");

    private static long Count(int[] shape)
    {
        long n = 1;
        foreach (int d in shape) n *= d;
        return n;
    }

    private void CheckSize(string name, int bytes, long count, int width)
    {
        if (bytes != count * width)
            throw new InvalidDataException($"{Path}: tensor '{name}' has {bytes} bytes, shape needs {count * width}.");
    }
}
