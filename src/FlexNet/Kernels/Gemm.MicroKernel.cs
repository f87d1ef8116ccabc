// Over 400 lines on purpose: the register-blocked micro-kernel, specialised at JIT time on row count and layout
// through the type-level constants declared here; splitting it would separate the kernel from its specialisations.
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

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

    /// <summary>Runs the micro-kernel on one block of C (see the interface remarks).</summary>
    static abstract void Run(int rows, int cols, int kc, T* a, nint rsA, nint csA, T* b, nint rsB, T* c, nint ldc,
        T alpha, T beta);
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

/// <summary>Scalar pieces shared by all micro-kernels.</summary>
internal static unsafe class GemmTile<T> where T : unmanaged, INumber<T>
{
    /// <summary>0: c = alpha*acc; 1: c = alpha*acc + c; 2: c = alpha*acc + beta*c.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Mode(T beta) => beta == T.Zero ? 0 : beta == T.One ? 1 : 2;

    /// <summary>Applies the C update from an accumulator tile (row stride <paramref name="ts"/>).</summary>
    public static void Update(T* tile, int ts, int rows, int cols, T* c, nint ldc, T alpha, T beta)
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
    }
}

/// <summary>8 x 32 (float) / 8 x 16 (double) micro-kernel on <see cref="Vector512{T}"/>: 16 accumulators.</summary>
internal unsafe struct Kernel512<T> : IGemmKernel<T> where T : unmanaged, INumber<T>
{
    public static int MR => 8;
    public static int NR => 2 * Vector512<T>.Count;
    public static int KC => 384 * 4 / sizeof(T);
    public static int MC => 96;
    public static int NC => 1024;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<T> Fma(Vector512<T> x, Vector512<T> y, Vector512<T> acc)
    {
        if (typeof(T) == typeof(float))
            return Vector512.FusedMultiplyAdd(x.AsSingle(), y.AsSingle(), acc.AsSingle()).As<float, T>();
        if (typeof(T) == typeof(double))
            return Vector512.FusedMultiplyAdd(x.AsDouble(), y.AsDouble(), acc.AsDouble()).As<double, T>();
        return x * y + acc;
    }

    public static void Run(int rows, int cols, int kc, T* a, nint rsA, nint csA, T* b, nint rsB, T* c, nint ldc,
        T alpha, T beta)
    {
        if (rsA == 1)
        {
            switch (rows)
            {
                case 8: Body<GemmR8, GemmColumnSteps>(cols, kc, a, rsA, csA, b, rsB, c, ldc, alpha, beta); break;
                case 7: Body<GemmR7, GemmColumnSteps>(cols, kc, a, rsA, csA, b, rsB, c, ldc, alpha, beta); break;
                case 6: Body<GemmR6, GemmColumnSteps>(cols, kc, a, rsA, csA, b, rsB, c, ldc, alpha, beta); break;
                case 5: Body<GemmR5, GemmColumnSteps>(cols, kc, a, rsA, csA, b, rsB, c, ldc, alpha, beta); break;
                case 4: Body<GemmR4, GemmColumnSteps>(cols, kc, a, rsA, csA, b, rsB, c, ldc, alpha, beta); break;
                case 3: Body<GemmR3, GemmColumnSteps>(cols, kc, a, rsA, csA, b, rsB, c, ldc, alpha, beta); break;
                case 2: Body<GemmR2, GemmColumnSteps>(cols, kc, a, rsA, csA, b, rsB, c, ldc, alpha, beta); break;
                default: Body<GemmR1, GemmColumnSteps>(cols, kc, a, rsA, csA, b, rsB, c, ldc, alpha, beta); break;
            }
        }
        else
        {
            switch (rows)
            {
                case 8: Body<GemmR8, GemmRowPointers>(cols, kc, a, rsA, csA, b, rsB, c, ldc, alpha, beta); break;
                case 7: Body<GemmR7, GemmRowPointers>(cols, kc, a, rsA, csA, b, rsB, c, ldc, alpha, beta); break;
                case 6: Body<GemmR6, GemmRowPointers>(cols, kc, a, rsA, csA, b, rsB, c, ldc, alpha, beta); break;
                case 5: Body<GemmR5, GemmRowPointers>(cols, kc, a, rsA, csA, b, rsB, c, ldc, alpha, beta); break;
                case 4: Body<GemmR4, GemmRowPointers>(cols, kc, a, rsA, csA, b, rsB, c, ldc, alpha, beta); break;
                case 3: Body<GemmR3, GemmRowPointers>(cols, kc, a, rsA, csA, b, rsB, c, ldc, alpha, beta); break;
                case 2: Body<GemmR2, GemmRowPointers>(cols, kc, a, rsA, csA, b, rsB, c, ldc, alpha, beta); break;
                default: Body<GemmR1, GemmRowPointers>(cols, kc, a, rsA, csA, b, rsB, c, ldc, alpha, beta); break;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    [SkipLocalsInit]
    private static void Body<TR, TA>(int cols, int kc, T* a, nint rsA, nint csA, T* b, nint rsB, T* c, nint ldc,
        T alpha, T beta) where TR : struct, IGemmConst where TA : struct, IGemmFlag
    {
        int w = Vector512<T>.Count;
        Vector512<T> c00 = default, c01 = default, c10 = default, c11 = default;
        Vector512<T> c20 = default, c21 = default, c30 = default, c31 = default;
        Vector512<T> c40 = default, c41 = default, c50 = default, c51 = default;
        Vector512<T> c60 = default, c61 = default, c70 = default, c71 = default;
        T* a1 = a + rsA, a2 = a1 + rsA, a3 = a2 + rsA, a4 = a3 + rsA, a5 = a4 + rsA, a6 = a5 + rsA, a7 = a6 + rsA;
        for (nint p = 0; p < kc; p++)
        {
            Vector512<T> b0 = Vector512.Load(b), b1 = Vector512.Load(b + w), x;
            x = Vector512.Create(TA.Value ? a[p] : a[0]); c00 = Fma(x, b0, c00); c01 = Fma(x, b1, c01);
            if (TR.Value > 1) { x = Vector512.Create(TA.Value ? a1[p] : a[1]); c10 = Fma(x, b0, c10); c11 = Fma(x, b1, c11); }
            if (TR.Value > 2) { x = Vector512.Create(TA.Value ? a2[p] : a[2]); c20 = Fma(x, b0, c20); c21 = Fma(x, b1, c21); }
            if (TR.Value > 3) { x = Vector512.Create(TA.Value ? a3[p] : a[3]); c30 = Fma(x, b0, c30); c31 = Fma(x, b1, c31); }
            if (TR.Value > 4) { x = Vector512.Create(TA.Value ? a4[p] : a[4]); c40 = Fma(x, b0, c40); c41 = Fma(x, b1, c41); }
            if (TR.Value > 5) { x = Vector512.Create(TA.Value ? a5[p] : a[5]); c50 = Fma(x, b0, c50); c51 = Fma(x, b1, c51); }
            if (TR.Value > 6) { x = Vector512.Create(TA.Value ? a6[p] : a[6]); c60 = Fma(x, b0, c60); c61 = Fma(x, b1, c61); }
            if (TR.Value > 7) { x = Vector512.Create(TA.Value ? a7[p] : a[7]); c70 = Fma(x, b0, c70); c71 = Fma(x, b1, c71); }
            if (!TA.Value) a += csA;
            b += rsB;
        }

        if (cols == 2 * w)
        {
            int mode = GemmTile<T>.Mode(beta);
            Vector512<T> va = Vector512.Create(alpha), vb = Vector512.Create(beta);
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
            T* tile = stackalloc T[8 * ts];
            c00.Store(tile); c01.Store(tile + w);
            if (TR.Value > 1) { c10.Store(tile + ts); c11.Store(tile + ts + w); }
            if (TR.Value > 2) { c20.Store(tile + 2 * ts); c21.Store(tile + 2 * ts + w); }
            if (TR.Value > 3) { c30.Store(tile + 3 * ts); c31.Store(tile + 3 * ts + w); }
            if (TR.Value > 4) { c40.Store(tile + 4 * ts); c41.Store(tile + 4 * ts + w); }
            if (TR.Value > 5) { c50.Store(tile + 5 * ts); c51.Store(tile + 5 * ts + w); }
            if (TR.Value > 6) { c60.Store(tile + 6 * ts); c61.Store(tile + 6 * ts + w); }
            if (TR.Value > 7) { c70.Store(tile + 7 * ts); c71.Store(tile + 7 * ts + w); }
            GemmTile<T>.Update(tile, ts, TR.Value, cols, c, ldc, alpha, beta);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Update(T* c, Vector512<T> x0, Vector512<T> x1, Vector512<T> va, Vector512<T> vb, int mode)
    {
        int w = Vector512<T>.Count;
        x0 *= va;
        x1 *= va;
        if (mode == 1)
        {
            x0 += Vector512.Load(c);
            x1 += Vector512.Load(c + w);
        }
        else if (mode == 2)
        {
            x0 += Vector512.Load(c) * vb;
            x1 += Vector512.Load(c + w) * vb;
        }
        x0.Store(c);
        x1.Store(c + w);
    }
}

/// <summary>6 x 16 (float) / 6 x 8 (double) micro-kernel on <see cref="Vector256{T}"/>: 12 accumulators.</summary>
internal unsafe struct Kernel256<T> : IGemmKernel<T> where T : unmanaged, INumber<T>
{
    public static int MR => 6;
    public static int NR => 2 * Vector256<T>.Count;
    public static int KC => 384 * 4 / sizeof(T);
    public static int MC => 96;
    public static int NC => 1024;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<T> Fma(Vector256<T> x, Vector256<T> y, Vector256<T> acc)
    {
        if (System.Runtime.Intrinsics.X86.Fma.IsSupported)
        {
            if (typeof(T) == typeof(float))
                return Vector256.FusedMultiplyAdd(x.AsSingle(), y.AsSingle(), acc.AsSingle()).As<float, T>();
            if (typeof(T) == typeof(double))
                return Vector256.FusedMultiplyAdd(x.AsDouble(), y.AsDouble(), acc.AsDouble()).As<double, T>();
        }
        return x * y + acc;
    }

    public static void Run(int rows, int cols, int kc, T* a, nint rsA, nint csA, T* b, nint rsB, T* c, nint ldc,
        T alpha, T beta)
    {
        if (rsA == 1)
        {
            switch (rows)
            {
                case 6: Body<GemmR6, GemmColumnSteps>(cols, kc, a, rsA, csA, b, rsB, c, ldc, alpha, beta); break;
                case 5: Body<GemmR5, GemmColumnSteps>(cols, kc, a, rsA, csA, b, rsB, c, ldc, alpha, beta); break;
                case 4: Body<GemmR4, GemmColumnSteps>(cols, kc, a, rsA, csA, b, rsB, c, ldc, alpha, beta); break;
                case 3: Body<GemmR3, GemmColumnSteps>(cols, kc, a, rsA, csA, b, rsB, c, ldc, alpha, beta); break;
                case 2: Body<GemmR2, GemmColumnSteps>(cols, kc, a, rsA, csA, b, rsB, c, ldc, alpha, beta); break;
                default: Body<GemmR1, GemmColumnSteps>(cols, kc, a, rsA, csA, b, rsB, c, ldc, alpha, beta); break;
            }
        }
        else
        {
            switch (rows)
            {
                case 6: Body<GemmR6, GemmRowPointers>(cols, kc, a, rsA, csA, b, rsB, c, ldc, alpha, beta); break;
                case 5: Body<GemmR5, GemmRowPointers>(cols, kc, a, rsA, csA, b, rsB, c, ldc, alpha, beta); break;
                case 4: Body<GemmR4, GemmRowPointers>(cols, kc, a, rsA, csA, b, rsB, c, ldc, alpha, beta); break;
                case 3: Body<GemmR3, GemmRowPointers>(cols, kc, a, rsA, csA, b, rsB, c, ldc, alpha, beta); break;
                case 2: Body<GemmR2, GemmRowPointers>(cols, kc, a, rsA, csA, b, rsB, c, ldc, alpha, beta); break;
                default: Body<GemmR1, GemmRowPointers>(cols, kc, a, rsA, csA, b, rsB, c, ldc, alpha, beta); break;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    [SkipLocalsInit]
    private static void Body<TR, TA>(int cols, int kc, T* a, nint rsA, nint csA, T* b, nint rsB, T* c, nint ldc,
        T alpha, T beta) where TR : struct, IGemmConst where TA : struct, IGemmFlag
    {
        int w = Vector256<T>.Count;
        Vector256<T> c00 = default, c01 = default, c10 = default, c11 = default;
        Vector256<T> c20 = default, c21 = default, c30 = default, c31 = default;
        Vector256<T> c40 = default, c41 = default, c50 = default, c51 = default;
        T* a1 = a + rsA, a2 = a1 + rsA, a3 = a2 + rsA, a4 = a3 + rsA, a5 = a4 + rsA;
        for (nint p = 0; p < kc; p++)
        {
            Vector256<T> b0 = Vector256.Load(b), b1 = Vector256.Load(b + w), x;
            x = Vector256.Create(TA.Value ? a[p] : a[0]); c00 = Fma(x, b0, c00); c01 = Fma(x, b1, c01);
            if (TR.Value > 1) { x = Vector256.Create(TA.Value ? a1[p] : a[1]); c10 = Fma(x, b0, c10); c11 = Fma(x, b1, c11); }
            if (TR.Value > 2) { x = Vector256.Create(TA.Value ? a2[p] : a[2]); c20 = Fma(x, b0, c20); c21 = Fma(x, b1, c21); }
            if (TR.Value > 3) { x = Vector256.Create(TA.Value ? a3[p] : a[3]); c30 = Fma(x, b0, c30); c31 = Fma(x, b1, c31); }
            if (TR.Value > 4) { x = Vector256.Create(TA.Value ? a4[p] : a[4]); c40 = Fma(x, b0, c40); c41 = Fma(x, b1, c41); }
            if (TR.Value > 5) { x = Vector256.Create(TA.Value ? a5[p] : a[5]); c50 = Fma(x, b0, c50); c51 = Fma(x, b1, c51); }
            if (!TA.Value) a += csA;
            b += rsB;
        }

        if (cols == 2 * w)
        {
            int mode = GemmTile<T>.Mode(beta);
            Vector256<T> va = Vector256.Create(alpha), vb = Vector256.Create(beta);
            Update(c, c00, c01, va, vb, mode);
            if (TR.Value > 1) Update(c + ldc, c10, c11, va, vb, mode);
            if (TR.Value > 2) Update(c + 2 * ldc, c20, c21, va, vb, mode);
            if (TR.Value > 3) Update(c + 3 * ldc, c30, c31, va, vb, mode);
            if (TR.Value > 4) Update(c + 4 * ldc, c40, c41, va, vb, mode);
            if (TR.Value > 5) Update(c + 5 * ldc, c50, c51, va, vb, mode);
        }
        else
        {
            int ts = 2 * w;
            T* tile = stackalloc T[6 * ts];
            c00.Store(tile); c01.Store(tile + w);
            if (TR.Value > 1) { c10.Store(tile + ts); c11.Store(tile + ts + w); }
            if (TR.Value > 2) { c20.Store(tile + 2 * ts); c21.Store(tile + 2 * ts + w); }
            if (TR.Value > 3) { c30.Store(tile + 3 * ts); c31.Store(tile + 3 * ts + w); }
            if (TR.Value > 4) { c40.Store(tile + 4 * ts); c41.Store(tile + 4 * ts + w); }
            if (TR.Value > 5) { c50.Store(tile + 5 * ts); c51.Store(tile + 5 * ts + w); }
            GemmTile<T>.Update(tile, ts, TR.Value, cols, c, ldc, alpha, beta);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Update(T* c, Vector256<T> x0, Vector256<T> x1, Vector256<T> va, Vector256<T> vb, int mode)
    {
        int w = Vector256<T>.Count;
        x0 *= va;
        x1 *= va;
        if (mode == 1)
        {
            x0 += Vector256.Load(c);
            x1 += Vector256.Load(c + w);
        }
        else if (mode == 2)
        {
            x0 += Vector256.Load(c) * vb;
            x1 += Vector256.Load(c + w) * vb;
        }
        x0.Store(c);
        x1.Store(c + w);
    }
}

/// <summary>6 x 8 (float) / 6 x 4 (double) micro-kernel on <see cref="Vector128{T}"/>: 12 accumulators.</summary>
internal unsafe struct Kernel128<T> : IGemmKernel<T> where T : unmanaged, INumber<T>
{
    public static int MR => 6;
    public static int NR => 2 * Vector128<T>.Count;
    public static int KC => 256 * 4 / sizeof(T);
    public static int MC => 96;
    public static int NC => 1024;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<T> Fma(Vector128<T> x, Vector128<T> y, Vector128<T> acc)
    {
        if (System.Runtime.Intrinsics.X86.Fma.IsSupported || AdvSimd.IsSupported)
        {
            if (typeof(T) == typeof(float))
                return Vector128.FusedMultiplyAdd(x.AsSingle(), y.AsSingle(), acc.AsSingle()).As<float, T>();
            if (typeof(T) == typeof(double))
                return Vector128.FusedMultiplyAdd(x.AsDouble(), y.AsDouble(), acc.AsDouble()).As<double, T>();
        }
        return x * y + acc;
    }

    public static void Run(int rows, int cols, int kc, T* a, nint rsA, nint csA, T* b, nint rsB, T* c, nint ldc,
        T alpha, T beta)
    {
        if (rsA == 1)
        {
            switch (rows)
            {
                case 6: Body<GemmR6, GemmColumnSteps>(cols, kc, a, rsA, csA, b, rsB, c, ldc, alpha, beta); break;
                case 5: Body<GemmR5, GemmColumnSteps>(cols, kc, a, rsA, csA, b, rsB, c, ldc, alpha, beta); break;
                case 4: Body<GemmR4, GemmColumnSteps>(cols, kc, a, rsA, csA, b, rsB, c, ldc, alpha, beta); break;
                case 3: Body<GemmR3, GemmColumnSteps>(cols, kc, a, rsA, csA, b, rsB, c, ldc, alpha, beta); break;
                case 2: Body<GemmR2, GemmColumnSteps>(cols, kc, a, rsA, csA, b, rsB, c, ldc, alpha, beta); break;
                default: Body<GemmR1, GemmColumnSteps>(cols, kc, a, rsA, csA, b, rsB, c, ldc, alpha, beta); break;
            }
        }
        else
        {
            switch (rows)
            {
                case 6: Body<GemmR6, GemmRowPointers>(cols, kc, a, rsA, csA, b, rsB, c, ldc, alpha, beta); break;
                case 5: Body<GemmR5, GemmRowPointers>(cols, kc, a, rsA, csA, b, rsB, c, ldc, alpha, beta); break;
                case 4: Body<GemmR4, GemmRowPointers>(cols, kc, a, rsA, csA, b, rsB, c, ldc, alpha, beta); break;
                case 3: Body<GemmR3, GemmRowPointers>(cols, kc, a, rsA, csA, b, rsB, c, ldc, alpha, beta); break;
                case 2: Body<GemmR2, GemmRowPointers>(cols, kc, a, rsA, csA, b, rsB, c, ldc, alpha, beta); break;
                default: Body<GemmR1, GemmRowPointers>(cols, kc, a, rsA, csA, b, rsB, c, ldc, alpha, beta); break;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    [SkipLocalsInit]
    private static void Body<TR, TA>(int cols, int kc, T* a, nint rsA, nint csA, T* b, nint rsB, T* c, nint ldc,
        T alpha, T beta) where TR : struct, IGemmConst where TA : struct, IGemmFlag
    {
        int w = Vector128<T>.Count;
        Vector128<T> c00 = default, c01 = default, c10 = default, c11 = default;
        Vector128<T> c20 = default, c21 = default, c30 = default, c31 = default;
        Vector128<T> c40 = default, c41 = default, c50 = default, c51 = default;
        T* a1 = a + rsA, a2 = a1 + rsA, a3 = a2 + rsA, a4 = a3 + rsA, a5 = a4 + rsA;
        for (nint p = 0; p < kc; p++)
        {
            Vector128<T> b0 = Vector128.Load(b), b1 = Vector128.Load(b + w), x;
            x = Vector128.Create(TA.Value ? a[p] : a[0]); c00 = Fma(x, b0, c00); c01 = Fma(x, b1, c01);
            if (TR.Value > 1) { x = Vector128.Create(TA.Value ? a1[p] : a[1]); c10 = Fma(x, b0, c10); c11 = Fma(x, b1, c11); }
            if (TR.Value > 2) { x = Vector128.Create(TA.Value ? a2[p] : a[2]); c20 = Fma(x, b0, c20); c21 = Fma(x, b1, c21); }
            if (TR.Value > 3) { x = Vector128.Create(TA.Value ? a3[p] : a[3]); c30 = Fma(x, b0, c30); c31 = Fma(x, b1, c31); }
            if (TR.Value > 4) { x = Vector128.Create(TA.Value ? a4[p] : a[4]); c40 = Fma(x, b0, c40); c41 = Fma(x, b1, c41); }
            if (TR.Value > 5) { x = Vector128.Create(TA.Value ? a5[p] : a[5]); c50 = Fma(x, b0, c50); c51 = Fma(x, b1, c51); }
            if (!TA.Value) a += csA;
            b += rsB;
        }

        if (cols == 2 * w)
        {
            int mode = GemmTile<T>.Mode(beta);
            Vector128<T> va = Vector128.Create(alpha), vb = Vector128.Create(beta);
            Update(c, c00, c01, va, vb, mode);
            if (TR.Value > 1) Update(c + ldc, c10, c11, va, vb, mode);
            if (TR.Value > 2) Update(c + 2 * ldc, c20, c21, va, vb, mode);
            if (TR.Value > 3) Update(c + 3 * ldc, c30, c31, va, vb, mode);
            if (TR.Value > 4) Update(c + 4 * ldc, c40, c41, va, vb, mode);
            if (TR.Value > 5) Update(c + 5 * ldc, c50, c51, va, vb, mode);
        }
        else
        {
            int ts = 2 * w;
            T* tile = stackalloc T[6 * ts];
            c00.Store(tile); c01.Store(tile + w);
            if (TR.Value > 1) { c10.Store(tile + ts); c11.Store(tile + ts + w); }
            if (TR.Value > 2) { c20.Store(tile + 2 * ts); c21.Store(tile + 2 * ts + w); }
            if (TR.Value > 3) { c30.Store(tile + 3 * ts); c31.Store(tile + 3 * ts + w); }
            if (TR.Value > 4) { c40.Store(tile + 4 * ts); c41.Store(tile + 4 * ts + w); }
            if (TR.Value > 5) { c50.Store(tile + 5 * ts); c51.Store(tile + 5 * ts + w); }
            GemmTile<T>.Update(tile, ts, TR.Value, cols, c, ldc, alpha, beta);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Update(T* c, Vector128<T> x0, Vector128<T> x1, Vector128<T> va, Vector128<T> vb, int mode)
    {
        int w = Vector128<T>.Count;
        x0 *= va;
        x1 *= va;
        if (mode == 1)
        {
            x0 += Vector128.Load(c);
            x1 += Vector128.Load(c + w);
        }
        else if (mode == 2)
        {
            x0 += Vector128.Load(c) * vb;
            x1 += Vector128.Load(c + w) * vb;
        }
        x0.Store(c);
        x1.Store(c + w);
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

    [SkipLocalsInit]
    public static void Run(int rows, int cols, int kc, T* a, nint rsA, nint csA, T* b, nint rsB, T* c, nint ldc,
        T alpha, T beta)
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
        GemmTile<T>.Update(acc, 4, rows, cols, c, ldc, alpha, beta);
    }
}
