// Over 400 lines on purpose: the training loop itself (epochs, steps, validation, early stopping, callbacks and the
// non-finite diagnostics that must see the loop's locals); checkpoints and data parallelism live in the partial files.
using System.Diagnostics;
using System.Globalization;
using FlexNet.Autodiff;
using FlexNet.IO;
using FlexNet.Losses;
using FlexNet.Metrics;
using FlexNet.Optimizers;
using FlexNet.Regularizers;
using FlexNet.Tensors;

namespace FlexNet.Training;

/// <summary>
/// Trains a model on in-memory tensors: seeded shuffling, batches, per-output losses and regularizers, an
/// <see cref="Optimizer"/>, validation, early stopping, metrics, callbacks, cancellation, progress and
/// checkpoints. Every training step runs inside a <see cref="TensorScope"/> (forward, loss, backward, update) so
/// its intermediates go back to the pool. Loss, gradients and weights are checked for NaN/∞ every step: a
/// non-finite value stops training with <see cref="NonFiniteValueException"/> naming the phase (forward, backward,
/// update), the parameter or output and the step. With the same seed, data and thread count two runs are
/// bit-identical.
/// </summary>
/// <example><code>
/// var history = Trainer.Fit(model, x, y, new TrainerOptions { Loss = new CrossEntropy(), Epochs = 5,
///     Optimizer = new Adam(1e-3), Metrics = [new Accuracy()], ValidationSplit = 0.1 });
/// </code></example>
public sealed partial class Trainer
{
    private readonly IMultiTrainable _model;
    private readonly IForwardInto? _forwardInto;
    private readonly Tensor[] _params;
    private readonly RandomGenerator _rng;
    private readonly StepBatch _batch = new(); // a training step's batch, reused from step to step
    private Tensor[]? _outputs;                 // a training step's outputs, reused likewise

    /// <summary>Creates a trainer for a single-input, single-output model.</summary>
    /// <param name="model">The model.</param>
    /// <param name="options">Settings. The trainer keeps the instance: the optimizer rule, schedule and clipping
    /// are fixed here (they belong to <see cref="Optimizer"/>); every other setting is read again by each Fit.</param>
    public Trainer(ITrainable model, TrainerOptions options) : this(new SingleAdapter(model ?? throw new ArgumentNullException(nameof(model))), options) { }

    /// <summary>Creates a trainer for a model that is both single- and multi-input (a <c>Model</c>): it is trained
    /// through its multi-input, masked form, so <c>new Trainer(model, options)</c> needs no cast.</summary>
    /// <param name="model">The model.</param>
    /// <param name="options">Settings.</param>
    public Trainer(ITrainableModel model, TrainerOptions options) : this((IMultiTrainable)(model ?? throw new ArgumentNullException(nameof(model))), options) { }

    /// <summary>Creates a trainer for a model with several inputs and outputs.</summary>
    /// <param name="model">The model.</param>
    /// <param name="options">Settings.</param>
    public Trainer(IMultiTrainable model, TrainerOptions options)
    {
        _model = model ?? throw new ArgumentNullException(nameof(model));
        _forwardInto = ForwardIntoOf(model);
        Options = options ?? throw new ArgumentNullException(nameof(options));
        options.Validate();
        _params = [.. model.Parameters];
        for (int i = 0; i < _params.Length; i++)
            if (!_params[i].RequiresGrad)
                throw new ArgumentException($"Trainer: parameter {Optimizer.ParamName(_params[i], i)} does not require gradients (call RequireGrad()).");
        Optimizer = new Optimizer(_params, options.Optimizer) { Schedule = options.Schedule, ClipNorm = options.ClipNorm, ClipValue = options.ClipValue };
        foreach (var (pattern, change) in options.RuleOverrides) Optimizer.Override(pattern, change);
        _rng = new RandomGenerator(options.Seed);
        Optimizer.Random = new RandomGenerator(options.Seed ^ 0x9E3779B97F4A7C15UL);
    }

    /// <summary>The settings.</summary>
    public TrainerOptions Options { get; }

    /// <summary>The optimizer (rule, per-parameter state, schedule, clipping).</summary>
    public Optimizer Optimizer { get; }

    /// <summary>Number of completed epochs (restored by <see cref="LoadCheckpoint"/>).</summary>
    public int Epoch { get; private set; }

    /// <summary>Trains <paramref name="model"/> with <paramref name="options"/> (see <see cref="Fit(Tensor, Tensor, Tensor?, Tensor?, Tensor?)"/>).</summary>
    /// <param name="model">The model.</param>
    /// <param name="x">Inputs, samples along <see cref="TrainerOptions.InputBatchAxis"/>.</param>
    /// <param name="y">Targets, samples along <see cref="TrainerOptions.TargetBatchAxis"/>.</param>
    /// <param name="options">Settings.</param>
    /// <returns>The per-epoch history.</returns>
    public static History Fit(ITrainable model, Tensor x, Tensor y, TrainerOptions options) => new Trainer(model, options).Fit(x, y);

    /// <summary>Trains a multi-input/output model (see <see cref="Fit(Tensor[], Tensor[], Tensor[], Tensor[], Tensor?)"/>).</summary>
    /// <param name="model">The model.</param>
    /// <param name="xs">One tensor per input.</param>
    /// <param name="ys">One target per output.</param>
    /// <param name="options">Settings (one loss per output in <see cref="TrainerOptions.Losses"/>).</param>
    /// <returns>The per-epoch history.</returns>
    public static History Fit(IMultiTrainable model, Tensor[] xs, Tensor[] ys, TrainerOptions options) => new Trainer(model, options).Fit(xs, ys);

    /// <summary>Trains on data sets (see <see cref="Fit(IDataset, IDataset?)"/>).</summary>
    /// <param name="model">The model.</param>
    /// <param name="train">Training data.</param>
    /// <param name="validation">Validation data or null.</param>
    /// <param name="options">Settings.</param>
    /// <returns>The per-epoch history.</returns>
    public static History Fit(IMultiTrainable model, IDataset train, IDataset? validation, TrainerOptions options) => new Trainer(model, options).Fit(train, validation);

    /// <summary>Trains until <see cref="Epoch"/> reaches <see cref="TrainerOptions.Epochs"/> (or early stopping,
    /// a callback or cancellation stops it).</summary>
    /// <param name="x">Inputs.</param>
    /// <param name="y">Targets (Int32 labels or float values, as the loss expects).</param>
    /// <param name="validationX">Validation inputs (overrides <see cref="TrainerOptions.ValidationSplit"/>).</param>
    /// <param name="validationY">Validation targets.</param>
    /// <param name="sampleWeights">Per-sample weights or mask (e.g. <c>[N]</c>, or <c>[T, N]</c> for padded
    /// sequences), batched along the target batch axis (axis 0 when rank 1).</param>
    /// <returns>The history of this call.</returns>
    public History Fit(Tensor x, Tensor y, Tensor? validationX = null, Tensor? validationY = null, Tensor? sampleWeights = null) =>
        Fit([x], [y], validationX is null ? null : [validationX], validationY is null ? null : [validationY], sampleWeights);

    /// <summary>Multi-input/output form of <see cref="Fit(Tensor, Tensor, Tensor?, Tensor?, Tensor?)"/>.</summary>
    /// <param name="xs">One tensor per model input.</param>
    /// <param name="ys">One target per model output.</param>
    /// <param name="validationXs">Validation inputs or null.</param>
    /// <param name="validationYs">Validation targets or null.</param>
    /// <param name="sampleWeights">Per-sample weights/mask applied to every output's loss, or null.</param>
    /// <returns>The history of this call.</returns>
    public History Fit(Tensor[] xs, Tensor[] ys, Tensor[]? validationXs = null, Tensor[]? validationYs = null, Tensor? sampleWeights = null)
    {
        var o = Options;
        if ((validationXs is null) != (validationYs is null)) throw new ArgumentException("Trainer: give both validation inputs and targets, or neither.");
        var train = new TensorDataset(xs, ys, sampleWeights, null, o.InputBatchAxis, o.TargetBatchAxis);
        var val = validationXs is null ? null : new TensorDataset(validationXs, validationYs!, null, null, o.InputBatchAxis, o.TargetBatchAxis);
        return Fit(train, val);
    }

    /// <summary>Trains on a data set (see <see cref="Fit(Tensor, Tensor, Tensor?, Tensor?, Tensor?)"/>): batches
    /// come from <see cref="IDataset.GetBatch"/> inside each step's scope.</summary>
    /// <param name="train">Training data.</param>
    /// <param name="validation">Validation data, or null (then <see cref="TrainerOptions.ValidationSplit"/> holds out
    /// the last samples of <paramref name="train"/>).</param>
    /// <returns>The history of this call.</returns>
    public History Fit(IDataset train, IDataset? validation = null)
    {
        if (Options.Communicator is not { Size: > 1 } comm) return FitCore(train, validation);
        try
        {
            return FitCore(train, validation);
        }
        catch (Exception e)
        {
            // The other ranks are blocked in a collective this rank will never join: stop them all.
            comm.Abort(1, $"FlexNet data-parallel training failed on rank {comm.Rank} of {comm.Size}: {e}");
            throw;
        }
    }

    /// <summary>Cross-entropy takes logits (it applies log-softmax itself, as torch's CrossEntropyLoss and Keras'
    /// from_logits=True): an output layer that already applies softmax would be squashed twice and train silently
    /// badly, so that combination is refused with what to write instead.</summary>
    private static void RefuseProbabilitiesIntoLogitLosses(Graph.Network network, TrainerOptions o)
    {
        var outputs = network.Outputs;
        for (int k = 0; k < outputs.Count; k++)
        {
            var loss = o.Losses is { Count: > 0 } ls ? (k < ls.Count ? ls[k].Loss : null) : k == 0 ? o.Loss : null;
            if (loss is not Losses.CrossEntropy) continue;
            var layer = outputs[k].Layer;
            if (layer.Activation.ToLowerInvariant() is "softmax" or "log-softmax" or "log_softmax")
                throw new ArgumentException(
                    $"Trainer: output layer '{layer.Name}' applies {layer.Activation} and loss '{loss.Name}' (cross-entropy) applies log-softmax " +
                    $"itself: the probabilities would be squashed twice and training would stall. Give '{layer.Name}' a linear activation " +
                    "(the loss then sees logits, like torch's CrossEntropyLoss or Keras' from_logits=True) and apply softmax when predicting.");
        }
    }

    private History FitCore(IDataset train, IDataset? validation)
    {
        ArgumentNullException.ThrowIfNull(train);
        var o = Options;
        o.Validate();
        foreach (var r in o.Regularizers)
        {
            if (!r.UsesActivations) continue;
            if (ActivationModel is IGraphBacked gb) gb.Network.RecordActivations = true;
            else if (ActivationModel is not IActivationSource)
                throw new ArgumentException($"Trainer: regularizer '{r.Name}' needs the model's hidden activations, but {ActivationModel.GetType().Name} " +
                                            "exposes none (implement IActivationSource, or train a Network or Model).");
        }
        if (ActivationModel is IGraphBacked graph) RefuseProbabilitiesIntoLogitLosses(graph.Network, o);
        int n = train.Count;
        if (validation is null && o.ValidationSplit > 0)
        {
            int nVal = (int)Math.Floor(n * o.ValidationSplit);
            if (nVal < 1 || nVal >= n) throw new ArgumentException($"Trainer: validation split {o.ValidationSplit} of {n} samples leaves {nVal} for validation.");
            validation = new SubsetDataset(train, n - nVal, nVal);
            train = new SubsetDataset(train, 0, n - nVal);
            n -= nVal;
        }
        if (n == 0) throw new ArgumentException("Trainer: the training set is empty.");
        var dp = BeginParallel(train, n);

        var history = new History();
        if (Epoch == 0 && Optimizer.StepCount == 0) RandomGenerator.Default.Reseed(o.Seed ^ 0xD1B54A32D192ED03UL);
        int batches = (n + o.BatchSize - 1) / o.BatchSize;
        var progress = new ProgressPrinter(dp is { Rank: not 0 } ? ProgressMode.None : o.Progress, o.Output, o.Epochs, batches);
        var perm = new int[n];
        var metricNames = MetricNames(_outputCount ??= CountOutputs(train));
        var live = new List<(string, double)>(metricNames.Length);

        var es = o.EarlyStopping;
        string monitor = es?.Monitor ?? "val_loss";
        if (es is not null && validation is null && monitor.StartsWith("val_", StringComparison.Ordinal)) monitor = monitor[4..];
        bool higher = es?.HigherIsBetter ?? (monitor.Contains("acc", StringComparison.Ordinal) || monitor.Contains("top", StringComparison.Ordinal));
        if (_resumePending)
        {
            // Continue exactly where the loaded checkpoint stopped (early-stopping state and position in the epoch).
            if (_position is { } p && (p.Perm.Length != n || p.BatchSize != o.BatchSize || p.Sums.Length != metricNames.Length))
                throw new ModelFormatException(string.Create(CultureInfo.InvariantCulture,
                    $"Trainer: the loaded checkpoint stopped inside epoch {Epoch + 1} of {p.Perm.Length} training samples in batches of {p.BatchSize} with {p.Sums.Length} metric values; " +
                    $"this Fit has {n} samples in batches of {o.BatchSize} with {metricNames.Length} metric values (resume with the same data and settings)."));
            _resumePending = false;
            history.BestEpoch = _early.BestEpoch;
        }
        else
        {
            _position = null;
            _early = new EarlyStoppingState(higher ? double.NegativeInfinity : double.PositiveInfinity);
        }

        while (Epoch < o.Epochs)
        {
            int epoch = Epoch;
            var pos = _position;
            if (pos is null)
            {
                pos = new EpochPosition(perm, o.BatchSize, new double[metricNames.Length], new double[metricNames.Length]);
                for (int i = 0; i < n; i++) perm[i] = i;
                if (o.Shuffle) _rng.Shuffle(perm);
                pos.LearningRate = Optimizer.CurrentLearningRate;
                _position = pos;
            }
            progress.BeginEpoch();
            bool cancelled = false;
            for (int b = pos.NextBatch; b < batches; b++)
            {
                if (dp is null && o.CancellationToken.IsCancellationRequested) { cancelled = true; break; }
                int start = b * o.BatchSize, count = Math.Min(o.BatchSize, n - start);
                pos.LearningRate = Optimizer.CurrentLearningRate;
                double loss;
                if (dp is null) loss = TrainStep(train, pos.Perm.AsSpan(start, count), epoch, b, pos.Sums, pos.Counts);
                else if (!TrainStepParallel(dp, train, pos.Perm.AsSpan(start, count), epoch, b, pos.Sums, pos.Counts, out loss)) { cancelled = true; break; }
                pos.LossSum += loss * count;
                pos.Seen += count;
                pos.NextBatch = b + 1;
                if (o.OnBatchEnd is not null) o.OnBatchEnd(new BatchEndInfo(epoch, b, Optimizer.StepCount, loss, pos.LearningRate));
                live.Clear();
                for (int m = 0; m < metricNames.Length; m++) live.Add((metricNames[m], pos.Sums[m] / Math.Max(pos.Counts[m], 1)));
                progress.Batch(epoch, b, count, pos.LossSum / pos.Seen, live);
                if (o.CheckpointPath is not null && o.CheckpointEverySteps > 0 && Optimizer.StepCount % o.CheckpointEverySteps == 0 && dp is not { Rank: not 0 })
                    SaveCheckpoint(o.CheckpointPath);
            }
            if (cancelled)
            {
                _position = null; // a cancelled epoch starts over (with a new shuffle) in the next Fit
                history.Cancelled = true;
                break;
            }
            _position = null;
            double lrUsed = pos.LearningRate;
            var logs = new Dictionary<string, double> { ["loss"] = pos.Seen > 0 ? pos.LossSum / pos.Seen : double.NaN };
            for (int m = 0; m < metricNames.Length; m++) logs[metricNames[m]] = pos.Sums[m] / Math.Max(pos.Counts[m], 1);
            Epoch++;
            if (validation is not null && ((epoch + 1) % o.ValidateEvery == 0 || Epoch == o.Epochs))
                foreach (var (k, v) in Evaluate(validation)) logs["val_" + k] = v;
            logs["lr"] = lrUsed;
            logs["time"] = progress.EpochSeconds;
            history.Add(epoch, logs);
            progress.EndEpoch(epoch, logs);

            bool stop = false;
            if (o.OnEpochEnd is not null)
            {
                var info = new EpochEndInfo(epoch, logs);
                o.OnEpochEnd(info);
                stop = info.StopTraining;
            }
            if (es is not null && logs.TryGetValue(monitor, out var value) && !double.IsNaN(value))
            {
                var st = _early;
                bool improved = higher ? value > st.Best + es.MinDelta : value < st.Best - es.MinDelta;
                if (improved)
                {
                    st.Best = value;
                    st.Wait = 0;
                    st.BestEpoch = epoch;
                    history.BestEpoch = epoch;
                    if (es.RestoreBestWeights) SnapshotBest();
                }
                else if (++st.Wait >= Math.Max(es.Patience, 1)) stop = true;
            }
            if (dp is not null) stop = EndEpochParallel(dp, stop);
            if (o.CheckpointPath is not null && Epoch % o.CheckpointEvery == 0 && dp is not { Rank: not 0 }) SaveCheckpoint(o.CheckpointPath);
            if (stop)
            {
                history.StoppedEarly = Epoch < o.Epochs;
                break;
            }
        }
        if (_early.BestParams is not null && es is { RestoreBestWeights: true })
        {
            RestoreBest();
            history.RestoredBestWeights = true;
        }
        return history;
    }

    private double TrainStep(IDataset data, ReadOnlySpan<int> idx, int epoch, int batch, double[] sums, double[] counts)
    {
        var o = Options;
        long step = Optimizer.StepCount + 1;
        if (o.ReuseGradientBuffers) Optimizer.ZeroGrad(setToNone: false);
        else Optimizer.RecycleGrads(); // set-to-none semantics, buffers kept for the next backward
        using var scope = o.RecycleStepTensors ? TensorScope.BeginRecycling() : TensorScope.Begin();
        // the batch and the outputs go into arrays kept from step to step (a TensorDataset and the library's models
        // fill them; anything else is asked through the public GetBatch and Forward)
        var bt = _batch;
        Tensor[]? outputs = null;
        try
        {
            bt.Load(data, idx);
            var xb = bt.Inputs;
            var yb = bt.Targets;
            outputs = RunStep(bt);
            var total = TotalLoss(outputs, yb, bt.Weights, bt.Mask, xb, training: true);
            double loss = total.Item();
            if (o.CheckFinite && !double.IsFinite(loss)) throw ForwardError(loss, outputs, xb, yb, step, epoch, batch);
            total.Backward();
            if (o.CheckFinite) CheckParams(grads: true, step, epoch, batch);
            // made in a method of its own: a lambda here would allocate its captured locals at every step
            Optimizer.Step(Optimizer.Rule.NeedsHessianVectorProduct ? LossClosure(bt) : null);
            if (o.CheckFinite) CheckParams(grads: false, step, epoch, batch);
            if (o.Metrics.Count > 0)
            {
                using (Autograd.NoGrad()) AccumulateMetrics(outputs, yb, sums, counts);
            }
            return loss;
        }
        finally
        {
            // the step's tensors are dead when its scope ends: keep no reference to them (nor to a data set's arrays)
            bt.Clear();
            if (outputs is not null && ReferenceEquals(outputs, _outputs)) Array.Clear(outputs);
        }
    }

    /// <summary>The loss of the step's batch again (rules that need Hessian-vector products): its forward pass
    /// writes into an array of its own, the step's outputs stay as they are.</summary>
    private Func<Tensor> LossClosure(StepBatch bt) => () => TotalLoss(Run(bt, training: true), bt.Targets, bt.Weights, bt.Mask, bt.Inputs, training: true);

    /// <summary>A training step's forward pass: into the array the trainer keeps when the model can (see <see cref="IForwardInto"/>).</summary>
    private Tensor[] RunStep(StepBatch b)
    {
        if (_forwardInto is null) return Run(b, training: true);
        CheckBatch(b);
        return _outputs = _forwardInto.ForwardInto(b.Inputs, training: true, b.Mask, _outputs);
    }

    /// <summary>The model's <see cref="IForwardInto"/> when the public forward it stands for is its own: a subclass
    /// that implements <see cref="IMultiTrainable"/> or <see cref="IMaskedTrainable"/> again (a <c>Model</c>
    /// subclass with a forward of its own) is called through the public interface, as before.</summary>
    private static IForwardInto? ForwardIntoOf(IMultiTrainable model)
    {
        if (model is not IForwardInto into) return null;
        var type = model.GetType();
        var owner = type.GetInterfaceMap(typeof(IForwardInto)).TargetMethods[0].DeclaringType;
        foreach (var itf in type.GetInterfaces())
        {
            if (itf != typeof(IMultiTrainable) && itf != typeof(IMaskedTrainable)) continue;
            var map = type.GetInterfaceMap(itf);
            for (int i = 0; i < map.InterfaceMethods.Length; i++)
                if (map.InterfaceMethods[i].Name == nameof(IMultiTrainable.Forward) && map.TargetMethods[i].DeclaringType != owner) return null;
        }
        return into;
    }

    private int? _outputCount;

    private static int CountOutputs(IDataset data)
    {
        using var scope = TensorScope.Begin();
        return StepBatch.Fetch(data, [0]).Targets.Length;
    }

    private object ActivationModel => _model is SingleAdapter sa ? sa.Model : _model;

    private static void CheckBatch(StepBatch b)
    {
        if (b.Inputs.Length == 0 || b.Targets.Length == 0) throw new ArgumentException("Trainer: a batch needs at least one input and one target.");
    }

    private Tensor[] Run(StepBatch b, bool training)
    {
        CheckBatch(b);
        return b.Mask is not null && _model is IMaskedTrainable masked
            ? masked.Forward(b.Inputs, training, b.Mask)
            : _model.Forward(b.Inputs, training);
    }

    private Tensor TotalLoss(Tensor[] outputs, Tensor[] targets, Tensor? weights, Tensor? mask, Tensor[] inputs, bool training)
    {
        var losses = Options.ResolveLosses(outputs.Length);
        if (targets.Length != outputs.Length)
            throw new ArgumentException($"Trainer: {targets.Length} targets for {outputs.Length} model outputs.");
        Tensor? total = null;
        for (int k = 0; k < outputs.Length; k++)
        {
            var (loss, weight) = losses[k];
            var l = loss.Compute(outputs[k], targets[k], weights, mask);
            if (l.Rank != 0) throw new ArgumentException($"Trainer: loss '{loss.Name}' must reduce to a scalar (Reduction.None is not trainable).");
            var term = weight == 1 ? l : l * weight;
            total = total is null ? term : total + term;
        }
        if (training && Options.Regularizers.Count > 0)
        {
            var acts = ActivationModel is IActivationSource src ? src.Activations : [];
            var ctx = new RegularizationContext(_params, acts, inputs);
            foreach (var r in Options.Regularizers)
            {
                var p = r.Penalty(ctx);
                if (p is null && r.UsesActivations)
                    throw new ArgumentException($"Trainer: regularizer '{r.Name}' (pattern '{r.Pattern}') matches no activation of the model; " +
                                                $"it exposes: {(acts.Count == 0 ? "none" : string.Join(", ", acts.Select(a => a.Key)))}.");
                if (p is null || r.Weight == 0) continue;
                total = total! + p * r.Weight;
            }
        }
        return total!;
    }

    private void AccumulateMetrics(Tensor[] outputs, Tensor[] targets, double[] sums, double[] counts)
    {
        var metrics = Options.Metrics;
        int j = 0;
        for (int k = 0; k < outputs.Length; k++)
            for (int m = 0; m < metrics.Count; m++, j++)
            {
                var (s, c) = metrics[m].Evaluate(outputs[k], targets[k]);
                sums[j] += s;
                counts[j] += c;
            }
    }

    private string[] MetricNames(int outputs)
    {
        var metrics = Options.Metrics;
        var names = new string[outputs * metrics.Count];
        int j = 0;
        for (int k = 0; k < outputs; k++)
            for (int m = 0; m < metrics.Count; m++)
                names[j++] = outputs == 1 ? metrics[m].Name : $"out{k}_{metrics[m].Name}";
        return names;
    }

    /// <summary>Loss (without regularizers) and metrics over a data set, in batches, without gradients.</summary>
    /// <param name="x">Inputs.</param>
    /// <param name="y">Targets.</param>
    /// <returns><c>loss</c> and one entry per metric.</returns>
    public IReadOnlyDictionary<string, double> Evaluate(Tensor x, Tensor y) => EvaluateMulti([x], [y]);

    /// <summary>Multi-input/output form of <see cref="Evaluate(Tensor, Tensor)"/>.</summary>
    /// <param name="xs">Inputs.</param>
    /// <param name="ys">Targets.</param>
    /// <returns><c>loss</c> and the metrics.</returns>
    public IReadOnlyDictionary<string, double> EvaluateMulti(Tensor[] xs, Tensor[] ys) =>
        Evaluate(new TensorDataset(xs, ys, null, null, Options.InputBatchAxis, Options.TargetBatchAxis));

    /// <summary>Loss (without regularizers; with the batches' weights and masks) and metrics over a data set, in
    /// batches of <see cref="TrainerOptions.BatchSize"/>, without gradients. The loss is the mean of the batch losses
    /// weighted by batch size.</summary>
    /// <param name="data">The data set.</param>
    /// <returns><c>loss</c> and the metrics.</returns>
    public IReadOnlyDictionary<string, double> Evaluate(IDataset data)
    {
        ArgumentNullException.ThrowIfNull(data);
        var o = Options;
        int n = data.Count;
        string[]? names = null;
        double[] sums = [], counts = [];
        double lossSum = 0;
        // Stryker disable once Linq: memory only: a longer index array, of which each batch uses its first count
        var idx = new int[Math.Min(o.BatchSize, Math.Max(n, 1))];
        var bt = new StepBatch(); // its own: Evaluate may be called between the steps of a Fit
        using (Autograd.NoGrad())
        {
            for (int start = 0; start < n; start += o.BatchSize)
            {
                int count = Math.Min(o.BatchSize, n - start);
                for (int i = 0; i < count; i++) idx[i] = start + i;
                using var scope = TensorScope.Begin();
                bt.Load(data, idx.AsSpan(0, count));
                if (names is null)
                {
                    names = MetricNames(bt.Targets.Length);
                    sums = new double[names.Length];
                    counts = new double[names.Length];
                }
                var outputs = Run(bt, training: false);
                lossSum += TotalLoss(outputs, bt.Targets, bt.Weights, bt.Mask, bt.Inputs, training: false).Item() * count;
                AccumulateMetrics(outputs, bt.Targets, sums, counts);
            }
        }
        var r = new Dictionary<string, double> { ["loss"] = lossSum / n }; // no samples: 0 / 0, NaN
        if (names is not null)
            for (int m = 0; m < names.Length; m++) r[names[m]] = sums[m] / Math.Max(counts[m], 1);
        return r;
    }

    /// <summary>Evaluates <paramref name="model"/> on (x, y) with a loss and metrics.</summary>
    /// <param name="model">The model.</param>
    /// <param name="x">Inputs.</param>
    /// <param name="y">Targets.</param>
    /// <param name="loss">The loss.</param>
    /// <param name="metrics">Metrics (may be empty).</param>
    /// <param name="batchSize">Batch size.</param>
    /// <param name="inputBatchAxis">Batch axis of the inputs (1 for sequences [T, N, ...]).</param>
    /// <param name="targetBatchAxis">Batch axis of the targets (1 for every-step targets [T, N, ...]).</param>
    /// <returns><c>loss</c> and the metrics.</returns>
    public static IReadOnlyDictionary<string, double> Evaluate(ITrainable model, Tensor x, Tensor y, Loss loss, IReadOnlyList<Metric>? metrics = null, int batchSize = 256,
                                                               int inputBatchAxis = 0, int targetBatchAxis = 0) =>
        new Trainer(model, new TrainerOptions
        {
            Loss = loss, Metrics = metrics ?? [], BatchSize = batchSize, Progress = ProgressMode.None, InputBatchAxis = inputBatchAxis, TargetBatchAxis = targetBatchAxis,
        }).Evaluate(x, y);

    /// <summary>Runs the model in evaluation mode over <paramref name="x"/> in batches without gradients and
    /// concatenates the outputs along the batch axis (allocated outside any scope).</summary>
    /// <param name="model">The model.</param>
    /// <param name="x">Inputs.</param>
    /// <param name="batchSize">Batch size.</param>
    /// <param name="inputBatchAxis">Batch axis of the input.</param>
    /// <param name="outputBatchAxis">Batch axis of the output.</param>
    /// <returns>The outputs for all samples.</returns>
    public static Tensor Predict(ITrainable model, Tensor x, int batchSize = 256, int inputBatchAxis = 0, int outputBatchAxis = 0)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(x);
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), $"Predict: batch size must be >= 1; got {batchSize}.");
        int n = x.Size(inputBatchAxis);
        Tensor? result = null;
        // Stryker disable once Linq: memory only: a longer index array, of which each batch uses its first count
        var idx = new int[Math.Min(batchSize, Math.Max(n, 1))];
        using (Autograd.NoGrad())
        {
            for (int start = 0; start < n; start += batchSize)
            {
                int count = Math.Min(batchSize, n - start);
                for (int i = 0; i < count; i++) idx[i] = start + i;
                using var scope = TensorScope.Begin();
                // one batch holding every sample in order is x itself: no gathered copy
                // Stryker disable once Conditional: speed only: a gathered copy of every sample in order holds x's values
                var xb = count == n ? x : Batching.Take(x, inputBatchAxis, idx.AsSpan(0, count));
                var y = model.Forward(xb, training: false);
                if (result is null)
                {
                    var shape = y.Shape.ToArray();
                    shape[outputBatchAxis] = n;
                    using (TensorScope.Suspend()) result = Tensor.Zeros(shape, y.DType);
                }
                Batching.Put(result, y, outputBatchAxis, start);
            }
        }
        return result ?? throw new ArgumentException("Predict: no samples.");
    }

    private string Where(long step, int epoch, int batch) =>
        string.Create(CultureInfo.InvariantCulture, $"step {step} (epoch {epoch + 1}, batch {batch + 1})");

    private NonFiniteValueException ForwardError(double loss, Tensor[] outputs, Tensor[] inputs, Tensor[] targets, long step, int epoch, int batch)
    {
        var detail = new List<string>();
        for (int i = 0; i < inputs.Length; i++)
        {
            int bad = Batching.CountNonFinite(inputs[i]);
            if (bad > 0) detail.Add($"input {i} {ShapeUtil.Format(inputs[i].Shape)} has {bad} non-finite values (bad data)");
        }
        for (int i = 0; i < targets.Length; i++)
        {
            int bad = targets[i].DType == DType.Int32 ? 0 : Batching.CountNonFinite(targets[i]);
            if (bad > 0) detail.Add($"target {i} {ShapeUtil.Format(targets[i].Shape)} has {bad} non-finite values (bad data)");
        }
        if (ActivationModel is IActivationSource src)
            foreach (var (name, t) in src.Activations)
            {
                int bad = Batching.CountNonFinite(t);
                if (bad > 0) { detail.Add($"layer '{name}' {ShapeUtil.Format(t.Shape)} is the first with non-finite values ({bad})"); break; }
            }
        if (ActivationModel is IGraphBacked gb && detail.Count == 0) detail.Add(LocateInGraph(gb.Network, inputs));
        for (int i = 0; i < outputs.Length; i++)
        {
            int bad = Batching.CountNonFinite(outputs[i]);
            if (bad > 0) detail.Add($"output {i} {ShapeUtil.Format(outputs[i].Shape)} has {bad} non-finite values");
        }
        if (detail.Count == 0) detail.Add("outputs are finite; the loss overflowed");
        return new NonFiniteValueException(string.Create(CultureInfo.InvariantCulture,
            $"Non-finite loss {loss} in phase 'forward' at {Where(step, epoch, batch)}: {string.Join("; ", detail)}."));
    }

    /// <summary>Re-runs the forward pass with per-layer finiteness checks to name the first layer at fault.</summary>
    private static string LocateInGraph(Graph.Network network, Tensor[] inputs)
    {
        bool was = network.CheckFinite;
        network.CheckFinite = true;
        try
        {
            using var _ = Autodiff.Autograd.NoGrad();
            network.Forward(inputs, training: true);
            return "a diagnostic re-run of the forward pass stayed finite";
        }
        catch (NonFiniteValueException e)
        {
            return e.Message.TrimEnd('.');
        }
        catch (FlexNetException e)
        {
            return "the diagnostic re-run failed: " + e.Message.TrimEnd('.');
        }
        finally
        {
            network.CheckFinite = was;
        }
    }

    private void CheckParams(bool grads, long step, int epoch, int batch)
    {
        for (int i = 0; i < _params.Length; i++)
        {
            var p = _params[i];
            var t = grads ? p.Grad : p;
            if (t is null) continue;
            int bad = Batching.CountNonFinite(t);
            if (bad == 0) continue;
            string name = Optimizer.ParamName(p, i);
            throw new NonFiniteValueException(grads
                ? string.Create(CultureInfo.InvariantCulture, $"Non-finite gradient in phase 'backward' at {Where(step, epoch, batch)}: parameter {name} {ShapeUtil.Format(p.Shape)} has {bad} non-finite gradient values.")
                : string.Create(CultureInfo.InvariantCulture, $"Non-finite weights in phase 'update' at {Where(step, epoch, batch)}: parameter {name} {ShapeUtil.Format(p.Shape)} has {bad} non-finite values after the '{Optimizer.Rule.Name}' step (learning rate {Optimizer.Rule.LearningRate * (Optimizer.Schedule?.Multiplier(step - 1) ?? 1):G6})."));
        }
    }
}
