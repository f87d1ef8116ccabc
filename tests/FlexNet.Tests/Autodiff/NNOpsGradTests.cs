using FlexNet.Tests.Testing;
using FlexNet.Tensors;
using FlexNet.Autodiff;

namespace FlexNet.Tests.Autodiff;

public class NNOpsGradTests
{
    [Fact]
    public void MatMulPassesGradientCheckOnAllLayouts()
    {
        var a = T.Rand(1, 3, 5);
        var b = T.Rand(2, 5, 4);
        T.GradOk("matmul", x => NN.MatMul(x[0], x[1]), a, b);
        T.GradOk("matmul transposed views", x => NN.MatMul(x[1].T, x[0].T), a, b);
        T.GradOk("matmul non-contiguous", x => NN.MatMul(x[0], x[1]), T.NonContiguous(a), T.NonContiguous(b));
        T.GradOk("batched", x => NN.MatMul(x[0], x[1]), T.Rand(3, 2, 3, 5), T.Rand(4, 2, 5, 4));
        T.GradOk("batch broadcast", x => NN.MatMul(x[0], x[1]), T.Rand(3, 2, 1, 3, 5), T.Rand(4, 3, 5, 2));
        T.GradOk("vector-matrix", x => NN.MatMul(x[0], x[1]), T.Rand(5, 5), b);
        T.GradOk("matrix-vector", x => NN.MatMul(x[0], x[1]), a, T.Rand(6, 5));
        T.GradOk("batch 1", x => NN.MatMul(x[0], x[1]), T.Rand(7, 1, 5), b);
        T.GradOk("linear", x => NN.Linear(x[0], x[1], x[2]), T.Rand(8, 4, 3), T.Rand(9, 2, 3), T.Rand(10, 2));
    }

    [Fact]
    public void MatMulMatchesNaiveLoops()
    {
        foreach (var (m, k, n) in new[] { (1, 1, 1), (3, 7, 5), (17, 9, 33), (2, 40, 1) })
        {
            var a = Tensor.Normal([m, k], 0, 1, new RandomGenerator(1), DType.Float64);
            var b = Tensor.Normal([k, n], 0, 1, new RandomGenerator(2), DType.Float64);
            var y = NN.MatMul(a, b).ToDoubleArray();
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++)
                {
                    double s = 0;
                    for (int p = 0; p < k; p++) s += a[i, p] * b[p, j];
                    Assert.Equal(s, y[i * n + j], 1e-12);
                }
        }
        var e = Assert.Throws<ShapeMismatchException>(() => NN.MatMul(Tensor.Zeros([2, 3]), Tensor.Zeros([4, 5])));
        Assert.Contains("[2, 3]", e.Message);
        Assert.Contains("[4, 5]", e.Message);
    }

    [Fact]
    public void SoftmaxFamilyPassesGradientCheck()
    {
        var x = T.Rand(11, 4, 6);
        T.GradOk("softmax", v => NN.Softmax(v[0]), x);
        T.GradOk("softmax axis 0", v => NN.Softmax(v[0], 0), x);
        T.GradOk("log softmax", v => NN.LogSoftmax(v[0]), x);
        T.GradOk("log softmax non-contiguous", v => NN.LogSoftmax(v[0]), T.NonContiguous(x));
        var labels = Tensor.FromArray(new[] { 1, 0, 5, 3 }, 4);
        T.GradOk("cross entropy", v => NN.CrossEntropy(v[0], labels), x);
        T.GradOk("cross entropy sum", v => NN.CrossEntropy(v[0], labels, mean: false), x);
    }

    [Fact]
    public void SoftmaxIsStableForHugeLogits()
    {
        var x = Tensor.FromArray(new float[] { 1e4f, -1e4f, 0, 1e4f, 1e4f, -1e4f }, 2, 3).RequireGrad();
        var p = NN.Softmax(x).ToFloatArray();
        Assert.All(p, v => Assert.True(float.IsFinite(v)));
        Assert.Equal(1f, p[0], 6);
        var loss = NN.CrossEntropy(x, Tensor.FromArray(new[] { 1, 2 }, 2));
        Assert.True(double.IsFinite(loss.Item()));
        loss.Backward();
        Assert.All(x.Grad!.ToFloatArray(), v => Assert.True(float.IsFinite(v)));
    }

    [Fact]
    public void CrossEntropyMatchesPyTorchReference()
    {
        var f = Reference.Load("cross_entropy");
        var logits = f.Tensor("logits").RequireGrad();
        var target = f.Tensor("target");
        var loss = NN.CrossEntropy(logits, target);
        loss.Backward();
        T.Close(f.Tensor("out_loss").ToDoubleArray(), [loss.Item()], 1e-10, 1e-12, "loss");
        T.Close(f.Tensor("grad_logits").ToDoubleArray(), logits.Grad!.ToDoubleArray(), 1e-9, 1e-12, "grad_logits");
    }

    [Fact]
    public void LabelOutOfRangeIsReported()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() =>
            NN.CrossEntropy(Tensor.Zeros([2, 3]), Tensor.FromArray(new[] { 0, 3 }, 2)));
        Assert.Contains("label 3 at row 1", e.Message);
    }

    [Fact]
    public void DropoutIsInvertedAndOffInEvaluation()
    {
        var x = Tensor.Ones([10000], DType.Float64).RequireGrad();
        var y = NN.Dropout(x, 0.3, training: true, rng: new RandomGenerator(5));
        var v = y.ToDoubleArray();
        Assert.All(v, e => Assert.True(e == 0 || Math.Abs(e - 1 / 0.7) < 1e-12));
        double kept = v.Count(e => e != 0) / 10000.0;
        Assert.InRange(kept, 0.67, 0.73);
        Assert.Equal(1.0, v.Average(), 0.05);
        Assert.Same(x, NN.Dropout(x, 0.3, training: false));
        y.Sum().Backward();
        Assert.Equal(v, x.Grad!.ToDoubleArray()); // gradient is the same mask
    }

    [Fact]
    public void EmbeddingGatherPassesGradientCheck()
    {
        var w = T.Rand(12, 5, 3);
        var idx = Tensor.FromArray(new[] { 4, 0, 4, 2, 1, 4 }, 2, 3);
        T.GradOk("gather", v => NN.Embedding(v[0], idx), w);
        var y = NN.Embedding(w, idx);
        Assert.Equal([2, 3, 3], y.Shape.ToArray());
        Assert.Equal(w[2, 1], y[1, 0, 1]);
        Assert.Throws<ArgumentOutOfRangeException>(() => NN.Embedding(w, Tensor.FromArray(new[] { 5 }, 1)));
    }
}
