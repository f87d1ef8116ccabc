namespace FlexNet.Kernels;

/// <summary>
/// Products with few outputs per row (a classifier's last layer, x·Wᵀ with W [n, k] and n ≤ NR/2): one dot
/// product per output, <c>C(i, j) = alpha · Σ_p A(i, p) W(j, p) + beta · C(i, j)</c>, with A's rows and W's rows
/// contiguous along k. The packed micro-kernel would compute a full NR-wide panel for them (n = 10 of 32 columns:
/// under a third of its work useful); here each row of A is one matrix-vector product with the (cache-resident) W,
/// by the same kernel, order and rounding as a single-row product (<c>m = 1</c>), so a sample's output has the same
/// bits alone and inside a batch. Rows are split over the cores in contiguous blocks.
/// </summary>
internal static unsafe partial class GemmVector<T>
{
    /// <summary><c>C = alpha · A · Wᵀ + beta · C</c>: A [m, k] (row stride <paramref name="lda"/>), W [n, k] (row
    /// stride <paramref name="ldw"/>), C [m, n] (row stride <paramref name="ldc"/>).</summary>
    public static void RowDots(int m, int n, int k, T alpha, T* a, nint lda, T* w, nint ldw, T beta, T* c, nint ldc)
    {
        if (!ShouldSplit(m, n * k, 1))
        {
            RowDotsRange(0, m, n, k, alpha, a, lda, w, ldw, beta, c, ldc);
            return;
        }
        // one block of rows per item: the split job's outputs are A's rows, its matrix W, its vector A
        var job = t_job ??= new SplitJob();
        job.Set(SplitMode.RowDots, m, k, alpha, w, ldw, a, lda, beta, c, ldc, 0, 1, n);
        RunJob(job);
    }

    private static void RowDotsRange(int from, int to, int n, int k, T alpha, T* a, nint lda, T* w, nint ldw, T beta,
        T* c, nint ldc)
    {
        for (int i = from; i < to; i++)
            DotsContiguous(n, k, alpha, w, ldw, a + i * lda, beta, c + i * ldc, 1);
    }
}
