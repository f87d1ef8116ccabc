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
}
