using FlexNet.Connections;
using FlexNet.Graph;
using FlexNet.Losses;
using FlexNet.Optimizers;
using FlexNet.Tensors;
using FlexNet.Training;
using Xunit;

namespace FlexNet.Tests.Training;

/// <summary>
/// Managed bytes allocated per training step after warm-up, with the trainer defaults a user gets (set-to-none
/// gradients, CheckFinite on, RecycleStepTensors on). Measured on the trainer's thread between consecutive
/// OnBatchEnd calls (the kernels' worker threads allocate nothing per region); the class runs in the non-parallel
/// "Training" collection, and the process-wide figure (GC.GetTotalAllocatedBytes(precise: true)) is checked too.
/// Every measured step must allocate exactly the same number of bytes, at most the bound: what remains (listed at
/// the bounds and in bench/NOTES.md section 15) is a few objects of the public API's shapes, so any new allocation
/// on the hot path fails here.
/// </summary>
[Collection("Training")]
public sealed class TrainStepAllocationTests
{
    private const int Warmup = 20, Measured = 30, Batch = 16;

    private static (long[] Thread, long[] Total) StepBytes(Network net, Tensor x, Tensor y, bool recycle = true)
    {
        var ends = new long[Warmup + Measured];
        var totals = new long[Warmup + Measured];
        int k = 0;
        var options = new TrainerOptions
        {
            Epochs = 1, BatchSize = Batch, Loss = new CrossEntropy(), Optimizer = new Sgd(0.01, 0.9),
            Progress = ProgressMode.None, RecycleStepTensors = recycle,
            OnBatchEnd = _ =>
            {
                if (k >= ends.Length) return;
                totals[k] = GC.GetTotalAllocatedBytes(precise: true);
                ends[k++] = GC.GetAllocatedBytesForCurrentThread();
            },
        };
        Trainer.Fit(net.AsTrainable(), [x], [y], options);
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
        // 6 unrolled steps: h = tanh(W x + F h(t−1)), y read at the last step
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

    private static void AssertSteady(long[] steps, long[] totals, long bound, string what)
    {
        // deterministic: the same bytes at every warmed-up step, and no more than the bound
        Assert.All(steps, s => Assert.Equal(steps[0], s));
        Assert.True(steps[0] <= bound, $"{what}: a training step allocated {steps[0]} bytes on the trainer's thread (bound {bound})");
        // all threads: the median step allocates no more than the trainer's thread does (nothing on the workers)
        Array.Sort(totals);
        Assert.True(totals[totals.Length / 2] <= bound, $"{what}: a training step allocated {totals[totals.Length / 2]} bytes on all threads (bound {bound})");
    }

    [Fact]
    public void MlpStep_AllocatesOnlyWhatIsDocumented()
    {
        var (xs, ys) = Data(20, 4);
        var (steps, totals) = StepBytes(Mlp(), xs, ys);
        AssertSteady(steps, totals, MlpBound, "MLP");
    }

    [Fact]
    public void FeedbackStep_AllocatesOnlyWhatIsDocumented()
    {
        var (xs, ys) = Data(20, 4);
        var (steps, totals) = StepBytes(Feedback(), xs, ys);
        AssertSteady(steps, totals, FeedbackBound, "6-step feedback network");
    }

    [Fact]
    public void RecyclingSavesTheTensorObjects()
    {
        // the same step without recycling allocates the tensor objects, storages and shape arrays it now reuses
        var (xs, ys) = Data(20, 4);
        var (plain, _) = StepBytes(Mlp(), xs, ys, recycle: false);
        var (recycled, _) = StepBytes(Mlp(), xs, ys, recycle: true);
        Assert.True(plain[0] >= recycled[0] + 2_000, $"without recycling {plain[0]} bytes per step, with {recycled[0]}");
    }

    // Measured: 192 bytes (MLP, three fused dense layers) and 352 bytes (6-step feedback network) per step, the same at
    // every step (8,264 and 15,960 before the trainer's step recycled its tensors, nodes and the plan's arrays). What
    // remains, exactly: the data set's Batch record and its input and target arrays (48 + 32 + 32), the forward's result
    // array (32), this test's BatchEndInfo for OnBatchEnd (48); in the feedback network also the packed copy of the
    // recurrent weight for its run (PackedWeight and GemmPackedB objects, 160). bench/NOTES.md section 15.
    private const long MlpBound = 192, FeedbackBound = 352;
}
