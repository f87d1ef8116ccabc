using FlexNet.Connections;
using FlexNet.Layers;
using FlexNet.Layers.Recurrent;
using FlexNet.Models;
using FlexNet.Tests.Testing;
using static FlexNet.Models.Functional;
using FlexNet.Tensors;

namespace FlexNet.Tests.Layers;

/// <summary>The theanets cells as catalog layers: whole-sequence mode equals the cell's time loop (both directions),
/// stepped mode equals whole-sequence mode (Clockwork's step index included), specs build them, and a float64
/// gradient check passes through a stepped node with feedback.</summary>
public class ExoticRecurrentLayerTests
{
    public static TheoryData<string> Forms => new() { "rrnn", "mut1", "mrnn", "scrn", "clockwork" };

    private static RecurrentLayer Make(string form, bool back = false) => form switch
    {
        "rrnn" => new RRNN(4, "vector", goBackwards: back),
        "mut1" => new MUT1(4, goBackwards: back),
        "mrnn" => new MRNN(4, 3, goBackwards: back),
        "scrn" => new SCRN(4, goBackwards: back),
        _ => new Clockwork(4, [1, 3], goBackwards: back),
    };

    [Theory]
    [MemberData(nameof(Forms))]
    public void WholeSequenceAndSteppedModesAgreeWithTheCellLoop(string form)
    {
        var xs = T.Rand(1, 2, 5, 3).Detach(); // batch-first [N, T, F]
        foreach (bool back in new[] { false, true })
        {
            var layer = Make(form, back);
            var inp = Input([5, 3]);
            var m = new Model(inp, layer.Call(inp), form, DType.Float64);
            var y = m.Forward(xs);
            var (expected, _) = Recurrence.Run(layer.Cell!, xs.Transpose(0, 1).Contiguous(), reverse: back);
            T.Close(expected.Transpose(0, 1).Contiguous().ToDoubleArray(), y.ToDoubleArray(), 1e-12, 1e-12, $"{form} back={back}");
            if (back) continue;
            // the same layer object stepped by a temporal network shares its cell and gives the same sequence
            var sx = Input(3, sequence: true);
            var stepped = new Model(sx, layer.Call(sx), form + "-stepped", DType.Float64);
            var ys = stepped.Forward(xs.Transpose(0, 1).Contiguous());
            T.Close(expected.ToDoubleArray(), ys.ToDoubleArray(), 1e-12, 1e-12, $"{form} stepped");
        }
    }

    [Theory]
    [MemberData(nameof(Forms))]
    public void SpecsBuildThemAndGradCheckPassesThroughFeedback(string form)
    {
        var spec = new Dictionary<string, object> { ["form"] = form, ["size"] = 4 };
        if (form == "clockwork") spec["periods"] = new[] { 1, 2 };
        var r = new Regressor(DataKind.Recurrent, DType.Float64, 2, spec, 2);
        Assert.Equal(form, r.Layer("hid1").Form);
        var x = T.Rand(2, 3, 2, 2);
        Assert.Equal([3, 2, 2], r.Predict(x).ShapeArray);

        var layer = (RecurrentLayer)CatalogLayer.Build(form, size: 4, attributes: form == "clockwork" ? new Dictionary<string, object> { ["periods"] = new[] { 1, 2 } } : null);
        var net = new FlexNet.Graph.Network("g", DType.Float64, 9);
        var inp = net.Add(new FlexNet.Graph.InputLayer(2, sequenceLength: 3, name: "x"));
        var hidden = layer.Attach(net, inp);
        var o = new Dense(2, "tanh", name: "o").Attach(net, hidden);
        net.ConnectDense(o, net.Layers.First(l => l.Name == "o"), delay: 1); // self-feedback of the readout
        net.AddOutput(o);
        net.Compile();
        var inputs = new List<Tensor> { x };
        inputs.AddRange(net.Parameters);
        T.GradOk(form + " feedback", p => net.Forward(p[0])[0], [.. inputs]);
    }
}
