using FlexNet.Autodiff;
using FlexNet.Connections;
using FlexNet.Graph;
using FlexNet.Tensors;

namespace FlexNet.Layers;

/// <summary>
/// A Keras-style layer object of the catalog (Dense, Conv2D, LSTM, ...). It does not compute anything itself: it
/// knows how to insert itself into a <see cref="Network"/> — <c>Attach</c> adds a node (a
/// <see cref="Layer"/>) and the connections from the given input nodes, and returns the node that holds the
/// layer's output. Every front end (Sequential, Functional, subclassed models, theanets specs, Connect graphs) builds
/// its network through <c>Attach</c>, so they all produce the same graph. Attaching the same object again
/// (a shared layer) creates a new node whose connections use the first attachment's parameters: one set of weights.
/// </summary>
public abstract class CatalogLayer
{
    private readonly List<Layer> _nodes = new();
    private readonly List<Connection> _connections = new();
    private readonly HashSet<Tensor> _initialised = new(ReferenceEqualityComparer.Instance);
    private readonly Dictionary<string, Tensor> _store = new(StringComparer.Ordinal);
    private readonly HashSet<string> _buffers = new(StringComparer.Ordinal);

    /// <summary>Sets the name and initialisation.</summary>
    /// <param name="name">Layer name (unique in a network; null for an automatic one).</param>
    /// <param name="init">Initialisation (null: built-in default).</param>
    protected CatalogLayer(string? name, LayerInit? init)
    {
        Name = name;
        Init = init ?? new LayerInit();
    }

    /// <summary>The layer's name (also the name of its first node); null until attached without a name.</summary>
    public string? Name { get; set; }

    /// <summary>How the parameters are initialised.</summary>
    public LayerInit Init { get; set; }

    /// <summary>The registry form (e.g. <c>dense</c>, <c>lstm</c>).</summary>
    public abstract string Form { get; }

    /// <summary>The nodes created by every attachment, first one first.</summary>
    public IReadOnlyList<Layer> Nodes => _nodes;

    /// <summary>The connections created by every attachment.</summary>
    public IReadOnlyList<Connection> Connections => _connections;

    /// <summary>Whether the output of this layer is a single step of a sequence it consumed whole (a recurrent layer
    /// with <c>returnSequences: false</c> in a temporal network): front ends then return the last step only.</summary>
    public virtual bool ReturnsLastStep => false;

    /// <summary>The layer's parameters (after its network is built), each once, in creation order.</summary>
    public IReadOnlyList<Tensor> Parameters
    {
        get
        {
            var seen = new HashSet<Tensor>(ReferenceEqualityComparer.Instance);
            var list = new List<Tensor>();
            foreach (var c in _connections)
                foreach (var p in c.Parameters)
                    if (seen.Add(p)) list.Add(p);
            foreach (var n in _nodes)
                foreach (var p in n.Parameters)
                    if (seen.Add(p)) list.Add(p);
            return list;
        }
    }

    /// <summary>Non-trainable state saved with the weights (e.g. BatchNorm's running statistics), each once.</summary>
    public IReadOnlyList<Tensor> Buffers => _store.Where(kv => _buffers.Contains(kv.Key)).Select(kv => kv.Value).ToArray();

    /// <summary>Inserts the layer into <paramref name="network"/> after <paramref name="inputs"/>.</summary>
    /// <param name="network">The network.</param>
    /// <param name="inputs">The input nodes (most layers take exactly one; merges take several).</param>
    /// <returns>The node holding this layer's output.</returns>
    /// <exception cref="GraphException">Wrong number of inputs (names the layer).</exception>
    public Layer Attach(Network network, IReadOnlyList<Layer> inputs)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(inputs);
        var (min, max) = InputArity;
        if (inputs.Count < min || inputs.Count > max)
            throw new GraphException($"Layer '{Name ?? Form}' ({Form}) takes {(min == max ? min.ToString() : $"{min} to {(max == int.MaxValue ? "any number of" : max.ToString())}")} input(s); got {inputs.Count}.");
        string? nodeName = Name is null ? null : _nodes.Count == 0 ? Name : $"{Name}_{_nodes.Count + 1}";
        var node = AttachCore(new AttachContext(this, network, inputs, nodeName, _nodes.Count));
        if (Name is null && _nodes.Count == 0) Name = node.Name;
        _nodes.Add(node);
        return node;
    }

    /// <summary>Attaches to a single input node.</summary>
    /// <param name="network">The network.</param>
    /// <param name="input">The input node.</param>
    /// <returns>The output node.</returns>
    public Layer Attach(Network network, Layer input) => Attach(network, [input]);

    /// <summary>The symbolic (Functional) call: records that this layer is applied to <paramref name="inputs"/>.</summary>
    /// <param name="inputs">Symbolic inputs.</param>
    /// <returns>The symbolic output.</returns>
    public SymbolicTensor Call(params SymbolicTensor[] inputs) => SymbolicTensor.Apply(this, inputs);

    /// <summary>Minimum and maximum number of inputs.</summary>
    protected virtual (int Min, int Max) InputArity => (1, 1);

    /// <summary>Creates the node and connections.</summary>
    /// <param name="context">Network, inputs, node name, call index.</param>
    /// <returns>The output node.</returns>
    protected abstract Layer AttachCore(AttachContext context);

    /// <summary>Records a connection this layer made (and adds it to the network).</summary>
    /// <typeparam name="TConnection">Connection type.</typeparam>
    /// <param name="network">The network.</param>
    /// <param name="connection">The connection.</param>
    /// <returns>The connection.</returns>
    protected internal TConnection Own<TConnection>(Network network, TConnection connection) where TConnection : Connection
    {
        network.Connect(connection);
        _connections.Add(connection);
        return connection;
    }

    /// <summary>A plain node (y = act(combine(cᵢ) + b), the same <see cref="Layer"/> a Connect user adds) whose incoming
    /// connections made by this builder get <see cref="Init"/> once the network has built them.</summary>
    /// <param name="shape">Per-sample shape, or null to infer it.</param>
    /// <param name="activation">Activation name.</param>
    /// <param name="combine">How inputs combine.</param>
    /// <param name="name">Node name (null: automatic).</param>
    /// <returns>The node (not yet in a network).</returns>
    private protected Layer PlainNode(int[]? shape, string activation, CombineRule combine, string? name)
    {
        var node = new Layer(shape, activation, combine, false, name) { AutoNameStem = GetType().Name.ToLowerInvariant() };
        node.AfterBuild = rng => InitIncoming(node, rng);
        return node;
    }

    /// <summary>Applies <see cref="Init"/> to the parameters of <paramref name="node"/>'s incoming connections that this
    /// builder made (each parameter once).</summary>
    internal void InitIncoming(Layer node, RandomGenerator rng)
    {
        if (node.Network is null) return;
        foreach (var c in node.Network.IncomingOf(node))
        {
            if (!_connections.Contains(c)) continue;
            foreach (var p in c.Parameters)
            {
                string shortName = p.Name is { } n && n.LastIndexOf('.') is int i and >= 0 ? n[(i + 1)..] : "weight";
                InitOnce(p, shortName, rng);
            }
        }
    }

    /// <summary>Applies <see cref="Init"/> to a parameter once (never again after training started).</summary>
    /// <param name="param">The parameter.</param>
    /// <param name="shortName">Short name for per-parameter attributes.</param>
    /// <param name="rng">Network generator.</param>
    /// <param name="recurrentHidden">H for recurrent matrices (radius), else 0.</param>
    protected internal void InitOnce(Tensor param, string shortName, RandomGenerator rng, int recurrentHidden = 0)
    {
        if (!_initialised.Add(param)) return;
        Init.Apply(param, shortName, recurrentHidden, rng, param.Name ?? shortName);
    }

    /// <summary>A node-level parameter shared by every attachment: created on first request (named
    /// <c>{Name}.{shortName}</c>), returned again while its shape and dtype fit.</summary>
    /// <param name="shortName">Short name, e.g. <c>gamma</c>.</param>
    /// <param name="shape">Shape.</param>
    /// <param name="dtype">Element type.</param>
    /// <param name="create">Creates the default value.</param>
    /// <param name="rng">Network generator (for <see cref="Init"/>).</param>
    /// <param name="trainable">False for buffers such as running statistics (no gradient, not re-initialised).</param>
    /// <returns>The parameter.</returns>
    protected internal Tensor Store(string shortName, int[] shape, DType dtype, Func<Tensor> create, RandomGenerator rng, bool trainable = true)
    {
        if (_store.TryGetValue(shortName, out var t) && t.DType == dtype && ShapeUtil.SameShape(t.Shape, shape)) return t;
        using (TensorScope.Suspend())
        {
            t = create();
            t.Name = $"{Name}.{shortName}";
            if (trainable)
            {
                t.RequireGrad();
                InitOnce(t, shortName, rng);
            }
        }
        _store[shortName] = t;
        if (!trainable) _buffers.Add(shortName);
        return t;
    }

    /// <summary><see cref="Store"/> as the source of a public layer's own tensors.</summary>
    private protected ParameterSource StoreSource => (shortName, shape, dtype, create, trainable, rng) => Store(shortName, shape, dtype, create, rng, trainable);

    /// <summary>The layer's configuration (Keras' <c>get_config</c>): <c>form</c> (a form registered in
    /// <see cref="LayerRegistry"/>), <c>name</c> and the form's arguments, such that
    /// <c>LayerRegistry.Create(form, new LayerArgs(config, ...))</c> builds an equal layer. Model files store it; values
    /// are ints, doubles, strings, bools or int arrays (seeds as decimal strings). Null (the default) marks a layer that
    /// cannot be saved: a custom layer overrides this and registers its form with <see cref="LayerRegistry.Register"/>.</summary>
    /// <returns>Form, name and arguments, or null.</returns>
    public virtual IReadOnlyDictionary<string, object>? GetConfig() => null;

    /// <summary>Starts a configuration: <c>form</c>, <c>name</c> and (when <paramref name="withInit"/>) the
    /// <see cref="Init"/> settings as <c>init</c>, <c>rng</c> and the attributes.</summary>
    /// <param name="form">The registered form that rebuilds the layer.</param>
    /// <param name="withInit">Whether the form reads init settings.</param>
    /// <returns>The configuration to complete.</returns>
    protected Dictionary<string, object> Config(string form, bool withInit = true)
    {
        var d = new Dictionary<string, object>(StringComparer.Ordinal) { ["form"] = form };
        if (Name is not null) d["name"] = Name;
        if (!withInit) return d;
        if (Init.Scheme is { } scheme) d["init"] = scheme;
        if (Init.Seed is ulong seed) d["rng"] = seed.ToString(System.Globalization.CultureInfo.InvariantCulture);
        foreach (var (k, v) in Init.Attributes) d[k.ToLowerInvariant()] = v;
        return d;
    }

    /// <summary>A padding as a form argument: an int when symmetric, <c>same</c> or <c>valid</c>.</summary>
    /// <param name="p">The padding.</param>
    /// <returns>The argument value.</returns>
    /// <exception cref="GraphException">An asymmetric padding (no form argument describes it).</exception>
    private protected object PaddingArgument(Padding p)
    {
        if (p.IsSame) return "same";
        if (p.Top == p.Bottom && p.Top == p.Left && p.Top == p.Right) return p.Top;
        throw new GraphException($"Layer '{Name}' ({GetType().Name}) has the asymmetric padding {p}, which a model file cannot describe; use a symmetric padding or 'same'.");
    }

    /// <summary>One line, e.g. <c>Dense(20, relu)</c>.</summary>
    /// <returns>The description.</returns>
    public override string ToString() => $"{GetType().Name}({Name ?? "?"})";

    /// <summary>Builds a registered form by name (theanets' <c>Layer.build</c>).</summary>
    /// <param name="form">Form name (see <see cref="LayerRegistry.Forms"/>).</param>
    /// <param name="size">Size (units, filters, ...), when the form takes one.</param>
    /// <param name="activation">Activation name.</param>
    /// <param name="name">Layer name.</param>
    /// <param name="attributes">Further keyword arguments (form options and init attributes).</param>
    /// <returns>The layer.</returns>
    /// <exception cref="SpecValidationException">Unknown form (lists the registered ones) or bad arguments.</exception>
    public static CatalogLayer Build(string form, int? size = null, string? activation = null, string? name = null,
                                     IReadOnlyDictionary<string, object>? attributes = null)
    {
        var args = new Dictionary<string, object>(StringComparer.OrdinalIgnoreCase);
        if (attributes is not null) foreach (var (k, v) in attributes) args[k] = v;
        if (size is int s) args["size"] = s;
        if (activation is not null) args["activation"] = activation;
        if (name is not null) args["name"] = name;
        return LayerRegistry.Create(form, new LayerArgs(args, $"layer '{name ?? form}'"));
    }
}

/// <summary>What <c>CatalogLayer.Attach</c> passes to a layer's implementation.</summary>
public sealed class AttachContext
{
    internal AttachContext(CatalogLayer owner, Network network, IReadOnlyList<Layer> inputs, string? nodeName, int call)
    {
        Owner = owner;
        Network = network;
        Inputs = inputs;
        NodeName = nodeName;
        CallIndex = call;
    }

    /// <summary>The layer being attached.</summary>
    public CatalogLayer Owner { get; }

    /// <summary>The network.</summary>
    public Network Network { get; }

    /// <summary>The input nodes.</summary>
    public IReadOnlyList<Layer> Inputs { get; }

    /// <summary>Name for the new node (null: automatic).</summary>
    public string? NodeName { get; }

    /// <summary>0 for the first attachment; ≥ 1 for shared reuse.</summary>
    public int CallIndex { get; }

    /// <summary>Adds <paramref name="node"/> to the network.</summary>
    /// <typeparam name="TNode">Node type.</typeparam>
    /// <param name="node">The node.</param>
    /// <returns>The node.</returns>
    public TNode Add<TNode>(TNode node) where TNode : Layer => Network.Add(node);

    /// <summary>Connects input <paramref name="index"/> to <paramref name="node"/> by identity (no parameters).</summary>
    /// <param name="index">Input position.</param>
    /// <param name="node">Target node.</param>
    /// <returns>The connection.</returns>
    public IdentityConnection Identity(int index, Layer node) => Owner.Own(Network, new IdentityConnection(Inputs[index], node));
}
