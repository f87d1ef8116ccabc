using FlexNet.Kernels;
using FlexNet.Tests.Testing;
using Xunit;

namespace FlexNet.Tests.Kernels;

[Trait("Category", "Kernels")]
public sealed class ConvKernelsTests
{
    // ------------------------------------------------------------------ geometry

    public sealed record Geo(int C, int H, int W, int Kh, int Kw, int Sh, int Sw, int Pt, int Pl, int Pb, int Pr, int Dh, int Dw)
    {
        public int OutH => ConvKernels.ConvOutSize(H, Kh, Sh, Pt, Pb, Dh);
        public int OutW => ConvKernels.ConvOutSize(W, Kw, Sw, Pl, Pr, Dw);
        public int ColsLength => C * Kh * Kw * OutH * OutW;
        public int ImageLength => C * H * W;
    }

    /// <summary>Hand-picked geometries: odd sizes, strides 1-3, dilations 1-2, asymmetric padding, kernel larger than the input.</summary>
    private static readonly Geo[] GeoList =
    [
        new(1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1),
        new(3, 5, 7, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1),
        new(2, 8, 6, 3, 3, 2, 2, 0, 0, 0, 0, 1, 1),
        new(2, 8, 6, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2),
        new(3, 7, 9, 2, 4, 3, 2, 1, 0, 2, 3, 1, 2),
        new(1, 3, 4, 5, 6, 1, 1, 2, 3, 2, 3, 1, 1),      // kernel bigger than input, padded
        new(2, 2, 3, 5, 5, 2, 3, 3, 2, 1, 4, 1, 1),      // kernel bigger than input, asymmetric
        new(4, 1, 37, 1, 3, 1, 1, 0, 1, 0, 1, 1, 1),     // conv1d, same
        new(3, 1, 41, 1, 5, 1, 2, 0, 4, 0, 3, 1, 2),     // conv1d, stride 2, dilation 2
        new(2, 11, 40, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1),    // wide rows: vector path in Col2Im
        new(2, 9, 53, 2, 3, 1, 1, 0, 2, 1, 0, 2, 1),
        new(1, 6, 6, 3, 3, 3, 3, 2, 2, 2, 2, 2, 2),
        new(2, 5, 5, 3, 3, 2, 2, 1, 1, 0, 0, 1, 1),
        new(1, 4, 4, 2, 2, 1, 1, -1, 0, 0, -1, 1, 1),    // negative padding crops
        new(16, 33, 33, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1),   // big: parallel path
        new(5, 40, 37, 3, 2, 2, 1, 2, 1, 0, 1, 1, 2),    // big, odd: parallel path
        new(3, 6, 45, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1),     // stride 2, wide rows: float de-interleave path
        new(2, 5, 34, 2, 4, 1, 2, 0, 3, 1, 2, 1, 2),     // stride 2, dilation 2, reads near the plane end
        new(1, 1, 5, 5, 3, 1, 1, 2, 1, 2, 1, 1, 1),      // flat path (stride 1, outW = W), kernel rows wholly in the padding
    ];

    /// <summary>Indices into the hand-picked geometries (ints keep the theory rows serializable).</summary>
    public static TheoryData<int> Geometries()
    {
        var d = new TheoryData<int>();
        for (int i = 0; i < GeoList.Length; i++) d.Add(i);
        return d;
    }

    /// <summary>A deterministic sweep of random small geometries (covers every output width 1..~20 and tails).</summary>
    private static IEnumerable<Geo> RandomGeometries(int count, int seed)
    {
        var rng = new Random(seed);
        int made = 0;
        while (made < count)
        {
            int c = rng.Next(1, 4), h = rng.Next(1, 10), w = rng.Next(1, made % 2 == 0 ? 24 : 60);
            int kh = rng.Next(1, 6), kw = rng.Next(1, 6), sh = rng.Next(1, 4), sw = rng.Next(1, 4);
            int dh = rng.Next(1, 3), dw = rng.Next(1, 3);
            int pt = rng.Next(0, 4), pl = rng.Next(0, 4), pb = rng.Next(0, 4), pr = rng.Next(0, 4);
            var g = new Geo(c, h, w, kh, kw, sh, sw, pt, pl, pb, pr, dh, dw);
            if (g.OutH < 1 || g.OutW < 1) continue;
            made++;
            yield return g;
        }
    }

    private static double[] NaiveIm2Col(double[] x, Geo g)
    {
        int oh = g.OutH, ow = g.OutW;
        var cols = new double[g.ColsLength];
        for (int c = 0; c < g.C; c++)
            for (int i = 0; i < g.Kh; i++)
                for (int j = 0; j < g.Kw; j++)
                    for (int y = 0; y < oh; y++)
                        for (int z = 0; z < ow; z++)
                        {
                            int ih = y * g.Sh - g.Pt + i * g.Dh, iw = z * g.Sw - g.Pl + j * g.Dw;
                            double v = ih >= 0 && ih < g.H && iw >= 0 && iw < g.W ? x[(c * g.H + ih) * g.W + iw] : 0.0;
                            cols[((c * g.Kh + i) * g.Kw + j) * oh * ow + y * ow + z] = v;
                        }
        return cols;
    }

    private static void NaiveCol2Im(double[] cols, Geo g, double[] img)
    {
        int oh = g.OutH, ow = g.OutW;
        for (int c = 0; c < g.C; c++)
            for (int i = 0; i < g.Kh; i++)
                for (int j = 0; j < g.Kw; j++)
                    for (int y = 0; y < oh; y++)
                        for (int z = 0; z < ow; z++)
                        {
                            int ih = y * g.Sh - g.Pt + i * g.Dh, iw = z * g.Sw - g.Pl + j * g.Dw;
                            if (ih >= 0 && ih < g.H && iw >= 0 && iw < g.W)
                                img[(c * g.H + ih) * g.W + iw] += cols[((c * g.Kh + i) * g.Kw + j) * oh * ow + y * ow + z];
                        }
    }

    private static double[] Rand(Random rng, int n)
    {
        var a = new double[n];
        for (int i = 0; i < n; i++) a[i] = rng.NextDouble() * 2 - 1;
        return a;
    }

    private static void Im2ColD(ReadOnlySpan<double> x, Geo g, Span<double> cols) =>
        ConvKernels.Im2Col<double>(x, g.C, g.H, g.W, g.Kh, g.Kw, g.Sh, g.Sw, g.Pt, g.Pl, g.Pb, g.Pr, g.Dh, g.Dw, cols);

    private static void Col2ImD(ReadOnlySpan<double> cols, Geo g, Span<double> img) =>
        ConvKernels.Col2Im(cols, g.C, g.H, g.W, g.Kh, g.Kw, g.Sh, g.Sw, g.Pt, g.Pl, g.Pb, g.Pr, g.Dh, g.Dw, img);

    private static void CheckIm2ColDouble(Geo g, int seed)
    {
        var rng = new Random(seed);
        var x = Rand(rng, g.ImageLength);
        var expected = NaiveIm2Col(x, g);
        var cols = new double[g.ColsLength + 3];
        Array.Fill(cols, double.NaN); // every element must be written (zeros for padding)
        cols[^1] = cols[^2] = cols[^3] = 42.0;
        Im2ColD(x, g, cols);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(expected[i] == cols[i], $"Im2Col {g}: element {i}: expected {expected[i]}, got {cols[i]}");
        Assert.Equal(42.0, cols[^1]); // writes nothing past the column matrix
    }

    private static void CheckCol2ImDouble(Geo g, int seed)
    {
        var rng = new Random(seed);
        var cols = Rand(rng, g.ColsLength);
        var start = Rand(rng, g.ImageLength);
        var expected = (double[])start.Clone();
        NaiveCol2Im(cols, g, expected);
        var img = (double[])start.Clone();
        Col2ImD(cols, g, img);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(expected[i] == img[i], $"Col2Im {g}: element {i}: expected {expected[i]}, got {img[i]}");
    }

    [Theory]
    [MemberData(nameof(Geometries))]
    public void Im2Col_MatchesNaive_Double(int gi) => CheckIm2ColDouble(GeoList[gi], 1);

    [Theory]
    [MemberData(nameof(Geometries))]
    public void Col2Im_AccumulatesLikeNaive_Double(int gi) => CheckCol2ImDouble(GeoList[gi], 2);

    [Fact]
    public void Im2ColAndCol2Im_MatchNaive_RandomSweep()
    {
        int k = 0;
        foreach (var g in RandomGeometries(400, 1234))
        {
            CheckIm2ColDouble(g, k);
            CheckCol2ImDouble(g, k + 1);
            CheckFloat(g, k + 2);
            k++;
        }
    }

    [Theory]
    [MemberData(nameof(Geometries))]
    public void Float_MatchesNaive(int gi) => CheckFloat(GeoList[gi], 7);

    private static void CheckFloat(Geo g, int seed)
    {
        var rng = new Random(seed);
        var xd = Rand(rng, g.ImageLength);
        var x = Array.ConvertAll(xd, v => (float)v);
        var expected = NaiveIm2Col(Array.ConvertAll(x, v => (double)v), g);
        var cols = new float[g.ColsLength];
        Array.Fill(cols, float.NaN);
        ConvKernels.Im2Col<float>(x, g.C, g.H, g.W, g.Kh, g.Kw, g.Sh, g.Sw, g.Pt, g.Pl, g.Pb, g.Pr, g.Dh, g.Dw, cols);
        for (int i = 0; i < expected.Length; i++)
            Assert.True((float)expected[i] == cols[i], $"Im2Col<float> {g}: element {i}: expected {expected[i]}, got {cols[i]}");

        // Col2Im<float>: same accumulation order as the naive loop (per element: kernel offset, then output position).
        var colsIn = Array.ConvertAll(Rand(rng, g.ColsLength), v => (float)v);
        var start = Array.ConvertAll(Rand(rng, g.ImageLength), v => (float)v);
        var expImg = (float[])start.Clone();
        int oh = g.OutH, ow = g.OutW;
        for (int c = 0; c < g.C; c++)
            for (int i = 0; i < g.Kh; i++)
                for (int j = 0; j < g.Kw; j++)
                    for (int y = 0; y < oh; y++)
                        for (int z = 0; z < ow; z++)
                        {
                            int ih = y * g.Sh - g.Pt + i * g.Dh, iw = z * g.Sw - g.Pl + j * g.Dw;
                            if (ih >= 0 && ih < g.H && iw >= 0 && iw < g.W)
                                expImg[(c * g.H + ih) * g.W + iw] += colsIn[((c * g.Kh + i) * g.Kw + j) * oh * ow + y * ow + z];
                        }
        var img = (float[])start.Clone();
        ConvKernels.Col2Im<float>(colsIn, g.C, g.H, g.W, g.Kh, g.Kw, g.Sh, g.Sw, g.Pt, g.Pl, g.Pb, g.Pr, g.Dh, g.Dw, img);
        for (int i = 0; i < expImg.Length; i++)
            Assert.True(expImg[i] == img[i], $"Col2Im<float> {g}: element {i}: expected {expImg[i]}, got {img[i]}");
    }

    [Fact]
    public void Col2Im_IsAdjointOfIm2Col()
    {
        int k = 0;
        foreach (var g in RandomGeometries(200, 99).Concat(GeoList))
        {
            var rng = new Random(k++);
            var x = Rand(rng, g.ImageLength);
            var y = Rand(rng, g.ColsLength);
            var cols = new double[g.ColsLength];
            Im2ColD(x, g, cols);
            var back = new double[g.ImageLength];
            Col2ImD(y, g, back);
            double lhs = 0, rhs = 0, scale = 0;
            for (int i = 0; i < cols.Length; i++) { lhs += cols[i] * y[i]; scale += Math.Abs(cols[i] * y[i]); }
            for (int i = 0; i < x.Length; i++) rhs += x[i] * back[i];
            Assert.True(Math.Abs(lhs - rhs) <= 1e-13 * Math.Max(1, scale), $"{g}: <Im2Col x, y> = {lhs}, <x, Col2Im y> = {rhs}");
        }
    }

    // ------------------------------------------------------------------ size helpers

    [Theory]
    [InlineData(8, 3, 1, 1, 1, 1, 8)]
    [InlineData(8, 3, 2, 0, 0, 1, 3)]
    [InlineData(6, 3, 2, 0, 0, 1, 2)]
    [InlineData(8, 3, 1, 2, 2, 2, 8)]
    [InlineData(5, 2, 3, 1, 2, 1, 3)]   // (5+3-1-1)/3+1 = 3
    [InlineData(3, 5, 1, 2, 2, 1, 3)]
    [InlineData(2, 3, 1, 0, 0, 1, 0)]   // kernel does not fit: floor(-1/1)+1 = 0
    [InlineData(2, 5, 2, 0, 0, 1, -1)]  // floor(-3/2)+1 = -1 (floor, not truncation)
    [InlineData(11, 3, 1, 1, 1, 1, 11)]
    public void ConvOutSize_Formula(int n, int k, int s, int pb, int pa, int d, int expected) =>
        Assert.Equal(expected, ConvKernels.ConvOutSize(n, k, s, pb, pa, d));

    [Theory]
    [InlineData(1, 1, 0, 0)]
    [InlineData(3, 1, 1, 1)]
    [InlineData(4, 1, 1, 2)]
    [InlineData(3, 2, 2, 2)]
    [InlineData(4, 3, 4, 5)]
    [InlineData(5, 1, 2, 2)]
    public void SamePadding_PyTorchSemantics(int k, int d, int before, int after)
    {
        var (b, a) = ConvKernels.SamePadding(k, d);
        Assert.Equal(before, b);
        Assert.Equal(after, a);
        for (int n = 1; n < 20; n++) Assert.Equal(n, ConvKernels.ConvOutSize(n, k, 1, b, a, d));
    }

    [Fact]
    public void InvalidArguments_Throw()
    {
        var x = new double[2 * 4 * 4];
        var cols = new double[2 * 9 * 16];
        Assert.Throws<ShapeMismatchException>(() =>
            ConvKernels.Im2Col<double>(x, 2, 4, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, cols.AsSpan(0, cols.Length - 1)));
        Assert.Throws<ShapeMismatchException>(() =>
            ConvKernels.Im2Col<double>(x.AsSpan(0, 31), 2, 4, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, cols));
        var ex = Assert.Throws<ShapeMismatchException>(() =>
            ConvKernels.Im2Col<double>(x, 2, 4, 4, 5, 5, 1, 1, 0, 0, 0, 0, 1, 1, cols));
        Assert.Contains("Im2Col", ex.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() =>
            ConvKernels.Col2Im<double>(cols, 2, 4, 4, 3, 3, 0, 1, 1, 1, 1, 1, 1, 1, x));
        Assert.Throws<ShapeMismatchException>(() =>
            ConvKernels.Col2Im<double>(cols, 2, 4, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, x.AsSpan(0, 31)));
    }

    // ------------------------------------------------------------------ bias helpers

    [Theory]
    [InlineData(1, 1, 1)]
    [InlineData(2, 3, 17)]
    [InlineData(3, 5, 64)]
    [InlineData(2, 4, 33)]
    public void ChannelBias_ForwardAndBackward(int n, int c, int l)
    {
        var rng = new Random(n * 100 + c * 10 + l);
        var x = Rand(rng, n * c * l);
        var b = Rand(rng, c);
        var y = (double[])x.Clone();
        ConvKernels.AddChannelBias<double>(y, b, n, c, l);
        for (int i = 0; i < n; i++)
            for (int ch = 0; ch < c; ch++)
                for (int t = 0; t < l; t++)
                {
                    int k = (i * c + ch) * l + t;
                    Assert.Equal(x[k] + b[ch], y[k]);
                }

        var gy = Rand(rng, n * c * l);
        var gb = Rand(rng, c);
        var expected = (double[])gb.Clone();
        for (int ch = 0; ch < c; ch++)
        {
            double s = 0;
            for (int i = 0; i < n; i++)
                for (int t = 0; t < l; t++) s += gy[(i * c + ch) * l + t];
            expected[ch] += s;
        }
        ConvKernels.AddChannelBiasBackward<double>(gy, n, c, l, gb);
        for (int ch = 0; ch < c; ch++) Assert.Equal(expected[ch], gb[ch], 1e-12);

        var yf = Array.ConvertAll(x, v => (float)v);
        ConvKernels.AddChannelBias<float>(yf, Array.ConvertAll(b, v => (float)v), n, c, l);
        for (int k = 0; k < yf.Length; k++) Assert.Equal((float)x[k] + (float)b[k / l % c], yf[k]);
        Assert.Throws<ShapeMismatchException>(() => ConvKernels.AddChannelBias<double>(y, b.AsSpan(0, c - 1), n, c, l));
    }

    // ------------------------------------------------------------------ convolution through im2col + naive matmul

    /// <summary>Naive row-major C[m,n] = op(A)·op(B), op(A) is [m,k], op(B) is [k,n].</summary>
    internal static double[] MatMul(bool transA, bool transB, int m, int n, int k, double[] a, double[] b)
    {
        var c = new double[m * n];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double s = 0;
                for (int p = 0; p < k; p++)
                    s += (transA ? a[p * m + i] : a[i * k + p]) * (transB ? b[j * k + p] : b[p * n + j]);
                c[i * n + j] = s;
            }
        return c;
    }

    private static double[] NaiveConv(double[] x, double[] w, double[] bias, int n, Geo g, int o)
    {
        int oh = g.OutH, ow = g.OutW;
        var y = new double[n * o * oh * ow];
        for (int b = 0; b < n; b++)
            for (int f = 0; f < o; f++)
                for (int yy = 0; yy < oh; yy++)
                    for (int zz = 0; zz < ow; zz++)
                    {
                        double s = bias[f];
                        for (int c = 0; c < g.C; c++)
                            for (int i = 0; i < g.Kh; i++)
                                for (int j = 0; j < g.Kw; j++)
                                {
                                    int ih = yy * g.Sh - g.Pt + i * g.Dh, iw = zz * g.Sw - g.Pl + j * g.Dw;
                                    if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W) continue;
                                    s += w[((f * g.C + c) * g.Kh + i) * g.Kw + j] * x[((b * g.C + c) * g.H + ih) * g.W + iw];
                                }
                        y[((b * o + f) * oh + yy) * ow + zz] = s;
                    }
        return y;
    }

    /// <summary>Conv forward of a batch via Im2Col + naive matmul + AddChannelBias.</summary>
    private static double[] Im2ColConv(double[] x, double[] w, double[] bias, int n, Geo g, int o)
    {
        int ckk = g.C * g.Kh * g.Kw, hw = g.OutH * g.OutW;
        var y = new double[n * o * hw];
        var cols = new double[ckk * hw];
        for (int b = 0; b < n; b++)
        {
            Im2ColD(x.AsSpan(b * g.ImageLength, g.ImageLength), g, cols);
            MatMul(false, false, o, hw, ckk, w, cols).CopyTo(y, b * o * hw);
        }
        ConvKernels.AddChannelBias<double>(y, bias, n, o, hw);
        return y;
    }

    [Fact]
    public void DirectConvolution_EqualsIm2ColMatMul()
    {
        int k = 0;
        foreach (var g in RandomGeometries(60, 555).Concat(GeoList.Where(q => q.ColsLength < 200_000)))
        {
            var rng = new Random(k++);
            int n = 1 + k % 2, o = 1 + k % 3;
            var x = Rand(rng, n * g.ImageLength);
            var w = Rand(rng, o * g.C * g.Kh * g.Kw);
            var b = Rand(rng, o);
            var expected = NaiveConv(x, w, b, n, g, o);
            var actual = Im2ColConv(x, w, b, n, g, o);
            for (int i = 0; i < expected.Length; i++)
                Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-12, $"{g}, N={n}, O={o}: element {i}: direct {expected[i]}, im2col {actual[i]}");
        }
    }

    // ------------------------------------------------------------------ PyTorch reference cases

    private static void AssertClose(double[] expected, double[] actual, double tol, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tol * Math.Max(1.0, Math.Abs(expected[i])),
                $"{what}[{i}]: reference {expected[i]:R}, got {actual[i]:R}");
    }

    /// <summary>Padding per spatial dim (before, after) from metadata: ints/tuples, 'same' or 'valid'; default 0.</summary>
    private static (int[] Before, int[] After) ReadPadding(SafetensorsTestReader r, int dims, int[] kernel, int[] dilation, int[] stride)
    {
        string? p = r.Meta("padding");
        var before = new int[dims];
        var after = new int[dims];
        if (p is not null && p.Trim().Trim('\'', '"') is "same")
        {
            for (int i = 0; i < dims; i++)
            {
                Assert.Equal(1, stride[i]);
                (before[i], after[i]) = ConvKernels.SamePadding(kernel[i], dilation[i]);
            }
            return (before, after);
        }
        if (p is not null && p.Trim().Trim('\'', '"') is "valid") return (before, after);
        var pad = r.MetaInts("padding", dims, 0);
        return (pad, (int[])pad.Clone());
    }

    [Theory]
    [InlineData("conv2d_0")]
    [InlineData("conv2d_1")]
    [InlineData("conv2d_2")]
    [InlineData("conv1d_same")]
    public void ReferenceConvolution_ThroughIm2Col(string caseName)
    {
        var r = SafetensorsTestReader.OpenReference(caseName);
        Assert.Equal(1, r.MetaInts("groups", 1, 1)[0]);
        var xs = r.Shape("x");
        var ws = r.Shape("w");
        bool is1d = xs.Length == 3;
        int dims = is1d ? 1 : 2;
        int n = xs[0], c = xs[1], h = is1d ? 1 : xs[2], wd = xs[^1];
        int o = ws[0], kh = is1d ? 1 : ws[2], kw = ws[^1];
        Assert.Equal(c, ws[1]);
        var stride = r.MetaInts("stride", dims, 1);
        var dil = r.MetaInts("dilation", dims, 1);
        var kernel = is1d ? new[] { kw } : new[] { kh, kw };
        var (pb, pa) = ReadPadding(r, dims, kernel, dil, stride);
        var g = is1d
            ? new Geo(c, 1, wd, 1, kw, 1, stride[0], 0, pb[0], 0, pa[0], 1, dil[0])
            : new Geo(c, h, wd, kh, kw, stride[0], stride[1], pb[0], pb[1], pa[0], pa[1], dil[0], dil[1]);

        var x = r.F64("x");
        var w = r.F64("w");
        var bias = r.Has("b") ? r.F64("b") : new double[o];
        var gy = r.F64("g_y");
        int ckk = c * kh * kw, hw = g.OutH * g.OutW;
        Assert.Equal(n * o * hw, gy.Length);

        var y = Im2ColConv(x, w, bias, n, g, o);
        AssertClose(r.F64("out_y"), y, 1e-10, $"{caseName} out_y");

        var gradW = new double[o * ckk];
        var gradX = new double[n * g.ImageLength];
        var cols = new double[ckk * hw];
        for (int b = 0; b < n; b++)
        {
            var gyb = gy.AsSpan(b * o * hw, o * hw).ToArray();
            Im2ColD(x.AsSpan(b * g.ImageLength, g.ImageLength), g, cols);
            var gw = MatMul(false, true, o, ckk, hw, gyb, cols);        // gy[O,HW] · colsᵀ
            for (int i = 0; i < gw.Length; i++) gradW[i] += gw[i];
            var gcols = MatMul(true, false, ckk, hw, o, w, gyb);        // wᵀ[CKK,O] · gy[O,HW]
            Col2ImD(gcols, g, gradX.AsSpan(b * g.ImageLength, g.ImageLength));
        }
        AssertClose(r.F64("grad_x"), gradX, 1e-10, $"{caseName} grad_x");
        AssertClose(r.F64("grad_w"), gradW, 1e-10, $"{caseName} grad_w");
        if (r.Has("grad_b"))
        {
            var gradB = new double[o];
            ConvKernels.AddChannelBiasBackward<double>(gy, n, o, hw, gradB);
            AssertClose(r.F64("grad_b"), gradB, 1e-10, $"{caseName} grad_b");
        }
    }

    [Fact]
    public void ReferenceTransposedConvolution_ThroughCol2Im()
    {
        var r = SafetensorsTestReader.OpenReference("conv_transpose2d");
        Assert.Equal(1, r.MetaInts("groups", 1, 1)[0]);
        var xs = r.Shape("x");
        var ws = r.Shape("w");   // [Cin, Cout, KH, KW]
        int n = xs[0], cin = xs[1], hin = xs[2], win = xs[3];
        int cout = ws[1], kh = ws[2], kw = ws[3];
        Assert.Equal(cin, ws[0]);
        var stride = r.MetaInts("stride", 2, 1);
        var pad = r.MetaInts("padding", 2, 0);
        var outPad = r.MetaInts("output_padding", 2, 0);
        var dil = r.MetaInts("dilation", 2, 1);
        int hout = (hin - 1) * stride[0] - 2 * pad[0] + dil[0] * (kh - 1) + outPad[0] + 1;
        int wout = (win - 1) * stride[1] - 2 * pad[1] + dil[1] * (kw - 1) + outPad[1] + 1;
        var gyShape = r.Shape("g_y");
        Assert.Equal(new[] { n, cout, hout, wout }, gyShape);

        // The transposed conv is the adjoint of a conv from [Cout, hout, wout] to [Cin, hin, win]; the trailing
        // output_padding rows/cols lie outside every window (padAfter = pad - output_padding).
        var g = new Geo(cout, hout, wout, kh, kw, stride[0], stride[1], pad[0], pad[1], pad[0] - outPad[0], pad[1] - outPad[1], dil[0], dil[1]);
        Assert.Equal(hin, g.OutH);
        Assert.Equal(win, g.OutW);

        var x = r.F64("x");
        var w = r.F64("w");
        var bias = r.Has("b") ? r.F64("b") : new double[cout];
        var gy = r.F64("g_y");
        int ckk = cout * kh * kw, hwIn = hin * win, imgOut = cout * hout * wout;

        var y = new double[n * imgOut];
        var gradX = new double[n * cin * hwIn];
        var gradW = new double[cin * ckk];
        var colsG = new double[ckk * hwIn];
        for (int b = 0; b < n; b++)
        {
            var xb = x.AsSpan(b * cin * hwIn, cin * hwIn).ToArray();
            var cols = MatMul(true, false, ckk, hwIn, cin, w, xb);     // w[Cin, CKK]ᵀ · x[Cin, HW]
            var yb = new double[imgOut];
            Col2ImD(cols, g, yb);
            yb.CopyTo(y, b * imgOut);

            Im2ColD(gy.AsSpan(b * imgOut, imgOut), g, colsG);
            MatMul(false, false, cin, hwIn, ckk, w, colsG).CopyTo(gradX, b * cin * hwIn);   // w · Im2Col(gy)
            var gw = MatMul(false, true, cin, ckk, hwIn, xb, colsG);                        // x · Im2Col(gy)ᵀ
            for (int i = 0; i < gw.Length; i++) gradW[i] += gw[i];
        }
        ConvKernels.AddChannelBias<double>(y, bias, n, cout, hout * wout);
        AssertClose(r.F64("out_y"), y, 1e-10, "conv_transpose2d out_y");
        AssertClose(r.F64("grad_x"), gradX, 1e-10, "conv_transpose2d grad_x");
        AssertClose(r.F64("grad_w"), gradW, 1e-10, "conv_transpose2d grad_w");
        var gradB = new double[cout];
        ConvKernels.AddChannelBiasBackward<double>(gy, n, cout, hout * wout, gradB);
        AssertClose(r.F64("grad_b"), gradB, 1e-10, "conv_transpose2d grad_b");
    }
}
