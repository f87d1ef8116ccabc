using FlexNet.Autodiff;
using FlexNet.Tensors;
using FlexNet.Tests.Testing;

namespace FlexNet.Tests.Autodiff;

/// <summary>
/// Softmax, log-softmax, cross-entropy, matmul (batched, broadcast, transposed and strided operands), embedding and
/// dropout against loops written here from their formulas, values and gradients, in both dtypes.
/// </summary>
public sealed class NNOpsOracleTests
{
    private static double[] Values(int n, int salt)
    {
        var v = new double[n];
        for (int i = 0; i < n; i++) v[i] = ((i * 5 + salt * 3) % 9 - 4) * 0.375 + 0.125 * (i % 2);
        return v;
    }

    [Fact]
    public void SoftmaxAndLogSoftmaxAlongEachAxis()
    {
        int[] shape = [2, 3, 4];
        double[] x = Values(24, 1);
        int[] st = [12, 4, 1];
        for (int axis = -3; axis < 3; axis++)
        {
            int ax = axis < 0 ? axis + 3 : axis;
            var expectedS = new double[24];
            var expectedL = new double[24];
            for (int flat = 0; flat < 24; flat++)
            {
                int c = flat / st[ax] % shape[ax];
                int base0 = flat - c * st[ax];
                double max = double.NegativeInfinity, sum = 0;
                for (int j = 0; j < shape[ax]; j++) max = Math.Max(max, x[base0 + j * st[ax]]);
                for (int j = 0; j < shape[ax]; j++) sum += Math.Exp(x[base0 + j * st[ax]] - max);
                expectedS[flat] = Math.Exp(x[flat] - max) / sum;
                expectedL[flat] = x[flat] - max - Math.Log(sum);
            }
            var t = Tensor.FromArray(x, shape);
            T.Close(expectedS, NN.Softmax(t, axis).Contiguous().ToDoubleArray(), 1e-14, 1e-15, $"softmax axis {axis}");
            T.Close(expectedL, NN.LogSoftmax(t, axis).Contiguous().ToDoubleArray(), 1e-14, 1e-14, $"log-softmax axis {axis}");
            var t32 = t.To(DType.Float32);
            T.Close(expectedS, NN.Softmax(t32, axis).Contiguous().ToDoubleArray(), 1e-6, 1e-7, $"softmax float32 axis {axis}");
            T.Close(expectedL, NN.LogSoftmax(t32, axis).Contiguous().ToDoubleArray(), 1e-6, 1e-6, $"log-softmax float32 axis {axis}");
        }
    }

    [Fact]
    public void SoftmaxGradientsByHand()
    {
        // y = softmax(x), L = sum(w * y): dL/dx_i = y_i (w_i - sum_j w_j y_j); for log-softmax: w_i - softmax_i sum_j w_j
        double[] x = [0.5, -1.0, 2.0];
        double[] w = [1.0, -2.0, 0.5];
        double max = 2.0, sum = x.Sum(v => Math.Exp(v - max));
        double[] y = x.Select(v => Math.Exp(v - max) / sum).ToArray();
        double dot = w.Zip(y, (a, b) => a * b).Sum();
        foreach (var dtype in new[] { DType.Float64, DType.Float32 })
        {
            double tol = dtype == DType.Float64 ? 1e-14 : 1e-6;
            var t = Tensor.FromArray(x, 3).To(dtype).RequireGrad();
            (NN.Softmax(t) * Tensor.FromArray(w, 3).To(dtype)).Sum().Backward();
            T.Close(y.Select((v, i) => v * (w[i] - dot)).ToArray(), t.Grad!.ToDoubleArray(), tol, tol, "softmax grad");
            var u = Tensor.FromArray(x, 3).To(dtype).RequireGrad();
            (NN.LogSoftmax(u) * Tensor.FromArray(w, 3).To(dtype)).Sum().Backward();
            T.Close(y.Select((v, i) => w[i] - v * w.Sum()).ToArray(), u.Grad!.ToDoubleArray(), tol, tol, "log-softmax grad");
        }
    }

    [Fact]
    public void CrossEntropyValuesAndGradientsByHand()
    {
        double[] logits = [1.0, 2.0, 0.5, -1.0, 0.0, 3.0];
        int[] labels = [1, 0];
        var per = new double[2];
        var grad = new double[6];
        for (int r = 0; r < 2; r++)
        {
            double sum = 0;
            for (int c = 0; c < 3; c++) sum += Math.Exp(logits[r * 3 + c]);
            per[r] = Math.Log(sum) - logits[r * 3 + labels[r]];
            for (int c = 0; c < 3; c++) grad[r * 3 + c] = Math.Exp(logits[r * 3 + c]) / sum - (c == labels[r] ? 1 : 0);
        }
        foreach (var dtype in new[] { DType.Float64, DType.Float32 })
        foreach (bool mean in new[] { true, false })
        {
            double tol = dtype == DType.Float64 ? 1e-14 : 1e-6, scale = mean ? 0.5 : 1.0;
            var x = Tensor.FromArray(logits, 2, 3).To(dtype).RequireGrad();
            var loss = NN.CrossEntropy(x, Tensor.FromArray(labels, 2), mean);
            Assert.Equal(dtype, loss.DType);
            Assert.Equal((per[0] + per[1]) * scale, loss.Item(), tol);
            (loss * 3.0).Backward();
            T.Close(grad.Select(g => 3 * scale * g).ToArray(), x.Grad!.ToDoubleArray(), tol, tol, $"cross-entropy grad {dtype} mean={mean}");
        }
        Assert.Equal("CrossEntropy: logits must be [batch, classes]; got [6].",
            Assert.Throws<ShapeMismatchException>(() => NN.CrossEntropy(Tensor.FromArray(logits, 6), Tensor.FromArray(labels, 2))).Message);
        Assert.Equal("CrossEntropy: labels must be [2] for logits [2, 3]; got [3].",
            Assert.Throws<ShapeMismatchException>(() => NN.CrossEntropy(Tensor.FromArray(logits, 2, 3), Tensor.FromArray([0, 1, 2], 3))).Message);
        Assert.Equal("CrossEntropy: labels must be [2] for logits [2, 3]; got [2, 1].",
            Assert.Throws<ShapeMismatchException>(() => NN.CrossEntropy(Tensor.FromArray(logits, 2, 3), Tensor.FromArray([0, 1], 2, 1))).Message);
    }

    private static double[] MatMulLoop(double[] a, int[] sa, double[] b, int[] sb, out int[] shape)
    {
        int m = sa[^2], k = sa[^1], n = sb[^1];
        int[] ba = sa[..^2], bb = sb[..^2];
        int rank = Math.Max(ba.Length, bb.Length);
        var batch = new int[rank];
        for (int d = 0; d < rank; d++)
        {
            int da = d - (rank - ba.Length) >= 0 ? ba[d - (rank - ba.Length)] : 1;
            int db = d - (rank - bb.Length) >= 0 ? bb[d - (rank - bb.Length)] : 1;
            batch[d] = da == 1 ? db : da;
        }
        int batches = batch.Aggregate(1, (p, d) => p * d);
        shape = [.. batch, m, n];
        var y = new double[batches * m * n];
        for (int p = 0; p < batches; p++)
        {
            int rem = p, oa = 0, ob = 0, mulA = 1, mulB = 1;
            for (int d = rank - 1; d >= 0; d--)
            {
                int c = rem % batch[d];
                rem /= batch[d];
                int ja = d - (rank - ba.Length), jb = d - (rank - bb.Length);
                if (ja >= 0) { if (ba[ja] != 1) oa += c * mulA; mulA *= ba[ja]; }
                if (jb >= 0) { if (bb[jb] != 1) ob += c * mulB; mulB *= bb[jb]; }
            }
            for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double s = 0;
                for (int q = 0; q < k; q++) s += a[(oa * m + i) * k + q] * b[(ob * k + q) * n + j];
                y[(p * m + i) * n + j] = s;
            }
        }
        return y;
    }

    public static TheoryData<int[], int[]> MatMulShapes() => new()
    {
        { [3, 4], [4, 5] },
        { [2, 3, 4], [4, 2] },
        { [3, 4], [2, 4, 5] },
        { [2, 1, 3, 4], [3, 4, 2] },
        { [1, 4], [4, 1] },
        { [5, 1], [1, 3] },
        { [2, 3, 0], [2, 0, 4] },
    };

    [Theory]
    [MemberData(nameof(MatMulShapes))]
    public void MatMulMatchesLoopsForBatchesAndLayouts(int[] sa, int[] sb)
    {
        double[] a = Values(sa.Aggregate(1, (p, d) => p * d), 2), b = Values(sb.Aggregate(1, (p, d) => p * d), 3);
        double[] expected = MatMulLoop(a, sa, b, sb, out int[] shape);
        var ta = Tensor.FromArray(a, sa);
        var tb = Tensor.FromArray(b, sb);
        var y = ta.MatMul(tb);
        Assert.Equal(shape, y.Shape.ToArray());
        T.Close(expected, y.ToDoubleArray(), 1e-14, 1e-14, "matmul");
        T.Close(expected, ta.To(DType.Float32).MatMul(tb.To(DType.Float32)).ToDoubleArray(), 1e-6, 1e-5, "matmul float32");
        // the same values stored transposed (a column-major view) and with a stride-2 window
        var aT = Transposed(a, sa);
        var bT = Transposed(b, sb);
        T.Close(expected, aT.MatMul(bT).ToDoubleArray(), 1e-14, 1e-14, "matmul transposed operands");
        T.Close(expected, Strided(a, sa).MatMul(Strided(b, sb)).ToDoubleArray(), 1e-14, 1e-14, "matmul strided operands");
    }

    /// <summary>Same logical values; the last two axes stored swapped.</summary>
    private static Tensor Transposed(double[] v, int[] shape)
    {
        int r = shape[^2], c = shape[^1], batches = v.Length / Math.Max(r * c, 1);
        var stored = new double[v.Length];
        for (int p = 0; p < batches; p++) for (int i = 0; i < r; i++) for (int j = 0; j < c; j++) stored[(p * c + j) * r + i] = v[(p * r + i) * c + j];
        int[] s = (int[])shape.Clone();
        (s[^2], s[^1]) = (c, r);
        var t = Tensor.FromArray(stored, s).Transpose(-2, -1);
        return t;
    }

    /// <summary>Same logical values; every row padded to twice its width and the odd columns skipped.</summary>
    private static Tensor Strided(double[] v, int[] shape)
    {
        int c = shape[^1], rows = v.Length / Math.Max(c, 1);
        var stored = new double[v.Length * 2];
        for (int i = 0; i < rows; i++) for (int j = 0; j < c; j++) stored[(i * c + j) * 2] = v[i * c + j];
        int[] s = (int[])shape.Clone();
        s[^1] = 2 * c;
        return Tensor.FromArray(stored, s).Slice(-1, 0, c, 2);
    }

    [Fact]
    public void MatMulVectorsAndGradientsByHand()
    {
        var v = Tensor.FromArray([1.0, 2.0], 2).RequireGrad();
        var m = Tensor.FromArray([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 2, 3).RequireGrad();
        var y = v.MatMul(m); // [3]
        Assert.Equal([3], y.Shape.ToArray());
        Assert.Equal([9.0, 12.0, 15.0], y.ToDoubleArray());
        (y * Tensor.FromArray([1.0, 0.0, -1.0], 3)).Sum().Backward();
        Assert.Equal([1.0 - 3.0, 4.0 - 6.0], v.Grad!.ToDoubleArray());
        Assert.Equal([1.0, 0.0, -1.0, 2.0, 0.0, -2.0], m.Grad!.ToDoubleArray());

        var u = Tensor.FromArray([1.0, -1.0, 2.0], 3);
        Assert.Equal([1.0 - 2.0 + 6.0, 4.0 - 5.0 + 12.0], Tensor.FromArray([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 2, 3).MatMul(u).ToDoubleArray());
        Assert.Equal([], Tensor.FromArray([1.0, 2.0], 2).MatMul(Tensor.FromArray([3.0, 4.0], 2)).Shape.ToArray());
        Assert.Equal(11.0, Tensor.FromArray([1.0, 2.0], 2).MatMul(Tensor.FromArray([3.0, 4.0], 2)).Item());
        T.GradOk("vector · vector", x => x[0].MatMul(x[1]), T.Rand(1, 3), T.Rand(2, 3));

        // a batch-broadcast operand collects the gradient of every batch
        var a = Tensor.FromArray([1.0, 2.0], 1, 2).RequireGrad(); // [1, 2]
        var b = Tensor.FromArray([1.0, 0.0, 0.0, 1.0, 2.0, 0.0, 0.0, 2.0], 2, 2, 2).RequireGrad(); // two [2, 2]
        a.MatMul(b).Sum().Backward();
        Assert.Equal([1.0 + 0.0 + 2.0 + 0.0, 0.0 + 1.0 + 0.0 + 2.0], a.Grad!.ToDoubleArray());
        Assert.Equal([1.0, 1.0, 2.0, 2.0, 1.0, 1.0, 2.0, 2.0], b.Grad!.ToDoubleArray());
    }

    [Fact]
    public void MatMulOnWindowedExpandedAndBatchedVectorOperands()
    {
        double[] a = Values(12, 4), b = Values(20, 5); // a [3, 4], b [4, 5]
        double[] expected = MatMulLoop(a, [3, 4], b, [4, 5], out _);
        // column windows of wider matrices: rows are 8 apart, columns 1 apart (row stride larger than the width)
        var wideA = new double[3 * 8];
        for (int i = 0; i < 3; i++) for (int j = 0; j < 4; j++) wideA[i * 8 + 2 + j] = a[i * 4 + j];
        var wideB = new double[4 * 9];
        for (int i = 0; i < 4; i++) for (int j = 0; j < 5; j++) wideB[i * 9 + j] = b[i * 5 + j];
        var wa = Tensor.FromArray(wideA, 3, 8).Slice(1, 2, 4);
        var wb = Tensor.FromArray(wideB, 4, 9).Slice(1, 0, 5);
        T.Close(expected, wa.MatMul(wb).ToDoubleArray(), 1e-14, 1e-14, "matmul of column windows");
        // the transpose of a column window: columns 1 apart in memory, rows 6 apart
        var tall = new double[4 * 6];
        for (int i = 0; i < 3; i++) for (int j = 0; j < 4; j++) tall[j * 6 + 1 + i] = a[i * 4 + j];
        var ta = Tensor.FromArray(tall, 4, 6).Slice(1, 1, 3).Transpose(); // [3, 4] with strides (1, 6)
        T.Close(expected, ta.MatMul(Tensor.FromArray(b, 4, 5)).ToDoubleArray(), 1e-14, 1e-14, "matmul of a transposed window");
        // broadcast views (stride 0): a column and a row expanded to [3, 4]
        var col = Tensor.FromArray([1.0, 2.0, 3.0], 3, 1).Expand(3, 4);
        var row = Tensor.FromArray([1.0, -1.0, 2.0, 0.5], 1, 4).Expand(3, 4);
        var bm = Tensor.FromArray(b, 4, 5);
        double[] colE = MatMulLoop([1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3], [3, 4], b, [4, 5], out _);
        double[] rowE = MatMulLoop([1, -1, 2, 0.5, 1, -1, 2, 0.5, 1, -1, 2, 0.5], [3, 4], b, [4, 5], out _);
        T.Close(colE, col.MatMul(bm).ToDoubleArray(), 1e-14, 1e-14, "matmul of an expanded column");
        T.Close(rowE, row.MatMul(bm).ToDoubleArray(), 1e-14, 1e-14, "matmul of an expanded row");
        // a batch of matrices times a vector: [2, 3, 4] · [4] = [2, 3]
        double[] a3 = Values(24, 6), v = [1.0, -2.0, 0.5, 3.0];
        var y = Tensor.FromArray(a3, 2, 3, 4).MatMul(Tensor.FromArray(v, 4));
        Assert.Equal([2, 3], y.Shape.ToArray());
        T.Close(MatMulLoop(a3, [2, 3, 4], v, [4, 1], out _), y.ToDoubleArray(), 1e-14, 1e-14, "batched matrix · vector");
    }

    [Fact]
    public void MatMulRejections()
    {
        Assert.Equal("MatMul needs a floating-point tensor; got Int32 of shape [2, 2].",
            Assert.Throws<ArgumentException>(() => Tensor.FromArray([1, 2, 3, 4], 2, 2).MatMul(Tensor.FromArray([1, 2, 3, 4], 2, 2))).Message);
        Assert.Contains("MatMul (batch dimensions)",
            Assert.ThrowsAny<Exception>(() => Tensor.Zeros([2, 3, 4]).MatMul(Tensor.Zeros([3, 4, 5]))).Message);
        Assert.Equal("MatMul: inner dimensions differ: [2, 3] · [2, 3] (3 vs 2).",
            Assert.Throws<ShapeMismatchException>(() => Tensor.Zeros([2, 3]).MatMul(Tensor.Zeros([2, 3]))).Message);
        Assert.Equal("MatMul: operands must have rank >= 1; got [] and [2].",
            Assert.Throws<ShapeMismatchException>(() => Tensor.Zeros([]).MatMul(Tensor.Zeros([2]))).Message);
        Assert.Equal("MatMul: operands must have rank >= 1; got [2] and [].",
            Assert.Throws<ShapeMismatchException>(() => Tensor.Zeros([2]).MatMul(Tensor.Zeros([]))).Message);
        Assert.Equal("MatMul: dtypes differ (Float32 vs Float64).",
            Assert.Throws<ArgumentException>(() => Tensor.Zeros([2, 2]).MatMul(Tensor.Zeros([2, 2], DType.Float64))).Message);
    }

    [Fact]
    public void EmbeddingGathersRowsAndScattersGradients()
    {
        double[] w = [1, 2, 3, 4, 5, 6, 7, 8];
        foreach (var dtype in new[] { DType.Float64, DType.Float32 })
        {
            var weight = Tensor.FromArray(w, 4, 2).To(dtype).RequireGrad();
            var idx = Tensor.FromArray([3, 0, 3, 1], 2, 2);
            var y = NN.Embedding(weight, idx);
            Assert.Equal([2, 2, 2], y.Shape.ToArray());
            Assert.Equal([7.0, 8, 1, 2, 7, 8, 3, 4], y.ToDoubleArray());
            (y * Tensor.FromArray([1.0, 2, 3, 4, 5, 6, 7, 8], 2, 2, 2).To(dtype)).Sum().Backward();
            Assert.Equal([3.0, 4, 7, 8, 0, 0, 1 + 5, 2 + 6], weight.Grad!.ToDoubleArray());
        }
        var wt = Tensor.FromArray(w, 4, 2);
        Assert.Equal("Gather: index 4 at position 1 is outside [0, 4) for weight [4, 2]. (Parameter 'indices')",
            Assert.Throws<ArgumentOutOfRangeException>(() => NN.Embedding(wt, Tensor.FromArray([0, 4], 2))).Message);
        Assert.Equal("Gather: index -1 at position 0 is outside [0, 4) for weight [4, 2]. (Parameter 'indices')",
            Assert.Throws<ArgumentOutOfRangeException>(() => NN.Embedding(wt, Tensor.FromArray([-1], 1))).Message);
        Assert.Equal("Gather: weight must be [vocabulary, dim]; got [8].",
            Assert.Throws<ShapeMismatchException>(() => NN.Embedding(Tensor.FromArray(w, 8), Tensor.FromArray([0], 1))).Message);
        // the last row is inside
        Assert.Equal([7.0, 8], NN.Embedding(wt, Tensor.FromArray([3], 1)).ToDoubleArray());
    }

    [Fact]
    public void DropoutKeepsScaledValuesWithTheKeepRate()
    {
        foreach (var dtype in new[] { DType.Float64, DType.Float32 })
        {
            var x = Tensor.Full([4000], 2.0, dtype).RequireGrad();
            var y = NN.Dropout(x, 0.25, training: true, rng: new RandomGenerator(5));
            double[] v = y.ToDoubleArray();
            int kept = v.Count(d => d != 0);
            Assert.All(v, d => Assert.True(d == 0 || Math.Abs(d - 2.0 / 0.75) < 1e-6, $"{d}"));
            Assert.InRange(kept, 2850, 3150); // 3000 expected, sd ≈ 27
            y.Sum().Backward();
            double[] g = x.Grad!.ToDoubleArray();
            for (int i = 0; i < v.Length; i++) Assert.Equal(v[i] == 0 ? 0 : 1 / 0.75, g[i], 6);
        }
        // the op itself checks the rate too (layers call it directly)
        Assert.Equal("Dropout rate must be in [0, 1). Received: 1 (Parameter 'p')", Assert.Throws<ArgumentOutOfRangeException>(() =>
            FlexNet.Autodiff.Ops.Indexing.Dropout(Tensor.Zeros([2]), 1.0, new RandomGenerator(1))).Message);
        Assert.Equal("Dropout rate must be in [0, 1). Received: -0.5 (Parameter 'p')", Assert.Throws<ArgumentOutOfRangeException>(() =>
            FlexNet.Autodiff.Ops.Indexing.Dropout(Tensor.Zeros([2]), -0.5, new RandomGenerator(1))).Message);
        Assert.Equal([0f, 0f], FlexNet.Autodiff.Ops.Indexing.Dropout(Tensor.Zeros([2]), 0.0, new RandomGenerator(1)).ToFloatArray());
        var z = Tensor.Full([10], 3.0, DType.Float64);
        Assert.Equal(z.ToDoubleArray(), NN.Dropout(z, 0.0, training: true, rng: new RandomGenerator(1)).ToDoubleArray());
        Assert.Equal("Dropout rate must be in [0, 1). Received: 1 (Parameter 'p')",
            Assert.Throws<ArgumentOutOfRangeException>(() => NN.Dropout(z, 1.0, training: true, rng: new RandomGenerator(1))).Message);
        Assert.Equal("Dropout rate must be in [0, 1). Received: -0.1 (Parameter 'p')",
            Assert.Throws<ArgumentOutOfRangeException>(() => NN.Dropout(z, -0.1, training: true, rng: new RandomGenerator(1))).Message);
    }
}
