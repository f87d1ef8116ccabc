using System.Buffers.Binary;
using FlexNet.IO;

namespace FlexNet.Tests.IO;

/// <summary>
/// Both sides of the writer's limits (tensor count, header length) at limits small enough to reach (the library's
/// are 100,000 tensors and 100,000,000 header bytes), the size limit of a checkpoint read naming the file, and the
/// writer's path checked before the tensors.
/// </summary>
public sealed class WriterAndChecksumLimitTests
{
    private static SafeTensorEntry U8(string name) => SafeTensorEntry.FromBytes(name, [1], [5]);

    [Fact]
    public void TheTensorCountMayReachTheLimitButNotPassIt()
    {
        byte[] two = SafeTensorWriter.ToBytes(null, [U8("a"), U8("b")], maxTensorCount: 2, maxHeaderLength: 1000);
        Assert.Equal(2, SafeTensorFile.Parse(two, "two").Tensors.Count);
        var ex = Assert.Throws<ArgumentException>(() =>
            SafeTensorWriter.ToBytes(null, [U8("a"), U8("b"), U8("c")], maxTensorCount: 2, maxHeaderLength: 1000));
        Assert.Equal("3 tensors exceed the limit of 2. (Parameter 'tensors')", ex.Message);
    }

    [Fact]
    public void TheHeaderMayReachTheLimitButNotPassIt()
    {
        // the header the writer must produce, written out here, padded with spaces to a multiple of 8
        const string json = "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}";
        int padded = (json.Length + 7) / 8 * 8;
        Assert.NotEqual(json.Length, padded); // the padding itself counts against the limit
        byte[] image = SafeTensorWriter.ToBytes(null, [U8("a")], maxTensorCount: 10, maxHeaderLength: padded);
        Assert.Equal((ulong)padded, BinaryPrimitives.ReadUInt64LittleEndian(image));
        Assert.Equal(8 + padded + 1, image.Length);
        var ex = Assert.Throws<ArgumentException>(() =>
            SafeTensorWriter.ToBytes(null, [U8("a")], maxTensorCount: 10, maxHeaderLength: padded - 1));
        Assert.Equal($"Header would be {padded} bytes, over the limit of {padded - 1}. (Parameter 'metadata')", ex.Message);
    }

    [Fact]
    public void ANullPathIsReportedBeforeTheTensors()
    {
        var ex = Assert.Throws<ArgumentNullException>(() => SafeTensorWriter.Write(null!, null, null!, null));
        Assert.Equal("path", ex.ParamName);
    }

    [Fact]
    public void ACheckpointOverTheSizeLimitIsAFormatErrorNamingTheFile()
    {
        string dir = TestFiles.NewTempDir();
        try
        {
            string path = Path.Combine(dir, "c.ckpt");
            ChecksummedFile.Write(path, new Dictionary<string, string> { ["epoch"] = "1" }, [U8("a")]);
            long length = new FileInfo(path).Length;
            Assert.Equal("1", ChecksummedFile.Read(path, (int)length).Metadata["epoch"]);
            var ex = Assert.Throws<ModelFormatException>(() => ChecksummedFile.Read(path, (int)length - 1));
            Assert.Equal($"'{path}': {length} bytes; inputs over {length - 1} bytes are not supported.", ex.Message);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}
