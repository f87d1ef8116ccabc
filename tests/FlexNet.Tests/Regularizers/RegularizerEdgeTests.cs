using FlexNet.Regularizers;
using FlexNet.Tensors;

namespace FlexNet.Tests.Regularizers;

/// <summary>Edges of the regularizers that mutation testing found untested: names, unnamed parameters, empty
/// selections, every contractive activation on sequence-shaped activations, and the error messages.</summary>
public sealed class RegularizerEdgeTests
{
    private static Tensor Named(string? name, double[] v, params int[] shape)
    {
        var t = Tensor.FromArray(v, shape).RequireGrad();
        t.Name = name;
        return t;
    }

    [Fact]
    public void RegistryStyleNames()
    {
        Assert.Equal("weight_l2", new WeightL2().Name);
        Assert.Equal("weight_l1", new WeightL1().Name);
        Assert.Equal("hidden_l1", new HiddenL1().Name);
        Assert.Equal("contractive", new Contractive("h", "w").Name);
    }

    [Fact]
    public void UnnamedParametersAreMatchedAsHashIndex()
    {
        var a = Named(null, [1, 2, 3, 4], 2, 2);
        var b = Named(null, [3, 0, 0, 3], 2, 2);
        var ctx = new RegularizationContext([a, b], [], []);
        Assert.Equal("#0", ctx.ParameterName(0));
        Assert.Equal("#1", ctx.ParameterName(1));
        // only b: mean(b²) = 18/4
        Assert.Equal(4.5, new WeightL2 { Pattern = "#1" }.Penalty(ctx)!.Item(), 14);
        Assert.Equal(2.5, new WeightL1 { Pattern = "#0" }.Penalty(ctx)!.Item(), 14);
    }

    [Fact]
    public void NothingSelectedGivesNull()
    {
        var h = Tensor.FromArray([1.0, -2.0], 1, 2);
        Assert.Null(new HiddenL1 { Pattern = "other" }.Penalty(new RegularizationContext([], [new("hid", h)], [])));
        Assert.Null(new HiddenL1().Penalty(new RegularizationContext([], [], [])));
        Assert.Null(new WeightL1().Penalty(new RegularizationContext([], [], [])));
    }

    [Fact]
    public void GlobRejectsNullAndAnchorsAlternatives()
    {
        Assert.Throws<ArgumentNullException>(() => Regularizer.GlobToRegex(null!));
        var r = Regularizer.GlobToRegex("a?c | x*");
        Assert.Matches(r, "abc");
        Assert.Matches(r, "x");
        Assert.Matches(r, "xyz");
        Assert.DoesNotMatch(r, "abcd");
        Assert.DoesNotMatch(r, "zx");
        Assert.DoesNotMatch(r, "a.c.");
        var l2 = new WeightL2 { Pattern = "enc.*" };
        Assert.True(l2.Matches("enc.w"));
        Assert.False(l2.Matches("dec.w"));
        Assert.True(l2.Matches("enc.w")); // and again, from the cached expression
    }

    [Theory]
    [InlineData(ContractiveActivation.Sigmoid)]
    [InlineData(ContractiveActivation.Tanh)]
    [InlineData(ContractiveActivation.Relu)]
    [InlineData(ContractiveActivation.Linear)]
    public void ContractiveOnSequenceActivationsByHand(ContractiveActivation act)
    {
        // h [T=2, N=3, H=2], W [H=2, in=4]: penalty = mean_{t,n} Σ_j f'(h_tnj)² Σ_i W_ji²
        double[] hv = [0.2, 0.7, 0.0, 0.9, 0.5, 0.1, /**/ 0.3, 0.0, 0.8, 0.4, 0.6, 0.25];
        if (act == ContractiveActivation.Tanh) hv = Array.ConvertAll(hv, v => v - 0.45);
        double[] wv = [1, -2, 0.5, 3, /**/ 0.25, 1.5, -1, 2];
        var h = Tensor.FromArray(hv, 2, 3, 2);
        var w = Named("enc.w", wv, 2, 4);
        var col = new double[2];
        for (int j = 0; j < 2; j++)
            for (int i = 0; i < 4; i++) col[j] += wv[j * 4 + i] * wv[j * 4 + i];
        double total = 0;
        for (int s = 0; s < 6; s++)
            for (int j = 0; j < 2; j++)
            {
                double y = hv[s * 2 + j];
                double d = act switch
                {
                    ContractiveActivation.Sigmoid => y * (1 - y),
                    ContractiveActivation.Tanh => 1 - y * y,
                    ContractiveActivation.Relu => y > 0 ? 1 : 0,
                    _ => 1,
                };
                total += d * d * col[j];
            }
        var pen = new Contractive("hid", "enc.w", act).Penalty(new RegularizationContext([w], [new("hid", h)], []))!;
        Assert.Equal(total / 6, pen.Item(), 13);
    }

    [Fact]
    public void ContractiveNamesWhatIsMissing()
    {
        var w = Named("enc.w", [1, 2], 1, 2);
        var h = Tensor.FromArray([0.5], 1, 1);
        var c = new Contractive("hid", "enc.w");
        var e1 = Assert.Throws<ArgumentException>(() => c.Penalty(new RegularizationContext([w], [], [])));
        Assert.Equal("contractive: activation 'hid' not exposed by the model, weight 'enc.w' found.", e1.Message);
        var e2 = Assert.Throws<ArgumentException>(() => c.Penalty(new RegularizationContext([], [new("hid", h)], [])));
        Assert.Equal("contractive: activation 'hid' found, weight 'enc.w' not among the parameters.", e2.Message);
        var e3 = Assert.Throws<ArgumentException>(() => c.Penalty(new RegularizationContext([], [], [])));
        Assert.Equal("contractive: activation 'hid' not exposed by the model, weight 'enc.w' not among the parameters.", e3.Message);
    }

    [Fact]
    public void ContractiveRejectsAWeightOfTheWrongShape()
    {
        var h = Tensor.FromArray([0.5, 0.25], 1, 2);
        var c = new Contractive("hid", "enc.w");
        // rank 1 (even though its length matches H)
        var v = Named("enc.w", [1, 2], 2);
        var e1 = Assert.Throws<ShapeMismatchException>(() => c.Penalty(new RegularizationContext([v], [new("hid", h)], [])));
        Assert.Equal("contractive: weight 'enc.w' [2] must be [hidden, in] with hidden = last axis of 'hid' [1, 2].", e1.Message);
        // rank 2 with the wrong number of rows
        var m = Named("enc.w", [1, 2, 3], 3, 1);
        var e2 = Assert.Throws<ShapeMismatchException>(() => c.Penalty(new RegularizationContext([m], [new("hid", h)], [])));
        Assert.Contains("[3, 1]", e2.Message);
    }
}
