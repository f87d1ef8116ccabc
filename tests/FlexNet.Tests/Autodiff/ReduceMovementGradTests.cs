using FlexNet.Tests.Testing;
using FlexNet.Tensors;

namespace FlexNet.Tests.Autodiff;

public class ReduceMovementGradTests
{
    [Fact]
    public void ReductionsPassGradientCheck()
    {
        var x = T.Rand(5, 2, 3, 4);
        T.GradOk("sum all", v => v[0].Sum(), x);
        T.GradOk("sum axis 0", v => v[0].Sum(0), x);
        T.GradOk("sum axis 1 keep", v => v[0].Sum([1], true), x);
        T.GradOk("sum axes 0,2", v => v[0].Sum(0, 2), x);
        T.GradOk("mean axis -1", v => v[0].Mean(-1), x);
        T.GradOk("mean all", v => v[0].Mean(), x);
        T.GradOk("max axis 1", v => v[0].Max(1), x);
        T.GradOk("max axis 2 keep", v => v[0].Max(2, true), x);
        T.GradOk("sum non-contiguous", v => v[0].Sum(1), T.NonContiguous(x));
        T.GradOk("sum batch 1", v => v[0].Sum(0), T.Rand(1, 1, 7));
    }

    [Fact]
    public void ReductionValuesAndArgMax()
    {
        var x = Tensor.FromArray(new double[] { 1, 5, 3, 7, 2, 7 }, 2, 3);
        Assert.Equal(new double[] { 8, 7, 10 }, x.Sum(0).ToDoubleArray());
        Assert.Equal(new double[] { 9, 16 }, x.Sum(1).ToDoubleArray());
        T.Close(new double[] { 3, 16.0 / 3 }, x.Mean(1).ToDoubleArray(), 0, 1e-15, "values");
        Assert.Equal(new double[] { 5, 7 }, x.Max(1).ToDoubleArray());
        Assert.Equal(new[] { 1, 0 }, x.ArgMax(1).ToInt32Array()); // first maximum on ties
        Assert.Equal(DType.Int32, x.ArgMax(1).DType);
        Assert.Equal(7, x.Max().Item());
    }

    [Fact]
    public void MovementOpsPassGradientCheck()
    {
        var x = T.Rand(6, 2, 3, 4);
        var w = T.Rand(7, 4, 3, 2);
        T.GradOk("reshape", v => v[0].Reshape(6, -1) * v[1].Reshape(6, 4), x, w);
        T.GradOk("permute", v => v[0].Permute(2, 0, 1) * v[1].Permute(0, 2, 1).Reshape(4, 2, 3), x, w);
        T.GradOk("transpose", v => v[0].Transpose(0, 2).Reshape(4, 6), x);
        T.GradOk("slice", v => v[0].Slice(1, 1, 2), x);
        T.GradOk("slice step", v => v[0].Slice(2, 0, 2, step: 2), x);
        T.GradOk("concat", v => Tensor.Concat([v[0], v[0].Slice(1, 0, 1), v[1].Reshape(2, 3, 4)], 1), x, w);
        T.GradOk("stack", v => Tensor.Stack([v[0], v[1].Reshape(2, 3, 4)], 1), x, w);
        T.GradOk("split", v => v[0].Split([1, 3], 2)[1] * 2.0, x);
        T.GradOk("chunk", v => v[0].Chunk(2, 2)[0] - v[0].Chunk(2, 2)[1], x);
        T.GradOk("pad", v => v[0].Pad([0, 1, 2, 0, 1, 1], 0.5), x);
        T.GradOk("expand", v => v[0].Slice(0, 0, 1).Expand(5, 3, 4), x);
        T.GradOk("unsqueeze/squeeze", v => v[0].Unsqueeze(1).Squeeze(1).Flatten(), x);
        T.GradOk("non-contiguous reshape", v => v[0].Reshape(-1), T.NonContiguous(x));
    }

    [Fact]
    public void ViewsShareStorageAndSliceValues()
    {
        var x = Tensor.Arange(0, 24, 1, DType.Float64).Reshape(2, 3, 4);
        var t = x.Transpose(0, 2);
        Assert.Equal([4, 3, 2], t.Shape.ToArray());
        Assert.False(t.IsContiguous);
        Assert.Equal(x[1, 2, 3], t[3, 2, 1]);
        var s = x.Slice(2, 1, 2, 2);
        Assert.Equal(new double[] { 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23 }, s.ToDoubleArray());
        var p = x.Pad([0, 0, 0, 0, 1, 1]);
        Assert.Equal([2, 3, 6], p.Shape.ToArray());
        Assert.Equal(0, p[0, 0, 0]);
        Assert.Equal(x[1, 2, 3], p[1, 2, 4]);
    }

    [Fact]
    public void ShapeErrorsNameTheOpAndBothShapes()
    {
        var a = Tensor.Zeros([3, 4]);
        var b = Tensor.Zeros([2, 4]);
        var e = Assert.Throws<ShapeMismatchException>(() => a + b);
        Assert.Contains("Add", e.Message);
        Assert.Contains("[3, 4]", e.Message);
        Assert.Contains("[2, 4]", e.Message);
        var r = Assert.Throws<ShapeMismatchException>(() => a.Reshape(5, -1));
        Assert.Contains("[3, 4]", r.Message);
        var c = Assert.Throws<ShapeMismatchException>(() => Tensor.Concat([a, Tensor.Zeros([3, 5])], 0));
        Assert.Contains("[3, 5]", c.Message);
    }
}
