using FlexNet.Graph;
using FlexNet.Tests.Testing;
using FlexNet.Tensors;
using FlexNet.Autodiff;
using FlexNet.Connections;

namespace FlexNet.Tests.Autodiff;

/// <summary>
/// 'same' padding with an even (effective) kernel pads unevenly; PyTorch (<c>padding='same'</c>) and Keras/TensorFlow
/// put the extra row/column after (bottom/right). The expected outputs are convolutions written as plain loops over
/// an explicitly padded input, with the padding amounts written out by hand for each case.
/// </summary>
public sealed class SamePaddingEvenKernelTests
{
    /// <summary>y[n,o,i,j] = b[o] + Σ_c Σ_kh Σ_kw w[o,c,kh,kw] · x[n, c, i·s + kh·d − top, j·s + kw·d − left] (0 outside).</summary>
    private static double[] Conv(double[] x, int n, int cin, int h, int w, double[] wt, int cout, int kh, int kw, double[] b,
                                 int stride, int dilation, int top, int left, int hout, int wout)
    {
        var y = new double[n * cout * hout * wout];
        for (int s = 0; s < n; s++)
            for (int o = 0; o < cout; o++)
                for (int i = 0; i < hout; i++)
                    for (int j = 0; j < wout; j++)
                    {
                        double acc = b[o];
                        for (int c = 0; c < cin; c++)
                            for (int a = 0; a < kh; a++)
                                for (int e = 0; e < kw; e++)
                                {
                                    int r = i * stride + a * dilation - top, q = j * stride + e * dilation - left;
                                    if (r < 0 || r >= h || q < 0 || q >= w) continue;
                                    acc += wt[((o * cin + c) * kh + a) * kw + e] * x[((s * cin + c) * h + r) * w + q];
                                }
                        y[((s * cout + o) * hout + i) * wout + j] = acc;
                    }
        return y;
    }

    private static double[] Values(ulong seed, int count)
    {
        var rng = new RandomGenerator(seed);
        var v = new double[count];
        for (int i = 0; i < count; i++) v[i] = rng.NextNormal();
        return v;
    }

    // kernel kh×kw, stride, dilation, input h×w → padding before (top, left) and output size, worked out by hand:
    // total = max((out − 1)·s + d·(k − 1) + 1 − in, 0), out = ⌈in / s⌉, before = ⌊total / 2⌋, after = the rest.
    [Theory]
    [InlineData(2, 2, 1, 1, 5, 6, 0, 0, 5, 6)]   // k 2: total 1 → 0 before, 1 after
    [InlineData(4, 4, 1, 1, 5, 6, 1, 1, 5, 6)]   // k 4: total 3 → 1 before, 2 after
    [InlineData(2, 4, 1, 1, 4, 7, 0, 1, 4, 7)]   // mixed
    [InlineData(4, 2, 2, 1, 5, 6, 1, 0, 3, 3)]   // stride 2: rows total (2·2 + 4 − 5) = 3 → 1 | 2; cols (2·2 + 2 − 6) = 0
    [InlineData(2, 2, 1, 3, 5, 6, 1, 1, 5, 6)]   // dilation 3: effective kernel 4, total 3 → 1 before, 2 after
    [InlineData(3, 3, 1, 1, 5, 6, 1, 1, 5, 6)]   // odd kernel, symmetric (control)
    public void Conv2dSamePutsTheExtraRowAndColumnAfter(int kh, int kw, int stride, int dilation, int h, int w,
                                                        int top, int left, int hout, int wout)
    {
        const int n = 2, cin = 2, cout = 3;
        var xv = Values(1, n * cin * h * w);
        var wv = Values(2, cout * cin * kh * kw);
        var bv = Values(3, cout);
        var want = Conv(xv, n, cin, h, w, wv, cout, kh, kw, bv, stride, dilation, top, left, hout, wout);
        var y = NN.Conv2d(Tensor.FromArray(xv, n, cin, h, w), Tensor.FromArray(wv, cout, cin, kh, kw), Tensor.FromArray(bv, cout),
                          (stride, stride), Padding.Same, (dilation, dilation));
        Assert.Equal([n, cout, hout, wout], y.ShapeArray);
        T.Close(want, y.ToDoubleArray(), 1e-12, 1e-12, $"conv2d same k={kh}x{kw} s={stride} d={dilation}");

        // and the other placement (extra before) really is different, so this test can tell them apart
        if ((top, left) != (0, 0) || kh % 2 == 0)
        {
            int altTop = Math.Max((hout - 1) * stride + dilation * (kh - 1) + 1 - h, 0), altLeft = Math.Max((wout - 1) * stride + dilation * (kw - 1) + 1 - w, 0);
            altTop -= altTop / 2;
            altLeft -= altLeft / 2;
            if ((altTop, altLeft) != (top, left))
            {
                var other = Conv(xv, n, cin, h, w, wv, cout, kh, kw, bv, stride, dilation, altTop, altLeft, hout, wout);
                Assert.NotEqual(want, other);
            }
        }
    }

    [Theory]
    [InlineData(2, 0)]
    [InlineData(4, 1)]
    [InlineData(6, 2)]
    public void Conv1dSamePutsTheExtraElementAfter(int k, int left)
    {
        const int n = 2, cin = 2, cout = 2, len = 7;
        var xv = Values(4, n * cin * len);
        var wv = Values(5, cout * cin * k);
        var bv = Values(6, cout);
        var want = Conv(xv, n, cin, 1, len, wv, cout, 1, k, bv, 1, 1, 0, left, 1, len);
        var y = NN.Conv1d(Tensor.FromArray(xv, n, cin, len), Tensor.FromArray(wv, cout, cin, k), Tensor.FromArray(bv, cout), 1, Padding.Same);
        Assert.Equal([n, cout, len], y.ShapeArray);
        T.Close(want, y.ToDoubleArray(), 1e-12, 1e-12, $"conv1d same k={k}");
    }

    [Fact]
    public void Conv2dConnectionWithSamePaddingInANetwork()
    {
        // the graph path: input [2, 5, 6] → conv 2×2 'same' → layer [3, 5, 6]
        const int n = 2, cin = 2, cout = 3, h = 5, w = 6, k = 2;
        var net = new Network("same", DType.Float64, 7);
        var x = new InputLayer([cin, h, w], name: "x");
        var y = new Layer([cout, h, w], name: "y");
        var conv = net.ConnectConv2d(x, y, k, padding: Padding.Same);
        net.AddOutput(y);
        net.Compile();
        var xv = Values(8, n * cin * h * w);
        var wt = conv.Parameters[0].ToDoubleArray();
        var b = conv.Parameters.Count > 1 ? conv.Parameters[1].ToDoubleArray() : new double[cout];
        var want = Conv(xv, n, cin, h, w, wt, cout, k, k, b, 1, 1, 0, 0, h, w);
        var got = net.Forward(Tensor.FromArray(xv, n, cin, h, w))[0];
        T.Close(want, got.ToDoubleArray(), 1e-12, 1e-12, "network conv2d same");
    }
}
