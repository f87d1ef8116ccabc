using FlexNet.Kernels;
using Xunit;

namespace FlexNet.Tests.Kernels;

/// <summary>
/// The refusals of the pooling geometry and kernels with their whole messages, each parameter and each buffer alone,
/// and the bounds accepted at their limits (the layers validate first, so these checks were reached by no test).
/// </summary>
[Trait("Category", "Kernels")]
public sealed class PoolKernelsMessageTests
{
    [Theory]
    [InlineData(0, 4)]
    [InlineData(4, 0)]
    public void EmptyPlanes_AreNamed_EachDimensionAlone(int h, int w)
    {
        var e = Assert.Throws<ShapeMismatchException>(() => new PoolGeometry(h, w, 1, 1, 1, 1, 0, 0));
        Assert.Equal($"Pool: input plane [H={h}, W={w}] must have positive dimensions.", e.Message);
    }

    [Theory]
    [InlineData(0, 1, 1, 1, 1, 1)]
    [InlineData(1, 0, 1, 1, 1, 1)]
    [InlineData(1, 1, 0, 1, 1, 1)]
    [InlineData(1, 1, 1, 0, 1, 1)]
    [InlineData(1, 1, 1, 1, 0, 1)]
    [InlineData(1, 1, 1, 1, 1, 0)]
    public void KernelStrideAndDilation_AreRefused_EachAlone(int kh, int kw, int sh, int sw, int dh, int dw)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new PoolGeometry(4, 4, kh, kw, sh, sw, 0, 0, dh, dw));
        Assert.Equal($"Pool: kernel ({kh}x{kw}), stride ({sh}x{sw}) and dilation ({dh}x{dw}) must all be >= 1. (Parameter 'kernelH')", e.Message);
    }

    [Theory]
    [InlineData(-1, 0, 3, 3, 1, 1, "3x3")]
    [InlineData(0, -1, 3, 3, 1, 1, "3x3")]
    [InlineData(2, 0, 3, 3, 1, 1, "3x3")]   // half of 3 is 1
    [InlineData(0, 4, 2, 4, 1, 2, "2x7")]   // dilated width 2 * 3 + 1 = 7, half 3
    [InlineData(4, 0, 4, 2, 2, 1, "7x2")]   // dilated height 2 * 3 + 1 = 7, half 3
    public void Padding_BeyondHalfTheEffectiveKernel_IsRefused(int ph, int pw, int kh, int kw, int dh, int dw, string effective)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new PoolGeometry(9, 9, kh, kw, 1, 1, ph, pw, dh, dw));
        Assert.Equal($"Pool: padding ({ph}x{pw}) must be >= 0 and at most half the effective kernel ({effective}). (Parameter 'padH')", e.Message);
    }

    [Fact]
    public void Padding_AtHalfTheEffectiveKernel_IsAccepted()
    {
        var g = new PoolGeometry(9, 9, 2, 4, 1, 1, 1, 3, 1, 2); // effective 2 x 7: at most 1 x 3
        Assert.Equal("in 9x9, kernel 2x4, stride 1x1, pad 1x3, dilation 1x2, ceil False, out 10x9", g.ToString());
        g = new PoolGeometry(9, 9, 4, 2, 1, 1, 3, 1, 2, 1);      // effective 7 x 2: at most 3 x 1
        Assert.Equal(9, g.OutH);
        Assert.Equal(10, g.OutW);
    }

    [Fact]
    public void AWindowThatDoesNotFit_NamesTheEmptyOutput()
    {
        var e = Assert.Throws<ShapeMismatchException>(() => new PoolGeometry(1, 5, 3, 1, 1, 1, 0, 0));
        Assert.Equal("Pool: input plane [H=1, W=5] with kernel 3x1, stride 1x1, padding 0x0, dilation 1x1 gives an empty output -1x5.", e.Message);
        e = Assert.Throws<ShapeMismatchException>(() => new PoolGeometry(5, 1, 1, 3, 1, 1, 0, 0));
        Assert.Equal("Pool: input plane [H=5, W=1] with kernel 1x3, stride 1x1, padding 0x0, dilation 1x1 gives an empty output 5x-1.", e.Message);
    }

    [Fact]
    public void PlanesBeyondASpan_AreRefused_InputOrOutput()
    {
        // 65,536 x 32,769 input elements pass int's range
        var e = Assert.Throws<ShapeMismatchException>(() => new PoolGeometry(65536, 32769, 1, 1, 1, 1, 0, 0));
        Assert.Equal("Pool: plane [H=65536, W=32769] is too large for a span.", e.Message);
        // 46,340² input elements fit; kernel 2 with padding 1 makes 46,341² outputs, which do not
        e = Assert.Throws<ShapeMismatchException>(() => new PoolGeometry(46340, 46340, 2, 2, 1, 1, 1, 1));
        Assert.Equal("Pool: plane [H=46340, W=46340] is too large for a span.", e.Message);
        Assert.Equal(46340, new PoolGeometry(46340, 46340, 1, 1, 1, 1, 0, 0).OutH);
    }

    [Theory]
    [InlineData(0, 1, 1)]
    [InlineData(1, 0, 1)]
    [InlineData(1, 1, 0)]
    public void PoolOutSize_RefusesEachParameterBelowOne(int kernel, int stride, int dilation)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => PoolKernels.PoolOutSize(5, kernel, stride, 0, dilation, false));
        Assert.Equal($"PoolOutSize: kernel ({kernel}), stride ({stride}) and dilation ({dilation}) must all be >= 1. (Parameter 'kernel')", e.Message);
    }

    [Theory]
    [InlineData(1, 3, 2, 0, false, 0)]   // numerator -2: floor(-2 / 2) + 1
    [InlineData(0, 3, 2, 0, false, -1)]  // numerator -3: floor(-3 / 2) + 1, rounded down
    [InlineData(0, 4, 3, 0, false, -1)]  // numerator -4: floor(-4 / 3) + 1
    [InlineData(5, 2, 2, 0, true, 3)]    // ceil((5 - 2) / 2) + 1
    [InlineData(4, 2, 3, 1, true, 2)]    // ceil(4 / 3) + 1 = 3, but the third window would start in the right padding
    [InlineData(1, 3, 2, 0, true, 0)]    // ceil mode, negative numerator -1: floor(-1 / 2) + 1
    public void PoolOutSize_FloorsOrCeils_AsPyTorch(int inSize, int kernel, int stride, int pad, bool ceil, int expected)
        => Assert.Equal(expected, PoolKernels.PoolOutSize(inSize, kernel, stride, pad, 1, ceil));

    // 2 planes of 4 x 4, window 2 x 2, stride 2: outputs 2 x 2 (4 per plane)
    private static readonly PoolGeometry G = new(4, 4, 2, 2, 2, 2, 0, 0);
    private const string GText = "(in 4x4, kernel 2x2, stride 2x2, pad 0x0, dilation 1x1, ceil False, out 2x2)";

    private static string In(string op, string name, int length) => $"{op}: {name} has {length} elements, 2 planes of [4, 4] need 32 {GText}.";

    private static string Out(string op, string name, int length) => $"{op}: {name} has {length} elements, 2 planes of [2, 2] need 8 {GText}.";

    [Fact]
    public void ShortBuffers_AreNamed_EachAlone()
    {
        double[] x = new double[32], y = new double[8];
        int[] idx = new int[8];
        string M(Action a) => Assert.Throws<ShapeMismatchException>(a).Message;
        Assert.Equal(In("MaxPool2dForward", "x", 31), M(() => PoolKernels.MaxPool2dForward<double>(x.AsSpan(1), 2, G, y, idx)));
        Assert.Equal(Out("MaxPool2dForward", "y", 7), M(() => PoolKernels.MaxPool2dForward<double>(x, 2, G, y.AsSpan(1), idx)));
        Assert.Equal(Out("MaxPool2dForward", "indices", 7), M(() => PoolKernels.MaxPool2dForward<double>(x, 2, G, y, idx.AsSpan(1))));
        Assert.Equal(In("MaxPool2dBackward", "gx", 31), M(() => PoolKernels.MaxPool2dBackward<double>(y, idx, 2, G, x.AsSpan(1))));
        Assert.Equal(Out("MaxPool2dBackward", "gy", 7), M(() => PoolKernels.MaxPool2dBackward<double>(y.AsSpan(1), idx, 2, G, x)));
        Assert.Equal(Out("MaxPool2dBackward", "indices", 7), M(() => PoolKernels.MaxPool2dBackward<double>(y, idx.AsSpan(1), 2, G, x)));
        Assert.Equal(In("AvgPool2dForward", "x", 31), M(() => PoolKernels.AvgPool2dForward<double>(x.AsSpan(1), 2, G, true, 0, y)));
        Assert.Equal(Out("AvgPool2dForward", "y", 7), M(() => PoolKernels.AvgPool2dForward<double>(x, 2, G, true, 0, y.AsSpan(1))));
        Assert.Equal(In("AvgPool2dBackward", "gx", 31), M(() => PoolKernels.AvgPool2dBackward<double>(y, 2, G, true, 0, x.AsSpan(1))));
        Assert.Equal(Out("AvgPool2dBackward", "gy", 7), M(() => PoolKernels.AvgPool2dBackward<double>(y.AsSpan(1), 2, G, true, 0, x)));
        Assert.Equal("MaxPool2dForward: plane count -1 must be non-negative.", M(() => PoolKernels.MaxPool2dForward<double>(x, -1, G, y, idx)));
        // exactly long enough: accepted
        PoolKernels.MaxPool2dForward<double>(x, 2, G, y, idx);
        PoolKernels.MaxPool2dBackward<double>(y, idx, 2, G, x);
        PoolKernels.AvgPool2dForward<double>(x, 2, G, true, 0, y);
        PoolKernels.AvgPool2dBackward<double>(y, 2, G, true, 0, x);
    }

    [Fact]
    public void AveragePooling_RefusesDilationAndANegativeDivisor_InBothDirections()
    {
        double[] x = new double[32], y = new double[8];
        var dilatedW = new PoolGeometry(4, 5, 2, 2, 2, 2, 0, 0, 1, 2);
        var dilatedH = new PoolGeometry(5, 4, 2, 2, 2, 2, 0, 0, 2, 1);
        string M(Action a) => Assert.Throws<ArgumentOutOfRangeException>(a).Message;
        Assert.Equal("AvgPool2dForward: average pooling has no dilation, got 1x2. (Parameter 'g')", M(() => PoolKernels.AvgPool2dForward<double>(x, 1, dilatedW, true, 0, y)));
        Assert.Equal("AvgPool2dBackward: average pooling has no dilation, got 2x1. (Parameter 'g')", M(() => PoolKernels.AvgPool2dBackward<double>(y, 1, dilatedH, true, 0, x)));
        Assert.Equal("AvgPool2dForward: divisorOverride -1 must be > 0 (or 0 for none). (Parameter 'divisorOverride')", M(() => PoolKernels.AvgPool2dForward<double>(x, 2, G, true, -1, y)));
        Assert.Equal("AvgPool2dBackward: divisorOverride -1 must be > 0 (or 0 for none). (Parameter 'divisorOverride')", M(() => PoolKernels.AvgPool2dBackward<double>(y, 2, G, true, -1, x)));
    }
}
