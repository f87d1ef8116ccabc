namespace FlexNet.Autodiff.Ops;

/// <summary>Copies between strided layouts (the slow path of views): the innermost dimension is a tight loop.</summary>
internal static class Strided
{
    /// <summary>dst (contiguous, row-major over <paramref name="shape"/>) = src viewed with strides/offset.</summary>
    internal static void Gather<T>(T[] src, int srcOffset, ReadOnlySpan<int> shape, ReadOnlySpan<int> strides, Span<T> dst)
    {
        int rank = shape.Length;
        int n = dst.Length;
        // Stryker disable once Statement: without the return an empty tensor of rank >= 1 runs no row (o < n fails at once), and rank 0 always has one element
        if (n == 0) return;
        if (rank == 0) { dst[0] = src[srcOffset]; return; }
        int inner = shape[rank - 1], innerStride = strides[rank - 1];
        Span<int> idx = stackalloc int[Math.Max(rank, 1)];
        // Stryker disable once Statement: stackalloc memory is zeroed already (FlexNet is not compiled with SkipLocalsInit); the Clear keeps it right if that changes
        idx.Clear();
        int off = srcOffset;
        for (int o = 0; o < n; o += inner)
        {
            var row = dst.Slice(o, inner);
            if (innerStride == 1) src.AsSpan(off, inner).CopyTo(row);
            else for (int j = 0, p = off; j < inner; j++, p += innerStride) row[j] = src[p];
            for (int d = rank - 2; d >= 0; d--)
            {
                idx[d]++;
                off += strides[d];
                if (idx[d] < shape[d]) break;
                off -= strides[d] * shape[d];
                idx[d] = 0;
            }
        }
    }

    /// <summary>dst viewed with strides/offset += src (contiguous, row-major over <paramref name="shape"/>).</summary>
    internal static void ScatterAdd<T>(ReadOnlySpan<T> src, T[] dst, int dstOffset, ReadOnlySpan<int> shape, ReadOnlySpan<int> strides)
        where T : System.Numerics.IAdditionOperators<T, T, T>
    {
        int rank = shape.Length;
        int n = src.Length;
        // Stryker disable once Statement: without the return an empty tensor of rank >= 1 runs no row (o < n fails at once), and rank 0 always has one element
        if (n == 0) return;
        if (rank == 0) { dst[dstOffset] += src[0]; return; }
        int inner = shape[rank - 1], innerStride = strides[rank - 1];
        Span<int> idx = stackalloc int[rank];
        // Stryker disable once Statement: stackalloc memory is zeroed already (FlexNet is not compiled with SkipLocalsInit); the Clear keeps it right if that changes
        idx.Clear();
        int off = dstOffset;
        for (int o = 0; o < n; o += inner)
        {
            for (int j = 0, p = off; j < inner; j++, p += innerStride) dst[p] += src[o + j];
            for (int d = rank - 2; d >= 0; d--)
            {
                idx[d]++;
                off += strides[d];
                if (idx[d] < shape[d]) break;
                off -= strides[d] * shape[d];
                idx[d] = 0;
            }
        }
    }

    /// <summary>dst viewed with strides/offset = src (contiguous).</summary>
    internal static void Scatter<T>(ReadOnlySpan<T> src, T[] dst, int dstOffset, ReadOnlySpan<int> shape, ReadOnlySpan<int> strides)
    {
        int rank = shape.Length;
        int n = src.Length;
        // Stryker disable once Statement: without the return an empty tensor of rank >= 1 runs no row (o < n fails at once), and rank 0 always has one element
        if (n == 0) return;
        if (rank == 0) { dst[dstOffset] = src[0]; return; }
        int inner = shape[rank - 1], innerStride = strides[rank - 1];
        Span<int> idx = stackalloc int[rank];
        // Stryker disable once Statement: stackalloc memory is zeroed already (FlexNet is not compiled with SkipLocalsInit); the Clear keeps it right if that changes
        idx.Clear();
        int off = dstOffset;
        for (int o = 0; o < n; o += inner)
        {
            if (innerStride == 1) src.Slice(o, inner).CopyTo(dst.AsSpan(off, inner));
            else for (int j = 0, p = off; j < inner; j++, p += innerStride) dst[p] = src[o + j];
            for (int d = rank - 2; d >= 0; d--)
            {
                idx[d]++;
                off += strides[d];
                if (idx[d] < shape[d]) break;
                off -= strides[d] * shape[d];
                idx[d] = 0;
            }
        }
    }
}
