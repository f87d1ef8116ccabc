using FlexNet.Layers.Recurrent;

namespace FlexNet.Layers;

/// <summary>Shared option parsing of the recurrent catalog layers.</summary>
internal static class RnnLike
{
    internal static RecurrentActivation ParseActivation(string layer, string activation) => activation.ToLowerInvariant() switch
    {
        "tanh" => RecurrentActivation.Tanh,
        "relu" => RecurrentActivation.Relu,
        "sigmoid" or "logistic" => RecurrentActivation.Sigmoid,
        "linear" => RecurrentActivation.Linear,
        _ => throw new ArgumentException($"{layer}: activation must be tanh, relu, sigmoid or linear. Received: '{activation}'", nameof(activation)),
    };
}
