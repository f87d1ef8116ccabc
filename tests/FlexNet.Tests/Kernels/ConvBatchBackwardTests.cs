using FlexNet.Autodiff;
using FlexNet.Kernels;
using FlexNet.Tensors;
using FlexNet.Tests.Testing;
using Xunit;

namespace FlexNet.Tests.Kernels;

/// <summary>
/// The batch-parallel conv2d backward (chunks of images, each with a partial dW summed in chunk order, and dx per
/// image through <see cref="ConvKernels.Col2ImScratch{T}"/>), the flat stride-1 Im2Col/Col2Im paths and a GEMM
/// called from inside a worker region, each against loops written here.
/// </summary>
[Trait("Category", "Kernels")]
public sealed class ConvBatchBackwardTests
{
    public sealed record Geo(int C, int H, int W, int Kh, int Kw, int Sh, int Sw, int Pt, int Pl, int Pb, int Pr, int Dh, int Dw)
    {
        public int OutH => ConvKernels.ConvOutSize(H, Kh, Sh, Pt, Pb, Dh);
        public int OutW => ConvKernels.ConvOutSize(W, Kw, Sw, Pl, Pr, Dw);
        public int ColsLength => C * Kh * Kw * OutH * OutW;
        public int ImageLength => C * H * W;
    }

    /// <summary>Stride-1 geometries with outW == W (the flat paths) and a few without (the row-by-row paths).</summary>
    private static readonly Geo[] Geos =
    [
        new(3, 5, 7, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1),      // 'same' 3x3, odd sizes
        new(2, 9, 13, 3, 3, 1, 1, 0, 0, 2, 2, 1, 1),     // all padding after: outW == W
        new(2, 6, 11, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2),     // dilation 2, padding 2
        new(1, 28, 28, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1),    // the first layer of cnn_train
        new(3, 8, 17, 5, 5, 1, 1, 2, 2, 2, 2, 1, 1),     // 5x5 'same', 17 wide (vector tail)
        new(2, 7, 5, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1),      // 1x1
        new(2, 4, 3, 3, 5, 1, 1, 1, 2, 1, 2, 1, 1),      // kernel wider than the image
        new(2, 8, 6, 3, 3, 2, 2, 0, 0, 0, 0, 1, 1),      // stride 2: not flat
        new(2, 9, 53, 2, 3, 1, 1, 0, 2, 1, 0, 2, 1),     // padding on the left only, dilation 2 down: outW == W
        new(3, 6, 14, 2, 2, 2, 1, 1, 1, 2, 0, 2, 1),     // outW == W but vertical stride 2: not flat
        new(2, 5, 6, 1, 3, 1, 2, 0, 4, 0, 3, 1, 1),      // outW == W but horizontal stride 2: not flat
        new(2, 6, 8, 3, 3, 1, 1, 0, 0, 0, 0, 1, 1),      // stride 1 but outW != W (valid): not flat
        new(1, 1, 5, 5, 3, 1, 1, 2, 1, 2, 1, 1, 1),      // flat, four kernel rows wholly in the padding
    ];

    public static TheoryData<int> GeoIndices()
    {
        var d = new TheoryData<int>();
        for (int i = 0; i < Geos.Length; i++) d.Add(i);
        return d;
    }

    private static double[] Rand(Random rng, int n)
    {
        var a = new double[n];
        for (int i = 0; i < n; i++) a[i] = rng.NextDouble() * 2 - 1;
        return a;
    }

    /// <summary>(c, i, j, y, z) → image index, or -1 where the column entry is padding.</summary>
    private static int Source(Geo g, int c, int i, int j, int y, int z)
    {
        int ih = y * g.Sh - g.Pt + i * g.Dh, iw = z * g.Sw - g.Pl + j * g.Dw;
        return ih >= 0 && ih < g.H && iw >= 0 && iw < g.W ? (c * g.H + ih) * g.W + iw : -1;
    }

    [Theory]
    [MemberData(nameof(GeoIndices))]
    public void Im2ColMatchesLoops(int gi)
    {
        var g = Geos[gi];
        var x = Rand(new Random(gi), g.ImageLength);
        var cols = new float[g.ColsLength + 2];
        Array.Fill(cols, float.NaN); // every entry must be written
        cols[^1] = cols[^2] = 42f;
        var xf = x.Select(v => (float)v).ToArray();
        ConvKernels.Im2Col<float>(xf, g.C, g.H, g.W, g.Kh, g.Kw, g.Sh, g.Sw, g.Pt, g.Pl, g.Pb, g.Pr, g.Dh, g.Dw, cols);
        int oh = g.OutH, ow = g.OutW, e = 0;
        for (int c = 0; c < g.C; c++)
            for (int i = 0; i < g.Kh; i++)
                for (int j = 0; j < g.Kw; j++)
                    for (int y = 0; y < oh; y++)
                        for (int z = 0; z < ow; z++, e++)
                        {
                            int s = Source(g, c, i, j, y, z);
                            float want = s < 0 ? 0f : xf[s];
                            Assert.True(want.Equals(cols[e]), $"{g} entry {e}: want {want}, got {cols[e]}");
                        }
        Assert.Equal(42f, cols[^2]);
    }

    [Theory]
    [MemberData(nameof(GeoIndices))]
    public void Col2ImScratchSumsLikeLoopsAndOnlyClearsPadding(int gi)
    {
        var g = Geos[gi];
        var rng = new Random(100 + gi);
        var cols = Rand(rng, g.ColsLength);
        var start = Rand(rng, g.ImageLength);
        var want = (double[])start.Clone();
        int oh = g.OutH, ow = g.OutW, e = 0;
        var padding = new bool[cols.Length];
        for (int c = 0; c < g.C; c++)
            for (int i = 0; i < g.Kh; i++)
                for (int j = 0; j < g.Kw; j++)
                    for (int y = 0; y < oh; y++)
                        for (int z = 0; z < ow; z++, e++)
                        {
                            int s = Source(g, c, i, j, y, z);
                            if (s >= 0) want[s] += cols[e];
                            else padding[e] = true;
                        }
        var scratch = (double[])cols.Clone();
        var img = (double[])start.Clone();
        ConvKernels.Col2ImScratch<double>(scratch, g.C, g.H, g.W, g.Kh, g.Kw, g.Sh, g.Sw, g.Pt, g.Pl, g.Pb, g.Pr, g.Dh, g.Dw, img);
        for (int k = 0; k < want.Length; k++)
            Assert.True(want[k] == img[k], $"{g} pixel {k}: want {want[k]}, got {img[k]}");
        for (int k = 0; k < cols.Length; k++)
            Assert.True(scratch[k] == cols[k] || (padding[k] && scratch[k] == 0), $"{g} column entry {k} changed ({cols[k]} -> {scratch[k]}) but is not padding");
    }

    /// <summary>conv2d's value and gradients for L = Σ y·r by direct loops, against the op, for batches that give
    /// one image per chunk, several per chunk and a short last chunk, and weight gradients in both orientations.</summary>
    [Theory]
    [InlineData(0, 1)]
    [InlineData(0, 3)]
    [InlineData(0, 17)]
    [InlineData(1, 40)]
    [InlineData(2, 19)]
    [InlineData(4, 33)]
    [InlineData(7, 18)]
    [InlineData(8, 5)]
    [InlineData(3, 20, 12)]  // K = 9 < O = 12: the chunks compute dWᵀ
    [InlineData(5, 7, 3)]    // 1x1 with K = 2 < O = 3
    public void BatchBackwardMatchesLoops(int gi, int n, int o = 5)
    {
        var g = Geos[gi];
        var rng = new Random(1000 * gi + n);
        double[] x = Rand(rng, n * g.ImageLength), w = Rand(rng, o * g.C * g.Kh * g.Kw), b = Rand(rng, o);
        int oh = g.OutH, ow = g.OutW;
        double[] r = Rand(rng, n * o * oh * ow);
        var y = new double[r.Length];
        var gx = new double[x.Length];
        var gw = new double[w.Length];
        var gb = new double[o];
        for (int s = 0; s < n; s++)
        for (int f = 0; f < o; f++)
        for (int p = 0; p < oh; p++)
        for (int q = 0; q < ow; q++)
        {
            int yi = ((s * o + f) * oh + p) * ow + q;
            double acc = b[f];
            for (int c = 0; c < g.C; c++)
            for (int i = 0; i < g.Kh; i++)
            for (int j = 0; j < g.Kw; j++)
            {
                int src = Source(g, c, i, j, p, q);
                if (src < 0) continue;
                int xi = s * g.ImageLength + src, wi = ((f * g.C + c) * g.Kh + i) * g.Kw + j;
                acc += w[wi] * x[xi];
                gx[xi] += w[wi] * r[yi];
                gw[wi] += x[xi] * r[yi];
            }
            y[yi] = acc;
            gb[f] += r[yi];
        }
        foreach (var dtype in new[] { DType.Float64, DType.Float32 })
        {
            double tol = dtype == DType.Float64 ? 1e-12 : 1e-4;
            var tx = Tensor.FromArray(x, n, g.C, g.H, g.W).To(dtype).RequireGrad();
            var tw = Tensor.FromArray(w, o, g.C, g.Kh, g.Kw).To(dtype).RequireGrad();
            var tb = Tensor.FromArray(b, o).To(dtype).RequireGrad();
            var ty = NN.Conv2d(tx, tw, tb, (g.Sh, g.Sw), Padding.Explicit(g.Pt, g.Pb, g.Pl, g.Pr), (g.Dh, g.Dw));
            T.Close(y, ty.ToDoubleArray(), tol, tol, $"conv2d {g} n={n} {dtype}");
            (ty * Tensor.FromArray(r, n, o, oh, ow).To(dtype)).Sum().Backward();
            T.Close(gx, tx.Grad!.ToDoubleArray(), tol, tol, $"dx {g} n={n} {dtype}");
            T.Close(gw, tw.Grad!.ToDoubleArray(), tol, tol, $"dw {g} n={n} {dtype}");
            T.Close(gb, tb.Grad!.ToDoubleArray(), tol, tol, $"db {g} n={n} {dtype}");
        }
        // only the weights learn (no dx), and only the input learns (no dW)
        var wOnly = Tensor.FromArray(w, o, g.C, g.Kh, g.Kw).RequireGrad();
        (NN.Conv2d(Tensor.FromArray(x, n, g.C, g.H, g.W), wOnly, null, (g.Sh, g.Sw), Padding.Explicit(g.Pt, g.Pb, g.Pl, g.Pr), (g.Dh, g.Dw))
            * Tensor.FromArray(r, n, o, oh, ow)).Sum().Backward();
        T.Close(gw, wOnly.Grad!.ToDoubleArray(), 1e-12, 1e-12, $"dw only {g} n={n}");
        var xOnly = Tensor.FromArray(x, n, g.C, g.H, g.W).RequireGrad();
        (NN.Conv2d(xOnly, Tensor.FromArray(w, o, g.C, g.Kh, g.Kw), null, (g.Sh, g.Sw), Padding.Explicit(g.Pt, g.Pb, g.Pl, g.Pr), (g.Dh, g.Dw))
            * Tensor.FromArray(r, n, o, oh, ow)).Sum().Backward();
        T.Close(gx, xOnly.Grad!.ToDoubleArray(), 1e-12, 1e-12, $"dx only {g} n={n}");
    }

    /// <summary>The chunking depends on the shapes only: 16 chunks at most, whole images, none when one chunk
    /// would hold every image or the partial dW buffers would be too large.</summary>
    [Fact]
    public void ChunksDependOnShapesOnly()
    {
        var small = new Autodiff_ConvGeom(32, 14, 14, 64, 3, 3);
        Assert.Equal(4, small.PerChunk(64));   // 16 chunks of 4 images
        Assert.Equal(2, small.PerChunk(17));   // ceil(17 / 16) = 2 images, 9 chunks
        Assert.Equal(1, small.PerChunk(5));
        Assert.Equal(0, small.PerChunk(1));    // one image: the old path
        var huge = new Autodiff_ConvGeom(512, 4, 4, 2048, 3, 3); // 9.4 M weights: no room for partials
        Assert.Equal(0, huge.PerChunk(64));
    }

    private readonly record struct Autodiff_ConvGeom(int C, int H, int W, int O, int Kh, int Kw)
    {
        public int PerChunk(int n) => FlexNet.Autodiff.Ops.Conv.GradChunkImages(n,
            new FlexNet.Autodiff.Ops.ConvGeom(C, H, W, O, Kh, Kw, 1, 1, 1, 1, 1, 1, 1, 1, H, W));
    }

    /// <summary>Max pooling over many small planes (several planes per parallel item, a short last item): forward
    /// values and first-maximum indices, and the backward that overwrites a NaN-filled gradient plane by plane,
    /// against loops.</summary>
    [Theory]
    [InlineData(1000, 6, 6, 2, 2)]
    [InlineData(777, 7, 9, 3, 2)]
    [InlineData(3, 5, 5, 2, 2)]
    [InlineData(64, 28, 28, 2, 2)]   // 14 outputs per row: 8-wide steps, the last one shifted back
    [InlineData(90, 14, 14, 2, 2)]   // 7 per row: 4-wide steps
    [InlineData(40, 9, 17, 2, 2)]    // odd sizes: the last row and column are in no window; 8 per row
    [InlineData(40, 8, 9, 2, 2)]     // 4 per row
    [InlineData(40, 5, 23, 2, 2)]    // 11 per row
    public void MaxPoolOverManyPlanesMatchesLoops(int planes, int h, int w, int k, int s)
    {
        var g = new PoolGeometry(h, w, k, k, s, s, 0, 0, 1, 1, false);
        var rng = new Random(planes + h);
        // a coarse grid of values gives ties (the first maximum wins), plus NaN (wins), -inf and signed zeros
        var x = new float[planes * h * w];
        for (int i = 0; i < x.Length; i++)
            x[i] = (i % 53) switch { 0 => float.NaN, 1 => float.NegativeInfinity, 2 => -0f, _ => rng.Next(-4, 5) * 0.5f };
        var y = new float[planes * g.OutPlane];
        var idx = new int[y.Length];
        PoolKernels.MaxPool2dForward<float>(x, planes, g, y, idx);
        var gy = Rand(rng, y.Length).Select(v => (float)v).ToArray();
        var want = new float[x.Length];
        for (int p = 0; p < planes; p++)
            for (int oh = 0; oh < g.OutH; oh++)
                for (int ow = 0; ow < g.OutW; ow++)
                {
                    int o = (p * g.OutH + oh) * g.OutW + ow, arg = -1;
                    float best = float.NegativeInfinity;
                    for (int i = 0; i < k; i++)
                        for (int j = 0; j < k; j++)
                        {
                            int pos = (oh * s + i) * w + ow * s + j;
                            float v = x[p * h * w + pos];
                            if (arg < 0) arg = pos; // the window's first element when nothing beats -inf
                            if (v > best || float.IsNaN(v)) { best = v; arg = pos; }
                        }
                    Assert.True(best.Equals(y[o]), $"plane {p} output ({oh}, {ow}): want {best}, got {y[o]}");
                    Assert.Equal(arg, idx[o]);
                    want[p * h * w + arg] += gy[o];
                }
        var gx = new float[x.Length];
        Array.Fill(gx, float.NaN);
        PoolKernels.MaxPool2dBackward<float>(gy, idx, planes, g, gx, overwrite: true);
        Assert.Equal(want, gx);
        var acc = Enumerable.Repeat(1f, x.Length).ToArray(); // without overwrite: accumulates
        PoolKernels.MaxPool2dBackward<float>(gy, idx, planes, g, acc);
        var wantAcc = Enumerable.Repeat(1f, x.Length).ToArray();
        for (int o = 0; o < idx.Length; o++) wantAcc[o / g.OutPlane * h * w + idx[o]] += gy[o]; // in output order, per plane
        Assert.Equal(wantAcc, acc);
        if (k == 2 && s == 2)
        {
            // an index outside its window is refused by the overwriting 2x2 path (the scatter would put it elsewhere)
            idx[idx.Length / 2] += 2;
            var e = Assert.Throws<ArgumentOutOfRangeException>(() => PoolKernels.MaxPool2dBackward<float>(gy, idx, planes, g, gx, overwrite: true));
            Assert.Contains("2x2 window", e.Message);
        }
    }

    /// <summary>A GEMM started inside a worker region runs on the calling thread and gives the same bits as the
    /// same GEMM outside (which the driver may split into tasks), both against a double-precision loop.</summary>
    [Theory]
    [InlineData(64, 196, 288, false, false)]
    [InlineData(288, 196, 64, true, false)]
    [InlineData(64, 288, 196, false, true)]
    [InlineData(37, 101, 333, false, false)]
    public void GemmInsideARegionEqualsGemmOutside(int m, int n, int k, bool ta, bool tb)
    {
        var rng = new Random(m + n + k);
        float[] a = Rand(rng, m * k).Select(v => (float)v).ToArray(), bm = Rand(rng, k * n).Select(v => (float)v).ToArray();
        int lda = ta ? m : k, ldb = tb ? k : n;
        var outside = new float[m * n];
        Gemm.Run(ta, tb, m, n, k, 1f, a, lda, bm, ldb, 0f, outside, n);
        var inside = new float[m * n];
        var body = new GemmInRegion(ta, tb, m, n, k, a, lda, bm, ldb, inside);
        WorkerPool.For(2, body);
        Assert.True(body.WasInside);
        Assert.Equal(outside, inside);
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double s = 0;
                for (int p = 0; p < k; p++) s += (double)a[ta ? p * lda + i : i * lda + p] * bm[tb ? j * ldb + p : p * ldb + j];
                Assert.True(Math.Abs(s - inside[i * n + j]) <= 1e-4 * (1 + Math.Abs(s)), $"C[{i},{j}] = {inside[i * n + j]}, loop {s}");
            }
    }

    private sealed class GemmInRegion(bool ta, bool tb, int m, int n, int k, float[] a, int lda, float[] b, int ldb, float[] c) : IParallelBody
    {
        public bool WasInside;

        public void Run(int index)
        {
            if (index != 0) return;
            WasInside = WorkerPool.InsideRegion || Environment.ProcessorCount < 2;
            Gemm.Run(ta, tb, m, n, k, 1f, a, lda, b, ldb, 0f, c, n);
        }
    }
}
