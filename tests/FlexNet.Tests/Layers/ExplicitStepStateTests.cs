using FlexNet.Layers;
using FlexNet.Models;
using FlexNet.Tensors;
using FlexNet.Tests.Testing;
using static FlexNet.Models.Functional;

namespace FlexNet.Tests.Layers;

/// <summary>Cells that keep state between steps get it, and their step count, from the plan (issue 9, item 2).</summary>
public sealed class ExplicitStepStateTests
{
    [Fact]
    public void ClockworkTimeContinuesAcrossChunksOfAStatefulNetwork()
    {
        // Clockwork modules update only when t is a multiple of their period: if t restarted at each call, the second
        // chunk would update every module at its first step and differ from the whole sequence
        var cw = new Clockwork(6, [1, 2, 4], name: "cw");
        var input = Input(2, sequence: true);
        var m = new Model(input, cw.Call(input), "clock", DType.Float64);
        var xs = T.Rand(12, 7, 3, 2).Detach();
        var whole = m.Forward(xs).ToDoubleArray();
        m.Network.Stateful = true;
        var a = m.Forward(xs.Slice(0, 0, 3));
        var b = m.Forward(xs.Slice(0, 3, 4));
        T.Close(whole, Tensor.Concat([a, b], 0).ToDoubleArray(), 1e-12, 1e-12, "chunks");
        m.Network.ResetState();
        var again = m.Forward(xs.Slice(0, 0, 3)).ToDoubleArray();
        T.Close(a.ToDoubleArray(), again, 0, 0, "after ResetState the count starts at 0 again");
    }

    [Fact]
    public void TwoRunsOfOneNetworkDoNotShareAStepCounter()
    {
        var cw = new Clockwork(4, [1, 3], name: "cw");
        var input = Input(2, sequence: true);
        var m = new Model(input, cw.Call(input), "clock2", DType.Float64);
        var xs = T.Rand(13, 5, 2, 2).Detach();
        var first = m.Forward(xs).ToDoubleArray();
        _ = m.Forward(xs.Slice(0, 0, 2));          // a shorter run in between
        Assert.Equal(first, m.Forward(xs).ToDoubleArray());
    }
}
