using FlexNet.Kernels;
using FlexNet.Tests.Testing;
using Xunit;

namespace FlexNet.Tests.Kernels;

[Trait("Category", "Kernels")]
public sealed class PoolKernelsTests
{
    internal sealed record Cfg(int Planes, int H, int W, int Kh, int Kw, int Sh, int Sw, int Ph, int Pw, int Dh, int Dw, bool Ceil)
    {
        public PoolGeometry Geometry => new(H, W, Kh, Kw, Sh, Sw, Ph, Pw, Dh, Dw, Ceil);
        public bool AvgOk => Dh == 1 && Dw == 1;
    }

    private static readonly Cfg[] CfgList =
    [
        new(2, 8, 8, 2, 2, 2, 2, 0, 0, 1, 1, false),
        new(3, 7, 9, 3, 3, 2, 2, 1, 1, 1, 1, true),
        new(2, 5, 5, 3, 2, 2, 3, 1, 1, 1, 1, true),
        new(1, 6, 7, 2, 3, 3, 2, 1, 1, 1, 1, true),
        new(1, 5, 5, 2, 2, 2, 2, 1, 1, 1, 1, true),      // ceil rule drops a window starting in the right padding
        new(2, 1, 11, 1, 3, 1, 2, 0, 1, 1, 1, false),    // 1d
        new(2, 1, 12, 1, 4, 1, 3, 0, 2, 1, 1, true),     // 1d, ceil
        new(2, 9, 10, 3, 2, 2, 1, 1, 1, 2, 3, true),     // dilated (max only)
        new(1, 3, 3, 3, 3, 1, 1, 1, 1, 1, 1, false),
        new(2, 4, 5, 1, 1, 2, 2, 0, 0, 1, 1, true),
        new(3, 13, 17, 3, 3, 1, 1, 1, 1, 1, 1, false),   // overlapping windows
        new(1, 2, 2, 5, 5, 2, 2, 2, 2, 1, 1, true),      // window larger than the input
        new(8, 64, 64, 3, 3, 2, 2, 1, 1, 1, 1, true),    // big: parallel path
        new(6, 70, 50, 2, 2, 2, 2, 0, 0, 1, 1, false),   // big: parallel path
    ];

    public static TheoryData<int> Cfgs()
    {
        var d = new TheoryData<int>();
        for (int i = 0; i < CfgList.Length; i++) d.Add(i);
        return d;
    }

    private static IEnumerable<Cfg> RandomCfgs(int count, int seed)
    {
        var rng = new Random(seed);
        int made = 0;
        while (made < count)
        {
            int kh = rng.Next(1, 5), kw = rng.Next(1, 5), dh = rng.Next(1, 3), dw = rng.Next(1, 3);
            if (rng.Next(2) == 0) dh = dw = 1;
            int ph = rng.Next(0, (dh * (kh - 1) + 1) / 2 + 1), pw = rng.Next(0, (dw * (kw - 1) + 1) / 2 + 1);
            int h = rng.Next(1, 12), w = rng.Next(1, 20);
            if (rng.Next(5) == 0) { h = 1; kh = 1; ph = 0; dh = 1; }
            var c = new Cfg(rng.Next(1, 4), h, w, kh, kw, rng.Next(1, 4), rng.Next(1, 4), ph, pw, dh, dw, rng.Next(2) == 0);
            if (PoolKernels.PoolOutSize(c.H, c.Kh, c.Sh, c.Ph, c.Dh, c.Ceil) < 1 || PoolKernels.PoolOutSize(c.W, c.Kw, c.Sw, c.Pw, c.Dw, c.Ceil) < 1)
                continue;
            made++;
            yield return c;
        }
    }

    // ------------------------------------------------------------------ naive references

    /// <summary>Max pooling by loops over <paramref name="planes"/> planes of <paramref name="g"/>: the first maximum in window
    /// order (NaN wins), the window's first input element when every value is −∞, index −1 for a window with no input
    /// element (-inf padding never wins). Also the reference of <see cref="PoolMutationGapTests20"/>.</summary>
    internal static void NaiveMax(double[] x, int planes, PoolGeometry g, out double[] y, out int[] idx)
    {
        y = new double[planes * g.OutPlane];
        idx = new int[y.Length];
        for (int p = 0; p < planes; p++)
            for (int oh = 0; oh < g.OutH; oh++)
                for (int ow = 0; ow < g.OutW; ow++)
                {
                    double best = double.NegativeInfinity;
                    int arg = -1;
                    bool first = true;
                    for (int i = 0; i < g.KernelH; i++)
                        for (int j = 0; j < g.KernelW; j++)
                        {
                            int ih = oh * g.StrideH - g.PadH + i * g.DilationH, iw = ow * g.StrideW - g.PadW + j * g.DilationW;
                            if (ih < 0 || ih >= g.InH || iw < 0 || iw >= g.InW) continue; // -inf padding never wins
                            double v = x[p * g.InPlane + ih * g.InW + iw];
                            if (first) { arg = ih * g.InW + iw; first = false; }
                            if (v > best || double.IsNaN(v)) { best = v; arg = ih * g.InW + iw; }
                        }
                    y[p * g.OutPlane + oh * g.OutW + ow] = best;
                    idx[p * g.OutPlane + oh * g.OutW + ow] = arg;
                }
    }

    /// <summary>Counts window positions: poolSize = positions inside [-pad, in + pad), n = positions inside the input.</summary>
    private static double[] NaiveAvg(double[] x, Cfg c, PoolGeometry g, bool includePad, int divisorOverride)
    {
        var y = new double[c.Planes * g.OutPlane];
        for (int p = 0; p < c.Planes; p++)
            for (int oh = 0; oh < g.OutH; oh++)
                for (int ow = 0; ow < g.OutW; ow++)
                {
                    double s = 0;
                    int inside = 0, rowsPadded = 0, colsPadded = 0;
                    for (int i = 0; i < c.Kh; i++)
                    {
                        int ih = oh * c.Sh - c.Ph + i;
                        if (ih >= -c.Ph && ih < c.H + c.Ph) rowsPadded++;
                    }
                    for (int j = 0; j < c.Kw; j++)
                    {
                        int iw = ow * c.Sw - c.Pw + j;
                        if (iw >= -c.Pw && iw < c.W + c.Pw) colsPadded++;
                    }
                    for (int i = 0; i < c.Kh; i++)
                        for (int j = 0; j < c.Kw; j++)
                        {
                            int ih = oh * c.Sh - c.Ph + i, iw = ow * c.Sw - c.Pw + j;
                            if (ih < 0 || ih >= c.H || iw < 0 || iw >= c.W) continue;
                            s += x[p * c.H * c.W + ih * c.W + iw];
                            inside++;
                        }
                    int div = divisorOverride > 0 ? divisorOverride : includePad ? rowsPadded * colsPadded : inside;
                    y[p * g.OutPlane + oh * g.OutW + ow] = s / div;
                }
        return y;
    }

    internal static double[] Rand(Random rng, int n)
    {
        var a = new double[n];
        for (int i = 0; i < n; i++) a[i] = rng.NextDouble() * 2 - 1;
        return a;
    }

    /// <summary>Distinct values at least 0.01 apart (no ties, so max pooling is differentiable at x).</summary>
    private static double[] Distinct(Random rng, int n)
    {
        var a = new double[n];
        for (int i = 0; i < n; i++) a[i] = (i - n / 2) * 0.01;
        for (int i = n - 1; i > 0; i--)
        {
            int j = rng.Next(i + 1);
            (a[i], a[j]) = (a[j], a[i]);
        }
        return a;
    }

    private static double Dot(double[] a, double[] b)
    {
        double s = 0;
        for (int i = 0; i < a.Length; i++) s += a[i] * b[i];
        return s;
    }

    // ------------------------------------------------------------------ output size

    [Theory]
    [InlineData(8, 2, 2, 0, 1, false, 4)]
    [InlineData(11, 3, 2, 0, 1, false, 5)]
    [InlineData(5, 2, 2, 0, 1, false, 2)]
    [InlineData(5, 2, 2, 0, 1, true, 3)]
    [InlineData(4, 2, 2, 1, 1, true, 3)]
    [InlineData(5, 2, 2, 1, 1, true, 3)]    // ceil gives 4, but that window would start in the right padding
    [InlineData(5, 2, 2, 1, 1, false, 3)]
    [InlineData(7, 3, 3, 0, 1, false, 2)]
    [InlineData(7, 3, 3, 0, 1, true, 3)]
    [InlineData(6, 3, 3, 0, 1, true, 2)]
    [InlineData(10, 3, 2, 1, 2, true, 5)]   // (10+2-4-1+1)/2+1 = 5; (5-1)*2=8 < 11
    [InlineData(2, 5, 2, 2, 1, true, 2)]    // ceil((2+4-4-1)/2)+1 = 2; the second window starts at 0, inside the input
    [InlineData(2, 5, 2, 2, 1, false, 1)]
    [InlineData(2, 2, 3, 1, 1, true, 1)]    // ceil((2+2-1-1)/3)+1 = 2, but (2-1)*3 = 3 >= 2+1: dropped
    public void PoolOutSize_PyTorchRules(int n, int k, int s, int p, int d, bool ceil, int expected) =>
        Assert.Equal(expected, PoolKernels.PoolOutSize(n, k, s, p, d, ceil));

    [Fact]
    public void Geometry_RejectsInvalidHyperParameters()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new PoolGeometry(8, 8, 2, 2, 2, 2, 2, 0));   // pad > k/2
        Assert.Throws<ArgumentOutOfRangeException>(() => new PoolGeometry(8, 8, 3, 3, 0, 1, 0, 0));   // stride 0
        Assert.Throws<ShapeMismatchException>(() => new PoolGeometry(2, 2, 3, 3, 1, 1, 0, 0));        // empty output
        var dilated = new PoolGeometry(9, 9, 3, 3, 1, 1, 0, 0, 2, 2);
        var x = new double[81];
        var y = new double[dilated.OutPlane];
        Assert.Throws<ArgumentOutOfRangeException>(() => PoolKernels.AvgPool2dForward<double>(x, 1, dilated, true, 0, y));
        var g = new PoolGeometry(8, 8, 2, 2, 2, 2, 0, 0);
        Assert.Throws<ShapeMismatchException>(() => PoolKernels.MaxPool2dForward<double>(x.AsSpan(0, 63), 1, g, new double[16], new int[16]));
        var ex = Assert.Throws<ShapeMismatchException>(() => PoolKernels.MaxPool2dForward<double>(x, 1, g, new double[16], new int[15]));
        Assert.Contains("indices", ex.Message);
    }

    // ------------------------------------------------------------------ forward/backward vs naive

    private static void CheckMax(Cfg c, int seed)
    {
        var g = c.Geometry;
        var rng = new Random(seed);
        var x = Rand(rng, c.Planes * c.H * c.W);
        if (x.Length > 3) { x[1] = x[0]; x[3] = x[2]; } // ties: the first maximum must win
        NaiveMax(x, c.Planes, g, out var ey, out var eidx);
        var y = new double[ey.Length];
        var idx = new int[ey.Length];
        PoolKernels.MaxPool2dForward<double>(x, c.Planes, g, y, idx);
        for (int i = 0; i < y.Length; i++)
        {
            Assert.True(ey[i] == y[i], $"MaxPool {c}: y[{i}] expected {ey[i]}, got {y[i]}");
            Assert.True(eidx[i] == idx[i], $"MaxPool {c}: idx[{i}] expected {eidx[i]}, got {idx[i]}");
        }

        var gy = Rand(rng, y.Length);
        var start = Rand(rng, x.Length);
        var egx = (double[])start.Clone();
        for (int p = 0; p < c.Planes; p++)
            for (int o = 0; o < g.OutPlane; o++)
                if (eidx[p * g.OutPlane + o] >= 0) egx[p * c.H * c.W + eidx[p * g.OutPlane + o]] += gy[p * g.OutPlane + o];
        var gx = (double[])start.Clone();
        PoolKernels.MaxPool2dBackward<double>(gy, idx, c.Planes, g, gx);
        for (int i = 0; i < gx.Length; i++)
            Assert.True(Math.Abs(egx[i] - gx[i]) <= 1e-14, $"MaxPool backward {c}: gx[{i}] expected {egx[i]}, got {gx[i]}");
    }

    private static void CheckAvg(Cfg c, int seed, bool includePad, int divisorOverride)
    {
        var g = c.Geometry;
        var rng = new Random(seed);
        var x = Rand(rng, c.Planes * c.H * c.W);
        var ey = NaiveAvg(x, c, g, includePad, divisorOverride);
        var y = new double[ey.Length];
        PoolKernels.AvgPool2dForward<double>(x, c.Planes, g, includePad, divisorOverride, y);
        for (int i = 0; i < y.Length; i++)
            Assert.True(Math.Abs(ey[i] - y[i]) <= 1e-14, $"AvgPool {c} pad={includePad} div={divisorOverride}: y[{i}] expected {ey[i]}, got {y[i]}");

        // Backward is the adjoint of the (linear) forward: <gy, A x> == <A^T gy, x>, checked per basis vector
        // against the naive forward for small cases and by the dot-product identity for all.
        var gy = Rand(rng, y.Length);
        var start = Rand(rng, x.Length);
        var gx = (double[])start.Clone();
        PoolKernels.AvgPool2dBackward<double>(gy, c.Planes, g, includePad, divisorOverride, gx);
        for (int i = 0; i < gx.Length; i++) gx[i] -= start[i];
        Assert.True(Math.Abs(Dot(gy, ey) - Dot(gx, x)) <= 1e-12 * Math.Max(1, gy.Length), $"AvgPool backward {c}: adjoint identity");
        if (x.Length <= 400)
        {
            var e = new double[x.Length];
            for (int i = 0; i < x.Length; i++)
            {
                e[i] = 1;
                double col = Dot(gy, NaiveAvg(e, c, g, includePad, divisorOverride));
                e[i] = 0;
                Assert.True(Math.Abs(col - gx[i]) <= 1e-14, $"AvgPool backward {c}: gx[{i}] expected {col}, got {gx[i]}");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Cfgs))]
    public void MaxPool_MatchesNaive(int ci) => CheckMax(CfgList[ci], ci);

    [Theory]
    [MemberData(nameof(Cfgs))]
    public void AvgPool_MatchesNaive(int ci)
    {
        var c = CfgList[ci];
        if (!c.AvgOk) return;
        CheckAvg(c, ci, includePad: true, 0);
        CheckAvg(c, ci + 1, includePad: false, 0);
        CheckAvg(c, ci + 2, includePad: true, 5);
    }

    [Fact]
    public void Pooling_MatchesNaive_RandomSweep()
    {
        int k = 0;
        foreach (var c in RandomCfgs(300, 4321))
        {
            CheckMax(c, k);
            if (c.AvgOk)
            {
                CheckAvg(c, k, (k & 1) == 0, 0);
                if (k % 5 == 0) CheckAvg(c, k, true, 1 + k % 7);
            }
            k++;
        }
    }

    [Theory]
    [MemberData(nameof(Cfgs))]
    public void Float_MatchesNaive(int ci)
    {
        var c = CfgList[ci];
        var g = c.Geometry;
        var rng = new Random(ci);
        var xf = Array.ConvertAll(Rand(rng, c.Planes * c.H * c.W), v => (float)v);
        var xd = Array.ConvertAll(xf, v => (double)v);
        NaiveMax(xd, c.Planes, g, out var ey, out var eidx);
        var y = new float[ey.Length];
        var idx = new int[ey.Length];
        PoolKernels.MaxPool2dForward<float>(xf, c.Planes, g, y, idx);
        for (int i = 0; i < y.Length; i++)
        {
            Assert.True((float)ey[i] == y[i], $"MaxPool<float> {c}: y[{i}] expected {ey[i]}, got {y[i]}");
            Assert.Equal(eidx[i], idx[i]);
        }
        var gyf = Array.ConvertAll(Rand(rng, y.Length), v => (float)v);
        var gxf = new float[xf.Length];
        PoolKernels.MaxPool2dBackward<float>(gyf, idx, c.Planes, g, gxf);
        var egx = new double[xf.Length];
        for (int p = 0; p < c.Planes; p++)
            for (int o = 0; o < g.OutPlane; o++)
                egx[p * c.H * c.W + eidx[p * g.OutPlane + o]] += gyf[p * g.OutPlane + o];
        for (int i = 0; i < gxf.Length; i++) Assert.True(Math.Abs(egx[i] - gxf[i]) <= 1e-5, $"MaxPool<float> backward {c}: gx[{i}]");

        if (!c.AvgOk) return;
        var ea = NaiveAvg(xd, c, g, true, 0);
        var ya = new float[ea.Length];
        PoolKernels.AvgPool2dForward<float>(xf, c.Planes, g, true, 0, ya);
        for (int i = 0; i < ya.Length; i++)
            Assert.True(Math.Abs(ea[i] - ya[i]) <= 1e-6, $"AvgPool<float> {c}: y[{i}] expected {ea[i]}, got {ya[i]}");
    }

    /// <summary>float naive average in the kernels' summation order (row-major over the window), so results must be bitwise equal.</summary>
    private static float[] NaiveAvgFloat(float[] x, Cfg c, PoolGeometry g, bool includePad, int divisorOverride)
    {
        var y = new float[c.Planes * g.OutPlane];
        for (int p = 0; p < c.Planes; p++)
            for (int oh = 0; oh < g.OutH; oh++)
                for (int ow = 0; ow < g.OutW; ow++)
                {
                    float s = 0;
                    int inside = 0, rows = 0, cols = 0;
                    for (int i = 0; i < c.Kh; i++)
                    {
                        int ih = oh * c.Sh - c.Ph + i;
                        if (ih >= -c.Ph && ih < c.H + c.Ph) rows++;
                    }
                    for (int j = 0; j < c.Kw; j++)
                    {
                        int iw = ow * c.Sw - c.Pw + j;
                        if (iw >= -c.Pw && iw < c.W + c.Pw) cols++;
                    }
                    for (int i = 0; i < c.Kh; i++)
                        for (int j = 0; j < c.Kw; j++)
                        {
                            int ih = oh * c.Sh - c.Ph + i, iw = ow * c.Sw - c.Pw + j;
                            if (ih < 0 || ih >= c.H || iw < 0 || iw >= c.W) continue;
                            s += x[p * c.H * c.W + ih * c.W + iw];
                            inside++;
                        }
                    y[p * g.OutPlane + oh * g.OutW + ow] = s / (divisorOverride > 0 ? divisorOverride : includePad ? rows * cols : inside);
                }
        return y;
    }

    /// <summary>Wide rows (the float SIMD paths: strides 1-2, 4/8-lane chunks, overlapping last chunk, end-of-plane fallback), with NaNs and ties.</summary>
    [Fact]
    public void Float_RandomSweep_WideRows_BitwiseAsNaive()
    {
        var rng = new Random(2024);
        for (int k = 0; k < 300; k++)
        {
            int kh = rng.Next(1, 5), kw = rng.Next(1, 5), dh = rng.Next(1, 3), dw = rng.Next(1, 3);
            if (k % 2 == 0) dh = dw = 1;
            int ph = rng.Next(0, (dh * (kh - 1) + 1) / 2 + 1), pw = rng.Next(0, (dw * (kw - 1) + 1) / 2 + 1);
            var c = new Cfg(rng.Next(1, 4), rng.Next(1, 9), rng.Next(8, 70), kh, kw, rng.Next(1, 4), rng.Next(1, 3), ph, pw, dh, dw, rng.Next(2) == 0);
            if (PoolKernels.PoolOutSize(c.H, c.Kh, c.Sh, c.Ph, c.Dh, c.Ceil) < 1 || PoolKernels.PoolOutSize(c.W, c.Kw, c.Sw, c.Pw, c.Dw, c.Ceil) < 1)
                continue;
            var g = c.Geometry;
            var x = new float[c.Planes * c.H * c.W];
            for (int i = 0; i < x.Length; i++) x[i] = (float)Math.Round(rng.NextDouble() * 8, 1); // coarse values: many ties
            if (k % 3 == 0) x[rng.Next(x.Length)] = float.NaN;
            NaiveMax(Array.ConvertAll(x, v => (double)v), c.Planes, g, out var ey, out var eidx);
            var y = new float[ey.Length];
            var idx = new int[ey.Length];
            PoolKernels.MaxPool2dForward<float>(x, c.Planes, g, y, idx);
            for (int i = 0; i < y.Length; i++)
            {
                Assert.True(((float)ey[i]).Equals(y[i]), $"MaxPool<float> {c}: y[{i}] expected {ey[i]}, got {y[i]}");
                Assert.True(eidx[i] == idx[i], $"MaxPool<float> {c}: idx[{i}] expected {eidx[i]}, got {idx[i]}");
            }
            if (!c.AvgOk) continue;
            bool includePad = k % 4 != 1;
            int div = k % 5 == 0 ? 7 : 0;
            var ea = NaiveAvgFloat(x, c, g, includePad, div);
            var ya = new float[ea.Length];
            PoolKernels.AvgPool2dForward<float>(x, c.Planes, g, includePad, div, ya);
            for (int i = 0; i < ya.Length; i++)
                Assert.True(ea[i].Equals(ya[i]), $"AvgPool<float> {c} pad={includePad} div={div}: y[{i}] expected {ea[i]}, got {ya[i]}");

            // Backward: adjoint identity against the float forward, in double.
            var gy = new float[ya.Length];
            for (int i = 0; i < gy.Length; i++) gy[i] = (float)(rng.NextDouble() * 2 - 1);
            var gx = new float[x.Length];
            PoolKernels.AvgPool2dBackward<float>(gy, c.Planes, g, includePad, div, gx);
            var xd = new double[x.Length];
            for (int i = 0; i < xd.Length; i++) xd[i] = rng.NextDouble();
            var yd = NaiveAvg(xd, c, g, includePad, div);
            double lhs = 0, rhs = 0;
            for (int i = 0; i < yd.Length; i++) lhs += gy[i] * yd[i];
            for (int i = 0; i < xd.Length; i++) rhs += gx[i] * xd[i];
            Assert.True(Math.Abs(lhs - rhs) <= 1e-5 * Math.Max(1, Math.Abs(lhs)), $"AvgPool<float> backward {c}: <gy, A x> {lhs} vs <A^T gy, x> {rhs}");
        }
    }

    // ------------------------------------------------------------------ finite differences (double)

    public static TheoryData<int> SmallCfgs()
    {
        var d = new TheoryData<int>();
        for (int i = 0; i < CfgList.Length; i++)
            if (CfgList[i].Planes * CfgList[i].H * CfgList[i].W <= 600) d.Add(i);
        return d;
    }

    [Theory]
    [MemberData(nameof(SmallCfgs))]
    public void MaxPool_Gradient_FiniteDifferences(int ci)
    {
        var c = CfgList[ci];
        var g = c.Geometry;
        var rng = new Random(100 + ci);
        var x = Distinct(rng, c.Planes * c.H * c.W);
        var gy = Rand(rng, c.Planes * g.OutPlane);
        var y = new double[gy.Length];
        var idx = new int[gy.Length];
        double Loss(double[] xx)
        {
            PoolKernels.MaxPool2dForward<double>(xx, c.Planes, g, y, idx);
            return Dot(y, gy);
        }
        Loss(x);
        var gx = new double[x.Length];
        PoolKernels.MaxPool2dBackward<double>(gy, idx, c.Planes, g, gx);
        const double eps = 1e-4; // values are 0.01 apart: the argmax never changes within ±eps
        for (int i = 0; i < x.Length; i++)
        {
            double keep = x[i];
            x[i] = keep + eps; double lp = Loss(x);
            x[i] = keep - eps; double lm = Loss(x);
            x[i] = keep;
            double num = (lp - lm) / (2 * eps);
            Assert.True(Math.Abs(num - gx[i]) <= 1e-9, $"MaxPool {c}: dL/dx[{i}] numeric {num}, analytic {gx[i]}");
        }
    }

    [Theory]
    [MemberData(nameof(SmallCfgs))]
    public void AvgPool_Gradient_FiniteDifferences(int ci)
    {
        var c = CfgList[ci];
        if (!c.AvgOk) return;
        var g = c.Geometry;
        foreach (var (includePad, div) in new[] { (true, 0), (false, 0), (true, 3) })
        {
            var rng = new Random(200 + ci);
            var x = Rand(rng, c.Planes * c.H * c.W);
            var gy = Rand(rng, c.Planes * g.OutPlane);
            var y = new double[gy.Length];
            double Loss(double[] xx)
            {
                PoolKernels.AvgPool2dForward<double>(xx, c.Planes, g, includePad, div, y);
                return Dot(y, gy);
            }
            var gx = new double[x.Length];
            PoolKernels.AvgPool2dBackward<double>(gy, c.Planes, g, includePad, div, gx);
            const double eps = 1e-5;
            for (int i = 0; i < x.Length; i++)
            {
                double keep = x[i];
                x[i] = keep + eps; double lp = Loss(x);
                x[i] = keep - eps; double lm = Loss(x);
                x[i] = keep;
                double num = (lp - lm) / (2 * eps);
                Assert.True(Math.Abs(num - gx[i]) <= 1e-8, $"AvgPool {c} pad={includePad} div={div}: dL/dx[{i}] numeric {num}, analytic {gx[i]}");
            }
        }
    }

    // ------------------------------------------------------------------ special values

    [Fact]
    public void MaxPool_NaNPropagates_AndAllMinusInfinityKeepsFirstIndex()
    {
        var g = new PoolGeometry(2, 4, 2, 2, 2, 2, 0, 0);
        double[] x = [1, double.NaN, double.NegativeInfinity, double.NegativeInfinity,
                      5, 2, double.NegativeInfinity, double.NegativeInfinity];
        var y = new double[2];
        var idx = new int[2];
        PoolKernels.MaxPool2dForward<double>(x, 1, g, y, idx);
        Assert.True(double.IsNaN(y[0]));
        Assert.Equal(1, idx[0]);
        Assert.Equal(double.NegativeInfinity, y[1]);
        Assert.Equal(2, idx[1]);
    }

    // ------------------------------------------------------------------ global pooling

    [Theory]
    [InlineData(1, 1)]
    [InlineData(3, 7)]
    [InlineData(4, 49)]
    [InlineData(6, 67)]
    public void GlobalPooling_MatchesNaive(int planes, int size)
    {
        var rng = new Random(planes * 1000 + size);
        var x = Rand(rng, planes * size);
        var ya = new double[planes];
        PoolKernels.GlobalAvgPoolForward<double>(x, planes, size, ya);
        var ym = new double[planes];
        var idx = new int[planes];
        PoolKernels.GlobalMaxPoolForward<double>(x, planes, size, ym, idx);
        var gy = Rand(rng, planes);
        var start = Rand(rng, x.Length);
        var gxa = (double[])start.Clone();
        PoolKernels.GlobalAvgPoolBackward<double>(gy, planes, size, gxa);
        var gxm = (double[])start.Clone();
        PoolKernels.GlobalMaxPoolBackward<double>(gy, idx, planes, size, gxm);
        for (int p = 0; p < planes; p++)
        {
            double s = 0, best = double.NegativeInfinity;
            int arg = -1;
            for (int i = 0; i < size; i++)
            {
                double v = x[p * size + i];
                s += v;
                if (v > best) { best = v; arg = i; }
            }
            Assert.Equal(s / size, ya[p], 1e-14);
            Assert.Equal(best, ym[p]);
            Assert.Equal(arg, idx[p]);
            for (int i = 0; i < size; i++)
            {
                int k = p * size + i;
                Assert.Equal(start[k] + gy[p] / size, gxa[k], 1e-15);
                Assert.Equal(start[k] + (i == arg ? gy[p] : 0), gxm[k]);
            }
        }

        var xf = Array.ConvertAll(x, v => (float)v);
        var yf = new float[planes];
        PoolKernels.GlobalAvgPoolForward<float>(xf, planes, size, yf);
        for (int p = 0; p < planes; p++) Assert.Equal(ya[p], yf[p], 1e-5);
    }

    // ------------------------------------------------------------------ PyTorch reference cases

    private static void AssertClose(double[] expected, double[] actual, double tol, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tol * Math.Max(1.0, Math.Abs(expected[i])),
                $"{what}[{i}]: reference {expected[i]:R}, got {actual[i]:R}");
    }

    [Theory]
    [InlineData("maxpool2d")]
    [InlineData("maxpool1d")]
    [InlineData("avgpool2d")]
    public void ReferencePooling(string caseName)
    {
        var r = SafetensorsTestReader.OpenReference(caseName);
        string op = r.Meta("op") ?? caseName;
        bool isMax = op.Contains("max", StringComparison.OrdinalIgnoreCase);
        var xs = r.Shape("x");
        bool is1d = xs.Length == 3;
        int dims = is1d ? 1 : 2;
        int planes = xs[0] * xs[1], h = is1d ? 1 : xs[2], w = xs[^1];
        var kernel = r.MetaInts(r.Meta("kernel") is null ? "kernel_size" : "kernel", dims, -1);
        Assert.True(kernel[0] > 0, $"{caseName}: no kernel in metadata");
        var stride = r.Meta("stride") is null or "None" or "null" ? (int[])kernel.Clone() : r.MetaInts("stride", dims, 0); // PyTorch: stride defaults to kernel
        var pad = r.MetaInts("padding", dims, 0);
        var dil = r.MetaInts("dilation", dims, 1);
        bool ceil = r.MetaBool("ceil_mode", false);
        bool includePad = r.MetaBool("count_include_pad", true);
        int divisor = r.MetaInts("divisor_override", 1, 0)[0];

        var g = is1d
            ? PoolGeometry.For1d(w, kernel[0], stride[0], pad[0], dil[0], ceil)
            : new PoolGeometry(h, w, kernel[0], kernel[1], stride[0], stride[1], pad[0], pad[1], dil[0], dil[1], ceil);
        var x = r.F64("x");
        var gy = r.F64("g_y");
        Assert.Equal(planes * g.OutPlane, gy.Length);
        var y = new double[gy.Length];
        var gx = new double[x.Length];
        if (isMax)
        {
            var idx = new int[y.Length];
            PoolKernels.MaxPool2dForward<double>(x, planes, g, y, idx);
            PoolKernels.MaxPool2dBackward<double>(gy, idx, planes, g, gx);
        }
        else
        {
            PoolKernels.AvgPool2dForward<double>(x, planes, g, includePad, divisor, y);
            PoolKernels.AvgPool2dBackward<double>(gy, planes, g, includePad, divisor, gx);
        }
        AssertClose(r.F64("out_y"), y, 1e-10, $"{caseName} out_y");
        AssertClose(r.F64("grad_x"), gx, 1e-10, $"{caseName} grad_x");
    }
}
