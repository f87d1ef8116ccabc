using FlexNet.Losses;
using FlexNet.Optimizers;
using FlexNet.Training;

namespace FlexNet.Bench.Workloads;

/// <summary>
/// feedback_train (shared/bench/pytorch/feedback_train.py): the 784-256-256-128 ReLU network unrolled 8 steps with
/// the feedback h3(t−1) → h1 (no bias) and the readout at the last step, built with <c>Network.Connect*</c>
/// (<see cref="FeedbackTrain.Build"/>); softmax cross-entropy, SGD lr 0.01 momentum 0.9, batch 128, one fixed
/// permutation of Fashion-MNIST train, consecutive batches, through <see cref="Trainer"/>; JIT warm-up on a throw-away model (<see cref="BenchSupport.JitWarmupTraining"/>), then 10 warm-up steps, then
/// 5 timed repeats of 100 steps; median samples/s.
/// </summary>
internal sealed class FeedbackWorkload : IWorkload
{
    private const int Batch = FeedbackTrain.Batch, WarmupSteps = FeedbackTrain.WarmupSteps, Steps = FeedbackTrain.TimedSteps, Repeats = FeedbackTrain.Repeats;

    public IEnumerable<string> Names => ["feedback_train"];

    public int Order => 50;

    public void Run(string name, Reporter reporter)
    {
        var (x, y) = BenchSupport.PermutedTrain(Batch, [784], seed: 0);
        static TrainerOptions Options() => new() { BatchSize = Batch, Loss = new CrossEntropy(), Optimizer = new Sgd(0.01, 0.9) };
        long warmSteps = BenchSupport.JitWarmupTraining(FeedbackTrain.Build(1234).AsTrainable(), Options(), x, y);
        reporter.Log($"feedback_train: JIT warm-up on a throw-away model, {warmSteps} steps");
        var net = FeedbackTrain.Build();
        var options = Options();
        var (seconds, losses) = BenchSupport.TimeTrainerSteps(net.AsTrainable(), options, x, y, WarmupSteps, Repeats, Steps);
        var rates = seconds.Select(s => Steps * Batch / s).ToArray();
        reporter.Report(name, Timing.Median(rates), "samples/s", rates);
        reporter.Log($"feedback_train: loss at end of each repeat {BenchSupport.List(losses)}");
    }
}
