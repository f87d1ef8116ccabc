using System.Diagnostics;
using FlexNet.Autodiff;
using FlexNet.Connections;
using FlexNet.Graph;
using FlexNet.IO;
using FlexNet.Layers;
using FlexNet.Tensors;

namespace FlexNet.Tests.IO;

/// <summary>Random Connect networks (dense and conv layers, pooling, flatten, feedback and delayed edges, elementwise
/// and tied connections, learned initial states, batch norm, layer norm, LRN, dropout and noise layers, several inputs and outputs) survive save + load with bit-identical
/// outputs, and the loaded network saves to identical bytes.</summary>
public sealed class NetworkFilePropertyTests
{
    private static readonly string[] Acts = ["linear", "tanh", "sigmoid", "relu", "softsign"];

    internal static (Network Net, Tensor[] Inputs) RandomNetwork(int seed)
    {
        var rng = new Random(seed);
        var dtype = rng.Next(5) == 0 ? DType.Float64 : DType.Float32;
        var net = new Network($"rand{seed}", dtype, (ulong)seed);
        bool temporal = rng.Next(2) == 0;
        int t = 2 + rng.Next(3), n = 1 + rng.Next(3);
        var layers = new List<Layer>();
        var inputs = new List<Tensor>();
        var data = new RandomGenerator((ulong)seed + 1000);
        int nIn = 1 + rng.Next(2);
        for (int i = 0; i < nIn; i++)
        {
            int[] shape = rng.Next(3) == 0 ? [1 + rng.Next(2), 4 + rng.Next(3), 4 + rng.Next(3)] : [1 + rng.Next(6)];
            var x = net.Add(new InputLayer(shape, temporal ? t : null, $"in{i}"));
            layers.Add(x);
            int[] full = temporal ? [t, n, .. shape] : [n, .. shape];
            inputs.Add(Tensor.Normal(full, 0, 1, data, dtype));
        }
        bool recurrent = false;
        int nHidden = 2 + rng.Next(5);
        DenseConnection? lastDense = null;
        for (int i = 0; i < nHidden; i++)
        {
            var images = layers.Where(l => l.DeclaredShape is { Length: 3 } || l.OutputShapeGuess() is { Length: 3 }).ToList();
            int choice = rng.Next(10);
            string name = $"h{i}";
            if (choice < 3 && images.Count > 0)
            {
                // a conv layer fed by a 'same' conv from an image layer (and maybe a delayed conv from itself)
                var src = images[rng.Next(images.Count)];
                var s = src.OutputShapeGuess()!;
                int cout = 1 + rng.Next(3);
                var conv = net.Add(new Layer([cout, s[1], s[2]], Acts[rng.Next(Acts.Length)], bias: rng.Next(2) == 0, name: name));
                net.ConnectConv2d(src, conv, 1 + 2 * rng.Next(2), padding: Padding.Same, bias: rng.Next(2) == 0);
                if (rng.Next(3) == 0)
                {
                    net.ConnectConv2d(conv, conv, 3, padding: Padding.Same, delay: 1 + rng.Next(2));
                    recurrent = true;
                }
                layers.Add(conv);
            }
            else if (choice < 4 && images.Count > 0)
            {
                var src = images[rng.Next(images.Count)];
                var s = src.OutputShapeGuess()!;
                Layer pool = rng.Next(2) == 0 ? PoolLayer.Global(PoolKind.Average, name) : new PoolLayer(rng.Next(2) == 0 ? PoolKind.Max : PoolKind.Average, 2, 2, name: name);
                net.Connect(src, pool);
                layers.Add(pool);
            }
            else if (choice < 5 && images.Count > 0)
            {
                var f = new FlattenLayer(name);
                net.Connect(images[rng.Next(images.Count)], f);
                layers.Add(f);
            }
            else
            {
                int units = 1 + rng.Next(6);
                var combine = rng.Next(8) == 0 ? CombineRule.Product : CombineRule.Sum;
                var h = net.Add(new Layer(units, Acts[rng.Next(Acts.Length)], combine, bias: rng.Next(3) == 0, name: name));
                int fan = 1 + rng.Next(2);
                for (int k = 0; k < fan; k++)
                    lastDense = net.ConnectDense(layers[rng.Next(layers.Count)], h, bias: rng.Next(3) != 0);
                if (rng.Next(3) == 0)
                {
                    net.ConnectElementwise(h, h, delay: 1 + rng.Next(2), bias: rng.Next(2) == 0);
                    recurrent = true;
                }
                if (rng.Next(3) == 0 && layers.Count > nIn)
                {
                    // feedback from this layer into an earlier vector layer, delayed
                    var earlier = layers.Where(l => l is not InputLayer && l.GetType() == typeof(Layer) && l.DeclaredShape is { Length: 1 }).ToList();
                    if (earlier.Count > 0)
                    {
                        var target = earlier[rng.Next(earlier.Count)];
                        net.ConnectDense(h, target, delay: 1 + rng.Next(3), bias: rng.Next(2) == 0);
                        recurrent = true;
                        if (rng.Next(2) == 0) h.LearnInitialState = true;
                    }
                }
                if (rng.Next(5) == 0 && lastDense is not null && lastDense.To == h && lastDense.From.DeclaredShape is { Length: 1 } fs)
                {
                    var dec = net.Add(new Layer(fs[0], name: name + "dec"));
                    net.ConnectTied(h, dec, lastDense, bias: rng.Next(2) == 0);
                    layers.Add(h);
                    h = dec;
                }
                layers.Add(h);
            }
        }
        var candidates = layers.Where(l => l is not InputLayer).Distinct().ToList();
        int nOut = 1 + rng.Next(Math.Min(3, candidates.Count));
        for (int i = 0; i < nOut; i++)
            net.AddOutput(candidates[rng.Next(candidates.Count)], rng.Next(2) == 0 ? OutputMode.AllSteps : OutputMode.LastStep);
        // batch norm, dropout and Gaussian-noise layers (drawn from a generator of their own, so the networks above
        // stay as they were): one of them after a random layer, then maybe a dense layer after it; an extra output
        var extra = new Random(seed * 31 + 7);
        if (extra.Next(3) != 0)
        {
            var src = layers[extra.Next(layers.Count)];
            Layer stat = extra.Next(5) switch
            {
                0 => new BatchNormLayer(0.05 + 0.9 * extra.NextDouble(), 1e-5 * (1 + extra.Next(100)), $"bn{seed}"),
                1 => new DropoutLayer(0.5 * extra.NextDouble(), extra.Next(2) == 0 ? null : (ulong)extra.Next(1000), $"drop{seed}"),
                2 => new GaussianNoiseLayer(extra.NextDouble(), extra.Next(2) == 0 ? null : (ulong)extra.Next(1000), $"noise{seed}"),
                3 => new LayerNormLayer(1e-5 * (1 + extra.Next(100)), $"ln{seed}"),
                _ => new LocalResponseNormLayer(1 + extra.Next(4), extra.NextDouble(), 0.5 + extra.NextDouble(), 0.5 + extra.NextDouble(), $"lrn{seed}"),
            };
            net.Connect(src, net.Add(stat));
            Layer last = stat;
            if (extra.Next(2) == 0 && src.OutputShapeGuess() is { Length: 1 })
            {
                last = net.Add(new Layer(1 + extra.Next(4), Acts[extra.Next(Acts.Length)], name: $"after{seed}"));
                net.ConnectDense(stat, last);
            }
            net.AddOutput(last, extra.Next(2) == 0 ? OutputMode.AllSteps : OutputMode.LastStep);
        }
        // a stepped RNN/GRU/LSTM layer (its own generator again): after a random vector layer, in an unrolled network
        // maybe with a readout that feeds back into the cell input at delay 1 or 2; an extra output
        var cells = new Random(seed * 53 + 11);
        var vectors = layers.Where(l => l.OutputShapeGuess() is { Length: 1 }).Distinct().ToList();
        if (cells.Next(2) == 0 && vectors.Count > 0)
        {
            var src = vectors[cells.Next(vectors.Count)];
            int width = src.OutputShapeGuess()![0], units = 1 + cells.Next(4), back = 1 + cells.Next(3);
            bool feedback = (recurrent || temporal) && cells.Next(2) == 0;
            int? declared = feedback ? width + back : null;
            RecurrentLayer cfg = cells.Next(3) switch
            {
                0 => new RNN(units, cells.Next(2) == 0 ? "relu" : "tanh", inputWidth: declared),
                1 => new GRU(units, inputWidth: declared),
                _ => new LSTM(units, peepholes: cells.Next(2) == 0, inputWidth: declared),
            };
            var cell = net.Add(new RecurrentCellLayer(cfg, $"cell{seed}"));
            net.Connect(src, cell);
            Layer last = cell;
            if (feedback)
            {
                last = net.Add(new Layer(back, Acts[cells.Next(Acts.Length)], name: $"readout{seed}"));
                net.ConnectDense(cell, last);
                net.Connect(last, cell, delay: 1 + cells.Next(2));
            }
            net.AddOutput(last, cells.Next(2) == 0 ? OutputMode.AllSteps : OutputMode.LastStep);
        }
        if (recurrent && !temporal) net.Steps = t;
        if (rng.Next(4) == 0) net.TruncatedBptt = 1 + rng.Next(3);
        net.Compile();
        // move every weight away from its seeded initial value, so a loader that re-initialises cannot pass
        var noise = new RandomGenerator((ulong)seed + 77);
        using (Autograd.NoGrad())
        {
            foreach (var p in net.Parameters) p.CopyFrom(p + Tensor.Normal(p.Shape.ToArray(), 0, 0.2, noise, p.DType));
            foreach (var l in net.Layers)
                foreach (var b in l.Buffers) b.CopyFrom(Tensor.Uniform(b.Shape.ToArray(), 0.5, 2, noise, b.DType)); // running statistics
        }
        return (net, inputs.ToArray());
    }

    [Fact]
    public void TwoHundredRandomNetworks_RoundTripBitIdentical_WithIdenticalBytes()
    {
        var sw = Stopwatch.StartNew();
        string dir = TestFiles.NewTempDir();
        int nets = 0, convs = 0, recurrentNets = 0, tied = 0, parameters = 0, norms = 0, noises = 0, rnns = 0, cellFeedback = 0;
        try
        {
            for (int seed = 0; seed < 220; seed++)
            {
                var (net, inputs) = RandomNetwork(seed);
                var before = NetworkFileTests.Run(net, inputs);
                var (meta, entries) = NetworkFile.Image(net);
                byte[] bytes = SafeTensorWriter.ToBytes(meta, entries);
                Network loaded;
                if (seed % 10 == 0)
                {
                    string path = Path.Combine(dir, $"r{seed}.flexnet");
                    net.Save(path);
                    Assert.Equal(bytes, File.ReadAllBytes(path));
                    loaded = Network.Load(path);
                }
                else loaded = NetworkFile.FromFile(SafeTensorFile.Parse(bytes, $"r{seed}"), $"r{seed}");
                NetworkFileTests.AssertBitIdentical(before, NetworkFileTests.Run(loaded, inputs), $"network {seed}");
                var (meta2, entries2) = NetworkFile.Image(loaded);
                Assert.Equal(bytes, SafeTensorWriter.ToBytes(meta2, entries2));
                nets++;
                if (net.Connections.Any(c => c is Conv2dConnection)) convs++;
                if (net.Connections.Any(c => c.Delay > 0)) recurrentNets++;
                if (net.Connections.Any(c => c is TiedConnection)) tied++;
                if (net.Layers.Any(l => l is BatchNormLayer or LayerNormLayer or LocalResponseNormLayer)) norms++;
                if (net.Layers.Any(l => l is DropoutLayer or GaussianNoiseLayer)) noises++;
                if (net.Layers.Any(l => l is RecurrentCellLayer)) rnns++;
                if (net.Connections.Any(c => c.To is RecurrentCellLayer && c.Delay > 0)) cellFeedback++;
                parameters += entries.Count;
            }
        }
        finally
        {
            Directory.Delete(dir, true);
        }
        TestContext.Current.SendDiagnosticMessage($"{nets} networks ({convs} with conv, {recurrentNets} recurrent, {tied} tied, {norms} normalisation, {noises} dropout/noise, {rnns} RNN/GRU/LSTM ({cellFeedback} with feedback), {parameters} tensors) in {sw.Elapsed.TotalSeconds:F1} s");
        Assert.True(nets >= 200);
        Assert.True(convs >= 20 && recurrentNets >= 40 && tied >= 5 && norms >= 40 && noises >= 30 && rnns >= 40 && cellFeedback >= 15,
            $"too little variety: {convs} conv, {recurrentNets} recurrent, {tied} tied, {norms} normalisation, {noises} dropout/noise, {rnns} RNN/GRU/LSTM ({cellFeedback} with feedback)");
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(20), $"took {sw.Elapsed.TotalSeconds:F1} s");
    }
}

internal static class LayerShapeGuess
{
    /// <summary>The per-sample output shape a layer will have, from what the test generator knows while building.</summary>
    public static int[]? OutputShapeGuess(this Layer l) => l switch
    {
        InputLayer i => i.DeclaredShape,
        PoolLayer => null,
        FlattenLayer => null,
        _ => l.DeclaredShape,
    };
}
