using FlexNet.Autodiff;
using FlexNet.Tensors;
using Xunit;

namespace FlexNet.Tests.Tensors;

/// <summary>
/// The Stryker survivors of run 8 in TensorScope and Tensor.Autodiff: which scope owns a buffer and when it goes back
/// to the pool (<see cref="BufferPool.Outstanding"/>), the reuse of lists, scopes, shells and nodes, and the gradient
/// hooks. Per-thread state is exercised on a new thread where only a fresh thread builds it.
/// </summary>
[Collection("Training")]
public sealed class TensorMutationGapScopeTests
{
    private static void OnFreshThread(Action body) => TensorMutationGapPoolTests.OnFreshThread(body);

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
