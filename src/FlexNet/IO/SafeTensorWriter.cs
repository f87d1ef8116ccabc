using System.Buffers;
using System.Buffers.Binary;
using System.Text.Encodings.Web;
using System.Text.Json;
using FlexNet.Tensors;

namespace FlexNet.IO;

/// <summary>
/// Writes safetensors files: <c>[u64 LE N][N-byte JSON header, space-padded so 8 + N is a multiple of 8][data]</c>.
/// Output is deterministic: header keys are sorted (ordinal, <c>__metadata__</c> first), there are no
/// timestamps, and tensor data is laid out by element size (largest first) then name, so every tensor starts
/// at an offset aligned to its element size without holes. Files written to a path are replaced atomically
/// (temporary file in the same directory, flushed to disk, then renamed over the destination).
/// </summary>
public static class SafeTensorWriter
{
    /// <summary>Writes <paramref name="tensors"/> and optional <paramref name="metadata"/> to <paramref name="path"/>, atomically.</summary>
    /// <param name="path">Destination; replaced only once the new file is complete and flushed.</param>
    /// <param name="metadata">String → string metadata stored under <c>__metadata__</c>, or <c>null</c>.</param>
    /// <param name="tensors">Entries with distinct names.</param>
    /// <exception cref="ArgumentException">Duplicate or unencodable names, or null metadata values.</exception>
    public static void Write(string path, IReadOnlyDictionary<string, string>? metadata, IEnumerable<SafeTensorEntry> tensors) =>
        Write(path, metadata, tensors, openTemp: null);

    /// <summary>Writes raw tensors given as (name, dtype, shape, little-endian bytes), atomically.</summary>
    /// <param name="path">Destination; replaced only once the new file is complete and flushed.</param>
    /// <param name="metadata">String → string metadata, or <c>null</c>.</param>
    /// <param name="tensors">Tuples; <c>Data.Length</c> must equal product(Shape) · element size.</param>
    /// <exception cref="ArgumentException">Duplicate or unencodable names, bad shapes, or null metadata values.</exception>
    /// <exception cref="ShapeMismatchException">A byte length does not match its shape and dtype.</exception>
    public static void Write(string path, IReadOnlyDictionary<string, string>? metadata,
        IEnumerable<(string Name, SafeTensorDType DType, int[] Shape, byte[] Data)> tensors)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        var list = new List<SafeTensorEntry>();
        foreach (var t in tensors) list.Add(SafeTensorEntry.FromRaw(t.Name, t.DType, t.Shape, t.Data));
        Write(path, metadata, list);
    }

    /// <summary>Writes F32 tensors given as (name, shape, values), atomically.</summary>
    /// <param name="path">Destination.</param>
    /// <param name="metadata">String → string metadata, or <c>null</c>.</param>
    /// <param name="tensors">Tuples; <c>Data.Length</c> must equal product(Shape).</param>
    /// <exception cref="ArgumentException">Duplicate or unencodable names or bad shapes.</exception>
    /// <exception cref="ShapeMismatchException">A value count does not match its shape.</exception>
    public static void Write(string path, IReadOnlyDictionary<string, string>? metadata,
        IEnumerable<(string Name, int[] Shape, float[] Data)> tensors)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        var list = new List<SafeTensorEntry>();
        foreach (var t in tensors) list.Add(SafeTensorEntry.FromFloats(t.Name, t.Shape, t.Data));
        Write(path, metadata, list);
    }

    /// <summary>Writes F64 tensors given as (name, shape, values), atomically.</summary>
    /// <param name="path">Destination.</param>
    /// <param name="metadata">String → string metadata, or <c>null</c>.</param>
    /// <param name="tensors">Tuples; <c>Data.Length</c> must equal product(Shape).</param>
    /// <exception cref="ArgumentException">Duplicate or unencodable names or bad shapes.</exception>
    /// <exception cref="ShapeMismatchException">A value count does not match its shape.</exception>
    public static void Write(string path, IReadOnlyDictionary<string, string>? metadata,
        IEnumerable<(string Name, int[] Shape, double[] Data)> tensors)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        var list = new List<SafeTensorEntry>();
        foreach (var t in tensors) list.Add(SafeTensorEntry.FromDoubles(t.Name, t.Shape, t.Data));
        Write(path, metadata, list);
    }

    /// <summary>Writes I64 tensors given as (name, shape, values), atomically.</summary>
    /// <param name="path">Destination.</param>
    /// <param name="metadata">String → string metadata, or <c>null</c>.</param>
    /// <param name="tensors">Tuples; <c>Data.Length</c> must equal product(Shape).</param>
    /// <exception cref="ArgumentException">Duplicate or unencodable names or bad shapes.</exception>
    /// <exception cref="ShapeMismatchException">A value count does not match its shape.</exception>
    public static void Write(string path, IReadOnlyDictionary<string, string>? metadata,
        IEnumerable<(string Name, int[] Shape, long[] Data)> tensors)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        var list = new List<SafeTensorEntry>();
        foreach (var t in tensors) list.Add(SafeTensorEntry.FromInt64s(t.Name, t.Shape, t.Data));
        Write(path, metadata, list);
    }

    /// <summary>Writes the file image to <paramref name="destination"/> (no atomicity: the caller owns the stream).</summary>
    /// <param name="destination">Writable stream; not closed.</param>
    /// <param name="metadata">String → string metadata, or <c>null</c>.</param>
    /// <param name="tensors">Entries with distinct names.</param>
    /// <exception cref="ArgumentException">Duplicate or unencodable names, or null metadata values.</exception>
    public static void Write(Stream destination, IReadOnlyDictionary<string, string>? metadata, IEnumerable<SafeTensorEntry> tensors)
    {
        ArgumentNullException.ThrowIfNull(destination);
        Plan plan = MakePlan(metadata, tensors);
        WritePlan(destination, plan);
    }

    /// <summary>Returns the complete file image as bytes.</summary>
    /// <param name="metadata">String → string metadata, or <c>null</c>.</param>
    /// <param name="tensors">Entries with distinct names.</param>
    /// <returns>The bytes a call to <see cref="Write(string, IReadOnlyDictionary{string, string}?, IEnumerable{SafeTensorEntry})"/> would store.</returns>
    /// <exception cref="ArgumentException">Duplicate or unencodable names, or null metadata values.</exception>
    public static byte[] ToBytes(IReadOnlyDictionary<string, string>? metadata, IEnumerable<SafeTensorEntry> tensors)
    {
        Plan plan = MakePlan(metadata, tensors);
        using var ms = new MemoryStream();
        WritePlan(ms, plan);
        return ms.ToArray();
    }

    /// <summary>Atomic write with a hook that opens the temporary file (tests inject failing streams here).</summary>
    /// <summary>Test support: <see cref="ToBytes(IReadOnlyDictionary{string, string}?, IEnumerable{SafeTensorEntry})"/> with
    /// smaller limits on the tensor count and the header length, so that both sides of each can be tested cheaply.</summary>
    internal static byte[] ToBytes(IReadOnlyDictionary<string, string>? metadata, IEnumerable<SafeTensorEntry> tensors,
        int maxTensorCount, long maxHeaderLength)
    {
        Plan plan = MakePlan(metadata, tensors, maxTensorCount, maxHeaderLength);
        using var ms = new MemoryStream();
        WritePlan(ms, plan);
        return ms.ToArray();
    }

    internal static void Write(string path, IReadOnlyDictionary<string, string>? metadata, IEnumerable<SafeTensorEntry> tensors,
        Func<string, Stream>? openTemp)
    {
        ArgumentNullException.ThrowIfNull(path);
        Plan plan = MakePlan(metadata, tensors); // validate everything before touching the file system
        AtomicFile.Write(path, s => WritePlan(s, plan), openTemp);
    }

    private sealed class Plan
    {
        public required byte[] Header; // JSON + padding
        public required SafeTensorEntry[] DataOrder;
    }

    private static Plan MakePlan(IReadOnlyDictionary<string, string>? metadata, IEnumerable<SafeTensorEntry> tensors,
        int maxTensorCount = SafeTensorFile.MaxTensorCount, long maxHeaderLength = SafeTensorFile.MaxHeaderLength)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        var byName = new List<SafeTensorEntry>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (SafeTensorEntry e in tensors)
        {
            ArgumentNullException.ThrowIfNull(e, nameof(tensors));
            if (!seen.Add(e.Name)) throw new ArgumentException($"Duplicate tensor name '{e.Name}'.", nameof(tensors));
            CheckEncodable(e.Name, "tensor name");
            byName.Add(e);
        }
        if (byName.Count > maxTensorCount)
            throw new ArgumentException($"{byName.Count} tensors exceed the limit of {maxTensorCount}.", nameof(tensors));
        byName.Sort(static (a, b) => string.CompareOrdinal(a.Name, b.Name));

        // Largest element size first keeps each tensor aligned to its element size (the header ends 8-aligned).
        SafeTensorEntry[] dataOrder = byName.ToArray();
        Array.Sort(dataOrder, static (a, b) =>
        {
            int c = b.DType.ElementSize().CompareTo(a.DType.ElementSize());
            return c != 0 ? c : string.CompareOrdinal(a.Name, b.Name);
        });
        var offsets = new Dictionary<string, (long Begin, long End)>(StringComparer.Ordinal);
        long pos = 0;
        foreach (SafeTensorEntry e in dataOrder)
        {
            offsets[e.Name] = (pos, pos + e.Data.Length);
            pos += e.Data.Length;
        }

        var buffer = new ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions
               {
                   Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, // keeps metadata readable; still escapes quotes and controls
                   Indented = false,
               }))
        {
            json.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                var keys = new List<string>(metadata.Keys);
                keys.Sort(StringComparer.Ordinal);
                json.WriteStartObject(SafeTensorFile.MetadataKey);
                foreach (string k in keys)
                {
                    string v = metadata[k] ?? throw new ArgumentException($"Metadata value for '{k}' is null.", nameof(metadata));
                    CheckEncodable(k, "metadata key");
                    CheckEncodable(v, $"metadata value for '{k}'");
                    json.WriteString(k, v);
                }
                json.WriteEndObject();
            }
            foreach (SafeTensorEntry e in byName)
            {
                json.WriteStartObject(e.Name);
                json.WriteString("dtype", e.DType.SpecName());
                json.WriteStartArray("shape");
                foreach (int d in e.ShapeSpan) json.WriteNumberValue(d);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                (long b, long end) = offsets[e.Name];
                json.WriteNumberValue(b);
                json.WriteNumberValue(end);
                json.WriteEndArray();
                json.WriteEndObject();
            }
            json.WriteEndObject();
        }
        int length = buffer.WrittenCount;
        int padded = (length + 7) & ~7; // 8 + padded is then a multiple of 8
        if (padded > maxHeaderLength)
            throw new ArgumentException($"Header would be {padded} bytes, over the limit of {maxHeaderLength}.", nameof(metadata));
        var header = new byte[padded];
        buffer.WrittenSpan.CopyTo(header);
        header.AsSpan(length).Fill((byte)' ');
        return new Plan { Header = header, DataOrder = dataOrder };
    }

    private static void WritePlan(Stream s, Plan plan)
    {
        Span<byte> prefix = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)plan.Header.Length);
        s.Write(prefix);
        s.Write(plan.Header);
        foreach (SafeTensorEntry e in plan.DataOrder) s.Write(e.Data.Span);
    }

    private static void CheckEncodable(string s, string what)
    {
        for (int i = 0; i < s.Length; i++)
        {
            char c = s[i];
            if (char.IsHighSurrogate(c) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1])) { i++; continue; }
            if (char.IsSurrogate(c))
                throw new ArgumentException($"The {what} '{s}' contains an unpaired UTF-16 surrogate at index {i} and cannot be stored as UTF-8.");
        }
    }
}
