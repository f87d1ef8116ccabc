using System.Diagnostics;
using System.Globalization;
using FlexNet.Examples.FashionMnist;
using FlexNet.Graph;
using FlexNet.Losses;
using FlexNet.Optimizers;
using FlexNet.Training;
using FlexNet.Tensors;

namespace FlexNet.Distributed.Host;

/// <summary>Throughput of data-parallel training of the README's networks on synthetic Fashion-MNIST-shaped data:
/// global samples per second over the timed epochs (after one warm-up epoch), and the parameter count (the
/// all-reduce moves 4 bytes per parameter plus a few statistics per step).</summary>
internal static class Bench
{
    public static int Run(ICommunicator? c, string kind, int samples, int epochs, int batch)
    {
        Network net = kind switch
        {
            "mlp" => Mnist.Mlp(0, 1),
            "cnn" => Mnist.Cnn(0, 1),
            "feedback" => Mnist.Feedback(0, 1),
            "lstm" => Mnist.Lstm(1),
            _ => throw new ArgumentException($"unknown bench model '{kind}'"),
        };
        var rng = new RandomGenerator(3);
        var x = kind switch
        {
            "cnn" => Tensor.Normal([samples, 1, 28, 28], 0, 1, rng),
            "lstm" => Tensor.Normal([samples, 28, 28], 0, 1, rng),
            _ => Tensor.Normal([samples, 784], 0, 1, rng),
        };
        var labels = new int[samples];
        for (int i = 0; i < samples; i++) labels[i] = rng.NextInt(10);
        var y = Tensor.FromArray(labels, samples);
        long parameters = 0;
        foreach (var (_, p) in net.NamedParameters) parameters += p.Length;
        var sw = new Stopwatch();
        var o = new TrainerOptions
        {
            Epochs = epochs + 1, BatchSize = batch, Loss = new CrossEntropy(), Optimizer = new Adam(1e-3),
            Progress = ProgressMode.None, Communicator = c,
            OnEpochEnd = info => { if (info.Epoch == 0) sw.Restart(); },
        };
        new Trainer(net.AsTrainable(), o).Fit(x, y);
        sw.Stop();
        int ranks = c?.Size ?? 1;
        if ((c?.Rank ?? 0) == 0)
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"bench {kind} ranks={ranks} parameters={parameters} allreduce_bytes_per_step={4 * parameters} batch={batch} samples={samples} epochs={epochs} seconds={sw.Elapsed.TotalSeconds:F2} samples_per_s={samples * (double)epochs / sw.Elapsed.TotalSeconds:F0}"));
        return 0;
    }

    /// <summary>Time of one in-place float all-reduce of <paramref name="floats"/> elements (mean of
    /// <paramref name="reps"/> after 3 warm-ups), as rank 0 sees it.</summary>
    public static int AllReduce(ICommunicator c, int floats, int reps)
    {
        var buf = new float[floats];
        for (int i = 0; i < 3; i++) c.AllReduce<float>(buf, ReduceOp.Sum);
        c.Barrier();
        var sw = Stopwatch.StartNew();
        for (int i = 0; i < reps; i++) c.AllReduce<float>(buf, ReduceOp.Sum);
        sw.Stop();
        if (c.Rank == 0)
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"allreduce ranks={c.Size} floats={floats} bytes={4L * floats} mean_ms={sw.Elapsed.TotalMilliseconds / reps:F3}"));
        return 0;
    }
}
