using FlexNet.Layers;
using FlexNet.Losses;
using FlexNet.Models;
using FlexNet.Optimizers;
using FlexNet.Tensors;
using FlexNet.Tests.Testing;
using FlexNet.Training;

namespace FlexNet.Tests.Training;

/// <summary>A softmax output with a cross-entropy loss is refused with what to write instead (issue 11).</summary>
public sealed class SoftmaxCrossEntropyTests
{
    private static TrainerOptions Options() => new()
    {
        Loss = new CrossEntropy(), Optimizer = new Sgd(0.1), Epochs = 1, BatchSize = 4, Progress = ProgressMode.None,
    };

    [Fact]
    public void SoftmaxOutputIntoCrossEntropyIsRefusedNamingTheLayer()
    {
        var m = new Sequential("probs", DType.Float64, 1, new Dense(5, "relu"), new Dense(3, "softmax", name: "out")) { InputShape = [4] };
        var x = T.Rand(1, 8, 4).Detach();
        var y = Tensor.FromArray(new[] { 0, 1, 2, 0, 1, 2, 0, 1 }, 8);
        var e = Assert.Throws<ArgumentException>(() => new Trainer(m.AsTrainable(), Options()).Fit(x, y));
        Assert.Contains("'out' applies softmax", e.Message);
        Assert.Contains("linear activation", e.Message);
        var w = m.Parameters[0].ToDoubleArray();
        Assert.Equal(w, m.Parameters[0].ToDoubleArray()); // nothing was trained
    }

    [Fact]
    public void LogitsIntoCrossEntropyTrain()
    {
        var m = new Sequential("logits", DType.Float64, 1, new Dense(5, "relu"), new Dense(3, name: "out")) { InputShape = [4] };
        var x = T.Rand(1, 8, 4).Detach();
        var y = Tensor.FromArray(new[] { 0, 1, 2, 0, 1, 2, 0, 1 }, 8);
        var h = new Trainer(m.AsTrainable(), Options()).Fit(x, y);
        Assert.Single(h.Epochs);
    }
}
