using FlexNet.Losses;
using FlexNet.Optimizers;
using FlexNet.Training;

namespace FlexNet.Bench.Workloads;

/// <summary>
/// Long sequences on the feedback_train network (<see cref="FeedbackTrain.Build"/>, batch 128, softmax
/// cross-entropy, SGD lr 0.01 momentum 0.9, full BPTT, trainer defaults otherwise), unrolled T = 4, 8, 16, 32, 64,
/// 128 steps; each T from a fresh initialisation, 3 warm-up training steps then the median of 7 (per step, by
/// <see cref="StepProbe"/>).
/// <list type="bullet">
/// <item><c>feedback_scaling_t{T}</c>: seconds per sample of a training step; <c>feedback_scaling</c>: the ratio
/// time(32)/time(4) (linear in T: 8), <c>feedback_scaling_t128_over_t4</c>: time(128)/time(4) (linear: 32).</item>
/// <item><c>feedback_memory_bytes_per_step_sample</c>: growth of the peak pooled tensor bytes of a training step
/// from T = 16 to T = 32, per added step and per sample (the minimum, each layer's output per step, is
/// (256 + 256 + 128) · 4 = 2,560 B); <c>..._tbptt8</c> the same with <see cref="Graph.Network.TruncatedBptt"/> = 8
/// (bounded by the window: 0).</item>
/// <item><c>feedback_tbptt_memory_bytes_t{32,128}</c>: the peak pooled tensor bytes of a training step with
/// TruncatedBptt = 8 at T = 32 and T = 128 (equal when memory is bounded by the window).</item>
/// </list>
/// </summary>
internal sealed class FeedbackScalingWorkload : IWorkload
{
    private static readonly int[] Ts = [4, 8, 16, 32, 64, 128];
    private const int Warmup = 3, Measured = 7, Batch = FeedbackTrain.Batch;
    private const double MinimumBytes = (256 + 256 + 128) * 4;
    private readonly Dictionary<(int T, int? Window), (double Seconds, double PeakBytes)> _runs = new();
    private readonly Dictionary<int, double> _cpu = new();

    public IEnumerable<string> Names => ["feedback_scaling", "feedback_memory_bytes_per_step_sample", "feedback_memory_bytes_per_step_sample_tbptt8",
                                         "feedback_tbptt_memory_bytes"];

    public int Order => 75;

    private (double Seconds, double PeakBytes) Measure(int t, int? window, Reporter reporter)
    {
        if (_runs.TryGetValue((t, window), out var r)) return r;
        var (x, y) = BenchSupport.PermutedTrain(Batch, [784], seed: 0);
        var net = FeedbackTrain.Build(0, t);
        net.TruncatedBptt = window;
        var options = new TrainerOptions { BatchSize = Batch, Loss = new CrossEntropy(), Optimizer = new Sgd(0.01, 0.9) };
        var probe = StepProbe.Run(net.AsTrainable(), options, new TensorDataset([x], [y]), Warmup + Measured);
        r = (probe.Median(k => probe.Seconds(k), Warmup), probe.Median(k => probe.PeakTensorBytes(k), Warmup));
        if (window is null) _cpu[t] = probe.Median(k => probe.CpuSeconds(k), Warmup);
        reporter.Log($"feedback T={t}{(window is { } w ? $" TruncatedBptt={w}" : "")}: seconds per step {BenchSupport.List(probe.Values(k => probe.Seconds(k), Warmup))}, " +
                     $"peak tensor bytes {r.PeakBytes:F0}, {StepProbe.Load()}");
        _runs[(t, window)] = r;
        return r;
    }

    public void Run(string name, Reporter reporter)
    {
        if (name == "feedback_scaling")
        {
            foreach (int t in Ts)
            {
                var (s, _) = Measure(t, null, reporter);
                reporter.Report($"feedback_scaling_t{t}", s / Batch, "s/sample");
            }
            double t4 = _runs[(4, null)].Seconds;
            for (int i = 1; i < Ts.Length; i++)
                reporter.Log($"feedback_scaling: time({Ts[i]})/time(4) = {_runs[(Ts[i], null)].Seconds / t4:F2}, " +
                             $"CPU time({Ts[i]})/CPU time(4) = {_cpu[Ts[i]] / _cpu[4]:F2} (linear: {Ts[i] / 4})");
            reporter.Report("feedback_scaling", _runs[(32, null)].Seconds / t4, "x_time32_over_time4");
            reporter.Report("feedback_scaling_t128_over_t4", _runs[(128, null)].Seconds / t4, "x_time128_over_time4");
            return;
        }
        if (name == "feedback_tbptt_memory_bytes")
        {
            // peak pooled tensor bytes of a training step with TruncatedBptt = 8 (flat in T when bounded by the window)
            foreach (int t in new[] { 32, 128 })
                reporter.Report($"feedback_tbptt_memory_bytes_t{t}", Measure(t, 8, reporter).PeakBytes, "bytes");
            return;
        }
        int? window = name.EndsWith("_tbptt8", StringComparison.Ordinal) ? 8 : null;
        double p16 = Measure(16, window, reporter).PeakBytes, p32 = Measure(32, window, reporter).PeakBytes;
        double perStepSample = (p32 - p16) / (16.0 * Batch);
        reporter.Report(name, perStepSample, "bytes");
        reporter.Log($"{name}: peak tensor bytes T=16 {p16:F0}, T=32 {p32:F0}; {perStepSample / MinimumBytes:F2}x the minimum {MinimumBytes:F0} B per step and sample");
    }
}
