using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using System.Text.Unicode;
using FlexNet.Tensors;

namespace FlexNet.IO;

/// <summary>
/// Validating safetensors parser. Mirrors the reference <c>validate()</c>: every defect becomes a
/// <see cref="ModelFormatException"/> naming the source and the defect, before any tensor is exposed.
/// </summary>
internal static class SafeTensorParser
{
    private const int MaxJsonDepth = 64;

    private struct RawInfo
    {
        public string Name;
        public SafeTensorDType DType;
        public int[] Shape;
        public long Count;
        public long Begin;
        public long End;
    }

    internal static SafeTensorFile Parse(byte[] file, string source)
    {
        if (file.Length < 8)
            throw Fail(source, $"file is {file.Length} bytes, shorter than the 8-byte header length prefix");
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(file);
        if (n > (ulong)SafeTensorFile.MaxHeaderLength)
            throw Fail(source, $"header length {n} exceeds the limit of {SafeTensorFile.MaxHeaderLength} bytes");
        if (8 + (long)n > file.Length)
            throw Fail(source, $"header length {n} runs past the end of the file (8 + {n} > file length {file.Length})");
        if (n == 0)
            throw Fail(source, "header length is 0; the header must be a JSON object");

        int headerLength = (int)n;
        ReadOnlySpan<byte> header = file.AsSpan(8, headerLength);
        if (!Utf8.IsValid(header))
            throw Fail(source, $"header is not valid UTF-8 (first bad byte at file offset {8 + FirstInvalidUtf8(header)})");
        if (header[0] != (byte)'{')
            throw Fail(source, $"header must start with '{{' but byte 8 is 0x{header[0]:X2}");

        var metadata = new SortedDictionary<string, string>(StringComparer.Ordinal);
        var infos = new List<RawInfo>();
        ParseHeader(header, source, metadata, infos);

        long dataStart = 8 + (long)headerLength;
        long dataLength = file.Length - dataStart;
        ValidateLayout(source, infos, dataLength, headerLength, file.Length);

        var entries = new SafeTensorEntry[infos.Count];
        for (int i = 0; i < infos.Count; i++)
        {
            RawInfo r = infos[i];
            var memory = new ReadOnlyMemory<byte>(file, (int)(dataStart + r.Begin), (int)(r.End - r.Begin));
            entries[i] = new SafeTensorEntry(r.Name, r.DType, r.Shape, (int)r.Count, memory, source);
        }
        Array.Sort(entries, static (a, b) => string.CompareOrdinal(a.Name, b.Name));
        return new SafeTensorFile(source, metadata.AsReadOnly(), entries);
    }

    private static void ParseHeader(ReadOnlySpan<byte> header, string source,
        SortedDictionary<string, string> metadata, List<RawInfo> infos)
    {
        // Stryker disable once Initializer: the options set are the defaults (depth 64, no comments, no trailing commas); stated to mirror the reference
        var reader = new Utf8JsonReader(header, new JsonReaderOptions
        {
            MaxDepth = MaxJsonDepth,
            CommentHandling = JsonCommentHandling.Disallow,
            AllowTrailingCommas = false,
        });
        _ = reader.Read(); // the StartObject: Parse checked that byte 8 is '{'

        try
        {
            ParseObjects(ref reader, source, metadata, infos);
        }
        catch (JsonException e)
        {
            throw Fail(source, $"header is not valid JSON near file offset {8 + reader.BytesConsumed}: {e.Message}", e);
        }
        catch (InvalidOperationException e)
        {
            // Utf8JsonReader.GetString on a string it cannot transcode, e.g. an escaped lone surrogate.
            throw Fail(source, $"header has a string that cannot be decoded near file offset {8 + reader.BytesConsumed}: {e.Message}", e);
        }
    }

    private static void ParseObjects(ref Utf8JsonReader reader, string source,
        SortedDictionary<string, string> metadata, List<RawInfo> infos)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        bool sawMetadata = false;
        while (true)
        {
            Next(ref reader, source);
            if (reader.TokenType == JsonTokenType.EndObject) break;
            string key = reader.GetString()!; // token is PropertyName: the reader only yields names here
            if (key == SafeTensorFile.MetadataKey)
            {
                if (sawMetadata) throw Fail(source, $"duplicate key '{SafeTensorFile.MetadataKey}'");
                sawMetadata = true;
                ParseMetadata(ref reader, source, metadata);
                continue;
            }
            if (!names.Add(key)) throw Fail(source, $"duplicate tensor key '{key}'");
            if (infos.Count >= SafeTensorFile.MaxTensorCount)
                throw Fail(source, $"more than {SafeTensorFile.MaxTensorCount} tensors");
            infos.Add(ParseTensorInfo(ref reader, source, key));
        }
        // Anything after the root object other than whitespace (the spec pads with spaces) makes Read throw a
        // JsonException; over whitespace it returns false.
        _ = reader.Read();
    }

    private static void ParseMetadata(ref Utf8JsonReader reader, string source, SortedDictionary<string, string> metadata)
    {
        Next(ref reader, source);
        if (reader.TokenType == JsonTokenType.Null) return;
        if (reader.TokenType != JsonTokenType.StartObject)
            throw Fail(source, $"'{SafeTensorFile.MetadataKey}' must be an object of string values, found {reader.TokenType}");
        while (true)
        {
            Next(ref reader, source);
            if (reader.TokenType == JsonTokenType.EndObject) return;
            string key = reader.GetString()!;
            Next(ref reader, source);
            if (reader.TokenType != JsonTokenType.String)
                throw Fail(source, $"'{SafeTensorFile.MetadataKey}' value for '{key}' must be a string, found {reader.TokenType}");
            if (!metadata.TryAdd(key, reader.GetString()!))
                throw Fail(source, $"duplicate key '{key}' in '{SafeTensorFile.MetadataKey}'");
        }
    }

    private static RawInfo ParseTensorInfo(ref Utf8JsonReader reader, string source, string name)
    {
        Next(ref reader, source);
        if (reader.TokenType != JsonTokenType.StartObject)
            throw Fail(source, $"tensor '{name}': value must be an object {{dtype, shape, data_offsets}}, found {reader.TokenType}");
        var info = new RawInfo { Name = name, Shape = [] };
        bool hasDType = false, hasShape = false, hasOffsets = false;
        while (true)
        {
            Next(ref reader, source);
            if (reader.TokenType == JsonTokenType.EndObject) break;
            string field = reader.GetString()!;
            Next(ref reader, source);
            switch (field)
            {
                case "dtype":
                    if (hasDType) throw Fail(source, $"tensor '{name}': duplicate field 'dtype'");
                    hasDType = true;
                    if (reader.TokenType != JsonTokenType.String)
                        throw Fail(source, $"tensor '{name}': 'dtype' must be a string, found {reader.TokenType}");
                    string dt = reader.GetString()!;
                    if (!SafeTensorDTypeExtensions.TryParseSpecName(dt, out info.DType))
                        throw Fail(source, $"tensor '{name}': unsupported dtype '{Truncate(dt)}' (supported: BOOL, U8, I8, I16, U16, F16, BF16, I32, U32, F32, F64, I64, U64)");
                    break;
                case "shape":
                    if (hasShape) throw Fail(source, $"tensor '{name}': duplicate field 'shape'");
                    hasShape = true;
                    info.Shape = ParseShape(ref reader, source, name);
                    break;
                case "data_offsets":
                    if (hasOffsets) throw Fail(source, $"tensor '{name}': duplicate field 'data_offsets'");
                    hasOffsets = true;
                    ParseOffsets(ref reader, source, name, out info.Begin, out info.End);
                    break;
                default:
                    throw Fail(source, $"tensor '{name}': unknown field '{Truncate(field)}' (expected dtype, shape, data_offsets)");
            }
        }
        if (!hasDType) throw Fail(source, $"tensor '{name}': missing 'dtype'");
        if (!hasShape) throw Fail(source, $"tensor '{name}': missing 'shape'");
        if (!hasOffsets) throw Fail(source, $"tensor '{name}': missing 'data_offsets'");

        // Element count and byte size with overflow checks (the reference uses checked_mul).
        long count = 1;
        foreach (int d in info.Shape)
        {
            if (d != 0 && count > long.MaxValue / d)
                throw Fail(source, $"tensor '{name}': element count of shape {SafeTensorEntry.FormatShape(info.Shape)} overflows");
            count *= d;
        }
        int size = info.DType.ElementSize();
        if (count > long.MaxValue / size)
            throw Fail(source, $"tensor '{name}': byte size of {info.DType.SpecName()} shape {SafeTensorEntry.FormatShape(info.Shape)} overflows");
        info.Count = count;
        long bytes = count * size;
        if (info.End - info.Begin != bytes)
            throw Fail(source, $"tensor '{name}': data_offsets [{info.Begin}, {info.End}] span {info.End - info.Begin} bytes but {info.DType.SpecName()} shape {SafeTensorEntry.FormatShape(info.Shape)} needs {bytes}");
        return info;
    }

    private static int[] ParseShape(ref Utf8JsonReader reader, string source, string name)
    {
        if (reader.TokenType != JsonTokenType.StartArray)
            throw Fail(source, $"tensor '{name}': 'shape' must be an array of non-negative integers, found {reader.TokenType}");
        Span<int> dims = stackalloc int[SafeTensorEntry.MaxRank];
        int rank = 0;
        while (true)
        {
            Next(ref reader, source);
            if (reader.TokenType == JsonTokenType.EndArray) break;
            if (reader.TokenType != JsonTokenType.Number || !reader.TryGetUInt64(out ulong d))
                throw Fail(source, $"tensor '{name}': 'shape' must contain non-negative integers, found {Describe(ref reader)}");
            if (rank == SafeTensorEntry.MaxRank)
                throw Fail(source, $"tensor '{name}': rank exceeds the maximum of {SafeTensorEntry.MaxRank}");
            if (d > int.MaxValue)
                throw Fail(source, $"tensor '{name}': dimension {rank} = {d} exceeds {int.MaxValue}");
            dims[rank++] = (int)d;
        }
        return dims[..rank].ToArray();
    }

    private static void ParseOffsets(ref Utf8JsonReader reader, string source, string name, out long begin, out long end)
    {
        if (reader.TokenType != JsonTokenType.StartArray)
            throw Fail(source, $"tensor '{name}': 'data_offsets' must be an array [begin, end], found {reader.TokenType}");
        Span<long> v = stackalloc long[2];
        int k = 0;
        while (true)
        {
            Next(ref reader, source);
            if (reader.TokenType == JsonTokenType.EndArray) break;
            if (k == 2) throw Fail(source, $"tensor '{name}': 'data_offsets' must have exactly 2 entries");
            if (reader.TokenType != JsonTokenType.Number || !reader.TryGetUInt64(out ulong x))
                throw Fail(source, $"tensor '{name}': 'data_offsets' must contain non-negative integers, found {Describe(ref reader)}");
            if (x > long.MaxValue)
                throw Fail(source, $"tensor '{name}': data offset {x} is out of range");
            v[k++] = (long)x;
        }
        if (k != 2) throw Fail(source, $"tensor '{name}': 'data_offsets' must have exactly 2 entries, found {k}");
        begin = v[0];
        end = v[1];
        if (end < begin)
            throw Fail(source, $"tensor '{name}': data_offsets [{begin}, {end}] are reversed (end < begin)");
    }

    private static void ValidateLayout(string source, List<RawInfo> infos, long dataLength, int headerLength, long fileLength)
    {
        var order = infos.ToArray();
        Array.Sort(order, static (a, b) =>
        {
            int c = a.Begin.CompareTo(b.Begin);
            if (c != 0) return c;
            c = a.End.CompareTo(b.End);
            return c != 0 ? c : string.CompareOrdinal(a.Name, b.Name);
        });
        long expected = 0;
        string? previous = null;
        foreach (RawInfo r in order)
        {
            if (r.Begin > expected)
                throw Fail(source, $"hole in the data section: bytes [{expected}, {r.Begin}) belong to no tensor (before tensor '{r.Name}')");
            if (r.Begin < expected)
                throw Fail(source, $"tensor '{r.Name}' data_offsets [{r.Begin}, {r.End}] overlap tensor '{previous}' which ends at {expected}");
            expected = r.End;
            previous = r.Name;
        }
        if (expected > dataLength)
            throw Fail(source, $"tensor data ends at offset {expected} but the data section holds only {dataLength} bytes (file length {fileLength}, header {headerLength}): the file is truncated");
        if (expected < dataLength)
            throw Fail(source, $"tensor data ends at offset {expected} but the data section holds {dataLength} bytes: {dataLength - expected} trailing bytes belong to no tensor");
    }

    private static void Next(ref Utf8JsonReader reader, string source)
    {
        // Stryker disable once Statement,String: unreachable: over a final buffer the reader throws JsonException instead of returning false before the root object closes
        if (!reader.Read()) throw Fail(source, "header ends inside the root object");
    }

    private static string Describe(ref Utf8JsonReader reader) =>
        reader.TokenType == JsonTokenType.Number
            ? Truncate(Encoding.UTF8.GetString(reader.ValueSpan)) // a reader over one span has no value sequences
            : reader.TokenType.ToString();

    private static string Truncate(string s) => s.Length <= 64 ? s : s[..64] + "...";

    private static int FirstInvalidUtf8(ReadOnlySpan<byte> bytes)
    {
        // Called only for invalid UTF-8; at the end of the span DecodeFromUtf8 reports NeedMoreData, so the loop ends.
        int i = 0;
        while (System.Text.Rune.DecodeFromUtf8(bytes[i..], out _, out int consumed) == OperationStatus.Done) i += consumed;
        return i;
    }

    // A defect that ends in a value cut by Truncate keeps its "..." (trimming it would present the cut value as whole).
    private static ModelFormatException Fail(string source, string defect, Exception? inner = null) =>
        new($"safetensors file '{source}': {(defect.EndsWith("...", StringComparison.Ordinal) ? defect : defect.TrimEnd('.') + ".")}", inner);
}
