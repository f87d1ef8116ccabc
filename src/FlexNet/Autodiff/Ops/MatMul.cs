using FlexNet.Kernels;
using FlexNet.Tensors;
using FlexNet.Autodiff;

namespace FlexNet.Autodiff.Ops;

/// <summary>Matrix products: [M,K]·[K,N], batched [...,M,K]·[...,K,N] with broadcast batch dimensions, and
/// vectors (a rank-1 operand is treated as a row or column and the size-1 dimension removed afterwards).</summary>
internal static class MatMul
{
    internal static Tensor Apply(Tensor a, Tensor b)
    {
        a.RequireFloat("MatMul");
        if (a.DType != b.DType) throw new ArgumentException($"MatMul: dtypes differ ({a.DType} vs {b.DType}).");
        if (a.Rank == 0 || b.Rank == 0)
            throw new ShapeMismatchException($"MatMul: operands must have rank >= 1; got {ShapeUtil.Format(a.Shape)} and {ShapeUtil.Format(b.Shape)}.");
        if (a.Rank == 1 && b.Rank == 1) // vector · vector is a scalar (as in NumPy and PyTorch)
            return Movement.Reshape(Apply(Movement.Unsqueeze(a, 0), Movement.Unsqueeze(b, 1)), []);
        if (a.Rank == 1) return Movement.Squeeze(Apply(Movement.Unsqueeze(a, 0), b), -2);
        if (b.Rank == 1) return Movement.Squeeze(Apply(a, Movement.Unsqueeze(b, 1)), -1);
        int m = a.ShapeArray[^2], k = a.ShapeArray[^1], k2 = b.ShapeArray[^2], n = b.ShapeArray[^1];
        if (k != k2)
            throw new ShapeMismatchException($"MatMul: inner dimensions differ: {ShapeUtil.Format(a.Shape)} · {ShapeUtil.Format(b.Shape)} ({k} vs {k2}).");
        int[] batch = ShapeUtil.Broadcast(a.Shape[..^2], b.Shape[..^2], "MatMul (batch dimensions)");
        var outShape = new int[batch.Length + 2];
        batch.CopyTo(outShape, 0);
        outShape[^2] = m;
        outShape[^1] = n;
        var y = Tensor.Empty(outShape, a.DType);
        if (k == 0) y.Fill(0); // an empty inner dimension sums nothing
        else Compute(a, b, y, batch, m, n, k);
        if (Autograd.ShouldRecord(a, b)) y.MarkRecorded(new MatMulBackward(a, b));
        return y;
    }

    /// <summary>How a matrix operand is read by GEMM without copying: row-major (ld = row stride) or transposed.</summary>
    private static bool Layout(Tensor t, out bool trans, out int ld)
    {
        int rs = t.StridesArray[^2], cs = t.StridesArray[^1];
        int rows = t.ShapeArray[^2], cols = t.ShapeArray[^1];
        // rows (columns) must not overlap; a single row (column) may have any row (column) stride. An operand refused
        // here is copied (Compute): same values, but a copy of the whole operand, which
        // OpsMutationGapTests8.MatMulReadsPlainAndTransposedOperandsWithoutACopy measures.
        if (cs == 1 && (rs >= cols || rows == 1))
        {
            trans = false;
            ld = Math.Max(rs, cols);
        }
        else if (rs == 1 && (cs >= rows || cols == 1))
        {
            trans = true;
            ld = Math.Max(cs, rows);
        }
        else
        {
            // Stryker disable once Boolean : Compute calls Layout again on the copy, which sets trans
            trans = false;
            ld = 0;
            return false;
        }
        return true;
    }

    private static void Compute(Tensor a, Tensor b, Tensor y, int[] batch, int m, int n, int k)
    {
        int batches = ShapeUtil.Product(batch);
        if (!Layout(a, out bool ta, out int lda)) { a = Movement.Clone(a.Detach()); Layout(a, out ta, out lda); }
        if (!Layout(b, out bool tb, out int ldb)) { b = Movement.Clone(b.Detach()); Layout(b, out tb, out ldb); }
        var sa = ShapeUtil.BroadcastStrides(a.Shape[..^2], a.Strides[..^2], batch);
        var sb = ShapeUtil.BroadcastStrides(b.Shape[..^2], b.Strides[..^2], batch);
        Span<int> idx = stackalloc int[Math.Max(batch.Length, 1)];
        // Stryker disable once Statement : stackalloc memory is zeroed already (FlexNet is not compiled with SkipLocalsInit); the Clear keeps it right if that changes
        idx.Clear();
        for (int p = 0; p < batches; p++)
        {
            int oa = a.Offset, ob = b.Offset;
            for (int d = 0; d < batch.Length; d++) { oa += idx[d] * sa[d]; ob += idx[d] * sb[d]; }
            if (y.DType == DType.Float32)
                Gemm.Run(ta, tb, m, n, k, 1f, a.Buffer<float>().AsSpan(oa), lda, b.Buffer<float>().AsSpan(ob), ldb,
                         0f, y.F.Slice(p * m * n, m * n), n);
            else
                Gemm.Run(ta, tb, m, n, k, 1.0, a.Buffer<double>().AsSpan(oa), lda, b.Buffer<double>().AsSpan(ob), ldb,
                         0.0, y.D.Slice(p * m * n, m * n), n);
            for (int d = batch.Length - 1; d >= 0; d--)
            {
                if (++idx[d] < batch[d]) break;
                idx[d] = 0;
            }
        }
    }

    private sealed class MatMulBackward(Tensor a, Tensor b) : Node(a, b)
    {
        private Tensor? _a = a, _b = b;

        protected internal override void Backward(Tensor gy)
        {
            // dA = dY · Bᵀ, dB = Aᵀ · dY (batch dimensions summed back by Accumulate)
            if (NeedsGrad(0)) Accumulate(0, Apply(gy, Movement.Transpose(_b!, -2, -1)));
            if (NeedsGrad(1)) Accumulate(1, Apply(Movement.Transpose(_a!, -2, -1), gy));
        }

        protected override void ReleaseSaved()
        {
            _a = null;
            _b = null;
        }
    }
}
