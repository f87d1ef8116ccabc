using System.Buffers.Binary;
using System.Text;
using FlexNet.IO;
using Xunit;
using FlexNet.Tensors;

namespace FlexNet.Tests.IO;

public sealed class SafeTensorWriterTests : IDisposable
{
    private readonly string _dir = TestFiles.NewTempDir();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static SafeTensorEntry[] Mixed() =>
    [
        SafeTensorEntry.FromFloats("layer.weight", [3, 2], [1, 2, 3, 4, 5, 6]),
        SafeTensorEntry.FromInt64s("labels", [3], [0, 9, -4]),
        SafeTensorEntry.FromBytes("mask", [5], [1, 0, 0, 1, 1]),
        SafeTensorEntry.FromDoubles("a.bias", [2], [0.25, -1e300]),
        SafeTensorEntry.FromInt32s("count", [], [42]),
        SafeTensorEntry.FromRaw("h", SafeTensorDType.F16, [1], [0x00, 0x3C]),
    ];

    [Fact]
    public void Bytes_AreDeterministic_AndIndependentOfInputOrder()
    {
        var meta1 = new Dictionary<string, string> { ["z"] = "1", ["a"] = "2", ["m"] = "{\"layers\":[1,2]}" };
        var meta2 = new Dictionary<string, string> { ["m"] = "{\"layers\":[1,2]}", ["a"] = "2", ["z"] = "1" };
        byte[] one = SafeTensorWriter.ToBytes(meta1, Mixed());
        byte[] two = SafeTensorWriter.ToBytes(meta2, Mixed().Reverse());
        Assert.Equal(one, two);

        string header = TestFiles.HeaderOf(one);
        Assert.StartsWith("{\"__metadata__\":{\"a\":\"2\",\"m\":\"{\\\"layers\\\":[1,2]}\",\"z\":\"1\"},\"a.bias\":", header);
        // Keys in ordinal order after the metadata.
        int[] at = new[] { "\"a.bias\"", "\"count\"", "\"h\"", "\"labels\"", "\"layer.weight\"", "\"mask\"" }
            .Select(k => header.IndexOf(k, StringComparison.Ordinal)).ToArray();
        Assert.All(at, i => Assert.True(i > 0));
        Assert.Equal(at.Order().ToArray(), at);
    }

    [Fact]
    public void Header_IsPaddedWithSpacesTo8Bytes_AndEveryTensorIsAlignedToItsElementSize()
    {
        for (int extra = 0; extra < 16; extra++)
        {
            var meta = new Dictionary<string, string> { ["pad"] = new string('x', extra) };
            byte[] image = SafeTensorWriter.ToBytes(meta, Mixed());
            ulong n = BinaryPrimitives.ReadUInt64LittleEndian(image);
            Assert.Equal(0UL, (8 + n) % 8);
            string header = Encoding.UTF8.GetString(image, 8, (int)n);
            string trimmed = header.TrimEnd(' ');
            Assert.EndsWith("}", trimmed);
            Assert.True(header.Length - trimmed.Length < 8);

            SafeTensorFile f = SafeTensorFile.Parse(image, "aligned");
            foreach (SafeTensorEntry t in f.Tensors)
            {
                Assert.True(System.Runtime.InteropServices.MemoryMarshal.TryGetArray(t.Data, out ArraySegment<byte> seg));
                Assert.Equal(0, seg.Offset % t.DType.ElementSize());
            }
        }
    }

    [Fact]
    public void AllDTypes_RoundTripTheirRawBytes()
    {
        var rng = new Random(3);
        var entries = new List<SafeTensorEntry>();
        foreach (SafeTensorDType dt in Enum.GetValues<SafeTensorDType>())
        {
            var raw = new byte[3 * dt.ElementSize()];
            rng.NextBytes(raw);
            if (dt == SafeTensorDType.Bool) raw = [1, 0, 1];
            entries.Add(SafeTensorEntry.FromRaw("t_" + dt.SpecName(), dt, [3], raw));
        }
        string path = Path.Combine(_dir, "all.safetensors");
        SafeTensorWriter.Write(path, null, entries);
        SafeTensorFile f = SafeTensorFile.Read(path);
        Assert.Empty(f.Metadata);
        Assert.Equal(entries.Count, f.Tensors.Count);
        foreach (SafeTensorEntry e in entries)
        {
            SafeTensorEntry g = f[e.Name];
            Assert.Equal(e.DType, g.DType);
            Assert.Equal([3], g.Shape);
            Assert.Equal(e.ToRawArray(), g.ToRawArray());
        }
    }

    [Fact]
    public void TypedConversions_RoundTripValues()
    {
        float[] fl = [1.5f, -0f, float.MaxValue, float.Epsilon, float.NaN];
        double[] db = [Math.PI, -1e-300, double.NegativeInfinity];
        long[] lg = [long.MinValue, -1, 0, long.MaxValue];
        string path = Path.Combine(_dir, "typed.safetensors");
        SafeTensorWriter.Write(path, new Dictionary<string, string> { ["k"] = "v" },
            [SafeTensorEntry.FromFloats("f", [5], fl), SafeTensorEntry.FromDoubles("d", [3], db), SafeTensorEntry.FromInt64s("l", [2, 2], lg)]);
        SafeTensorFile r = SafeTensorFile.Read(path);
        Assert.Equal("v", r.Metadata["k"]);
        Assert.Equal(fl.Select(BitConverter.SingleToInt32Bits), r["f"].ToFloatArray().Select(BitConverter.SingleToInt32Bits));
        Assert.Equal(fl.Select(x => (double)x), r["f"].ToDoubleArray());
        Assert.Equal(db, r["d"].ToDoubleArray());
        Assert.Equal(lg, r["l"].ToInt64Array());
        Assert.Equal([2, 2], r["l"].Shape);
        var ex = Assert.Throws<ModelFormatException>(() => r["l"].ToInt32Array());
        Assert.Contains("does not fit in Int32", ex.Message);
    }

    [Fact]
    public void TupleOverloads_WriteTheSameFileAsEntries()
    {
        string p1 = Path.Combine(_dir, "t1.safetensors"), p2 = Path.Combine(_dir, "t2.safetensors");
        SafeTensorWriter.Write(p1, null, new[] { ("w", new[] { 2 }, new float[] { 1, 2 }), ("b", new[] { 1 }, new float[] { 3 }) });
        SafeTensorWriter.Write(p2, null, [SafeTensorEntry.FromFloats("b", [1], [3]), SafeTensorEntry.FromFloats("w", [2], [1, 2])]);
        Assert.Equal(File.ReadAllBytes(p1), File.ReadAllBytes(p2));

        string p3 = Path.Combine(_dir, "t3.safetensors");
        SafeTensorWriter.Write(p3, null, new[] { ("d", new[] { 1 }, new double[] { 3 }) });
        string p4 = Path.Combine(_dir, "t4.safetensors");
        SafeTensorWriter.Write(p4, null, new[] { ("l", new[] { 1 }, new long[] { 3 }) });
        string p5 = Path.Combine(_dir, "t5.safetensors");
        SafeTensorWriter.Write(p5, null, new[] { ("r", SafeTensorDType.I32, new[] { 1 }, new byte[] { 3, 0, 0, 0 }) });
        Assert.Equal([3.0], SafeTensorFile.Read(p3)["d"].ToDoubleArray());
        Assert.Equal([3L], SafeTensorFile.Read(p4)["l"].ToInt64Array());
        Assert.Equal([3], SafeTensorFile.Read(p5)["r"].ToInt32Array());

        using var ms = new MemoryStream();
        SafeTensorWriter.Write(ms, null, [SafeTensorEntry.FromFloats("b", [1], [3]), SafeTensorEntry.FromFloats("w", [2], [1, 2])]);
        Assert.Equal(File.ReadAllBytes(p1), ms.ToArray());
    }

    [Fact]
    public void MetadataWithQuotesNewlinesAndUnicode_RoundTrips()
    {
        var meta = new Dictionary<string, string>
        {
            ["config"] = "{\"a\": [1, 2], \"name\": \"x\\ny\"}\n\ttab",
            ["ünï"] = "日本語 😀 <>&'",
            ["empty"] = "",
        };
        SafeTensorFile f = SafeTensorFile.Parse(SafeTensorWriter.ToBytes(meta, []), "m");
        Assert.Equal(meta.OrderBy(kv => kv.Key, StringComparer.Ordinal), f.Metadata);
    }

    [Fact]
    public void InvalidInputs_AreRejectedBeforeAnythingIsWritten()
    {
        string path = Path.Combine(_dir, "never.safetensors");
        Assert.Throws<ArgumentException>(() => SafeTensorWriter.Write(path, null,
            [SafeTensorEntry.FromFloats("a", [1], [1]), SafeTensorEntry.FromFloats("a", [1], [2])]));
        Assert.Throws<ArgumentException>(() => SafeTensorWriter.Write(path, null,
            [SafeTensorEntry.FromFloats("bad\ud800", [1], [1])]));
        Assert.Throws<ArgumentException>(() => SafeTensorWriter.Write(path, new Dictionary<string, string> { ["k"] = null! },
            [SafeTensorEntry.FromFloats("a", [1], [1])]));
        Assert.Throws<ArgumentException>(() => SafeTensorEntry.FromFloats("__metadata__", [1], [1]));
        Assert.Throws<ArgumentException>(() => SafeTensorEntry.FromFloats("n", [-1], []));
        Assert.Throws<ArgumentException>(() => SafeTensorEntry.FromFloats("r", [1, 1, 1, 1, 1, 1, 1, 1, 1], [1]));
        Assert.Throws<ArgumentException>(() => SafeTensorEntry.FromDoubles("big", [65536, 65536, 65536], []));
        var ex = Assert.Throws<ShapeMismatchException>(() => SafeTensorEntry.FromFloats("w", [2, 3], [1, 2, 3]));
        Assert.Contains("[2, 3]", ex.Message);
        Assert.Contains("'w'", ex.Message);
        Assert.Throws<ShapeMismatchException>(() => SafeTensorEntry.FromRaw("w", SafeTensorDType.F32, [2], new byte[7]));
        Assert.False(File.Exists(path));
        Assert.Empty(Directory.GetFiles(_dir));
    }

    // ---- atomicity ----

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(8)]
    [InlineData(100)]
    [InlineData(300)]
    public void FailingWrite_NeverLeavesAFileAtTheFinalName_NorATempFile(int failAfterBytes)
    {
        string path = Path.Combine(_dir, "model.safetensors");
        var ex = Assert.Throws<IOException>(() => SafeTensorWriter.Write(path, null, Mixed(),
            temp => new FailingStream(new FileStream(temp, FileMode.CreateNew), failAfterBytes, failOnFlush: false)));
        Assert.Contains("injected", ex.Message);
        Assert.False(File.Exists(path));
        Assert.Empty(Directory.GetFiles(_dir));
    }

    [Fact]
    public void FailingWrite_KeepsThePreviousFileIntact()
    {
        string path = Path.Combine(_dir, "model.safetensors");
        SafeTensorWriter.Write(path, new Dictionary<string, string> { ["v"] = "1" }, [SafeTensorEntry.FromFloats("w", [1], [1])]);
        byte[] before = File.ReadAllBytes(path);
        Assert.Throws<IOException>(() => SafeTensorWriter.Write(path, new Dictionary<string, string> { ["v"] = "2" }, Mixed(),
            temp => new FailingStream(new FileStream(temp, FileMode.CreateNew), 50, failOnFlush: false)));
        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Throws<IOException>(() => SafeTensorWriter.Write(path, null, Mixed(),
            temp => new FailingStream(new FileStream(temp, FileMode.CreateNew), int.MaxValue, failOnFlush: true)));
        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Equal(["model.safetensors"], Directory.GetFiles(_dir).Select(Path.GetFileName));
        Assert.Equal("1", SafeTensorFile.Read(path).Metadata["v"]);
    }

    [Fact]
    public void SuccessfulWrite_ReplacesTheFile_AndLeavesNoTempFile()
    {
        string path = Path.Combine(_dir, "model.safetensors");
        SafeTensorWriter.Write(path, new Dictionary<string, string> { ["v"] = "1" }, [SafeTensorEntry.FromFloats("w", [1], [1])]);
        SafeTensorWriter.Write(path, new Dictionary<string, string> { ["v"] = "2" }, Mixed());
        Assert.Equal("2", SafeTensorFile.Read(path).Metadata["v"]);
        Assert.Equal(SafeTensorWriter.ToBytes(new Dictionary<string, string> { ["v"] = "2" }, Mixed()), File.ReadAllBytes(path));
        Assert.Equal(["model.safetensors"], Directory.GetFiles(_dir).Select(Path.GetFileName));
    }

    [Fact]
    public void TempFile_IsCreatedInTheDestinationDirectory()
    {
        string path = Path.Combine(_dir, "model.safetensors");
        string? seen = null;
        SafeTensorWriter.Write(path, null, Mixed(), temp =>
        {
            seen = temp;
            return new FileStream(temp, FileMode.CreateNew);
        });
        Assert.NotNull(seen);
        Assert.Equal(Path.GetFullPath(_dir), Path.GetDirectoryName(seen));
        Assert.NotEqual(path, seen);
        Assert.True(File.Exists(path));
        Assert.False(File.Exists(seen));
    }

    /// <summary>Passes writes through until a byte budget is spent, then throws (a full disk, a yanked drive).</summary>
    private sealed class FailingStream(Stream inner, int budget, bool failOnFlush) : Stream
    {
        private long _written;

        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => _written;
        public override long Position { get => _written; set => throw new NotSupportedException(); }

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            long room = budget - _written;
            if (buffer.Length > room)
            {
                inner.Write(buffer[..(int)Math.Max(0, room)]); // the partial bytes do reach the temp file
                inner.Flush();
                throw new IOException($"injected failure after {budget} bytes");
            }
            inner.Write(buffer);
            _written += buffer.Length;
        }

        public override void Flush()
        {
            inner.Flush();
            if (failOnFlush) throw new IOException("injected flush failure");
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing) inner.Dispose();
            base.Dispose(disposing);
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
