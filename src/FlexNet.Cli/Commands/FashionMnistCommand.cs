using System.Diagnostics;
using System.Globalization;
using FlexNet.Data;
using FlexNet.Layers;
using FlexNet.Losses;
using FlexNet.Metrics;
using FlexNet.Models;
using FlexNet.Optimizers;
using FlexNet.Training;
using FlexNet.Tensors;
using FlexNet.Autodiff;

namespace FlexNet.Cli.Commands;

/// <summary><c>flexnet fashion-mnist</c>: trains a classifier on Fashion-MNIST IDX files and reports test accuracy.
/// With only the t10k files present (the set shipped in the repo), the first 8,000 images train and the last 2,000
/// test; with the full set, train on the 60,000 and test on the 10,000.</summary>
internal static class FashionMnistCommand
{
    internal const string Usage =
        "flexnet fashion-mnist [--data DIR] [--model mlp|cnn] [--epochs N] [--batch N] [--lr X] [--seed N] [--limit N]";

    internal sealed record Settings(string? Data, string Model, int Epochs, int Batch, double LearningRate, ulong Seed, int Limit);

    internal static int Run(Settings s, TextWriter output)
    {
        if (s.Epochs <= 0 || s.Batch <= 0 || s.Limit < 0 || !(s.LearningRate > 0))
            throw new UsageException($"--epochs and --batch must be at least 1, --limit at least 0 and --lr positive. Received: {s.Epochs}, {s.Batch}, {s.Limit}, {s.LearningRate}");
        string data = s.Data ?? FindDefaultData();
        string model = s.Model;
        int epochs = s.Epochs, batch = s.Batch, limit = s.Limit;
        double lr = s.LearningRate;
        ulong seed = s.Seed;

        var sw = Stopwatch.StartNew();
        var (xTrain, yTrain, xTest, yTest) = Load(data, model == "cnn", limit);
        output.WriteLine($"data: {data} ({yTrain.Length} train, {yTest.Length} test images), loaded in {sw.Elapsed.TotalSeconds:F1} s");
        CatalogLayer[] layers = model switch
        {
            "mlp" => [new Dense(256, "relu"), new Dense(10)],
            "cnn" => [new Conv2D(16, 3, padding: Padding.Same, activation: "relu"), new MaxPool2D(2), new Conv2D(32, 3, padding: Padding.Same, activation: "relu"),
                      new MaxPool2D(2), new Flatten(), new Dense(64, "relu"), new Dense(10)],
            _ => throw new ArgumentException($"--model must be mlp or cnn. Received: '{model}'"),
        };
        var net = new Sequential("fashion-" + model, DType.Float32, seed, layers);
        net.InputShape = model == "cnn" ? [1, 28, 28] : [784];
        output.WriteLine(net.Summary());

        var options = new TrainerOptions
        {
            Epochs = epochs,
            BatchSize = batch,
            Seed = seed,
            Loss = new CrossEntropy(),
            Optimizer = new Adam(lr),
            Metrics = [new Accuracy()],
            Output = output,
            ValidationSplit = 0.1,
            EarlyStopping = new EarlyStopping { Monitor = "val_acc", Patience = 3, RestoreBestWeights = true },
        };
        var trainer = new Trainer(net.Network.AsTrainable(), options);
        sw.Restart();
        trainer.Fit(xTrain, yTrain);
        double trainSeconds = sw.Elapsed.TotalSeconds;
        var result = trainer.Evaluate(xTest, yTest);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"test accuracy {100 * result["acc"]:F2}% (loss {result["loss"]:F4}) after {trainer.Epoch} epochs, training {trainSeconds:F1} s"));
        return 0;
    }

    private static string FindDefaultData()
    {
        for (var dir = new DirectoryInfo(Directory.GetCurrentDirectory()); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "testdata", "fashion-mnist");
            if (Directory.Exists(candidate)) return candidate;
        }
        return FashionMnist.DefaultDirectory ?? "testdata/fashion-mnist";
    }

    private static (Tensor, Tensor, Tensor, Tensor) Load(string dir, bool images, int limit)
    {
        bool full = File.Exists(Path.Combine(dir, "train-images-idx3-ubyte.gz")) || File.Exists(Path.Combine(dir, "train-images-idx3-ubyte"));
        var test = FashionMnist.Load(dir, "t10k");
        float[] trX, teX;
        int[] trY, teY;
        if (full)
        {
            var train = FashionMnist.Load(dir, "train");
            (trX, trY, teX, teY) = (train.Images, train.Labels, test.Images, test.Labels);
        }
        else
        {
            const int split = 8000;
            trX = test.Images.AsSpan(0, split * 784).ToArray();
            trY = test.Labels.AsSpan(0, split).ToArray();
            teX = test.Images.AsSpan(split * 784).ToArray();
            teY = test.Labels.AsSpan(split).ToArray();
        }
        if (limit > 0 && limit < trY.Length)
        {
            trX = trX.AsSpan(0, limit * 784).ToArray();
            trY = trY.AsSpan(0, limit).ToArray();
        }
        int[] Shape(int n) => images ? [n, 1, 28, 28] : [n, 784];
        return (Tensor.FromArray(trX, Shape(trY.Length)), Tensor.FromArray(trY, trY.Length),
                Tensor.FromArray(teX, Shape(teY.Length)), Tensor.FromArray(teY, teY.Length));
    }
}
