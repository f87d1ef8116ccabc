using System.Globalization;
using System.IO.Hashing;
using System.Text;
using FlexNet.IO;

namespace FlexNet.Tests.IO;

/// <summary>
/// Where the checksum is looked for: only inside the header the 8-byte prefix declares, never in the tensor bytes
/// after it, and only when its 16 digits and closing quote fit in that header. Each image is laid out by hand (the
/// prefix, the header text, the data), and each case is one that only that bound decides (the survivors of the IO
/// mutation run at <c>ChecksummedFile.cs:68</c>, <c>:78</c> and <c>:82</c>).
/// </summary>
public sealed class ChecksummedFileBoundsTests
{
    private const string Source = "b7.bin";
    private const string Digits = "0123456789abcdef";

    /// <summary>The 16 digits the file format stores: XxHash3 of the image with the digits at <paramref name="at"/> zeroed.</summary>
    private static string Expected(byte[] image, int at)
    {
        byte[] zeroed = (byte[])image.Clone();
        for (int i = 0; i < 16; i++) zeroed[at + i] = (byte)'0';
        return XxHash3.HashToUInt64(zeroed).ToString("x16", CultureInfo.InvariantCulture);
    }

    [Fact]
    public void AHeaderThatFillsTheWholeFileIsResealed()
    {
        // No tensor bytes: the declared header length is exactly the file's length minus the prefix.
        byte[] image = TestFiles.Image("{\"__metadata__\":{\"checksum\":\"" + Digits + "\"}}");
        Assert.Equal((ulong)(image.Length - 8), BitConverter.ToUInt64(image, 0));
        int at = 8 + "{\"__metadata__\":{\"checksum\":\"".Length;
        string expected = Expected(image, at);

        Assert.True(ChecksummedFile.Reseal(image));
        Assert.Equal(expected, Encoding.ASCII.GetString(image, at, 16));
        Assert.Equal(expected, ChecksummedFile.Parse(image, Source).Metadata["checksum"]);
    }

    [Fact]
    public void AHeaderLongerThanTheFileIsNotResealed()
    {
        byte[] image = TestFiles.Image("{\"__metadata__\":{\"checksum\":\"" + Digits + "\"}}", dataLength: 16);
        BitConverter.TryWriteBytes(image.AsSpan(0, 8), (ulong)(image.Length - 8 + 1)); // one byte more than there is
        byte[] before = (byte[])image.Clone();

        Assert.False(ChecksummedFile.Reseal(image));
        Assert.Equal(before, image);
    }

    [Fact]
    public void AChecksumKeyInTheTensorBytesIsNotTheChecksum()
    {
        // The header's key is written with an escape ("\u0063hecksum" is "checksum"), so the header holds no
        // canonical "checksum":" text; the tensor's bytes do, with 16 digits and a closing quote.
        byte[] data = Encoding.ASCII.GetBytes("\"checksum\":\"" + Digits + "\"");
        string header = "{\"__metadata__\":{\"\\u0063hecksum\":\"" + Digits + "\"},"
                        + "\"t\":{\"dtype\":\"U8\",\"shape\":[" + data.Length + "],\"data_offsets\":[0," + data.Length + "]}}";
        byte[] image = TestFiles.Image(header, data);
        byte[] before = (byte[])image.Clone();

        Assert.Equal(Digits, SafeTensorParser.Parse((byte[])image.Clone(), Source).Metadata["checksum"]);
        Assert.Equal($"'{Source}': the 'checksum' metadata is not stored in canonical form; the file was altered.",
            Assert.Throws<ModelFormatException>(() => ChecksummedFile.Parse(image, Source)).Message);
        Assert.False(ChecksummedFile.Reseal(image));
        Assert.Equal(before, image);
    }

    [Fact]
    public void DigitsThatRunPastTheEndOfTheHeaderAreNotTheChecksum()
    {
        // The header (as its prefix declares it) ends right after the 16 digits; the closing quote and the rest are
        // bytes after the header. Then the 16 digits end exactly at the header's end.
        string head = "{\"__metadata__\":{\"checksum\":\"" + Digits;
        byte[] atEnd = TestFiles.Image(head, Encoding.ASCII.GetBytes("\"}}"));
        byte[] before = (byte[])atEnd.Clone();
        Assert.False(ChecksummedFile.Reseal(atEnd));
        Assert.Equal(before, atEnd);

        // The header ends 4 digits before the digits do.
        string shorter = "{\"__metadata__\":{\"checksum\":\"" + Digits[..12];
        byte[] past = TestFiles.Image(shorter, Encoding.ASCII.GetBytes(Digits[12..] + "\"}}"));
        before = (byte[])past.Clone();
        Assert.False(ChecksummedFile.Reseal(past));
        Assert.Equal(before, past);

        // One more byte of header (the closing quote inside it): now the place is found and filled.
        byte[] fits = TestFiles.Image(head + "\"", Encoding.ASCII.GetBytes("}}"));
        int at = 8 + "{\"__metadata__\":{\"checksum\":\"".Length;
        string expected = Expected(fits, at);
        Assert.True(ChecksummedFile.Reseal(fits));
        Assert.Equal(expected, Encoding.ASCII.GetString(fits, at, 16));
    }

    [Fact]
    public void AKeyAtTheVeryStartOfTheHeaderIsFound()
    {
        // Reseal does not parse (it serves the fuzz tests' mutated images): a header that starts with the key is
        // still a place for the checksum, at offset 0 of the header.
        byte[] image = TestFiles.Image("\"checksum\":\"" + Digits + "\"}");
        int at = 8 + "\"checksum\":\"".Length;
        string expected = Expected(image, at);
        Assert.True(ChecksummedFile.Reseal(image));
        Assert.Equal(expected, Encoding.ASCII.GetString(image, at, 16));
    }
}
