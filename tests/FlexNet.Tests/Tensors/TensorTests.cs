using FlexNet.Tensors;

namespace FlexNet.Tests.Tensors;

public class TensorTests
{
    [Fact]
    public void FactoriesProduceExpectedValues()
    {
        Assert.Equal(new float[] { 0, 0, 0, 0 }, Tensor.Zeros([2, 2]).ToFloatArray());
        Assert.Equal(new double[] { 1, 1 }, Tensor.Ones([2], DType.Float64).ToDoubleArray());
        Assert.Equal(new float[] { 2.5f, 2.5f }, Tensor.Full([2], 2.5).ToFloatArray());
        Assert.Equal(new float[] { 1, 3, 5 }, Tensor.Arange(1, 6, 2).ToFloatArray());
        Assert.Equal(DType.Float32, Tensor.Zeros([1]).DType);
        var s = Tensor.Scalar(4);
        Assert.Equal(0, s.Rank);
        Assert.Equal(4, s.Item());
    }

    [Fact]
    public void RandomIsSeededAndStateRestores()
    {
        var g = new RandomGenerator(42);
        var a = Tensor.Normal([1000], 0, 1, g, DType.Float64).ToDoubleArray();
        var state = g.GetState();
        var b = Tensor.Uniform([10], -1, 1, g, DType.Float64).ToDoubleArray();
        g.SetState(state);
        var c = Tensor.Uniform([10], -1, 1, g, DType.Float64).ToDoubleArray();
        Assert.Equal(b, c);
        Assert.Equal(a, Tensor.Normal([1000], 0, 1, new RandomGenerator(42), DType.Float64).ToDoubleArray());
        double mean = a.Average(), var_ = a.Select(v => (v - mean) * (v - mean)).Average();
        Assert.InRange(mean, -0.1, 0.1);
        Assert.InRange(var_, 0.85, 1.15);
        Assert.All(b, v => Assert.InRange(v, -1, 1));
    }

    [Fact]
    public void ArraysAndSpansRoundTrip()
    {
        var data = new float[] { 1, 2, 3, 4, 5, 6 };
        var t = Tensor.FromArray(data, 2, 3);
        Assert.Equal([2, 3], t.Shape.ToArray());
        Assert.Equal(6, t[1, 2]);
        Span<float> dst = stackalloc float[6];
        t.CopyTo(dst);
        Assert.Equal(data, dst.ToArray());
        Assert.Equal(new double[] { 1, 2, 3, 4, 5, 6 }, t.To(DType.Float64).ToDoubleArray());
        Assert.Throws<ShapeMismatchException>(() => Tensor.FromArray(data, 4, 2));
        var w = Tensor.Wrap(data, 3, 2);
        data[0] = 9;
        Assert.Equal(9, w[0, 0]);
    }

    [Fact]
    public void ToStringIsReadable()
    {
        var t = Tensor.FromArray(new float[] { 1, 2, 3, 4 }, 2, 2);
        Assert.Equal("Tensor[2, 2] Float32 [[1, 2], [3, 4]]", t.ToString());
        var big = Tensor.Zeros([100, 100]);
        Assert.Contains("mean 0", big.ToString());
        Assert.Contains("grad_fn=MulBackward", (Tensor.Ones([2]).RequireGrad() * Tensor.Ones([2])).ToString());
    }
}
