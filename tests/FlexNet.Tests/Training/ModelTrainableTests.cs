using FlexNet.Layers;
using FlexNet.Losses;
using FlexNet.Metrics;
using FlexNet.Models;
using FlexNet.Optimizers;
using FlexNet.Training;
using FlexNet.Tensors;

namespace FlexNet.Tests.Training;

[Collection("Training")]
public sealed class ModelTrainableTests
{
    [Fact]
    public void SequentialModelLearnsXorAndCheckpointsByName()
    {
        var model = new Sequential("xor", DType.Float32, 5, new Dense(8, "tanh"), new Dense(2));
        var x = Tensor.FromArray(new float[] { 0, 0, 0, 1, 1, 0, 1, 1 }, 4, 2);
        var y = Tensor.FromArray(new[] { 0, 1, 1, 0 }, 4);
        var h = model.Fit(x, y, new TrainerOptions
        {
            Epochs = 300, BatchSize = 4, Loss = new CrossEntropy(), Optimizer = new Adam(0.05),
            Metrics = [new Accuracy()], Progress = ProgressMode.None,
        });
        Assert.Equal(1.0, h["acc"][^1]);
        Assert.Equal([0, 1, 1, 0], model.Predict(x).ArgMax(1).ToInt32Array());
        Assert.All(model.AsTrainable().Parameters, p => Assert.False(string.IsNullOrEmpty(p.Name)));
    }
}
