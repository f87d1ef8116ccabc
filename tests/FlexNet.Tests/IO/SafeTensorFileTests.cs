using System.Text;
using FlexNet.IO;
using Xunit;
using FlexNet.Tensors;

namespace FlexNet.Tests.IO;

public sealed class SafeTensorFileTests
{
    public static TheoryData<string> ReferenceFiles()
    {
        var data = new TheoryData<string>();
        foreach (string f in Directory.GetFiles(TestFiles.TestData("reference"), "*.safetensors").Order(StringComparer.Ordinal))
            data.Add(Path.GetFileName(f));
        return data;
    }

    [Theory]
    [MemberData(nameof(ReferenceFiles))]
    public void ReadsEveryReferenceFile_AndRoundTripsItThroughTheWriter(string fileName)
    {
        string path = TestFiles.TestData("reference", fileName);
        SafeTensorFile f = SafeTensorFile.Read(path);
        Assert.NotEmpty(f.Tensors);
        Assert.True(f.Metadata.ContainsKey("op") || f.Metadata.Count > 0, $"{fileName}: metadata expected");
        for (int i = 1; i < f.Tensors.Count; i++)
            Assert.True(string.CompareOrdinal(f.Tensors[i - 1].Name, f.Tensors[i].Name) < 0, "tensors sorted by name");
        foreach (SafeTensorEntry t in f.Tensors)
        {
            Assert.Equal(t.Shape.Aggregate(1L, (a, d) => a * d), t.ElementCount);
            Assert.Equal(t.ElementCount * t.DType.ElementSize(), t.Data.Length);
            Assert.Contains(t.DType, new[] { SafeTensorDType.F64, SafeTensorDType.I64 });
        }

        // Writer → reader round trip keeps names, dtypes, shapes, bytes and metadata.
        byte[] image = SafeTensorWriter.ToBytes(f.Metadata, f.Tensors);
        SafeTensorFile g = SafeTensorFile.Parse(image, "roundtrip");
        Assert.Equal(f.Metadata, g.Metadata);
        Assert.Equal(f.Tensors.Count, g.Tensors.Count);
        for (int i = 0; i < f.Tensors.Count; i++)
        {
            Assert.Equal(f.Tensors[i].Name, g.Tensors[i].Name);
            Assert.Equal(f.Tensors[i].DType, g.Tensors[i].DType);
            Assert.Equal(f.Tensors[i].Shape, g.Tensors[i].Shape);
            Assert.True(f.Tensors[i].Data.Span.SequenceEqual(g.Tensors[i].Data.Span), f.Tensors[i].Name);
        }
    }

    [Fact]
    public void Conv2d0_HasTheKnownShapes()
    {
        SafeTensorFile f = SafeTensorFile.Read(TestFiles.TestData("reference", "conv2d_0.safetensors"));
        Assert.Equal(["b", "g_y", "grad_b", "grad_w", "grad_x", "out_y", "w", "x"], f.Tensors.Select(t => t.Name).ToArray());
        Assert.Equal([2, 3, 8, 6], f["x"].Shape);
        Assert.Equal([4, 3, 3, 3], f["w"].Shape);
        Assert.Equal([4], f["b"].Shape);
        Assert.Equal([2, 4, 8, 6], f["out_y"].Shape);
        Assert.All(f.Tensors, t => Assert.Equal(SafeTensorDType.F64, t.DType));
        double[] x = f["x"].ToDoubleArray();
        float[] xf = f["x"].ToFloatArray();
        Assert.Equal(2 * 3 * 8 * 6, x.Length);
        for (int i = 0; i < x.Length; i++)
        {
            Assert.True(double.IsFinite(x[i]));
            Assert.Equal((float)x[i], xf[i]);
        }
    }

    [Fact]
    public void CrossEntropy_TargetIsI64ClassIndices()
    {
        SafeTensorFile f = SafeTensorFile.Read(TestFiles.TestData("reference", "cross_entropy.safetensors"));
        SafeTensorEntry target = f["target"];
        Assert.Equal(SafeTensorDType.I64, target.DType);
        Assert.Equal([5], target.Shape);
        long[] t = target.ToInt64Array();
        Assert.All(t, v => Assert.InRange(v, 0, 6));
        Assert.Equal(t.Select(v => (int)v).ToArray(), target.ToInt32Array());
        Assert.Equal([5, 7], f["logits"].Shape);
        Assert.Equal([1], f["out_loss"].Shape);
        var ex = Assert.Throws<ModelFormatException>(() => f["logits"].ToInt64Array());
        Assert.Contains("logits", ex.Message);
        Assert.Contains("F64", ex.Message);
        Assert.Contains("cross_entropy.safetensors", ex.Message);
    }

    [Fact]
    public void MissingKey_NamesFileKeyAndAvailableKeys()
    {
        string path = TestFiles.TestData("reference", "cross_entropy.safetensors");
        SafeTensorFile f = SafeTensorFile.Read(path);
        var ex = Assert.Throws<ModelFormatException>(() => f["weight"]);
        Assert.Contains(path, ex.Message);
        Assert.Contains("'weight'", ex.Message);
        Assert.Contains("'logits'", ex.Message);
        Assert.Contains("'target'", ex.Message);
        Assert.Equal("FN200", ex.Code);
        Assert.False(f.TryGet("weight", out _));
        Assert.True(f.TryGet("logits", out SafeTensorEntry? e));
        Assert.Equal("logits", e.Name);
    }

    [Fact]
    public void ReadFromNonSeekableStream_EqualsReadFromPath()
    {
        string path = TestFiles.TestData("reference", "lstm.safetensors");
        byte[] bytes = File.ReadAllBytes(path);
        using var s = new NonSeekableStream(bytes);
        SafeTensorFile a = SafeTensorFile.Read(s, "lstm-stream");
        SafeTensorFile b = SafeTensorFile.Read(path);
        Assert.Equal(b.Tensors.Select(t => t.Name), a.Tensors.Select(t => t.Name));
        Assert.Equal(b["x"].ToDoubleArray(), a["x"].ToDoubleArray());
        Assert.Equal("lstm-stream", a.SourceName);
    }

    [Fact]
    public void EmptyHeaderObject_WithNoData_IsAValidEmptyFile()
    {
        SafeTensorFile f = SafeTensorFile.Parse(TestFiles.Image("{}"), "empty");
        Assert.Empty(f.Tensors);
        Assert.Empty(f.Metadata);
        SafeTensorFile g = SafeTensorFile.Parse(TestFiles.Image("{}      "), "padded");
        Assert.Empty(g.Tensors);
    }

    [Fact]
    public void ZeroSizedAndScalarTensors_AreValid()
    {
        const string h = "{\"a\":{\"dtype\":\"F32\",\"shape\":[0,3],\"data_offsets\":[0,0]}," +
                         "\"b\":{\"dtype\":\"F64\",\"shape\":[],\"data_offsets\":[0,8]}," +
                         "\"c\":{\"dtype\":\"I32\",\"shape\":[2,0],\"data_offsets\":[8,8]}}";
        byte[] data = BitConverter.GetBytes(2.5);
        SafeTensorFile f = SafeTensorFile.Parse(TestFiles.Image(h, data), "zero");
        Assert.Equal(0, f["a"].ElementCount);
        Assert.Empty(f["a"].ToFloatArray());
        Assert.Equal([], f["b"].Shape);
        Assert.Equal([2.5], f["b"].ToDoubleArray());
        Assert.Equal(0, f["c"].ElementCount);
    }

    [Fact]
    public void HalfAndBFloat16_ConvertExactly()
    {
        // F16: 1.0 = 0x3C00, -2.0 = 0xC000; BF16: 1.0 = 0x3F80, 0.5 = 0x3F00.
        const string h = "{\"bf\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[0,4]}," +
                         "\"h\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[4,8]}}";
        byte[] data = [0x80, 0x3F, 0x00, 0x3F, 0x00, 0x3C, 0x00, 0xC0];
        SafeTensorFile f = SafeTensorFile.Parse(TestFiles.Image(h, data), "half");
        Assert.Equal([1f, 0.5f], f["bf"].ToFloatArray());
        Assert.Equal([1.0, 0.5], f["bf"].ToDoubleArray());
        Assert.Equal([1f, -2f], f["h"].ToFloatArray());
        Assert.Equal([1.0, -2.0], f["h"].ToDoubleArray());
    }

    // ---- targeted malformed inputs: each must be a ModelFormatException naming the source and the defect ----

    private const string Valid2 =
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}";

    public static TheoryData<string, string, string> BadHeaders() => new()
    {
        { "overlap", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", "overlap" },
        { "hole", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[12,16]}}", "hole" },
        { "hole-at-start", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", "hole" },
        { "out-of-range", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,1000012]}}", "needs 4" },
        { "past-end", "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", "truncated" },
        { "reversed", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", "reversed" },
        { "size-mismatch", "{\"a\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[0,12]}}", "needs 16" },
        { "dim-too-big", "{\"a\":{\"dtype\":\"F32\",\"shape\":[4194305,4194305,211106198978564],\"data_offsets\":[0,12]}}", "exceeds" },
        { "count-overflow", "{\"a\":{\"dtype\":\"F32\",\"shape\":[65536,65536,65536,65536],\"data_offsets\":[0,12]}}", "overflows" },
        { "bytes-overflow", "{\"a\":{\"dtype\":\"F64\",\"shape\":[2147483647,2147483647,4],\"data_offsets\":[0,12]}}", "overflows" },
        { "huge-offsets", "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[18446744073709551604,18446744073709551615]}}", "out of range" },
        { "offset-overflow", "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,18446744073709551616]}}", "non-negative integers" },
        { "unknown-dtype", "{\"a\":{\"dtype\":\"F8_E4M3\",\"shape\":[3],\"data_offsets\":[0,3]}}", "unsupported dtype" },
        { "lowercase-dtype", "{\"a\":{\"dtype\":\"f32\",\"shape\":[3],\"data_offsets\":[0,12]}}", "unsupported dtype" },
        { "dtype-not-string", "{\"a\":{\"dtype\":4,\"shape\":[3],\"data_offsets\":[0,12]}}", "must be a string" },
        { "dup-tensor", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", "duplicate tensor key 'a'" },
        { "dup-field", "{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F64\",\"shape\":[3],\"data_offsets\":[0,12]}}", "duplicate field 'dtype'" },
        { "dup-metadata", "{\"__metadata__\":{\"k\":\"1\"},\"__metadata__\":{\"k\":\"2\"},\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,12]}}", "duplicate key '__metadata__'" },
        { "dup-metadata-key", "{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"},\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,12]}}", "duplicate key 'k'" },
        { "metadata-number", "{\"__metadata__\":{\"k\":1},\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,12]}}", "must be a string" },
        { "metadata-object", "{\"__metadata__\":{\"k\":{\"x\":\"y\"}},\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,12]}}", "must be a string" },
        { "metadata-array", "{\"__metadata__\":[\"x\"],\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,12]}}", "must be an object" },
        { "rank-9", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,3],\"data_offsets\":[0,12]}}", "rank exceeds" },
        { "negative-dim", "{\"a\":{\"dtype\":\"F32\",\"shape\":[-3],\"data_offsets\":[0,12]}}", "non-negative integers" },
        { "fractional-dim", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,12]}}", "non-negative integers" },
        { "string-dim", "{\"a\":{\"dtype\":\"F32\",\"shape\":[\"3\"],\"data_offsets\":[0,12]}}", "non-negative integers" },
        { "one-offset", "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0]}}", "exactly 2" },
        { "three-offsets", "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,12,12]}}", "exactly 2" },
        { "missing-dtype", "{\"a\":{\"shape\":[3],\"data_offsets\":[0,12]}}", "missing 'dtype'" },
        { "missing-shape", "{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,12]}}", "missing 'shape'" },
        { "missing-offsets", "{\"a\":{\"dtype\":\"F32\",\"shape\":[3]}}", "missing 'data_offsets'" },
        { "unknown-field", "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,12],\"type\":\"System.IO.File\"}}", "unknown field 'type'" },
        { "tensor-not-object", "{\"a\":[1,2,3]}", "must be an object" },
        { "trailing-junk", "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,12]}} x", "not valid JSON" },
        { "second-object", "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,12]}}{}", "not valid JSON" },
        { "trailing-comma", "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,12]},}", "not valid JSON" },
        { "comment", "{/*x*/\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,12]}}", "not valid JSON" },
        { "unterminated", "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,12]}", "not valid JSON" },
        { "not-object", "[1,2]", "must start with '{'" },
        { "leading-space", " {}", "must start with '{'" },
        { "lone-surrogate-key", "{\"\\ud800\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,12]}}", "cannot be decoded" },
        { "nul-padding", "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,12]}}\0\0\0", "not valid JSON" },
    };

    [Theory]
    [MemberData(nameof(BadHeaders))]
    public void MalformedHeader_IsModelFormatException_NamingSourceAndDefect(string label, string header, string expected)
    {
        byte[] image = TestFiles.Image(header, dataLength: 12);
        string source = $"bad-{label}.safetensors";
        var ex = Assert.Throws<ModelFormatException>(() => SafeTensorFile.Parse(image, source));
        Assert.Contains(source, ex.Message);
        Assert.Contains(expected, ex.Message);
    }

    [Fact]
    public void Valid2_Parses_SoTheBadCasesDifferOnlyByTheirDefect()
    {
        SafeTensorFile f = SafeTensorFile.Parse(TestFiles.Image(Valid2, dataLength: 12), "ok");
        Assert.Equal(2, f.Tensors.Count);
    }

    [Theory]
    [InlineData(0UL, "header length is 0")]
    [InlineData(100_000_001UL, "exceeds the limit")]
    [InlineData(ulong.MaxValue, "exceeds the limit")]
    [InlineData(0x7FFF_FFFF_FFFF_FFFFUL, "exceeds the limit")]
    [InlineData(1000UL, "runs past the end")]
    public void BadHeaderLength_IsRejected(ulong n, string expected)
    {
        byte[] image = TestFiles.Image(Valid2, dataLength: 12);
        BitConverter.TryWriteBytes(image.AsSpan(0, 8), n);
        var ex = Assert.Throws<ModelFormatException>(() => SafeTensorFile.Parse(image, "hl.safetensors"));
        Assert.Contains("hl.safetensors", ex.Message);
        Assert.Contains(expected, ex.Message);
    }

    [Fact]
    public void TrailingDataBytes_AreRejected()
    {
        var ex = Assert.Throws<ModelFormatException>(() => SafeTensorFile.Parse(TestFiles.Image(Valid2, dataLength: 13), "t"));
        Assert.Contains("1 trailing bytes", ex.Message);
    }

    [Fact]
    public void InvalidUtf8_IsRejectedWithItsOffset()
    {
        byte[] image = TestFiles.Image("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,12]}}", dataLength: 12);
        image[8 + 2] = 0xFF; // inside the key
        var ex = Assert.Throws<ModelFormatException>(() => SafeTensorFile.Parse(image, "u"));
        Assert.Contains("UTF-8", ex.Message);
        Assert.Contains("offset 10", ex.Message);
    }

    [Theory]
    [InlineData("shape-arrays")]
    [InlineData("metadata-arrays")]
    [InlineData("nested-objects")]
    [InlineData("root-arrays")]
    public void TenThousandDeepJson_IsRejectedQuickly(string kind)
    {
        const int depth = 10_000;
        string header = kind switch
        {
            "shape-arrays" => "{\"a\":{\"dtype\":\"F32\",\"shape\":" + new string('[', depth) + new string(']', depth) + ",\"data_offsets\":[0,0]}}",
            "metadata-arrays" => "{\"__metadata__\":{\"k\":" + new string('[', depth) + new string(']', depth) + "}}",
            "nested-objects" => string.Concat(Enumerable.Repeat("{\"a\":", depth)) + "1" + new string('}', depth),
            _ => new string('[', depth) + new string(']', depth),
        };
        byte[] image = TestFiles.Image(header);
        Assert.True(TestFiles.ReturnsOrThrowsTyped<ModelFormatException>(
            () => SafeTensorFile.Parse(image, "deep.safetensors"), "deep.safetensors", kind));
    }

    [Fact]
    public void MoreThanTheTensorCap_IsRejected_AndTheCapItselfIsAccepted()
    {
        static byte[] ManyZeroSized(int n)
        {
            var sb = new StringBuilder("{");
            for (int i = 0; i < n; i++)
            {
                if (i > 0) sb.Append(',');
                sb.Append("\"t").Append(i).Append("\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}");
            }
            return TestFiles.Image(sb.Append('}').ToString());
        }
        Assert.Equal(SafeTensorFile.MaxTensorCount, SafeTensorFile.Parse(ManyZeroSized(SafeTensorFile.MaxTensorCount), "cap").Tensors.Count);
        byte[] over = ManyZeroSized(SafeTensorFile.MaxTensorCount + 1);
        Assert.True(TestFiles.ReturnsOrThrowsTyped<ModelFormatException>(
            () => SafeTensorFile.Parse(over, "many.safetensors"), "many.safetensors", "cap+1", TimeSpan.FromSeconds(3)));
        var ex = Assert.Throws<ModelFormatException>(() => SafeTensorFile.Parse(over, "many.safetensors"));
        Assert.Contains("more than 100000 tensors", ex.Message);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(7)]
    public void FilesShorterThanThePrefix_AreRejected(int length)
    {
        var ex = Assert.Throws<ModelFormatException>(() => SafeTensorFile.Parse(new byte[length], "short"));
        Assert.Contains("shorter than the 8-byte", ex.Message);
    }

    [Fact]
    public void ReadPath_MissingFile_IsFileNotFound_NotAFormatError()
    {
        Assert.Throws<FileNotFoundException>(() => SafeTensorFile.Read(Path.Combine(Path.GetTempPath(), Guid.NewGuid() + ".safetensors")));
    }

    internal sealed class NonSeekableStream(byte[] bytes) : MemoryStream(bytes)
    {
        public override bool CanSeek => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override int Read(byte[] buffer, int offset, int count) => base.Read(buffer, offset, Math.Min(count, 7));
    }
}
