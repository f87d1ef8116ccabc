using FlexNet.IO;

namespace FlexNet.Tests.IO;

/// <summary>
/// Both sides of <see cref="StreamBytes"/>' size limit, at limits small enough for a unit test (the library's limit is
/// <see cref="Array.MaxLength"/>, which would need a 2 GB input): a seekable or non-seekable stream of exactly the limit
/// is read whole, one byte more is a format error, never a silently shortened array.
/// </summary>
public sealed class StreamBytesLimitTests
{
    /// <summary>At most <c>chunk</c> bytes per read; seekable or not.</summary>
    private sealed class ChunkStream(byte[] data, int chunk, bool seekable) : Stream
    {
        private int _pos;
        public override bool CanRead => true;
        public override bool CanSeek => seekable;
        public override bool CanWrite => false;
        public override long Length => seekable ? data.Length : throw new NotSupportedException();
        public override long Position
        {
            get => seekable ? _pos : throw new NotSupportedException();
            set => throw new NotSupportedException();
        }
        public override int Read(byte[] buffer, int offset, int count)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(count);
            if (offset + count > buffer.Length) throw new ArgumentException("count runs past the buffer");
            int n = Math.Min(Math.Min(count, chunk), data.Length - _pos);
            Array.Copy(data, _pos, buffer, offset, n);
            _pos += n;
            return n;
        }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    private sealed class LimitException(string message) : Exception(message);

    /// <summary>n bytes 1, 2, ..., 255, 1, ... (never 0), then, when <paramref name="zeroAfter"/>, a final 0.</summary>
    private static byte[] Bytes(int n, bool zeroAfter = false)
    {
        var b = new byte[n + (zeroAfter ? 1 : 0)];
        for (int i = 0; i < n; i++) b[i] = (byte)(i % 255 + 1);
        return b;
    }

    private static byte[] Read(byte[] data, int chunk, bool seekable, int limit) =>
        StreamBytes.ReadToEnd(new ChunkStream(data, chunk, seekable), m => new LimitException(m), limit);

    [Theory]
    [InlineData(10, 3)]
    [InlineData(10, 100)]
    [InlineData(100_000, 40_000)] // past the first 64 KiB buffer: it grows to the limit, not beyond
    public void ExactlyTheLimitIsReadWholeFromAnyStream(int limit, int chunk)
    {
        byte[] data = Bytes(limit);
        Assert.Equal(data, Read(data, chunk, seekable: true, limit));
        Assert.Equal(data, Read(data, chunk, seekable: false, limit));
    }

    [Theory]
    [InlineData(10, 3)]
    [InlineData(10, 100)]
    [InlineData(100_000, 40_000)]
    public void OneByteOverTheLimitIsRefusedNotShortened(int limit, int chunk)
    {
        // the byte past the limit is 0, so that it is told apart from the end of the stream by its presence alone
        byte[] data = Bytes(limit, zeroAfter: true);
        var seek = Assert.Throws<LimitException>(() => Read(data, chunk, seekable: true, limit));
        Assert.Equal($"{limit + 1} bytes; inputs over {limit} bytes are not supported.", seek.Message);
        var flow = Assert.Throws<LimitException>(() => Read(data, chunk, seekable: false, limit));
        Assert.Equal($"more than {limit} bytes; inputs that large are not supported.", flow.Message);
    }

    [Fact]
    public void ShortInputsUnderALimitBelowTheFirstBufferAreReadWhole()
    {
        byte[] data = Bytes(7);
        Assert.Equal(data, Read(data, 2, seekable: false, 10));
        Assert.Equal(Array.Empty<byte>(), Read([], 2, seekable: false, 10));
        Assert.Equal(Array.Empty<byte>(), Read([], 2, seekable: false, 0));
        Assert.Throws<LimitException>(() => Read([0], 2, seekable: false, 0));
    }
}
