using FlexNet.Examples;
using FlexNet.Graph;
using FlexNet.Tensors;

namespace FlexNet.Tests.Graph;

/// <summary>The seed network of the original design (examples/SeedNetwork) builds, compiles and trains.</summary>
public sealed class SeedNetworkTests
{
    private static string DataDir => Path.Combine(AppContext.BaseDirectory, "testdata", "fashion-mnist");

    [Fact]
    public void SeedNetworkBuildsCompilesAndTrains()
    {
        var net = SeedNetwork.Build(seed: 1);
        var plan = net.Plan!;
        Assert.Equal(["L1", "L2", "L3", "L5", "L6", "L4"], plan.Order.Select(l => l.Name).ToArray());
        Assert.Equal(2, plan.HistoryDepth(net["L6"]));
        Assert.Equal(2, net.Connections.Count(c => c.From.Name == "L2" && c.To.Name == "L3"));

        var (images, labels) = SeedNetwork.LoadDownsampled(DataDir, "t10k", 600);
        Assert.Equal(600 * 196, images.Length);
        var (before, _) = SeedNetwork.Evaluate(net, images, labels);
        double first = SeedNetwork.TrainEpoch(net, images, labels, batch: 20, lr: 0.1);
        double last = first;
        for (int e = 0; e < 3; e++) last = SeedNetwork.TrainEpoch(net, images, labels, batch: 20, lr: 0.1);
        var (after, acc) = SeedNetwork.Evaluate(net, images, labels);
        Assert.True(last < first, $"training loss did not decrease: first epoch {first}, fourth {last}");
        Assert.True(after < before - 0.2, $"loss before {before}, after {after}");
        Assert.True(acc > 0.35, $"accuracy after 4 epochs {acc}");
    }

    [Fact]
    public void SeedNetworkRecurrenceChangesTheOutput()
    {
        var net = SeedNetwork.Build(seed: 3);
        net.Compile();
        var (images, _) = SeedNetwork.LoadDownsampled(DataDir, "t10k", 8);
        var x = Tensor.FromArray(images, 8, 196).Unsqueeze(0).Expand(4, 8, 196);
        var y4 = net.Forward(x)[0].ToDoubleArray();
        // with 2 steps the delay-2 feedback from L6 never carries a non-zero state: result differs from 4 steps
        var y2 = net.Forward(x.Slice(0, 0, 2))[0].ToDoubleArray();
        Assert.NotEqual(y4, y2);
        Assert.Equal(8 * 10, y4.Length);
    }
}
