// Over 400 lines on purpose: every Keras-style builder of the catalog against loops written here, one test each,
// sharing the shape and value helpers at the end.
using FlexNet.Layers;
using FlexNet.Models;
using FlexNet.Tests.Testing;
using static FlexNet.Models.Functional;
using FlexNet.Tensors;
using FlexNet.Autodiff;

namespace FlexNet.Tests.Layers;

/// <summary>Every catalog layer: a forward check against a computation written here in plain loops (or an engine
/// op tested elsewhere) and a float64 gradient check through the whole model (inputs and parameters).</summary>
public class CatalogLayerTests
{
    private static Model One(CatalogLayer layer, params int[] shape)
    {
        var x = Input(shape);
        return new Model(x, layer.Call(x), layer.Form, DType.Float64, 3);
    }

    private static void GradAll(string name, Model m, Tensor x, bool training = false)
    {
        _ = m.Forward(x, training);
        var inputs = new List<Tensor> { x };
        inputs.AddRange(m.Parameters);
        T.GradOk(name, p => m.Forward(p[0], training), [.. inputs]);
    }

    [Fact]
    public void DenseForwardAndGradient()
    {
        var d = new Dense(4, "tanh");
        var m = One(d, 3);
        var x = T.Rand(1, 5, 3);
        var y = m.Forward(x).ToDoubleArray();
        var w = d.Weight.ToDoubleArray();
        var b = d.Bias!.ToDoubleArray();
        var xv = x.ToDoubleArray();
        for (int n = 0; n < 5; n++)
            for (int o = 0; o < 4; o++)
            {
                double s = b[o];
                for (int i = 0; i < 3; i++) s += xv[n * 3 + i] * w[o * 3 + i];
                Assert.Equal(Math.Tanh(s), y[n * 4 + o], 12);
            }
        GradAll("dense", m, x);
        Assert.Equal("dense2.weight", d.Weight.Name); // automatic name: kind + position
        Assert.Equal("dense2.bias", d.Bias!.Name);
    }

    [Fact]
    public void DenseWithoutBiasAndMultipleInputs()
    {
        var a = Input(3, name: "a");
        var b = Input(2, name: "b");
        var d = new Dense(4, useBias: false, name: "d");
        var m = new Model([a, b], [d.Call(a, b)], "m", DType.Float64);
        var xa = T.Rand(1, 2, 3);
        var xb = T.Rand(2, 2, 2);
        var y = m.Forward([xa, xb], false)[0];
        var ws = m.Parameters;
        Assert.Equal(2, ws.Count);
        var expected = NN.MatMul(xa, ws[0].T) + NN.MatMul(xb, ws[1].T);
        T.Close(expected.ToDoubleArray(), y.ToDoubleArray(), 1e-12, 1e-12, "two inputs");
        Assert.Equal(["d:a.weight", "d:b.weight"], m.NamedParameters.Select(p => p.Name).ToArray());
    }

    [Fact]
    public void ClassifierIsSoftmaxOfDense()
    {
        var c = new ClassifierLayer(3);
        var m = One(c, 4);
        var x = T.Rand(2, 6, 4);
        var y = m.Forward(x);
        var z = NN.MatMul(x, c.Weight.T) + c.Bias!;
        var e = (z - z.Max(1, true)).Exp();
        T.Close((e / e.Sum([1], true)).ToDoubleArray(), y.ToDoubleArray(), 1e-12, 1e-12, "classifier");
        GradAll("classifier", m, x);
    }

    [Fact]
    public void TiedSharesTheTransposedWeight()
    {
        var x = Input(5);
        var enc = new Dense(3, "tanh", name: "enc");
        var dec = new Tied(enc, "linear", name: "dec");
        var m = new Model(x, dec.Call(enc.Call(x)), "tied", DType.Float64);
        var xs = T.Rand(3, 4, 5);
        var y = m.Forward(xs);
        Assert.Equal(3, m.Parameters.Count); // W, b of enc and the decoder's own bias
        var h = (NN.MatMul(xs, enc.Weight.T) + enc.Bias!).Tanh();
        var decBias = m.Parameters.Single(p => p.Name == "dec.bias");
        T.Close((NN.MatMul(h, enc.Weight) + decBias).ToDoubleArray(), y.ToDoubleArray(), 1e-12, 1e-12, "tied");
        GradAll("tied", m, xs);
    }

    [Fact]
    public void MergesAndShapeLayers()
    {
        var a = Input(3, name: "a");
        var b = Input(3, name: "b");
        var m = new Model([a, b], [new Concatenate().Call(a, b), new Add().Call(a, b), new Product().Call(a, b)], "merge", DType.Float64);
        var xa = T.Rand(1, 2, 3);
        var xb = T.Rand(2, 2, 3);
        var ys = m.Forward([xa, xb], false);
        T.Close(Tensor.Concat([xa, xb], 1).ToDoubleArray(), ys[0].ToDoubleArray(), 0, 0, "concat");
        T.Close((xa + xb).ToDoubleArray(), ys[1].ToDoubleArray(), 0, 0, "add");
        T.Close((xa * xb).ToDoubleArray(), ys[2].ToDoubleArray(), 0, 0, "product");

        var img = Input([2, 3, 4]);
        var flat = new Flatten().Call(img);
        var back = new Reshape([4, 6]).Call(flat);
        var fm = new Model([img], [flat, back], "shape", DType.Float64);
        var xi = T.Rand(3, 2, 2, 3, 4);
        var fy = fm.Forward([xi], false);
        Assert.Equal([2, 24], fy[0].ShapeArray);
        Assert.Equal([2, 4, 6], fy[1].ShapeArray);
        Assert.Equal(xi.ToDoubleArray(), fy[1].ToDoubleArray());
    }

    [Fact]
    public void DropoutAndNoiseAreTrainingOnly()
    {
        var x = Tensor.Ones([200, 50], DType.Float64);
        var drop = One(new Dropout(0.3, seed: 1), 50);
        Assert.Equal(x.ToDoubleArray(), drop.Forward(x, false).ToDoubleArray());
        var y = drop.Forward(x, true).ToDoubleArray();
        int zeros = y.Count(v => v == 0);
        Assert.All(y, v => Assert.True(v == 0 || Math.Abs(v - 1 / 0.7) < 1e-12));
        Assert.InRange(zeros / (double)y.Length, 0.27, 0.33);
        var noise = One(new GaussianNoise(0.5, seed: 2), 50);
        Assert.Equal(x.ToDoubleArray(), noise.Forward(x, false).ToDoubleArray());
        var e = (noise.Forward(x, true) - x).ToDoubleArray();
        double sd = Math.Sqrt(e.Select(v => v * v).Average());
        Assert.InRange(sd, 0.47, 0.53);
        Assert.InRange(e.Average(), -0.02, 0.02);
    }

    [Fact]
    public void EmbeddingGathersRows()
    {
        var emb = new Embedding(7, 3);
        var m = One(emb, 4);
        var idx = Tensor.FromArray([0.0, 6, 2, 2, 5, 1, 0, 3], 2, 4);
        var y = m.Forward(idx);
        Assert.Equal([2, 4, 3], y.ShapeArray);
        var w = emb.Parameters[0];
        var iv = idx.ToDoubleArray();
        for (int k = 0; k < 8; k++)
            for (int d = 0; d < 3; d++)
                Assert.Equal(w[(int)iv[k], d], y[k / 4, k % 4, d]);
        T.GradOk("embedding", _ => m.Forward(idx), w);
        w.ZeroGrad();
        (y * y).Sum().Backward();
        Assert.NotNull(w.Grad);
        Assert.Equal(0.0, w.Grad![4, 0]); // row 4 never used
        Assert.Equal(2 * 2 * w[2, 1], w.Grad[2, 1], 12);
    }

    private static double[] NaiveConv1d(double[] x, int n, int cin, int l, double[] w, int cout, int k, double[] b, int stride, int pad, out int lout)
    {
        int lo = (l + 2 * pad - k) / stride + 1;
        lout = lo;
        var y = new double[n * cout * lo];
        for (int s = 0; s < n; s++)
            for (int o = 0; o < cout; o++)
                for (int j = 0; j < lo; j++)
                {
                    double acc = b[o];
                    for (int c = 0; c < cin; c++)
                        for (int q = 0; q < k; q++)
                        {
                            int at = j * stride - pad + q;
                            if (at >= 0 && at < l) acc += x[(s * cin + c) * l + at] * w[(o * cin + c) * k + q];
                        }
                    y[(s * cout + o) * lo + j] = acc;
                }
        return y;
    }

    [Fact]
    public void Conv1DMatchesPlainLoops()
    {
        var conv = new Conv1D(3, 3, stride: 2, padding: 1, activation: "linear", name: "c");
        var m = One(conv, 2, 9);
        var x = T.Rand(4, 2, 2, 9);
        var y = m.Forward(x);
        var w = m.Parameters[0];
        var b = m.Parameters[1];
        Assert.Equal([3, 2, 3], w.ShapeArray);
        var expected = NaiveConv1d(x.ToDoubleArray(), 2, 2, 9, w.ToDoubleArray(), 3, 3, b.ToDoubleArray(), 2, 1, out int lout);
        Assert.Equal([2, 3, lout], y.ShapeArray);
        T.Close(expected, y.ToDoubleArray(), 1e-12, 1e-12, "conv1d");
        GradAll("conv1d", m, x);
    }

    [Fact]
    public void Conv2DMatchesPlainLoops()
    {
        var conv = new Conv2D(2, 3, padding: 1, activation: "relu");
        var m = One(conv, 2, 5, 4);
        var x = T.Rand(5, 2, 2, 5, 4);
        var y = m.Forward(x);
        var w = m.Parameters[0];
        var b = m.Parameters[1].ToDoubleArray();
        Assert.Equal([2, 2, 5, 4], y.ShapeArray);
        for (int n = 0; n < 2; n++)
            for (int o = 0; o < 2; o++)
                for (int i = 0; i < 5; i++)
                    for (int j = 0; j < 4; j++)
                    {
                        double acc = b[o];
                        for (int c = 0; c < 2; c++)
                            for (int p = 0; p < 3; p++)
                                for (int q = 0; q < 3; q++)
                                {
                                    int r = i - 1 + p, s = j - 1 + q;
                                    if (r >= 0 && r < 5 && s >= 0 && s < 4) acc += x[n, c, r, s] * w[o, c, p, q];
                                }
                        Assert.Equal(Math.Max(acc, 0), y[n, o, i, j], 12);
                    }
        GradAll("conv2d", One(new Conv2D(2, 2, stride: 2, activation: "tanh"), 2, 5, 4), x);
    }

    [Fact]
    public void Conv2DTransposeIsTheAdjointOfConv2D()
    {
        // <convT(x), y> = <x, conv(y)> for the same filters (no bias)
        var ct = new Conv2DTranspose(3, 3, stride: 2, padding: 1, outputPadding: 1, useBias: false);
        var m = One(ct, 2, 3, 3);
        var x = T.Rand(1, 1, 2, 3, 3);
        var y = m.Forward(x);
        Assert.Equal([1, 3, 6, 6], y.ShapeArray);
        var w = m.Parameters[0]; // [Cin=2, Cout=3, 3, 3]
        var probe = T.Rand(2, 1, 3, 6, 6).Detach();
        double lhs = (y * probe).Sum().Item();
        var conv = NN.Conv2d(probe, w, null, 2, 1);
        double rhs = (x * conv).Sum().Item();
        Assert.Equal(lhs, rhs, 10);
        GradAll("conv2dT", One(new Conv2DTranspose(2, 2, stride: 2), 1, 2, 2), T.Rand(3, 2, 1, 2, 2));
    }

    [Theory]
    [InlineData(true, 1)]
    [InlineData(false, 1)]
    [InlineData(true, 2)]
    [InlineData(false, 2)]
    public void PoolingMatchesPlainLoops(bool max, int dims)
    {
        CatalogLayer layer = (max, dims) switch
        {
            (true, 1) => new MaxPool1D(3, 2, 1),
            (false, 1) => new AvgPool1D(3, 2, 1),
            (true, 2) => new MaxPool2D(2, 2),
            _ => new AvgPool2D(2, 1),
        };
        int[] shape = dims == 1 ? [2, 7] : [2, 4, 5];
        var m = One(layer, shape);
        var x = T.Rand(7, [3, .. shape]);
        var y = m.Forward(x);
        var p = (Pooling)layer;
        int h = dims == 1 ? 1 : shape[1], wdt = shape[^1];
        int ho = dims == 1 ? 1 : (h + 2 * p.Padding - p.Size) / p.Stride + 1, wo = (wdt + 2 * p.Padding - p.Size) / p.Stride + 1;
        var xv = x.ToDoubleArray();
        var yv = y.ToDoubleArray();
        int k = 0;
        for (int n = 0; n < 3; n++)
            for (int c = 0; c < 2; c++)
                for (int i = 0; i < ho; i++)
                    for (int j = 0; j < wo; j++)
                    {
                        double best = double.NegativeInfinity, sum = 0;
                        int kh = dims == 1 ? 1 : p.Size;
                        for (int a = 0; a < kh; a++)
                            for (int b = 0; b < p.Size; b++)
                            {
                                int r = dims == 1 ? 0 : i * p.Stride - p.Padding + a, s = j * p.Stride - p.Padding + b;
                                if (r < 0 || r >= h || s < 0 || s >= wdt) continue; // padding: ignored by max, zero in the average
                                double v = xv[((n * 2 + c) * h + r) * wdt + s];
                                best = Math.Max(best, v);
                                sum += v;
                            }
                        double expected = max ? best : sum / (kh * p.Size);
                        Assert.Equal(expected, yv[k++], 12);
                    }
        Assert.Equal(k, yv.Length);
        GradAll(layer.Form, m, x);
    }

    [Fact]
    public void GlobalPooling()
    {
        var x = T.Rand(2, 2, 3, 2, 2);
        var avg = One(new GlobalAvgPool(), 3, 2, 2).Forward(x);
        var mx = One(new GlobalMaxPool(), 3, 2, 2).Forward(x);
        Assert.Equal([2, 3], avg.ShapeArray);
        for (int n = 0; n < 2; n++)
            for (int c = 0; c < 3; c++)
            {
                double s = 0, b = double.NegativeInfinity;
                for (int i = 0; i < 2; i++) for (int j = 0; j < 2; j++) { s += x[n, c, i, j]; b = Math.Max(b, x[n, c, i, j]); }
                Assert.Equal(s / 4, avg[n, c], 12);
                Assert.Equal(b, mx[n, c], 12);
            }
    }

    [Fact]
    public void BatchNormTrainAndEval()
    {
        var bn = new BatchNorm(momentum: 0.5, epsilon: 1e-5);
        var m = One(bn, 2, 3);
        var x = T.Rand(3, 4, 2, 3);
        var y = m.Forward(x, training: true);
        var xv = x.ToDoubleArray();
        for (int c = 0; c < 2; c++)
        {
            var vals = new List<double>();
            for (int n = 0; n < 4; n++) for (int l = 0; l < 3; l++) vals.Add(xv[(n * 2 + c) * 3 + l]);
            double mean = vals.Average(), var = vals.Select(v => (v - mean) * (v - mean)).Average();
            int k = 0;
            for (int n = 0; n < 4; n++)
                for (int l = 0; l < 3; l++)
                    Assert.Equal((vals[k++] - mean) / Math.Sqrt(var + 1e-5), y[n, c, l], 10);
            Assert.Equal(0.5 * mean, bn.RunningMean![c], 12);
            Assert.Equal(0.5 * 1 + 0.5 * var * 12 / 11, bn.RunningVar![c], 12);
        }
        // evaluation uses the running statistics, and does not change them
        var rm = bn.RunningMean!.ToDoubleArray();
        var ye = m.Forward(x, training: false);
        Assert.Equal(rm, bn.RunningMean.ToDoubleArray());
        for (int n = 0; n < 4; n++)
            for (int c = 0; c < 2; c++)
                Assert.Equal((x[n, c, 1] - rm[c]) / Math.Sqrt(bn.RunningVar![c] + 1e-5), ye[n, c, 1], 10);
        Assert.Equal(["batchnorm2.gamma", "batchnorm2.beta"], m.NamedParameters.Select(p => p.Name).ToArray());
        GradAll("batchnorm-eval", m, x, training: false);
        GradAll("batchnorm-train", One(new BatchNorm(momentum: 0.1), 3), T.Rand(9, 5, 3), training: true);
    }

    [Fact]
    public void LayerNormMatchesPlainLoops()
    {
        var m = One(new LayerNorm(1e-5), 2, 4);
        var x = T.Rand(4, 3, 2, 4);
        var y = m.Forward(x);
        for (int n = 0; n < 3; n++)
            for (int r = 0; r < 2; r++)
            {
                double mean = 0, var = 0;
                for (int d = 0; d < 4; d++) mean += x[n, r, d] / 4;
                for (int d = 0; d < 4; d++) var += (x[n, r, d] - mean) * (x[n, r, d] - mean) / 4;
                for (int d = 0; d < 4; d++) Assert.Equal((x[n, r, d] - mean) / Math.Sqrt(var + 1e-5), y[n, r, d], 10);
            }
        GradAll("layernorm", m, x);
    }

    [Fact]
    public void LocalResponseNormMatchesPlainLoops()
    {
        var lrn = new LocalResponseNorm(size: 3, alpha: 0.1, beta: 0.75, k: 2);
        var m = One(lrn, 5, 2, 2);
        var x = T.Rand(8, 2, 5, 2, 2);
        var y = m.Forward(x);
        for (int n = 0; n < 2; n++)
            for (int c = 0; c < 5; c++)
                for (int i = 0; i < 2; i++)
                    for (int j = 0; j < 2; j++)
                    {
                        double s = 0;
                        for (int cc = c - 1; cc <= c + 1; cc++) if (cc >= 0 && cc < 5) s += x[n, cc, i, j] * x[n, cc, i, j];
                        Assert.Equal(x[n, c, i, j] / Math.Pow(2 + 0.1 * s, 0.75), y[n, c, i, j], 12);
                    }
        GradAll("lrn", m, x);
    }

    [Fact]
    public void RecurrentLayersPassGradCheckInBothModes()
    {
        foreach (var (name, layer, stepped) in new (string, CatalogLayer, bool)[]
                 {
                     ("rnn stepped", new RNN(3, "tanh"), true), ("gru seq back", new GRU(3, goBackwards: true), false),
                     ("lstm seq last", new LSTM(2, returnSequences: false, peepholes: true), false),
                     ("bidir", new BidirectionalLayer(new RNN(2, "tanh")), false),
                 })
        {
            var x = stepped ? Input(2, sequence: true) : Input([3, 2]);
            var m = new Model(x, layer.Call(x), name, DType.Float64);
            var data = stepped ? T.Rand(1, 3, 2, 2) : T.Rand(1, 2, 3, 2);
            GradAll(name, m, data);
        }
    }

    [Fact]
    public void InitSchemesAndTheanetsAttributes()
    {
        Tensor W(LayerInit init, int inF = 6, int units = 4)
        {
            var d = new Dense(units, init: init);
            var m = One(d, inF);
            _ = m.Network;
            return d.Weight;
        }
        var glorot = W(new LayerInit("glorot_uniform")).ToDoubleArray();
        double bound = Math.Sqrt(6.0 / 10);
        Assert.All(glorot, v => Assert.InRange(v, -bound, bound));
        var ortho = W(new LayerInit("orthogonal"), 6, 4);
        T.Close(Enumerable.Range(0, 16).Select(i => i % 5 == 0 ? 1.0 : 0.0).ToArray(), NN.MatMul(ortho, ortho.T).ToDoubleArray(), 1e-10, 1e-10, "orthogonal rows");
        var ident = W(new LayerInit("identity"), 4, 4).ToDoubleArray();
        for (int i = 0; i < 16; i++) Assert.Equal(i % 5 == 0 ? 1.0 : 0.0, ident[i]);
        Assert.All(W(new LayerInit("zeros")).ToDoubleArray(), v => Assert.Equal(0.0, v));
        Assert.All(W(new LayerInit("ones")).ToDoubleArray(), v => Assert.Equal(1.0, v));
        Assert.All(W(new LayerInit("constant", [new("value", 0.3)])).ToDoubleArray(), v => Assert.Equal(0.3, v));
        var diag = W(new LayerInit(null, [new("diagonal", 2.0)]), 5, 3).ToDoubleArray();
        for (int r = 0; r < 3; r++) for (int c = 0; c < 5; c++) Assert.Equal(r == c ? 2.0 : 0.0, diag[r * 5 + c]);
        var sparse = W(new LayerInit(null, [new("sparsity", 0.5)]), 40, 40).ToDoubleArray();
        double zeroFrac = sparse.Count(v => v == 0) / 1600.0;
        Assert.InRange(zeroFrac, 0.4, 0.6);
        for (int i = 0; i < 40; i++) Assert.NotEqual(0.0, sparse[i * 41]);
        var he = W(new LayerInit("he_normal"), 200, 50).ToDoubleArray();
        Assert.InRange(Math.Sqrt(he.Select(v => v * v).Average()), 0.09, 0.11);
        // radius: each [H, H] block of weight_hh_l0 gets spectral norm r; per-parameter std wins over the layer's
        var lstm = new LSTM(5, init: new LayerInit(null, [new("radius", 1.1), new("std", 0.01), new("std_weight_ih_l0", 3.0)]));
        var x = Input(3, sequence: true);
        _ = new Model(x, lstm.Call(x), "r", DType.Float64).Network;
        var hh = ((FlexNet.Layers.Recurrent.LstmCell)lstm.Cell!).WeightHh;
        for (int b = 0; b < 4; b++) Assert.Equal(1.1, FlexNet.Initializers.Init.SpectralNorm(hh.Slice(0, 5 * b, 5)), 8);
        var ih = ((FlexNet.Layers.Recurrent.LstmCell)lstm.Cell!).WeightIh.ToDoubleArray();
        Assert.InRange(Math.Sqrt(ih.Select(v => v * v).Average()), 2.0, 4.0);
        Assert.Throws<SpecValidationException>(() => new LayerInit("nonsense"));
        Assert.Throws<SpecValidationException>(() => new LayerInit(null, [new("sparsity", 1.5)]));
    }
}
