using FlexNet.Autodiff;
using FlexNet.Autodiff.Ops;
using FlexNet.Kernels;
using FlexNet.Tensors;

namespace FlexNet.Tests.Autodiff;

/// <summary>Rules of Ops/Movement.cs and Ops/DenseSum.cs that the older Autodiff tests left open (issue 15, partial
/// mutation run, session 6): int clones, the op named in axis errors, a backward that must not adopt (and so write
/// through) the caller's seed, a weight gradient of another dtype. Expected values are written out here. Runs in the
/// non-parallel "Training" collection because it sets the process-wide <see cref="Autograd.FlushSubnormals"/>.</summary>
[Collection("Training")]
public sealed class OpsMutationGapTests3
{
    private const double Sub = 1e-310; // subnormal double: the flush of a non-root gradient zeroes it

    [Fact]
    public void CloneOfInt32TensorsCopiesTheValues()
    {
        int[] data = [3, -7, 11, 42, 0, -1];
        var x = Tensor.FromArray(data, 2, 3);
        Assert.Equal(data, x.Clone().ToInt32Array());
        var xt = x.Transpose(0, 1); // [3, 2], not contiguous
        Assert.False(xt.IsContiguous);
        Assert.Equal([3, 42, -7, 0, 11, -1], xt.Clone().ToInt32Array());
    }

    [Fact]
    public void PermuteAxisOutOfRangeIsNamedPermute()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => Tensor.Zeros([2, 3]).Permute(0, 2));
        Assert.StartsWith("Permute: axis 2 is out of range for rank 2.", e.Message);
    }

    [Fact]
    public void TransposeFirstAxisOutOfRangeIsNamedTranspose()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => Tensor.Zeros([2, 3]).Transpose(2, 0));
        Assert.StartsWith("Transpose: axis 2 is out of range for rank 2.", e.Message);
    }

    [Fact]
    public void TransposeSecondAxisOutOfRangeIsNamedTranspose()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => Tensor.Zeros([2, 3]).Transpose(0, -3));
        Assert.StartsWith("Transpose: axis -3 is out of range for rank 2.", e.Message);
    }

    [Fact]
    public void SliceAxisOutOfRangeIsNamedSlice()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => Tensor.Zeros([2, 3]).Slice(5, 0, 1));
        Assert.StartsWith("Slice: axis 5 is out of range for rank 2.", e.Message);
    }

    /// <summary>root = op(a ⊙ 1): the seed goes to the root's node unchanged; the node below must get a copy (the
    /// subnormal flush of non-root gradients writes in place), so the caller's seed keeps its subnormal.</summary>
    private static void SeedIsNotWrittenThrough(Func<Tensor, Tensor> op)
    {
        bool keep = Autograd.FlushSubnormals;
        Autograd.FlushSubnormals = true;
        try
        {
            var a = Tensor.FromArray([1.0, 2, 3, 4, 5, 6], 2, 3).RequireGrad();
            var x = a * Tensor.FromArray([1.0, 1, 1, 1, 1, 1], 2, 3); // not a leaf
            var y = op(x);
            double[] s = [Sub, 2, 3, 4, 5, 6];
            var seed = Tensor.FromArray(s, y.ShapeArray);
            y.Backward(seed);
            Assert.Equal(s, seed.ToDoubleArray());
            Assert.Equal([0.0, 2, 3, 4, 5, 6], a.Grad!.ToDoubleArray()); // flushed below the root
        }
        finally { Autograd.FlushSubnormals = keep; }
    }

    [Fact]
    public void CloneBackwardDoesNotAdoptTheSeed() => SeedIsNotWrittenThrough(x => x.Clone());

    [Fact]
    public void ReshapeBackwardDoesNotAdoptTheSeed() => SeedIsNotWrittenThrough(x => x.Reshape(3, 2));

    [Fact]
    public void PermuteBackwardDoesNotAdoptTheSeed() => SeedIsNotWrittenThrough(x => x.Permute(0, 1));

    [Fact]
    public void DenseSumIdentityInputDoesNotAdoptTheSeed() =>
        SeedIsNotWrittenThrough(x => DenseSum.Apply([x], [null], [], FusedActivation.Linear));

    [Fact]
    public void WeightGradOfAnotherDTypeIsRefusedAndLeftAsItWas()
    {
        // x [2, 2], W [1, 2] float32; W.Grad set by the user to a float64 tensor: DenseSum must not add dzᵀ·x into
        // it as if it held float32 values (it hands the float32 dW to the accumulation, which refuses the mix)
        var x = Tensor.FromArray([1f, 2f, 3f, 4f], 2, 2);
        var w = Tensor.FromArray([0.5f, -1f], 1, 2).RequireGrad();
        w.Grad = Tensor.FromArray([10.0, 20.0], 1, 2);
        var y = DenseSum.Apply([x], [w], [], FusedActivation.Linear);
        var e = Assert.Throws<ArgumentException>(() => y.Sum().Backward());
        Assert.Equal("Add: dtypes differ (Float64 vs Float32); convert one with To(dtype).", e.Message);
        Assert.Equal(DType.Float64, w.Grad!.DType);
        Assert.Equal([10.0, 20.0], w.Grad.ToDoubleArray());
    }

    [Fact]
    public void WeightGradOfTheSameDTypeIsAccumulated()
    {
        // dy = 1: dW = Σₙ xₙ = [1 + 3, 2 + 4], added to the existing [10, 20]
        var x = Tensor.FromArray([1f, 2f, 3f, 4f], 2, 2);
        var w = Tensor.FromArray([0.5f, -1f], 1, 2).RequireGrad();
        w.Grad = Tensor.FromArray([10f, 20f], 1, 2);
        DenseSum.Apply([x], [w], [], FusedActivation.Linear).Sum().Backward();
        Assert.Equal([14f, 26f], w.Grad!.ToFloatArray());
    }

    [Fact]
    public void DenseSumBiasGradientIsCopiedForEachNonLeafBias()
    {
        // two biases made by ops share one column-sum buffer db in the backward; handing db itself to both would let
        // the first consumer's walk step return it to the pool while the second still reads it (inside a scope)
        const int n = 2, outF = 256;
        var xd = new float[n * outF];
        var x = Tensor.FromArray(xd, n, outF);
        var q1 = Tensor.FromArray(new float[outF], outF).RequireGrad();
        var q2 = Tensor.FromArray(new float[outF], outF).RequireGrad();
        var ones = new float[outF];
        Array.Fill(ones, 1f);
        using (TensorScope.Begin())
        {
            var b1 = q1.Slice(0, 0, outF);
            var b2 = q2 * Tensor.FromArray(ones, outF);
            var y = DenseSum.Apply([x], [null], [b1, b2], FusedActivation.Linear);
            (y * Tensor.FromArray(Enumerable.Range(0, n * outF).Select(i => (float)(i % 7 + 1)).ToArray(), n, outF)).Sum().Backward();
        }
        var expected = new float[outF];
        for (int j = 0; j < outF; j++) for (int r = 0; r < n; r++) expected[j] += (r * outF + j) % 7 + 1;
        Assert.Equal(expected, q1.Grad!.ToFloatArray());
        Assert.Equal(expected, q2.Grad!.ToFloatArray());
    }
}
