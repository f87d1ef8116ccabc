using System.Runtime.ExceptionServices;
using FlexNet.Tensors;
using Xunit;

namespace FlexNet.Tests.Tensors;

/// <summary>
/// The Stryker survivors of run 8 in BufferPool, Storage, AllocationBudget and Tensor.Recycling (TensorScope and
/// Tensor.Autodiff: <see cref="TensorMutationGapScopeTests"/>): pool accounting seen through
/// <see cref="BufferPool.Outstanding"/>, the identity of reused objects, and allocation counts. Several run on a new thread, because the per-thread state (the pool's cache, the
/// shell pool, the spare scope and list) is built once per thread, so only a fresh thread runs the code that builds it.
/// </summary>
[Collection("Training")]
public sealed class TensorMutationGapPoolTests
{
    internal static void OnFreshThread(Action body)
    {
        Exception? error = null;
        var th = new Thread(() =>
        {
            try { body(); }
            catch (Exception e) { error = e; }
        });
        th.Start();
        th.Join();
        if (error is not null) ExceptionDispatchInfo.Capture(error).Throw();
    }

    // ---- AllocationBudget ----

    [Fact]
    public void Budget_ChargesFourOrEightBytesPerElement_AndNamesTheFile()
    {
        using (AllocationBudget.Limit(100, "net.fnm"))
        {
            _ = Tensor.Zeros([25]);                    // 100 bytes: exactly the cap
            var e = Assert.Throws<ModelFormatException>(() => Tensor.Zeros([1], DType.Int32));
            Assert.Equal("net.fnm: building it needs more than 100 bytes of tensors (the next buffer alone is 4 bytes), out of " +
                         "proportion to the weights the file stores; the architecture declares layers larger than its tensors.", e.Message);
        }
        using (AllocationBudget.Limit(100, "b"))
        {
            _ = Tensor.Zeros([12], DType.Float64);     // 96 bytes
            var e = Assert.Throws<ModelFormatException>(() => Tensor.Zeros([1], DType.Float64));
            Assert.Contains("(the next buffer alone is 8 bytes)", e.Message);
        }
        using (AllocationBudget.Limit(100, "c"))
            Assert.Throws<ModelFormatException>(() => Tensor.Zeros([13], DType.Float64));
        using (AllocationBudget.Limit(100, "d"))
        {
            _ = Tensor.Zeros([20], DType.Int32);
            _ = Tensor.Zeros([5]);
        }
        _ = Tensor.Zeros([1000]); // no cap once the scope ended
    }

    // ---- BufferPool ----

    [Fact]
    public void Rent_RoundsUpToAPowerOfTwoOfAtLeast16()
    {
        foreach (var (n, len) in new[] { (1, 16), (16, 16), (17, 32), (32, 32), (33, 64), (1000, 1024), (1024, 1024) })
        {
            var a = BufferPool.Rent(DType.Float32, n);
            Assert.Equal(len, a.Length);
            BufferPool.Return(a);
        }
    }

    [Fact]
    public void AFreshThreadsCache_HoldsEightBuffersOfEverySizeUpTo16K_PerDType()
    {
        OnFreshThread(() =>
        {
            Assert.Equal(0, BufferPool.Outstanding);
            foreach (var dt in new[] { DType.Float32, DType.Float64, DType.Int32 })
                for (int bits = 4; bits <= 14; bits++)
                {
                    var rented = new Array[8];
                    for (int i = 0; i < 8; i++) rented[i] = BufferPool.Rent(dt, 1 << bits);
                    foreach (var r in rented) BufferPool.Return(r);
                    // the thread's cache hands the same eight back (last in, first out)
                    for (int i = 7; i >= 0; i--) Assert.Same(rented[i], BufferPool.Rent(dt, 1 << bits));
                    foreach (var r in rented) BufferPool.Return(r);
                }
            Assert.Equal(0, BufferPool.Outstanding);
            // peak: reset to the live bytes
            var big = BufferPool.Rent(DType.Float64, 1000);
            BufferPool.Return(big);
            Assert.Equal(8L * (1 << 14) * 8, BufferPool.PeakLiveBytes); // eight buffers of 2^14 doubles at once
            BufferPool.ResetPeak();
            Assert.Equal(0, BufferPool.PeakLiveBytes);
        });
    }

    [Fact]
    public void LargeBuffers_GoBackToTheSharedBuckets()
    {
        // 2^21 Int32 (8 MB): a size no other test rents, and above the thread caches
        var a = BufferPool.Rent(DType.Int32, (1 << 21) - 5);
        Assert.Equal(1 << 21, a.Length);
        BufferPool.Return(a);
        var b = BufferPool.Rent(DType.Int32, 1 << 21);
        Assert.Same(a, b);
        BufferPool.Forget(b);
    }

    [Fact]
    public void TheSharedBuckets_CountWhatTheyHold_SoRentingFreesRoomForReturns()
    {
        // 600 returns and rents of one 8 MB buffer pass 4 GB (MaxPooledBytes) in total: the buffer keeps coming back
        // only if each rent takes its bytes off the pool's count again
        var a = BufferPool.Rent(DType.Int32, 1 << 21);
        for (int i = 0; i < 600; i++)
        {
            BufferPool.Return(a);
            Assert.Same(a, BufferPool.Rent(DType.Int32, 1 << 21));
        }
        BufferPool.Forget(a);
    }

    [Fact]
    public void TheThreadCache_KeepsEachDTypeApart_AndTakesOnlyItsOwnSizes()
    {
        OnFreshThread(() =>
        {
            var i32 = BufferPool.Rent(DType.Int32, 32);
            BufferPool.Return(i32);
            Assert.IsType<double[]>(BufferPool.Rent(DType.Float64, 32));
            Assert.IsType<float[]>(BufferPool.Rent(DType.Float32, 32));
            Assert.Same(i32, BufferPool.Rent(DType.Int32, 32));
            // arrays the pool did not make (not a power of two, or below 16 elements) are dropped
            BufferPool.Return(new float[20]);
            BufferPool.Return(new float[8]);
            Assert.Equal(16, BufferPool.Rent(DType.Float32, 16).Length);
            Assert.Equal(16, BufferPool.Rent(DType.Float32, 9).Length);
            // a ninth buffer of one size does not spill into the next size's slots
            var next = BufferPool.Rent(DType.Float32, 64);
            BufferPool.Return(next);
            var nine = new Array[9];
            for (int i = 0; i < 9; i++) nine[i] = BufferPool.Rent(DType.Float32, 32);
            foreach (var b in nine) BufferPool.Return(b);
            Assert.Same(next, BufferPool.Rent(DType.Float32, 64));
            for (int i = 0; i < 9; i++) Assert.Equal(32, BufferPool.Rent(DType.Float32, 32).Length);
            // and at the largest cached size, a ninth goes to the shared buckets
            var top = new Array[9];
            for (int i = 0; i < 9; i++) top[i] = BufferPool.Rent(DType.Float64, 1 << 14);
            foreach (var b in top) BufferPool.Return(b);
            for (int i = 0; i < 9; i++) Assert.Equal(1 << 14, BufferPool.Rent(DType.Float64, 1 << 14).Length);
        });
    }

    [Fact]
    public void ARankSixteenTensor_BuildsItsStridesOnTheStack()
    {
        OnFreshThread(() =>
        {
            int[] r15 = [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2], r16 = [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2];
            using var scope = TensorScope.Begin();
            for (int i = 0; i < 10; i++) { Tensor.Empty(r15, DType.Float32); Tensor.Empty(r16, DType.Float32); }
            // both measured buffers come from this thread's cache: otherwise the first may come from the shared buckets,
            // which other tests fill or empty, and the second be a new array (88 bytes), whatever the strides did
            Array[] spare = [BufferPool.Rent(DType.Float32, 2), BufferPool.Rent(DType.Float32, 2)];
            foreach (var b in spare) BufferPool.Return(b);
            long t0 = GC.GetAllocatedBytesForCurrentThread();
            Tensor.Empty(r15, DType.Float32);
            long b15 = GC.GetAllocatedBytesForCurrentThread() - t0;
            t0 = GC.GetAllocatedBytesForCurrentThread();
            Tensor.Empty(r16, DType.Float32);
            long b16 = GC.GetAllocatedBytesForCurrentThread() - t0;
            Assert.Equal(b15, b16); // int[15] and int[16] take the same 88 bytes; no third array for rank 16
        });
    }

    [Fact]
    public void SharedBuckets_AreOneStackPerSize()
    {
        var buckets = BufferPool.NewBuckets();
        Assert.Equal(31, buckets.Length);
        Assert.All(buckets, Assert.NotNull);
        Assert.Equal(31, buckets.Distinct().Count());
    }

    // ---- Storage ----

    [Fact]
    public void BuffersArePooledExactlyInsideAScope()
    {
        long out0 = BufferPool.Outstanding;
        var free = Tensor.Zeros([3]);
        Assert.False(free.Storage.Pooled);
        Assert.Equal(3, free.Storage.Buffer.Length);
        Assert.Equal(out0, BufferPool.Outstanding);
        Tensor inner;
        using (var s = TensorScope.Begin())
        {
            inner = Tensor.Zeros([3]);
            Assert.True(inner.Storage.Pooled);
            Assert.Same(s, inner.Storage.Owner);
            Assert.Equal(16, inner.Storage.Buffer.Length);
            Assert.Equal(out0 + 1, BufferPool.Outstanding);
        }
        Assert.Equal(out0, BufferPool.Outstanding);
        Assert.True(inner.IsDisposed);
        var e = Assert.Throws<ObjectDisposedException>(() => inner.ToFloatArray());
        Assert.Equal("The tensor's buffer went back to the pool when its TensorScope ended; call scope.Keep(t) or t.Clone() " +
                     "outside the scope to keep a tensor alive.\nObject name: 'Tensor'.", e.Message.Replace("\r\n", "\n"));
    }

    [Fact]
    public void RecycledStorages_AreReusedPooled_AndNeverOutsideAScope()
    {
        long out0 = BufferPool.Outstanding;
        Storage dead;
        using (TensorScope.BeginRecycling()) dead = Tensor.Zeros([2, 3]).Storage;
        Assert.Equal(out0, BufferPool.Outstanding);
        // outside any scope a tensor gets a new, garbage-collected buffer, not the waiting storage object
        var free = Tensor.Zeros([2, 3]);
        Assert.NotSame(dead, free.Storage);
        Assert.False(free.Storage.Pooled);
        Assert.Equal(out0, BufferPool.Outstanding);
        // inside a plain scope too
        using (TensorScope.Begin()) Assert.NotSame(dead, Tensor.Zeros([2]).Storage);
        using (var s = TensorScope.BeginRecycling())
        {
            var again = Tensor.Zeros([4]);
            Assert.Same(dead, again.Storage);
            Assert.True(again.Storage.Pooled);
            Assert.Same(s, again.Storage.Owner);
            Assert.Equal(out0 + 1, BufferPool.Outstanding);
        }
        Assert.Equal(out0, BufferPool.Outstanding);
    }

    [Fact]
    public void Keep_MovesToTheOuterScope_OrDetachesAtTheTop()
    {
        long out0 = BufferPool.Outstanding;
        Tensor movedOut, detached;
        using (var outer = TensorScope.Begin())
        {
            using (var inner = TensorScope.Begin())
            {
                movedOut = inner.Keep(Tensor.Full([3], 2.0));
                Assert.Same(outer, movedOut.Storage.Owner);
            }
            Assert.False(movedOut.IsDisposed);
            Assert.Equal(out0 + 1, BufferPool.Outstanding);
            detached = outer.Keep(Tensor.Full([3], 5.0));
            Assert.Null(detached.Storage.Owner);
            Assert.False(detached.Storage.Pooled);
            Assert.Equal(out0 + 1, BufferPool.Outstanding); // forgotten by the pool: only movedOut counts
            outer.Keep(detached);                          // a second Keep of a detached tensor changes nothing
            Assert.Equal(out0 + 1, BufferPool.Outstanding);
        }
        Assert.True(movedOut.IsDisposed);
        Assert.False(detached.IsDisposed);
        // keeping a tensor of an ended scope: it stays released, and the pool's count does not move
        Tensor late;
        var ended = TensorScope.Begin();
        late = Tensor.Zeros([2]);
        ended.Dispose();
        Assert.Equal(out0, BufferPool.Outstanding);
        Assert.Same(late, ended.Keep(late));
        Assert.True(late.IsDisposed);
        Assert.Null(late.Storage.Owner);
        Assert.Equal(out0, BufferPool.Outstanding);
        Assert.Equal(new float[] { 5, 5, 5 }, detached.ToFloatArray());
        Assert.Equal(out0, BufferPool.Outstanding);
    }
}
