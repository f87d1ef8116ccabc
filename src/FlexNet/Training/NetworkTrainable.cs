using FlexNet.Graph;
using FlexNet.Tensors;

namespace FlexNet.Training;

/// <summary>
/// Lets <see cref="Trainer"/> train a graph <see cref="Network"/>: parameters in the network's stable order (each
/// unnamed parameter gets its <see cref="Network.NamedParameters"/> name, so regularizer patterns, checkpoints and
/// non-finite errors can name it), and <see cref="Forward(Tensor[], bool)"/> = <c>network.Forward(inputs, training)</c> (one tensor
/// per input layer, one per output: <c>[N, ...]</c> or <c>[T, N, ...]</c>; use
/// <see cref="TrainerOptions.InputBatchAxis"/> = 1 for temporal inputs). A batch's <c>[T, N]</c> mask reaches
/// <c>Network.Forward</c> (masked steps keep state) as well as the losses.
/// </summary>
public sealed class NetworkTrainable : IMaskedTrainable, IGraphBacked, IActivationSource
{
    private readonly Tensor[] _params;

    /// <summary>Wraps a network (built here if needed).</summary>
    /// <param name="network">The network.</param>
    public NetworkTrainable(Network network)
    {
        Network = network ?? throw new ArgumentNullException(nameof(network));
        var named = network.NamedParameters;
        _params = new Tensor[named.Count];
        for (int i = 0; i < named.Count; i++)
        {
            var (name, p) = named[i];
            p.Name ??= name;
            _params[i] = p;
        }
    }

    /// <summary>The wrapped network.</summary>
    public Network Network { get; }

    /// <inheritdoc/>
    public IReadOnlyList<Tensor> Parameters => _params;

    /// <inheritdoc/>
    public Tensor[] Forward(Tensor[] inputs, bool training) => Network.Forward(inputs, training);

    /// <summary>The hidden layers' outputs of the latest forward pass (see <see cref="Graph.Network.Activations"/>).</summary>
    public IReadOnlyList<KeyValuePair<string, Tensor>> Activations => Network.Activations;

    /// <inheritdoc/>
    public Tensor[] Forward(Tensor[] inputs, bool training, Tensor? mask) => Network.Forward(inputs, training, mask);
}

/// <summary>Training entry points on <see cref="Network"/>.</summary>
public static class NetworkTrainingExtensions
{
    /// <summary>The network as an <see cref="IMultiTrainable"/>.</summary>
    /// <param name="network">The network.</param>
    /// <returns>The adapter.</returns>
    public static NetworkTrainable AsTrainable(this Network network) => new(network);

    /// <summary>Trains a single-input, single-output network: <c>Trainer.Fit(network.AsTrainable(), [x], [y], options)</c>.</summary>
    /// <param name="network">The network.</param>
    /// <param name="x">Inputs.</param>
    /// <param name="y">Targets.</param>
    /// <param name="options">Settings.</param>
    /// <returns>The history.</returns>
    public static History Fit(this Network network, Tensor x, Tensor y, TrainerOptions options) =>
        Trainer.Fit(new NetworkTrainable(network), [x], [y], options);
}
