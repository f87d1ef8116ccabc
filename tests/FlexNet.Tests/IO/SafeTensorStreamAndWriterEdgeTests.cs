using System.Text;
using FlexNet.IO;

namespace FlexNet.Tests.IO;

/// <summary>
/// Edges of reading from streams (position, short reads, streams that lie about their length, growth past the first
/// buffer), of the missing-tensor message, and of the writer (exact header bytes, argument checks, messages).
/// </summary>
public sealed class SafeTensorStreamAndWriterEdgeTests
{
    private const string Source = "s3.safetensors";

    private static byte[] SmallImage() =>
        SafeTensorWriter.ToBytes(null, [SafeTensorEntry.FromFloats("a", [2], [1f, 2f])]);

    /// <summary>Hands out at most <see cref="_chunk"/> bytes per read, optionally claims another length, and can hide CanSeek.</summary>
    private sealed class TrickleStream(byte[] data, int chunk, bool seekable, long? claimedLength = null) : Stream
    {
        private readonly int _chunk = chunk;
        private long _pos;
        public override bool CanRead => true;
        public override bool CanSeek => seekable;
        public override bool CanWrite => false;
        public override long Length => seekable ? claimedLength ?? data.Length : throw new NotSupportedException();
        public override long Position
        {
            get => seekable ? _pos : throw new NotSupportedException();
            set => _pos = seekable ? value : throw new NotSupportedException();
        }
        public override int Read(byte[] buffer, int offset, int count)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(count);
            if (offset + count > buffer.Length) throw new ArgumentException("count runs past the buffer");
            int n = (int)Math.Min(Math.Min(count, _chunk), Math.Max(0, data.Length - _pos));
            Array.Copy(data, _pos, buffer, offset, n);
            _pos += n;
            return n;
        }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    [Fact]
    public void SeekableStreamIsReadFromItsPositionInShortReads()
    {
        byte[] image = SmallImage();
        byte[] padded = [9, 9, 9, .. image];
        var s = new TrickleStream(padded, chunk: 5, seekable: true) { Position = 3 };
        var f = SafeTensorFile.Read(s, Source);
        Assert.Equal([1f, 2f], f["a"].ToFloatArray());
    }

    [Fact]
    public void NonSeekableStreamGrowsPastTheFirstBufferInShortReads()
    {
        var values = new float[50_000]; // 200 000 data bytes: the 64 KiB buffer must grow twice
        for (int i = 0; i < values.Length; i++) values[i] = i;
        byte[] image = SafeTensorWriter.ToBytes(null, [SafeTensorEntry.FromFloats("big", [values.Length], values)]);
        var f = SafeTensorFile.Read(new TrickleStream(image, chunk: 40_000, seekable: false), Source);
        float[] back = f["big"].ToFloatArray();
        Assert.Equal(values.Length, back.Length);
        Assert.Equal(49_999f, back[^1]);
        Assert.Equal(12_345f, back[12_345]);
    }

    [Fact]
    public void GrowingANonSeekableBufferAllocatesInProportionToTheInput()
    {
        // 200 KB arriving in pieces: the buffer doubles (64, 128, 256 KiB), it never jumps to the 2 GB limit
        var values = new float[50_000];
        byte[] image = SafeTensorWriter.ToBytes(null, [SafeTensorEntry.FromFloats("big", [values.Length], values)]);
        long before = GC.GetAllocatedBytesForCurrentThread();
        var f = SafeTensorFile.Read(new TrickleStream(image, chunk: 40_000, seekable: false), Source);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(values.Length, f["big"].ElementCount);
        Assert.True(allocated < 4_000_000, $"reading a {image.Length}-byte stream allocated {allocated} bytes");
    }

    [Fact]
    public void TensorsAreListedByNameWhateverTheHeaderOrder()
    {
        var f = SafeTensorFile.Parse(TestFiles.Image(
            "{\"m\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},\"b\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]},"
            + "\"z\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[2,3]},\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[3,4]}}",
            [10, 20, 30, 40]), Source);
        Assert.Equal(["a", "b", "m", "z"], f.Tensors.Select(t => t.Name).ToArray());
        Assert.Equal([40L], f["a"].ToInt64Array());
        Assert.Equal([10L], f["m"].ToInt64Array());
    }

    [Fact]
    public void NullMetadataIsEmptyMetadata()
    {
        var f = SafeTensorFile.Parse(TestFiles.Image("{\"__metadata__\":null,\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", [7]), Source);
        Assert.Empty(f.Metadata);
        Assert.Equal([7L], f["a"].ToInt64Array());
    }

    [Fact]
    public void StreamShorterThanItsLengthIsAFormatError()
    {
        byte[] image = SmallImage();
        var s = new TrickleStream(image, chunk: 1000, seekable: true, claimedLength: image.Length + 4);
        var ex = Assert.Throws<ModelFormatException>(() => SafeTensorFile.Read(s, Source));
        Assert.Equal($"safetensors file '{Source}': stream ended after {image.Length} of {image.Length + 4} bytes (the file changed while being read?).", ex.Message);
    }

    [Fact]
    public void StreamLongerThanAnArrayIsRefusedBeforeAnyAllocation()
    {
        long huge = (long)Array.MaxLength + 1;
        var s = new TrickleStream([], chunk: 1, seekable: true, claimedLength: huge);
        var ex = Assert.Throws<ModelFormatException>(() => SafeTensorFile.Read(s, Source));
        Assert.Equal($"safetensors file '{Source}': {huge} bytes; inputs over {Array.MaxLength} bytes are not supported.", ex.Message);
    }

    [Fact]
    public void MissingTensorMessageListsUpTo40Names()
    {
        Assert.Equal($"safetensors file '{Source}': no tensor named 'x'. Available (0): (none).",
            Assert.Throws<ModelFormatException>(() => SafeTensorFile.Parse(SafeTensorWriter.ToBytes(null, []), Source)["x"]).Message);

        SafeTensorFile Many(int n) => SafeTensorFile.Parse(SafeTensorWriter.ToBytes(null,
            Enumerable.Range(0, n).Select(i => SafeTensorEntry.FromBytes($"t{i:D2}", [0], []))), Source);
        string forty = string.Join(", ", Enumerable.Range(0, 40).Select(i => $"'t{i:D2}'"));
        Assert.Equal($"safetensors file '{Source}': no tensor named 'x'. Available (40): {forty}.",
            Assert.Throws<ModelFormatException>(() => Many(40)["x"]).Message);
        Assert.Equal($"safetensors file '{Source}': no tensor named 'x'. Available (42): {forty}, ... and 2 more.",
            Assert.Throws<ModelFormatException>(() => Many(42)["x"]).Message);
        Assert.Equal($"SafeTensorFile('{Source}', 42 tensors, 0 metadata entries)", Many(42).ToString());
    }

    [Fact]
    public void HeaderBytesAreCompactSortedAndSpacePadded()
    {
        byte[] image = SafeTensorWriter.ToBytes(new Dictionary<string, string> { ["z"] = "1", ["k"] = "é\"" },
            [SafeTensorEntry.FromFloats("b", [1], [1f]), SafeTensorEntry.FromDoubles("a", [1], [2.0])]);
        string json = "{\"__metadata__\":{\"k\":\"é\\\"\",\"z\":\"1\"},"
                      + "\"a\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[0,8]},"
                      + "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}";
        int len = Encoding.UTF8.GetByteCount(json);
        int padded = (len + 7) / 8 * 8;
        Assert.Equal((ulong)padded, BitConverter.ToUInt64(image, 0));
        Assert.Equal(json + new string(' ', padded - len), Encoding.UTF8.GetString(image, 8, padded));
        Assert.Equal(8 + padded + 12, image.Length);

        // empty metadata writes no __metadata__ object at all
        byte[] bare = SafeTensorWriter.ToBytes(new Dictionary<string, string>(), [SafeTensorEntry.FromFloats("b", [1], [1f])]);
        Assert.Equal("{\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", TestFiles.HeaderOf(bare).TrimEnd(' '));
    }

    [Fact]
    public void SameSizeTensorsAreLaidOutInNameOrder()
    {
        // 40 tensors: enough that the sort is not an insertion sort, so the name tie-break decides the order
        var entries = Enumerable.Range(0, 40).Select(i => SafeTensorEntry.FromFloats($"w{(i * 17) % 40:D2}", [1], [i])).ToList();
        var f = SafeTensorFile.Parse(SafeTensorWriter.ToBytes(null, entries), Source);
        string header = TestFiles.HeaderOf(SafeTensorWriter.ToBytes(null, entries));
        for (int k = 0; k < 40; k++)
            Assert.Contains($"\"w{k:D2}\":{{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[{4 * k},{4 * k + 4}]}}", header);
        Assert.Equal(40, f.Tensors.Count);
    }

    [Fact]
    public void WriterArgumentChecks()
    {
        string dir = TestFiles.NewTempDir();
        try
        {
            string path = Path.Combine(dir, "o.bin");
            Assert.Throws<ArgumentNullException>(() => SafeTensorWriter.Write(path, null, (IEnumerable<(string, SafeTensorDType, int[], byte[])>)null!));
            Assert.Throws<ArgumentNullException>(() => SafeTensorWriter.Write(path, null, (IEnumerable<(string, int[], float[])>)null!));
            Assert.Throws<ArgumentNullException>(() => SafeTensorWriter.Write(path, null, (IEnumerable<(string, int[], double[])>)null!));
            Assert.Throws<ArgumentNullException>(() => SafeTensorWriter.Write(path, null, (IEnumerable<(string, int[], long[])>)null!));
            Assert.Throws<ArgumentNullException>(() => SafeTensorWriter.Write((Stream)null!, null, [SafeTensorEntry.FromFloats("a", [1], [1f])]));
            Assert.Throws<ArgumentNullException>(() => SafeTensorWriter.ToBytes(null, null!));
            Assert.Throws<ArgumentNullException>(() => SafeTensorWriter.ToBytes(null, [null!]));
            Assert.False(File.Exists(path));

            Assert.Equal("Duplicate tensor name 'd'. (Parameter 'tensors')", Assert.Throws<ArgumentException>(() =>
                SafeTensorWriter.ToBytes(null, [SafeTensorEntry.FromFloats("d", [1], [1f]), SafeTensorEntry.FromFloats("d", [1], [2f])])).Message);
            Assert.Equal("Metadata value for 'k' is null. (Parameter 'metadata')", Assert.Throws<ArgumentException>(() =>
                SafeTensorWriter.ToBytes(new Dictionary<string, string> { ["k"] = null! }, [])).Message);
            Assert.Equal("The tensor name 'a\ud800' contains an unpaired UTF-16 surrogate at index 1 and cannot be stored as UTF-8.", Assert.Throws<ArgumentException>(() =>
                SafeTensorWriter.ToBytes(null, [SafeTensorEntry.FromFloats("a\ud800", [1], [1f])])).Message);
            Assert.Equal("The metadata key 'x\udc00' contains an unpaired UTF-16 surrogate at index 1 and cannot be stored as UTF-8.", Assert.Throws<ArgumentException>(() =>
                SafeTensorWriter.ToBytes(new Dictionary<string, string> { ["x\udc00"] = "v" }, [])).Message);
            Assert.Equal("The metadata value for 'k' '\ud800b' contains an unpaired UTF-16 surrogate at index 0 and cannot be stored as UTF-8.", Assert.Throws<ArgumentException>(() =>
                SafeTensorWriter.ToBytes(new Dictionary<string, string> { ["k"] = "\ud800b" }, [])).Message);
            // a surrogate pair is fine
            var ok = SafeTensorFile.Parse(SafeTensorWriter.ToBytes(new Dictionary<string, string> { ["k"] = "\ud83d\ude00" }, []), Source);
            Assert.Equal("\ud83d\ude00", ok.Metadata["k"]);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void TypedWritersStoreTheirDType()
    {
        string dir = TestFiles.NewTempDir();
        try
        {
            string p = Path.Combine(dir, "o.bin");
            SafeTensorWriter.Write(p, null, new[] { ("i", new[] { 2 }, new long[] { -1, 5 }) });
            Assert.Equal([-1L, 5L], SafeTensorFile.Read(p)["i"].ToInt64Array());
            SafeTensorWriter.Write(p, null, new[] { ("r", SafeTensorDType.U8, new[] { 2 }, new byte[] { 3, 4 }) });
            Assert.Equal([3L, 4L], SafeTensorFile.Read(p)["r"].ToInt64Array());
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void AtomicWriteToARootPathHasNoDirectory()
    {
        string root = Path.GetPathRoot(Path.GetTempPath())!;
        var ex = Assert.Throws<ArgumentException>(() => AtomicFile.Write(root, _ => { }));
        Assert.Equal($"'{root}' has no directory. (Parameter 'path')", ex.Message);
    }
}
