using FlexNet.Autodiff;
using FlexNet.FunctionalBlocks;
using FlexNet.Tensors;
using FlexNet.Tests.Testing;

namespace FlexNet.Tests.FunctionalBlocks;

/// <summary>The functional tier: each block against hand-written loops in float64, gradients through a chain,
/// train versus eval mode, parameter bookkeeping, shape inference and its errors.</summary>
public class BlocksTests
{
    private static Tensor Data(ulong seed, params int[] shape) =>
        Tensor.Normal(shape, 0, 1, new RandomGenerator(seed), DType.Float64);

    private static void Randomize(Tensor p, ulong seed)
    {
        using (Autograd.NoGrad()) p.CopyFrom(Data(seed, p.ShapeArray));
    }

    [Theory]
    [InlineData(1, 0, 3)]
    [InlineData(2, 1, 3)]
    [InlineData(1, -1, 3)] // -1: Padding.Same
    [InlineData(2, 0, 2)]
    public void ConvMatchesHandLoops(int stride, int pad, int k)
    {
        const int n = 2, c = 2, h = 7, w = 6, f = 3;
        var padding = pad < 0 ? Padding.Same : Padding.Explicit(pad);
        var b = Blocks.Conv(Blocks.Input([c, h, w], DType.Float64), f, k, new RandomGenerator(3), stride, padding);
        var (wt, bias) = (b.OwnParameters[0], b.OwnParameters[1]);
        Assert.Equal([f, c, k, k], wt.ShapeArray);
        Randomize(bias, 4);
        var x = Data(5, n, c, h, w);
        // independent computation: the padded input is read through an index test, not a padded copy
        int pt = pad < 0 ? (k - 1) / 2 : pad, oh, ow;
        if (pad < 0) { oh = h; ow = w; }
        else { oh = (h + 2 * pad - k) / stride + 1; ow = (w + 2 * pad - k) / stride + 1; }
        Assert.Equal([f, oh, ow], b.Shape);
        double[] xs = x.ToDoubleArray(), ws = wt.ToDoubleArray(), bs = bias.ToDoubleArray();
        var expected = new double[n * f * oh * ow];
        for (int s = 0; s < n; s++)
            for (int o = 0; o < f; o++)
                for (int i = 0; i < oh; i++)
                    for (int j = 0; j < ow; j++)
                    {
                        double acc = bs[o];
                        for (int ch = 0; ch < c; ch++)
                            for (int u = 0; u < k; u++)
                                for (int v = 0; v < k; v++)
                                {
                                    int r = i * stride + u - pt, q = j * stride + v - pt;
                                    if (r < 0 || r >= h || q < 0 || q >= w) continue;
                                    acc += ws[((o * c + ch) * k + u) * k + v] * xs[((s * c + ch) * h + r) * w + q];
                                }
                        expected[((s * f + o) * oh + i) * ow + j] = acc;
                    }
        var y = b.Output(x);
        Assert.Equal([n, f, oh, ow], y.ShapeArray);
        T.Close(expected, y.ToDoubleArray(), 1e-12, 1e-12, "conv");
        T.Close(expected, b.EvalOutput(x).ToDoubleArray(), 1e-12, 1e-12, "conv eval");
    }

    [Theory]
    [InlineData(2, null)]
    [InlineData(3, 2)]
    [InlineData(2, 1)]
    public void MaxPoolMatchesHandLoops(int size, int? stride)
    {
        const int n = 2, c = 3, h = 7, w = 8;
        var b = Blocks.MaxPool(Blocks.Input([c, h, w], DType.Float64), size, stride);
        int s = stride ?? size, oh = (h - size) / s + 1, ow = (w - size) / s + 1;
        Assert.Equal([c, oh, ow], b.Shape);
        Assert.Empty(b.Parameters);
        var x = Data(6, n, c, h, w);
        double[] xs = x.ToDoubleArray();
        var expected = new double[n * c * oh * ow];
        for (int p = 0; p < n * c; p++)
            for (int i = 0; i < oh; i++)
                for (int j = 0; j < ow; j++)
                {
                    double m = double.NegativeInfinity;
                    for (int u = 0; u < size; u++)
                        for (int v = 0; v < size; v++)
                            m = Math.Max(m, xs[(p * h + i * s + u) * w + j * s + v]);
                    expected[(p * oh + i) * ow + j] = m;
                }
        var y = b.Output(x);
        Assert.Equal([n, c, oh, ow], y.ShapeArray);
        Assert.Equal(expected, y.ToDoubleArray());
    }

    [Fact]
    public void LinearFlattensAndMatchesHandLoops()
    {
        const int n = 3, units = 4;
        int[] shape = [2, 3, 2];
        var b = Blocks.Linear(Blocks.Input(shape, DType.Float64), units, new RandomGenerator(7));
        Assert.Equal([units], b.Shape);
        var (wt, bias) = (b.OwnParameters[0], b.OwnParameters[1]);
        Assert.Equal([units, 12], wt.ShapeArray);
        Randomize(bias, 8);
        var x = Data(9, n, 2, 3, 2);
        double[] xs = x.ToDoubleArray(), ws = wt.ToDoubleArray(), bs = bias.ToDoubleArray();
        var expected = new double[n * units];
        for (int s = 0; s < n; s++)
            for (int o = 0; o < units; o++)
            {
                double acc = bs[o];
                for (int d = 0; d < 12; d++) acc += ws[o * 12 + d] * xs[s * 12 + d];
                expected[s * units + o] = acc;
            }
        var y = b.Output(x);
        Assert.Equal([n, units], y.ShapeArray);
        T.Close(expected, y.ToDoubleArray(), 1e-12, 1e-12, "linear");

        // Glorot uniform: |W| ≤ √(6 / (fan_in + fan_out)); biases start at zero
        double a = Math.Sqrt(6.0 / (12 + units));
        Assert.All(ws, v => Assert.InRange(Math.Abs(v), 0, a));
        var fresh = Blocks.Linear(Blocks.Input([5], DType.Float64), 3, new RandomGenerator(1));
        Assert.All(fresh.OwnParameters[1].ToDoubleArray(), v => Assert.Equal(0.0, v));
        Assert.Single(Blocks.Linear(Blocks.Input([5]), 3, bias: false).Parameters);
    }

    [Theory]
    [InlineData("relu")]
    [InlineData("tanh")]
    [InlineData("sigmoid")]
    public void ActivationMatchesHandFormula(string name)
    {
        var b = Blocks.Activation(Blocks.Input([3, 2, 2], DType.Float64), name);
        Assert.Equal([3, 2, 2], b.Shape);
        var x = Data(10, 2, 3, 2, 2);
        Func<double, double> f = name switch
        {
            "relu" => v => Math.Max(v, 0),
            "tanh" => Math.Tanh,
            _ => v => 1 / (1 + Math.Exp(-v)),
        };
        var expected = x.ToDoubleArray().Select(f).ToArray();
        T.Close(expected, b.Output(x).ToDoubleArray(), 1e-14, 1e-15, name);
        T.Close(expected, b.EvalOutput(x).ToDoubleArray(), 1e-14, 1e-15, name + " eval");
    }

    [Fact]
    public void DropoutIsActiveOnlyInOutput()
    {
        const double p = 0.5;
        var rng = new RandomGenerator(11);
        var input = Blocks.Input([400], DType.Float64);
        var b = Blocks.Dropout(input, p, rng);
        var x = Data(12, 5, 400);
        double[] xs = x.ToDoubleArray();

        Assert.Equal(xs, b.EvalOutput(x).ToDoubleArray());
        double[] y1 = b.Output(x).ToDoubleArray(), y2 = b.Output(x).ToDoubleArray();
        int dropped = 0;
        for (int i = 0; i < xs.Length; i++)
        {
            if (y1[i] == 0) dropped++;
            else Assert.Equal(xs[i] / (1 - p), y1[i], 12);
        }
        // 2000 Bernoulli(0.5) draws: 1000 ± 3.5σ (σ ≈ 22)
        Assert.InRange(dropped, 920, 1080);
        Assert.NotEqual(y1, y2); // a fresh mask at every call

        // in a chain: EvalOutput equals Output when no dropout is active, differs when one is
        var rng2 = new RandomGenerator(13);
        var chain = Blocks.Linear(Blocks.Input([6], DType.Float64), 8, rng2);
        var off = Blocks.Linear(Blocks.Dropout(chain, 0.0, rng2), 3, rng2);
        var xc = Data(14, 4, 6);
        Assert.Equal(off.EvalOutput(xc).ToDoubleArray(), off.Output(xc).ToDoubleArray());
        var on = Blocks.Linear(Blocks.Dropout(chain, 0.5, rng2), 3, rng2);
        Assert.NotEqual(on.EvalOutput(xc).ToDoubleArray(), on.Output(xc).ToDoubleArray());
        // the eval pipeline of the chain with dropout is the same function as the one without it, given the same weights
        on.OwnParameters[0].CopyFrom(off.OwnParameters[0]);
        Assert.Equal(off.EvalOutput(xc).ToDoubleArray(), on.EvalOutput(xc).ToDoubleArray());
    }

    private static Block SmallChain(RandomGenerator rng, DType dtype = DType.Float64)
    {
        var b = Blocks.Input([2, 6, 6], dtype);
        b = Blocks.Conv(b, 3, 3, rng, padding: 1);
        b = Blocks.MaxPool(b, 2);
        b = Blocks.Activation(b, "tanh");
        b = Blocks.Dropout(b, 0.3, rng);
        b = Blocks.Linear(b, 5, rng);
        b = Blocks.Activation(b, "tanh");
        return Blocks.Linear(b, 4, rng);
    }

    [Fact]
    public void GradientsThroughAChainMatchFiniteDifferences()
    {
        var rng = new RandomGenerator(21);
        var b = SmallChain(rng);
        foreach (var p in b.Parameters) Randomize(p, (ulong)p.Length + 100); // non-zero biases too
        var x = T.Rand(22, 2, 2, 6, 6);
        Tensor[] inputs = [x, .. b.Parameters];
        // training mode with a fixed mask: reseed the dropout generator before every evaluation
        T.GradOk("blocks train", ins => { rng.Reseed(5); return b.Output(ins[0]); }, inputs);
        T.GradOk("blocks eval", ins => b.EvalOutput(ins[0]), inputs);
        // and the mask really is in the training pass
        rng.Reseed(5);
        Assert.NotEqual(b.EvalOutput(x).ToDoubleArray(), b.Output(x).ToDoubleArray());
    }

    [Fact]
    public void ParametersAreListedOnceEachInCreationOrder()
    {
        var b = SmallChain(new RandomGenerator(1));
        string[] names = ["conv1.weight", "conv1.bias", "linear5.weight", "linear5.bias", "linear7.weight", "linear7.bias"];
        Assert.Equal(names, b.Parameters.Select(p => p.Name).ToArray());
        Assert.Equal(b.Parameters.Count, b.Parameters.Distinct(ReferenceEqualityComparer.Instance).Count());
        Assert.All(b.Parameters, p => Assert.True(p.RequiresGrad && p.IsLeaf));
        Assert.Equal(3 * 2 * 9 + 3 + 5 * 27 + 5 + 4 * 5 + 4, b.ParameterCount);
        // each block's list is its predecessor's plus its own
        for (var k = b; k.Previous is not null; k = k.Previous)
            Assert.Equal([.. k.Previous.Parameters, .. k.OwnParameters], k.Parameters);
        // one backward reaches every parameter
        var loss = NN.CrossEntropy(b.EvalOutput(Data(2, 3, 2, 6, 6)), Tensor.FromArray(new[] { 0, 3, 1 }, 3));
        loss.Backward();
        Assert.All(b.Parameters, p => Assert.NotNull(p.Grad));
        // the seed's tuple
        var (output, evalOutput, parameters, shape) = b;
        Assert.Same(b.Output, output);
        Assert.Same(b.EvalOutput, evalOutput);
        Assert.Same(b.Parameters, parameters);
        Assert.Equal([4], shape);
    }

    [Fact]
    public void ShapesAreInferredAndEveryIntermediateRunsToItsShape()
    {
        var rng = new RandomGenerator(2);
        var blocks = new List<Block> { Blocks.Input([1, 28, 28]) };
        blocks.Add(Blocks.Conv(blocks[^1], 16, 3, rng));
        blocks.Add(Blocks.MaxPool(blocks[^1], 2));
        blocks.Add(Blocks.Activation(blocks[^1], "relu"));
        blocks.Add(Blocks.Conv(blocks[^1], 8, 5, rng, stride: 2, padding: Padding.Same));
        blocks.Add(Blocks.Dropout(blocks[^1], 0.5, rng));
        blocks.Add(Blocks.Linear(blocks[^1], 10, rng));
        int[][] expected = [[1, 28, 28], [16, 26, 26], [16, 13, 13], [16, 13, 13], [8, 7, 7], [8, 7, 7], [10]];
        var x = Tensor.Uniform([3, 1, 28, 28], rng: new RandomGenerator(4));
        for (int i = 0; i < blocks.Count; i++)
        {
            Assert.Equal(expected[i], blocks[i].Shape);
            Assert.Equal(i, blocks[i].Index);
            Assert.Equal([3, .. expected[i]], blocks[i].Output(x).ShapeArray);
            Assert.Equal([3, .. expected[i]], blocks[i].EvalOutput(x).ShapeArray);
            Assert.Equal(DType.Float32, blocks[i].Output(x).DType);
        }
        Assert.Equal([10, 8 * 7 * 7], blocks[^1].OwnParameters[0].ShapeArray);
        Assert.Contains("conv4", blocks[^1].Summary());
        Assert.Equal("conv1: Conv2d(1 → 16, 3×3, stride 1, padding valid) → [16, 26, 26]", blocks[1].ToString());
    }

    [Fact]
    public void ShapesThatDoNotFitRaiseTypedErrorsNamingBlockAndShapes()
    {
        var vec = Blocks.Input([784]);
        var e1 = Assert.Throws<ShapeMismatchException>(() => Blocks.Conv(vec, 8, 3));
        Assert.Contains("conv1", e1.Message);
        Assert.Contains("[784]", e1.Message);
        Assert.Contains("[C, H, W]", e1.Message);

        var small = Blocks.Input([3, 4, 4]);
        var e2 = Assert.Throws<ShapeMismatchException>(() => Blocks.Conv(small, 8, 5, name: "c"));
        Assert.Contains("'c'", e2.Message);
        Assert.Contains("[3, 4, 4]", e2.Message);
        Assert.Contains("5×5", e2.Message);
        Blocks.Conv(small, 8, 5, padding: 1); // fits once padded

        var e3 = Assert.Throws<ShapeMismatchException>(() => Blocks.MaxPool(Blocks.Conv(small, 2, 3), 3));
        Assert.Contains("maxpool2", e3.Message);
        Assert.Contains("[2, 2, 2]", e3.Message);
        Assert.Throws<ShapeMismatchException>(() => Blocks.MaxPool(vec, 2));

        // a batch that does not match the input block fails when the chain runs, naming the expected and actual shapes
        var chain = Blocks.Linear(Blocks.Input([1, 28, 28]), 10, new RandomGenerator(1));
        var e4 = Assert.Throws<ShapeMismatchException>(() => chain.Output(Tensor.Zeros([5, 784])));
        Assert.Contains("[N, 1, 28, 28]", e4.Message);
        Assert.Contains("[5, 784]", e4.Message);
        var e5 = Assert.Throws<ShapeMismatchException>(() => chain.EvalOutput(Tensor.Zeros([5, 1, 28, 28], DType.Float64)));
        Assert.Contains("Float64", e5.Message);

        Assert.Throws<ShapeMismatchException>(() => Blocks.Input([]));
        Assert.Throws<ShapeMismatchException>(() => Blocks.Input([3, 0]));
        Assert.Throws<ArgumentException>(() => Blocks.Input([3], DType.Int32));
        Assert.Throws<ArgumentOutOfRangeException>(() => Blocks.Dropout(vec, 1.0));
        Assert.Throws<ArgumentOutOfRangeException>(() => Blocks.Dropout(vec, -0.1));
        Assert.Throws<ArgumentOutOfRangeException>(() => Blocks.Linear(vec, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => Blocks.Conv(small, 4, 3, stride: 0));
        var e6 = Assert.Throws<ArgumentException>(() => Blocks.Activation(vec, "nope"));
        Assert.Contains("relu", e6.Message);
    }

    [Fact]
    public void ParametersOutliveTheScopeTheChainWasBuiltIn()
    {
        Block b;
        using (TensorScope.Begin()) b = Blocks.Linear(Blocks.Input([4]), 3, new RandomGenerator(1));
        using (TensorScope.Begin()) Assert.Equal([2, 3], b.Output(Tensor.Ones([2, 4])).ShapeArray);
        Assert.Equal(12, b.OwnParameters[0].ToFloatArray().Length);
    }
}
