using FlexNet.Tensors;
using Xunit;

namespace FlexNet.Tests.Autodiff;

/// <summary>Relu over tensors large enough to run in element ranges on the workers (forward, and backward with the
/// gradient cleared range by range): values, NaN and signed zeros against a loop written here, and the gradient
/// accumulated onto an existing one.</summary>
public sealed class ReluParallelTests
{
    [Theory]
    [InlineData(300_001, DType.Float32)]
    [InlineData(131_072, DType.Float64)]
    [InlineData(131_071, DType.Float32)] // just below the parallel size: the serial path, same values
    public void ReluForwardAndBackwardMatchLoops(int n, DType dtype)
    {
        var rng = new Random(n);
        var x = new double[n];
        var gy = new double[n];
        for (int i = 0; i < n; i++)
        {
            x[i] = (i % 97) switch { 0 => double.NaN, 1 => 0.0, 2 => -0.0, 3 => double.NegativeInfinity, 4 => double.PositiveInfinity, _ => rng.NextDouble() * 2 - 1 };
            gy[i] = (i % 89) == 0 ? -0.0 : rng.NextDouble() * 2 - 1;
        }
        // leave NaN-filled buffers of this size in the pool, so a gradient range that is not cleared shows up
        using (TensorScope.Begin())
            for (int k = 0; k < 4; k++) _ = Tensor.FromArray(x, n).To(dtype) * double.NaN;
        using var scope = TensorScope.Begin();
        var tx = Tensor.FromArray(x, n).To(dtype).RequireGrad();
        var y = tx.Relu();
        var yv = y.ToDoubleArray();
        var xv = tx.ToDoubleArray();
        var gyv = Tensor.FromArray(gy, n).To(dtype).ToDoubleArray();
        for (int i = 0; i < n; i++)
        {
            double want = double.IsNaN(xv[i]) ? double.NaN : Math.Max(xv[i], 0.0);
            Assert.True(want.Equals(yv[i]) || (want == 0 && yv[i] == 0), $"relu({xv[i]}) at {i}: want {want}, got {yv[i]}");
        }
        // two backward passes through the same graph accumulate: gx = (0 + g) + g
        y.Backward(Tensor.FromArray(gy, n).To(dtype), retainGraph: true);
        var g1 = tx.Grad!.ToDoubleArray();
        y.Backward(Tensor.FromArray(gy, n).To(dtype));
        var g2 = tx.Grad!.ToDoubleArray();
        for (int i = 0; i < n; i++)
        {
            double d = xv[i] > 0 ? gyv[i] : 0.0;
            double want1 = 0.0 + d;
            Assert.True(BitConverter.DoubleToInt64Bits(want1) == BitConverter.DoubleToInt64Bits(g1[i]), $"dx at {i} (x {xv[i]}, gy {gyv[i]}): want {want1}, got {g1[i]}");
            double want2 = dtype == DType.Float32 ? (double)((float)want1 + (float)d) : want1 + d;
            Assert.Equal(want2, g2[i]);
        }
    }
}
