using System.Buffers.Binary;
using System.Globalization;
using System.IO.Hashing;

namespace FlexNet.IO;

/// <summary>
/// A safetensors file whose metadata carries <c>"checksum"</c>: the XxHash3 (64-bit) of the whole file image
/// with the checksum's 16 hex digits replaced by <c>0</c>s. Any change to the prefix, header, metadata or
/// tensor bytes is detected on read (a wrong match has probability 2⁻⁶⁴). Written atomically.
/// </summary>
internal static class ChecksummedFile
{
    internal const string ChecksumKey = "checksum";
    private const int Digits = 16;
    private static ReadOnlySpan<byte> Marker => "\"checksum\":\""u8;

    /// <summary>The complete image with its checksum filled in.</summary>
    internal static byte[] ToBytes(Dictionary<string, string> metadata, IEnumerable<SafeTensorEntry> entries)
    {
        metadata[ChecksumKey] = new string('0', Digits);
        byte[] image = SafeTensorWriter.ToBytes(metadata, entries);
        // Stryker disable once String: unreachable: the writer has just written the placeholder into the header
        int at = Locate(image) ?? throw new InvalidOperationException("The checksum placeholder is missing from the written header.");
        ulong hash = Hash(image, at);
        string hex = hash.ToString("x16", CultureInfo.InvariantCulture);
        for (int i = 0; i < Digits; i++) image[at + i] = (byte)hex[i];
        return image;
    }

    /// <summary>Writes the image atomically to <paramref name="path"/>.</summary>
    internal static void Write(string path, Dictionary<string, string> metadata, IEnumerable<SafeTensorEntry> entries)
    {
        byte[] image = ToBytes(metadata, entries);
        AtomicFile.Write(path, s => s.Write(image));
    }

    /// <summary>Reads and validates the file, then verifies its checksum.</summary>
    /// <exception cref="ModelFormatException">Malformed, without a checksum, or a checksum that does not match.</exception>
    internal static SafeTensorFile Read(string path) => Read(path, Array.MaxLength);

    /// <summary><see cref="Read(string)"/> refusing files over <paramref name="limit"/> bytes (tests use small limits).</summary>
    internal static SafeTensorFile Read(string path, int limit)
    {
        // Stryker disable once Statement: the FileStream constructor throws the same ArgumentNullException naming 'path'
        ArgumentNullException.ThrowIfNull(path);
        byte[] bytes;
        // Stryker disable once Bitwise,Arithmetic: the buffer size changes the number of read calls, not the bytes read
        using (var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan))
            bytes = StreamBytes.ReadToEnd(fs, msg => new ModelFormatException($"'{path}': {msg}"), limit);
        return Parse(bytes, path);
    }

    /// <summary>Validates an image held in memory (used by <see cref="Read(string)"/> and the fuzz tests).</summary>
    internal static SafeTensorFile Parse(byte[] bytes, string source)
    {
        var file = SafeTensorParser.Parse(bytes, source);
        if (!file.Metadata.TryGetValue(ChecksumKey, out var hex))
            throw new ModelFormatException($"'{source}': the file has no '{ChecksumKey}' in its metadata (not a FlexNet checkpoint, or written by an older version).");
        if (hex.Length != Digits || !ulong.TryParse(hex, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out ulong stored) ||
            hex != stored.ToString("x16", CultureInfo.InvariantCulture))
            throw new ModelFormatException($"'{source}': the '{ChecksumKey}' metadata must be {Digits} lower-case hex digits; got '{Truncate(hex)}'.");
        int at = Locate(bytes) ?? throw new ModelFormatException($"'{source}': the '{ChecksumKey}' metadata is not stored in canonical form; the file was altered.");
        ulong actual = Hash(bytes, at);
        if (actual != stored)
            throw new ModelFormatException(string.Create(CultureInfo.InvariantCulture,
                $"'{source}': checksum mismatch (stored {stored:x16}, computed {actual:x16}): the file is corrupted or was altered."));
        return file;
    }

    /// <summary>Test support: recomputes the checksum of a (mutated) image in place, so that mutations reach the
    /// checks behind the checksum. Returns false when the image has no checksum field to fill.</summary>
    internal static bool Reseal(byte[] image)
    {
        if (!BinaryPrimitives.TryReadUInt64LittleEndian(image, out ulong n) || n > (ulong)(image.Length - 8)) return false;
        if (Locate(image) is not int at) return false;
        string hex = Hash(image, at).ToString("x16", CultureInfo.InvariantCulture);
        for (int i = 0; i < Digits; i++) image[at + i] = (byte)hex[i];
        return true;
    }

    private static int? Locate(byte[] image)
    {
        // Within JSON strings every quote is escaped, so the first "checksum":" is the metadata key. Every caller has
        // checked that the header lies within the image (the writer made it, the parser validated it, or Reseal checked).
        int headerLength = (int)BitConverter.ToUInt64(image, 0);
        int i = image.AsSpan(8, headerLength).IndexOf(Marker);
        if (i < 0) return null;
        int at = 8 + i + Marker.Length;
        if (at + Digits >= 8 + headerLength || image[at + Digits] != (byte)'"') return null;
        return at;
    }

    private static ulong Hash(byte[] image, int at)
    {
        var h = new XxHash3();
        h.Append(image.AsSpan(0, at));
        h.Append("0000000000000000"u8);
        h.Append(image.AsSpan(at + Digits));
        return h.GetCurrentHashAsUInt64();
    }

    private static string Truncate(string s) => s.Length <= 32 ? s : s[..32] + "...";
}
