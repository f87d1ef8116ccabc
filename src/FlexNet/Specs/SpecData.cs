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
/// files; with only the <c>t10k</c> files, the first 8,000 images train and the last 2,000 test) or IDX/NPY paths
/// (<c>train: {x: FILE, y: FILE}</c>, optional <c>test:</c> alike), <c>limit</c> (use only the first N training
/// samples) and <c>target</c> (<c>labels</c>, the default, or <c>input</c> for an autoencoder). Relative paths start
/// from the spec file's folder.
/// </summary>
public sealed class SpecData
{
    private SpecData() { }

    /// <summary>The Fashion-MNIST folder, or null when the spec names files.</summary>
    public string? FashionMnistDirectory { get; private set; }

    /// <summary>Training inputs and targets (IDX or NPY), or null with the Fashion-MNIST shortcut.</summary>
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
            TargetIsInput = (c.Word(o, "target", p, ["labels", "input"], "target") ?? "labels") == "input",
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
                string x = c.Str(po, "x", path) ?? throw c.Fail(path + ".x", "'x' (the inputs file, IDX or NPY) is missing.");
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
        if (network.Inputs.Count != 1)
            throw new DatasetFormatException($"a spec's data feeds networks with one input; '{network.Name}' has {network.Inputs.Count}.");
        var input = network.Inputs[0];
        float[] xTr, xTe;
        int[]? yTr, yTe;
        int features;
        string source;
        string? dir = fashionMnistDirectory ?? FashionMnistDirectory;
        if (dir is not null)
        {
            source = dir;
            if (!Directory.Exists(dir)) throw new DatasetFormatException($"{dir}: the Fashion-MNIST folder does not exist.");
            features = 784;
            bool full = System.IO.File.Exists(Path.Combine(dir, "train-images-idx3-ubyte.gz")) || System.IO.File.Exists(Path.Combine(dir, "train-images-idx3-ubyte"));
            var test = FashionMnist.Load(dir, "t10k");
            if (full)
            {
                var train = FashionMnist.Load(dir, "train");
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
        }
        else
        {
            var (x, y) = Train!.Value;
            source = x;
            (xTr, features) = ReadInputs(x);
            yTr = y is null ? null : ReadLabels(y, xTr.Length / features);
            if (Test is { } t)
            {
                int f2;
                (xTe, f2) = ReadInputs(t.X);
                if (f2 != features) throw new DatasetFormatException($"{t.X}: test samples have {f2} features; training samples ({x}) have {features}.");
                yTe = t.Y is null ? null : ReadLabels(t.Y, xTe.Length / features);
            }
            else (xTe, yTe) = ([], null);
        }
        if (Limit is { } lim && lim * (long)features < xTr.Length)
        {
            xTr = xTr.AsSpan(0, lim * features).ToArray();
            if (yTr is not null) yTr = yTr.AsSpan(0, lim).ToArray();
        }
        int steps = input.SequenceLength ?? 1;
        int[] shape = input.DeclaredShape!;
        long per = 1;
        foreach (int s in shape) per *= s;
        if (per * steps != features)
            throw new DatasetFormatException($"{source}: a sample has {features} features, but input '{input.Name}' takes {(steps > 1 ? $"{steps} steps of " : "")}{ShapeUtil.Format(shape)} = {per * steps}.");
        Tensor Arrange(float[] data)
        {
            int n = data.Length / features;
            if (steps == 1) return Tensor.FromArray(data, [n, .. shape]);
            var t = new float[data.Length];
            for (int i = 0; i < n; i++)
                for (int s = 0; s < steps; s++)
                    data.AsSpan(i * features + s * (int)per, (int)per).CopyTo(t.AsSpan((s * n + i) * (int)per, (int)per));
            return Tensor.FromArray(t, [steps, n, .. shape]);
        }
        var xTrain = Arrange(xTr);
        var xTest = xTe.Length > 0 ? Arrange(xTe) : null;
        Tensor Targets(Tensor x, int[]? y) => TargetIsInput ? x
            : y is null ? throw new DatasetFormatException($"{source}: no labels for a class loss.") : Tensor.FromArray(y, y.Length);
        return new SpecDataSet(xTrain, Targets(xTrain, yTr), xTest, xTest is null ? null : Targets(xTest, yTe), source);
    }

    private static (float[] Data, int Features) ReadInputs(string path)
    {
        if (path.EndsWith(".npy", StringComparison.OrdinalIgnoreCase))
        {
            var a = Npy.Read(path);
            if (a.Shape.Length < 2) throw new DatasetFormatException($"{path}: inputs need a sample axis and features; the array has shape {ShapeUtil.Format(a.Shape)}.");
            return (a.ToFloatArray(), a.Count / a.Shape[0]);
        }
        var idx = Idx.Read(path);
        if (idx.Rank < 2) throw new DatasetFormatException($"{path}: inputs need a sample axis and features; the array has shape {ShapeUtil.Format(idx.Shape)}.");
        var f = new float[idx.Data.Length];
        for (int i = 0; i < f.Length; i++) f[i] = idx.Data[i] / 255f;
        return (f, idx.Data.Length / idx.Shape[0]);
    }

    private static int[] ReadLabels(string path, int expected)
    {
        int[] y;
        if (path.EndsWith(".npy", StringComparison.OrdinalIgnoreCase))
        {
            var a = Npy.Read(path);
            var l = a.ToInt64Array();
            y = new int[l.Length];
            for (int i = 0; i < l.Length; i++)
                y[i] = l[i] is >= 0 and <= int.MaxValue ? (int)l[i] : throw new DatasetFormatException($"{path}: label {i} is {l[i]}; labels are class numbers from 0.");
        }
        else
        {
            var idx = Idx.Read(path, expectedRank: 1);
            y = new int[idx.Data.Length];
            for (int i = 0; i < y.Length; i++) y[i] = idx.Data[i];
        }
        if (y.Length != expected) throw new DatasetFormatException($"{path}: {y.Length} labels for {expected} samples.");
        return y;
    }
}
