using System.Diagnostics;
using FlexNet.Kernels;

namespace FlexNet.Tests.Kernels;

/// <summary>
/// What the session-18 mutation run of WorkerPool and GemmPackedB left (their results are the same bits with or without
/// a worker and whatever the split, so these check who runs what): the caller and a named background worker both run
/// items of a region, no more threads than cores; a packed-B product with m ≥ n splits by row tiles, m &lt; n by column
/// panels, a small one not at all.
/// </summary>
[Collection("Training")] // alone: a region another test holds would make this one run inline on the caller
public sealed class KernelMutationGapTests18
{
    private sealed class Slow(int[] hits, int[] threads, string?[] names, bool[] background) : IParallelBody
    {
        public void Run(int i)
        {
            Interlocked.Increment(ref hits[i]);
            threads[i] = Environment.CurrentManagedThreadId;
            names[i] = Thread.CurrentThread.Name;
            background[i] = Thread.CurrentThread.IsBackground;
            var sw = Stopwatch.StartNew();
            while (sw.Elapsed.TotalMilliseconds < 2) Thread.SpinWait(20); // long enough for a sleeping worker to wake
        }
    }

    [Fact]
    public void ARegionOfSlowItems_RunsOnTheCallerAndOnNamedBackgroundWorkers_NoMoreThreadsThanCores()
    {
        if (Environment.ProcessorCount < 2) Assert.Skip("one core: the items run on the caller");
        const int count = 8;
        var hits = new int[count];
        var threads = new int[count];
        var names = new string?[count];
        var background = new bool[count];
        Thread.Sleep(5); // the workers stop polling 20 µs after a region: this one must wake them
        WorkerPool.For(count, new Slow(hits, threads, names, background));
        Assert.All(hits, h => Assert.Equal(1, h));
        int caller = Environment.CurrentManagedThreadId;
        Assert.Contains(caller, threads);
        var others = Enumerable.Range(0, count).Where(i => threads[i] != caller).ToArray();
        Assert.NotEmpty(others);
        var workerNames = Enumerable.Range(1, Environment.ProcessorCount - 1).Select(w => (string?)$"FlexNet worker {w}").ToHashSet();
        foreach (int i in others)
        {
            Assert.True(background[i], $"item {i} ran on a foreground thread '{names[i]}'");
            Assert.Contains(names[i], workerNames);
        }
        Assert.InRange(threads.Distinct().Count(), 2, Environment.ProcessorCount);
    }

    private static int Splits(bool rows) => rows
        ? PackedDriver<float, Kernel512<float>>.RowSplitsOnThisThread + PackedDriver<float, Kernel256<float>>.RowSplitsOnThisThread
          + PackedDriver<float, Kernel128<float>>.RowSplitsOnThisThread + PackedDriver<float, KernelScalar<float>>.RowSplitsOnThisThread
        : PackedDriver<float, Kernel512<float>>.ColumnSplitsOnThisThread + PackedDriver<float, Kernel256<float>>.ColumnSplitsOnThisThread
          + PackedDriver<float, Kernel128<float>>.ColumnSplitsOnThisThread + PackedDriver<float, KernelScalar<float>>.ColumnSplitsOnThisThread;

    [Theory]
    [InlineData(203, 70, 150, 1, 0)] // m ≥ n, 2.1 M multiply-adds: by rows
    [InlineData(70, 70, 300, 1, 0)] // m = n: by rows
    [InlineData(67, 129, 130, 0, 1)] // m < n: by columns
    [InlineData(203, 70, 70, 0, 0)] // 995 K multiply-adds, below 2²⁰: not split
    [InlineData(4000, 1, 300, 1, 0)] // one column against 4,000 rows (1.2 M multiply-adds): by rows
    public void PackedProducts_SplitByRowsWhenMIsAtLeastN_ByColumnsOtherwise(int m, int n, int k, int rows, int columns)
    {
        if (Environment.ProcessorCount < 2) Assert.Skip("one core: nothing splits");
        var rng = new Random(m + n + k);
        float[] a = new float[m * k], b = new float[k * n], c = new float[m * n];
        for (int i = 0; i < a.Length; i++) a[i] = (float)rng.NextDouble();
        for (int i = 0; i < b.Length; i++) b[i] = (float)rng.NextDouble();
        int r0 = Splits(true), c0 = Splits(false);
        using (var pb = new GemmPackedB<float>(false, k, n, b, n)) pb.Multiply(false, m, 1f, a, k, 0f, c, n);
        Assert.Equal(rows, Splits(true) - r0);
        Assert.Equal(columns, Splits(false) - c0);
        // and the product is right: one row and one column by hand
        foreach (int i in new[] { 0, m - 1 })
            foreach (int j in new[] { 0, n - 1 })
            {
                double want = 0;
                for (int p = 0; p < k; p++) want += (double)a[i * k + p] * b[p * n + j];
                Assert.True(Math.Abs(c[i * n + j] - want) <= 1e-4 * Math.Abs(want) + 1e-5, $"C[{i},{j}] = {c[i * n + j]}, want {want}");
            }
    }
}
