using System.Buffers;
using System.Numerics;
using System.Runtime.InteropServices;

namespace FlexNet.Kernels;

/// <summary>
/// op(B) [k, n] packed once in the GEMM micro-kernel's panel layout, for many products
/// <c>C = alpha * op(A) * op(B) + beta * C</c> that share it (an LSTM's recurrent weight at every step of a
/// sequence: packing a 1 MB weight at each of 50 small products costs about as much as the products).
/// </summary>
/// <remarks>
/// <para>Layout: k is cut into the same blocks as <see cref="Gemm"/> (ceil(k / KC) blocks of nearly equal length);
/// block <c>pc</c> holds its panels of NR columns at <c>pc * nPad + j * kc</c>. A is read in place (never
/// packed). Every C element is accumulated over k in the same blocks and order by the same micro-kernel as
/// <see cref="Gemm.Run(bool, bool, int, int, int, float, ReadOnlySpan{float}, int, ReadOnlySpan{float}, int, float, Span{float}, int)"/>,
/// so results are bit-identical to it, whatever the split over cores.</para>
/// <para>Products with at least 2²⁰ multiply-adds are split over the cores into one contiguous range each: of column
/// panels when m &lt; n, so each core reads the same part of B at every call (and keeps it in its own L2 across a
/// sequence: an LSTM's small batch against its 4H columns), of row tiles when m ≥ n, so each core reads half of A
/// instead of all of it (the batch of an inference: 1024 × 784 against 784 × 512 ran 22 % faster than by columns on
/// Zen 5, bench/NOTES.md section 34).</para>
/// <para>With <see cref="GemmProvider.OpenBlas"/> the copy is op(B) in row-major order and every product is an
/// OpenBLAS call. The buffer is pooled and pinned while the object lives: dispose it. An object dropped without
/// <see cref="Dispose"/> (a network's kept packs when the network is collected) unpins its buffer when finalized.</para>
/// </remarks>
internal sealed unsafe class GemmPackedB<T> : IDisposable where T : unmanaged, IFloatingPointIeee754<T>
{
    private const int AlignBytes = 64;
    private T[]? _array;
    private GCHandle _pin;
    private T* _data;
    private GemmProvider _provider;
    private GemmKernelTier _tier;

    /// <summary>Packs op(B): B stored as [k, n] (<paramref name="transB"/> false) or [n, k] (true), row stride
    /// <paramref name="ldb"/>.</summary>
    internal GemmPackedB(bool transB, int k, int n, ReadOnlySpan<T> b, int ldb)
        : this(Gemm.Provider, GemmKernelTier.Auto, transB, k, n, b, ldb) { }

    /// <summary>Packs op(B) for an explicit provider and micro-kernel tier (tests).</summary>
    internal GemmPackedB(GemmProvider provider, GemmKernelTier tier, bool transB, int k, int n, ReadOnlySpan<T> b, int ldb) =>
        Pack(provider, tier, transB, k, n, b, ldb);

    /// <summary>An object that holds no packing yet (<see cref="IsPacked"/> false): <see cref="Pack(bool, int, int, ReadOnlySpan{T}, int)"/>
    /// fills it. Lets a caller that packs a changing B again and again (a weight, once per run) keep one object.</summary>
    internal GemmPackedB() { }

    /// <summary>True between a pack and <see cref="Dispose"/>.</summary>
    internal bool IsPacked => _array is not null;

    /// <summary>Packs op(B) into this object (as the constructor does), first giving back a packing it still holds.</summary>
    internal void Pack(bool transB, int k, int n, ReadOnlySpan<T> b, int ldb) => Pack(Gemm.Provider, GemmKernelTier.Auto, transB, k, n, b, ldb);

    private void Pack(GemmProvider provider, GemmKernelTier tier, bool transB, int k, int n, ReadOnlySpan<T> b, int ldb)
    {
        if (typeof(T) != typeof(float) && typeof(T) != typeof(double))
            throw new NotSupportedException($"GemmPackedB: element type {typeof(T).Name} is not supported (float, double).");
        if (k <= 0 || n <= 0) throw new ShapeMismatchException($"GemmPackedB: k={k} and n={n} must be positive.");
        int rows = transB ? n : k, cols = transB ? k : n;
        if (ldb < cols || (long)(rows - 1) * ldb + cols > b.Length)
            throw new ShapeMismatchException($"GemmPackedB: B stored as [{rows}, {cols}] with ldb={ldb} needs {(long)(rows - 1) * ldb + cols} elements; the span has {b.Length}.");
        Dispose();
        K = k;
        N = n;
        _provider = provider;
        _tier = Gemm.ResolveTierForPacking(tier); // (read by the managed products only)
        int nr = Nr, alignElems = AlignBytes / sizeof(T);
        long length = provider == GemmProvider.OpenBlas ? (long)k * n : (long)k * ((n + nr - 1) / nr * nr);
        _array = ArrayPool<T>.Shared.Rent(checked((int)length + alignElems));
        _pin = GCHandle.Alloc(_array, GCHandleType.Pinned);
        Interlocked.Increment(ref s_pins);
        T* p = (T*)_pin.AddrOfPinnedObject();
        _data = (T*)(((nint)p + (AlignBytes - 1)) & ~(nint)(AlignBytes - 1));
        fixed (T* pb = b)
        {
            nint rsB = transB ? 1 : ldb, csB = transB ? ldb : 1;
            if (provider == GemmProvider.OpenBlas)
            {
                for (int r = 0; r < k; r++)
                    for (int j = 0; j < n; j++) _data[(nint)r * n + j] = pb[r * rsB + j * csB];
            }
            else
            {
                long nPad = NPad;
                int kc = KcStep;
                for (int pc = 0; pc < k; pc += kc)
                    GemmPack<T>.PackB(_data + pc * nPad, pb + pc * rsB, rsB, csB, Math.Min(kc, k - pc), n, nr);
            }
        }
    }

    /// <summary>Rows of op(B) (the shared k).</summary>
    internal int K { get; private set; }

    /// <summary>Columns of op(B) and C.</summary>
    internal int N { get; private set; }

    private int Nr => Gemm.PanelWidth<T>(_tier);

    private int Kc => Gemm.KBlock<T>(_tier);

    private long NPad => (N + Nr - 1) / Nr * (long)Nr;

    /// <summary>The k block length: ceil(K / KC) blocks of nearly equal length (as the GEMM driver cuts k).</summary>
    private int KcStep
    {
        get
        {
            int blocks = (K + Kc - 1) / Kc;
            return (K + blocks - 1) / blocks;
        }
    }

    /// <summary><c>C[m, N] = alpha * op(A)[m, K] * op(B) + beta * C</c>; A stored as [m, K] (or [K, m] with
    /// <paramref name="transA"/>) with row stride <paramref name="lda"/>; C with row stride <paramref name="ldc"/>.
    /// <c>beta == 0</c> overwrites C without reading it.</summary>
    internal void Multiply(bool transA, int m, T alpha, ReadOnlySpan<T> a, int lda, T beta, Span<T> c, int ldc)
        => MultiplyEpi(transA, m, alpha, a, lda, beta, c, ldc, default);

    /// <summary><see cref="Multiply(bool, int, T, ReadOnlySpan{T}, int, T, Span{T}, int)"/> followed by
    /// <c>C = act(C + bias)</c> (<see cref="Activations.BiasAct{T}"/>, bias [N] or empty), bit-identical to the two
    /// calls: bias and ReLU go in the micro-kernels' epilogue (see <see cref="GemmEpilogue{T}"/>) on the managed
    /// provider; tanh, sigmoid and OpenBLAS products take the separate pass. C must be contiguous (<paramref name="ldc"/> = N).</summary>
    internal unsafe void MultiplyBiasAct(bool transA, int m, T alpha, ReadOnlySpan<T> a, int lda, T beta, Span<T> c, int ldc,
        ReadOnlySpan<T> bias, FusedActivation act)
    {
        Gemm.CheckBiasAct(m, N, ldc, c.Length, bias.Length, act);
        if (m == 0) return;
        bool fusable = _provider == GemmProvider.Managed && Gemm.Fusable(act, bias.Length);
        fixed (T* pb = bias)
        {
            // Stryker disable once Conditional: equivalent: fixed over an empty span gives null
            var epi = fusable ? new GemmEpilogue<T>(bias.IsEmpty ? null : pb, act == FusedActivation.Relu) : default;
            MultiplyEpi(transA, m, alpha, a, lda, beta, c, ldc, epi);
            if (epi.On) Gemm.FusedEpiloguesOnThisThread++;
        }
        if (!fusable) Activations.BiasAct<T>(c[..(m * N)], bias, c[..(m * N)], m, N, act);
    }

    private void MultiplyEpi(bool transA, int m, T alpha, ReadOnlySpan<T> a, int lda, T beta, Span<T> c, int ldc, GemmEpilogue<T> epi)
    {
        ObjectDisposedException.ThrowIf(_array is null, this);
        if (m < 0) throw new ShapeMismatchException($"GemmPackedB.Multiply: m={m} must be non-negative.");
        int aRows = transA ? K : m, aCols = transA ? m : K;
        if (m > 0 && (lda < aCols || (long)(aRows - 1) * lda + aCols > a.Length))
            throw new ShapeMismatchException($"GemmPackedB.Multiply (m={m}, n={N}, k={K}): A stored as [{aRows}, {aCols}] with lda={lda} does not fit a span of {a.Length}.");
        if (m > 0 && (ldc < N || (long)(m - 1) * ldc + N > c.Length))
            throw new ShapeMismatchException($"GemmPackedB.Multiply (m={m}, n={N}, k={K}): C [{m}, {N}] with ldc={ldc} does not fit a span of {c.Length}.");
        if (m == 0) return;
        if (_provider == GemmProvider.OpenBlas)
        {
            Gemm.RunWith(_provider, transA, false, m, N, K, alpha, a, lda, new ReadOnlySpan<T>(_data, K * N), N, beta, c, ldc);
            return;
        }
        fixed (T* pa = a)
        fixed (T* pc = c)
        {
            switch (_tier)
            {
                case GemmKernelTier.Vector512: PackedDriver<T, Kernel512<T>>.Run(transA, m, N, K, KcStep, alpha, pa, lda, _data, beta, pc, ldc, epi); break;
                case GemmKernelTier.Vector256: PackedDriver<T, Kernel256<T>>.Run(transA, m, N, K, KcStep, alpha, pa, lda, _data, beta, pc, ldc, epi); break;
                case GemmKernelTier.Vector128: PackedDriver<T, Kernel128<T>>.Run(transA, m, N, K, KcStep, alpha, pa, lda, _data, beta, pc, ldc, epi); break;
                default: PackedDriver<T, KernelScalar<T>>.Run(transA, m, N, K, KcStep, alpha, pa, lda, _data, beta, pc, ldc, epi); break;
            }
        }
    }

    /// <summary>Columns per packed panel (a column range given to <see cref="MultiplyPanels"/> starts at a multiple of it).</summary>
    internal int PanelWidth => Nr;

    /// <summary>True when products run on the managed micro-kernels (so <see cref="MultiplyPanels"/> is available).</summary>
    internal bool IsManaged => _provider == GemmProvider.Managed;

    /// <summary>Like <see cref="Multiply"/>, on the calling thread, for the columns of panels [<paramref name="p0"/>,
    /// <paramref name="p1"/>) only (columns p0·PanelWidth up to min(N, p1·PanelWidth)): each column gets exactly the
    /// values a whole product gives it. Pointers as in <see cref="Multiply"/> (A and C of the whole product); the
    /// caller guarantees the bounds (checked by the same shapes as <see cref="Multiply"/> in debug builds only).</summary>
    internal void MultiplyPanels(bool transA, int m, int p0, int p1, T alpha, T* a, int lda, T beta, T* c, int ldc)
    {
        ObjectDisposedException.ThrowIf(_array is null, this);
        if (!IsManaged) throw new InvalidOperationException("GemmPackedB.MultiplyPanels needs the managed provider.");
        int panels = (N + Nr - 1) / Nr;
        if (p0 < 0 || p1 > panels || p0 > p1 || m < 0)
            throw new ArgumentOutOfRangeException(nameof(p1), $"GemmPackedB.MultiplyPanels: panels [{p0}, {p1}) of {panels}, m={m}.");
        switch (_tier)
        {
            case GemmKernelTier.Vector512: PackedDriver<T, Kernel512<T>>.Range(transA, m, N, K, KcStep, alpha, a, lda, _data, beta, c, ldc, p0, p1, 0, m); break;
            case GemmKernelTier.Vector256: PackedDriver<T, Kernel256<T>>.Range(transA, m, N, K, KcStep, alpha, a, lda, _data, beta, c, ldc, p0, p1, 0, m); break;
            case GemmKernelTier.Vector128: PackedDriver<T, Kernel128<T>>.Range(transA, m, N, K, KcStep, alpha, a, lda, _data, beta, c, ldc, p0, p1, 0, m); break;
            default: PackedDriver<T, KernelScalar<T>>.Range(transA, m, N, K, KcStep, alpha, a, lda, _data, beta, c, ldc, p0, p1, 0, m); break;
        }
    }

    /// <summary>Unpins the buffer and returns it to the pool (the object may be packed again).</summary>
    public void Dispose()
    {
        var a = _array;
        if (a is null) return;
        _array = null;
        _data = null;
        Unpin();
        ArrayPool<T>.Shared.Return(a);
    }

    /// <summary>Unpins the buffer of an object nobody disposed, so that the collector can take it (not returned to the
    /// pool: the pool is not for finalizers). Without this a pinned handle would keep the buffer for the process's life.</summary>
    ~GemmPackedB()
    {
        if (_array is not null) Unpin();
    }

    private void Unpin()
    {
        _pin.Free();
        Interlocked.Decrement(ref s_pins);
    }

    private static int s_pins;

    /// <summary>Test hooks (of a packed object): the packed copy's first element, and the pinned buffer's first element
    /// and length.</summary>
    internal nint DataAddress => (nint)_data;

    internal nint BufferAddress => _pin.AddrOfPinnedObject();

    internal int BufferLength => _array?.Length ?? 0;

    /// <summary>Test hook: true while the object holds a pinning handle.</summary>
    internal bool HoldsPin => _pin.IsAllocated;

    /// <summary>Test hook: buffers of this element type pinned now (packed and neither disposed nor finalized).</summary>
    internal static int LivePins => Volatile.Read(ref s_pins);
}

/// <summary>The products of <see cref="GemmPackedB{T}"/> over one micro-kernel.</summary>
internal static unsafe class PackedDriver<T, TK>
    where T : unmanaged, IFloatingPointIeee754<T>
    where TK : struct, IGemmKernel<T>
{
    [ThreadStatic] private static Job? t_job;

    /// <summary>Test hooks: how many products this thread split by row tiles and by column panels.</summary>
    [ThreadStatic] internal static int RowSplitsOnThisThread, ColumnSplitsOnThisThread;

    internal static void Run(bool transA, int m, int n, int k, int kcStep, T alpha, T* a, int lda, T* b, T beta, T* c, int ldc,
        GemmEpilogue<T> epi = default)
    {
        int nr = TK.NR;
        int panels = (n + nr - 1) / nr;
        int cores = Environment.ProcessorCount;
        long work = (long)m * n * k;
        bool byRows = m >= n;
        // Stryker disable all: speed only: every split (or none) computes each C element in the same k blocks and order
        int units = byRows ? (m + TK.MR - 1) / TK.MR : panels;
        int tasks = cores < 2 || work < GemmDriver<T, TK>.ParallelThreshold ? 1 : Math.Min(units, cores);
        // Stryker restore all
        if (tasks == 1)
        {
            Range(transA, m, n, k, kcStep, alpha, a, lda, b, beta, c, ldc, 0, panels, 0, m, epi);
            return;
        }
        if (byRows) RowSplitsOnThisThread++;
        else ColumnSplitsOnThisThread++;
        // Stryker disable once all: allocation only: a fresh job does the same work
        var job = t_job ?? new Job();
        t_job = null; // a nested call on this thread gets its own
        try
        {
            // Stryker disable once Conditional: speed only: a split by column panels computes the same bits as one by row tiles
            job.Set(transA, m, n, k, kcStep, alpha, a, lda, b, beta, c, ldc, panels, byRows ? units : 0, tasks, epi);
            WorkerPool.For(tasks, job);
        }
        finally
        {
            // Stryker disable once Statement: memory only: clears the pointers of a finished product
            job.Clear();
            t_job = job;
        }
    }

    /// <summary>Column panels [p0, p1) of rows [r0, r1) of C (r0 a multiple of MR), every k block.</summary>
    internal static void Range(bool transA, int m, int n, int k, int kcStep, T alpha, T* a, int lda, T* b, T beta,
        T* c, int ldc, int p0, int p1, int r0, int r1, GemmEpilogue<T> epi = default)
    {
        int mr = TK.MR, nr = TK.NR;
        long nPad = (n + nr - 1) / nr * (long)nr;
        nint rsA = transA ? 1 : lda, csA = transA ? lda : 1;
        for (int pc = 0; pc < k; pc += kcStep)
        {
            int kc = Math.Min(kcStep, k - pc);
            T betaEff = pc == 0 ? beta : T.One;
            bool last = pc + kc == k; // the epilogue goes with the last k block only
            T* bBlock = b + pc * nPad;
            for (int ir = r0; ir < r1; ir += mr)
            {
                int rows = Math.Min(mr, r1 - ir);
                T* aPanel = a + ir * rsA + pc * csA;
                T* cRow = c + (nint)ir * ldc;
                for (int p = p0; p < p1; p++)
                {
                    int jr = p * nr;
                    TK.Run(rows, Math.Min(nr, n - jr), kc, aPanel, rsA, csA, bBlock + (nint)jr * kc, nr, cRow + jr, ldc, alpha, betaEff,
                        last ? epi.At(jr) : default);
                }
            }
        }
    }

    private sealed class Job : IParallelBody
    {
        private bool _transA;
        private int _m, _n, _k, _kcStep, _lda, _ldc, _panels, _rowTiles, _tasks;
        private T _alpha, _beta;
        private T* _a, _b, _c;
        private GemmEpilogue<T> _epi;

        public void Set(bool transA, int m, int n, int k, int kcStep, T alpha, T* a, int lda, T* b, T beta, T* c, int ldc,
            int panels, int rowTiles, int tasks, GemmEpilogue<T> epi)
        {
            _rowTiles = rowTiles;
            _epi = epi;
            (_transA, _m, _n, _k, _kcStep, _alpha, _lda, _beta, _ldc) = (transA, m, n, k, kcStep, alpha, lda, beta, ldc);
            _a = a;
            _b = b;
            _c = c;
            (_panels, _tasks) = (panels, tasks);
        }

        public void Clear()
        {
            _a = null; _b = null; _c = null;
            _epi = default;
        }

        public void Run(int index)
        {
            // contiguous, balanced ranges (of row tiles when _rowTiles > 0, else of column panels): task i always gets
            // the same part of C for the same shape
            // Stryker disable once Equality: speed only: a split by column panels computes the same bits as one by row tiles
            if (_rowTiles > 0)
            {
                int t0 = (int)((long)_rowTiles * index / _tasks), t1 = (int)((long)_rowTiles * (index + 1) / _tasks);
                Range(_transA, _m, _n, _k, _kcStep, _alpha, _a, _lda, _b, _beta, _c, _ldc, 0, _panels, t0 * TK.MR,
                    Math.Min(_m, t1 * TK.MR), _epi);
                return;
            }
            int p0 = (int)((long)_panels * index / _tasks), p1 = (int)((long)_panels * (index + 1) / _tasks);
            Range(_transA, _m, _n, _k, _kcStep, _alpha, _a, _lda, _b, _beta, _c, _ldc, p0, p1, 0, _m, _epi);
        }
    }
}

internal static partial class Gemm
{
    /// <summary>The tier <see cref="GemmPackedB{T}"/> packs for (Auto = the best accelerated one).</summary>
    internal static GemmKernelTier ResolveTierForPacking(GemmKernelTier tier) => ResolveTier(tier);

    /// <summary>Generic GEMM through an explicit provider (best micro-kernel tier for the managed one).</summary>
    internal static void RunWith<T>(GemmProvider provider, bool transA, bool transB, int m, int n, int k, T alpha,
        ReadOnlySpan<T> a, int lda, ReadOnlySpan<T> b, int ldb, T beta, Span<T> c, int ldc) where T : unmanaged
    {
        if (typeof(T) == typeof(float))
            Run(provider, GemmKernelTier.Auto, transA, transB, m, n, k, (float)(object)alpha, Cast<T, float>(a), lda,
                Cast<T, float>(b), ldb, (float)(object)beta, Cast<T, float>(c), ldc);
        else if (typeof(T) == typeof(double))
            Run(provider, GemmKernelTier.Auto, transA, transB, m, n, k, (double)(object)alpha, Cast<T, double>(a), lda,
                Cast<T, double>(b), ldb, (double)(object)beta, Cast<T, double>(c), ldc);
        else throw new NotSupportedException($"Gemm: element type {typeof(T).Name} is not supported (float, double).");
    }
}
