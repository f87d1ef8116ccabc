using FlexNet.Layers.Recurrent;
using FlexNet.Tensors;

namespace FlexNet.Layers;

/// <summary>LSTM layer, exactly torch.nn.LSTM (gates i, f, g, o; c' = f ⊙ c + i ⊙ g; h' = o ⊙ tanh(c')); with
/// <see cref="Peepholes"/> theanets' diagonal peepholes ci, cf, co. Parameters <c>NAME.weight_ih_l0</c> [4H, I],
/// <c>NAME.weight_hh_l0</c> [4H, H], <c>NAME.bias_ih_l0</c>, <c>NAME.bias_hh_l0</c> [4H] (+ <c>NAME.ci/cf/co</c> [H]).
/// The initial state input may carry h₀ [H] or [h₀; c₀] [2H]. See <see cref="RecurrentLayer"/> for the modes.</summary>
public sealed class LSTM : RecurrentLayer
{
    /// <summary>Creates the layer.</summary>
    /// <param name="units">H.</param>
    /// <param name="returnSequences">Every step or the last.</param>
    /// <param name="goBackwards">Backward in time (whole-sequence mode).</param>
    /// <param name="peepholes">Add diagonal peephole weights.</param>
    /// <param name="name">Layer name.</param>
    /// <param name="init">Initialisation.</param>
    /// <param name="inputWidth">Total input width when a feedback edge enters the node.</param>
    public LSTM(int units, bool returnSequences = true, bool goBackwards = false, bool peepholes = false, string? name = null,
                LayerInit? init = null, int? inputWidth = null)
        : base(units, returnSequences, goBackwards, name, init, inputWidth) => Peepholes = peepholes;

    /// <summary>Whether the cell has peepholes.</summary>
    public bool Peepholes { get; }

    /// <inheritdoc/>
    public override string Form => "lstm";

    /// <inheritdoc/>
    public override IReadOnlyDictionary<string, object>? GetConfig()
    {
        var d = RecurrentConfig();
        d["peepholes"] = Peepholes;
        return d;
    }

    /// <inheritdoc/>
    protected override IRecurrentCell CreateCell(int inputSize, DType dtype, RandomGenerator rng) => new LstmCell(inputSize, Units, Peepholes, dtype, rng);

    /// <inheritdoc/>
    public override RecurrentLayer CloneConfiguration(string? name, bool goBackwards) =>
        new LSTM(Units, ReturnSequences, goBackwards, Peepholes, name, Init, InputWidth);
}
