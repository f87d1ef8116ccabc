using FlexNet.Connections;
using FlexNet.Graph;
using FlexNet.Losses;
using FlexNet.Metrics;
using FlexNet.Optimizers;
using FlexNet.Training;
using FlexNet.Tensors;

namespace FlexNet.Tests.Training;

[Collection("Training")]
public sealed class NetworkTrainableTests
{
    [Fact]
    public void GraphNetworkLearnsXorThroughTheTrainer()
    {
        var net = new Network("xor", seed: 3);
        var x = new InputLayer(2, name: "in");
        var h = new Layer(8, "tanh", bias: true, name: "hid");
        var y = new Layer(2, bias: true, name: "out");
        net.Add(x);
        net.Add(h);
        net.Add(y);
        net.Connect(x, h);
        net.Connect(h, y);
        net.AddOutput(y, OutputMode.LastStep);
        var data = Tensor.FromArray(new float[] { 0, 0, 0, 1, 1, 0, 1, 1 }, 4, 2);
        var labels = Tensor.FromArray(new[] { 0, 1, 1, 0 }, 4);
        var model = net.AsTrainable();
        Assert.All(model.Parameters, p => Assert.False(string.IsNullOrEmpty(p.Name)));
        var hist = net.Fit(data, labels, new TrainerOptions
        {
            Epochs = 300, BatchSize = 4, Loss = new CrossEntropy(), Optimizer = new Adam(0.05),
            Metrics = [new Accuracy()], Progress = ProgressMode.None,
        });
        Assert.Equal(1.0, hist["acc"][^1]);
        Assert.True(hist["loss"][^1] < 0.05, $"loss {hist["loss"][^1]}");
    }
}
