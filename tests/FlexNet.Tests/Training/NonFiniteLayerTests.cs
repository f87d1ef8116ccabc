using FlexNet.Connections;
using FlexNet.Graph;
using FlexNet.Losses;
using FlexNet.Optimizers;
using FlexNet.Training;
using FlexNet.Tensors;

namespace FlexNet.Tests.Training;

[Collection("Training")]
public class NonFiniteLayerTests
{
    /// <summary>A custom layer whose log of a negative pre-activation yields NaN (RELIABILITY R7's injected fault).</summary>
    private sealed class LogLayer(int units) : Layer(units, name: "logbad")
    {
        protected internal override Tensor Transform(Tensor combined, bool training) => combined.Log();
    }

    [Fact]
    public void NonFiniteForwardNamesTheFirstLayerAndStep()
    {
        var net = new Network("nan", seed: 3);
        var x = net.Add(new InputLayer(4, name: "x"));
        var h = net.Add(new Layer(5, "tanh", name: "h"));
        var bad = net.Add(new LogLayer(3));
        var y = net.Add(new Layer(2, name: "y"));
        net.ConnectDense(x, h);
        net.ConnectDense(h, bad);
        net.ConnectDense(bad, y);
        net.AddOutput(y, OutputMode.LastStep);
        var data = Tensor.Normal([16, 4], rng: new RandomGenerator(4));
        var labels = Tensor.FromArray(Enumerable.Range(0, 16).Select(i => i % 2).ToArray(), 16);
        var options = new TrainerOptions { Epochs = 1, BatchSize = 8, Loss = new CrossEntropy(), Optimizer = new Sgd(0.1), Progress = ProgressMode.None };
        var e = Assert.Throws<NonFiniteValueException>(() => net.Fit(data, labels, options));
        Assert.Contains("forward", e.Message);
        Assert.Contains("layer 'logbad'", e.Message);
        Assert.Contains("step 1", e.Message);
        Assert.False(net.CheckFinite); // the diagnostic switch is restored
    }
}
