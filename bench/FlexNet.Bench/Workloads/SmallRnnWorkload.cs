using FlexNet.Layers;
using FlexNet.Models;
using FlexNet.Tensors;

namespace FlexNet.Bench.Workloads;

/// <summary>
/// small_rnn_step_latency (shared/bench/pytorch/small_rnn.py): tanh RNN 64 → 64 with both biases (catalog
/// <see cref="RNN"/> layer, torch default init), batch 1, a fixed x [1, 100, 64] ~ N(0, 1); one iteration = clear
/// the gradients, forward over the 100 steps, loss = Σ h₁₀₀², backward through all steps (no optimizer step), in a
/// <see cref="TensorScope"/>. 20 warm-up iterations, then 7 timed repeats of 50 iterations; median repeat time /
/// 5000 in µs per step. Before the spec's warm-up, 1.5 s of untimed iterations let the tiered JIT finish
/// (<see cref="Timing.JitWarmup"/>; without it, run alone, the figure timed unoptimised code).
/// </summary>
internal sealed class SmallRnnWorkload : IWorkload
{
    private const int Steps = 100, Hidden = 64, Input = 64, Iters = 50;

    public IEnumerable<string> Names => ["small_rnn_step_latency"];

    public int Order => 70;

    public void Run(string name, Reporter reporter)
    {
        var m = new Sequential("small_rnn", DType.Float32, 0, new RNN(Hidden, returnSequences: false));
        m.InputShape = [Steps, Input];
        m.SequenceInput = false;
        var parameters = m.Parameters;
        var x = Tensor.Normal([1, Steps, Input], 0, 1, new RandomGenerator(0), DType.Float32);

        void Iteration()
        {
            foreach (var p in parameters) p.ZeroGrad();
            using var scope = TensorScope.Begin();
            var h = m.Forward(x, training: true);
            (h * h).Sum().Backward();
        }

        var (cold, warm) = Timing.JitWarmup(Iteration);
        reporter.Log($"small_rnn_step_latency: JIT warm-up (untimed, before the spec's): first iteration {cold / Steps * 1e6:F1} us/step, last {warm / Steps * 1e6:F2} us/step");
        for (int i = 0; i < 20; i++) Iteration();
        double[] times = Timing.TimeRepeats(() =>
        {
            for (int i = 0; i < Iters; i++) Iteration();
        }, 7, warmup: 0);
        var us = times.Select(t => t / (Iters * Steps) * 1e6).ToArray();
        reporter.Report(name, Timing.Median(us), "us/step", us);
    }
}
