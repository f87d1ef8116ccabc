using FlexNet.Connections;
using FlexNet.Graph;
using FlexNet.Tensors;

namespace FlexNet.Layers;

/// <summary>
/// Fully connected (theanets <c>ff</c>, Keras Dense, torch Linear): y = act(Σₖ xₖ·Wₖᵀ + b) with one weight
/// Wₖ [units, inₖ] per input (a [C, H, W] input is flattened) and one bias b [units] (on the first input's
/// connection). Graph: a node [units] with a <see cref="DenseConnection"/> from each input; parameters
/// <c>NAME.weight</c>, <c>NAME.bias</c> (several inputs: <c>NAME:INPUT.weight</c>). Default init: torch's
/// U(±1/√in). With a registered <c>connection</c> kind other than <c>dense</c> (see <see cref="ConnectionRegistry"/>)
/// each input k is connected through that kind instead: y = act(Σₖ cₖ(xₖ) + b), cₖ [N, units] from the kind's
/// connection named <c>NAME:INPUT</c> (parameters <c>NAME:INPUT.PARAM</c>) and the layer's own bias b [units]
/// (<c>NAME.bias</c>, zeros, shared by every attachment).
/// </summary>
public class Dense : CatalogLayer, ITiedPartner
{
    private readonly List<Connection> _first = new();

    /// <summary>Creates the layer.</summary>
    /// <param name="units">Output units (positive).</param>
    /// <param name="activation">Activation name (default linear).</param>
    /// <param name="useBias">Whether to learn a bias.</param>
    /// <param name="name">Layer name.</param>
    /// <param name="init">Initialisation.</param>
    /// <param name="connection">A registered connection kind for the incoming edges (null or <c>dense</c>: full matrices).</param>
    /// <param name="connectionOptions">The kind's options (keys it declares, e.g. <c>rank</c>).</param>
    /// <exception cref="ArgumentException">Unknown kind (lists the registered ones) or an option the kind does not declare.</exception>
    public Dense(int units, string activation = "linear", bool useBias = true, string? name = null, LayerInit? init = null,
                 string? connection = null, IReadOnlyDictionary<string, object>? connectionOptions = null)
        : base(name, init)
    {
        if (units <= 0) throw new ArgumentOutOfRangeException(nameof(units), $"Dense: units must be positive. Received: {units}");
        _ = Activations.Get(activation);
        Units = units;
        Activation = activation;
        UseBias = useBias;
        if (connection is not null)
        {
            var kind = ConnectionRegistry.Describe(connection) ?? throw new ArgumentException(
                $"Dense: unknown connection kind '{connection}'. Registered connection kinds: {string.Join(", ", ConnectionRegistry.Names)}.", nameof(connection));
            ConnectionKindName = kind.Name;
        }
        var opts = new Dictionary<string, object>(StringComparer.OrdinalIgnoreCase);
        if (connectionOptions is not null)
        {
            var keys = ConnectionKindName is { } kn ? ConnectionRegistry.Describe(kn)!.OptionKeys : [];
            foreach (var (k, v) in connectionOptions)
            {
                if (!keys.Contains(k, StringComparer.OrdinalIgnoreCase))
                    throw new ArgumentException($"Dense: connection kind '{ConnectionKindName ?? "dense"}' has no option '{k}'. Its options: {(keys.Count == 0 ? "none" : string.Join(", ", keys))}.", nameof(connectionOptions));
                opts[k] = v;
            }
        }
        ConnectionOptions = opts;
    }

    /// <summary>The registered connection kind of the incoming edges (null: full matrices, the default).</summary>
    public string? ConnectionKindName { get; }

    /// <summary>The connection kind's options.</summary>
    public IReadOnlyDictionary<string, object> ConnectionOptions { get; }

    internal string? SpecPath { get; set; }

    private bool Custom => ConnectionKindName is not null && ConnectionKindName != "dense";

    /// <summary>Output units.</summary>
    public int Units { get; }

    /// <summary>Activation name.</summary>
    public string Activation { get; }

    /// <summary>Whether the layer has a bias.</summary>
    public bool UseBias { get; }

    /// <inheritdoc/>
    public override string Form => "dense";

    /// <inheritdoc/>
    public override IReadOnlyDictionary<string, object>? GetConfig()
    {
        var d = Config(this is ClassifierLayer ? "classifier" : "dense");
        d["size"] = Units;
        if (this is not ClassifierLayer)
        {
            d["activation"] = Activation;
            d["bias"] = UseBias;
        }
        if (ConnectionKindName is { } kind)
        {
            d["connection"] = kind;
            foreach (var (k, v) in ConnectionOptions) d[k.ToLowerInvariant()] = v;
        }
        return d;
    }

    /// <inheritdoc/>
    protected override (int Min, int Max) InputArity => (1, int.MaxValue);

    /// <summary>The weight of the first input W [units, in] (after build).</summary>
    public Tensor Weight => _first.Count > 0 && _first[0] is DenseConnection d ? d.Weight
        : throw new GraphException($"Dense layer '{Name}' has no weight matrix{(Custom ? $": its inputs use connection kind '{ConnectionKindName}' (see Connections)" : " yet: attach it and build the network first")}.");

    /// <summary>The bias [units] (after build; null without bias).</summary>
    public Tensor? Bias => Custom ? (UseBias ? _kindBias ?? throw new GraphException($"Dense layer '{Name}' has no bias yet: build the network first.") : null)
                                  : ((DenseConnection)_first[0]).Bias;

    private Tensor? _kindBias;

    Tensor ITiedPartner.TiedWeight()
    {
        if (_first.Count != 1) throw new GraphException($"Tied: partner '{Name}' must have exactly one input to share its weight.");
        return Weight;
    }

    /// <inheritdoc/>
    protected override Layer AttachCore(AttachContext ctx)
    {
        var node = ctx.Add(Custom ? KindNode(ctx.NodeName) : PlainNode([Units], Activation, CombineRule.Sum, ctx.NodeName));
        for (int i = 0; i < ctx.Inputs.Count; i++)
        {
            var src = ctx.Inputs[i];
            if (ctx.CallIndex > 0)
            {
                if (i >= _first.Count)
                    throw new GraphException($"Shared layer '{Name}' was first called with {_first.Count} input(s), now with {ctx.Inputs.Count}.");
                Own(ctx.Network, new SharedConnection(_first[i], src, node));
                continue;
            }
            if (Custom)
            {
                _first.Add(Own(ctx.Network, ConnectionRegistry.Create(ConnectionKindName!, src, node, $"{node.Name}:{src.Name}", ConnectionOptions,
                                                                      SpecPath ?? $"layer '{Name ?? node.Name}'")));
                continue;
            }
            string cname = ctx.Inputs.Count == 1 ? node.Name : $"{node.Name}:{src.Name}";
            _first.Add(Own(ctx.Network, new DenseConnection(src, node, 0, UseBias && i == 0, null, cname)));
        }
        return node;
    }

    /// <summary>The node of a dense layer whose inputs use a registered connection kind: a plain <see cref="Layer"/>,
    /// y = act(Σₖ cₖ + b), whose bias b [units] (<c>NAME.bias</c>, zeros) is the layer's, shared by every attachment
    /// (<see cref="Layer.BiasSource"/>). Once built, the node initialises the connections this builder made, then the
    /// bias (per <see cref="CatalogLayer.Init"/>, each parameter once).</summary>
    private Layer KindNode(string? name)
    {
        var node = new Layer([Units], Activation, CombineRule.Sum, UseBias, name) { AutoNameStem = GetType().Name.ToLowerInvariant() };
        if (UseBias) node.BiasSource = SharedBias;
        node.AfterBuild = rng =>
        {
            InitIncoming(node, rng);
            if (node.Bias is { } b) InitOnce(b, "bias", rng);
        };
        return node;
    }

    /// <summary>The bias every attachment shares: created (zeros, named <c>NAME.bias</c>) on first request, returned again
    /// while dtype and length fit.</summary>
    private Tensor SharedBias(DType dtype, int units)
    {
        if (_kindBias is { } b && b.DType == dtype && b.Length == units) return b;
        using (TensorScope.Suspend())
        {
            b = Tensor.Zeros([units], dtype);
            b.Name = $"{Name}.bias";
            b.RequireGrad();
        }
        return _kindBias = b;
    }

    /// <inheritdoc/>
    public override string ToString() => $"Dense({Name ?? "?"}, {Units}{(Activation == "linear" ? "" : ", " + Activation)}{(Custom ? ", via " + ConnectionKindName : "")})";
}
