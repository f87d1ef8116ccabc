using FlexNet.Tensors;
using Xunit;

namespace FlexNet.Tests.Tensors;

/// <summary>The pool's per-thread cache and its per-thread accounting (live bytes, peak, outstanding buffers).</summary>
public sealed class BufferPoolTests
{
    [Fact]
    public void SmallBuffersComeBackToTheSameThread_WithoutAllocating()
    {
        var a = BufferPool.Rent(DType.Float32, 100); // bucket of 128
        BufferPool.Return(a);
        var b = BufferPool.Rent(DType.Float32, 120);
        Assert.Same(a, b); // the thread's own cache hands back the buffer it just got
        BufferPool.Return(b);
        // warm, then rent/return in a loop: no managed allocation at all
        for (int i = 0; i < 100; i++)
        {
            BufferPool.Return(BufferPool.Rent(DType.Float64, 1000));
            BufferPool.Return(BufferPool.Rent(DType.Float32, 16));
        }
        // The fewest bytes over three rounds of 10,000: a pool that allocated would do so in every round (80 MB and
        // more), while the runtime now and then counts a few KB of its own on this thread (one round of the whole suite
        // in about ten read 12-48 KB once large buffers of other tests had set off garbage collections).
        long fewest = long.MaxValue;
        for (int round = 0; round < 3 && fewest > 0; round++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 10_000; i++)
            {
                var x = BufferPool.Rent(DType.Float64, 1000);
                var y = BufferPool.Rent(DType.Float32, 16);
                BufferPool.Return(y);
                BufferPool.Return(x);
            }
            fewest = Math.Min(fewest, GC.GetAllocatedBytesForCurrentThread() - before);
        }
        Assert.Equal(0, fewest);
    }

    [Fact]
    public void MoreBuffersThanTheCacheHolds_AreAllReusableAndDistinct()
    {
        var rented = new Array[40];
        for (int i = 0; i < rented.Length; i++) rented[i] = BufferPool.Rent(DType.Int32, 300);
        Assert.Equal(rented.Length, rented.Distinct().Count());
        foreach (var r in rented) BufferPool.Return(r);
        var again = new Array[40];
        for (int i = 0; i < again.Length; i++) again[i] = BufferPool.Rent(DType.Int32, 300);
        Assert.Equal(again.Length, again.Distinct().Count()); // never the same buffer twice at once
        foreach (var r in again)
        {
            Assert.IsType<int[]>(r);
            Assert.Equal(512, r.Length);
            BufferPool.Return(r);
        }
    }

    [Fact]
    public void LiveAndPeakBytes_FollowThisThreadsRentsAndReturns()
    {
        long live0 = BufferPool.LiveBytes, out0 = BufferPool.Outstanding;
        BufferPool.ResetPeak();
        var a = BufferPool.Rent(DType.Float32, 1000);  // 1024 floats = 4096 B
        var b = BufferPool.Rent(DType.Float64, 3);     // 16 doubles (the smallest bucket) = 128 B
        Assert.Equal(live0 + 4096 + 128, BufferPool.LiveBytes);
        Assert.Equal(out0 + 2, BufferPool.Outstanding);
        BufferPool.Return(a);
        Assert.Equal(live0 + 128, BufferPool.LiveBytes);
        Assert.Equal(live0 + 4096 + 128, BufferPool.PeakLiveBytes);
        // another thread's rents do not show here
        var t = new Thread(() => BufferPool.Return(BufferPool.Rent(DType.Float32, 1 << 20)));
        t.Start();
        t.Join();
        Assert.Equal(live0 + 4096 + 128, BufferPool.PeakLiveBytes);
        BufferPool.Forget(b);
        Assert.Equal(live0, BufferPool.LiveBytes);
        Assert.Equal(out0, BufferPool.Outstanding);
    }
}
