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
}
