using FlexNet.Autodiff;
using FlexNet.Layers;
using FlexNet.Models;
using FlexNet.Tests.Testing;
using static FlexNet.Models.Functional;
using FlexNet.Tensors;

namespace FlexNet.Tests.Models;

/// <summary>Sequential, Functional, subclassed and spec-built versions of one network, given the same weights,
/// compute identical outputs and gradients.</summary>
public class FrontEndEquivalenceTests
{
    private sealed class TwoLayer : Model
    {
        private readonly Dense _h = new(5, "tanh");
        private readonly Dense _o = new(3);

        public TwoLayer() : base("sub", DType.Float64, 7) => InputShape = [4];

        protected override SymbolicTensor Forward(SymbolicTensor x) => _o.Call(_h.Call(x));
    }

    private static Model[] Build()
    {
        var seq = new Sequential("seq", DType.Float64, 1, new Dense(5, "tanh"), new Dense(3)) { InputShape = [4] };
        var x = Input(4);
        var fun = new Model(x, new Dense(3).Call(new Dense(5, "tanh").Call(x)), "fun", DType.Float64, 2);
        var sub = new TwoLayer();
        var spec = new Regressor(DataKind.Feedforward, DType.Float64, 4, (5, "tanh"), (3, "linear"));
        return [seq, fun, sub, spec];
    }

    [Fact]
    public void SameWeightsGiveIdenticalOutputsAndGradients()
    {
        var models = Build();
        var xs = T.Rand(11, 6, 4).Detach();
        _ = models[0].Forward(xs);
        var reference = models[0].Parameters;
        Assert.Equal(4, reference.Count); // W1, b1, W2, b2
        double[]? y0 = null;
        double[][]? g0 = null;
        foreach (var m in models)
        {
            _ = m.Forward(xs);
            var ps = m.Parameters;
            Assert.Equal(reference.Count, ps.Count);
            using (Autograd.NoGrad())
                for (int i = 0; i < ps.Count; i++) ps[i].CopyFrom(reference[i]);
            m.ZeroGrad();
            var y = m.Forward(xs, training: true);
            (y * y).Sum().Backward();
            var yv = y.ToDoubleArray();
            var gv = ps.Select(p => p.Grad!.ToDoubleArray()).ToArray();
            if (y0 is null) { y0 = yv; g0 = gv; continue; }
            Assert.Equal(y0, yv);
            for (int i = 0; i < gv.Length; i++) Assert.Equal(g0![i], gv[i]);
        }
    }

    [Fact]
    public void EveryFrontEndHasASummary()
    {
        foreach (var m in Build())
        {
            var s = m.Summary();
            Assert.Contains("Total parameters: 43", s);
        }
    }

    [Fact]
    public void SequentialMatchesAHandComputation()
    {
        var seq = new Sequential("seq", DType.Float64, 3, new Dense(5, "relu"), new Dense(2, "sigmoid"));
        var x = T.Rand(4, 3, 7).Detach();
        var y = seq.Forward(x);
        var l = seq.Layers.Cast<Dense>().ToArray();
        var h = (NN.MatMul(x, l[0].Weight.T) + l[0].Bias!).Relu();
        var expected = (NN.MatMul(h, l[1].Weight.T) + l[1].Bias!).Sigmoid();
        T.Close(expected.ToDoubleArray(), y.ToDoubleArray(), 1e-12, 1e-12, "sequential");
        Assert.Equal([3, 2], y.ShapeArray);
    }

    [Fact]
    public void SharedLayerUsesOneWeight()
    {
        var a = Input(4, name: "a");
        var b = Input(4, name: "b");
        var shared = new Dense(3, "tanh", name: "shared");
        var sum = new Add().Call(shared.Call(a), shared.Call(b));
        var m = new Model([a, b], [sum], "siamese", DType.Float64);
        var xa = T.Rand(1, 2, 4).Detach();
        var xb = T.Rand(2, 2, 4).Detach();
        var y = m.Forward([xa, xb], false)[0];
        Assert.Equal(2, m.Parameters.Count);
        var expected = (NN.MatMul(xa, shared.Weight.T) + shared.Bias!).Tanh() + (NN.MatMul(xb, shared.Weight.T) + shared.Bias!).Tanh();
        T.Close(expected.ToDoubleArray(), y.ToDoubleArray(), 1e-12, 1e-12, "shared");
    }

    [Fact]
    public void MultipleInputsAndOutputs()
    {
        var a = Input(3, name: "a");
        var b = Input(2, name: "b");
        var c = new Concatenate().Call(a, b);
        var h = new Dense(4, "relu").Call(c);
        var o1 = new Dense(1).Call(h);
        var o2 = new ClassifierLayer(3).Call(h);
        var m = new Model([a, b], [o1, o2], "multi", DType.Float64);
        var ys = m.Forward([T.Rand(1, 5, 3).Detach(), T.Rand(2, 5, 2).Detach()], false);
        Assert.Equal([5, 1], ys[0].ShapeArray);
        Assert.Equal([5, 3], ys[1].ShapeArray);
        var rows = ys[1].Sum(1).ToDoubleArray();
        foreach (var r in rows) Assert.Equal(1.0, r, 12);
    }

    [Fact]
    public void FeedbackEdgeBetweenSymbolicNodesMatchesManualUnroll()
    {
        var x = Input(2, sequence: true);
        var h1 = new Dense(3, "tanh", name: "h1");
        var h2 = new Dense(2, "tanh", name: "h2");
        var s1 = h1.Call(x);
        var s2 = h2.Call(s1);
        var m = new Model(x, s2, "fb", DType.Float64).AddFeedback(s2, s1, delay: 1);
        var xs = T.Rand(3, 4, 2, 2).Detach();
        var y = m.Forward(xs);
        Assert.Equal([4, 2, 2], y.ShapeArray);
        var fb = m.Network.Connections.Single(c => c.Delay == 1) as FlexNet.Connections.DenseConnection;
        Tensor prev = Tensor.Zeros([2, 2], DType.Float64);
        for (int t = 0; t < 4; t++)
        {
            var xt = xs.Slice(0, t, 1).Squeeze(0);
            var a = (NN.MatMul(xt, h1.Weight.T) + h1.Bias! + NN.MatMul(prev, fb!.Weight.T) + fb.Bias!).Tanh();
            prev = (NN.MatMul(a, h2.Weight.T) + h2.Bias!).Tanh();
            T.Close(prev.ToDoubleArray(), y.Slice(0, t, 1).Squeeze(0).ToDoubleArray(), 1e-12, 1e-12, $"step {t}");
        }
    }

    [Fact]
    public void SequentialTrainsThroughTheTrainerContract()
    {
        var model = new Sequential("xor", DType.Float32, 3, new Dense(8, "tanh"), new Dense(2));
        var data = Tensor.FromArray(new float[] { 0, 0, 0, 1, 1, 0, 1, 1 }, 4, 2);
        var labels = Tensor.FromArray(new[] { 0, 1, 1, 0 }, 4);
        var hist = model.Fit(data, labels, new FlexNet.Training.TrainerOptions
        {
            Epochs = 300, BatchSize = 4, Loss = new FlexNet.Losses.CrossEntropy(), Optimizer = new FlexNet.Optimizers.Adam(0.05),
            Progress = FlexNet.Training.ProgressMode.None,
        });
        Assert.True(hist["loss"][^1] < 0.05, $"loss {hist["loss"][^1]}");
        var pred = model.Predict(data).ArgMax(1).ToInt32Array();
        Assert.Equal([0, 1, 1, 0], pred);
        Assert.IsAssignableFrom<FlexNet.Training.ITrainable>(model);
    }
}
