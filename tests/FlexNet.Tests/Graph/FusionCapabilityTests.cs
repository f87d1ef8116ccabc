using FlexNet.Connections;
using FlexNet.Autodiff;
using FlexNet.Graph;
using FlexNet.Layers;
using FlexNet.Models;
using FlexNet.Tests.Testing;
using static FlexNet.Models.Functional;
using FlexNet.Tensors;

namespace FlexNet.Tests.Graph;

/// <summary>The fused dense kernel is chosen by what a layer and its connections compute, not by which front end
/// built them.</summary>
public sealed class FusionCapabilityTests
{
    private sealed class Doubling(int units, string? name) : Layer(units, "relu", name: name)
    {
        protected internal override Tensor Transform(Tensor combined, bool training) => base.Transform(combined, training) * 2.0;
    }

    private static Network ConnectMlp()
    {
        var net = new Network("mlp", DType.Float64, 4);
        var x = net.Add(new InputLayer(6, name: "x"));
        var h = net.Add(new Layer(5, "relu", name: "h"));
        var y = net.Add(new Layer(3, name: "y"));
        net.ConnectDense(x, h);
        net.ConnectDense(h, y);
        net.AddOutput(y);
        return net;
    }

    [Fact]
    public void EveryFrontEndTakesTheFusedPathForAnMlp()
    {
        var seq = new Sequential("seq", DType.Float64, 1, new Dense(5, "relu"), new Dense(3)) { InputShape = [6] };
        var xi = Input(6);
        var fun = new Model(xi, new Dense(3).Call(new Dense(5, "relu").Call(xi)), "fun", DType.Float64, 2);
        var spec = new Regressor(DataKind.Feedforward, DType.Float64, 6, (5, "relu"), (3, "linear"));
        var xs = T.Rand(3, 4, 6).Detach();
        foreach (var m in new Model[] { seq, fun, spec })
        {
            _ = m.Forward(xs);
            var net = m.Network;
            int fused = 0;
            foreach (var l in net.Layers)
                if (l is not InputLayer && net.Plan!.IsFused(l)) fused++;
            Assert.True(fused == 2, $"{m.Name}: {fused} of 2 dense layers fused\n{net.Summary()}");
        }
        var c = ConnectMlp();
        c.Compile();
        Assert.True(c.Plan!.IsFused(c["h"]) && c.Plan.IsFused(c["y"]));
    }

    [Fact]
    public void SharedDenseLayerIsFusedAndMatchesTheUnfusedOps()
    {
        var x1 = Input(4);
        var x2 = Input(4);
        var shared = new Dense(3, "tanh");
        var sum = new Add().Call(shared.Call(x1), shared.Call(x2));
        var model = new Model([x1, x2], [new Dense(2, "sigmoid").Call(sum)], "shared", DType.Float64, 9);
        var a = T.Rand(5, 3, 4).Detach();
        var b = T.Rand(6, 3, 4).Detach();
        (double[] Y, double[][] G) Run()
        {
            model.ZeroGrad();
            var y = model.Forward([a, b], training: false)[0];
            (y * y).Sum().Backward();
            return (y.ToDoubleArray(), model.Parameters.Select(p => p.Grad!.ToDoubleArray()).ToArray());
        }
        var net = model.Network;
        net.Compile();
        var sharedNodes = shared.Nodes;
        Assert.Equal(2, sharedNodes.Count);
        Assert.True(net.Plan!.IsFused(sharedNodes[0]) && net.Plan.IsFused(sharedNodes[1]), net.Summary());
        var fused = Run();
        net.FuseDenseLayers = false;
        net.Compile();
        Assert.False(net.Plan!.IsFused(sharedNodes[1]));
        var plain = Run();
        T.Close(plain.Y, fused.Y, 1e-13, 1e-14, "outputs");
        for (int i = 0; i < plain.G.Length; i++) T.Close(plain.G[i], fused.G[i], 1e-12, 1e-13, $"grad {i}");
    }

    [Fact]
    public void ALayerWithItsOwnTransformIsNeverFused()
    {
        var net = new Network("custom", DType.Float64, 2);
        var x = net.Add(new InputLayer(3, name: "x"));
        var h = net.Add(new Doubling(4, "h"));
        net.ConnectDense(x, h);
        net.AddOutput(h);
        net.Compile();
        Assert.False(net.Plan!.IsFused(h));
        var xs = T.Rand(8, 2, 3).Detach();
        var y = net.Forward(xs)[0].ToDoubleArray();
        var d = (FlexNet.Connections.DenseConnection)net.Connections[0];
        var w = d.Weight.ToDoubleArray();
        var bias = d.Bias!.ToDoubleArray();
        var xv = xs.ToDoubleArray();
        for (int n = 0; n < 2; n++)
            for (int o = 0; o < 4; o++)
            {
                double z = bias[o];
                for (int i = 0; i < 3; i++) z += w[o * 3 + i] * xv[n * 3 + i];
                Assert.Equal(2 * Math.Max(0, z), y[n * 4 + o], 12);
            }
    }
}
