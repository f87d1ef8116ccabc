using System.Text;
using FlexNet.IO;
using FlexNet.Tensors;

namespace FlexNet.Tests.IO;

/// <summary>
/// The data-layout checks of the safetensors parser, one at a time. Each bad input is rejected by exactly one check:
/// every tensor's byte span matches its dtype and shape and the spans end exactly at the end of the data section, so
/// without that check the file would load. The file name says nothing about the defect, so only the message can
/// name it.
/// </summary>
public sealed class SafeTensorLayoutCheckTests
{
    private const string Source = "model-7.safetensors";

    private static byte[] Image(string header, int dataLength)
    {
        byte[] h = Encoding.UTF8.GetBytes(header);
        var file = new byte[8 + h.Length + dataLength];
        BitConverter.TryWriteBytes(file.AsSpan(0, 8), (ulong)h.Length);
        h.CopyTo(file, 8);
        for (int i = 0; i < dataLength; i++) file[8 + h.Length + i] = (byte)(i + 1);
        return file;
    }

    private static string Tensor(string name, int elements, long begin, long end) =>
        $"\"{name}\":{{\"dtype\":\"F32\",\"shape\":[{elements}],\"data_offsets\":[{begin},{end}]}}";

    private static string Reject(string header, int dataLength)
    {
        var ex = Assert.Throws<ModelFormatException>(() => SafeTensorFile.Parse(Image(header, dataLength), Source));
        Assert.StartsWith($"safetensors file '{Source}': ", ex.Message);
        return ex.Message;
    }

    [Fact]
    public void OverlappingSpansThatCoverTheDataExactlyAreRejectedAsOverlap()
    {
        // a = bytes [0, 8), b = bytes [4, 12): both sizes right, the union is exactly the 12 data bytes.
        string msg = Reject("{" + Tensor("a", 2, 0, 8) + "," + Tensor("b", 2, 4, 12) + "}", 12);
        Assert.Equal($"safetensors file '{Source}': tensor 'b' data_offsets [4, 12] overlap tensor 'a' which ends at 8.", msg);
    }

    [Fact]
    public void TwoTensorsOnTheSameBytesAreRejectedAsOverlap()
    {
        // aliasing: both tensors claim [0, 8)
        string msg = Reject("{" + Tensor("p", 2, 0, 8) + "," + Tensor("q", 2, 0, 8) + "}", 8);
        Assert.Equal($"safetensors file '{Source}': tensor 'q' data_offsets [0, 8] overlap tensor 'p' which ends at 8.", msg);
    }

    [Fact]
    public void GapBetweenTensorsIsRejectedAsHole()
    {
        // a = [0, 4), b = [8, 12): bytes [4, 8) belong to nobody; the last tensor ends at the data's end.
        string msg = Reject("{" + Tensor("a", 1, 0, 4) + "," + Tensor("b", 1, 8, 12) + "}", 12);
        Assert.Equal($"safetensors file '{Source}': hole in the data section: bytes [4, 8) belong to no tensor (before tensor 'b').", msg);
    }

    [Fact]
    public void GapBeforeTheFirstTensorIsRejectedAsHole()
    {
        string msg = Reject("{" + Tensor("w", 2, 4, 12) + "}", 12);
        Assert.Equal($"safetensors file '{Source}': hole in the data section: bytes [0, 4) belong to no tensor (before tensor 'w').", msg);
    }

    [Fact]
    public void ReversedOffsetsAreNamedAsReversed()
    {
        // [8, 0] also fails the size check (−8 bytes for 8 needed); the reversed check runs first and names the defect.
        string msg = Reject("{" + Tensor("a", 2, 8, 0) + "}", 8);
        Assert.Equal($"safetensors file '{Source}': tensor 'a': data_offsets [8, 0] are reversed (end < begin).", msg);
    }

    [Fact]
    public void TheValidNeighboursOfTheseCasesLoad()
    {
        // the same tensors laid out back to back load, with the bytes where the offsets say
        var f = SafeTensorFile.Parse(Image("{" + Tensor("b", 1, 4, 8) + "," + Tensor("a", 1, 0, 4) + "}", 8), Source);
        Assert.Single(f["a"].ToFloatArray());
        Assert.Equal(BitConverter.ToSingle([1, 2, 3, 4]), f["a"].ToFloatArray()[0]);
        Assert.Equal(BitConverter.ToSingle([5, 6, 7, 8]), f["b"].ToFloatArray()[0]);
    }
}
