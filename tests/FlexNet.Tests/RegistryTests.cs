using FlexNet.Graph;
using FlexNet.Layers;
using FlexNet.Losses;
using FlexNet.Optimizers;

namespace FlexNet.Tests;

/// <summary>One registry type serves layers, connections, activations, losses and optimizers (issue 9, item 6).</summary>
public sealed class RegistryTests
{
    [Fact]
    public void NamesAreCaseInsensitiveAliasesAreFoundAndUnknownNamesListTheRegistered()
    {
        var r = new Registry<string>("colour");
        r.Register("red", "#f00", "rouge");
        r.Register("green", "#0f0");
        Assert.True(r.TryGet("RED", out var red) && red == "#f00");
        Assert.True(r.TryGet("Rouge", out var rouge) && rouge == "#f00");
        Assert.Equal(["red", "green"], r.Names);
        Assert.Equal(["green", "red", "rouge"], r.AcceptedNames);
        r.Register("red", "#e00");                      // replacing keeps the place
        Assert.Equal(["red", "green"], r.Names);
        Assert.Equal(["#e00", "#0f0"], r.Entries);
        Assert.False(r.TryGet("blue", out _));
        Assert.Equal("Unknown colour 'blue'. Registered: red, green.", r.UnknownMessage("blue"));
    }

    [Fact]
    public void EveryFrontRegistryListsWhatItKnowsWhenANameIsUnknown()
    {
        Assert.Contains("Registered: linear, sigmoid, tanh, relu", Assert.Throws<ArgumentException>(() => Activations.Get("swish9")).Message);
        Assert.Contains("Unknown loss 'nll9'. Registered: mse, mae, xe", Assert.Throws<ArgumentException>(() => Loss.Create("nll9")).Message);
        Assert.Contains("Unknown optimizer 'lion9'. Registered: sgd, momentum, nag", Assert.Throws<ArgumentException>(() => OptimizerFactory.Create("lion9")).Message);
        Assert.True(LayerRegistry.IsRegistered("dense") && ConnectionRegistry.IsRegistered("elementwise"));
    }

    [Fact]
    public void KerasAndPyTorchLossNamesAreAccepted()
    {
        Assert.IsType<CrossEntropy>(Loss.Create("sparse_categorical_crossentropy"));
        Assert.IsType<BinaryCrossEntropy>(Loss.Create("binary_crossentropy"));
        Assert.IsType<MeanSquaredError>(Loss.Create("mean_squared_error"));
        Assert.IsType<MeanAbsoluteError>(Loss.Create("mean_absolute_error"));
        Assert.IsType<KLDivergence>(Loss.Create("kl_divergence"));
        Assert.IsType<CrossEntropy>(Loss.Create("CrossEntropyLoss"));
    }

    [Fact]
    public void OptimizerDefaultsAreWrittenOnceWhateverTheNameForm()
    {
        var empty = new Dictionary<string, string>();
        Assert.Equal(OptimizerFactory.Create("sgd", 1e-3), OptimizerFactory.FromPyTorchName("SGD", empty)); // torch's SGD default lr
        Assert.Equal(OptimizerFactory.Create("adam"), OptimizerFactory.FromPyTorchName("Adam", empty));
        Assert.Equal(OptimizerFactory.Create("adamw"), OptimizerFactory.FromPyTorchName("AdamW", empty));
        Assert.Equal(OptimizerFactory.Create("rmsprop"), OptimizerFactory.FromPyTorchName("RMSprop", empty));
        Assert.Equal(OptimizerFactory.Create("rprop"), OptimizerFactory.FromPyTorchName("Rprop", empty));
        var adam = (Adam)OptimizerFactory.FromPyTorchName("Adam", new Dictionary<string, string> { ["lr"] = "0.5", ["betas"] = "(0.8, 0.9)", ["eps"] = "1e-6" });
        Assert.Equal((0.5, 0.8, 0.9, 1e-6), (adam.LearningRate, adam.Beta1, adam.Beta2, adam.Epsilon));
        var nag = (Sgd)OptimizerFactory.FromPyTorchName("SGD nesterov", new Dictionary<string, string> { ["momentum"] = "0.7" });
        Assert.True(nag.Nesterov);
        Assert.Equal(0.7, nag.Momentum);
        Assert.Equal(1e-3, nag.LearningRate);
    }
}
