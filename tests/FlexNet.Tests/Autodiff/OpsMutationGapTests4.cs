using FlexNet.Autodiff;
using FlexNet.Autodiff.Ops;
using FlexNet.Tensors;
using FlexNet.Tests.Testing;

namespace FlexNet.Tests.Autodiff;

/// <summary>Rules of Ops/Conv.cs, Ops/Pool.cs, Ops/PackedWeight.cs and Ops/Strided.cs that the older Autodiff tests
/// left open (issue 15, mutation run of session 7): outputs and gradients written into pooled buffers that still hold
/// old values, a packed weight used after it was released or packed again in another dtype, and strided copies of
/// scalars and of views of rank 3 and more. Expected values come from loops written out here.</summary>
public sealed class OpsMutationGapTests4
{
    private static double[] Values(int n, int salt)
    {
        var v = new double[n];
        for (int i = 0; i < n; i++) v[i] = ((i * 7 + salt * 3) % 17 - 8) * 0.0625 + 0.015625 * (i % 5);
        return v;
    }

    /// <summary>Leaves the pool holding NaN buffers of these lengths, so that a tensor made inside the next scope
    /// without being cleared shows NaN.</summary>
    private static void PoolFullOfNaN(DType dtype, params int[] lengths)
    {
        using (TensorScope.Begin())
            for (int k = 0; k < 8; k++)
                foreach (int len in lengths)
                    _ = Tensor.Full([len], double.NaN, dtype);
    }

    [Theory]
    [InlineData(DType.Float64)]
    [InlineData(DType.Float32)]
    public void Conv2dOverwritesAPooledOutput(DType dtype)
    {
        // y = conv(x, w) (stride 1, no padding, no bias) into a buffer the pool hands back full of NaN
        const int n = 2, c = 2, h = 4, wd = 5, o = 3, kh = 2, kw = 3;
        const int oh = h - kh + 1, ow = wd - kw + 1;
        double[] x = Values(n * c * h * wd, 1), w = Values(o * c * kh * kw, 2);
        var want = new double[n * o * oh * ow];
        for (int im = 0; im < n; im++)
        for (int f = 0; f < o; f++)
        for (int p = 0; p < oh; p++)
        for (int q = 0; q < ow; q++)
        {
            double s = 0;
            for (int ch = 0; ch < c; ch++)
            for (int i = 0; i < kh; i++)
            for (int j = 0; j < kw; j++)
                s += w[((f * c + ch) * kh + i) * kw + j] * x[((im * c + ch) * h + p + i) * wd + q + j];
            want[((im * o + f) * oh + p) * ow + q] = s;
        }
        PoolFullOfNaN(dtype, want.Length);
        using var scope = TensorScope.Begin();
        var y = NN.Conv2d(Tensor.FromArray(x, n, c, h, wd).To(dtype), Tensor.FromArray(w, o, c, kh, kw).To(dtype));
        double tol = dtype == DType.Float64 ? 1e-13 : 1e-5;
        T.Close(want, y.ToDoubleArray(), tol, tol, $"conv2d into a pooled buffer {dtype}");
    }

    [Theory]
    [InlineData(2, 2, 0, DType.Float64)] // 2x2 windows, stride 2: the kernel's fast plane path
    [InlineData(2, 2, 0, DType.Float32)]
    [InlineData(3, 2, 1, DType.Float64)] // the general path
    [InlineData(3, 2, 1, DType.Float32)]
    public void MaxPool2dBackwardClearsAPooledGradient(int kernel, int stride, int pad, DType dtype)
    {
        // dL/dx of L = Σ maxpool(x)·r, into a gradient buffer the pool hands back full of NaN; each window's first
        // maximum gets r (the values below have no ties inside a window)
        const int n = 2, c = 3, h = 6, wd = 4;
        int oh = (h + 2 * pad - kernel) / stride + 1, ow = (wd + 2 * pad - kernel) / stride + 1;
        var x = new double[n * c * h * wd];
        for (int i = 0; i < x.Length; i++) x[i] = (i * 37 % x.Length) * 0.25 - 3;
        double[] r = Values(n * c * oh * ow, 4);
        var gx = new double[x.Length];
        for (int pl = 0; pl < n * c; pl++)
        for (int p = 0; p < oh; p++)
        for (int q = 0; q < ow; q++)
        {
            int at = -1;
            for (int i = 0; i < kernel; i++)
            for (int j = 0; j < kernel; j++)
            {
                int hh = p * stride - pad + i, ww = q * stride - pad + j;
                if (hh < 0 || hh >= h || ww < 0 || ww >= wd) continue;
                int k = (pl * h + hh) * wd + ww;
                if (at < 0 || x[k] > x[at]) at = k;
            }
            gx[at] += r[(pl * oh + p) * ow + q];
        }
        PoolFullOfNaN(dtype, x.Length);
        using var scope = TensorScope.Begin();
        var tx = Tensor.FromArray(x, n, c, h, wd).To(dtype).RequireGrad();
        (NN.MaxPool2d(tx, kernel, stride, pad) * Tensor.FromArray(r, n, c, oh, ow).To(dtype)).Sum().Backward();
        T.Close(gx, tx.Grad!.ToDoubleArray(), 1e-6, 1e-7, $"maxpool dx {kernel}/{stride}/{pad} {dtype}");
    }

    [Fact]
    public void PackedWeightMultipliesAddsBetaTimesYAndRefusesUseAfterRelease()
    {
        // y [n, out] = x [n, in]·Wᵀ + beta·y, by loops; then released, packed again in the other dtype, and released
        const int n = 3, inF = 4, outF = 5;
        double[] x = Values(n * inF, 5), w = Values(outF * inF, 6), y0 = Values(n * outF, 7);
        double[] Want(double beta)
        {
            var want = new double[n * outF];
            for (int s = 0; s < n; s++)
            for (int o = 0; o < outF; o++)
            {
                double acc = beta * y0[s * outF + o];
                for (int i = 0; i < inF; i++) acc += x[s * inF + i] * w[o * inF + i];
                want[s * outF + o] = acc;
            }
            return want;
        }
        var pw = new PackedWeight();
        Assert.Null(pw.Source);
        Assert.Equal(typeof(PackedWeight).FullName,
            Assert.Throws<ObjectDisposedException>(() => pw.MultiplyInto<double>(n, x, 0.0, new double[n * outF])).ObjectName);

        var wf = Tensor.FromArray(w, outF, inF).To(DType.Float32);
        pw.Pack(wf);
        Assert.Same(wf, pw.Source);
        foreach (float beta in new[] { 0f, 1f, 0.5f })
        {
            var yf = y0.Select(v => (float)v).ToArray();
            pw.MultiplyInto<float>(n, x.Select(v => (float)v).ToArray(), beta, yf);
            T.Close(Want(beta), yf.Select(v => (double)v).ToArray(), 1e-5, 1e-6, $"float32 beta {beta}");
        }
        pw.Dispose();
        Assert.Null(pw.Source);
        Assert.Equal(typeof(PackedWeight).FullName,
            Assert.Throws<ObjectDisposedException>(() => pw.MultiplyInto<float>(n, new float[n * inF], 0f, new float[n * outF])).ObjectName);

        // packed again as float64 (its float32 packing stays allocated, released): the float64 product is used
        var wd = Tensor.FromArray(w, outF, inF);
        pw.Pack(wd);
        Assert.Same(wd, pw.Source);
        Assert.Equal((outF, inF, DType.Float64), (pw.Out, pw.In, pw.DType));
        foreach (double beta in new[] { 0.0, 1.0, -2.0 })
        {
            var yd = (double[])y0.Clone();
            pw.MultiplyInto<double>(n, x, beta, yd);
            T.Close(Want(beta), yd, 1e-14, 1e-14, $"float64 beta {beta}");
        }
        Assert.Equal("PackedWeight: a Float64 weight used with Single data.",
            Assert.Throws<ArgumentException>(() => pw.MultiplyInto<float>(n, new float[n * inF], 0f, new float[n * outF])).Message);

        // and back to float32 without a release in between: Pack gives the float64 packing back first
        pw.Pack(wf);
        Assert.Equal(DType.Float32, pw.DType);
        var y2 = new float[n * outF];
        pw.MultiplyInto<float>(n, x.Select(v => (float)v).ToArray(), 0f, y2);
        T.Close(Want(0), y2.Select(v => (double)v).ToArray(), 1e-5, 1e-6, "float32 again");
        Assert.Equal("PackedWeight: a Float32 weight used with Double data.",
            Assert.Throws<ArgumentException>(() => pw.MultiplyInto<double>(n, x, 0.0, new double[n * outF])).Message);
        pw.Dispose();
        pw.Dispose(); // a second release is harmless
        Assert.Null(pw.Source);
    }

    /// <summary>Leaves the shared array pool of this thread holding NaN arrays of every size up to 2^16 elements, so
    /// that scratch rented from it and read before being written shows NaN.</summary>
    private static void ArrayPoolFullOfNaN()
    {
        for (int bits = 4; bits <= 16; bits++)
        {
            var f = System.Buffers.ArrayPool<float>.Shared.Rent(1 << bits);
            var d = System.Buffers.ArrayPool<double>.Shared.Rent(1 << bits);
            Array.Fill(f, float.NaN);
            Array.Fill(d, double.NaN);
            System.Buffers.ArrayPool<float>.Shared.Return(f);
            System.Buffers.ArrayPool<double>.Shared.Return(d);
        }
    }

    private static ConvGeom Geom(int c, int o, int kh, int kw) => new(c, 6, 6, o, kh, kw, 1, 1, 0, 0, 0, 0, 1, 1, 7 - kh, 7 - kw);

    [Fact]
    public void GradChunkImagesAndTheWeightGradientLayoutDependOnTheShapesAsDocumented()
    {
        // at most 16 chunks, at most 2^21 partial weights in all, none below 2 chunks; images per chunk rounded up
        var small = Geom(2, 3, 2, 2); // O·K = 3·8 = 24
        Assert.Equal(0, Conv.GradChunkImages(0, small));
        Assert.Equal(0, Conv.GradChunkImages(1, small));
        Assert.Equal(1, Conv.GradChunkImages(2, small)); // two chunks of one image
        Assert.Equal(1, Conv.GradChunkImages(16, small));
        Assert.Equal(2, Conv.GradChunkImages(17, small));
        Assert.Equal(2, Conv.GradChunkImages(19, small));
        Assert.Equal(3, Conv.GradChunkImages(40, small));
        var half = Geom(256, 1024, 2, 2); // O·K = 1024·1024 = 2^20: two partials fit the budget
        Assert.Equal(3, Conv.GradChunkImages(5, half));
        Assert.Equal(1, Conv.GradChunkImages(2, half));
        var over = Geom(257, 1024, 2, 2); // O·K > 2^20: one partial only, so no chunks
        Assert.Equal(0, Conv.GradChunkImages(5, over));
        // dWᵀ only when K < O
        Assert.True(Conv.TransposedWeightGrad(Geom(1, 6, 2, 2)));   // K = 4 < 6
        Assert.False(Conv.TransposedWeightGrad(Geom(1, 4, 2, 2)));  // K = 4 = O
        Assert.False(Conv.TransposedWeightGrad(Geom(2, 3, 2, 2)));  // K = 8 > 3
    }

    [Theory]
    [InlineData(1, 6, DType.Float64)] // K = 4 < O = 6: the chunks hold dWᵀ
    [InlineData(1, 6, DType.Float32)]
    [InlineData(2, 3, DType.Float64)] // K = 8 > O = 3: the chunks hold dW
    [InlineData(2, 3, DType.Float32)]
    public void Conv2dGradientsOfABatchWithSeveralImagesPerChunk(int c, int o, DType dtype)
    {
        // 19 images: 16 chunks at most, so 2 images per chunk (10 chunks); each chunk's partial dW and db must add its
        // images (the first overwrites, the next accumulate) and leave nothing of the pool's old contents
        const int n = 19, h = 4, wd = 5, kh = 2, kw = 2;
        const int oh = h - kh + 1, ow = wd - kw + 1;
        Assert.Equal(2, Conv.GradChunkImages(n, new ConvGeom(c, h, wd, o, kh, kw, 1, 1, 0, 0, 0, 0, 1, 1, oh, ow)));
        double[] x = Values(n * c * h * wd, 8), w = Values(o * c * kh * kw, 9), b = Values(o, 10), r = Values(n * o * oh * ow, 11);
        double[] gx = new double[x.Length], gw = new double[w.Length], gb = new double[o];
        for (int im = 0; im < n; im++)
        for (int f = 0; f < o; f++)
        for (int p = 0; p < oh; p++)
        for (int q = 0; q < ow; q++)
        {
            double rr = r[((im * o + f) * oh + p) * ow + q];
            gb[f] += rr;
            for (int ch = 0; ch < c; ch++)
            for (int i = 0; i < kh; i++)
            for (int j = 0; j < kw; j++)
            {
                int xi = ((im * c + ch) * h + p + i) * wd + q + j, wi = ((f * c + ch) * kh + i) * kw + j;
                gx[xi] += w[wi] * rr;
                gw[wi] += x[xi] * rr;
            }
        }
        var tx = Tensor.FromArray(x, n, c, h, wd).To(dtype).RequireGrad();
        var tw = Tensor.FromArray(w, o, c, kh, kw).To(dtype).RequireGrad();
        var tb = Tensor.FromArray(b, o).To(dtype).RequireGrad();
        var y = NN.Conv2d(tx, tw, tb) * Tensor.FromArray(r, n, o, oh, ow).To(dtype);
        ArrayPoolFullOfNaN();
        y.Sum().Backward();
        double tol = dtype == DType.Float64 ? 1e-12 : 1e-4;
        T.Close(gw, tw.Grad!.ToDoubleArray(), tol, tol, $"dW {dtype}");
        T.Close(gb, tb.Grad!.ToDoubleArray(), tol, tol, $"db {dtype}");
        T.Close(gx, tx.Grad!.ToDoubleArray(), tol, tol, $"dx {dtype}");
    }

    [Theory]
    [InlineData(DType.Float64)]
    [InlineData(DType.Float32)]
    public void ConvTranspose2dOfOnePixelAndItsInputGradientIntoAPooledBuffer(DType dtype)
    {
        // one input pixel, 1x1 kernel: a 1x1 output is valid, y[co] = Σ_ci x[ci]·w[ci, co]
        var one = NN.ConvTranspose2d(Tensor.FromArray([2.0, -3.0], 1, 2, 1, 1).To(dtype),
            Tensor.FromArray([1.0, 0.5, -1.0, 4.0, 2.0, 0.25], 2, 3, 1, 1).To(dtype));
        Assert.Equal([1, 3, 1, 1], one.Shape.ToArray());
        Assert.Equal([2 - 12.0, 1 - 6.0, -2 - 0.75], one.ToDoubleArray());

        // stride 2, 2x3 kernel: y[n, co, p·2 + i, q·2 + j] += x[n, ci, p, q]·w[ci, co, i, j], so for L = Σ y·z,
        // dL/dx[n, ci, p, q] = Σ z[n, co, p·2 + i, q·2 + j]·w[ci, co, i, j]; dx goes into a buffer the pool hands back
        // full of NaN
        const int n = 2, cin = 3, cout = 2, h = 3, wd = 2, kh = 2, kw = 3, s = 2;
        const int oh = (h - 1) * s + kh, ow = (wd - 1) * s + kw;
        double[] x = Values(n * cin * h * wd, 12), w = Values(cin * cout * kh * kw, 13), z = Values(n * cout * oh * ow, 14);
        var gx = new double[x.Length];
        for (int im = 0; im < n; im++)
        for (int ci = 0; ci < cin; ci++)
        for (int p = 0; p < h; p++)
        for (int q = 0; q < wd; q++)
        {
            double acc = 0;
            for (int co = 0; co < cout; co++)
            for (int i = 0; i < kh; i++)
            for (int j = 0; j < kw; j++)
                acc += z[((im * cout + co) * oh + p * s + i) * ow + q * s + j] * w[((ci * cout + co) * kh + i) * kw + j];
            gx[((im * cin + ci) * h + p) * wd + q] = acc;
        }
        PoolFullOfNaN(dtype, x.Length);
        using var scope = TensorScope.Begin();
        var tx = Tensor.FromArray(x, n, cin, h, wd).To(dtype).RequireGrad();
        var y = NN.ConvTranspose2d(tx, Tensor.FromArray(w, cin, cout, kh, kw).To(dtype), null, s);
        Assert.Equal([n, cout, oh, ow], y.Shape.ToArray());
        (y * Tensor.FromArray(z, n, cout, oh, ow).To(dtype)).Sum().Backward();
        double tol = dtype == DType.Float64 ? 1e-13 : 1e-5;
        T.Close(gx, tx.Grad!.ToDoubleArray(), tol, tol, $"convT dx {dtype}");
    }

    [Fact]
    public void StridedCopiesOfScalarsAndOfRank3ViewsWithAStridedInnerAxis()
    {
        // rank 0: one element at the offset
        double[] buf = [10, 11, 12, 13, 14, 15];
        var one = new double[1];
        Strided.Gather<double>(buf, 4, [], [], one);
        Assert.Equal(14.0, one[0]);
        var dst = (double[])buf.Clone();
        Strided.Scatter<double>([-1.0], dst, 2, [], []);
        Assert.Equal([10.0, 11, -1, 13, 14, 15], dst);
        Strided.ScatterAdd<double>([0.5], dst, 5, [], []);
        Assert.Equal([10.0, 11, -1, 13, 14, 15.5], dst);

        // rank 3, shape [2, 3, 4], at offset 5 with strides (40, 12, s): the inner axis contiguous (s = 1) and strided (s = 2)
        foreach (int inner in new[] { 2, 1 })
        {
            int[] shape = [2, 3, 4], strides = [40, 12, inner];
            const int offset = 5, count = 24;
            var big = new double[offset + 40 + 24 + 3 * inner + 1];
            for (int i = 0; i < big.Length; i++) big[i] = i * 0.5;
            var src = new double[count];
            for (int i = 0; i < count; i++) src[i] = 100 + i;
            int At(int flat) => offset + flat / 12 * 40 + flat / 4 % 3 * 12 + flat % 4 * inner;

            var gathered = new double[count];
            Strided.Gather<double>(big, offset, shape, strides, gathered);
            for (int f = 0; f < count; f++) Assert.Equal(big[At(f)], gathered[f]);

            var set = (double[])big.Clone();
            var added = (double[])big.Clone();
            Strided.Scatter<double>(src, set, offset, shape, strides);
            Strided.ScatterAdd<double>(src, added, offset, shape, strides);
            var wantSet = (double[])big.Clone();
            var wantAdded = (double[])big.Clone();
            for (int f = 0; f < count; f++) { wantSet[At(f)] = src[f]; wantAdded[At(f)] += src[f]; }
            Assert.Equal(wantSet, set);
            Assert.Equal(wantAdded, added);
        }
    }
}
