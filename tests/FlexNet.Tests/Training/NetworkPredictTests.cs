using FlexNet.Connections;
using FlexNet.Graph;
using FlexNet.Losses;
using FlexNet.Tensors;
using FlexNet.Tests.Testing;
using FlexNet.Training;

namespace FlexNet.Tests.Training;

/// <summary>Network has the batched Predict and Evaluate that models have (issue 10).</summary>
public sealed class NetworkPredictTests
{
    private static Network Mlp()
    {
        var net = new Network("mlp", DType.Float64, 5);
        var x = net.Add(new InputLayer(4, name: "x"));
        var h = net.Add(new Layer(6, "tanh", name: "h"));
        var y = net.Add(new Layer(3, name: "y"));
        net.ConnectDense(x, h);
        net.ConnectDense(h, y);
        net.AddOutput(y, OutputMode.LastStep);
        return net;
    }

    [Fact]
    public void PredictInBatchesEqualsOneForwardAndAcceptsASingleSample()
    {
        var net = Mlp();
        var x = T.Rand(1, 10, 4).RequireGrad();
        var whole = net.Forward(x)[0];
        var p = net.Predict(x, batchSize: 3);
        Assert.False(p.RequiresGrad);
        Assert.Equal([10, 3], p.Shape.ToArray());
        T.Close(whole.ToDoubleArray(), p.ToDoubleArray(), 1e-15, 1e-15, "batched");
        var one = net.Predict(x.Detach().Slice(0, 7, 1).Squeeze(0));
        Assert.Equal([3], one.Shape.ToArray());
        T.Close(whole.Slice(0, 7, 1).ToDoubleArray(), one.ToDoubleArray(), 1e-15, 1e-15, "single sample");
        Assert.Throws<ShapeMismatchException>(() => net.Predict(T.Rand(2, 2, 5)));
    }

    [Fact]
    public void OneBatchHoldingEverySampleRunsOnTheInputItself_StridedAndSequenceInputsIncluded()
    {
        var net = Mlp();
        // a strided (transposed) input: the forward pass must read it through its strides, not as laid out
        var xt = T.Rand(1, 4, 10).Detach().Permute(1, 0);
        Assert.False(xt.IsContiguous);
        var p = net.Predict(xt, batchSize: 10);
        // the same batch laid out contiguously runs the same products in the same order: equal to the bit
        var expected = net.Predict(xt.Contiguous(), batchSize: 10);
        T.Close(expected.ToDoubleArray(), p.ToDoubleArray(), 0, 0, "whole strided batch");
        // batches of 3 may take another kernel (the row-dot path for few rows on some CPUs): equal to rounding
        var inThrees = net.Predict(xt.Contiguous(), batchSize: 3);
        T.Close(inThrees.ToDoubleArray(), p.ToDoubleArray(), 1e-15, 1e-15, "whole strided batch against batches of 3");
        var bigger = net.Predict(xt, batchSize: 64);
        T.Close(expected.ToDoubleArray(), bigger.ToDoubleArray(), 0, 0, "batch size above the sample count");

        var rnn = new Network("rnn", DType.Float64, 6);
        var x = rnn.Add(new InputLayer(2, sequenceLength: 5, name: "x"));
        var h = rnn.Add(new Layer(3, "tanh", name: "h"));
        rnn.ConnectDense(x, h);
        rnn.ConnectDense(h, h, delay: 2);
        rnn.AddOutput(h, OutputMode.AllSteps);
        var xs = T.Rand(3, 5, 7, 2).Detach();
        var before = xs.ToDoubleArray();
        var whole = rnn.Predict(xs, batchSize: 7);
        var parts = rnn.Predict(xs, batchSize: 2);
        Assert.Equal([5, 7, 3], whole.Shape.ToArray());
        T.Close(parts.ToDoubleArray(), whole.ToDoubleArray(), 1e-15, 1e-15, "whole sequence batch");
        Assert.Equal(before, xs.ToDoubleArray()); // the input is read, never written
    }

    [Fact]
    public void PredictOnSequencesBatchesOnTheSecondAxis()
    {
        var net = new Network("rnn", DType.Float64, 6);
        var x = net.Add(new InputLayer(2, sequenceLength: 5, name: "x"));
        var h = net.Add(new Layer(3, "tanh", name: "h"));
        net.ConnectDense(x, h);
        net.ConnectDense(h, h, delay: 2);
        net.AddOutput(h, OutputMode.AllSteps);
        var xs = T.Rand(3, 5, 7, 2).Detach();
        var whole = net.Forward(xs)[0];
        var p = net.Predict(xs, batchSize: 2);
        Assert.Equal([5, 7, 3], p.Shape.ToArray());
        T.Close(whole.ToDoubleArray(), p.ToDoubleArray(), 1e-15, 1e-15, "sequence batches");
        var one = net.Predict(xs.Slice(1, 4, 1).Squeeze(1));
        Assert.Equal([5, 3], one.Shape.ToArray());
        T.Close(whole.Slice(1, 4, 1).Squeeze(1).ToDoubleArray(), one.ToDoubleArray(), 1e-15, 1e-15, "one sequence");
    }

    [Fact]
    public void EvaluateGivesTheLossOfTheWholeSet()
    {
        var net = Mlp();
        var x = T.Rand(4, 9, 4).Detach();
        var y = Tensor.FromArray(new[] { 0, 1, 2, 0, 1, 2, 0, 1, 2 }, 9);
        var expected = new CrossEntropy().Compute(net.Forward(x)[0], y, null, null).ToDoubleArray()[0];
        var r = net.Evaluate(x, y, new CrossEntropy(), batchSize: 4);
        Assert.Equal(expected, r["loss"], 12);
    }

    [Fact]
    public void Evaluate_RefusesSequencesAllStepsOutputsAndOneSample_EachAlone()
    {
        const string Msg = "Evaluate takes a batch [N, ...] of a non-temporal network with a last-step output; use Predict and the loss for sequences.";
        var y = Tensor.FromArray(new[] { 0, 1 }, 2);
        Network OneLayer(string name, int? steps, OutputMode mode)
        {
            var net = new Network(name, DType.Float64, 6);
            var x = net.Add(new InputLayer(2, sequenceLength: steps, name: "x"));
            var h = net.Add(new Layer(3, name: "h"));
            net.ConnectDense(x, h);
            net.AddOutput(h, mode);
            return net;
        }
        // a sequence input alone (its output is the last step)
        var e = Assert.Throws<ArgumentException>(() => OneLayer("seq", 3, OutputMode.LastStep).Evaluate(T.Rand(1, 3, 2, 2).Detach(), y, new CrossEntropy()));
        Assert.Equal("Network 'seq': " + Msg, e.Message);
        // an all-steps output alone (the input is not a sequence)
        e = Assert.Throws<ArgumentException>(() => OneLayer("all", null, OutputMode.AllSteps).Evaluate(T.Rand(2, 2, 2).Detach(), y, new CrossEntropy()));
        Assert.Equal("Network 'all': " + Msg, e.Message);
        // one sample alone
        e = Assert.Throws<ArgumentException>(() => Mlp().Evaluate(T.Rand(3, 4).Detach(), y, new CrossEntropy()));
        Assert.Equal("Network 'mlp': " + Msg, e.Message);
    }

    [Fact]
    public void PredictAndEvaluate_NameTheInputAndOutputCounts_AndNullArguments()
    {
        var two = new Network("two", DType.Float64, 1);
        var a = two.Add(new InputLayer(2, name: "a"));
        var b = two.Add(new InputLayer(2, name: "b"));
        var h = two.Add(new Layer(3, name: "h"));
        two.ConnectDense(a, h);
        two.ConnectDense(b, h);
        two.AddOutput(h, OutputMode.LastStep);
        var e = Assert.Throws<ArgumentException>(() => two.Predict(T.Rand(4, 5, 2).Detach()));
        Assert.Equal("Network 'two' has 2 inputs and 1 outputs; Predict and Evaluate take one of each (use Forward for more).", e.Message);

        var fork = new Network("fork", DType.Float64, 1);
        var x = fork.Add(new InputLayer(2, name: "x"));
        var p = fork.Add(new Layer(3, name: "p"));
        var q = fork.Add(new Layer(1, name: "q"));
        fork.ConnectDense(x, p);
        fork.ConnectDense(x, q);
        fork.AddOutput(p, OutputMode.LastStep);
        fork.AddOutput(q, OutputMode.LastStep);
        e = Assert.Throws<ArgumentException>(() => fork.Evaluate(T.Rand(4, 5, 2).Detach(), Tensor.FromArray(new[] { 0, 1, 2, 0, 1 }, 5), new CrossEntropy()));
        Assert.Equal("Network 'fork' has 1 inputs and 2 outputs; Predict and Evaluate take one of each (use Forward for more).", e.Message);

        Assert.Equal("network", Assert.Throws<ArgumentNullException>(() => ((Network)null!).Predict(T.Rand(1, 2, 4))).ParamName);
        Assert.Equal("x", Assert.Throws<ArgumentNullException>(() => Mlp().Predict(null!)).ParamName);
    }
}
