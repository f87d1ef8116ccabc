using FlexNet.Kernels;
using Xunit;

namespace FlexNet.Tests.Kernels;

/// <summary>The refusals of the convolution kernels' helpers with their whole messages, each parameter alone, and the
/// output size at a zero and a negative numerator.</summary>
[Trait("Category", "Kernels")]
public sealed class ConvKernelsMessageTests
{
    [Theory]
    [InlineData(0, 1, 1)]
    [InlineData(1, 0, 1)]
    [InlineData(1, 1, 0)]
    public void ConvOutSize_RefusesEachParameterBelowOne(int kernel, int stride, int dilation)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => ConvKernels.ConvOutSize(5, kernel, stride, 0, 0, dilation));
        Assert.Equal($"ConvOutSize: kernel ({kernel}), stride ({stride}) and dilation ({dilation}) must all be >= 1. (Parameter 'kernel')", e.Message);
    }

    [Theory]
    [InlineData(5, 3, 2, 0, 0, 1, 2)]   // (5 - 2 - 1) / 2 + 1
    [InlineData(3, 3, 2, 0, 0, 1, 1)]   // numerator 0: one output
    [InlineData(1, 3, 2, 0, 0, 1, 0)]   // numerator -2: floor(-2 / 2) + 1 = 0
    [InlineData(0, 3, 2, 0, 0, 1, -1)]  // numerator -3: floor(-3 / 2) + 1 = -1 (rounded down, not toward zero)
    [InlineData(4, 2, 1, 1, 2, 3, 4)]   // (4 + 1 + 2 - 3 - 1) / 1 + 1
    public void ConvOutSize_FloorsTheNumerator(int inSize, int kernel, int stride, int before, int after, int dilation, int expected)
        => Assert.Equal(expected, ConvKernels.ConvOutSize(inSize, kernel, stride, before, after, dilation));

    [Theory]
    [InlineData(0, 1)]
    [InlineData(1, 0)]
    public void SamePadding_RefusesEachParameterBelowOne(int kernel, int dilation)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => ConvKernels.SamePadding(kernel, dilation));
        Assert.Equal($"SamePadding: kernel ({kernel}) and dilation ({dilation}) must be >= 1. (Parameter 'kernel')", e.Message);
    }

    // one 2 x 2 channel, kernel 2 x 2: output 1 x 1, columns [4, 1]
    private static void Im2Col(int srcLength, int dstLength) =>
        ConvKernels.Im2Col<double>(new double[srcLength], 1, 2, 2, 2, 2, 1, 1, 0, 0, 0, 0, 1, 1, new double[dstLength]);

    private static void Col2Im(int colsLength, int dstLength) =>
        ConvKernels.Col2Im<double>(new double[colsLength], 1, 2, 2, 2, 2, 1, 1, 0, 0, 0, 0, 1, 1, new double[dstLength]);

    private static void Col2ImScratch(int colsLength, int dstLength) =>
        ConvKernels.Col2ImScratch<double>(new double[colsLength], 1, 2, 2, 2, 2, 1, 1, 0, 0, 0, 0, 1, 1, new double[dstLength]);

    [Fact]
    public void ShortBuffers_AreNamedWithWhatTheyNeed()
    {
        const string Image = "has 3 elements, image [C=1, H=2, W=2] needs 4.";
        const string Columns = "has 3 elements, columns [4, 1] (kernel 2x2, output 1x1) need 4.";
        Assert.Equal("Im2Col: src " + Image, Assert.Throws<ShapeMismatchException>(() => Im2Col(3, 4)).Message);
        Assert.Equal("Im2Col: dst " + Columns, Assert.Throws<ShapeMismatchException>(() => Im2Col(4, 3)).Message);
        Assert.Equal("Col2Im: dst " + Image, Assert.Throws<ShapeMismatchException>(() => Col2Im(4, 3)).Message);
        Assert.Equal("Col2Im: cols " + Columns, Assert.Throws<ShapeMismatchException>(() => Col2Im(3, 4)).Message);
        Assert.Equal("Col2Im: dst " + Image, Assert.Throws<ShapeMismatchException>(() => Col2ImScratch(4, 3)).Message);
        Assert.Equal("Col2Im: cols " + Columns, Assert.Throws<ShapeMismatchException>(() => Col2ImScratch(3, 4)).Message);
        // exactly long enough: accepted
        Im2Col(4, 4);
        Col2Im(4, 4);
        Col2ImScratch(4, 4);
    }

    [Theory]
    [InlineData(0, 2, 2)]
    [InlineData(1, 0, 2)]
    [InlineData(1, 2, 0)]
    public void EmptyImages_AreNamed_EachDimensionAlone(int c, int h, int w)
    {
        var e = Assert.Throws<ShapeMismatchException>(() =>
            ConvKernels.Im2Col<double>(new double[8], c, h, w, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, new double[8]));
        Assert.Equal($"Im2Col: image [C={c}, H={h}, W={w}] must have positive dimensions.", e.Message);
    }

    [Theory]
    [InlineData(0, 1, 1, 1, 1, 1, "kernel (0x1), stride (1x1) and dilation (1x1)")]
    [InlineData(1, 0, 1, 1, 1, 1, "kernel (1x0), stride (1x1) and dilation (1x1)")]
    [InlineData(1, 1, 0, 1, 1, 1, "kernel (1x1), stride (0x1) and dilation (1x1)")]
    [InlineData(1, 1, 1, 0, 1, 1, "kernel (1x1), stride (1x0) and dilation (1x1)")]
    [InlineData(1, 1, 1, 1, 0, 1, "kernel (1x1), stride (1x1) and dilation (0x1)")]
    [InlineData(1, 1, 1, 1, 1, 0, "kernel (1x1), stride (1x1) and dilation (1x0)")]
    public void KernelStrideAndDilation_AreRefused_EachAlone(int kh, int kw, int sh, int sw, int dh, int dw, string what)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() =>
            ConvKernels.Col2Im<double>(new double[64], 1, 4, 4, kh, kw, sh, sw, 0, 0, 0, 0, dh, dw, new double[16]));
        Assert.Equal($"Col2Im: {what} must all be >= 1. (Parameter 'kh')", e.Message);
    }

    [Fact]
    public void AKernelThatDoesNotFit_NamesTheEmptyOutput()
    {
        // 2 x 3 image, kernel 3 x 3, padding only on the left and right: 0 output rows, 3 output columns
        var e = Assert.Throws<ShapeMismatchException>(() =>
            ConvKernels.Im2Col<double>(new double[6], 1, 2, 3, 3, 3, 1, 1, 0, 1, 0, 1, 1, 1, new double[64]));
        Assert.Equal("Im2Col: image [C=1, H=2, W=3] with kernel 3x3, stride 1x1, padding (top 0, left 1, bottom 0, right 1), " +
            "dilation 1x1 gives an empty output 0x3.", e.Message);
    }

    [Fact]
    public void AnEmptyOutputWidth_AndSizesBeyondASpan_AreNamed()
    {
        // 3 x 2 image, kernel 3 x 3, padding only above and below: 3 output rows, 0 output columns
        var e = Assert.Throws<ShapeMismatchException>(() =>
            ConvKernels.Im2Col<double>(new double[6], 1, 3, 2, 3, 3, 1, 1, 1, 0, 1, 0, 1, 1, new double[64]));
        Assert.Equal("Im2Col: image [C=1, H=3, W=2] with kernel 3x3, stride 1x1, padding (top 1, left 0, bottom 1, right 0), " +
            "dilation 1x1 gives an empty output 3x0.", e.Message);
        // 50,000 x 50,000 with a 1 x 1 kernel: 2.5e9 column elements (checked before the spans' lengths)
        var big = Assert.Throws<ShapeMismatchException>(() =>
            ConvKernels.Im2Col<double>(new double[1], 1, 50_000, 50_000, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, new double[1]));
        Assert.Equal("Im2Col: image [C=1, H=50000, W=50000] with kernel 1x1 needs 2500000000 column elements, more than a span holds.", big.Message);
        // a stride of 1,000 leaves 2,500 columns, but the image itself is beyond a span
        var image = Assert.Throws<ShapeMismatchException>(() =>
            ConvKernels.Col2Im<double>(new double[1], 1, 50_000, 50_000, 1, 1, 1000, 1000, 0, 0, 0, 0, 1, 1, new double[1]));
        Assert.Equal("Col2Im: image [C=1, H=50000, W=50000] with kernel 1x1 needs 2500 column elements, more than a span holds.", image.Message);
    }

    [Fact]
    public void ShortColumns_NameBothOutputSizes()
    {
        // one 3 x 3 channel, kernel 2 x 2: output 2 x 2, columns [4, 4] = 16 elements
        var e = Assert.Throws<ShapeMismatchException>(() =>
            ConvKernels.Im2Col<double>(new double[9], 1, 3, 3, 2, 2, 1, 1, 0, 0, 0, 0, 1, 1, new double[15]));
        Assert.Equal("Im2Col: dst has 15 elements, columns [4, 4] (kernel 2x2, output 2x2) need 16.", e.Message);
    }

    [Fact]
    public void ExactlyASpanOfColumns_IsAccepted_AndOnlyTheShortSourceIsNamed()
    {
        // one row of int.MaxValue pixels with a 1 x 1 kernel: C*H*W and the column count both equal int.MaxValue, which
        // a span holds, so the geometry passes and the one-element source is what is refused (nothing is allocated)
        var e = Assert.Throws<ShapeMismatchException>(() =>
            ConvKernels.Im2Col<double>(new double[1], 1, 1, int.MaxValue, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, new double[1]));
        Assert.Equal($"Im2Col: src has 1 elements, image [C=1, H=1, W={int.MaxValue}] needs {int.MaxValue}.", e.Message);
    }

    [Fact]
    public void Col2ImScratch_NamesItsGeometryRefusals()
    {
        var e = Assert.Throws<ShapeMismatchException>(() =>
            ConvKernels.Col2ImScratch<double>(new double[4], 0, 2, 2, 2, 2, 1, 1, 0, 0, 0, 0, 1, 1, new double[4]));
        Assert.Equal("Col2Im: image [C=0, H=2, W=2] must have positive dimensions.", e.Message);
    }
}
