using FlexNet.Training;
using FlexNet.Tensors;
using FlexNet.Autodiff;

namespace FlexNet.Tests.Training;

/// <summary>y = W2 · act(W1 x + b1) + b2 written with tensor ops; optional dropout on the hidden layer.</summary>
internal sealed class TinyMlp : ITrainable, IActivationSource
{
    private readonly List<KeyValuePair<string, Tensor>> _acts = new();

    internal TinyMlp(int inputs, int hidden, int outputs, ulong seed, DType dtype = DType.Float32, double dropout = 0, bool sigmoid = false)
    {
        var rng = new RandomGenerator(seed);
        W1 = Tensor.Normal([hidden, inputs], 0, 1 / Math.Sqrt(inputs), rng, dtype).RequireGrad();
        B1 = Tensor.Zeros([hidden], dtype).RequireGrad();
        W2 = Tensor.Normal([outputs, hidden], 0, 1 / Math.Sqrt(hidden), rng, dtype).RequireGrad();
        B2 = Tensor.Zeros([outputs], dtype).RequireGrad();
        (W1.Name, B1.Name, W2.Name, B2.Name) = ("hid.w", "hid.b", "out.w", "out.b");
        Dropout = dropout;
        Sigmoid = sigmoid;
    }

    internal Tensor W1 { get; }
    internal Tensor B1 { get; }
    internal Tensor W2 { get; }
    internal Tensor B2 { get; }
    internal double Dropout { get; }
    internal bool Sigmoid { get; }

    public IReadOnlyList<Tensor> Parameters => [W1, B1, W2, B2];

    public IReadOnlyList<KeyValuePair<string, Tensor>> Activations => _acts;

    public Tensor Forward(Tensor input, bool training)
    {
        _acts.Clear();
        var pre = NN.Linear(input, W1, B1);
        var h = Sigmoid ? pre.Sigmoid() : pre.Tanh();
        _acts.Add(new("hid", h));
        if (Dropout > 0) h = NN.Dropout(h, Dropout, training);
        return NN.Linear(h, W2, B2);
    }

    internal double[][] Snapshot() => Parameters.Select(p => p.ToDoubleArray()).ToArray();
}
