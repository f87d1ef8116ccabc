using System.Diagnostics;
using FlexNet.Autodiff;
using FlexNet.Kernels;
using FlexNet.Losses;
using FlexNet.Optimizers;
using FlexNet.Training;

namespace FlexNet.Bench.Workloads;

/// <summary>
/// Subnormal floats in the backward pass of long sequences (<see cref="Autograd.FlushSubnormals"/>):
/// <list type="bullet">
/// <item><c>subnormal_gemm_slowdown</c>: this CPU's penalty for subnormal operands: a 96³ GEMM (one thread)
/// whose A holds subnormals (N(0,1)·1e-39) over the same with normal A (N(0,1)); 1.0 = no penalty. The log adds
/// subnormal results (A, B ~ N(0,1)·1e-20).</item>
/// <item><c>feedback_subnormal_grads_per_step_t128</c>: subnormal gradient values handed to backward nodes per
/// training step of the feedback network at T = 128 with the flush off (counted, not changed), and
/// <c>feedback_subnormals_flushed_per_step_t128</c> with the flush on (the values it set to zero there; no
/// subnormal reaches a kernel after that). Deterministic counts, unlike timings on a shared machine. The log
/// gives seconds per step both ways and the flush's share (values scanned per step).</item>
/// </list>
/// </summary>
internal sealed class SubnormalWorkload : IWorkload
{
    private const int Warmup = 3, Measured = 5, T = 128;
    private (double Off, double On)? _counts;

    public IEnumerable<string> Names => ["subnormal_gemm_slowdown", "feedback_subnormal_grads_per_step_t128", "feedback_subnormals_flushed_per_step_t128"];

    public int Order => 78;

    public void Run(string name, Reporter reporter)
    {
        if (name == "subnormal_gemm_slowdown")
        {
            GemmPenalty(reporter);
            return;
        }
        _counts ??= Counts(reporter);
        if (name == "feedback_subnormal_grads_per_step_t128") reporter.Report(name, _counts.Value.Off, "values");
        else reporter.Report(name, _counts.Value.On, "values");
    }

    private static void GemmPenalty(Reporter reporter)
    {
        const int n = 96, calls = 2000; // 96³ multiply-adds: below the parallel threshold, one thread
        var rng = new Random(0);
        float[] Scaled(float s) => Timing.RandomNormal(rng, n * n).Select(v => v * s).ToArray();
        float[] a = Scaled(1), b = Scaled(1), sub = Scaled(1e-39f), small = Scaled(1e-20f), c = new float[n * n];
        int subs = sub.Count(float.IsSubnormal);
        double Time(float[] x, float[] y)
        {
            return Timing.Median(Timing.TimeRepeats(() =>
            {
                for (int i = 0; i < calls; i++) Gemm.Run(false, false, n, n, n, 1f, x, n, y, n, 0f, c, n);
            }, 5));
        }
        double normal = Time(a, b), subA = Time(sub, b), subOut = Time(small, small);
        int outSubs = c.Count(float.IsSubnormal);
        // the flush's own cost: passes over a [128, 256] gradient (the feedback network's h1), normal data
        var g = Scaled(1);
        Array.Resize(ref g, 128 * 256);
        for (int i = n * n; i < g.Length; i++) g[i] = g[i - n * n];
        const int passes = 20000;
        double flushSec = Timing.Median(Timing.TimeRepeats(() =>
        {
            for (int i = 0; i < passes; i++) Subnormals.FlushToZero<float>(g);
        }, 5));
        reporter.Log($"subnormal flush pass: {flushSec / passes / g.Length * 1e9:F3} ns per value ({flushSec / passes * 1e6:F2} us per [128, 256] gradient)");
        reporter.Report("subnormal_gemm_slowdown", subA / normal, "x_time_subnormal_over_normal");
        reporter.Log($"subnormal_gemm_slowdown: 96^3 GEMM x{calls} on one thread: normal {normal:F4} s, A subnormal ({subs} of {n * n}) {subA:F4} s, " +
                     $"subnormal results ({outSubs} of {n * n}) {subOut:F4} s = {subOut / normal:F2}x; {StepProbe.Load()}");
    }

    private static (double Off, double On) Counts(Reporter reporter)
    {
        var (x, y) = BenchSupport.PermutedTrain(FeedbackTrain.Batch, [784], seed: 0);
        bool old = Autograd.FlushSubnormals;
        try
        {
            (double, double) Run(bool flush)
            {
                Autograd.FlushSubnormals = flush;
                Autograd.SubnormalCensus = !flush;
                var net = FeedbackTrain.Build(0, T);
                var options = new TrainerOptions { BatchSize = FeedbackTrain.Batch, Loss = new CrossEntropy(), Optimizer = new Sgd(0.01, 0.9) };
                long c0 = 0, s0 = 0;
                var probe = new CountingProbe(new TensorDataset([x], [y]), Warmup, () => { c0 = Autograd.SubnormalsFlushed; s0 = Autograd.SubnormalsScanned; });
                var p = StepProbe.Run(net.AsTrainable(), options, probe, Warmup + Measured);
                double perStep = (Autograd.SubnormalsFlushed - c0) / (double)(Measured + 1);
                double scanned = (Autograd.SubnormalsScanned - s0) / (double)(Measured + 1);
                double sec = p.Median(k => p.Seconds(k), Warmup);
                reporter.Log($"feedback T={T} flush {(flush ? "on" : "off")}: {perStep:F0} subnormal gradient values per step, " +
                             $"{scanned:F0} values scanned by the flush per step, {sec:F3} s per step; {StepProbe.Load()}");
                return (perStep, sec);
            }
            var (off, secOff) = Run(false);
            var (on, secOn) = Run(true);
            reporter.Log($"feedback T={T}: time per step flush on / off = {secOn / secOff:F3}");
            return (off, on);
        }
        finally
        {
            Autograd.FlushSubnormals = old;
            Autograd.SubnormalCensus = false;
        }
    }

    /// <summary>Calls <paramref name="atWarmupEnd"/> when the trainer asks for batch number <paramref name="warmup"/>
    /// (counts are taken from there; the steps after the last measured one add to them, hence the +1 above).</summary>
    private sealed class CountingProbe(IDataset inner, int warmup, Action atWarmupEnd) : IDataset
    {
        private int _calls;
        public int Count => inner.Count;
        public Batch GetBatch(ReadOnlySpan<int> indices)
        {
            if (_calls++ == warmup) atWarmupEnd();
            return inner.GetBatch(indices);
        }
    }
}
