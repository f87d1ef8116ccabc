using System.Runtime.ExceptionServices;
using FlexNet.Autodiff;
using FlexNet.Tensors;
using Xunit;

namespace FlexNet.Tests.Tensors;

/// <summary>
/// The Stryker survivors of run 8 in BufferPool, Storage, TensorScope, AllocationBudget, Tensor.Recycling and
/// Tensor.Autodiff: pool and scope accounting seen through <see cref="BufferPool.Outstanding"/>, the identity of reused
/// objects, and allocation counts. Several run on a new thread, because the per-thread state (the pool's cache, the
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

    // ---- TensorScope ----

    [Fact]
    public void BeginReplacing_TransferAndEndIntoOuter_MoveBuffersBetweenScopes()
    {
        long out0 = BufferPool.Outstanding;
        var outer = TensorScope.Begin();
        var old = TensorScope.Begin();
        var a = Tensor.Full([2], 1.0);
        var b = Tensor.Full([2], 2.0);
        var replacing = TensorScope.BeginReplacing(old);
        Assert.Same(replacing, TensorScope.Current);
        old.Transfer(a, replacing);
        replacing.Transfer(b, outer);               // not replacing's: nothing moves
        Assert.Same(old, b.Storage.Owner);
        old.Dispose();
        Assert.False(a.IsDisposed);
        Assert.True(b.IsDisposed);
        Assert.Same(replacing, TensorScope.Current); // old was not the innermost
        var c = Tensor.Full([2], 3.0);
        replacing.EndIntoOuter();
        Assert.Same(outer, TensorScope.Current);
        Assert.Same(outer, a.Storage.Owner);
        Assert.Same(outer, c.Storage.Owner);
        replacing.EndIntoOuter();                   // ended: nothing
        Assert.Same(outer, TensorScope.Current);
        Assert.False(a.IsDisposed);
        Assert.Equal(out0 + 2, BufferPool.Outstanding);
        outer.Dispose();
        Assert.True(a.IsDisposed);
        Assert.True(c.IsDisposed);
        Assert.Null(TensorScope.Current);
        Assert.Equal(out0, BufferPool.Outstanding);
        using var top = TensorScope.Begin();
        Assert.Equal("TensorScope.EndIntoOuter: no enclosing scope.",
            Assert.Throws<InvalidOperationException>(() => top.EndIntoOuter()).Message);
    }

    [Fact]
    public void EndedScopes_IgnoreASecondEnd_SoTheirListServesOneScopeOnly()
    {
        foreach (bool endIntoOuter in new[] { false, true })
            OnFreshThread(() =>
            {
                using var outer = TensorScope.Begin();
                var first = TensorScope.Begin();
                _ = Tensor.Zeros([2]);
                if (endIntoOuter) first.EndIntoOuter(); else first.Dispose();
                var next = TensorScope.Begin();       // takes the ended scope's list
                var t = Tensor.Zeros([2]);
                if (endIntoOuter) first.EndIntoOuter(); else first.Dispose(); // must not hand that list out again
                using (TensorScope.Begin()) _ = Tensor.Zeros([2]);
                long before = BufferPool.Outstanding;
                next.Dispose();
                Assert.True(t.IsDisposed);
                Assert.Equal(before - 1, BufferPool.Outstanding);
            });
    }

    private static readonly int[] Shape23 = [2, 3], Shape4 = [4];

    private static List<Storage> Owned(TensorScope s) =>
        (List<Storage>)typeof(TensorScope).GetField("_owned", System.Reflection.BindingFlags.NonPublic |
                                                   System.Reflection.BindingFlags.Instance)!.GetValue(s)!;

    [Fact]
    public void APlainScope_TakesTheListOfTheLastPlainScope_Emptied()
    {
        OnFreshThread(() =>
        {
            var first = TensorScope.Begin();
            var list = Owned(first);
            Tensor.Zeros(Shape23);
            Tensor.Zeros(Shape4);
            Assert.Equal(2, list.Count);
            first.Dispose();
            var second = TensorScope.Begin();
            Assert.Same(list, Owned(second));
            Assert.Empty(list);
            second.Dispose();
            // a recycling scope keeps its own list (it is reused with the scope object)
            var r = TensorScope.BeginRecycling();
            Assert.Same(list, Owned(r));
            Tensor.Zeros(Shape4);
            r.Dispose();
            var third = TensorScope.Begin();
            Assert.NotSame(list, Owned(third));
            third.Dispose();
            var again = TensorScope.BeginRecycling();
            Assert.Same(r, again);
            Assert.Same(list, Owned(again));
            Assert.Empty(list);
            again.Dispose();
            // a scope ended into its outer scope hands its list on too
            var outer = TensorScope.Begin();
            var inner = TensorScope.Begin();
            var innerList = Owned(inner);
            Tensor.Zeros(Shape4);
            inner.EndIntoOuter();
            var next = TensorScope.Begin();
            Assert.Same(innerList, Owned(next));
            Assert.Empty(innerList);
            next.Dispose();
            outer.Dispose();
        });
    }

    private static void RecyclingStep()
    {
        using (TensorScope.BeginRecycling())
        {
            Tensor.Zeros(Shape23);
            Tensor.Zeros(Shape4);
            Tensor.Zeros(Shape23).Fill(1);
        }
    }

    [Fact]
    public void AWarmRecyclingStep_AllocatesNothing_OnAFreshThreadToo()
    {
        OnFreshThread(() =>
        {
            for (int i = 0; i < 3; i++) RecyclingStep();
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 20; i++) RecyclingStep();
            Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        });
    }

    [Fact]
    public void RankEightShells_AreReused_OnAFreshThread()
    {
        OnFreshThread(() =>
        {
            int[] r8 = [1, 2, 1, 2, 1, 2, 1, 2];
            Tensor dead;
            using (TensorScope.BeginRecycling()) dead = Tensor.Zeros(r8);
            using (TensorScope.BeginRecycling())
            {
                var again = Tensor.Full([2, 1, 2, 1, 2, 1, 2, 1], 4.0);
                Assert.Same(dead, again);
                Assert.Equal(new[] { 2, 1, 2, 1, 2, 1, 2, 1 }, again.Shape.ToArray());
                Assert.All(again.ToFloatArray(), v => Assert.Equal(4f, v));
            }
            Tensor nine;
            using (TensorScope.BeginRecycling()) nine = Tensor.Zeros([1, 1, 1, 1, 1, 1, 1, 1, 1]);
            using (TensorScope.BeginRecycling()) Assert.NotSame(nine, Tensor.Zeros([1, 1, 1, 1, 1, 1, 1, 1, 1]));
        });
    }

    [Fact]
    public void DeadTensorsWithAnUnreleasedGraph_AreReused_AndTheirNodesReleasedAndPooled()
    {
        var p = Tensor.Full([3], 1.0).RequireGrad();
        Tensor dead;
        Node node;
        using (TensorScope.BeginRecycling())
        {
            dead = p * 2.0;
            node = dead.GradFn!;
        }
        Assert.True(node.Released);
        Assert.True(node.InPool);
        Assert.Null(dead.GradFn);
        using (TensorScope.BeginRecycling()) Assert.Same(dead, Tensor.Zeros([5]));
    }

    [Fact]
    public void ALiveTensorsReleasedGraph_StaysWithIt_EvenWhenADeadTensorSharesItsNode()
    {
        var p = Tensor.Full([3], 1.0).RequireGrad();
        var outer = TensorScope.Begin();
        Tensor live, dead;
        using (var s = TensorScope.BeginRecycling())
        {
            dead = p * 2.0;
            live = s.Keep(Tensor.Zeros([3]));
            live.MarkRecorded(dead.GradFn!);   // one node behind a live and a dead tensor (as a multi-output op makes)
            dead.GradFn!.Release();            // the graph ran backward
        }
        var node = live.GradFn!;
        Assert.False(node.InPool);
        Assert.False(node.Pinned);
        outer.Dispose();
    }

    [Fact]
    public void AStorageListedTwice_IsHandedOutOnce()
    {
        Tensor t;
        using (var r = TensorScope.BeginRecycling())
        {
            t = Tensor.Zeros([2]);
            using var x = TensorScope.Begin();
            r.Transfer(t, x);
            x.Transfer(t, r);   // back: r lists the storage twice
        }
        using (TensorScope.BeginRecycling())
        {
            var a = Tensor.Zeros([2]);
            var b = Tensor.Zeros([2]);
            Assert.NotSame(a.Storage, b.Storage);
            a.Fill(1);
            b.Fill(2);
            Assert.Equal(new float[] { 1, 1 }, a.ToFloatArray());
        }
    }

    // ---- Tensor.Autodiff ----

    [Fact]
    public void RetainGrad_KeepsANonLeafsGradient_AndIsANoOpOnALeaf()
    {
        var p = Tensor.FromArray(new float[] { 1, 2 }, 2).RequireGrad();
        Assert.Same(p, p.RetainGrad());
        var y = (p * 3.0).RetainGrad();
        (y * y).Sum().Backward();
        Assert.Equal(new float[] { 6, 12 }, y.Grad!.ToFloatArray());   // d(y²)/dy = 2y
        Assert.Equal(new float[] { 18, 36 }, p.Grad!.ToFloatArray());
    }

    [Fact]
    public void RecycleGrad_KeepsOnlyAWholeGarbageCollectedGradientOfTheSameShape()
    {
        var p = Tensor.Zeros([1, 3]).RequireGrad();
        var g = Tensor.Ones([1, 3]);
        p.Grad = g;
        p.RecycleGrad();
        Assert.Null(p.Grad);
        Assert.Same(g, p.SpareGrad);
        Assert.Null(p.TakeSpareGrad(DType.Float64));
        Assert.Same(g, p.SpareGrad);
        Assert.Same(g, p.TakeSpareGrad(DType.Float32));
        Assert.Null(p.SpareGrad);
        Assert.Null(p.TakeSpareGrad(DType.Float32));

        // a view of part of a buffer
        p.Grad = Tensor.Zeros([2, 3]).Slice(0, 0, 1);
        Assert.True(p.Grad.IsContiguous);
        p.RecycleGrad();
        Assert.Null(p.SpareGrad);
        // another shape
        p.Grad = Tensor.Zeros([3]);
        p.RecycleGrad();
        Assert.Null(p.SpareGrad);
        // a buffer a scope owns
        using (TensorScope.Begin())
        {
            p.Grad = Tensor.Zeros([1, 3]);
            p.RecycleGrad();
            Assert.Null(p.SpareGrad);
        }
        // a pooled buffer no scope owns
        var st = new Storage(DType.Float32, 3, pooled: true);
        p.Grad = Tensor.CreateContiguous(st, [1, 3], 0);
        p.RecycleGrad();
        Assert.Null(p.SpareGrad);
        st.Release();
    }
}
