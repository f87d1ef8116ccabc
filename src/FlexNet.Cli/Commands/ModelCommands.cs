using System.Globalization;
using System.Text;
using FlexNet.Connections;
using FlexNet.Data;
using FlexNet.Graph;
using FlexNet.Losses;
using FlexNet.Metrics;
using FlexNet.Tensors;
using FlexNet.Training;

namespace FlexNet.Cli.Commands;

/// <summary><c>flexnet evaluate MODEL --data DIR</c> and <c>flexnet predict MODEL INPUT [--out FILE]</c> on
/// <c>.flexnet</c> model files (written by <c>flexnet train SPEC --out MODEL.flexnet</c> or <c>network.Save</c>).</summary>
internal static class ModelCommands
{
    /// <summary>A spec file or a .flexnet model file: the network it describes.</summary>
    internal static Network LoadNetwork(string path) =>
        path.EndsWith(".flexnet", StringComparison.OrdinalIgnoreCase) ? Network.Load(path) : Specs.TrainingSpec.Load(path).Network;

    internal static int Evaluate(string modelPath, string dataDir, int batch, TextWriter output)
    {
        if (batch <= 0) throw new UsageException($"--batch must be at least 1. Received: {batch}");
        var net = Network.Load(modelPath);
        var data = Specs.SpecData.LoadFashionMnist(net, Path.GetFullPath(dataDir));
        if (data.XTest is null || data.YTest is null)
            throw new DatasetFormatException($"{dataDir}: no test images (t10k-images-idx3-ubyte[.gz] and labels) to evaluate on.");
        var r = net.Evaluate(data.XTest, data.YTest, new CrossEntropy(), [new Accuracy()], batch);
        int n = data.XTest.Shape[0];
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"model: {modelPath}; data: {data.Source} ({n} test samples)"));
        foreach (var (k, v) in r) output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{k} {v:0.0000}"));
        if (r.TryGetValue("acc", out double acc))
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"test accuracy {100 * acc:F2}%"));
        return 0;
    }

    internal static int Predict(string modelPath, string inputPath, string? outPath, int batch, TextWriter output)
    {
        if (batch <= 0) throw new UsageException($"--batch must be at least 1. Received: {batch}");
        var net = Network.Load(modelPath);
        net.Compile();
        if (net.Inputs.Count != 1) throw new GraphException($"{modelPath}: predict takes a network with one input; it has {net.Inputs.Count}.");
        var set = Samples.Read(inputPath);
        var (values, samples) = (set.Values, set.Count);
        var input = net.Inputs[0];
        int features = 1;
        foreach (int d in input.OutputShape!) features *= d;
        if (input.IsTemporal || samples * (long)features != values.Length)
            throw new DatasetFormatException($"{inputPath}: {samples} samples of {values.Length / Math.Max(samples, 1)} values; input '{input.Name}' of " +
                                             $"{modelPath} takes {(input.IsTemporal ? "sequences" : $"{features} values per sample {Fmt(input.OutputShape!)}")}.");
        var shape = new int[input.OutputShape!.Length + 1];
        shape[0] = samples;
        input.OutputShape.CopyTo(shape, 1);
        var x = Tensor.FromArray(values, shape).To(net.DType);
        var y = net.Predict(x, batch);
        var flat = y.To(DType.Float32).ToFloatArray();
        int cols = flat.Length / Math.Max(samples, 1);
        if (outPath is not null && outPath.EndsWith(".npy", StringComparison.OrdinalIgnoreCase))
            Npy.Write(outPath, flat, y.Shape.ToArray());
        else
        {
            var sb = new StringBuilder();
            for (int i = 0; i < samples; i++)
            {
                for (int j = 0; j < cols; j++)
                {
                    if (j > 0) sb.Append(',');
                    sb.Append(flat[i * cols + j].ToString("R", CultureInfo.InvariantCulture));
                }
                sb.Append('\n');
            }
            if (outPath is null) output.Write(sb.ToString());
            else File.WriteAllText(outPath, sb.ToString());
        }
        if (outPath is not null) output.WriteLine($"wrote {samples} predictions {Fmt(y.Shape.ToArray())} to {outPath}");
        return 0;
    }

    private static string Fmt(int[] shape) => "[" + string.Join(", ", shape) + "]";
}
