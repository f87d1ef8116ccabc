using FlexNet.Optimizers;
using Xunit;

namespace FlexNet.Tests.Optimizers;

/// <summary>
/// The factory's name table and every keyword of <see cref="OptimizerFactory.FromPyTorchName"/>, each set to a value
/// that no default has (Stryker's session-8 rerun left these alive: the table is static and built once per test host,
/// and no test set every keyword of every rule).
/// </summary>
public sealed class OptimizerFactoryMutationGapTests
{
    [Fact]
    public void AFreshTableMapsEveryNameAndAliasToItsRule()
    {
        var r = OptimizerFactory.BuildRules();
        var expected = new (string Name, Type Rule)[]
        {
            ("sgd", typeof(Sgd)), ("momentum", typeof(Momentum)), ("nag", typeof(Nesterov)), ("nesterov", typeof(Nesterov)),
            ("rmsprop", typeof(RmsProp)), ("adam", typeof(Adam)), ("adamw", typeof(AdamW)), ("adadelta", typeof(Adadelta)),
            ("adagrad", typeof(Adagrad)), ("rprop", typeof(Rprop)), ("esgd", typeof(Esgd)),
        };
        foreach (var (name, rule) in expected)
        {
            Assert.True(r.TryGet(name, out var make), name);
            Assert.Equal(rule, make!().GetType());
        }
        Assert.Equal(["sgd", "momentum", "nag", "rmsprop", "adam", "adamw", "adadelta", "adagrad", "rprop", "esgd"], r.Names);
    }

    private static Dictionary<string, string> H(params string[] kv)
    {
        var h = new Dictionary<string, string>();
        for (int i = 0; i < kv.Length; i += 2) h[kv[i]] = kv[i + 1];
        return h;
    }

    [Fact]
    public void EveryKeywordOfEveryRuleIsRead()
    {
        var sgd = (Sgd)OptimizerFactory.FromPyTorchName("SGD", H("lr", "0.25", "momentum", "0.5", "dampening", "0.125", "nesterov", "false", "weight_decay", "0.0625"));
        Assert.Equal((0.25, 0.5, 0.125, false, 0.0625), (sgd.LearningRate, sgd.Momentum, sgd.Dampening, sgd.Nesterov, sgd.WeightDecay));
        Assert.True(((Sgd)OptimizerFactory.FromPyTorchName("SGD", H("momentum", "0.5", "nesterov", "true"))).Nesterov);
        Assert.True(((Sgd)OptimizerFactory.FromPyTorchName("SGD nesterov", H("momentum", "0.5"))).Nesterov);
        Assert.False(((Sgd)OptimizerFactory.FromPyTorchName("SGD", H("momentum", "0.5"))).Nesterov);
        Assert.Equal(1e-3, ((Sgd)OptimizerFactory.FromPyTorchName("sgd", H())).LearningRate); // torch.optim's default

        var adam = (Adam)OptimizerFactory.FromPyTorchName("Adam", H("lr", "0.5", "betas", "(0.25, 0.75)", "eps", "0.125", "weight_decay", "0.0625"));
        Assert.Equal((0.5, 0.25, 0.75, 0.125, 0.0625), (adam.LearningRate, adam.Beta1, adam.Beta2, adam.Epsilon, adam.WeightDecay));
        Assert.IsType<AdamW>(OptimizerFactory.FromPyTorchName("AdamW", H()));

        var rms = (RmsProp)OptimizerFactory.FromPyTorchName("RMSprop", H("alpha", "0.25", "eps", "0.125", "momentum", "0.5", "centered", "true"));
        Assert.Equal((0.25, 0.125, 0.5, true), (rms.Alpha, rms.Epsilon, rms.Momentum, rms.Centered));

        var ag = (Adagrad)OptimizerFactory.FromPyTorchName("Adagrad", H("eps", "0.125", "lr_decay", "0.25", "initial_accumulator_value", "0.5"));
        Assert.Equal((0.125, 0.25, 0.5), (ag.Epsilon, ag.LearningRateDecay, ag.InitialAccumulator));

        var ad = (Adadelta)OptimizerFactory.FromPyTorchName("Adadelta", H("rho", "0.25", "eps", "0.125"));
        Assert.Equal((0.25, 0.125), (ad.Rho, ad.Epsilon));

        var rp = (Rprop)OptimizerFactory.FromPyTorchName("Rprop", H("etas", "0.25,1.5", "step_sizes", " [ 0.125 , 8 ] "));
        Assert.Equal((0.25, 1.5, 0.125, 8.0), (rp.EtaMinus, rp.EtaPlus, rp.MinStep, rp.MaxStep));
    }

    [Theory]
    [InlineData("esgd")]
    [InlineData("momentum")]
    [InlineData("nag")]
    [InlineData("nesterov")]
    [InlineData("lbfgs")]
    public void TheanetsOnlyAndUnknownNamesAreNoPyTorchOptimizers(string op)
    {
        var e = Assert.Throws<ArgumentException>(() => OptimizerFactory.FromPyTorchName(op, H()));
        Assert.Equal($"OptimizerFactory: unknown PyTorch optimizer '{op}' (known: SGD, SGD nesterov, Adam, AdamW, RMSprop, Adagrad, Adadelta, Rprop). (Parameter 'op')", e.Message);
    }

    [Fact]
    public void BadValuesAreNamedWithTheirKey()
    {
        var e = Assert.Throws<ArgumentException>(() => OptimizerFactory.FromPyTorchName("SGD", H("lr", "fast")));
        Assert.Equal("OptimizerFactory: 'lr' = 'fast' is not a number.", e.Message);
        e = Assert.Throws<ArgumentException>(() => OptimizerFactory.FromPyTorchName("Rprop", H("etas", "0.5,1.2,2")));
        Assert.Equal("OptimizerFactory: 'etas' = '0.5,1.2,2' is not a pair 'a,b'.", e.Message);
        // empty entries are dropped and entries trimmed: "0.5, ,1.2" is the pair (0.5, 1.2)
        var rp = (Rprop)OptimizerFactory.FromPyTorchName("Rprop", H("etas", "0.5, ,1.25"));
        Assert.Equal((0.5, 1.25), (rp.EtaMinus, rp.EtaPlus));
    }

    [Fact]
    public void NullArgumentsAndABadLearningRateAreRefusedByName()
    {
        Assert.Equal("op", Assert.Throws<ArgumentNullException>(() => OptimizerFactory.FromPyTorchName(null!, H())).ParamName);
        Assert.Equal("hyper", Assert.Throws<ArgumentNullException>(() => OptimizerFactory.FromPyTorchName("SGD", null!)).ParamName);
        Assert.Equal("name", Assert.Throws<ArgumentNullException>(() => OptimizerFactory.Create(null!)).ParamName);
        // Create validates the rule it made: a negative learning rate is refused, not returned
        var e = Assert.ThrowsAny<ArgumentException>(() => OptimizerFactory.Create("sgd", -1.0));
        Assert.Contains("-1", e.Message);
        Assert.Equal(0.5, OptimizerFactory.Create("sgd", 0.5).LearningRate);
    }
}
