using FlexNet.Tensors;
using FlexNet.Losses;
using FlexNet.Metrics;
using FlexNet.Optimizers;
using FlexNet.Regularizers;

namespace FlexNet.Training;

/// <summary>How <see cref="Trainer"/> reports progress.</summary>
public enum ProgressMode
{
    /// <summary>A live single line (redrawn with <c>\r</c>) on a terminal; one plain line per epoch when output is redirected.</summary>
    Auto,

    /// <summary>Always the live line.</summary>
    Live,

    /// <summary>One plain line per epoch.</summary>
    Plain,

    /// <summary>Nothing.</summary>
    None,
}

/// <summary>Early stopping (Keras semantics): stop when <see cref="Monitor"/> has not improved by more than
/// <see cref="MinDelta"/> for <see cref="Patience"/> consecutive evaluations, and optionally restore the weights of the best epoch.</summary>
public sealed record EarlyStopping
{
    /// <summary>History key to watch (<c>val_loss</c> by default; <c>loss</c> when there is no validation data).</summary>
    public string Monitor { get; init; } = "val_loss";

    /// <summary>Number of consecutive evaluations without improvement that stop training (0 acts as 1).</summary>
    public int Patience { get; init; } = 5;

    /// <summary>Minimum change that counts as an improvement.</summary>
    public double MinDelta { get; init; }

    /// <summary>At the end of training, restore the parameters of the best monitored epoch.</summary>
    public bool RestoreBestWeights { get; init; } = true;

    /// <summary>True when larger values are better (accuracy); null: inferred (<c>acc</c>/<c>top*</c> higher, else lower).</summary>
    public bool? HigherIsBetter { get; init; }
}

/// <summary>Passed to <see cref="TrainerOptions.OnBatchEnd"/> after every training step.</summary>
/// <param name="Epoch">0-based epoch.</param>
/// <param name="Batch">0-based batch within the epoch.</param>
/// <param name="Step">Global optimizer step (1-based, after the update).</param>
/// <param name="Loss">The batch's training loss (including regularizers).</param>
/// <param name="LearningRate">Learning rate used by the step.</param>
public sealed record BatchEndInfo(int Epoch, int Batch, long Step, double Loss, double LearningRate);

/// <summary>Passed to <see cref="TrainerOptions.OnEpochEnd"/>; set <see cref="StopTraining"/> to stop after this epoch.</summary>
public sealed class EpochEndInfo
{
    internal EpochEndInfo(int epoch, IReadOnlyDictionary<string, double> logs) => (Epoch, Logs) = (epoch, logs);

    /// <summary>0-based epoch.</summary>
    public int Epoch { get; }

    /// <summary>This epoch's values: <c>loss</c>, metrics, and <c>val_*</c> when validated.</summary>
    public IReadOnlyDictionary<string, double> Logs { get; }

    /// <summary>Set to true to stop training after this epoch.</summary>
    public bool StopTraining { get; set; }
}

/// <summary>Settings of <see cref="Trainer"/>.</summary>
public sealed class TrainerOptions
{
    /// <summary>Total number of epochs: training continues until <see cref="Trainer.Epoch"/> reaches it (so a
    /// trainer resumed from a checkpoint at epoch e trains the remaining epochs).</summary>
    public int Epochs { get; set; } = 10;

    /// <summary>Samples per batch (the last batch of an epoch may be smaller).</summary>
    public int BatchSize { get; set; } = 32;

    /// <summary>Shuffle the training samples every epoch (with the trainer's seeded generator).</summary>
    public bool Shuffle { get; set; } = true;

    /// <summary>Seed of the trainer's generator (shuffling, validation split is deterministic). Also reseeds
    /// <see cref="RandomGenerator.Default"/> (used by dropout and noise) when training starts at epoch 0, so the
    /// same seed and thread count give bit-identical runs.</summary>
    public ulong Seed { get; set; } = 1;

    /// <summary>The loss of a single-output model.</summary>
    public Loss? Loss { get; set; }

    /// <summary>Losses of a multi-output model, one per output; the trainer minimises <c>Σ weight·loss</c>.</summary>
    public IReadOnlyList<WeightedLoss>? Losses { get; set; }

    /// <summary>The optimizer rule (default Adam with η = 1e-3).</summary>
    public OptimizerRule Optimizer { get; set; } = new Adam();

    /// <summary>Learning-rate schedule over optimizer steps (null: constant).</summary>
    public LearningRateSchedule? Schedule { get; set; }

    /// <summary>Clip the global gradient norm to this value (null: off).</summary>
    public double? ClipNorm { get; set; }

    /// <summary>Clip gradients elementwise to [−c, c] (null: off).</summary>
    public double? ClipValue { get; set; }

    /// <summary>Per-parameter rule changes by name glob, applied in order when the trainer is created (see
    /// <see cref="Optimizers.Optimizer.Override"/>), e.g. <c>[("*.b|*bias", r =&gt; r with { WeightDecay = 0 })]</c>.</summary>
    public IReadOnlyList<(string Pattern, Func<OptimizerRule, OptimizerRule> Change)> RuleOverrides { get; set; } = [];

    /// <summary>Penalties added to the training loss.</summary>
    public IReadOnlyList<Regularizer> Regularizers { get; set; } = [];

    /// <summary>Metrics reported on the training batches and the validation set (for each output).</summary>
    public IReadOnlyList<Metric> Metrics { get; set; } = [];

    /// <summary>Fraction of the samples (the last ones, before shuffling) held out for validation when no
    /// validation data is given.</summary>
    public double ValidationSplit { get; set; }

    /// <summary>Validate every N epochs (and after the last epoch).</summary>
    public int ValidateEvery { get; set; } = 1;

    /// <summary>Early stopping (null: off).</summary>
    public EarlyStopping? EarlyStopping { get; set; }

    /// <summary>Called after every training step.</summary>
    public Action<BatchEndInfo>? OnBatchEnd { get; set; }

    /// <summary>Called after every epoch (after validation).</summary>
    public Action<EpochEndInfo>? OnEpochEnd { get; set; }

    /// <summary>Stops training at the next batch boundary; <see cref="History.Cancelled"/> is then true.</summary>
    public CancellationToken CancellationToken { get; set; }

    /// <summary>Progress reporting.</summary>
    public ProgressMode Progress { get; set; } = ProgressMode.Auto;

    /// <summary>Where progress goes (default <see cref="Console.Out"/>).</summary>
    public TextWriter? Output { get; set; }

    /// <summary>Batch axis of the inputs (0 for <c>[N, ...]</c>, 1 for sequences <c>[T, N, ...]</c>).</summary>
    public int InputBatchAxis { get; set; }

    /// <summary>Batch axis of the targets, sample weights and outputs (0, or 1 for <c>[T, N, ...]</c>).</summary>
    public int TargetBatchAxis { get; set; }

    /// <summary>Check loss, gradients and weights for NaN/∞ every step (throws <see cref="NonFiniteValueException"/>).</summary>
    public bool CheckFinite { get; set; } = true;

    /// <summary>Zero the gradient buffers in place between steps instead of dropping them (see
    /// <see cref="Optimizers.Optimizer.ZeroGrad"/>): a parameter the loss does not reach then gets a zero gradient
    /// and is still updated (momentum, Adam). Default false (PyTorch's <c>set_to_none=True</c> behaviour: such a
    /// parameter has no gradient and is skipped). Neither mode allocates gradients per step: by default the
    /// trainer keeps each dropped buffer with its parameter and the next backward fills it, so a reference to a
    /// parameter's <c>Grad</c> kept from one step to the next (e.g. in <see cref="OnBatchEnd"/>) sees the next
    /// step's values; copy it to keep it.</summary>
    public bool ReuseGradientBuffers { get; set; }

    /// <summary>Reuse the tensor objects of each training step in the next one (default true): the intermediates of a
    /// step (activations, gradients of intermediates, their shape arrays and buffer handles) are dead when the step
    /// ends, and the next step's tensors take over their objects instead of allocating new ones, so a warmed-up step
    /// of the library's models on a <see cref="TensorDataset"/> allocates no managed memory (a data set or model of
    /// your own allocates what it allocates itself). Results are bit-identical either way. A tensor of an earlier step read
    /// after its step (e.g. one kept in a field of a custom layer or loss) throws <see cref="ObjectDisposedException"/>
    /// when this is false, and may show a later step's values when it is true: set false to find such a bug.
    /// Tensors kept with <see cref="TensorScope.Keep"/>, parameters, gradients of parameters and views of them are never
    /// reused.</summary>
    public bool RecycleStepTensors { get; set; } = true;

    /// <summary>Write a checkpoint to this path every <see cref="CheckpointEvery"/> epochs (null: off).</summary>
    public string? CheckpointPath { get; set; }

    /// <summary>Epochs between checkpoints.</summary>
    public int CheckpointEvery { get; set; } = 1;

    /// <summary>Synchronous data-parallel training over this communicator when it has more than one rank (null: one
    /// process). Every rank calls Fit with the same data, options and model architecture: rank 0's parameters,
    /// optimizer state and generators are broadcast at the start; each rank runs forward and backward on its share
    /// of every global batch of <see cref="BatchSize"/> samples (same shuffled order everywhere), the gradients are
    /// averaged weighted by the shares' sample counts in one all-reduce, and every rank takes the same optimizer
    /// step, so R ranks follow the single-process trajectory up to float rounding. Loss and metrics are reduced
    /// across ranks; only rank 0 prints progress and writes checkpoints. An exception on any rank aborts all ranks
    /// (<see cref="Distributed.ICommunicator.Abort"/>) with a message naming the rank. See docs/distributed.md.</summary>
    public Distributed.ICommunicator? Communicator { get; set; }

    /// <summary>Also write a checkpoint to <see cref="CheckpointPath"/> after every N optimizer steps, mid-epoch
    /// included (0: only at epoch ends). A mid-epoch checkpoint records the epoch's sample order and batch, so
    /// <see cref="Trainer.LoadCheckpoint"/> resumes at the next batch.</summary>
    public int CheckpointEverySteps { get; set; }

    internal IReadOnlyList<WeightedLoss> ResolveLosses(int outputs)
    {
        if (Losses is { Count: > 0 } ls)
        {
            if (ls.Count != outputs) throw new ArgumentException($"Trainer: {ls.Count} losses for {outputs} model outputs.");
            return ls;
        }
        if (Loss is null) throw new ArgumentException("Trainer: set TrainerOptions.Loss (or Losses for several outputs).");
        if (outputs != 1) throw new ArgumentException($"Trainer: the model has {outputs} outputs; give one loss per output in TrainerOptions.Losses.");
        // the trainer asks at every step: one list per Loss, not one per step
        if (_resolvedSingle is { } r && ReferenceEquals(r.Loss, Loss)) return r.List;
        WeightedLoss[] list = [new WeightedLoss(Loss, 1)];
        _resolvedSingle = (Loss, list);
        return list;
    }

    private (Loss Loss, WeightedLoss[] List)? _resolvedSingle;

    internal void Validate()
    {
        if (Epochs < 0) throw new ArgumentOutOfRangeException(nameof(Epochs), $"Trainer: epochs must be >= 0; got {Epochs}.");
        if (BatchSize < 1) throw new ArgumentOutOfRangeException(nameof(BatchSize), $"Trainer: batch size must be >= 1; got {BatchSize}.");
        if (!(ValidationSplit >= 0 && ValidationSplit < 1)) throw new ArgumentOutOfRangeException(nameof(ValidationSplit), $"Trainer: validation split must be in [0, 1); got {ValidationSplit}.");
        if (ValidateEvery < 1) throw new ArgumentOutOfRangeException(nameof(ValidateEvery), $"Trainer: ValidateEvery must be >= 1; got {ValidateEvery}.");
        if (CheckpointEvery < 1) throw new ArgumentOutOfRangeException(nameof(CheckpointEvery), $"Trainer: CheckpointEvery must be >= 1; got {CheckpointEvery}.");
        if (CheckpointEverySteps < 0) throw new ArgumentOutOfRangeException(nameof(CheckpointEverySteps), $"Trainer: CheckpointEverySteps must be >= 0; got {CheckpointEverySteps}.");
        if (EarlyStopping is { Patience: < 0 }) throw new ArgumentOutOfRangeException(nameof(EarlyStopping), "Trainer: early-stopping patience must be >= 0.");
    }
}

/// <summary>What <see cref="Trainer"/>.Fit returns: one value per epoch for each logged key.</summary>
public sealed class History
{
    /// <summary>Values by key (<c>loss</c>, metric names, <c>val_loss</c>, <c>val_</c>+metric, <c>lr</c>, <c>time</c>).
    /// Validation keys hold NaN for epochs that were not validated.</summary>
    public Dictionary<string, List<double>> Values { get; } = new();

    /// <summary>The 0-based epochs trained in this call, in order.</summary>
    public List<int> Epochs { get; } = new();

    /// <summary>Epoch whose monitored value was best (early stopping), or −1.</summary>
    public int BestEpoch { get; internal set; } = -1;

    /// <summary>True when early stopping or a callback stopped training before the last epoch.</summary>
    public bool StoppedEarly { get; internal set; }

    /// <summary>True when the cancellation token stopped training.</summary>
    public bool Cancelled { get; internal set; }

    /// <summary>True when the best weights were restored at the end.</summary>
    public bool RestoredBestWeights { get; internal set; }

    /// <summary>The values of one key.</summary>
    /// <param name="key">History key.</param>
    /// <returns>Per-epoch values.</returns>
    public IReadOnlyList<double> this[string key] => Values[key];

    internal void Add(int epoch, IReadOnlyDictionary<string, double> logs)
    {
        int index = Epochs.Count;
        Epochs.Add(epoch);
        foreach (var (k, v) in logs)
        {
            if (!Values.TryGetValue(k, out var list)) Values[k] = list = new List<double>();
            while (list.Count < index) list.Add(double.NaN);
            list.Add(v);
        }
        foreach (var list in Values.Values) while (list.Count < index + 1) list.Add(double.NaN);
    }
}
