using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using FlexNet.Kernels;
using Xunit;

namespace FlexNet.Tests.Kernels;

/// <summary>
/// Gaps a mutation run left in <see cref="PoolSimd"/>: every SIMD tier (the Vector128 row kernels and 2x2 plane
/// kernels run directly, since the dispatch picks Vector256 on AVX2 hardware), the dispatch and fallback conditions,
/// the "first output not done" contract of the row kernels including the end-of-plane bound (a chunk whose reads would
/// pass <c>planeLength</c> is left to the scalar code, every other chunk is vectorised), writes outside the asked
/// range, and end-to-end geometries that must not take a fast path. Every expectation is a plain loop written here.
/// </summary>
[Trait("Category", "Kernels")]
public sealed class PoolSimdMutationGapTests17
{
    private const int Guard = 16;
    private const float YSentinel = 1234.5f;
    private const int ISentinel = int.MinValue;

    private delegate int MaxRowKernel(ref float x, int planeLength, in PoolGeometry g, int hStart, int kiS, int kiE, int lo, int hi,
        ref float y, ref int idx);

    private delegate int AvgRowKernel(ref float x, int planeLength, in PoolGeometry g, int h0, int lo, int hi, float divisor, ref float y);

    // ------------------------------------------------------------------ independent references

    /// <summary>Max pooling of one plane by the documented rule: padding never wins, first maximum in row-major window
    /// order, a NaN is taken whenever met, the index starts at the window's first input element, -1 for no element.</summary>
    private static void OracleMax(float[] x, int off, PoolGeometry g, float[] y, int[] idx)
    {
        for (int oh = 0; oh < g.OutH; oh++)
            for (int ow = 0; ow < g.OutW; ow++)
            {
                float best = float.NegativeInfinity;
                int arg = -1;
                bool first = true;
                for (int i = 0; i < g.KernelH; i++)
                    for (int j = 0; j < g.KernelW; j++)
                    {
                        int ih = oh * g.StrideH - g.PadH + i * g.DilationH, iw = ow * g.StrideW - g.PadW + j * g.DilationW;
                        if (ih < 0 || ih >= g.InH || iw < 0 || iw >= g.InW) continue;
                        float v = x[off + ih * g.InW + iw];
                        if (first) { arg = ih * g.InW + iw; first = false; }
                        if (v > best || float.IsNaN(v)) { best = v; arg = ih * g.InW + iw; }
                    }
                y[oh * g.OutW + ow] = best;
                idx[oh * g.OutW + ow] = arg;
            }
    }

    /// <summary>Average pooling of one plane (float sums in row-major order, PyTorch divisor rules).</summary>
    private static float[] OracleAvg(float[] x, int off, PoolGeometry g, bool includePad, int divisorOverride)
    {
        var y = new float[g.OutPlane];
        for (int oh = 0; oh < g.OutH; oh++)
            for (int ow = 0; ow < g.OutW; ow++)
            {
                float s = 0f;
                int inside = 0, rows = 0, cols = 0;
                for (int i = 0; i < g.KernelH; i++)
                {
                    int ih = oh * g.StrideH - g.PadH + i;
                    if (ih >= -g.PadH && ih < g.InH + g.PadH) rows++;
                }
                for (int j = 0; j < g.KernelW; j++)
                {
                    int iw = ow * g.StrideW - g.PadW + j;
                    if (iw >= -g.PadW && iw < g.InW + g.PadW) cols++;
                }
                for (int i = 0; i < g.KernelH; i++)
                    for (int j = 0; j < g.KernelW; j++)
                    {
                        int ih = oh * g.StrideH - g.PadH + i, iw = ow * g.StrideW - g.PadW + j;
                        if (ih < 0 || ih >= g.InH || iw < 0 || iw >= g.InW) continue;
                        s += x[off + ih * g.InW + iw];
                        inside++;
                    }
                y[oh * g.OutW + ow] = s / (divisorOverride > 0 ? divisorOverride : includePad ? rows * cols : inside);
            }
        return y;
    }

    /// <summary>Plane at <c>[Guard, Guard + n)</c> of a buffer whose guards are <paramref name="guard"/>. Mode 0: coarse
    /// values (many ties) with a few NaN and -inf; mode 1: all -inf; mode 2: distinct increasing values.</summary>
    private static float[] Plane(Random rng, int n, int mode, float guard)
    {
        var b = new float[n + 2 * Guard];
        Array.Fill(b, guard);
        for (int i = 0; i < n; i++)
            b[Guard + i] = mode switch
            {
                1 => float.NegativeInfinity,
                2 => i * 0.5f - 3f,
                _ => rng.Next(23) switch
                {
                    0 => float.NaN,
                    1 => float.NegativeInfinity,
                    int k => (k % 6) - 2.5f, // six levels: ties everywhere
                },
            };
        return b;
    }

    private static bool Same(float a, float b) => BitConverter.SingleToInt32Bits(a) == BitConverter.SingleToInt32Bits(b);

    private static void AssertSentinels(float[] y, int[]? idx, int from, int to, Func<string> what)
    {
        for (int i = from; i < to; i++)
        {
            if (!Same(y[i], YSentinel)) Assert.Fail($"{what()}: y buffer [{i}] written ({y[i]}) outside the range");
            if (idx != null && idx[i] != ISentinel) Assert.Fail($"{what()}: idx buffer [{i}] written ({idx[i]}) outside the range");
        }
    }

    /// <summary>Interior window rows of output row <paramref name="oh"/>: ki in [kiS, kiE) with row hStart + ki*dh inside.</summary>
    private static (int HStart, int KiS, int KiE) Rows(PoolGeometry g, int oh)
    {
        int hStart = oh * g.StrideH - g.PadH, kiS = -1, kiE = -1;
        for (int ki = 0; ki < g.KernelH; ki++)
        {
            int ih = hStart + ki * g.DilationH;
            if (ih < 0 || ih >= g.InH) continue;
            if (kiS < 0) kiS = ki;
            kiE = ki + 1;
        }
        return kiS < 0 ? (hStart, 0, 0) : (hStart, kiS, kiE);
    }

    /// <summary>Outputs whose every window column is inside the input.</summary>
    private static (int Lo, int Hi) Cols(PoolGeometry g)
    {
        int lo = -1, hi = -1;
        for (int ow = 0; ow < g.OutW; ow++)
        {
            int w0 = ow * g.StrideW - g.PadW, wLast = w0 + (g.KernelW - 1) * g.DilationW;
            if (w0 < 0 || wLast >= g.InW) continue;
            if (lo < 0) lo = ow;
            hi = ow + 1;
        }
        return lo < 0 ? (0, 0) : (lo, hi);
    }

    /// <summary>Chunk starts of n outputs over [lo, hi): lo, lo+n, ... while a whole chunk fits, then hi-n.</summary>
    private static List<int> Chunks(int lo, int hi, int n)
    {
        var c = new List<int>();
        int s = lo;
        for (; s + n < hi; s += n) c.Add(s);
        c.Add(hi - n);
        return c;
    }

    /// <summary>Expected return of a row kernel with n lanes: the first chunk whose last read (the last window element of
    /// its last output, plus the odd element a stride-2 gather loads after it) is at or past planeLength, else hi.</summary>
    private static int ExpectedReturn(int lo, int hi, int n, int planeLength, Func<int, int> lastWindowElement, int sw)
    {
        if (n == 0) return lo;
        foreach (int s in Chunks(lo, hi, n))
            if (lastWindowElement(s + n - 1) + (sw == 2 ? 1 : 0) >= planeLength) return s;
        return hi;
    }

    /// <summary>The plane lengths a row kernel is run with: the whole plane, and for each chunk of n lanes its last read
    /// (as in <see cref="ExpectedReturn"/>) and one past it, so that each chunk's bound is met at equality and cleared.</summary>
    private static List<int> PlaneLengths(int inPlane, int lo, int hi, int n, Func<int, int> lastWindowElement, int sw)
    {
        var lengths = new List<int> { inPlane };
        if (n > 0)
            foreach (int s in Chunks(lo, hi, n))
            {
                int r = lastWindowElement(s + n - 1) + (sw == 2 ? 1 : 0);
                lengths.Add(r);
                lengths.Add(r + 1);
            }
        return lengths;
    }

    private static int DispatchLanes(int sw, int lo, int hi)
    {
        if (sw > 2) return 0;
        if (Vector256.IsHardwareAccelerated && hi - lo >= 8) return 8;
        if (Vector128.IsHardwareAccelerated && hi - lo >= 4) return 4;
        return 0;
    }

    private static IEnumerable<PoolGeometry> RowGeometries(bool avg)
    {
        (int Kh, int Sh, int Ph, int Dh)[] vertical = avg
            ? [(1, 1, 0, 1), (2, 1, 1, 1), (3, 2, 1, 1), (2, 2, 0, 1)]
            : [(1, 1, 0, 1), (2, 1, 1, 2), (3, 2, 1, 1), (2, 2, 0, 1), (3, 1, 1, 2)];
        foreach (var v in vertical)
            for (int kw = 1; kw <= 3; kw++)
                for (int sw = 1; sw <= 3; sw++)
                    for (int dw = 1; dw <= (avg ? 1 : 2); dw++)
                        for (int pw = 0; pw <= (dw * (kw - 1) + 1) / 2; pw++)
                            for (int inW = 3; inW <= 34; inW++)
                            {
                                bool ceil = inW % 3 == 0;
                                int inH = 7;
                                if (PoolKernels.PoolOutSize(inW, kw, sw, pw, dw, ceil) < 1) continue;
                                yield return new PoolGeometry(inH, inW, v.Kh, kw, v.Sh, sw, v.Ph, pw, v.Dh, dw, ceil);
                            }
    }

    // ------------------------------------------------------------------ row kernels, both tiers

    [Fact]
    public void MaxRow_BothTiers_MatchLoops_AndReturnTheFirstChunkThatWouldReadPastThePlane()
    {
        var rng = new Random(17);
        int calls = 0;
        foreach (var g in RowGeometries(avg: false))
            for (int mode = 0; mode < (g.InW % 7 == 6 ? 2 : 1); mode++) // all -inf (mode 1) on a few widths
            {
                var xb = Plane(rng, g.InPlane, mode, float.PositiveInfinity);
                var ey = new float[g.OutPlane];
                var ei = new int[g.OutPlane];
                OracleMax(xb, Guard, g, ey, ei);
                var (lo, hi) = Cols(g);
                if (hi <= lo) continue;
                for (int oh = 0; oh < g.OutH; oh++)
                {
                    var (hStart, kiS, kiE) = Rows(g, oh);
                    if (kiS >= kiE) continue;
                    int lastRow = (hStart + (kiE - 1) * g.DilationH) * g.InW;
                    int LastElement(int ow) => lastRow + ow * g.StrideW - g.PadW + (g.KernelW - 1) * g.DilationW;
                    for (int tier = 0; tier < 2; tier++)
                    {
                        int n = tier == 0 ? DispatchLanes(g.StrideW, lo, hi) : 4;
                        if (tier == 1 && (g.StrideW > 2 || hi - lo < 4)) continue; // outside MaxRow128's contract
                        MaxRowKernel k = tier == 0 ? PoolSimd.MaxRow : PoolSimd.MaxRow128;
                        foreach (int planeLength in PlaneLengths(g.InPlane, lo, hi, n, LastElement, g.StrideW))
                        {
                            calls++;
                            Func<string> what = () => $"MaxRow tier {(tier == 0 ? "dispatch" : "128")} {g} mode {mode} row {oh} [{lo},{hi}) planeLength {planeLength}";
                            var y = new float[g.OutW + 2 * Guard];
                            var idx = new int[g.OutW + 2 * Guard];
                            Array.Fill(y, YSentinel);
                            Array.Fill(idx, ISentinel);
                            int ret = k(ref xb[Guard], planeLength, g, hStart, kiS, kiE, lo, hi, ref y[Guard], ref idx[Guard]);
                            if (ExpectedReturn(lo, hi, n, planeLength, LastElement, g.StrideW) != ret) Assert.Fail($"{what()}: returned {ret}");
                            int o = oh * g.OutW;
                            for (int ow = lo; ow < hi; ow++)
                            {
                                bool untouched = Same(y[Guard + ow], YSentinel) && idx[Guard + ow] == ISentinel;
                                if (ow >= ret && untouched) continue;
                                if (!Same(ey[o + ow], y[Guard + ow])) Assert.Fail($"{what()}: y[{ow}] expected {ey[o + ow]}, got {y[Guard + ow]}");
                                if (ei[o + ow] != idx[Guard + ow]) Assert.Fail($"{what()}: idx[{ow}] expected {ei[o + ow]}, got {idx[Guard + ow]}");
                            }
                            AssertSentinels(y, idx, 0, Guard + lo, what);
                            AssertSentinels(y, idx, Guard + hi, y.Length, what);
                        }
                    }
                }
            }
        Assert.True(calls > 1000);
    }

    [Fact]
    public void AvgRow_BothTiers_MatchLoops_AndReturnTheFirstChunkThatWouldReadPastThePlane()
    {
        var rng = new Random(1717);
        int calls = 0;
        foreach (var g in RowGeometries(avg: true))
        {
            var xb = Plane(rng, g.InPlane, 0, float.PositiveInfinity);
            int divisor = g.InW % 2 == 0 ? g.KernelH * g.KernelW : 7;
            var ey = OracleAvg(xb, Guard, g, true, divisor);
            var (lo, hi) = Cols(g);
            if (hi <= lo) continue;
            for (int oh = 0; oh < g.OutH; oh++)
            {
                int h0 = oh * g.StrideH - g.PadH;
                if (h0 < 0 || h0 + g.KernelH > g.InH) continue;
                int lastRow = (h0 + g.KernelH - 1) * g.InW;
                int LastElement(int ow) => lastRow + ow * g.StrideW - g.PadW + g.KernelW - 1;
                for (int tier = 0; tier < 2; tier++)
                {
                    int n = tier == 0 ? DispatchLanes(g.StrideW, lo, hi) : 4;
                    if (tier == 1 && (g.StrideW > 2 || hi - lo < 4)) continue;
                    AvgRowKernel k = tier == 0 ? PoolSimd.AvgRow : PoolSimd.AvgRow128;
                    foreach (int planeLength in PlaneLengths(g.InPlane, lo, hi, n, LastElement, g.StrideW))
                    {
                        calls++;
                        Func<string> what = () => $"AvgRow tier {(tier == 0 ? "dispatch" : "128")} {g} row {oh} [{lo},{hi}) planeLength {planeLength}";
                        var y = new float[g.OutW + 2 * Guard];
                        Array.Fill(y, YSentinel);
                        int ret = k(ref xb[Guard], planeLength, g, h0, lo, hi, divisor, ref y[Guard]);
                        if (ExpectedReturn(lo, hi, n, planeLength, LastElement, g.StrideW) != ret) Assert.Fail($"{what()}: returned {ret}");
                        int o = oh * g.OutW;
                        for (int ow = lo; ow < hi; ow++)
                        {
                            if (ow >= ret && Same(y[Guard + ow], YSentinel)) continue;
                            if (!Same(ey[o + ow], y[Guard + ow])) Assert.Fail($"{what()}: y[{ow}] expected {ey[o + ow]}, got {y[Guard + ow]}");
                        }
                        AssertSentinels(y, null, 0, Guard + lo, what);
                        AssertSentinels(y, null, Guard + hi, y.Length, what);
                    }
                }
            }
        }
        Assert.True(calls > 500);
    }

    [Fact]
    public void MaxRow_WithNoWindowRows_OrStrideAboveTwo_DoesNothing()
    {
        var g = new PoolGeometry(4, 40, 2, 2, 1, 1, 0, 0);
        var xb = Plane(new Random(3), g.InPlane, 2, float.PositiveInfinity);
        var y = new float[g.OutW + 2 * Guard];
        var idx = new int[g.OutW + 2 * Guard];
        Array.Fill(y, YSentinel);
        Array.Fill(idx, ISentinel);
        Assert.Equal(0, PoolSimd.MaxRow(ref xb[Guard], g.InPlane, g, 0, 1, 1, 0, g.OutW, ref y[Guard], ref idx[Guard]));
        Assert.Equal(0, PoolSimd.MaxRow(ref xb[Guard], g.InPlane, g, 0, 2, 1, 0, g.OutW, ref y[Guard], ref idx[Guard]));
        var g3 = new PoolGeometry(4, 40, 2, 2, 1, 3, 0, 0);
        Assert.Equal(2, PoolSimd.MaxRow(ref xb[Guard], g3.InPlane, g3, 0, 0, 2, 2, g3.OutW, ref y[Guard], ref idx[Guard]));
        Assert.Equal(2, PoolSimd.AvgRow(ref xb[Guard], g3.InPlane, g3, 0, 2, g3.OutW, 4f, ref y[Guard]));
        AssertSentinels(y, idx, 0, y.Length, () => "no-op calls");
    }

    // ------------------------------------------------------------------ 2x2 stride-2 plane kernels, both tiers

    private static bool Fits2x2(PoolGeometry g) => 2 * g.OutH <= g.InH && 2 * g.OutW <= g.InW;

    [Fact]
    public void MaxPlane2x2_BothTiers_MatchLoops_AndReportWhetherTheyRan()
    {
        var rng = new Random(2222);
        int ran128 = 0;
        for (int inH = 2; inH <= 7; inH++)
            for (int inW = 2; inW <= 37; inW++)
                for (int c = 0; c < 2; c++)
                    for (int mode = 0; mode < 3; mode++)
                    {
                        var g = new PoolGeometry(inH, inW, 2, 2, 2, 2, 0, 0, 1, 1, c == 1);
                        var xb = Plane(rng, g.InPlane, mode, float.PositiveInfinity);
                        var ey = new float[g.OutPlane];
                        var ei = new int[g.OutPlane];
                        OracleMax(xb, Guard, g, ey, ei);
                        bool fits = Fits2x2(g);
                        bool expectRan = fits && ((g.OutW >= 8 && Vector256.IsHardwareAccelerated && Avx2.IsSupported)
                                                  || (g.OutW >= 4 && Vector128.IsHardwareAccelerated && Sse.IsSupported));
                        for (int tier = 0; tier < 2; tier++)
                        {
                            if (tier == 1 && !(fits && g.OutW >= 4 && Sse.IsSupported)) continue;
                            Func<string> what = () => $"MaxPlane2x2 tier {(tier == 0 ? "dispatch" : "128")} {g} mode {mode}";
                            var y = new float[g.OutPlane + 2 * Guard];
                            var idx = new int[g.OutPlane + 2 * Guard];
                            Array.Fill(y, YSentinel);
                            Array.Fill(idx, ISentinel);
                            bool ran = true;
                            if (tier == 0) ran = PoolSimd.MaxPlane2x2(ref xb[Guard], g, ref y[Guard], ref idx[Guard]);
                            else { PoolSimd.MaxPlane2x2Vector128(ref xb[Guard], g, ref y[Guard], ref idx[Guard]); ran128++; }
                            if (tier == 0 && expectRan != ran) Assert.Fail($"{what()}: returned {ran}");
                            AssertSentinels(y, idx, 0, Guard, what);
                            AssertSentinels(y, idx, Guard + g.OutPlane, y.Length, what);
                            if (!ran)
                            {
                                AssertSentinels(y, idx, 0, y.Length, what);
                                continue;
                            }
                            for (int o = 0; o < g.OutPlane; o++)
                            {
                                if (!Same(ey[o], y[Guard + o])) Assert.Fail($"{what()}: y[{o}] expected {ey[o]}, got {y[Guard + o]}");
                                if (ei[o] != idx[Guard + o]) Assert.Fail($"{what()}: idx[{o}] expected {ei[o]}, got {idx[Guard + o]}");
                            }
                        }
                    }
        Assert.True(ran128 > 100 || !Sse.IsSupported);
    }

    [Fact]
    public void MaxBackward2x2_BothTiers_WriteGyAtTheIndexAndZeroElsewhere_OnlyInsideTheWindows()
    {
        var rng = new Random(4242);
        const float GxSentinel = 777.25f;
        for (int inH = 2; inH <= 7; inH++)
            for (int inW = 2; inW <= 37; inW++)
            {
                var g = new PoolGeometry(inH, inW, 2, 2, 2, 2, 0, 0);
                int outW = g.OutW;
                var gy = new float[g.OutPlane + 2 * Guard];
                var at = new int[g.OutPlane + 2 * Guard];
                for (int oh = 0; oh < g.OutH; oh++)
                    for (int ow = 0; ow < outW; ow++)
                    {
                        int o = Guard + oh * outW + ow;
                        gy[o] = rng.Next(5) == 0 ? -0f : (float)Math.Round(rng.NextDouble() * 4 - 2, 2);
                        int corner = rng.Next(4);
                        at[o] = (2 * oh + corner / 2) * inW + 2 * ow + corner % 2; // any of the window's four positions
                    }
                bool expectRan = (outW >= 8 && Vector256.IsHardwareAccelerated && Avx2.IsSupported)
                                 || (outW >= 4 && Vector128.IsHardwareAccelerated && Sse2.IsSupported);
                for (int tier = 0; tier < 2; tier++)
                {
                    if (tier == 1 && !(outW >= 4 && Sse2.IsSupported)) continue;
                    Func<string> what = () => $"MaxBackward2x2 tier {(tier == 0 ? "dispatch" : "128")} {g}";
                    var gx = new float[g.InPlane + 2 * Guard];
                    Array.Fill(gx, GxSentinel);
                    bool ran = true;
                    if (tier == 0) ran = PoolSimd.MaxBackward2x2(ref gy[Guard], ref at[Guard], ref gx[Guard], g);
                    else PoolSimd.MaxBackward2x2Vector128(ref gy[Guard], ref at[Guard], ref gx[Guard], g);
                    if (tier == 0 && expectRan != ran) Assert.Fail($"{what()}: returned {ran}");
                    for (int i = 0; i < gx.Length; i++)
                    {
                        int p = i - Guard, ih = p >= 0 ? p / inW : -1, iw = p >= 0 ? p % inW : -1;
                        bool inWindow = ran && p >= 0 && p < g.InPlane && ih < 2 * g.OutH && iw < 2 * outW;
                        float expected = GxSentinel;
                        if (inWindow)
                        {
                            int o = Guard + ih / 2 * outW + iw / 2;
                            expected = at[o] == p ? gy[o] + 0f : 0f;
                        }
                        if (!Same(expected, gx[i])) Assert.Fail($"{what()}: gx buffer [{i}] (plane {p}) expected {expected}, got {gx[i]}");
                    }
                }
                if (outW >= 4 && Sse2.IsSupported)
                {
                    // An index outside its window (the next window's first position) is refused by both tiers.
                    int bad = Guard + g.OutPlane - 1;
                    int saved = at[bad];
                    at[bad] = 2 * (g.OutH - 1) * inW + 2 * (outW - 1) + 2;
                    var gx = new float[g.InPlane + 2 * Guard];
                    Assert.Throws<ArgumentOutOfRangeException>(() => PoolSimd.MaxBackward2x2(ref gy[Guard], ref at[Guard], ref gx[Guard], g));
                    Assert.Throws<ArgumentOutOfRangeException>(() => PoolSimd.MaxBackward2x2Vector128(ref gy[Guard], ref at[Guard], ref gx[Guard], g));
                    at[bad] = saved;
                }
            }
    }

    // ------------------------------------------------------------------ end to end: geometries that must not take a fast path

    /// <summary>H, W, kh, kw, sh, sw, ph, pw, dh, dw, ceil (0/1).</summary>
    private static readonly int[][] EndToEndList =
    [
        // H, W, kh, kw, sh, sw, ph, pw, dh, dw, ceil
        [5, 40, 2, 2, 2, 3, 0, 0, 1, 1, 0],   // stride 3: no row kernel, no 2x2 kernel
        [5, 41, 1, 1, 1, 3, 0, 0, 1, 1, 0],
        [4, 52, 3, 3, 1, 3, 1, 1, 1, 1, 0],
        [4, 49, 2, 3, 2, 3, 0, 1, 1, 1, 1],
        [6, 17, 2, 3, 2, 2, 0, 0, 1, 1, 0],   // 2x3 stride 2: not the 2x2 kernel
        [6, 16, 2, 1, 2, 2, 0, 0, 1, 1, 0],   // 2x1
        [6, 16, 1, 2, 2, 2, 0, 0, 1, 1, 0],   // 1x2
        [7, 16, 3, 2, 2, 2, 0, 0, 1, 1, 0],   // 3x2
        [6, 24, 2, 2, 2, 3, 0, 0, 1, 1, 0],   // 2x2 stride (2,3)
        [6, 24, 2, 2, 3, 2, 0, 0, 1, 1, 0],   // 2x2 stride (3,2)
        [6, 16, 2, 2, 1, 2, 0, 0, 1, 1, 0],   // 2x2 stride (1,2)
        [5, 16, 2, 2, 2, 2, 0, 0, 2, 1, 0],   // dilation (2,1)
        [6, 17, 2, 2, 2, 2, 0, 0, 1, 2, 0],   // dilation (1,2)
        [7, 21, 2, 2, 2, 2, 0, 0, 2, 2, 0],   // dilation (2,2)
        [5, 16, 2, 2, 2, 2, 0, 0, 1, 1, 1],    // ceil, odd height: last output row has one input row
        [4, 17, 2, 2, 2, 2, 0, 0, 1, 1, 1],    // ceil, odd width: last output column has one input column
        [5, 17, 2, 2, 2, 2, 0, 0, 1, 1, 1],
        [4, 9, 2, 2, 2, 2, 0, 0, 1, 1, 1],     // ceil, 5 outputs wide
        [6, 16, 2, 2, 2, 2, 1, 0, 1, 1, 0],   // padding
        [6, 16, 2, 2, 2, 2, 0, 1, 1, 1, 0],
        [6, 16, 2, 2, 2, 2, 1, 1, 1, 1, 1],
        [6, 2, 2, 2, 2, 2, 0, 0, 1, 1, 0],    // 2x2 with 1, 2, 3 outputs per row: no 2x2 SIMD tier
        [7, 4, 2, 2, 2, 2, 0, 0, 1, 1, 0],
        [6, 7, 2, 2, 2, 2, 0, 0, 1, 1, 0],
        [2, 6, 2, 2, 2, 2, 0, 0, 1, 1, 0],
        [4, 8, 2, 2, 2, 2, 0, 0, 1, 1, 0],    // 4, 5, 8, 9 outputs per row: the 2x2 tiers
        [4, 11, 2, 2, 2, 2, 0, 0, 1, 1, 0],
        [6, 16, 2, 2, 2, 2, 0, 0, 1, 1, 0],
        [4, 19, 2, 2, 2, 2, 0, 0, 1, 1, 0],
    ];

    public static TheoryData<int> EndToEndGeometries()
    {
        var d = new TheoryData<int>();
        for (int i = 0; i < EndToEndList.Length; i++) d.Add(i);
        return d;
    }

    [Theory]
    [MemberData(nameof(EndToEndGeometries))]
    public void Pooling_EndToEnd_MatchesLoops_WithPlanesBetweenInfiniteGuards(int ci)
    {
        int[] c = EndToEndList[ci];
        int h = c[0], w = c[1], dh = c[8], dw = c[9];
        var g = new PoolGeometry(h, w, c[2], c[3], c[4], c[5], c[6], c[7], dh, dw, c[10] == 1);
        var rng = new Random(h * 1000 + w);
        for (int planes = 1; planes <= 2; planes++)
            for (int mode = 0; mode < 3; mode++)
            {
                int n = planes * g.InPlane;
                var xb = Plane(rng, n, mode, float.PositiveInfinity);
                var ey = new float[planes * g.OutPlane];
                var ei = new int[planes * g.OutPlane];
                for (int p = 0; p < planes; p++)
                {
                    var py = new float[g.OutPlane];
                    var pi = new int[g.OutPlane];
                    OracleMax(xb, Guard + p * g.InPlane, g, py, pi);
                    py.CopyTo(ey, p * g.OutPlane);
                    pi.CopyTo(ei, p * g.OutPlane);
                }
                var y = new float[ey.Length + 2 * Guard];
                var idx = new int[ey.Length + 2 * Guard];
                Array.Fill(y, YSentinel);
                Array.Fill(idx, ISentinel);
                PoolKernels.MaxPool2dForward<float>(xb.AsSpan(Guard, n), planes, g, y.AsSpan(Guard, ey.Length), idx.AsSpan(Guard, ey.Length));
                Func<string> what = () => $"MaxPool2dForward {g} planes {planes} mode {mode}";
                for (int o = 0; o < ey.Length; o++)
                {
                    if (!Same(ey[o], y[Guard + o])) Assert.Fail($"{what()}: y[{o}] expected {ey[o]}, got {y[Guard + o]}");
                    if (ei[o] != idx[Guard + o]) Assert.Fail($"{what()}: idx[{o}] expected {ei[o]}, got {idx[Guard + o]}");
                }
                AssertSentinels(y, idx, 0, Guard, what);
                AssertSentinels(y, idx, Guard + ey.Length, y.Length, what);

                if (dh != 1 || dw != 1 || mode == 1) continue;
                foreach (var (includePad, div) in new[] { (true, 0), (false, 0), (true, 5) })
                {
                    var ea = new float[planes * g.OutPlane];
                    for (int p = 0; p < planes; p++)
                        OracleAvg(xb, Guard + p * g.InPlane, g, includePad, div).CopyTo(ea, p * g.OutPlane);
                    var ya = new float[ea.Length + 2 * Guard];
                    Array.Fill(ya, YSentinel);
                    PoolKernels.AvgPool2dForward<float>(xb.AsSpan(Guard, n), planes, g, includePad, div, ya.AsSpan(Guard, ea.Length));
                    Func<string> whatA = () => $"AvgPool2dForward {g} planes {planes} mode {mode} includePad {includePad} div {div}";
                    for (int o = 0; o < ea.Length; o++)
                        if (!Same(ea[o], ya[Guard + o])) Assert.Fail($"{whatA()}: y[{o}] expected {ea[o]}, got {ya[Guard + o]}");
                    AssertSentinels(ya, null, 0, Guard, whatA);
                    AssertSentinels(ya, null, Guard + ea.Length, ya.Length, whatA);
                }
            }
    }
}
