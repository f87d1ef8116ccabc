using FlexNet.Layers.Recurrent;
using FlexNet.Tests.Testing;
using FlexNet.Tensors;

namespace FlexNet.Tests.Layers.Recurrent;

/// <summary>The fused GRU gate op against its composite oracle (<see cref="GruCell.Gates"/>), values and gradients.</summary>
[Trait("Category", "Kernels")] // TensorPrimitives paths: rerun by CI with the SIMD levels switched off
public class GruPointwiseTests
{
    [Theory]
    [InlineData(DType.Float64, 1e-14)]
    [InlineData(DType.Float32, 1e-6)]
    public void FusedGruGatesEqualTheComposite(DType dtype, double tol)
    {
        foreach (var (n, hs) in new[] { (1, 1), (3, 5), (2, 17), (4, 33) })
        {
            var p = Tensor.Normal([n, 3 * hs], 0, 2, new RandomGenerator(1), dtype).RequireGrad();
            var q = Tensor.Normal([n, 3 * hs], 0, 2, new RandomGenerator(2), dtype).RequireGrad();
            var b = Tensor.Normal([3 * hs], 0, 1, new RandomGenerator(3), dtype).RequireGrad();
            var h = Tensor.Normal([n, hs], 0, 1, new RandomGenerator(4), dtype).RequireGrad();
            var g = Tensor.Normal([n, hs], 0, 1, new RandomGenerator(5), dtype);
            Tensor[] ins = [p, q, b, h];

            var y = GruPointwise.Apply(p, q, b, h);
            (y * g).Sum().Backward();
            var fused = ins.Select(t => t.Grad!.ToDoubleArray()).Prepend(y.ToDoubleArray()).ToArray();
            foreach (var t in ins) t.Grad = null;

            var y2 = GruCell.Gates(p, q, b, h, hs);
            (y2 * g).Sum().Backward();
            var composite = ins.Select(t => t.Grad!.ToDoubleArray()).Prepend(y2.ToDoubleArray()).ToArray();
            string[] what = ["h'", "dp", "dq", "db_hh", "dh"];
            for (int k = 0; k < what.Length; k++) T.Close(composite[k], fused[k], tol, tol, $"GRU {dtype} N={n} H={hs} {what[k]}");
        }
        T.GradOk("gru pointwise", x => GruPointwise.Apply(x[0], x[1], x[2], x[3]), T.Rand(6, 3, 9), T.Rand(7, 3, 9), T.Rand(8, 9), T.Rand(9, 3, 3));
    }
}
