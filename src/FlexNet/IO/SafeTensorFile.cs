using System.Collections.ObjectModel;
using System.Diagnostics.CodeAnalysis;

namespace FlexNet.IO;

/// <summary>
/// A validated safetensors file held in memory: <c>[u64 LE header length N][N bytes UTF-8 JSON header][data]</c>.
/// The header maps tensor names to <c>{"dtype", "shape", "data_offsets": [begin, end]}</c> (offsets relative to
/// the data section) plus an optional <c>"__metadata__"</c> object of string → string.
/// Every check of the reference implementation's <c>validate()</c> is applied before any tensor is exposed
/// (header length ≤ <see cref="MaxHeaderLength"/>, UTF-8, JSON depth, closed dtype list, rank ≤ 8, checked
/// size arithmetic, contiguous non-overlapping offsets covering the data section exactly, at most
/// <see cref="MaxTensorCount"/> tensors), so malformed input only ever raises <see cref="ModelFormatException"/>.
/// Nothing in a file names a .NET type; the JSON is read token by token.
/// </summary>
public sealed class SafeTensorFile
{
    /// <summary>The reserved header key holding the string → string metadata.</summary>
    public const string MetadataKey = "__metadata__";

    /// <summary>Largest accepted header length N in bytes (100,000,000, as in the reference implementation).</summary>
    public const long MaxHeaderLength = 100_000_000;

    /// <summary>Largest accepted number of tensors in one file.</summary>
    public const int MaxTensorCount = 100_000;

    private readonly Dictionary<string, SafeTensorEntry> _byName;

    internal SafeTensorFile(string sourceName, IReadOnlyDictionary<string, string> metadata, SafeTensorEntry[] sortedByName)
    {
        SourceName = sourceName;
        Metadata = metadata;
        Tensors = new ReadOnlyCollection<SafeTensorEntry>(sortedByName);
        _byName = new Dictionary<string, SafeTensorEntry>(sortedByName.Length, StringComparer.Ordinal);
        foreach (SafeTensorEntry e in sortedByName) _byName.Add(e.Name, e);
    }

    /// <summary>The path or source name given when reading; every error message starts with it.</summary>
    public string SourceName { get; }

    /// <summary>The <c>__metadata__</c> entries (empty when the header has none), enumerated in ordinal key order.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>All tensors, sorted by name (ordinal).</summary>
    public IReadOnlyList<SafeTensorEntry> Tensors { get; }

    /// <summary>The tensor called <paramref name="name"/>.</summary>
    /// <param name="name">Tensor key.</param>
    /// <exception cref="ModelFormatException">No such tensor: the message names the file, the key and the available keys.</exception>
    public SafeTensorEntry this[string name]
    {
        get
        {
            ArgumentNullException.ThrowIfNull(name);
            if (_byName.TryGetValue(name, out SafeTensorEntry? e)) return e;
            throw new ModelFormatException(
                $"safetensors file '{SourceName}': no tensor named '{name}'. Available ({Tensors.Count}): {ListNames(40)}.");
        }
    }

    /// <summary>Looks a tensor up by name.</summary>
    /// <param name="name">Tensor key.</param>
    /// <param name="entry">The tensor when found.</param>
    /// <returns><c>true</c> when the file has a tensor called <paramref name="name"/>.</returns>
    public bool TryGet(string name, [MaybeNullWhen(false)] out SafeTensorEntry entry)
    {
        ArgumentNullException.ThrowIfNull(name);
        return _byName.TryGetValue(name, out entry);
    }

    /// <summary>Whether the file has a tensor called <paramref name="name"/>.</summary>
    /// <param name="name">Tensor key.</param>
    /// <returns><c>true</c> if present.</returns>
    public bool Contains(string name) => _byName.ContainsKey(name);

    /// <summary>Reads and validates a file (the whole file is loaded; files up to <see cref="Array.MaxLength"/> bytes).</summary>
    /// <param name="path">File path; used as the source name in errors.</param>
    /// <returns>The validated file.</returns>
    /// <exception cref="ModelFormatException">The file is not a valid safetensors file (message names the file and the defect).</exception>
    /// <exception cref="IOException">The file cannot be opened or read (e.g. <see cref="FileNotFoundException"/>).</exception>
    public static SafeTensorFile Read(string path)
    {
        // Stryker disable once Statement: the FileStream constructor throws the same ArgumentNullException naming 'path'
        ArgumentNullException.ThrowIfNull(path);
        // Stryker disable once Bitwise,Arithmetic: the buffer size changes the number of read calls, not the bytes read
        using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
        return Read(fs, path);
    }

    /// <summary>Reads and validates a safetensors file from the current position of <paramref name="stream"/> to its end.</summary>
    /// <param name="stream">Readable stream (need not be seekable).</param>
    /// <param name="sourceName">Name used in error messages (e.g. the path).</param>
    /// <returns>The validated file.</returns>
    /// <exception cref="ModelFormatException">The bytes are not a valid safetensors file.</exception>
    public static SafeTensorFile Read(Stream stream, string sourceName)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(sourceName);
        byte[] bytes = StreamBytes.ReadToEnd(stream,
            msg => new ModelFormatException($"safetensors file '{sourceName}': {msg}"));
        return SafeTensorParser.Parse(bytes, sourceName);
    }

    /// <summary>Validates a safetensors image held in memory (the bytes are copied).</summary>
    /// <param name="bytes">The whole file.</param>
    /// <param name="sourceName">Name used in error messages.</param>
    /// <returns>The validated file.</returns>
    /// <exception cref="ModelFormatException">The bytes are not a valid safetensors file.</exception>
    public static SafeTensorFile Parse(ReadOnlySpan<byte> bytes, string sourceName)
    {
        ArgumentNullException.ThrowIfNull(sourceName);
        return SafeTensorParser.Parse(bytes.ToArray(), sourceName);
    }

    /// <summary>Summary: the source name and the number of tensors.</summary>
    /// <returns>A one-line description.</returns>
    public override string ToString() => $"SafeTensorFile('{SourceName}', {Tensors.Count} tensors, {Metadata.Count} metadata entries)";

    private string ListNames(int max)
    {
        if (Tensors.Count == 0) return "(none)";
        var names = new List<string>(Math.Min(max, Tensors.Count));
        for (int i = 0; i < Tensors.Count && i < max; i++) names.Add("'" + Tensors[i].Name + "'");
        string list = string.Join(", ", names);
        return Tensors.Count > max ? $"{list}, ... and {Tensors.Count - max} more" : list;
    }
}
