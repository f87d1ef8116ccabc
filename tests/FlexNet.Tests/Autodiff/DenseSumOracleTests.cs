using FlexNet.Autodiff.Ops;
using FlexNet.Kernels;
using FlexNet.Tensors;
using FlexNet.Tests.Testing;

namespace FlexNet.Tests.Autodiff;

/// <summary>
/// The fused dense sum y = act(Σ x_i W_iᵀ + Σ b) against loops: an identity input first, two biases, a weight whose
/// gradient accumulates over two backward passes (the in-place GEMM path with β = 1), a non-leaf weight (the
/// accumulate path), and the shape checks with their messages.
/// </summary>
public sealed class DenseSumOracleTests
{
    private static double[] Values(int n, int salt)
    {
        var v = new double[n];
        for (int i = 0; i < n; i++) v[i] = ((i * 3 + salt * 7) % 10 - 4.5) * 0.2;
        return v;
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void IdentityFirstTwoBiasesAndAccumulatedWeightGradients(int activation)
    {
        const int n = 3, outF = 4, inF = 5;
        double[] xi = Values(n * outF, 1), x = Values(n * inF, 2), w = Values(outF * inF, 3), b1 = Values(outF, 4), b2 = Values(outF, 5), r = Values(n * outF, 6);
        var act = (FusedActivation)activation;
        var z = new double[n * outF];
        var y = new double[n * outF];
        var dz = new double[n * outF];
        for (int s = 0; s < n; s++)
        for (int o = 0; o < outF; o++)
        {
            double v = xi[s * outF + o] + b1[o] + b2[o];
            for (int q = 0; q < inF; q++) v += x[s * inF + q] * w[o * inF + q];
            z[s * outF + o] = v;
            double a = act switch { FusedActivation.Linear => v, FusedActivation.Relu => Math.Max(v, 0), FusedActivation.Tanh => Math.Tanh(v), _ => 1 / (1 + Math.Exp(-v)) };
            y[s * outF + o] = a;
            double da = act switch { FusedActivation.Linear => 1, FusedActivation.Relu => v > 0 ? 1 : 0, FusedActivation.Tanh => 1 - a * a, _ => a * (1 - a) };
            dz[s * outF + o] = r[s * outF + o] * da;
        }
        var gw = new double[outF * inF];
        var gx = new double[n * inF];
        var gb = new double[outF];
        for (int s = 0; s < n; s++)
        for (int o = 0; o < outF; o++)
        {
            gb[o] += dz[s * outF + o];
            for (int q = 0; q < inF; q++)
            {
                gw[o * inF + q] += dz[s * outF + o] * x[s * inF + q];
                gx[s * inF + q] += dz[s * outF + o] * w[o * inF + q];
            }
        }
        foreach (var dtype in new[] { DType.Float64, DType.Float32 })
        {
            double tol = dtype == DType.Float64 ? 1e-13 : 1e-5;
            var txi = Tensor.FromArray(xi, n, outF).To(dtype).RequireGrad();
            var tx = Tensor.FromArray(x, n, inF).To(dtype).RequireGrad();
            var tw = Tensor.FromArray(w, outF, inF).To(dtype).RequireGrad();
            var tb1 = Tensor.FromArray(b1, outF).To(dtype).RequireGrad();
            var tb2 = Tensor.FromArray(b2, outF).To(dtype).RequireGrad();
            var tr = Tensor.FromArray(r, n, outF).To(dtype);
            for (int pass = 1; pass <= 2; pass++)
            {
                var ty = DenseSum.Apply([txi, tx], [null, tw], [tb1, tb2], act);
                T.Close(y, ty.ToDoubleArray(), tol, tol, $"y {act} {dtype}");
                (ty * tr).Sum().Backward();
                T.Close(gw.Select(v => pass * v).ToArray(), tw.Grad!.ToDoubleArray(), tol, tol, $"dW pass {pass} {act} {dtype}");
                T.Close(gx.Select(v => pass * v).ToArray(), tx.Grad!.ToDoubleArray(), tol, tol, $"dx pass {pass} {act} {dtype}");
                T.Close(dz.Select(v => pass * v).ToArray(), txi.Grad!.ToDoubleArray(), tol, tol, $"d identity pass {pass} {act} {dtype}");
                T.Close(gb.Select(v => pass * v).ToArray(), tb1.Grad!.ToDoubleArray(), tol, tol, $"db1 pass {pass} {act} {dtype}");
                T.Close(gb.Select(v => pass * v).ToArray(), tb2.Grad!.ToDoubleArray(), tol, tol, $"db2 pass {pass} {act} {dtype}");
            }

            // a weight that is not a leaf: its gradient flows back through the scaling
            var w0 = Tensor.FromArray(w, outF, inF).To(dtype).RequireGrad();
            var scaled = w0 * 1.0;
            var y2 = DenseSum.Apply([Tensor.FromArray(xi, n, outF).To(dtype), Tensor.FromArray(x, n, inF).To(dtype)], [null, scaled], [tb1, tb2], act);
            (y2 * tr).Sum().Backward();
            T.Close(gw, w0.Grad!.ToDoubleArray(), tol, tol, $"dW non-leaf {act} {dtype}");
        }
    }

    [Fact]
    public void ShapeChecksNameTheInput()
    {
        var x = Tensor.Zeros([2, 3]);
        var w = Tensor.Zeros([4, 3]);
        Assert.Equal("DenseSum: input 1 has shape [3, 3] (Float32); expected [2, in] (Float32).",
            Assert.Throws<ShapeMismatchException>(() => DenseSum.Apply([x, Tensor.Zeros([3, 3])], [w, w], [], FusedActivation.Linear)).Message);
        Assert.Equal("DenseSum: input 1 has shape [2, 3] (Float64); expected [2, in] (Float32).",
            Assert.Throws<ShapeMismatchException>(() => DenseSum.Apply([x, Tensor.Zeros([2, 3], DType.Float64)], [w, w], [], FusedActivation.Linear)).Message);
        Assert.Equal("DenseSum: weight 1 [4, 2] does not map [2, 3] to [2, 4] (or is not contiguous Float32).",
            Assert.Throws<ShapeMismatchException>(() => DenseSum.Apply([x, x], [w, Tensor.Zeros([4, 2])], [], FusedActivation.Linear)).Message);
        Assert.Equal("DenseSum: weight 1 [5, 3] does not map [2, 3] to [2, 4] (or is not contiguous Float32).",
            Assert.Throws<ShapeMismatchException>(() => DenseSum.Apply([x, x], [w, Tensor.Zeros([5, 3])], [], FusedActivation.Linear)).Message);
        Assert.Equal("DenseSum: weight 1 [4, 3] does not map [2, 3] to [2, 4] (or is not contiguous Float32).",
            Assert.Throws<ShapeMismatchException>(() => DenseSum.Apply([x, x], [w, Tensor.Zeros([3, 4]).Transpose()], [], FusedActivation.Linear)).Message);
        Assert.Equal("DenseSum: weight 1 [4, 3] does not map [2, 3] to [2, 4] (or is not contiguous Float32).",
            Assert.Throws<ShapeMismatchException>(() => DenseSum.Apply([x, x], [w, Tensor.Zeros([4, 3], DType.Float64)], [], FusedActivation.Linear)).Message);
        Assert.Equal("DenseSum: weight 0 [12] does not map [2, 3] to [2, 12] (or is not contiguous Float32).",
            Assert.Throws<ShapeMismatchException>(() => DenseSum.Apply([x], [Tensor.Zeros([12])], [], FusedActivation.Linear)).Message);
        Assert.Equal("DenseSum: identity input 1 has 3 features, the output 4.",
            Assert.Throws<ShapeMismatchException>(() => DenseSum.Apply([x, x], [w, null], [], FusedActivation.Linear)).Message);
        Assert.Equal("DenseSum: bias [3] does not fit [4].",
            Assert.Throws<ShapeMismatchException>(() => DenseSum.Apply([x], [w], [Tensor.Zeros([3])], FusedActivation.Linear)).Message);
        Assert.Equal("DenseSum: bias [4, 1] does not fit [4].",
            Assert.Throws<ShapeMismatchException>(() => DenseSum.Apply([x], [w], [Tensor.Zeros([4, 1])], FusedActivation.Linear)).Message);
        Assert.Equal("DenseSum: bias [4] does not fit [4].",
            Assert.Throws<ShapeMismatchException>(() => DenseSum.Apply([x], [w], [Tensor.Zeros([4], DType.Float64)], FusedActivation.Linear)).Message);
    }
}
