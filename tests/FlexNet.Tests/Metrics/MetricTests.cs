using FlexNet.Metrics;
using FlexNet.Tensors;

namespace FlexNet.Tests.Metrics;

public sealed class MetricTests
{
    [Fact]
    public void AccuracyTopKAndRegressionMetrics()
    {
        var o = Tensor.FromArray(new float[] { 0.1f, 0.7f, 0.2f, 0.5f, 0.2f, 0.3f, 0.3f, 0.3f, 0.4f, 0.0f, 0.6f, 0.4f }, 4, 3);
        var y = Tensor.FromArray(new[] { 1, 2, 1, 2 }, 4);
        Assert.Equal((1.0, 4.0), new Accuracy().Evaluate(o, y)); // only row 0 right
        Assert.Equal((3.0, 4.0), new TopKAccuracy(2).Evaluate(o, y)); // rows 0, 1, 3 (row 2: label 1 ties with class 0, which ranks first, and 2 is larger)
        Assert.Equal((4.0, 4.0), new TopKAccuracy(3).Evaluate(o, y));
        var oneHot = Tensor.FromArray(new float[] { 0, 1, 0, 0, 0, 1, 0, 1, 0, 0, 0, 1 }, 4, 3);
        Assert.Equal((1.0, 4.0), new Accuracy().Evaluate(o, oneHot));
        // binary logits [N, 1] with 0/1 labels
        Assert.Equal((2.0, 3.0), new Accuracy().Evaluate(Tensor.FromArray(new float[] { 2, -1, 0.5f }, 3, 1), Tensor.FromArray(new[] { 1, 1, 1 }, 3)));
        // sequences [T, N, C] with labels [T, N]
        Assert.Equal((1.0, 4.0), new Accuracy().Evaluate(o.Reshape(2, 2, 3), y.Reshape(2, 2)));
        var t = Tensor.FromArray(new float[] { 1, 2, 3 }, 3);
        var p = Tensor.FromArray(new float[] { 1, 0, 4 }, 3);
        Assert.Equal((5.0, 3.0), new MeanSquaredErrorMetric().Evaluate(p, t));
        Assert.Equal((3.0, 3.0), new MeanAbsoluteErrorMetric().Evaluate(p, t));
        Assert.IsType<TopKAccuracy>(Metric.Create("top5"));
        Assert.Equal("acc", Metric.Create("accuracy").Name);
        Assert.Throws<ArgumentException>(() => Metric.Create("f1"));
        Assert.Throws<ShapeMismatchException>(() => new Accuracy().Evaluate(o, Tensor.FromArray(new[] { 1, 2 }, 2)));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Accuracy().Evaluate(o, Tensor.FromArray(new[] { 1, 2, 3, 0 }, 4)));
    }
}
