using System.Text;
using FlexNet.Connections;
using FlexNet.Layers;
using FlexNet.Losses;
using FlexNet.Regularizers;
using FlexNet.Specs;

namespace FlexNet.Tests.Specs;

/// <summary>Survivors of session 14's whole run of <c>Specs</c>: values of the training sections read back from the
/// spec (loss, regularizers, early stopping), bounds that must be accepted at their limit (items, list lengths, text
/// lengths, shape sizes), keys that no test gave (an explicit output padding, 'valid' padding, a non-global pool), a
/// layer that grows beyond the element limit only when built, and an autoencoder shorthand whose output does not
/// match its input. Expected values are written out here from the spec texts.</summary>
public sealed class SpecRunSurvivorTests
{
    private const string Base = TrainingSpecTests.Mlp;

    private static TrainingSpec Parse(string text, string file = "s.yaml") => TrainingSpec.Parse(text, file);

    private static string Message(string text, string file = "s.yaml") =>
        Assert.Throws<SpecValidationException>(() => TrainingSpec.Parse(text, file)).Message;

    private static string Appended(string yaml) => Base.Replace("outputs: [y]", "outputs: [y]\n" + yaml, StringComparison.Ordinal);

    [Fact]
    public void TheTrainingSectionsAreReadAsWritten()
    {
        var s = Parse(Appended("loss: mse\n" +
                               "regularizers: [{kind: weight_l2, weight: 0.5, pattern: 'h.*'}, {kind: weight_l1, weight: 0.25}, {kind: hidden_l1, weight: 2}]\n" +
                               "early_stopping: {monitor: val_acc, patience: 3, min_delta: 0.01, mode: max}"));
        Assert.IsType<MeanSquaredError>(s.Loss);
        Assert.Equal(3, s.Regularizers.Count);
        var l2 = Assert.IsType<WeightL2>(s.Regularizers[0]);
        Assert.Equal((0.5, "h.*"), (l2.Weight, l2.Pattern));
        var l1 = Assert.IsType<WeightL1>(s.Regularizers[1]);
        Assert.Equal((0.25, "*"), (l1.Weight, l1.Pattern));
        var hidden = Assert.IsType<HiddenL1>(s.Regularizers[2]);
        Assert.Equal(2.0, hidden.Weight);
        var es = s.EarlyStopping!;
        Assert.Equal(("val_acc", 3, 0.01, true, (bool?)true), (es.Monitor, es.Patience, es.MinDelta, es.RestoreBestWeights, es.HigherIsBetter));

        var min = Parse(Appended("early_stopping: {mode: min, restore_best_weights: false}")).EarlyStopping!;
        Assert.Equal(("val_loss", 5, 0.0, false, (bool?)false), (min.Monitor, min.Patience, min.MinDelta, min.RestoreBestWeights, min.HigherIsBetter));
        Assert.Null(Parse(Appended("early_stopping: {mode: auto}")).EarlyStopping!.HigherIsBetter);
        Assert.Null(Parse(Appended("early_stopping: {}")).EarlyStopping!.HigherIsBetter);
        Assert.IsType<CrossEntropy>(Parse(Base).Loss);
        Assert.Empty(Parse(Base).Regularizers);
    }

    [Fact]
    public void ListAndTextBoundsAreAcceptedAtTheirLimit()
    {
        var eight = Parse(Appended("schedule: [" + string.Join(", ", Enumerable.Repeat("{kind: constant}", 8)) + "]"));
        Assert.NotNull(eight.Schedule);
        var regs = Parse(Appended("regularizers: [" + string.Join(", ", Enumerable.Repeat("{kind: weight_l2, weight: 1}", 64)) + "]"));
        Assert.Equal(64, regs.Regularizers.Count);
        Assert.Equal("s.yaml: $.regularizers (line 11): a spec may have at most 64 regularizers; it has 65.",
            Message(Appended("regularizers: [" + string.Join(", ", Enumerable.Repeat("{kind: weight_l2, weight: 1}", 65)) + "]")));
        string p256 = new('p', 256);
        Assert.Equal(p256, Parse(Appended($"regularizers: [{{kind: weight_l1, weight: 1, pattern: {p256}}}]")).Regularizers[0].Pattern);
        Assert.Equal("s.yaml: $.regularizers[0].pattern (line 11): a pattern has 1 to 256 characters.",
            Message(Appended($"regularizers: [{{kind: weight_l1, weight: 1, pattern: {p256}p}}]")));
        string m64 = new('m', 64);
        Assert.Equal(m64, Parse(Appended($"early_stopping: {{monitor: {m64}}}")).EarlyStopping!.Monitor);
        Assert.Equal("s.yaml: $.early_stopping.monitor (line 11): 'monitor' names a history key such as val_loss or val_acc.",
            Message(Appended($"early_stopping: {{monitor: {m64}m}}")));
    }

    /// <summary>A JSON spec with one input x [1], <paramref name="layers"/> layers l0.. of size 1 and
    /// <paramref name="connections"/> dense connections x → l0; no outputs, so a spec within the limits stops there.</summary>
    private static string Many(int layers, int connections)
    {
        var sb = new StringBuilder("{\"inputs\": [{\"name\": \"x\", \"size\": 1}], \"layers\": [");
        for (int i = 0; i < layers; i++) sb.Append(i > 0 ? ", " : "").Append($"{{\"name\": \"l{i}\", \"size\": 1}}");
        sb.Append("], \"connections\": [");
        for (int i = 0; i < connections; i++) sb.Append(i > 0 ? ", " : "").Append($"{{\"from\": \"x\", \"to\": \"l0\", \"name\": \"c{i}\"}}");
        return sb.Append("]}").ToString();
    }

    [Fact]
    public void AtMost4096LayersAndInputsAnd4096Connections()
    {
        Assert.Equal(4096, TrainingSpec.MaxItems);
        Assert.Equal("s.json: $.outputs: 'outputs' is missing; it must be a list.", Message(Many(4095, 1), "s.json"));
        Assert.Equal("s.json: $.layers: a spec may have at most 4096 layers and inputs; it has 4097.", Message(Many(4096, 1), "s.json"));
        Assert.Equal("s.json: $.outputs: 'outputs' is missing; it must be a list.", Message(Many(1, 4096), "s.json"));
        Assert.Equal("s.json: $.connections: a spec may have at most 4096 connections; it has 4097.", Message(Many(1, 4097), "s.json"));
    }

    [Fact]
    public void ShapesAtTheElementLimitAreAccepted()
    {
        // the limit itself passes the shape reader: the next defect (the activation on line 5) is the one reported
        foreach (string shape in new[] { "size: 16777216", "shape: [16777216]", "shape: [4096, 4096]" })
            Assert.StartsWith("s.yaml: $.layers[0].activation (line 5): unknown activation 'nope'.",
                Message(Base.Replace("{name: x, size: 4}", $"{{name: x, {shape}}}", StringComparison.Ordinal).Replace("activation: tanh", "activation: nope", StringComparison.Ordinal)));
    }

    [Fact]
    public void ALayerThatGrowsBeyondTheElementLimitWhenBuiltIsRefused()
    {
        // a concatenating form joins two inputs, each within the limit; the join is checked once the network is built
        const string spec = """
            inputs: [{name: a, size: SIZE}, {name: b, size: 1}]
            layers: [{name: h, kind: concat, inputs: [a, b]}]
            connections: []
            outputs: [h]
            """;
        Assert.Equal("s.yaml: $.layers[0] (line 2): layer 'h' has 16777217 elements per sample (shape [16777217]); at most 16777216 are allowed.",
            Message(spec.Replace("SIZE", "16777216", StringComparison.Ordinal)));
        Assert.Equal([16777216], Parse(spec.Replace("SIZE", "16777215", StringComparison.Ordinal)).Network.Layers.Single(l => l.Name == "h").OutputShape!);
    }

    [Fact]
    public void KeysNoOtherTestGives()
    {
        // an explicit output padding reaches the transposed convolution: [2, 4, 4], 3x3 stride 2 padding 1 gives 7 + it
        static string Transposed(int outputPadding) => $"{{kind: convtranspose2d, from: x, to: h, kernel: 3, stride: 2, padding: 1, output_padding: {outputPadding}}}";
        var t = SpecGraphTests.ConvSpec("[2, 4, 4]", "[3, 8, 8]", Transposed(1));
        Assert.Equal((1, 1), ((ConvTranspose2dConnection)t.Network.Connections[0]).OutputPadding);
        // and is not left to the target: an output padding of 0 gives 7, which the target of 8 refuses
        Assert.Equal("c.yaml: $.connections[0] (line 4): shapes do not fit: a convtranspose2d (kernel 3, stride 2) from 'x' [2, 4, 4] gives 7 along axis 1, but 'h' is [3, 8, 8].",
            SpecGraphTests.ConvMessage("[2, 4, 4]", "[3, 8, 8]", Transposed(0)));
        // an output padding at the stride is refused (PyTorch's rule), not left to the target, which 7 + 2 would fit
        Assert.Equal("c.yaml: $.connections[0] (line 4): outputPadding must be smaller than the stride (2) or the dilation (1). Received: 2 (Parameter 'outputPadding')",
            SpecGraphTests.ConvMessage("[2, 4, 4]", "[3, 9, 9]", Transposed(2)));
        // 'valid' padding written out (any case) is no padding: 8 − 3 + 1 = 6
        foreach (string valid in new[] { "valid", "VALID" })
        {
            var c = SpecGraphTests.ConvSpec("[2, 8, 8]", "[3, 6, 6]", $"{{kind: conv2d, from: x, to: h, kernel: 3, padding: {valid}}}");
            Assert.Equal([3, 6, 6], c.Network.Layers.Single(l => l.Name == "h").OutputShape!);
        }
        // global: false is an ordinary pool (window 2 by default), global: true pools each channel to one value
        const string pool = """
            inputs: [{name: x, shape: [2, 4, 4]}]
            layers: [{name: p, kind: pool, global: GLOBAL}, {name: y, size: 3}]
            connections: [{from: x, to: p, kind: identity}, {from: p, to: y}]
            outputs: [y]
            """;
        var local = (PoolLayer)Parse(pool.Replace("GLOBAL", "false", StringComparison.Ordinal)).Network.Layers.Single(l => l.Name == "p");
        Assert.False(local.IsGlobal);
        Assert.True(((PoolLayer)Parse(pool.Replace("GLOBAL", "true", StringComparison.Ordinal)).Network.Layers.Single(l => l.Name == "p")).IsGlobal);
        // a form's inputs are names
        Assert.Equal("s.yaml: $.layers[0].inputs[0] (line 5): expected a name, found the number 5.",
            Message(Base.Replace("{name: h, size: 3, activation: tanh}", "{name: h, kind: dropout, inputs: [5], rate: 0.5}", StringComparison.Ordinal)));
    }

    [Fact]
    public void TheShorthandsKindsAndInputLists()
    {
        // an autoencoder's output must have its input's shape (a classifier's need not)
        Assert.Equal("s.yaml: $.model.layers[2] (line 1): layers[2] 'out': an autoencoder's output must have the input's shape [4]; it has [3].",
            Message("model: {kind: autoencoder, layers: [4, 2, 3]}"));
        Assert.NotNull(Parse("model: {kind: classifier, layers: [4, 2, 3]}").Network);
        // a first entry that is a list of whole numbers is the input's shape
        var shaped = Parse("model: {kind: classifier, layers: [[2, 3], flatten, 4]}");
        Assert.Equal([2, 3], shaped.Network.Inputs[0].DeclaredShape!);
        // sizes at their bounds reach the model (the next entry's defect is the one reported)
        Assert.NotNull(Parse("model: {kind: classifier, layers: [1, 1]}").Network);
        Assert.StartsWith("s.yaml: $.model.layers[1] (line 1): ", Message("model: {kind: classifier, layers: [16777216, nope]}"));
        Assert.DoesNotContain("a layer size", Message("model: {kind: classifier, layers: [16777216, nope]}"));
        // a list spec of 8 entries reaches the model; 9 do not
        string eight = "[" + string.Join(", ", Enumerable.Repeat("3", 8)) + "]";
        Assert.DoesNotContain("a list spec has", Message($"model: {{kind: classifier, layers: [4, {eight}]}}"));
        Assert.Equal("s.yaml: $.model.layers[1] (line 1): a list spec has 1 to 8 entries; it has 9.",
            Message("model: {kind: classifier, layers: [4, [" + string.Join(", ", Enumerable.Repeat("3", 9)) + "]]}"));
    }
}
