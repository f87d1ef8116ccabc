using FlexNet.Tensors;

namespace FlexNet.Models;

/// <summary>theanets Autoencoder from layer specs (see <see cref="SpecModel"/>): the target is the input itself, so
/// the output must have the input's shape; output activation linear by default. <see cref="Encode"/> gives the
/// middle (or a named) layer's output, <see cref="Decode"/> runs the layers after it, <see cref="Score"/> is R² of
/// the reconstruction. The PCA-like tied autoencoder is <c>new Autoencoder(4, (3, "nobias", "linear"), (4, "tied", "linear"))</c>.</summary>
public sealed class Autoencoder : SpecModel
{
    /// <summary>A feedforward (or convolutional) autoencoder.</summary>
    /// <param name="layers">Layer specs, input first.</param>
    public Autoencoder(params object[] layers) : this(DataKind.Feedforward, DType.Float32, layers) { }

    /// <summary>An autoencoder for the given data family.</summary>
    /// <param name="kind">Data family.</param>
    /// <param name="dtype">Element type.</param>
    /// <param name="layers">Layer specs, input first.</param>
    /// <exception cref="SpecValidationException">The output shape differs from the input shape.</exception>
    public Autoencoder(DataKind kind, DType dtype, params object[] layers) : base(kind, dtype, "linear", layers)
    {
        var inShape = NodeOf(Inputs[0]).OutputShape!;
        var outShape = NodeOf(Outputs[0]).OutputShape!;
        if (!ShapeUtil.SameShape(inShape, outShape))
            throw new SpecValidationException($"layers[{layers.Length - 1}] '{LayerNames[^1]}': an autoencoder's output must have the input's shape {ShapeUtil.Format(inShape)}; it has {ShapeUtil.Format(outShape)}.");
    }

    /// <summary>The name of the middle layer (theanets: <c>layers[len // 2]</c>).</summary>
    public string MiddleLayer => LayerNames[LayerNames.Count / 2];

    /// <summary>The code: the output of <paramref name="layer"/> (default the middle layer) for <paramref name="x"/>.</summary>
    /// <param name="x">Inputs.</param>
    /// <param name="layer">Layer name (null: middle).</param>
    /// <returns>The code (detached).</returns>
    public Tensor Encode(Tensor x, string? layer = null) => LayerOutput(x, layer ?? MiddleLayer);

    /// <summary>The reconstruction from a code of layer <paramref name="layer"/> (default the middle layer).</summary>
    /// <param name="z">Code.</param>
    /// <param name="layer">Layer name (null: middle).</param>
    /// <returns>The output (detached).</returns>
    public Tensor Decode(Tensor z, string? layer = null) => FromLayer(z, layer ?? MiddleLayer);

    /// <summary>R² of the reconstruction of <paramref name="x"/>.</summary>
    /// <param name="x">Inputs (also the targets).</param>
    /// <returns>1 − SSE/SST.</returns>
    public double Score(Tensor x) => RSquared(x, Predict(x));
}
