namespace FlexNet.Data;

/// <summary>
/// .NET's <see cref="System.IO.Compression.GZipStream"/> neither notices a missing or cut trailer nor bytes
/// appended after the member. These two pass-through streams let a reader verify the trailer itself: one
/// remembers the last 8 compressed bytes, the other computes CRC-32 and length of the decompressed bytes.
/// </summary>
internal static class GzipTrailerCheck
{
    /// <summary>Drains <paramref name="compressed"/> and compares its last 8 bytes with CRC-32 and size mod 2^32.</summary>
    /// <returns>null when the trailer matches, else the defect.</returns>
    internal static string? Verify(TailStream compressed, Crc32Stream decompressed)
    {
        compressed.DrainToEnd();
        if (compressed.Total < 18) return $"the gzip stream is {compressed.Total} bytes, shorter than a gzip header and trailer";
        Span<byte> t = stackalloc byte[8];
        compressed.CopyTail(t);
        uint crc = System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(t[..4]);
        uint isize = System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(t[4..]);
        uint actualCrc = decompressed.Crc;
        uint actualSize = unchecked((uint)decompressed.Length);
        if (crc == actualCrc && isize == actualSize) return null;
        return $"the gzip trailer (CRC-32 0x{crc:X8}, size {isize}) does not match the decompressed data (CRC-32 0x{actualCrc:X8}, size {actualSize}): " +
               "the .gz file is truncated, has bytes appended, or has several gzip members (not supported)";
    }

    /// <summary>After the decompressor reported corrupt data (zlib checks the trailer itself and reports a CRC
    /// mismatch as "unsupported compression method"): re-reads the member from <paramref name="start"/> of a seekable
    /// stream and inflates the raw deflate data without the trailer check. When that succeeds, the data is intact
    /// and the trailer is what fails: returns that diagnosis; null when the deflate data itself is damaged.</summary>
    internal static string? DiagnoseTrailer(Stream stream, long start)
    {
        if (!stream.CanSeek) return null;
        stream.Position = start;
        var head = new byte[10];
        // A short read means the stream has ended: every branch below would then find nothing to inflate anyway.
        if (stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false) != head.Length) return null;
        if (head[0] != 0x1F || head[1] != 0x8B || head[2] != 8) return null;
        int flags = head[3];
        if ((flags & 4) != 0)
        {
            var xlen = new byte[2];
            if (stream.ReadAtLeast(xlen, xlen.Length, throwOnEndOfStream: false) != xlen.Length) return null;
            stream.Position += xlen[0] | (xlen[1] << 8);
        }
        for (int bit = 8; bit <= 16; bit <<= 1)
        {
            if ((flags & bit) == 0) continue;
            int b;
            do b = stream.ReadByte(); while (b > 0);
            if (b != 0) return null; // the stream ended inside the zero-terminated name or comment
        }
        if ((flags & 2) != 0) stream.Position += 2;
        long dataStart = stream.Position, end = stream.Length;
        // The shortest deflate stream is 2 bytes (one empty fixed-Huffman block, RFC 1951 3.2.6), then the 8-byte trailer.
        if (end - dataStart < 10) return null;
        stream.Position = end - 8;
        var t = new byte[8];
        // Stryker disable once Boolean: equivalent: the stream has at least 10 bytes after dataStart (checked above), so the last 8 are always there and the read never meets the end
        if (stream.ReadAtLeast(t, t.Length, throwOnEndOfStream: false) != t.Length) return null;
        uint crc = System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(t.AsSpan(0, 4));
        uint isize = System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(t.AsSpan(4));
        stream.Position = dataStart;
        uint actualCrc;
        long actualLength;
        try
        {
            using var inflate = new System.IO.Compression.DeflateStream(stream, System.IO.Compression.CompressionMode.Decompress, leaveOpen: true);
            var sum = new Crc32Stream(inflate);
            var buf = new byte[1 << 16];
            while (sum.Read(buf, 0, buf.Length) > 0)
                // Stryker disable once Equality: >= differs only at exactly 4,294,967,295 decompressed bytes, which a test would have to inflate
                if (sum.Length > uint.MaxValue) return null;
            actualCrc = sum.Crc;
            actualLength = sum.Length;
        }
        catch (InvalidDataException)
        {
            return null; // the deflate data is damaged
        }
        if (crc == actualCrc && isize == unchecked((uint)actualLength)) return null;
        return $"the gzip trailer (CRC-32 0x{crc:X8}, size {isize}) does not match the intact decompressed data (CRC-32 0x{actualCrc:X8}, size {unchecked((uint)actualLength)}): the trailer is corrupt";
    }

    /// <summary>Pass-through reader that counts bytes and keeps the last 8.</summary>
    internal sealed class TailStream(Stream inner) : Stream
    {
        private readonly byte[] _tail = new byte[8];
        private int _tailLength;

        public long Total { get; private set; }

        public override int Read(byte[] buffer, int offset, int count)
        {
            int n = inner.Read(buffer, offset, count);
            Remember(buffer.AsSpan(offset, n));
            return n;
        }

        public override int Read(Span<byte> buffer)
        {
            int n = inner.Read(buffer);
            Remember(buffer[..n]);
            return n;
        }

        private void Remember(ReadOnlySpan<byte> chunk)
        {
            Total += chunk.Length;
            // Stryker disable once Equality: equivalent: a chunk of exactly 8 bytes on the general path keeps 0 old bytes and copies the 8 new ones, the same tail
            if (chunk.Length >= 8)
            {
                chunk[^8..].CopyTo(_tail);
                _tailLength = 8;
                return;
            }
            int keep = Math.Min(_tailLength, 8 - chunk.Length);
            _tail.AsSpan(_tailLength - keep, keep).CopyTo(_tail); // shift the newest old bytes to the front
            chunk.CopyTo(_tail.AsSpan(keep));
            _tailLength = keep + chunk.Length;
        }

        public void DrainToEnd()
        {
            var buf = new byte[1 << 16];
            while (Read(buf, 0, buf.Length) > 0) { }
        }

        public void CopyTail(Span<byte> destination) => _tail.AsSpan(0, _tailLength)[^8..].CopyTo(destination);

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => Total; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    /// <summary>Pass-through reader computing the gzip CRC-32 (reflected polynomial 0xEDB88320) of what is read.</summary>
    internal sealed class Crc32Stream(Stream inner) : Stream
    {
        private static readonly uint[] Table = MakeTable();
        private uint _crc = 0xFFFFFFFFu;
        private long _length;

        public uint Crc => ~_crc;

        public override long Length => _length;

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            int n = inner.Read(buffer);
            uint c = _crc;
            foreach (byte b in buffer[..n]) c = Table[(c ^ b) & 0xFF] ^ (/* Stryker disable once Bitwise: equivalent: >> and >>> are the same shift of an unsigned value */ c >> 8);
            _crc = c;
            _length += n;
            return n;
        }

        /// <summary>The CRC-32 table (reflected polynomial 0xEDB88320); internal so that a test can check a freshly made one
        /// (the static field is built once per process, before any mutant of a mutation run is active).</summary>
        internal static uint[] MakeTable()
        {
            var t = new uint[256];
            for (uint i = 0; i < 256; i++)
            {
                uint c = i;
                for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
                t[i] = c;
            }
            return t;
        }

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Position { get => _length; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
