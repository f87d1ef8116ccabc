using System.Buffers.Binary;
using System.Text;
using FlexNet.Data;
using Xunit;

namespace FlexNet.Tests.Data;

/// <summary>
/// <see cref="GzipTrailerCheck"/> on gzip members built byte by byte from RFC 1952 (header ID1 ID2 CM FLG MTIME XFL OS,
/// the optional FEXTRA, FNAME, FCOMMENT and FHCRC fields, then the deflate data and the CRC-32 and ISIZE trailer), with
/// the deflate data as one stored block (RFC 1951 3.2.4: BFINAL=1, BTYPE=00, LEN, NLEN, the bytes). The CRC-32 is a
/// bit-by-bit loop in the test, anchored on the published check value CRC-32("123456789") = 0xCBF43926.
/// </summary>
public sealed class GzipTrailerCheckTests
{
    internal const byte FText = 1, FHcrc = 2, FExtra = 4, FName = 8, FComment = 16;

    internal static readonly byte[] Payload = Encoding.ASCII.GetBytes("FlexNet reads gzip members and checks their trailer.");

    /// <summary>CRC-32 of RFC 1952 section 8, one bit at a time (no table).</summary>
    internal static uint Crc(ReadOnlySpan<byte> data)
    {
        uint c = 0xFFFFFFFFu;
        foreach (byte b in data)
        {
            c ^= b;
            for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? (c >> 1) ^ 0xEDB88320u : c >> 1;
        }
        return ~c;
    }

    /// <summary>One final stored deflate block holding <paramref name="data"/>.</summary>
    internal static byte[] Stored(byte[] data, bool final = true)
    {
        var b = new byte[5 + data.Length];
        b[0] = (byte)(final ? 1 : 0);
        BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(1), (ushort)data.Length);
        BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(3), (ushort)~data.Length);
        data.CopyTo(b, 5);
        return b;
    }

    /// <summary>A gzip header with the fields the flags ask for (FHCRC: the low 16 bits of the CRC-32 of the header before it).</summary>
    internal static byte[] Header(byte flags = 0, byte[]? extra = null, string? name = null, string? comment = null)
    {
        var h = new List<byte> { 0x1F, 0x8B, 8, flags, 0x01, 0x02, 0x03, 0x04, 0, 0xFF };
        if ((flags & FExtra) != 0)
        {
            extra ??= [];
            h.Add((byte)extra.Length);
            h.Add((byte)(extra.Length >> 8));
            h.AddRange(extra);
        }
        if ((flags & FName) != 0) { h.AddRange(Encoding.Latin1.GetBytes(name!)); h.Add(0); }
        if ((flags & FComment) != 0) { h.AddRange(Encoding.Latin1.GetBytes(comment!)); h.Add(0); }
        if ((flags & FHcrc) != 0)
        {
            uint hc = Crc(h.ToArray());
            h.Add((byte)hc);
            h.Add((byte)(hc >> 8));
        }
        return h.ToArray();
    }

    internal static byte[] Trailer(uint crc, uint isize)
    {
        var t = new byte[8];
        BinaryPrimitives.WriteUInt32LittleEndian(t, crc);
        BinaryPrimitives.WriteUInt32LittleEndian(t.AsSpan(4), isize);
        return t;
    }

    /// <summary>A whole member; <paramref name="crc"/> and <paramref name="isize"/> override the true trailer values.</summary>
    internal static byte[] Member(byte[] data, uint? crc = null, uint? isize = null, byte[]? header = null) =>
        [.. header ?? Header(), .. Stored(data), .. Trailer(crc ?? Crc(data), isize ?? (uint)data.Length)];

    private static string Corrupt(uint crc, uint isize, uint actualCrc, uint actualSize) =>
        $"the gzip trailer (CRC-32 0x{crc:X8}, size {isize}) does not match the intact decompressed data (CRC-32 0x{actualCrc:X8}, size {actualSize}): the trailer is corrupt";

    private static string Mismatch(uint crc, uint isize, uint actualCrc, uint actualSize) =>
        $"the gzip trailer (CRC-32 0x{crc:X8}, size {isize}) does not match the decompressed data (CRC-32 0x{actualCrc:X8}, size {actualSize}): " +
        "the .gz file is truncated, has bytes appended, or has several gzip members (not supported)";

    // ---- CRC-32 ----

    [Fact]
    public void Crc32Table_MadeFresh_IsTheCrcOfEachSingleByteWithoutPreAndPostConditioning()
    {
        // table[i] = CRC register after shifting byte i through 8 steps of the reflected polynomial, which is the
        // test's own CRC of that byte with the initial and final XOR with 0xFFFFFFFF undone: crc(b) = ~T[~b & 0xFF] ^ ...;
        // simplest independent form: the register for one byte with init 0 and no final XOR, by the bit-serial rule
        uint[] t = GzipTrailerCheck.Crc32Stream.MakeTable();
        Assert.Equal(256, t.Length);
        for (uint i = 0; i < 256; i++)
        {
            uint c = i;
            for (int bit = 0; bit < 8; bit++) c = (c >> 1) ^ ((c & 1) * 0xEDB88320u);
            Assert.True(c == t[i], $"table[{i}] = 0x{t[i]:X8}, want 0x{c:X8}");
        }
        Assert.Equal(0x77073096u, t[1]); // published entries of the standard table
        Assert.Equal(0x2D02EF8Du, t[255]);
    }

    [Fact]
    public void Crc32_MatchesThePublishedCheckValue_AndTheBitwiseLoopOnEveryByte()
    {
        Assert.Equal(0xCBF43926u, Crc("123456789"u8)); // the test's own loop, anchored
        var s = new GzipTrailerCheck.Crc32Stream(new MemoryStream("123456789"u8.ToArray()));
        var buf = new byte[16];
        Assert.Equal(9, s.Read(buf, 0, buf.Length));
        Assert.Equal(0, s.Read(buf, 0, buf.Length));
        Assert.Equal(0xCBF43926u, s.Crc);
        Assert.Equal(9L, s.Length);
        Assert.Equal(9L, s.Position);
        // Every single byte reaches a different entry of the table.
        for (int b = 0; b < 256; b++)
        {
            var one = new GzipTrailerCheck.Crc32Stream(new MemoryStream([(byte)b]));
            Assert.Equal(1, one.Read(buf.AsSpan(0, 4)));
            Assert.True(Crc([(byte)b]) == one.Crc, $"byte {b}");
        }
        // Split reads carry the running value across calls.
        byte[] all = new byte[1000];
        for (int i = 0; i < all.Length; i++) all[i] = (byte)(i * 7 + i / 3);
        var split = new GzipTrailerCheck.Crc32Stream(new MemoryStream(all));
        while (split.Read(buf, 0, 13) > 0) { }
        Assert.Equal(Crc(all), split.Crc);
        Assert.Equal(1000L, split.Length);
        Assert.Equal(0u, new GzipTrailerCheck.Crc32Stream(new MemoryStream()).Crc); // CRC-32 of nothing
    }

    [Fact]
    public void PassThroughStreams_AreReadOnlyAndNotSeekable()
    {
        Stream crc = new GzipTrailerCheck.Crc32Stream(new MemoryStream());
        Stream tail = new GzipTrailerCheck.TailStream(new MemoryStream());
        foreach (Stream s in new[] { crc, tail })
        {
            Assert.True(s.CanRead);
            Assert.False(s.CanSeek);
            Assert.False(s.CanWrite);
            Assert.Throws<NotSupportedException>(() => s.Seek(0, SeekOrigin.Begin));
            Assert.Throws<NotSupportedException>(() => s.Write([1], 0, 1));
        }
    }

    // ---- TailStream ----

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(7)]
    [InlineData(8)]
    [InlineData(9)]
    [InlineData(64)]
    public void TailStream_KeepsTheLastEightBytes_ForAnyReadSize(int chunk)
    {
        byte[] all = new byte[45];
        for (int i = 0; i < all.Length; i++) all[i] = (byte)(100 + i);
        foreach (bool span in new[] { false, true })
        {
            var t = new GzipTrailerCheck.TailStream(new MemoryStream(all));
            var buf = new byte[chunk];
            int got = 0, n;
            while ((n = span ? t.Read(buf.AsSpan()) : t.Read(buf, 0, chunk)) > 0)
            {
                Assert.Equal(all.AsSpan(got, n).ToArray(), buf[..n]);
                got += n;
                Assert.Equal((long)got, t.Total);
                Assert.Equal((long)got, t.Position);
                if (got >= 8)
                {
                    var tail = new byte[8];
                    t.CopyTail(tail);
                    Assert.Equal(all[(got - 8)..got], tail);
                }
            }
            Assert.Equal(all.Length, got);
        }
    }

    // ---- Verify ----

    private static GzipTrailerCheck.Crc32Stream ReadAll(byte[] data)
    {
        var s = new GzipTrailerCheck.Crc32Stream(new MemoryStream(data));
        var buf = new byte[7];
        while (s.Read(buf, 0, buf.Length) > 0) { }
        return s;
    }

    [Fact]
    public void Verify_DrainsTheCompressedStream_ThenAcceptsAMatchingTrailer()
    {
        byte[] gz = Member(Payload);
        // Nothing of the compressed stream has been read yet: Verify must read it to its end first.
        var tail = new GzipTrailerCheck.TailStream(new MemoryStream(gz));
        Assert.Null(GzipTrailerCheck.Verify(tail, ReadAll(Payload)));
        Assert.Equal(gz.Length, tail.Total);
        // A 70,000-byte stream needs more than one drain read.
        byte[] big = new byte[70_000];
        byte[] bigGz = [.. Header(), .. Stored(big[..60_000], final: false), .. Stored(big[60_000..]), .. Trailer(Crc(big), 70_000)];
        Assert.Null(GzipTrailerCheck.Verify(new GzipTrailerCheck.TailStream(new MemoryStream(bigGz)), ReadAll(big)));
    }

    [Fact]
    public void Verify_MeasuresTheSmallestMember_OfEighteenBytes()
    {
        // 10 header bytes + 8 trailer bytes (CRC-32 0 and size 0 are those of no data): the length test passes.
        byte[] eighteen = [.. Header(), .. Trailer(0, 0)];
        Assert.Null(GzipTrailerCheck.Verify(new GzipTrailerCheck.TailStream(new MemoryStream(eighteen)), ReadAll([])));
        var short17 = new GzipTrailerCheck.TailStream(new MemoryStream(eighteen[1..]));
        Assert.Equal("the gzip stream is 17 bytes, shorter than a gzip header and trailer", GzipTrailerCheck.Verify(short17, ReadAll([])));
    }

    [Fact]
    public void Verify_RejectsAWrongCrcOrAWrongSize_Alone()
    {
        uint crc = Crc(Payload);
        uint n = (uint)Payload.Length;
        var wrongSize = new GzipTrailerCheck.TailStream(new MemoryStream(Member(Payload, isize: n + 1)));
        Assert.Equal(Mismatch(crc, n + 1, crc, n), GzipTrailerCheck.Verify(wrongSize, ReadAll(Payload)));
        var wrongCrc = new GzipTrailerCheck.TailStream(new MemoryStream(Member(Payload, crc: crc ^ 0x80000000u)));
        Assert.Equal(Mismatch(crc ^ 0x80000000u, n, crc, n), GzipTrailerCheck.Verify(wrongCrc, ReadAll(Payload)));
    }

    // ---- DiagnoseTrailer ----

    private static string? Diagnose(byte[] bytes, long start = 0) => GzipTrailerCheck.DiagnoseTrailer(new MemoryStream(bytes), start);

    [Fact]
    public void Diagnose_AnIntactMember_IsNotATrailerDefect()
    {
        Assert.Null(Diagnose(Member(Payload)));
        Assert.Null(Diagnose(Member([])));
    }

    [Fact]
    public void Diagnose_AWrongCrcOrSize_WithIntactData_NamesBothTrailerValues()
    {
        uint crc = Crc(Payload);
        uint n = (uint)Payload.Length;
        Assert.Equal(Corrupt(crc ^ 1, n, crc, n), Diagnose(Member(Payload, crc: crc ^ 1)));
        Assert.Equal(Corrupt(crc, n + 65536, crc, n), Diagnose(Member(Payload, isize: n + 65536)));
        Assert.Equal(Corrupt(0xDEADBEEF, 7, crc, n), Diagnose(Member(Payload, crc: 0xDEADBEEF, isize: 7)));
    }

    [Fact]
    public void Diagnose_InflatesAllOfALargeMember()
    {
        // 200,000 bytes in four stored blocks: more than one read of the 64 KiB buffer.
        byte[] big = new byte[200_000];
        for (int i = 0; i < big.Length; i++) big[i] = (byte)(i % 251);
        var gz = new List<byte>(Header());
        for (int k = 0; k < 4; k++) gz.AddRange(Stored(big[(k * 50_000)..((k + 1) * 50_000)], final: k == 3));
        gz.AddRange(Trailer(Crc(big) ^ 0xFF, 200_000));
        Assert.Equal(Corrupt(Crc(big) ^ 0xFF, 200_000, Crc(big), 200_000), Diagnose(gz.ToArray()));
    }

    private static readonly (string Label, byte[] Header)[] HeaderCases =
    [
        ("FTEXT only (no field)", Header(FText)),
        ("FEXTRA of 300 bytes", Header(FExtra, extra: Enumerable.Range(0, 300).Select(i => (byte)i).ToArray())),
        ("FEXTRA of 0 bytes", Header(FExtra, extra: [])),
        ("FNAME", Header(FName, name: "fashion.idx")),
        ("FCOMMENT", Header(FComment, comment: "made by hand")),
        ("FHCRC", Header(FHcrc)),
        ("all fields", Header(FText | FHcrc | FExtra | FName | FComment, extra: [9, 8, 7], name: "n", comment: "a longer comment")),
    ];

    public static TheoryData<string, byte[]> Headers()
    {
        var d = new TheoryData<string, byte[]>();
        foreach ((string label, byte[] header) in HeaderCases) d.Add(label, header);
        return d;
    }

    [Theory]
    [MemberData(nameof(Headers))]
    public void Diagnose_SkipsEveryOptionalHeaderField(string label, byte[] header)
    {
        uint crc = Crc(Payload);
        uint n = (uint)Payload.Length;
        Assert.True(Corrupt(crc ^ 2, n, crc, n) == Diagnose(Member(Payload, crc: crc ^ 2, header: header)), label);
        Assert.True(Diagnose(Member(Payload, header: header)) is null, label);
    }

    [Fact]
    public void Diagnose_ReadsTheMemberFromItsStart_AndLeavesTheStreamOpen()
    {
        uint crc = Crc(Payload);
        uint n = (uint)Payload.Length;
        byte[] junk = [0x1F, 0x8B, 8, 0, 0];
        var ms = new MemoryStream([.. junk, .. Member(Payload, crc: ~crc)]);
        Assert.Equal(Corrupt(~crc, n, crc, n), GzipTrailerCheck.DiagnoseTrailer(ms, 5));
        Assert.True(ms.CanRead); // the caller's stream is not closed
        Assert.Equal(ms.Length, ms.Seek(0, SeekOrigin.End));
    }

    [Fact]
    public void Diagnose_OfANonSeekableStream_IsNull()
    {
        uint crc = Crc(Payload);
        using var s = new IdxMessageTests.Trickle(Member(Payload, crc: ~crc));
        Assert.Null(GzipTrailerCheck.DiagnoseTrailer(s, 0));
    }

    [Fact]
    public void Diagnose_OfSomethingElse_OrOfACutHeader_IsNull()
    {
        uint crc = Crc(Payload);
        byte[] bad = Member(Payload, crc: ~crc);
        Assert.NotNull(Diagnose(bad));
        foreach (int at in new[] { 0, 1, 2 })
        {
            byte[] m = (byte[])bad.Clone();
            m[at] ^= 0x40; // ID1, ID2 or CM (deflate = 8) wrong
            Assert.True(Diagnose(m) is null, $"byte {at}");
        }
        Assert.Null(Diagnose(bad[..9])); // shorter than the 10-byte header
        Assert.Null(Diagnose([]));
        byte[] extra = Member(Payload, crc: ~crc, header: Header(FExtra, extra: [1, 2, 3, 4]));
        Assert.Null(Diagnose(extra[..11])); // ends inside XLEN
        byte[] named = Member(Payload, crc: ~crc, header: Header(FName, name: "abc"));
        Assert.Null(Diagnose(named[..12])); // ends inside the name: no zero byte
        byte[] commented = Member(Payload, crc: ~crc, header: Header(FComment, comment: "abc"));
        Assert.Null(Diagnose(commented[..13]));
    }

    [Fact]
    public void Diagnose_OfDamagedDeflateData_IsNull()
    {
        uint crc = Crc(Payload);
        byte[] m = Member(Payload, crc: ~crc);
        m[10] = 0x07; // BFINAL=1, BTYPE=11: a reserved block type (RFC 1951 3.2.3)
        Assert.Null(Diagnose(m));
        byte[] cut = Member(Payload, crc: ~crc);
        BinaryPrimitives.WriteUInt16LittleEndian(cut.AsSpan(13), 0); // NLEN is no longer the complement of LEN
        Assert.Null(Diagnose(cut));
    }

    [Fact]
    public void Diagnose_NeedsAtLeastTheShortestDeflateStreamAndATrailer()
    {
        // 03 00: one final fixed-Huffman block holding only end-of-block, the shortest deflate stream (2 bytes).
        byte[] ten = [.. Header(), 0x03, 0x00, .. Trailer(0x12345678, 0)];
        Assert.Equal(Corrupt(0x12345678, 0, 0, 0), Diagnose(ten));
        Assert.Null(Diagnose([.. Header(), 0x03, 0x00, .. Trailer(0, 0)]));
        // Nine bytes after the header cannot hold deflate data and a trailer; the last eight are not a trailer.
        byte[] nine = [.. Header(), 0x03, 0x00, 0xAA, 0xBB, 0xCC, 0xDD, 0x05, 0x00, 0x00];
        Assert.Null(Diagnose(nine));
        byte[] eight = [.. Header(), 0x03, 0x00, 0xAA, 0xBB, 0xCC, 0xDD, 0x05, 0x00];
        Assert.Null(Diagnose(eight));
    }

    // ---- through Idx.Read ----

    [Fact]
    public void Idx_WrongCrc_InAMemberThatStartsMidStream_IsDiagnosed_AndTheStreamStaysOpen()
    {
        byte[] raw = IdxTests.Make(0x08, [4], [10, 20, 30, 40]);
        uint crc = Crc(raw);
        var ms = new MemoryStream([0xAB, 0xCD, 0xEF, .. Member(raw, crc: crc ^ 0x10)]) { Position = 3 };
        var ex = Assert.Throws<DatasetFormatException>(() => Idx.Read(ms, "labels"));
        Assert.Equal($"IDX file 'labels': {Corrupt(crc ^ 0x10, 12, crc, 12)}.", ex.Message);
        Assert.True(ms.CanRead);
    }

    [Fact]
    public void Idx_WrongSize_IsDiagnosed()
    {
        byte[] raw = IdxTests.Make(0x08, [4], [10, 20, 30, 40]);
        uint crc = Crc(raw);
        var ex = Assert.Throws<DatasetFormatException>(() => Idx.Read(new MemoryStream(Member(raw, isize: 13)), "labels"));
        Assert.Equal($"IDX file 'labels': {Corrupt(crc, 13, crc, 12)}.", ex.Message);
    }

    [Fact]
    public void Idx_BytesAfterTheTrailer_AreNamedWithTheLastEightBytesAndTheirOffset()
    {
        byte[] raw = IdxTests.Make(0x08, [4], [10, 20, 30, 40]);
        byte[] gz = [.. Member(raw), 1, 2, 3];
        byte[] last8 = gz[^8..];
        uint crc = BinaryPrimitives.ReadUInt32LittleEndian(last8);
        uint isize = BinaryPrimitives.ReadUInt32LittleEndian(last8.AsSpan(4));
        var ex = Assert.Throws<DatasetFormatException>(() => Idx.Read(new MemoryStream(gz), "images"));
        Assert.Equal($"IDX file 'images': {Mismatch(crc, isize, Crc(raw), 12)} (at compressed byte offset {gz.Length - 8}).", ex.Message);
    }

    [Fact]
    public void Idx_ReadsHandMadeMembers_WithEveryHeaderField()
    {
        byte[] raw = IdxTests.Make(0x08, [2, 3], [1, 2, 3, 4, 5, 6]);
        foreach ((string label, byte[] header) in HeaderCases)
        {
            IdxArray a = Idx.Read(new MemoryStream(Member(raw, header: header)), label);
            Assert.Equal([2, 3], a.Shape);
            Assert.Equal([1, 2, 3, 4, 5, 6], a.Data);
        }
    }
}
