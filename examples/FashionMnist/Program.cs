using System.Diagnostics;
using System.Globalization;
using FlexNet;
using FlexNet.Data;
using FlexNet.Examples.FashionMnist;
using FlexNet.Graph;
using FlexNet.Layers;
using FlexNet.Losses;
using FlexNet.Metrics;
using FlexNet.Models;
using FlexNet.Optimizers;
using FlexNet.Training;
using FlexNet.Tensors;

// Full Fashion-MNIST (60k train / 10k test) with the four models of issue 6's "Real results" table.
//   dotnet run -c Release --project examples/FashionMnist -- MODEL [--epochs N] [--lr X] [--batch N]
//       [--schedule cosine|constant] [--dropout P] [--seed S] [--limit N] [--data DIR]
//   MODEL: mlp | cnn | lstm | feedback
// Trains on the 60k training images (no test data is looked at during training) and prints the test accuracy
// of the final weights and the wall time of training.
var inv = CultureInfo.InvariantCulture;
if (args.Length == 0 || args[0] is "-h" or "--help")
{
    Console.Error.WriteLine("usage: FashionMnist mlp|cnn|lstm|feedback [--epochs N] [--lr X] [--batch N] [--schedule cosine|constant] [--dropout P] [--seed S] [--limit N] [--data DIR]");
    return 2;
}
string model = args[0];
var opts = new Dictionary<string, string>(StringComparer.Ordinal);
for (int i = 1; i < args.Length; i += 2)
{
    if (!args[i].StartsWith("--", StringComparison.Ordinal) || i + 1 >= args.Length)
    {
        Console.Error.WriteLine($"bad argument '{args[i]}'");
        return 2;
    }
    opts[args[i][2..]] = args[i + 1];
}
string Opt(string k, string d) => opts.TryGetValue(k, out var v) ? v : d;
var defaults = model switch
{
    "mlp" => (Epochs: 15, Lr: 1e-3, Dropout: 0.2),
    "cnn" => (Epochs: 10, Lr: 1e-3, Dropout: 0.2),
    "lstm" => (Epochs: 12, Lr: 2e-3, Dropout: 0.0),
    "feedback" => (Epochs: 20, Lr: 1e-3, Dropout: 0.2),
    _ => (Epochs: 0, Lr: 0.0, Dropout: 0.0),
};
if (defaults.Epochs == 0)
{
    Console.Error.WriteLine($"unknown model '{model}' (mlp, cnn, lstm, feedback)");
    return 2;
}
int epochs = int.Parse(Opt("epochs", defaults.Epochs.ToString(inv)), inv);
double lr = double.Parse(Opt("lr", defaults.Lr.ToString(inv)), inv);
int batch = int.Parse(Opt("batch", "128"), inv);
string schedule = Opt("schedule", "cosine");
double dropout = double.Parse(Opt("dropout", defaults.Dropout.ToString(inv)), inv);
ulong seed = ulong.Parse(Opt("seed", "1"), inv);
int limit = int.Parse(Opt("limit", "0"), inv);
string dir = Opt("data", Environment.GetEnvironmentVariable("FASHION_MNIST_DIR") ?? FashionMnist.DefaultDirectory ?? "/usr/share/datasets/fashion-mnist");

var (trainImages, trainLabels, nTrain) = FashionMnist.Load(dir, "train");
var (testImages, testLabels, nTest) = FashionMnist.Load(dir, "t10k");
if (limit > 0)
{
    nTrain = Math.Min(limit, nTrain);
    nTest = Math.Min(limit, nTest);
}
int[] sampleShape = model switch { "cnn" => [1, 28, 28], "lstm" => [28, 28], _ => [784] };
Tensor Images(float[] data, int n) => Tensor.FromArray(data.AsSpan(0, n * 784), [n, .. sampleShape]);
var xTrain = Images(trainImages, nTrain);
var yTrain = Tensor.FromArray(trainLabels.AsSpan(0, nTrain), nTrain);
var xTest = Images(testImages, nTest);
var yTest = Tensor.FromArray(testLabels.AsSpan(0, nTest), nTest);

Network net = model switch
{
    "mlp" => Mnist.Mlp(dropout, seed),
    "cnn" => Mnist.Cnn(dropout, seed),
    "lstm" => Mnist.Lstm(seed),
    _ => Mnist.Feedback(dropout, seed),
};
Console.WriteLine(net.Summary());

long steps = (long)epochs * ((nTrain + batch - 1) / batch);
var options = new TrainerOptions
{
    Epochs = epochs,
    BatchSize = batch,
    Seed = seed,
    Loss = new CrossEntropy(),
    Optimizer = new Adam(lr),
    Schedule = schedule switch
    {
        "cosine" => LearningRateSchedule.Cosine(steps),
        "constant" => null,
        _ => throw new ArgumentException($"unknown schedule '{schedule}' (cosine, constant)"),
    },
    Metrics = [new Accuracy()],
    Progress = ProgressMode.Plain,
};
var trainer = new Trainer(net.AsTrainable(), options);
Console.WriteLine($"# {model}: {nTrain} train / {nTest} test, {epochs} epochs, batch {batch}, Adam lr {lr.ToString(inv)} " +
                  $"schedule {schedule}, dropout {dropout.ToString(inv)}, seed {seed}, {Environment.ProcessorCount} cores");
var sw = Stopwatch.StartNew();
trainer.Fit(xTrain, yTrain);
double trainSeconds = sw.Elapsed.TotalSeconds;
var test = trainer.Evaluate(xTest, yTest);
Console.WriteLine($"RESULT {model} test_acc {(100 * test["acc"]).ToString("F2", inv)}% test_loss {test["loss"].ToString("F4", inv)} " +
                  $"train_time {trainSeconds.ToString("F0", inv)}s epochs {epochs}");
return 0;
