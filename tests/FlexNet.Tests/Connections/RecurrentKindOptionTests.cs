using FlexNet.Connections;
using FlexNet.Graph;
using FlexNet.Layers;

namespace FlexNet.Tests.Connections;

/// <summary>The recurrent layer kind's options, as a .flexnet file gives them, through its shape function: each cell
/// kind refuses an option it does not read and names the ones it does; rates outside each cell's list, a missing rate,
/// activations of 40 and 41 characters, and a bidirectional layer on a vector input are refused with whole messages
/// (session 12: survivors of the Connections rerun in <c>RecurrentLayerKind</c>).</summary>
public sealed class RecurrentKindOptionTests
{
    private const string Common = "cell, units, return_sequences, go_backwards, input_width, bidirectional";

    private static Dictionary<string, string> Options(string cell, params (string K, string V)[] own)
    {
        var d = new Dictionary<string, string> { ["cell"] = cell, ["units"] = "4", ["return_sequences"] = "true", ["go_backwards"] = "false" };
        foreach (var (k, v) in own) d[k] = v;
        return d;
    }

    private static LayerShapes Shapes(int[] input, Dictionary<string, string> o) => LayerKinds.Find("recurrent")!.Shapes(input, o);

    private static string Refusal(Dictionary<string, string> o, int[]? input = null) =>
        Assert.ThrowsAny<Exception>(() => Shapes(input ?? [3], o)).Message;

    public static TheoryData<string, string, string> Cells => new()
    {
        { "rnn", "activation=tanh", "activation" },
        { "gru", "", "" },
        { "lstm", "peepholes=false", "peepholes" },
        { "mrnn", "activation=tanh;factors=2", "activation, factors" },
        { "mut1", "", "" },
        { "scrn", "activation=tanh;rate=vector", "activation, rate" },
        { "rrnn", "activation=tanh;rate=matrix", "activation, rate" },
        { "clockwork", "activation=tanh;periods=1,2", "activation, periods" },
    };

    private static (string, string)[] Own(string spec)
    {
        if (spec.Length == 0) return [];
        var parts = spec.Split(';');
        var r = new (string, string)[parts.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            int eq = parts[i].IndexOf('=');
            r[i] = (parts[i][..eq], parts[i][(eq + 1)..]);
        }
        return r;
    }

    [Theory]
    [MemberData(nameof(Cells))]
    public void EachCellReadsItsOwnOptionsAndRefusesAnother(string cell, string own, string allowed)
    {
        var o = Options(cell, Own(own));
        Assert.Equal([3, 4], Shapes([3, 2], o).Output);
        o["zz"] = "1";
        string list = allowed.Length == 0 ? Common : $"{Common}, {allowed}";
        Assert.Equal($"unknown option 'zz' (allowed: {list}).", Refusal(o));
    }

    [Fact]
    public void RatesActivationsAndDirectionsAreChecked()
    {
        foreach (var rate in new[] { "vector", "uniform", "log" }) Assert.NotNull(Shapes([3], Options("scrn", ("activation", "tanh"), ("rate", rate))).Output);
        foreach (var rate in new[] { "matrix", "vector", "uniform", "log" }) Assert.NotNull(Shapes([3], Options("rrnn", ("activation", "tanh"), ("rate", rate))).Output);
        Assert.Equal("option 'rate' is 'matrix', not vector, uniform, log.", Refusal(Options("scrn", ("activation", "tanh"), ("rate", "matrix"))));
        Assert.Equal("option 'rate' is 'x', not matrix, vector, uniform, log.", Refusal(Options("rrnn", ("activation", "tanh"), ("rate", "x"))));
        Assert.Equal("option 'rate' is missing.", Refusal(Options("scrn", ("activation", "tanh"))));
        string forty = new('a', 40), longer = new('a', 41);
        Assert.Equal($"option 'activation' is '{forty}', not tanh, relu, sigmoid or linear.", Refusal(Options("rnn", ("activation", forty))));
        Assert.Equal($"option 'activation' is '{forty}...', not tanh, relu, sigmoid or linear.", Refusal(Options("rnn", ("activation", longer))));
        var bi = Options("gru", ("bidirectional", "true"));
        Assert.Equal([5, 8], Shapes([5, 3], bi).Output);
        Assert.Equal("a bidirectional recurrent layer reads a whole sequence [T, F]; got a vector input.", Refusal(bi, [3]));
    }

    private static string Written(RecurrentCellLayer layer)
    {
        var d = LayerKinds.Find("recurrent")!.Describe(layer);
        var keys = new List<string>(d.Keys);
        keys.Sort(StringComparer.Ordinal);
        var parts = new List<string>();
        foreach (var k in keys) parts.Add($"{k}={d[k]}");
        return string.Join(";", parts);
    }

    [Fact]
    public void ABidirectionalPairIsWrittenOnlyWhenItsHalvesAgree()
    {
        // halves that differ only in direction and input width: written once, with bidirectional=true
        var pair = new RecurrentCellLayer(new GRU(4, true, false, "f", null, 3), new GRU(4, true, true, "b"), "bi", null);
        Assert.Equal("bidirectional=true;cell=gru;go_backwards=false;input_width=3;return_sequences=true;units=4", Written(pair));
        var mrnn = new RecurrentCellLayer(new MRNN(4, 2, "relu", false, false, "f"), new MRNN(4, 2, "relu", false, false, "b"), "bm", null);
        Assert.Equal("activation=relu;bidirectional=true;cell=mrnn;factors=2;go_backwards=false;return_sequences=false;units=4", Written(mrnn));

        // halves that differ in anything else are refused, naming the option; an option only one half has counts too
        (RecurrentLayer Fw, RecurrentLayer Bw, string Key)[] differ =
        [
            (new GRU(4, true, false, "f"), new GRU(5, true, false, "b"), "units"),
            (new GRU(4, true, false, "f"), new GRU(4, false, false, "b"), "return_sequences"),
            (new MRNN(4, 2, "tanh", true, false, "f"), new MRNN(4, null, "tanh", true, false, "b"), "factors"),
            (new MRNN(4, null, "tanh", true, false, "f"), new MRNN(4, 2, "tanh", true, false, "b"), "factors"),
            (new MRNN(4, 2, "tanh", true, false, "f"), new MRNN(4, 2, "relu", true, false, "b"), "activation"),
            (new GRU(4, true, false, "f"), new LSTM(4, true, false, false, "b"), "cell"),
        ];
        foreach (var (fw, bw, key) in differ)
        {
            var e = Assert.Throws<GraphException>(() => Written(new RecurrentCellLayer(fw, bw, "bad", null)));
            Assert.Equal($"Bidirectional recurrent layer 'bad': its backward half ({bw}) differs from its forward half ({fw}) in '{key}'; " +
                         "a .flexnet file holds only a pair of equal halves (the default of BidirectionalLayer).", e.Message);
        }
    }

    [Fact]
    public void TheCommonOptionsAreRequired()
    {
        foreach (string key in new[] { "units", "return_sequences", "go_backwards" })
        {
            var o = Options("gru");
            o.Remove(key);
            Assert.Equal($"option '{key}' is missing.", Refusal(o));
        }
        var noCell = Options("gru");
        noCell.Remove("cell");
        Assert.Equal("option 'cell' is missing.", Refusal(noCell));
    }
}
