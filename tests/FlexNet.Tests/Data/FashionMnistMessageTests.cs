using FlexNet.Data;
using FlexNet.Tests.IO;
using Xunit;

namespace FlexNet.Tests.Data;

/// <summary>What <see cref="FashionMnistTests"/> checks by parts, here as whole values and messages.</summary>
public sealed class FashionMnistMessageTests : IDisposable
{
    private readonly string _dir = TestFiles.NewTempDir();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void ClassNames_AreZalandosTen()
    {
        Assert.Equal(["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"], FashionMnist.ClassNames);
    }

    [Fact]
    public void DefaultDirectory_Rule()
    {
        Assert.Equal("/data/fm", FashionMnist.ResolveDirectory("/data/fm", systemDirectoryExists: true));
        Assert.Equal("/data/fm", FashionMnist.ResolveDirectory("/data/fm", systemDirectoryExists: false));
        Assert.Equal("/usr/share/datasets/fashion-mnist", FashionMnist.ResolveDirectory(null, systemDirectoryExists: true));
        Assert.Equal("/usr/share/datasets/fashion-mnist", FashionMnist.ResolveDirectory(" ", systemDirectoryExists: true));
        Assert.Null(FashionMnist.ResolveDirectory(null, systemDirectoryExists: false));
        Assert.Null(FashionMnist.ResolveDirectory("", systemDirectoryExists: false));
    }

    [Fact]
    public void NullArguments_AreNamed()
    {
        Assert.Equal("directory", Assert.Throws<ArgumentNullException>(() => FashionMnist.Load(null!, "train")).ParamName);
        Assert.Equal("split", Assert.Throws<ArgumentNullException>(() => FashionMnist.Load(_dir, null!)).ParamName);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void LabelOutOfRange_WholeMessage(bool gzip)
    {
        byte[] images = IdxTests.Make(0x08, [2, 28, 28], new byte[2 * 784]);
        byte[] labels = IdxTests.Make(0x08, [2], [9, 10]);
        string ext = gzip ? ".gz" : "";
        File.WriteAllBytes(Path.Combine(_dir, "train-images-idx3-ubyte" + ext), gzip ? IdxTests.Gzip(images) : images);
        string labelsPath = Path.Combine(_dir, "train-labels-idx1-ubyte" + ext);
        File.WriteAllBytes(labelsPath, gzip ? IdxTests.Gzip(labels) : labels);
        var ex = Assert.Throws<DatasetFormatException>(() => FashionMnist.Load(_dir, "train"));
        Assert.Equal($"IDX file '{labelsPath}': label 10 at index 1 (byte offset 9{(gzip ? ", decompressed" : "")}) is not a class 0..9.", ex.Message);
    }
}
