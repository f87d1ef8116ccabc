// Over 400 lines on purpose: the operator interfaces (one Invoke per scalar, Vector128, Vector256 and Vector512) and
// the loops that apply them at the width the CPU has, with scalar tails; every elementwise kernel builds on them.
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace FlexNet.Kernels;

// ---------------------------------------------------------------------------------------------------------------
// Operator interfaces. An operator is a stateless struct whose static members compute ONE lane-wise function at
// every width the driver may pick. All four members must compute the same mathematical function; lane k of the
// result may depend only on lane k of the arguments (the tail handling below relies on that). Scalar parameters
// (slope, alpha, clip bounds, ...) are passed as broadcast operands by the `Map(..., T scalar, ...)` forms.
// ---------------------------------------------------------------------------------------------------------------

/// <summary>Lane-wise function of one operand: <c>r = f(x)</c>.</summary>
internal interface IUnaryOp<T> where T : unmanaged
{
    static abstract T Invoke(T x);
    static abstract Vector128<T> Invoke(Vector128<T> x);
    static abstract Vector256<T> Invoke(Vector256<T> x);
    static abstract Vector512<T> Invoke(Vector512<T> x);
}

/// <summary>Lane-wise function of two operands: <c>r = f(x, y)</c>.</summary>
internal interface IBinaryOp<T> where T : unmanaged
{
    static abstract T Invoke(T x, T y);
    static abstract Vector128<T> Invoke(Vector128<T> x, Vector128<T> y);
    static abstract Vector256<T> Invoke(Vector256<T> x, Vector256<T> y);
    static abstract Vector512<T> Invoke(Vector512<T> x, Vector512<T> y);
}

/// <summary>Lane-wise function of three operands: <c>r = f(x, y, z)</c>.</summary>
internal interface ITernaryOp<T> where T : unmanaged
{
    static abstract T Invoke(T x, T y, T z);
    static abstract Vector128<T> Invoke(Vector128<T> x, Vector128<T> y, Vector128<T> z);
    static abstract Vector256<T> Invoke(Vector256<T> x, Vector256<T> y, Vector256<T> z);
    static abstract Vector512<T> Invoke(Vector512<T> x, Vector512<T> y, Vector512<T> z);
}

/// <summary>Lane-wise function of four operands: <c>r = f(x, y, z, w)</c> (used with z, w broadcast scalars).</summary>
internal interface IQuaternaryOp<T> where T : unmanaged
{
    static abstract T Invoke(T x, T y, T z, T w);
    static abstract Vector128<T> Invoke(Vector128<T> x, Vector128<T> y, Vector128<T> z, Vector128<T> w);
    static abstract Vector256<T> Invoke(Vector256<T> x, Vector256<T> y, Vector256<T> z, Vector256<T> w);
    static abstract Vector512<T> Invoke(Vector512<T> x, Vector512<T> y, Vector512<T> z, Vector512<T> w);
}

/// <summary>
/// The shared elementwise SIMD driver. <c>Map</c> writes <c>dst[i] = op(...)</c>, <c>MapAdd</c> accumulates
/// <c>dst[i] += op(...)</c> (backward kernels). Every span operand must have exactly <c>dst.Length</c> elements;
/// <c>dst</c> may be the very same memory as any input (in place) but must not partially overlap one.
/// </summary>
/// <remarks>
/// <para>Width choice, made per call: Vector512 if <see cref="MaxVectorBits"/> &gt;= 512, else Vector256 if
/// &gt;= 256, else Vector128 if &gt;= 128, else scalar; a width is used only when the length is at least one
/// vector, otherwise the next narrower width is tried (so short spans still vectorise at 128 bits).
/// <see cref="MaxVectorBits"/> defaults to <see cref="DefaultVectorBits"/> (the hardware width unless the
/// environment says otherwise).</para>
/// <para>Lane layout: element <c>i</c> of every operand goes to the same lane of the same vector (plain
/// contiguous loads at offset i); scalars are broadcast to all lanes. No shuffles, so the op sees matching
/// elements in matching lanes.</para>
/// <para>Tail: for length n &gt;= w (w = lanes) the LAST full vector, at offset n - w, is loaded and computed
/// BEFORE the main loop stores anything, and stored after it. It overlaps up to w - 1 elements the main loop
/// already wrote. Those elements get the same value twice because (a) both computations read the ORIGINAL inputs
/// (the tail was read before any store, which is what makes x == dst and accumulate-into-dst correct) and
/// (b) the op is lane-wise and deterministic, so the same inputs in a lane give bit-identical results regardless
/// of which vector or lane position they are in. Hence no scalar tail loop and no masking.</para>
/// </remarks>
internal static class Simd
{
    // Declared before s_maxVectorBits: static initializers run in textual order.
    private static readonly int s_defaultVectorBits = ComputeDefaultVectorBits();
    private static int s_maxVectorBits = s_defaultVectorBits;

    /// <summary>Widest hardware-accelerated vector width in bits (512, 256, 128) or 0 if none.</summary>
    internal static int HardwareVectorBits =>
        Vector512.IsHardwareAccelerated ? 512 :
        Vector256.IsHardwareAccelerated ? 256 :
        Vector128.IsHardwareAccelerated ? 128 : 0;

    /// <summary>
    /// Width used unless changed: the environment variable <c>FLEXNET_MAX_VECTOR_BITS</c> (0, 128, 256 or 512)
    /// if set, else <see cref="HardwareVectorBits"/> (Vector512 when it is hardware-accelerated).
    /// </summary>
    internal static int DefaultVectorBits => s_defaultVectorBits;

    private static int ComputeDefaultVectorBits()
    {
        if (int.TryParse(Environment.GetEnvironmentVariable("FLEXNET_MAX_VECTOR_BITS"), out int bits) && bits is 0 or 128 or 256 or 512)
            return bits;
        return HardwareVectorBits;
    }

    /// <summary>
    /// Widest vector width the kernels may use: 512, 256, 128 or 0 (scalar only). Defaults to
    /// <see cref="DefaultVectorBits"/>. TEST KNOB: setting a width above the hardware's runs that width in the
    /// runtime's software fallback (correct, slow), so every code path can be tested on any CPU. It is a process
    /// global; tests that change it must run in the non-parallel xunit collection "SimdPaths" and restore it.
    /// </summary>
    internal static int MaxVectorBits
    {
        get => s_maxVectorBits;
        set
        {
            if (value is not (0 or 128 or 256 or 512))
                throw new ArgumentOutOfRangeException(nameof(value), value, "Simd.MaxVectorBits must be 0, 128, 256 or 512.");
            s_maxVectorBits = value;
        }
    }

    // ---------------------------------------------------------------- public forms (Map: dst = op)

    /// <summary><c>dst[i] = TOp(x[i])</c>.</summary>
    public static void Map<TOp, T>(ReadOnlySpan<T> x, Span<T> dst)
        where TOp : IUnaryOp<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check<TOp, T>(dst, x);
        if (dst.IsEmpty) return;
        Run<K1<TOp, T, Overwrite>, T>(default, ref R(x), ref Nil<T>(), ref Nil<T>(), ref R(dst), (nuint)dst.Length);
    }

    /// <summary><c>dst[i] = TOp(x[i], y[i])</c>.</summary>
    public static void Map<TOp, T>(ReadOnlySpan<T> x, ReadOnlySpan<T> y, Span<T> dst)
        where TOp : IBinaryOp<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check<TOp, T>(dst, x, y);
        if (dst.IsEmpty) return;
        Run<K2<TOp, T, Overwrite>, T>(default, ref R(x), ref R(y), ref Nil<T>(), ref R(dst), (nuint)dst.Length);
    }

    /// <summary><c>dst[i] = TOp(x[i], y)</c> with scalar <paramref name="y"/>.</summary>
    public static void Map<TOp, T>(ReadOnlySpan<T> x, T y, Span<T> dst)
        where TOp : IBinaryOp<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check<TOp, T>(dst, x);
        if (dst.IsEmpty) return;
        Run<K2S<TOp, T, Overwrite>, T>(new(y), ref R(x), ref Nil<T>(), ref Nil<T>(), ref R(dst), (nuint)dst.Length);
    }

    /// <summary><c>dst[i] = TOp(x[i], y[i], z[i])</c>.</summary>
    public static void Map<TOp, T>(ReadOnlySpan<T> x, ReadOnlySpan<T> y, ReadOnlySpan<T> z, Span<T> dst)
        where TOp : ITernaryOp<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check<TOp, T>(dst, x, y, z);
        if (dst.IsEmpty) return;
        Run<K3<TOp, T, Overwrite>, T>(default, ref R(x), ref R(y), ref R(z), ref R(dst), (nuint)dst.Length);
    }

    /// <summary><c>dst[i] = TOp(x[i], y[i], z)</c> with scalar <paramref name="z"/>.</summary>
    public static void Map<TOp, T>(ReadOnlySpan<T> x, ReadOnlySpan<T> y, T z, Span<T> dst)
        where TOp : ITernaryOp<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check<TOp, T>(dst, x, y);
        if (dst.IsEmpty) return;
        Run<K3S<TOp, T, Overwrite>, T>(new(z), ref R(x), ref R(y), ref Nil<T>(), ref R(dst), (nuint)dst.Length);
    }

    /// <summary><c>dst[i] = TOp(x[i], y, z)</c> with scalars <paramref name="y"/>, <paramref name="z"/>.</summary>
    public static void Map<TOp, T>(ReadOnlySpan<T> x, T y, T z, Span<T> dst)
        where TOp : ITernaryOp<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check<TOp, T>(dst, x);
        if (dst.IsEmpty) return;
        Run<K3SS<TOp, T, Overwrite>, T>(new(y, z), ref R(x), ref Nil<T>(), ref Nil<T>(), ref R(dst), (nuint)dst.Length);
    }

    /// <summary><c>dst[i] = TOp(x[i], y[i], z, w)</c> with scalars <paramref name="z"/>, <paramref name="w"/>.</summary>
    public static void Map<TOp, T>(ReadOnlySpan<T> x, ReadOnlySpan<T> y, T z, T w, Span<T> dst)
        where TOp : IQuaternaryOp<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check<TOp, T>(dst, x, y);
        if (dst.IsEmpty) return;
        Run<K4SS<TOp, T, Overwrite>, T>(new(z, w), ref R(x), ref R(y), ref Nil<T>(), ref R(dst), (nuint)dst.Length);
    }

    // ---------------------------------------------------------------- accumulate forms (MapAdd: dst += op)

    /// <summary><c>dst[i] += TOp(x[i])</c>.</summary>
    public static void MapAdd<TOp, T>(ReadOnlySpan<T> x, Span<T> dst)
        where TOp : IUnaryOp<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check<TOp, T>(dst, x);
        if (dst.IsEmpty) return;
        Run<K1<TOp, T, Accumulate>, T>(default, ref R(x), ref Nil<T>(), ref Nil<T>(), ref R(dst), (nuint)dst.Length);
    }

    /// <summary><c>dst[i] += TOp(x[i], y[i])</c>.</summary>
    public static void MapAdd<TOp, T>(ReadOnlySpan<T> x, ReadOnlySpan<T> y, Span<T> dst)
        where TOp : IBinaryOp<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check<TOp, T>(dst, x, y);
        if (dst.IsEmpty) return;
        Run<K2<TOp, T, Accumulate>, T>(default, ref R(x), ref R(y), ref Nil<T>(), ref R(dst), (nuint)dst.Length);
    }

    /// <summary><c>dst[i] += TOp(x[i], y)</c> with scalar <paramref name="y"/>.</summary>
    public static void MapAdd<TOp, T>(ReadOnlySpan<T> x, T y, Span<T> dst)
        where TOp : IBinaryOp<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check<TOp, T>(dst, x);
        if (dst.IsEmpty) return;
        Run<K2S<TOp, T, Accumulate>, T>(new(y), ref R(x), ref Nil<T>(), ref Nil<T>(), ref R(dst), (nuint)dst.Length);
    }

    /// <summary><c>dst[i] += TOp(x[i], y[i], z[i])</c>.</summary>
    public static void MapAdd<TOp, T>(ReadOnlySpan<T> x, ReadOnlySpan<T> y, ReadOnlySpan<T> z, Span<T> dst)
        where TOp : ITernaryOp<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check<TOp, T>(dst, x, y, z);
        if (dst.IsEmpty) return;
        Run<K3<TOp, T, Accumulate>, T>(default, ref R(x), ref R(y), ref R(z), ref R(dst), (nuint)dst.Length);
    }

    /// <summary><c>dst[i] += TOp(x[i], y[i], z)</c> with scalar <paramref name="z"/>.</summary>
    public static void MapAdd<TOp, T>(ReadOnlySpan<T> x, ReadOnlySpan<T> y, T z, Span<T> dst)
        where TOp : ITernaryOp<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check<TOp, T>(dst, x, y);
        if (dst.IsEmpty) return;
        Run<K3S<TOp, T, Accumulate>, T>(new(z), ref R(x), ref R(y), ref Nil<T>(), ref R(dst), (nuint)dst.Length);
    }

    /// <summary><c>dst[i] += TOp(x[i], y, z)</c> with scalars <paramref name="y"/>, <paramref name="z"/>.</summary>
    public static void MapAdd<TOp, T>(ReadOnlySpan<T> x, T y, T z, Span<T> dst)
        where TOp : ITernaryOp<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check<TOp, T>(dst, x);
        if (dst.IsEmpty) return;
        Run<K3SS<TOp, T, Accumulate>, T>(new(y, z), ref R(x), ref Nil<T>(), ref Nil<T>(), ref R(dst), (nuint)dst.Length);
    }

    /// <summary><c>dst[i] += TOp(x[i], y[i], z, w)</c> with scalars <paramref name="z"/>, <paramref name="w"/>.</summary>
    public static void MapAdd<TOp, T>(ReadOnlySpan<T> x, ReadOnlySpan<T> y, T z, T w, Span<T> dst)
        where TOp : IQuaternaryOp<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check<TOp, T>(dst, x, y);
        if (dst.IsEmpty) return;
        Run<K4SS<TOp, T, Accumulate>, T>(new(z, w), ref R(x), ref R(y), ref Nil<T>(), ref R(dst), (nuint)dst.Length);
    }

    // ---------------------------------------------------------------- reduction

    /// <summary>
    /// Returns <c>sum_i TOp(x[i], y)</c> (scalar <paramref name="y"/>); 0 for an empty span. Vector partial sums
    /// per lane, then a horizontal sum. The tail is the last full vector with the lanes the main loop already
    /// counted masked to zero (a sum, unlike a map, must not count an element twice). The result depends on the
    /// vector width (summation order), not on anything else.
    /// </summary>
    public static T Sum<TOp, T>(ReadOnlySpan<T> x, T y)
        where TOp : IBinaryOp<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        nuint n = (nuint)x.Length;
        ref T px = ref R(x);
        int bits = s_maxVectorBits;
        if (bits >= 512 && n >= (nuint)Vector512<T>.Count) return Sum512<TOp, T>(ref px, n, y);
        if (bits >= 256 && n >= (nuint)Vector256<T>.Count) return Sum256<TOp, T>(ref px, n, y);
        if (bits >= 128 && n >= (nuint)Vector128<T>.Count) return Sum128<TOp, T>(ref px, n, y);
        T s = T.Zero;
        for (nuint i = 0; i < n; i++) s += TOp.Invoke(Unsafe.Add(ref px, i), y);
        return s;
    }

    private static T Sum512<TOp, T>(ref T px, nuint n, T y)
        where TOp : IBinaryOp<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        nuint w = (nuint)Vector512<T>.Count, last = n - w;
        Vector512<T> ys = Vector512.Create(y), acc = Vector512<T>.Zero;
        nuint i = 0;
        while (true)
        {
            // One call site of the op (inlining budget, see Run); past the last full block, read the last full
            // vector instead and zero its lanes k < w - (n - i), which the loop already counted.
            Vector512<T> v = TOp.Invoke(Vector512.LoadUnsafe(ref px, i <= last ? i : last), ys);
            if (i > last)
            {
                Vector512<T> fresh = Vector512.GreaterThanOrEqual(Vector512<T>.Indices, Vector512.Create(T.CreateTruncating(w - (n - i))));
                acc += Vector512.ConditionalSelect(fresh, v, Vector512<T>.Zero);
                break;
            }
            acc += v;
            i += w;
            if (i == n) break;
        }
        return Vector512.Sum(acc);
    }

    private static T Sum256<TOp, T>(ref T px, nuint n, T y)
        where TOp : IBinaryOp<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        nuint w = (nuint)Vector256<T>.Count, last = n - w;
        Vector256<T> ys = Vector256.Create(y), acc = Vector256<T>.Zero;
        nuint i = 0;
        while (true)
        {
            // One call site of the op (inlining budget, see Run); past the last full block, read the last full
            // vector instead and zero its lanes k < w - (n - i), which the loop already counted.
            Vector256<T> v = TOp.Invoke(Vector256.LoadUnsafe(ref px, i <= last ? i : last), ys);
            if (i > last)
            {
                Vector256<T> fresh = Vector256.GreaterThanOrEqual(Vector256<T>.Indices, Vector256.Create(T.CreateTruncating(w - (n - i))));
                acc += Vector256.ConditionalSelect(fresh, v, Vector256<T>.Zero);
                break;
            }
            acc += v;
            i += w;
            if (i == n) break;
        }
        return Vector256.Sum(acc);
    }

    private static T Sum128<TOp, T>(ref T px, nuint n, T y)
        where TOp : IBinaryOp<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        nuint w = (nuint)Vector128<T>.Count, last = n - w;
        Vector128<T> ys = Vector128.Create(y), acc = Vector128<T>.Zero;
        nuint i = 0;
        while (true)
        {
            // One call site of the op (inlining budget, see Run); past the last full block, read the last full
            // vector instead and zero its lanes k < w - (n - i), which the loop already counted.
            Vector128<T> v = TOp.Invoke(Vector128.LoadUnsafe(ref px, i <= last ? i : last), ys);
            if (i > last)
            {
                Vector128<T> fresh = Vector128.GreaterThanOrEqual(Vector128<T>.Indices, Vector128.Create(T.CreateTruncating(w - (n - i))));
                acc += Vector128.ConditionalSelect(fresh, v, Vector128<T>.Zero);
                break;
            }
            acc += v;
            i += w;
            if (i == n) break;
        }
        return Vector128.Sum(acc);
    }

    // ---------------------------------------------------------------- core

    /// <summary>
    /// The one loop shared by every Map/MapAdd form. <paramref name="k"/> knows which of x, y, z it reads (unused
    /// refs are null and never touched), which scalars it broadcasts and whether it adds the old dst value.
    /// </summary>
    private static void Run<TK, T>(TK k, ref T x, ref T y, ref T z, ref T d, nuint n)
        where TK : struct, IKernel<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        // One method per width, each with exactly ONE inlined copy of the op (the tail is computed by the first
        // trip of the same loop) and no manual unrolling: exp/log-based ops are large after inlining, and several
        // copies per method exceed the JIT's inlining budget, leaving calls to non-inlined runtime helpers in the
        // loop (seen in the JIT's Tier1 disassembly for sigmoid/tanh/softplus at 512 and 256 bits).
        // The three loops are AggressiveOptimization, like the GEMM micro-kernel: under tiered compilation each new
        // op's loop first ran as unoptimized code for up to a second or more (a relu-add row at 0.75 ns per element
        // instead of 0.06, tanh 1.3 instead of 0.55), i.e. through the warm-up and first timed steps of a benchmark.
        int bits = s_maxVectorBits;
        if (bits >= 512 && n >= (nuint)Vector512<T>.Count) Run512(k, ref x, ref y, ref z, ref d, n);
        else if (bits >= 256 && n >= (nuint)Vector256<T>.Count) Run256(k, ref x, ref y, ref z, ref d, n);
        else if (bits >= 128 && n >= (nuint)Vector128<T>.Count) Run128(k, ref x, ref y, ref z, ref d, n);
        else
        {
            // Scalar: element i is read and then written, in order, so in place is trivially correct.
            for (nuint i = 0; i < n; i++) Unsafe.Add(ref d, i) = k.Scalar(ref x, ref y, ref z, ref d, i);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // compiled optimized at once (see Run)
    private static void Run512<TK, T>(TK k, ref T x, ref T y, ref T z, ref T d, nuint n)
        where TK : struct, IKernel<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        nuint w = (nuint)Vector512<T>.Count;
        nuint last = n - w;
        // First pass computes the tail block (offset last) before any store; then blocks 0, w, ... < last are
        // computed and stored; the tail is stored at the end. One call site of the op (see Run).
        Vector512<T> tail = default;
        bool pending = true;
        nuint i = last;
        while (true)
        {
            Vector512<T> v = k.V512(ref x, ref y, ref z, ref d, i);
            if (pending)
            {
                tail = v;
                pending = false;
                i = 0;
            }
            else
            {
                v.StoreUnsafe(ref d, i);
                i += w;
            }
            if (i >= last) break;
        }
        tail.StoreUnsafe(ref d, last);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // compiled optimized at once (see Run)
    private static void Run256<TK, T>(TK k, ref T x, ref T y, ref T z, ref T d, nuint n)
        where TK : struct, IKernel<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        nuint w = (nuint)Vector256<T>.Count;
        nuint last = n - w;
        // First pass computes the tail block (offset last) before any store; then blocks 0, w, ... < last are
        // computed and stored; the tail is stored at the end. One call site of the op (see Run).
        Vector256<T> tail = default;
        bool pending = true;
        nuint i = last;
        while (true)
        {
            Vector256<T> v = k.V256(ref x, ref y, ref z, ref d, i);
            if (pending)
            {
                tail = v;
                pending = false;
                i = 0;
            }
            else
            {
                v.StoreUnsafe(ref d, i);
                i += w;
            }
            if (i >= last) break;
        }
        tail.StoreUnsafe(ref d, last);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // compiled optimized at once (see Run)
    private static void Run128<TK, T>(TK k, ref T x, ref T y, ref T z, ref T d, nuint n)
        where TK : struct, IKernel<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        nuint w = (nuint)Vector128<T>.Count;
        nuint last = n - w;
        // First pass computes the tail block (offset last) before any store; then blocks 0, w, ... < last are
        // computed and stored; the tail is stored at the end. One call site of the op (see Run).
        Vector128<T> tail = default;
        bool pending = true;
        nuint i = last;
        while (true)
        {
            Vector128<T> v = k.V128(ref x, ref y, ref z, ref d, i);
            if (pending)
            {
                tail = v;
                pending = false;
                i = 0;
            }
            else
            {
                v.StoreUnsafe(ref d, i);
                i += w;
            }
            if (i >= last) break;
        }
        tail.StoreUnsafe(ref d, last);
    }

    // ---------------------------------------------------------------- validation

    private static void Check<TOp, T>(Span<T> dst, ReadOnlySpan<T> x)
    {
        if (x.Length != dst.Length) ThrowLength<TOp>(dst.Length, x.Length, -1, -1);
        CheckAlias<TOp, T>(x, dst, "x");
    }

    private static void Check<TOp, T>(Span<T> dst, ReadOnlySpan<T> x, ReadOnlySpan<T> y)
    {
        if (x.Length != dst.Length || y.Length != dst.Length) ThrowLength<TOp>(dst.Length, x.Length, y.Length, -1);
        CheckAlias<TOp, T>(x, dst, "x");
        CheckAlias<TOp, T>(y, dst, "y");
    }

    private static void Check<TOp, T>(Span<T> dst, ReadOnlySpan<T> x, ReadOnlySpan<T> y, ReadOnlySpan<T> z)
    {
        if (x.Length != dst.Length || y.Length != dst.Length || z.Length != dst.Length)
            ThrowLength<TOp>(dst.Length, x.Length, y.Length, z.Length);
        CheckAlias<TOp, T>(x, dst, "x");
        CheckAlias<TOp, T>(y, dst, "y");
        CheckAlias<TOp, T>(z, dst, "z");
    }

    private static void CheckAlias<TOp, T>(ReadOnlySpan<T> input, Span<T> dst, string name)
    {
        if (input.Overlaps(dst, out int offset) && offset != 0)
            throw new ArgumentException(
                $"Simd.Map<{OpName<TOp>()}>: operand {name} partially overlaps the destination (offset {offset} elements); " +
                "an input must be either the destination itself or disjoint from it.");
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ThrowLength<TOp>(int dst, int x, int y, int z)
    {
        string lens = $"x={x}" + (y >= 0 ? $", y={y}" : "") + (z >= 0 ? $", z={z}" : "");
        throw new ShapeMismatchException($"Simd.Map<{OpName<TOp>()}>: operand lengths ({lens}) differ from destination length {dst}.");
    }

    internal static string OpName<TOp>()
    {
        string name = typeof(TOp).Name;
        int tick = name.IndexOf('`');
        return tick < 0 ? name : name[..tick];
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ref T R<T>(ReadOnlySpan<T> s) => ref MemoryMarshal.GetReference(s);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ref T Nil<T>() => ref Unsafe.NullRef<T>();

    // ---------------------------------------------------------------- kernels (operand plumbing)

    private interface IStoreMode { static abstract bool Add { get; } }
    private readonly struct Overwrite : IStoreMode { public static bool Add => false; }
    private readonly struct Accumulate : IStoreMode { public static bool Add => true; }

    /// <summary>Loads the operands at offset i, applies the op, optionally adds the old dst value.</summary>
    private interface IKernel<T> where T : unmanaged
    {
        T Scalar(ref T x, ref T y, ref T z, ref T d, nuint i);
        Vector128<T> V128(ref T x, ref T y, ref T z, ref T d, nuint i);
        Vector256<T> V256(ref T x, ref T y, ref T z, ref T d, nuint i);
        Vector512<T> V512(ref T x, ref T y, ref T z, ref T d, nuint i);
    }

    private readonly struct K1<TOp, T, TM> : IKernel<T>
        where TOp : IUnaryOp<T> where T : unmanaged, IFloatingPointIeee754<T> where TM : IStoreMode
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public T Scalar(ref T x, ref T y, ref T z, ref T d, nuint i)
        {
            T r = TOp.Invoke(Unsafe.Add(ref x, i));
            return TM.Add ? Unsafe.Add(ref d, i) + r : r;
        }
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector128<T> V128(ref T x, ref T y, ref T z, ref T d, nuint i)
        {
            Vector128<T> r = TOp.Invoke(Vector128.LoadUnsafe(ref x, i));
            return TM.Add ? Vector128.LoadUnsafe(ref d, i) + r : r;
        }
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector256<T> V256(ref T x, ref T y, ref T z, ref T d, nuint i)
        {
            Vector256<T> r = TOp.Invoke(Vector256.LoadUnsafe(ref x, i));
            return TM.Add ? Vector256.LoadUnsafe(ref d, i) + r : r;
        }
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector512<T> V512(ref T x, ref T y, ref T z, ref T d, nuint i)
        {
            Vector512<T> r = TOp.Invoke(Vector512.LoadUnsafe(ref x, i));
            return TM.Add ? Vector512.LoadUnsafe(ref d, i) + r : r;
        }
    }

    private readonly struct K2<TOp, T, TM> : IKernel<T>
        where TOp : IBinaryOp<T> where T : unmanaged, IFloatingPointIeee754<T> where TM : IStoreMode
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public T Scalar(ref T x, ref T y, ref T z, ref T d, nuint i)
        {
            T r = TOp.Invoke(Unsafe.Add(ref x, i), Unsafe.Add(ref y, i));
            return TM.Add ? Unsafe.Add(ref d, i) + r : r;
        }
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector128<T> V128(ref T x, ref T y, ref T z, ref T d, nuint i)
        {
            Vector128<T> r = TOp.Invoke(Vector128.LoadUnsafe(ref x, i), Vector128.LoadUnsafe(ref y, i));
            return TM.Add ? Vector128.LoadUnsafe(ref d, i) + r : r;
        }
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector256<T> V256(ref T x, ref T y, ref T z, ref T d, nuint i)
        {
            Vector256<T> r = TOp.Invoke(Vector256.LoadUnsafe(ref x, i), Vector256.LoadUnsafe(ref y, i));
            return TM.Add ? Vector256.LoadUnsafe(ref d, i) + r : r;
        }
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector512<T> V512(ref T x, ref T y, ref T z, ref T d, nuint i)
        {
            Vector512<T> r = TOp.Invoke(Vector512.LoadUnsafe(ref x, i), Vector512.LoadUnsafe(ref y, i));
            return TM.Add ? Vector512.LoadUnsafe(ref d, i) + r : r;
        }
    }

    private readonly struct K2S<TOp, T, TM>(T s) : IKernel<T>
        where TOp : IBinaryOp<T> where T : unmanaged, IFloatingPointIeee754<T> where TM : IStoreMode
    {
        private readonly T _s = s;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public T Scalar(ref T x, ref T y, ref T z, ref T d, nuint i)
        {
            T r = TOp.Invoke(Unsafe.Add(ref x, i), _s);
            return TM.Add ? Unsafe.Add(ref d, i) + r : r;
        }
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector128<T> V128(ref T x, ref T y, ref T z, ref T d, nuint i)
        {
            Vector128<T> r = TOp.Invoke(Vector128.LoadUnsafe(ref x, i), Vector128.Create(_s));
            return TM.Add ? Vector128.LoadUnsafe(ref d, i) + r : r;
        }
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector256<T> V256(ref T x, ref T y, ref T z, ref T d, nuint i)
        {
            Vector256<T> r = TOp.Invoke(Vector256.LoadUnsafe(ref x, i), Vector256.Create(_s));
            return TM.Add ? Vector256.LoadUnsafe(ref d, i) + r : r;
        }
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector512<T> V512(ref T x, ref T y, ref T z, ref T d, nuint i)
        {
            Vector512<T> r = TOp.Invoke(Vector512.LoadUnsafe(ref x, i), Vector512.Create(_s));
            return TM.Add ? Vector512.LoadUnsafe(ref d, i) + r : r;
        }
    }

    private readonly struct K3<TOp, T, TM> : IKernel<T>
        where TOp : ITernaryOp<T> where T : unmanaged, IFloatingPointIeee754<T> where TM : IStoreMode
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public T Scalar(ref T x, ref T y, ref T z, ref T d, nuint i)
        {
            T r = TOp.Invoke(Unsafe.Add(ref x, i), Unsafe.Add(ref y, i), Unsafe.Add(ref z, i));
            return TM.Add ? Unsafe.Add(ref d, i) + r : r;
        }
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector128<T> V128(ref T x, ref T y, ref T z, ref T d, nuint i)
        {
            Vector128<T> r = TOp.Invoke(Vector128.LoadUnsafe(ref x, i), Vector128.LoadUnsafe(ref y, i), Vector128.LoadUnsafe(ref z, i));
            return TM.Add ? Vector128.LoadUnsafe(ref d, i) + r : r;
        }
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector256<T> V256(ref T x, ref T y, ref T z, ref T d, nuint i)
        {
            Vector256<T> r = TOp.Invoke(Vector256.LoadUnsafe(ref x, i), Vector256.LoadUnsafe(ref y, i), Vector256.LoadUnsafe(ref z, i));
            return TM.Add ? Vector256.LoadUnsafe(ref d, i) + r : r;
        }
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector512<T> V512(ref T x, ref T y, ref T z, ref T d, nuint i)
        {
            Vector512<T> r = TOp.Invoke(Vector512.LoadUnsafe(ref x, i), Vector512.LoadUnsafe(ref y, i), Vector512.LoadUnsafe(ref z, i));
            return TM.Add ? Vector512.LoadUnsafe(ref d, i) + r : r;
        }
    }

    private readonly struct K3S<TOp, T, TM>(T s) : IKernel<T>
        where TOp : ITernaryOp<T> where T : unmanaged, IFloatingPointIeee754<T> where TM : IStoreMode
    {
        private readonly T _s = s;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public T Scalar(ref T x, ref T y, ref T z, ref T d, nuint i)
        {
            T r = TOp.Invoke(Unsafe.Add(ref x, i), Unsafe.Add(ref y, i), _s);
            return TM.Add ? Unsafe.Add(ref d, i) + r : r;
        }
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector128<T> V128(ref T x, ref T y, ref T z, ref T d, nuint i)
        {
            Vector128<T> r = TOp.Invoke(Vector128.LoadUnsafe(ref x, i), Vector128.LoadUnsafe(ref y, i), Vector128.Create(_s));
            return TM.Add ? Vector128.LoadUnsafe(ref d, i) + r : r;
        }
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector256<T> V256(ref T x, ref T y, ref T z, ref T d, nuint i)
        {
            Vector256<T> r = TOp.Invoke(Vector256.LoadUnsafe(ref x, i), Vector256.LoadUnsafe(ref y, i), Vector256.Create(_s));
            return TM.Add ? Vector256.LoadUnsafe(ref d, i) + r : r;
        }
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector512<T> V512(ref T x, ref T y, ref T z, ref T d, nuint i)
        {
            Vector512<T> r = TOp.Invoke(Vector512.LoadUnsafe(ref x, i), Vector512.LoadUnsafe(ref y, i), Vector512.Create(_s));
            return TM.Add ? Vector512.LoadUnsafe(ref d, i) + r : r;
        }
    }

    private readonly struct K3SS<TOp, T, TM>(T s, T t) : IKernel<T>
        where TOp : ITernaryOp<T> where T : unmanaged, IFloatingPointIeee754<T> where TM : IStoreMode
    {
        private readonly T _s = s, _t = t;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public T Scalar(ref T x, ref T y, ref T z, ref T d, nuint i)
        {
            T r = TOp.Invoke(Unsafe.Add(ref x, i), _s, _t);
            return TM.Add ? Unsafe.Add(ref d, i) + r : r;
        }
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector128<T> V128(ref T x, ref T y, ref T z, ref T d, nuint i)
        {
            Vector128<T> r = TOp.Invoke(Vector128.LoadUnsafe(ref x, i), Vector128.Create(_s), Vector128.Create(_t));
            return TM.Add ? Vector128.LoadUnsafe(ref d, i) + r : r;
        }
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector256<T> V256(ref T x, ref T y, ref T z, ref T d, nuint i)
        {
            Vector256<T> r = TOp.Invoke(Vector256.LoadUnsafe(ref x, i), Vector256.Create(_s), Vector256.Create(_t));
            return TM.Add ? Vector256.LoadUnsafe(ref d, i) + r : r;
        }
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector512<T> V512(ref T x, ref T y, ref T z, ref T d, nuint i)
        {
            Vector512<T> r = TOp.Invoke(Vector512.LoadUnsafe(ref x, i), Vector512.Create(_s), Vector512.Create(_t));
            return TM.Add ? Vector512.LoadUnsafe(ref d, i) + r : r;
        }
    }

    private readonly struct K4SS<TOp, T, TM>(T s, T t) : IKernel<T>
        where TOp : IQuaternaryOp<T> where T : unmanaged, IFloatingPointIeee754<T> where TM : IStoreMode
    {
        private readonly T _s = s, _t = t;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public T Scalar(ref T x, ref T y, ref T z, ref T d, nuint i)
        {
            T r = TOp.Invoke(Unsafe.Add(ref x, i), Unsafe.Add(ref y, i), _s, _t);
            return TM.Add ? Unsafe.Add(ref d, i) + r : r;
        }
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector128<T> V128(ref T x, ref T y, ref T z, ref T d, nuint i)
        {
            Vector128<T> r = TOp.Invoke(Vector128.LoadUnsafe(ref x, i), Vector128.LoadUnsafe(ref y, i), Vector128.Create(_s), Vector128.Create(_t));
            return TM.Add ? Vector128.LoadUnsafe(ref d, i) + r : r;
        }
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector256<T> V256(ref T x, ref T y, ref T z, ref T d, nuint i)
        {
            Vector256<T> r = TOp.Invoke(Vector256.LoadUnsafe(ref x, i), Vector256.LoadUnsafe(ref y, i), Vector256.Create(_s), Vector256.Create(_t));
            return TM.Add ? Vector256.LoadUnsafe(ref d, i) + r : r;
        }
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector512<T> V512(ref T x, ref T y, ref T z, ref T d, nuint i)
        {
            Vector512<T> r = TOp.Invoke(Vector512.LoadUnsafe(ref x, i), Vector512.LoadUnsafe(ref y, i), Vector512.Create(_s), Vector512.Create(_t));
            return TM.Add ? Vector512.LoadUnsafe(ref d, i) + r : r;
        }
    }
}
