using System.Text;
using FlexNet.IO;

namespace FlexNet.Tests.IO;

/// <summary>
/// Every header defect the safetensors parser names, each with its whole message: the file name (which says nothing
/// about the defect), the tensor, the field and the offending values. Mutation testing showed that assertions on a
/// fragment let an emptied or wrong message through.
/// </summary>
public sealed class SafeTensorHeaderMessageTests
{
    private const string Source = "q1.safetensors";
    private const string Prefix = "safetensors file 'q1.safetensors': ";

    private static string Reject(byte[] image)
    {
        var ex = Assert.Throws<ModelFormatException>(() => SafeTensorFile.Parse(image, Source));
        return ex.Message;
    }

    private static string Reject(string header, int dataLength = 0) => Reject(TestFiles.Image(header, dataLength: dataLength));

    private static string T(string name, string body) => $"\"{name}\":{{{body}}}";

    [Theory]
    [InlineData("{\"__metadata__\":{},\"__metadata__\":{}}", "duplicate key '__metadata__'.")]
    [InlineData("{\"a\":{\"dtype\":\"U8\",\"shape\":[],\"data_offsets\":[0,1]},\"a\":{}}", "duplicate tensor key 'a'.")]
    [InlineData("{\"__metadata__\":3}", "'__metadata__' must be an object of string values, found Number.")]
    [InlineData("{\"__metadata__\":{\"k\":[]}}", "'__metadata__' value for 'k' must be a string, found StartArray.")]
    [InlineData("{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}", "duplicate key 'k' in '__metadata__'.")]
    [InlineData("{\"a\":[1]}", "tensor 'a': value must be an object {dtype, shape, data_offsets}, found StartArray.")]
    [InlineData("{\"a\":{\"dtype\":\"U8\",\"dtype\":\"U8\"}}", "tensor 'a': duplicate field 'dtype'.")]
    [InlineData("{\"a\":{\"dtype\":8}}", "tensor 'a': 'dtype' must be a string, found Number.")]
    [InlineData("{\"a\":{\"dtype\":\"F8\"}}", "tensor 'a': unsupported dtype 'F8' (supported: BOOL, U8, I8, I16, U16, F16, BF16, I32, U32, F32, F64, I64, U64).")]
    [InlineData("{\"a\":{\"shape\":[],\"shape\":[]}}", "tensor 'a': duplicate field 'shape'.")]
    [InlineData("{\"a\":{\"data_offsets\":[0,0],\"data_offsets\":[0,0]}}", "tensor 'a': duplicate field 'data_offsets'.")]
    [InlineData("{\"a\":{\"dtype\":\"U8\",\"size\":1}}", "tensor 'a': unknown field 'size' (expected dtype, shape, data_offsets).")]
    [InlineData("{\"a\":{\"shape\":[],\"data_offsets\":[0,0]}}", "tensor 'a': missing 'dtype'.")]
    [InlineData("{\"a\":{\"dtype\":\"U8\",\"data_offsets\":[0,0]}}", "tensor 'a': missing 'shape'.")]
    [InlineData("{\"a\":{\"dtype\":\"U8\",\"shape\":[]}}", "tensor 'a': missing 'data_offsets'.")]
    [InlineData("{\"a\":{\"shape\":3}}", "tensor 'a': 'shape' must be an array of non-negative integers, found Number.")]
    [InlineData("{\"a\":{\"shape\":[2,-1]}}", "tensor 'a': 'shape' must contain non-negative integers, found -1.")]
    [InlineData("{\"a\":{\"shape\":[2.5]}}", "tensor 'a': 'shape' must contain non-negative integers, found 2.5.")]
    [InlineData("{\"a\":{\"shape\":[\"2\"]}}", "tensor 'a': 'shape' must contain non-negative integers, found String.")]
    [InlineData("{\"a\":{\"shape\":[1,1,1,1,1,1,1,1,1]}}", "tensor 'a': rank exceeds the maximum of 8.")]
    [InlineData("{\"a\":{\"shape\":[1,2147483648]}}", "tensor 'a': dimension 1 = 2147483648 exceeds 2147483647.")]
    [InlineData("{\"a\":{\"data_offsets\":{}}}", "tensor 'a': 'data_offsets' must be an array [begin, end], found StartObject.")]
    [InlineData("{\"a\":{\"data_offsets\":[0,1,2]}}", "tensor 'a': 'data_offsets' must have exactly 2 entries.")]
    [InlineData("{\"a\":{\"data_offsets\":[5]}}", "tensor 'a': 'data_offsets' must have exactly 2 entries, found 1.")]
    [InlineData("{\"a\":{\"data_offsets\":[0,-7]}}", "tensor 'a': 'data_offsets' must contain non-negative integers, found -7.")]
    [InlineData("{\"a\":{\"data_offsets\":[0,null]}}", "tensor 'a': 'data_offsets' must contain non-negative integers, found Null.")]
    [InlineData("{\"a\":{\"data_offsets\":[0,9223372036854775808]}}", "tensor 'a': data offset 9223372036854775808 is out of range.")]
    public void HeaderDefectMessages(string header, string defect) => Assert.Equal(Prefix + defect, Reject(header));

    [Fact]
    public void OffsetExactlyLongMaxValueIsInRangeAndThenFailsTheSizeCheck()
    {
        // 2^63 - 1 is the largest offset the range check lets through; the span check then names it
        Assert.Equal(Prefix + "tensor 'a': data_offsets [0, 9223372036854775807] span 9223372036854775807 bytes but F32 shape [] needs 4.",
            Reject("{" + T("a", "\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,9223372036854775807]") + "}"));
    }

    [Fact]
    public void ElementCountExactlyLongMaxValueDoesNotOverflow()
    {
        // 3124327 * 92737 * 649657 * 49 = 2^63 - 1: each partial product is exactly long.MaxValue / next dimension,
        // so neither overflow check may fire; the count is exact and only the span check rejects the file.
        const string shape = "[3124327,92737,649657,49]";
        Assert.Equal(9223372036854775807L, 3124327L * 92737L * 649657L * 49L);
        Assert.Equal(Prefix + "tensor 'a': data_offsets [0, 0] span 0 bytes but U8 shape [3124327, 92737, 649657, 49] needs 9223372036854775807.",
            Reject("{" + T("a", $"\"dtype\":\"U8\",\"shape\":{shape},\"data_offsets\":[0,0]") + "}"));
        // the same elements at 2 bytes each: the byte size overflows
        Assert.Equal(Prefix + "tensor 'a': byte size of I16 shape [3124327, 92737, 649657, 49] overflows.",
            Reject("{" + T("a", $"\"dtype\":\"I16\",\"shape\":{shape},\"data_offsets\":[0,0]") + "}"));
        // one more factor: the element count overflows
        Assert.Equal(Prefix + "tensor 'a': element count of shape [3124327, 92737, 649657, 49, 2] overflows.",
            Reject("{" + T("a", "\"dtype\":\"U8\",\"shape\":[3124327,92737,649657,49,2],\"data_offsets\":[0,0]") + "}"));
    }

    [Fact]
    public void NonUtf8HeaderNamesTheFileOffsetOfTheFirstBadByte()
    {
        byte[] h = Encoding.UTF8.GetBytes("{\"ab\":1}");
        h[3] = 0xFF; // header byte 3 = file offset 11
        Assert.Equal(Prefix + "header is not valid UTF-8 (first bad byte at file offset 11).", Reject(ImageOf(h)));
    }

    [Fact]
    public void HeaderThatDoesNotStartWithABraceNamesTheByte()
    {
        Assert.Equal(Prefix + "header must start with '{' but byte 8 is 0x20.", Reject(" {}     "));
        Assert.Equal(Prefix + "header must start with '{' but byte 8 is 0x5B.", Reject("[]"));
    }

    [Fact]
    public void InvalidJsonNamesTheOffsetAfterTheLastGoodToken()
    {
        // {"a": is consumed (5 bytes) before the reader meets '}'
        string msg = Reject("{\"a\":}");
        Assert.StartsWith(Prefix + "header is not valid JSON near file offset 13: ", msg);
    }

    [Fact]
    public void UndecodableStringNamesItsOffset()
    {
        // an escaped lone surrogate is valid JSON syntax but cannot become a .NET string
        string msg = Reject("{\"\\ud800\":{}}");
        Assert.StartsWith(Prefix + "header has a string that cannot be decoded near file offset ", msg);
        Assert.Matches(@"near file offset 1\d: ", msg);
    }

    [Fact]
    public void LongNamesAreCutAt64CharactersInMessages()
    {
        string s64 = new('x', 64), s65 = new('y', 65);
        Assert.Equal(Prefix + $"tensor 'a': unknown field '{s64}' (expected dtype, shape, data_offsets).",
            Reject("{\"a\":{\"" + s64 + "\":1}}"));
        Assert.Equal(Prefix + $"tensor 'a': unknown field '{new string('y', 64)}...' (expected dtype, shape, data_offsets).",
            Reject("{\"a\":{\"" + s65 + "\":1}}"));
        string digits = new('9', 70);
        Assert.Equal(Prefix + $"tensor 'a': 'shape' must contain non-negative integers, found {new string('9', 64)}...",
            Reject("{\"a\":{\"shape\":[" + digits + "]}}"));
    }

    [Fact]
    public void EmptyTensorsAtTheStartOfTheirSpanSortBeforeTheTensorThatFollows()
    {
        // An empty tensor at offset 0 beside a 4-byte tensor at [0, 4): valid, whatever the header order or names.
        // The layout check sorts by begin, then end: sorting by name or by end alone would report a false overlap.
        foreach (string header in new[]
                 {
                     "{" + T("a", "\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]") + "," + T("b", "\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]") + "}",
                     "{" + T("b", "\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]") + "," + T("a", "\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]") + "}",
                     "{" + T("a", "\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,4]") + "," + T("b", "\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]") + "}",
                 })
        {
            var f = SafeTensorFile.Parse(TestFiles.Image(header, dataLength: 4), Source);
            Assert.Equal(2, f.Tensors.Count);
        }
    }

    [Fact]
    public void TwoTensorsOnTheSameSpanAreReportedInNameOrder()
    {
        // header order q, p: the message still names p first (ties are broken by name, so the report is stable)
        string msg = Reject("{" + T("q", "\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]") + ","
                            + T("p", "\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]") + "}", 4);
        Assert.Equal(Prefix + "tensor 'q' data_offsets [0, 4] overlap tensor 'p' which ends at 4.", msg);
    }

    [Fact]
    public void TruncatedAndTrailingDataMessages()
    {
        string t = T("a", "\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]");
        byte[] h = Encoding.UTF8.GetBytes("{" + t + "}");
        Assert.Equal(Prefix + $"tensor data ends at offset 8 but the data section holds only 5 bytes (file length {8 + h.Length + 5}, header {h.Length}): the file is truncated.",
            Reject("{" + t + "}", 5));
        Assert.Equal(Prefix + "tensor data ends at offset 8 but the data section holds 11 bytes: 3 trailing bytes belong to no tensor.",
            Reject("{" + t + "}", 11));
    }

    private static byte[] ImageOf(byte[] header)
    {
        var file = new byte[8 + header.Length];
        BitConverter.TryWriteBytes(file.AsSpan(0, 8), (ulong)header.Length);
        header.CopyTo(file, 8);
        return file;
    }
}
