using System.Globalization;
using FlexNet.Data;
using FlexNet.Specs;
using FlexNet.Tensors;
using FlexNet.Tests.Data;
using FlexNet.Tests.IO;

namespace FlexNet.Tests.Specs;

/// <summary>A spec's data section laid out for its network, against layouts written out in the test: a sequence
/// input's steps cut from each sample's features, the limit, an autoencoder's targets, the Fashion-MNIST folder with
/// and without its training files, and each refusal with its whole message.</summary>
public sealed class SpecDataTests : IDisposable
{
    private readonly string _dir = TestFiles.NewTempDir();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Csv(string name, float[][] rows)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllLines(path, rows.Select(r => string.Join(",", r.Select(v => v.ToString("R", CultureInfo.InvariantCulture)))));
        return path;
    }

    private static float[][] Rows(int n, int features, int offset = 0) =>
        Enumerable.Range(0, n).Select(i => Enumerable.Range(0, features).Select(j => (float)(offset + 10 * i + j)).ToArray()).ToArray();

    private TrainingSpec Spec(string input, string data, string extra = "") => TrainingSpec.Parse($$"""
        name: d
        inputs: [{{input}}]
        layers: [{name: y, size: 2}]
        connections: [{from: x, to: y}]
        outputs: [y]
        data: {{data}}
        {{extra}}
        """, "d.yaml", _dir);

    [Fact]
    public void ASequenceInputTakesEachSamplesFeaturesAsConsecutiveSteps()
    {
        var rows = Rows(5, 6);
        Csv("x.csv", rows);
        File.WriteAllLines(Path.Combine(_dir, "y.csv"), ["0", "1", "1", "0", "1"]);
        Csv("xt.csv", Rows(2, 6, 1000));
        File.WriteAllLines(Path.Combine(_dir, "yt.csv"), ["1", "0"]);
        var spec = Spec("{name: x, size: 2, sequence_length: 3}", "{train: {x: x.csv, y: y.csv}, test: {x: xt.csv, y: yt.csv}}");
        var d = spec.Data!.Load(spec.Network);
        Assert.Equal([3, 5, 2], d.XTrain.Shape);
        var got = d.XTrain.ToFloatArray();
        for (int s = 0; s < 3; s++)
            for (int i = 0; i < 5; i++)
                for (int f = 0; f < 2; f++)
                    Assert.Equal(rows[i][2 * s + f], got[(s * 5 + i) * 2 + f]);
        Assert.Equal([3, 2, 2], d.XTest!.Shape);
        Assert.Equal(1000 + 10 * 1 + 2 * 2 + 1, d.XTest.ToFloatArray()[(2 * 2 + 1) * 2 + 1]); // step 2, sample 1, feature 1
        Assert.Equal([0, 1, 1, 0, 1], d.YTrain.ToInt32Array());
        Assert.Equal([1, 0], d.YTest!.ToInt32Array());
        Assert.Equal(Path.Combine(_dir, "x.csv"), d.Source);
        var o = spec.CreateTrainerOptions();
        Assert.Equal((1, 0), (o.InputBatchAxis, o.TargetBatchAxis));
    }

    [Fact]
    public void TheLimitKeepsTheFirstSamplesAndTheirLabelsOnly()
    {
        var rows = Rows(6, 4);
        Csv("x.csv", rows);
        File.WriteAllLines(Path.Combine(_dir, "y.csv"), ["0", "1", "1", "0", "1", "0"]);
        foreach (var (limit, kept) in new[] { (1, 1), (5, 5), (6, 6), (7, 6) })
        {
            var spec = Spec("{name: x, size: 4}", $"{{train: {{x: x.csv, y: y.csv}}, limit: {limit}}}");
            Assert.Equal(limit, spec.Data!.Limit);
            var d = spec.Data.Load(spec.Network);
            Assert.Equal([kept, 4], d.XTrain.Shape);
            Assert.Equal(rows.Take(kept).SelectMany(r => r).ToArray(), d.XTrain.ToFloatArray());
            Assert.Equal(new[] { 0, 1, 1, 0, 1, 0 }.Take(kept).ToArray(), d.YTrain.ToInt32Array());
            Assert.Null(d.XTest);
            Assert.Null(d.YTest);
        }
    }

    [Fact]
    public void AnAutoencodersTargetsAreItsInputs()
    {
        Csv("x.csv", Rows(3, 4));
        Csv("xt.csv", Rows(2, 4, 500));
        var spec = Spec("{name: x, size: 4}", "{train: {x: x.csv}, test: {x: xt.csv}, target: input}");
        Assert.True(spec.Data!.TargetIsInput);
        Assert.Null(spec.Data.Train!.Value.Y);
        var d = spec.Data.Load(spec.Network);
        Assert.Same(d.XTrain, d.YTrain);
        Assert.Same(d.XTest, d.YTest);
        Assert.Equal((0, 0), (spec.CreateTrainerOptions().InputBatchAxis, spec.CreateTrainerOptions().TargetBatchAxis));
        Csv("xs.csv", Rows(3, 6));
        var seq = Spec("{name: x, size: 2, sequence_length: 3}", "{train: {x: xs.csv}, target: INPUT}");
        Assert.True(seq.Data!.TargetIsInput);
        Assert.Equal((1, 1), (seq.CreateTrainerOptions().InputBatchAxis, seq.CreateTrainerOptions().TargetBatchAxis));
        Assert.False(Spec("{name: x, size: 4}", "{train: {x: x.csv, y: x.csv}, target: labels}").Data!.TargetIsInput);
    }

    [Fact]
    public void DataThatDoesNotFitTheNetworkIsRefusedWithItsShapes()
    {
        string x = Csv("x.csv", Rows(3, 4));
        File.WriteAllLines(Path.Combine(_dir, "y.csv"), ["0", "1", "1"]);
        string xt = Csv("xt.csv", Rows(2, 3));
        var wide = Spec("{name: x, size: 3}", "{train: {x: x.csv, y: y.csv}}");
        Assert.Equal($"{x}: a sample has 4 features, but input 'x' takes [3] = 3.",
            Assert.Throws<DatasetFormatException>(() => wide.Data!.Load(wide.Network)).Message);
        var seq = Spec("{name: x, size: 2, sequence_length: 3}", "{train: {x: x.csv, y: y.csv}}");
        Assert.Equal($"{x}: a sample has 4 features, but input 'x' takes 3 steps of [2] = 6.",
            Assert.Throws<DatasetFormatException>(() => seq.Data!.Load(seq.Network)).Message);
        var test = Spec("{name: x, size: 4}", "{train: {x: x.csv, y: y.csv}, test: {x: xt.csv, y: y.csv}}");
        Assert.Equal($"{xt}: test samples have 3 features; training samples ({x}) have 4.",
            Assert.Throws<DatasetFormatException>(() => test.Data!.Load(test.Network)).Message);
        var two = TrainingSpec.Parse("""
            name: two
            inputs: [{name: a, size: 4}, {name: b, size: 4}]
            layers: [{name: y, size: 2}]
            connections: [{from: a, to: y}, {from: b, to: y}]
            outputs: [y]
            data: {train: {x: x.csv, y: y.csv}}
            """, "two.yaml", _dir);
        Assert.Equal("a spec's data feeds networks with one input; 'two' has 2.",
            Assert.Throws<DatasetFormatException>(() => two.Data!.Load(two.Network)).Message);
    }

    /// <summary>A Fashion-MNIST folder of <paramref name="n"/> 28×28 images per split, pixel p of image i = (7i + p) mod 256.</summary>
    private string Fashion(string name, bool withTrain, int n, bool gz = false)
    {
        string dir = Path.Combine(_dir, name);
        Directory.CreateDirectory(dir);
        foreach (var (split, offset) in withTrain ? new[] { ("t10k", 100), ("train", 0) } : [("t10k", 100)])
        {
            var pixels = new byte[n * 784];
            for (int i = 0; i < n; i++)
                for (int p = 0; p < 784; p++) pixels[i * 784 + p] = (byte)((7 * (i + offset) + p) % 256);
            byte[] images = IdxTests.Make(0x08, [n, 28, 28], pixels);
            byte[] labels = IdxTests.Make(0x08, [n], Enumerable.Range(0, n).Select(i => (byte)((i + offset) % 10)).ToArray());
            string ext = gz ? ".gz" : "";
            File.WriteAllBytes(Path.Combine(dir, $"{split}-images-idx3-ubyte{ext}"), gz ? IdxTests.Gzip(images) : images);
            File.WriteAllBytes(Path.Combine(dir, $"{split}-labels-idx1-ubyte{ext}"), gz ? IdxTests.Gzip(labels) : labels);
        }
        return dir;
    }

    private static void AssertImages(Tensor x, int first, int offset)
    {
        var v = x.ToFloatArray();
        int n = x.Shape[0];
        for (int i = 0; i < n; i++)
            for (int p = 0; p < 784; p += 97)
                Assert.Equal((byte)((7 * (first + i + offset) + p) % 256) / 255f, v[i * 784 + p]);
    }

    [Fact]
    public void AFashionMnistFolderWithOnlyTheTestFilesSplitsThemFourToOne()
    {
        string dir = Fashion("t10k-only", withTrain: false, n: 10);
        var spec = Spec("{name: x, size: 784}", "{fashion_mnist: t10k-only}");
        Assert.Equal(dir, spec.Data!.FashionMnistDirectory);
        var d = spec.Data.Load(spec.Network);
        Assert.Equal([8, 784], d.XTrain.Shape);
        Assert.Equal([2, 784], d.XTest!.Shape);
        AssertImages(d.XTrain, 0, 100);
        AssertImages(d.XTest, 8, 100);
        Assert.Equal([0, 1, 2, 3, 4, 5, 6, 7], d.YTrain.ToInt32Array());
        Assert.Equal([8, 9], d.YTest!.ToInt32Array());
        Assert.Equal(dir, d.Source);
        var limited = SpecData.LoadFashionMnist(spec.Network, dir, limit: 3);
        Assert.Equal([3, 784], limited.XTrain.Shape);
        Assert.Equal([0, 1, 2], limited.YTrain.ToInt32Array());
        Assert.Equal([2, 784], limited.XTest!.Shape);
    }

    [Fact]
    public void AFashionMnistFolderWithTrainingFilesTrainsOnThemAndTestsOnTheTestFiles()
    {
        string dir = Fashion("full", withTrain: true, n: 5);
        var spec = Spec("{name: x, size: 784}", "{fashion_mnist: elsewhere}");
        var d = spec.Data!.Load(spec.Network, dir); // the CLI's --data replaces the spec's folder
        Assert.Equal([5, 784], d.XTrain.Shape);
        Assert.Equal([5, 784], d.XTest!.Shape);
        AssertImages(d.XTrain, 0, 0);
        AssertImages(d.XTest, 0, 100);
        Assert.Equal([0, 1, 2, 3, 4], d.YTrain.ToInt32Array());
        Assert.Equal([0, 1, 2, 3, 4], d.YTest!.ToInt32Array());
        var zipped = spec.Data.Load(spec.Network, Fashion("full-gz", withTrain: true, n: 5, gz: true)); // the training files found as .gz too
        Assert.Equal([5, 784], zipped.XTrain.Shape);
        Assert.Equal([0, 1, 2, 3, 4], zipped.YTrain.ToInt32Array());
        AssertImages(zipped.XTrain, 0, 0);
        var auto = SpecData.LoadFashionMnist(spec.Network, dir, targetIsInput: true);
        Assert.Same(auto.XTrain, auto.YTrain);
        string missing = Path.Combine(_dir, "elsewhere");
        Assert.Equal($"{missing}: the Fashion-MNIST folder does not exist.",
            Assert.Throws<DatasetFormatException>(() => spec.Data.Load(spec.Network)).Message);
        Assert.Throws<ArgumentException>(() => SpecData.LoadFashionMnist(spec.Network, " "));
        Assert.Throws<ArgumentNullException>(() => spec.Data.Load(null!));
        Assert.Throws<ArgumentNullException>(() => SpecData.LoadFashionMnist(null!, dir));
    }

    [Fact]
    public void AnEmptyTestFileGivesNoTestSetWhateverItsWidth()
    {
        Csv("x.csv", Rows(3, 4));
        File.WriteAllLines(Path.Combine(_dir, "y.csv"), ["0", "1", "1"]);
        Npy.Write(Path.Combine(_dir, "xt.npy"), Array.Empty<float>(), [0, 3]);
        Npy.Write(Path.Combine(_dir, "yt.npy"), Array.Empty<long>(), [0]);
        var spec = Spec("{name: x, size: 4}", "{train: {x: x.csv, y: y.csv}, test: {x: xt.npy, y: yt.npy}}");
        var d = spec.Data!.Load(spec.Network);
        Assert.Equal([3, 4], d.XTrain.Shape);
        Assert.Null(d.XTest);
        Assert.Null(d.YTest);
        Assert.Throws<ArgumentNullException>(() => spec.Data.Load(null!)); // before the files are read and laid out
    }

    [Fact]
    public void RelativePathsStartFromTheSpecsFolder()
    {
        var spec = Spec("{name: x, size: 4}", "{train: {x: a/x.csv, y: ../y.csv}, test: {x: t.npy, y: /abs/ty.npy}}");
        Assert.Equal((Path.Combine(_dir, "a", "x.csv"), Path.GetFullPath(Path.Combine(_dir, "..", "y.csv"))), spec.Data!.Train!.Value);
        Assert.Equal((Path.Combine(_dir, "t.npy"), "/abs/ty.npy"), spec.Data.Test!.Value);
        Assert.Null(spec.Data.FashionMnistDirectory);
        Assert.Null(spec.Data.Limit);
        Assert.False(spec.Data.TargetIsInput);
    }
}
