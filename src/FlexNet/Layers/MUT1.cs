using FlexNet.Layers.Recurrent;
using FlexNet.Tensors;

namespace FlexNet.Layers;

/// <summary>theanets MUT1 (Jozefowicz et al. 2015): z_t = σ(x_t·W_xz + b_z), r_t = σ(x_t·W_xr + b_r + h_{t−1}·W_hr), h_t = (1 − z_t) ⊙ h_{t−1} + z_t ⊙ tanh(tanh(x_t·W_xh + b_h) + (r_t ⊙ h_{t−1})·W_hh), via <see cref="Mut1Cell"/>. See <see cref="RecurrentLayer"/> for the stepped and whole-sequence modes.</summary>
public sealed class MUT1 : RecurrentLayer
{
    /// <summary>Creates the layer.</summary>
    /// <param name="units">Hidden units H.</param>
    /// <param name="returnSequences">Every step or the last.</param>
    /// <param name="goBackwards">Backward in time (whole-sequence mode).</param>
    /// <param name="name">Layer name.</param>
    /// <param name="init">Initialisation.</param>
    /// <param name="inputWidth">Total input width when a feedback edge enters the node.</param>
    public MUT1(int units, bool returnSequences = true, bool goBackwards = false, string? name = null,
                 LayerInit? init = null, int? inputWidth = null)
        : base(units, returnSequences, goBackwards, name, init, inputWidth)
    {
    }

    /// <inheritdoc/>
    public override string Form => "mut1";

    /// <inheritdoc/>
    public override IReadOnlyDictionary<string, object>? GetConfig() => RecurrentConfig();

    /// <inheritdoc/>
    protected override IRecurrentCell CreateCell(int inputSize, DType dtype, RandomGenerator rng) => new Mut1Cell(inputSize, Units, dtype, rng);

    /// <inheritdoc/>
    public override RecurrentLayer CloneConfiguration(string? name, bool goBackwards) => new MUT1(Units, ReturnSequences, goBackwards, name, Init, InputWidth);
}
