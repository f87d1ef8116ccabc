using System.Globalization;
using System.IO.Hashing;
using System.Text;
using FlexNet.IO;

namespace FlexNet.Tests.IO;

/// <summary>
/// The checksum of checkpoint files: recomputed here with XxHash3 over the image with the 16 digits zeroed (an
/// independent computation), and every rejection with its whole message.
/// </summary>
public sealed class ChecksummedFileMessageTests
{
    private const string Source = "c9.bin";

    private static byte[] Sealed() =>
        ChecksummedFile.ToBytes(new Dictionary<string, string> { ["epoch"] = "3" }, [SafeTensorEntry.FromFloats("w", [2], [1f, -1f])]);

    private static string Reject(byte[] image) =>
        Assert.Throws<ModelFormatException>(() => ChecksummedFile.Parse(image, Source)).Message;

    private static byte[] WithChecksumText(string header) =>
        TestFiles.Image(header, dataLength: 0);

    [Fact]
    public void TheStoredChecksumIsXxHash3OfTheImageWithZeroDigits()
    {
        byte[] image = Sealed();
        string header = TestFiles.HeaderOf(image);
        int key = header.IndexOf("\"checksum\":\"", StringComparison.Ordinal);
        Assert.True(key >= 0);
        int at = 8 + Encoding.UTF8.GetByteCount(header[..key]) + "\"checksum\":\"".Length;
        string stored = Encoding.ASCII.GetString(image, at, 16);
        byte[] zeroed = (byte[])image.Clone();
        for (int i = 0; i < 16; i++) zeroed[at + i] = (byte)'0';
        Assert.Equal(XxHash3.HashToUInt64(zeroed).ToString("x16", CultureInfo.InvariantCulture), stored);
        var f = ChecksummedFile.Parse(image, Source);
        Assert.Equal([1f, -1f], f["w"].ToFloatArray());
        Assert.Equal(stored, f.Metadata["checksum"]);
    }

    [Fact]
    public void AnyChangedByteIsAMismatchNamingBothValues()
    {
        byte[] image = Sealed();
        string stored = ChecksummedFile.Parse(image, Source).Metadata["checksum"];
        image[^1] ^= 0x40; // last byte of w
        byte[] zeroed = (byte[])image.Clone();
        int at = Encoding.ASCII.GetString(image).IndexOf(stored, StringComparison.Ordinal);
        for (int i = 0; i < 16; i++) zeroed[at + i] = (byte)'0';
        string computed = XxHash3.HashToUInt64(zeroed).ToString("x16", CultureInfo.InvariantCulture);
        Assert.Equal($"'{Source}': checksum mismatch (stored {stored}, computed {computed}): the file is corrupted or was altered.", Reject(image));

        // Reseal makes the same image pass again
        Assert.True(ChecksummedFile.Reseal(image));
        Assert.Equal(computed, ChecksummedFile.Parse(image, Source).Metadata["checksum"]);
    }

    [Fact]
    public void MissingMalformedAndNonCanonicalChecksums()
    {
        Assert.Equal($"'{Source}': the file has no 'checksum' in its metadata (not a FlexNet checkpoint, or written by an older version).",
            Reject(WithChecksumText("{\"__metadata__\":{\"epoch\":\"3\"}}")));
        const string shortHex = "0123456789abcde";
        Assert.Equal($"'{Source}': the 'checksum' metadata must be 16 lower-case hex digits; got '{shortHex}'.",
            Reject(WithChecksumText("{\"__metadata__\":{\"checksum\":\"" + shortHex + "\"}}")));
        Assert.Equal($"'{Source}': the 'checksum' metadata must be 16 lower-case hex digits; got '0123456789ABCDEF'.",
            Reject(WithChecksumText("{\"__metadata__\":{\"checksum\":\"0123456789ABCDEF\"}}")));
        Assert.Equal($"'{Source}': the 'checksum' metadata must be 16 lower-case hex digits; got '0123456789abcdeg'.",
            Reject(WithChecksumText("{\"__metadata__\":{\"checksum\":\"0123456789abcdeg\"}}")));
        string longHex = new('a', 33);
        Assert.Equal($"'{Source}': the 'checksum' metadata must be 16 lower-case hex digits; got '{new string('a', 32)}...'.",
            Reject(WithChecksumText("{\"__metadata__\":{\"checksum\":\"" + longHex + "\"}}")));
        string exact32 = new('b', 32);
        Assert.Equal($"'{Source}': the 'checksum' metadata must be 16 lower-case hex digits; got '{exact32}'.",
            Reject(WithChecksumText("{\"__metadata__\":{\"checksum\":\"" + exact32 + "\"}}")));
        // a well-formed value written with a space after the colon is not where the hash expects it
        Assert.Equal($"'{Source}': the 'checksum' metadata is not stored in canonical form; the file was altered.",
            Reject(WithChecksumText("{\"__metadata__\":{\"checksum\": \"0123456789abcdef\"}}")));
        // an escaped digit decodes to the same value but is not canonical either
        Assert.Equal($"'{Source}': the 'checksum' metadata is not stored in canonical form; the file was altered.",
            Reject(WithChecksumText("{\"__metadata__\":{\"checksum\":\"\\u0030123456789abcdef\"}}")));
    }

    [Fact]
    public void ResealRefusesImagesWithoutAPlaceForTheChecksum()
    {
        Assert.False(ChecksummedFile.Reseal(new byte[7]));
        byte[] liar = new byte[16];
        BitConverter.TryWriteBytes(liar.AsSpan(0, 8), 9UL); // claims 9 header bytes, has 8
        Assert.False(ChecksummedFile.Reseal(liar));
        Assert.False(ChecksummedFile.Reseal(TestFiles.Image("{\"__metadata__\":{\"epoch\":\"3\"}}")));
        byte[] exact = new byte[16];
        BitConverter.TryWriteBytes(exact.AsSpan(0, 8), 8UL); // exactly 8 header bytes: a place is looked for
        Assert.False(ChecksummedFile.Reseal(exact));
    }

    [Fact]
    public void ReadNamesThePathAndWriteRoundTrips()
    {
        string dir = TestFiles.NewTempDir();
        try
        {
            string p = Path.Combine(dir, "n.bin");
            ChecksummedFile.Write(p, new Dictionary<string, string> { ["k"] = "v" }, [SafeTensorEntry.FromDoubles("d", [1], [2.5])]);
            var f = ChecksummedFile.Read(p);
            Assert.Equal([2.5], f["d"].ToDoubleArray());
            Assert.Equal("v", f.Metadata["k"]);
            byte[] bytes = File.ReadAllBytes(p);
            bytes[^1] ^= 1;
            File.WriteAllBytes(p, bytes);
            Assert.StartsWith($"'{p}': checksum mismatch (stored ", Assert.Throws<ModelFormatException>(() => ChecksummedFile.Read(p)).Message);
            Assert.Throws<ArgumentNullException>(() => ChecksummedFile.Read(null!));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}
