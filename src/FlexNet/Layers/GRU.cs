using FlexNet.Layers.Recurrent;
using FlexNet.Tensors;

namespace FlexNet.Layers;

/// <summary>GRU layer, exactly torch.nn.GRU (gates r, z, n; h' = (1 − z) ⊙ n + z ⊙ h). Parameters
/// <c>NAME.weight_ih_l0</c> [3H, I], <c>NAME.weight_hh_l0</c> [3H, H], <c>NAME.bias_ih_l0</c>, <c>NAME.bias_hh_l0</c> [3H].
/// See <see cref="RecurrentLayer"/> for the modes.</summary>
public sealed class GRU : RecurrentLayer
{
    /// <summary>Creates the layer.</summary>
    /// <param name="units">H.</param>
    /// <param name="returnSequences">Every step or the last.</param>
    /// <param name="goBackwards">Backward in time (whole-sequence mode).</param>
    /// <param name="name">Layer name.</param>
    /// <param name="init">Initialisation.</param>
    /// <param name="inputWidth">Total input width when a feedback edge enters the node.</param>
    public GRU(int units, bool returnSequences = true, bool goBackwards = false, string? name = null, LayerInit? init = null, int? inputWidth = null)
        : base(units, returnSequences, goBackwards, name, init, inputWidth) { }

    /// <inheritdoc/>
    public override string Form => "gru";

    /// <inheritdoc/>
    public override IReadOnlyDictionary<string, object>? GetConfig() => RecurrentConfig();

    /// <inheritdoc/>
    protected override IRecurrentCell CreateCell(int inputSize, DType dtype, RandomGenerator rng) => new GruCell(inputSize, Units, dtype, rng);

    /// <inheritdoc/>
    public override RecurrentLayer CloneConfiguration(string? name, bool goBackwards) =>
        new GRU(Units, ReturnSequences, goBackwards, name, Init, InputWidth);
}
