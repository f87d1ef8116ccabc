using FlexNet.Layers.Recurrent;
using FlexNet.Tensors;

namespace FlexNet.Layers;

/// <summary>Elman RNN layer, exactly torch.nn.RNN: h_t = act(x_t·W_ihᵀ + b_ih + h_{t−1}·W_hhᵀ + b_hh), act tanh or relu;
/// y_t = h_t. Parameters <c>NAME.weight_ih_l0</c> [H, I], <c>NAME.weight_hh_l0</c> [H, H], <c>NAME.bias_ih_l0</c>,
/// <c>NAME.bias_hh_l0</c> [H] ~ U(±1/√H). See <see cref="RecurrentLayer"/> for the modes.</summary>
public sealed class RNN : RecurrentLayer
{
    /// <summary>Creates the layer.</summary>
    /// <param name="units">H.</param>
    /// <param name="activation"><c>tanh</c> (default), <c>relu</c>, <c>sigmoid</c> or <c>linear</c>.</param>
    /// <param name="returnSequences">Every step or the last.</param>
    /// <param name="goBackwards">Backward in time (whole-sequence mode).</param>
    /// <param name="name">Layer name.</param>
    /// <param name="init">Initialisation.</param>
    /// <param name="inputWidth">Total input width when a feedback edge enters the node.</param>
    public RNN(int units, string activation = "tanh", bool returnSequences = true, bool goBackwards = false, string? name = null,
               LayerInit? init = null, int? inputWidth = null)
        : base(units, returnSequences, goBackwards, name, init, inputWidth)
    {
        Activation = activation.ToLowerInvariant() switch
        {
            "tanh" => RecurrentActivation.Tanh,
            "relu" => RecurrentActivation.Relu,
            "sigmoid" or "logistic" => RecurrentActivation.Sigmoid,
            "linear" => RecurrentActivation.Linear,
            _ => throw new ArgumentException($"RNN: activation must be tanh, relu, sigmoid or linear. Received: '{activation}'", nameof(activation)),
        };
    }

    /// <summary>The nonlinearity.</summary>
    public RecurrentActivation Activation { get; }

    /// <inheritdoc/>
    public override string Form => "rnn";

    /// <inheritdoc/>
    public override IReadOnlyDictionary<string, object>? GetConfig()
    {
        var d = RecurrentConfig();
        d["activation"] = Activation.ToString().ToLowerInvariant();
        return d;
    }

    /// <inheritdoc/>
    protected override IRecurrentCell CreateCell(int inputSize, DType dtype, RandomGenerator rng) => new RnnCell(inputSize, Units, Activation, dtype, rng);

    /// <inheritdoc/>
    public override RecurrentLayer CloneConfiguration(string? name, bool goBackwards) =>
        new RNN(Units, Activation.ToString(), ReturnSequences, goBackwards, name, Init, InputWidth);
}
