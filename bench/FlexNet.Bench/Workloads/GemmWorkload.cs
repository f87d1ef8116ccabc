using FlexNet.Kernels;

namespace FlexNet.Bench.Workloads;

/// <summary>
/// gemm_1024 / gemm_256 / gemm_64: square float32 C = A·B, as shared/bench/pytorch/gemm.py: A, B ~ N(0,1)
/// row-major [n,n], C preallocated; each repeat = a fixed number of back-to-back calls; 1.5 s of untimed calls for
/// the tiered JIT (<see cref="Timing.JitWarmup"/>), 1 warm-up repeat, 7 timed repeats, median in GFLOP/s (2·n³ FLOPs
/// per call).
/// </summary>
internal sealed class GemmWorkload : IWorkload
{
    private static readonly (int N, int Calls)[] Sizes = [(1024, 50), (256, 3000), (64, 100000)];
    private const int Repeats = 7;

    /// <summary>Median GFLOP/s of each size measured in this process (gemm_peak_fraction reuses gemm_1024's).</summary>
    internal static readonly Dictionary<int, double> Measured = new();

    public IEnumerable<string> Names => Sizes.Select(s => $"gemm_{s.N}");

    public int Order => 0;

    public void Run(string name, Reporter reporter)
    {
        int n = Sizes.Single(s => $"gemm_{s.N}" == name).N;
        double[] rates = MeasureRates(n);
        Measured[n] = Timing.Median(rates);
        reporter.Report(name, Measured[n], "GFLOP/s", rates);
    }

    /// <summary>GFLOP/s of each timed repeat of the size-<paramref name="n"/> workload.</summary>
    internal static double[] MeasureRates(int n)
    {
        int calls = Sizes.Single(s => s.N == n).Calls;
        var rng = new Random(0);
        float[] a = Timing.RandomNormal(rng, n * n);
        float[] b = Timing.RandomNormal(rng, n * n);
        float[] c = new float[n * n];

        // The tiered JIT promotes the driver's methods (the micro-kernels are compiled optimised at once) during the
        // first calls: without this the first timed repeats of gemm_1024 read 10-15 % low (session 9).
        Timing.JitWarmup(() => Gemm.Run(false, false, n, n, n, 1f, a, n, b, n, 0f, c, n));
        double[] times = Timing.TimeRepeats(() =>
        {
            for (int i = 0; i < calls; i++)
                Gemm.Run(false, false, n, n, n, 1f, a, n, b, n, 0f, c, n);
        }, Repeats, warmup: 1);

        double flops = 2.0 * n * n * n * calls;
        return times.Select(t => flops / t / 1e9).ToArray();
    }
}
