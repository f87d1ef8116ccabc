using FlexNet.Data;
using FlexNet.IO;
using FlexNet.Layers;
using FlexNet.Losses;
using FlexNet.Models;
using FlexNet.Optimizers;
using FlexNet.Tests.Data;
using FlexNet.Training;
using FlexNet.Tensors;

namespace FlexNet.Tests.IO;

/// <summary>Loader and training-input defects of issue 10, each with the behaviour that was wrong before.</summary>
[Collection("Training")] // Fit reseeds RandomGenerator.Default
public sealed class LoaderDefectTests
{
    [Fact]
    public void TensorFile_LoadsAValidEmptyTensorWithLargeDimensions()
    {
        string dir = TestFiles.NewTempDir();
        try
        {
            string path = Path.Combine(dir, "empty.safetensors");
            SafeTensorWriter.Write(path, null, [SafeTensorEntry.FromFloats("e", [65536, 65536, 0], []), SafeTensorEntry.FromFloats("x", [2], [1, 2])]);
            var t = TensorFile.Load(path, out _);
            Assert.Equal([65536, 65536, 0], t["e"].Shape.ToArray());
            Assert.Equal(0, t["e"].Length);
            Assert.Equal([1f, 2f], t["x"].ToFloatArray());
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void NaNTargets_StopTrainingWithAMessageNamingTheTargets()
    {
        var model = new Sequential("reg", DType.Float32, 1, new Dense(4, "tanh"), new Dense(1)) { InputShape = [3] };
        var x = Tensor.Normal([8, 3], 0, 1, new RandomGenerator(3));
        var yv = new float[8];
        yv[5] = float.NaN;
        var y = Tensor.FromArray(yv, 8, 1);
        var o = new TrainerOptions { Loss = new MeanSquaredError(), Optimizer = new Sgd(0.1), Epochs = 1, BatchSize = 8, Shuffle = false, Progress = ProgressMode.None };
        var e = Assert.Throws<NonFiniteValueException>(() => new Trainer((ITrainable)model, o).Fit(x, y));
        Assert.Contains("target 0 [8, 1] has 1 non-finite values", e.Message);
        Assert.DoesNotContain("stayed finite", e.Message);
    }

    [Fact]
    public void GzipWithACorruptTrailer_IsReportedAsATrailerMismatch()
    {
        byte[] raw = IdxTests.Make(0x08, [3, 2, 2], Enumerable.Range(0, 12).Select(i => (byte)(i * 21)).ToArray());
        byte[] gz = IdxTests.Gzip(raw);
        for (int at = gz.Length - 8; at < gz.Length; at++)
        {
            byte[] bad = (byte[])gz.Clone();
            bad[at] ^= 0x5A;
            var e = Assert.Throws<DatasetFormatException>(() => Idx.Read(new MemoryStream(bad), "bad.idx.gz"));
            Assert.Contains("bad.idx.gz", e.Message);
            Assert.True(e.Message.Contains("trailer", StringComparison.Ordinal), $"byte {at}: {e.Message}");
            Assert.DoesNotContain("unsupported compression method", e.Message);
        }
    }
}
