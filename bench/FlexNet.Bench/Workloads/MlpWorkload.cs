using FlexNet.Connections;
using System.Diagnostics;
using FlexNet.Graph;
using FlexNet.Layers;
using FlexNet.Losses;
using FlexNet.Metrics;
using FlexNet.Models;
using FlexNet.Optimizers;
using FlexNet.Training;
using FlexNet.Tensors;

namespace FlexNet.Bench.Workloads;

/// <summary>
/// mlp_train + mlp_1epoch_test_acc (shared/bench/pytorch/mlp_train.py): MLP 784-512-512-10 ReLU (Sequential of
/// Dense layers, torch default init), softmax cross-entropy, SGD lr 0.01 momentum 0.9, batch 128, one epoch of
/// Fashion-MNIST train with a fresh seeded permutation (469 steps, the last partial batch of 96 included) through
/// <see cref="Trainer"/>. The JIT warmed on a throw-away model (<see cref="BenchSupport.JitWarmupTraining"/>, shuffled), the
/// script's 20-step warm-up on another, then 5 trainings from fresh models (seed r);
/// the timed region is the whole epoch (Trainer.Fit: batch gather, forward, loss, backward, step); test accuracy
/// on the 10k test images after each, untimed. Reports median samples/s and median accuracy (%).
/// </summary>
internal sealed class MlpWorkload : IWorkload
{
    private const int Batch = 128, Repeats = 5, WarmupSteps = 20;
    private (double Rate, double[] Rates, double Acc, double[] Accs)? _result;

    public IEnumerable<string> Names => ["mlp_train", "mlp_1epoch_test_acc"];

    public int Order => 10;

    /// <summary>The same MLP drawn with <see cref="Network.Connect"/> (mlp_train_connect): input [784] → 512 relu →
    /// 512 relu → 10, dense connections with bias (torch's default init U(±1/√in)).</summary>
    internal static Network BuildConnect(ulong seed)
    {
        var net = new Network("mlp_connect", DType.Float32, seed);
        var x = net.Add(new InputLayer(784, name: "x"));
        var h1 = net.Add(new Layer(512, "relu", name: "h1"));
        var h2 = net.Add(new Layer(512, "relu", name: "h2"));
        var y = net.Add(new Layer(10, name: "y"));
        net.ConnectDense(x, h1);
        net.ConnectDense(h1, h2);
        net.ConnectDense(h2, y);
        net.AddOutput(y, OutputMode.LastStep);
        net.Compile();
        return net;
    }

    /// <summary>The MLP as a Sequential model (built for 784 inputs).</summary>
    internal static Sequential Build(ulong seed)
    {
        var m = new Sequential("mlp", DType.Float32, seed, new Dense(512, "relu"), new Dense(512, "relu"), new Dense(10));
        m.InputShape = [784];
        _ = m.Network;
        return m;
    }

    private static TrainerOptions Options(ulong seed) => new()
    {
        Epochs = 1,
        BatchSize = Batch,
        Shuffle = true,
        Seed = seed,
        Loss = new CrossEntropy(),
        Optimizer = new Sgd(0.01, 0.9),
        Metrics = [new Accuracy()],
        Progress = ProgressMode.None,
        CheckFinite = false,
    };

    public void Run(string name, Reporter reporter)
    {
        _result ??= Measure(seed => Build(seed).Network, "mlp_train", reporter);
        var r = _result.Value;
        if (name == "mlp_train") reporter.Report(name, r.Rate, "samples/s", r.Rates);
        else reporter.Report(name, r.Acc, "%", r.Accs);
    }

    /// <summary>One warm-up and <see cref="Repeats"/> timed epochs of the network <paramref name="build"/> makes.</summary>
    internal static (double Rate, double[] Rates, double Acc, double[] Accs) Measure(Func<ulong, Network> build, string name, Reporter reporter)
    {
        var (images, labels, count) = BenchSupport.Load("train");
        var (testImages, testLabels, testCount) = BenchSupport.Load("t10k");
        var x = Tensor.Wrap(images, [count, 784]);
        var y = Tensor.FromArray(labels, count);
        var xt = Tensor.Wrap(testImages, [testCount, 784]);
        var yt = Tensor.FromArray(testLabels, testCount);

        // .NET's tiered JIT first (a throw-away model trained shuffled for 1.5 s and at least 100 steps): the script's
        // 20-step warm-up alone left the first epochs partly on tier-0 code (section 31 of bench/NOTES.md)
        long jitSteps = BenchSupport.JitWarmupTraining(build(4321).AsTrainable(), Options(4321), x, y, shuffle: true);
        reporter.Log($"{name}: JIT warm-up on a throw-away model, {jitSteps} steps");
        // the script's warm-up: 20 steps on a throw-away model
        var warm = build(1234);
        var wo = Options(1234);
        new Trainer(warm.AsTrainable(), wo).Fit(x.Slice(0, 0, WarmupSteps * Batch), y.Slice(0, 0, WarmupSteps * Batch));

        var rates = new double[Repeats];
        var accs = new double[Repeats];
        var losses = new double[Repeats];
        for (int r = 0; r < Repeats; r++)
        {
            var model = build((ulong)r);
            var o = Options((ulong)r);
            o.Metrics = [];
            double last = double.NaN;
            o.OnBatchEnd = info => last = info.Loss;
            var trainer = new Trainer(model.AsTrainable(), o);
            long t0 = Stopwatch.GetTimestamp();
            trainer.Fit(x, y);
            rates[r] = count / Stopwatch.GetElapsedTime(t0).TotalSeconds;
            o.Metrics = [new Accuracy()];
            accs[r] = 100 * trainer.Evaluate(xt, yt)["acc"];
            losses[r] = last;
        }
        reporter.Log($"{name}: last-batch loss per repeat {BenchSupport.List(losses)}");
        return (Timing.Median(rates), rates, Timing.Median(accs), accs);
    }
}

/// <summary>
/// mlp_train_connect: the mlp_train workload (same data, batch, loss, optimizer, timed region) on the MLP built with
/// <see cref="Network.Connect"/> instead of Sequential. The two front ends build the same layers and connections,
/// so the figures must agree within noise.
/// </summary>
internal sealed class MlpConnectWorkload : IWorkload
{
    public IEnumerable<string> Names => ["mlp_train_connect"];

    public int Order => 11;

    public void Run(string name, Reporter reporter)
    {
        var r = MlpWorkload.Measure(MlpWorkload.BuildConnect, name, reporter);
        reporter.Log($"mlp_train_connect: test accuracy per repeat {BenchSupport.List(r.Accs)}");
        reporter.Report(name, r.Rate, "samples/s", r.Rates);
    }
}
