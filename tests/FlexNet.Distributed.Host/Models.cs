using FlexNet.Graph;
using FlexNet.Layers;
using FlexNet.Losses;
using FlexNet.Metrics;
using FlexNet.Models;
using FlexNet.Optimizers;
using FlexNet.Training;
using FlexNet.Tensors;
using FlexNet.Connections;

namespace FlexNet.Distributed.Host;

/// <summary>The three networks of the equivalence checks and their data, built the same way on every rank.</summary>
internal static class Models
{
    public static Network Build(string kind, ulong seed) => kind switch
    {
        "mlp" => Mlp(seed),
        "mlp64" => Mlp(seed, dtype: DType.Float64),
        "feedback" => Feedback(seed),
        "conv" => Conv(seed),
        _ => throw new ArgumentException($"unknown model '{kind}' (mlp, feedback, conv)"),
    };

    /// <summary>MLP 8-16-16-3, tanh (Sequential).</summary>
    public static Network Mlp(ulong seed, int width = 16, DType dtype = DType.Float32)
    {
        var m = new Sequential("mlp", dtype, seed, new Dense(width, "tanh"), new Dense(width, "tanh"), new Dense(3));
        m.InputShape = [8];
        return m.Network;
    }

    /// <summary>Feedback network: x(8) → h1(12) → h2(10) → y(3), with h2(t−1) → h1(t), unrolled 4 steps, the input
    /// presented at every step, read out at the last step (full BPTT through the delay).</summary>
    public static Network Feedback(ulong seed)
    {
        var net = new Network("feedback", DType.Float32, seed);
        var x = new InputLayer(8, name: "x");
        var h1 = new Layer(12, "tanh", name: "h1");
        var h2 = new Layer(10, "tanh", name: "h2");
        var y = new Layer(3, name: "y");
        net.Connect(x, h1);
        net.Connect(h1, h2);
        net.ConnectDense(h2, h1, delay: 1, bias: false);
        net.ConnectDense(h2, y);
        net.AddOutput(y, OutputMode.LastStep);
        net.Steps = 4;
        net.Compile();
        return net;
    }

    /// <summary>Conv(4, 3×3, same, relu) – maxpool 2 – flatten – dense 3 on 1×8×8 inputs (Sequential).</summary>
    public static Network Conv(ulong seed)
    {
        var m = new Sequential("conv", DType.Float32, seed,
            new Conv2D(4, 3, padding: 1, activation: "relu"), new MaxPool2D(2), new Flatten(), new Dense(3));
        m.InputShape = [1, 8, 8];
        return m.Network;
    }

    /// <summary>Deterministic inputs and 3-class labels (a learnable rule plus noise), identical on every rank.</summary>
    public static (Tensor X, Tensor Y) Data(string kind, int n, ulong seed = 42)
    {
        var rng = new RandomGenerator(seed);
        var x = kind == "conv" ? Tensor.Normal([n, 1, 8, 8], 0, 1, rng) : Tensor.Normal([n, 8], 0, 1, rng);
        if (kind == "mlp64") x = x.To(DType.Float64);
        var xs = x.ToDoubleArray();
        int per = xs.Length / n;
        var y = new int[n];
        for (int i = 0; i < n; i++)
        {
            double a = xs[i * per] + 0.5 * xs[i * per + 1], b = xs[i * per + 2] - xs[i * per + 3];
            y[i] = a > 0.3 ? 0 : b > 0 ? 1 : 2;
            if (rng.NextInt(10) == 0) y[i] = rng.NextInt(3);
        }
        return (x, Tensor.FromArray(y, n));
    }

    public static TrainerOptions Options(string kind, int epochs, int batch) => new()
    {
        Epochs = epochs, BatchSize = batch, Seed = 7, Loss = new CrossEntropy(), Metrics = [new Accuracy()],
        Optimizer = kind == "feedback" ? new Sgd(0.1, momentum: 0.9) : new Adam(0.01), Progress = ProgressMode.None,
    };
}
