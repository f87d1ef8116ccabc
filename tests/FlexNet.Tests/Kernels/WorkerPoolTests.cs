using FlexNet.Kernels;

namespace FlexNet.Tests.Kernels;

public sealed class WorkerPoolTests
{
    private sealed class Squares(int[] hits, long[] values) : IParallelBody
    {
        public void Run(int i)
        {
            Interlocked.Increment(ref hits[i]);
            values[i] = (long)i * i;
        }
    }

    [Fact]
    public void EveryItemRunsExactlyOnceOverManyRegions()
    {
        for (int count = 0; count < 200; count += 7)
        {
            var hits = new int[count];
            var values = new long[count];
            WorkerPool.For(count, new Squares(hits, values));
            for (int i = 0; i < count; i++)
            {
                Assert.Equal(1, hits[i]);
                Assert.Equal((long)i * i, values[i]);
            }
        }
    }

    private sealed class WhoRuns(int[] threads) : IParallelBody
    {
        public void Run(int i) => threads[i] = Environment.CurrentManagedThreadId;
    }

    [Fact]
    public void TheCallerRunsItemZeroOfEveryRegion()
    {
        // the split matrix-vector products rely on it: the same core reads the same block of weights call after call
        // (before, a polling worker claimed item 0 in about a fifth of back-to-back regions on Zen 5)
        int me = Environment.CurrentManagedThreadId;
        for (int r = 0; r < 400; r++)
        {
            int count = 2 + r % 3;
            var threads = new int[count];
            WorkerPool.For(count, new WhoRuns(threads));
            Assert.True(threads[0] == me, $"region {r} ({count} items): item 0 ran on thread {threads[0]}, the caller is {me}");
            Assert.All(threads, t => Assert.NotEqual(0, t));
        }
    }

    private sealed class Nested(int[] hits) : IParallelBody
    {
        public void Run(int i) => WorkerPool.For(10, new Both(new Squares(new int[10], new long[10]), hits, i));
    }

    private sealed class Both(Squares inner, int[] hits, int outer) : IParallelBody
    {
        public void Run(int j)
        {
            inner.Run(j);
            Interlocked.Increment(ref hits[outer * 10 + j]);
        }
    }

    [Fact]
    public void NestedAndConcurrentRegionsRunInlineAndComplete()
    {
        var hits = new int[16 * 10];
        WorkerPool.For(16, new Nested(hits));
        Assert.All(hits, h => Assert.Equal(1, h));

        var a = new int[5000];
        var b = new int[5000];
        var t1 = new Thread(() => { for (int r = 0; r < 50; r++) WorkerPool.For(100, new Squares(a, new long[5000])); });
        var t2 = new Thread(() => { for (int r = 0; r < 50; r++) WorkerPool.For(100, new Squares(b, new long[5000])); });
        t1.Start(); t2.Start(); t1.Join(); t2.Join();
        for (int i = 0; i < 100; i++)
        {
            Assert.Equal(50, a[i]);
            Assert.Equal(50, b[i]);
        }
    }

    private sealed class Holds(ManualResetEventSlim started, ManualResetEventSlim release) : IParallelBody
    {
        public void Run(int i)
        {
            if (i != 0) return;
            started.Set();
            release.Wait(TimeSpan.FromSeconds(30));
        }
    }

    private sealed class Records : IParallelBody
    {
        public readonly bool[] Inside = new bool[3];

        public void Run(int i) => Inside[i] = WorkerPool.InsideRegion;
    }

    [Fact]
    public void ItemsRunInlineBecauseAnotherRegionIsLive_CountAsInsideARegion()
    {
        if (Environment.ProcessorCount < 2) Assert.Skip("one core: every region runs inline");
        using var started = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        var holder = new Thread(() => WorkerPool.For(2, new Holds(started, release)));
        holder.Start();
        try
        {
            Assert.True(started.Wait(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken), "the holding region did not start");
            var rec = new Records();
            WorkerPool.For(3, rec); // the gate is taken: the items run here
            Assert.Equal([true, true, true], rec.Inside);
            Assert.False(WorkerPool.InsideRegion); // and the flag is put back afterwards
        }
        finally
        {
            release.Set();
            holder.Join();
        }
    }

    private sealed class Throws : IParallelBody
    {
        public void Run(int i)
        {
            if (i == 13) throw new InvalidOperationException("item 13");
        }
    }

    [Fact]
    public void AnExceptionOfAnItemReachesTheCallerAndThePoolKeepsWorking()
    {
        var e = Assert.Throws<InvalidOperationException>(() => WorkerPool.For(40, new Throws()));
        Assert.Equal("item 13", e.Message);
        var hits = new int[40];
        WorkerPool.For(40, new Squares(hits, new long[40]));
        Assert.All(hits, h => Assert.Equal(1, h));
    }

    [Theory]
    [InlineData(0)] // well inside the tight poll (20 µs)
    [InlineData(40)] // past it: the back-off
    public void WaitUntilZero_ReturnsOnlyOnceAnotherThreadHasWrittenZero(int delayMs)
    {
        int value = 3;
        long written = 0;
        var setter = new Thread(() =>
        {
            if (delayMs > 0) Thread.Sleep(delayMs);
            else Thread.SpinWait(200);
            Volatile.Write(ref written, System.Diagnostics.Stopwatch.GetTimestamp());
            Volatile.Write(ref value, 0);
        });
        setter.Start();
        WorkerPool.WaitUntilZero(ref value);
        long returned = System.Diagnostics.Stopwatch.GetTimestamp();
        Assert.Equal(0, Volatile.Read(ref value));
        long w = Volatile.Read(ref written);
        Assert.True(w != 0 && w <= returned, $"returned at {returned}, the zero was written at {w}");
        setter.Join();
        // already zero: returns at once
        WorkerPool.WaitUntilZero(ref value);
        Assert.Equal(0, value);
    }
}
