using FlexNet.Autodiff;
using FlexNet.Connections;
using FlexNet.Graph;
using FlexNet.Layers;
using FlexNet.Models;
using FlexNet.Tensors;
using FlexNet.Tests.Testing;

namespace FlexNet.Tests.Graph;

/// <summary>What a newcomer hit building a BLT-style conv feedback network with Connect (issue 9, item 7).</summary>
public sealed class ConnectRoughEdgesTests
{
    [Fact]
    public void ConvWeightsReadBeforeCompileSayWhatToDo()
    {
        var net = new Network("blt");
        var x = net.Add(new InputLayer([1, 8, 8], name: "x"));
        var h = net.Add(new Layer([4, 8, 8], "relu", name: "h"));
        var up = net.Add(new Layer([1, 8, 8], name: "up"));
        var conv = net.ConnectConv2d(x, h, 3, padding: Padding.Same);
        var convT = net.ConnectConvTranspose2d(h, up, 3, padding: 1);
        foreach (var read in new Func<Tensor>[] { () => conv.Weight, () => convT.Weight, () => conv.Bias! })
            Assert.Contains("Compile()", Assert.Throws<GraphException>(read).Message);
        Assert.Contains("'h->up'", Assert.Throws<GraphException>(() => convT.Weight).Message);
        Assert.Contains("'x->h'", Assert.Throws<GraphException>(() => conv.Weight).Message);
        net.Compile();
        Assert.Equal([4, 1, 3, 3], conv.Weight.Shape.ToArray());
        Assert.Equal([4, 1, 3, 3], convT.Weight.Shape.ToArray());
    }

    [Fact]
    public void GlobalPoolingIsAPlainLayerOfAConnectGraph()
    {
        var net = new Network("gp", DType.Float64);
        var x = net.Add(new InputLayer([2, 2, 2], name: "x"));
        var gp = net.Add(PoolLayer.Global(PoolKind.Max, "gp"));
        var ga = net.Add(PoolLayer.Global(PoolKind.Average, "ga"));
        net.Connect(x, gp);
        net.Connect(x, ga);
        net.AddOutput(gp, OutputMode.LastStep);
        net.AddOutput(ga, OutputMode.LastStep);
        var xs = Tensor.FromArray(Enumerable.Range(0, 8).Select(i => (double)(2 * i - 1)).ToArray(), 1, 2, 2, 2);
        var o = net.Forward(xs);
        Assert.Equal([5.0, 13.0], o[0].ToDoubleArray());   // max of {-1,1,3,5} and {7,9,11,13}
        Assert.Equal([2.0, 10.0], o[1].ToDoubleArray());   // their means
    }

    [Fact]
    public void ConnectingABuilderAttachedInputAgainIsRefusedInsteadOfDoublingIt()
    {
        var net = new Network("twice", DType.Float64);
        var x = net.Add(new InputLayer([1, 2, 2], name: "x"));
        var gp = new GlobalMaxPool(name: "gmp").Attach(net, [x]);
        var e = Assert.Throws<GraphException>(() => net.Connect(x, gp));
        Assert.Contains("'gmp' already receives 'x'", e.Message);
        net.AddOutput(gp, OutputMode.LastStep);
        var xs = Tensor.FromArray(new double[] { 1, 15, 3, 4 }, 1, 1, 2, 2);
        Assert.Equal([15.0], net.Forward(xs)[0].ToDoubleArray()); // not 30
        // a delayed identity edge from the same source is a different edge and is allowed
        var h = net.Add(new Layer([1], name: "h"));
        net.ConnectIdentity(gp, h);
        net.ConnectIdentity(gp, h, delay: 1);
    }

    [Fact]
    public void TransposedConvExposesDilationAndOutChannelsAndTheSummaryShowsItsPadding()
    {
        var net = new Network("t");
        var x = net.Add(new InputLayer([2, 4, 4], name: "x"));
        var y = net.Add(new Layer((int[]?)null, name: "y"));
        // Hout = (H − 1)·s − 2p + d·(k − 1) + 1 = 3·2 − 2 + 2·2 + 1 = 9
        var c = net.ConnectConvTranspose2d(x, y, 3, stride: 2, padding: 1, dilation: 2, outChannels: 5);
        net.AddOutput(y, OutputMode.LastStep);
        net.Compile();
        Assert.Equal([5, 9, 9], y.OutputShape!);
        Assert.Equal(2, c.Dilation);
        Assert.Contains("pad 1", c.Kind);
        Assert.Contains("dil 2", c.Kind);
        Assert.Contains("convT2d 3x3/2 pad 1 dil 2", net.Summary());
    }

    [Fact]
    public void FeedbackChainCanReturnEveryStep()
    {
        ChainElement[] Elements() => [Chain.Dense(4, "tanh"), Chain.Splitter("s"), Chain.Dense(3), Chain.Merger("s", (f, t, d) => new DenseConnection(f, t, d))];
        var last = new FeedbackChain("last", [2], DType.Float64, 7, Elements());
        var all = new FeedbackChain("all", [2], OutputMode.AllSteps, DType.Float64, 7, Elements());
        var x = T.Rand(3, 5, 2).Detach();
        var ya = all.Forward(x, steps: 4);
        Assert.Equal([4, 5, 3], ya.Shape.ToArray());
        for (int t = 1; t <= 4; t++)
        {
            var yt = last.Forward(x, steps: t).ToDoubleArray();
            var slice = ya.Slice(0, t - 1, 1).ToDoubleArray();
            Assert.Equal(yt, slice);
        }
    }

    [Fact]
    public void ARecurrentNetworkWithoutTimeIsAnErrorNotOneSilentStep()
    {
        var net = new Network("fb", DType.Float64);
        var x = net.Add(new InputLayer(3, name: "x"));
        var h = net.Add(new Layer(4, "tanh", name: "h"));
        net.ConnectDense(x, h);
        net.ConnectDense(h, h, delay: 1);
        net.AddOutput(h, OutputMode.LastStep);
        var xs = T.Rand(2, 2, 3).Detach();
        var e = Assert.Throws<GraphException>(() => net.Forward(xs));
        Assert.Contains("'h->h' (delay 1)", e.Message);
        Assert.Contains("Steps", e.Message);
        var three = net.Forward([xs], false, steps: 3)[0].ToDoubleArray();
        net.Steps = 3;
        Assert.Equal(three, net.Forward(xs)[0].ToDoubleArray());
        Assert.NotEqual(three, net.Forward([xs], false, steps: 1)[0].ToDoubleArray());
    }
}
