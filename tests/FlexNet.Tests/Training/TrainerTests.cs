// Over 400 lines on purpose: the trainer's loop (batches, epochs, callbacks, truncation, validation, errors) with
// the small networks and data sets it shares; checkpoints and resumption have their own classes.
using FlexNet.Losses;
using FlexNet.Metrics;
using FlexNet.Optimizers;
using FlexNet.Training;
using FlexNet.Tests.Testing;
using FlexNet.Tensors;
using FlexNet.Autodiff;

namespace FlexNet.Tests.Training;

[Collection("Training")]
public sealed class TrainerTests
{
    private static (Tensor X, Tensor Y) RandomData(ulong seed, int n, int features, int classes)
    {
        var rng = new RandomGenerator(seed);
        var x = Tensor.Normal([n, features], 0, 1, rng);
        var y = new int[n];
        for (int i = 0; i < n; i++) y[i] = rng.NextInt(classes);
        return (x, Tensor.FromArray(y, n));
    }

    private static TrainerOptions Quiet(int epochs, int batch, OptimizerRule rule) => new()
    {
        Epochs = epochs, BatchSize = batch, Optimizer = rule, Loss = new CrossEntropy(), Progress = ProgressMode.None,
    };

    [Fact]
    public void LearnsXor()
    {
        var x = Tensor.FromArray(new float[] { 0, 0, 0, 1, 1, 0, 1, 1 }, 4, 2);
        var y = Tensor.FromArray(new[] { 0, 1, 1, 0 }, 4);
        var model = new TinyMlp(2, 8, 2, seed: 3);
        var o = Quiet(300, 4, new Adam(0.05));
        o.Metrics = [new Accuracy()];
        var h = Trainer.Fit(model, x, y, o);
        Assert.Equal(1.0, h["acc"][^1]);
        Assert.True(h["loss"][^1] < 0.05, $"XOR loss {h["loss"][^1]}");
        var pred = Trainer.Predict(model, x).ArgMax(1).ToInt32Array();
        Assert.Equal([0, 1, 1, 0], pred);
    }

    [Fact]
    public void Overfits64SamplesBelow0_01()
    {
        var (x, y) = RandomData(5, 64, 8, 4);
        var model = new TinyMlp(8, 64, 4, seed: 6);
        var h = Trainer.Fit(model, x, y, Quiet(150, 16, new Adam(0.02)));
        var final = Trainer.Evaluate(model, x, y, new CrossEntropy());
        Assert.True(final["loss"] < 0.01, $"final loss {final["loss"]} (last epoch {h["loss"][^1]})");
    }

    [Fact]
    public void EsgdTrainsThroughTheTrainerWithItsLossClosure()
    {
        var (x, y) = RandomData(33, 32, 4, 3);
        var model = new TinyMlp(4, 8, 3, seed: 34, dtype: DType.Float32);
        var h = Trainer.Fit(model, x, y, Quiet(40, 32, new Esgd(0.05)));
        Assert.True(h["loss"][^1] < 0.8 * h["loss"][0], $"ESGD loss {h["loss"][0]} -> {h["loss"][^1]}");
    }

    [Fact]
    public void EarlyStoppingRestoresTheBestWeights()
    {
        var (x, y) = RandomData(7, 64, 8, 4);
        // same inputs; half the labels agree, half are random: validation improves first, then memorising hurts it
        var (_, other) = RandomData(8, 64, 8, 4);
        var yVal = Tensor.FromArray(y.ToInt32Array().Take(32).Concat(other.ToInt32Array().Skip(32)).ToArray(), 64);
        var model = new TinyMlp(8, 32, 4, seed: 9);
        var snapshots = new List<double[][]>();
        var o = Quiet(200, 16, new Adam(0.02));
        o.EarlyStopping = new EarlyStopping { Patience = 3 };
        o.OnEpochEnd = _ => snapshots.Add(model.Snapshot());
        var trainer = new Trainer(model, o);
        var h = trainer.Fit(x, y, x, yVal);
        Assert.True(h.StoppedEarly);
        Assert.True(h.RestoredBestWeights);
        Assert.True(h.Epochs.Count < 200);
        var val = h["val_loss"];
        int best = h.BestEpoch;
        Assert.Equal(val.Min(), val[best]);
        Assert.True(best > 0, "validation should improve at first");
        Assert.Equal(best + 4, h.Epochs.Count); // patience 3: stops after 3 epochs without improvement
        var now = model.Snapshot();
        for (int i = 0; i < now.Length; i++) Assert.Equal(snapshots[best][i], now[i]);
        Assert.NotEqual(snapshots[^1][0], now[0]);
        Assert.Equal(val[best], trainer.Evaluate(x, yVal)["loss"], 5);
    }

    private static double[][] SeededRun(ulong seed)
    {
        var (x, y) = RandomData(11, 100, 6, 3);
        var model = new TinyMlp(6, 16, 3, seed: 12, dropout: 0.3);
        var o = Quiet(3, 8, new Adam(0.01));
        o.Seed = seed;
        Trainer.Fit(model, x, y, o);
        return model.Snapshot();
    }

    [Fact]
    public void SameSeedGivesBitIdenticalWeights()
    {
        var a = SeededRun(42);
        var b = SeededRun(42);
        for (int i = 0; i < a.Length; i++) Assert.Equal(a[i], b[i]);
        var c = SeededRun(43);
        Assert.NotEqual(a[0], c[0]);
    }

    [Fact]
    public void ReusedGradientBuffersGiveTheSameWeightsAndNeitherModeAllocatesGradientsPerStep()
    {
        var (x, y) = RandomData(41, 64, 32, 4);
        long Allocated(bool reuse, int epochs, out double[][] weights)
        {
            var model = new TinyMlp(32, 256, 4, seed: 42);
            var o = Quiet(epochs, 16, new Adam(0.01));
            o.ReuseGradientBuffers = reuse;
            long before = GC.GetAllocatedBytesForCurrentThread();
            Trainer.Fit(model, x, y, o);
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            weights = model.Snapshot();
            return allocated;
        }
        Allocated(false, 3, out var a);
        Allocated(true, 3, out var b);
        for (int i = 0; i < a.Length; i++) Assert.Equal(a[i], b[i]);
        // the gradients are ≈ 37 KB per step (4·(32·256 + 256 + 256·4 + 4) bytes): 8 more steps must add far less
        // than 8 × 37 KB in either mode (the default keeps the dropped buffers for the next backward)
        foreach (bool reuse in new[] { false, true })
        {
            long shortRun = Allocated(reuse, 3, out _), longRun = Allocated(reuse, 5, out _);
            Assert.True(longRun - shortRun < 8 * 15_000, $"reuse={reuse}: 12 steps allocated {shortRun} bytes, 20 steps {longRun}");
        }
    }

    /// <summary>The default (ReuseGradientBuffers = false) keeps set-to-none semantics — a parameter the loss does
    /// not reach has no gradient after backward — while a reached parameter's gradient is the same buffer at every
    /// step (recycled, not reallocated).</summary>
    [Fact]
    public void DefaultStepsRecycleGradientBuffersButLeaveUnreachedParametersWithoutGradient()
    {
        var (x, y) = RandomData(43, 48, 8, 3);
        var model = new TinyMlp(8, 16, 3, seed: 44);
        var unused = Tensor.Normal([5], 0, 1, new RandomGenerator(45)).RequireGrad();
        var before = unused.ToDoubleArray();
        var o = Quiet(2, 16, new Sgd(0.1, 0.9));
        var seen = new List<Tensor?>();
        bool unusedHadGrad = false;
        o.OnBatchEnd = _ =>
        {
            seen.Add(model.W1.Grad);
            unusedHadGrad |= unused.Grad is not null;
        };
        Trainer.Fit(new WithExtraParameter(model, unused), x, y, o);
        Assert.Equal(6, seen.Count);
        Assert.All(seen, g => Assert.NotNull(g));
        Assert.All(seen, g => Assert.Same(seen[0], g));
        Assert.False(unusedHadGrad);
        Assert.Equal(before, unused.ToDoubleArray());
    }

    private sealed class WithExtraParameter(TinyMlp model, Tensor extra) : ITrainable
    {
        public IReadOnlyList<Tensor> Parameters => [.. model.Parameters, extra];
        public Tensor Forward(Tensor input, bool training) => model.Forward(input, training);
    }

    [Fact]
    public void HugeLearningRateStopsWithNonFiniteError()
    {
        var (x, y) = RandomData(13, 32, 4, 3);
        var target = Tensor.Normal([32, 3], 0, 1, new RandomGenerator(99));
        var model = new TinyMlp(4, 8, 3, seed: 14);
        var o = Quiet(50, 8, new Sgd(1e6));
        o.Loss = new MeanSquaredError();
        var e = Assert.Throws<NonFiniteValueException>(() => Trainer.Fit(model, x, target, o));
        Assert.Matches(@"phase '(forward|backward|update)'", e.Message);
        Assert.Matches(@"at step \d+ \(epoch \d+, batch \d+\)", e.Message);
        Assert.Equal("FN600", e.Code);
    }

    [Fact]
    public void NaNInDataStopsInForwardPhaseNamingTheInputAndStep()
    {
        var (x, y) = RandomData(15, 32, 4, 3);
        x[20, 1] = double.NaN;
        var model = new TinyMlp(4, 8, 3, seed: 16);
        var o = Quiet(2, 8, new Sgd(0.1));
        o.Shuffle = false;
        var e = Assert.Throws<NonFiniteValueException>(() => Trainer.Fit(model, x, y, o));
        Assert.Contains("phase 'forward'", e.Message);
        Assert.Contains("step 3 (epoch 1, batch 3)", e.Message);
        Assert.Contains("input 0", e.Message);
        Assert.Contains("layer 'hid'", e.Message);
    }

    [Fact]
    public void OverflowingUpdateIsReportedInUpdatePhaseWithTheParameterName()
    {
        var (x, y) = RandomData(35, 16, 4, 3);
        var model = new TinyMlp(4, 8, 3, seed: 36); // float32: a learning rate of 1e300 overflows every updated weight
        var e = Assert.Throws<NonFiniteValueException>(() => Trainer.Fit(model, x, y, Quiet(1, 8, new Sgd(1e300))));
        Assert.Contains("phase 'update'", e.Message);
        Assert.Contains("parameter 'hid.w' [8, 4]", e.Message);
        Assert.Contains("step 1 (epoch 1, batch 1)", e.Message);
        Assert.Contains("'sgd' step", e.Message);
    }

    [Fact]
    public void NaNGradientIsReportedInBackwardPhaseWithTheParameterName()
    {
        var (x, y) = RandomData(17, 16, 4, 3);
        var model = new BadGradModel(new TinyMlp(4, 8, 3, seed: 18));
        var e = Assert.Throws<NonFiniteValueException>(() => Trainer.Fit(model, x, y, Quiet(1, 8, new Sgd(0.1))));
        Assert.Contains("phase 'backward'", e.Message);
        Assert.Contains("'hid.w'", e.Message);
        Assert.Contains("step 1", e.Message);
    }

    /// <summary>Forward is finite but d/dW1 is NaN: sqrt at 0 has an infinite derivative, times 0.</summary>
    private sealed class BadGradModel(TinyMlp inner) : ITrainable
    {
        public IReadOnlyList<Tensor> Parameters => inner.Parameters;

        public Tensor Forward(Tensor input, bool training) =>
            inner.Forward(input, training) + (inner.W1 - inner.W1.Detach()).Sqrt().Sum() * 0.0;
    }

    [Fact]
    public void CheckpointRoundTripResumesBitIdentically()
    {
        var (x, y) = RandomData(19, 48, 5, 3);
        var dir = Path.Combine(Path.GetTempPath(), $"flexnet-ckpt-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        var path = Path.Combine(dir, "model.ckpt");
        try
        {
            var m1 = new TinyMlp(5, 12, 3, seed: 20, dropout: 0.2);
            var o1 = Quiet(2, 8, new Adam(0.01));
            var t1 = new Trainer(m1, o1);
            t1.Fit(x, y);
            t1.SaveCheckpoint(path);
            o1.Epochs = 4;
            t1.Fit(x, y);
            var straight = m1.Snapshot();

            var m2 = new TinyMlp(5, 12, 3, seed: 99, dropout: 0.2); // different init: everything comes from the file
            RandomGenerator.Default.Reseed(12345); // disturb the global generator too
            var o2 = Quiet(4, 8, new Adam(0.01));
            var t2 = new Trainer(m2, o2);
            t2.LoadCheckpoint(path);
            Assert.Equal(2, t2.Epoch);
            Assert.Equal(t1.Optimizer.StepCount - 12, t2.Optimizer.StepCount);
            var h = t2.Fit(x, y);
            Assert.Equal([2, 3], h.Epochs);
            var resumed = m2.Snapshot();
            for (int i = 0; i < straight.Length; i++) Assert.Equal(straight[i], resumed[i]);
            Assert.Equal([path], Directory.GetFiles(dir)); // atomic write: no temporary file left behind

            var other = new Trainer(new TinyMlp(5, 7, 3, seed: 1), Quiet(1, 8, new Adam()));
            var e = Assert.Throws<ModelFormatException>(() => other.LoadCheckpoint(path));
            Assert.Contains("hid.w", e.Message);
            var wrongRule = new Trainer(new TinyMlp(5, 12, 3, seed: 1), Quiet(1, 8, new Sgd(0.1)));
            Assert.Throws<ModelFormatException>(() => wrongRule.LoadCheckpoint(path));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void ValidationSplitMetricsEvaluatePredictAndHistory()
    {
        var (x, y) = RandomData(21, 50, 4, 3);
        var model = new TinyMlp(4, 8, 3, seed: 22);
        var o = Quiet(4, 16, new Adam(0.01));
        o.ValidationSplit = 0.2;
        o.ValidateEvery = 3;
        o.Metrics = [new Accuracy(), new TopKAccuracy(2)];
        var trainer = new Trainer(model, o);
        int batches = 0;
        o.OnBatchEnd = _ => batches++;
        var h = trainer.Fit(x, y);
        Assert.Equal(4 * 3, batches); // 40 training samples in batches of 16
        Assert.Equal(4, h["loss"].Count);
        Assert.True(double.IsNaN(h["val_loss"][0]));
        Assert.False(double.IsNaN(h["val_loss"][2]));
        Assert.False(double.IsNaN(h["val_loss"][3]));
        Assert.True(h["top2"][^1] >= h["acc"][^1]);

        // evaluation of the held-out part (the last 10 samples) equals the logged validation values
        var idx = Enumerable.Range(40, 10).ToArray();
        var xv = Tensor.Stack(idx.Select(i => x.Slice(0, i, 1).Squeeze(0)).ToArray());
        var yv = Tensor.FromArray(idx.Select(i => y.ToInt32Array()[i]).ToArray(), 10);
        var ev = trainer.Evaluate(xv, yv);
        Assert.Equal(h["val_loss"][3], ev["loss"], 12);
        Assert.Equal(h["val_acc"][3], ev["acc"], 12);

        // Predict in batches = one forward pass, and Evaluate's loss = the loss of that output
        var p = Trainer.Predict(model, x, batchSize: 7);
        Tensor full;
        using (FlexNet.Autodiff.Autograd.NoGrad()) full = model.Forward(x, false);
        T.Close(full.ToDoubleArray(), p.ToDoubleArray(), 1e-6, 1e-6, "predict");
        var direct = new CrossEntropy().Compute(p, y).Item();
        Assert.Equal(direct, Trainer.Evaluate(model, x, y, new CrossEntropy(), batchSize: 9)["loss"], 5);
    }

    [Fact]
    public void ScheduleAndClippingReachTheOptimizer()
    {
        var (x, y) = RandomData(43, 32, 4, 3);
        var o = Quiet(3, 8, new Sgd(0.1));
        o.Schedule = LearningRateSchedule.Step(4, 0.5); // 4 batches per epoch: halves every epoch
        o.ClipNorm = 0.01;
        var lrs = new List<double>();
        o.OnBatchEnd = b => lrs.Add(b.LearningRate);
        var trainer = new Trainer(new TinyMlp(4, 8, 3, seed: 44), o);
        var h = trainer.Fit(x, y);
        Assert.Equal([0.1, 0.05, 0.025], h["lr"]);
        Assert.Equal(new[] { 0.1, 0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.05, 0.025, 0.025, 0.025, 0.025 }, lrs);
        Assert.True(trainer.Optimizer.LastGradNorm > 0.01); // measured before clipping
        Assert.Equal(0.01, trainer.Optimizer.ClipNorm);
    }

    [Fact]
    public void CancellationStopsAtABatchBoundary()
    {
        var (x, y) = RandomData(23, 64, 4, 3);
        using var cts = new CancellationTokenSource();
        var o = Quiet(10, 8, new Sgd(0.1));
        o.CancellationToken = cts.Token;
        int seen = 0;
        o.OnBatchEnd = b => { seen++; if (b.Epoch == 1 && b.Batch == 2) cts.Cancel(); };
        var h = Trainer.Fit(new TinyMlp(4, 8, 3, seed: 24), x, y, o);
        Assert.True(h.Cancelled);
        Assert.Equal(8 + 3, seen);
        Assert.Single(h.Epochs);
    }

    [Fact]
    public void CallbackCanStopAndProgressPrintsOneLinePerEpoch()
    {
        var (x, y) = RandomData(25, 32, 4, 3);
        var sw = new StringWriter();
        var o = Quiet(10, 8, new Sgd(0.1));
        o.Progress = ProgressMode.Plain;
        o.Output = sw;
        o.Metrics = [new Accuracy()];
        o.OnEpochEnd = e => e.StopTraining = e.Epoch == 2;
        var h = Trainer.Fit(new TinyMlp(4, 8, 3, seed: 26), x, y, o);
        Assert.Equal(3, h.Epochs.Count);
        Assert.True(h.StoppedEarly);
        var lines = sw.ToString().Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(3, lines.Length);
        Assert.StartsWith("Epoch 3/10", lines[2]);
        Assert.Contains("loss ", lines[2]);
        Assert.Contains("acc ", lines[2]);
        Assert.Contains("samples/s", lines[2]);

        var live = new StringWriter();
        o.Progress = ProgressMode.Live;
        o.Output = live;
        o.OnEpochEnd = null;
        o.Epochs = 1;
        Trainer.Fit(new TinyMlp(4, 8, 3, seed: 26), x, y, o);
        Assert.Contains("\rEpoch 1/1  4/4  loss", live.ToString());
        Assert.Contains("ETA", live.ToString());
    }

    [Fact]
    public void MultiOutputLossesAreWeightedAndSummed()
    {
        var (x, y) = RandomData(27, 24, 4, 3);
        var target2 = Tensor.Normal([24, 3], 0, 1, new RandomGenerator(28));
        var model = new TwoHeads(new TinyMlp(4, 8, 3, seed: 29));
        var o = new TrainerOptions
        {
            Epochs = 1, BatchSize = 24, Shuffle = false, Progress = ProgressMode.None, Optimizer = new Sgd(0),
            Losses = [new WeightedLoss(new CrossEntropy(), 1), new WeightedLoss(new MeanSquaredError(), 0.25)],
        };
        double logged = double.NaN;
        o.OnBatchEnd = b => logged = b.Loss;
        new Trainer(model, o).Fit([x], [y, target2]);
        var outs = model.Forward([x], false);
        double expected = new CrossEntropy().Compute(outs[0], y).Item() + 0.25 * new MeanSquaredError().Compute(outs[1], target2).Item();
        Assert.Equal(expected, logged, 5);
    }

    private sealed class TwoHeads(TinyMlp inner) : IMultiTrainable
    {
        public IReadOnlyList<Tensor> Parameters => inner.Parameters;

        public Tensor[] Forward(Tensor[] inputs, bool training)
        {
            var y = inner.Forward(inputs[0], training);
            return [y, y.Tanh()];
        }
    }

    [Fact]
    public void SequenceBatchAxisAndMasks()
    {
        // [T, N, F] inputs, [T, N] labels, [T, N] mask; the model works per step (shared dense layer)
        int steps = 3, n = 10;
        var x = Tensor.Normal([steps, n, 4], 0, 1, new RandomGenerator(30));
        var lab = new int[steps * n];
        var rng = new RandomGenerator(31);
        for (int i = 0; i < lab.Length; i++) lab[i] = rng.NextInt(3);
        var y = Tensor.FromArray(lab, steps, n);
        var mask = Tensor.Ones([steps, n]);
        for (int j = 0; j < n; j += 2) mask[2, j] = 0; // padded last step for every other sequence
        var model = new TinyMlp(4, 8, 3, seed: 32);
        var o = Quiet(1, 4, new Sgd(0));
        o.InputBatchAxis = 1;
        o.TargetBatchAxis = 1;
        o.Shuffle = false;
        o.BatchSize = n;
        double logged = double.NaN;
        o.OnBatchEnd = b => logged = b.Loss;
        new Trainer(model, o).Fit(x, y, sampleWeights: mask);
        var expected = new CrossEntropy().Compute(model.Forward(x, false), y, null, mask).Item();
        Assert.Equal(expected, logged, 5);
        var p = Trainer.Predict(model, x, batchSize: 3, inputBatchAxis: 1, outputBatchAxis: 1);
        Assert.Equal([steps, n, 3], p.Shape.ToArray());
    }
}
