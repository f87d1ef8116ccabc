using System.Diagnostics;
using FlexNet.Data;
using FlexNet.Training;
using FlexNet.Tensors;

namespace FlexNet.Bench.Workloads;

/// <summary>Shared pieces of the training/inference workloads: the data folder, Fashion-MNIST as tensors, and
/// step timing of a <see cref="Trainer"/> run (warm-up steps, then timed repeats of a fixed number of steps).</summary>
internal static class BenchSupport
{
    /// <summary>FASHION_MNIST_DIR or Debian's folder (as common.py).</summary>
    public static string DataDir => Environment.GetEnvironmentVariable("FASHION_MNIST_DIR") ?? "/usr/share/datasets/fashion-mnist";

    private static readonly Dictionary<string, (float[] Images, int[] Labels, int Count)> Cache = new();

    /// <summary>Images [N·784] in [0, 1] and labels of a split ("train" or "t10k"), loaded once per process.</summary>
    public static (float[] Images, int[] Labels, int Count) Load(string split)
    {
        if (!Cache.TryGetValue(split, out var d)) Cache[split] = d = FashionMnist.Load(DataDir, split);
        return d;
    }

    /// <summary>A seeded permutation of 0..n−1.</summary>
    public static int[] Permutation(int n, ulong seed)
    {
        var p = new int[n];
        for (int i = 0; i < n; i++) p[i] = i;
        new RandomGenerator(seed).Shuffle(p);
        return p;
    }

    /// <summary>The consecutive batches of a fixed permutation (the last partial batch dropped, as the PyTorch
    /// scripts' <c>n_batches = N // BATCH</c>), laid out in that order so that an unshuffled trainer walks them.</summary>
    public static (Tensor X, Tensor Y) PermutedTrain(int batch, int[] sampleShape, ulong seed)
    {
        var (images, labels, count) = Load("train");
        int[] perm = Permutation(count, seed);
        int n = count / batch * batch;
        var x = new float[n * 784];
        var y = new int[n];
        for (int i = 0; i < n; i++)
        {
            images.AsSpan(perm[i] * 784, 784).CopyTo(x.AsSpan(i * 784, 784));
            y[i] = labels[perm[i]];
        }
        return (Tensor.FromArray(x, [n, .. sampleShape]), Tensor.FromArray(y, n));
    }

    /// <summary>
    /// Warms .NET's tiered JIT for a training workload (see <see cref="Timing.JitWarmup"/>): trains
    /// <paramref name="model"/>, a throw-away copy of the workload's model with its own <paramref name="options"/>
    /// (a fresh optimizer), on the workload's data until <paramref name="seconds"/> have passed and at least 100 steps have run (a method called once per step is promoted after about 60 calls: tier 0, then instrumented, then optimised).
    /// The timed model, its optimizer state and its data order are untouched, so its warm-up steps, timed steps and
    /// losses are those of the PyTorch script. Without this, the first repeats of workloads whose step is one large
    /// op call per layer (LSTM: ~100 steps in all) ran partly on tier-0 and instrumented code.
    /// </summary>
    /// <param name="shuffle">Shuffle the batches as the timed training does (mlp_train), so that the gather of a
    /// shuffled batch is warmed too.</param>
    /// <returns>Steps trained.</returns>
    public static long JitWarmupTraining(IMultiTrainable model, TrainerOptions options, Tensor x, Tensor y, double seconds = 1.5,
        bool shuffle = false)
    {
        int n = x.Shape[options.InputBatchAxis];
        if (n < options.BatchSize) throw new ArgumentException($"bench: {n} samples are fewer than one batch of {options.BatchSize}");
        long start = Stopwatch.GetTimestamp(), steps = 0;
        TrainUntil(model, options, x, y, epochs: 1_000_000, shuffle, info =>
        {
            steps = info.Step + 1;
            return steps >= 100 && Stopwatch.GetElapsedTime(start).TotalSeconds >= seconds;
        });
        return steps;
    }

    /// <summary>Trains <paramref name="model"/> through <see cref="Trainer"/> with <paramref name="options"/> set for a
    /// benchmark (shuffled only when <paramref name="shuffle"/>, no progress output, no finite check) for at most <paramref name="epochs"/> epochs, until
    /// <paramref name="stop"/>, called after every step, returns true.</summary>
    private static void TrainUntil(IMultiTrainable model, TrainerOptions options, Tensor x, Tensor y, int epochs, bool shuffle,
        Func<BatchEndInfo, bool> stop)
    {
        using var cts = new CancellationTokenSource();
        options.Shuffle = shuffle;
        options.Epochs = epochs;
        options.Progress = ProgressMode.None;
        options.CheckFinite = false;
        options.CancellationToken = cts.Token;
        options.OnBatchEnd = info =>
        {
            if (stop(info)) cts.Cancel();
        };
        new Trainer(model, options).Fit([x], [y]);
    }

    /// <summary>
    /// Trains with <paramref name="options"/> (unshuffled, so batch k of the epoch is samples [k·B, (k+1)·B) of the
    /// data, cycled over epochs) for <paramref name="warmup"/> + repeats·<paramref name="steps"/> optimizer steps and
    /// times each repeat of <paramref name="steps"/> steps from the trainer's batch-end callback. The timed region is
    /// what the trainer does per step: batch gather, forward, loss, backward, optimizer step.
    /// </summary>
    /// <returns>Seconds per repeat and the training loss at the end of each repeat.</returns>
    /// <summary>Process CPU seconds (all threads) per training step in each repeat of the last <see cref="TimeTrainerSteps"/>:
    /// does not count time spent waiting for a core on a shared machine, but does count spin-waits between parallel
    /// regions and the cache misses that other processes cause, so it is a second view, not a clean work measure.</summary>
    public static double[] LastCpuSecondsPerStep { get; private set; } = [];

    public static (double[] Seconds, double[] Losses) TimeTrainerSteps(IMultiTrainable model, TrainerOptions options, Tensor x, Tensor y,
                                                                       int warmup, int repeats, int steps)
    {
        int total = warmup + repeats * steps;
        int n = x.Shape[options.InputBatchAxis];
        int perEpoch = n / options.BatchSize;
        if (perEpoch * options.BatchSize != n) throw new ArgumentException($"bench: {n} samples are not whole batches of {options.BatchSize}");
        var marks = new long[repeats + 1];
        var cpu = new TimeSpan[repeats + 1];
        var losses = new double[repeats];
        TrainUntil(model, options, x, y, (total + perEpoch - 1) / perEpoch, shuffle: false, info =>
        {
            long s = info.Step - warmup;
            if (s < 0 || s % steps != 0) return false;
            int k = (int)(s / steps);
            marks[k] = Stopwatch.GetTimestamp();
            cpu[k] = Environment.CpuUsage.TotalTime;
            if (k > 0) losses[k - 1] = info.Loss;
            return k == repeats;
        });
        var seconds = new double[repeats];
        for (int k = 0; k < repeats; k++) seconds[k] = Stopwatch.GetElapsedTime(marks[k], marks[k + 1]).TotalSeconds;
        LastCpuSecondsPerStep = new double[repeats];
        for (int k = 0; k < repeats; k++) LastCpuSecondsPerStep[k] = (cpu[k + 1] - cpu[k]).TotalSeconds / steps;
        return (seconds, losses);
    }

    /// <summary>Formats values for a log line.</summary>
    public static string List(IEnumerable<double> xs) => "[" + string.Join(", ", xs.Select(v => Math.Round(v, 4).ToString(System.Globalization.CultureInfo.InvariantCulture))) + "]";
}
