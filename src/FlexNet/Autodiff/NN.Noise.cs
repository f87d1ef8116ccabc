using FlexNet.Tensors;

namespace FlexNet.Autodiff;

public static partial class NN
{
    /// <summary>Additive Gaussian noise (theanets' input/hidden noise): <c>y = x + ε, ε ~ N(0, σ²)</c> elementwise
    /// in training; <c>y = x</c> in evaluation. The noise carries no gradient (dy/dx = 1).</summary>
    /// <param name="x">Input of any shape (float32/float64).</param>
    /// <param name="std">σ ≥ 0.</param>
    /// <param name="training">Apply only in training.</param>
    /// <param name="rng">Generator for the noise (default <see cref="RandomGenerator.Default"/>).</param>
    /// <returns>The noisy input, same shape.</returns>
    public static Tensor GaussianNoise(Tensor x, double std, bool training = true, RandomGenerator? rng = null)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (!(std >= 0) || double.IsInfinity(std))
            throw new ArgumentOutOfRangeException(nameof(std), $"GaussianNoise: std must be finite and >= 0; got {std}.");
        x.RequireFloat("GaussianNoise");
        if (!training || std == 0) return x;
        var noise = Tensor.Normal(x.ShapeArray, 0, std, rng ?? RandomGenerator.Default, x.DType);
        return x + noise;
    }
}
