using FlexNet.Layers.Recurrent;
using FlexNet.Tensors;

namespace FlexNet.Layers;

/// <summary>theanets MRNN (Sutskever 2011, factored multiplicative): f_t = x_t·W_xf, h_t = act(x_t·W_xh + b + (f_t ⊙ (h_{t−1}·W_hf))·W_fh), F factors (default ⌈√H⌉), via <see cref="MrnnCell"/>. See <see cref="RecurrentLayer"/> for the stepped and whole-sequence modes.</summary>
public sealed class MRNN : RecurrentLayer
{
    /// <summary>Creates the layer.</summary>
    /// <param name="units">Hidden units H.</param>
    /// <param name="factors">Number of factors F (null: ⌈√H⌉).</param>
    /// <param name="activation">Hidden nonlinearity.</param>
    /// <param name="returnSequences">Every step or the last.</param>
    /// <param name="goBackwards">Backward in time (whole-sequence mode).</param>
    /// <param name="name">Layer name.</param>
    /// <param name="init">Initialisation.</param>
    /// <param name="inputWidth">Total input width when a feedback edge enters the node.</param>
    public MRNN(int units, int? factors = null, string activation = "tanh", bool returnSequences = true, bool goBackwards = false, string? name = null,
                 LayerInit? init = null, int? inputWidth = null)
        : base(units, returnSequences, goBackwards, name, init, inputWidth)
    {
        Factors = factors;
        _ = RnnLike.ParseActivation("MRNN", activation);
        Activation = activation;
    }

    /// <summary>Number of factors F (null: ⌈√H⌉).</summary>
    public int? Factors { get; }

    /// <summary>Hidden nonlinearity.</summary>
    public string Activation { get; }

    /// <inheritdoc/>
    public override string Form => "mrnn";

    /// <inheritdoc/>
    public override IReadOnlyDictionary<string, object>? GetConfig()
    {
        var d = RecurrentConfig();
        if (Factors is int f) d["factors"] = f;
        d["activation"] = Activation;
        return d;
    }

    /// <inheritdoc/>
    // Stryker disable once String: equivalent: the constructor already parsed Activation, so the name "MRNN" never reaches a message here
    protected override IRecurrentCell CreateCell(int inputSize, DType dtype, RandomGenerator rng) => new MrnnCell(inputSize, Units, Factors, RnnLike.ParseActivation("MRNN", Activation), dtype, rng);

    /// <inheritdoc/>
    public override RecurrentLayer CloneConfiguration(string? name, bool goBackwards) => new MRNN(Units, Factors, Activation, ReturnSequences, goBackwards, name, Init, InputWidth);
}
