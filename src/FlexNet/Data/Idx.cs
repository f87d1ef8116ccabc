using System.Buffers.Binary;
using System.IO.Compression;

namespace FlexNet.Data;

/// <summary>
/// Reader for IDX files (the MNIST / Fashion-MNIST container), raw or gzip-compressed (detected by the magic
/// bytes <c>1F 8B</c>). Layout: <c>00 00 type ndims</c>, then <c>ndims</c> big-endian u32 dimensions, then
/// <c>product(dims)</c> elements. Only type <c>0x08</c> (unsigned byte) is read. Every defect (magic, type,
/// ndims, dimension overflow, truncation, trailing bytes, corrupt gzip) raises
/// <see cref="DatasetFormatException"/> naming the file and the byte offset (in the decompressed stream for .gz).
/// </summary>
public static class Idx
{
    /// <summary>Largest accepted number of dimensions.</summary>
    public const int MaxRank = 8;

    private const int ChunkStart = 1 << 20;

    /// <summary>Reads an IDX file of unsigned bytes.</summary>
    /// <param name="path">The file, raw or .gz (gzip is detected from the content, not the name).</param>
    /// <param name="expectedRank">When given, the number of dimensions the caller requires (3 for images, 1 for labels).</param>
    /// <returns>Shape and data.</returns>
    /// <exception cref="DatasetFormatException">The file is malformed: the message names the file, the offset and the defect.</exception>
    /// <exception cref="IOException">The file cannot be opened or read (e.g. <see cref="FileNotFoundException"/>).</exception>
    public static IdxArray Read(string path, int? expectedRank = null)
    {
        // Stryker disable once Statement: equivalent: new FileStream(null) throws the same ArgumentNullException naming 'path'
        ArgumentNullException.ThrowIfNull(path);
        // Stryker disable once Bitwise: speed only: the buffer size (0 means unbuffered) does not change the bytes read
        using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
        return Read(fs, path, expectedRank);
    }

    /// <summary>Reads an IDX image (raw or gzip) from <paramref name="stream"/> to its end.</summary>
    /// <param name="stream">Readable stream.</param>
    /// <param name="sourceName">Name used in error messages.</param>
    /// <param name="expectedRank">When given, the required number of dimensions.</param>
    /// <returns>Shape and data.</returns>
    /// <exception cref="DatasetFormatException">The content is malformed.</exception>
    public static IdxArray Read(Stream stream, string sourceName, int? expectedRank = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(sourceName);
        long start = stream.CanSeek ? stream.Position : 0; // only DiagnoseTrailer reads it, and only from a seekable stream
        var peek = new byte[2];
        int got = stream.ReadAtLeast(peek, peek.Length, throwOnEndOfStream: false);
        bool gzip = got == 2 && peek[0] == 0x1F && peek[1] == 0x8B;
        if (!gzip && stream.CanSeek)
        {
            stream.Position = start; // a seekable raw file is parsed as it is, so Parse can check its length first
            return Parse(stream, sourceName, expectedRank, compressed: false);
        }
        Stream prefixed = new PrefixStream(peek.AsMemory(0, got), stream);
        if (!gzip) return Parse(prefixed, sourceName, expectedRank, compressed: false);

        var tail = new GzipTrailerCheck.TailStream(prefixed);
        GzipTrailerCheck.Crc32Stream crc;
        IdxArray result;
        // Stryker disable once Boolean: equivalent: disposing the GZipStream would dispose only the TailStream wrapper, which does not close the stream it reads
        using (var gz = new GZipStream(tail, CompressionMode.Decompress, leaveOpen: true))
        {
            crc = new GzipTrailerCheck.Crc32Stream(gz);
            try
            {
                result = Parse(crc, sourceName, expectedRank, compressed: true);
            }
            catch (DatasetFormatException e) when (e.InnerException is InvalidDataException)
            {
                // zlib checks the trailer itself and reports a mismatch as "unsupported compression method".
                if (GzipTrailerCheck.DiagnoseTrailer(stream, start) is not string trailer) throw;
                throw new DatasetFormatException($"IDX file '{sourceName}': {trailer}.", e);
            }
        }
        if (GzipTrailerCheck.Verify(tail, crc) is string defect)
            throw new DatasetFormatException($"IDX file '{sourceName}': {defect} (at compressed byte offset {Math.Max(0, tail.Total - 8)}).");
        return result;
    }

    private static IdxArray Parse(Stream s, string source, int? expectedRank, bool compressed)
    {
        long offset = 0;
        var head = new byte[4];
        Fill(s, head, ref offset, source, compressed, "the 4-byte magic number");
        if (head[0] != 0 || head[1] != 0)
            throw Fail(source, compressed, 0, $"wrong magic 0x{head[0]:X2}{head[1]:X2}{head[2]:X2}{head[3]:X2}: an IDX file starts with two zero bytes");
        byte type = head[2];
        if (type != 0x08)
        {
            string? known = type switch
            {
                0x09 => "signed byte", 0x0B => "int16", 0x0C => "int32", 0x0D => "float32", 0x0E => "float64", _ => null,
            };
            throw Fail(source, compressed, 2, known is null
                ? $"unknown type byte 0x{type:X2} (IDX types are 08, 09, 0B, 0C, 0D, 0E)"
                : $"type byte 0x{type:X2} ({known}) is not supported; only 0x08 (unsigned byte) is");
        }
        int rank = head[3];
        if (rank == 0 || rank > MaxRank)
            throw Fail(source, compressed, 3, $"ndims {rank} is out of range 1..{MaxRank}");
        if (expectedRank is int want && rank != want)
            throw Fail(source, compressed, 3, $"ndims mismatch: expected {want}, found {rank}");

        var dimBytes = new byte[4 * rank];
        Fill(s, dimBytes, ref offset, source, compressed, $"{rank} dimension sizes");
        var shape = new int[rank];
        long count = 1;
        for (int i = 0; i < rank; i++)
        {
            uint d = BinaryPrimitives.ReadUInt32BigEndian(dimBytes.AsSpan(4 * i));
            if (d > int.MaxValue)
                throw Fail(source, compressed, 4 + 4 * i, $"dimension {i} = {d} exceeds {int.MaxValue}");
            shape[i] = (int)d;
            count *= d; // ≤ 2^31 · Array.MaxLength < 2^62: cannot overflow before the check below
            if (count > Array.MaxLength)
                throw Fail(source, compressed, 4 + 4 * i, $"product of dimensions [{DimsSoFar(dimBytes, i + 1)}] exceeds the largest array ({Array.MaxLength} elements)");
        }

        long dataStart = offset;
        if (s.CanSeek)
        {
            // Raw file of known length: check before allocating anything the header asks for.
            long available = s.Length - s.Position;
            if (available < count)
                throw Fail(source, compressed, dataStart + available, $"truncated data: shape [{string.Join(", ", shape)}] needs {count} bytes from offset {dataStart}, the file ends at offset {dataStart + available}");
            if (available > count)
                throw Fail(source, compressed, dataStart + count, $"trailing garbage: {available - count} bytes after the {count} data bytes of shape [{string.Join(", ", shape)}]");
        }
        // Grow as data arrives, so a small hostile file cannot make us allocate what its header claims.
        var data = new byte[Math.Min(count, ChunkStart)];
        long got = 0;
        while (got < count)
        {
            if (got == data.Length) Array.Resize(ref data, (int)Math.Min(count, (long)data.Length * 2));
            int n = ReadChecked(s, data, (int)got, data.Length - (int)got, source, compressed, dataStart + got);
            if (n == 0)
                throw Fail(source, compressed, dataStart + got, $"truncated data: shape [{string.Join(", ", shape)}] needs {count} bytes from offset {dataStart}, the {(compressed ? "decompressed stream" : "file")} ends at offset {dataStart + got}");
            got += n;
        }
        var one = new byte[1];
        if (ReadChecked(s, one, 0, 1, source, compressed, dataStart + count) != 0)
            throw Fail(source, compressed, dataStart + count, $"trailing garbage after the {count} data bytes of shape [{string.Join(", ", shape)}]");
        return new IdxArray(shape, data);
    }

    private static string DimsSoFar(byte[] dimBytes, int n)
    {
        var dims = new uint[n];
        for (int i = 0; i < n; i++) dims[i] = BinaryPrimitives.ReadUInt32BigEndian(dimBytes.AsSpan(4 * i));
        return string.Join(", ", dims);
    }

    private static void Fill(Stream s, byte[] buffer, ref long offset, string source, bool compressed, string what)
    {
        int got = 0;
        while (got < buffer.Length)
        {
            int n = ReadChecked(s, buffer, got, buffer.Length - got, source, compressed, offset + got);
            if (n == 0) throw Fail(source, compressed, offset + got, $"truncated header: the {(compressed ? "decompressed stream" : "file")} ends while reading {what}");
            got += n;
        }
        offset += got;
    }

    private static int ReadChecked(Stream s, byte[] buffer, int start, int count, string source, bool compressed, long offset)
    {
        try
        {
            return s.Read(buffer, start, count);
        }
        catch (InvalidDataException e)
        {
            throw Fail(source, compressed, offset, "corrupt or truncated gzip stream: the deflate data does not decode or fails its CRC-32 check", e);
        }
    }

    private static DatasetFormatException Fail(string source, bool compressed, long offset, string defect, Exception? inner = null) =>
        new($"IDX file '{source}': {defect} (at {(compressed ? "decompressed " : "")}byte offset {offset}).", inner);

    /// <summary>Replays a few already-read bytes before the rest of an inner stream (the gzip sniff).</summary>
    private sealed class PrefixStream(ReadOnlyMemory<byte> prefix, Stream inner) : Stream
    {
        private ReadOnlyMemory<byte> _prefix = prefix;

        // Stryker disable once Boolean: equivalent: nothing asks a PrefixStream (private; read by Parse and TailStream only) whether it can read
        public override bool CanRead => true;
        public override bool CanSeek => false;
        // Stryker disable once Boolean: equivalent: nothing asks a PrefixStream (private; read by Parse and TailStream only) whether it can write
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count)
        {
            if (_prefix.IsEmpty) return inner.Read(buffer, offset, count);
            int n = Math.Min(count, _prefix.Length);
            _prefix.Span[..n].CopyTo(buffer.AsSpan(offset, n));
            _prefix = _prefix[n..];
            return n;
        }

        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
