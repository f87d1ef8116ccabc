using System.Diagnostics;
using System.Globalization;
using System.Runtime.Intrinsics;

namespace FlexNet.Bench.Workloads;

/// <summary>
/// Figures about the machine rather than a model:
/// <list type="bullet">
/// <item><c>gemm_peak_fraction</c>: gemm_1024 (this run's figure if it ran, else measured here the same way) over
/// the FMA peak cores × FMA units × lanes × 2 × clock. Cores: <see cref="Environment.ProcessorCount"/>; lanes:
/// float32 lanes of the widest accelerated vector; FMA units per core from the CPU model (a table below, printed
/// with the rule used; <c>FLEXNET_FMA_UNITS</c> overrides it); clock: measured at run time (a chain of dependent
/// one-cycle integer ops, <see cref="MeasuredClockMHz"/>), since under a hypervisor lscpu has no "CPU max MHz" and
/// /proc/cpuinfo's "cpu MHz" is the nominal clock, which boost exceeds (the fraction then looked higher than it is);
/// the nominal clock and the fraction it would give are printed beside it.</item>
/// <item><c>busy_machine_slowdown</c>: the cnn_train workload run in a child process with both threads
/// (<c>DOTNET_PROCESSOR_COUNT</c> = cores) while another child process (<c>sh</c> spinning) keeps one core busy,
/// over the same with <c>DOTNET_PROCESSOR_COUNT=1</c>: time(cores threads) / time(1 thread); ≤ 1 means a busy
/// machine does not make more threads slower than one.</item>
/// </list>
/// </summary>
internal sealed class MachineWorkload : IWorkload
{
    public IEnumerable<string> Names => ["gemm_peak_fraction", "busy_machine_slowdown"];

    public int Order => 80;

    public void Run(string name, Reporter reporter)
    {
        if (name == "gemm_peak_fraction") PeakFraction(reporter);
        else BusySlowdown(reporter);
    }

    private static void PeakFraction(Reporter reporter)
    {
        if (!GemmWorkload.Measured.TryGetValue(1024, out double gflops)) gflops = Timing.Median(GemmWorkload.MeasureRates(1024));
        int cores = Environment.ProcessorCount;
        int lanes = Vector512.IsHardwareAccelerated ? 16 : Vector256.IsHardwareAccelerated ? 8 : 4;
        var (units, unitsRule) = FmaUnits(lanes);
        var (nominal, clockSource) = ClockMHz();
        var (measured, spread) = MeasuredClockMHz();
        double peak = cores * units * lanes * 2 * measured / 1000;
        double nominalPeak = cores * units * lanes * 2 * nominal / 1000;
        reporter.Report("gemm_peak_fraction", gflops / peak, "fraction");
        reporter.Log($"gemm_peak_fraction: gemm_1024 {gflops:F1} GFLOP/s over peak {peak:F1} GFLOP/s = {cores} cores x {units} FMA units " +
                     $"({unitsRule}) x {lanes} float32 lanes x 2 flops x {measured / 1000:F3} GHz measured (a chain of dependent " +
                     $"1-cycle integer ops, best of 25 runs, runs within {spread:P0} of it); nominal {nominal / 1000:F3} GHz ({clockSource}) " +
                     $"would give peak {nominalPeak:F1} GFLOP/s, fraction {gflops / nominalPeak:F3}; {StepProbe.Load()}");
    }

    /// <summary>The core clock this thread runs at, in MHz: the time of a chain of dependent integer adds and xors,
    /// each one cycle of latency on every x86 core (no reordering can overlap them), 16 per loop iteration (the
    /// loop counter runs beside the chain). Best of 25 runs of ~4 ms, so a run the OS interrupted does not count;
    /// also returns how far the median run was below the best (load on the machine).</summary>
    internal static (double MHz, double Spread) MeasuredClockMHz()
    {
        const long iterations = 1L << 20; // 16.8 M dependent ops: ~4 ms at 4 GHz
        ulong sink = Chain(1 << 16, 3, 5); // compiled and warm
        var rates = new double[25];
        for (int r = 0; r < rates.Length; r++)
        {
            long t0 = Stopwatch.GetTimestamp();
            sink += Chain(iterations, (ulong)r | 1, 0x9E3779B97F4A7C15UL);
            rates[r] = iterations * 16 / Stopwatch.GetElapsedTime(t0).TotalSeconds / 1e6;
        }
        if (sink == 42) Console.Error.Write(""); // keeps the result alive
        Array.Sort(rates);
        double best = rates[^1];
        return (best, 1 - rates[rates.Length / 2] / best);
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static ulong Chain(long iterations, ulong y, ulong z)
    {
        ulong x = y;
        for (long i = 0; i < iterations; i++)
        {
            x = (x + y) ^ z; x = (x + y) ^ z; x = (x + y) ^ z; x = (x + y) ^ z;
            x = (x + y) ^ z; x = (x + y) ^ z; x = (x + y) ^ z; x = (x + y) ^ z;
        }
        return x;
    }

    private static Dictionary<string, string> CpuInfo()
    {
        var d = new Dictionary<string, string>(StringComparer.Ordinal);
        try
        {
            foreach (string line in File.ReadLines("/proc/cpuinfo"))
            {
                if (line.Length == 0) break; // first processor only
                int c = line.IndexOf(':');
                if (c > 0) d.TryAdd(line[..c].Trim(), line[(c + 1)..].Trim());
            }
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return d;
    }

    /// <summary>FMA units of the lane width in use, per core, and the rule that gave it.</summary>
    private static (int Units, string Rule) FmaUnits(int lanes)
    {
        if (int.TryParse(Environment.GetEnvironmentVariable("FLEXNET_FMA_UNITS"), out int u) && u > 0) return (u, "FLEXNET_FMA_UNITS");
        var info = CpuInfo();
        string vendor = info.GetValueOrDefault("vendor_id", "?");
        int.TryParse(info.GetValueOrDefault("cpu family", "0"), out int family);
        string model = info.GetValueOrDefault("model name", "?");
        if (vendor == "AuthenticAMD")
        {
            // Zen 5 (family 0x1A): four FP pipes, two of them FMA, 512 bits wide on server parts.
            if (family >= 0x1A) return (2, $"AMD family {family} (Zen 5): 2 FMA pipes, full-width AVX-512");
            // Zen and Zen+ (family 0x17, models below 0x30): two 128-bit FMA pipes, so one 256-bit FMA per cycle.
            int.TryParse(info.GetValueOrDefault("model", "0"), out int cpuModel);
            if (family == 0x17 && cpuModel < 0x30)
                return (lanes >= 8 ? 1 : 2, $"AMD family {family} model {cpuModel} (Zen/Zen+): 2 FMA pipes of 128 bits");
            // Zen 2-4 (0x17 from model 0x30, 0x19): two 256-bit FMA pipes; AVX-512 (Zen 4) runs as two halves = one 512-bit FMA.
            if (lanes == 16) return (1, $"AMD family {family} (Zen 4): AVX-512 on two 256-bit FMA pipes");
            return (2, $"AMD family {family}: 2 FMA pipes of 256 bits");
        }
        if (vendor == "GenuineIntel")
            return (2, $"Intel '{model}': 2 FMA ports (p0, p5/p1), true of server AVX-512 and client AVX2 cores; some Xeon Bronze/Silver have 1 (set FLEXNET_FMA_UNITS)");
        return (2, $"vendor {vendor}: assumed 2 (set FLEXNET_FMA_UNITS)");
    }

    /// <summary>The clock in MHz and where it was read.</summary>
    private static (double MHz, string Source) ClockMHz()
    {
        try
        {
            var psi = new ProcessStartInfo("lscpu") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            using var p = Process.Start(psi);
            if (p is not null)
            {
                string output = p.StandardOutput.ReadToEnd();
                p.WaitForExit();
                foreach (string line in output.Split('\n'))
                    if (line.StartsWith("CPU max MHz:", StringComparison.Ordinal)
                        && double.TryParse(line["CPU max MHz:".Length..].Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out double max) && max > 0)
                        return (max, "lscpu 'CPU max MHz'");
            }
        }
        catch (System.ComponentModel.Win32Exception) { }
        if (CpuInfo().TryGetValue("cpu MHz", out string? s) && double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double mhz) && mhz > 0)
            return (mhz, "/proc/cpuinfo 'cpu MHz' of processor 0; lscpu has no 'CPU max MHz' here");
        throw new InvalidOperationException("gemm_peak_fraction: no clock in lscpu or /proc/cpuinfo");
    }

    private static void BusySlowdown(Reporter reporter)
    {
        int cores = Environment.ProcessorCount;
        if (cores < 2) throw new InvalidOperationException("busy_machine_slowdown needs at least 2 cores");
        using var busy = Process.Start(new ProcessStartInfo("/bin/sh", ["-c", "while :; do :; done"]) { UseShellExecute = false })
                         ?? throw new InvalidOperationException("busy_machine_slowdown: cannot start the busy process");
        try
        {
            double both = ChildCnn(cores, reporter);
            double one = ChildCnn(1, reporter);
            reporter.Report("busy_machine_slowdown", one / both, "x_time_threads_over_time_1thread");
            reporter.Log($"busy_machine_slowdown: cnn_train with one core kept busy: {both:F0} samples/s with {cores} threads, {one:F0} with 1; {StepProbe.Load()}");
        }
        finally
        {
            busy.Kill();
            busy.WaitForExit();
        }
    }

    /// <summary>cnn_train's samples/s in a child run of this program with <paramref name="threads"/> processors.</summary>
    private static double ChildCnn(int threads, Reporter reporter)
    {
        string host = Environment.ProcessPath ?? "dotnet";
        string dll = typeof(MachineWorkload).Assembly.Location;
        var psi = new ProcessStartInfo(host) { RedirectStandardOutput = true, UseShellExecute = false };
        if (!Path.GetFileNameWithoutExtension(host).Equals("FlexNet.Bench", StringComparison.Ordinal)) psi.ArgumentList.Add(dll);
        psi.ArgumentList.Add("cnn_train");
        psi.Environment["DOTNET_PROCESSOR_COUNT"] = threads.ToString(CultureInfo.InvariantCulture);
        using var p = Process.Start(psi) ?? throw new InvalidOperationException("busy_machine_slowdown: cannot start the child");
        string output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        foreach (string line in output.Split('\n'))
        {
            var f = line.Split(' ');
            if (f.Length >= 2 && f[0] == "cnn_train" && double.TryParse(f[1], NumberStyles.Float, CultureInfo.InvariantCulture, out double v))
                return v;
        }
        throw new InvalidOperationException($"busy_machine_slowdown: the child with {threads} thread(s) printed no cnn_train figure (exit {p.ExitCode})");
    }
}
