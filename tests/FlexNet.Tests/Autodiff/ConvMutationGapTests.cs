using FlexNet.Autodiff;
using FlexNet.Tensors;
using FlexNet.Tests.Testing;

namespace FlexNet.Tests.Autodiff;

/// <summary>Paths of conv2d's backward that the other Autodiff tests did not reach (issue 15, Ops/Conv.cs): the
/// batch-chunked weight gradient computed as dWᵀ (K &lt; O), one image in float32 (the image-by-image path), each
/// gradient asked for alone, a batch on the serial path (weights too large for per-chunk partials), and the weight gradient of the transposed convolution in both dtypes. Expected values
/// come from the direct loop below.</summary>
public sealed class ConvMutationGapTests
{
    private static double[] Values(int n, int salt)
    {
        var v = new double[n];
        for (int i = 0; i < n; i++) v[i] = ((i * 5 + salt * 7) % 11 - 5) * 0.125 + 0.03125 * (i % 4);
        return v;
    }

    /// <summary>y = conv(x, w) + b (no padding, stride s), and dL/dx, dL/dw, dL/db for L = Σ y·r.</summary>
    private static (double[] y, double[] gx, double[] gw, double[] gb, int oh, int ow) Direct(
        int n, int c, int h, int wd, int o, int kh, int kw, int s, double[] x, double[] w, double[] b, double[]? r)
    {
        int oh = (h - kh) / s + 1, ow = (wd - kw) / s + 1;
        var y = new double[n * o * oh * ow];
        var gx = new double[x.Length];
        var gw = new double[w.Length];
        var gb = new double[o];
        for (int im = 0; im < n; im++)
        for (int f = 0; f < o; f++)
        for (int p = 0; p < oh; p++)
        for (int q = 0; q < ow; q++)
        {
            int yi = ((im * o + f) * oh + p) * ow + q;
            double sum = b[f], rr = r is null ? 0 : r[yi];
            for (int ch = 0; ch < c; ch++)
            for (int i = 0; i < kh; i++)
            for (int j = 0; j < kw; j++)
            {
                int xi = ((im * c + ch) * h + p * s + i) * wd + q * s + j, wi = ((f * c + ch) * kh + i) * kw + j;
                sum += w[wi] * x[xi];
                gx[xi] += w[wi] * rr;
                gw[wi] += x[xi] * rr;
            }
            y[yi] = sum;
            gb[f] += rr;
        }
        return (y, gx, gw, gb, oh, ow);
    }

    [Theory]
    [InlineData(3, 1, 6, DType.Float64)] // K = 1·2·2 = 4 < O = 6: the chunks hold dWᵀ
    [InlineData(3, 1, 6, DType.Float32)]
    [InlineData(1, 2, 3, DType.Float32)] // one image: dW image by image, dx and db apart
    [InlineData(1, 2, 3, DType.Float64)]
    // O·K = 510 · 520·2·2 > 2²⁰ weights: a partial per chunk would exceed the budget, so a batch of 3 takes the serial
    // path (dW image by image, dx of the images in parallel blocks): each image's dx at its own offset
    [InlineData(3, 520, 510, DType.Float64)]
    public void Conv2dGradientsOnEachBackwardPathAndEachAlone(int n, int c, int o, DType dtype)
    {
        const int h = 5, wd = 4, kh = 2, kw = 2;
        double[] x = Values(n * c * h * wd, 1), w = Values(o * c * kh * kw, 2), b = Values(o, 3);
        int oh = h - kh + 1, ow = wd - kw + 1;
        double[] r = Values(n * o * oh * ow, 4);
        var (y, gx, gw, gb, _, _) = Direct(n, c, h, wd, o, kh, kw, 1, x, w, b, r);
        double tol = dtype == DType.Float64 ? 1e-13 : 2e-5;
        int oh2 = h - kh + 1, ow2 = wd - kw + 1;
        bool serial = FlexNet.Autodiff.Ops.Conv.GradChunkImages(n, new FlexNet.Autodiff.Ops.ConvGeom(c, h, wd, o, kh, kw, 1, 1, 0, 0, 0, 0, 1, 1, oh2, ow2)) == 0;
        Assert.Equal(n == 1 || (long)o * c * kh * kw > 1 << 20, serial);
        // mask: which of x, w, b learn (all, then each alone)
        foreach (int mask in new[] { 7, 1, 2, 4 })
        {
            var tx = Tensor.FromArray(x, n, c, h, wd).To(dtype);
            var tw = Tensor.FromArray(w, o, c, kh, kw).To(dtype);
            var tb = Tensor.FromArray(b, o).To(dtype);
            if ((mask & 1) != 0) tx = tx.RequireGrad();
            if ((mask & 2) != 0) tw = tw.RequireGrad();
            if ((mask & 4) != 0) tb = tb.RequireGrad();
            var ty = NN.Conv2d(tx, tw, tb);
            T.Close(y, ty.ToDoubleArray(), tol, tol, $"y {mask}");
            (ty * Tensor.FromArray(r, n, o, oh, ow).To(dtype)).Sum().Backward();
            if ((mask & 1) != 0) T.Close(gx, tx.Grad!.ToDoubleArray(), tol, tol, $"dx {mask}"); else Assert.Null(tx.Grad);
            if ((mask & 2) != 0) T.Close(gw, tw.Grad!.ToDoubleArray(), tol, tol, $"dw {mask}"); else Assert.Null(tw.Grad);
            if ((mask & 4) != 0) T.Close(gb, tb.Grad!.ToDoubleArray(), tol, tol, $"db {mask}"); else Assert.Null(tb.Grad);
        }
    }

    [Theory]
    [InlineData(DType.Float64)]
    [InlineData(DType.Float32)]
    public void ConvTranspose2dWeightAndBiasGradientsByTheDirectLoop(DType dtype)
    {
        // L = <convT(x; W) + b, z> = <x, conv(z; W)> + <b, Σ z>: dL/dW[ci, co, i, j] = Σ z[·, co, p·s + i, q·s + j]·x[·, ci, p, q],
        // the weight gradient of the direct loop run on z (image) with x as the output weights r
        const int n = 2, cin = 3, cout = 2, h = 3, wd = 2, kh = 3, kw = 2, s = 2;
        int oh = (h - 1) * s + kh, ow = (wd - 1) * s + kw;
        double[] x = Values(n * cin * h * wd, 5), w = Values(cin * cout * kh * kw, 6), b = Values(cout, 7), z = Values(n * cout * oh * ow, 8);
        var (cz, _, gw, _, ch, cw) = Direct(n, cout, oh, ow, cin, kh, kw, s, z, w, new double[cin], x);
        Assert.Equal((h, wd), (ch, cw));
        var gb = new double[cout];
        for (int i = 0; i < z.Length; i++) gb[i / (oh * ow) % cout] += z[i];
        double tol = dtype == DType.Float64 ? 1e-13 : 2e-5;
        foreach (int mask in new[] { 7, 2, 4, 1 })
        {
            var tx = Tensor.FromArray(x, n, cin, h, wd).To(dtype);
            var tw = Tensor.FromArray(w, cin, cout, kh, kw).To(dtype);
            var tb = Tensor.FromArray(b, cout).To(dtype);
            if ((mask & 1) != 0) tx = tx.RequireGrad();
            if ((mask & 2) != 0) tw = tw.RequireGrad();
            if ((mask & 4) != 0) tb = tb.RequireGrad();
            var y = NN.ConvTranspose2d(tx, tw, tb, s);
            Assert.Equal([n, cout, oh, ow], y.Shape.ToArray());
            (y * Tensor.FromArray(z, n, cout, oh, ow).To(dtype)).Sum().Backward();
            if ((mask & 1) != 0) T.Close(cz, tx.Grad!.ToDoubleArray(), tol, tol, $"convT dx {mask}"); else Assert.Null(tx.Grad);
            if ((mask & 2) != 0) T.Close(gw, tw.Grad!.ToDoubleArray(), tol, tol, $"convT dw {mask}"); else Assert.Null(tw.Grad);
            if ((mask & 4) != 0) T.Close(gb, tb.Grad!.ToDoubleArray(), tol, tol, $"convT db {mask}"); else Assert.Null(tb.Grad);
        }
    }
}
