using FlexNet.Autodiff.Ops;
using FlexNet.Kernels;
using FlexNet.Tests.Testing;
using FlexNet.Tensors;
using FlexNet.Autodiff;

namespace FlexNet.Tests.Autodiff;

/// <summary>The graph's fused dense-sum op against the same expression written with separate ops, and by gradient check.</summary>
public sealed class DenseSumGradTests
{
    [Theory]
    [InlineData(0, false)]
    [InlineData(1, false)]
    [InlineData(2, true)]
    [InlineData(3, true)]
    public void FusedDenseSumMatchesOpsAndPassesGradCheck(int activation, bool transposed)
    {
        var act = (FusedActivation)activation; // Linear, Relu, Tanh, Sigmoid
        var x1 = T.Rand(1, 5, 7);
        var x2 = T.NonContiguous(T.Rand(2, 5, 3));
        var x3 = T.Rand(3, 5, 4); // identity input
        var w1 = T.Rand(4, 4, 7);
        var w2 = T.Rand(5, 4, 3);
        var b1 = T.Rand(6, 4);
        var b2 = T.Rand(7, 4);
        Tensor Fused(Tensor[] _)
        {
            if (!transposed) return DenseSum.Apply([x1, x2, x3], [w1, w2, null], [b1, null, b2], act);
            // Wᵀ packed as the plan packs it once per run (made here at every call: the gradient check moves w1, w2)
            using var p1 = new PackedWeight(w1);
            using var p2 = new PackedWeight(w2);
            return DenseSum.Apply([x1, x2, x3], [w1, w2, null], [b1, null, b2], act, [p1, p2, null]);
        }
        Tensor Plain()
        {
            var z = NN.Linear(x1, w1, b1) + NN.Linear(x2, w2) + x3 + b2;
            return act switch
            {
                FusedActivation.Linear => z,
                FusedActivation.Relu => z.Relu(),
                FusedActivation.Tanh => z.Tanh(),
                _ => z.Sigmoid(),
            };
        }
        T.Close(Plain().ToDoubleArray(), Fused([]).ToDoubleArray(), 1e-13, 1e-14, $"DenseSum {act}");
        T.GradOk($"DenseSum {act}", Fused, x1, x2, x3, w1, w2, b1, b2);

        // float32: forward and every gradient against the separate ops
        Tensor F(Tensor t) => t.Detach().To(DType.Float32).RequireGrad();
        var (f1, f2, f3, fw1, fw2, fb1, fb2) = (F(x1), F(x2), F(x3), F(w1), F(w2), F(b1), F(b2));
        using var fp1 = new PackedWeight(fw1);
        using var fp2 = new PackedWeight(fw2);
        PackedWeight?[]? fwts = transposed ? [fp1, fp2, null] : null;
        var yf = DenseSum.Apply([f1, f2, f3], [fw1, fw2, null], [fb1, null, fb2], act, fwts);
        var g = Tensor.Normal(yf.Shape.ToArray(), 0, 1, new RandomGenerator(3));
        (yf * g).Sum().Backward();
        var fused = new[] { f1, f2, f3, fw1, fw2, fb1, fb2 }.Select(t => t.Grad!.ToDoubleArray()).ToArray();
        foreach (var t in new[] { f1, f2, f3, fw1, fw2, fb1, fb2 }) t.ZeroGrad();
        var zp = NN.Linear(f1, fw1, fb1) + NN.Linear(f2, fw2) + f3 + fb2;
        var yp = act switch { FusedActivation.Linear => zp, FusedActivation.Relu => zp.Relu(), FusedActivation.Tanh => zp.Tanh(), _ => zp.Sigmoid() };
        (yp * g).Sum().Backward();
        T.Close(yp.ToDoubleArray(), yf.ToDoubleArray(), 1e-5, 1e-5, "float32 forward");
        var plain = new[] { f1, f2, f3, fw1, fw2, fb1, fb2 }.Select(t => t.Grad!.ToDoubleArray()).ToArray();
        for (int i = 0; i < plain.Length; i++) T.Close(plain[i], fused[i], 1e-4, 1e-5, $"float32 grad {i}");
    }
}
