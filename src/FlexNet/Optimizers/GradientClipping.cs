using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using FlexNet.Tensors;

namespace FlexNet.Optimizers;

/// <summary>Gradient clipping over a parameter list's <see cref="Tensor.Grad"/>s, in place.</summary>
public static class GradientClipping
{
    /// <summary>Clamps every gradient element to <c>[−c, c]</c>.</summary>
    /// <param name="parameters">Parameters whose gradients are clipped (null gradients skipped).</param>
    /// <param name="clipValue">c &gt; 0.</param>
    public static void ClipByValue(IReadOnlyList<Tensor> parameters, double clipValue)
    {
        if (!(clipValue > 0)) throw new ArgumentOutOfRangeException(nameof(clipValue), $"ClipByValue: clip value must be > 0; got {clipValue}.");
        for (int i = 0; i < parameters.Count; i++)
        {
            var g = parameters[i].Grad;
            if (g is null) continue;
            if (g.DType == DType.Float32) TensorPrimitives.Clamp(g.F, (float)-clipValue, (float)clipValue, g.F);
            else TensorPrimitives.Clamp(g.D, -clipValue, clipValue, g.D);
        }
    }

    /// <summary>The global L2 norm <c>√(Σ_p Σ g_p²)</c> over all gradients (accumulated in double, in parameter order).</summary>
    /// <param name="parameters">Parameters (null gradients count as zero).</param>
    /// <returns>The norm.</returns>
    public static double GlobalNorm(IReadOnlyList<Tensor> parameters)
    {
        double sum = 0;
        for (int i = 0; i < parameters.Count; i++)
        {
            var g = parameters[i].Grad;
            if (g is null) continue;
            if (g.DType == DType.Float32)
            {
                var s = g.F;
                double local = 0;
                for (int j = 0; j < s.Length; j++) local += (double)s[j] * s[j];
                sum += local;
            }
            else sum += TensorPrimitives.Dot<double>(g.D, g.D);
        }
        return Math.Sqrt(sum);
    }

    /// <summary>Scales all gradients by <c>min(1, c / (‖g‖ + 1e-6))</c> as <c>torch.nn.utils.clip_grad_norm_</c>.</summary>
    /// <param name="parameters">Parameters.</param>
    /// <param name="maxNorm">c &gt; 0.</param>
    /// <returns>The global norm before clipping.</returns>
    public static double ClipByGlobalNorm(IReadOnlyList<Tensor> parameters, double maxNorm)
    {
        if (!(maxNorm > 0)) throw new ArgumentOutOfRangeException(nameof(maxNorm), $"ClipByGlobalNorm: max norm must be > 0; got {maxNorm}.");
        double norm = GlobalNorm(parameters);
        double scale = Math.Min(1, maxNorm / (norm + 1e-6));
        if (scale == 1) return norm; // nothing to clip (multiplying by 1 would change nothing)
        for (int i = 0; i < parameters.Count; i++)
        {
            var g = parameters[i].Grad;
            if (g is null) continue;
            if (g.DType == DType.Float32) TensorPrimitives.Multiply(g.F, (float)scale, g.F);
            else TensorPrimitives.Multiply(g.D, scale, g.D);
        }
        return norm;
    }
}
