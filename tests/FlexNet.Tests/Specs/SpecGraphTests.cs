using FlexNet.Connections;
using FlexNet.Specs;

namespace FlexNet.Tests.Specs;

/// <summary>What a spec's graph sections build: each connection kind's default bias and its settings, read back from
/// the built connections.</summary>
public sealed class SpecGraphTests
{
    private static TrainingSpec Conv(string connection) => TrainingSpec.Parse($$"""
        name: c
        inputs: [{name: x, shape: [2, 8, 8]}]
        layers: [{name: h, shape: [3, 8, 8]}, {name: e, shape: [3, 8, 8]}]
        connections: [{{connection}}, {from: h, to: e, kind: elementwise}]
        outputs: [e]
        """, "c.yaml");

    private static TrainingSpec Dense(string connection) => TrainingSpec.Parse($$"""
        name: d
        inputs: [{name: x, size: 4}]
        layers: [{name: h, size: 3}, {name: y, size: 4}, {name: z, size: 4}]
        connections: [{from: x, to: h, name: enc}, {{connection}}, {from: y, to: z, kind: identity}]
        outputs: [z]
        """, "d.yaml");

    [Fact]
    public void DenseConvolutionAndTiedConnectionsHaveABiasByDefaultElementwiseOnesDoNot()
    {
        Assert.True(((DenseConnection)Dense("{from: h, to: y}").Network.Connections[1]).HasBias);
        Assert.False(((DenseConnection)Dense("{from: h, to: y, bias: false}").Network.Connections[1]).HasBias);
        Assert.True(((TiedConnection)Dense("{kind: tied, from: h, to: y, partner: enc}").Network.Connections[1]).HasBias);
        Assert.False(((TiedConnection)Dense("{kind: tied, from: h, to: y, partner: enc, bias: false}").Network.Connections[1]).HasBias);
        var conv = Conv("{kind: conv2d, from: x, to: h, kernel: 3, padding: same}").Network.Connections;
        Assert.True(((Conv2dConnection)conv[0]).HasBias);
        Assert.False(((ElementwiseConnection)conv[1]).HasBias);
        Assert.True(((ConvTranspose2dConnection)Conv("{kind: convtranspose2d, from: x, to: h, kernel: 3, padding: 1}").Network.Connections[0]).HasBias);
        Assert.False(((Conv2dConnection)Conv("{kind: conv2d, from: x, to: h, kernel: 3, padding: same, bias: false}").Network.Connections[0]).HasBias);
        Assert.True(((ElementwiseConnection)TrainingSpec.Parse("""
            name: e
            inputs: [{name: x, size: 4}]
            layers: [{name: y, size: 4}]
            connections: [{from: x, to: y, kind: elementwise, bias: true}]
            outputs: [y]
            """, "e.yaml").Network.Connections[0]).HasBias);
    }

    [Fact]
    public void ASequenceInputBesideAStaticOneMakesTheInputsSequences()
    {
        var spec = TrainingSpec.Parse("""
            name: s
            inputs: [{name: x, size: 2, sequence_length: 3}, {name: c, size: 2}]
            layers: [{name: y, size: 2}]
            connections: [{from: x, to: y}, {from: c, to: y}]
            outputs: [y]
            data: {train: {x: a.csv}, target: input}
            """, "s.yaml");
        var o = spec.CreateTrainerOptions();
        Assert.Equal((1, 1), (o.InputBatchAxis, o.TargetBatchAxis));
    }

    [Fact]
    public void AConvolutionWhoseWeightsPassTheBuildBudgetIsRefusedByName()
    {
        // 4100 x 64 x 32 x 32 floats: 1,074,790,400 bytes, just over the 1 GiB a spec's network may allocate
        var e = Assert.Throws<SpecValidationException>(() => TrainingSpec.Parse("""
            name: big
            inputs: [{name: x, shape: [64, 32, 32]}]
            layers: [{name: y, shape: [4100, 1, 1]}]
            connections: [{kind: conv2d, from: x, to: y, kernel: 32}]
            outputs: [y]
            """, "big.yaml"));
        Assert.Equal("big.yaml: $.connections (line 4): big.yaml: the network: building it needs more than 1073741824 bytes of tensors (the next buffer alone is 1074790400 bytes), " +
                     "out of proportion to the weights the file stores; the architecture declares layers larger than its tensors.", e.Message);
    }

    [Fact]
    public void AClassLossReportsAccuracyByDefaultAndOtherLossesNothing()
    {
        var ce = Dense("{from: h, to: y}");
        Assert.IsType<FlexNet.Metrics.Accuracy>(Assert.Single(ce.Metrics));
        var mse = TrainingSpec.Parse("""
            name: m
            inputs: [{name: x, size: 4}]
            layers: [{name: y, size: 2}]
            connections: [{from: x, to: y}]
            outputs: [y]
            loss: mse
            """, "m.yaml");
        Assert.Empty(mse.Metrics);
        Assert.Empty(mse.CreateTrainerOptions().Metrics);
    }

    private static TrainingSpec PoolNet(string layer, string outputs = "[y]") => TrainingSpec.Parse($$"""
        name: p
        inputs: [{name: x, shape: [1, 4, 4]}]
        layers: [{{layer}}, {name: f, kind: flatten}, {name: y, size: 2}]
        connections: [{from: x, to: h, kind: identity}, {from: h, to: f, kind: identity}, {from: f, to: y}]
        outputs: {{outputs}}
        """, "p.yaml");

    [Fact]
    public void PoolingKindsAndOutputModesReachTheNetwork()
    {
        static FlexNet.Layers.PoolKind KindOf(string layer) =>
            ((FlexNet.Layers.PoolLayer)PoolNet(layer).Network.Layers.Single(l => l.Name == "h")).PoolKind;
        Assert.Equal(FlexNet.Layers.PoolKind.Average, KindOf("{name: h, kind: pool, pool: avg}"));
        Assert.Equal(FlexNet.Layers.PoolKind.Max, KindOf("{name: h, kind: pool, pool: max}"));
        Assert.Equal(FlexNet.Layers.PoolKind.Max, KindOf("{name: h, kind: pool}"));
        Assert.Equal(FlexNet.Graph.OutputMode.AllSteps, PoolNet("{name: h, kind: pool}", "[{layer: y, mode: all}]").Network.Outputs[0].Mode);
        Assert.Equal(FlexNet.Graph.OutputMode.LastStep, PoolNet("{name: h, kind: pool}", "[{layer: y, mode: last}]").Network.Outputs[0].Mode);
        Assert.Equal(FlexNet.Graph.OutputMode.LastStep, PoolNet("{name: h, kind: pool}", "[{layer: y}]").Network.Outputs[0].Mode);
    }

    [Fact]
    public void ADenseConnectionTooLargeToBuildIsRefusedBeforeItsWeightsAreMade()
    {
        var e = Assert.Throws<SpecValidationException>(() => TrainingSpec.Parse("""
            name: wide
            inputs: [{name: x, size: 16777216}]
            layers: [{name: h, size: 17}]
            connections: [{from: x, to: h}]
            outputs: [h]
            """, "wide.yaml"));
        Assert.Equal("wide.yaml: $.connections[0] (line 4): a dense connection from 'x' (16777216 features) to 'h' (17) needs 285212672 weights (1140850688 bytes); " +
                     "building a spec's network may allocate at most 1073741824 bytes.", e.Message);
    }

    /// <summary>The message of a one-connection spec <c>c.yaml</c> (x → h, the connection on line 4) that is refused.</summary>
    internal static string ConvMessage(string from, string to, string connection) =>
        Assert.Throws<SpecValidationException>(() => ConvSpec(from, to, connection)).Message;

    /// <summary>A spec <c>c.yaml</c> with an input x of shape <paramref name="from"/>, a layer h of shape <paramref name="to"/>
    /// and one connection.</summary>
    internal static TrainingSpec ConvSpec(string from, string to, string connection) => TrainingSpec.Parse($$"""
        name: c
        inputs: [{name: x, shape: {{from}}}]
        layers: [{name: h, shape: {{to}}}]
        connections: [{{connection}}]
        outputs: [h]
        """, "c.yaml");

    [Fact]
    public void TheConvolutionShapeCheckGivesTheLengthsItExpects()
    {
        const string At = "c.yaml: $.connections[0] (line 4): shapes do not fit: ";
        Assert.Equal(At + "a conv2d (kernel 3, stride 2) from 'x' [2, 8, 8] gives 4 along axis 1, but 'h' is [3, 5, 5].",
            ConvMessage("[2, 8, 8]", "[3, 5, 5]", "{kind: conv2d, from: x, to: h, kernel: 3, stride: 2, padding: same}"));
        Assert.Equal(At + "a conv2d (kernel 3, stride 1) from 'x' [2, 8, 8] gives 8 along axis 1, but 'h' is [3, 7, 8].",
            ConvMessage("[2, 8, 8]", "[3, 7, 8]", "{kind: conv2d, from: x, to: h, kernel: 3, padding: 1}"));
        Assert.Equal(At + "a conv2d (kernel 3, stride 1) from 'x' [2, 8, 9] gives 9 along axis 2, but 'h' is [3, 8, 8].",
            ConvMessage("[2, 8, 9]", "[3, 8, 8]", "{kind: conv2d, from: x, to: h, kernel: 3, padding: 1}"));
        Assert.Equal(At + "a conv2d (kernel 3, stride 1) from 'x' [2, 8, 8] gives 4 along axis 1, but 'h' is [3, 6, 6].",
            ConvMessage("[2, 8, 8]", "[3, 6, 6]", "{kind: conv2d, from: x, to: h, kernel: 3, dilation: 2}"));
        Assert.Equal(At + "a convtranspose2d (kernel 3, stride 2) from 'x' [2, 4, 4] gives 7..8 along axis 1, but 'h' is [3, 9, 9].",
            ConvMessage("[2, 4, 4]", "[3, 9, 9]", "{kind: convtranspose2d, from: x, to: h, kernel: 3, stride: 2, padding: 1}"));
        Assert.Equal(At + "a convtranspose2d (kernel 3, stride 2) from 'x' [2, 4, 4] gives 8 along axis 1, but 'h' is [3, 7, 7].",
            ConvMessage("[2, 4, 4]", "[3, 7, 7]", "{kind: convtranspose2d, from: x, to: h, kernel: 3, stride: 2, padding: 1, output_padding: 1}"));
        Assert.Equal("c.yaml: $.connections[0].to (line 4): a conv2d connection needs a [channels, height, width] target; 'h' has shape [3].",
            ConvMessage("[2, 8, 8]", "[3]", "{kind: conv2d, from: x, to: h, kernel: 3}"));
        // the lengths the check expects are accepted, and the built connection has the settings of the spec
        Assert.Equal(2, ((Conv2dConnection)ConvSpec("[2, 8, 8]", "[3, 4, 4]", "{kind: conv2d, from: x, to: h, kernel: 3, stride: 2, padding: same}").Network.Connections[0]).Stride);
        Assert.Equal(2, ((Conv2dConnection)ConvSpec("[2, 8, 8]", "[3, 4, 4]", "{kind: conv2d, from: x, to: h, kernel: 3, dilation: 2}").Network.Connections[0]).Dilation);
        ConvSpec("[2, 8, 8]", "[3, 8, 8]", "{kind: conv2d, from: x, to: h, kernel: 3, padding: 1}");
        ConvSpec("[2, 4, 4]", "[3, 7, 7]", "{kind: convtranspose2d, from: x, to: h, kernel: 3, stride: 2, padding: 1}");
        ConvSpec("[2, 4, 4]", "[3, 8, 8]", "{kind: convtranspose2d, from: x, to: h, kernel: 3, stride: 2, padding: 1}");
        ConvSpec("[2, 4, 4]", "[3, 8, 8]", "{kind: convtranspose2d, from: x, to: h, kernel: 3, stride: 2, padding: 1, output_padding: 1}");
    }

    [Fact]
    public void AConcatenatingLayerAndAListHyperParameterReachTheNetworkAndTheOptimizer()
    {
        static TrainingSpec Cat(int size) => TrainingSpec.Parse($$"""
            name: cat
            inputs: [{name: a, size: 2}, {name: b, size: 2}]
            layers: [{name: h, size: {{size}}, combine: concat}]
            connections: [{from: a, to: h, kind: identity}, {from: b, to: h, kind: identity}]
            outputs: [h]
            optimizer: {name: adam, lr: 0.01, betas: [0.8, 0.95]}
            """, "cat.yaml");
        var spec = Cat(4);
        Assert.Equal(FlexNet.Graph.CombineRule.Concat, spec.Network.Layers.Single(l => l.Name == "h").Combine);
        // the sources' sum must still fit: the network refuses a concatenation of 2 + 2 into 5
        Assert.StartsWith("cat.yaml: $.connections", Assert.Throws<SpecValidationException>(() => Cat(5)).Message, StringComparison.Ordinal);
        var adam = Assert.IsType<FlexNet.Optimizers.Adam>(spec.Optimizer);
        Assert.Equal((0.01, 0.8, 0.95), (adam.LearningRate, adam.Beta1, adam.Beta2));
    }
}
