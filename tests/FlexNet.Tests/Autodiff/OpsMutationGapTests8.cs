using System.Runtime.CompilerServices;
using FlexNet.Autodiff.Ops;
using FlexNet.Tensors;
using FlexNet.Tests.Testing;

namespace FlexNet.Tests.Autodiff;

/// <summary>Rules of Ops/Binary.cs and Ops/MatMul.cs that the mutation run of session 8 (issue 15) showed untested:
/// NaN through the general broadcast loop of maximum and minimum, the zeros of a product over an empty inner
/// dimension written into a pooled buffer, operands read in place (no copy) by GEMM, the split of a broadcast
/// maximum's gradient on ties, and the saved operands let go after backward. Expected values come from loops here.</summary>
public sealed class OpsMutationGapTests8
{
    private static double[] Values(int n, int salt)
    {
        var v = new double[n];
        for (int i = 0; i < n; i++) v[i] = ((i * 7 + salt * 3) % 17 - 8) * 0.0625 + 0.015625 * (i % 5);
        return v;
    }

    [Theory]
    [InlineData(DType.Float64, true)]
    [InlineData(DType.Float64, false)]
    [InlineData(DType.Float32, true)]
    [InlineData(DType.Float32, false)]
    public void MaximumAndMinimumGiveNaNForANaNOperandOnTheGeneralLoop(DType dtype, bool max)
    {
        // a is a transposed view [3, 2] (not contiguous, so the strided loop runs), b a plain [3, 2]; NaN on the left,
        // on the right and on both sides, and a pair of infinities
        double nan = double.NaN;
        double[] av = [1, nan, -2, 4, nan, double.PositiveInfinity]; // [2, 3], read transposed: a[i, j] = av[j * 3 + i]
        double[] bv = [0.5, 3, nan, -1, nan, double.NegativeInfinity]; // [3, 2]
        var a = Movement.Transpose(Tensor.FromArray(av, 2, 3).To(dtype), 0, 1);
        var b = Tensor.FromArray(bv, 3, 2).To(dtype);
        Assert.False(a.IsContiguous);
        var y = Binary.Apply(a, b, max ? Binary.Kind.Max : Binary.Kind.Min).ToDoubleArray();
        for (int i = 0; i < 3; i++)
        for (int j = 0; j < 2; j++)
        {
            double x = av[j * 3 + i], z = bv[i * 2 + j];
            double want = double.IsNaN(x) || double.IsNaN(z) ? nan : max ? (x > z ? x : z) : (x < z ? x : z);
            if (double.IsNaN(want)) Assert.True(double.IsNaN(y[i * 2 + j]), $"[{i}, {j}] {x} vs {z}: {y[i * 2 + j]}");
            else Assert.Equal(want, y[i * 2 + j]);
        }
    }

    [Theory]
    [InlineData(DType.Float64)]
    [InlineData(DType.Float32)]
    public void MatMulOverAnEmptyInnerDimensionWritesZerosIntoAPooledOutput(DType dtype)
    {
        using (TensorScope.Begin())
            for (int k = 0; k < 8; k++) _ = Tensor.Full([2 * 3 * 4], double.NaN, dtype);
        using var scope = TensorScope.Begin();
        var y = MatMul.Apply(Tensor.Zeros([2, 3, 0], dtype), Tensor.Zeros([0, 4], dtype));
        Assert.Equal([2, 3, 4], y.ShapeArray);
        Assert.All(y.ToDoubleArray(), v => Assert.Equal(0.0, v));
    }

    [Fact]
    public void MatMulReadsPlainAndTransposedOperandsWithoutACopy()
    {
        // A = Pᵀ with P [256, 4] (strides 1, 4: column stride = rows), B = Qᵀ with Q [64, 256] (strides 1, 256):
        // both are read transposed in place. A copy of B alone would allocate 128 KiB; y is [4, 64] (2 KiB).
        const int m = 4, k = 256, n = 64;
        double[] p = Values(k * m, 1), q = Values(n * k, 2);
        var a = Movement.Transpose(Tensor.FromArray(p, k, m), 0, 1);
        var b = Movement.Transpose(Tensor.FromArray(q, n, k), 0, 1);
        var c = Tensor.FromArray(Values(m * k, 3), m, k); // plain row-major, with the transposed B
        for (int w = 0; w < 3; w++) { _ = MatMul.Apply(a, b); _ = MatMul.Apply(c, b); } // warm the kernels up
        long before = GC.GetAllocatedBytesForCurrentThread();
        var y = MatMul.Apply(a, b);
        long used = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(used < 6 * 1024, $"A·B allocated {used} bytes: an operand was copied");
        before = GC.GetAllocatedBytesForCurrentThread();
        var y2 = MatMul.Apply(c, b);
        used = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(used < 6 * 1024, $"C·B allocated {used} bytes: an operand was copied");

        double[] cv = c.ToDoubleArray();
        var want = new double[m * n];
        var want2 = new double[m * n];
        for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++)
        for (int t = 0; t < k; t++)
        {
            want[i * n + j] += p[t * m + i] * q[j * k + t];
            want2[i * n + j] += cv[i * k + t] * q[j * k + t];
        }
        T.Close(want, y.ToDoubleArray(), 1e-12, 1e-12, "Pᵀ·Qᵀ");
        T.Close(want2, y2.ToDoubleArray(), 1e-12, 1e-12, "C·Qᵀ");
    }

    [Theory]
    [InlineData(DType.Float64, true)]
    [InlineData(DType.Float64, false)]
    [InlineData(DType.Float32, true)]
    [InlineData(DType.Float32, false)]
    public void MaximumAndMinimumOfABroadcastSplitTheGradientOnTies(DType dtype, bool max)
    {
        // y = max(a, b) (or min) with a [2, 3] and b [3] broadcast over rows; L = Σ r ⊙ y
        double[] av = [1, 2, 3, -1, 5, 0.5], bv = [1, 4, 0.5], rv = [1, 2, 3, 4, 5, 6];
        var a = Tensor.FromArray(av, 2, 3).To(dtype).RequireGrad();
        var b = Tensor.FromArray(bv, 3).To(dtype).RequireGrad();
        var y = max ? a.Maximum(b) : a.Minimum(b);
        (y * Tensor.FromArray(rv, 2, 3).To(dtype)).Sum().Backward();
        var ga = new double[6];
        var gb = new double[3];
        for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++)
        {
            double x = av[i * 3 + j], z = bv[j];
            double wa = x == z ? 0.5 : (max ? x > z : x < z) ? 1 : 0;
            ga[i * 3 + j] = rv[i * 3 + j] * wa;
            gb[j] += rv[i * 3 + j] * (1 - wa);
        }
        Assert.Equal(ga, a.Grad!.ToDoubleArray());
        Assert.Equal(gb, b.Grad!.ToDoubleArray());
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static (Tensor Y, WeakReference A, WeakReference B) ProductAfterBackward()
    {
        // x needs a gradient, w does not (so the node's inputs hold only x): after backward MatMulBackward must not
        // keep w (nor x's saved copy) alive
        var x = Tensor.FromArray(Values(6, 1), 2, 3).RequireGrad();
        var w = Tensor.FromArray(Values(12, 2), 3, 4);
        var y = MatMul.Apply(x, w);
        y.Sum().Backward();
        return (y, new WeakReference(x), new WeakReference(w));
    }

    [Fact]
    public void MatMulLetsItsSavedOperandsGoAfterBackward()
    {
        var (y, _, wRef) = ProductAfterBackward();
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        Assert.NotNull(y.GradFn);
        Assert.False(wRef.IsAlive, "the product's node still holds its right operand after backward");
        GC.KeepAlive(y);
    }
}
