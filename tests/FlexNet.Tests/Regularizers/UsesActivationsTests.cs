using FlexNet.Losses;
using FlexNet.Models;
using FlexNet.Optimizers;
using FlexNet.Regularizers;
using FlexNet.Tensors;
using FlexNet.Tests.Testing;
using FlexNet.Training;

namespace FlexNet.Tests.Regularizers;

/// <summary><see cref="Regularizer.UsesActivations"/> is what makes the trainer record hidden activations. The
/// contractive test in <see cref="ActivityRegularizerTests"/> turns recording on by hand, so it cannot see a
/// contractive penalty that never asks for it (the penalty is then silently skipped).</summary>
public sealed class UsesActivationsTests
{
    [Fact]
    public void OnlyActivityRegularizersAskForActivations()
    {
        Assert.False(new WeightL2().UsesActivations);
        Assert.False(new WeightL1().UsesActivations);
        Assert.True(new HiddenL1().UsesActivations);
        Assert.True(new Contractive("h*", "w*").UsesActivations);
    }

    [Fact]
    public void TheTrainerTurnsRecordingOnForContractive()
    {
        const int n = 6, inF = 4, hidden = 5;
        var x = T.Rand(9, n, inF).Detach();
        double Loss(Regularizer? r)
        {
            var ae = new Autoencoder(DataKind.Feedforward, DType.Float64, inF, (hidden, "sigmoid"), (inF, "linear"));
            Assert.False(ae.Network.RecordActivations);
            double loss = double.NaN;
            var o = new TrainerOptions
            {
                Loss = new MeanSquaredError(), Optimizer = new Sgd(1e-9), Epochs = 1, BatchSize = n, Shuffle = false,
                Progress = ProgressMode.None, Regularizers = r is null ? [] : [r],
            };
            o.OnBatchEnd = info => loss = info.Loss;
            new Trainer(ae.AsTrainable(), o).Fit([x], [x]);
            if (r is not null) Assert.True(ae.Network.RecordActivations);
            return loss;
        }
        // The names, from a probe built the same way (the recording is turned on by hand only here).
        var probe = new Autoencoder(DataKind.Feedforward, DType.Float64, inF, (hidden, "sigmoid"), (inF, "linear")).Network;
        probe.RecordActivations = true;
        _ = probe.Forward([x], training: true);
        string hName = Assert.Single(probe.Activations).Key;
        string wName = probe.NamedParameters.First(p => p.Value.Rank == 2 && p.Value.Shape[0] == hidden).Name;
        double plain = Loss(null);
        double with = Loss(new Contractive(hName, wName) { Weight = 10 });
        Assert.True(with > plain + 1e-6, $"the contractive penalty was not added: {plain} -> {with}");
    }
}
