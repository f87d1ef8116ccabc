using FlexNet.IO;

namespace FlexNet.Tests.IO;

/// <summary>A null name or path is rejected by <see cref="SafeTensorFile"/> itself, naming its own parameter (the
/// dictionary behind the lookups would name its <c>key</c>), and an undefined dtype by <see cref="SafeTensorEntry"/>
/// before anything else about the new entry is checked.</summary>
public sealed class SafeTensorFileArgumentTests
{
    [Fact]
    public void NullNamesAndPathsNameTheParameter()
    {
        var f = SafeTensorFile.Parse(SafeTensorWriter.ToBytes(null, [SafeTensorEntry.FromBytes("a", [0], [])]), "n.safetensors");
        Assert.Equal("name", Assert.Throws<ArgumentNullException>(() => f[null!]).ParamName);
        Assert.Equal("name", Assert.Throws<ArgumentNullException>(() => f.TryGet(null!, out _)).ParamName);
        Assert.Equal("path", Assert.Throws<ArgumentNullException>(() => SafeTensorFile.Read((string)null!)).ParamName);
        Assert.Equal("stream", Assert.Throws<ArgumentNullException>(() => SafeTensorFile.Read(null!, "s")).ParamName);
        Assert.Equal("sourceName", Assert.Throws<ArgumentNullException>(() => SafeTensorFile.Read(new MemoryStream(), null!)).ParamName);
        Assert.Equal("sourceName", Assert.Throws<ArgumentNullException>(() => SafeTensorFile.Parse([], null!)).ParamName);
    }

    [Fact]
    public void AnUndefinedDTypeIsRejectedBeforeTheShape()
    {
        // without the dtype check first, the rank (9 > 8) or the negative dimension would be reported instead
        var rank = Assert.Throws<ArgumentOutOfRangeException>(() => SafeTensorEntry.FromRaw("x", (SafeTensorDType)99, new int[9], []));
        Assert.Equal("dtype", rank.ParamName);
        var negative = Assert.Throws<ArgumentOutOfRangeException>(() => SafeTensorEntry.FromRaw("x", (SafeTensorDType)99, [-1], []));
        Assert.Equal("dtype", negative.ParamName);
    }
}
