using FlexNet.Metrics;
using FlexNet.Losses;
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
public sealed class NetworkTrainable : IMaskedTrainable, IGraphBacked, IActivationSource, IForwardInto
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

    Tensor[] IForwardInto.ForwardInto(Tensor[] inputs, bool training, Tensor? mask, Tensor[]? reuse) =>
        Network.ForwardInto(inputs, training, mask, reuse);
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

    /// <summary>Runs <paramref name="network"/> (one input, one output) in evaluation mode without recording gradients,
    /// over <paramref name="x"/> in batches of <paramref name="batchSize"/>, and returns the outputs stacked on the
    /// batch axis. Inputs are [N, ...shape] (or [T, N, ...shape] for a temporal input); a single sample [...shape]
    /// (or [T, ...shape]) is accepted and gives a single output (its batch axis removed). Outputs are [N, ...] for a
    /// last-step output and [T, N, ...] for an every-step output.</summary>
    /// <param name="network">The network.</param>
    /// <param name="x">Inputs, or one sample.</param>
    /// <param name="batchSize">Samples per forward pass (any size; memory grows with it).</param>
    /// <returns>The outputs (allocated outside any scope, no gradient).</returns>
    /// <exception cref="ArgumentException">The network has several inputs or outputs, or the batch size is not positive.</exception>
    /// <exception cref="ShapeMismatchException">The input does not fit the input layer (names both shapes).</exception>
    public static Tensor Predict(this Network network, Tensor x, int batchSize = 256)
    {
        var single = Single(network, x, out int inAxis, out int outAxis, out bool oneSample);
        var xb = oneSample ? x.Unsqueeze(inAxis) : x;
        var y = Trainer.Predict(single, xb, batchSize, inAxis, outAxis);
        return oneSample ? y.Squeeze(outAxis) : y;
    }

    /// <summary>The loss and metrics of <paramref name="network"/> (one input, one output, non-temporal or last-step)
    /// on (x, y), in batches, without gradients (see <see cref="Trainer.Evaluate(ITrainable, Tensor, Tensor, Loss, IReadOnlyList{Metric}?, int, int, int)"/>).</summary>
    /// <param name="network">The network.</param>
    /// <param name="x">Inputs [N, ...shape].</param>
    /// <param name="y">Targets [N, ...].</param>
    /// <param name="loss">The loss.</param>
    /// <param name="metrics">Metrics (may be null).</param>
    /// <param name="batchSize">Samples per forward pass.</param>
    /// <returns>Name → value (<c>loss</c> and each metric).</returns>
    public static IReadOnlyDictionary<string, double> Evaluate(this Network network, Tensor x, Tensor y, Loss loss, IReadOnlyList<Metric>? metrics = null, int batchSize = 256)
    {
        var single = Single(network, x, out int inAxis, out int outAxis, out bool oneSample);
        if (inAxis != 0 || outAxis != 0 || oneSample)
            throw new ArgumentException($"Network '{network.Name}': Evaluate takes a batch [N, ...] of a non-temporal network with a last-step output; use Predict and the loss for sequences.");
        return Trainer.Evaluate(single, x, y, loss, metrics, batchSize);
    }

    private static SingleNetwork Single(Network network, Tensor x, out int inAxis, out int outAxis, out bool oneSample)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(x);
        network.Compile();
        if (network.Inputs.Count != 1 || network.Outputs.Count != 1)
            throw new ArgumentException($"Network '{network.Name}' has {network.Inputs.Count} inputs and {network.Outputs.Count} outputs; Predict and Evaluate take one of each (use Forward for more).");
        var input = network.Inputs[0];
        int rank = input.OutputShape!.Length + (input.IsTemporal ? 1 : 0);
        inAxis = input.IsTemporal ? 1 : 0;
        outAxis = network.Outputs[0].Mode == OutputMode.AllSteps ? 1 : 0;
        oneSample = x.Rank == rank;
        if (!oneSample && x.Rank != rank + 1)
            throw new ShapeMismatchException($"Network '{network.Name}': input '{input.Name}' takes {(input.IsTemporal ? "[T, N, " : "[N, ")}{string.Join(", ", input.OutputShape)}] " +
                                             $"or one sample; got {ShapeUtil.Format(x.Shape)}.");
        return new SingleNetwork(network);
    }

    private sealed class SingleNetwork(Network network) : ITrainable
    {
        public IReadOnlyList<Tensor> Parameters => [.. network.Parameters];

        public Tensor Forward(Tensor input, bool training) => network.Forward([input], training)[0];
    }
}
