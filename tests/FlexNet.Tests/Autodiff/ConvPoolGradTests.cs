using FlexNet.Tests.Testing;
using FlexNet.Tensors;
using FlexNet.Autodiff;

namespace FlexNet.Tests.Autodiff;

public class ConvPoolGradTests
{
    [Theory]
    [InlineData(1, 0, 1)]
    [InlineData(2, 1, 1)]
    [InlineData(1, 2, 2)]
    [InlineData(3, 1, 1)]
    public void Conv2dPassesGradientCheck(int stride, int pad, int dil)
    {
        var x = T.Rand(1, 2, 3, 6, 5);
        var w = T.Rand(2, 4, 3, 3, 2);
        var b = T.Rand(3, 4);
        T.GradOk($"conv2d s{stride} p{pad} d{dil}", v => NN.Conv2d(v[0], v[1], v[2], stride, pad, dil), x, w, b);
    }

    [Fact]
    public void ConvVariantsPassGradientCheck()
    {
        T.GradOk("conv2d same", v => NN.Conv2d(v[0], v[1], null, 1, Padding.Same), T.Rand(1, 1, 2, 5, 4), T.Rand(2, 3, 2, 2, 3));
        T.GradOk("conv2d same stride 2", v => NN.Conv2d(v[0], v[1], null, 2, Padding.Same), T.Rand(1, 1, 2, 5, 4), T.Rand(2, 3, 2, 3, 3));
        T.GradOk("conv2d non-contiguous", v => NN.Conv2d(v[0], v[1], v[2], 1, 1), T.NonContiguous(T.Rand(4, 2, 2, 4, 4)), T.Rand(5, 3, 2, 3, 3), T.Rand(6, 3));
        T.GradOk("conv1d", v => NN.Conv1d(v[0], v[1], v[2], 2, 1, 2), T.Rand(7, 2, 3, 9), T.Rand(8, 4, 3, 3), T.Rand(9, 4));
        T.GradOk("conv transpose", v => NN.ConvTranspose2d(v[0], v[1], v[2], 2, 1, 1), T.Rand(10, 2, 3, 3, 2), T.Rand(11, 3, 2, 3, 3), T.Rand(12, 2));
        T.GradOk("conv transpose dilated", v => NN.ConvTranspose2d(v[0], v[1], null, 1, 0, 0, 2), T.Rand(13, 1, 2, 3, 3), T.Rand(14, 2, 2, 2, 2));
    }

    [Fact]
    public void PoolingPassesGradientCheck()
    {
        // distinct values so no max ties sit within a finite-difference step
        var x = Tensor.FromArray(Enumerable.Range(0, 2 * 2 * 5 * 6).Select(i => Math.Sin(i * 1.37) * 3 + i * 0.001).ToArray(), 2, 2, 5, 6).RequireGrad();
        T.GradOk("maxpool2d", v => NN.MaxPool2d(v[0], 2), x);
        T.GradOk("maxpool2d pad ceil", v => NN.MaxPool2d(v[0], 3, 2, 1, ceilMode: true), x);
        T.GradOk("avgpool2d", v => NN.AvgPool2d(v[0], 2, 1, 1), x);
        T.GradOk("avgpool2d exclude pad", v => NN.AvgPool2d(v[0], 3, 2, 1, countIncludePad: false), x);
        var s = x.Detach().Reshape(2, 2, 30).RequireGrad();
        T.GradOk("maxpool1d", v => NN.MaxPool1d(v[0], 3, 2), s);
        T.GradOk("avgpool1d", v => NN.AvgPool1d(v[0], 4, 3, 2), s);
        T.GradOk("global avg", v => NN.GlobalAvgPool(v[0]), x);
        T.GradOk("global max", v => NN.GlobalMaxPool(v[0]), x);
    }

    [Fact]
    public void ConvShapeErrorsNameShapes()
    {
        var e = Assert.Throws<ShapeMismatchException>(() => NN.Conv2d(Tensor.Zeros([1, 3, 5, 5]), Tensor.Zeros([4, 2, 3, 3])));
        Assert.Contains("[1, 3, 5, 5]", e.Message);
        Assert.Contains("[4, 2, 3, 3]", e.Message);
        var p = Assert.Throws<ShapeMismatchException>(() => NN.MaxPool2d(Tensor.Zeros([1, 1, 5]), 2));
        Assert.Contains("[1, 1, 5]", p.Message);
        var k = Assert.Throws<ShapeMismatchException>(() => NN.Conv2d(Tensor.Zeros([1, 1, 2, 2]), Tensor.Zeros([1, 1, 3, 3])));
        Assert.Contains("empty output", k.Message);
    }
}
