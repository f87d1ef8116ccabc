using FlexNet.Tensors;
using Xunit;

namespace FlexNet.Tests.Tensors;

/// <summary>
/// The Stryker survivors of run 8 in Tensor.cs, Tensor.Ops.cs, Tensor.Factory.cs, TensorFormatter.cs and ShapeUtil.cs:
/// each value is checked against index arithmetic or a loop written here, each rejection by its whole message, each
/// format by its exact string.
/// </summary>
public sealed class TensorMutationGapTests
{
    private static float[] Seq(int n, float start = 1)
    {
        var v = new float[n];
        for (int i = 0; i < n; i++) v[i] = start + i;
        return v;
    }

    // ---- Tensor.Ops ----

    [Fact]
    public void ScalarAndElementwiseOperators_MatchLoops()
    {
        var a = Tensor.FromArray(new float[] { 1, -2, 3, 8 }, 4);
        var b = Tensor.FromArray(new float[] { 2, -5, 3, 1 }, 4);
        Assert.Equal(new float[] { -1, -4, 1, 6 }, (a - 2.0).ToFloatArray());
        Assert.Equal(new float[] { 0.25f, -0.5f, 0.75f, 2 }, (a / 4.0).ToFloatArray());
        Assert.Equal(new float[] { 2, -2, 3, 8 }, a.Maximum(b).ToFloatArray());
        Assert.Equal(new float[] { 1, -5, 3, 1 }, a.Minimum(b).ToFloatArray());
    }

    [Fact]
    public void Clip_AcceptsEqualBounds_AndNamesReversedOnes()
    {
        var a = Tensor.FromArray(new float[] { 1, 2, 3 }, 3);
        Assert.Equal(new float[] { 2, 2, 2 }, a.Clip(2, 2).ToFloatArray());
        var e = Assert.Throws<ArgumentException>(() => a.Clip(3, 1));
        Assert.Equal("Clip: lo (3) must not exceed hi (1).", e.Message);
    }

    [Fact]
    public void SumOverAxes_DropsThem_AndMaxOfAllIsAScalar()
    {
        var a = Tensor.FromArray(new float[] { 1, 7, 3, 4, 5, 6 }, 2, 3);
        var s = a.Sum(1);
        Assert.Equal(new[] { 2 }, s.Shape.ToArray());
        Assert.Equal(new float[] { 11, 15 }, s.ToFloatArray());
        var m = a.Max();
        Assert.Equal(0, m.Rank);
        Assert.Equal(7, m.Item());
    }

    [Fact]
    public void T_SwapsTheLastTwoAxes()
    {
        var a = Tensor.FromArray(Seq(6), 2, 3);
        var t = a.T;
        Assert.Equal(new[] { 3, 2 }, t.Shape.ToArray());
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 3; j++) Assert.Equal(a[i, j], t[j, i]);
        var b = Tensor.FromArray(Seq(24), 2, 3, 4);
        var bt = b.T;
        Assert.Equal(new[] { 2, 4, 3 }, bt.Shape.ToArray());
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 3; j++)
                for (int k = 0; k < 4; k++) Assert.Equal(b[i, j, k], bt[i, k, j]);
    }

    [Fact]
    public void Flatten_KeepsTheLeadingAxes_EmptyToo_AndNamesABadAxis()
    {
        var a = Tensor.FromArray(Seq(24), 2, 3, 4);
        Assert.Equal(new[] { 24 }, a.Flatten(0).Shape.ToArray());
        Assert.Equal(new[] { 2, 12 }, a.Flatten(1).Shape.ToArray());
        Assert.Equal(new[] { 2, 3, 4 }, a.Flatten(2).Shape.ToArray());
        Assert.Equal(new[] { 2, 3, 4 }, a.Flatten(-1).Shape.ToArray());
        Assert.Equal(Seq(24), a.Flatten(1).ToFloatArray());
        Assert.Equal(new[] { 2, 0 }, Tensor.Zeros([2, 0, 3]).Flatten(1).Shape.ToArray());
        Assert.Equal(new[] { 0, 3 }, Tensor.Zeros([0, 3, 1]).Flatten(1).Shape.ToArray());
        Assert.Equal(new[] { 0 }, Tensor.Zeros([0, 65536, 65536]).Flatten(0).Shape.ToArray());
        Assert.Equal("Flatten: axes 1 on of [0, 65536, 65536, 2] hold more than 2147483647 elements.",
            Assert.Throws<ShapeMismatchException>(() => Tensor.Zeros([0, 65536, 65536, 2]).Flatten(1)).Message);
        Assert.Equal(new[] { 0, 65536 * 32767 }, Tensor.Zeros([0, 65536, 32767]).Flatten(1).Shape.ToArray());
        Assert.Equal(new[] { 0, int.MaxValue }, Tensor.Zeros([0, int.MaxValue, 1]).Flatten(1).Shape.ToArray());
        Assert.Equal(new[] { 1 }, Tensor.Scalar(3).Flatten(0).Shape.ToArray());
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => a.Flatten(3));
        Assert.Equal("Flatten: axis 3 is out of range for rank 3. (Parameter 'axis')", e.Message);
    }

    [Fact]
    public void Chunk_SplitsIntoEqualViews_AndRejectsWhatDoesNotDivide()
    {
        var a = Tensor.FromArray(Seq(12), 2, 6);
        var parts = a.Chunk(3, 1);
        Assert.Equal(3, parts.Length);
        for (int p = 0; p < 3; p++)
        {
            Assert.Equal(new[] { 2, 2 }, parts[p].Shape.ToArray());
            for (int i = 0; i < 2; i++)
                for (int j = 0; j < 2; j++) Assert.Equal(a[i, 2 * p + j], parts[p][i, j]);
        }
        Assert.Single(a.Chunk(1, 1));
        Assert.Equal(2, a.Chunk(2, 0).Length);
        foreach (int chunks in new[] { 4, 0, -3, 5 })
        {
            var e = Assert.Throws<ShapeMismatchException>(() => a.Chunk(chunks, 1));
            Assert.Equal($"Chunk: axis 1 of [2, 6] (size 6) does not split into {chunks} equal chunks.", e.Message);
        }
    }

    // ---- Tensor.cs ----

    [Fact]
    public void Rejections_NameTheOpAndTheShape()
    {
        var a = Tensor.FromArray(Seq(6), 2, 3);
        Assert.Equal(3, a.Size(-1));
        Assert.Equal("Size: axis 2 is out of range for rank 2. (Parameter 'axis')",
            Assert.Throws<ArgumentOutOfRangeException>(() => a.Size(2)).Message);
        var y = Tensor.Ones([2]).RequireGrad() * 2.0;
        Assert.Equal("RequireGrad can only be set on leaf tensors; use Detach() first.",
            Assert.Throws<AutogradException>(() => y.RequireGrad()).Message);
        Assert.Equal("Only floating-point tensors can require gradients (this one is Int32).",
            Assert.Throws<AutogradException>(() => Tensor.Zeros([2], DType.Int32).RequireGrad()).Message);
        Assert.False(Tensor.Zeros([2], DType.Int32).RequireGrad(false).RequiresGrad);
        Assert.Equal("Item() needs a one-element tensor; got shape [2, 3].",
            Assert.Throws<ShapeMismatchException>(() => a.Item()).Message);
        Assert.Equal("Index has 1 components but the tensor has rank 2 (shape [2, 3]). (Parameter 'index')",
            Assert.Throws<ArgumentException>(() => a[1]).Message);
        Assert.Equal("Index 2 is out of range for dimension 0 of size 2 (shape [2, 3]).",
            Assert.Throws<IndexOutOfRangeException>(() => a[2, 0]).Message);
        Assert.Equal("Index -4 is out of range for dimension 1 of size 3 (shape [2, 3]).",
            Assert.Throws<IndexOutOfRangeException>(() => a[0, -4]).Message);
        Assert.Equal("CopyTo(Span<float>) needs a Float32 tensor; got Float64 of shape [2].",
            Assert.Throws<ArgumentException>(() => Tensor.Zeros([2], DType.Float64).CopyTo(new float[2])).Message);
        Assert.Equal("CopyTo(Span<double>) needs a Float64 tensor; got Float32 of shape [2].",
            Assert.Throws<ArgumentException>(() => Tensor.Zeros([2]).CopyTo(new double[2])).Message);
        Assert.Equal("Adam needs a floating-point tensor; got Int32 of shape [3].",
            Assert.Throws<ArgumentException>(() => Tensor.Zeros([3], DType.Int32).RequireFloat("Adam")).Message);
        Tensor.Zeros([3], DType.Float64).RequireFloat("Adam"); // no throw
    }

    [Fact]
    public void Indexing_CountsNegativeIndicesFromTheEnd_AndIntStoresAreChecked()
    {
        var a = Tensor.FromArray(Seq(6), 2, 3);
        Assert.Equal(6, a[-1, -1]);
        Assert.Equal(4, a[-1, 0]);
        Assert.Equal(2, a[0, -2]);
        a[-1, -3] = 40;
        Assert.Equal(40, a[1, 0]);
        var i = Tensor.Zeros([2], DType.Int32);
        Assert.Throws<OverflowException>(() => i[0] = 3e9);
        Assert.Throws<OverflowException>(() => i.Fill(-3e9));
        Assert.Throws<OverflowException>(() => Tensor.FromArray(new double[] { 1, 3e9 }, 2).ToInt32Array());
    }

    [Fact]
    public void Conversions_CopyEveryElementInRowMajorOrder()
    {
        var d = Tensor.FromArray(new double[] { 1.5, -2.25, 3, 4 }, 2, 2);
        Assert.Equal(new float[] { 1.5f, 3, -2.25f, 4 }, d.T.ToFloatArray());
        Assert.Equal(new float[] { 1.5f, -2.25f, 3, 4 }, d.ToFloatArray());
        var n = Tensor.FromArray(new[] { 7, -8, 9, 10 }, 2, 2);
        Assert.Equal(new float[] { 7, -8, 9, 10 }, n.ToFloatArray());
        Assert.Equal(new double[] { 7, -8, 9, 10 }, n.ToDoubleArray());
        Assert.Equal(new double[] { 7, 9, -8, 10 }, n.T.ToDoubleArray());
        Assert.Equal(new[] { 7, -8, 9, 10 }, n.ToInt32Array());
        Assert.Equal(new[] { 1, -2, 3 }, Tensor.FromArray(new float[] { 1, -2, 3 }, 3).ToInt32Array());
        var dst = new double[4];
        d.CopyTo(dst);
        Assert.Equal(new[] { 1.5, -2.25, 3, 4 }, dst);
        d.T.CopyTo(dst);
        Assert.Equal(new[] { 1.5, 3, -2.25, 4 }, dst);
        var fdst = new float[4];
        Tensor.FromArray(new float[] { 1, 2, 3, 4 }, 2, 2).T.CopyTo(fdst);
        Assert.Equal(new float[] { 1, 3, 2, 4 }, fdst);
        Assert.Same(d, d.Contiguous());
        Assert.NotSame(d.T, d.T.Contiguous());
    }

    // ---- Tensor.Factory.cs ----

    [Fact]
    public void FactoryRejections_NameTheArgument()
    {
        Assert.Equal("Arange: step must be non-zero. Received: 0 (Parameter 'step')",
            Assert.Throws<ArgumentException>(() => Tensor.Arange(0, 1, 0)).Message);
        Assert.Equal("std must be non-negative. Received: -1 (Parameter 'std')",
            Assert.Throws<ArgumentOutOfRangeException>(() => Tensor.Normal([2], 0, -1)).Message);
        Assert.Equal("FromArray: 5 values do not fill shape [2, 3] (6 elements).",
            Assert.Throws<ShapeMismatchException>(() => Tensor.FromArray(new float[5], 2, 3)).Message);
        Assert.Equal("Wrap: 5 values do not fill shape [2, 3] (6 elements).",
            Assert.Throws<ShapeMismatchException>(() => Tensor.Wrap(new float[5], 2, 3)).Message);
        Assert.Equal("CopyFrom: destination shape [2, 3] differs from source shape [3, 2].",
            Assert.Throws<ShapeMismatchException>(() => Tensor.Zeros([2, 3]).CopyFrom(Tensor.Zeros([3, 2]))).Message);
    }

    [Fact]
    public void NormalAndUniform_AreMeanPlusStdTimesTheGeneratorsDraws()
    {
        var t = Tensor.Normal([5], 2, 3, new RandomGenerator(7), DType.Float64).ToDoubleArray();
        var g = new RandomGenerator(7);
        for (int i = 0; i < 5; i++) Assert.Equal(2 + 3 * g.NextNormal(), t[i]);
        Assert.Equal(new double[] { 4, 4, 4 }, Tensor.Normal([3], 4, 0, new RandomGenerator(1), DType.Float64).ToDoubleArray());
        var u = Tensor.Uniform([6], -1, 5, new RandomGenerator(9), DType.Float64).ToDoubleArray();
        g = new RandomGenerator(9);
        for (int i = 0; i < 6; i++) Assert.Equal(-1 + 6 * g.NextDouble(), u[i]);
    }

    [Fact]
    public void FromArray_WithoutAShape_IsRankOne_UnlessOneValue()
    {
        var v = Tensor.FromArray(new float[] { 1, 2, 3 });
        Assert.Equal(new[] { 3 }, v.Shape.ToArray());
        var s = Tensor.FromArray(new double[] { 5 });
        Assert.Equal(0, s.Rank);
        Assert.Equal(5, s.Item());
        var w = Tensor.Wrap(new double[6], 2, 3);
        Assert.Equal(new[] { 3, 1 }, w.Strides.ToArray());
        Assert.Equal(new[] { 1 }, Tensor.Wrap(new float[4]).Strides.ToArray());
    }

    [Fact]
    public void Fill_OfAStridedView_WritesOnlyItsElements()
    {
        foreach (var dt in new[] { DType.Float32, DType.Float64, DType.Int32 })
        {
            var p = Tensor.Zeros([3, 4], dt);
            p.Slice(1, 1, 2).Fill(5);
            for (int i = 0; i < 3; i++)
                for (int j = 0; j < 4; j++) Assert.Equal(j is 1 or 2 ? 5 : 0, p[i, j]);
            p.Fill(3);
            Assert.All(p.ToDoubleArray(), x => Assert.Equal(3, x));
        }
    }

    [Fact]
    public void CopyFrom_ConvertsAndFollowsStridesOnBothSides()
    {
        var src = Tensor.FromArray(new float[] { 1, 2, 3, 4, 5, 6 }, 2, 3);
        // same dtype, both contiguous
        foreach (var dt in new[] { DType.Float32, DType.Float64, DType.Int32 })
        {
            var s = src.To(dt);
            var d = Tensor.Zeros([2, 3], dt).CopyFrom(s);
            Assert.Equal(src.ToDoubleArray(), d.ToDoubleArray());
        }
        // other dtypes, both contiguous
        Assert.Equal(src.ToDoubleArray(), Tensor.Zeros([2, 3], DType.Float64).CopyFrom(src).ToDoubleArray());
        Assert.Equal(src.ToDoubleArray(), Tensor.Zeros([2, 3]).CopyFrom(src.To(DType.Float64)).ToDoubleArray());
        Assert.Equal(src.ToDoubleArray(), Tensor.Zeros([2, 3], DType.Int32).CopyFrom(src).ToDoubleArray());
        // a strided source into a contiguous destination
        var dt2 = Tensor.Zeros([3, 2]).CopyFrom(src.T);
        Assert.Equal(new float[] { 1, 4, 2, 5, 3, 6 }, dt2.ToFloatArray());
        // a contiguous source into a strided destination
        var p = Tensor.Zeros([3, 4]);
        p.Slice(1, 1, 2).CopyFrom(Tensor.FromArray(new float[] { 1, 2, 3, 4, 5, 6 }, 3, 2));
        Assert.Equal(new float[] { 0, 1, 2, 0, 0, 3, 4, 0, 0, 5, 6, 0 }, p.ToFloatArray());
    }

    // ---- TensorFormatter.cs ----

    [Fact]
    public void ToString_ShowsNameGradStateAndValuesPerDType()
    {
        var t = Tensor.FromArray(new float[] { 1, 2 }, 2);
        t.Name = "w";
        Assert.Equal("Tensor[2] Float32 'w' [1, 2]", t.ToString());
        t.RequireGrad();
        Assert.Equal("Tensor[2] Float32 'w' requires_grad [1, 2]", t.ToString());
        Assert.Equal("Tensor[2] Float32 grad_fn=MulScalarBackward [2, 4]", (t * 2.0).ToString());
        Tensor dead;
        using (TensorScope.Begin()) dead = Tensor.Zeros([3]);
        Assert.Equal("Tensor[3] Float32 <released>", dead.ToString());
        Assert.Equal("Tensor[3] Int32 [123456789, -5, 0]", Tensor.FromArray(new[] { 123456789, -5, 0 }, 3).ToString());
        Assert.Equal("Tensor[2] Int32 [2147483647, -2147483648]", Tensor.FromArray(new[] { int.MaxValue, int.MinValue }, 2).ToString());
        Assert.Equal("Tensor[2] Float32 [0.1, 0.3333333]", Tensor.FromArray(new float[] { 0.1f, 1f / 3 }, 2).ToString());
        Assert.Equal("Tensor[2] Float64 [0.3333333333, 2.5]", Tensor.FromArray(new double[] { 1.0 / 3, 2.5 }, 2).ToString());
    }

    [Fact]
    public void ToString_ShowsUpTo64Values_AndSummarisesMore()
    {
        var s64 = Tensor.FromArray(Seq(64), 64).ToString();
        Assert.StartsWith("Tensor[64] Float32 [1, 2, 3, ", s64);
        Assert.EndsWith(", 63, 64]", s64);
        var v = Seq(65, -3);
        v[10] = -20;
        double mean = 0;
        foreach (var x in v) mean += x;
        mean /= v.Length;
        Assert.Equal(FormattableString.Invariant($"Tensor[5, 13] Float32 (min -20, max 61, mean {mean:G5})"),
            Tensor.FromArray(v, 5, 13).ToString());
        Assert.Equal("Tensor[5, 13] Float32 (min -20, max 61, mean 28.585)", Tensor.FromArray(v, 5, 13).ToString());
    }

    // ---- ShapeUtil.cs ----

    [Fact]
    public void Product_AllowsZeroAndIntMax_AndNamesNegativeAndOversizedShapes()
    {
        Assert.Equal(0, ShapeUtil.Product([2, 0, 3]));
        Assert.Equal(0, Tensor.Zeros([0]).Length);
        Assert.Equal(int.MaxValue, ShapeUtil.Product([int.MaxValue]));
        Assert.Equal(1, ShapeUtil.Product([]));
        Assert.Equal("Negative dimension -1 in shape [2, -1].",
            Assert.Throws<ArgumentException>(() => ShapeUtil.Product([2, -1])).Message);
        Assert.Equal("Shape [65536, 32768] has more than 2147483647 elements.",
            Assert.Throws<ArgumentException>(() => ShapeUtil.Product([65536, 32768])).Message);
    }

    [Fact]
    public void IsContiguous_IgnoresSizeOneAxes_ChecksTheOuterAxis_AndHoldsForEmptyShapes()
    {
        Assert.Equal(new[] { 12, 4, 1 }, ShapeUtil.ContiguousStrides([2, 3, 4]));
        Assert.Equal(new[] { 3, 3, 1 }, ShapeUtil.ContiguousStrides([2, 0, 3]));
        Assert.True(ShapeUtil.IsContiguous([1, 3], [1, 1]));   // the size-1 axis has any stride
        Assert.True(ShapeUtil.IsContiguous([3, 1], [1, 7]));
        Assert.False(ShapeUtil.IsContiguous([2, 3], [6, 1])); // only the outer axis is off
        Assert.True(ShapeUtil.IsContiguous([2, 0], [5, 7]));
        Assert.True(Tensor.Zeros([0, 3]).IsContiguous);
        var col = Tensor.FromArray(Seq(3), 3, 1).T;           // [1, 3] with strides [1, 1]
        Assert.True(col.IsContiguous);
        Assert.Same(col, col.Contiguous());
        var rows = Tensor.FromArray(Seq(12), 4, 3).Slice(0, 0, 2, step: 2);
        Assert.False(rows.IsContiguous);
        Assert.Equal(new float[] { 1, 2, 3, 7, 8, 9 }, rows.ToFloatArray());
    }

    [Fact]
    public void Broadcast_OfAShorterLeftShape_AndItsMessage()
    {
        Assert.Equal(new[] { 2, 3 }, ShapeUtil.Broadcast([3], [2, 3], "add"));
        Assert.Equal(new[] { 4, 2, 3 }, ShapeUtil.Broadcast([2, 1], [4, 1, 3], "add"));
        Assert.Equal(new[] { 4, 2, 3 }, ShapeUtil.Broadcast([4, 1, 3], [2, 1], "add"));
        Assert.Equal("add: shapes [2] and [4, 3] cannot be broadcast together (dimension 1: 2 vs 3).",
            Assert.Throws<ShapeMismatchException>(() => ShapeUtil.Broadcast([2], [4, 3], "add")).Message);
        var sum = Tensor.FromArray(new float[] { 1, 2, 3 }, 3) + Tensor.FromArray(new float[] { 10, 20, 30, 40, 50, 60 }, 2, 3);
        Assert.Equal(new float[] { 11, 22, 33, 41, 52, 63 }, sum.ToFloatArray());
    }

    [Fact]
    public void BroadcastStrides_AndBroadcastsTo_FollowNumPy()
    {
        Assert.Equal(new[] { 0, 1, 0 }, ShapeUtil.BroadcastStrides([3, 1], [1, 1], [2, 3, 4]));
        Assert.Equal(new[] { 0, 0, 5, 1 }, ShapeUtil.BroadcastStrides([1, 2, 3], [6, 5, 1], [7, 1, 2, 3]));
        Assert.Equal(new[] { 4, 1 }, ShapeUtil.BroadcastStrides([2, 3], [4, 1], [2, 3]));
        Assert.True(ShapeUtil.BroadcastsTo([3], [2, 3]));
        Assert.True(ShapeUtil.BroadcastsTo([2, 1], [2, 5]));
        Assert.True(ShapeUtil.BroadcastsTo([1, 3], [4, 3]));
        Assert.True(ShapeUtil.BroadcastsTo([2, 3], [2, 3]));
        Assert.False(ShapeUtil.BroadcastsTo([2], [2, 3]));
        Assert.False(ShapeUtil.BroadcastsTo([2, 3], [3]));
        Assert.False(ShapeUtil.BroadcastsTo([3, 1], [2, 3]));
        Assert.False(ShapeUtil.BroadcastsTo([2, 3], [2, 1]));
    }

    [Fact]
    public void Offsets_WalkAStridedViewInRowMajorOrder()
    {
        var a = Tensor.FromArray(Seq(60), 3, 4, 5);
        // a permuted, sliced view: index arithmetic for its offsets
        var v = a.Permute(2, 0, 1).Slice(0, 1, 2, step: 2).Slice(2, 1, 3);   // shape [2, 3, 3]
        Assert.Equal(new[] { 2, 3, 3 }, v.Shape.ToArray());
        var expected = new List<int>();
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 3; j++)
                for (int k = 0; k < 3; k++) expected.Add((1 + 2 * i) + 20 * j + 5 * (1 + k));
        Assert.Equal(expected, ShapeUtil.Offsets(v).Take(v.Length + 1).ToList());
        Assert.Empty(ShapeUtil.Offsets(Tensor.Zeros([2, 0])).Take(1));
        var scalar = a.Slice(0, 2, 1).Slice(1, 3, 1).Slice(2, 4, 1).Reshape();
        Assert.Equal(new[] { 59 }, ShapeUtil.Offsets(scalar).Take(2).ToList());
    }
}
