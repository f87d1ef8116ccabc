using FlexNet.Tensors;

namespace FlexNet.Tests.Autodiff;

/// <summary>
/// Shape and layout ops (slice with steps, pad, concat, stack, split, permute, reshape, cast, expand) against index
/// arithmetic written here, forward and backward: the backward is checked by weighting each output position with a
/// distinct number and reading where each weight lands in the input's gradient. Every rejection is checked with its
/// whole message.
/// </summary>
public sealed class MovementOracleTests
{
    /// <summary>0, 1, 2, ... as float64 [shape], recording gradients.</summary>
    private static Tensor Seq(params int[] shape)
    {
        int n = shape.Aggregate(1, (p, d) => p * d);
        return Tensor.FromArray(Enumerable.Range(0, n).Select(i => (double)i).ToArray(), shape).RequireGrad();
    }

    /// <summary>Backpropagates sum(y * w) with w = 1, 2, 3, ... so each output position sends its own weight.</summary>
    private static void BackwardWeighted(Tensor y)
    {
        var w = Tensor.FromArray(Enumerable.Range(1, y.Length).Select(i => (double)i).ToArray(), y.Shape.ToArray());
        (y * w).Sum().Backward();
    }

    [Fact]
    public void SliceWithStepOnEveryAxisAndItsGradient()
    {
        // x[i, j, k] = (i * 5 + j) * 6 + k, shape [3, 5, 6]
        for (int axis = 0; axis < 3; axis++)
        {
            var x = Seq(3, 5, 6);
            int[] dims = [3, 5, 6];
            int start = 1, step = 2, length = (dims[axis] - 1 - start) / step + 1;
            var y = x.Slice(axis, start, length, step);
            int[] ys = (int[])dims.Clone();
            ys[axis] = length;
            Assert.Equal(ys, y.Shape.ToArray());
            double[] got = y.Contiguous().ToDoubleArray();
            var grad = new double[90];
            int o = 0;
            for (int i = 0; i < ys[0]; i++)
            for (int j = 0; j < ys[1]; j++)
            for (int k = 0; k < ys[2]; k++)
            {
                int[] src = [i, j, k];
                src[axis] = start + src[axis] * step;
                int flat = (src[0] * 5 + src[1]) * 6 + src[2];
                Assert.Equal(flat, got[o]);
                grad[flat] += o + 1;
                o++;
            }
            BackwardWeighted(y);
            Assert.Equal(grad, x.Grad!.ToDoubleArray());
        }
    }

    [Fact]
    public void SliceOfASliceAndNegativeStart()
    {
        var x = Seq(10);
        var y = x.Slice(0, -7, 3, 2); // start 3: elements 3, 5, 7
        Assert.Equal([3.0, 5.0, 7.0], y.Contiguous().ToDoubleArray());
        var z = y.Slice(0, 1, 2); // 5, 7
        Assert.Equal([5.0, 7.0], z.Contiguous().ToDoubleArray());
        BackwardWeighted(z);
        Assert.Equal([0, 0, 0, 0, 0, 1.0, 0, 2.0, 0, 0], x.Grad!.ToDoubleArray());
        // the last element exactly
        Assert.Equal([9.0], Seq(10).Slice(0, 9, 1).ToDoubleArray());
        Assert.Equal([1.0, 9.0], Seq(10).Slice(0, 1, 2, 8).Contiguous().ToDoubleArray());
        Assert.Empty(Seq(10).Slice(0, 10, 0).ToDoubleArray());
    }

    [Fact]
    public void SliceRejections()
    {
        var x = Seq(2, 10);
        Assert.Equal("Slice: [8, +2 step 2) is out of range for axis 1 of size 10 (shape [2, 10]).",
            Assert.Throws<ShapeMismatchException>(() => x.Slice(1, 8, 2, 2)).Message);
        Assert.Equal("Slice: [-1, +1 step 1) is out of range for axis 1 of size 10 (shape [2, 10]).",
            Assert.Throws<ShapeMismatchException>(() => x.Slice(1, -11, 1)).Message);
        Assert.Equal("Slice: [0, +-1 step 1) is out of range for axis 1 of size 10 (shape [2, 10]).",
            Assert.Throws<ShapeMismatchException>(() => x.Slice(1, 0, -1)).Message);
        Assert.Equal("Slice: step must be positive. Received: 0", Assert.Throws<ArgumentException>(() => x.Slice(1, 0, 1, 0)).Message);
    }

    [Fact]
    public void PadPlacesTheInputAndRoutesTheGradient()
    {
        var x = Seq(2, 3);
        var y = x.Pad([1, 0, 2, 1], -1);
        Assert.Equal([3, 6], y.Shape.ToArray());
        double[] got = y.ToDoubleArray();
        var grad = new double[6];
        for (int i = 0; i < 3; i++)
        for (int j = 0; j < 6; j++)
        {
            int si = i - 1, sj = j - 2;
            bool inside = si >= 0 && si < 2 && sj >= 0 && sj < 3;
            Assert.Equal(inside ? si * 3 + sj : -1.0, got[i * 6 + j]);
            if (inside) grad[si * 3 + sj] = i * 6 + j + 1;
        }
        BackwardWeighted(y);
        Assert.Equal(grad, x.Grad!.ToDoubleArray());

        var f32 = Tensor.FromArray([1f, 2f], 2).Pad([0, 2], 9);
        Assert.Equal([1f, 2f, 9f, 9f], f32.ToFloatArray());
        var i32 = Tensor.FromArray([4, 5], 2).Pad([1, 1], 7);
        Assert.Equal([7, 4, 5, 7], i32.ToInt32Array());

        Assert.Equal("Pad: needs 2 values (before, after) per dimension = 4 for shape [2, 3]; got 2.",
            Assert.Throws<ShapeMismatchException>(() => x.Pad([1, 1])).Message);
        Assert.Equal("Pad: negative padding [0, 0, 0, -1].", Assert.Throws<ArgumentException>(() => x.Pad([0, 0, 0, -1])).Message);
        Assert.Equal("Pad: negative padding [-1, 0, 0, 0].", Assert.Throws<ArgumentException>(() => x.Pad([-1, 0, 0, 0])).Message);
    }

    [Fact]
    public void ConcatAlongEachAxisAndItsGradient()
    {
        for (int axis = 0; axis < 2; axis++)
        {
            int[] sizes = [2, 1, 3];
            var parts = sizes.Select(n => axis == 0 ? Seq(n, 3) : Seq(2, n)).ToArray();
            var y = Tensor.Concat(parts, axis);
            int[] shape = axis == 0 ? [6, 3] : [2, 6];
            Assert.Equal(shape, y.Shape.ToArray());
            double[] got = y.ToDoubleArray();
            var grads = parts.Select(p => new double[p.Length]).ToArray();
            for (int i = 0; i < shape[0]; i++)
            for (int j = 0; j < shape[1]; j++)
            {
                int pos = axis == 0 ? i : j, part = 0, start = 0;
                while (pos >= start + sizes[part]) start += sizes[part++];
                int li = axis == 0 ? i - start : i, lj = axis == 0 ? j : j - start;
                int cols = parts[part].Shape[1];
                Assert.Equal(li * cols + lj, got[i * shape[1] + j]);
                grads[part][li * cols + lj] = i * shape[1] + j + 1;
            }
            BackwardWeighted(y);
            for (int k = 0; k < 3; k++) Assert.Equal(grads[k], parts[k].Grad!.ToDoubleArray());
        }
    }

    [Fact]
    public void ConcatOfViewsIntsAndRejections()
    {
        var t = Seq(3, 2).Transpose(); // [2, 3] view: [[0, 2, 4], [1, 3, 5]]
        Assert.Equal([0.0, 2, 4, 1, 3, 5, 0, 2, 4, 1, 3, 5], Tensor.Concat([t, t], 0).ToDoubleArray());
        Assert.Equal([1, 2, 3], Tensor.Concat([Tensor.FromArray([1], 1), Tensor.FromArray([2, 3], 2)]).ToInt32Array());
        Assert.Equal([1f, 2f, 3f], Tensor.Concat([Tensor.FromArray([1f], 1), Tensor.FromArray([2f, 3f], 2)]).ToFloatArray());
        Assert.Equal("Concat needs at least one tensor.", Assert.Throws<ArgumentException>(() => Tensor.Concat([], 0)).Message);
        Assert.Equal("Concat: tensor of shape [2] (Float32) does not fit [2] (Float64).",
            Assert.Throws<ShapeMismatchException>(() => Tensor.Concat([Tensor.Zeros([2], DType.Float64), Tensor.Zeros([2])])).Message);
        Assert.Equal("Concat: tensor of shape [2, 1] (Float64) does not fit [2] (Float64).",
            Assert.Throws<ShapeMismatchException>(() => Tensor.Concat([Tensor.Zeros([2], DType.Float64), Tensor.Zeros([2, 1], DType.Float64)])).Message);
        Assert.Equal("Concat along axis 1: shapes [2, 3] and [3, 3] differ in dimension 0.",
            Assert.Throws<ShapeMismatchException>(() => Tensor.Concat([Tensor.Zeros([2, 3]), Tensor.Zeros([3, 3])], 1)).Message);
    }

    [Fact]
    public void StackAndSplit()
    {
        var a = Seq(2, 3);
        var b = Tensor.FromArray([10.0, 11, 12, 13, 14, 15], 2, 3);
        var s1 = Tensor.Stack([a, b], 1); // [2, 2, 3]: s1[i, k, j]
        Assert.Equal([2, 2, 3], s1.Shape.ToArray());
        Assert.Equal([0.0, 1, 2, 10, 11, 12, 3, 4, 5, 13, 14, 15], s1.ToDoubleArray());
        var s2 = Tensor.Stack([a, b], -1); // [2, 3, 2]
        Assert.Equal([0.0, 10, 1, 11, 2, 12, 3, 13, 4, 14, 5, 15], s2.ToDoubleArray());
        Assert.Equal("Stack: tensor 1 has shape [3] but tensor 0 has [2].",
            Assert.Throws<ShapeMismatchException>(() => Tensor.Stack([Tensor.Zeros([2]), Tensor.Zeros([3])])).Message);
        Assert.Equal("Stack needs at least one tensor.", Assert.Throws<ArgumentException>(() => Tensor.Stack([])).Message);

        var x = Seq(2, 5);
        var parts = x.Split([1, 3, 1], 1);
        Assert.Equal([0.0, 5], parts[0].Contiguous().ToDoubleArray());
        Assert.Equal([1.0, 2, 3, 6, 7, 8], parts[1].Contiguous().ToDoubleArray());
        Assert.Equal([4.0, 9], parts[2].Contiguous().ToDoubleArray());
        Assert.Equal("Split: sizes [1, 3] sum to 4, but axis 1 of [2, 5] has 5.",
            Assert.Throws<ShapeMismatchException>(() => x.Split([1, 3], -1)).Message);
    }

    [Fact]
    public void PermuteReshapeSqueezeAndTheirGradients()
    {
        var x = Seq(2, 3, 4);
        var p = x.Permute(2, 0, 1); // p[k, i, j] = x[i, j, k]
        Assert.Equal([4, 2, 3], p.Shape.ToArray());
        double[] got = p.Contiguous().ToDoubleArray();
        var grad = new double[24];
        int o = 0;
        for (int k = 0; k < 4; k++)
        for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++)
        {
            Assert.Equal((i * 3 + j) * 4 + k, got[o]);
            grad[(i * 3 + j) * 4 + k] = ++o;
        }
        var r = p.Reshape(-1, 6); // a copy of the permuted order, [4, 6]
        Assert.Equal([4, 6], r.Shape.ToArray());
        BackwardWeighted(r);
        Assert.Equal(grad, x.Grad!.ToDoubleArray());

        Assert.Equal([2, 1, 3], Seq(2, 3).Unsqueeze(1).Shape.ToArray());
        Assert.Equal([2, 3, 1], Seq(2, 3).Unsqueeze(-1).Shape.ToArray());
        Assert.Equal([2, 3], Seq(2, 1, 3).Squeeze(1).Shape.ToArray());
        Assert.Equal([0, 3], Seq(0, 3).Reshape(-1, 3).Shape.ToArray());
        Assert.Equal("Squeeze: axis 0 of [2, 1, 3] has size 2, not 1.", Assert.Throws<ShapeMismatchException>(() => Seq(2, 1, 3).Squeeze(0)).Message);
        Assert.Equal("Permute: 2 axes given for a tensor of rank 3 (shape [2, 3, 4]).", Assert.Throws<ShapeMismatchException>(() => x.Permute(0, 1)).Message);
        Assert.Equal("Permute: axis -3 repeated in [0, 1, -3].", Assert.Throws<ArgumentException>(() => x.Permute(0, 1, -3)).Message);
        Assert.Equal("Reshape: only one dimension can be -1; got [-1, -1].", Assert.Throws<ShapeMismatchException>(() => x.Reshape(-1, -1)).Message);
        Assert.Equal("Reshape: invalid dimension -2 in [-2, 12].", Assert.Throws<ShapeMismatchException>(() => x.Reshape(-2, 12)).Message);
        Assert.Equal("Reshape: cannot reshape [2, 3, 4] (24 elements) to [-1, 5].", Assert.Throws<ShapeMismatchException>(() => x.Reshape(-1, 5)).Message);
        Assert.Equal("Reshape: cannot reshape [2, 3, 4] (24 elements) to [0, -1].", Assert.Throws<ShapeMismatchException>(() => x.Reshape(0, -1)).Message);
        Assert.Equal("Reshape: cannot reshape [2, 3, 4] (24 elements) to [5, 5] (25 elements).", Assert.Throws<ShapeMismatchException>(() => x.Reshape(5, 5)).Message);
    }

    [Fact]
    public void ExpandIsABroadcastViewWhoseGradientSums()
    {
        var x = Tensor.FromArray([1.0, 2.0, 3.0], 3, 1).RequireGrad();
        var y = x.Expand(2, 3, 4);
        Assert.Equal([2, 3, 4], y.Shape.ToArray());
        double[] got = y.Contiguous().ToDoubleArray();
        for (int b = 0; b < 2; b++) for (int i = 0; i < 3; i++) for (int j = 0; j < 4; j++) Assert.Equal(i + 1, got[(b * 3 + i) * 4 + j]);
        BackwardWeighted(y);
        // position (b, i, j) sends weight (b * 3 + i) * 4 + j + 1; x[i] collects 8 of them
        var expected = new double[3];
        for (int b = 0; b < 2; b++) for (int i = 0; i < 3; i++) for (int j = 0; j < 4; j++) expected[i] += (b * 3 + i) * 4 + j + 1;
        Assert.Equal(expected, x.Grad!.ToDoubleArray());
        Assert.Equal("Expand: cannot expand [3, 1] to [3, 1, 4].", Assert.Throws<ShapeMismatchException>(() => x.Expand(3, 1, 4)).Message);
    }

    [Fact]
    public void CastsBetweenEveryPairAndTheGradientComesBackInTheInputDType()
    {
        double[] v = [-2.75, -0.5, 0.25, 3.5];
        var d = Tensor.FromArray(v, 4);
        Assert.Equal(v.Select(x => (float)x).ToArray(), d.To(DType.Float32).ToFloatArray());
        Assert.Equal([-2, 0, 0, 3], d.To(DType.Int32).ToInt32Array());
        var f = Tensor.FromArray(v.Select(x => (float)x).ToArray(), 4);
        Assert.Equal(v, f.To(DType.Float64).ToDoubleArray());
        Assert.Equal([-2, 0, 0, 3], f.To(DType.Int32).ToInt32Array());
        var i = Tensor.FromArray([-3, 0, 7], 3);
        Assert.Equal([-3.0, 0, 7], i.To(DType.Float64).ToDoubleArray());
        Assert.Equal([-3f, 0, 7], i.To(DType.Float32).ToFloatArray());
        // a non-contiguous source is read in logical order
        Assert.Equal([0f, 2, 4, 1, 3, 5], Seq(3, 2).Transpose().To(DType.Float32).ToFloatArray());

        var x = Tensor.FromArray([1f, 2f], 2).RequireGrad();
        var y = x.To(DType.Float64);
        (y * Tensor.FromArray([3.0, 4.0], 2)).Sum().Backward();
        Assert.Equal(DType.Float32, x.Grad!.DType);
        Assert.Equal([3f, 4f], x.Grad.ToFloatArray());
    }

    [Fact]
    public void CloneCopiesViewsInLogicalOrderAndPassesTheGradient()
    {
        var x = Seq(2, 3, 2);
        var v = x.Permute(2, 1, 0).Slice(1, 1, 2); // [2, 2, 2]: v[k, j, i] = x[i, j + 1, k]
        var c = v.Clone();
        double[] got = c.ToDoubleArray();
        int o = 0;
        var grad = new double[12];
        for (int k = 0; k < 2; k++) for (int j = 0; j < 2; j++) for (int i = 0; i < 2; i++)
        {
            int flat = (i * 3 + j + 1) * 2 + k;
            Assert.Equal(flat, got[o]);
            grad[flat] = ++o;
        }
        BackwardWeighted(c);
        Assert.Equal(grad, x.Grad!.ToDoubleArray());
    }
}
