using System.Globalization;
using System.Text.Json;
using FlexNet.Cli;
using FlexNet.Data;
using FlexNet.Losses;
using FlexNet.Metrics;
using FlexNet.Regularizers;
using FlexNet.Specs;
using FlexNet.Tensors;
using Json.Schema;

namespace FlexNet.Tests.Specs;

/// <summary>The training sections of a spec (schedule, regularizers, early stopping, checkpoint, metrics, loss names),
/// data from CSV/NPY files and the theanets shorthand.</summary>
public class SpecTrainingFieldsTests
{
    private const string Net = TrainingSpecTests.Mlp + "\n";

    private static TrainingSpec Spec(string extra, string? dir = null) => TrainingSpec.Parse(Net + extra, "t.yaml", dir);

    private static SpecValidationException Bad(string yaml) =>
        Assert.Throws<SpecValidationException>(() => TrainingSpec.Parse(yaml, "bad.yaml"));

    private static (int Code, string Out, string Err) Run(params string[] args) => CliRunner.Run(args);

    private static string TempDir() => Directory.CreateTempSubdirectory("flexnet-specfields-").FullName;

    [Fact]
    public void ScheduleListMultipliesAWarmupAndACosineDecay()
    {
        var spec = Spec("""
            schedule:
              - {kind: warmup, steps: 10, start_factor: 0.1}
              - {kind: cosine, total_steps: 100, min_factor: 0.05}
            """);
        var s = spec.CreateTrainerOptions().Schedule!;
        Assert.Same(spec.Schedule, s);
        foreach (long t in new long[] { 0, 3, 9, 10, 50, 99, 100, 250 })
        {
            double warm = t >= 10 ? 1 : 0.1 + 0.9 * t / 10.0;
            double cos = 0.05 + 0.95 * (1 + Math.Cos(Math.PI * Math.Min(t, 100) / 100.0)) / 2;
            Assert.Equal(warm * cos, s.Multiplier(t), 12);
        }
        var step = Spec("schedule: {kind: step, step_size: 4, gamma: 0.5}\n").Schedule!;
        Assert.Equal(1.0, step.Multiplier(3));
        Assert.Equal(0.25, step.Multiplier(8));
        Assert.Equal(Math.Pow(0.9, 7), Spec("schedule: {kind: exponential, gamma: 0.9}\n").Schedule!.Multiplier(7), 12);
    }

    [Fact]
    public void BadSchedulesNameThePath()
    {
        Assert.Contains("$.schedule.kind", Bad(Net + "schedule: {kind: linear}\n").Message);
        Assert.Contains("cosine", Bad(Net + "schedule: {kind: linear}\n").Message);
        Assert.Contains("$.schedule.step_size", Bad(Net + "schedule: {kind: step}\n").Message);
        Assert.Contains("$.schedule[1].gamma", Bad(Net + "schedule: [{kind: constant}, {kind: step, step_size: 2, gamma: -1}]\n").Message);
        Assert.Contains("$.schedule.total", Bad(Net + "schedule: {kind: cosine, total: 5}\n").Message);
    }

    [Fact]
    public void RegularizersEarlyStoppingAndCheckpointReachTheTrainerOptions()
    {
        string dir = TempDir();
        try
        {
            var spec = Spec("""
                regularizers:
                  - {kind: weight_l2, weight: 0.001}
                  - {kind: weight_l1, weight: 0.5, pattern: "h.*"}
                  - {kind: hidden_l1, weight: 0.1}
                early_stopping: {monitor: val_acc, patience: 3, min_delta: 0.01, restore_best_weights: false, mode: max}
                checkpoint: {path: runs/t.ckpt, every: 2}
                """, dir);
            var o = spec.CreateTrainerOptions();
            Assert.Collection(o.Regularizers,
                r => { Assert.IsType<WeightL2>(r); Assert.Equal(0.001, r.Weight); Assert.Equal("*", r.Pattern); },
                r => { Assert.IsType<WeightL1>(r); Assert.Equal(0.5, r.Weight); Assert.True(r.Matches("h.weight")); Assert.False(r.Matches("y.weight")); },
                r => { Assert.IsType<HiddenL1>(r); Assert.Equal(0.1, r.Weight); });
            var es = o.EarlyStopping!;
            Assert.Equal(("val_acc", 3, 0.01, false, (bool?)true), (es.Monitor, es.Patience, es.MinDelta, es.RestoreBestWeights, es.HigherIsBetter));
            Assert.Equal(Path.Combine(dir, "runs", "t.ckpt"), o.CheckpointPath);
            Assert.Equal(2, o.CheckpointEvery);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
        Assert.Contains("$.regularizers[0].kind", Bad(Net + "regularizers: [{kind: dropout, weight: 1}]\n").Message);
        Assert.Contains("$.regularizers[0].weight", Bad(Net + "regularizers: [{kind: weight_l2}]\n").Message);
        Assert.Contains("$.early_stopping.patience", Bad(Net + "early_stopping: {patience: -1}\n").Message);
        Assert.Contains("$.checkpoint.path", Bad(Net + "checkpoint: {every: 2}\n").Message);
    }

    [Fact]
    public void EarlyStoppingAndTheCheckpointWorkThroughTheCli()
    {
        string dir = TempDir();
        try
        {
            // a min_delta no epoch can beat: the first epoch sets the best, the second does not improve, training stops
            string spec = Path.Combine(dir, "es.yaml");
            string data = Path.Combine(AppContext.BaseDirectory, "testdata", "fashion-mnist").Replace('\\', '/');
            File.WriteAllText(spec, $"""
                inputs: [{"{"}name: x, size: 784{"}"}]
                layers: [{"{"}name: y, size: 10{"}"}]
                connections: [{"{"}from: x, to: y{"}"}]
                outputs: [y]
                epochs: 6
                batch: 64
                early_stopping: {"{"}monitor: loss, patience: 1, min_delta: 1000000{"}"}
                checkpoint: {"{"}path: run.ckpt, every: 1{"}"}
                data: {"{"}fashion_mnist: "{data}", limit: 256{"}"}
                """);
            var (code, output, err) = Run("train", spec);
            Assert.True(code == 0, output + err);
            Assert.Contains("Epoch 2/6", output);
            Assert.DoesNotContain("Epoch 3/6", output);
            Assert.Contains("trained 2 epochs", output);
            Assert.True(File.Exists(Path.Combine(dir, "run.ckpt")));
            Assert.Contains("checkpoint: " + Path.Combine(dir, "run.ckpt"), output);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void TheSchemaKnowsTheTrainingSectionsAndTheShorthand()
    {
        var schema = TrainingSpecTests.Schema.Value; // one instance: the schema registers its $id globally
        bool Valid(string yaml)
        {
            var (root, _) = SpecReader.Parse(yaml, "s.yaml");
            using var doc = JsonDocument.Parse(root.ToJsonString());
            return schema.Evaluate(doc.RootElement).IsValid;
        }
        const string good = """
            schedule: [{kind: warmup, steps: 5}, {kind: cosine, total_steps: 50}]
            regularizers: [{kind: weight_l2, weight: 0.001}]
            early_stopping: {monitor: val_acc, patience: 2, mode: max}
            checkpoint: {path: a.ckpt, every: 2}
            metrics: [accuracy, top3, sparse_categorical_accuracy]
            loss: sparse_categorical_crossentropy
            data: {train: {x: x.csv, y: y.csv}}
            """;
        Assert.True(Valid(Net + good));
        Spec(good, Path.GetTempPath()); // and the library accepts it
        Assert.True(Valid("model: {kind: classifier, layers: [784, [256, relu], 10]}\n"));
        foreach (var bad in new[]
                 {
                     Net + "schedule: {kind: linear}\n", Net + "schedule: {kind: step}\n", Net + "schedule: {kind: cosine, total_steps: 5, gamma: 2}\n",
                     Net + "regularizers: [{kind: weight_l2}]\n", Net + "early_stopping: {patience: -1}\n", Net + "checkpoint: {every: 2}\n",
                     Net + "metrics: [f1]\n", Net + "loss: focal\n", Net + "model: {layers: [4, 2]}\n", "model: {kind: svm, layers: [4, 2]}\n",
                 })
            Assert.False(Valid(bad), bad);
    }

    [Fact]
    public void WholeNumbersInYamlAreNumbersWhereverNumbersAreExpected()
    {
        // YAML reads '1' and '0' as whole numbers; settings that take any number accept them
        var spec = Spec("optimizer: {name: sgd, lr: 1, momentum: 0}\nvalidation_split: 0\nearly_stopping: {min_delta: 2}\n");
        Assert.Equal(1.0, spec.Optimizer.LearningRate);
        Assert.Equal(2.0, spec.EarlyStopping!.MinDelta);
    }

    [Fact]
    public void KerasAndTheanetsNamesOfLossesAndMetrics()
    {
        Assert.IsType<CrossEntropy>(Spec("loss: categorical_crossentropy\n").Loss);
        Assert.IsType<CrossEntropy>(Spec("loss: xe\n").Loss);
        Assert.IsType<MeanSquaredError>(Spec("loss: mean_squared_error\n").Loss);
        Assert.IsType<BinaryCrossEntropy>(Spec("loss: binary_crossentropy\n").Loss);
        var m = Spec("metrics: [accuracy, sparse_categorical_accuracy, top_k_categorical_accuracy, top3, mse, mean_absolute_error]\n").Metrics;
        Assert.Equal(["acc", "acc", "top5", "top3", "mse", "mae"], m.Select(x => x.Name));
        var e = Bad(Net + "metrics: [f1_score]\n");
        Assert.Contains("$.metrics[0]", e.Message);
        Assert.Contains("sparse_categorical_accuracy", e.Message);
        var l = Bad(Net + "loss: focal\n");
        Assert.Contains("$.loss", l.Message);
        Assert.Contains("sparse_categorical_crossentropy", l.Message);
        Assert.Contains(".NET type", Bad(Net + "loss: FlexNet.Losses.CrossEntropy\n").Message);
        Assert.Equal("acc", Metric.Create("SPARSE_CATEGORICAL_ACCURACY").Name);
    }

    [Fact]
    public void CsvAndNpyDataFilesAreReadAsWritten()
    {
        string dir = TempDir();
        try
        {
            var rows = new float[6][];
            for (int i = 0; i < 6; i++) rows[i] = [i, i * 0.5f, -i, 1.25f];
            File.WriteAllLines(Path.Combine(dir, "x.csv"), rows.Select(r => string.Join(",", r.Select(v => v.ToString("R", CultureInfo.InvariantCulture)))));
            File.WriteAllLines(Path.Combine(dir, "y.csv"), ["0", "1", "1", "0", "1", "0"]);
            Npy.Write(Path.Combine(dir, "xt.npy"), new float[] { 9, 8, 7, 6, 5, 4, 3, 2 }, [2, 4]);
            Npy.Write(Path.Combine(dir, "yt.npy"), new long[] { 1, 0 }, [2]);
            var spec = Spec("data: {train: {x: x.csv, y: y.csv}, test: {x: xt.npy, y: yt.npy}}\n", dir);
            var d = spec.Data!.Load(spec.Network);
            Assert.Equal([6, 4], d.XTrain.Shape);
            for (int i = 0; i < 6; i++)
                for (int j = 0; j < 4; j++) Assert.Equal(rows[i][j], d.XTrain.ToFloatArray()[i * 4 + j]);
            Assert.Equal([0, 1, 1, 0, 1, 0], d.YTrain.ToInt32Array());
            Assert.Equal([9f, 8, 7, 6, 5, 4, 3, 2], d.XTest!.ToFloatArray());
            Assert.Equal([1, 0], d.YTest!.ToInt32Array());

            // float labels: the message says to use integer labels
            Npy.Write(Path.Combine(dir, "yf.npy"), new float[] { 0, 1, 1, 0, 1, 0 }, [6]);
            var f = Spec("data: {train: {x: x.csv, y: yf.npy}}\n", dir);
            var ex = Assert.Throws<DatasetFormatException>(() => f.Data!.Load(f.Network));
            Assert.Contains("integer labels", ex.Message);
            Assert.Contains("yf.npy", ex.Message);
            // a fractional label in a CSV names the line
            File.WriteAllLines(Path.Combine(dir, "yb.csv"), ["0", "1", "0.5", "0", "1", "0"]);
            var b = Spec("data: {train: {x: x.csv, y: yb.csv}}\n", dir);
            Assert.Contains("line 3", Assert.Throws<DatasetFormatException>(() => b.Data!.Load(b.Network)).Message);
            // too few labels
            File.WriteAllLines(Path.Combine(dir, "y5.csv"), ["0", "1", "0", "0", "1"]);
            var c = Spec("data: {train: {x: x.csv, y: y5.csv}}\n", dir);
            Assert.Contains("5 labels for 6 samples", Assert.Throws<DatasetFormatException>(() => c.Data!.Load(c.Network)).Message);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void SamplesReadsTheThreeFormatsAlike()
    {
        string dir = TempDir();
        try
        {
            var values = new float[] { 0.5f, 1, 2, 3, 4, 5 };
            Npy.Write(Path.Combine(dir, "a.npy"), values, [3, 2]);
            File.WriteAllText(Path.Combine(dir, "a.csv"), "0.5,1\n2,3\n4,5\n");
            foreach (var name in new[] { "a.npy", "a.csv" })
            {
                var s = Samples.Read(Path.Combine(dir, name));
                Assert.Equal((3, 2), (s.Count, s.Features));
                Assert.Equal(values, s.Values);
            }
            // IDX: bytes scaled to [0, 1]
            string idx = Path.Combine(dir, "a.idx");
            File.WriteAllBytes(idx, [0, 0, 0x08, 2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 51, 255, 102]);
            var i = Samples.Read(idx);
            Assert.Equal((2, 2), (i.Count, i.Features));
            Assert.Equal([0f, 51 / 255f, 1f, 102 / 255f], i.Values);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void TheanetsShorthandBuildsTheNetworkItDescribes()
    {
        var spec = TrainingSpec.Parse("""
            model:
              kind: classifier
              layers: [4, [3, tanh], 2]
            loss: xe
            """, "t.yaml");
        var net = spec.Network;
        Assert.IsType<CrossEntropy>(spec.Loss);
        Assert.Equal(["acc"], spec.Metrics.Select(m => m.Name));
        var x = Tensor.FromArray(new float[] { 0.1f, -0.2f, 0.3f, 0.7f, -1f, 0.5f, 0.25f, 2f }, [2, 4]);
        var y = net.Forward(x)[0].ToFloatArray();
        // by hand: the 3×4 and 2×3 weights and their biases, found by shape
        var ps = net.NamedParameters.Select(p => p.Value).ToList();
        var w1 = ps.Single(p => p.Shape.SequenceEqual([3, 4])).ToFloatArray();
        var b1 = ps.Single(p => p.Shape.SequenceEqual([3])).ToFloatArray();
        var w2 = ps.Single(p => p.Shape.SequenceEqual([2, 3])).ToFloatArray();
        var b2 = ps.Single(p => p.Shape.SequenceEqual([2])).ToFloatArray();
        var xs = x.ToFloatArray();
        for (int n = 0; n < 2; n++)
        {
            var h = new double[3];
            for (int j = 0; j < 3; j++)
            {
                double a = b1[j];
                for (int k = 0; k < 4; k++) a += w1[j * 4 + k] * xs[n * 4 + k];
                h[j] = Math.Tanh(a);
            }
            for (int o = 0; o < 2; o++)
            {
                double a = b2[o];
                for (int j = 0; j < 3; j++) a += w2[o * 3 + j] * h[j];
                Assert.Equal(a, y[n * 2 + o], 5); // the classifier's last layer is linear: logits
            }
        }
    }

    [Fact]
    public void TheanetsShorthandTrainsThroughTheCli()
    {
        var (code, output, err) = Run("train", Path.Combine(TrainingSpecTests.Examples, "theanets.yaml"), "--epochs", "2", "--limit", "2000");
        Assert.True(code == 0, output + err);
        var line = output.Split('\n').Single(l => l.StartsWith("test accuracy ", StringComparison.Ordinal));
        double acc = double.Parse(line["test accuracy ".Length..].TrimEnd('%', '\r'), CultureInfo.InvariantCulture);
        Assert.True(acc > 60, line); // chance is 10%
    }

    [Fact]
    public void BadTheanetsSpecsNameTheEntry()
    {
        var e = Bad("model: {layers: [4, [3, nosuchform], 2]}\n");
        Assert.Contains("$.model.layers[1]", e.Message);
        Assert.Contains("nosuchform", e.Message);
        Assert.Contains("dense", e.Message); // lists the registered forms
        Assert.Contains(".NET type", Bad("model: {layers: [4, {form: \"System.IO.File\", size: 3}, 2]}\n").Message);
        Assert.Contains("$.model.layers[1]", Bad("model: {layers: [4, -3, 2]}\n").Message);
        Assert.Contains("not both", Bad(Net + "model: {layers: [4, 2]}\n").Message);
        Assert.Contains("sequence_length", Bad("model: {data_kind: recurrent, layers: [4, {form: lstm, size: 3}, 2]}\n").Message);
        Assert.Contains("$.model.layers[2]", Bad("model: {layers: [4, {size: 3, name: a}, {size: 2, inputs: [zz]}]}\n").Message);
    }
}
