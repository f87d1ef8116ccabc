// Over 400 lines on purpose: the matrix-vector path of GEMM (m = 1 or n = 1) in its two forms, axpy over columns and
// dot products over rows, each with its vector core, scalar tail and strided-input gather.
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace FlexNet.Kernels;

/// <summary>
/// GEMM with a single row (m = 1) or a single column (n = 1): matrix-vector products, memory bound, so no
/// packing and no register tile (a tile would be 1/MR or 1/NR full). Two forms:
/// <list type="bullet">
/// <item><description>axpy form, when the matrix runs contiguously along the output: 8 vector accumulators
/// over 8 vectors of outputs, FMA in the same k order and k blocks as the packed micro-kernels (so a single-row
/// product gives the same bits as that row inside a larger product);</description></item>
/// <item><description>dot form, when the matrix runs contiguously along k: 4 outputs at a time, 2 vector
/// accumulators each.</description></item>
/// </list>
/// </summary>
internal static unsafe partial class GemmVector<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Largest x gathered on the stack (elements); longer ones use the array pool.</summary>
    private const int StackX = 2048;

    /// <summary>
    /// <c>C = alpha * op(A) op(B) + beta * C</c> for <c>m == 1</c> or <c>n == 1</c>; <paramref name="kcStep"/> is
    /// the k block length of the packed path (for identical rounding in the axpy form).
    /// </summary>
    public static void Run(bool transA, bool transB, int m, int n, int k, T alpha, T* a, int lda, T* b, int ldb,
        T beta, T* c, int ldc, int kcStep)
    {
        if (m == 1)
        {
            // c[j] = Σ_p A(0,p) B(p,j): x = the row of A, the matrix is B seen as M(j,p) = B(p,j).
            nint incX = transA ? lda : 1;
            if (!transB) AxpySplit(n, k, alpha, b, ldb, a, incX, beta, c, 1, kcStep);
            else Dots(n, k, alpha, b, ldb, a, incX, beta, c, 1);
        }
        else
        {
            // c[i] = Σ_p A(i,p) B(p,0): x = the column of B, the matrix is A.
            nint incX = transB ? 1 : ldb;
            if (!transA) Dots(m, k, alpha, a, lda, b, incX, beta, c, ldc);
            else AxpySplit(m, k, alpha, a, lda, b, incX, beta, c, ldc, kcStep);
        }
    }

    private static void Axpy(int len, int k, T alpha, T* mat, nint ldm, T* x, nint incX, T beta, T* y, nint incY,
        int kcStep)
    {
        if (Vector512.IsHardwareAccelerated)
            AxpyCore<Vector512<T>, GemmV512<T>>(len, k, alpha, mat, ldm, x, incX, beta, y, incY, kcStep);
        else if (Vector256.IsHardwareAccelerated)
            AxpyCore<Vector256<T>, GemmV256<T>>(len, k, alpha, mat, ldm, x, incX, beta, y, incY, kcStep);
        else if (Vector128.IsHardwareAccelerated)
            AxpyCore<Vector128<T>, GemmV128<T>>(len, k, alpha, mat, ldm, x, incX, beta, y, incY, kcStep);
        else
            AxpyScalar(0, len, k, alpha, mat, ldm, x, incX, beta, y, incY, kcStep);
    }

    /// <summary>
    /// <c>y[i] = alpha Σ_p mat[p*ldm + i] x[p*incX] + beta y[i]</c> for <c>i &lt; len</c>, in k blocks of
    /// <paramref name="kcStep"/> like the micro-kernels (c = alpha*acc + beta*c after the first block,
    /// c = alpha*acc + c after the others).
    /// </summary>
    [SkipLocalsInit]
    private static void AxpyCore<TV, TO>(int len, int k, T alpha, T* mat, nint ldm, T* x, nint incX, T beta, T* y,
        nint incY, int kcStep) where TV : struct where TO : struct, IGemmVecOps<TV, T>
    {
        int w = TO.Count;
        int i = 0;
        T* tile = stackalloc T[8 * Vector512<byte>.Count]; // 8 vectors of the widest width
        for (; i + 8 * w <= len; i += 8 * w)
        {
            for (int pc = 0; pc < k; pc += kcStep)
            {
                int pe = Math.Min(k, pc + kcStep);
                TV a0 = TO.Zero, a1 = TO.Zero, a2 = TO.Zero, a3 = TO.Zero;
                TV a4 = TO.Zero, a5 = TO.Zero, a6 = TO.Zero, a7 = TO.Zero;
                T* r = mat + pc * ldm + i;
                for (int p = pc; p < pe; p++, r += ldm)
                {
                    TV xb = TO.Broadcast(x[p * incX]);
                    a0 = TO.Fma(xb, TO.Load(r), a0);
                    a1 = TO.Fma(xb, TO.Load(r + w), a1);
                    a2 = TO.Fma(xb, TO.Load(r + 2 * w), a2);
                    a3 = TO.Fma(xb, TO.Load(r + 3 * w), a3);
                    a4 = TO.Fma(xb, TO.Load(r + 4 * w), a4);
                    a5 = TO.Fma(xb, TO.Load(r + 5 * w), a5);
                    a6 = TO.Fma(xb, TO.Load(r + 6 * w), a6);
                    a7 = TO.Fma(xb, TO.Load(r + 7 * w), a7);
                }
                TO.Store(a0, tile); TO.Store(a1, tile + w); TO.Store(a2, tile + 2 * w); TO.Store(a3, tile + 3 * w);
                TO.Store(a4, tile + 4 * w); TO.Store(a5, tile + 5 * w); TO.Store(a6, tile + 6 * w);
                TO.Store(a7, tile + 7 * w);
                Update(tile, 8 * w, alpha, pc == 0 ? beta : T.One, y + i * incY, incY);
            }
        }
        for (; i + 4 * w <= len; i += 4 * w)
        {
            for (int pc = 0; pc < k; pc += kcStep)
            {
                int pe = Math.Min(k, pc + kcStep);
                TV a0 = TO.Zero, a1 = TO.Zero, a2 = TO.Zero, a3 = TO.Zero;
                T* r = mat + pc * ldm + i;
                for (int p = pc; p < pe; p++, r += ldm)
                {
                    TV xb = TO.Broadcast(x[p * incX]);
                    a0 = TO.Fma(xb, TO.Load(r), a0);
                    a1 = TO.Fma(xb, TO.Load(r + w), a1);
                    a2 = TO.Fma(xb, TO.Load(r + 2 * w), a2);
                    a3 = TO.Fma(xb, TO.Load(r + 3 * w), a3);
                }
                TO.Store(a0, tile); TO.Store(a1, tile + w); TO.Store(a2, tile + 2 * w); TO.Store(a3, tile + 3 * w);
                Update(tile, 4 * w, alpha, pc == 0 ? beta : T.One, y + i * incY, incY);
            }
        }
        int rem = len - i;
        if (rem > 0)
        {
            // Up to 4 vectors, the last one partial (masked load: no read past the row), in one pass over k.
            int q = (rem + w - 1) / w;
            int last = rem - (q - 1) * w;
            TV mask = TO.Mask(last);
            for (int pc = 0; pc < k; pc += kcStep)
            {
                int pe = Math.Min(k, pc + kcStep);
                TV a0 = TO.Zero, a1 = TO.Zero, a2 = TO.Zero, a3 = TO.Zero;
                T* r = mat + pc * ldm + i;
                for (int p = pc; p < pe; p++, r += ldm)
                {
                    TV xb = TO.Broadcast(x[p * incX]);
                    if (q == 1)
                    {
                        a0 = TO.Fma(xb, TO.LoadPartial(r, last, mask), a0);
                        continue;
                    }
                    a0 = TO.Fma(xb, TO.Load(r), a0);
                    if (q == 2)
                    {
                        a1 = TO.Fma(xb, TO.LoadPartial(r + w, last, mask), a1);
                        continue;
                    }
                    a1 = TO.Fma(xb, TO.Load(r + w), a1);
                    if (q == 3)
                    {
                        a2 = TO.Fma(xb, TO.LoadPartial(r + 2 * w, last, mask), a2);
                        continue;
                    }
                    a2 = TO.Fma(xb, TO.Load(r + 2 * w), a2);
                    a3 = TO.Fma(xb, TO.LoadPartial(r + 3 * w, last, mask), a3);
                }
                TO.Store(a0, tile); TO.Store(a1, tile + w); TO.Store(a2, tile + 2 * w); TO.Store(a3, tile + 3 * w);
                Update(tile, rem, alpha, pc == 0 ? beta : T.One, y + i * incY, incY);
            }
        }
    }

    /// <summary>Scalar axpy form for outputs <c>from..len</c> (vector tails, no SIMD).</summary>
    private static void AxpyScalar(int from, int len, int k, T alpha, T* mat, nint ldm, T* x, nint incX, T beta,
        T* y, nint incY, int kcStep)
    {
        for (int i = from; i < len; i++)
        {
            for (int pc = 0; pc < k; pc += kcStep)
            {
                int pe = Math.Min(k, pc + kcStep);
                T acc = T.Zero;
                T* r = mat + pc * ldm + i;
                for (int p = pc; p < pe; p++, r += ldm) acc = T.FusedMultiplyAdd(x[p * incX], *r, acc);
                Update(&acc, 1, alpha, pc == 0 ? beta : T.One, y + i * incY, incY);
            }
        }
    }

    /// <summary><c>y[i] = alpha · dot(mat[i*ldm .. +k], x) + beta y[i]</c> for <c>i &lt; len</c>.</summary>
    [SkipLocalsInit]
    private static void Dots(int len, int k, T alpha, T* mat, nint ldm, T* x, nint incX, T beta, T* y, nint incY)
    {
        if (incX == 1)
        {
            DotsSplit(len, k, alpha, mat, ldm, x, beta, y, incY);
            return;
        }
        // Gather the strided vector once (it is read len times).
        if (k <= StackX)
        {
            T* tmp = stackalloc T[k];
            DotsSplit(len, k, alpha, mat, ldm, Gather(x, incX, k, tmp), beta, y, incY);
            return;
        }
        T[] rented = System.Buffers.ArrayPool<T>.Shared.Rent(k);
        try
        {
            fixed (T* tmp = rented) DotsSplit(len, k, alpha, mat, ldm, Gather(x, incX, k, tmp), beta, y, incY);
        }
        finally
        {
            System.Buffers.ArrayPool<T>.Shared.Return(rented);
        }
    }

    private static T* Gather(T* x, nint incX, int k, T* dst)
    {
        for (int p = 0; p < k; p++) dst[p] = x[p * incX];
        return dst;
    }

    private static void DotsContiguous(int len, int k, T alpha, T* mat, nint ldm, T* x, T beta, T* y, nint incY)
    {
        if (Vector512.IsHardwareAccelerated)
            DotsCore<Vector512<T>, GemmV512<T>>(len, k, alpha, mat, ldm, x, beta, y, incY);
        else if (Vector256.IsHardwareAccelerated)
            DotsCore<Vector256<T>, GemmV256<T>>(len, k, alpha, mat, ldm, x, beta, y, incY);
        else if (Vector128.IsHardwareAccelerated)
            DotsCore<Vector128<T>, GemmV128<T>>(len, k, alpha, mat, ldm, x, beta, y, incY);
        else
            DotsScalar(0, len, k, alpha, mat, ldm, x, beta, y, incY);
    }

    /// <summary>Bytes of matrix from which the dots kernel reads one row at a time instead of four. Measured on Zen 5
    /// (session 18, alternated in one process): the MLP's 784-512-512-10 at batch 1 split over two cores (800 and 512 KB
    /// of rows a core) 13.2 → 12.6 µs with one row at a time, a 64 × 64 step (16 KB, in L1) 6.7 → 8.1 µs, 256 × 256 (128
    /// KB a core) the same either way.</summary>
    internal const long OneRowBytes = 256 * 1024;

    [SkipLocalsInit]
    private static void DotsCore<TV, TO>(int len, int k, T alpha, T* mat, nint ldm, T* x, T beta, T* y, nint incY)
        where TV : struct where TO : struct, IGemmVecOps<TV, T>
    {
        int w = TO.Count;
        T* sums = stackalloc T[4];
        int i = 0;
        // Four rows at a time share the loads of x; from OneRowBytes on, one row at a time (the loop below, the same
        // arithmetic per row, so the same bits) streams better: one sequential read instead of four.
        bool grouped = (long)len * k * sizeof(T) < OneRowBytes;
        for (; grouped && i + 4 <= len; i += 4)
        {
            T* r0 = mat + i * ldm, r1 = r0 + ldm, r2 = r1 + ldm, r3 = r2 + ldm;
            TV s00 = TO.Zero, s01 = TO.Zero, s10 = TO.Zero, s11 = TO.Zero;
            TV s20 = TO.Zero, s21 = TO.Zero, s30 = TO.Zero, s31 = TO.Zero;
            int p = 0;
            for (; p + 2 * w <= k; p += 2 * w)
            {
                TV x0 = TO.Load(x + p), x1 = TO.Load(x + p + w);
                s00 = TO.Fma(TO.Load(r0 + p), x0, s00); s01 = TO.Fma(TO.Load(r0 + p + w), x1, s01);
                s10 = TO.Fma(TO.Load(r1 + p), x0, s10); s11 = TO.Fma(TO.Load(r1 + p + w), x1, s11);
                s20 = TO.Fma(TO.Load(r2 + p), x0, s20); s21 = TO.Fma(TO.Load(r2 + p + w), x1, s21);
                s30 = TO.Fma(TO.Load(r3 + p), x0, s30); s31 = TO.Fma(TO.Load(r3 + p + w), x1, s31);
            }
            if (p + w <= k)
            {
                TV x0 = TO.Load(x + p);
                s00 = TO.Fma(TO.Load(r0 + p), x0, s00);
                s10 = TO.Fma(TO.Load(r1 + p), x0, s10);
                s20 = TO.Fma(TO.Load(r2 + p), x0, s20);
                s30 = TO.Fma(TO.Load(r3 + p), x0, s30);
                p += w;
            }
            T t0 = TO.Sum(TO.Add(s00, s01)), t1 = TO.Sum(TO.Add(s10, s11));
            T t2 = TO.Sum(TO.Add(s20, s21)), t3 = TO.Sum(TO.Add(s30, s31));
            for (; p < k; p++)
            {
                T xp = x[p];
                t0 = T.FusedMultiplyAdd(r0[p], xp, t0);
                t1 = T.FusedMultiplyAdd(r1[p], xp, t1);
                t2 = T.FusedMultiplyAdd(r2[p], xp, t2);
                t3 = T.FusedMultiplyAdd(r3[p], xp, t3);
            }
            sums[0] = t0; sums[1] = t1; sums[2] = t2; sums[3] = t3;
            Update(sums, 4, alpha, beta, y + i * incY, incY);
        }
        for (; i < len; i++)
        {
            T* r0 = mat + i * ldm;
            TV s00 = TO.Zero, s01 = TO.Zero;
            int p = 0;
            for (; p + 2 * w <= k; p += 2 * w)
            {
                s00 = TO.Fma(TO.Load(r0 + p), TO.Load(x + p), s00);
                s01 = TO.Fma(TO.Load(r0 + p + w), TO.Load(x + p + w), s01);
            }
            if (p + w <= k)
            {
                s00 = TO.Fma(TO.Load(r0 + p), TO.Load(x + p), s00);
                p += w;
            }
            T t0 = TO.Sum(TO.Add(s00, s01));
            for (; p < k; p++) t0 = T.FusedMultiplyAdd(r0[p], x[p], t0);
            Update(&t0, 1, alpha, beta, y + i * incY, incY);
        }
    }

    private static void DotsScalar(int from, int len, int k, T alpha, T* mat, nint ldm, T* x, T beta, T* y,
        nint incY)
    {
        for (int i = from; i < len; i++)
        {
            T* r = mat + i * ldm;
            T t = T.Zero;
            for (int p = 0; p < k; p++) t = T.FusedMultiplyAdd(r[p], x[p], t);
            Update(&t, 1, alpha, beta, y + i * incY, incY);
        }
    }

    /// <summary>The micro-kernels' C update, <c>y = alpha*acc (+ beta*y)</c>, for a strided y.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Update(T* acc, int count, T alpha, T beta, T* y, nint incY)
    {
        int mode = GemmTile<T>.Mode(beta);
        for (int i = 0; i < count; i++)
        {
            T v = acc[i] * alpha;
            T* yi = y + i * incY;
            if (mode == 1) v += *yi;
            else if (mode == 2) v += *yi * beta;
            *yi = v;
        }
    }
}

/// <summary>Vector operations the matrix-vector kernels are written against (one struct per width).</summary>
internal unsafe interface IGemmVecOps<TV, T> where TV : struct where T : unmanaged
{
    /// <summary>Lanes per vector.</summary>
    static abstract int Count { get; }

    /// <summary>All lanes zero.</summary>
    static abstract TV Zero { get; }

    /// <summary>Unaligned load.</summary>
    static abstract TV Load(T* p);

    /// <summary>Unaligned store.</summary>
    static abstract void Store(TV v, T* p);

    /// <summary>Lane mask with the first <paramref name="count"/> lanes set.</summary>
    static abstract TV Mask(int count);

    /// <summary>Loads the first <paramref name="count"/> lanes (others zero) without touching memory past them.</summary>
    static abstract TV LoadPartial(T* p, int count, TV mask);

    /// <summary>All lanes = x.</summary>
    static abstract TV Broadcast(T x);

    /// <summary><c>x*y + acc</c> (fused where the hardware has FMA).</summary>
    static abstract TV Fma(TV x, TV y, TV acc);

    /// <summary>Lane-wise sum.</summary>
    static abstract TV Add(TV x, TV y);

    /// <summary>Lane-wise product.</summary>
    static abstract TV Mul(TV x, TV y);

    /// <summary>Sum of the lanes.</summary>
    static abstract T Sum(TV v);

    /// <summary>Lane-wise maximum (the vector <c>Max</c> of <see cref="AddReluOp{T}"/>, for the GEMM epilogue).</summary>
    static abstract TV Max(TV x, TV y);
}

internal unsafe struct GemmV512<T> : IGemmVecOps<Vector512<T>, T> where T : unmanaged, INumber<T>
{
    public static int Count => Vector512<T>.Count;
    public static Vector512<T> Zero => Vector512<T>.Zero;
    public static Vector512<T> Load(T* p) => Vector512.Load(p);
    public static void Store(Vector512<T> v, T* p) => v.Store(p);
    public static Vector512<T> Broadcast(T x) => Vector512.Create(x);
    public static Vector512<T> Add(Vector512<T> x, Vector512<T> y) => x + y;
    public static Vector512<T> Mul(Vector512<T> x, Vector512<T> y) => x * y;
    public static T Sum(Vector512<T> v) => Vector512.Sum(v);
    public static Vector512<T> Max(Vector512<T> x, Vector512<T> y) => Vector512.Max(x, y);

    public static Vector512<T> Mask(int count)
        => Vector512.LessThan(Vector512<T>.Indices, Vector512.Create(T.CreateTruncating(count)));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> LoadPartial(T* p, int count, Vector512<T> mask)
    {
        if (Avx512F.IsSupported)
        {
            if (typeof(T) == typeof(float))
                return Avx512F.MaskLoad((float*)p, mask.AsSingle(), Vector512<float>.Zero).As<float, T>();
            if (typeof(T) == typeof(double))
                return Avx512F.MaskLoad((double*)p, mask.AsDouble(), Vector512<double>.Zero).As<double, T>();
        }
        return GemmVecPartial<T>.Load512(p, count);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Fma(Vector512<T> x, Vector512<T> y, Vector512<T> acc)
    {
        if (typeof(T) == typeof(float))
            return Vector512.FusedMultiplyAdd(x.AsSingle(), y.AsSingle(), acc.AsSingle()).As<float, T>();
        if (typeof(T) == typeof(double))
            return Vector512.FusedMultiplyAdd(x.AsDouble(), y.AsDouble(), acc.AsDouble()).As<double, T>();
        return x * y + acc;
    }
}

internal unsafe struct GemmV256<T> : IGemmVecOps<Vector256<T>, T> where T : unmanaged, INumber<T>
{
    public static int Count => Vector256<T>.Count;
    public static Vector256<T> Zero => Vector256<T>.Zero;
    public static Vector256<T> Load(T* p) => Vector256.Load(p);
    public static void Store(Vector256<T> v, T* p) => v.Store(p);
    public static Vector256<T> Broadcast(T x) => Vector256.Create(x);
    public static Vector256<T> Add(Vector256<T> x, Vector256<T> y) => x + y;
    public static Vector256<T> Mul(Vector256<T> x, Vector256<T> y) => x * y;
    public static T Sum(Vector256<T> v) => Vector256.Sum(v);
    public static Vector256<T> Max(Vector256<T> x, Vector256<T> y) => Vector256.Max(x, y);

    public static Vector256<T> Mask(int count)
        => Vector256.LessThan(Vector256<T>.Indices, Vector256.Create(T.CreateTruncating(count)));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> LoadPartial(T* p, int count, Vector256<T> mask)
    {
        if (Avx.IsSupported)
        {
            if (typeof(T) == typeof(float)) return Avx.MaskLoad((float*)p, mask.AsSingle()).As<float, T>();
            if (typeof(T) == typeof(double)) return Avx.MaskLoad((double*)p, mask.AsDouble()).As<double, T>();
        }
        return GemmVecPartial<T>.Load256(p, count);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Fma(Vector256<T> x, Vector256<T> y, Vector256<T> acc)
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
}

internal unsafe struct GemmV128<T> : IGemmVecOps<Vector128<T>, T> where T : unmanaged, INumber<T>
{
    public static int Count => Vector128<T>.Count;
    public static Vector128<T> Zero => Vector128<T>.Zero;
    public static Vector128<T> Load(T* p) => Vector128.Load(p);
    public static void Store(Vector128<T> v, T* p) => v.Store(p);
    public static Vector128<T> Broadcast(T x) => Vector128.Create(x);
    public static Vector128<T> Add(Vector128<T> x, Vector128<T> y) => x + y;
    public static Vector128<T> Mul(Vector128<T> x, Vector128<T> y) => x * y;
    public static T Sum(Vector128<T> v) => Vector128.Sum(v);
    public static Vector128<T> Max(Vector128<T> x, Vector128<T> y) => Vector128.Max(x, y);

    public static Vector128<T> Mask(int count)
        => Vector128.LessThan(Vector128<T>.Indices, Vector128.Create(T.CreateTruncating(count)));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> LoadPartial(T* p, int count, Vector128<T> mask)
    {
        if (Avx.IsSupported)
        {
            if (typeof(T) == typeof(float)) return Avx.MaskLoad((float*)p, mask.AsSingle()).As<float, T>();
            if (typeof(T) == typeof(double)) return Avx.MaskLoad((double*)p, mask.AsDouble()).As<double, T>();
        }
        return GemmVecPartial<T>.Load128(p, count);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Fma(Vector128<T> x, Vector128<T> y, Vector128<T> acc)
    {
        if (System.Runtime.Intrinsics.X86.Fma.IsSupported || System.Runtime.Intrinsics.Arm.AdvSimd.IsSupported)
        {
            if (typeof(T) == typeof(float))
                return Vector128.FusedMultiplyAdd(x.AsSingle(), y.AsSingle(), acc.AsSingle()).As<float, T>();
            if (typeof(T) == typeof(double))
                return Vector128.FusedMultiplyAdd(x.AsDouble(), y.AsDouble(), acc.AsDouble()).As<double, T>();
        }
        return x * y + acc;
    }
}

/// <summary>Partial loads through a zeroed stack copy (hardware without masked loads).</summary>
internal static unsafe class GemmVecPartial<T> where T : unmanaged, INumber<T>
{
    [SkipLocalsInit]
    public static Vector512<T> Load512(T* p, int count)
    {
        T* t = stackalloc T[Vector512<T>.Count];
        for (int i = 0; i < Vector512<T>.Count; i++) t[i] = i < count ? p[i] : T.Zero;
        return Vector512.Load(t);
    }

    [SkipLocalsInit]
    public static Vector256<T> Load256(T* p, int count)
    {
        T* t = stackalloc T[Vector256<T>.Count];
        for (int i = 0; i < Vector256<T>.Count; i++) t[i] = i < count ? p[i] : T.Zero;
        return Vector256.Load(t);
    }

    [SkipLocalsInit]
    public static Vector128<T> Load128(T* p, int count)
    {
        T* t = stackalloc T[Vector128<T>.Count];
        for (int i = 0; i < Vector128<T>.Count; i++) t[i] = i < count ? p[i] : T.Zero;
        return Vector128.Load(t);
    }
}
