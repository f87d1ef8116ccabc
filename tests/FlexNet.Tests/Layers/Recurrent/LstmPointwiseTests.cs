using FlexNet.Layers.Recurrent;
using FlexNet.Tests.Testing;
using FlexNet.Tensors;

namespace FlexNet.Tests.Layers.Recurrent;

/// <summary>The fused LSTM gate op against its composite oracle (<see cref="LstmCell.Gates"/>), values and gradients.</summary>
[Trait("Category", "Kernels")] // TensorPrimitives paths: rerun by CI with the SIMD levels switched off
public class LstmPointwiseTests
{
    [Theory]
    [InlineData(DType.Float64, 1e-14)]
    [InlineData(DType.Float32, 1e-6)] // TensorPrimitives' vector sigmoid/tanh vs the same functions in other op kernels
    public void FusedGatesEqualTheComposite(DType dtype, double tol)
    {
        foreach (var (n, hs) in new[] { (1, 1), (3, 5), (2, 17), (4, 33) })
        {
            var p = Tensor.Normal([n, 4 * hs], 0, 2, new RandomGenerator(1), dtype).RequireGrad();
            var r = Tensor.Normal([n, 4 * hs], 0, 2, new RandomGenerator(2), dtype).RequireGrad();
            var c = Tensor.Normal([n, hs], 0, 2, new RandomGenerator(3), dtype).RequireGrad();
            var gh = Tensor.Normal([n, hs], 0, 1, new RandomGenerator(4), dtype);
            var gc = Tensor.Normal([n, hs], 0, 1, new RandomGenerator(5), dtype);

            var hc = LstmPointwise.Apply(p, r, c);
            ((hc.Slice(0, 0, 1).Squeeze(0) * gh).Sum() + (hc.Slice(0, 1, 1).Squeeze(0) * gc).Sum()).Backward();
            var fused = new[] { hc.Slice(0, 0, 1).ToDoubleArray(), hc.Slice(0, 1, 1).ToDoubleArray(), p.Grad!.ToDoubleArray(), r.Grad!.ToDoubleArray(), c.Grad!.ToDoubleArray() };
            p.Grad = r.Grad = c.Grad = null;

            var (h2, c2) = LstmCell.Gates(p + r, c, hs);
            ((h2 * gh).Sum() + (c2 * gc).Sum()).Backward();
            var composite = new[] { h2.ToDoubleArray(), c2.ToDoubleArray(), p.Grad!.ToDoubleArray(), r.Grad!.ToDoubleArray(), c.Grad!.ToDoubleArray() };
            string[] what = ["h", "c", "dp", "dr", "dc"];
            for (int k = 0; k < what.Length; k++) T.Close(composite[k], fused[k], tol, tol, $"{dtype} N={n} H={hs} {what[k]}");
        }
    }

    [Fact]
    public void FusedGatesPassGradientCheck()
    {
        T.GradOk("lstm pointwise", x => LstmPointwise.Apply(x[0], x[1], x[2]), T.Rand(1, 3, 8), T.Rand(2, 3, 8), T.Rand(3, 3, 2));
        // only some inputs need gradients
        var r = Tensor.Normal([3, 8], 0, 1, new RandomGenerator(4), DType.Float64);
        T.GradOk("lstm pointwise (p, c)", x => LstmPointwise.Apply(x[0], r, x[1]), T.Rand(5, 3, 8), T.Rand(6, 3, 2));
    }
}
