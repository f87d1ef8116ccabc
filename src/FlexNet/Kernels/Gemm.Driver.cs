using System.Buffers;
using System.Numerics;
using System.Runtime.CompilerServices;

namespace FlexNet.Kernels;

/// <summary>
/// Cache-blocked, packed GEMM driver over a micro-kernel <typeparamref name="TK"/>. Loop order: jc over NC
/// columns → pc over KC of k → (pack B block) → ic over MC rows → pack A block → jr over NR columns (B micro-panel
/// stays in L1) → ir over MR rows (A micro-panels stream from L2) → micro-kernel.
/// </summary>
/// <remarks>
/// <para>Small problems run on the calling thread without the workers (mid-size ones too unless they come in a
/// burst, see <see cref="BurstThreshold"/>); operands small enough (or used once)
/// are read in place instead of packed, as is A with contiguous rows when the kernel says so
/// (<see cref="IGemmKernel{T}.RowsInPlace"/>), and nothing is allocated (pack buffers come from the array pool).</para>
/// <para>Large problems are split into row tasks (when m ≥ n) sharing one packed copy of B that the tasks fill
/// lazily, a group of panels at a time, whoever needs it first (no barrier, no duplicated packing), or into
/// column tasks (m &lt; n, or when A is read in place and the columns spread more evenly over the cores, or for a
/// large B where the tile does not share it, see <see cref="ColumnsHalveThePacking"/>) that pack their own B
/// columns. Every C element belongs to one task and is accumulated over k in the same order whatever the split, so
/// results do not depend on the core count.</para>
/// </remarks>
internal static unsafe class GemmDriver<T, TK>
    where T : unmanaged, IFloatingPointIeee754<T>
    where TK : struct, IGemmKernel<T>
{
    /// <summary>Below this many multiply-adds (m*n*k) the work runs on the calling thread.</summary>
    internal const long ParallelThreshold = 1L << 20;

    /// <summary>From this many multiply-adds (64³) up to <see cref="ParallelThreshold"/>, a GEMM splits over the cores
    /// when it comes in a burst: another GEMM of this range ended on the same thread less than
    /// <see cref="BurstTicks"/> before it started. Back to back, the workers are still polling and a 64 × 64 × 64 product
    /// runs ~1.5x faster on two cores; alone (one such product between long stretches of other work), waking a
    /// sleeping worker costs more than the second core saves, so it stays on the calling thread.</summary>
    internal const long BurstThreshold = 1L << 18;

    /// <summary>How short (20 µs) the gap between two mid-size GEMMs must be to count as a burst.</summary>
    private static readonly long BurstTicks = System.Diagnostics.Stopwatch.Frequency / 50_000;

    [ThreadStatic] private static long t_lastMidSizeEnd;

    /// <summary>Test hook: how many GEMMs this thread split into tasks.</summary>
    [ThreadStatic] internal static int SplitsOnThisThread;

    /// <summary>Test hook: how many products (or tasks of split ones) this thread ran with B read in place.</summary>
    [ThreadStatic] internal static int DirectBOnThisThread;

    /// <summary>Test hook: how many of this thread's splits were column splits.</summary>
    [ThreadStatic] internal static int ColumnSplitsOnThisThread;

    /// <summary>Operands up to this many bytes may be read in place rather than packed.</summary>
    private const int DirectBytes = 32 * 1024;

    /// <summary>Largest shared packed B (elements); larger problems pack B per task and block.</summary>
    private const long SharedBLimit = 1L << 22;

    /// <summary>Most panels of B packed per claim of the shared copy (a longer contiguous read of each B row).</summary>
    private const int SharedGroupPanels = 8;

    private const int AlignBytes = 64;

    [ThreadStatic] private static Job? t_job;

    public static void Run(bool transA, bool transB, int m, int n, int k, T alpha, T* a, int lda, T* b, int ldb,
        T beta, T* c, int ldc)
        => Run(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, default);

    /// <summary>The product, with <paramref name="epi"/> (see <see cref="GemmEpilogue{T}"/>, bias of C's column 0)
    /// applied by the micro-kernels on the last k block. Returns false when the product took a matrix-vector path
    /// that has no epilogue: then C holds the plain product and the caller applies the epilogue itself.</summary>
    public static bool Run(bool transA, bool transB, int m, int n, int k, T alpha, T* a, int lda, T* b, int ldb,
        T beta, T* c, int ldc, GemmEpilogue<T> epi)
    {
        if (m == 1 || n == 1)
        {
            GemmVector<T>.Run(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, KcStep(k));
            return !epi.On;
        }
        // few outputs per row, W's rows along k (x·Wᵀ): dot products, not a panel mostly of padding
        if (n <= TK.NR / 2 && !transA && transB && !Gemm.ForcePackingOnThisThread)
        {
            GemmVector<T>.RowDots(m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
            return !epi.On;
        }
        Gemm.BlockedRunsOnThisThread++; // test hook
        long work = (long)m * n * k;
        if (work >= BurstThreshold && work < ParallelThreshold)
        {
            bool burst = System.Diagnostics.Stopwatch.GetTimestamp() - t_lastMidSizeEnd < BurstTicks;
            Split(burst, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, epi);
            t_lastMidSizeEnd = System.Diagnostics.Stopwatch.GetTimestamp();
            return true;
        }
        Split(work >= ParallelThreshold, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, epi);
        return true;
    }

    /// <summary>The product on this thread (<paramref name="split"/> false) or over the workers.</summary>
    private static void Split(bool split, bool transA, bool transB, int m, int n, int k, T alpha, T* a, int lda, T* b,
        int ldb, T beta, T* c, int ldc, GemmEpilogue<T> epi)
    {
        nint rsA = transA ? 1 : lda, csA = transA ? lda : 1;
        nint rsB = transB ? 1 : ldb, csB = transB ? ldb : 1;
        int cores = Environment.ProcessorCount;
        // inside a parallel region (e.g. one image of a convolution) the split would only run inline, in order
        if (cores < 2 || !split || WorkerPool.InsideRegion)
        {
            Serial(m, n, k, alpha, a, rsA, csA, b, rsB, csB, beta, c, ldc, default, epi);
            return;
        }

        // Split the longer of m and n (the other operand is then read, or packed, by every task).
        bool splitM = m >= n ? m > TK.MR : n <= TK.NR;
        // With A read in place, a column task packs only its own columns of B, as much as a row task's share of the
        // shared B: then split the columns when their tiles spread more evenly over the cores.
        if (splitM && RowsReadInPlace(csA) && ColumnsSpreadBetter(m, n, cores)) splitM = false;
        // A tile that does not share B (each row task packs all of it): split the columns of a large B instead.
        if (splitM && RowsReadInPlace(csA) && ColumnsHalveThePacking(m, n, k, cores)) splitM = false;
        int unit = splitM ? TK.MR : TK.NR;
        int extent = splitM ? m : n;
        int units = (extent + unit - 1) / unit;
        // One task per core. Two per core (a descheduled worker then holds a quarter of the product, not half) read
        // 4 % slower on gemm_1024 and 5 % on mlp_infer_batch on Zen 5 (session 18; no difference on Zen 1, session 10):
        // every extra task re-reads the shared operand and starts its own A blocks. A worker that has not started by
        // the time the caller finishes its task loses that task to the caller (see WorkerPool).
        int tasks = Math.Min(units, cores);
        if (tasks < 2)
        {
            Serial(m, n, k, alpha, a, rsA, csA, b, rsB, csB, beta, c, ldc, default, epi);
            return;
        }
        int chunk = (units + tasks - 1) / tasks * unit;
        tasks = (extent + chunk - 1) / chunk;

        int nr = TK.NR;
        long nPad = (n + nr - 1) / nr * nr;
        bool shared = splitM && TK.SharesPackedB && !UseDirectB(m, n, k, csB) && k * nPad <= SharedBLimit
            && !Gemm.NoSharedPackingOnThisThread;

        SplitsOnThisThread++;
        if (!splitM) ColumnSplitsOnThisThread++;
        Job job = t_job ?? new Job();
        t_job = null; // re-entrancy safe: a nested call on this thread gets its own job
        T[]? bArray = null;
        int[]? flagArray = null;
        try
        {
            job.Set(m, n, k, alpha, a, rsA, csA, b, rsB, csB, beta, c, ldc, splitM, chunk, epi);
            if (!shared)
            {
                WorkerPool.For(tasks, job);
                return;
            }

            int kcStep = KcStep(k);
            int kBlocks = (k + kcStep - 1) / kcStep;
            // Groups small enough that every core gets some of the packing (n = 256: 4 groups of 2 panels).
            int panels = (int)(nPad / nr);
            int groupPanels = Math.Clamp(panels / (2 * cores), 1, SharedGroupPanels);
            int groups = (panels + groupPanels - 1) / groupPanels;
            int alignElems = AlignBytes / sizeof(T);
            bArray = ArrayPool<T>.Shared.Rent((int)(k * nPad) + alignElems);
            flagArray = ArrayPool<int>.Shared.Rent(kBlocks * groups);
            Array.Clear(flagArray, 0, kBlocks * groups);
            fixed (T* pb = bArray)
            fixed (int* pf = flagArray)
            {
                job.Shared = new SharedB(AlignUp(pb), pf, nPad, groups, groupPanels * nr, kcStep, b, rsB, csB, n);
                WorkerPool.For(tasks, job);
            }
        }
        finally
        {
            job.Clear();
            t_job = job;
            if (bArray != null) ArrayPool<T>.Shared.Return(bArray);
            if (flagArray != null) ArrayPool<int>.Shared.Return(flagArray);
        }
    }

    /// <summary>
    /// True when splitting the n columns into NR-wide panels leaves the busiest core at least 2 % less work than
    /// splitting the m rows into MR-high ones, counting whole tiles per core: <c>⌈⌈n/NR⌉/cores⌉·NR·m</c> against
    /// <c>⌈⌈m/MR⌉/cores⌉·MR·n</c>. 256 × 256 on two cores with the 6 × 16 tile: 8 + 8 column panels (32,768) against
    /// 22 + 21 row panels (33,792), so columns; 1024 × 1024: 524,288 against 528,384, within 2 %, so rows.
    /// </summary>
    internal static bool ColumnsSpreadBetter(int m, int n, int cores)
    {
        var (byColumns, byRows) = BusiestCore(m, n, cores);
        return byColumns * 50 < byRows * 49;
    }

    /// <summary>The busiest core's share of C, counting whole tiles, when the columns are split into NR-wide panels
    /// (<c>⌈⌈n/NR⌉/cores⌉·NR·m</c>) and when the rows are split into MR-high ones (<c>⌈⌈m/MR⌉/cores⌉·MR·n</c>).</summary>
    private static (long ByColumns, long ByRows) BusiestCore(int m, int n, int cores)
    {
        long rowTiles = ((m + TK.MR - 1) / TK.MR + cores - 1) / cores;
        long colTiles = ((n + TK.NR - 1) / TK.NR + cores - 1) / cores;
        return (colTiles * TK.NR * m, rowTiles * TK.MR * n);
    }

    /// <summary>Bytes of B from which <see cref="ColumnsHalveThePacking"/> may split the columns.</summary>
    internal const int ColumnSplitBBytes = 384 * 1024;

    /// <summary>
    /// For a tile that does not share packed B (<see cref="IGemmKernel{T}.SharesPackedB"/> false: every row task
    /// packs all of B, k × n), true when column tasks, which pack only their own columns, pay: B of at least
    /// <see cref="ColumnSplitBBytes"/>, n ≥ 0.4·m (what a column task saves in packing, half of B, outweighs the half of
    /// A it reads in addition) and the columns' tiles spread over the cores at least as evenly as the rows'
    /// (<c>⌈⌈n/NR⌉/cores⌉·NR·m ≤ ⌈⌈m/MR⌉/cores⌉·MR·n</c>). Measured on Zen 5 (8 × 32 tile, two cores, alternated in one
    /// process, GFLOP/s rows → columns): 1024³ 482 → 509, 512³ 490 → 515, 448³ 487 → 517, 1024 × 512 × 784 518 → 539,
    /// 320³ 508 → 520; kept on rows: 256³ (256 KB of B; columns 487 → 436), 700 × 400 × 900 (13 column panels split
    /// 7 + 6; 482 → 429), 1024 × 256 × 1024 (522 → 514).
    /// </summary>
    internal static bool ColumnsHalveThePacking(int m, int n, int k, int cores)
    {
        if (TK.SharesPackedB || (long)k * n * sizeof(T) < ColumnSplitBBytes || 5L * n < 2L * m) return false;
        var (byColumns, byRows) = BusiestCore(m, n, cores);
        return byColumns <= byRows;
    }

    /// <summary>A with contiguous rows (<c>csA == 1</c>) is read in place at any size by a kernel that says so.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool RowsReadInPlace(nint csA) => csA == 1 && TK.RowsInPlace;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool UseDirectB(int m, int n, int k, nint csB)
        => csB == 1 && (m <= TK.MR || (long)k * n * sizeof(T) <= DirectBytes || ReadsMidSizeBInPlace(m, n, k));

    /// <summary>Rows of C up to which <see cref="ReadsMidSizeBInPlace"/> reads B in place.</summary>
    internal const int MidSizeBRows = 256;

    /// <summary>Bytes of B up to which <see cref="ReadsMidSizeBInPlace"/> reads B in place.</summary>
    internal const int MidSizeBBytes = 384 * 1024;

    /// <summary>
    /// True when a kernel that reads A in place (<see cref="IGemmKernel{T}.RowsInPlace"/>) and packs its own B when
    /// split (not <see cref="IGemmKernel{T}.SharesPackedB"/>: the AVX-512 tile, the only one measured) also reads B
    /// (rows contiguous) in place: m ≤ <see cref="MidSizeBRows"/> and B of at most <see cref="MidSizeBBytes"/>, a product
    /// (or a core's task of a split one) whose few row blocks do not pay for a packed copy of B. Measured on Zen 5 with
    /// the 8 × 32 tile (session 22, GFLOP/s packed → in place, two cores, alternated in one process): 256³ 329-345 →
    /// 435-453 (bench/run.sh gemm_256: 384-390 → 495-503), 128 × 384 × 384 361 → 492, 128 × 256 × 256 284-299 →
    /// 410-441, 256 × 384 × 384 427 → 470; one core 2-4 % faster; no change within 2 % for 512 × 256 × 256 (tasks of
    /// 256 rows) and 192 × 384 × 384; packed kept for larger B: 384³ (576 KB; 499 → 488 in place) and
    /// 64 × 1024 × 256 (a task's 512 KB of B with rows 4 KB apart; 388 → 355 in place).
    /// </summary>
    internal static bool ReadsMidSizeBInPlace(int m, int n, int k)
        => TK.RowsInPlace && !TK.SharesPackedB && m <= MidSizeBRows && (long)k * n * sizeof(T) <= MidSizeBBytes;

    /// <summary>One GEMM on the calling thread (blocks, packs, micro-kernels).</summary>
    public static void Serial(int m, int n, int k, T alpha, T* a, nint rsA, nint csA, T* b, nint rsB, nint csB,
        T beta, T* c, nint ldc)
        => Serial(m, n, k, alpha, a, rsA, csA, b, rsB, csB, beta, c, ldc, default, default);

    private static void Serial(int m, int n, int k, T alpha, T* a, nint rsA, nint csA, T* b, nint rsB, nint csB,
        T beta, T* c, nint ldc, in SharedB shared, GemmEpilogue<T> epi)
    {
        int mr = TK.MR, nr = TK.NR;
        int kcMax = KcStep(k);
        int mcMax = Math.Min(m, TK.MC);
        int ncMax = Math.Min(n, TK.NC);

        // Read operands in place when they are small (or used once) and their layout allows it.
        bool directB = shared.Buffer == null && UseDirectB(m, n, k, csB);
        if (directB) DirectBOnThisThread++;
        bool directA = n <= nr || (long)m * k * sizeof(T) <= DirectBytes || RowsReadInPlace(csA);
        if (Gemm.ForcePackingOnThisThread) directA = directB = false;

        int aLen = directA ? 0 : RoundUp(mcMax, mr) * kcMax;
        int bLen = shared.Buffer != null ? 0 : directB ? (n % nr == 0 ? 0 : nr * kcMax) : RoundUp(ncMax, nr) * kcMax;
        if (aLen == 0 && bLen == 0)
        {
            Blocked(m, n, k, alpha, a, rsA, csA, b, rsB, csB, beta, c, ldc, directA, directB, null, null, in shared, epi);
            return;
        }
        int alignElems = AlignBytes / sizeof(T);
        T[] buffer = ArrayPool<T>.Shared.Rent(aLen + bLen + 2 * alignElems);
        try
        {
            fixed (T* pool = buffer)
            {
                T* aBuf = AlignUp(pool);
                T* bBuf = AlignUp(aBuf + aLen);
                Blocked(m, n, k, alpha, a, rsA, csA, b, rsB, csB, beta, c, ldc, directA, directB, aBuf, bBuf,
                    in shared, epi);
            }
        }
        finally
        {
            ArrayPool<T>.Shared.Return(buffer);
        }
    }

    private static void Blocked(int m, int n, int k, T alpha, T* a, nint rsA, nint csA, T* b, nint rsB, nint csB,
        T beta, T* c, nint ldc, bool directA, bool directB, T* aBuf, T* bBuf, in SharedB shared, GemmEpilogue<T> epi)
    {
        int mr = TK.MR, nr = TK.NR;
        bool isShared = shared.Buffer != null;
        for (int jc = 0; jc < n; jc += TK.NC)
        {
            int nc = Math.Min(TK.NC, n - jc);
            int ncFull = directB ? nc / nr * nr : nc; // direct B: full panels in place, the tail packed
            int kcStep = KcStep(k);
            for (int pc = 0; pc < k; pc += kcStep)
            {
                int kc = Math.Min(kcStep, k - pc);
                T betaEff = pc == 0 ? beta : T.One;
                bool last = pc + kc == k; // the epilogue goes with the last k block only
                T* bSrc = b + pc * rsB + jc * csB;
                T* bBlock = bBuf;
                if (isShared) bBlock = shared.Block(pc, kc, jc, nc);
                else if (!directB) GemmPack<T>.PackB(bBuf, bSrc, rsB, csB, kc, nc, nr);
                else if (ncFull < nc) GemmPack<T>.PackB(bBuf, bSrc + ncFull, rsB, csB, kc, nc - ncFull, nr);

                for (int ic = 0; ic < m; ic += TK.MC)
                {
                    int mc = Math.Min(TK.MC, m - ic);
                    T* aSrc = a + ic * rsA + pc * csA;
                    if (!directA) GemmPack<T>.PackA(aBuf, aSrc, rsA, csA, mc, kc, mr);
                    T* cBlock = c + ic * ldc + jc;

                    // B micro-panel (kc x NR) stays in L1 while the A micro-panels of the block stream from L2
                    // (the B block, kc x nc, can exceed L2: each of its panels is read from memory once per A block).
                    for (int jr = 0; jr < nc; jr += nr)
                    {
                        int cols = Math.Min(nr, nc - jr);
                        T* bPanel;
                        nint bStride;
                        if (!directB) { bPanel = bBlock + (nint)jr * kc; bStride = nr; }
                        else if (jr < ncFull) { bPanel = bSrc + jr; bStride = rsB; }
                        else { bPanel = bBuf; bStride = nr; }
                        T* cCol = cBlock + jr;
                        GemmEpilogue<T> e = last ? epi.At(jc + jr) : default;

                        for (int ir = 0; ir < mc; ir += mr)
                        {
                            int rows = Math.Min(mr, mc - ir);
                            T* aPanel;
                            nint rs, cs;
                            if (directA) { aPanel = aSrc + ir * rsA; rs = rsA; cs = csA; }
                            else { aPanel = aBuf + (nint)ir * kc; rs = 1; cs = rows; }
                            TK.Run(rows, cols, kc, aPanel, rs, cs, bPanel, bStride, cCol + ir * ldc, ldc, alpha, betaEff, e);
                        }
                    }
                }
            }
        }
    }

    /// <summary>
    /// Length of the k blocks: k split into ceil(k / KC) blocks of (nearly) equal length, so no block is a short
    /// remainder (e.g. 784 = 3 x 262 rather than 2 x 384 + 16). Depends on k only.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int KcStep(int k)
    {
        int blocks = (k + TK.KC - 1) / TK.KC;
        return blocks <= 1 ? k : (k + blocks - 1) / blocks;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int RoundUp(int x, int to) => (x + to - 1) / to * to;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static T* AlignUp(T* p) => (T*)(((nint)p + (AlignBytes - 1)) & ~(nint)(AlignBytes - 1));

    /// <summary>
    /// The whole of B packed once for all row tasks: block <c>pc</c> (rows pc..pc+kc of op(B)) holds its panels at
    /// <c>Buffer + pc*NPad + j*kc</c> for column j. Groups of panels are packed on first use by whichever task
    /// gets there first (flag 0 → 1 claimed → 2 ready); others spin briefly until ready.
    /// </summary>
    private readonly struct SharedB(T* buffer, int* flags, long nPad, int groups, int groupCols, int kcStep, T* b,
        nint rsB, nint csB, int n)
    {
        public readonly T* Buffer = buffer;
        private readonly int* _flags = flags;
        private readonly long _nPad = nPad;
        private readonly int _groups = groups;
        private readonly int _groupCols = groupCols;
        private readonly int _kcStep = kcStep;
        private readonly T* _b = b;
        private readonly nint _rsB = rsB, _csB = csB;
        private readonly int _n = n;

        /// <summary>Makes columns jc..jc+nc of k-block pc ready and returns that block's first panel.</summary>
        public T* Block(int pc, int kc, int jc, int nc)
        {
            int groupCols = _groupCols;
            int g0 = jc / groupCols, g1 = (jc + nc + groupCols - 1) / groupCols;
            int* flags = _flags + (nint)(pc / _kcStep) * _groups;
            // Pass 1: pack every group nobody has claimed yet; pass 2: wait for the ones others are packing.
            for (int g = g0; g < g1; g++)
            {
                if (Volatile.Read(ref flags[g]) == 0 && Interlocked.CompareExchange(ref flags[g], 1, 0) == 0)
                {
                    int j0 = g * groupCols;
                    GemmPack<T>.PackB(Buffer + pc * _nPad + (nint)j0 * kc, _b + pc * _rsB + j0 * _csB, _rsB, _csB,
                        kc, Math.Min(groupCols, _n - j0), TK.NR);
                    Volatile.Write(ref flags[g], 2);
                }
            }
            for (int g = g0; g < g1; g++)
            {
                if (Volatile.Read(ref flags[g]) == 2) continue;
                var spin = new SpinWait();
                while (Volatile.Read(ref flags[g]) != 2) spin.SpinOnce(sleep1Threshold: -1);
            }
            return Buffer + pc * _nPad + (nint)jc * kc;
        }
    }

    /// <summary>State of one parallel GEMM; reused per thread so a call allocates no closure.</summary>
    private sealed class Job : IParallelBody
    {
        private int _m, _n, _k, _chunk;
        private bool _splitM;
        private T _alpha, _beta;
        private T* _a, _b, _c;
        private nint _rsA, _csA, _rsB, _csB, _ldc;

        public Job() => Body = Execute;

        public Action<int> Body { get; }

        public void Run(int index) => Execute(index);

        public SharedB Shared;

        private GemmEpilogue<T> _epi;

        public void Set(int m, int n, int k, T alpha, T* a, nint rsA, nint csA, T* b, nint rsB, nint csB, T beta,
            T* c, nint ldc, bool splitM, int chunk, GemmEpilogue<T> epi)
        {
            _epi = epi;
            _m = m; _n = n; _k = k; _alpha = alpha; _beta = beta;
            _a = a; _rsA = rsA; _csA = csA; _b = b; _rsB = rsB; _csB = csB; _c = c; _ldc = ldc;
            _splitM = splitM; _chunk = chunk;
            Shared = default;
        }

        public void Clear()
        {
            _a = null; _b = null; _c = null;
            Shared = default;
            _epi = default;
        }

        private void Execute(int task)
        {
            int start = task * _chunk;
            if (_splitM)
            {
                int rows = Math.Min(_chunk, _m - start);
                Serial(rows, _n, _k, _alpha, _a + start * _rsA, _rsA, _csA, _b, _rsB, _csB, _beta,
                    _c + start * _ldc, _ldc, in Shared, _epi);
            }
            else
            {
                int cols = Math.Min(_chunk, _n - start);
                Serial(_m, cols, _k, _alpha, _a, _rsA, _csA, _b + start * _csB, _rsB, _csB, _beta,
                    _c + start, _ldc, default, _epi.At(start));
            }
        }
    }
}
