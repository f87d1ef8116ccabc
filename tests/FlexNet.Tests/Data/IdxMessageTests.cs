using FlexNet.Data;
using Xunit;
using G = FlexNet.Tests.Data.GzipTrailerCheckTests;

namespace FlexNet.Tests.Data;

/// <summary>
/// Every rejection of <see cref="Idx"/> asserted with its whole message, for a seekable raw stream, a raw stream read one
/// byte at a time, and gzip. The source names say nothing about the defect, so only the message can name it.
/// </summary>
public sealed class IdxMessageTests
{
    /// <summary>A non-seekable stream that hands out at most one byte per read.</summary>
    internal sealed class Trickle(byte[] bytes) : Stream
    {
        private readonly MemoryStream _inner = new(bytes);
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override int Read(byte[] buffer, int offset, int count) => _inner.Read(buffer, offset, Math.Min(count, 1));
        public override int Read(Span<byte> buffer) => _inner.Read(buffer[..Math.Min(buffer.Length, 1)]);
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    private const long MaxLength = 2147483591; // Array.MaxLength, 0x7FFFFFC7

    private static string Raw(string defect, long offset) => $"IDX file 'x1': {defect} (at byte offset {offset}).";

    private static string Gz(string defect, long offset) => $"IDX file 'x1': {defect} (at decompressed byte offset {offset}).";

    private static string ReadRaw(byte[] bytes) => Assert.Throws<DatasetFormatException>(() => Idx.Read(new MemoryStream(bytes), "x1")).Message;

    private static string ReadTrickle(byte[] bytes) => Assert.Throws<DatasetFormatException>(() => Idx.Read(new Trickle(bytes), "x1")).Message;

    private static string ReadGz(byte[] raw) => Assert.Throws<DatasetFormatException>(() => Idx.Read(new MemoryStream(G.Member(raw)), "x1")).Message;

    [Fact]
    public void NullArguments_AreNamed()
    {
        Assert.Equal("stream", Assert.Throws<ArgumentNullException>(() => Idx.Read((Stream)null!, "x1")).ParamName);
        byte[] ok = IdxTests.Make(0x08, [1], [7]);
        Assert.Equal("sourceName", Assert.Throws<ArgumentNullException>(() => Idx.Read(new MemoryStream(ok), null!)).ParamName);
    }

    [Fact]
    public void TruncatedHeaders()
    {
        Assert.Equal(Raw("truncated header: the file ends while reading the 4-byte magic number", 0), ReadRaw([]));
        Assert.Equal(Raw("truncated header: the file ends while reading the 4-byte magic number", 1), ReadRaw([0x1F]));
        Assert.Equal(Raw("truncated header: the file ends while reading the 4-byte magic number", 1), ReadTrickle([0x1F]));
        Assert.Equal(Raw("truncated header: the file ends while reading the 4-byte magic number", 2), ReadTrickle([0, 0]));
        Assert.Equal(Gz("truncated header: the decompressed stream ends while reading the 4-byte magic number", 2), ReadGz([0, 0]));
        byte[] cutDims = [0, 0, 8, 3, 0, 0, 0, 1, 0, 0];
        Assert.Equal(Raw("truncated header: the file ends while reading 3 dimension sizes", 10), ReadRaw(cutDims));
        Assert.Equal(Raw("truncated header: the file ends while reading 3 dimension sizes", 10), ReadTrickle(cutDims));
        Assert.Equal(Gz("truncated header: the decompressed stream ends while reading 3 dimension sizes", 10), ReadGz(cutDims));
    }

    [Fact]
    public void MagicAndTypeBytes()
    {
        // A second byte of 8B alone does not make a gzip stream.
        Assert.Equal(Raw("wrong magic 0x008B0801: an IDX file starts with two zero bytes", 0), ReadRaw([0x00, 0x8B, 0x08, 0x01, 0, 0, 0, 1, 5]));
        Assert.Equal(Raw("wrong magic 0x008B0801: an IDX file starts with two zero bytes", 0), ReadTrickle([0x00, 0x8B, 0x08, 0x01, 0, 0, 0, 1, 5]));
        foreach ((byte type, string name) in new (byte, string)[] { (0x09, "signed byte"), (0x0B, "int16"), (0x0C, "int32"), (0x0D, "float32"), (0x0E, "float64") })
        {
            string expected = $"type byte 0x{type:X2} ({name}) is not supported; only 0x08 (unsigned byte) is";
            Assert.Equal(Raw(expected, 2), ReadRaw(IdxTests.Make(type, [1], [0, 0, 0, 0, 0, 0, 0, 0])));
            Assert.Equal(Gz(expected, 2), ReadGz(IdxTests.Make(type, [1], [0])));
        }
        Assert.Equal(Raw("unknown type byte 0x0A (IDX types are 08, 09, 0B, 0C, 0D, 0E)", 2), ReadRaw(IdxTests.Make(0x0A, [1], [0])));
    }

    [Fact]
    public void Ranks_OneToEight_AreRead()
    {
        IdxArray a = Idx.Read(new MemoryStream(IdxTests.Make(0x08, [1, 1, 1, 1, 1, 1, 1, 2], [5, 6])), "x1");
        Assert.Equal([1, 1, 1, 1, 1, 1, 1, 2], a.Shape);
        Assert.Equal(8, a.Rank);
        Assert.Equal([5, 6], a.Data);
        Assert.Equal(Raw("ndims 9 is out of range 1..8", 3), ReadRaw(IdxTests.Make(0x08, [1, 1, 1, 1, 1, 1, 1, 1, 2], [5, 6])));
        Assert.Equal(Raw("ndims mismatch: expected 1, found 2", 3), Assert.Throws<DatasetFormatException>(
            () => Idx.Read(new MemoryStream(IdxTests.Make(0x08, [1, 2], [5, 6])), "x1", expectedRank: 1)).Message);
    }

    [Fact]
    public void DimensionLimits()
    {
        Assert.Equal(Raw("dimension 1 = 2147483648 exceeds 2147483647", 8), ReadRaw(IdxTests.Make(0x08, [1, int.MinValue], [])));
        Assert.Equal(Raw($"product of dimensions [2147483647] exceeds the largest array ({MaxLength} elements)", 4),
            ReadRaw(IdxTests.Make(0x08, [int.MaxValue], [])));
        Assert.Equal(Raw($"product of dimensions [1, 65536, 65536] exceeds the largest array ({MaxLength} elements)", 12),
            ReadRaw(IdxTests.Make(0x08, [1, 65536, 65536, 1], [])));
        Assert.Equal(Raw($"product of dimensions [65536, 65536] exceeds the largest array ({MaxLength} elements)", 8),
            ReadRaw(IdxTests.Make(0x08, [65536, 65536], [])));
        // Exactly the largest array passes the size check and is then short of data.
        byte[] largest = IdxTests.Make(0x08, [(int)MaxLength], [1, 2, 3]);
        Assert.Equal(Raw($"truncated data: shape [{MaxLength}] needs {MaxLength} bytes from offset 8, the file ends at offset 11", 11), ReadRaw(largest));
        Assert.Equal(Gz($"truncated data: shape [{MaxLength}] needs {MaxLength} bytes from offset 8, the decompressed stream ends at offset 11", 11),
            ReadGz(largest));
    }

    [Fact]
    public void TruncatedAndTrailingData()
    {
        byte[] cut = IdxTests.Make(0x08, [10], [1, 2, 3]);
        Assert.Equal(Raw("truncated data: shape [10] needs 10 bytes from offset 8, the file ends at offset 11", 11), ReadRaw(cut));
        Assert.Equal(Raw("truncated data: shape [10] needs 10 bytes from offset 8, the file ends at offset 11", 11), ReadTrickle(cut));
        Assert.Equal(Gz("truncated data: shape [10] needs 10 bytes from offset 8, the decompressed stream ends at offset 11", 11), ReadGz(cut));
        byte[] cut2 = IdxTests.Make(0x08, [2, 5], [1, 2, 3]); // a shape of rank 2: its sizes are listed with ", "
        Assert.Equal(Raw("truncated data: shape [2, 5] needs 10 bytes from offset 12, the file ends at offset 15", 15), ReadRaw(cut2));
        Assert.Equal(Raw("truncated data: shape [2, 5] needs 10 bytes from offset 12, the file ends at offset 15", 15), ReadTrickle(cut2));
        byte[] extra = IdxTests.Make(0x08, [2, 2], [1, 2, 3, 4, 5, 6]);
        Assert.Equal(Raw("trailing garbage: 2 bytes after the 4 data bytes of shape [2, 2]", 16), ReadRaw(extra));
        Assert.Equal(Raw("trailing garbage after the 4 data bytes of shape [2, 2]", 16), ReadTrickle(extra));
        Assert.Equal(Gz("trailing garbage after the 4 data bytes of shape [2, 2]", 16), ReadGz(extra));
    }

    [Fact]
    public void ARawStreamThatDoesNotStartAtZero_IsReadFromItsPosition()
    {
        byte[] file = IdxTests.Make(0x08, [3], [7, 8, 9]);
        var ms = new MemoryStream([0x1F, 0x8B, .. file]) { Position = 2 };
        IdxArray a = Idx.Read(ms, "x1");
        Assert.Equal([3], a.Shape);
        Assert.Equal([7, 8, 9], a.Data);
        var bad = new MemoryStream([9, 9, 9, .. IdxTests.Make(0x08, [3], [7, 8])]) { Position = 3 };
        Assert.Equal(Raw("truncated data: shape [3] needs 3 bytes from offset 8, the file ends at offset 10", 10),
            Assert.Throws<DatasetFormatException>(() => Idx.Read(bad, "x1")).Message);
    }

    private const string Corrupt = "corrupt or truncated gzip stream: the deflate data does not decode or fails its CRC-32 check";

    [Fact]
    public void CorruptDeflateData_IsReportedAtTheDecompressedOffsetReached()
    {
        // A stored block with part of the file, then a block of the reserved type 11: read a byte at a time, the
        // decompressor hands out the stored bytes before it meets the bad block (with all 18, when it looks for trailing bytes).
        byte[] idx = IdxTests.Make(0x08, [10], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
        foreach ((int keep, long offset) in new[] { (18, 18L), (13, 13L), (6, 6L), (2, 2L) })
        {
            byte[] gz = [.. G.Header(), .. G.Stored(idx[..keep], final: false), 0x07, 0, 0, 0, 0, 0, 0, 0, 0, 0];
            var ex = Assert.Throws<DatasetFormatException>(() => Idx.Read(new Trickle(gz), "x1"));
            Assert.Equal(Gz(Corrupt, offset), ex.Message);
            Assert.IsType<InvalidDataException>(ex.InnerException);
        }
        // From a seekable stream whose deflate data is damaged, the trailer is not blamed.
        byte[] seekable = [.. G.Header(), .. G.Stored(idx[..6], final: false), 0x07, .. G.Trailer(0, 0)];
        Assert.StartsWith("IDX file 'x1': corrupt or truncated gzip stream", Assert.Throws<DatasetFormatException>(() => Idx.Read(new MemoryStream(seekable), "x1")).Message);
    }

    [Fact]
    public void DataArrivingInAGzip_GrowsTheBufferWithTheData_NotWithTheClaim()
    {
        // The header claims 64,000,000 bytes; 3,000,000 arrive. The buffer doubles from 1 MiB as data arrives:
        // 1 + 2 + 4 MiB, never the claim. (A claim of 64 MB keeps a wrong version's allocations small enough to fail fast.)
        const int have = 3_000_000;
        byte[] head = IdxTests.Make(0x08, [64_000_000], []);
        var gz = new List<byte>(G.Header());
        byte[] payload = [.. head, .. new byte[have]];
        for (int at = 0; at < payload.Length; at += 60_000)
        {
            int n = Math.Min(60_000, payload.Length - at);
            gz.AddRange(G.Stored(payload[at..(at + n)], final: at + n == payload.Length));
        }
        gz.AddRange(G.Trailer(G.Crc(payload), (uint)payload.Length));
        byte[] bytes = gz.ToArray();
        long before = GC.GetAllocatedBytesForCurrentThread();
        string msg = Assert.Throws<DatasetFormatException>(() => Idx.Read(new MemoryStream(bytes), "x1")).Message;
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(Gz("truncated data: shape [64000000] needs 64000000 bytes from offset 8, the decompressed stream ends at offset 3000008", 3000008), msg);
        Assert.True(allocated < 12 << 20, $"allocated {allocated} bytes for {have} bytes of data");
    }

    [Fact]
    public void IdxArray_ChecksItsShape()
    {
        Assert.Equal("shape", Assert.Throws<ArgumentNullException>(() => new IdxArray(null!, [])).ParamName);
        Assert.Equal("data", Assert.Throws<ArgumentNullException>(() => new IdxArray([1], null!)).ParamName);
        var empty = new IdxArray([2, 0, 3], []);
        Assert.Equal([2, 0, 3], empty.Shape);
        Assert.Equal(3, empty.Rank);
        Assert.Empty(new IdxArray([0], []).Data);
        var neg = Assert.Throws<ArgumentException>(() => new IdxArray([2, -1], []));
        Assert.Equal("IdxArray: negative dimension in shape [2, -1]. (Parameter 'shape')", neg.Message);
        Assert.Equal("IdxArray: shape [2, 3] has 6 elements but data has 5.",
            Assert.Throws<ShapeMismatchException>(() => new IdxArray([2, 3], new byte[5])).Message);
        // The product saturates instead of overflowing: 2^31-1 cubed mismatches any array.
        Assert.Equal($"IdxArray: shape [{int.MaxValue}, {int.MaxValue}, {int.MaxValue}] has {long.MaxValue / int.MaxValue} elements but data has 0.",
            Assert.Throws<ShapeMismatchException>(() => new IdxArray([int.MaxValue, int.MaxValue, int.MaxValue], [])).Message);
    }
}
