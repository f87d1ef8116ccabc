using FlexNet.Autodiff.Ops;
using FlexNet.Tensors;

namespace FlexNet.Autodiff;

public static partial class NN
{
    /// <summary>2-d convolution (cross-correlation, PyTorch): y[n,o,i,j] = b[o] + Σ_{c,u,v} w[o,c,u,v]·x[n,c,i·s+u·d−p, j·s+v·d−p].
    /// x [N, C, H, W], weight [O, C, kh, kw], bias [O] → [N, O, Hout, Wout], Hout = ⌊(H + pt + pb − d(kh−1) − 1)/s⌋ + 1.</summary>
    /// <param name="x">Input images.</param>
    /// <param name="weight">Filters.</param>
    /// <param name="bias">Optional per-output-channel bias.</param>
    /// <param name="stride">Stride on both axes.</param>
    /// <param name="padding">Padding (int, <see cref="Padding.Same"/>, <see cref="Padding.Valid"/> or explicit per side).</param>
    /// <param name="dilation">Dilation on both axes.</param>
    /// <returns>The feature maps.</returns>
    public static Tensor Conv2d(Tensor x, Tensor weight, Tensor? bias = null, int stride = 1, Padding padding = default, int dilation = 1) =>
        Conv.Conv2d(x, weight, bias, (stride, stride), padding, (dilation, dilation));

    /// <summary>2-d convolution with separate vertical/horizontal stride and dilation (see the other overload).</summary>
    /// <param name="x">Input [N, C, H, W].</param>
    /// <param name="weight">Filters [O, C, kh, kw].</param>
    /// <param name="bias">Optional bias [O].</param>
    /// <param name="stride">(vertical, horizontal) stride.</param>
    /// <param name="padding">Padding.</param>
    /// <param name="dilation">(vertical, horizontal) dilation.</param>
    /// <returns>[N, O, Hout, Wout].</returns>
    public static Tensor Conv2d(Tensor x, Tensor weight, Tensor? bias, (int H, int W) stride, Padding padding, (int H, int W) dilation) =>
        Conv.Conv2d(x, weight, bias, stride, padding, dilation);

    /// <summary>1-d convolution over sequences: x [N, C, L], weight [O, C, k], bias [O] → [N, O, Lout]; Lout = ⌊(L + 2p − d(k−1) − 1)/s⌋ + 1.</summary>
    /// <param name="x">Input.</param>
    /// <param name="weight">Filters.</param>
    /// <param name="bias">Optional bias.</param>
    /// <param name="stride">Stride.</param>
    /// <param name="padding">Padding (int, same or valid).</param>
    /// <param name="dilation">Dilation.</param>
    /// <returns>The output sequence maps.</returns>
    public static Tensor Conv1d(Tensor x, Tensor weight, Tensor? bias = null, int stride = 1, Padding padding = default, int dilation = 1)
    {
        if (x.Rank != 3 || weight.Rank != 3)
            throw new ShapeMismatchException($"Conv1d: input {ShapeUtil.Format(x.Shape)} must be [N, C, L] and weight {ShapeUtil.Format(weight.Shape)} [O, C, k].");
        var pad = padding.IsSame ? padding : Padding.Explicit(0, 0, padding.Left, padding.Right);
        var y = Conv.Conv2d(x.Unsqueeze(2), weight.Unsqueeze(2), bias, (1, stride), pad, (1, dilation));
        return y.Squeeze(2);
    }

    /// <summary>Transposed 2-d convolution (the adjoint of <see cref="Conv2d(Tensor, Tensor, Tensor?, int, Padding, int)"/>, PyTorch layout):
    /// x [N, Cin, H, W], weight [Cin, Cout, kh, kw], bias [Cout] → [N, Cout, Hout, Wout],
    /// Hout = (H − 1)·s − 2p + d·(kh − 1) + outputPadding + 1.</summary>
    /// <param name="x">Input.</param>
    /// <param name="weight">Filters [Cin, Cout, kh, kw].</param>
    /// <param name="bias">Optional bias [Cout].</param>
    /// <param name="stride">Stride.</param>
    /// <param name="padding">Implicit zero padding removed from each side of the output.</param>
    /// <param name="outputPadding">Extra rows/columns added on one side of the output.</param>
    /// <param name="dilation">Dilation.</param>
    /// <returns>The upsampled maps.</returns>
    public static Tensor ConvTranspose2d(Tensor x, Tensor weight, Tensor? bias = null, int stride = 1, int padding = 0,
                                         int outputPadding = 0, int dilation = 1) =>
        Conv.ConvTranspose2d(x, weight, bias, (stride, stride), (padding, padding), (outputPadding, outputPadding), (dilation, dilation));

    /// <summary>2-d max pooling: y = max over each kernel window (padding counts as −∞). x [N, C, H, W] → [N, C, Hout, Wout].</summary>
    /// <param name="x">Input.</param>
    /// <param name="kernel">Window size.</param>
    /// <param name="stride">Stride (default: the kernel size).</param>
    /// <param name="padding">Symmetric padding, at most half the window.</param>
    /// <param name="dilation">Dilation.</param>
    /// <param name="ceilMode">Round the output size up (PyTorch ceil_mode).</param>
    /// <returns>The pooled maps.</returns>
    public static Tensor MaxPool2d(Tensor x, int kernel, int? stride = null, int padding = 0, int dilation = 1, bool ceilMode = false) =>
        Pool.Max2d(x, (kernel, kernel), (stride ?? kernel, stride ?? kernel), (padding, padding), (dilation, dilation), ceilMode);

    /// <summary>2-d average pooling (PyTorch: count_include_pad default true). x [N, C, H, W] → [N, C, Hout, Wout].</summary>
    /// <param name="x">Input.</param>
    /// <param name="kernel">Window size.</param>
    /// <param name="stride">Stride (default: the kernel size).</param>
    /// <param name="padding">Symmetric zero padding.</param>
    /// <param name="ceilMode">Round the output size up.</param>
    /// <param name="countIncludePad">Whether padded zeros count in the divisor.</param>
    /// <param name="divisorOverride">If positive, the divisor of every window.</param>
    /// <returns>The pooled maps.</returns>
    public static Tensor AvgPool2d(Tensor x, int kernel, int? stride = null, int padding = 0, bool ceilMode = false,
                                   bool countIncludePad = true, int divisorOverride = 0) =>
        Pool.Avg2d(x, (kernel, kernel), (stride ?? kernel, stride ?? kernel), (padding, padding), ceilMode, countIncludePad, divisorOverride);

    /// <summary>1-d max pooling over x [N, C, L] → [N, C, Lout].</summary>
    /// <param name="x">Input.</param>
    /// <param name="kernel">Window length.</param>
    /// <param name="stride">Stride (default: kernel).</param>
    /// <param name="padding">Symmetric padding.</param>
    /// <param name="dilation">Dilation.</param>
    /// <param name="ceilMode">Round up.</param>
    /// <returns>The pooled sequences.</returns>
    public static Tensor MaxPool1d(Tensor x, int kernel, int? stride = null, int padding = 0, int dilation = 1, bool ceilMode = false)
    {
        Require3("MaxPool1d", x);
        return Pool.Max2d(x.Unsqueeze(2), (1, kernel), (1, stride ?? kernel), (0, padding), (1, dilation), ceilMode).Squeeze(2);
    }

    /// <summary>1-d average pooling over x [N, C, L] → [N, C, Lout].</summary>
    /// <param name="x">Input.</param>
    /// <param name="kernel">Window length.</param>
    /// <param name="stride">Stride (default: kernel).</param>
    /// <param name="padding">Symmetric padding.</param>
    /// <param name="ceilMode">Round up.</param>
    /// <param name="countIncludePad">Whether padded zeros count in the divisor.</param>
    /// <returns>The pooled sequences.</returns>
    public static Tensor AvgPool1d(Tensor x, int kernel, int? stride = null, int padding = 0, bool ceilMode = false, bool countIncludePad = true)
    {
        Require3("AvgPool1d", x);
        return Pool.Avg2d(x.Unsqueeze(2), (1, kernel), (1, stride ?? kernel), (0, padding), ceilMode, countIncludePad, 0).Squeeze(2);
    }

    /// <summary>Global average pooling: y[n, c] = mean over all positions of x[n, c, ...].</summary>
    /// <param name="x">Input [N, C, ...].</param>
    /// <returns>[N, C].</returns>
    public static Tensor GlobalAvgPool(Tensor x) => x.Reshape(x.Shape[0], x.Shape[1], -1).Mean(2);

    /// <summary>Global max pooling: y[n, c] = max over all positions of x[n, c, ...].</summary>
    /// <param name="x">Input [N, C, ...].</param>
    /// <returns>[N, C].</returns>
    public static Tensor GlobalMaxPool(Tensor x) => x.Reshape(x.Shape[0], x.Shape[1], -1).Max(2);

    private static void Require3(string op, Tensor x)
    {
        if (x.Rank != 3) throw new ShapeMismatchException($"{op}: input must be [N, C, L]; got {ShapeUtil.Format(x.Shape)}.");
    }
}
