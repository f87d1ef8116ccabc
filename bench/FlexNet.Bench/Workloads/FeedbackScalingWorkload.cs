using FlexNet.Losses;
using FlexNet.Optimizers;
using FlexNet.Training;

namespace FlexNet.Bench.Workloads;

/// <summary>
/// Long sequences on the feedback_train network (<see cref="FeedbackTrain.Build"/>, batch 128, softmax
/// cross-entropy, SGD lr 0.01 momentum 0.9, full BPTT, trainer defaults otherwise), unrolled T = 4, 8, 16, 32, 64,
/// 128 steps, after 1.5 s of JIT warm-up on a T = 8 copy; each T from a fresh initialisation and 3 warm-up training steps, then
/// 5 rounds that visit every T in turn (2 untimed and 5 timed steps each), the median per step over the rounds
/// (by <see cref="StepProbe"/>; the memory figures: 3 warm-up steps then the median of 7).
/// <list type="bullet">
/// <item><c>feedback_scaling_t{T}</c>: seconds per sample of a training step; <c>feedback_scaling</c>: the ratio
/// time(32)/time(4) (linear in T: 8), <c>feedback_scaling_t128_over_t4</c>: time(128)/time(4) (linear: 32),
/// <c>feedback_scaling_fit_max_residual</c>: the largest relative residual of the least-squares line
/// time(T) = fixed + perStep·T over all T (a per-sequence fixed part lowers the ratios; a residual near 0 is linear).</item>
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

    /// <summary>Rounds over all T's, untimed and timed steps per T and round (<see cref="MeasureInterleaved"/>).</summary>
    private const int Rounds = 5, RoundWarmup = 2, RoundSteps = 5;
    private const double MinimumBytes = (256 + 256 + 128) * 4;
    private readonly Dictionary<(int T, int? Window), (double Seconds, double PeakBytes)> _runs = new();

    public IEnumerable<string> Names => ["feedback_scaling", "feedback_memory_bytes_per_step_sample", "feedback_memory_bytes_per_step_sample_tbptt8",
                                         "feedback_tbptt_memory_bytes"];

    public int Order => 75;

    /// <summary>The trainer settings of every run here (a fresh object per run: the probe sets epochs and cancellation).</summary>
    private static TrainerOptions Options() => new TrainerOptions { BatchSize = Batch, Loss = new CrossEntropy(), Optimizer = new Sgd(0.01, 0.9) };

    private (double Seconds, double PeakBytes) Measure(int t, int? window, Reporter reporter)
    {
        if (_runs.TryGetValue((t, window), out var r)) return r;
        var (x, y) = BenchSupport.PermutedTrain(Batch, [784], seed: 0);
        var net = FeedbackTrain.Build(0, t);
        net.TruncatedBptt = window;
        var options = Options();
        var probe = StepProbe.Run(net.AsTrainable(), options, new TensorDataset([x], [y]), Warmup + Measured);
        r = (probe.Median(k => probe.Seconds(k), Warmup), probe.Median(k => probe.PeakTensorBytes(k), Warmup));
        reporter.Log($"feedback T={t}{(window is { } w ? $" TruncatedBptt={w}" : "")}: seconds per step {BenchSupport.List(probe.Values(k => probe.Seconds(k), Warmup))}, " +
                     $"peak tensor bytes {r.PeakBytes:F0}, {StepProbe.Load()}");
        _runs[(t, window)] = r;
        return r;
    }

    /// <summary>
    /// Seconds (and process CPU seconds) per training step for every T, measured in <see cref="Rounds"/> rounds that
    /// visit the T's in turn (each round: <see cref="RoundWarmup"/> untimed steps, then <see cref="RoundSteps"/>
    /// timed ones, on the same network per T, built and warmed once); the median over all rounds' steps per T. A
    /// shared host drifts between a fast and a slow mode over seconds (bench/NOTES.md sections 23, 24); measuring
    /// each T in one 10-step burst let a drift between two bursts show as a non-linear T, and visiting the T's in
    /// turn spreads it over all of them.
    /// </summary>
    private Dictionary<int, (double Seconds, double Cpu)> MeasureInterleaved(Reporter reporter)
    {
        var (x, y) = BenchSupport.PermutedTrain(Batch, [784], seed: 0);
        var data = new TensorDataset([x], [y]);
        var nets = new Dictionary<int, Graph.Network>();
        var secs = new Dictionary<int, List<double>>();
        var cpus = new Dictionary<int, List<double>>();
        foreach (int t in Ts)
        {
            nets[t] = FeedbackTrain.Build(0, t);
            StepProbe.Run(nets[t].AsTrainable(), Options(), data, Warmup);
            (secs[t], cpus[t]) = (new List<double>(), new List<double>());
        }
        for (int r = 0; r < Rounds; r++)
            foreach (int t in Ts)
            {
                var probe = StepProbe.Run(nets[t].AsTrainable(), Options(), data, RoundWarmup + RoundSteps);
                secs[t].AddRange(probe.Values(k => probe.Seconds(k), RoundWarmup));
                cpus[t].AddRange(probe.Values(k => probe.CpuSeconds(k), RoundWarmup));
            }
        var result = new Dictionary<int, (double, double)>();
        foreach (int t in Ts)
        {
            result[t] = (Timing.Median(secs[t]), Timing.Median(cpus[t]));
            reporter.Log($"feedback T={t}: seconds per step over {Rounds} interleaved rounds {BenchSupport.List(secs[t])}, {StepProbe.Load()}");
        }
        return result;
    }

    public void Run(string name, Reporter reporter)
    {
        if (name == "feedback_scaling")
        {
            // Tiered JIT: without this the first (short) sequences ran on tier-0 code, up to 3x slower per step than the
            // later ones (bench/NOTES.md section 23), which made the ratios look sublinear.
            var (wx, wy) = BenchSupport.PermutedTrain(Batch, [784], seed: 1);
            var warm = FeedbackTrain.Build(1, 8);
            Timing.JitWarmup(() => StepProbe.Run(warm.AsTrainable(), Options(), new TensorDataset([wx], [wy]), 4));
            var times = MeasureInterleaved(reporter);
            foreach (int t in Ts) reporter.Report($"feedback_scaling_t{t}", times[t].Seconds / Batch, "s/sample");
            double t4 = times[4].Seconds;
            for (int i = 1; i < Ts.Length; i++)
                reporter.Log($"feedback_scaling: time({Ts[i]})/time(4) = {times[Ts[i]].Seconds / t4:F2}, " +
                             $"CPU time({Ts[i]})/CPU time(4) = {times[Ts[i]].Cpu / times[4].Cpu:F2} (linear: {Ts[i] / 4})");
            // Least-squares line time(T) = fixed + perStep·T over every T: the fixed part is the per-sequence work
            // (the hoisted input product and its gradient, the loss, the optimizer step), which makes time(32)/time(4)
            // fall below 8 although each added step costs the same; the largest residual shows whether it is a line.
            double mt = 0, ms = 0;
            foreach (int t in Ts) { mt += t; ms += times[t].Seconds; }
            mt /= Ts.Length; ms /= Ts.Length;
            double sxy = 0, sxx = 0;
            foreach (int t in Ts) { sxy += (t - mt) * (times[t].Seconds - ms); sxx += (t - mt) * (t - mt); }
            double perStep = sxy / sxx, fixedPart = ms - perStep * mt, worst = 0;
            foreach (int t in Ts)
                worst = Math.Max(worst, Math.Abs(times[t].Seconds - (fixedPart + perStep * t)) / times[t].Seconds);
            reporter.Log($"feedback_scaling: line fit time(T) = {fixedPart * 1e3:F2} ms + {perStep * 1e3:F3} ms x T; " +
                         $"(time(32) - fixed)/(time(4) - fixed) = {(times[32].Seconds - fixedPart) / (t4 - fixedPart):F2} (linear: 8)");
            reporter.Report("feedback_scaling", times[32].Seconds / t4, "x_time32_over_time4");
            reporter.Report("feedback_scaling_fit_max_residual", worst, "fraction");
            reporter.Report("feedback_scaling_t128_over_t4", times[128].Seconds / t4, "x_time128_over_time4");
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
