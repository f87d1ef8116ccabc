using FlexNet.Autodiff;
using FlexNet.Tensors;
using FlexNet.Tests.Testing;

namespace FlexNet.Tests.Autodiff;

/// <summary>Rules of the reduction, softmax and unary ops that the older Autodiff tests left open (issue 15, mutation
/// run of Ops/Reduce.cs, Ops/Softmax.cs and Ops/Unary.cs): views that start inside their buffer, several NaNs along
/// one axis, non-relu ops on tensors large enough for relu's parallel path, float32 gradients. Expected values come
/// from loops written here.</summary>
public sealed class OpsMutationGapTests2
{
    [Fact]
    public void MaxAndArgMaxOfAViewThatStartsInsideItsBuffer()
    {
        // rows 1 and 2 of a [3, 4] tensor: a contiguous view at offset 4
        double[] all = [9, 9, 9, 9, 1, 7, 3, 2, -1, -5, 4, 0];
        var x = Tensor.FromArray(all, 3, 4).Detach().RequireGrad();
        var rows = x.Slice(0, 1, 2);
        Assert.True(rows.IsContiguous);
        Assert.Equal([7.0, 4.0], rows.Max(1).ToDoubleArray());
        Assert.Equal([1, 2], rows.ArgMax(1).ToInt32Array());
        Assert.Equal([1.0, 7.0, 4.0, 2.0], rows.Max(0).ToDoubleArray());
        (rows.Max(1) * Tensor.FromArray([10.0, 20.0], 2)).Sum().Backward();
        Assert.Equal([0.0, 0, 0, 0, 0, 10, 0, 0, 0, 0, 20, 0], x.Grad!.ToDoubleArray());
    }

    [Fact]
    public void MaxBackwardReadsAGradientThatIsASliceOfALargerOne()
    {
        // concat's backward hands each input a slice of its gradient; the max's slice starts at element 3
        var x = Tensor.FromArray([1.0, 8.0, 3.0, 6.0, 5.0, 4.0], 2, 3).RequireGrad();
        var y = Tensor.Concat([Tensor.FromArray([0.0, 0.0, 0.0], 3), x.Max(1)], 0);
        (y * Tensor.FromArray([100.0, 200.0, 300.0, 10.0, 20.0], 5)).Sum().Backward();
        Assert.Equal([0.0, 10.0, 0.0, 20.0, 0.0, 0.0], x.Grad!.ToDoubleArray());
    }

    [Fact]
    public void AxesOutOfRangeAreNamedByTheReduction()
    {
        var x = Tensor.Zeros([2, 3], DType.Float64);
        void Rejects(string text, Func<Tensor> f) =>
            Assert.Equal(text + " (Parameter 'axis')", Assert.Throws<ArgumentOutOfRangeException>(f).Message);
        Rejects("Max: axis 2 is out of range for rank 2.", () => x.Max(2));
        Rejects("Max: axis -3 is out of range for rank 2.", () => x.ArgMax(-3));
        Rejects("Sum: axis 2 is out of range for rank 2.", () => x.Sum(2));
        Rejects("Mean: axis -3 is out of range for rank 2.", () => x.Mean(-3));
        Rejects("Softmax: axis 2 is out of range for rank 2.", () => NN.LogSoftmax(x, 2));
    }

    [Fact]
    public void MaxAndArgMaxTakeTheFirstOfSeveralNaNs()
    {
        // rows: NaN after a number, NaN first, two NaNs after numbers
        double nan = double.NaN;
        double[] v = [1, nan, 5, nan, nan, 9, nan, 2, 3, 4, nan, nan];
        var x = Tensor.FromArray(v, 3, 4).RequireGrad();
        Assert.Equal([1, 0, 2], x.ArgMax(1).ToInt32Array());
        Assert.All(x.Max(1).ToDoubleArray(), m => Assert.True(double.IsNaN(m)));
        (x.Max(1) * Tensor.FromArray([1.0, 2.0, 3.0], 3)).Sum().Backward();
        Assert.Equal([0.0, 1, 0, 0, 2, 0, 0, 0, 0, 0, 3, 0], x.Grad!.ToDoubleArray());
        // along axis 0 of the transpose: the same rows read with a stride
        Assert.Equal([1, 0, 2], Tensor.FromArray(v, 3, 4).T.ArgMax(0).ToInt32Array());
    }

    [Theory]
    [InlineData(DType.Float64)]
    [InlineData(DType.Float32)]
    public void OtherOpsOnTensorsAsLargeAsReluRunsInParallelAreNotRelu(DType dtype)
    {
        // relu of at least 2^17 elements takes a parallel path; every other op must not
        const int n = 1 << 17;
        var xv = new double[n];
        for (int i = 0; i < n; i++) xv[i] = (i % 13 - 6) * 0.25;
        double[] gv = new double[n];
        for (int i = 0; i < n; i++) gv[i] = 1 + i % 5;
        var x = Tensor.FromArray(xv, n).To(dtype).RequireGrad();
        var y = x.Tanh();
        (y * Tensor.FromArray(gv, n).To(dtype)).Sum().Backward();
        double tol = dtype == DType.Float64 ? 1e-14 : 2e-6;
        var yv = y.ToDoubleArray();
        var g = x.Grad!.ToDoubleArray();
        for (int i = 0; i < n; i += 97)
        {
            double t = Math.Tanh(xv[i]);
            Assert.True(Math.Abs(yv[i] - t) <= tol, $"tanh({xv[i]}) at {i}: {yv[i]}");
            Assert.True(Math.Abs(g[i] - gv[i] * (1 - t * t)) <= 4 * tol, $"tanh' at {i}: {g[i]}");
        }
        var z = -x;
        Assert.Equal(-xv[3], z.ToDoubleArray()[3]);
        Assert.Equal(-xv[n - 1], z.ToDoubleArray()[n - 1]);
    }

    public static TheoryData<string> UnaryKinds() =>
        ["neg", "exp", "log", "sqrt", "abs", "square", "tanh", "sigmoid", "relu", "leaky", "elu", "softplus", "softsign", "clip", "pow", "addS", "mulS"];

    private static (Func<Tensor, Tensor> op, Func<double, double> df) Derivative(string k) => k switch
    {
        "neg" => (x => -x, _ => -1),
        "exp" => (x => x.Exp(), Math.Exp),
        "log" => (x => x.Log(), v => 1 / v),
        "sqrt" => (x => x.Sqrt(), v => 0.5 / Math.Sqrt(v)),
        "abs" => (x => x.Abs(), v => Math.Sign(v)),
        "square" => (x => x.Square(), v => 2 * v),
        "tanh" => (x => x.Tanh(), v => 1 - Math.Tanh(v) * Math.Tanh(v)),
        "sigmoid" => (x => x.Sigmoid(), v => Math.Exp(-v) / ((1 + Math.Exp(-v)) * (1 + Math.Exp(-v)))),
        "relu" => (x => x.Relu(), v => v > 0 ? 1 : 0),
        "leaky" => (x => x.LeakyRelu(0.2), v => v > 0 ? 1 : 0.2),
        "elu" => (x => x.Elu(0.7), v => v > 0 ? 1 : 0.7 * Math.Exp(v)),
        "softplus" => (x => x.Softplus(), v => 1 / (1 + Math.Exp(-v))),
        "softsign" => (x => x.Softsign(), v => 1 / ((1 + Math.Abs(v)) * (1 + Math.Abs(v)))),
        "clip" => (x => x.Clip(-1.5, 2.25), v => v > -1.5 && v < 2.25 ? 1 : 0),
        "pow" => (x => x.Pow(2.5), v => 2.5 * Math.Pow(v, 1.5)),
        "addS" => (x => x + 3.0, _ => 1),
        _ => (x => 2.5 * x, _ => 2.5),
    };

    [Theory]
    [MemberData(nameof(UnaryKinds))]
    public void UnaryGradientsInFloat32MatchTheDerivatives(string kind)
    {
        var (op, df) = Derivative(kind);
        bool positive = kind is "log" or "sqrt" or "pow";
        const int n = 37; // vector bodies and a scalar tail
        var xv = new float[n];
        var wv = new float[n];
        for (int i = 0; i < n; i++)
        {
            float v = (i * 7 % 19 - 9) * 0.25f + 0.125f; // never 0, -1.5 or 2.25
            xv[i] = positive ? Math.Abs(v) : v;
            wv[i] = 1 + i % 4;
        }
        var x = Tensor.FromArray(xv, n).RequireGrad();
        (op(x) * Tensor.FromArray(wv, n)).Sum().Backward();
        Assert.Equal(DType.Float32, x.Grad!.DType);
        var g = x.Grad.ToFloatArray();
        for (int i = 0; i < n; i++)
        {
            double want = wv[i] * df(xv[i]);
            Assert.True(Math.Abs(g[i] - want) <= 2e-6 * Math.Max(1, Math.Abs(want)), $"{kind}'({xv[i]}) · {wv[i]} at {i}: want {want}, got {g[i]}");
        }
    }

    [Fact]
    public void WhereGradientsInFloat32AndForOneSideOnly()
    {
        var cond = Tensor.FromArray([0.0, 3.0, -1.0, 0.0], 4);
        var w = Tensor.FromArray([1f, 2f, 3f, 4f], 4);
        var a = Tensor.FromArray([1f, 2f, 3f, 4f], 4).RequireGrad();
        var b = Tensor.FromArray([-1f, -2f, -3f, -4f], 4).RequireGrad();
        var y = Tensor.Where(cond, a, b);
        Assert.Equal([-1f, 2f, 3f, -4f], y.ToFloatArray());
        (y * w).Sum().Backward();
        Assert.Equal([0f, 2f, 3f, 0f], a.Grad!.ToFloatArray());
        Assert.Equal([1f, 0f, 0f, 4f], b.Grad!.ToFloatArray());
        // only b needs a gradient; a keeps none
        var a2 = Tensor.FromArray([1.0, 2.0, 3.0, 4.0], 4);
        var b2 = Tensor.FromArray([5.0], 1).RequireGrad();
        (Tensor.Where(cond, a2, b2) * Tensor.FromArray([1.0, 2.0, 3.0, 4.0], 4)).Sum().Backward();
        Assert.Equal([5.0], b2.Grad!.ToDoubleArray());
        Assert.Null(a2.Grad);
    }

    [Fact]
    public void SoftmaxOfAScalarIsOneAndLogSoftmaxZero()
    {
        // PyTorch: softmax(tensor(2.5), 0) = 1, log_softmax = 0, and both gradients are 0
        foreach (int axis in new[] { 0, -1 })
        foreach (var dtype in new[] { DType.Float64, DType.Float32 })
        {
            var s = Tensor.Full([], 2.5, dtype).RequireGrad();
            var y = NN.Softmax(s, axis);
            Assert.Empty(y.Shape.ToArray());
            Assert.Equal(1.0, y.Item());
            var l = NN.LogSoftmax(s, axis);
            Assert.Equal(0.0, l.Item());
            (3.0 * y + 5.0 * l).Backward();
            Assert.Equal(0.0, s.Grad!.Item());
        }
        Assert.Equal("Softmax: axis 1 is out of range for rank 0. (Parameter 'axis')",
            Assert.Throws<ArgumentOutOfRangeException>(() => NN.Softmax(Tensor.Full([], 1.0, DType.Float64), 1)).Message);
    }

    [Fact]
    public void PackedWeightChecksItsWeightAndTheDataType()
    {
        void Rejects(Tensor w, string text) =>
            Assert.Equal($"PackedWeight: W {text} must be a contiguous floating-point [out, in] matrix.",
                Assert.Throws<ShapeMismatchException>(() => new FlexNet.Autodiff.Ops.PackedWeight(w)).Message);
        Rejects(Tensor.Zeros([6], DType.Float32), "[6] (Float32)");
        Rejects(Tensor.Zeros([1, 2, 3], DType.Float64), "[1, 2, 3] (Float64)");
        Rejects(Tensor.Zeros([3, 2], DType.Float32).T, "[2, 3] (Float32)");
        Rejects(Tensor.FromArray(new[] { 1, 2, 3, 4 }, 2, 2), "[2, 2] (Int32)");

        using var pf = new FlexNet.Autodiff.Ops.PackedWeight(Tensor.Zeros([3, 2], DType.Float32));
        Assert.Equal((3, 2, DType.Float32), (pf.Out, pf.In, pf.DType));
        Assert.Equal("PackedWeight: a Float32 weight used with Double data.",
            Assert.Throws<ArgumentException>(() => pf.MultiplyInto<double>(1, new double[2], 0.0, new double[3])).Message);
        var wd = Tensor.Zeros([3, 2], DType.Float64);
        using var pd = new FlexNet.Autodiff.Ops.PackedWeight(wd);
        Assert.Same(wd, pd.Source);
        Assert.Equal((3, 2, DType.Float64), (pd.Out, pd.In, pd.DType));
        Assert.Equal("PackedWeight: a Float64 weight used with Single data.",
            Assert.Throws<ArgumentException>(() => pd.MultiplyInto<float>(1, new float[2], 0f, new float[3])).Message);
    }

    [Theory]
    [InlineData(DType.Float64)]
    [InlineData(DType.Float32)]
    public void DenseSumUsesAPackedWeightOnlyForTheTensorItWasPackedFrom(DType dtype)
    {
        // y = x1·W1ᵀ + x2·W2ᵀ, each W packed; the pack of W2 is handed in for the first input as well (another tensor)
        const int n = 3, inF = 4, outF = 5;
        double[] x1 = Values(n * inF, 1), x2 = Values(n * inF, 2), w1 = Values(outF * inF, 3), w2 = Values(outF * inF, 4);
        var tw1 = Tensor.FromArray(w1, outF, inF).To(dtype);
        var tw2 = Tensor.FromArray(w2, outF, inF).To(dtype);
        using var p2 = new FlexNet.Autodiff.Ops.PackedWeight(tw2);
        var y = FlexNet.Autodiff.Ops.DenseSum.Apply([Tensor.FromArray(x1, n, inF).To(dtype), Tensor.FromArray(x2, n, inF).To(dtype)],
            [tw1, tw2], [], FlexNet.Kernels.FusedActivation.Linear, [p2, p2]).ToDoubleArray();
        for (int r = 0; r < n; r++)
        for (int o = 0; o < outF; o++)
        {
            double want = 0;
            for (int i = 0; i < inF; i++) want += x1[r * inF + i] * w1[o * inF + i] + x2[r * inF + i] * w2[o * inF + i];
            Assert.True(Math.Abs(want - y[r * outF + o]) <= 1e-5 * (1 + Math.Abs(want)), $"y[{r}, {o}] = {y[r * outF + o]}, want {want}");
        }
    }

    [Theory]
    [InlineData(DType.Float64)]
    [InlineData(DType.Float32)]
    public void DenseSumBackwardClearsThePooledBuffersItAccumulatesInto(DType dtype)
    {
        // y = act(x·Wᵀ + b), L = Σ y·r: dz = r·act′(z), db = Σₙ dz, dW = dzᵀ·x, dx = dz·W, by loops; the pool is left
        // full of NaN buffers of the sizes of dz and db first, so a temporary that is not cleared shows up
        const int n = 4, inF = 3, outF = 5;
        double[] x = Values(n * inF, 5), w = Values(outF * inF, 6), b = Values(outF, 7), r = Values(n * outF, 8);
        foreach (var act in new[] { FlexNet.Kernels.FusedActivation.Relu, FlexNet.Kernels.FusedActivation.Tanh, FlexNet.Kernels.FusedActivation.Sigmoid })
        {
            var dz = new double[n * outF];
            for (int s = 0; s < n; s++)
            for (int o = 0; o < outF; o++)
            {
                double z = b[o];
                for (int i = 0; i < inF; i++) z += x[s * inF + i] * w[o * inF + i];
                double d = act switch
                {
                    FlexNet.Kernels.FusedActivation.Relu => z > 0 ? 1 : 0,
                    FlexNet.Kernels.FusedActivation.Tanh => 1 - Math.Tanh(z) * Math.Tanh(z),
                    _ => 1 / (1 + Math.Exp(-z)) * (1 - 1 / (1 + Math.Exp(-z))),
                };
                dz[s * outF + o] = r[s * outF + o] * d;
            }
            double[] db = new double[outF], dw = new double[outF * inF], dx = new double[n * inF];
            for (int s = 0; s < n; s++)
            for (int o = 0; o < outF; o++)
            {
                db[o] += dz[s * outF + o];
                for (int i = 0; i < inF; i++)
                {
                    dw[o * inF + i] += dz[s * outF + o] * x[s * inF + i];
                    dx[s * inF + i] += dz[s * outF + o] * w[o * inF + i];
                }
            }
            using (TensorScope.Begin())
                for (int k = 0; k < 8; k++)
                {
                    _ = Tensor.Full([n * outF], double.NaN, dtype);
                    _ = Tensor.Full([outF], double.NaN, dtype);
                }
            using var scope = TensorScope.Begin(); // temporaries come from the pool only inside a scope
            var tx = Tensor.FromArray(x, n, inF).To(dtype).RequireGrad();
            var tw = Tensor.FromArray(w, outF, inF).To(dtype).RequireGrad();
            var tb = Tensor.FromArray(b, outF).To(dtype).RequireGrad();
            var y = FlexNet.Autodiff.Ops.DenseSum.Apply([tx], [tw], [tb], act);
            (y * Tensor.FromArray(r, n, outF).To(dtype)).Sum().Backward();
            double tol = dtype == DType.Float64 ? 1e-13 : 2e-6;
            T.Close(db, tb.Grad!.ToDoubleArray(), tol, tol, $"db {act} {dtype}");
            T.Close(dw, tw.Grad!.ToDoubleArray(), tol, tol, $"dW {act} {dtype}");
            T.Close(dx, tx.Grad!.ToDoubleArray(), tol, tol, $"dx {act} {dtype}");
        }
    }

    [Fact]
    public void SumToShapeRejectsAFirstDimensionThatIsNoBroadcast()
    {
        Assert.Equal("SumToShape: gradient shape [2, 3] is not a broadcast of [4, 3].",
            Assert.Throws<ShapeMismatchException>(() => FlexNet.Autodiff.Ops.Reduce.SumToShape(Tensor.Zeros([2, 3]), [4, 3])).Message);
    }

    [Theory]
    [InlineData(DType.Float64)]
    [InlineData(DType.Float32)]
    public void SumOverLeadingAxesClearsItsPooledOutput(DType dtype)
    {
        // [3, 4] summed over axis 0 (the leading-axes path accumulates into its output), inside a scope after the pool
        // was filled with NaN buffers of the output's size
        double[] x = Values(12, 9);
        using (TensorScope.Begin())
            for (int k = 0; k < 8; k++) _ = Tensor.Full([4], double.NaN, dtype);
        using var scope = TensorScope.Begin();
        var s = Tensor.FromArray(x, 3, 4).To(dtype).Sum(0).ToDoubleArray();
        for (int j = 0; j < 4; j++) Assert.Equal(x[j] + x[4 + j] + x[8 + j], s[j], 1e-6);
    }

    [Theory]
    [InlineData(DType.Float64)]
    [InlineData(DType.Float32)]
    public void WhereGivesAGradientToEachSideAloneAndNamesItselfInBroadcastErrors(DType dtype)
    {
        var cond = Tensor.FromArray([1.0, 0.0, 1.0], 3);
        var w = Tensor.FromArray([1.0, 2.0, 3.0], 3).To(dtype);
        foreach (bool aLearns in new[] { true, false })
        {
            var a = Tensor.FromArray([1.0, 2.0, 3.0], 3).To(dtype);
            var b = Tensor.FromArray([4.0, 5.0, 6.0], 3).To(dtype);
            if (aLearns) a = a.RequireGrad(); else b = b.RequireGrad();
            (Tensor.Where(cond, a, b) * w).Sum().Backward();
            if (aLearns) { Assert.Equal([1.0, 0.0, 3.0], a.Grad!.ToDoubleArray()); Assert.Null(b.Grad); }
            else { Assert.Equal([0.0, 2.0, 0.0], b.Grad!.ToDoubleArray()); Assert.Null(a.Grad); }
        }
        var t3 = Tensor.Zeros([3], dtype);
        var t2 = Tensor.Zeros([2], dtype);
        Assert.Equal("Where: shapes [2] and [3] cannot be broadcast together (dimension 0: 2 vs 3).", Assert.Throws<ShapeMismatchException>(() => Tensor.Where(Tensor.Zeros([2]), t3, t3)).Message);
        Assert.Equal("Where: shapes [3] and [2] cannot be broadcast together (dimension 0: 3 vs 2).", Assert.Throws<ShapeMismatchException>(() => Tensor.Where(Tensor.Zeros([3]), t3, t2)).Message);
    }

    private static double[] Values(int n, int salt)
    {
        var v = new double[n];
        for (int i = 0; i < n; i++) v[i] = ((i * 7 + salt * 3) % 9 - 4) * 0.25 + 0.125 * (i % 2);
        return v;
    }
}
