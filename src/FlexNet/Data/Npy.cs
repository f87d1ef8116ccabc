using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using FlexNet.IO;
using FlexNet.Tensors;

namespace FlexNet.Data;

/// <summary>
/// Reads and writes numpy <c>.npy</c> files (format versions 1.0, 2.0 and 3.0): the magic <c>\x93NUMPY</c>,
/// a version, a header length (u16 for 1.0, u32 after), a Python-literal header dict
/// <c>{'descr': '&lt;f4', 'fortran_order': False, 'shape': (3, 4), }</c> and the raw C-order data.
/// Supported descrs: <c>&lt;f4 &lt;f8 &lt;i8 &lt;i4 |u1</c>. Nothing is ever unpickled: object arrays, structured
/// dtypes, big-endian data and Fortran-ordered arrays of rank ≥ 2 are rejected with a
/// <see cref="DatasetFormatException"/> naming the file and the byte offset.
/// </summary>
public static class Npy
{
    /// <summary>Largest accepted header length in bytes.</summary>
    public const int MaxHeaderLength = 100_000;

    /// <summary>Largest accepted rank (numpy's own limit is 64).</summary>
    public const int MaxRank = 64;

    private static ReadOnlySpan<byte> Magic => [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    /// <summary>Reads a <c>.npy</c> file.</summary>
    /// <param name="path">The file.</param>
    /// <returns>Shape, dtype and typed data.</returns>
    /// <exception cref="DatasetFormatException">Malformed or unsupported content (message names file, offset and defect).</exception>
    /// <exception cref="IOException">The file cannot be opened or read.</exception>
    public static NpyArray Read(string path)
    {
        // Stryker disable once Statement: equivalent: new FileStream(null) throws the same ArgumentNullException naming 'path'
        ArgumentNullException.ThrowIfNull(path);
        // Stryker disable once Bitwise: speed only: the buffer size (0 means unbuffered) does not change the bytes read
        using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
        return Read(fs, path);
    }

    /// <summary>Reads a <c>.npy</c> image from the stream's position to its end.</summary>
    /// <param name="stream">Readable stream.</param>
    /// <param name="sourceName">Name used in error messages.</param>
    /// <returns>Shape, dtype and typed data.</returns>
    /// <exception cref="DatasetFormatException">Malformed or unsupported content.</exception>
    public static NpyArray Read(Stream stream, string sourceName)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(sourceName);
        byte[] bytes = StreamBytes.ReadToEnd(stream, msg => new DatasetFormatException($"NPY file '{sourceName}': {msg}"));
        return Parse(bytes, sourceName);
    }

    internal static NpyArray Parse(ReadOnlySpan<byte> file, string source)
    {
        if (file.Length < 6)
            throw Fail(source, 0, $"file is {file.Length} bytes, too short for the NPY magic");
        if (!file[..6].SequenceEqual(Magic))
            throw Fail(source, 0, "wrong magic: an NPY file starts with \\x93NUMPY");
        if (file.Length < 10)
            throw Fail(source, file.Length, "truncated header: the file ends inside the version and header length");
        byte major = file[6], minor = file[7];
        long headerLength;
        int headerStart;
        if (major == 1)
        {
            headerLength = BinaryPrimitives.ReadUInt16LittleEndian(file[8..]);
            headerStart = 10;
        }
        else if (major is 2 or 3)
        {
            if (file.Length < 12) throw Fail(source, file.Length, "truncated header length");
            headerLength = BinaryPrimitives.ReadUInt32LittleEndian(file[8..]);
            headerStart = 12;
        }
        else
        {
            throw Fail(source, 6, $"unsupported format version {major}.{minor} (1.0, 2.0 and 3.0 are read)");
        }
        if (headerLength > MaxHeaderLength)
            throw Fail(source, 8, $"header length {headerLength} exceeds the limit of {MaxHeaderLength}");
        if (headerStart + headerLength > file.Length)
            throw Fail(source, file.Length, $"truncated header: {headerLength} header bytes announced from offset {headerStart}, the file is {file.Length} bytes");
        ReadOnlySpan<byte> headerBytes = file.Slice(headerStart, (int)headerLength);
        string header;
        if (major == 3)
        {
            if (!System.Text.Unicode.Utf8.IsValid(headerBytes)) throw Fail(source, headerStart, "header is not valid UTF-8");
            header = Encoding.UTF8.GetString(headerBytes);
        }
        else
        {
            header = Encoding.Latin1.GetString(headerBytes);
        }

        var p = new HeaderParser(header, source, headerStart);
        (string descr, bool fortran, int[] shape) = p.ParseDict();
        NpyDType dtype = descr switch
        {
            "<f4" => NpyDType.Float32,
            "<f8" => NpyDType.Float64,
            "<i8" => NpyDType.Int64,
            "<i4" => NpyDType.Int32,
            "|u1" or "<u1" or ">u1" or "u1" => NpyDType.UInt8,
            _ => throw Fail(source, headerStart, descr.Length > 0 && descr[0] == '>'
                ? $"big-endian dtype '{descr}' is not supported (supported: <f4 <f8 <i8 <i4 |u1)"
                : $"unsupported dtype '{Shorten(descr)}' (supported: <f4 <f8 <i8 <i4 |u1)"),
        };
        if (fortran && shape.Length >= 2)
            throw Fail(source, headerStart, $"fortran_order is True for shape ({string.Join(", ", shape)}); only C-order arrays are read (save with np.ascontiguousarray)");

        long count = 1;
        foreach (int d in shape)
        {
            count *= d; // each factor < 2^31 and count ≤ Array.MaxLength before it: no overflow
            if (count > Array.MaxLength)
                throw Fail(source, headerStart, $"shape ({string.Join(", ", shape)}) is too large for one array");
        }
        long bytes = count * NpyArray.ElementSize(dtype);
        long dataStart = headerStart + headerLength;
        long available = file.Length - dataStart;
        if (available < bytes)
            throw Fail(source, file.Length, $"truncated data: {descr} shape ({string.Join(", ", shape)}) needs {bytes} bytes from offset {dataStart}, only {available} present");
        if (available > bytes)
            throw Fail(source, dataStart + bytes, $"{available - bytes} trailing bytes after the {bytes} data bytes of shape ({string.Join(", ", shape)})");
        return NpyArray.FromBytes(dtype, shape, file.Slice((int)dataStart, (int)bytes));
    }

    /// <summary>Writes <paramref name="array"/> as an NPY 1.0 file (2.0 if the header needs it), atomically.</summary>
    /// <param name="path">Destination; replaced only once the new file is complete and flushed.</param>
    /// <param name="array">The array.</param>
    public static void Write(string path, NpyArray array)
    {
        // Stryker disable once Statement: equivalent: AtomicFile.Write throws the same ArgumentNullException naming 'path'
        ArgumentNullException.ThrowIfNull(path);
        // Stryker disable once Statement: equivalent: Write(Stream, null) inside AtomicFile.Write throws the same ArgumentNullException naming 'array'; the temporary file is deleted, the destination untouched
        ArgumentNullException.ThrowIfNull(array);
        AtomicFile.Write(path, s => Write(s, array));
    }

    /// <summary>Writes float32 data with its shape (<c>&lt;f4</c>), atomically.</summary>
    /// <param name="path">Destination.</param>
    /// <param name="data">product(shape) values, row-major.</param>
    /// <param name="shape">Dimensions.</param>
    /// <exception cref="ShapeMismatchException">Length ≠ product(shape).</exception>
    public static void Write(string path, float[] data, int[] shape) => Write(path, new NpyArray(data, shape));

    /// <summary>Writes float64 data with its shape (<c>&lt;f8</c>), atomically.</summary>
    /// <param name="path">Destination.</param>
    /// <param name="data">product(shape) values, row-major.</param>
    /// <param name="shape">Dimensions.</param>
    /// <exception cref="ShapeMismatchException">Length ≠ product(shape).</exception>
    public static void Write(string path, double[] data, int[] shape) => Write(path, new NpyArray(data, shape));

    /// <summary>Writes int64 data with its shape (<c>&lt;i8</c>), atomically.</summary>
    /// <param name="path">Destination.</param>
    /// <param name="data">product(shape) values, row-major.</param>
    /// <param name="shape">Dimensions.</param>
    /// <exception cref="ShapeMismatchException">Length ≠ product(shape).</exception>
    public static void Write(string path, long[] data, int[] shape) => Write(path, new NpyArray(data, shape));

    /// <summary>Writes int32 data with its shape (<c>&lt;i4</c>), atomically.</summary>
    /// <param name="path">Destination.</param>
    /// <param name="data">product(shape) values, row-major.</param>
    /// <param name="shape">Dimensions.</param>
    /// <exception cref="ShapeMismatchException">Length ≠ product(shape).</exception>
    public static void Write(string path, int[] data, int[] shape) => Write(path, new NpyArray(data, shape));

    /// <summary>Writes uint8 data with its shape (<c>|u1</c>), atomically.</summary>
    /// <param name="path">Destination.</param>
    /// <param name="data">product(shape) values, row-major.</param>
    /// <param name="shape">Dimensions.</param>
    /// <exception cref="ShapeMismatchException">Length ≠ product(shape).</exception>
    public static void Write(string path, byte[] data, int[] shape) => Write(path, new NpyArray(data, shape));

    /// <summary>Writes the NPY image of <paramref name="array"/> to a stream (not closed).</summary>
    /// <param name="destination">Writable stream.</param>
    /// <param name="array">The array.</param>
    /// <exception cref="ArgumentException">Rank above <see cref="MaxRank"/>.</exception>
    public static void Write(Stream destination, NpyArray array)
    {
        ArgumentNullException.ThrowIfNull(destination);
        ArgumentNullException.ThrowIfNull(array);
        if (array.Shape.Length > MaxRank)
            throw new ArgumentException($"NPY rank {array.Shape.Length} exceeds {MaxRank}.", nameof(array));
        string descr = array.DType switch
        {
            NpyDType.Float32 => "<f4",
            NpyDType.Float64 => "<f8",
            NpyDType.Int64 => "<i8",
            NpyDType.Int32 => "<i4",
            _ => "|u1",
        };
        string shape = array.Shape.Length == 1
            ? $"({array.Shape[0]},)"
            : "(" + string.Join(", ", array.Shape) + ")";
        string dict = $"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}";
        // numpy pads with spaces and ends with '\n' so that the data starts on a 64-byte boundary. Version 1.0 always
        // fits: at rank ≤ 64 the dict is under 1,000 characters, far below the 65,535 of its u16 header length.
        const int prefix = 10;
        int padded = (prefix + dict.Length + 1 + 63) / 64 * 64;
        int headerLength = padded - prefix;
        var head = new byte[padded];
        Magic.CopyTo(head);
        head[6] = 1;
        head[7] = 0;
        BinaryPrimitives.WriteUInt16LittleEndian(head.AsSpan(8), (ushort)headerLength);
        Encoding.ASCII.GetBytes(dict, head.AsSpan(prefix));
        head.AsSpan(prefix + dict.Length, headerLength - dict.Length - 1).Fill((byte)' ');
        head[^1] = (byte)'\n';
        destination.Write(head);
        WriteData(destination, array);
    }

    private static void WriteData(Stream s, NpyArray array)
    {
        ReadOnlySpan<byte> raw = array.Data switch
        {
            float[] f => MemoryMarshal.AsBytes(f.AsSpan()),
            double[] d => MemoryMarshal.AsBytes(d.AsSpan()),
            long[] l => MemoryMarshal.AsBytes(l.AsSpan()),
            int[] n => MemoryMarshal.AsBytes(n.AsSpan()),
            byte[] b => b,
            // Stryker disable once String: unreachable: the constructors of NpyArray take only these five array types
            _ => throw new InvalidOperationException("unreachable: NpyArray data type"),
        };
        if (BitConverter.IsLittleEndian || /* Stryker disable once Equality: runs only on big-endian hosts; the tests run on little-endian ones */ array.DType == NpyDType.UInt8)
        {
            s.Write(raw);
        }
        // Stryker disable once all: runs only on big-endian hosts; the tests run on little-endian ones
        else
        {
            int size = NpyArray.ElementSize(array.DType);
            byte[] tmp = raw.ToArray();
            for (int i = 0; i < tmp.Length; i += size) tmp.AsSpan(i, size).Reverse();
            s.Write(tmp);
        }
    }

    private static DatasetFormatException Fail(string source, long offset, string defect) =>
        new($"NPY file '{source}': {defect} (at byte offset {offset}).");

    private static string Shorten(string s) => s.Length <= 40 ? s : s[..40] + "...";

    /// <summary>Parses the restricted Python literal of an NPY header: a dict of exactly descr, fortran_order, shape.</summary>
    private ref struct HeaderParser(string text, string source, int baseOffset)
    {
        private int _i;

        public (string Descr, bool Fortran, int[] Shape) ParseDict()
        {
            SkipWs();
            Expect('{');
            string? descr = null;
            bool? fortran = null;
            int[]? shape = null;
            while (true)
            {
                SkipWs();
                if (Peek() == '}') { _i++; break; }
                int keyAt = _i;
                string key = ParseString();
                SkipWs();
                Expect(':');
                SkipWs();
                switch (key)
                {
                    case "descr":
                        if (descr is not null) throw Error(keyAt, "duplicate key 'descr'");
                        if (Peek() is not ('\'' or '"')) throw Error(_i, "'descr' must be a simple dtype string (structured dtypes are not supported)");
                        descr = ParseString();
                        break;
                    case "fortran_order":
                        if (fortran is not null) throw Error(keyAt, "duplicate key 'fortran_order'");
                        fortran = ParseBool();
                        break;
                    case "shape":
                        if (shape is not null) throw Error(keyAt, "duplicate key 'shape'");
                        shape = ParseShape();
                        break;
                    default:
                        throw Error(keyAt, $"unexpected key '{Shorten(key)}' (the header has exactly descr, fortran_order, shape)");
                }
                SkipWs();
                char c = Peek();
                if (c == ',') { _i++; continue; }
                if (c == '}') { _i++; break; }
                throw Error(_i, $"expected ',' or '}}' in the header dict, found {Show(c)}");
            }
            SkipWs();
            if (_i != text.Length) throw Error(_i, $"unexpected {Show(text[_i])} after the header dict");
            if (descr is null) throw Error(0, "header lacks 'descr'");
            if (fortran is null) throw Error(0, "header lacks 'fortran_order'");
            if (shape is null) throw Error(0, "header lacks 'shape'");
            return (descr, fortran.Value, shape);
        }

        private int[] ParseShape()
        {
            Expect('(');
            var dims = new List<int>();
            while (true)
            {
                SkipWs();
                if (Peek() == ')') { _i++; break; }
                int at = _i;
                int start = _i;
                while (_i < text.Length && char.IsAsciiDigit(text[_i])) _i++;
                if (_i == start) throw Error(at, $"shape must be a tuple of non-negative integers, found {Show(Peek())}");
                if (!long.TryParse(text.AsSpan(start, _i - start), NumberStyles.None, CultureInfo.InvariantCulture, out long d) || d > int.MaxValue)
                    throw Error(at, $"shape dimension {Shorten(text[start.._i])} exceeds {int.MaxValue}");
                if (_i < text.Length && text[_i] == 'L') _i++; // Python 2 long literal
                if (dims.Count == MaxRank) throw Error(at, $"rank exceeds {MaxRank}");
                dims.Add((int)d);
                SkipWs();
                char c = Peek();
                if (c == ',') { _i++; continue; }
                if (c == ')') { _i++; break; }
                throw Error(_i, $"expected ',' or ')' in shape, found {Show(c)}");
            }
            return dims.ToArray();
        }

        private bool ParseBool()
        {
            if (string.CompareOrdinal(text, _i, "True", 0, 4) == 0) { _i += 4; return true; }
            if (string.CompareOrdinal(text, _i, "False", 0, 5) == 0) { _i += 5; return false; }
            throw Error(_i, "'fortran_order' must be True or False");
        }

        private string ParseString()
        {
            char q = Peek();
            if (q is not ('\'' or '"')) throw Error(_i, $"expected a quoted string, found {Show(q)}");
            int start = ++_i;
            while (_i < text.Length && text[_i] != q)
            {
                if (text[_i] == '\\') throw Error(_i, "escape sequences are not supported in header strings");
                _i++;
            }
            if (_i >= text.Length) throw Error(start - 1, "unterminated string in the header");
            return text[start.._i++];
        }

        private void Expect(char c)
        {
            if (Peek() != c) throw Error(_i, $"expected '{c}', found {Show(Peek())}");
            _i++;
        }

        private void SkipWs()
        {
            while (_i < text.Length && text[_i] is ' ' or '\t' or '\n' or '\r') _i++;
        }

        private readonly char Peek() => _i < text.Length ? text[_i] : '\0';

        private static string Show(char c) => c == '\0' ? "the end of the header" : $"'{c}'";

        private readonly DatasetFormatException Error(int at, string defect) => Fail(source, baseOffset + at, defect);
    }
}
