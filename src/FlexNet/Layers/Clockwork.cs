using FlexNet.Layers.Recurrent;
using FlexNet.Tensors;

namespace FlexNet.Layers;

/// <summary>theanets Clockwork RNN (Koutník 2014): modules of H/K units with periods T_i update only when t mod T_i = 0, recurrent input slow → fast, via <see cref="ClockworkCell"/>. t is the step index (stepped mode counts steps from the start of the run). See <see cref="RecurrentLayer"/> for the stepped and whole-sequence modes.</summary>
public sealed class Clockwork : RecurrentLayer
{
    /// <summary>Creates the layer.</summary>
    /// <param name="units">Hidden units H.</param>
    /// <param name="periods">Module periods (H must be a multiple of their count).</param>
    /// <param name="activation">Hidden nonlinearity.</param>
    /// <param name="returnSequences">Every step or the last.</param>
    /// <param name="goBackwards">Backward in time (whole-sequence mode).</param>
    /// <param name="name">Layer name.</param>
    /// <param name="init">Initialisation.</param>
    /// <param name="inputWidth">Total input width when a feedback edge enters the node.</param>
    public Clockwork(int units, int[] periods, string activation = "tanh", bool returnSequences = true, bool goBackwards = false, string? name = null,
                 LayerInit? init = null, int? inputWidth = null)
        : base(units, returnSequences, goBackwards, name, init, inputWidth)
    {
        ArgumentNullException.ThrowIfNull(periods);
        periods = (int[])periods.Clone();
        Periods = periods;
        _ = RnnLike.ParseActivation("Clockwork", activation);
        Activation = activation;
    }

    /// <summary>Module periods (H must be a multiple of their count).</summary>
    public int[] Periods { get; }

    /// <summary>Hidden nonlinearity.</summary>
    public string Activation { get; }

    /// <inheritdoc/>
    public override string Form => "clockwork";

    /// <inheritdoc/>
    public override IReadOnlyDictionary<string, object>? GetConfig()
    {
        var d = RecurrentConfig();
        (d["periods"], d["activation"]) = ((int[])Periods.Clone(), Activation);
        return d;
    }

    /// <inheritdoc/>
    protected override IRecurrentCell CreateCell(int inputSize, DType dtype, RandomGenerator rng) => new ClockworkCell(inputSize, Units, Periods, RnnLike.ParseActivation("Clockwork", Activation), dtype, rng);

    /// <inheritdoc/>
    public override RecurrentLayer CloneConfiguration(string? name, bool goBackwards) => new Clockwork(Units, Periods, Activation, ReturnSequences, goBackwards, name, Init, InputWidth);
}
