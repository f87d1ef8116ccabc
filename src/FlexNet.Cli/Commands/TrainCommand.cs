using FlexNet.Connections;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using FlexNet.Distributed;
using FlexNet.Specs;
using FlexNet.Tensors;
using FlexNet.Training;

namespace FlexNet.Cli.Commands;

/// <summary><c>flexnet train SPEC</c>: loads and validates the spec (library), loads its data, trains with
/// <see cref="Trainer"/>, prints plain progress lines when the output is not a terminal, a metrics table at the end,
/// and with <c>--out</c> writes the model (safetensors, atomically), its history CSV and a checkpoint beside it.</summary>
internal static class TrainCommand
{
    internal sealed record Settings(string Spec, string? Data, int? Epochs, int? Batch, double? LearningRate, ulong? Seed,
                                    string? Out, string? Resume, int? Limit, bool DataParallel = false);

    internal static int Run(Settings s, TextWriter output, TextWriter error)
    {
        // under mpirun every rank runs this command; rank 0 alone prints and writes files (docs/distributed.md)
        MpiCommunicator? world = s.DataParallel || MpiCommunicator.LaunchedWorldSize is > 1 ? MpiCommunicator.Initialize() : null;
        try
        {
            return Train(s, world is { Rank: not 0 } ? TextWriter.Null : output, world);
        }
        finally
        {
            world?.Dispose();
        }
    }

    private static int Train(Settings s, TextWriter output, MpiCommunicator? world)
    {
        bool lead = world is null || world.Rank == 0;
        if (s.Epochs is <= 0) throw new UsageException($"--epochs must be at least 1. Received: {s.Epochs}");
        if (s.Batch is <= 0) throw new UsageException($"--batch must be at least 1. Received: {s.Batch}");
        if (s.LearningRate is { } l && !(l > 0 && double.IsFinite(l))) throw new UsageException($"--lr must be a positive number. Received: {l}");
        if (s.Limit is <= 0) throw new UsageException($"--limit must be at least 1. Received: {s.Limit}");

        var spec = TrainingSpec.Load(s.Spec, s.Seed);
        if (spec.Data is null && s.Data is null)
            throw new SpecValidationException($"{s.Spec}: $.data: the spec has no data section; give one or pass --data DIR.");
        var sw = Stopwatch.StartNew();
        var data = s.Data is not null ? SpecData.LoadFashionMnist(spec.Network, Path.GetFullPath(s.Data), spec.Data?.Limit, spec.Data?.TargetIsInput ?? false)
                                      : spec.Data!.Load(spec.Network);
        var (xTrain, yTrain) = (data.XTrain, data.YTrain);
        var options = spec.CreateTrainerOptions();
        int batchAxis = options.InputBatchAxis;
        if (s.Limit is { } lim && lim < xTrain.Shape[batchAxis])
        {
            xTrain = xTrain.Slice(batchAxis, 0, lim);
            yTrain = ReferenceEquals(data.YTrain, data.XTrain) ? xTrain : yTrain.Slice(options.TargetBatchAxis, 0, lim);
        }
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"spec: {s.Spec} ({spec.Network.Layers.Count} layers, {spec.Network.Connections.Count} connections, {spec.Network.ParameterCount:N0} parameters)"));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"data: {data.Source} ({xTrain.Shape[batchAxis]} train, {(data.XTest is null ? 0 : data.XTest.Shape[batchAxis])} test samples), loaded in {sw.Elapsed.TotalSeconds:F1} s"));

        if (s.Epochs is { } e) options.Epochs = e;
        if (s.Batch is { } b) options.BatchSize = b;
        if (s.LearningRate is { } lr) options.Optimizer = options.Optimizer with { LearningRate = lr };
        options.Output = output;
        options.Progress = ReferenceEquals(output, Console.Out) && !Console.IsOutputRedirected ? ProgressMode.Auto : ProgressMode.Plain;
        if (s.Out is not null && Path.GetDirectoryName(Path.GetFullPath(s.Out)) is { } outDir) Directory.CreateDirectory(outDir);
        string? ckpt = options.CheckpointPath ?? (s.Out is null ? s.Resume : Path.ChangeExtension(s.Out, ".ckpt"));
        options.CheckpointPath = ckpt;
        if (world is { Size: > 1 })
        {
            options.Communicator = world;
            output.WriteLine($"data-parallel over {world.Size} ranks ({world.Implementation}); global batch {options.BatchSize}");
        }

        var trainer = new Trainer(spec.Network.AsTrainable(), options);
        if (s.Resume is not null && lead) // rank 0's state reaches the other ranks when training starts
        {
            trainer.LoadCheckpoint(s.Resume);
            output.WriteLine($"resumed from {s.Resume} at epoch {trainer.Epoch}");
        }
        sw.Restart();
        var history = trainer.Fit(xTrain, yTrain);
        double seconds = sw.Elapsed.TotalSeconds;
        IReadOnlyDictionary<string, double>? test = data.XTest is null ? null : trainer.Evaluate(data.XTest, data.YTest!);

        output.WriteLine();
        output.Write(MetricsTable(history, test));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"trained {trainer.Epoch} epochs in {seconds:F1} s"));
        if (test is not null && test.TryGetValue("acc", out double acc))
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"test accuracy {100 * acc:F2}%"));

        if (s.Out is not null && lead)
        {
            if (s.Out.EndsWith(".flexnet", StringComparison.OrdinalIgnoreCase))
                spec.Network.Save(s.Out); // architecture + weights: flexnet evaluate / predict / summary / graph read it
            else
            {
                var tensors = new Dictionary<string, Tensor>(StringComparer.Ordinal);
                foreach (var (name, value) in spec.Network.NamedParameters) tensors[name] = value;
                IO.TensorFile.Save(s.Out, tensors, new Dictionary<string, string>
                {
                    ["flexnet.spec"] = File.ReadAllText(s.Spec),
                    ["flexnet.format"] = "flexnet-spec-weights/1",
                });
            }
            string csv = Path.ChangeExtension(s.Out, ".history.csv");
            File.WriteAllText(csv, HistoryCsv(history));
            string stem = Path.Combine(Path.GetDirectoryName(s.Out) ?? "", Path.GetFileNameWithoutExtension(s.Out));
            output.WriteLine($"model: {s.Out}; history: {csv}{(ckpt is null ? "" : $"; checkpoint: {ckpt}")}");
            try
            {
                var plots = Reports.HistoryPlots.Write(history, stem, spec.Name);
                if (plots.Count > 0) output.WriteLine($"plots: {string.Join(", ", plots)}");
            }
            catch (Exception ex) when (ex is DllNotFoundException or TypeInitializationException or BadImageFormatException)
            {
                // the drawing library's native part is not shipped for this platform: the model and the CSV are written
                output.WriteLine($"plots: skipped (no native drawing library for this platform: {ex.GetBaseException().Message})");
            }
        }
        else if (ckpt is not null && lead) output.WriteLine($"checkpoint: {ckpt}");
        return 0;
    }

    internal static string MetricsTable(History history, IReadOnlyDictionary<string, double>? test)
    {
        var names = new List<string>();
        foreach (var k in history.Values.Keys)
        {
            string n = k.StartsWith("val_", StringComparison.Ordinal) ? k[4..] : k;
            if (n is not ("time" or "lr") && !names.Contains(n)) names.Add(n);
        }
        if (test is not null) foreach (var k in test.Keys) if (!names.Contains(k)) names.Add(k);
        static string Last(Dictionary<string, List<double>> v, string k) =>
            v.TryGetValue(k, out var l) && l.Count > 0 ? l[^1].ToString("0.0000", CultureInfo.InvariantCulture) : "-";
        var sb = new StringBuilder();
        int w = Math.Max(6, names.Count == 0 ? 6 : names.Max(n => n.Length));
        sb.AppendLine($"{"metric".PadRight(w)}  {"train",10}  {"validation",10}  {"test",10}");
        foreach (var n in names)
        {
            string t = test is not null && test.TryGetValue(n, out double tv) ? tv.ToString("0.0000", CultureInfo.InvariantCulture) : "-";
            sb.AppendLine($"{n.PadRight(w)}  {Last(history.Values, n),10}  {Last(history.Values, "val_" + n),10}  {t,10}");
        }
        return sb.ToString();
    }

    internal static string HistoryCsv(History history)
    {
        var keys = history.Values.Keys.ToList();
        var sb = new StringBuilder();
        sb.Append("epoch");
        foreach (var k in keys) sb.Append(',').Append(k);
        sb.Append('\n');
        for (int i = 0; i < history.Epochs.Count; i++)
        {
            sb.Append(history.Epochs[i].ToString(CultureInfo.InvariantCulture));
            foreach (var k in keys)
            {
                var l = history.Values[k];
                sb.Append(',');
                if (i < l.Count) sb.Append(l[i].ToString("R", CultureInfo.InvariantCulture));
            }
            sb.Append('\n');
        }
        return sb.ToString();
    }
}
