using FlexNet.Losses;
using FlexNet.Optimizers;
using FlexNet.Training;
using FlexNet.Tensors;

namespace FlexNet.Bench.Workloads;

/// <summary>
/// train_step_alloc_bytes_{mlp,feedback,lstm_cell_loop}: managed bytes allocated per training step, all threads,
/// after warm-up, with the <see cref="TrainerOptions"/> defaults a user gets (only batch size, loss and optimizer
/// set, as the workload of the same stem; progress output off). Measured by <see cref="StepProbe"/> between the
/// starts of consecutive steps; 20 warm-up steps, then the median of 30 steps. Deterministic enough to compare
/// on a busy machine (the figure does not depend on timing, apart from rare runtime-internal allocations).
/// </summary>
internal sealed class AllocWorkload : IWorkload
{
    private const int Warmup = 20;

    /// <summary>Steps measured: 30, or FLEXNET_BENCH_ALLOC_STEPS (more steps give the type sampler more events).</summary>
    private static int Measured => int.TryParse(Environment.GetEnvironmentVariable("FLEXNET_BENCH_ALLOC_STEPS"), out int n) && n > 0 ? n : 30;

    public IEnumerable<string> Names => ["train_step_alloc_bytes_mlp", "train_step_alloc_bytes_feedback", "train_step_alloc_bytes_lstm_cell_loop"];

    public int Order => 70;

    public void Run(string name, Reporter reporter)
    {
        IMultiTrainable model;
        IDataset data;
        TrainerOptions options;
        switch (name)
        {
            case "train_step_alloc_bytes_mlp":
            {
                var (images, labels, count) = BenchSupport.Load("train");
                model = MlpWorkload.Build(0).Network.AsTrainable();
                data = new TensorDataset([Tensor.Wrap(images, [count, 784])], [Tensor.FromArray(labels, count)]);
                options = new TrainerOptions { BatchSize = 128, Loss = new CrossEntropy(), Optimizer = new Sgd(0.01, 0.9) };
                break;
            }
            case "train_step_alloc_bytes_feedback":
            {
                var (x, y) = BenchSupport.PermutedTrain(FeedbackTrain.Batch, [784], seed: 0);
                model = FeedbackTrain.Build().AsTrainable();
                data = new TensorDataset([x], [y]);
                options = new TrainerOptions { BatchSize = FeedbackTrain.Batch, Loss = new CrossEntropy(), Optimizer = new Sgd(0.01, 0.9) };
                break;
            }
            default:
            {
                var (xs, ys) = LstmWorkload.AddingData(42);
                int n = ys.Length;
                var x = Tensor.FromArray(xs, n, LstmWorkload.T, LstmWorkload.In).Transpose(0, 1).Contiguous();
                model = LstmWorkload.BuildPrimitives(0).AsTrainable();
                data = new TensorDataset([x], [Tensor.FromArray(ys, n, 1)], inputAxis: 1);
                options = new TrainerOptions { BatchSize = LstmWorkload.B, Loss = new MeanSquaredError(), Optimizer = new Adam(1e-3) };
                break;
            }
        }
        using var sampler = AllocationSampler.Enabled ? new AllocationSampler() : null;
        var probe = new StepProbe(data, Warmup + Measured, atStep: Warmup, () => sampler?.Start());
        probe.Train(model, options);
        if (sampler is not null)
            foreach (var (type, b) in sampler.Stop(15)) reporter.Log($"{name}: sampled allocations after warm-up {type}: ~{b / (Measured + 1)} bytes/step");
        double[] bytes = probe.Values(k => probe.AllocatedBytes(k), Warmup);
        reporter.Report(name, Timing.Median(bytes), "bytes/step", bytes);
        reporter.Log($"{name}: first steps {BenchSupport.List(probe.Values(k => probe.AllocatedBytes(k), 0).Take(5))} bytes; " +
                     $"ReuseGradientBuffers={options.ReuseGradientBuffers}, CheckFinite={options.CheckFinite} (defaults)");
    }
}
