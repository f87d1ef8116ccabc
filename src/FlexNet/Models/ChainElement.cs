using FlexNet.Layers;
using FlexNet.Connections;
using FlexNet.Graph;
using FlexNet.Autodiff;

namespace FlexNet.Models;

/// <summary>One element of a <see cref="FeedbackChain"/>: given the current stream (a layer, read with a delay), it
/// appends graph nodes and returns the new stream layer.</summary>
public abstract class ChainElement
{
    /// <summary>Appends this element to <paramref name="net"/>.</summary>
    /// <param name="net">The chain's network.</param>
    /// <param name="stream">The layer carrying the stream.</param>
    /// <param name="delay">Delay with which the stream is read (1 after a tree Splitter, else 0).</param>
    /// <param name="index">Position of the element (for unique layer names).</param>
    /// <returns>The layer carrying the stream after this element.</returns>
    protected internal abstract Layer Append(Network net, Layer stream, int delay, int index);
}

/// <summary>Records the stream under <see cref="Name"/> (identity in the stream).</summary>
/// <param name="name">The name Mergers refer to.</param>
public sealed class Splitter(string name) : ChainElement
{
    /// <summary>The recorded name.</summary>
    public string Name { get; } = !string.IsNullOrEmpty(name) ? name : throw new ArgumentException("Splitter name must be non-empty.", nameof(name));

    /// <inheritdoc/>
    protected internal override Layer Append(Network net, Layer stream, int delay, int index) =>
        throw new InvalidOperationException("Splitters are handled by the chain.");
}

/// <summary>y = combine(x, op(h_{t−1}[Name])): merges the stream with the previous step's value of a Splitter through the
/// connection <see cref="Op"/> (a factory called with the splitter's layer, the merge layer and delay 1).</summary>
/// <param name="name">The Splitter's name.</param>
/// <param name="op">Builds the feedback connection (from, to, delay) — any connection, including user-defined ones.</param>
/// <param name="combine">How the stream and the feedback combine (Sum is FeedbackNets' <c>+</c>, Product its <c>*</c>).</param>
/// <param name="shape">Merge layer's shape, needed for Concat (null: the stream's shape).</param>
public sealed class Merger(string name, Func<Layer, Layer, int, Connection> op, CombineRule combine = CombineRule.Sum, int[]? shape = null) : ChainElement
{
    /// <summary>The Splitter's name.</summary>
    public string Name { get; } = name;

    /// <summary>The feedback connection factory.</summary>
    public Func<Layer, Layer, int, Connection> Op { get; } = op ?? throw new ArgumentNullException(nameof(op));

    /// <summary>The combine rule.</summary>
    public CombineRule Combine { get; } = combine;

    /// <summary>Declared shape of the merge layer (null: inferred from the stream).</summary>
    public int[]? Shape { get; } = shape;

    /// <inheritdoc/>
    protected internal override Layer Append(Network net, Layer stream, int delay, int index) =>
        throw new InvalidOperationException("Mergers are handled by the chain.");
}

/// <summary>Appends any layer, fed from the stream by a connection built by a factory (the general element).</summary>
/// <param name="layer">Creates the new layer.</param>
/// <param name="connect">Builds the connection from the stream (from, to, delay).</param>
public sealed class LayerElement(Func<int, Layer> layer, Func<Layer, Layer, int, Connection> connect) : ChainElement
{
    /// <inheritdoc/>
    protected internal override Layer Append(Network net, Layer stream, int delay, int index)
    {
        var l = net.Add(layer(index));
        net.Connect(connect(stream, l, delay));
        return l;
    }
}

/// <summary>Factories of chain elements (FeedbackNets' Dense, Conv, MaxPool, flatten, Splitter, Merger).</summary>
public static class Chain
{
    /// <summary>Dense layer: y = act(W x + b), W [units, in].</summary>
    /// <param name="units">Output units.</param>
    /// <param name="activation">Activation name.</param>
    /// <param name="bias">Whether the connection has a bias.</param>
    /// <returns>The element.</returns>
    public static ChainElement Dense(int units, string activation = "linear", bool bias = true) =>
        new LayerElement(i => new Layer(units, activation, name: $"dense{i}"), (f, t, d) => new DenseConnection(f, t, d, bias));

    /// <summary>Convolution layer: y = act(conv2d(x, W) + b), W [outChannels, Cin, k, k]; the output map size is inferred.</summary>
    /// <param name="outChannels">Output channels.</param>
    /// <param name="kernelSize">Kernel size.</param>
    /// <param name="stride">Stride.</param>
    /// <param name="padding">Padding.</param>
    /// <param name="activation">Activation name.</param>
    /// <param name="bias">Whether the connection has a bias.</param>
    /// <returns>The element.</returns>
    public static ChainElement Conv2d(int outChannels, int kernelSize, int stride = 1, Padding padding = default, string activation = "linear", bool bias = true) =>
        new LayerElement(i => new Layer((int[]?)null, activation, name: $"conv{i}"),
                         (f, t, d) => new Conv2dConnection(f, t, kernelSize, stride, padding, 1, d, bias, outChannels));

    /// <summary>Max pooling over size×size windows (stride = size).</summary>
    /// <param name="size">Window size.</param>
    /// <returns>The element.</returns>
    public static ChainElement MaxPool(int size) =>
        new LayerElement(i => new PoolLayer(PoolKind.Max, 2, size, name: $"pool{i}"), (f, t, d) => new IdentityConnection(f, t, d));

    /// <summary>Flattens each sample.</summary>
    /// <returns>The element.</returns>
    public static ChainElement Flatten() =>
        new LayerElement(i => new FlattenLayer(name: $"flatten{i}"), (f, t, d) => new IdentityConnection(f, t, d));

    /// <summary>Applies an activation (a linear identity-fed layer with that activation).</summary>
    /// <param name="activation">Activation name.</param>
    /// <returns>The element.</returns>
    public static ChainElement Activation(string activation) =>
        new LayerElement(i => new Layer((int[]?)null, activation, name: $"{activation}{i}"), (f, t, d) => new IdentityConnection(f, t, d));

    /// <summary>Records the stream under <paramref name="name"/>.</summary>
    /// <param name="name">Name for Mergers.</param>
    /// <returns>The element.</returns>
    public static Splitter Splitter(string name) => new(name);

    /// <summary>y = combine(x, op(h_{t−1}[name])).</summary>
    /// <param name="name">The Splitter's name.</param>
    /// <param name="op">Feedback connection factory (from, to, delay).</param>
    /// <param name="combine">Sum (default), Product or Concat.</param>
    /// <returns>The element.</returns>
    public static Merger Merger(string name, Func<Layer, Layer, int, Connection> op, CombineRule combine = CombineRule.Sum) => new(name, op, combine);
}
