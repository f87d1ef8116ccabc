using FlexNet.Connections;
using FlexNet.Graph;
using FlexNet.Layers;
using FlexNet.Models;
using FlexNet.Tensors;
using FlexNet.Autodiff;

namespace FlexNet.Tests.Examples;

/// <summary>The code shown in README.md compiles and does what the README says.</summary>
public class ReadmeExamplesTests
{
    [Fact]
    public void GraphWithDelayedFeedbackBuildsAndRuns()
    {
        var net = new Network("demo", seed: 1);
        var x = net.Add(new InputLayer(196, sequenceLength: 4, name: "x"));
        var h1 = net.Add(new Layer(300, "sigmoid", name: "h1"));
        var h2 = net.Add(new Layer(150, "sigmoid", name: "h2"));
        var y = net.Add(new Layer(10, name: "y"));
        net.ConnectDense(x, h1);
        net.ConnectDense(h1, h2);
        net.ConnectDense(h2, y);
        net.ConnectDense(h2, h1, delay: 2);
        net.AddOutput(y);
        net.Compile();
        var summary = net.Summary();
        Assert.Contains("h1", summary);
        Assert.Contains("2", summary);
        Assert.Contains("dashed", net.ToDot());
        var outputs = net.Forward(Tensor.Normal([4, 3, 196], rng: new RandomGenerator(2)));
        Assert.Equal([4, 3, 10], outputs[0].Shape.ToArray());
    }

    [Fact]
    public void EngineSnippetComputesGradient()
    {
        var w = Tensor.Normal([3, 4], rng: new RandomGenerator(1)).RequireGrad();
        var loss = NN.CrossEntropy(NN.MatMul(Tensor.Ones([2, 3]), w), Tensor.FromArray(new[] { 1, 3 }, 2));
        loss.Backward();
        Assert.Equal([3, 4], w.Grad!.Shape.ToArray());
        Assert.True(double.IsFinite(loss.Item()));
    }

    [Fact]
    public void SequentialSnippetBuilds()
    {
        var model = new Sequential(new Dense(256, "relu"), new Dense(10)) { InputShape = [784] };
        var y = model.Forward(Tensor.Zeros([2, 784]));
        Assert.Equal([2, 10], y.Shape.ToArray());
    }
}
