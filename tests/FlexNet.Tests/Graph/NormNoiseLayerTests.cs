// Over 400 lines on purpose: the norm and noise layer kinds in Connect graphs (batch/layer norm, LRN, dropout,
// Gaussian noise), each checked against loops written here, sharing the graph builders at the end.
using System.Text.Json.Nodes;
using FlexNet.Autodiff;
using FlexNet.Connections;
using FlexNet.Graph;
using FlexNet.IO;
using FlexNet.Layers;
using FlexNet.Models;
using FlexNet.Tensors;
using FlexNet.Tests.IO;

namespace FlexNet.Tests.Graph;

/// <summary>Batch norm, dropout and Gaussian noise are public layer kinds (<see cref="BatchNormLayer"/>,
/// <see cref="DropoutLayer"/>, <see cref="GaussianNoiseLayer"/>): the Keras-style builders add exactly these layers, a
/// Connect network holds them with the ordinary calls, computes what hand-written loops compute, and saves and loads
/// them bit-identically.</summary>
public sealed class NormNoiseLayerTests
{
    private static Sequential SequentialNet() =>
        new("same", DType.Float64, 11, new Dense(4, "tanh", name: "fc1"), new BatchNorm(0.2, 1e-3, name: "bn"),
            new Dropout(0.4, name: "drop", seed: 5), new GaussianNoise(0.3, name: "noise", seed: 6), new LayerNorm(1e-4, name: "ln"),
            new LocalResponseNorm(3, 0.2, 0.6, 1.5, name: "lrn"), new Dense(2, name: "head")) { InputShape = [3] };

    private static Network ConnectNet()
    {
        var net = new Network("same", DType.Float64, 11);
        var x = net.Add(new InputLayer(3, name: "input"));
        var fc1 = net.Add(new Layer(4, "tanh", name: "fc1"));
        net.ConnectDense(x, fc1, name: "fc1");
        var bn = net.Add(new BatchNormLayer(0.2, 1e-3, "bn"));
        net.Connect(fc1, bn);
        var drop = net.Add(new DropoutLayer(0.4, 5, "drop"));
        net.Connect(bn, drop);
        var noise = net.Add(new GaussianNoiseLayer(0.3, 6, "noise"));
        net.Connect(drop, noise);
        var ln = net.Add(new LayerNormLayer(1e-4, "ln"));
        net.Connect(noise, ln);
        var lrn = net.Add(new LocalResponseNormLayer(3, 0.2, 0.6, 1.5, "lrn"));
        net.Connect(ln, lrn);
        var head = net.Add(new Layer(2, name: "head"));
        net.ConnectDense(lrn, head, name: "head");
        net.AddOutput(head, OutputMode.LastStep);
        return net;
    }

    [Fact]
    public void SameNetworkDrawnWithConnectAndSequential_IsTheSameGraph_WithIdenticalOutputs()
    {
        var seq = SequentialNet();
        var a = seq.Network;
        var b = ConnectNet();
        a.Compile();
        b.Compile();
        Assert.Equal(a.Layers.Select(l => l.Name), b.Layers.Select(l => l.Name));
        Assert.Equal(a.Layers.Select(l => l.GetType()), b.Layers.Select(l => l.GetType()));
        Assert.Equal([typeof(InputLayer), typeof(Layer), typeof(BatchNormLayer), typeof(DropoutLayer), typeof(GaussianNoiseLayer),
                      typeof(LayerNormLayer), typeof(LocalResponseNormLayer), typeof(Layer)], a.Layers.Select(l => l.GetType()));
        Assert.Equal(a.Connections.Select(c => (c.GetType(), c.From.Name, c.To.Name)), b.Connections.Select(c => (c.GetType(), c.From.Name, c.To.Name)));
        Assert.Equal(a.NamedParameters.Select(p => p.Name), b.NamedParameters.Select(p => p.Name));
        Assert.Equal(["fc1.weight", "fc1.bias", "head.weight", "head.bias", "bn.gamma", "bn.beta", "ln.gamma", "ln.beta"], b.NamedParameters.Select(p => p.Name));
        Assert.Equal(["bn.running_mean", "bn.running_var"], b.Layers.SelectMany(l => l.Buffers).Select(t => t.Name));

        // the same weights (and moved running statistics) in both
        var rng = new RandomGenerator(3);
        using (Autograd.NoGrad())
        {
            foreach (var ((_, pa), (_, pb)) in a.NamedParameters.Zip(b.NamedParameters))
            {
                pa.CopyFrom(Tensor.Normal(pa.ShapeArray, 0, 0.7, rng, DType.Float64));
                pb.CopyFrom(pa);
            }
            foreach (var (ta, tb) in a.Layers.SelectMany(l => l.Buffers).Zip(b.Layers.SelectMany(l => l.Buffers)))
            {
                ta.CopyFrom(Tensor.Uniform(ta.ShapeArray, 0.5, 2, rng, DType.Float64));
                tb.CopyFrom(ta);
            }
        }
        var input = Tensor.Normal([6, 3], 0, 1, new RandomGenerator(4), DType.Float64);
        for (int round = 0; round < 2; round++)
        {
            NetworkFileTests.AssertBitIdentical(a.Forward([input], training: false), b.Forward([input], training: false), $"eval {round}");
            // training: the same batch statistics, dropout masks and noise (each layer's generator is its seed and name)
            Tensor[] ta, tb;
            using (Autograd.NoGrad())
            {
                ta = a.Forward([input], training: true);
                tb = b.Forward([input], training: true);
            }
            NetworkFileTests.AssertBitIdentical(ta, tb, $"training {round}");
            NetworkFileTests.AssertBitIdentical([.. a.Layers.SelectMany(l => l.Buffers)], [.. b.Layers.SelectMany(l => l.Buffers)], $"running statistics {round}");
        }
        // the builder's view is the layer's
        var bnBuilder = (BatchNorm)seq.Layers.First(l => l.Name == "bn");
        Assert.Same(((BatchNormLayer)a.Layers.First(l => l.Name == "bn")).RunningMean, bnBuilder.RunningMean);
    }

    /// <summary>y = γ (x − μ)/√(σ² + ε) + β per channel, written as loops over [N, C, S] (S = spatial size).</summary>
    private static double[] BatchNormByHand(double[] x, int n, int c, int s, double[] g, double[] be, double[]? mean, double[]? var, double eps,
                                            out double[] batchMean, out double[] batchVar)
    {
        batchMean = new double[c];
        batchVar = new double[c];
        for (int k = 0; k < c; k++)
        {
            double sum = 0;
            for (int i = 0; i < n; i++) for (int j = 0; j < s; j++) sum += x[(i * c + k) * s + j];
            double m = sum / (n * s), q = 0;
            for (int i = 0; i < n; i++) for (int j = 0; j < s; j++) q += (x[(i * c + k) * s + j] - m) * (x[(i * c + k) * s + j] - m);
            batchMean[k] = m;
            batchVar[k] = q / (n * s);
        }
        var y = new double[x.Length];
        for (int i = 0; i < n; i++)
            for (int k = 0; k < c; k++)
                for (int j = 0; j < s; j++)
                {
                    double mu = mean?[k] ?? batchMean[k], v = var?[k] ?? batchVar[k];
                    y[(i * c + k) * s + j] = g[k] * (x[(i * c + k) * s + j] - mu) / Math.Sqrt(v + eps) + be[k];
                }
        return y;
    }

    [Theory]
    [InlineData(new[] { 5 })]
    [InlineData(new[] { 3, 2, 4 })]
    public void BatchNormLayer_InAConnectNetwork_MatchesLoops_InTrainingAndEvaluation(int[] shape)
    {
        var net = new Network("bn", DType.Float64, 1);
        var x = net.Add(new InputLayer(shape, name: "x"));
        var bn = net.Add(new BatchNormLayer(0.3, 1e-4, "bn"));
        Assert.IsType<IdentityConnection>(net.Connect(x, bn));
        net.AddOutput(bn);
        net.Compile();
        int c = shape[0], s = shape.Skip(1).Aggregate(1, (p, d) => p * d), n = 4;
        var rng = new RandomGenerator(9);
        using (Autograd.NoGrad())
        {
            bn.Gamma!.CopyFrom(Tensor.Uniform([c], 0.5, 1.5, rng, DType.Float64));
            bn.Beta!.CopyFrom(Tensor.Normal([c], 0, 1, rng, DType.Float64));
        }
        var input = Tensor.Normal([n, .. shape], 1, 2, rng, DType.Float64);
        double[] xs = input.ToDoubleArray(), g = bn.Gamma!.ToDoubleArray(), be = bn.Beta!.ToDoubleArray();

        double[] y;
        using (Autograd.NoGrad()) y = net.Forward([input], training: true)[0].ToDoubleArray();
        var want = BatchNormByHand(xs, n, c, s, g, be, null, null, 1e-4, out var bm, out var bv);
        for (int i = 0; i < y.Length; i++) Assert.Equal(want[i], y[i], 1e-12);
        double[] rm = bn.RunningMean!.ToDoubleArray(), rv = bn.RunningVar!.ToDoubleArray();
        int count = n * s;
        for (int k = 0; k < c; k++)
        {
            Assert.Equal(0.3 * bm[k], rm[k], 1e-12);
            Assert.Equal(0.7 + 0.3 * bv[k] * count / (count - 1), rv[k], 1e-12);
        }

        var eval = net.Forward([input], training: false)[0].ToDoubleArray();
        var wantEval = BatchNormByHand(xs, n, c, s, g, be, rm, rv, 1e-4, out _, out _);
        for (int i = 0; i < eval.Length; i++) Assert.Equal(wantEval[i], eval[i], 1e-12);
        Assert.Equal(rm, bn.RunningMean!.ToDoubleArray()); // evaluation leaves the statistics alone
    }

    [Fact]
    public void DropoutAndNoiseLayers_ActInTrainingOnly()
    {
        var net = new Network("noise", DType.Float64, 1);
        var x = net.Add(new InputLayer(400, name: "x"));
        var drop = net.Add(new DropoutLayer(0.25, 17, "drop"));
        Assert.IsType<IdentityConnection>(net.Connect(x, drop));
        var noise = net.Add(new GaussianNoiseLayer(0.5, 18, "noise"));
        net.Connect(x, noise);
        net.AddOutput(drop).AddOutput(noise);
        var input = Tensor.Normal([5, 400], 0, 1, new RandomGenerator(2), DType.Float64);
        double[] xs = input.ToDoubleArray();
        var eval = net.Forward(input);
        Assert.Equal(xs, eval[0].ToDoubleArray());
        Assert.Equal(xs, eval[1].ToDoubleArray());

        Tensor[] train;
        using (Autograd.NoGrad()) train = net.Forward([input], training: true);
        double[] d = train[0].ToDoubleArray(), z = train[1].ToDoubleArray();
        int dropped = 0;
        double sum = 0, sq = 0;
        for (int i = 0; i < xs.Length; i++)
        {
            if (d[i] == 0) dropped++;
            else Assert.Equal(xs[i] / 0.75, d[i], 1e-12);
            double e = z[i] - xs[i];
            sum += e;
            sq += e * e;
        }
        double frac = dropped / (double)xs.Length, mean = sum / xs.Length, std = Math.Sqrt(sq / xs.Length - mean * mean);
        Assert.InRange(frac, 0.22, 0.28); // 2000 Bernoulli(0.25) draws: sd 0.0097
        Assert.InRange(mean, -0.04, 0.04); // sd 0.5/√2000 = 0.011
        Assert.InRange(std, 0.47, 0.53);
    }

    /// <summary>A Connect network with batch norm (moved running statistics), dropout and noise, for the file tests.</summary>
    internal static Network FileNet()
    {
        var net = new Network("normnoise", DType.Float32, 21) { Steps = 2 };
        var x = net.Add(new InputLayer([2, 4, 4], name: "x"));
        var words = net.Add(new InputLayer([3], name: "words"));
        var conv = net.Add(new Layer([3, 4, 4], "relu", name: "conv"));
        net.ConnectConv2d(x, conv, 3, padding: Padding.Same);
        var bn = net.Add(new BatchNormLayer(0.15, 2e-5, "bn"));
        net.Connect(conv, bn);
        var lrn = net.Add(new LocalResponseNormLayer(2, 0.3, 0.7, 1.2, "lrn"));
        net.Connect(bn, lrn);
        var flat = net.Add(new FlattenLayer("flat"));
        net.Connect(lrn, flat);
        var drop = net.Add(new DropoutLayer(0.3, 99, "drop"));
        net.Connect(flat, drop);
        var emb = net.Add(new EmbeddingLayer(7, 2, "emb"));
        net.Connect(words, emb);
        var embFlat = net.Add(new FlattenLayer("emb_flat"));
        net.Connect(emb, embFlat);
        var h = net.Add(new Layer(5, "tanh", name: "h"));
        net.ConnectDense(drop, h);
        net.ConnectDense(embFlat, h);
        net.ConnectDense(h, h, delay: 1);
        var ln = net.Add(new LayerNormLayer(1e-3, "ln"));
        net.Connect(h, ln);
        var noise = net.Add(new GaussianNoiseLayer(0.2, name: "noise"));
        net.Connect(ln, noise);
        var y = net.Add(new Layer(2, name: "y"));
        net.ConnectDense(noise, y);
        net.AddOutput(y);
        net.Compile();
        using (Autograd.NoGrad())
        {
            bn.RunningMean!.CopyFrom(Tensor.Normal([3], 0, 0.5, new RandomGenerator(1), DType.Float32));
            bn.RunningVar!.CopyFrom(Tensor.Uniform([3], 0.5, 2, new RandomGenerator(2), DType.Float32));
            bn.Gamma!.CopyFrom(Tensor.Uniform([3], 0.5, 2, new RandomGenerator(3), DType.Float32));
            ln.Beta!.CopyFrom(Tensor.Normal([5], 0, 1, new RandomGenerator(4), DType.Float32));
        }
        return net;
    }

    private static Tensor[] FileNetInputs() =>
    [
        Tensor.Normal([3, 2, 4, 4], 0, 1, new RandomGenerator(8), DType.Float32),
        Tensor.FromArray(new float[] { 0, 6, 3, 1, 1, 5, 2, 4, 0 }, [3, 3]),
    ];

    [Fact]
    public void ConnectNetworkWithNormAndNoise_SavesAndLoadsBitIdentically_InEvaluationAndTraining()
    {
        string dir = TestFiles.NewTempDir();
        try
        {
            var net = FileNet();
            string path = Path.Combine(dir, "n.flexnet");
            net.Save(path);
            var loaded = Network.Load(path);
            Assert.Equal(net.Layers.Select(l => l.GetType()), loaded.Layers.Select(l => l.GetType()));
            var bn = (BatchNormLayer)loaded.Layers.First(l => l.Name == "bn");
            Assert.Equal((0.15, 2e-5), (bn.Momentum, bn.Epsilon));
            Assert.Equal(99UL, ((DropoutLayer)loaded.Layers.First(l => l.Name == "drop")).Seed);
            Assert.Null(((GaussianNoiseLayer)loaded.Layers.First(l => l.Name == "noise")).Seed);
            Assert.Equal(net.StateDict().Keys.Order(), loaded.StateDict().Keys.Order());
            Assert.Contains("bn.running_var", loaded.StateDict().Keys);

            var input = FileNetInputs();
            NetworkFileTests.AssertBitIdentical(NetworkFileTests.Run(net, input), NetworkFileTests.Run(loaded, input), "evaluation");
            Tensor[] a, b;
            using (Autograd.NoGrad())
            {
                a = net.Forward(input, training: true);
                b = loaded.Forward(input, training: true);
            }
            NetworkFileTests.AssertBitIdentical(a, b, "training");
            NetworkFileTests.AssertBitIdentical([((BatchNormLayer)net.Layers.First(l => l.Name == "bn")).RunningVar!], [bn.RunningVar!], "running variance");

            string again = Path.Combine(dir, "m.flexnet");
            loaded.Save(again);
            var first = File.ReadAllBytes(path);
            Assert.NotEqual(first, File.ReadAllBytes(again)); // the training pass moved the running statistics
            var reloaded = Network.Load(again);
            NetworkFileTests.AssertBitIdentical(NetworkFileTests.Run(loaded, input), NetworkFileTests.Run(reloaded, input), "after training");
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    private static Exception LoadEdited(Action<JsonNode> edit)
    {
        var (meta, entries) = NetworkFile.Image(FileNet());
        var arch = JsonNode.Parse(meta["architecture"])!;
        edit(arch);
        var bytes = SafeTensorWriter.ToBytes(new Dictionary<string, string>(meta) { ["architecture"] = arch.ToJsonString() }, entries);
        return Record.Exception(() => NetworkFile.FromFile(SafeTensorFile.Parse(bytes, "edited.flexnet"), "edited.flexnet"))!;
    }

    private static JsonNode Entry(JsonNode arch, string name) => arch["layers"]!.AsArray().First(l => (string)l!["name"]! == name)!;

    [Fact]
    public void BadNormOrNoiseOptions_AreTypedFormatErrors_NamingTheLayer()
    {
        var e = Assert.IsType<ModelFormatException>(LoadEdited(a => Entry(a, "bn")["options"]!["momentum"] = "1.5"));
        Assert.Contains("'bn'", e.Message);
        Assert.Contains("momentum", e.Message);
        e = Assert.IsType<ModelFormatException>(LoadEdited(a => Entry(a, "drop")["options"]!["rate"] = "lots"));
        Assert.Contains("'drop'", e.Message);
        Assert.Contains("rate", e.Message);
        e = Assert.IsType<ModelFormatException>(LoadEdited(a => Entry(a, "noise")["options"]!["colour"] = "pink"));
        Assert.Contains("colour", e.Message);
        e = Assert.IsType<ModelFormatException>(LoadEdited(a => Entry(a, "drop")["options"]!["seed"] = "-3"));
        Assert.Contains("seed", e.Message);
        e = Assert.IsType<ModelFormatException>(LoadEdited(a => Entry(a, "bn")["options"]!.AsObject().Remove("epsilon")));
        Assert.Contains("epsilon", e.Message);
        var reserved = Assert.Throws<ArgumentException>(() => LayerKinds.Register<BatchNormLayer>("batchnorm", _ => new Dictionary<string, string>(),
            (n, _) => new BatchNormLayer(name: n), (i, _) => new LayerShapes(i, [])));
        Assert.Contains("FlexNet's own", reserved.Message);
    }

    [Fact]
    public void LayerNormAndLrnLayers_MatchLoops()
    {
        var net = new Network("ln", DType.Float64, 1);
        var x = net.Add(new InputLayer([3, 2, 5], name: "x"));
        var ln = net.Add(new LayerNormLayer(1e-3, "ln"));
        Assert.IsType<IdentityConnection>(net.Connect(x, ln));
        var lrn = net.Add(new LocalResponseNormLayer(4, 0.3, 0.8, 1.1, "lrn"));
        Assert.IsType<IdentityConnection>(net.Connect(x, lrn));
        net.AddOutput(ln).AddOutput(lrn);
        net.Compile();
        var rng = new RandomGenerator(5);
        using (Autograd.NoGrad())
        {
            ln.Gamma!.CopyFrom(Tensor.Uniform([5], 0.5, 1.5, rng, DType.Float64));
            ln.Beta!.CopyFrom(Tensor.Normal([5], 0, 1, rng, DType.Float64));
        }
        const int n = 2, c = 3, s = 2, d = 5;
        var input = Tensor.Normal([n, c, s, d], 0.5, 2, rng, DType.Float64);
        double[] xs = input.ToDoubleArray(), g = ln.Gamma!.ToDoubleArray(), be = ln.Beta!.ToDoubleArray();
        foreach (bool training in new[] { false, true })
        {
            Tensor[] outs;
            using (Autograd.NoGrad()) outs = net.Forward([input], training);
            double[] y = outs[0].ToDoubleArray(), r = outs[1].ToDoubleArray();
            for (int row = 0; row < n * c * s; row++)
            {
                double m = 0, v = 0;
                for (int j = 0; j < d; j++) m += xs[row * d + j];
                m /= d;
                for (int j = 0; j < d; j++) v += (xs[row * d + j] - m) * (xs[row * d + j] - m);
                v /= d;
                for (int j = 0; j < d; j++) Assert.Equal(g[j] * (xs[row * d + j] - m) / Math.Sqrt(v + 1e-3) + be[j], y[row * d + j], 1e-12);
            }
            // LRN window for size 4: c' from c − 2 to c + 1
            for (int i = 0; i < n; i++)
                for (int k = 0; k < c; k++)
                    for (int p = 0; p < s * d; p++)
                    {
                        double sum = 0;
                        for (int kk = k - 2; kk <= k + 1; kk++)
                            if (kk >= 0 && kk < c) sum += xs[(i * c + kk) * s * d + p] * xs[(i * c + kk) * s * d + p];
                        int at = (i * c + k) * s * d + p;
                        Assert.Equal(xs[at] / Math.Pow(1.1 + 0.3 * sum, 0.8), r[at], 1e-12);
                    }
        }
    }

    [Fact]
    public void EmbeddingLayer_LooksUpRows_AndTheBuilderMakesTheSameGraph()
    {
        var seq = new Sequential("emb", DType.Float64, 4, new Embedding(6, 3, name: "emb")) { InputShape = [4] };
        var a = seq.Network;
        var b = new Network("emb", DType.Float64, 4);
        var x = b.Add(new InputLayer(4, name: "input"));
        var emb = b.Add(new EmbeddingLayer(6, 3, "emb"));
        Assert.IsType<IdentityConnection>(b.Connect(x, emb));
        b.AddOutput(emb, OutputMode.LastStep);
        a.Compile();
        b.Compile();
        Assert.Equal(a.Layers.Select(l => (l.GetType(), l.Name)), b.Layers.Select(l => (l.GetType(), l.Name)));
        Assert.Equal(a.Connections.Select(c => c.GetType()), b.Connections.Select(c => c.GetType()));
        Assert.Equal(["emb.weight"], b.NamedParameters.Select(p => p.Name));
        // the same seed draws the same N(0, 1) table whichever front end built it
        NetworkFileTests.AssertBitIdentical([a.NamedParameters[0].Value], [emb.Weight!], "initial table");
        var idx = new double[] { 5, 0, 2, 2, 1, 3, 4, 0 };
        var y = b.Forward(Tensor.FromArray(idx, [2, 4]))[0];
        Assert.Equal([2, 4, 3], y.Shape.ToArray());
        double[] w = emb.Weight!.ToDoubleArray(), ys = y.ToDoubleArray();
        for (int i = 0; i < idx.Length; i++)
            for (int j = 0; j < 3; j++) Assert.Equal(w[(int)idx[i] * 3 + j], ys[i * 3 + j]);
        NetworkFileTests.AssertBitIdentical(a.Forward(Tensor.FromArray(idx, [2, 4])), [y], "sequential");
    }

    [Fact]
    public void SequentialModelsNetwork_SavesAsAConnectNetwork_AndLoadsBitIdentically()
    {
        // one vocabulary: the network a Sequential model built holds only public layer and connection kinds
        var seq = SequentialNet();
        var net = seq.Network;
        using (Autograd.NoGrad()) _ = net.Forward([Tensor.Normal([5, 3], 0, 1, new RandomGenerator(1), DType.Float64)], training: true); // moves the running statistics
        string dir = TestFiles.NewTempDir();
        try
        {
            string path = Path.Combine(dir, "seq.flexnet");
            net.Save(path);
            var loaded = Network.Load(path);
            Assert.Equal(net.Layers.Select(l => (l.GetType(), l.Name)), loaded.Layers.Select(l => (l.GetType(), l.Name)));
            var input = Tensor.Normal([4, 3], 0, 1, new RandomGenerator(2), DType.Float64);
            NetworkFileTests.AssertBitIdentical(NetworkFileTests.Run(net, [input]), NetworkFileTests.Run(loaded, [input]), "evaluation");
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}
