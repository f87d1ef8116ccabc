using FlexNet.Layers.Recurrent;
using FlexNet.Tests.Testing;
using FlexNet.Tensors;

namespace FlexNet.Tests.Layers.Recurrent;

/// <summary>The fused Elman step h = act(p + h₋₁·Wᵀ) against loops written here, and finite differences.</summary>
public class RnnStepTests
{
    public static TheoryData<RecurrentActivation> Acts() => new()
    {
        RecurrentActivation.Tanh, RecurrentActivation.Sigmoid, RecurrentActivation.Relu, RecurrentActivation.Linear,
    };

    [Theory]
    [MemberData(nameof(Acts))]
    public void ValuesAndGradientsMatchLoops(RecurrentActivation act)
    {
        foreach (var (n, hs) in new[] { (1, 1), (1, 64), (3, 5), (2, 17) })
        {
            var p = T.Rand(11, n, hs).RequireGrad();
            var h = T.Rand(12, n, hs).RequireGrad();
            var w = T.Rand(13, hs, hs).RequireGrad();
            var gy = T.Rand(14, n, hs);
            var y = RnnStep.Apply(p, h, w, act);
            (y * gy).Sum().Backward();

            double[] pv = p.ToDoubleArray(), hv = h.ToDoubleArray(), wv = w.ToDoubleArray(), gv = gy.ToDoubleArray();
            var ey = new double[n * hs];
            var g = new double[n * hs];
            for (int b = 0; b < n; b++)
                for (int i = 0; i < hs; i++)
                {
                    double z = pv[b * hs + i];
                    for (int j = 0; j < hs; j++) z += hv[b * hs + j] * wv[i * hs + j];
                    double s = 1 / (1 + Math.Exp(-z));
                    (ey[b * hs + i], double d) = act switch
                    {
                        RecurrentActivation.Tanh => (Math.Tanh(z), 1 / (Math.Cosh(z) * Math.Cosh(z))),
                        RecurrentActivation.Sigmoid => (s, s * (1 - s)),
                        RecurrentActivation.Relu => (Math.Max(z, 0), z > 0 ? 1.0 : 0.0),
                        _ => (z, 1.0),
                    };
                    g[b * hs + i] = gv[b * hs + i] * d;
                }
            var dh = new double[n * hs];
            var dw = new double[hs * hs];
            for (int b = 0; b < n; b++)
                for (int i = 0; i < hs; i++)
                    for (int j = 0; j < hs; j++)
                    {
                        dh[b * hs + j] += g[b * hs + i] * wv[i * hs + j];
                        dw[i * hs + j] += g[b * hs + i] * hv[b * hs + j];
                    }
            string at = $"{act} N={n} H={hs}";
            T.Close(ey, y.ToDoubleArray(), 1e-12, 1e-13, at + " y");
            T.Close(g, p.Grad!.ToDoubleArray(), 1e-12, 1e-13, at + " dp");
            T.Close(dh, h.Grad!.ToDoubleArray(), 1e-12, 1e-13, at + " dh");
            T.Close(dw, w.Grad!.ToDoubleArray(), 1e-12, 1e-13, at + " dW");
        }
    }

    [Theory]
    [MemberData(nameof(Acts))]
    public void PassesTheGradientCheck(RecurrentActivation act)
    {
        T.GradOk($"rnn step {act}", x => RnnStep.Apply(x[0], x[1], x[2], act), T.Rand(1, 3, 6), T.Rand(2, 3, 6), T.Rand(3, 6, 6));
        // the weight alone (a constant state and input), as in the first step of a sequence
        var p = T.Rand(4, 2, 5).Detach();
        var h = T.Rand(5, 2, 5).Detach();
        T.GradOk($"rnn step {act} (W only)", x => RnnStep.Apply(p, h, x[0], act), T.Rand(6, 5, 5));
    }

    [Fact]
    public void MismatchedProjectionNamesTheShapes()
    {
        var ex = Assert.Throws<ShapeMismatchException>(() => RnnStep.Apply(T.Rand(1, 2, 4), T.Rand(2, 2, 5), T.Rand(3, 5, 5), RecurrentActivation.Tanh));
        Assert.Contains("[2, 4]", ex.Message);
        Assert.Contains("[2, 5]", ex.Message);
    }
}
