using FlexNet.Tensors;

namespace FlexNet.Models;

/// <summary>theanets Regressor from layer specs (see <see cref="SpecModel"/>): output activation linear by default;
/// loss MSE; <see cref="Score"/> is R².</summary>
public sealed class Regressor : SpecModel
{
    /// <summary>A feedforward (or, with a shape tuple input, convolutional) regressor.</summary>
    /// <param name="layers">Layer specs, input first.</param>
    public Regressor(params object[] layers) : this(DataKind.Feedforward, DType.Float32, layers) { }

    /// <summary>A regressor for the given data family.</summary>
    /// <param name="kind">Feedforward, recurrent ([T, N, F]) or convolutional ([N, C, H, W]).</param>
    /// <param name="dtype">Element type.</param>
    /// <param name="layers">Layer specs, input first.</param>
    public Regressor(DataKind kind, DType dtype, params object[] layers) : base(kind, dtype, "linear", layers) { }

    /// <summary>R² of the predictions for <paramref name="x"/> against <paramref name="y"/>.</summary>
    /// <param name="x">Inputs.</param>
    /// <param name="y">Targets.</param>
    /// <returns>1 − SSE/SST.</returns>
    public double Score(Tensor x, Tensor y) => RSquared(y, Predict(x));
}
