using FlexNet.Graph;
using FlexNet.Losses;
using FlexNet.Metrics;
using FlexNet.Optimizers;
using FlexNet.Tensors;
using FlexNet.Training;

namespace FlexNet.Models;

/// <summary>Keras' habits on every model (Sequential, Functional, subclassed, theanets specs):
/// <c>model.Compile(loss: "sparse_categorical_crossentropy", optimizer: "adam", metrics: ["accuracy"])</c>, then
/// <c>model.Fit(x, y, epochs: 5, batchSize: 32, validationSplit: 0.1)</c>, <c>model.Evaluate(x, y)</c> and
/// <c>model.Predict(x)</c>. Names are those of <see cref="Loss.Create"/> (theanets', Keras' and PyTorch's),
/// <see cref="OptimizerFactory.Create"/> and <see cref="Metric.Create"/>. The compiled trainer is kept, so a second
/// Fit continues the first (the optimizer's state and the epoch count go on, as in Keras).</summary>
public partial class Model
{
    private Trainer? _trainer;

    /// <summary>The trainer made by <see cref="Compile(Loss, OptimizerRule?, IReadOnlyList{Metric}?)"/>, or null before.</summary>
    public Trainer? CompiledTrainer => _trainer;

    /// <summary>Chooses the loss, the optimizer and the metrics by name, as Keras' <c>model.compile</c>.</summary>
    /// <param name="loss">A loss name: <c>sparse_categorical_crossentropy</c> (integer labels, logits out), <c>mse</c>, ...</param>
    /// <param name="optimizer">An optimizer name (<c>adam</c>, <c>sgd</c>, <c>rmsprop</c>, ...) with its default learning rate.</param>
    /// <param name="metrics">Metric names (<c>accuracy</c>, <c>mae</c>, ...), or null.</param>
    /// <returns>This model.</returns>
    /// <exception cref="ArgumentException">An unknown name (the message lists the known ones).</exception>
    public Model Compile(string loss, string optimizer = "adam", IReadOnlyList<string>? metrics = null)
    {
        ArgumentNullException.ThrowIfNull(loss);
        ArgumentNullException.ThrowIfNull(optimizer);
        return Compile(Loss.Create(loss), OptimizerFactory.Create(optimizer), metrics?.Select(Metric.Create).ToArray());
    }

    /// <summary>Chooses the loss by name and the optimizer as a rule (e.g. <c>new Adam(3e-4)</c>).</summary>
    /// <param name="loss">A loss name.</param>
    /// <param name="optimizer">The optimizer rule.</param>
    /// <param name="metrics">Metric names, or null.</param>
    /// <returns>This model.</returns>
    public Model Compile(string loss, OptimizerRule optimizer, IReadOnlyList<string>? metrics = null)
    {
        ArgumentNullException.ThrowIfNull(loss);
        return Compile(Loss.Create(loss), optimizer, metrics?.Select(Metric.Create).ToArray());
    }

    /// <summary>Chooses the loss, the optimizer and the metrics as objects.</summary>
    /// <param name="loss">The loss.</param>
    /// <param name="optimizer">The optimizer rule (default Adam, η = 1e-3).</param>
    /// <param name="metrics">Metrics, or null.</param>
    /// <returns>This model.</returns>
    public Model Compile(Loss loss, OptimizerRule? optimizer = null, IReadOnlyList<Metric>? metrics = null)
    {
        ArgumentNullException.ThrowIfNull(loss);
        if (InputShape is not null || _inputs is not null) _ = BuildNetwork(); // builds now when it can (BuildNetwork returns a built network as it is)
        _compiled = new TrainerOptions { Loss = loss, Optimizer = optimizer ?? new Adam(), Metrics = metrics ?? [], Seed = Seed == 0 ? 1 : Seed };
        _trainer = null; // made at the first Fit, once the network is built
        return this;
    }

    private TrainerOptions? _compiled;

    /// <summary>Trains for <paramref name="epochs"/> more epochs, as Keras' <c>model.fit</c>.</summary>
    /// <param name="x">Inputs [N, ...] (or [T, N, ...] for a sequence input).</param>
    /// <param name="y">Targets: integer labels [N] (Int32) for a class loss, values for a regression loss.</param>
    /// <param name="epochs">Epochs to train in this call.</param>
    /// <param name="batchSize">Samples per step.</param>
    /// <param name="validationSplit">Fraction of the samples (the last ones) held out for validation.</param>
    /// <param name="shuffle">Shuffle the samples every epoch.</param>
    /// <param name="verbose">0 silent, 1 a live progress line on a terminal, 2 one line per epoch.</param>
    /// <param name="validationData">Validation inputs and targets (replaces <paramref name="validationSplit"/>).</param>
    /// <returns>The history of this call (<c>loss</c>, each metric, and <c>val_</c> ones when validated).</returns>
    /// <exception cref="InvalidOperationException">The model was not compiled.</exception>
    public History Fit(Tensor x, Tensor y, int epochs = 1, int batchSize = 32, double validationSplit = 0, bool shuffle = true, int verbose = 1,
                       (Tensor X, Tensor Y)? validationData = null)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(y);
        var o = _compiled ?? throw new InvalidOperationException($"Model '{Name}': call Compile(loss: ..., optimizer: ..., metrics: ...) before Fit.");
        if (epochs < 1) throw new ArgumentOutOfRangeException(nameof(epochs), $"Fit: epochs must be at least 1; got {epochs}.");
        _ = BuildNetwork(x);
        o.BatchSize = batchSize;
        o.ValidationSplit = validationSplit;
        o.Shuffle = shuffle;
        o.Progress = verbose switch { 0 => ProgressMode.None, 2 => ProgressMode.Plain, _ => ProgressMode.Auto };
        (o.InputBatchAxis, o.TargetBatchAxis) = BatchAxes();
        _trainer ??= new Trainer((IMultiTrainable)this, o);
        o.Epochs = _trainer.Epoch + epochs;
        return validationData is { } v ? _trainer.Fit(x, y, v.X, v.Y) : _trainer.Fit(x, y);
    }

    /// <summary>The compiled loss and metrics on (x, y), as Keras' <c>model.evaluate</c>.</summary>
    /// <param name="x">Inputs.</param>
    /// <param name="y">Targets.</param>
    /// <param name="batchSize">Samples per forward pass.</param>
    /// <returns><c>loss</c> and each metric by name (<c>acc</c>, <c>mae</c>, ...).</returns>
    /// <exception cref="InvalidOperationException">The model was not compiled.</exception>
    public IReadOnlyDictionary<string, double> Evaluate(Tensor x, Tensor y, int batchSize = 256)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(y);
        var o = _compiled ?? throw new InvalidOperationException($"Model '{Name}': call Compile(loss: ..., metrics: ...) before Evaluate.");
        _ = BuildNetwork(x);
        var (inputAxis, targetAxis) = BatchAxes();
        return Trainer.Evaluate(this, x, y, o.Loss!, o.Metrics, batchSize, inputAxis, targetAxis);
    }

    /// <summary>The batch axes of Fit and Evaluate: 1 for a sequence input <c>[T, N, ...]</c> (else 0), and 1 for the
    /// targets when the first output gives every step <c>[T, N, ...]</c> (else 0: one value per sample).</summary>
    private (int Input, int Target) BatchAxes()
    {
        var outputs = Network.Outputs;
        return (Inputs.Count > 0 && Inputs[0].IsSequence ? 1 : 0, outputs.Count > 0 && outputs[0].Mode == OutputMode.AllSteps ? 1 : 0);
    }
}
