using FlexNet.Connections;
using FlexNet;
using FlexNet.Graph;
using FlexNet.Layers;
using FlexNet.Models;
using FlexNet.Tensors;
using FlexNet.Autodiff;

namespace FlexNet.Examples.FashionMnist;

/// <summary>The four networks of the results table, built with the public front ends.</summary>
internal static class Mnist
{
    /// <summary>MLP 784-512-512-10, ReLU, optional dropout after each hidden layer (Sequential).</summary>
    public static Network Mlp(double dropout, ulong seed)
    {
        var m = new Sequential("mlp", DType.Float32, seed);
        m.Add(new Dense(512, "relu"));
        if (dropout > 0) m.Add(new Dropout(dropout));
        m.Add(new Dense(512, "relu"));
        if (dropout > 0) m.Add(new Dropout(dropout));
        m.Add(new Dense(10));
        m.InputShape = [784];
        return m.Network;
    }

    /// <summary>The CNN of shared/bench/README.md: conv3x3(32)-pool-conv3x3(64)-pool-dense(128)-dense(10), optional
    /// dropout before the last layer (Sequential, input [N, 1, 28, 28]).</summary>
    public static Network Cnn(double dropout, ulong seed)
    {
        var m = new Sequential("cnn", DType.Float32, seed,
            new Conv2D(32, 3, padding: 1, activation: "relu"), new MaxPool2D(2),
            new Conv2D(64, 3, padding: 1, activation: "relu"), new MaxPool2D(2),
            new Flatten(), new Dense(128, "relu"));
        if (dropout > 0) m.Add(new Dropout(dropout));
        m.Add(new Dense(10));
        m.InputShape = [1, 28, 28];
        return m.Network;
    }

    /// <summary>LSTM(128) reading the image row by row (28 steps of 28 pixels, batch-first [N, 28, 28]), the last
    /// hidden state into a dense 10-way readout.</summary>
    public static Network Lstm(ulong seed)
    {
        var m = new Sequential("lstm", DType.Float32, seed, new LSTM(128, returnSequences: false), new Dense(10));
        m.InputShape = [28, 28];
        m.SequenceInput = false;
        return m.Network;
    }

    /// <summary>The feedback network of the bench (feedback_train): 784-256-256-128 ReLU unrolled 8 steps, the image
    /// presented at every step, h3(t−1) → h1 (no bias), readout of h3 at the last step; built with Connect. With
    /// <paramref name="dropout"/> &gt; 0 a dropout layer follows h1 and h2 (a fresh mask at every step).</summary>
    public static Network Feedback(double dropout, ulong seed)
    {
        var net = new Network("feedback", DType.Float32, seed);
        var x = new InputLayer(784, name: "x");
        var h1 = new Layer(256, "relu", name: "h1");
        var h2 = new Layer(256, "relu", name: "h2");
        var h3 = new Layer(128, "relu", name: "h3");
        var logits = new Layer(10, name: "logits");
        net.Connect(x, h1);
        net.ConnectDense(h3, h1, delay: 1, bias: false);
        Layer a1 = h1, a2 = h2;
        if (dropout > 0)
        {
            a1 = new DropoutLayer(256, dropout, "drop1");
            a2 = new DropoutLayer(256, dropout, "drop2");
            net.ConnectIdentity(h1, a1);
            net.ConnectIdentity(h2, a2);
        }
        net.Connect(a1, h2);
        net.Connect(a2, h3);
        net.ConnectDense(h3, logits, bias: false);
        net.AddOutput(logits, OutputMode.LastStep);
        net.Steps = 8;
        net.Compile();
        return net;
    }

    /// <summary>A graph layer that applies inverted dropout to its combined input in training and is the identity in
    /// evaluation.</summary>
    private sealed class DropoutLayer(int units, double rate, string name) : Layer(units, name: name)
    {
        public override string Kind => $"Dropout({rate})";

        protected override Tensor Transform(Tensor combined, bool training) =>
            training && rate > 0 ? NN.Dropout(combined, rate, true) : combined;
    }
}
