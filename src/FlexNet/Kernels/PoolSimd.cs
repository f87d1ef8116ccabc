using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace FlexNet.Kernels;

/// <summary>
/// float SIMD fast paths of <see cref="PoolKernels"/>: one output row at a time, vectorised across output columns
/// (8 lanes with Vector256, else 4 with Vector128, else none) for horizontal strides 1 and 2. Per output the window
/// is visited in the same row-major order as the scalar code, so results are bitwise identical to it.
/// Every method handles the interior outputs <c>[lo, hi)</c> (windows entirely inside the input columns) and
/// returns the first output it did not do; the caller finishes <c>[returned, hi)</c> in scalar code.
/// </summary>
internal static class PoolSimd
{
    /// <summary>
    /// Max pooling of outputs <c>[lo, hi)</c> of one row: window rows <c>hStart + ki*dilationH</c> for
    /// <c>ki</c> in <c>[kiS, kiE)</c> (all inside the input), window columns all inside the input.
    /// Writes <c>y[ow]</c> and <c>idx[ow]</c> relative to the row refs.
    /// </summary>
    public static int MaxRow(ref float x, int planeLength, in PoolGeometry g, int hStart, int kiS, int kiE, int lo, int hi,
        ref float y, ref int idx)
    {
        if (g.StrideW > 2 || kiS >= kiE) return lo;
        if (Vector256.IsHardwareAccelerated && hi - lo >= Vector256<float>.Count)
            return MaxRow256(ref x, planeLength, g, hStart, kiS, kiE, lo, hi, ref y, ref idx);
        if (Vector128.IsHardwareAccelerated && hi - lo >= Vector128<float>.Count)
            return MaxRow128(ref x, planeLength, g, hStart, kiS, kiE, lo, hi, ref y, ref idx);
        return lo;
    }

    /// <summary>
    /// Max pooling of a whole plane with 2x2 windows, stride 2, no padding or dilation, every window inside the
    /// input (the common 'halve the image' pool): each output row reads its two input rows once, de-interleaves
    /// even and odd columns in registers and takes the maximum in the scalar code's window order (the first
    /// maximum; a NaN wins as there), 8 outputs per step with Vector256 (4 with Vector128), the last step shifted
    /// back to end at the row's last output. Returns false (nothing written) when the geometry or the hardware
    /// does not fit (output rows narrower than 4, or no 128-bit SIMD), leaving the plane to the general code.
    /// </summary>
    public static bool MaxPlane2x2(ref float x, in PoolGeometry g, ref float y, ref int idx)
    {
        if (g.KernelH != 2 || g.KernelW != 2 || g.StrideH != 2 || g.StrideW != 2 || g.PadH != 0 || g.PadW != 0
            || g.DilationH != 1 || g.DilationW != 1 || 2 * g.OutH > g.InH || 2 * g.OutW > g.InW)
            return false;
        int outW = g.OutW, inW = g.InW;
        if (outW >= 8 && Vector256.IsHardwareAccelerated && Avx2.IsSupported)
        {
            var lane = Vector256.Create(0, 2, 4, 6, 8, 10, 12, 14);
            for (int oh = 0; oh < g.OutH; oh++)
            {
                int r0 = 2 * oh * inW;
                for (int ow0 = 0; ; ow0 += 8)
                {
                    if (ow0 + 8 > outW) ow0 = outW - 8;
                    int b = r0 + 2 * ow0;
                    var (e0, o0) = Split256(ref x, b);
                    var (e1, o1) = Split256(ref x, b + inW);
                    var pos = Vector256.Create(b) + lane;
                    var best = e0;
                    var arg = pos;
                    Take(o0, pos + Vector256.Create(1), ref best, ref arg);
                    Take(e1, pos + Vector256.Create(inW), ref best, ref arg);
                    Take(o1, pos + Vector256.Create(inW + 1), ref best, ref arg);
                    int o = oh * outW + ow0;
                    best.StoreUnsafe(ref y, (nuint)o);
                    arg.StoreUnsafe(ref idx, (nuint)o);
                    if (ow0 + 8 >= outW) break;
                }
            }
            return true;
        }
        if (outW >= 4 && Vector128.IsHardwareAccelerated && Sse.IsSupported)
        {
            MaxPlane2x2Vector128(ref x, g, ref y, ref idx);
            return true;
        }
        return false;
    }

    /// <summary>
    /// The Vector128 tier of <see cref="MaxPlane2x2"/> (geometry already checked, <c>OutW &gt;= 4</c>, SSE present);
    /// internal so that tests run it on hardware whose dispatch picks Vector256.
    /// </summary>
    internal static void MaxPlane2x2Vector128(ref float x, in PoolGeometry g, ref float y, ref int idx)
    {
        int outW = g.OutW, inW = g.InW;
        var lane = Vector128.Create(0, 2, 4, 6);
        for (int oh = 0; oh < g.OutH; oh++)
        {
            int r0 = 2 * oh * inW;
            for (int ow0 = 0; ; ow0 += 4)
            {
                if (ow0 + 4 > outW) ow0 = outW - 4;
                int b = r0 + 2 * ow0;
                var (e0, o0) = Split128(ref x, b);
                var (e1, o1) = Split128(ref x, b + inW);
                var pos = Vector128.Create(b) + lane;
                var best = e0;
                var arg = pos;
                Take(o0, pos + Vector128.Create(1), ref best, ref arg);
                Take(e1, pos + Vector128.Create(inW), ref best, ref arg);
                Take(o1, pos + Vector128.Create(inW + 1), ref best, ref arg);
                int o = oh * outW + ow0;
                best.StoreUnsafe(ref y, (nuint)o);
                arg.StoreUnsafe(ref idx, (nuint)o);
                if (ow0 + 4 >= outW) break;
            }
        }
    }

    /// <summary>
    /// The overwriting backward of <see cref="MaxPlane2x2"/> (geometry already checked by the caller): each output's
    /// four window elements get <c>0 + gy</c> where the saved index points and 0 elsewhere, 8 (or 4) outputs per step,
    /// branch-free, the row pair written as two interleaved stores; the last step is shifted back (it rewrites the
    /// same values). Elements outside every window are left to the caller. Returns false (nothing written) for
    /// output rows narrower than 4 or without SIMD; throws when an index is not one of its window's positions.
    /// </summary>
    public static bool MaxBackward2x2(ref float gy, ref int idx, ref float gx, in PoolGeometry g)
    {
        int outW = g.OutW, inW = g.InW;
        if (outW >= 8 && Vector256.IsHardwareAccelerated && Avx2.IsSupported)
        {
            var lane = Vector256.Create(0, 2, 4, 6, 8, 10, 12, 14);
            for (int oh = 0; oh < g.OutH; oh++)
            {
                int r0 = 2 * oh * inW;
                for (int ow0 = 0; ; ow0 += 8)
                {
                    if (ow0 + 8 > outW) ow0 = outW - 8;
                    int o = oh * outW + ow0, b = r0 + 2 * ow0;
                    var v = Vector256.LoadUnsafe(ref gy, (nuint)o) + Vector256<float>.Zero;
                    var at = Vector256.LoadUnsafe(ref idx, (nuint)o);
                    var pos = Vector256.Create(b) + lane;
                    var m00 = Vector256.Equals(at, pos).AsSingle();
                    var m01 = Vector256.Equals(at, pos + Vector256.Create(1)).AsSingle();
                    var m10 = Vector256.Equals(at, pos + Vector256.Create(inW)).AsSingle();
                    var m11 = Vector256.Equals(at, pos + Vector256.Create(inW + 1)).AsSingle();
                    if ((m00 | m01 | m10 | m11).AsInt32() != Vector256<int>.AllBitsSet) BadIndex(oh, ow0, g);
                    Store2(v & m00, v & m01, ref gx, b);
                    Store2(v & m10, v & m11, ref gx, b + inW);
                    if (ow0 + 8 >= outW) break;
                }
            }
            return true;
        }
        if (outW >= 4 && Vector128.IsHardwareAccelerated && Sse2.IsSupported)
        {
            MaxBackward2x2Vector128(ref gy, ref idx, ref gx, g);
            return true;
        }
        return false;
    }

    /// <summary>
    /// The Vector128 tier of <see cref="MaxBackward2x2"/> (geometry already checked, <c>OutW &gt;= 4</c>, SSE2 present);
    /// internal so that tests run it on hardware whose dispatch picks Vector256.
    /// </summary>
    internal static void MaxBackward2x2Vector128(ref float gy, ref int idx, ref float gx, in PoolGeometry g)
    {
        int outW = g.OutW, inW = g.InW;
        var lane = Vector128.Create(0, 2, 4, 6);
        for (int oh = 0; oh < g.OutH; oh++)
        {
            int r0 = 2 * oh * inW;
            for (int ow0 = 0; ; ow0 += 4)
            {
                if (ow0 + 4 > outW) ow0 = outW - 4;
                int o = oh * outW + ow0, b = r0 + 2 * ow0;
                var v = Vector128.LoadUnsafe(ref gy, (nuint)o) + Vector128<float>.Zero;
                var at = Vector128.LoadUnsafe(ref idx, (nuint)o);
                var pos = Vector128.Create(b) + lane;
                var m00 = Vector128.Equals(at, pos).AsSingle();
                var m01 = Vector128.Equals(at, pos + Vector128.Create(1)).AsSingle();
                var m10 = Vector128.Equals(at, pos + Vector128.Create(inW)).AsSingle();
                var m11 = Vector128.Equals(at, pos + Vector128.Create(inW + 1)).AsSingle();
                if ((m00 | m01 | m10 | m11).AsInt32() != Vector128<int>.AllBitsSet) BadIndex(oh, ow0, g);
                Store2(v & m00, v & m01, ref gx, b);
                Store2(v & m10, v & m11, ref gx, b + inW);
                if (ow0 + 4 >= outW) break;
            }
        }
    }

    private static void BadIndex(int oh, int ow0, in PoolGeometry g) =>
        throw new ArgumentOutOfRangeException("indices",
            $"MaxPool2dBackward: an index among outputs ({oh}, {ow0}..) is not in its 2x2 window ({g}).");

    /// <summary>Stores <c>e0 o0 e1 o1 … e7 o7</c> at <c>x[b .. b+15]</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store2(Vector256<float> e, Vector256<float> o, ref float x, int b)
    {
        var lo = Avx.UnpackLow(e, o);
        var hi = Avx.UnpackHigh(e, o);
        Avx.Permute2x128(lo, hi, 0x20).StoreUnsafe(ref x, (nuint)b);
        Avx.Permute2x128(lo, hi, 0x31).StoreUnsafe(ref x, (nuint)(b + 8));
    }

    /// <summary>Stores <c>e0 o0 … e3 o3</c> at <c>x[b .. b+7]</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store2(Vector128<float> e, Vector128<float> o, ref float x, int b)
    {
        Sse.UnpackLow(e, o).StoreUnsafe(ref x, (nuint)b);
        Sse.UnpackHigh(e, o).StoreUnsafe(ref x, (nuint)(b + 4));
    }

    /// <summary>Even and odd lanes of <c>x[b .. b+15]</c>: (x[b+2t], x[b+2t+1]), t = 0..7.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector256<float> Even, Vector256<float> Odd) Split256(ref float x, int b)
    {
        var a = Vector256.LoadUnsafe(ref x, (nuint)b);
        var c = Vector256.LoadUnsafe(ref x, (nuint)(b + 8));
        var e = Avx.Shuffle(a, c, 0b10_00_10_00);
        var o = Avx.Shuffle(a, c, 0b11_01_11_01);
        return (Avx2.Permute4x64(e.AsDouble(), 0b11_01_10_00).AsSingle(), Avx2.Permute4x64(o.AsDouble(), 0b11_01_10_00).AsSingle());
    }

    /// <summary>Even and odd lanes of <c>x[b .. b+7]</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector128<float> Even, Vector128<float> Odd) Split128(ref float x, int b)
    {
        var a = Vector128.LoadUnsafe(ref x, (nuint)b);
        var c = Vector128.LoadUnsafe(ref x, (nuint)(b + 4));
        return (Sse.Shuffle(a, c, 0b10_00_10_00), Sse.Shuffle(a, c, 0b11_01_11_01));
    }

    /// <summary>The scalar rule per lane: take v when v &gt; best or v is NaN.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Take(Vector256<float> v, Vector256<int> pos, ref Vector256<float> best, ref Vector256<int> arg)
    {
        var take = Vector256.GreaterThan(v, best) | ~Vector256.Equals(v, v);
        best = Vector256.ConditionalSelect(take, v, best);
        arg = Vector256.ConditionalSelect(take.AsInt32(), pos, arg);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Take(Vector128<float> v, Vector128<int> pos, ref Vector128<float> best, ref Vector128<int> arg)
    {
        var take = Vector128.GreaterThan(v, best) | ~Vector128.Equals(v, v);
        best = Vector128.ConditionalSelect(take, v, best);
        arg = Vector128.ConditionalSelect(take.AsInt32(), pos, arg);
    }

    /// <summary>
    /// Average pooling of outputs <c>[lo, hi)</c> of one row whose windows lie entirely inside the input
    /// (rows <c>[h0, h0 + KernelH)</c>), all with divisor <paramref name="divisor"/>: <c>y[ow] = Σ window / divisor</c>.
    /// </summary>
    public static int AvgRow(ref float x, int planeLength, in PoolGeometry g, int h0, int lo, int hi, float divisor, ref float y)
    {
        if (g.StrideW > 2) return lo;
        if (Vector256.IsHardwareAccelerated && hi - lo >= Vector256<float>.Count)
            return AvgRow256(ref x, planeLength, g, h0, lo, hi, divisor, ref y);
        if (Vector128.IsHardwareAccelerated && hi - lo >= Vector128<float>.Count)
            return AvgRow128(ref x, planeLength, g, h0, lo, hi, divisor, ref y);
        return lo;
    }

    // Chunks of n outputs; the last chunk is shifted back to end at hi (overlapping outputs are recomputed
    // identically). With stride 2 a gather reads one element past the last window column: a chunk whose reads
    // would leave the plane is left to the scalar code.

    private static int MaxRow256(ref float x, int planeLength, in PoolGeometry g, int hStart, int kiS, int kiE, int lo, int hi,
        ref float y, ref int idx)
    {
        const int n = 8;
        int sw = g.StrideW, dw = g.DilationW, kw = g.KernelW, inW = g.InW, dh = g.DilationH;
        var lane = Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7) * sw;
        int lastRow = (hStart + (kiE - 1) * dh) * inW;
        int ow0 = lo;
        while (true)
        {
            if (ow0 + n > hi) ow0 = hi - n;
            int colBase = ow0 * sw - g.PadW;
            if (lastRow + colBase + (n - 1) * sw + (kw - 1) * dw + (sw - 1) >= planeLength) return ow0;
            var best = Vector256.Create(float.NegativeInfinity);
            var arg = Vector256.Create((hStart + kiS * dh) * inW + colBase) + lane;
            for (int ki = kiS; ki < kiE; ki++)
            {
                int b = (hStart + ki * dh) * inW + colBase;
                for (int kj = 0; kj < kw; kj++, b += dw)
                {
                    var v = sw == 1 ? Vector256.LoadUnsafe(ref x, (nuint)b) : Evens256(ref x, b);
                    var take = Vector256.GreaterThan(v, best) | ~Vector256.Equals(v, v);
                    best = Vector256.ConditionalSelect(take, v, best);
                    arg = Vector256.ConditionalSelect(take.AsInt32(), Vector256.Create(b) + lane, arg);
                }
            }
            best.StoreUnsafe(ref y, (nuint)ow0);
            arg.StoreUnsafe(ref idx, (nuint)ow0);
            if (ow0 + n >= hi) return hi;
            ow0 += n;
        }
    }

    /// <summary>The Vector128 tier of <see cref="MaxRow"/> (internal: tests run it on Vector256 hardware).</summary>
    internal static int MaxRow128(ref float x, int planeLength, in PoolGeometry g, int hStart, int kiS, int kiE, int lo, int hi,
        ref float y, ref int idx)
    {
        const int n = 4;
        int sw = g.StrideW, dw = g.DilationW, kw = g.KernelW, inW = g.InW, dh = g.DilationH;
        var lane = Vector128.Create(0, 1, 2, 3) * sw;
        int lastRow = (hStart + (kiE - 1) * dh) * inW;
        int ow0 = lo;
        while (true)
        {
            if (ow0 + n > hi) ow0 = hi - n;
            int colBase = ow0 * sw - g.PadW;
            if (lastRow + colBase + (n - 1) * sw + (kw - 1) * dw + (sw - 1) >= planeLength) return ow0;
            var best = Vector128.Create(float.NegativeInfinity);
            var arg = Vector128.Create((hStart + kiS * dh) * inW + colBase) + lane;
            for (int ki = kiS; ki < kiE; ki++)
            {
                int b = (hStart + ki * dh) * inW + colBase;
                for (int kj = 0; kj < kw; kj++, b += dw)
                {
                    var v = sw == 1 ? Vector128.LoadUnsafe(ref x, (nuint)b) : Evens128(ref x, b);
                    var take = Vector128.GreaterThan(v, best) | ~Vector128.Equals(v, v);
                    best = Vector128.ConditionalSelect(take, v, best);
                    arg = Vector128.ConditionalSelect(take.AsInt32(), Vector128.Create(b) + lane, arg);
                }
            }
            best.StoreUnsafe(ref y, (nuint)ow0);
            arg.StoreUnsafe(ref idx, (nuint)ow0);
            if (ow0 + n >= hi) return hi;
            ow0 += n;
        }
    }

    private static int AvgRow256(ref float x, int planeLength, in PoolGeometry g, int h0, int lo, int hi, float divisor, ref float y)
    {
        const int n = 8;
        int sw = g.StrideW, kw = g.KernelW, kh = g.KernelH, inW = g.InW;
        var div = Vector256.Create(divisor);
        int lastRow = (h0 + kh - 1) * inW;
        int ow0 = lo;
        while (true)
        {
            if (ow0 + n > hi) ow0 = hi - n;
            int colBase = ow0 * sw - g.PadW;
            if (lastRow + colBase + (n - 1) * sw + (kw - 1) + (sw - 1) >= planeLength) return ow0;
            var sum = Vector256<float>.Zero;
            for (int ki = 0; ki < kh; ki++)
            {
                int b = (h0 + ki) * inW + colBase;
                for (int kj = 0; kj < kw; kj++, b++)
                    sum += sw == 1 ? Vector256.LoadUnsafe(ref x, (nuint)b) : Evens256(ref x, b);
            }
            (sum / div).StoreUnsafe(ref y, (nuint)ow0);
            if (ow0 + n >= hi) return hi;
            ow0 += n;
        }
    }

    /// <summary>The Vector128 tier of <see cref="AvgRow"/> (internal: tests run it on Vector256 hardware).</summary>
    internal static int AvgRow128(ref float x, int planeLength, in PoolGeometry g, int h0, int lo, int hi, float divisor, ref float y)
    {
        const int n = 4;
        int sw = g.StrideW, kw = g.KernelW, kh = g.KernelH, inW = g.InW;
        var div = Vector128.Create(divisor);
        int lastRow = (h0 + kh - 1) * inW;
        int ow0 = lo;
        while (true)
        {
            if (ow0 + n > hi) ow0 = hi - n;
            int colBase = ow0 * sw - g.PadW;
            if (lastRow + colBase + (n - 1) * sw + (kw - 1) + (sw - 1) >= planeLength) return ow0;
            var sum = Vector128<float>.Zero;
            for (int ki = 0; ki < kh; ki++)
            {
                int b = (h0 + ki) * inW + colBase;
                for (int kj = 0; kj < kw; kj++, b++)
                    sum += sw == 1 ? Vector128.LoadUnsafe(ref x, (nuint)b) : Evens128(ref x, b);
            }
            (sum / div).StoreUnsafe(ref y, (nuint)ow0);
            if (ow0 + n >= hi) return hi;
            ow0 += n;
        }
    }

    /// <summary>Lanes <c>x[b + 2t]</c>, t = 0..7 (reads <c>x[b .. b+15]</c>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> Evens256(ref float x, int b)
    {
        var a = Vector256.LoadUnsafe(ref x, (nuint)b);
        var c = Vector256.LoadUnsafe(ref x, (nuint)(b + 8));
        if (Avx2.IsSupported)
        {
            // Per 128-bit lane [a0 a2 c0 c2 | a4 a6 c4 c6], then 64-bit blocks reordered 0, 2, 1, 3.
            var s = Avx.Shuffle(a, c, 0b10_00_10_00);
            return Avx2.Permute4x64(s.AsDouble(), 0b11_01_10_00).AsSingle();
        }
        var order = Vector256.Create(0, 2, 4, 6, 1, 3, 5, 7);
        return Vector256.Create(Vector256.Shuffle(a, order).GetLower(), Vector256.Shuffle(c, order).GetLower());
    }

    /// <summary>Lanes <c>x[b + 2t]</c>, t = 0..3 (reads <c>x[b .. b+7]</c>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector128<float> Evens128(ref float x, int b)
    {
        var a = Vector128.LoadUnsafe(ref x, (nuint)b);
        var c = Vector128.LoadUnsafe(ref x, (nuint)(b + 4));
        if (Sse.IsSupported) return Sse.Shuffle(a, c, 0b10_00_10_00);
        if (AdvSimd.Arm64.IsSupported) return AdvSimd.Arm64.UnzipEven(a, c);
        return Vector128.Create(a.GetElement(0), a.GetElement(2), c.GetElement(0), c.GetElement(2));
    }
}
