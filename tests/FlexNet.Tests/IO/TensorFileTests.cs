using FlexNet.IO;
using FlexNet.Tensors;

namespace FlexNet.Tests.IO;

public class TensorFileTests
{
    [Fact]
    public void TensorsRoundTripBitExactWithMetadata()
    {
        var path = Path.Combine(Path.GetTempPath(), $"flexnet-tf-{Environment.ProcessId}.safetensors");
        try
        {
            var a = Tensor.Normal([3, 4], 0, 1, new RandomGenerator(1));
            var b = Tensor.Normal([2, 5], 0, 1, new RandomGenerator(2), DType.Float64).Transpose(0, 1);
            var c = Tensor.FromArray(new[] { 1, -2, 3 }, 3);
            TensorFile.Save(path, new Dictionary<string, Tensor> { ["a"] = a, ["b"] = b, ["c"] = c },
                            new Dictionary<string, string> { ["format"] = "flexnet" });
            var r = TensorFile.Load(path, out var md);
            Assert.Equal("flexnet", md["format"]);
            Assert.Equal(a.ToFloatArray(), r["a"].ToFloatArray());
            Assert.Equal(DType.Float32, r["a"].DType);
            Assert.Equal(b.ToDoubleArray(), r["b"].ToDoubleArray());
            Assert.Equal([5, 2], r["b"].Shape.ToArray());
            Assert.Equal(new[] { 1, -2, 3 }, r["c"].ToInt32Array());
        }
        finally
        {
            File.Delete(path);
        }
    }
}
