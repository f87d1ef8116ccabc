using FlexNet.Layers;
using FlexNet.Losses;
using FlexNet.Models;
using FlexNet.Optimizers;
using FlexNet.Regularizers;
using FlexNet.Tensors;
using FlexNet.Training;

namespace FlexNet.Tests.Training;

/// <summary><c>new Trainer(model, options)</c> on a <see cref="Model"/> compiles (a Model is both single- and
/// multi-input), trains exactly as <c>model.AsTrainable()</c> does, and feeds activity regularizers.</summary>
public class TrainerOnModelTests
{
    private static Sequential Make() => new("m", DType.Float32, 21,
        new Dense(6, "tanh", name: "h"), new Dense(3, name: "out")) { InputShape = [4] };

    private static TrainerOptions Options(double hiddenL1) => new()
    {
        Epochs = 2, BatchSize = 8, Shuffle = false, Progress = ProgressMode.None, Optimizer = new Sgd(0.1), Loss = new CrossEntropy(),
        Regularizers = hiddenL1 > 0 ? [new HiddenL1 { Weight = hiddenL1 }] : [],
    };

    [Fact]
    public void TrainerOnAModel_IsTheAdapterPath_AndSeesActivations()
    {
        var x = Tensor.Normal([16, 4], 0, 1, new RandomGenerator(22));
        var y = Tensor.FromArray(new[] { 0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0 }, 16);

        var direct = Make();
        var h1 = new Trainer(direct, Options(0.5)).Fit(x, y);
        var adapted = Make();
        var h2 = new Trainer(adapted.AsTrainable(), Options(0.5)).Fit(x, y);
        Assert.Equal(h2.Values["loss"], h1.Values["loss"]);
        for (int i = 0; i < direct.Parameters.Count; i++)
            Assert.Equal(adapted.Parameters[i].ToFloatArray(), direct.Parameters[i].ToFloatArray());

        // the hidden_l1 penalty reaches the loss through the model's activations
        var first = new Trainer(Make(), Options(0)).Fit(x, y).Values["loss"][0];
        Assert.True(h1.Values["loss"][0] > first, "the regularizer did not change the loss");
    }
}
