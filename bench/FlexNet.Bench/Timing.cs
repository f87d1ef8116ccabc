using System.Diagnostics;

namespace FlexNet.Bench;

/// <summary>Timing helpers matching common.py: untimed warm-up calls, then timed repeats, median.</summary>
internal static class Timing
{
    /// <summary>Calls <paramref name="run"/> <paramref name="warmup"/> times untimed, then <paramref name="repeats"/>
    /// times timed; returns the wall-clock seconds of each timed call.</summary>
    public static double[] TimeRepeats(Action run, int repeats, int warmup = 1)
    {
        for (int i = 0; i < warmup; i++) run();
        var times = new double[repeats];
        for (int i = 0; i < repeats; i++)
        {
            long t0 = Stopwatch.GetTimestamp();
            run();
            times[i] = Stopwatch.GetElapsedTime(t0).TotalSeconds;
        }
        return times;
    }

    /// <summary>
    /// .NET's tiered JIT compiles a method fully (with profile-guided optimisation) only after it has run for a while:
    /// call counting starts 100 ms after the last new method was compiled, and the optimised code is made on a
    /// background thread. A workload whose warm-up is short (small_rnn's 20 iterations take ~50 ms) would otherwise
    /// time partly unoptimised code (35 µs instead of ~3 µs per small-RNN step when it runs alone in the process).
    /// So before the spec's own warm-up, <paramref name="run"/> is called untimed until <paramref name="seconds"/>
    /// have passed (at least 3 times); returns the mean seconds of the first call and of the last call.
    /// </summary>
    public static (double First, double Last) JitWarmup(Action run, double seconds = 1.5)
    {
        long start = Stopwatch.GetTimestamp();
        double first = 0, last = 0;
        for (int i = 0; i < 3 || Stopwatch.GetElapsedTime(start).TotalSeconds < seconds; i++)
        {
            long t0 = Stopwatch.GetTimestamp();
            run();
            last = Stopwatch.GetElapsedTime(t0).TotalSeconds;
            if (i == 0) first = last;
        }
        return (first, last);
    }

    /// <summary>Median (mean of the two middle values for an even count), as Python's statistics.median.</summary>
    public static double Median(IReadOnlyList<double> xs)
    {
        if (xs.Count == 0) throw new ArgumentException("median of an empty list");
        var s = xs.OrderBy(x => x).ToArray();
        int h = s.Length / 2;
        return s.Length % 2 == 1 ? s[h] : (s[h - 1] + s[h]) / 2;
    }

    /// <summary>Standard normal samples (Box–Muller) from a seeded generator.</summary>
    public static float[] RandomNormal(Random rng, int count)
    {
        var x = new float[count];
        for (int i = 0; i < count; i += 2)
        {
            double u1 = 1.0 - rng.NextDouble(), u2 = rng.NextDouble();
            double r = Math.Sqrt(-2.0 * Math.Log(u1)), t = 2 * Math.PI * u2;
            x[i] = (float)(r * Math.Cos(t));
            if (i + 1 < count) x[i + 1] = (float)(r * Math.Sin(t));
        }
        return x;
    }
}
