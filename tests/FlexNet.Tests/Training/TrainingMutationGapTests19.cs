using FlexNet.Autodiff;
using FlexNet.Connections;
using FlexNet.Graph;
using FlexNet.Losses;
using FlexNet.Metrics;
using FlexNet.Optimizers;
using FlexNet.Regularizers;
using FlexNet.Tensors;
using FlexNet.Training;

namespace FlexNet.Tests.Training;

/// <summary>
/// What the session-19 mutation run of Training found untested by the Training tests: Evaluate's loss and metrics
/// (means over all samples, against the MLP computed here), the static Predict's arguments and batching, the option
/// and loss-resolution refusals, the regularizer's weight in the training loss, and the diagnostics of a non-finite
/// loss or update, each message asserted whole.
/// </summary>
public sealed class TrainingMutationGapTests19
{
    private static TrainerOptions Options(int batch, Loss? loss = null) =>
        new() { Epochs = 1, BatchSize = batch, Loss = loss ?? new MeanSquaredError(), Progress = ProgressMode.None, Shuffle = false };

    /// <summary>y = W2·tanh(W1·x + b1) + b2, in double loops over the model's weights.</summary>
    private static double[] ByHand(TinyMlp m, double[] x, int n)
    {
        var w1 = m.W1.ToDoubleArray(); var b1 = m.B1.ToDoubleArray();
        var w2 = m.W2.ToDoubleArray(); var b2 = m.B2.ToDoubleArray();
        int inF = m.W1.Shape[1], h = m.W1.Shape[0], outF = m.W2.Shape[0];
        var y = new double[n * outF];
        var hid = new double[h];
        for (int s = 0; s < n; s++)
        {
            for (int j = 0; j < h; j++)
            {
                double z = b1[j];
                for (int i = 0; i < inF; i++) z += w1[j * inF + i] * x[s * inF + i];
                hid[j] = Math.Tanh(z);
            }
            for (int o = 0; o < outF; o++)
            {
                double z = b2[o];
                for (int j = 0; j < h; j++) z += w2[o * h + j] * hid[j];
                y[s * outF + o] = z;
            }
        }
        return y;
    }

    private static Tensor Normal(ulong seed, params int[] shape) => Tensor.Normal(shape, 0, 1, new RandomGenerator(seed), DType.Float32);

    [Fact]
    public void Evaluate_GivesTheMeansOverAllSamples_InUnevenBatches()
    {
        // with dropout, which evaluation must not apply, and a regularizer, which it must not add
        var m = new TinyMlp(3, 4, 2, seed: 1, dropout: 0.5);
        var x = Normal(2, 5, 3);
        var y = Normal(3, 5, 2);
        var pred = ByHand(m, x.ToDoubleArray(), 5);
        var yv = y.ToDoubleArray();
        double mse = 0, mae = 0;
        for (int i = 0; i < pred.Length; i++)
        {
            mse += (pred[i] - yv[i]) * (pred[i] - yv[i]);
            mae += Math.Abs(pred[i] - yv[i]);
        }
        mse /= pred.Length;
        mae /= pred.Length;
        var options = Options(2);
        options.Metrics = [new MeanAbsoluteErrorMetric()];
        options.Regularizers = [new WeightL2 { Weight = 1 }];
        var r = new Trainer(m, options).Evaluate(x, y); // batches of 2, 2 and 1
        Assert.Equal(["loss", "mae"], r.Keys.Order());
        Assert.Equal(mse, r["loss"], 5);
        Assert.Equal(mae, r["mae"], 5);

        // the static form passes its metrics on; without them only the loss
        var s = Trainer.Evaluate(m, x, y, new MeanSquaredError(), [new MeanAbsoluteErrorMetric()], batchSize: 3);
        Assert.Equal(mae, s["mae"], 5);
        Assert.Equal(["loss"], Trainer.Evaluate(m, x, y, new MeanSquaredError()).Keys);
        Assert.Throws<ArgumentNullException>("data", () => new Trainer(m, Options(2)).Evaluate((IDataset)null!));
        // no samples: the loss is not a number
        Assert.True(double.IsNaN(new Trainer(m, Options(2)).Evaluate(Normal(4, 0, 3), Normal(5, 0, 2))["loss"]));
    }

    [Fact]
    public void StaticPredict_BatchesInAnySize_AndRefusesNoSamplesAndBadArguments()
    {
        var m = new TinyMlp(3, 4, 2, seed: 6, dropout: 0.5); // evaluation mode: no dropout
        var x = Normal(7, 5, 3);
        var want = ByHand(m, x.ToDoubleArray(), 5);
        foreach (int batch in new[] { 1, 2, 5, 256 })
        {
            var got = Trainer.Predict(m, x, batch);
            Assert.Equal([5, 2], got.ShapeArray);
            var g = got.ToDoubleArray();
            for (int i = 0; i < want.Length; i++) Assert.True(Math.Abs(want[i] - g[i]) <= 1e-5, $"batch {batch}: y[{i}] = {g[i]}, want {want[i]}");
        }
        Assert.Throws<ArgumentNullException>("model", () => Trainer.Predict(null!, x));
        Assert.Throws<ArgumentNullException>("x", () => Trainer.Predict(m, null!));
        var e = Assert.Throws<ArgumentOutOfRangeException>("batchSize", () => Trainer.Predict(m, x, 0));
        Assert.StartsWith("Predict: batch size must be >= 1; got 0.", e.Message);
        var none = Assert.Throws<ArgumentException>(() => Trainer.Predict(m, Normal(8, 0, 3), 4));
        Assert.Equal("Predict: no samples.", none.Message);
    }

    [Fact]
    public void BadOptionsAndLosses_AreRefusedWithWholeMessages()
    {
        var m = new TinyMlp(3, 4, 2, seed: 9);
        void Refused(string param, string message, Action<TrainerOptions> set)
        {
            var o = Options(4);
            set(o);
            var e = Assert.Throws<ArgumentOutOfRangeException>(param, () => new Trainer(m, o));
            Assert.StartsWith(message + " (Parameter '" + param + "')", e.Message);
        }
        Refused("Epochs", "Trainer: epochs must be >= 0; got -1.", o => o.Epochs = -1);
        Refused("BatchSize", "Trainer: batch size must be >= 1; got 0.", o => o.BatchSize = 0);
        Refused("ValidationSplit", "Trainer: validation split must be in [0, 1); got 1.", o => o.ValidationSplit = 1);
        Refused("ValidationSplit", "Trainer: validation split must be in [0, 1); got -0.5.", o => o.ValidationSplit = -0.5);
        Refused("ValidateEvery", "Trainer: ValidateEvery must be >= 1; got 0.", o => o.ValidateEvery = 0);
        Refused("CheckpointEvery", "Trainer: CheckpointEvery must be >= 1; got 0.", o => o.CheckpointEvery = 0);
        Refused("CheckpointEverySteps", "Trainer: CheckpointEverySteps must be >= 0; got -1.", o => o.CheckpointEverySteps = -1);
        Refused("EarlyStopping", "Trainer: early-stopping patience must be >= 0.", o => o.EarlyStopping = new EarlyStopping { Patience = -1 });

        var x = Normal(10, 8, 3);
        var y = Normal(11, 8, 2);
        var noLoss = Options(4);
        noLoss.Loss = null;
        Assert.Equal("Trainer: set TrainerOptions.Loss (or Losses for several outputs).",
                     Assert.Throws<ArgumentException>(() => new Trainer(m, noLoss).Fit(x, y)).Message);
        var two = Options(4);
        two.Losses = [new WeightedLoss(new MeanSquaredError()), new WeightedLoss(new MeanAbsoluteError())];
        Assert.Equal("Trainer: 2 losses for 1 model outputs.", Assert.Throws<ArgumentException>(() => new Trainer(m, two).Fit(x, y)).Message);
    }

    [Fact]
    public void ARegularizer_AddsItsWeightTimesItsPenalty_ToTheTrainingLoss()
    {
        var m = new TinyMlp(3, 4, 2, seed: 12);
        var x = Normal(13, 6, 3);
        var y = Normal(14, 6, 2);
        // the penalty by hand: weight_l2 = (mean(W1²) + mean(W2²)) / 2 (rank-1 biases excluded)
        double Mean2(Tensor t) => t.ToDoubleArray().Select(v => v * v).Average();
        double penalty = (Mean2(m.W1) + Mean2(m.W2)) / 2;
        double data = new Trainer(m, Options(6)).Evaluate(x, y)["loss"];
        var o = Options(6); // one batch: the epoch's loss is that batch's
        o.Optimizer = new Sgd(1e-30); // the weights stay as they are (an update far below their last bit)
        o.Regularizers = [new WeightL2 { Weight = 0.25 }, new WeightL1 { Weight = 0 }];
        var h = new Trainer(m, o).Fit(x, y);
        Assert.Equal(data + 0.25 * penalty, h["loss"][0], 5);
    }

    [Fact]
    public void ANonFiniteLoss_NamesTheBadTarget_TheBadOutput_OrAnOverflow()
    {
        var x = Normal(15, 8, 3);
        string Message(TinyMlp m, Tensor y, Loss? loss = null) =>
            Assert.Throws<NonFiniteValueException>(() => new Trainer(m, Options(8, loss)).Fit(x, y)).Message;

        var y = Normal(16, 8, 2).ToFloatArray();
        y[3] = float.NaN;
        Assert.Equal("Non-finite loss NaN in phase 'forward' at step 1 (epoch 1, batch 1): target 0 [8, 2] has 1 non-finite values (bad data).",
                     Message(new TinyMlp(3, 4, 2, seed: 17), Tensor.FromArray(y, 8, 2)));

        var bad = new TinyMlp(3, 4, 2, seed: 17);
        bad.W2[1, 2] = double.NaN; // the second output of every sample
        Assert.Equal("Non-finite loss NaN in phase 'forward' at step 1 (epoch 1, batch 1): output 0 [8, 2] has 8 non-finite values.",
                     Message(bad, Normal(16, 8, 2)));
        // integer targets are not searched for non-finite values
        var labels = Tensor.FromArray(new[] { 0, 1, 1, 0, 1, 0, 0, 1 }, 8);
        Assert.Equal("Non-finite loss NaN in phase 'forward' at step 1 (epoch 1, batch 1): output 0 [8, 2] has 8 non-finite values.",
                     Message(bad, labels, new CrossEntropy()));

        var huge = Normal(16, 8, 2).ToFloatArray();
        huge[0] = 1e30f; // finite, but its square is not a float
        Assert.Equal("Non-finite loss Infinity in phase 'forward' at step 1 (epoch 1, batch 1): outputs are finite; the loss overflowed.",
                     Message(new TinyMlp(3, 4, 2, seed: 17), Tensor.FromArray(huge, 8, 2)));
    }

    [Fact]
    public void ANonFiniteUpdate_NamesTheScheduledLearningRate()
    {
        var m = new TinyMlp(3, 4, 2, seed: 18);
        var o = Options(8);
        o.Optimizer = new Sgd(1e39); // beyond float: the first update makes every weight with a gradient infinite
        o.Schedule = LearningRateSchedule.Warmup(10, startFactor: 0.5); // step 1 runs at half the rate
        var e = Assert.Throws<NonFiniteValueException>(() => new Trainer(m, o).Fit(Normal(19, 8, 3), Normal(20, 8, 2)));
        // the first parameter checked is W1, whose 12 gradients are all non-zero
        Assert.Equal("Non-finite weights in phase 'update' at step 1 (epoch 1, batch 1): parameter 'hid.w' [4, 3] has 12 non-finite values " +
                     "after the 'sgd' step (learning rate 5E+38).", e.Message);
    }

    [Fact]
    public void ASoftmaxOutput_IsRefusedWithCrossEntropyOnly()
    {
        Network Net()
        {
            var net = new Network("sm", DType.Float32, 1);
            var x = net.Add(new InputLayer(3, name: "x"));
            var y = net.Add(new Layer(2, "softmax", name: "probs"));
            net.ConnectDense(x, y);
            net.AddOutput(y, OutputMode.LastStep);
            return net;
        }
        var xs = Normal(23, 4, 3);
        var e = Assert.Throws<ArgumentException>(() => Net().Fit(xs, Tensor.FromArray(new[] { 0, 1, 1, 0 }, 4), Options(4, new CrossEntropy())));
        Assert.Equal("Trainer: output layer 'probs' applies softmax and loss 'xe' (cross-entropy) applies log-softmax itself: the " +
                     "probabilities would be squashed twice and training would stall. Give 'probs' a linear activation (the loss then sees " +
                     "logits, like torch's CrossEntropyLoss or Keras' from_logits=True) and apply softmax when predicting.", e.Message);
        // another loss on probabilities is the user's choice: trained
        var h = Net().Fit(xs, Normal(24, 4, 2), Options(4));
        Assert.True(double.IsFinite(h["loss"][0]));
    }

    [Fact]
    public void PredictOnANetwork_RefusesAWrongRankWithTheShapesItTakes()
    {
        var net = new Network("p", DType.Float32, 1);
        var x = net.Add(new InputLayer(3, name: "x"));
        var h = net.Add(new Layer(2, name: "h"));
        net.ConnectDense(x, h);
        net.AddOutput(h, OutputMode.LastStep);
        var e = Assert.Throws<ShapeMismatchException>(() => net.Predict(Normal(21, 2, 2, 3)));
        Assert.Equal("Network 'p': input 'x' takes [N, 3] or one sample; got [2, 2, 3].", e.Message);

        var seq = new Network("s", DType.Float32, 1) { Steps = 2 };
        var xs = seq.Add(new InputLayer(3, sequenceLength: 2, name: "xs"));
        var hs = seq.Add(new Layer(2, name: "hs"));
        seq.ConnectDense(xs, hs);
        seq.AddOutput(hs, OutputMode.LastStep);
        var s = Assert.Throws<ShapeMismatchException>(() => seq.Predict(Normal(22, 3)));
        Assert.Equal("Network 's': input 'xs' takes [T, N, 3] or one sample; got [3].", s.Message);
    }

    [Fact]
    public void ACheckpoint_RecordsTheMachine_AndRefusesABlankPath()
    {
        string dir = FlexNet.Tests.IO.TestFiles.NewTempDir();
        var saved = RandomGenerator.Default.GetState();
        try
        {
            string path = Path.Combine(dir, "c.ckpt");
            File.WriteAllBytes(path, CheckpointTests.SmallCheckpoint(dir));
            string? machine = null;
            CheckpointTests.Rewrite(path, (m, _) => machine = m.GetValueOrDefault("machine"));
            Assert.NotNull(machine);
            Assert.Matches(@"^(X64|Arm64|X86|Arm), (128|256|512)-bit vectors, " + Environment.ProcessorCount + " cores$", machine);
            Assert.StartsWith(System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture + ", ", machine, StringComparison.Ordinal);

            var (_, t, _, _) = CheckpointTests.Small(5);
            Assert.Throws<ArgumentNullException>("path", () => t.SaveCheckpoint(null!));
            Assert.Throws<ArgumentException>("path", () => t.SaveCheckpoint(" "));
        }
        finally
        {
            RandomGenerator.Default.SetState(saved);
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void TrainerRefusals_NameWhatIsWrong()
    {
        var x = Normal(30, 8, 3);
        var y = Normal(31, 8, 2);
        var frozen = new TinyMlp(3, 4, 2, seed: 32);
        frozen.W1.RequireGrad(false);
        Assert.Equal("Trainer: parameter 'hid.w' does not require gradients (call RequireGrad()).",
                     Assert.Throws<ArgumentException>(() => new Trainer(frozen, Options(8))).Message);

        var m = new TinyMlp(3, 4, 2, seed: 33);
        Assert.Equal("Trainer: give both validation inputs and targets, or neither.",
                     Assert.Throws<ArgumentException>(() => new Trainer(m, Options(8)).Fit(x, y, validationX: x)).Message);
        Assert.Equal("Trainer: loss 'mse' must reduce to a scalar (Reduction.None is not trainable).",
                     Assert.Throws<ArgumentException>(() => new Trainer(m, Options(8, new MeanSquaredError { Reduction = Reduction.None })).Fit(x, y)).Message);
        var o = Options(8);
        o.Regularizers = [new HiddenL1 { Pattern = "nothing" }];
        Assert.Equal("Trainer: regularizer 'hidden_l1' (pattern 'nothing') matches no activation of the model; it exposes: hid.",
                     Assert.Throws<ArgumentException>(() => new Trainer(m, o).Fit(x, y)).Message);
        Assert.Equal("TensorDataset: needs at least one input and one target.",
                     Assert.Throws<ArgumentException>(() => new TensorDataset([], [y])).Message);
    }

    [Fact]
    public void ANonFiniteInput_IsNamedWithTheLayerAndOutputItSpoiled()
    {
        var xv = Normal(34, 8, 3).ToFloatArray();
        xv[3 * 5 + 1] = float.NaN; // sample 5: its 4 hidden values and 2 outputs become NaN
        var e = Assert.Throws<NonFiniteValueException>(() => new Trainer(new TinyMlp(3, 4, 2, seed: 35), Options(8)).Fit(Tensor.FromArray(xv, 8, 3), Normal(36, 8, 2)));
        Assert.Equal("Non-finite loss NaN in phase 'forward' at step 1 (epoch 1, batch 1): input 0 [8, 3] has 1 non-finite values (bad data); " +
                     "layer 'hid' [8, 4] is the first with non-finite values (4); output 0 [8, 2] has 2 non-finite values.", e.Message);
    }

    /// <summary>Two linear heads on one input: y₀ = W₀x, y₁ = W₁x; an activation source that exposes none.</summary>
    private sealed class TwoHeads : IMultiTrainable, IActivationSource
    {
        public IReadOnlyList<KeyValuePair<string, Tensor>> Activations => [];
        internal readonly Tensor W0 = Tensor.Normal([2, 3], 0, 1, new RandomGenerator(40), DType.Float32).RequireGrad();
        internal readonly Tensor W1 = Tensor.Normal([1, 3], 0, 1, new RandomGenerator(41), DType.Float32).RequireGrad();
        public IReadOnlyList<Tensor> Parameters => [W0, W1];
        public Tensor[] Forward(Tensor[] inputs, bool training) => [NN.Linear(inputs[0], W0, null), NN.Linear(inputs[0], W1, null)];
    }

    /// <summary>A broken custom data set: its batches are null, or lack their targets.</summary>
    private sealed class NullBatches(bool noTargets) : IDataset
    {
        public int Count => 4;
        public Batch GetBatch(ReadOnlySpan<int> indices) => noTargets ? new Batch([Normal(47, indices.Length, 3)], null!) : null!;
    }

    [Fact]
    public void SeveralOutputs_NameTheirMetricsByOutput_AndActivationRegularizersSayNoneIsExposed()
    {
        var m = new TwoHeads();
        var x = Normal(42, 6, 3);
        var y0 = Normal(43, 6, 2);
        var y1 = Normal(44, 6, 1);
        var o = Options(4);
        o.Loss = null;
        o.Losses = [new WeightedLoss(new MeanSquaredError()), new WeightedLoss(new MeanSquaredError())];
        o.Metrics = [new MeanAbsoluteErrorMetric()];
        var r = new Trainer(m, o).EvaluateMulti([x], [y0, y1]);
        Assert.Equal(["loss", "out0_mae", "out1_mae"], r.Keys.Order());
        double Mae(Tensor w, Tensor y)
        {
            var xv = x.ToDoubleArray(); var wv = w.ToDoubleArray(); var yv = y.ToDoubleArray();
            int outs = w.Shape[0];
            double sum = 0;
            for (int s = 0; s < 6; s++)
                for (int k = 0; k < outs; k++)
                {
                    double z = 0;
                    for (int i = 0; i < 3; i++) z += wv[k * 3 + i] * xv[s * 3 + i];
                    sum += Math.Abs(z - yv[s * outs + k]);
                }
            return sum / (6 * outs);
        }
        Assert.Equal(Mae(m.W0, y0), r["out0_mae"], 5);
        Assert.Equal(Mae(m.W1, y1), r["out1_mae"], 5);

        var reg = Options(6);
        reg.Loss = null;
        reg.Losses = o.Losses;
        reg.Regularizers = [new HiddenL1()];
        Assert.Equal("Trainer: regularizer 'hidden_l1' (pattern '*') matches no activation of the model; it exposes: none.",
                     Assert.Throws<ArgumentException>(() => new Trainer(m, reg).Fit([x], [y0, y1])).Message);
    }

    [Fact]
    public void ADataSetWhoseBatchIsNull_IsRefused()
    {
        var e = Assert.Throws<ArgumentException>("data", () => new Trainer(new TinyMlp(3, 4, 2, seed: 45), Options(2)).Fit(new NullBatches(false)));
        Assert.StartsWith("Trainer: data set NullBatches returned no batch for 1 samples.", e.Message);
        var t = Assert.Throws<ArgumentException>("data", () => new Trainer(new TinyMlp(3, 4, 2, seed: 45), Options(2)).Fit(new NullBatches(true)));
        Assert.StartsWith("Trainer: data set NullBatches returned a batch without its inputs or targets for 1 samples.", t.Message);
        // on the evaluation path as well (its batches are loaded, not counted)
        var ev = Assert.Throws<ArgumentException>("data", () => new Trainer(new TinyMlp(3, 4, 2, seed: 45), Options(2)).Evaluate(new NullBatches(false)));
        Assert.StartsWith("Trainer: data set NullBatches returned no batch for 2 samples.", ev.Message);
    }

    [Fact]
    public void PredictOnAnImageInput_ListsEveryDimensionItTakes()
    {
        var net = new Network("img", DType.Float32, 1);
        var x = net.Add(new InputLayer([2, 3], name: "pix"));
        var h = net.Add(new Layer(2, name: "h"));
        net.ConnectDense(x, h);
        net.AddOutput(h, OutputMode.LastStep);
        var e = Assert.Throws<ShapeMismatchException>(() => net.Predict(Normal(46, 6)));
        Assert.Equal("Network 'img': input 'pix' takes [N, 2, 3] or one sample; got [6].", e.Message);
    }

    /// <summary>x → a = W·x → b = a·2 → y = b: two exposed activations, both spoiled by a NaN in W.</summary>
    private sealed class TwoActivations : ITrainable, IActivationSource
    {
        private readonly List<KeyValuePair<string, Tensor>> _acts = [];
        internal readonly Tensor W = Tensor.Normal([2, 3], 0, 1, new RandomGenerator(48), DType.Float32).RequireGrad();
        public IReadOnlyList<Tensor> Parameters => [W];
        public IReadOnlyList<KeyValuePair<string, Tensor>> Activations => _acts;
        public Tensor Forward(Tensor input, bool training)
        {
            _acts.Clear();
            var a = NN.Linear(input, W, null);
            var b = a * 2;
            _acts.Add(new("a", a));
            _acts.Add(new("b", b));
            return b;
        }
    }

    /// <summary>A custom data set whose batches have no input tensor.</summary>
    private sealed class NoInputs : IDataset
    {
        public int Count => 2;
        public Batch GetBatch(ReadOnlySpan<int> indices) => new([], [Normal(49, indices.Length, 2)]);
    }

    [Fact]
    public void OnlyTheFirstNonFiniteLayer_IsNamed_AndABatchWithoutInputsIsRefusedInEvaluation()
    {
        var m = new TwoActivations();
        m.W[0, 0] = double.NaN;
        var e = Assert.Throws<NonFiniteValueException>(() => new Trainer(m, Options(4)).Fit(Normal(50, 4, 3), Normal(51, 4, 2)));
        Assert.Equal("Non-finite loss NaN in phase 'forward' at step 1 (epoch 1, batch 1): layer 'a' [4, 2] is the first with non-finite values (4); " +
                     "output 0 [4, 2] has 4 non-finite values.", e.Message);

        Assert.Equal("Trainer: a batch needs at least one input and one target.",
                     Assert.Throws<ArgumentException>(() => new Trainer(new TinyMlp(3, 4, 2, seed: 52), Options(2)).Evaluate(new NoInputs())).Message);
    }
}
