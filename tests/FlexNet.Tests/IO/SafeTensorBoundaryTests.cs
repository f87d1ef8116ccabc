using FlexNet.IO;

namespace FlexNet.Tests.IO;

/// <summary>Boundaries and exact messages of the safetensors header checks that mutation testing found untested.</summary>
public sealed class SafeTensorBoundaryTests
{
    private const string Source = "m.safetensors";

    private static string Reject(byte[] image)
    {
        var ex = Assert.Throws<ModelFormatException>(() => SafeTensorFile.Parse(image, Source));
        return ex.Message;
    }

    [Fact]
    public void EightByteFileIsLongEnoughForThePrefix()
    {
        // exactly 8 bytes: the prefix is there (length 0), so the complaint is the empty header, not a short file
        Assert.StartsWith($"safetensors file '{Source}': header length is 0", Reject(new byte[8]));
        Assert.Contains("shorter than the 8-byte header length prefix", Reject(new byte[7]));
    }

    [Fact]
    public void HeaderLengthAtTheLimitIsAllowedThenFoundPastTheEnd()
    {
        var image = new byte[16];
        BitConverter.TryWriteBytes(image.AsSpan(0, 8), (ulong)SafeTensorFile.MaxHeaderLength);
        Assert.Equal($"safetensors file '{Source}': header length 100000000 runs past the end of the file (8 + 100000000 > file length 16).", Reject(image));
        BitConverter.TryWriteBytes(image.AsSpan(0, 8), (ulong)SafeTensorFile.MaxHeaderLength + 1);
        Assert.Equal($"safetensors file '{Source}': header length 100000001 exceeds the limit of 100000000 bytes.", Reject(image));
    }

    [Fact]
    public void SizeMismatchMessageGivesTheSpanAndTheNeed()
    {
        var image = TestFiles.Image("{\"a\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[4,16]}}", dataLength: 16);
        Assert.Equal($"safetensors file '{Source}': tensor 'a': data_offsets [4, 16] span 12 bytes but F64 shape [2] needs 16.", Reject(image));
    }

    [Fact]
    public void NullArgumentsAreArgumentNullExceptions()
    {
        var f = SafeTensorFile.Parse(TestFiles.Image("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", dataLength: 4), Source);
        Assert.Throws<ArgumentNullException>(() => f[null!]);
        Assert.Throws<ArgumentNullException>(() => f.TryGet(null!, out _));
        Assert.Throws<ArgumentNullException>(() => SafeTensorFile.Read((string)null!));
        Assert.Throws<ArgumentNullException>(() => SafeTensorFile.Read((Stream)null!, "x"));
        Assert.Throws<ArgumentNullException>(() => SafeTensorFile.Read(new MemoryStream(new byte[8]), null!));
        Assert.Throws<ArgumentNullException>(() => SafeTensorFile.Parse(new byte[8], null!));
    }
}
