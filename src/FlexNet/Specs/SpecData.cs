using System.Text.Json.Nodes;
using FlexNet.Data;
using FlexNet.Graph;
using FlexNet.Tensors;

namespace FlexNet.Specs;

/// <summary>Training and test tensors laid out for a spec's network: inputs <c>[N, ...shape]</c>, or <c>[T, N, ...shape]</c>
/// for a sequence input (each sample's features cut into T steps); targets are class labels <c>[N]</c> (Int32) or, for
/// <c>target: input</c>, the inputs themselves.</summary>
/// <param name="XTrain">Training inputs.</param>
/// <param name="YTrain">Training targets.</param>
/// <param name="XTest">Test inputs, or null.</param>
/// <param name="YTest">Test targets, or null.</param>
/// <param name="Source">Where the data came from, for messages.</param>
public sealed record SpecDataSet(Tensor XTrain, Tensor YTrain, Tensor? XTest, Tensor? YTest, string Source);

/// <summary>
/// The <c>data</c> section of a spec: the Fashion-MNIST shortcut (<c>fashion_mnist: DIR</c>, a folder with the IDX
/// files; with only the <c>t10k</c> files, the first 8,000 images train and the last 2,000 test) or IDX/NPY/CSV paths
/// (<c>train: {x: FILE, y: FILE}</c>, optional <c>test:</c> alike), <c>limit</c> (use only the first N training
/// samples) and <c>target</c> (<c>labels</c>, the default, or <c>input</c> for an autoencoder). Relative paths start
/// from the spec file's folder.
/// </summary>
public sealed class SpecData
{
    private SpecData() { }

    /// <summary>The Fashion-MNIST folder, or null when the spec names files.</summary>
    public string? FashionMnistDirectory { get; private set; }

    /// <summary>Training inputs and targets (IDX, NPY or CSV), or null with the Fashion-MNIST shortcut.</summary>
    public (string X, string? Y)? Train { get; private set; }

    /// <summary>Test inputs and targets, or null.</summary>
    public (string X, string? Y)? Test { get; private set; }

    /// <summary>Use only the first <c>Limit</c> training samples (null: all).</summary>
    public int? Limit { get; private set; }

    /// <summary>True when the targets are the inputs (an autoencoder).</summary>
    public bool TargetIsInput { get; private set; }

    internal static SpecData Read(TrainingSpec.Ctx c, JsonNode node, string baseDir)
    {
        const string p = "$.data";
        var o = c.Obj(node, p);
        c.Keys(o, p, ["fashion_mnist", "train", "test", "limit", "target"]);
        var d = new SpecData
        {
            Limit = c.Int(o, "limit", p, 1, int.MaxValue),
            TargetIsInput = c.Word(o, "target", p, ["labels", "input"], "target") == "input", // left out: labels
        };
        string Full(string s) => Path.GetFullPath(Path.Combine(baseDir, s));
        if (c.Str(o, "fashion_mnist", p) is { } dir)
        {
            if (o["train"] is not null) throw c.Fail(p + ".train", "give 'fashion_mnist' or 'train', not both.");
            d.FashionMnistDirectory = Full(dir);
        }
        else if (o["train"] is { } train)
        {
            (string, string?) Pair(JsonNode n, string path)
            {
                var po = c.Obj(n, path);
                c.Keys(po, path, ["x", "y"]);
                string x = c.Str(po, "x", path) ?? throw c.Fail(path + ".x", "'x' (the inputs file: IDX, NPY or CSV) is missing.");
                string? y = c.Str(po, "y", path);
                if (y is null && !d.TargetIsInput) throw c.Fail(path + ".y", "'y' (the labels file) is missing; it may be left out only with 'target: input'.");
                return (Full(x), y is null ? null : Full(y));
            }
            d.Train = Pair(train, p + ".train");
            if (o["test"] is { } test) d.Test = Pair(test, p + ".test");
        }
        else throw c.Fail(p, "the data section needs 'fashion_mnist: DIR' or 'train: {x: FILE, y: FILE}'.");
        return d;
    }

    /// <summary>Loads the data and lays it out for the network's (single) input.</summary>
    /// <param name="network">The spec's network.</param>
    /// <param name="fashionMnistDirectory">A folder that replaces the spec's data (the CLI's <c>--data</c>): Fashion-MNIST IDX files.</param>
    /// <returns>The tensors.</returns>
    /// <exception cref="DatasetFormatException">A file is malformed or does not fit the network's input.</exception>
    public SpecDataSet Load(Network network, string? fashionMnistDirectory = null)
    {
        ArgumentNullException.ThrowIfNull(network);
        string? dir = fashionMnistDirectory ?? FashionMnistDirectory;
        if (dir is not null) return LoadFashionMnist(network, dir, Limit, TargetIsInput);
        var (x, y) = Train!.Value;
        var train = Samples.Read(x);
        int features = train.Features;
        int[]? yTr = y is null ? null : Samples.ReadLabels(y, train.Count);
        float[] xTe = [];
        int[]? yTe = null;
        if (Test is { } t)
        {
            var test = Samples.Read(t.X);
            if (test.Count > 0 && test.Features != features)
                throw new DatasetFormatException($"{t.X}: test samples have {test.Features} features; training samples ({x}) have {features}.");
            xTe = test.Values;
            yTe = t.Y is null ? null : Samples.ReadLabels(t.Y, test.Count);
        }
        return Arrange(network, x, train.Values, yTr, xTe, yTe, features, Limit, TargetIsInput);
    }

    /// <summary>Loads a Fashion-MNIST folder for a network with one input of 784 values (or T steps that make 784): with
    /// the <c>train-*</c> files, 60,000 train and the <c>t10k-*</c> 10,000 test images; with only the <c>t10k-*</c> files,
    /// the first 8,000 train and the last 2,000 test.</summary>
    /// <param name="network">The network whose input the images feed.</param>
    /// <param name="directory">The folder of IDX files (<c>.gz</c> or not).</param>
    /// <param name="limit">Use only the first N training images (null: all).</param>
    /// <param name="targetIsInput">Targets are the images (an autoencoder) rather than the labels.</param>
    /// <returns>The tensors.</returns>
    /// <exception cref="DatasetFormatException">The folder or a file is missing or malformed, or the network's input does not take 784 values.</exception>
    public static SpecDataSet LoadFashionMnist(Network network, string directory, int? limit = null, bool targetIsInput = false)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        if (!Directory.Exists(directory)) throw new DatasetFormatException($"{directory}: the Fashion-MNIST folder does not exist.");
        float[] xTr, xTe;
        int[] yTr, yTe;
        bool full = System.IO.File.Exists(Path.Combine(directory, "train-images-idx3-ubyte.gz")) || System.IO.File.Exists(Path.Combine(directory, "train-images-idx3-ubyte"));
        var test = FashionMnist.Load(directory, "t10k");
        if (full)
        {
            var train = FashionMnist.Load(directory, "train");
            (xTr, yTr, xTe, yTe) = (train.Images, train.Labels, test.Images, test.Labels);
        }
        else
        {
            int split = test.Count * 4 / 5;
            xTr = test.Images.AsSpan(0, split * 784).ToArray();
            yTr = test.Labels.AsSpan(0, split).ToArray();
            xTe = test.Images.AsSpan(split * 784).ToArray();
            yTe = test.Labels.AsSpan(split).ToArray();
        }
        return Arrange(network, directory, xTr, yTr, xTe, yTe, 784, limit, targetIsInput);
    }

    private static SpecDataSet Arrange(Network network, string source, float[] xTr, int[]? yTr, float[] xTe, int[]? yTe, int features, int? limit, bool targetIsInput)
    {
        if (network.Inputs.Count != 1)
            throw new DatasetFormatException($"a spec's data feeds networks with one input; '{network.Name}' has {network.Inputs.Count}.");
        var input = network.Inputs[0];
        // Stryker disable once Equality : at lim * features == xTr.Length the copy holds the same samples
        if (limit is { } lim && lim * (long)features < xTr.Length)
        {
            xTr = xTr.AsSpan(0, lim * features).ToArray();
            if (yTr is not null) yTr = yTr.AsSpan(0, lim).ToArray();
        }
        int steps = input.SequenceLength ?? 1;
        int[] shape = input.DeclaredShape!; // an input's shape is always declared
        long per = 1;
        foreach (int s in shape) per *= s;
        if (per * steps != features)
            throw new DatasetFormatException($"{source}: a sample has {features} features, but input '{input.Name}' takes {(steps > 1 ? $"{steps} steps of " : "")}{ShapeUtil.Format(shape)} = {per * steps}.");
        Tensor Lay(float[] data)
        {
            int n = data.Length / features;
            if (steps == 1) return Tensor.FromArray(data, [n, .. shape]);
            var t = new float[data.Length];
            for (int i = 0; i < n; i++)
                for (int s = 0; s < steps; s++)
                    data.AsSpan(i * features + s * (int)per, (int)per).CopyTo(t.AsSpan((s * n + i) * (int)per, (int)per));
            return Tensor.FromArray(t, [steps, n, .. shape]);
        }
        var xTrain = Lay(xTr);
        var xTest = xTe.Length > 0 ? Lay(xTe) : null;
        // labels are missing only with target: input (SpecData.Read refuses a spec without them, and a Fashion-MNIST folder has them)
        Tensor Targets(Tensor x, int[]? y) => targetIsInput ? x : Tensor.FromArray(y!, y!.Length);
        return new SpecDataSet(xTrain, Targets(xTrain, yTr), xTest, xTest is null ? null : Targets(xTest, yTe), source);
    }
}
