using FlexNet.Connections;
using FlexNet.Graph;
using FlexNet.Losses;
using FlexNet.Optimizers;
using FlexNet.Tensors;
using FlexNet.Training;
using Xunit;

namespace FlexNet.Tests.Training;

/// <summary>
/// Managed bytes allocated per training step after warm-up, with the trainer defaults a user gets (a data set made
/// from tensors by <c>Trainer.Fit(model, [x], [y], options)</c>, set-to-none gradients, CheckFinite on,
/// RecycleStepTensors on): none. Measured on the trainer's thread between consecutive OnBatchEnd calls, whose only
/// allocation is the <see cref="BatchEndInfo"/> record the trainer makes for the callback (its size is measured here
/// by making one), and process-wide (GC.GetTotalAllocatedBytes(precise: true), the median step); the class runs in
/// the non-parallel "Training" collection. bench/NOTES.md sections 15 and 19.
/// </summary>
[Collection("Training")]
public sealed class TrainStepAllocationTests
{
    private const int Warmup = 20, Measured = 30, Batch = 16;

    private static (long[] Thread, long[] Total) StepBytes(IMultiTrainable model, Tensor x, Tensor y, Loss loss, OptimizerRule rule,
                                                           int inputAxis = 0, bool recycle = true)
    {
        var ends = new long[Warmup + Measured];
        var totals = new long[Warmup + Measured];
        int k = 0;
        var options = new TrainerOptions
        {
            Epochs = 1, BatchSize = Batch, Loss = loss, Optimizer = rule, InputBatchAxis = inputAxis,
            Progress = ProgressMode.None, RecycleStepTensors = recycle,
            OnBatchEnd = _ =>
            {
                if (k >= ends.Length) return;
                totals[k] = GC.GetTotalAllocatedBytes(precise: true);
                ends[k++] = GC.GetAllocatedBytesForCurrentThread();
            },
        };
        Trainer.Fit(model, [x], [y], options);
        Assert.Equal(ends.Length, k);
        var steps = new long[Measured - 1];
        var total = new long[Measured - 1];
        for (int i = 0; i < steps.Length; i++)
        {
            steps[i] = ends[Warmup + i + 1] - ends[Warmup + i];
            total[i] = totals[Warmup + i + 1] - totals[Warmup + i];
        }
        return (steps, total);
    }

    /// <summary>The bytes of the record the trainer makes for each OnBatchEnd call (not part of a step without the callback).</summary>
    private static long CallbackRecordBytes()
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        var info = new BatchEndInfo(1, 2, 3, 4, 5);
        long bytes = GC.GetAllocatedBytesForCurrentThread() - before;
        GC.KeepAlive(info);
        Assert.InRange(bytes, 24, 128);
        return bytes;
    }

    private static (Tensor X, Tensor Y) Data(int features, int classes)
    {
        int n = Batch * (Warmup + Measured);
        var x = Tensor.Normal([n, features], 0, 1, new RandomGenerator(7), DType.Float32);
        var labels = new int[n];
        for (int i = 0; i < n; i++) labels[i] = i * 7 % classes;
        return (x, Tensor.FromArray(labels, n));
    }

    private static Network Mlp()
    {
        var net = new Network("mlp", DType.Float32, 1);
        var x = net.Add(new InputLayer(20, name: "x"));
        var h1 = net.Add(new Layer(32, "relu", name: "h1"));
        var h2 = net.Add(new Layer(32, "relu", name: "h2"));
        var y = net.Add(new Layer(4, name: "y"));
        net.ConnectDense(x, h1);
        net.ConnectDense(h1, h2);
        net.ConnectDense(h2, y);
        net.AddOutput(y, OutputMode.LastStep);
        net.Compile();
        return net;
    }

    private static Network Feedback()
    {
        // 6 unrolled steps: h = tanh(W x + F h(t−1)), y read at the last step (W x is computed once per run)
        var net = new Network("fb", DType.Float32, 2) { Steps = 6 };
        var x = net.Add(new InputLayer(20, name: "x"));
        var h = net.Add(new Layer(32, "tanh", name: "h"));
        var y = net.Add(new Layer(4, name: "y"));
        net.ConnectDense(x, h);
        net.ConnectDense(h, h, delay: 1);
        net.ConnectDense(h, y);
        net.AddOutput(y, OutputMode.LastStep);
        net.Compile();
        return net;
    }

    internal const int LstmSteps = 5, LstmIn = 3, LstmHidden = 8;

    /// <summary>An LSTM built from primitives over a temporal input [T, N, 3]: four gate layers, each with a dense
    /// input weight and a delayed dense recurrent weight (all packed once per run), product and identity layers for
    /// c = f·c(t−1) + i·g and h = o·tanh(c), a linear head read at the last step.</summary>
    internal static Network LstmFromPrimitives(ulong seed = 3)
    {
        var net = new Network("lstm_cells", DType.Float32, seed);
        var x = new InputLayer(LstmIn, sequenceLength: LstmSteps, name: "x");
        var h = Testing.LstmCellGraph.Wire(net, x, LstmHidden);
        var head = new Layer(1, name: "head");
        net.ConnectDense(h, head);
        net.AddOutput(head, OutputMode.LastStep);
        net.Compile();
        return net;
    }

    internal static (Tensor X, Tensor Y) SequenceData(int n)
    {
        var x = Tensor.Normal([LstmSteps, n, LstmIn], 0, 1, new RandomGenerator(11), DType.Float32);
        var y = Tensor.Normal([n, 1], 0, 1, new RandomGenerator(12), DType.Float32);
        return (x, y);
    }

    private static void AssertNothingPerStep(long[] steps, long[] totals, string what)
    {
        long record = CallbackRecordBytes();
        // every warmed-up step allocates exactly the callback's record on the trainer's thread, nothing of its own
        for (int i = 0; i < steps.Length; i++)
            Assert.True(steps[i] == record, $"{what}: measured step {i} allocated {steps[i] - record} bytes on the trainer's thread besides the callback's record of {record}");
        // all threads: the median step allocates no more (nothing on the kernels' workers)
        Array.Sort(totals);
        long median = totals[totals.Length / 2];
        Assert.True(median == record, $"{what}: the median step allocated {median - record} bytes on all threads besides the callback's record of {record}");
    }

    [Fact]
    public void MlpStep_AllocatesNothing()
    {
        var (xs, ys) = Data(20, 4);
        var (steps, totals) = StepBytes(Mlp().AsTrainable(), xs, ys, new CrossEntropy(), new Sgd(0.01, 0.9));
        AssertNothingPerStep(steps, totals, "MLP");
    }

    [Fact]
    public void FeedbackStep_AllocatesNothing()
    {
        var (xs, ys) = Data(20, 4);
        var (steps, totals) = StepBytes(Feedback().AsTrainable(), xs, ys, new CrossEntropy(), new Sgd(0.01, 0.9));
        AssertNothingPerStep(steps, totals, "6-step feedback network");
    }

    [Fact]
    public void LstmFromPrimitivesStep_AllocatesNothing()
    {
        var (xs, ys) = SequenceData(Batch * (Warmup + Measured));
        var (steps, totals) = StepBytes(LstmFromPrimitives().AsTrainable(), xs, ys, new MeanSquaredError(), new Adam(1e-3), inputAxis: 1);
        AssertNothingPerStep(steps, totals, "LSTM from primitives");
    }

    [Fact]
    public void RecyclingSavesTheTensorObjects()
    {
        // the same step without recycling allocates the tensor objects, storages and shape arrays it now reuses
        var (xs, ys) = Data(20, 4);
        var (plain, _) = StepBytes(Mlp().AsTrainable(), xs, ys, new CrossEntropy(), new Sgd(0.01, 0.9), recycle: false);
        var (recycled, _) = StepBytes(Mlp().AsTrainable(), xs, ys, new CrossEntropy(), new Sgd(0.01, 0.9), recycle: true);
        Assert.True(plain[0] >= recycled[0] + 2_000, $"without recycling {plain[0]} bytes per step, with {recycled[0]}");
    }
}
