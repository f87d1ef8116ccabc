using System.Diagnostics;
using FlexNet.Autodiff;
using FlexNet.Layers;
using FlexNet.Models;
using FlexNet.Tensors;

namespace FlexNet.Tests.Models;

/// <summary>Random Functional models of catalog layers (dense with init schemes, batch and layer norm, dropout, noise,
/// merges, tied decoders, shared layers, convolutions, pooling, transposed convolutions, LRN, flatten, LSTM/GRU/RNN and
/// bidirectional layers over whole sequences, several inputs and outputs) survive save + load as the same kind with
/// bit-identical weights, buffers and outputs, and save to identical bytes again; Network.Load agrees.</summary>
public sealed class ModelFilePropertyTests
{
    private static readonly string[] Acts = ["linear", "tanh", "sigmoid", "relu"];
    private static readonly string?[] Schemes = [null, "glorot_uniform", "he_normal", "orthogonal", "theanets"];

    private sealed record Value(SymbolicTensor S, int[] Shape);

    internal static (Model Model, Tensor[] Inputs, HashSet<string> Forms) RandomModel(int seed)
    {
        var rng = new Random(seed);
        var dtype = rng.Next(4) == 0 ? DType.Float64 : DType.Float32;
        var data = new RandomGenerator((ulong)seed + 500);
        int n = 1 + rng.Next(3);
        var values = new List<Value>();
        var inputs = new List<SymbolicTensor>();
        var tensors = new List<Tensor>();
        var forms = new HashSet<string>();
        var denses = new List<(Dense Layer, int In)>();
        int nIn = 1 + rng.Next(2);
        for (int i = 0; i < nIn; i++)
        {
            int[] shape = rng.Next(3) switch
            {
                0 => [1 + rng.Next(2), 4, 4 + 2 * rng.Next(2)], // image
                1 => [2 + rng.Next(3), 1 + rng.Next(4)],        // whole sequence [T, F]
                _ => [1 + rng.Next(6)],
            };
            var x = Functional.Input(shape, name: $"in{i}");
            inputs.Add(x);
            values.Add(new Value(x, shape));
            tensors.Add(Tensor.Normal([n, .. shape], 0, 1, data, dtype));
        }
        LayerInit Init() => Schemes[rng.Next(Schemes.Length)] is { } s ? new LayerInit(s, seed: rng.Next(2) == 0 ? (ulong)rng.Next(1000) : null) : new LayerInit();
        Value Pick(Func<Value, bool> ok) => values.Where(ok).OrderBy(_ => rng.Next()).FirstOrDefault()!;
        int steps = 3 + rng.Next(5);
        for (int i = 0; i < steps; i++)
        {
            string name = $"l{i}";
            var vec = Pick(v => v.Shape.Length == 1);
            var img = Pick(v => v.Shape.Length == 3);
            var seq = Pick(v => v.Shape.Length == 2);
            Value? made = null;
            CatalogLayer? layer = null;
            switch (rng.Next(12))
            {
                case 0 when img is not null:
                    layer = new Conv2D(1 + rng.Next(3), 1 + 2 * rng.Next(2), padding: Padding.Same, activation: Acts[rng.Next(4)], useBias: rng.Next(2) == 0, name: name, init: Init());
                    made = new Value(layer.Call(img.S), [((Conv2D)layer).Filters, img.Shape[1], img.Shape[2]]);
                    break;
                case 1 when img is not null:
                    layer = rng.Next(3) switch
                    {
                        0 => new MaxPool2D(2, name: name),
                        1 => new AvgPool2D(2, name: name),
                        _ => new LocalResponseNorm(3, name: name),
                    };
                    made = new Value(layer.Call(img.S), layer is LocalResponseNorm ? img.Shape : [img.Shape[0], img.Shape[1] / 2, img.Shape[2] / 2]);
                    break;
                case 2 when img is not null && img.Shape[1] * img.Shape[2] <= 16:
                    layer = new Conv2DTranspose(1 + rng.Next(2), 3, 2, 1, 1, name: name);
                    made = new Value(layer.Call(img.S), [((Conv2DTranspose)layer).Filters, 2 * img.Shape[1], 2 * img.Shape[2]]);
                    break;
                case 3 when img is not null:
                    layer = rng.Next(2) == 0 ? new Flatten(name) : new GlobalMaxPool(name);
                    made = new Value(layer.Call(img.S), layer is Flatten ? [img.Shape[0] * img.Shape[1] * img.Shape[2]] : [img.Shape[0]]);
                    break;
                case 4 when seq is not null:
                {
                    int u = 1 + rng.Next(3);
                    bool all = rng.Next(2) == 0;
                    layer = rng.Next(4) switch
                    {
                        0 => new LSTM(u, all, peepholes: rng.Next(2) == 0, name: name, init: Init()),
                        1 => new GRU(u, all, goBackwards: rng.Next(2) == 0, name: name),
                        2 => new RNN(u, rng.Next(2) == 0 ? "tanh" : "relu", all, name: name),
                        _ => new BidirectionalLayer(new GRU(u, all), name: name),
                    };
                    int width = layer is BidirectionalLayer ? 2 * u : u;
                    made = new Value(layer.Call(seq.S), all ? [seq.Shape[0], width] : [width]);
                    break;
                }
                case 5 when seq is not null:
                    layer = new Flatten(name);
                    made = new Value(layer.Call(seq.S), [seq.Shape[0] * seq.Shape[1]]);
                    break;
                case 6 when vec is not null:
                    layer = rng.Next(4) switch
                    {
                        0 => new BatchNorm(0.05 + rng.NextDouble() * 0.5, name: name),
                        1 => new LayerNorm(name: name),
                        2 => new Dropout(0.1 + rng.NextDouble() * 0.5, name, rng.Next(2) == 0 ? (ulong)rng.Next() : null),
                        _ => new GaussianNoise(0.05 + rng.NextDouble(), name),
                    };
                    made = new Value(layer.Call(vec.S), vec.Shape);
                    break;
                case 7 when vec is not null:
                {
                    var other = Pick(v => v.Shape.Length == 1 && v != vec);
                    if (other is null) break;
                    if (other.Shape[0] == vec.Shape[0] && rng.Next(2) == 0)
                    {
                        layer = rng.Next(2) == 0 ? new Add(name) : new Product(name);
                        made = new Value(layer.Call(vec.S, other.S), vec.Shape);
                    }
                    else
                    {
                        layer = new Concatenate(name);
                        made = new Value(layer.Call(vec.S, other.S), [vec.Shape[0] + other.Shape[0]]);
                    }
                    break;
                }
                case 8 when vec is not null && denses.Count > 0:
                {
                    // a shared dense layer called again, or a tied decoder of an earlier dense layer
                    var (d, inSize) = denses[rng.Next(denses.Count)];
                    if (inSize == vec.Shape[0])
                    {
                        made = new Value(d.Call(vec.S), [d.Units]);
                        forms.Add("shared");
                    }
                    else if (vec.Shape[0] == d.Units)
                    {
                        layer = new Tied(d, Acts[rng.Next(4)], name);
                        made = new Value(layer.Call(vec.S), [inSize]);
                    }
                    break;
                }
                default:
                {
                    var src = vec ?? values[rng.Next(values.Count)];
                    int u = 1 + rng.Next(5);
                    var dense = rng.Next(6) == 0 ? new ClassifierLayer(u, name, Init())
                        : new Dense(u, Acts[rng.Next(4)], rng.Next(3) != 0, name, Init());
                    layer = dense;
                    made = new Value(dense.Call(src.S), [u]);
                    denses.Add((dense, src.Shape.Aggregate(1, (a, b) => a * b)));
                    break;
                }
            }
            if (made is null) continue;
            if (layer is not null) forms.Add(layer.GetConfig()!["form"].ToString()!);
            values.Add(made);
        }
        var candidates = values.Skip(nIn).ToList();
        if (candidates.Count == 0)
        {
            var d = new Dense(2, name: "fallback");
            candidates.Add(new Value(d.Call(values[0].S), [2]));
        }
        var outputs = new List<SymbolicTensor> { candidates[^1].S };
        if (candidates.Count > 1 && rng.Next(2) == 0) outputs.Add(candidates[rng.Next(candidates.Count - 1)].S);
        // every input must reach an output: join the unused ones through a dense layer into an extra output
        var used = new HashSet<SymbolicTensor>(outputs.SelectMany(o => o.Ancestry()), ReferenceEqualityComparer.Instance);
        foreach (var x in inputs)
            if (!used.Contains(x)) outputs.Add(new Dense(2, name: $"{x.Name}_head").Call(x));
        var m = new Model(inputs, outputs, $"rand{seed}", dtype, (ulong)seed);
        _ = m.Forward(tensors.ToArray(), training: true); // batch norm statistics move
        var noise = new RandomGenerator((ulong)seed + 77);
        using (Autograd.NoGrad())
            foreach (var p in m.Parameters) p.CopyFrom(p + Tensor.Normal(p.Shape.ToArray(), 0, 0.1, noise, p.DType));
        return (m, tensors.ToArray(), forms);
    }

    [Fact]
    public void RandomCatalogModels_RoundTripBitIdentical_WithIdenticalBytes()
    {
        var sw = Stopwatch.StartNew();
        var forms = new HashSet<string>();
        int models = 0;
        for (int seed = 0; seed < 150; seed++)
        {
            var (m, inputs, f) = RandomModel(seed);
            ModelFileTests.RoundTrip(m, inputs);
            forms.UnionWith(f);
            models++;
        }
        string summary = $"{models} models, forms: {string.Join(", ", forms.Order())}; {sw.Elapsed.TotalSeconds:F1} s";
        TestContext.Current.SendDiagnosticMessage(summary);
        foreach (var form in new[] { "dense", "classifier", "conv2", "pool2", "conv2t", "lrn", "flatten", "globalpool", "lstm", "gru", "rnn", "bidirectional",
                                     "batchnorm", "layernorm", "dropout", "noise", "add", "product", "concatenate", "tied", "shared" })
            Assert.True(forms.Contains(form), $"no model used '{form}': {summary}");
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(30), summary);
    }
}
