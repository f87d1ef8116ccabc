using FlexNet.Layers.Recurrent;
using FlexNet.Tensors;

namespace FlexNet.Layers;

/// <summary>theanets RRNN (per-unit update rate z: <c>matrix</c> σ(x·W_xr + r), <c>vector</c> σ(r), fixed <c>uniform</c>/<c>log</c>): h_t = (1 − z_t) ⊙ h_{t−1} + z_t ⊙ act(x_t·W_xh + b + h_{t−1}·W_hh), via <see cref="RrnnCell"/>. See <see cref="RecurrentLayer"/> for the stepped and whole-sequence modes.</summary>
public sealed class RRNN : RecurrentLayer
{
    /// <summary>Creates the layer.</summary>
    /// <param name="units">Hidden units H.</param>
    /// <param name="rate">Rate mode: matrix, vector, uniform or log.</param>
    /// <param name="activation">Hidden nonlinearity.</param>
    /// <param name="returnSequences">Every step or the last.</param>
    /// <param name="goBackwards">Backward in time (whole-sequence mode).</param>
    /// <param name="name">Layer name.</param>
    /// <param name="init">Initialisation.</param>
    /// <param name="inputWidth">Total input width when a feedback edge enters the node.</param>
    public RRNN(int units, string rate = "matrix", string activation = "tanh", bool returnSequences = true, bool goBackwards = false, string? name = null,
                 LayerInit? init = null, int? inputWidth = null)
        : base(units, returnSequences, goBackwards, name, init, inputWidth)
    {
        _ = ParseRate(rate);
        Rate = rate;
        _ = RnnLike.ParseActivation("RRNN", activation);
        Activation = activation;
    }

    /// <summary>Rate mode: matrix, vector, uniform or log.</summary>
    public string Rate { get; }

    /// <summary>Hidden nonlinearity.</summary>
    public string Activation { get; }

    /// <inheritdoc/>
    public override string Form => "rrnn";

    /// <inheritdoc/>
    public override IReadOnlyDictionary<string, object>? GetConfig()
    {
        var d = RecurrentConfig();
        (d["rate"], d["activation"]) = (Rate, Activation);
        return d;
    }

    /// <inheritdoc/>
    // Stryker disable once String: equivalent: the constructor already parsed Activation, so the name "RRNN" never reaches a message here
    protected override IRecurrentCell CreateCell(int inputSize, DType dtype, RandomGenerator rng) => new RrnnCell(inputSize, Units, ParseRate(Rate), RnnLike.ParseActivation("RRNN", Activation), dtype, rng);

    /// <inheritdoc/>
    public override RecurrentLayer CloneConfiguration(string? name, bool goBackwards) => new RRNN(Units, Rate, Activation, ReturnSequences, goBackwards, name, Init, InputWidth);

    private static RateMode ParseRate(string rate) => rate.ToLowerInvariant() switch
    {
        "matrix" => RateMode.Matrix,
        "vector" => RateMode.Vector,
        "uniform" => RateMode.Uniform,
        "log" => RateMode.Log,
        _ => throw new ArgumentException($"rate must be matrix, vector, uniform or log. Received: '{rate}'", nameof(rate)),
    };
}
