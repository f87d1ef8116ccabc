using FlexNet.Layers;
using FlexNet.Losses;
using FlexNet.Metrics;
using FlexNet.Models;
using FlexNet.Optimizers;
using FlexNet.Training;
using FlexNet.Tensors;

namespace FlexNet.Checkpoint.Host;

/// <summary>
/// The training that the kill-and-resume test interrupts: a model with batch normalisation, dropout and Gaussian
/// noise, Adam, a step-decay schedule, shuffled batches, metrics and early stopping that restores the best weights,
/// checkpointed every few steps (so most checkpoints are taken mid-epoch). Shared by the host program and the
/// in-process tests.
/// </summary>
internal static class ResumeScenario
{
    internal const int Samples = 200, Features = 48, Classes = 5, BatchSize = 16, Epochs = 14, CheckpointEverySteps = 3;

    internal static int StepsPerEpoch => (Samples + BatchSize - 1) / BatchSize;

    internal static long TotalSteps => (long)StepsPerEpoch * Epochs;

    internal static Sequential NewModel() =>
        new("resume", DType.Float32, 11,
            new Dense(192, "relu", name: "fc1"), new BatchNorm(name: "bn1"), new Dropout(0.3, name: "drop1"),
            new Dense(96, "tanh", name: "fc2"), new GaussianNoise(0.05, name: "noise2"), new Dense(Classes, name: "out"))
        { InputShape = [Features] };

    internal static (Tensor X, Tensor Y) Data()
    {
        var rng = new RandomGenerator(2024);
        var x = Tensor.Normal([Samples, Features], 0, 1, rng);
        var xs = x.ToFloatArray();
        var labels = new int[Samples];
        for (int i = 0; i < Samples; i++)
        {
            double s = xs[i * Features] + 0.5 * xs[i * Features + 1] - xs[i * Features + 2];
            labels[i] = Math.Clamp((int)Math.Floor(s + Classes / 2.0), 0, Classes - 1);
        }
        return (x, Tensor.FromArray(labels, Samples));
    }

    internal static TrainerOptions Options(string? checkpointPath, Action<BatchEndInfo>? onBatchEnd = null) => new()
    {
        Loss = new CrossEntropy(),
        Optimizer = new Adam(3e-3),
        Schedule = LearningRateSchedule.Step(40, 0.7),
        Metrics = [new Accuracy()],
        Epochs = Epochs,
        BatchSize = BatchSize,
        Seed = 5,
        EarlyStopping = new EarlyStopping { Monitor = "loss", Patience = 1000, RestoreBestWeights = true },
        CheckpointPath = checkpointPath,
        CheckpointEverySteps = checkpointPath is null ? 0 : CheckpointEverySteps,
        Progress = ProgressMode.None,
        OnBatchEnd = onBatchEnd,
    };

    /// <summary>The model's parameters and buffers, in a fixed order, as one byte image.</summary>
    internal static byte[] WeightsImage(Sequential model)
    {
        using var ms = new MemoryStream();
        foreach (var (name, t) in model.StateDict().OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            ms.Write(System.Text.Encoding.UTF8.GetBytes(name));
            foreach (float v in t.ToFloatArray()) ms.Write(BitConverter.GetBytes(v));
        }
        return ms.ToArray();
    }
}
