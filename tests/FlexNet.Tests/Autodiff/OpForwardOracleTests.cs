using FlexNet.Tensors;

namespace FlexNet.Tests.Autodiff;

/// <summary>
/// Forward values of the elementwise and reduction ops against loops written here from the definitions, in both
/// dtypes, on every fast path the ops take (same shape, scalar on either side, a row broadcast over leading
/// dimensions, the general strided loop, non-contiguous inputs). Gradient checks cannot see a forward pass that is
/// wrong in a differentiable way, so these pin the values.
/// </summary>
public sealed class OpForwardOracleTests
{
    private static readonly string[] Kinds = ["add", "sub", "mul", "div", "max", "min"];

    private static double Op(string k, double a, double b) => k switch
    {
        "add" => a + b,
        "sub" => a - b,
        "mul" => a * b,
        "div" => a / b,
        "max" => double.IsNaN(a) || double.IsNaN(b) ? double.NaN : Math.Max(a, b),
        _ => double.IsNaN(a) || double.IsNaN(b) ? double.NaN : Math.Min(a, b),
    };

    private static Tensor Apply(string k, Tensor a, Tensor b) => k switch
    {
        "add" => a + b,
        "sub" => a - b,
        "mul" => a * b,
        "div" => a / b,
        "max" => a.Maximum(b),
        _ => a.Minimum(b),
    };

    /// <summary>Deterministic values with distinct magnitudes and both signs, never zero (so division is defined).</summary>
    private static double[] Values(int n, int salt)
    {
        var v = new double[n];
        for (int i = 0; i < n; i++) v[i] = ((i * 7 + salt * 13) % 11 - 5 + 0.25 * ((i + salt) % 3)) is var x && x == 0 ? 0.5 : x;
        return v;
    }

    private static int[] Strides(int[] shape)
    {
        var s = new int[shape.Length];
        int k = 1;
        for (int d = shape.Length - 1; d >= 0; d--) { s[d] = k; k *= shape[d]; }
        return s;
    }

    /// <summary>y = a op b with NumPy broadcasting, by explicit index arithmetic.</summary>
    private static double[] Broadcast(string k, double[] a, int[] sa, double[] b, int[] sb, out int[] shape)
    {
        int rank = Math.Max(sa.Length, sb.Length);
        shape = new int[rank];
        for (int d = 0; d < rank; d++)
        {
            int da = d - (rank - sa.Length) >= 0 ? sa[d - (rank - sa.Length)] : 1;
            int db = d - (rank - sb.Length) >= 0 ? sb[d - (rank - sb.Length)] : 1;
            shape[d] = da == 1 ? db : da;
        }
        int n = 1;
        foreach (int d in shape) n *= d;
        var y = new double[n];
        int[] stA = Strides(sa), stB = Strides(sb);
        for (int flat = 0; flat < n; flat++)
        {
            int rem = flat, ia = 0, ib = 0;
            for (int d = rank - 1; d >= 0; d--)
            {
                int c = rem % shape[d];
                rem /= shape[d];
                int ja = d - (rank - sa.Length), jb = d - (rank - sb.Length);
                if (ja >= 0 && sa[ja] != 1) ia += c * stA[ja];
                if (jb >= 0 && sb[jb] != 1) ib += c * stB[jb];
            }
            y[flat] = Op(k, a[ia], b[ib]);
        }
        return y;
    }

    public static TheoryData<int[], int[]> Shapes() => new()
    {
        { [3, 5], [3, 5] }, // same shape
        { [3, 5], [] }, // scalar right
        { [], [3, 5] }, // scalar left
        { [1], [2, 9] }, // one-element left
        { [2, 9], [1, 1] }, // one-element right
        { [2, 3, 5], [5] }, // row over leading dimensions
        { [2, 3, 5], [1, 5] }, // row with a leading 1
        { [2, 3, 5], [3, 5] }, // matrix over the batch
        { [4, 1, 3], [2, 1] }, // general broadcast on both sides
        { [2, 1], [2, 7] }, // column
        { [], [] }, // scalars
        { [0, 3], [3] }, // empty
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void BinaryOpsMatchIndexLoops(int[] sa, int[] sb)
    {
        int na = sa.Aggregate(1, (p, d) => p * d), nb = sb.Aggregate(1, (p, d) => p * d);
        double[] a = Values(na, 1), b = Values(nb, 2);
        foreach (string k in Kinds)
        {
            double[] expected = Broadcast(k, a, sa, b, sb, out int[] shape);
            var y64 = Apply(k, Tensor.FromArray(a, sa), Tensor.FromArray(b, sb));
            Assert.Equal(shape, y64.Shape.ToArray());
            Assert.Equal(expected, y64.ToDoubleArray());

            var y32 = Apply(k, Tensor.FromArray(a.Select(v => (float)v).ToArray(), sa), Tensor.FromArray(b.Select(v => (float)v).ToArray(), sb));
            Assert.Equal(DType.Float32, y32.DType);
            float[] got = y32.ToFloatArray();
            for (int i = 0; i < expected.Length; i++)
                Assert.True(Math.Abs(expected[i] - got[i]) <= 1e-6 * Math.Abs(expected[i]), $"{k} float32 element {i}: {expected[i]} vs {got[i]}");
        }
    }

    [Fact]
    public void BinaryOpsOnNonContiguousViewsMatchIndexLoops()
    {
        double[] a = Values(12, 3), b = Values(4, 4);
        var at = Tensor.FromArray(a, 4, 3).Transpose(); // [3, 4], element [i, j] = a[j * 3 + i]
        Assert.False(at.IsContiguous);
        var bt = Tensor.FromArray(b, 4, 1).Transpose(); // [1, 4] view
        foreach (string k in Kinds)
        {
            var y = Apply(k, at, bt).ToDoubleArray();
            var y2 = Apply(k, at, at).ToDoubleArray();
            for (int i = 0; i < 3; i++)
            for (int j = 0; j < 4; j++)
            {
                Assert.Equal(Op(k, a[j * 3 + i], b[j]), y[i * 4 + j]);
                Assert.Equal(Op(k, a[j * 3 + i], a[j * 3 + i]), y2[i * 4 + j]);
            }
        }
    }

    [Fact]
    public void MaximumAndMinimumPropagateNaNOnEveryPath()
    {
        foreach (var (sa, sb) in new (int[], int[])[] { ([4], [4]), ([4], []), ([], [4]), ([2, 4], [1, 4]), ([4, 1], [1, 2]) })
        {
            int na = sa.Aggregate(1, (p, d) => p * d), nb = sb.Aggregate(1, (p, d) => p * d);
            double[] a = Values(na, 5), b = Values(nb, 6);
            a[0] = double.NaN;
            foreach (string k in new[] { "max", "min" })
            {
                var expected = Broadcast(k, a, sa, b, sb, out _);
                var got = Apply(k, Tensor.FromArray(a, sa), Tensor.FromArray(b, sb)).ToDoubleArray();
                Assert.Equal(expected, got);
            }
        }
    }

    [Fact]
    public void MaximumAndMinimumSplitTheGradientOnTiesAndOtherwiseSelect()
    {
        var a = Tensor.FromArray([1.0, 5.0, 3.0], 3).RequireGrad();
        var b = Tensor.FromArray([2.0, 4.0, 3.0], 3).RequireGrad();
        a.Maximum(b).Sum().Backward();
        Assert.Equal([0.0, 1.0, 0.5], a.Grad!.ToDoubleArray());
        Assert.Equal([1.0, 0.0, 0.5], b.Grad!.ToDoubleArray());

        var c = Tensor.FromArray([1.0, 5.0, 3.0], 3).RequireGrad();
        var d = Tensor.FromArray([2.0, 4.0, 3.0], 3).RequireGrad();
        (c.Minimum(d) * Tensor.FromArray([10.0, 20.0, 30.0], 3)).Sum().Backward();
        Assert.Equal([10.0, 0.0, 15.0], c.Grad!.ToDoubleArray());
        Assert.Equal([0.0, 20.0, 15.0], d.Grad!.ToDoubleArray());

        // a broadcast operand collects the gradients of every position it was compared at
        var row = Tensor.FromArray([2.0, 0.0], 2).RequireGrad();
        var m = Tensor.FromArray([1.0, 1.0, 3.0, -1.0, 2.0, 0.0], 3, 2);
        m.Maximum(row).Sum().Backward();
        Assert.Equal([1.0 + 0 + 0.5, 0 + 1 + 0.5], row.Grad!.ToDoubleArray());
    }

    [Fact]
    public void DivisionGradientsByHand()
    {
        var a = Tensor.FromArray([3.0, -2.0], 2).RequireGrad();
        var b = Tensor.FromArray([2.0, 4.0], 2).RequireGrad();
        (a / b).Sum().Backward();
        Assert.Equal([0.5, 0.25], a.Grad!.ToDoubleArray());
        Assert.Equal([-3.0 / 4, 2.0 / 16], b.Grad!.ToDoubleArray());
        var s = Tensor.FromArray([1.0, 2.0], 2).RequireGrad();
        var t = Tensor.FromArray([5.0, 7.0], 2).RequireGrad();
        (s - t).Sum().Backward();
        Assert.Equal([1.0, 1.0], s.Grad!.ToDoubleArray());
        Assert.Equal([-1.0, -1.0], t.Grad!.ToDoubleArray());
    }

    [Fact]
    public void MixedDTypesAreRejectedWithBothNamed()
    {
        var ex = Assert.Throws<ArgumentException>(() => Tensor.FromArray([1f], 1) + Tensor.FromArray([1.0], 1));
        Assert.Equal("Add: dtypes differ (Float32 vs Float64); convert one with To(dtype).", ex.Message);
    }

    // ---- reductions ----

    private static readonly int[] Shape3 = [2, 3, 4];

    private static double[] SumOver(double[] x, int[] shape, bool[] mask, out int[] kept)
    {
        kept = shape.Select((d, i) => mask[i] ? 1 : d).ToArray();
        int n = kept.Aggregate(1, (p, d) => p * d);
        var y = new double[n];
        int[] st = Strides(shape), sk = Strides(kept);
        for (int flat = 0; flat < x.Length; flat++)
        {
            int o = 0;
            for (int d = 0; d < shape.Length; d++)
            {
                int c = flat / st[d] % shape[d];
                if (!mask[d]) o += c * sk[d];
            }
            y[o] += x[flat];
        }
        return y;
    }

    [Fact]
    public void SumAndMeanOverEveryAxisSetMatchLoops()
    {
        double[] x = Values(24, 7);
        for (int bits = 0; bits < 8; bits++)
        {
            var axes = Enumerable.Range(0, 3).Where(d => (bits >> d & 1) != 0).ToArray();
            var mask = new bool[3];
            if (axes.Length == 0) Array.Fill(mask, true);
            foreach (int d in axes) mask[d] = true;
            double[] sum = SumOver(x, Shape3, mask, out int[] kept);
            int count = Shape3.Where((d, i) => mask[i]).Aggregate(1, (p, d) => p * d);
            int[] dropped = Shape3.Where((d, i) => !mask[i]).ToArray();
            foreach (bool nonContiguous in new[] { false, true })
            {
                // the same logical tensor, stored as [4, 3, 2] and permuted back
                Tensor t = Tensor.FromArray(x, Shape3);
                if (nonContiguous)
                {
                    var stored = new double[24];
                    for (int i = 0; i < 2; i++) for (int j = 0; j < 3; j++) for (int k = 0; k < 4; k++) stored[(k * 3 + j) * 2 + i] = x[(i * 3 + j) * 4 + k];
                    t = Tensor.FromArray(stored, 4, 3, 2).Permute(2, 1, 0);
                    Assert.False(t.IsContiguous);
                }
                string what = $"axes [{string.Join(",", axes)}]{(nonContiguous ? " non-contiguous" : "")}";
                var s = t.Sum(axes, keepDims: true);
                Assert.Equal(kept, s.Shape.ToArray());
                Tests.Testing.T.Close(sum, s.ToDoubleArray(), 1e-14, 1e-14, "sum " + what);
                Assert.Equal(dropped, t.Sum(axes, keepDims: false).Shape.ToArray());
                var m = t.Mean(axes, keepDims: false);
                Tests.Testing.T.Close(sum.Select(v => v / count).ToArray(), m.ToDoubleArray(), 1e-14, 1e-14, "mean " + what);
                var m32 = t.To(DType.Float32).Mean(axes, keepDims: true);
                Tests.Testing.T.Close(sum.Select(v => v / count).ToArray(), m32.ToDoubleArray(), 1e-6, 1e-6, "mean float32 " + what);
            }
        }
    }

    [Fact]
    public void ReductionsOfEmptyTensors()
    {
        var e = Tensor.Zeros([0, 3], DType.Float64);
        Assert.Equal([0.0, 0.0, 0.0], e.Sum(0).ToDoubleArray());
        Assert.Equal([0], e.Sum(1).Shape.ToArray());
        Assert.All(e.Mean(0).ToDoubleArray(), v => Assert.True(double.IsNaN(v)));
        var ex = Assert.Throws<ShapeMismatchException>(() => e.Max(0));
        Assert.Equal("Max: axis 0 of [0, 3] is empty.", ex.Message);
    }

    [Fact]
    public void RepeatedAxesAreRejected()
    {
        var ex = Assert.Throws<ArgumentException>(() => Tensor.Zeros([2, 3]).Sum(1, -1));
        Assert.Equal("Sum: axis -1 repeated in [1, -1].", ex.Message);
    }

    [Fact]
    public void MaxAndArgMaxAlongEachAxisMatchLoopsWithFirstTieAndNaN()
    {
        double[] x = Values(24, 9);
        // ties at the maximum along each axis (the first must win): axis 2 in row (0, 0), axis 0 at (·, 0, 0),
        // axis 1 at (1, ·, 0)
        x[1] = x[3] = 100;
        x[0] = x[12] = 50;
        x[16] = x[20] = 60;
        x[17] = double.NaN;
        int[] st = Strides(Shape3);
        for (int ax = 0; ax < 3; ax++)
        {
            var t = Tensor.FromArray(x, Shape3).RequireGrad();
            var values = t.Max(ax, keepDims: true);
            var arg = t.ArgMax(ax);
            int[] kept = Shape3.Select((d, i) => i == ax ? 1 : d).ToArray();
            Assert.Equal(kept, values.Shape.ToArray());
            Assert.Equal(Shape3.Where((d, i) => i != ax).ToArray(), arg.Shape.ToArray());
            Assert.Equal(kept, t.ArgMax(ax, keepDims: true).Shape.ToArray());
            double[] v = values.ToDoubleArray();
            int[] a = arg.ToInt32Array();
            var expectedGrad = new double[24];
            int[] sk = Strides(kept);
            for (int o = 0; o < v.Length; o++)
            {
                int baseFlat = 0;
                for (int d = 0; d < 3; d++) baseFlat += o / sk[d] % kept[d] * st[d];
                int best = 0;
                double bv = x[baseFlat];
                for (int c = 1; c < Shape3[ax]; c++)
                {
                    double cand = x[baseFlat + c * st[ax]];
                    if (cand > bv || (double.IsNaN(cand) && !double.IsNaN(bv))) { bv = cand; best = c; }
                }
                Assert.Equal(bv, v[o]);
                Assert.Equal(best, a[o]);
                expectedGrad[baseFlat + best * st[ax]] += o + 1;
            }
            // the gradient goes to the selected element only; weights o + 1 tell the rows apart
            (values * Tensor.FromArray(Enumerable.Range(1, v.Length).Select(i => (double)i).ToArray(), kept)).Sum().Backward();
            Assert.Equal(expectedGrad, t.Grad!.ToDoubleArray());
        }
        Assert.True(double.IsNaN(Tensor.FromArray(x, Shape3).Max().Item())); // NaN wins the overall maximum
    }

    // ---- unary ----

    public static TheoryData<string> UnaryKinds() =>
        ["neg", "exp", "log", "sqrt", "abs", "square", "tanh", "sigmoid", "relu", "leaky", "elu", "softplus", "softsign", "clip", "pow", "addS", "mulS", "rsub", "subS", "divS"];

    private static (Func<Tensor, Tensor> op, Func<double, double> f) Unary(string k) => k switch
    {
        "neg" => (x => -x, v => -v),
        "exp" => (x => x.Exp(), Math.Exp),
        "log" => (x => x.Abs().Log(), v => Math.Log(Math.Abs(v))),
        "sqrt" => (x => x.Abs().Sqrt(), v => Math.Sqrt(Math.Abs(v))),
        "abs" => (x => x.Abs(), Math.Abs),
        "square" => (x => x.Square(), v => v * v),
        "tanh" => (x => x.Tanh(), Math.Tanh),
        "sigmoid" => (x => x.Sigmoid(), v => 1 / (1 + Math.Exp(-v))),
        "relu" => (x => x.Relu(), v => v > 0 ? v : 0),
        "leaky" => (x => x.LeakyRelu(0.2), v => v > 0 ? v : 0.2 * v),
        "elu" => (x => x.Elu(0.7), v => v > 0 ? v : 0.7 * (Math.Exp(v) - 1)),
        "softplus" => (x => x.Softplus(), v => Math.Log(1 + Math.Exp(v))),
        "softsign" => (x => x.Softsign(), v => v / (1 + Math.Abs(v))),
        "clip" => (x => x.Clip(-1.5, 2.25), v => Math.Min(2.25, Math.Max(-1.5, v))),
        "pow" => (x => x.Abs().Pow(2.5), v => Math.Pow(Math.Abs(v), 2.5)),
        "addS" => (x => x + 3.0, v => v + 3),
        "mulS" => (x => 2.5 * x, v => 2.5 * v),
        "rsub" => (x => 1.0 - x, v => 1 - v),
        "subS" => (x => x - 0.75, v => v - 0.75),
        _ => (x => x / 4.0, v => v / 4),
    };

    [Theory]
    [MemberData(nameof(UnaryKinds))]
    public void UnaryOpsMatchTheirFormulas(string kind)
    {
        var (op, f) = Unary(kind);
        double[] x = Values(37, 11).Select(v => v / 2).ToArray(); // 37: vector bodies and a scalar tail
        double[] expected = x.Select(f).ToArray();
        var y = op(Tensor.FromArray(x, 37));
        Tests.Testing.T.Close(expected, y.ToDoubleArray(), 1e-13, 1e-15, kind);
        var y32 = op(Tensor.FromArray(x.Select(v => (float)v).ToArray(), 37));
        Assert.Equal(DType.Float32, y32.DType);
        Tests.Testing.T.Close(expected, y32.ToDoubleArray(), 2e-6, 1e-6, kind + " float32");
        var view = op(Tensor.FromArray(x[..36], 4, 9).Transpose()).Transpose();
        Tests.Testing.T.Close(expected[..36], view.Contiguous().ToDoubleArray(), 1e-13, 1e-15, kind + " non-contiguous");
    }

    [Fact]
    public void WhereSelectsAndRoutesGradients()
    {
        var cond = Tensor.FromArray([1, 0, 2], 3);
        var a = Tensor.FromArray([1.0, 2.0, 3.0], 3).RequireGrad();
        var b = Tensor.FromArray([10.0], 1).RequireGrad();
        var y = Tensor.Where(cond, a, b);
        Assert.Equal([1.0, 10.0, 3.0], y.ToDoubleArray());
        (y * Tensor.FromArray([2.0, 3.0, 4.0], 3)).Sum().Backward();
        Assert.Equal([2.0, 0.0, 4.0], a.Grad!.ToDoubleArray());
        Assert.Equal([3.0], b.Grad!.ToDoubleArray());
        var y32 = Tensor.Where(cond, Tensor.FromArray([1f, 2f, 3f], 3), Tensor.FromArray([-1f, -2f, -3f], 3));
        Assert.Equal([1f, -2f, 3f], y32.ToFloatArray());
        Assert.Equal("Where: dtypes differ (Float32 vs Float64).",
            Assert.Throws<ArgumentException>(() => Tensor.Where(cond, Tensor.FromArray([1f], 1), Tensor.FromArray([1.0], 1))).Message);
    }
}
