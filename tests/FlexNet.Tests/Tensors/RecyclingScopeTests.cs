using FlexNet.Connections;
using FlexNet.Graph;
using FlexNet.Losses;
using FlexNet.Optimizers;
using FlexNet.Tensors;
using FlexNet.Training;
using Xunit;

namespace FlexNet.Tests.Tensors;

/// <summary>
/// The recycling scope of a training step (<see cref="TensorScope.BeginRecycling"/>): the objects of tensors that died
/// with a step are reused by the next one, never those of tensors that stay alive, and nothing at all while a live
/// tensor's unreleased graph may still reach a dead one; training gives bit-identical results with and without it.
/// </summary>
[Collection("Training")]
public sealed class RecyclingScopeTests
{
    [Fact]
    public void DeadTensorObjectsAreReusedByTheNextRecyclingScope()
    {
        Tensor dead;
        using (TensorScope.BeginRecycling()) dead = Tensor.Zeros([3, 4]) + 1;
        Assert.True(dead.IsDisposed);
        Tensor again;
        using (TensorScope.BeginRecycling())
        {
            again = Tensor.Full([5, 2], 7.0);
            // a rank-2 tensor of the new step took over the dead rank-2 object, with its own shape and values
            Assert.Same(dead, again);
            Assert.Equal(new[] { 5, 2 }, again.Shape.ToArray());
            Assert.Equal(new[] { 2, 1 }, again.Strides.ToArray());
            Assert.All(again.ToFloatArray(), v => Assert.Equal(7f, v));
            Assert.Null(again.GradFn);
            Assert.False(again.RequiresGrad);
        }
    }

    [Fact]
    public void KeptTensorsAndViewsOfOutsideBuffersAreNeverReused()
    {
        var w = Tensor.Full([2, 3], 2.0); // made outside any scope
        Tensor kept, view;
        using (var s = TensorScope.BeginRecycling())
        {
            kept = s.Keep(Tensor.Full([4], 3.0));
            view = w.Transpose(0, 1); // a view of a live buffer: alive after the step
        }
        var made = new List<Tensor>();
        using (TensorScope.BeginRecycling())
            for (int i = 0; i < 64; i++) { made.Add(Tensor.Zeros([1])); made.Add(Tensor.Zeros([1, 1])); }
        Assert.DoesNotContain(made, t => ReferenceEquals(t, kept) || ReferenceEquals(t, view));
        Assert.All(kept.ToFloatArray(), v => Assert.Equal(3f, v));
        Assert.Equal(new[] { 3, 2 }, view.Shape.ToArray());
        Assert.All(view.ToFloatArray(), v => Assert.Equal(2f, v));
    }

    [Fact]
    public void NothingIsReusedWhileALiveGraphMayReachDeadTensors()
    {
        var p = Tensor.Full([2], 1.0).RequireGrad();
        var outer = TensorScope.Begin();
        Tensor live, dead;
        using (var s = TensorScope.BeginRecycling())
        {
            dead = p * 2;                 // dies with the step
            live = s.Keep(dead.Sum());    // alive, its graph (not released: no backward yet) reaches 'dead'
        }
        Assert.True(dead.IsDisposed);
        var made = new List<Tensor>();
        using (TensorScope.BeginRecycling())
            for (int i = 0; i < 64; i++) made.Add(Tensor.Zeros([2]));
        Assert.DoesNotContain(made, t => ReferenceEquals(t, dead));
        outer.Dispose();
        _ = live;
    }

    private static Network Feedback(int seed)
    {
        var net = new Network("fb", DType.Float32, (ulong)seed) { Steps = 5 };
        var x = net.Add(new InputLayer(6, name: "x"));
        var h = net.Add(new Layer(8, "tanh", name: "h"));
        var y = net.Add(new Layer(3, name: "y"));
        net.ConnectDense(x, h);
        net.ConnectDense(h, h, delay: 1);
        net.ConnectDense(h, y);
        net.AddOutput(y, OutputMode.LastStep);
        net.Compile();
        return net;
    }

    private static Network Mlp(int seed)
    {
        var net = new Network("mlp", DType.Float32, (ulong)seed);
        var x = net.Add(new InputLayer(6, name: "x"));
        var h = net.Add(new Layer(8, "relu", name: "h"));
        var y = net.Add(new Layer(3, name: "y"));
        net.ConnectDense(x, h);
        net.ConnectDense(h, y);
        net.AddOutput(y, OutputMode.LastStep);
        net.Compile();
        return net;
    }

    private static (List<double> Losses, float[][] Weights) Train(Network net, bool recycle)
    {
        int n = 96;
        var x = Tensor.Normal([n, 6], 0, 1, new RandomGenerator(3), DType.Float32);
        var labels = new int[n];
        for (int i = 0; i < n; i++) labels[i] = i * 5 % 3;
        var losses = new List<double>();
        Trainer.Fit(net.AsTrainable(), [x], [Tensor.FromArray(labels, n)], new TrainerOptions
        {
            Epochs = 3, BatchSize = 16, Loss = new CrossEntropy(), Optimizer = new Adam(1e-2), Progress = ProgressMode.None,
            Metrics = [new FlexNet.Metrics.Accuracy()], RecycleStepTensors = recycle, OnBatchEnd = b => losses.Add(b.Loss),
        });
        var weights = net.AsTrainable().Parameters.Select(p => p.ToFloatArray()).ToArray();
        return (losses, weights);
    }

    [Fact]
    public void TrainingIsBitIdenticalWithAndWithoutRecycling()
    {
        foreach (var build in new Func<int, Network>[] { Mlp, Feedback })
        {
            var (l0, w0) = Train(build(11), recycle: false);
            var (l1, w1) = Train(build(11), recycle: true);
            Assert.Equal(18, l0.Count);
            Assert.Equal(l0, l1); // exact doubles
            Assert.Equal(w0.Length, w1.Length);
            for (int i = 0; i < w0.Length; i++) Assert.Equal(w0[i], w1[i]);
        }
    }
}
