using FlexNet.Autodiff;
using FlexNet.Tensors;
using FlexNet.Tests.Testing;

namespace FlexNet.Tests.Autodiff;

/// <summary>Rules of the autodiff engine outside the ops (issue 15, mutation testing of src/FlexNet/Autodiff):
/// Backward's argument checks and seed handling, released graphs, a backward inside a backward, reuse of a recycled
/// gradient buffer, no-grad scopes, padding, and the argument checks and wiring of the NN functions. Expected
/// values come from loops written here.</summary>
public class AutodiffMutationGapTests
{
    [Fact]
    public void BackwardRejectsATensorWithoutGradientsAndASeedOfAnotherShape()
    {
        var plain = Tensor.Zeros([2, 3], DType.Float64);
        var e = Assert.Throws<AutogradException>(() => plain.Backward(Tensor.Zeros([2, 3], DType.Float64)));
        Assert.Equal("Backward: the tensor (shape [2, 3]) does not require gradients; no parameter or input on its path has RequiresGrad set.", e.Message);

        var x = T.Rand(1, 2, 3);
        var y = x * 2.0;
        var n = Assert.Throws<AutogradException>(() => y.Backward());
        Assert.Equal("Backward from a non-scalar tensor of shape [2, 3] needs a seed gradient of the same shape (or reduce it to a scalar first).", n.Message);
        var s = Assert.Throws<ShapeMismatchException>(() => y.Backward(Tensor.Zeros([3, 2], DType.Float64)));
        Assert.Equal("Backward: seed shape [3, 2] differs from the output shape [2, 3].", s.Message);
        Assert.Null(x.Grad);
    }

    [Fact]
    public void AOneElementRootOfAnyRankNeedsNoSeed()
    {
        var x = Tensor.FromArray(new double[] { 1.5, -2 }, 2).RequireGrad();
        var y = (x * x).Sum([0], keepDims: true); // shape [1], not a scalar
        y.Backward();
        Assert.Equal(new double[] { 3, -4 }, x.Grad!.ToDoubleArray());
    }

    [Fact]
    public void ASeedOfAnotherDTypeIsConvertedAndANonContiguousSeedIsReadInLogicalOrder()
    {
        var x = Tensor.FromArray(new double[] { 1, 2, 3, 4, 5, 6 }, 2, 3).RequireGrad();
        var y = x * 3.0;
        y.Backward(Tensor.FromArray(new float[] { 1, -1, 0.5f, 2, 0, -3 }, 2, 3));
        Assert.Equal(DType.Float64, x.Grad!.DType);
        Assert.Equal(new double[] { 3, -3, 1.5, 6, 0, -9 }, x.Grad.ToDoubleArray());

        var x2 = Tensor.FromArray(new double[] { 1, 2, 3, 4, 5, 6 }, 2, 3).RequireGrad();
        var seed = Tensor.FromArray(new double[] { 10, 20, 30, 40, 50, 60 }, 3, 2).T; // [2, 3] view, seed[i, j] = 10·(2j + i + 1)
        Assert.False(seed.IsContiguous);
        (x2.Exp()).Backward(seed);
        var g = x2.Grad!.ToDoubleArray();
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 3; j++)
                Assert.Equal(10.0 * (2 * j + i + 1) * Math.Exp(3 * i + j + 1), g[3 * i + j], 1e-9);
    }

    [Fact]
    public void BackwardFromALeafAddsTheSeedToItsGradient()
    {
        var x = Tensor.FromArray(new double[] { 1, 2 }, 2).RequireGrad();
        var seed = Tensor.FromArray(new double[] { 0.25, -4 }, 2);
        x.Backward(seed);
        Assert.Equal(new double[] { 0.25, -4 }, x.Grad!.ToDoubleArray());
        Assert.NotSame(seed, x.Grad);
        x.Backward(seed);
        Assert.Equal(new double[] { 0.5, -8 }, x.Grad.ToDoubleArray());
        Assert.Equal(new double[] { 0.25, -4 }, seed.ToDoubleArray()); // the caller's seed is never written to
    }

    [Fact]
    public void TheSeedIsNeverFlushedEvenWhenSubnormal()
    {
        // the root's gradient is the caller's seed: the flush of subnormal gradients skips it, so a subnormal seed
        // reaches the leaf through the root node unchanged (leaf gradients are not flushed either)
        double tiny = double.Epsilon * 1000;
        Assert.True(double.IsSubnormal(tiny));
        var x = Tensor.FromArray(new double[] { 1, 2 }, 2).RequireGrad();
        var seed = Tensor.FromArray(new double[] { tiny, -tiny }, 2);
        (x * 1.0).Backward(seed);
        Assert.Equal(new double[] { tiny, -tiny }, seed.ToDoubleArray());
        Assert.Equal(new double[] { tiny, -tiny }, x.Grad!.ToDoubleArray());
    }

    [Fact]
    public void RetainGradKeepsTheRootsGradientToo()
    {
        var x = T.Rand(2, 3);
        var y = (x * 2.0).RetainGrad();
        y.Backward(Tensor.FromArray(new double[] { 1, 2, 3 }, 3));
        Assert.Equal(new double[] { 1, 2, 3 }, y.Grad!.ToDoubleArray());
        Assert.Equal(new double[] { 2, 4, 6 }, x.Grad!.ToDoubleArray());
    }

    [Fact]
    public void ANewGraphOverAReleasedOneIsRejectedNamingTheReleasedNode()
    {
        var x = T.Rand(3, 3);
        var h = x.Exp();
        h.Sum().Backward(); // releases the graph of h
        var e = Assert.Throws<AutogradException>(() => (h * 2.0).Sum().Backward());
        Assert.Equal("Backward through a graph that was already released (at ExpBackward): its saved values were freed by an " +
                     "earlier Backward. Pass retainGraph: true to the first Backward to run backward twice.", e.Message);

        var h2 = x.Exp();
        var s = h2.Sum();
        s.Backward(null, retainGraph: true);
        x.ZeroGrad();
        (h2 * 2.0).Sum().Backward(); // kept: differentiable again
        var xv = x.ToDoubleArray();
        T.Close(xv.Select(v => 2 * Math.Exp(v)).ToArray(), x.Grad!.ToDoubleArray(), 1e-14, 0, "grad");
    }

    /// <summary>Runs another graph's backward from inside its own backward, then passes gy on.</summary>
    private sealed class NestedBackwardNode(Tensor x, Tensor innerRoot) : Node(x)
    {
        protected internal override void Backward(Tensor gradOutput)
        {
            innerRoot.Backward();
            Accumulate(0, gradOutput, owned: false);
        }
    }

    [Fact]
    public void ABackwardInsideABackwardUsesItsOwnWalk()
    {
        var other = T.Rand(4, 3);
        var inner = (other * other).Sum();
        var x = T.Rand(5, 3);
        var a = x * 2.0;
        var y = Tensor.Zeros([3], DType.Float64);
        y.MarkRecorded(new NestedBackwardNode(a, inner));
        Assert.Equal("NestedBackwardNode", y.GradFn!.Name);
        (y * 3.0).Sum().Backward();
        Assert.Equal(new double[] { 6, 6, 6 }, x.Grad!.ToDoubleArray());
        Assert.Equal(other.ToDoubleArray().Select(v => 2 * v).ToArray(), other.Grad!.ToDoubleArray());
    }

    [Fact]
    public void ARecycledGradientBufferIsFilledNotAddedTo()
    {
        var x = Tensor.FromArray(new double[] { 1, 2, 3, 4, 5, 6 }, 2, 3).RequireGrad();
        var c = Tensor.FromArray(new double[] { 1, 2, 3, 4, 5, 6 }, 3, 2);
        (x.T * c).Sum().Backward(); // the gradient reaches x as a transposed (non-contiguous) view
        var first = x.Grad!;
        x.RecycleGrad();
        Assert.Null(x.Grad);
        var c2 = Tensor.FromArray(new double[] { -1, 7, 0.5, 2, 9, -3 }, 3, 2);
        (x.T * c2).Sum().Backward();
        Assert.Same(first, x.Grad);
        // d/dx[i, j] Σ x[j', i'] c2[i', j'] = c2[j, i]
        var expected = new double[6];
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 3; j++)
                expected[3 * i + j] = c2[j, i];
        Assert.Equal(expected, x.Grad!.ToDoubleArray());
    }

    [Fact]
    public void NoGradScopesNestAndADefaultScopeRestoresNothing()
    {
        Assert.True(Autograd.IsEnabled);
        var x = T.Rand(6, 2);
        using (Autograd.NoGrad())
        {
            using (Autograd.NoGrad()) Assert.False(Autograd.IsEnabled);
            Assert.False(Autograd.IsEnabled);
            default(NoGradScope).Dispose();
            Assert.False(Autograd.IsEnabled);
            Assert.Null(Tensor.Concat([x, x], 0).GradFn);
            Assert.Null(NN.Conv2d(T.Rand(1, 1, 1, 2, 2), T.Rand(2, 1, 1, 1, 1), T.Rand(3, 1)).GradFn);
        }
        Assert.True(Autograd.IsEnabled);
    }

    [Fact]
    public void OpsOfSeveralInputsRecordWhenOnlyTheLastNeedsGradients()
    {
        var a = Tensor.FromArray(new double[] { 1, 2 }, 1, 2);
        var b = Tensor.FromArray(new double[] { 3, 4 }, 1, 2).RequireGrad();
        var cat = Tensor.Concat([a, b], 0);
        Assert.NotNull(cat.GradFn);
        (cat * Tensor.FromArray(new double[] { 1, 2, 3, 4 }, 2, 2)).Sum().Backward();
        Assert.Equal(new double[] { 3, 4 }, b.Grad!.ToDoubleArray());
        Assert.Null(a.Grad);

        // conv2d with only the bias trainable: db[o] = Σ gy[n, o, ...]
        var x = Tensor.FromArray(new double[] { 1, 2, 3, 4 }, 1, 1, 2, 2);
        var w = Tensor.FromArray(new double[] { 1, -1 }, 2, 1, 1, 1);
        var bias = Tensor.FromArray(new double[] { 0.5, 0 }, 2).RequireGrad();
        var y = NN.Conv2d(x, w, bias);
        Assert.NotNull(y.GradFn);
        (y * Tensor.FromArray(new double[] { 1, 2, 3, 4, 5, 6, 7, 8 }, 1, 2, 2, 2)).Sum().Backward();
        Assert.Equal(new double[] { 10, 26 }, bias.Grad!.ToDoubleArray());
        Assert.Null(NN.Conv2d(x, w, bias.Detach()).GradFn);
    }

    [Fact]
    public void PaddingParsesNamesAndIntegersAndRejectsTheRest()
    {
        Assert.Equal(Padding.Valid, Padding.Parse(" VALID "));
        Assert.False(Padding.Parse("valid").IsSame);
        Assert.True(Padding.Parse(" Same").IsSame);
        var three = Padding.Parse(" 3 ");
        Assert.Equal((false, 3, 3, 3, 3), (three.IsSame, three.Top, three.Bottom, three.Left, three.Right));
        var bad = Assert.Throws<ArgumentException>(() => Padding.Parse("full"));
        Assert.Equal("Padding must be 'valid', 'same' or an integer. Received: 'full'", bad.Message);
        var neg = Assert.Throws<ArgumentOutOfRangeException>(() => Padding.Parse("-2"));
        Assert.StartsWith("Padding must be non-negative. Received: (-2, -2, -2, -2)", neg.Message);
    }

    [Fact]
    public void PaddingSidesAreCheckedOneByOneAndPrinted()
    {
        var p = Padding.Explicit(1, 2, 3, 4);
        Assert.Equal((false, 1, 2, 3, 4), (p.IsSame, p.Top, p.Bottom, p.Left, p.Right));
        var hw = Padding.Explicit(5, 6);
        Assert.Equal((5, 5, 6, 6), (hw.Top, hw.Bottom, hw.Left, hw.Right));
        Padding fromInt = 7;
        Assert.Equal((7, 7, 7, 7), (fromInt.Top, fromInt.Bottom, fromInt.Left, fromInt.Right));
        Assert.Equal(0, Padding.Same.Top + Padding.Same.Bottom + Padding.Same.Left + Padding.Same.Right);
        Assert.Equal(0, Padding.Valid.Top + Padding.Valid.Bottom + Padding.Valid.Left + Padding.Valid.Right);
        Assert.False(Padding.Valid.IsSame);

        foreach (var (t, b, l, r) in new[] { (-1, 0, 0, 0), (0, -1, 0, 0), (0, 0, -1, 0), (0, 0, 0, -1) })
        {
            var e = Assert.Throws<ArgumentOutOfRangeException>(() => Padding.Explicit(t, b, l, r));
            Assert.StartsWith($"Padding must be non-negative. Received: ({t}, {b}, {l}, {r})", e.Message);
        }
        Padding.Explicit(0, 0, 0, 0); // zero is allowed

        Assert.Equal("same", Padding.Same.ToString());
        Assert.Equal("0", Padding.Valid.ToString());
        Assert.Equal("2", Padding.Explicit(2).ToString());
        Assert.Equal("(1, 1, 2, 2)", Padding.Explicit(1, 2).ToString());
        Assert.Equal("(1, 2, 1, 1)", Padding.Explicit(1, 2, 1, 1).ToString());
        Assert.Equal("(1, 1, 1, 2)", Padding.Explicit(1, 1, 1, 2).ToString());
        Assert.Equal("(2, 2, 1, 1)", Padding.Explicit(2, 1).ToString());
    }

    [Theory]
    // input, kernel, stride, dilation → before, after, worked out by hand: output ⌈input/stride⌉,
    // total = max((output − 1)·stride + dilation·(kernel − 1) + 1 − input, 0), the odd element after
    [InlineData(5, 3, 1, 1, 1, 1)] // out 5, total 2
    [InlineData(5, 4, 1, 1, 1, 2)] // out 5, total 3
    [InlineData(5, 3, 2, 1, 1, 1)] // out 3, total 4 + 3 − 5 = 2
    [InlineData(6, 3, 2, 1, 0, 1)] // out 3, total 4 + 3 − 6 = 1
    [InlineData(5, 3, 1, 2, 2, 2)] // out 5, total 4 + 5 − 5 = 4
    [InlineData(8, 1, 3, 1, 0, 0)] // out 3, 6 + 1 − 8 = −1, clamped to 0
    [InlineData(7, 2, 3, 2, 1, 1)] // out 3, total 6 + 3 − 7 = 2
    [InlineData(9, 4, 4, 3, 4, 5)] // out 3, total 8 + 10 − 9 = 9: 4 before, 5 after
    public void SameAmountsFollowTheOutputSizeFormula(int input, int kernel, int stride, int dilation, int before, int after) =>
        Assert.Equal((before, after), Padding.SameAmounts(input, kernel, stride, dilation));
}
