using FlexNet.Autodiff;
using FlexNet.Tensors;
using FlexNet.Tests.Testing;

namespace FlexNet.Tests.Autodiff;

/// <summary>
/// Convolution, transposed convolution and pooling against direct loops over the definitions, values and
/// gradients (the loss is sum(y * r) with fixed weights r, so each gradient is itself a loop), in both dtypes,
/// with stride, asymmetric padding, dilation, bias and a batch of two. Rejections are checked with their messages.
/// </summary>
public sealed class ConvPoolOracleTests
{
    private static double[] Values(int n, int salt)
    {
        var v = new double[n];
        for (int i = 0; i < n; i++) v[i] = ((i * 7 + salt * 5) % 13 - 6) * 0.125 + 0.0625 * (i % 3);
        return v;
    }

    private sealed record Case(int N, int C, int H, int W, int O, int Kh, int Kw, int Sh, int Sw, int Pt, int Pb, int Pl, int Pr, int Dh, int Dw);

    private static int Out(int size, int k, int s, int p0, int p1, int d) => (size + p0 + p1 - d * (k - 1) - 1) / s + 1;

    /// <summary>y, dL/dx, dL/dw, dL/db for L = sum(y * r), by direct loops.</summary>
    private static (double[] y, double[] gx, double[] gw, double[] gb, int oh, int ow) Direct(Case k, double[] x, double[] w, double[] b, double[] r)
    {
        int oh = Out(k.H, k.Kh, k.Sh, k.Pt, k.Pb, k.Dh), ow = Out(k.W, k.Kw, k.Sw, k.Pl, k.Pr, k.Dw);
        var y = new double[k.N * k.O * oh * ow];
        var gx = new double[x.Length];
        var gw = new double[w.Length];
        var gb = new double[k.O];
        for (int n = 0; n < k.N; n++)
        for (int o = 0; o < k.O; o++)
        for (int p = 0; p < oh; p++)
        for (int q = 0; q < ow; q++)
        {
            int yi = ((n * k.O + o) * oh + p) * ow + q;
            double s = b[o];
            for (int c = 0; c < k.C; c++)
            for (int i = 0; i < k.Kh; i++)
            for (int j = 0; j < k.Kw; j++)
            {
                int hh = p * k.Sh - k.Pt + i * k.Dh, ww = q * k.Sw - k.Pl + j * k.Dw;
                if (hh < 0 || hh >= k.H || ww < 0 || ww >= k.W) continue;
                int xi = ((n * k.C + c) * k.H + hh) * k.W + ww, wi = ((o * k.C + c) * k.Kh + i) * k.Kw + j;
                s += w[wi] * x[xi];
                gx[xi] += w[wi] * r[yi];
                gw[wi] += x[xi] * r[yi];
            }
            y[yi] = s;
            gb[o] += r[yi];
        }
        return (y, gx, gw, gb, oh, ow);
    }

    private static (int, int, int, int) Pads(int code) => code switch
    {
        0 => (0, 0, 0, 0),
        1 => (1, 0, 2, 1),
        2 => (0, 2, 1, 0),
        _ => (2, 2, 2, 2),
    };

    [Theory]
    [InlineData(3, 3, 1, 1, 0, 1, 1)]
    [InlineData(3, 2, 2, 1, 1, 1, 1)]
    [InlineData(2, 3, 1, 2, 2, 2, 1)]
    [InlineData(3, 3, 2, 2, 3, 1, 2)]
    public void Conv2dMatchesDirectLoops(int kh, int kw, int sh, int sw, int padCode, int dh, int dw)
    {
        var (pt, pb, pl, pr) = Pads(padCode);
        var k = new Case(2, 3, 7, 6, 4, kh, kw, sh, sw, pt, pb, pl, pr, dh, dw);
        double[] x = Values(k.N * k.C * k.H * k.W, 1), w = Values(k.O * k.C * kh * kw, 2), b = Values(k.O, 3);
        int oh = Out(k.H, kh, sh, pt, pb, dh), ow = Out(k.W, kw, sw, pl, pr, dw);
        double[] r = Values(k.N * k.O * oh * ow, 4);
        var (y, gx, gw, gb, _, _) = Direct(k, x, w, b, r);
        foreach (var dtype in new[] { DType.Float64, DType.Float32 })
        {
            double tol = dtype == DType.Float64 ? 1e-13 : 2e-5;
            var tx = Tensor.FromArray(x, k.N, k.C, k.H, k.W).To(dtype).RequireGrad();
            var tw = Tensor.FromArray(w, k.O, k.C, kh, kw).To(dtype).RequireGrad();
            var tb = Tensor.FromArray(b, k.O).To(dtype).RequireGrad();
            var ty = NN.Conv2d(tx, tw, tb, (sh, sw), Padding.Explicit(pt, pb, pl, pr), (dh, dw));
            Assert.Equal([k.N, k.O, oh, ow], ty.Shape.ToArray());
            T.Close(y, ty.ToDoubleArray(), tol, tol, $"conv2d {dtype}");
            (ty * Tensor.FromArray(r, k.N, k.O, oh, ow).To(dtype)).Sum().Backward();
            T.Close(gx, tx.Grad!.ToDoubleArray(), tol, tol, $"conv2d dx {dtype}");
            T.Close(gw, tw.Grad!.ToDoubleArray(), tol, tol, $"conv2d dw {dtype}");
            T.Close(gb, tb.Grad!.ToDoubleArray(), tol, tol, $"conv2d db {dtype}");
        }
        // without a bias, and with only the weight learning
        var y0 = NN.Conv2d(Tensor.FromArray(x, k.N, k.C, k.H, k.W), Tensor.FromArray(w, k.O, k.C, kh, kw).RequireGrad(), null, (sh, sw),
            Padding.Explicit(pt, pb, pl, pr), (dh, dw));
        double[] noBias = y.Select((v, i) => v - b[i / (oh * ow) % k.O]).ToArray();
        T.Close(noBias, y0.ToDoubleArray(), 1e-13, 1e-13, "conv2d without bias");
    }

    [Fact]
    public void ConvTranspose2dIsTheAdjointOfConv2d()
    {
        // <convT(x), z> = <x, conv(z)> for the same weight: the direct conv loop is the oracle of its adjoint.
        foreach (var (s, p, op, d) in new[] { (1, 0, 0, 1), (2, 1, 1, 1), (2, 0, 1, 2), (3, 1, 2, 1) })
        {
            int n = 2, cin = 3, cout = 2, h = 4, wd = 3, kh = 3, kw = 2;
            int oh = (h - 1) * s - 2 * p + d * (kh - 1) + op + 1, ow = (wd - 1) * s - 2 * p + d * (kw - 1) + op + 1;
            double[] x = Values(n * cin * h * wd, 5), w = Values(cin * cout * kh * kw, 6), b = Values(cout, 7);
            double[] z = Values(n * cout * oh * ow, 8);
            // conv of z [N, Cout, oh, ow] with weight [Cin, Cout, kh, kw] gives [N, Cin, h, w] (bottom/right padding p - op)
            var k = new Case(n, cout, oh, ow, cin, kh, kw, s, s, p, p - op, p, p - op, d, d);
            var (cz, _, _, _, ch, cw) = Direct(k, z, w, new double[cin], x);
            Assert.Equal((h, wd), (ch, cw));
            foreach (var dtype in new[] { DType.Float64, DType.Float32 })
            {
                double tol = dtype == DType.Float64 ? 1e-12 : 1e-4;
                var tx = Tensor.FromArray(x, n, cin, h, wd).To(dtype).RequireGrad();
                var tw = Tensor.FromArray(w, cin, cout, kh, kw).To(dtype).RequireGrad();
                var tb = Tensor.FromArray(b, cout).To(dtype).RequireGrad();
                var y = NN.ConvTranspose2d(tx, tw, tb, s, p, op, d);
                Assert.Equal([n, cout, oh, ow], y.Shape.ToArray());
                double[] yv = y.ToDoubleArray();
                double lhs = 0, rhs = 0, biasPart = 0;
                for (int i = 0; i < z.Length; i++) { lhs += yv[i] * z[i]; biasPart += b[i / (oh * ow) % cout] * z[i]; }
                for (int i = 0; i < x.Length; i++) rhs += x[i] * cz[i];
                Assert.Equal(rhs + biasPart, lhs, tol * (1 + Math.Abs(lhs)));
                // dL/dx for L = <y, z> is conv(z): the same loop again
                (y * Tensor.FromArray(z, n, cout, oh, ow).To(dtype)).Sum().Backward();
                T.Close(cz, tx.Grad!.ToDoubleArray(), tol, tol, $"convT dx s={s} p={p} op={op} d={d} {dtype}");
                var gb = new double[cout];
                for (int i = 0; i < z.Length; i++) gb[i / (oh * ow) % cout] += z[i];
                T.Close(gb, tb.Grad!.ToDoubleArray(), tol, tol, $"convT db {dtype}");
            }
            T.GradOk($"convT s={s} p={p} op={op} d={d}", v => NN.ConvTranspose2d(v[0], v[1], v[2], s, p, op, d),
                T.Rand(1, 1, cin, h, wd), T.Rand(2, cin, cout, kh, kw), T.Rand(3, cout));
        }
    }

    [Fact]
    public void ConvRejections()
    {
        var x = Tensor.Zeros([1, 2, 5, 5]);
        var w = Tensor.Zeros([3, 2, 3, 3]);
        Assert.Equal("Conv2d: input [1, 3, 5, 5] ([N, C, H, W]) does not fit weight [3, 2, 3, 3] ([O, C, kh, kw]) (same dtype and C).",
            Assert.Throws<ShapeMismatchException>(() => NN.Conv2d(Tensor.Zeros([1, 3, 5, 5]), w)).Message);
        Assert.Throws<ShapeMismatchException>(() => NN.Conv2d(Tensor.Zeros([2, 5, 5]), w));
        Assert.Throws<ShapeMismatchException>(() => NN.Conv2d(x, Tensor.Zeros([3, 2, 3])));
        Assert.Throws<ShapeMismatchException>(() => NN.Conv2d(x, Tensor.Zeros([3, 2, 3, 3], DType.Float64)));
        Assert.Equal("Conv2d: bias [2] (Float32) must be [3] (Float32).", Assert.Throws<ShapeMismatchException>(() => NN.Conv2d(x, w, Tensor.Zeros([2]))).Message);
        Assert.Equal("Conv2d: bias [3, 1] (Float32) must be [3] (Float32).", Assert.Throws<ShapeMismatchException>(() => NN.Conv2d(x, w, Tensor.Zeros([3, 1]))).Message);
        Assert.Equal("Conv2d: bias [3] (Float64) must be [3] (Float32).", Assert.Throws<ShapeMismatchException>(() => NN.Conv2d(x, w, Tensor.Zeros([3], DType.Float64))).Message);
        Assert.Equal("Conv2d: stride (0, 1) and dilation (1, 1) must be >= 1. (Parameter 'stride')",
            Assert.Throws<ArgumentOutOfRangeException>(() => NN.Conv2d(x, w, null, (0, 1), Padding.Valid, (1, 1))).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => NN.Conv2d(x, w, null, (1, 0), Padding.Valid, (1, 1)));
        Assert.Throws<ArgumentOutOfRangeException>(() => NN.Conv2d(x, w, null, (1, 1), Padding.Valid, (0, 1)));
        Assert.Throws<ArgumentOutOfRangeException>(() => NN.Conv2d(x, w, null, (1, 1), Padding.Valid, (1, 0)));
        Assert.Equal("Conv2d: input [1, 2, 5, 5] with kernel 3x3, stride (1, 1), padding 0, dilation (3, 1) gives an empty output (-1x3).",
            Assert.Throws<ShapeMismatchException>(() => NN.Conv2d(x, w, null, (1, 1), Padding.Valid, (3, 1))).Message);
        Assert.Equal("Conv2d: input [1, 2, 5, 5] with kernel 3x3, stride (1, 1), padding 0, dilation (1, 3) gives an empty output (3x-1).",
            Assert.Throws<ShapeMismatchException>(() => NN.Conv2d(x, w, null, (1, 1), Padding.Valid, (1, 3))).Message);
        // exactly one output row and column is fine
        Assert.Equal([1, 3, 1, 1], NN.Conv2d(x, w, null, (1, 1), Padding.Valid, (2, 2)).Shape.ToArray());

        var wt = Tensor.Zeros([2, 3, 3, 3]);
        Assert.Equal("ConvTranspose2d: input [1, 3, 5, 5] ([N, Cin, H, W]) does not fit weight [2, 3, 3, 3] ([Cin, Cout, kh, kw]) (same dtype and Cin).",
            Assert.Throws<ShapeMismatchException>(() => NN.ConvTranspose2d(Tensor.Zeros([1, 3, 5, 5]), wt)).Message);
        Assert.Equal("ConvTranspose2d: output padding (2, 2) must be smaller than stride (2, 2) or dilation (1, 1). (Parameter 'outPad')",
            Assert.Throws<ArgumentOutOfRangeException>(() => NN.ConvTranspose2d(x, wt, null, 2, 0, 2)).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => NN.ConvTranspose2d(x, wt, null, 1, 0, -1));
        // output padding below the dilation is allowed even at stride 1
        Assert.Equal([1, 3, 10, 10], NN.ConvTranspose2d(x, wt, null, 1, 0, 1, 2).Shape.ToArray());
        Assert.Equal("ConvTranspose2d: padding (-1, -1) must be non-negative. (Parameter 'pad')",
            Assert.Throws<ArgumentOutOfRangeException>(() => NN.ConvTranspose2d(x, wt, null, 1, -1)).Message);
        Assert.Equal("ConvTranspose2d: bias [2] (Float32) must be [3] (Float32).",
            Assert.Throws<ShapeMismatchException>(() => NN.ConvTranspose2d(x, wt, Tensor.Zeros([2]))).Message);
        Assert.Equal("ConvTranspose2d: input [1, 2, 1, 1] with kernel 3x3, stride (1, 1), padding (2, 2) gives an empty output (-1x-1).",
            Assert.Throws<ShapeMismatchException>(() => NN.ConvTranspose2d(Tensor.Zeros([1, 2, 1, 1]), wt, null, 1, 2)).Message);
    }

    [Theory]
    [InlineData(2, 2, 0, 1, false)]
    [InlineData(3, 2, 1, 1, false)]
    [InlineData(3, 2, 1, 1, true)]
    [InlineData(2, 1, 0, 2, false)]
    public void MaxPoolMatchesLoopsWithTheFirstMaximumGettingTheGradient(int kernel, int stride, int pad, int dil, bool ceil)
    {
        int n = 2, c = 2, h = 6, w = 5;
        double[] x = Values(n * c * h * w, 9);
        int Size(int s) { int num = s + 2 * pad - dil * (kernel - 1) - 1; int o = (ceil ? (num + stride - 1) / stride : num / stride) + 1; if (ceil && (o - 1) * stride >= s + pad) o--; return o; }
        int oh = Size(h), ow = Size(w);
        var y = new double[n * c * oh * ow];
        var r = Values(y.Length, 10);
        var gx = new double[x.Length];
        for (int pl = 0; pl < n * c; pl++)
        for (int p = 0; p < oh; p++)
        for (int q = 0; q < ow; q++)
        {
            double best = double.NegativeInfinity;
            int at = -1;
            for (int i = 0; i < kernel; i++)
            for (int j = 0; j < kernel; j++)
            {
                int hh = p * stride - pad + i * dil, ww = q * stride - pad + j * dil;
                if (hh < 0 || hh >= h || ww < 0 || ww >= w) continue;
                double v = x[(pl * h + hh) * w + ww];
                if (v > best) { best = v; at = (pl * h + hh) * w + ww; }
            }
            int yi = (pl * oh + p) * ow + q;
            y[yi] = best;
            gx[at] += r[yi];
        }
        foreach (var dtype in new[] { DType.Float64, DType.Float32 })
        {
            var tx = Tensor.FromArray(x, n, c, h, w).To(dtype).RequireGrad();
            var ty = NN.MaxPool2d(tx, kernel, stride, pad, dil, ceil);
            Assert.Equal([n, c, oh, ow], ty.Shape.ToArray());
            T.Close(y, ty.ToDoubleArray(), 1e-7, 0, $"maxpool {dtype}");
            (ty * Tensor.FromArray(r, n, c, oh, ow).To(dtype)).Sum().Backward();
            T.Close(gx, tx.Grad!.ToDoubleArray(), 1e-6, 1e-7, $"maxpool dx {dtype}");
        }
    }

    [Theory]
    [InlineData(2, 2, 0, true, 0)]
    [InlineData(3, 2, 1, true, 0)]
    [InlineData(3, 2, 1, false, 0)]
    [InlineData(3, 1, 1, true, 4)]
    public void AvgPoolMatchesLoops(int kernel, int stride, int pad, bool countPad, int divisor)
    {
        int n = 2, c = 2, h = 5, w = 6;
        double[] x = Values(n * c * h * w, 11);
        int oh = (h + 2 * pad - kernel) / stride + 1, ow = (w + 2 * pad - kernel) / stride + 1;
        var y = new double[n * c * oh * ow];
        var r = Values(y.Length, 12);
        var gx = new double[x.Length];
        for (int pl = 0; pl < n * c; pl++)
        for (int p = 0; p < oh; p++)
        for (int q = 0; q < ow; q++)
        {
            double s = 0;
            int inside = 0;
            for (int i = 0; i < kernel; i++)
            for (int j = 0; j < kernel; j++)
            {
                int hh = p * stride - pad + i, ww = q * stride - pad + j;
                if (hh < 0 || hh >= h || ww < 0 || ww >= w) continue;
                s += x[(pl * h + hh) * w + ww];
                inside++;
            }
            int div = divisor > 0 ? divisor : countPad ? kernel * kernel : inside;
            int yi = (pl * oh + p) * ow + q;
            y[yi] = s / div;
            for (int i = 0; i < kernel; i++)
            for (int j = 0; j < kernel; j++)
            {
                int hh = p * stride - pad + i, ww = q * stride - pad + j;
                if (hh >= 0 && hh < h && ww >= 0 && ww < w) gx[(pl * h + hh) * w + ww] += r[yi] / div;
            }
        }
        foreach (var dtype in new[] { DType.Float64, DType.Float32 })
        {
            double tol = dtype == DType.Float64 ? 1e-14 : 1e-6;
            var tx = Tensor.FromArray(x, n, c, h, w).To(dtype).RequireGrad();
            var ty = NN.AvgPool2d(tx, kernel, stride, pad, false, countPad, divisor);
            Assert.Equal([n, c, oh, ow], ty.Shape.ToArray());
            T.Close(y, ty.ToDoubleArray(), tol, tol, $"avgpool {dtype}");
            (ty * Tensor.FromArray(r, n, c, oh, ow).To(dtype)).Sum().Backward();
            T.Close(gx, tx.Grad!.ToDoubleArray(), tol, tol, $"avgpool dx {dtype}");
        }
    }

    [Fact]
    public void PoolRejectionsNameTheOpAndTheInput()
    {
        Assert.Equal("MaxPool2d: input must be [N, C, H, W]; got [2, 5, 5].",
            Assert.Throws<ShapeMismatchException>(() => NN.MaxPool2d(Tensor.Zeros([2, 5, 5]), 2)).Message);
        Assert.Equal("AvgPool2d: input must be [N, C, H, W]; got [5, 5].",
            Assert.Throws<ShapeMismatchException>(() => NN.AvgPool2d(Tensor.Zeros([5, 5]), 2)).Message);
        var ex = Assert.Throws<ShapeMismatchException>(() => NN.MaxPool2d(Tensor.Zeros([1, 1, 2, 2]), 3));
        Assert.StartsWith("MaxPool2d on input [1, 1, 2, 2]: ", ex.Message);
        var ex2 = Assert.Throws<ShapeMismatchException>(() => NN.AvgPool2d(Tensor.Zeros([1, 1, 2, 2]), 3));
        Assert.StartsWith("AvgPool2d on input [1, 1, 2, 2]: ", ex2.Message);
    }
}
