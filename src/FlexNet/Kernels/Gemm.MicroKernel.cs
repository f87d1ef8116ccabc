// Over 400 lines on purpose: the micro-kernel contract, its epilogue and every kernel (scalar, 128/256/512-bit register
// tile) side by side, so the update order that makes all tiers and tails agree bit for bit is read in one place.
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace FlexNet.Kernels;

/// <summary>
/// A register-blocked GEMM micro-kernel: <c>C[rows, cols] (+)= alpha * Ã[rows, kc] · B̃[kc, NR]</c>.
/// </summary>
/// <remarks>
/// <c>Ã(r, p) = a[r*rsA + p*csA]</c> where either <c>rsA == 1</c> (packed panel, or Aᵀ read in place) or
/// <c>csA == 1</c> (A read in place, one pointer per row). <c>B̃(p, j) = b[p*rsB + j]</c> for <c>j &lt; NR</c>
/// (always NR readable columns: packed and zero-padded, or a full panel read in place). The C update is
/// <c>c = alpha*acc</c> (beta == 0, C not read), <c>c = alpha*acc + c</c> (beta == 1) or
/// <c>c = alpha*acc + beta*c</c>, each product and sum rounded separately so the vector and scalar (tail)
/// paths agree bit for bit. Only <c>rows ≤ MR</c> rows and <c>cols ≤ NR</c> columns of C are written.
/// </remarks>
internal unsafe interface IGemmKernel<T> where T : unmanaged
{
    /// <summary>Rows of the register block (maximum <c>rows</c>).</summary>
    static abstract int MR { get; }

    /// <summary>Columns of the register block (width of a packed B panel).</summary>
    static abstract int NR { get; }

    /// <summary>Block length along k (packed panels hold KC values per row/column).</summary>
    static abstract int KC { get; }

    /// <summary>Rows of A packed at once (multiple of MR).</summary>
    static abstract int MC { get; }

    /// <summary>Columns of B packed at once (multiple of NR).</summary>
    static abstract int NC { get; }

    /// <summary>True when the driver reads A in place whenever its rows are contiguous (<c>csA == 1</c>), one pointer
    /// per row, instead of packing it: same loads per step, and no packing pass (which every column task of a split
    /// repeats over the whole of A). Measured on the 6 × 16 AVX2 tile on Zen 1 (256³ on one core 36.0 → 37.6 GFLOP/s,
    /// column-split shapes of the MLP +5-11 %, bench/NOTES.md section 31) and on the 8 × 32 AVX-512 tile on Zen 5
    /// (+2-15 % over the shapes of section 34, together with own packing of B); the 128-bit and scalar tiles keep packing.</summary>
    static abstract bool RowsInPlace { get; }

    /// <summary>True when the row tasks of a split product share one copy of B, packed group by group by whichever
    /// task needs a group first (no duplicated packing); false when every row task packs the B blocks it reads
    /// itself. Sharing means each core reads panels that the other packed, out of the other core's cache: on Zen 5 with
    /// the 8 × 32 tile, packing its own B was 2-17 % faster on every row-split shape measured (bench/NOTES.md section 34).
    /// The other tiles keep sharing, as they have since it came in (not measured against own packing on their CPUs).</summary>
    static abstract bool SharesPackedB { get; }

    /// <summary>Runs the micro-kernel on one block of C (see the interface remarks).</summary>
    static abstract void Run(int rows, int cols, int kc, T* a, nint rsA, nint csA, T* b, nint rsB, T* c, nint ldc,
        T alpha, T beta, GemmEpilogue<T> epi);
}

/// <summary>
/// What the micro-kernel applies to a C tile after its update, on the registers before the store (the GEMM
/// epilogue): <c>c = c + bias[j]</c> (when <see cref="Bias"/> is set), then <c>c = max(c, 0)</c> (when
/// <see cref="Relu"/>), with the operations of <see cref="AddOp{T}"/>, <see cref="AddReluOp{T}"/> and
/// <see cref="ReluOp{T}"/>, so the result is bit-identical to the GEMM followed by <see cref="Activations.BiasAct{T}"/>.
/// The drivers pass it only with the last k block; <c>default</c> is no epilogue.
/// </summary>
internal readonly unsafe struct GemmEpilogue<T> where T : unmanaged
{
    /// <summary>Bias of the tile's first column (null: no bias).</summary>
    public readonly T* Bias;

    /// <summary>Apply <c>max(c, 0)</c> after the bias.</summary>
    public readonly bool Relu;

    public GemmEpilogue(T* bias, bool relu)
    {
        Bias = bias;
        Relu = relu;
    }

    /// <summary>True when there is anything to apply.</summary>
    public bool On
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => Bias != null || Relu;
    }

    /// <summary>The same epilogue for a tile starting <paramref name="col"/> columns further right.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public GemmEpilogue<T> At(nint col) => new(Bias == null ? null : Bias + col, Relu);
}

/// <summary>A compile-time integer for generic specialisation.</summary>
internal interface IGemmConst
{
    /// <summary>The value.</summary>
    static abstract int Value { get; }
}

/// <summary>A compile-time flag: A is read through one pointer per row (<c>csA == 1</c>).</summary>
internal interface IGemmFlag
{
    /// <summary>The value.</summary>
    static abstract bool Value { get; }
}

internal struct GemmR1 : IGemmConst { public static int Value => 1; }
internal struct GemmR2 : IGemmConst { public static int Value => 2; }
internal struct GemmR3 : IGemmConst { public static int Value => 3; }
internal struct GemmR4 : IGemmConst { public static int Value => 4; }
internal struct GemmR5 : IGemmConst { public static int Value => 5; }
internal struct GemmR6 : IGemmConst { public static int Value => 6; }
internal struct GemmR7 : IGemmConst { public static int Value => 7; }
internal struct GemmR8 : IGemmConst { public static int Value => 8; }
internal struct GemmRowPointers : IGemmFlag { public static bool Value => true; }
internal struct GemmColumnSteps : IGemmFlag { public static bool Value => false; }
internal struct GemmEpilogueOn : IGemmFlag { public static bool Value => true; }
internal struct GemmEpilogueOff : IGemmFlag { public static bool Value => false; }

/// <summary>Scalar pieces shared by all micro-kernels.</summary>
internal static unsafe class GemmTile<T> where T : unmanaged, INumber<T>
{
    /// <summary>0: c = alpha*acc; 1: c = alpha*acc + c; 2: c = alpha*acc + beta*c.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Mode(T beta) => beta == T.Zero ? 0 : beta == T.One ? 1 : 2;

    /// <summary>Applies the C update from an accumulator tile (row stride <paramref name="ts"/>).</summary>
    public static void Update(T* tile, int ts, int rows, int cols, T* c, nint ldc, T alpha, T beta,
        GemmEpilogue<T> epi)
    {
        int mode = Mode(beta);
        for (int r = 0; r < rows; r++)
        {
            T* t = tile + r * ts;
            T* cr = c + r * ldc;
            for (int j = 0; j < cols; j++)
            {
                T v = t[j] * alpha;
                if (mode == 1) v += cr[j];
                else if (mode == 2) v += cr[j] * beta;
                cr[j] = v;
            }
        }
        if (epi.On) Epilogue(rows, cols, c, ldc, epi);
    }

    /// <summary>The epilogue on a stored tile, element by element with the scalar forms of
    /// <see cref="AddOp{T}"/> / <see cref="AddReluOp{T}"/> / <see cref="ReluOp{T}"/>.</summary>
    private static void Epilogue(int rows, int cols, T* c, nint ldc, GemmEpilogue<T> epi)
    {
        T* bias = epi.Bias;
        for (int r = 0; r < rows; r++)
        {
            T* cr = c + r * ldc;
            for (int j = 0; j < cols; j++)
            {
                T v = cr[j];
                if (bias != null) v += bias[j];
                if (epi.Relu) v = T.Max(v, T.Zero);
                cr[j] = v;
            }
        }
    }
}

/// <summary>8 x 32 (float) / 8 x 16 (double) micro-kernel on <see cref="Vector512{T}"/>: 16 accumulators.</summary>
internal unsafe struct Kernel512<T> : IGemmKernel<T> where T : unmanaged, INumber<T>
{
    public static int MR => 8;
    public static int NR => 2 * Vector512<T>.Count;
    public static int KC => 384 * 4 / sizeof(T);
    public static int MC => 192;
    public static int NC => 1024;
    public static bool RowsInPlace => true;
    public static bool SharesPackedB => false;

    public static void Run(int rows, int cols, int kc, T* a, nint rsA, nint csA, T* b, nint rsB, T* c, nint ldc,
        T alpha, T beta, GemmEpilogue<T> epi)
        => GemmRegisterTile<T, Vector512<T>, GemmV512<T>>.Run(rows, cols, kc, a, rsA, csA, b, rsB, c, ldc, alpha, beta, epi);
}

/// <summary>6 x 16 (float) / 6 x 8 (double) micro-kernel on <see cref="Vector256{T}"/>: 12 accumulators.</summary>
internal unsafe struct Kernel256<T> : IGemmKernel<T> where T : unmanaged, INumber<T>
{
    public static int MR => 6;
    public static int NR => 2 * Vector256<T>.Count;
    public static int KC => 384 * 4 / sizeof(T);
    public static int MC => 96;
    public static int NC => 1024;
    public static bool RowsInPlace => true;
    public static bool SharesPackedB => true;

    public static void Run(int rows, int cols, int kc, T* a, nint rsA, nint csA, T* b, nint rsB, T* c, nint ldc,
        T alpha, T beta, GemmEpilogue<T> epi)
        => GemmRegisterTile<T, Vector256<T>, GemmV256<T>>.Run(rows, cols, kc, a, rsA, csA, b, rsB, c, ldc, alpha, beta, epi);
}

/// <summary>6 x 8 (float) / 6 x 4 (double) micro-kernel on <see cref="Vector128{T}"/>: 12 accumulators.</summary>
internal unsafe struct Kernel128<T> : IGemmKernel<T> where T : unmanaged, INumber<T>
{
    public static int MR => 6;
    public static int NR => 2 * Vector128<T>.Count;
    public static int KC => 256 * 4 / sizeof(T);
    public static int MC => 96;
    public static int NC => 1024;
    public static bool RowsInPlace => false;
    public static bool SharesPackedB => true;

    public static void Run(int rows, int cols, int kc, T* a, nint rsA, nint csA, T* b, nint rsB, T* c, nint ldc,
        T alpha, T beta, GemmEpilogue<T> epi)
        => GemmRegisterTile<T, Vector128<T>, GemmV128<T>>.Run(rows, cols, kc, a, rsA, csA, b, rsB, c, ldc, alpha, beta, epi);
}

/// <summary>
/// The register tile behind the vector micro-kernels, written once for every width <typeparamref name="TV"/>
/// (operations from <typeparamref name="TO"/>): up to 8 rows × 2 vectors of accumulators. The row count and the
/// layout of A are type-level constants, so each (rows, layout) pair compiles to a loop with exactly its FMAs; a
/// kernel passes at most its <c>MR</c> rows (8 for <see cref="Kernel512{T}"/>, 6 for the narrower ones, whose
/// 12 accumulators plus the B vectors fit the 16 registers of AVX2).
/// </summary>
internal static unsafe class GemmRegisterTile<T, TV, TO>
    where T : unmanaged, INumber<T> where TV : struct where TO : struct, IGemmVecOps<TV, T>
{
    /// <summary>Runs the tile for <paramref name="rows"/> ≤ 8 rows (see <see cref="IGemmKernel{T}"/>).</summary>
    public static void Run(int rows, int cols, int kc, T* a, nint rsA, nint csA, T* b, nint rsB, T* c, nint ldc,
        T alpha, T beta, GemmEpilogue<T> epi)
    {
        // the epilogue is a type-level flag: the plain product compiles without any of its code
        if (epi.On) Rows<GemmEpilogueOn>(rows, cols, kc, a, rsA, csA, b, rsB, c, ldc, alpha, beta, epi);
        else Rows<GemmEpilogueOff>(rows, cols, kc, a, rsA, csA, b, rsB, c, ldc, alpha, beta, default);
    }

    private static void Rows<TE>(int rows, int cols, int kc, T* a, nint rsA, nint csA, T* b, nint rsB, T* c, nint ldc,
        T alpha, T beta, GemmEpilogue<T> epi) where TE : struct, IGemmFlag
    {
        if (rsA == 1)
        {
            switch (rows)
            {
                case 8: Body<GemmR8, GemmColumnSteps, TE>(cols, kc, a, rsA, csA, b, rsB, c, ldc, alpha, beta, epi); break;
                case 7: Body<GemmR7, GemmColumnSteps, TE>(cols, kc, a, rsA, csA, b, rsB, c, ldc, alpha, beta, epi); break;
                case 6: Body<GemmR6, GemmColumnSteps, TE>(cols, kc, a, rsA, csA, b, rsB, c, ldc, alpha, beta, epi); break;
                case 5: Body<GemmR5, GemmColumnSteps, TE>(cols, kc, a, rsA, csA, b, rsB, c, ldc, alpha, beta, epi); break;
                case 4: Body<GemmR4, GemmColumnSteps, TE>(cols, kc, a, rsA, csA, b, rsB, c, ldc, alpha, beta, epi); break;
                case 3: Body<GemmR3, GemmColumnSteps, TE>(cols, kc, a, rsA, csA, b, rsB, c, ldc, alpha, beta, epi); break;
                case 2: Body<GemmR2, GemmColumnSteps, TE>(cols, kc, a, rsA, csA, b, rsB, c, ldc, alpha, beta, epi); break;
                default: Body<GemmR1, GemmColumnSteps, TE>(cols, kc, a, rsA, csA, b, rsB, c, ldc, alpha, beta, epi); break;
            }
        }
        else
        {
            switch (rows)
            {
                case 8: Body<GemmR8, GemmRowPointers, TE>(cols, kc, a, rsA, csA, b, rsB, c, ldc, alpha, beta, epi); break;
                case 7: Body<GemmR7, GemmRowPointers, TE>(cols, kc, a, rsA, csA, b, rsB, c, ldc, alpha, beta, epi); break;
                case 6: Body<GemmR6, GemmRowPointers, TE>(cols, kc, a, rsA, csA, b, rsB, c, ldc, alpha, beta, epi); break;
                case 5: Body<GemmR5, GemmRowPointers, TE>(cols, kc, a, rsA, csA, b, rsB, c, ldc, alpha, beta, epi); break;
                case 4: Body<GemmR4, GemmRowPointers, TE>(cols, kc, a, rsA, csA, b, rsB, c, ldc, alpha, beta, epi); break;
                case 3: Body<GemmR3, GemmRowPointers, TE>(cols, kc, a, rsA, csA, b, rsB, c, ldc, alpha, beta, epi); break;
                case 2: Body<GemmR2, GemmRowPointers, TE>(cols, kc, a, rsA, csA, b, rsB, c, ldc, alpha, beta, epi); break;
                default: Body<GemmR1, GemmRowPointers, TE>(cols, kc, a, rsA, csA, b, rsB, c, ldc, alpha, beta, epi); break;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    [SkipLocalsInit]
    private static void Body<TR, TA, TE>(int cols, int kc, T* a, nint rsA, nint csA, T* b, nint rsB, T* c, nint ldc,
        T alpha, T beta, GemmEpilogue<T> epi) where TR : struct, IGemmConst where TA : struct, IGemmFlag where TE : struct, IGemmFlag
    {
        int w = TO.Count;
        TV c00 = TO.Zero, c01 = TO.Zero, c10 = TO.Zero, c11 = TO.Zero;
        TV c20 = TO.Zero, c21 = TO.Zero, c30 = TO.Zero, c31 = TO.Zero;
        TV c40 = TO.Zero, c41 = TO.Zero, c50 = TO.Zero, c51 = TO.Zero;
        TV c60 = TO.Zero, c61 = TO.Zero, c70 = TO.Zero, c71 = TO.Zero;
        T* a1 = a + rsA, a2 = a1 + rsA, a3 = a2 + rsA, a4 = a3 + rsA, a5 = a4 + rsA, a6 = a5 + rsA, a7 = a6 + rsA;
        for (nint p = 0; p < kc; p++)
        {
            TV b0 = TO.Load(b), b1 = TO.Load(b + w), x;
            x = TO.Broadcast(TA.Value ? a[p] : a[0]); c00 = TO.Fma(x, b0, c00); c01 = TO.Fma(x, b1, c01);
            if (TR.Value > 1) { x = TO.Broadcast(TA.Value ? a1[p] : a[1]); c10 = TO.Fma(x, b0, c10); c11 = TO.Fma(x, b1, c11); }
            if (TR.Value > 2) { x = TO.Broadcast(TA.Value ? a2[p] : a[2]); c20 = TO.Fma(x, b0, c20); c21 = TO.Fma(x, b1, c21); }
            if (TR.Value > 3) { x = TO.Broadcast(TA.Value ? a3[p] : a[3]); c30 = TO.Fma(x, b0, c30); c31 = TO.Fma(x, b1, c31); }
            if (TR.Value > 4) { x = TO.Broadcast(TA.Value ? a4[p] : a[4]); c40 = TO.Fma(x, b0, c40); c41 = TO.Fma(x, b1, c41); }
            if (TR.Value > 5) { x = TO.Broadcast(TA.Value ? a5[p] : a[5]); c50 = TO.Fma(x, b0, c50); c51 = TO.Fma(x, b1, c51); }
            if (TR.Value > 6) { x = TO.Broadcast(TA.Value ? a6[p] : a[6]); c60 = TO.Fma(x, b0, c60); c61 = TO.Fma(x, b1, c61); }
            if (TR.Value > 7) { x = TO.Broadcast(TA.Value ? a7[p] : a[7]); c70 = TO.Fma(x, b0, c70); c71 = TO.Fma(x, b1, c71); }
            if (!TA.Value) a += csA;
            b += rsB;
        }

        if (TE.Value && cols == 2 * w)
        {
            // epilogue (last k block only, decided by the driver): bias vectors loaded once for all rows
            int mode = GemmTile<T>.Mode(beta);
            TV va = TO.Broadcast(alpha), vb = TO.Broadcast(beta);
            bool hasBias = epi.Bias != null, relu = epi.Relu;
            TV e0 = hasBias ? TO.Load(epi.Bias) : TO.Zero, e1 = hasBias ? TO.Load(epi.Bias + w) : TO.Zero;
            UpdateEpi(c, c00, c01, va, vb, mode, hasBias, e0, e1, relu);
            if (TR.Value > 1) UpdateEpi(c + ldc, c10, c11, va, vb, mode, hasBias, e0, e1, relu);
            if (TR.Value > 2) UpdateEpi(c + 2 * ldc, c20, c21, va, vb, mode, hasBias, e0, e1, relu);
            if (TR.Value > 3) UpdateEpi(c + 3 * ldc, c30, c31, va, vb, mode, hasBias, e0, e1, relu);
            if (TR.Value > 4) UpdateEpi(c + 4 * ldc, c40, c41, va, vb, mode, hasBias, e0, e1, relu);
            if (TR.Value > 5) UpdateEpi(c + 5 * ldc, c50, c51, va, vb, mode, hasBias, e0, e1, relu);
            if (TR.Value > 6) UpdateEpi(c + 6 * ldc, c60, c61, va, vb, mode, hasBias, e0, e1, relu);
            if (TR.Value > 7) UpdateEpi(c + 7 * ldc, c70, c71, va, vb, mode, hasBias, e0, e1, relu);
        }
        else if (cols == 2 * w)
        {
            int mode = GemmTile<T>.Mode(beta);
            TV va = TO.Broadcast(alpha), vb = TO.Broadcast(beta);
            Update(c, c00, c01, va, vb, mode);
            if (TR.Value > 1) Update(c + ldc, c10, c11, va, vb, mode);
            if (TR.Value > 2) Update(c + 2 * ldc, c20, c21, va, vb, mode);
            if (TR.Value > 3) Update(c + 3 * ldc, c30, c31, va, vb, mode);
            if (TR.Value > 4) Update(c + 4 * ldc, c40, c41, va, vb, mode);
            if (TR.Value > 5) Update(c + 5 * ldc, c50, c51, va, vb, mode);
            if (TR.Value > 6) Update(c + 6 * ldc, c60, c61, va, vb, mode);
            if (TR.Value > 7) Update(c + 7 * ldc, c70, c71, va, vb, mode);
        }
        else
        {
            int ts = 2 * w;
            T* tile = stackalloc T[TR.Value * ts];
            TO.Store(c00, tile); TO.Store(c01, tile + w);
            if (TR.Value > 1) { TO.Store(c10, tile + ts); TO.Store(c11, tile + ts + w); }
            if (TR.Value > 2) { TO.Store(c20, tile + 2 * ts); TO.Store(c21, tile + 2 * ts + w); }
            if (TR.Value > 3) { TO.Store(c30, tile + 3 * ts); TO.Store(c31, tile + 3 * ts + w); }
            if (TR.Value > 4) { TO.Store(c40, tile + 4 * ts); TO.Store(c41, tile + 4 * ts + w); }
            if (TR.Value > 5) { TO.Store(c50, tile + 5 * ts); TO.Store(c51, tile + 5 * ts + w); }
            if (TR.Value > 6) { TO.Store(c60, tile + 6 * ts); TO.Store(c61, tile + 6 * ts + w); }
            if (TR.Value > 7) { TO.Store(c70, tile + 7 * ts); TO.Store(c71, tile + 7 * ts + w); }
            GemmTile<T>.Update(tile, ts, TR.Value, cols, c, ldc, alpha, beta, TE.Value ? epi : default);
        }
    }

    /// <summary><c>c = alpha*x</c>, <c>alpha*x + c</c> or <c>alpha*x + beta*c</c> (mode 0, 1, 2) for two vectors,
    /// each product and sum rounded separately.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Update(T* c, TV x0, TV x1, TV va, TV vb, int mode)
    {
        int w = TO.Count;
        x0 = TO.Mul(x0, va);
        x1 = TO.Mul(x1, va);
        if (mode == 1)
        {
            x0 = TO.Add(x0, TO.Load(c));
            x1 = TO.Add(x1, TO.Load(c + w));
        }
        else if (mode == 2)
        {
            x0 = TO.Add(x0, TO.Mul(TO.Load(c), vb));
            x1 = TO.Add(x1, TO.Mul(TO.Load(c + w), vb));
        }
        TO.Store(x0, c);
        TO.Store(x1, c + w);
    }

    /// <summary><see cref="Update"/>, then <c>+ bias</c> (when <paramref name="hasBias"/>) and <c>max(., 0)</c>
    /// (when <paramref name="relu"/>) on the registers, as <see cref="AddOp{T}"/> / <see cref="AddReluOp{T}"/> /
    /// <see cref="ReluOp{T}"/> compute them.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void UpdateEpi(T* c, TV x0, TV x1, TV va, TV vb, int mode, bool hasBias, TV e0, TV e1, bool relu)
    {
        int w = TO.Count;
        x0 = TO.Mul(x0, va);
        x1 = TO.Mul(x1, va);
        if (mode == 1)
        {
            x0 = TO.Add(x0, TO.Load(c));
            x1 = TO.Add(x1, TO.Load(c + w));
        }
        else if (mode == 2)
        {
            x0 = TO.Add(x0, TO.Mul(TO.Load(c), vb));
            x1 = TO.Add(x1, TO.Mul(TO.Load(c + w), vb));
        }
        if (hasBias)
        {
            x0 = TO.Add(x0, e0);
            x1 = TO.Add(x1, e1);
        }
        if (relu)
        {
            x0 = TO.Max(x0, TO.Zero);
            x1 = TO.Max(x1, TO.Zero);
        }
        TO.Store(x0, c);
        TO.Store(x1, c + w);
    }
}

/// <summary>4 x 4 scalar micro-kernel (used when no SIMD is accelerated).</summary>
internal unsafe struct KernelScalar<T> : IGemmKernel<T> where T : unmanaged, INumber<T>
{
    public static int MR => 4;
    public static int NR => 4;
    public static int KC => 256 * 4 / sizeof(T);
    public static int MC => 64;
    public static int NC => 512;
    public static bool RowsInPlace => false;
    public static bool SharesPackedB => true;

    [SkipLocalsInit]
    public static void Run(int rows, int cols, int kc, T* a, nint rsA, nint csA, T* b, nint rsB, T* c, nint ldc,
        T alpha, T beta, GemmEpilogue<T> epi)
    {
        T* acc = stackalloc T[16];
        for (int i = 0; i < 16; i++) acc[i] = T.Zero;
        for (int r = 0; r < rows; r++)
        {
            T* ar = a + r * rsA;
            T s0 = T.Zero, s1 = T.Zero, s2 = T.Zero, s3 = T.Zero;
            T* bp = b;
            for (nint p = 0; p < kc; p++)
            {
                T x = ar[p * csA];
                s0 += x * bp[0];
                s1 += x * bp[1];
                s2 += x * bp[2];
                s3 += x * bp[3];
                bp += rsB;
            }
            acc[4 * r] = s0;
            acc[4 * r + 1] = s1;
            acc[4 * r + 2] = s2;
            acc[4 * r + 3] = s3;
        }
        GemmTile<T>.Update(acc, 4, rows, cols, c, ldc, alpha, beta, epi);
    }
}
