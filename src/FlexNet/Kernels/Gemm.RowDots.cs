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
    [ThreadStatic] private static RowDotsJob? t_rowJob;

    /// <summary><c>C = alpha · A · Wᵀ + beta · C</c>: A [m, k] (row stride <paramref name="lda"/>), W [n, k] (row
    /// stride <paramref name="ldw"/>), C [m, n] (row stride <paramref name="ldc"/>).</summary>
    public static void RowDots(int m, int n, int k, T alpha, T* a, nint lda, T* w, nint ldw, T beta, T* c, nint ldc)
    {
        if (!ShouldSplit(m, n * k, 1))
        {
            RowDotsRange(0, m, n, k, alpha, a, lda, w, ldw, beta, c, ldc);
            return;
        }
        var job = t_rowJob ?? new RowDotsJob();
        t_rowJob = null; // a nested product on this thread must not reuse the live job
        try
        {
            job.Set(m, n, k, alpha, a, lda, w, ldw, beta, c, ldc);
            WorkerPool.For(job.Parts, job);
        }
        finally
        {
            job.Clear();
            t_rowJob = job;
        }
    }

    private static void RowDotsRange(int from, int to, int n, int k, T alpha, T* a, nint lda, T* w, nint ldw, T beta,
        T* c, nint ldc)
    {
        for (int i = from; i < to; i++)
            DotsContiguous(n, k, alpha, w, ldw, a + i * lda, beta, c + i * ldc, 1);
    }

    /// <summary>One block of rows per item.</summary>
    private sealed class RowDotsJob : IParallelBody
    {
        private int _m, _n, _k, _block;
        private T _alpha, _beta;
        private T* _a, _w, _c;
        private nint _lda, _ldw, _ldc;

        public int Parts { get; private set; }

        public void Set(int m, int n, int k, T alpha, T* a, nint lda, T* w, nint ldw, T beta, T* c, nint ldc)
        {
            (_m, _n, _k, _alpha, _beta) = (m, n, k, alpha, beta);
            _a = a;
            _w = w;
            _c = c;
            (_lda, _ldw, _ldc) = (lda, ldw, ldc);
            int threads = Math.Max(2, WorkerPool.Threads);
            _block = (m + threads - 1) / threads;
            Parts = (m + _block - 1) / _block;
        }

        public void Clear() => _a = _w = _c = null;

        public void Run(int index)
        {
            int from = index * _block;
            int to = Math.Min(_m, from + _block);
            if (from < to) RowDotsRange(from, to, _n, _k, _alpha, _a, _lda, _w, _ldw, _beta, _c, _ldc);
        }
    }
}
