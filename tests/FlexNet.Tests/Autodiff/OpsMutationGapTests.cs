using FlexNet.Autodiff;
using FlexNet.Autodiff.Ops;
using FlexNet.Kernels;
using FlexNet.Tensors;
using FlexNet.Tests.Testing;

namespace FlexNet.Tests.Autodiff;

/// <summary>Rules of the autodiff ops that the other Autodiff tests left open (issue 15, mutation testing of
/// src/FlexNet/Autodiff/Ops): integer inputs named in the error of each op, summing a gradient back to a shape,
/// in-place accumulation on its slow paths. Expected values come from loops written here.</summary>
public class OpsMutationGapTests
{
    [Fact]
    public void EveryFloatingPointOpNamesItselfForAnIntegerInput()
    {
        var i2 = Tensor.FromArray(new[] { 1, 2 }, 2);
        var i22 = Tensor.FromArray(new[] { 1, 2, 3, 4 }, 2, 2);
        var i4 = Tensor.FromArray(new[] { 1, 2, 3, 4 }, 1, 1, 2, 2);
        void Rejects(string op, string shape, Func<Tensor> f) =>
            Assert.Equal($"{op} needs a floating-point tensor; got Int32 of shape {shape}.", Assert.Throws<ArgumentException>(f).Message);
        Rejects("Exp", "[2]", () => i2.Exp());
        Rejects("Neg", "[2]", () => -i2);
        Rejects("MulScalar", "[2]", () => i2 * 2.0);
        Rejects("Add", "[2]", () => i2 + i2);
        Rejects("Max", "[2]", () => i2.Maximum(i2));
        Rejects("Sum", "[2]", () => i2.Sum());
        Rejects("Mean", "[2]", () => i2.Mean());
        Rejects("Max", "[2]", () => i2.Max(0));
        Rejects("Softmax", "[2, 2]", () => NN.Softmax(i22));
        Rejects("LogSoftmax", "[2, 2]", () => NN.LogSoftmax(i22));
        Rejects("CrossEntropy", "[2, 2]", () => NN.CrossEntropy(i22, i2));
        Rejects("Gather", "[2, 2]", () => NN.Embedding(i22, i2));
        Rejects("Conv2d", "[1, 1, 2, 2]", () => NN.Conv2d(i4, i4));
        Rejects("ConvTranspose2d", "[1, 1, 2, 2]", () => NN.ConvTranspose2d(i4, i4));
        Rejects("MaxPool2d", "[1, 1, 2, 2]", () => NN.MaxPool2d(i4, 2));
        Rejects("AvgPool2d", "[1, 1, 2, 2]", () => NN.AvgPool2d(i4, 2));
    }

    [Fact]
    public void SumToShapeSumsBroadcastDimensionsAndRejectsWhatIsNoBroadcast()
    {
        var g = Tensor.FromArray(Enumerable.Range(0, 24).Select(i => (double)i).ToArray(), 2, 3, 4);
        // to [3, 1]: sum over the leading axis and the last
        var s = Reduce.SumToShape(g, [3, 1]);
        Assert.Equal([3, 1], s.Shape.ToArray());
        var expected = new double[3];
        for (int a = 0; a < 2; a++) for (int b = 0; b < 3; b++) for (int c = 0; c < 4; c++) expected[b] += (a * 3 + b) * 4 + c;
        Assert.Equal(expected, s.ToDoubleArray());
        // to [2, 1, 4]: the middle axis only
        var m = Reduce.SumToShape(g, [2, 1, 4]);
        var em = new double[8];
        for (int a = 0; a < 2; a++) for (int b = 0; b < 3; b++) for (int c = 0; c < 4; c++) em[a * 4 + c] += (a * 3 + b) * 4 + c;
        Assert.Equal(em, m.ToDoubleArray());
        // a dimension of size 1 in both stays
        var one = Tensor.FromArray(new double[] { 1, 2, 3 }, 1, 3);
        Assert.Equal(new double[] { 1, 2, 3 }, Reduce.SumToShape(one, [1, 3]).ToDoubleArray());
        Assert.Equal(new double[] { 6 }, Reduce.SumToShape(one, [1]).ToDoubleArray());

        var low = Assert.Throws<ShapeMismatchException>(() => Reduce.SumToShape(Tensor.Zeros([3]), [2, 3]));
        Assert.Equal("SumToShape: gradient shape [3] has lower rank than [2, 3].", low.Message);
        var nb = Assert.Throws<ShapeMismatchException>(() => Reduce.SumToShape(Tensor.Zeros([2, 3]), [2, 4]));
        Assert.Equal("SumToShape: gradient shape [2, 3] is not a broadcast of [2, 4].", nb.Message);
        var nb2 = Assert.Throws<ShapeMismatchException>(() => Reduce.SumToShape(Tensor.Zeros([2, 1]), [2, 3]));
        Assert.Equal("SumToShape: gradient shape [2, 1] is not a broadcast of [2, 3].", nb2.Message);
    }

    [Theory]
    [InlineData(DType.Float64)]
    [InlineData(DType.Float32)]
    public void AddInPlaceOnViewsAndBroadcasts(DType dtype)
    {
        // contiguous, same length
        var d = Tensor.FromArray(new double[] { 1, 2, 3, 4, 5, 6 }, 2, 3).To(dtype);
        Binary.AddInPlace(d, Tensor.FromArray(new double[] { 10, 20, 30, 40, 50, 60 }, 2, 3).To(dtype));
        Assert.Equal(new double[] { 11, 22, 33, 44, 55, 66 }, d.ToDoubleArray());
        // a broadcast row
        Binary.AddInPlace(d, Tensor.FromArray(new double[] { 1, 2, 3 }, 3).To(dtype));
        Assert.Equal(new double[] { 12, 24, 36, 45, 57, 69 }, d.ToDoubleArray());
        // a transposed destination: added in logical order
        var store = Tensor.FromArray(new double[] { 1, 2, 3, 4, 5, 6 }, 3, 2).To(dtype);
        var view = store.T; // [2, 3], view[i, j] = store[j, i]
        Binary.AddInPlace(view, Tensor.FromArray(new double[] { 100, 200, 300, 400, 500, 600 }, 2, 3).To(dtype));
        // store[j, i] = old + 100·(3i + j + 1)
        Assert.Equal(new double[] { 101, 402, 203, 504, 305, 606 }, store.ToDoubleArray());
        // a transposed source of the same length
        var dst = Tensor.Zeros([2, 3], dtype);
        Binary.AddInPlace(dst, Tensor.FromArray(new double[] { 1, 2, 3, 4, 5, 6 }, 3, 2).To(dtype).T);
        Assert.Equal(new double[] { 1, 3, 5, 2, 4, 6 }, dst.ToDoubleArray());
        Assert.Null(dst.GradFn);
    }

    [Fact]
    public void DenseSumFillsARecycledWeightGradientAndAddsIntoAStridedOne()
    {
        const int n = 2, inF = 3, outF = 4;
        double[] xv = { 1, -2, 0.5, 3, 1, -1 }, wv = Enumerable.Range(0, outF * inF).Select(i => 0.1 * i - 0.5).ToArray();
        double[] r1 = Enumerable.Range(0, n * outF).Select(i => 1.0 + i).ToArray(), r2 = Enumerable.Range(0, n * outF).Select(i => 2.0 - i).ToArray();
        double[] DW(double[] r)
        {
            var dw = new double[outF * inF];
            for (int s = 0; s < n; s++) for (int o = 0; o < outF; o++) for (int q = 0; q < inF; q++) dw[o * inF + q] += r[s * outF + o] * xv[s * inF + q];
            return dw;
        }
        var x = Tensor.FromArray(xv, n, inF);
        var w = Tensor.FromArray(wv, outF, inF).RequireGrad();
        void Pass(double[] r) => (DenseSum.Apply([x], [w], [], FusedActivation.Linear) * Tensor.FromArray(r, n, outF)).Sum().Backward();

        Pass(r1);
        var first = w.Grad!;
        Assert.Equal(DW(r1), first.ToDoubleArray());
        w.RecycleGrad(); // the buffer (holding DW(r1)) is overwritten by the next backward, not added to
        Pass(r2);
        Assert.Same(first, w.Grad);
        Assert.Equal(DW(r2), w.Grad!.ToDoubleArray());

        // a strided gradient already there: the new one is added into it in logical order
        var store = Tensor.FromArray(Enumerable.Range(0, outF * inF).Select(i => (double)i).ToArray(), inF, outF);
        w.Grad = store.T;
        Pass(r1);
        Assert.Same(store.Storage, w.Grad!.Storage);
        var expected = DW(r1);
        for (int o = 0; o < outF; o++) for (int q = 0; q < inF; q++) expected[o * inF + q] += q * outF + o;
        Assert.Equal(expected, w.Grad.Contiguous().ToDoubleArray());
    }

    [Fact]
    public void DenseSumRecordsWhenAnyInputWeightOrBiasNeedsGradients()
    {
        var x = Tensor.FromArray(new double[] { 1, 2, 3, 4 }, 2, 2);
        var w = Tensor.FromArray(new double[] { 1, 0, 0, 1 }, 2, 2);
        var b = Tensor.FromArray(new double[] { 0.5, -0.5 }, 2);
        Assert.Null(DenseSum.Apply([x], [w], [b], FusedActivation.Linear).GradFn);
        Assert.Null(DenseSum.Apply([x], [null], [null], FusedActivation.Linear).GradFn);
        var tb = b.Detach().RequireGrad();
        var y = DenseSum.Apply([x], [w], [null, tb], FusedActivation.Linear);
        Assert.NotNull(y.GradFn);
        Assert.Equal(new double[] { 1.5, 1.5, 3.5, 3.5 }, y.ToDoubleArray());
        (y * Tensor.FromArray(new double[] { 1, 2, 3, 4 }, 2, 2)).Sum().Backward();
        Assert.Equal(new double[] { 4, 6 }, tb.Grad!.ToDoubleArray());
        Assert.NotNull(DenseSum.Apply([x], [w.Detach().RequireGrad()], [], FusedActivation.Linear).GradFn);
        Assert.NotNull(DenseSum.Apply([x, x.Detach().RequireGrad()], [w, null], [], FusedActivation.Linear).GradFn);
        using (Autograd.NoGrad()) Assert.Null(DenseSum.Apply([x], [w], [tb], FusedActivation.Linear).GradFn);
    }

    [Fact]
    public void NodesAreNamedAfterTheirOp()
    {
        var a = T.Rand(31, 2);
        Assert.Equal("MulBackward", (a * a).GradFn!.Name);
        Assert.Equal("SubBackward", (a - a).GradFn!.Name);
        Assert.Equal("MaxBackward", a.Maximum(a).GradFn!.Name);
        Assert.Equal("TanhBackward", a.Tanh().GradFn!.Name);
        Assert.Equal("SumBackward", a.Sum().GradFn!.Name);
    }

    [Fact]
    public void ACastToIntegersIsNotRecordedAndACastToFloatIs()
    {
        var x = Tensor.FromArray(new[] { 1.5, -2.5 }, 2).RequireGrad();
        var i = x.To(DType.Int32);
        Assert.False(i.RequiresGrad);
        Assert.Null(i.GradFn);
        Assert.Equal(new[] { 1, -2 }, i.ToInt32Array());
        Assert.NotNull(x.To(DType.Float32).GradFn);
        using (Autograd.NoGrad()) Assert.Null(x.To(DType.Float32).GradFn);
    }

    [Fact]
    public void SumOverNullAxesIsOverAllAxes()
    {
        var x = Tensor.FromArray(new double[] { 1, 2, 3, 4, 5, 6 }, 2, 3);
        var s = x.Sum(null, keepDims: true);
        Assert.Equal([1, 1], s.Shape.ToArray());
        Assert.Equal(21, s.Item());
        var m = x.Mean(null, keepDims: false);
        Assert.Empty(m.Shape.ToArray());
        Assert.Equal(3.5, m.Item());
    }

    [Fact]
    public void SoftmaxOfAnEmptyLastAxisAndCrossEntropyOfAnEmptyBatch()
    {
        foreach (bool log in new[] { false, true })
        {
            var x = Tensor.Zeros([2, 0], DType.Float64).RequireGrad();
            var y = log ? NN.LogSoftmax(x) : NN.Softmax(x);
            Assert.Equal([2, 0], y.Shape.ToArray());
            y.Sum().Backward();
            Assert.Equal([2, 0], x.Grad!.Shape.ToArray());
        }
        foreach (bool mean in new[] { true, false })
        {
            var logits = Tensor.Zeros([0, 3], DType.Float64).RequireGrad();
            var loss = NN.CrossEntropy(logits, Tensor.FromArray(Array.Empty<int>(), 0), mean);
            Assert.Equal(0.0, loss.Item());
        }
    }

    [Theory]
    [InlineData(DType.Float32)]
    [InlineData(DType.Int32)]
    public void PadOfFloat32AndIntegerTensors(DType dtype)
    {
        var x = Tensor.FromArray(new double[] { 1, 2, 3, 4, 5, 6 }, 2, 3).To(dtype);
        var y = x.Pad([1, 0, 0, 2], 7);
        Assert.Equal(dtype, y.DType);
        Assert.Equal([3, 5], y.Shape.ToArray());
        Assert.Equal(new double[] { 7, 7, 7, 7, 7, 1, 2, 3, 7, 7, 4, 5, 6, 7, 7 }, y.ToDoubleArray());
    }

    [Fact]
    public void Float32SliceAndPadRouteTheGradientBack()
    {
        var x = Tensor.FromArray(new float[] { 1, 2, 3, 4, 5, 6 }, 2, 3).RequireGrad();
        var w = Tensor.FromArray(new float[] { 10, 20, 30, 40 }, 2, 2);
        (x.Slice(1, 0, 2, step: 2) * w).Sum().Backward(); // columns 0 and 2
        Assert.Equal(new float[] { 10, 0, 20, 30, 0, 40 }, x.Grad!.ToFloatArray());
        x.ZeroGrad();
        (x.Pad([0, 1, 1, 0], 0) * Tensor.FromArray(Enumerable.Range(1, 12).Select(v => (float)v).ToArray(), 3, 4)).Sum().Backward();
        Assert.Equal(new float[] { 2, 3, 4, 6, 7, 8 }, x.Grad!.ToFloatArray());
    }

    [Fact]
    public void ConvTransposeChecksEachSideOfItsPaddingsAndTheEmptyOutput()
    {
        var x = Tensor.Zeros([1, 2, 3, 3]);
        var w = Tensor.Zeros([2, 1, 2, 2]);
        void OutPad((int, int) outPad, (int, int) stride, (int, int) dil, string text) =>
            Assert.Equal($"ConvTranspose2d: output padding {text} (Parameter 'outPad')",
                Assert.Throws<ArgumentOutOfRangeException>(() => Conv.ConvTranspose2d(x, w, null, stride, (0, 0), outPad, dil)).Message);
        OutPad((0, 2), (1, 2), (1, 1), "(0, 2) must be smaller than stride (1, 2) or dilation (1, 1).");
        OutPad((0, 1), (1, 1), (1, 1), "(0, 1) must be smaller than stride (1, 1) or dilation (1, 1).");
        OutPad((1, 0), (1, 1), (1, 1), "(1, 0) must be smaller than stride (1, 1) or dilation (1, 1).");
        OutPad((0, -1), (1, 1), (1, 1), "(0, -1) must be smaller than stride (1, 1) or dilation (1, 1).");
        OutPad((-1, 0), (1, 1), (1, 1), "(-1, 0) must be smaller than stride (1, 1) or dilation (1, 1).");
        // below the dilation on one axis and the stride on the other is fine: (3 − 1)·s + d·(2 − 1) + op + 1,
        // rows 2 + 2 + 1 + 1, columns 4 + 1 + 1 + 1
        Assert.Equal([1, 1, 6, 7], Conv.ConvTranspose2d(x, w, null, (1, 2), (0, 0), (1, 1), (2, 1)).Shape.ToArray());
        foreach (var pad in new[] { (0, -1), (-1, 0) })
            Assert.Equal($"ConvTranspose2d: padding {pad} must be non-negative. (Parameter 'pad')",
                Assert.Throws<ArgumentOutOfRangeException>(() => Conv.ConvTranspose2d(x, w, null, (1, 1), pad, (0, 0), (1, 1))).Message);
        foreach (var (stride, dil) in new[] { ((1, 0), (1, 1)), ((0, 1), (1, 1)), ((1, 1), (0, 1)), ((1, 1), (1, 0)) })
            Assert.Equal($"ConvTranspose2d: stride {stride} and dilation {dil} must be >= 1. (Parameter 'stride')",
                Assert.Throws<ArgumentOutOfRangeException>(() => Conv.ConvTranspose2d(x, w, null, stride, (0, 0), (0, 0), dil)).Message);
        // (3 − 1)·1 − 2·2 + 1 + 1 = 0 rows; columns (3 − 1) − 0 + 2 = 4
        Assert.Equal("ConvTranspose2d: input [1, 2, 3, 3] with kernel 2x2, stride (1, 1), padding (2, 0) gives an empty output (0x4).",
            Assert.Throws<ShapeMismatchException>(() => Conv.ConvTranspose2d(x, w, null, (1, 1), (2, 0), (0, 0), (1, 1))).Message);
        Assert.Equal("ConvTranspose2d: input [1, 2, 3, 3] with kernel 2x2, stride (1, 1), padding (0, 2) gives an empty output (4x0).",
            Assert.Throws<ShapeMismatchException>(() => Conv.ConvTranspose2d(x, w, null, (1, 1), (0, 2), (0, 0), (1, 1))).Message);
        Assert.Equal("ConvTranspose2d: input [1, 2, 3, 3] ([N, Cin, H, W]) does not fit weight [2, 1, 2, 2] ([Cin, Cout, kh, kw]) (same dtype and Cin).",
            Assert.Throws<ShapeMismatchException>(() => Conv.ConvTranspose2d(x, w.To(DType.Float64), null, (1, 1), (0, 0), (0, 0), (1, 1))).Message);
        Assert.Throws<ShapeMismatchException>(() => Conv.ConvTranspose2d(Tensor.Zeros([2, 3, 3]), w, null, (1, 1), (0, 0), (0, 0), (1, 1)));
        Assert.Throws<ShapeMismatchException>(() => Conv.ConvTranspose2d(x, Tensor.Zeros([2, 1, 2]), null, (1, 1), (0, 0), (0, 0), (1, 1)));
    }

    [Fact]
    public void DenseSumHandsItsBackwardTemporariesBackToThePoolAtOnce()
    {
        // BufferPool's counters are per thread, so this runs in parallel with other tests safely
        const int n = 64, steps = 40;
        const long buffer = n * n * sizeof(float);
        var rng = new RandomGenerator(5);
        var x = Tensor.Normal([n, n], 0, 1, rng).RequireGrad();
        var w = Tensor.Normal([n, n], 0, 0.1, rng);
        var b = Tensor.Normal([n], 0, 0.1, rng).RequireGrad();
        using var scope = TensorScope.Begin();
        var h = x;
        for (int t = 0; t < steps; t++) h = DenseSum.Apply([h], [w], [b], FusedActivation.Tanh);
        var loss = h.Sum();
        long live = BufferPool.LiveBytes;
        BufferPool.ResetPeak();
        loss.Backward();
        long peak = BufferPool.PeakLiveBytes - live;
        // kept to the end, dz of every node would be 40 buffers; gy, dz and dx of one node at a time are 3
        Assert.True(peak <= 6 * buffer, $"backward held {peak} bytes at its peak ({peak / buffer} buffers of {buffer})");
        Assert.Equal([n], b.Grad!.Shape.ToArray());
        Assert.True(b.Grad.ToFloatArray().All(float.IsFinite));
    }
}
