using FlexNet.Connections;
using FlexNet.Data;
using FlexNet.Examples.OnnxServe;
using FlexNet.Graph;
using FlexNet.Specs;
using FlexNet.Tensors;
using FlexNet.Training;
using static FlexNet.Onnx.Tests.Ort;

namespace FlexNet.Onnx.Tests;

/// <summary>Networks saved to .flexnet and loaded again export models with the same outputs; examples/OnnxServe's
/// classifier gives FlexNet's accuracy.</summary>
public sealed class SavedAndServedTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "flexnet-onnx-saved-" + Guid.NewGuid().ToString("N"));

    public SavedAndServedTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>The feedback, BLT and CNN specs and the step tests' feedback network: saved, loaded, exported in the
    /// sequence and unrolled forms; the reloaded network's models give the original's Forward.</summary>
    [Theory]
    [InlineData("feedback.yaml", new[] { 784 })]
    [InlineData("blt.yaml", new[] { 1, 28, 28 })]
    [InlineData("cnn.yaml", new[] { 1, 28, 28 })]
    [InlineData("seed_demo.yaml", new[] { 4, 196 })]
    public void SavedAndReloadedSpecNetworks_ExportTheSameOutputs(string spec, int[] sample)
    {
        var net = TrainingSpec.Load(Path.Combine(RepoRoot(), "examples", "specs", spec)).Network;
        string file = Path.Combine(_dir, Path.ChangeExtension(spec, ".flexnet"));
        net.Save(file);
        var again = Network.Load(file);
        const int n = 2;
        bool temporal = net.Inputs[0].IsTemporal;
        int[] dims = temporal ? [sample[0], n, .. sample[1..]] : [n, .. sample];
        var xs = RandomData(dims.Aggregate(1, (a, b) => a * b), 71);
        var expected = Forward(net, null, Tensor.FromArray(xs, dims))[0];
        string input = net.Inputs[0].Name, output = net.Outputs[0].Layer.Name;
        foreach (var mode in new[] { OnnxExportMode.Sequence, OnnxExportMode.Unrolled })
        {
            var options = new OnnxExportOptions { Mode = mode };
            var original = Run(net.ToOnnxBytes(options), (input, xs, dims))[output];
            var reloaded = Run(again.ToOnnxBytes(options), (input, xs, dims))[output];
            Close(expected, reloaded, $"{spec} reloaded, {mode} form");
            Assert.Equal(original.Values, reloaded.Values);
        }
    }

    /// <summary>examples/OnnxServe: the feedback spec trained briefly on 2,000 shipped images, exported in the sequence
    /// form, classifies 400 of the held-out test images in ONNX Runtime with FlexNet's accuracy, image by image.</summary>
    [Fact]
    public void OnnxServeClassifier_GivesFlexNetsAccuracy()
    {
        var spec = TrainingSpec.Load(Path.Combine(RepoRoot(), "examples", "specs", "feedback.yaml"));
        var net = spec.Network;
        var (images, labels, total) = FashionMnist.Load(Path.Combine(RepoRoot(), "testdata", "fashion-mnist"), "t10k");
        var options = spec.CreateTrainerOptions();
        options.Epochs = 1;
        options.ValidationSplit = 0;
        options.Output = TextWriter.Null;
        const int train = 2000, test = 400;
        new Trainer(net.AsTrainable(), options).Fit(Tensor.FromArray(images.AsSpan(0, train * 784), train, 784), Tensor.FromArray(labels.AsSpan(0, train), train));
        int split = total * 4 / 5;
        var testImages = images.AsSpan(split * 784, test * 784).ToArray();
        var testLabels = labels.AsSpan(split, test).ToArray();
        string onnx = Path.Combine(_dir, "feedback.onnx");
        net.ExportOnnx(onnx, new OnnxExportOptions { Mode = OnnxExportMode.Sequence });
        var served = OnnxClassifier.ClassifyOnnx(onnx, testImages, test, batchSize: 128);
        var own = OnnxClassifier.ClassifyFlexNet(net, testImages, test);
        Assert.Equal(own, served);
        double accuracy = OnnxClassifier.Accuracy(served, testLabels);
        Assert.Equal(OnnxClassifier.Accuracy(own, testLabels), accuracy);
        Assert.True(accuracy > 0.35, $"accuracy {accuracy} after training: the trained weights were not exported");
    }
}
