using System.Text;
using FlexNet.Data;
using Xunit;

namespace FlexNet.Tests.Data;

/// <summary>
/// Every rejection of <see cref="Npy"/> and <see cref="NpyArray"/> asserted with its whole message and byte offset, on
/// files built byte by byte (magic, version, u16 or u32 header length, the dict, the data). The source name says nothing
/// about the defect.
/// </summary>
public sealed class NpyMessageTests
{
    private static byte[] File(string header, int major = 1, byte[]? data = null, Encoding? encoding = null)
    {
        byte[] h = (encoding ?? Encoding.Latin1).GetBytes(header);
        return Raw(h, major, data);
    }

    /// <summary>An NPY file built byte by byte: magic, version, header length (u16 for 1.x, u32 otherwise), header, data.</summary>
    internal static byte[] Raw(byte[] h, int major, byte[]? data)
    {
        var ms = new MemoryStream();
        ms.Write([0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', (byte)major, 0]);
        if (major == 1) ms.Write(BitConverter.GetBytes((ushort)h.Length));
        else ms.Write(BitConverter.GetBytes((uint)h.Length));
        ms.Write(h);
        ms.Write(data ?? []);
        return ms.ToArray();
    }

    private static string Msg(string defect, long offset) => $"NPY file 'd7': {defect} (at byte offset {offset}).";

    private static string Fails(byte[] bytes) => Assert.Throws<DatasetFormatException>(() => Npy.Read(new MemoryStream(bytes), "d7")).Message;

    private static NpyArray Reads(byte[] bytes) => Npy.Read(new MemoryStream(bytes), "d7");

    private const string Dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (1,)}";

    [Fact]
    public void NullArguments_AreNamed()
    {
        Assert.Equal("stream", Assert.Throws<ArgumentNullException>(() => Npy.Read((Stream)null!, "d7")).ParamName);
        Assert.Equal("sourceName", Assert.Throws<ArgumentNullException>(() => Npy.Read(new MemoryStream(File(Dict, data: new byte[4])), null!)).ParamName);
        var a = new NpyArray(new float[1], [1]);
        Assert.Equal("destination", Assert.Throws<ArgumentNullException>(() => Npy.Write((Stream)null!, a)).ParamName);
        Assert.Equal("array", Assert.Throws<ArgumentNullException>(() => Npy.Write(new MemoryStream(), null!)).ParamName);
    }

    /// <summary>A seekable stream that claims a length it does not have.</summary>
    private sealed class Claims(byte[] bytes, long length) : MemoryStream(bytes)
    {
        public override long Length => length;
    }

    [Fact]
    public void StreamReadErrors_NameTheFile()
    {
        Assert.Equal("NPY file 'd7': 3000000000 bytes; inputs over 2147483591 bytes are not supported.",
            Assert.Throws<DatasetFormatException>(() => Npy.Read(new Claims([1, 2], 3_000_000_000), "d7")).Message);
        Assert.Equal("NPY file 'd7': stream ended after 2 of 7 bytes (the file changed while being read?).",
            Assert.Throws<DatasetFormatException>(() => Npy.Read(new Claims([1, 2], 7), "d7")).Message);
    }

    [Fact]
    public void ShortFiles_AtEveryLengthBoundary()
    {
        byte[] magic = [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];
        Assert.Equal(Msg("file is 5 bytes, too short for the NPY magic", 0), Fails(magic[..5]));
        Assert.Equal(Msg("truncated header: the file ends inside the version and header length", 6), Fails(magic));
        Assert.Equal(Msg("truncated header: the file ends inside the version and header length", 9), Fails([.. magic, 1, 0, 0]));
        // Version 1.0 with a header of length 0: the length is read, the dict is missing.
        Assert.Equal(Msg("expected '{', found the end of the header", 10), Fails([.. magic, 1, 0, 0, 0]));
        Assert.Equal(Msg("truncated header length", 11), Fails([.. magic, 2, 0, 0, 0, 0]));
        Assert.Equal(Msg("expected '{', found the end of the header", 12), Fails([.. magic, 2, 0, 0, 0, 0, 0]));
        Assert.Equal(Msg("expected '{', found the end of the header", 12), Fails([.. magic, 3, 0, 0, 0, 0, 0]));
    }

    [Fact]
    public void HeaderLengthLimit()
    {
        byte[] magic = [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 2, 0];
        Assert.Equal(Msg("truncated header: 100000 header bytes announced from offset 12, the file is 12 bytes", 12),
            Fails([.. magic, .. BitConverter.GetBytes(100_000u)]));
        Assert.Equal(Msg("header length 100001 exceeds the limit of 100000", 8), Fails([.. magic, .. BitConverter.GetBytes(100_001u)]));
    }

    [Fact]
    public void Version3HeadersAreUtf8_EarlierOnesLatin1()
    {
        string h = "{'descr': '\u00e9', 'fortran_order': False, 'shape': (1,)}";
        byte[] utf8 = Encoding.UTF8.GetBytes(h); // é is C3 A9
        Assert.Equal(Msg("unsupported dtype '\u00e9' (supported: <f4 <f8 <i8 <i4 |u1)", 12), Fails(Raw(utf8, 3, null)));
        Assert.Equal(Msg("unsupported dtype '\u00c3\u00a9' (supported: <f4 <f8 <i8 <i4 |u1)", 12), Fails(Raw(utf8, 2, null)));
        byte[] latin1 = Encoding.Latin1.GetBytes(h); // é is E9 alone: not UTF-8
        Assert.Equal(Msg("header is not valid UTF-8", 12), Fails(Raw(latin1, 3, null)));
        Assert.Equal(Msg("unsupported dtype '\u00e9' (supported: <f4 <f8 <i8 <i4 |u1)", 10), Fails(Raw(latin1, 1, null)));
    }

    [Theory]
    [InlineData("|u1")]
    [InlineData("<u1")]
    [InlineData(">u1")]
    [InlineData("u1")]
    public void EverySpellingOfUInt8_IsRead(string descr)
    {
        NpyArray a = Reads(File($"{{'descr': '{descr}', 'fortran_order': False, 'shape': (3,)}}", data: [7, 0, 255]));
        Assert.Equal(NpyDType.UInt8, a.DType);
        Assert.Equal([(byte)7, 0, 255], a.GetData<byte>());
    }

    [Fact]
    public void UnsupportedDescrs()
    {
        string D(string descr) => $"{{'descr': '{descr}', 'fortran_order': False, 'shape': (1,)}}";
        Assert.Equal(Msg("unsupported dtype '' (supported: <f4 <f8 <i8 <i4 |u1)", 10), Fails(File(D(""))));
        Assert.Equal(Msg("big-endian dtype '>f4' is not supported (supported: <f4 <f8 <i8 <i4 |u1)", 10), Fails(File(D(">f4"))));
        string forty = new('a', 40);
        Assert.Equal(Msg($"unsupported dtype '{forty}' (supported: <f4 <f8 <i8 <i4 |u1)", 10), Fails(File(D(forty))));
        Assert.Equal(Msg($"unsupported dtype '{forty}...' (supported: <f4 <f8 <i8 <i4 |u1)", 10), Fails(File(D(forty + "b"))));
        string key = new('k', 41);
        Assert.Equal(Msg($"unexpected key '{new string('k', 40)}...' (the header has exactly descr, fortran_order, shape)", 11),
            Fails(File($"{{'{key}': 1}}")));
    }

    [Fact]
    public void FortranOrder_SizesAndData()
    {
        Assert.Equal(Msg("fortran_order is True for shape (2, 1); only C-order arrays are read (save with np.ascontiguousarray)", 10),
            Fails(File("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 1)}", data: new byte[8])));
        Assert.Equal(Msg("shape (65536, 65536) is too large for one array", 10),
            Fails(File("{'descr': '|u1', 'fortran_order': False, 'shape': (65536, 65536)}")));
        // Exactly Array.MaxLength elements pass the size check and are then missing.
        string largest = "{'descr': '|u1', 'fortran_order': False, 'shape': (2147483591,)}";
        Assert.Equal(Msg($"truncated data: |u1 shape (2147483591) needs 2147483591 bytes from offset {10 + largest.Length}, only 2 present", 12 + largest.Length),
            Fails(File(largest, data: [1, 2])));
        string f8 = "{'descr': '<f8', 'fortran_order': False, 'shape': (3,)}";
        int start = 10 + f8.Length;
        Assert.Equal(Msg($"truncated data: <f8 shape (3) needs 24 bytes from offset {start}, only 23 present", start + 23), Fails(File(f8, data: new byte[23])));
        Assert.Equal(Msg("2 trailing bytes after the 24 data bytes of shape (3)", start + 24), Fails(File(f8, data: new byte[26])));
        string f8x2 = "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3)}"; // rank 2: sizes listed with ", "
        int start2 = 10 + f8x2.Length;
        Assert.Equal(Msg($"truncated data: <f8 shape (2, 3) needs 48 bytes from offset {start2}, only 47 present", start2 + 47), Fails(File(f8x2, data: new byte[47])));
        Assert.Equal(Msg("1 trailing bytes after the 48 data bytes of shape (2, 3)", start2 + 48), Fails(File(f8x2, data: new byte[49])));
    }

    [Fact]
    public void WhitespaceAnywhereBetweenTokens_IsAccepted()
    {
        string h = " \t{ 'descr' : '<i4' , 'fortran_order' : False , 'shape' : ( 2 , 1 ) , } \r\n";
        NpyArray a = Reads(File(h, data: [1, 0, 0, 0, 2, 0, 0, 0]));
        Assert.Equal([2, 1], a.Shape);
        Assert.Equal([1, 2], a.GetData<int>());
    }

    public static TheoryData<string, string, int> ParserDefects() => new()
    {
        // header, message, offset inside the header (the file offset is 10 more)
        { "{'descr': '<f4', 'fortran_order': False, 'fortran_order': False, 'shape': (1,)}", "duplicate key 'fortran_order'", 41 },
        { "{'descr': '<f4', 'shape': (1,), 'fortran_order': False, 'shape': (1,)}", "duplicate key 'shape'", 56 },
        { "{'fortran_order': False, 'shape': (1,)}", "header lacks 'descr'", 0 },
        { "{'descr': '<f4', 'fortran_order': False}", "header lacks 'shape'", 0 },
        { "{'descr': '<f4' 'x'}", "expected ',' or '}' in the header dict, found '''", 16 },
        { "{'descr': '<f4', 'shape': (3", "expected ',' or ')' in shape, found the end of the header", 28 },
        { "{'descr': '<f4', 'shape': (3 x)}", "expected ',' or ')' in shape, found 'x'", 29 },
        { "{'descr': '<f4', 'shape': (x)}", "shape must be a tuple of non-negative integers, found 'x'", 27 },
        { "{descr: 1}", "expected a quoted string, found 'd'", 1 },
        { "{'descr", "unterminated string in the header", 1 },
        { "{'descr': '<f4', 'sh", "unterminated string in the header", 17 },
        { "{'descr' '<f4'}", "expected ':', found '''", 9 },
        { "{'descr': '<f4', 'shape' ", "expected ':', found the end of the header", 25 },
        { "{'descr': '<f4', 'fortran_order': False, 'shape': (1,)}}", "unexpected '}' after the header dict", 55 },
    };

    [Theory]
    [MemberData(nameof(ParserDefects))]
    public void ParserDefects_AreNamedAtTheirOffset(string header, string message, int at)
    {
        Assert.Equal(Msg(message, 10 + at), Fails(File(header, data: new byte[4])));
    }

    [Fact]
    public void RankLimit_OnReadAndWrite()
    {
        string ones = string.Join(", ", Enumerable.Repeat("1", 64));
        NpyArray a = Reads(File($"{{'descr': '<f4', 'fortran_order': False, 'shape': ({ones})}}", data: [0, 0, 0x80, 0x3F]));
        Assert.Equal(64, a.Shape.Length);
        Assert.Equal([1f], a.GetData<float>());
        string h65 = $"{{'descr': '<f4', 'fortran_order': False, 'shape': ({ones}, 1)}}";
        Assert.Equal(Msg("rank exceeds 64", 10 + h65.LastIndexOf('1')), Fails(File(h65, data: new byte[4])));

        int[] shape64 = Enumerable.Repeat(1, 64).ToArray();
        var ms = new MemoryStream();
        Npy.Write(ms, new NpyArray(new float[] { 2.5f }, shape64));
        byte[] bytes = ms.ToArray();
        Assert.Equal(1, bytes[6]); // version 1.0
        int headerLength = BitConverter.ToUInt16(bytes, 8);
        Assert.Equal(0, (10 + headerLength) % 64);
        Assert.Equal((byte)'\n', bytes[10 + headerLength - 1]);
        Assert.Equal(10 + headerLength + 4, bytes.Length);
        NpyArray back = Reads(bytes);
        Assert.Equal(shape64, back.Shape);
        Assert.Equal([2.5f], back.GetData<float>());
        var ex = Assert.Throws<ArgumentException>(() => Npy.Write(new MemoryStream(), new NpyArray(new float[] { 2.5f }, Enumerable.Repeat(1, 65).ToArray())));
        Assert.Equal("NPY rank 65 exceeds 64. (Parameter 'array')", ex.Message);
    }

    [Fact]
    public void NpyArray_ConvertsEveryDType()
    {
        var f = new NpyArray(new float[] { 1.5f, -2.25f }, [2]);
        var d = new NpyArray(new double[] { 1.5, 0.1 }, [2]);
        var l = new NpyArray(new long[] { 3L, -4L, 1L << 40 }, [3]);
        var n = new NpyArray(new int[] { 5, -6 }, [2, 1]);
        var b = new NpyArray(new byte[] { 7, 255 }, [2]);
        Assert.Equal([1.5f, -2.25f], f.ToFloatArray());
        Assert.Equal([1.5f, (float)0.1], d.ToFloatArray());
        Assert.Equal([3f, -4f, 1099511627776f], l.ToFloatArray());
        Assert.Equal([5f, -6f], n.ToFloatArray());
        Assert.Equal([7f, 255f], b.ToFloatArray());
        Assert.Equal([1.5, -2.25], f.ToDoubleArray());
        Assert.Equal([1.5, 0.1], d.ToDoubleArray());
        Assert.Equal([3.0, -4.0, 1099511627776.0], l.ToDoubleArray());
        Assert.Equal([5.0, -6.0], n.ToDoubleArray());
        Assert.Equal([7.0, 255.0], b.ToDoubleArray());
        Assert.Equal([3L, -4L, 1L << 40], l.ToInt64Array());
        Assert.Equal([5L, -6L], n.ToInt64Array());
        Assert.Equal([7L, 255L], b.ToInt64Array());
        Assert.NotSame(l.Data, l.ToInt64Array());
        Assert.NotSame(d.Data, d.ToDoubleArray());
        Assert.NotSame(f.Data, f.ToFloatArray());
        Assert.Equal("NpyArray holds Float32 data; ToInt64Array needs an integer dtype.", Assert.Throws<InvalidOperationException>(() => f.ToInt64Array()).Message);
        Assert.Equal("NpyArray holds Float64 data; ToInt64Array needs an integer dtype.", Assert.Throws<InvalidOperationException>(() => d.ToInt64Array()).Message);
        Assert.Equal("NpyArray holds Float32 data, not Int32; use ToFloatArray/ToDoubleArray to convert.",
            Assert.Throws<InvalidOperationException>(() => f.GetData<int>()).Message);
        Assert.Same(n.Data, n.GetData<int>());
        Assert.Equal(2, n.Count);
    }

    [Fact]
    public void NpyArray_ChecksItsShape()
    {
        int[] shape = [2, 1];
        var a = new NpyArray(new float[2], shape);
        shape[0] = 9;
        Assert.Equal([2, 1], a.Shape); // copied
        Assert.Equal("NpyArray: negative dimension in shape [2, -1]. (Parameter 'shape')",
            Assert.Throws<ArgumentException>(() => new NpyArray(new float[0], [2, -1])).Message);
        Assert.Equal("NpyArray: shape [65536, 65536] is too large. (Parameter 'shape')",
            Assert.Throws<ArgumentException>(() => new NpyArray(new byte[0], [65536, 65536])).Message);
        Assert.Equal("NpyArray: shape [2147483591] has 2147483591 elements but the data has 0.",
            Assert.Throws<ShapeMismatchException>(() => new NpyArray(new byte[0], [2147483591])).Message);
        Assert.Equal("NpyArray: shape [2, 3] has 6 elements but the data has 5.",
            Assert.Throws<ShapeMismatchException>(() => new NpyArray(new int[5], [2, 3])).Message);
        Assert.Empty(new NpyArray(new long[0], [0, 3]).Data);
    }
}
