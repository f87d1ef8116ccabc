using FlexNet.Connections;
using FlexNet.Graph;
using FlexNet.Tensors;

namespace FlexNet.Models;

/// <summary>
/// The FeedbackNets.jl front end: a chain of elements applied to a stream, where a <see cref="Splitter"/> records the
/// stream under a name and a <see cref="Merger"/> combines the stream with <c>op(h[name])</c>, the value recorded
/// under that name at the previous step: y = combine(x, op(h_{t−1}[name])). Called as <c>(state, x) → (state', y)</c>
/// (<see cref="Step"/>); <see cref="Stateful"/> keeps the state internally with a reset. The chain is only a front
/// end: it builds an ordinary <see cref="Network"/> (<see cref="Network"/> property), each element a layer, each
/// Merger a delay-1 connection from the Splitter's layer into a merge layer — the graph <c>Connect</c> would build.
/// </summary>
/// <example><code>
/// var chain = new FeedbackChain("fb", [1, 28, 28],
///     Chain.Conv2d(8, 3, padding: Padding.Same, activation: "relu"), Chain.Splitter("c1"),
///     Chain.Pool(2), Chain.Conv2d(16, 3, padding: 1, activation: "relu"),
///     Chain.Merger("c1", (from, to, delay) => new ConvTranspose2dConnection(from, to, 3, 2, 1, delay: delay)), ...);
/// </code></example>
public partial class FeedbackChain
{
    private readonly Dictionary<string, Layer> _splits = new(StringComparer.Ordinal);

    /// <summary>A chain over an already built network (a loaded model file).</summary>
    private protected FeedbackChain(Network network, InputLayer input, Layer output, IEnumerable<KeyValuePair<string, Layer>> splits)
    {
        Network = network;
        Input = input;
        Output = output;
        foreach (var (k, v) in splits) _splits[k] = v;
    }

    /// <summary>Builds the chain's network for inputs of per-sample shape <paramref name="inputShape"/>.</summary>
    /// <param name="name">Network name.</param>
    /// <param name="inputShape">Per-sample input shape (the input is presented at every step).</param>
    /// <param name="elements">The elements, applied in order.</param>
    public FeedbackChain(string name, int[] inputShape, params ChainElement[] elements)
        : this(name, inputShape, DType.Float32, 0, elements)
    {
    }

    /// <summary>Builds the chain's network with an element type and an initialisation seed.</summary>
    /// <param name="name">Network name.</param>
    /// <param name="inputShape">Per-sample input shape.</param>
    /// <param name="dtype">Element type.</param>
    /// <param name="seed">Initialisation seed.</param>
    /// <param name="elements">The elements, applied in order.</param>
    public FeedbackChain(string name, int[] inputShape, DType dtype, ulong seed, params ChainElement[] elements)
        : this(name, inputShape, OutputMode.LastStep, dtype, seed, elements)
    {
    }

    /// <summary>Builds the chain's network with the output at every step or at the last step only.</summary>
    /// <param name="name">Network name.</param>
    /// <param name="inputShape">Per-sample input shape.</param>
    /// <param name="output"><see cref="OutputMode.LastStep"/>: <see cref="Forward"/> returns y(T) [N, ...];
    /// <see cref="OutputMode.AllSteps"/>: it returns y(1..T) [T, N, ...] (FeedbackNets' readout of every step).</param>
    /// <param name="dtype">Element type.</param>
    /// <param name="seed">Initialisation seed.</param>
    /// <param name="elements">The elements, applied in order.</param>
    public FeedbackChain(string name, int[] inputShape, OutputMode output, DType dtype, ulong seed, params ChainElement[] elements)
    {
        ArgumentNullException.ThrowIfNull(elements);
        if (elements.Length == 0) throw new ArgumentException("A feedback chain needs at least one element.", nameof(elements));
        Network = new Network(name, dtype, seed);
        Input = Network.Add(new InputLayer(inputShape, name: "input"));
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var e in elements)
            if (e is Splitter s && !names.Add(s.Name))
                throw new GraphException($"Feedback chain '{name}': Splitter name '{s.Name}' is used twice.");
        foreach (var e in elements)
            if (e is Merger m && !names.Contains(m.Name))
                throw new GraphException($"Feedback chain '{name}': Merger '{m.Name}' has no Splitter of that name (splitters: {string.Join(", ", names)}).");
        var stream = new Stream(Input, 0);
        var pendingMergers = new List<(Merger M, Layer Target)>();
        int index = 0;
        foreach (var e in elements)
        {
            index++;
            switch (e)
            {
                case Splitter s:
                    var layer = Materialise(ref stream, index);
                    _splits[s.Name] = layer;
                    if (IsTree) stream = new Stream(layer, 1); // a tree continues from last step's value
                    break;
                case Merger m:
                    var merge = Network.Add(new Layer(m.Shape, "linear", m.Combine, name: $"merge{index}_{m.Name}"));
                    Network.ConnectIdentity(stream.Layer, merge, stream.Delay);
                    pendingMergers.Add((m, merge));
                    stream = new Stream(merge, 0);
                    break;
                default:
                    stream = new Stream(e.Append(Network, stream.Layer, stream.Delay, index), 0);
                    break;
            }
        }
        foreach (var (m, target) in pendingMergers) Network.Connect(m.Op(_splits[m.Name], target, 1));
        Output = Materialise(ref stream, index + 1);
        Network.AddOutput(Output, output);
        Network.Compile();
    }

    private readonly record struct Stream(Layer Layer, int Delay);

    /// <summary>A delayed stream (a tree splitter followed by a splitter or the end) becomes a layer of its own.</summary>
    private Layer Materialise(ref Stream stream, int index)
    {
        if (stream.Delay == 0) return stream.Layer;
        var l = Network.Add(new Layer((int[]?)null, name: $"delayed{index}_{stream.Layer.Name}"));
        Network.ConnectIdentity(stream.Layer, l, stream.Delay);
        stream = new Stream(l, 0);
        return l;
    }

    /// <summary>False for a chain: the stream goes on with the fresh value after a Splitter.</summary>
    protected virtual bool IsTree => false;

    /// <summary>The network the chain built (run it unrolled with <see cref="Graph.Network.Forward(Tensor[], bool, Tensor?, int?)"/>).</summary>
    public Network Network { get; }

    /// <summary>The input layer.</summary>
    public InputLayer Input { get; }

    /// <summary>The last layer of the stream (the chain's output y).</summary>
    public Layer Output { get; }

    /// <summary>The layer recorded by each Splitter.</summary>
    public IReadOnlyDictionary<string, Layer> Splits => _splits;

    /// <summary>Names of the Splitters (FeedbackNets' <c>splitnames</c>).</summary>
    public IReadOnlyCollection<string> SplitNames => _splits.Keys;

    /// <summary>Every parameter of the chain.</summary>
    public IEnumerable<Tensor> Parameters => Network.Parameters;

    /// <summary>A zero state for batch size <paramref name="batch"/>: one [N, ...shape] zero tensor per Splitter name.</summary>
    /// <param name="batch">Batch size N.</param>
    /// <returns>The state dictionary.</returns>
    public Dictionary<string, Tensor> ZeroState(int batch)
    {
        var d = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (name, layer) in _splits)
        {
            var shape = new int[layer.OutputShape!.Length + 1];
            shape[0] = batch;
            layer.OutputShape.CopyTo(shape, 1);
            d[name] = Tensor.Zeros(shape, Network.DType);
        }
        return d;
    }

    /// <summary>One step, FeedbackNets' <c>(h, x) → (h', y)</c>: Mergers read <paramref name="state"/> (last step's values;
    /// a missing name reads zeros), Splitters write the returned state. Differentiable through both.</summary>
    /// <param name="state">Previous values by Splitter name.</param>
    /// <param name="x">Input [N, ...inputShape].</param>
    /// <param name="training">Training mode.</param>
    /// <returns>The new state and the output y [N, ...].</returns>
    public (Dictionary<string, Tensor> State, Tensor Y) Step(IReadOnlyDictionary<string, Tensor> state, Tensor x, bool training = false)
    {
        var previous = new Dictionary<Layer, Tensor>(ReferenceEqualityComparer.Instance);
        foreach (var (name, value) in state)
        {
            if (!_splits.TryGetValue(name, out var layer))
                throw new GraphException($"Feedback chain '{Network.Name}': the state has '{name}', which no Splitter records (splitters: {string.Join(", ", _splits.Keys)}).");
            previous[layer] = value;
        }
        var y = Network.Step([x], previous, training, out var current)[0];
        var next = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (name, layer) in _splits) next[name] = current[layer];
        return (next, y);
    }

    /// <summary>Runs <paramref name="steps"/> steps on the same input from a zero state and returns the last output, or
    /// every step's output for a chain built with <see cref="OutputMode.AllSteps"/> (the unrolled network; equals calling
    /// <see cref="Step"/> <paramref name="steps"/> times).</summary>
    /// <param name="x">Input [N, ...inputShape].</param>
    /// <param name="steps">Number of steps.</param>
    /// <param name="training">Training mode.</param>
    /// <returns>y at the last step [N, ...], or at every step [T, N, ...].</returns>
    public Tensor Forward(Tensor x, int steps, bool training = false) => Network.Forward([x], training, steps: steps)[0];

    /// <summary>A wrapper that keeps the state between calls (FeedbackNets' StateFull).</summary>
    /// <returns>The stateful wrapper, starting from zeros.</returns>
    public StatefulFeedbackChain Stateful() => new(this);
}

/// <summary>The FeedbackTree variant: at every Splitter the stream continues from the value recorded at the previous
/// step, so forward and backward information both travel one stage per step (an n-stage tree needs n steps for the
/// input to reach the output).</summary>
public sealed class FeedbackTree : FeedbackChain
{
    /// <summary>Builds the tree's network.</summary>
    /// <param name="name">Network name.</param>
    /// <param name="inputShape">Per-sample input shape.</param>
    /// <param name="elements">The elements, applied in order.</param>
    public FeedbackTree(string name, int[] inputShape, params ChainElement[] elements) : base(name, inputShape, elements) { }

    /// <summary>Builds the tree's network with an element type and seed.</summary>
    /// <param name="name">Network name.</param>
    /// <param name="inputShape">Per-sample input shape.</param>
    /// <param name="dtype">Element type.</param>
    /// <param name="seed">Initialisation seed.</param>
    /// <param name="elements">The elements, applied in order.</param>
    public FeedbackTree(string name, int[] inputShape, DType dtype, ulong seed, params ChainElement[] elements)
        : base(name, inputShape, dtype, seed, elements) { }

    internal FeedbackTree(Network network, InputLayer input, Layer output, IEnumerable<KeyValuePair<string, Layer>> splits)
        : base(network, input, output, splits) { }

    /// <inheritdoc/>
    protected override bool IsTree => true;
}

/// <summary>A feedback chain that keeps its state between calls: <c>y = sf(x)</c> advances one step; <see cref="Reset"/>
/// returns to the zero state. Only the chain's parameters are trainable.</summary>
public sealed class StatefulFeedbackChain
{
    internal StatefulFeedbackChain(FeedbackChain chain) => Chain = chain;

    /// <summary>The wrapped chain.</summary>
    public FeedbackChain Chain { get; }

    /// <summary>The current state (null after a reset: the next call starts from zeros).</summary>
    public IReadOnlyDictionary<string, Tensor>? State { get; private set; }

    /// <summary>One step: y = chain(state, x); the new state is kept.</summary>
    /// <param name="x">Input [N, ...].</param>
    /// <param name="training">Training mode.</param>
    /// <returns>y [N, ...].</returns>
    public Tensor Call(Tensor x, bool training = false)
    {
        var (next, y) = Chain.Step(State ?? new Dictionary<string, Tensor>(), x, training);
        State = next;
        return y;
    }

    /// <summary>Forgets the state.</summary>
    public void Reset() => State = null;
}
