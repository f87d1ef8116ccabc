using System.Runtime.Intrinsics;

namespace FlexNet.Kernels;

/// <summary>
/// The matrix-vector products split over the cores by output: one contiguous block of outputs per thread of
/// <see cref="WorkerPool"/>. A product this size is bound by memory bandwidth, not arithmetic: a 784 × 512 float
/// matrix (1.6 MB) streams from the shared L3 at ~30 B per cycle on one core, but when each core reads the same half
/// at every call, that half stays in the core's own L2 where it fits (2 MB per core on the Xeon, 1 MB on the EPYC) and streams faster, on both cores at once.
/// The caller runs block 0 (<see cref="WorkerPool"/> gives item 0 to the caller) and a polling worker claims block 1,
/// so the same core reads the same half call after call. Each output is computed by exactly the code, the order and the k blocks of the unsplit kernel (the blocks
/// start on multiples of the kernels' row groups), so the bits do not depend on the split.
/// </summary>
internal static unsafe partial class GemmVector<T>
{
    /// <summary>Multiply-adds (outputs × k) from which a matrix-vector product is split (256 KB of float weights):
    /// below it the region's hand-off (~1 µs) costs more than the second core saves.</summary>
    internal const long SplitThreshold = 1L << 16;

    /// <summary>Test hook: the split threshold on this thread (0 = <see cref="SplitThreshold"/>); tests lower it to
    /// split small products (into at least 2 blocks, also on one core: the blocks then run in turn).</summary>
    [ThreadStatic] internal static long SplitThresholdOnThisThread;

    [ThreadStatic] private static SplitJob? t_job;

    private static bool ShouldSplit(int len, int k, int unit)
    {
        long forced = SplitThresholdOnThisThread;
        if (forced == 0 && WorkerPool.Threads < 2) return false;
        return (long)len * k >= (forced > 0 ? forced : SplitThreshold) && len >= 2 * unit;
    }

    /// <summary>Rows per group of the dots kernel (blocks start on a multiple).</summary>
    private const int DotsUnit = 4;

    /// <summary>Outputs per group of the axpy kernel at the widest width (8 vectors of 64 bytes), a multiple of the
    /// group at every narrower width, so a block boundary never moves an output from a group to the tail path.</summary>
    private static int AxpyUnit => 8 * Vector512<byte>.Count / sizeof(T);

    private static void DotsSplit(int len, int k, T alpha, T* mat, nint ldm, T* x, T beta, T* y, nint incY)
    {
        if (!ShouldSplit(len, k, DotsUnit))
        {
            DotsContiguous(len, k, alpha, mat, ldm, x, beta, y, incY);
            return;
        }
        var job = t_job ??= new SplitJob();
        job.Set(SplitMode.Dots, len, k, alpha, mat, ldm, x, 1, beta, y, incY, 0, DotsUnit);
        RunJob(job);
    }

    private static void AxpySplit(int len, int k, T alpha, T* mat, nint ldm, T* x, nint incX, T beta, T* y, nint incY,
        int kcStep)
    {
        int unit = AxpyUnit;
        if (!ShouldSplit(len, k, unit))
        {
            Axpy(len, k, alpha, mat, ldm, x, incX, beta, y, incY, kcStep);
            return;
        }
        var job = t_job ??= new SplitJob();
        job.Set(SplitMode.Axpy, len, k, alpha, mat, ldm, x, incX, beta, y, incY, kcStep, unit);
        RunJob(job);
    }

    private static void RunJob(SplitJob job)
    {
        t_job = null; // a nested product on this thread (none today) must not reuse the live job
        try { WorkerPool.For(job.Parts, job); }
        finally
        {
            job.Clear();
            t_job = job;
        }
    }

    /// <summary>What a <see cref="SplitJob"/> computes per block: rows of the dots form, columns of the axpy form, or
    /// rows of C in <see cref="RowDots"/> (each a matrix-vector product of one row of A with W).</summary>
    private enum SplitMode { Dots, Axpy, RowDots }

    /// <summary>One block of outputs per item.</summary>
    private sealed class SplitJob : IParallelBody
    {
        private SplitMode _mode;
        private int _len, _k, _kcStep, _block, _n;
        private T _alpha, _beta;
        private T* _mat, _x, _y;
        private nint _ldm, _incX, _incY;

        public int Parts { get; private set; }

        /// <summary>For <see cref="SplitMode.RowDots"/>: <paramref name="len"/> = m rows of A (<paramref name="x"/>,
        /// row stride <paramref name="incX"/>) and of C (<paramref name="y"/>, row stride <paramref name="incY"/>),
        /// <paramref name="mat"/> = W [<paramref name="n"/>, k].</summary>
        public void Set(SplitMode mode, int len, int k, T alpha, T* mat, nint ldm, T* x, nint incX, T beta, T* y,
            nint incY, int kcStep, int unit, int n = 0)
        {
            _mode = mode;
            _len = len;
            _k = k;
            _n = n;
            _alpha = alpha;
            _mat = mat;
            _ldm = ldm;
            _x = x;
            _incX = incX;
            _beta = beta;
            _y = y;
            _incY = incY;
            _kcStep = kcStep;
            int threads = Math.Max(2, WorkerPool.Threads);
            int units = (len + unit - 1) / unit;
            _block = (units + threads - 1) / threads * unit;
            Parts = (len + _block - 1) / _block;
        }

        public void Clear()
        {
            _mat = _x = _y = null;
        }

        public void Run(int index)
        {
            int from = index * _block;
            int count = Math.Min(_len, from + _block) - from;
            if (count <= 0) return;
            switch (_mode)
            {
                case SplitMode.Axpy:
                    Axpy(count, _k, _alpha, _mat + from, _ldm, _x, _incX, _beta, _y + from * _incY, _incY, _kcStep);
                    break;
                case SplitMode.Dots:
                    DotsContiguous(count, _k, _alpha, _mat + from * _ldm, _ldm, _x, _beta, _y + from * _incY, _incY);
                    break;
                default:
                    RowDotsRange(from, from + count, _n, _k, _alpha, _x, _incX, _mat, _ldm, _beta, _y, _incY);
                    break;
            }
        }
    }
}
