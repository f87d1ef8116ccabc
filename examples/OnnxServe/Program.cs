using System.Diagnostics;
using System.Globalization;
using FlexNet.Connections;
using FlexNet.Data;
using FlexNet.Examples.OnnxServe;
using FlexNet.Graph;
using FlexNet.Onnx;
using FlexNet.Specs;
using FlexNet.Training;

// Serves a FlexNet feedback network with ONNX Runtime: exports it in the sequence form (one call runs all its
// steps), classifies the shipped Fashion-MNIST test images in ONNX Runtime and prints the accuracy beside FlexNet's.
//   dotnet run -c Release --project examples/OnnxServe -- [MODEL.flexnet] [--data DIR] [--epochs N] [--train N]
// With MODEL (e.g. from `flexnet train examples/specs/feedback.yaml --out feedback.flexnet`) it serves that model;
// without, it first trains examples/specs/feedback.yaml for --epochs (default 2) on --train (default 8000) of the
// first 8,000 shipped images. The test images are the last 2,000 of the shipped t10k files.
var inv = CultureInfo.InvariantCulture;
string? model = null, data = null;
int epochs = 2, train = 8000;
for (int i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--data" when i + 1 < args.Length: data = args[++i]; break;
        case "--epochs" when i + 1 < args.Length: epochs = int.Parse(args[++i], inv); break;
        case "--train" when i + 1 < args.Length: train = int.Parse(args[++i], inv); break;
        case var a when !a.StartsWith("--", StringComparison.Ordinal) && model is null: model = a; break;
        default:
            Console.Error.WriteLine("usage: OnnxServe [MODEL.flexnet] [--data DIR] [--epochs N] [--train N]");
            return 2;
    }
}
string root = FindUp("examples/specs/feedback.yaml") ?? throw new DirectoryNotFoundException("examples/specs/feedback.yaml not found above the current directory.");
data ??= Path.Combine(root, "testdata", "fashion-mnist");
var (images, labels, total) = FashionMnist.Load(data, "t10k");
int split = total * 4 / 5, testCount = total - split;
var testImages = images.AsSpan(split * 784).ToArray();
var testLabels = labels.AsSpan(split).ToArray();

Network net;
if (model is not null)
{
    net = Network.Load(model);
    Console.WriteLine($"model: {model}");
}
else
{
    var spec = TrainingSpec.Load(Path.Combine(root, "examples", "specs", "feedback.yaml"));
    net = spec.Network;
    var options = spec.CreateTrainerOptions();
    options.Epochs = epochs;
    options.ValidationSplit = 0;
    options.Output = TextWriter.Null;
    int n = Math.Min(train, split);
    var sw = Stopwatch.StartNew();
    new Trainer(net.AsTrainable(), options).Fit(
        FlexNet.Tensors.Tensor.FromArray(images.AsSpan(0, n * 784), n, 784), FlexNet.Tensors.Tensor.FromArray(labels.AsSpan(0, n), n));
    Console.WriteLine($"trained examples/specs/feedback.yaml for {epochs} epoch(s) on {n} images in {sw.Elapsed.TotalSeconds.ToString("F1", inv)} s");
}

string onnx = Path.Combine(Path.GetTempPath(), $"onnxserve-{Environment.ProcessId}.onnx");
try
{
    var sw = Stopwatch.StartNew();
    net.ExportOnnx(onnx, new OnnxExportOptions { Mode = OnnxExportMode.Sequence });
    Console.WriteLine($"exported the sequence form ({new FileInfo(onnx).Length / 1024} KiB) in {sw.Elapsed.TotalMilliseconds.ToString("F0", inv)} ms");
    sw.Restart();
    var served = OnnxClassifier.ClassifyOnnx(onnx, testImages, testCount);
    double ortSeconds = sw.Elapsed.TotalSeconds;
    var own = OnnxClassifier.ClassifyFlexNet(net, testImages, testCount);
    double accOnnx = OnnxClassifier.Accuracy(served, testLabels), accOwn = OnnxClassifier.Accuracy(own, testLabels);
    int agree = 0;
    for (int i = 0; i < testCount; i++) if (served[i] == own[i]) agree++;
    Console.WriteLine($"ONNX Runtime: {testCount} test images in {ortSeconds.ToString("F2", inv)} s, accuracy {(100 * accOnnx).ToString("F2", inv)}%");
    Console.WriteLine($"FlexNet:      accuracy {(100 * accOwn).ToString("F2", inv)}%; the two agree on {agree} of {testCount} images");
    return accOnnx == accOwn ? 0 : 1;
}
finally
{
    File.Delete(onnx);
}

static string? FindUp(string relative)
{
    foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, relative))) return dir.FullName;
    return null;
}
