using FlexNet.Layers;
using FlexNet.Tensors;

namespace FlexNet.Models;

/// <summary>
/// A plain stack: <c>new Sequential(new Dense(20, "relu"), new Dense(10, "softmax"))</c> or <see cref="Add"/>.
/// The input shape is <see cref="Model.InputShape"/> or taken from the first batch: [N, ...shape]; a 3-D batch whose
/// first layer is recurrent is read as a stepped sequence [T, N, F]. The graph is the one the Functional front end
/// would build from the same layers.
/// </summary>
public sealed class Sequential : Model
{
    private readonly List<CatalogLayer> _layers = new();

    /// <summary>Creates the stack.</summary>
    /// <param name="layers">Layers, first to last.</param>
    public Sequential(params CatalogLayer[] layers) : this("sequential", DType.Float32, 0, layers) { }

    /// <summary>Creates the stack with a name, dtype and seed.</summary>
    /// <param name="name">Model name.</param>
    /// <param name="dtype">Float32 or Float64.</param>
    /// <param name="seed">Initialisation seed.</param>
    /// <param name="layers">Layers, first to last.</param>
    public Sequential(string name, DType dtype, ulong seed, params CatalogLayer[] layers) : base(name, dtype, seed)
    {
        foreach (var l in layers) Add(l);
    }

    /// <summary>The layers.</summary>
    public IReadOnlyList<CatalogLayer> Layers => _layers;

    /// <summary>Appends a layer (before the first call).</summary>
    /// <param name="layer">The layer.</param>
    /// <returns>This model.</returns>
    public Sequential Add(CatalogLayer layer)
    {
        ArgumentNullException.ThrowIfNull(layer);
        if (IsBuilt) throw new GraphException($"Sequential '{Name}': layers must be added before the first call.");
        _layers.Add(layer);
        return this;
    }

    /// <inheritdoc/>
    protected override (int[] Shape, bool Sequence) InferInput(Tensor x)
    {
        if (SequenceInput is null && x.Rank == 3 && _layers.Count > 0 && _layers[0] is RecurrentLayer) SequenceInput = true;
        return base.InferInput(x);
    }

    /// <inheritdoc/>
    protected override SymbolicTensor Forward(SymbolicTensor x)
    {
        if (_layers.Count == 0) throw new GraphException($"Sequential '{Name}' has no layers.");
        foreach (var l in _layers) x = l.Call(x);
        return x;
    }
}
