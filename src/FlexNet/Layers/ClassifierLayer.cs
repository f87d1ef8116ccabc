namespace FlexNet.Layers;

/// <summary>Softmax over a linear transform (theanets <c>classifier</c>/<c>softmax</c>):
/// y = softmax(Σₖ xₖ·Wₖᵀ + b) over the unit axis. A <see cref="Dense"/> with activation forced to softmax.</summary>
public sealed class ClassifierLayer : Dense
{
    /// <summary>Creates the layer.</summary>
    /// <param name="units">Number of classes.</param>
    /// <param name="name">Layer name.</param>
    /// <param name="init">Initialisation.</param>
    /// <param name="connection">A registered connection kind for the incoming edges (null: full matrices); see <see cref="Dense"/>.</param>
    /// <param name="connectionOptions">The kind's options.</param>
    public ClassifierLayer(int units, string? name = null, LayerInit? init = null, string? connection = null, IReadOnlyDictionary<string, object>? connectionOptions = null)
        : base(units, "softmax", true, name, init, connection, connectionOptions) { }

    /// <inheritdoc/>
    public override string Form => "classifier";
}
