using System.Numerics;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using FlexNet.Tensors;
using FlexNet.Autodiff;

namespace FlexNet.Autodiff.Ops;

/// <summary>Reductions: sum, mean, max and argmax over axes, and summing a broadcast gradient back to a shape.</summary>
internal static class Reduce
{
    private static void AxesMask(Tensor x, int[]? axes, string op, Span<bool> mask)
    {
        mask.Clear();
        if (axes is null || axes.Length == 0)
        {
            mask.Fill(true);
            return;
        }
        foreach (var a in axes)
        {
            int d = ShapeUtil.NormalizeAxis(a, x.Rank, op);
            if (mask[d]) throw new ArgumentException($"{op}: axis {a} repeated in {ShapeUtil.Format(axes)}.");
            mask[d] = true;
        }
    }

    private static int[] ReducedShape(Tensor x, ReadOnlySpan<bool> mask, bool keepDims)
    {
        Span<int> s = stackalloc int[x.Rank];
        return s[..ReducedShape(x, mask, keepDims, s)].ToArray();
    }

    /// <summary>Writes the reduced shape into <paramref name="s"/> (at least rank long); returns its rank.</summary>
    private static int ReducedShape(Tensor x, ReadOnlySpan<bool> mask, bool keepDims, Span<int> s)
    {
        int r = 0;
        for (int d = 0; d < x.Rank; d++)
        {
            if (!mask[d]) s[r++] = x.ShapeArray[d];
            else if (keepDims) s[r++] = 1;
        }
        return r;
    }

    internal static Tensor Sum(Tensor x, int[]? axes, bool keepDims)
    {
        x.RequireFloat("Sum");
        Span<bool> mask = x.Rank <= 16 ? stackalloc bool[x.Rank] : new bool[x.Rank];
        AxesMask(x, axes, "Sum", mask);
        var y = SumRaw(x, mask, keepDims);
        if (Autograd.ShouldRecord(x)) y.MarkRecorded(SumBackward.Make(x, mask, 1.0));
        return y;
    }

    internal static Tensor Mean(Tensor x, int[]? axes, bool keepDims)
    {
        x.RequireFloat("Mean");
        Span<bool> mask = x.Rank <= 16 ? stackalloc bool[x.Rank] : new bool[x.Rank];
        AxesMask(x, axes, "Mean", mask);
        long count = 1;
        for (int d = 0; d < x.Rank; d++) if (mask[d]) count *= x.ShapeArray[d];
        var y = SumRaw(x, mask, keepDims);
        double scale = count == 0 ? double.NaN : 1.0 / count;
        if (y.DType == DType.Float32) TensorPrimitives.Multiply(y.F, (float)scale, y.F);
        else TensorPrimitives.Multiply(y.D, scale, y.D);
        if (Autograd.ShouldRecord(x)) y.MarkRecorded(SumBackward.Make(x, mask, scale));
        return y;
    }

    private sealed class SumBackward : Node
    {
        private int[] _shape = [];
        private int[] keptShape = []; // the first keptRank entries; longer when an earlier use had a higher rank
        private int keptRank;
        private double scale;

        /// <summary>A node for a sum of x over the masked axes (a dead one of an earlier training step when there is one).</summary>
        internal static SumBackward Make(Tensor x, ReadOnlySpan<bool> mask, double scale)
        {
            var n = NodePool<SumBackward>.Take() ?? new SumBackward();
            n.Rearm([x]);
            n._shape = x.ShapeArray;
            if (n.keptShape.Length < x.Rank) n.keptShape = new int[x.Rank]; // grown only: pooled nodes serve every rank
            n.keptRank = ReducedShape(x, mask, true, n.keptShape);
            n.scale = scale;
            return n;
        }

        protected override void ReleaseSaved() => _shape = [];

        internal override bool Recycle() => NodePool<SumBackward>.Return(this);

        protected internal override void Backward(Tensor gy)
        {
            var g = Movement.Reshape(gy, keptShape.AsSpan(0, keptRank));
            if (scale != 1.0) g = Unary.Apply(g, Unary.Kind.MulScalar, scale);
            Accumulate(0, Movement.Expand(g, _shape), owned: false);
        }
    }

    /// <summary>Sums over the masked axes without recording.</summary>
    private static Tensor SumRaw(Tensor x, ReadOnlySpan<bool> mask, bool keepDims)
    {
        Span<int> outShape = x.Rank <= 16 ? stackalloc int[x.Rank] : new int[x.Rank];
        var y = Tensor.Empty(outShape[..ReducedShape(x, mask, keepDims, outShape)], x.DType);
        int rank = x.Rank;
        int lead = 0;
        while (lead < rank && mask[lead]) lead++;
        bool prefixOnly = true;
        for (int d = lead; d < rank; d++) if (mask[d]) prefixOnly = false;
        int trail = rank;
        while (trail > 0 && mask[trail - 1]) trail--;
        bool suffixOnly = true;
        for (int d = 0; d < trail; d++) if (mask[d]) suffixOnly = false;

        var xc = x;
        int rows, cols;
        if (prefixOnly && x.IsContiguous)
        {
            rows = 1;
            for (int d = 0; d < lead; d++) rows *= x.ShapeArray[d];
            cols = rows == 0 ? 0 : x.Length / Math.Max(rows, 1);
            if (rows == 0) cols = y.Length;
            if (x.DType == DType.Float32) SumLeading<float>(x.F, rows, cols, y.F);
            else SumLeading<double>(x.D, rows, cols, y.D);
            return y;
        }
        if (!suffixOnly || !x.IsContiguous)
        {
            // move reduced axes last, then reduce contiguous rows
            var perm = new int[rank];
            int k = 0;
            for (int d = 0; d < rank; d++) if (!mask[d]) perm[k++] = d;
            for (int d = 0; d < rank; d++) if (mask[d]) perm[k++] = d;
            using (Autograd.NoGrad()) xc = Movement.Permute(x.Detach(), perm).Contiguous();
        }
        rows = y.Length;
        cols = rows == 0 ? 0 : x.Length / rows;
        if (x.DType == DType.Float32) SumTrailing<float>(xc.F, rows, cols, y.F);
        else SumTrailing<double>(xc.D, rows, cols, y.D);
        return y;
    }

    private static void SumLeading<T>(ReadOnlySpan<T> x, int rows, int cols, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        y.Clear();
        Kernels.VectorOps.SumRows(x, rows, cols, y);
    }

    private static void SumTrailing<T>(ReadOnlySpan<T> x, int rows, int cols, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int r = 0; r < rows; r++) y[r] = cols == 0 ? T.Zero : TensorPrimitives.Sum(x.Slice(r * cols, cols));
    }

    /// <summary>Sums <paramref name="g"/> (a broadcast of <paramref name="shape"/>) back down to <paramref name="shape"/>; not recorded.</summary>
    internal static Tensor SumToShape(Tensor g, int[] shape)
    {
        int rank = g.Rank, off = rank - shape.Length;
        if (off < 0) throw new ShapeMismatchException($"SumToShape: gradient shape {ShapeUtil.Format(g.Shape)} has lower rank than {ShapeUtil.Format(shape)}.");
        Span<bool> mask = rank <= 16 ? stackalloc bool[rank] : new bool[rank];
        for (int d = 0; d < rank; d++)
        {
            int j = d - off;
            mask[d] = j < 0 || (shape[j] == 1 && g.ShapeArray[d] != 1);
            if (j >= 0 && !mask[d] && shape[j] != g.ShapeArray[d])
                throw new ShapeMismatchException($"SumToShape: gradient shape {ShapeUtil.Format(g.Shape)} is not a broadcast of {ShapeUtil.Format(shape)}.");
        }
        var s = SumRaw(g, mask, keepDims: false);
        return Tensor.CreateContiguous(s.Storage, shape, s.Offset);
    }

    /// <summary>Maximum along one axis (values), with the argmax (first on ties) kept for the backward pass.</summary>
    internal static Tensor Max(Tensor x, int axis, bool keepDims)
    {
        x.RequireFloat("Max");
        var (values, idx, keptShape) = MaxRaw(x, axis, keepDims);
        if (Autograd.ShouldRecord(x)) values.MarkRecorded(new MaxBackward(x, axis, idx, keptShape));
        return values;
    }

    internal static Tensor ArgMax(Tensor x, int axis, bool keepDims)
    {
        var (_, idx, keptShape) = MaxRaw(x, axis, keepDims);
        var shape = keepDims ? keptShape : ReducedShape(x, OneAxis(x, axis), false);
        return Tensor.FromArray(idx, shape);
    }

    private static bool[] OneAxis(Tensor x, int axis)
    {
        var m = new bool[x.Rank];
        m[ShapeUtil.NormalizeAxis(axis, x.Rank, "Max")] = true;
        return m;
    }

    private static (Tensor values, int[] idx, int[] keptShape) MaxRaw(Tensor x, int axis, bool keepDims)
    {
        var mask = OneAxis(x, axis);
        int ax = Array.IndexOf(mask, true);
        if (x.ShapeArray[ax] == 0) throw new ShapeMismatchException($"Max: axis {axis} of {ShapeUtil.Format(x.Shape)} is empty.");
        var perm = new int[x.Rank];
        int k = 0;
        for (int d = 0; d < x.Rank; d++) if (d != ax) perm[k++] = d;
        perm[k] = ax;
        Tensor xc;
        using (Autograd.NoGrad()) xc = Movement.Permute(x.Detach(), perm).Contiguous();
        var values = Tensor.Empty(ReducedShape(x, mask, keepDims), x.DType);
        int cols = x.ShapeArray[ax], rows = values.Length;
        var idx = new int[rows];
        int at = xc.Offset; // a contiguous view (a slice of rows) starts inside its buffer
        for (int r = 0; r < rows; r++)
        {
            int best = 0;
            double bv = xc.GetFlat(at + r * cols);
            for (int c = 1; c < cols; c++)
            {
                double v = xc.GetFlat(at + r * cols + c);
                if (v > bv || (double.IsNaN(v) && !double.IsNaN(bv))) { bv = v; best = c; }
            }
            idx[r] = best;
            values.SetFlat(values.Offset + r, bv);
        }
        return (values, idx, ReducedShape(x, mask, true));
    }

    private sealed class MaxBackward(Tensor x, int axis, int[] idx, int[] keptShape) : Node(x)
    {
        private readonly int[] _shape = x.ShapeArray;

        protected internal override void Backward(Tensor gy)
        {
            var gx = Tensor.Zeros(_shape, gy.DType);
            int ax = ShapeUtil.NormalizeAxis(axis, _shape.Length, "Max");
            var g = Movement.Reshape(gy, keptShape).Contiguous();
            int inner = 1;
            for (int d = ax + 1; d < _shape.Length; d++) inner *= _shape[d];
            int size = _shape[ax];
            for (int r = 0; r < idx.Length; r++)
            {
                int outer = r / inner, i = r % inner;
                int pos = (outer * size + idx[r]) * inner + i;
                gx.SetFlat(pos, gx.GetFlat(pos) + g.GetFlat(g.Offset + r));
            }
            Accumulate(0, gx);
        }
    }
}
