using FlexNet.Autodiff;
using FlexNet.Connections;
using FlexNet.Graph;
using FlexNet.IO;
using FlexNet.Layers;
using FlexNet.Tensors;
using FlexNet.Tests.IO;

namespace FlexNet.Tests.Connections;

/// <summary>The loader predicts every tensor of a .flexnet file from the architecture alone (<c>NetworkFilePlanner</c>,
/// one shape rule per kind beside the graph engine's <c>Build</c>) and refuses a file whose tensors or built network
/// differ from the prediction. Each case here is a network on an edge of one rule: strides with 'same', padding that
/// differs per side, dilation, no bias, a transposed convolution with unequal output padding or without a target shape,
/// pooling with padding, a dense connection into a [2, 3] target, a learned initial state and a layer bias, a concat
/// layer fed from a later layer. Saved and loaded, it must give the same tensor names, shapes and outputs (session 12:
/// these rules' survivors; the property tests that also reach them are too slow for a mutation run).</summary>
public sealed class NetworkFilePlannerRoundTripTests
{
    private static Network Net(string name, Action<Network> wire, int steps = 1)
    {
        var net = new Network(name, DType.Float64, 11);
        wire(net);
        if (steps > 1) net.Steps = steps;
        net.Compile();
        using (Autograd.NoGrad())
            foreach (var p in net.Parameters) p.CopyFrom(p + 0.125);
        return net;
    }

    public static TheoryData<string> Cases => new()
    {
        "conv2d same stride 2, no bias", "conv2d asymmetric padding and dilation", "conv1d same stride 2 and padding per side",
        "transposed conv unequal output padding, no bias", "transposed conv without a target shape", "pooling with padding and global pooling",
        "dense into a [2, 3] target, tied and elementwise without bias", "layer bias, learned initial state, concat fed from a later layer",
    };

    private static Network Build(string name) => name switch
    {
        "conv2d same stride 2, no bias" => Net(name, n =>
        {
            var x = new InputLayer([2, 7, 5], name: "x");
            var y = new Layer([3, 4, 3], "tanh", name: "y");
            n.Connect(new Conv2dConnection(x, y, 3, 2, Padding.Same, bias: false));
            n.AddOutput(y);
        }),
        "conv2d asymmetric padding and dilation" => Net(name, n =>
        {
            // rows (6 + 1 + 0 − 2·2 − 1) + 1 = 3, columns (6 + 0 + 2 − 4 − 1) + 1 = 4
            var x = new InputLayer([1, 6, 6], name: "x");
            var y = new Layer([2, 3, 4], name: "y");
            n.Connect(new Conv2dConnection(x, y, 3, padding: Padding.Explicit(1, 0, 0, 2), dilation: 2));
            n.AddOutput(y);
        }),
        "conv1d same stride 2 and padding per side" => Net(name, n =>
        {
            var x = new InputLayer([2, 7], name: "x");
            var a = new Layer([3, 4], name: "a");
            var b = new Layer([3, 6], name: "b");
            n.Connect(new Conv1dConnection(x, a, 3, 3, 2, Padding.Same, bias: false));
            // (7 + 2 + 1 − 2·(3 − 1) − 1) / 1 + 1 = 6
            n.Connect(new Conv1dConnection(x, b, 3, 3, 1, Padding.Explicit(0, 0, 2, 1), dilation: 2));
            n.AddOutput(a);
            n.AddOutput(b);
        }),
        "transposed conv unequal output padding, no bias" => Net(name, n =>
        {
            var x = new InputLayer([2, 3, 3], name: "x");
            // base size (3 − 1)·2 − 2·2 + (3 − 1) + 1 = 3: output padding 1 for rows, 0 for columns
            var y = new Layer([3, 4, 3], name: "y");
            n.Connect(new ConvTranspose2dConnection(x, y, 3, 2, 2, bias: false));
            n.AddOutput(y);
        }),
        "transposed conv without a target shape" => Net(name, n =>
        {
            var x = new InputLayer([2, 3, 3], name: "x");
            var y = new Layer(null, name: "y");
            n.Connect(new ConvTranspose2dConnection(x, y, 2, 2, 0, outputPadding: 1, outChannels: 4));
            n.AddOutput(y);
        }),
        "pooling with padding and global pooling" => Net(name, n =>
        {
            var x = new InputLayer([2, 5, 6], name: "x");
            var p = new PoolLayer(PoolKind.Max, 2, 3, 2, 1, "p");
            var g = PoolLayer.Global(PoolKind.Average, "g");
            var f = new FlattenLayer("f");
            var y = new Layer(3, name: "y");
            n.Connect(x, p);
            n.Connect(p, g);
            n.Connect(p, f);
            n.ConnectDense(f, y);
            n.ConnectDense(g, y);
            n.AddOutput(y);
        }),
        "dense into a [2, 3] target, tied and elementwise without bias" => Net(name, n =>
        {
            var x = new InputLayer(4, name: "x");
            var grid = new Layer([2, 3], name: "grid");
            var enc = new Layer(3, name: "enc");
            var dec = new Layer(4, name: "dec");
            var e = new Layer(4, name: "e");
            n.ConnectDense(x, grid);
            var d = n.ConnectDense(x, enc, bias: false, units: 3);
            n.Connect(new TiedConnection(enc, dec, d, bias: false));
            n.Connect(new ElementwiseConnection(dec, e, bias: false));
            n.AddOutput(grid);
            n.AddOutput(e);
        }),
        "layer bias, learned initial state, concat fed from a later layer" => Net(name, n =>
        {
            var x = new InputLayer(2, sequenceLength: 3, name: "x");
            var cat = new Layer(5, "tanh", CombineRule.Concat, name: "cat");
            var h = new Layer(3, "tanh", bias: true, name: "h") { LearnInitialState = true };
            n.ConnectDense(x, cat, units: 2);
            n.ConnectDense(cat, h);
            n.ConnectIdentity(h, cat, delay: 1);
            n.AddOutput(h);
        }, steps: 3),
        _ => throw new ArgumentException(name),
    };

    private static Tensor Input(int[] shape, bool temporal, int seed)
    {
        int[] full = temporal ? [3, 2, .. shape] : [2, .. shape];
        return Tensor.Normal(full, 0, 1, new RandomGenerator((ulong)seed), DType.Float64);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void TheLoadedNetworkHasThePredictedTensorsAndTheSameOutputs(string name)
    {
        var net = Build(name);
        var (meta, entries) = NetworkFile.Image(net);
        var back = NetworkFileMutationGapTests.Load(meta, entries, "r.flexnet");
        var want = net.StateDict();
        var got = back.StateDict();
        Assert.Equal(want.Keys, got.Keys);
        foreach (var (k, t) in want) Assert.Equal(t.ToDoubleArray(), got[k].ToDoubleArray());
        var inputs = new Tensor[net.Inputs.Count];
        for (int i = 0; i < inputs.Length; i++)
            inputs[i] = Input(net.Inputs[i].DeclaredShape!, net.Inputs[i].SequenceLength is not null, 20 + i);
        NetworkFileTests.AssertBitIdentical(NetworkFileTests.Run(net, inputs), NetworkFileTests.Run(back, inputs), name);
    }
}
