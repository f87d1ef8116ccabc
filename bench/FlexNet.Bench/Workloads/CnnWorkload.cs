using FlexNet.Layers;
using FlexNet.Losses;
using FlexNet.Models;
using FlexNet.Optimizers;
using FlexNet.Training;
using FlexNet.Tensors;

namespace FlexNet.Bench.Workloads;

/// <summary>
/// cnn_train (shared/bench/pytorch/cnn_train.py): Conv2D(32, 3×3, pad 1) ReLU → MaxPool 2 → Conv2D(64, 3×3, pad 1)
/// ReLU → MaxPool 2 → Flatten (C, H, W) → Dense 128 ReLU → Dense 10 (Sequential, torch default init), input
/// [64, 1, 28, 28], softmax cross-entropy, Adam 1e-3; one fixed permutation of Fashion-MNIST train, consecutive
/// batches of 64, through <see cref="Trainer"/>; JIT warm-up on a throw-away model (<see cref="BenchSupport.JitWarmupTraining"/>), then 10 warm-up steps, then 5 timed repeats of 100 steps (training
/// continues across repeats); median samples/s.
/// </summary>
internal sealed class CnnWorkload : IWorkload
{
    private const int Batch = 64, WarmupSteps = 10, Steps = 100, Repeats = 5;

    public IEnumerable<string> Names => ["cnn_train"];

    public int Order => 20;

    /// <summary>The CNN as a Sequential model (built for [1, 28, 28] inputs).</summary>
    internal static Sequential Build(ulong seed)
    {
        var m = new Sequential("cnn", DType.Float32, seed,
            new Conv2D(32, 3, padding: 1, activation: "relu"), new MaxPool2D(2),
            new Conv2D(64, 3, padding: 1, activation: "relu"), new MaxPool2D(2),
            new Flatten(), new Dense(128, "relu"), new Dense(10));
        m.InputShape = [1, 28, 28];
        _ = m.Network;
        return m;
    }

    public void Run(string name, Reporter reporter)
    {
        var (x, y) = BenchSupport.PermutedTrain(Batch, [1, 28, 28], seed: 0);
        static TrainerOptions Options() => new() { BatchSize = Batch, Loss = new CrossEntropy(), Optimizer = new Adam(1e-3) };
        long warmSteps = BenchSupport.JitWarmupTraining(Build(1234).Network.AsTrainable(), Options(), x, y);
        reporter.Log($"cnn_train: JIT warm-up on a throw-away model, {warmSteps} steps");
        var model = Build(0);
        var options = Options();
        var (seconds, losses) = BenchSupport.TimeTrainerSteps(model.Network.AsTrainable(), options, x, y, WarmupSteps, Repeats, Steps);
        var rates = seconds.Select(s => Steps * Batch / s).ToArray();
        reporter.Report(name, Timing.Median(rates), "samples/s", rates);
        reporter.Log($"cnn_train: loss at end of each repeat {BenchSupport.List(losses)}");
    }
}
