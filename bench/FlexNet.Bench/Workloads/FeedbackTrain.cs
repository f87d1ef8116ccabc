using System.Diagnostics;
using FlexNet.Connections;
using FlexNet.Data;
using FlexNet.Graph;
using FlexNet.Optimizers;
using FlexNet.Tensors;
using FlexNet.Autodiff;

namespace FlexNet.Bench;

/// <summary>
/// feedback_train (shared/bench/pytorch/feedback_train.py): 784-256-256-128 ReLU MLP unrolled T = 8 steps with the
/// top-down feedback h3(t−1) → layer 1 (no bias), readout Wo (no bias) at the last step, built with
/// <see cref="Network.Connect"/>; softmax cross-entropy, SGD lr 0.01 momentum 0.9, batch 128, one fixed permutation
/// of Fashion-MNIST train, 10 warm-up steps then 5 timed repeats of 100 steps; median samples/s.
/// Gradients are zeroed in place rather than set to null: PyTorch's <c>set_to_none=True</c> hands the buffers to
/// its caching allocator, while nulling them here would allocate ~1.3 MB (partly on the large-object heap) per step.
/// </summary>
internal static class FeedbackTrain
{
    internal const int Batch = 128, Steps = 8, WarmupSteps = 10, TimedSteps = 100, Repeats = 5;

    /// <summary>The network of the workload, built with Connect.</summary>
    /// <param name="seed">Initialisation seed.</param>
    /// <param name="steps">Unrolled steps T (the workload's is 8; feedback_scaling varies it).</param>
    internal static Network Build(ulong seed = 0, int steps = Steps)
    {
        var net = new Network("feedback_train", DType.Float32, seed);
        var x = new InputLayer(784, name: "x");
        var h1 = new Layer(256, "relu", name: "h1");
        var h2 = new Layer(256, "relu", name: "h2");
        var h3 = new Layer(128, "relu", name: "h3");
        var logits = new Layer(10, name: "logits");
        net.Connect(x, h1);                              // W1, b1
        net.ConnectDense(h3, h1, delay: 1, bias: false); // F: feedback from the previous step
        net.Connect(h1, h2);                             // W2, b2
        net.Connect(h2, h3);                             // W3, b3
        net.ConnectDense(h3, logits, bias: false);       // Wo, last step only
        net.AddOutput(logits, OutputMode.LastStep);
        net.Steps = steps;
        net.Compile();
        return net;
    }

    /// <summary>Runs the workload.</summary>
    /// <param name="dataDir">Fashion-MNIST folder.</param>
    /// <returns>Median samples/s, per-repeat rates, loss at the end of each repeat.</returns>
    internal static (double Median, double[] Rates, double[] Losses) Measure(string dataDir)
    {
        var (images, labels, count) = FashionMnist.Load(dataDir, "train");
        var net = Build();
        var opt = new Optimizer(net.Parameters.ToList(), new Sgd(0.01, 0.9));
        var perm = new int[count];
        for (int i = 0; i < count; i++) perm[i] = i;
        new RandomGenerator(0).Shuffle(perm);
        int nBatches = count / Batch;
        var xb = new float[Batch * 784];
        var yb = new int[Batch];
        int b = 0;
        double StepsRun(int k)
        {
            double loss = double.NaN;
            for (int s = 0; s < k; s++)
            {
                int at = (b++ % nBatches) * Batch;
                for (int i = 0; i < Batch; i++)
                {
                    int src = perm[at + i];
                    images.AsSpan(src * 784, 784).CopyTo(xb.AsSpan(i * 784, 784));
                    yb[i] = labels[src];
                }
                using var scope = TensorScope.Begin();
                opt.ZeroGrad(setToNone: false); // reuse the gradient buffers (PyTorch frees them to its caching allocator)
                var x = Tensor.FromArray(xb, Batch, 784);
                var y = Tensor.FromArray(yb, Batch);
                var l = NN.CrossEntropy(net.Forward([x], training: true)[0], y);
                l.Backward();
                opt.Step();
                if (s == k - 1) loss = l.Item();
            }
            return loss;
        }
        StepsRun(WarmupSteps);
        var rates = new double[Repeats];
        var losses = new double[Repeats];
        for (int r = 0; r < Repeats; r++)
        {
            long t0 = Stopwatch.GetTimestamp();
            losses[r] = StepsRun(TimedSteps);
            rates[r] = TimedSteps * Batch / Stopwatch.GetElapsedTime(t0).TotalSeconds;
        }
        var sorted = (double[])rates.Clone();
        Array.Sort(sorted);
        return (sorted[Repeats / 2], rates, losses);
    }
}
