using System.Numerics;
using FlexNet.Tensors;

namespace FlexNet.Training;

/// <summary>Copies selected samples along a batch axis (training batches, splits) and writes batch results back.</summary>
internal static class Batching
{
    /// <summary>y = x.take(indices, axis): a new contiguous tensor (allocated in the current scope).</summary>
    internal static Tensor Take(Tensor x, int axis, ReadOnlySpan<int> indices)
    {
        var src = x.Contiguous();
        Span<int> shape = src.Rank <= 16 ? stackalloc int[src.Rank] : new int[src.Rank];
        src.Shape.CopyTo(shape);
        int n = shape[axis];
        shape[axis] = indices.Length;
        var y = Tensor.Empty(shape, src.DType);
        int outer = 1, inner = 1;
        for (int i = 0; i < axis; i++) outer *= shape[i];
        for (int i = axis + 1; i < shape.Length; i++) inner *= shape[i];
        switch (src.DType)
        {
            case DType.Float32: Copy<float>(src.F, y.F, outer, n, inner, indices); break;
            case DType.Float64: Copy<double>(src.D, y.D, outer, n, inner, indices); break;
            default: Copy<int>(src.Data<int>(), y.Data<int>(), outer, n, inner, indices); break;
        }
        return y;
    }

    private static void Copy<T>(ReadOnlySpan<T> src, Span<T> dst, int outer, int n, int inner, ReadOnlySpan<int> idx)
    {
        int k = idx.Length;
        for (int o = 0; o < outer; o++)
            for (int j = 0; j < k; j++)
                src.Slice((o * n + idx[j]) * inner, inner).CopyTo(dst.Slice((o * k + j) * inner, inner));
    }

    /// <summary>Writes <paramref name="part"/> (batch of size k along <paramref name="axis"/>) into
    /// <paramref name="dest"/> at sample offset <paramref name="start"/>.</summary>
    internal static void Put(Tensor dest, Tensor part, int axis, int start)
    {
        var p = part.Contiguous();
        var shape = dest.ShapeArray;
        int n = shape[axis], k = p.ShapeArray[axis];
        int outer = 1, inner = 1;
        for (int i = 0; i < axis; i++) outer *= shape[i];
        for (int i = axis + 1; i < shape.Length; i++) inner *= shape[i];
        switch (dest.DType)
        {
            case DType.Float32: Place<float>(p.F, dest.F, outer, n, k, inner, start); break;
            case DType.Float64: Place<double>(p.D, dest.D, outer, n, k, inner, start); break;
            default: Place<int>(p.Data<int>(), dest.Data<int>(), outer, n, k, inner, start); break;
        }
    }

    private static void Place<T>(ReadOnlySpan<T> part, Span<T> dst, int outer, int n, int k, int inner, int start)
    {
        for (int o = 0; o < outer; o++)
            part.Slice(o * k * inner, k * inner).CopyTo(dst.Slice((o * n + start) * inner, k * inner));
    }

    /// <summary>Counts NaN/∞ elements. A vector pass multiplies by zero (NaN iff the element is not finite) and
    /// the exact count runs only when that pass found something.</summary>
    internal static int CountNonFinite(Tensor t)
    {
        if (t.DType == DType.Int32 || t.Length == 0) return 0;
        var c = t.Contiguous();
        return c.DType == DType.Float32 ? Count<float>(c.F) : Count<double>(c.D);
    }

    private static int Count<T>(ReadOnlySpan<T> s) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var acc = Vector<T>.Zero;
        int i = 0, w = Vector<T>.Count;
        // lanes: x·0 is 0 for finite x and NaN for ±∞/NaN; NaN sticks in the sum
        for (; i <= s.Length - w; i += w) acc += new Vector<T>(s.Slice(i, w)) * Vector<T>.Zero;
        bool any = false;
        for (int l = 0; l < w; l++) if (!T.IsFinite(acc[l])) any = true;
        for (; i < s.Length; i++) if (!T.IsFinite(s[i])) any = true;
        if (!any) return 0;
        int n = 0;
        for (int j = 0; j < s.Length; j++) if (!T.IsFinite(s[j])) n++;
        return n;
    }
}
