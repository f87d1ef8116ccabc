using FlexNet.Autodiff;
using FlexNet.Tests.Testing;
using FlexNet.Tensors;

namespace FlexNet.Tests.Autodiff;

public class AutogradTests
{
    [Fact]
    public void GradientsAccumulateAcrossBackwardCalls()
    {
        var x = Tensor.FromArray(new double[] { 1, 2, 3 }, 3).RequireGrad();
        (x * x).Sum().Backward();
        (x * x).Sum().Backward();
        Assert.Equal(new double[] { 4, 8, 12 }, x.Grad!.ToDoubleArray());
        x.ZeroGrad();
        Assert.Null(x.Grad);
    }

    [Fact]
    public void SharedSubexpressionSumsBothPaths()
    {
        var x = Tensor.FromArray(new double[] { 0.5, -1 }, 2).RequireGrad();
        var h = x.Tanh();
        var y = (h * h + h).Sum();
        y.Backward();
        var expected = x.ToDoubleArray().Select(v => (2 * Math.Tanh(v) + 1) * (1 - Math.Tanh(v) * Math.Tanh(v))).ToArray();
        T.Close(expected, x.Grad!.ToDoubleArray(), 0, 1e-14, "values");
    }

    [Fact]
    public void NoGradScopeRecordsNothing()
    {
        var x = T.Rand(1, 3);
        Tensor y;
        using (Autograd.NoGrad()) y = x * 2.0;
        Assert.False(y.RequiresGrad);
        Assert.Null(y.GradFn);
        Assert.True((x * 2.0).RequiresGrad);
    }

    [Fact]
    public void DetachCutsTheGraph()
    {
        var x = T.Rand(1, 3);
        var y = (x.Detach() * x).Sum();
        y.Backward();
        Assert.Equal(x.ToDoubleArray(), x.Grad!.ToDoubleArray());
    }

    [Fact]
    public void BackwardTwiceThroughReleasedGraphThrows()
    {
        var x = T.Rand(1, 3);
        var y = x.Exp().Sum();
        y.Backward();
        var e = Assert.Throws<AutogradException>(() => y.Backward());
        Assert.Contains("retainGraph", e.Message);
        var z = x.Exp().Sum();
        z.Backward(null, retainGraph: true);
        z.Backward(); // allowed once more
    }

    [Fact]
    public void BackwardFromNonScalarNeedsSeed()
    {
        var x = T.Rand(1, 3);
        var y = x * 2.0;
        var e = Assert.Throws<AutogradException>(() => y.Backward());
        Assert.Contains("[3]", e.Message);
        y.Backward(Tensor.FromArray(new double[] { 1, 2, 3 }, 3));
        Assert.Equal(new double[] { 2, 4, 6 }, x.Grad!.ToDoubleArray());
        Assert.Throws<AutogradException>(() => Tensor.Zeros([1]).Backward());
    }

    [Fact]
    public void DeepGraphBackwardIsIterative()
    {
        // 20,000 chained ops would overflow a recursive backward's stack
        var x = Tensor.Scalar(0.5, DType.Float64).RequireGrad();
        var y = x;
        for (int i = 0; i < 20000; i++) y = y * 1.0001 + 0.0;
        y.Backward();
        Assert.Equal(Math.Pow(1.0001, 20000), x.Grad!.Item(), 1e-9);
    }

    [Fact]
    public void RetainGradKeepsIntermediateGradient()
    {
        var x = T.Rand(1, 3);
        var h = (x * 3.0).RetainGrad();
        h.Sum().Backward();
        Assert.Equal(new double[] { 1, 1, 1 }, h.Grad!.ToDoubleArray());
    }

    [Fact]
    public void ScopeReturnsBuffersAndKeepsWhatIsKept()
    {
        var w = T.Rand(1, 64);
        long before = BufferPool.Outstanding;
        Tensor kept, dropped;
        using (var scope = TensorScope.Begin())
        {
            var loss = (w * w).Sum();
            loss.Backward();
            dropped = w * 2.0;
            kept = scope.Keep(w * 3.0);
        }
        Assert.True(dropped.IsDisposed);
        Assert.Throws<ObjectDisposedException>(() => dropped.ToDoubleArray());
        Assert.Equal(3 * w[5], kept[5], 15);
        Assert.False(w.Grad!.IsDisposed); // parameter gradients are allocated outside the scope
        Assert.Equal(before, BufferPool.Outstanding);
    }
}
