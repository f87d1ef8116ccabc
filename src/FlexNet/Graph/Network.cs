using FlexNet.Connections;
using FlexNet.Tensors;
using FlexNet.Autodiff;

namespace FlexNet.Graph;

/// <summary>
/// A network as a graph: layers are nodes, connections are edges that own the weights. Any layer may feed any
/// other at any delay k ≥ 0; delay-0 edges must form a DAG. One step t computes, in topological order of the
/// delay-0 subgraph, y_L(t) = act_L(combine_L{ c(y_From(t − k_c)) for c into L } + b_L), where a read before step 0
/// sees zeros (or the source's learned initial state) and the connection still applies its whole transform.
/// <see cref="Forward(Tensor[], bool, Tensor?, int?)"/> unrolls T steps: T from temporal inputs [T, N, ...], or
/// <see cref="Steps"/> when every input is non-temporal [N, ...] (presented at every step).
/// </summary>
/// <example><code>
/// var net = new Network("Demo");
/// var x = new InputLayer(196, sequenceLength: 4, name: "L1");
/// var h = new Layer(300, "sigmoid", name: "L2");
/// var y = new Layer(10, "sigmoid", name: "L4");
/// net.Connect(x, h); net.Connect(h, y); net.ConnectDense(y, h, delay: 2);
/// net.AddOutput(y, OutputMode.LastStep);
/// net.Compile();
/// Tensor logits = net.Forward(xs)[0];
/// </code></example>
public sealed partial class Network
{
    private readonly List<Layer> _layers = new();
    private readonly List<Connection> _connections = new();
    private readonly List<(Layer Layer, OutputMode Mode)> _outputs = new();
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);
    // indexes over _connections, so that adding a connection costs O(1) and a 20,000-layer graph builds in linear time
    private readonly HashSet<Connection> _connectionSet = new(ReferenceEqualityComparer.Instance);
    private readonly HashSet<string> _connectionNames = new(StringComparer.Ordinal);
    private readonly HashSet<(Layer From, Layer To, int Delay)> _identityEdges = new();
    private readonly Dictionary<Layer, List<Connection>> _incoming = new(ReferenceEqualityComparer.Instance);
    private ExecutionPlan? _plan;
    private bool _built;
    private DType _dtype;
    private int _steps = 1;
    private bool _stepsSet;
    private int? _truncate;
    private RunState? _carried;

    /// <summary>Creates an empty network.</summary>
    /// <param name="name">Name (shown in summaries).</param>
    /// <param name="dtype">Parameter and activation element type (Float32 by default; Float64 for gradient checks).</param>
    /// <param name="seed">Seed of the parameter initialisation.</param>
    public Network(string name = "network", DType dtype = DType.Float32, ulong seed = 0)
    {
        if (!dtype.IsFloatingPoint()) throw new ArgumentException($"Network dtype must be Float32 or Float64. Received: {dtype}", nameof(dtype));
        Name = name;
        _dtype = dtype;
        Seed = seed;
    }

    /// <summary>The network's name.</summary>
    public string Name { get; }

    /// <summary>Element type of parameters and activations.</summary>
    public DType DType => _dtype;

    /// <summary>Seed of the parameter initialisation.</summary>
    public ulong Seed { get; }

    /// <summary>Layers in the order they were added.</summary>
    public IReadOnlyList<Layer> Layers => _layers;

    /// <summary>Connections in the order they were made.</summary>
    public IReadOnlyList<Connection> Connections => _connections;

    /// <summary>Input layers in the order they were added; <see cref="Forward(Tensor[])"/> takes one tensor per input in this order.</summary>
    // Stryker disable once Assignment: allocation only: the list is made again from the same layers
    public IReadOnlyList<InputLayer> Inputs => _inputs ??= _layers.OfType<InputLayer>().ToList().AsReadOnly();

    /// <summary><see cref="Inputs"/>, made once per set of layers (every Forward reads it).</summary>
    private IReadOnlyList<InputLayer>? _inputs;

    /// <summary>Output layers and modes, in the order of <see cref="Forward(Tensor[])"/>'s results.</summary>
    public IReadOnlyList<(Layer Layer, OutputMode Mode)> Outputs => _outputs;

    /// <summary>Number of steps when no input is temporal (default: the largest declared sequence length, else 1).</summary>
    public int Steps
    {
        get => _steps;
        set
        {
            if (value <= 0) throw new ArgumentException($"Steps must be positive. Received: {value}", nameof(value));
            _steps = value;
            _stepsSet = true;
        }
    }

    /// <summary>Whether <see cref="Steps"/> was set explicitly (model files record only an explicit value).</summary>
    internal bool StepsExplicit => _stepsSet;

    /// <summary>Truncated BPTT window k: the unrolled sequence is cut into windows of k steps and no gradient flows
    /// from one window into the previous (the recurrent state passes on, detached). Null (default) = full BPTT;
    /// k ≥ T equals full BPTT exactly. Inside a <see cref="TensorScope"/> (the trainer opens one per step), with
    /// last-step outputs only and no mask, each window's tensor buffers go back to the pool at the next cut, so the
    /// memory of a step is bounded by the window instead of growing with T.</summary>
    public int? TruncatedBptt
    {
        get => _truncate;
        set
        {
            if (value is <= 0) throw new ArgumentException($"TruncatedBptt must be positive. Received: {value}", nameof(value));
            _truncate = value;
        }
    }

    /// <summary>When true, the recurrent state (every source's last k outputs) is carried from one
    /// <see cref="Forward(Tensor[])"/> call to the next (detached), so feeding a long sequence in consecutive chunks
    /// computes what one call on the whole sequence computes. <see cref="ResetState"/> clears it.</summary>
    public bool Stateful { get; set; }

    /// <summary>When true, every layer's output is checked for NaN/∞ as it is computed and the first non-finite one
    /// throws <see cref="NonFiniteValueException"/> naming the layer, the time step and the count (diagnostics; the
    /// trainer turns it on to locate a non-finite loss).</summary>
    public bool CheckFinite { get; set; }

    /// <summary>Run plain vector layers whose inputs are dense or identity connections and whose activation is
    /// linear/relu/tanh/sigmoid through one fused kernel (GEMMs accumulating into one buffer, bias and activation in
    /// place, weight gradients added straight into the parameters' gradients). On by default; results equal the
    /// unfused ops up to floating-point summation order.</summary>
    public bool FuseDenseLayers
    {
        get => _fuse;
        set
        {
            _fuse = value;
            _plan = null;
        }
    }

    private bool _fuse = true;

    /// <summary>Compute loop invariants once per run instead of at every step: in a fused layer that runs at every step,
    /// the dense connections whose source is a non-temporal input (the same value at every step) are summed once,
    /// z₀ = Σ W x + b, and each step adds z₀ to its recurrent terms; backward accumulates z₀'s gradient over the steps
    /// and runs its GEMMs once. On by default; results equal the per-step computation up to summation order.</summary>
    internal bool HoistInvariants
    {
        get => _hoist;
        set
        {
            _hoist = value;
            _plan = null;
        }
    }

    private bool _hoist = true;

    /// <summary>Run a standard LSTM cell built from layers and connections (gates i, f, o sigmoid and g tanh fed by
    /// dense connections from a temporal input and h(t−1); c = f ⊙ c(t−1) + i ⊙ g; h = o ⊙ tanh(c)) as one
    /// whole-sequence LSTM op instead of nine layers per step, when the plan proves it is that computation (see
    /// ExecutionPlan.Cells.cs). On by default; results equal the per-layer plan up to summation order.</summary>
    internal bool FuseCells
    {
        get => _fuseCells;
        set
        {
            _fuseCells = value;
            _plan = null;
        }
    }

    private bool _fuseCells = true;

    /// <summary>When true, every <see cref="Forward(Tensor[], bool, Tensor?, int?)"/> keeps the outputs of the hidden
    /// layers (neither inputs nor outputs) in <see cref="Activations"/>, recorded for autodiff, for activity
    /// regularizers such as theanets' <c>hidden_l1</c> and the contractive penalty. The trainer turns it on when a
    /// regularizer needs it. Off by default (no cost).</summary>
    public bool RecordActivations { get; set; }

    /// <summary>The hidden layers' outputs of the latest forward pass with <see cref="RecordActivations"/> on, in
    /// execution order, named by layer: [N, ...shape] for a one-step run, [T', N, ...shape] over the T' steps at which
    /// the layer ran otherwise. Empty before such a pass.</summary>
    public IReadOnlyList<KeyValuePair<string, Tensor>> Activations => _activations;

    private IReadOnlyList<KeyValuePair<string, Tensor>> _activations = [];

    /// <summary>Forgets the carried state of a <see cref="Stateful"/> network (the next call starts from zeros).</summary>
    public void ResetState() => _carried = null;

    /// <summary>The compiled plan (null before <see cref="Compile"/> or after the graph changed).</summary>
    internal ExecutionPlan? Plan => _plan;

    // ------------------------------------------------------------------ building the graph

    /// <summary>Adds a layer (connecting a layer adds it implicitly). Names must be unique; a null name gets one.</summary>
    /// <typeparam name="TLayer">Layer type.</typeparam>
    /// <param name="layer">The layer.</param>
    /// <returns>The same layer.</returns>
    /// <exception cref="GraphException">The layer belongs to another network or its name is taken.</exception>
    public TLayer Add<TLayer>(TLayer layer) where TLayer : Layer
    {
        ArgumentNullException.ThrowIfNull(layer);
        if (ReferenceEquals(layer.Network, this)) return layer;
        if (layer.Network is not null)
            throw new GraphException($"Layer '{layer.Name}' already belongs to network '{layer.Network.Name}'.");
        if (layer.Name.Length == 0)
        {
            // Stryker disable once Conditional: an input layer's Kind is "Input" or "Input(T=…)", whose stem is "input" too
            string stem = layer is InputLayer ? "input" : layer.AutoNameStem ?? layer.Kind.Split('(')[0].ToLowerInvariant();
            int i = _layers.Count + 1;
            while (_names.Contains(stem + i)) i++;
            layer.Name = stem + i;
        }
        else if (_names.Contains(layer.Name))
            throw new GraphException($"Network '{Name}' already has a layer named '{layer.Name}'.");
        _names.Add(layer.Name);
        layer.Network = this;
        _layers.Add(layer);
        _inputs = null;
        if (layer is InputLayer { SequenceLength: int t }) _steps = Math.Max(_steps, t);
        Invalidate();
        return layer;
    }

    /// <summary>Adds a connection made by the caller (any <see cref="Connection"/> subclass, including user-defined ones).</summary>
    /// <typeparam name="TConnection">Connection type.</typeparam>
    /// <param name="connection">The connection; its layers are added if needed.</param>
    /// <returns>The same connection.</returns>
    public TConnection Connect<TConnection>(TConnection connection) where TConnection : Connection
    {
        ArgumentNullException.ThrowIfNull(connection);
        if (_connectionSet.Contains(connection)) return connection;
        Add(connection.From);
        Add(connection.To);
        if (connection.To is InputLayer)
            // Stryker disable once Statement,String: unreachable: the Connection constructor already refuses a connection into an input layer, and To cannot change
            throw new GraphException($"Connection from '{connection.From.Name}' into input layer '{connection.To.Name}': input layers take no connections.");
        if (connection.IsIdentity && _identityEdges.Contains((connection.From, connection.To, connection.Delay)))
        {
            var c = _incoming[connection.To].Find(c => c.IsIdentity && ReferenceEquals(c.From, connection.From) && c.Delay == connection.Delay)!;
            throw new GraphException(
                $"Network '{Name}': layer '{connection.To.Name}' already receives '{connection.From.Name}' (delay {c.Delay}) through identity connection " +
                $"'{c.Name}'; a second identity edge would add the same values twice. (A builder's Attach already made that edge: do not Connect it again.)");
        }
        string baseName = connection.Name.Length > 0 ? connection.Name : $"{connection.From.Name}->{connection.To.Name}";
        string name = baseName;
        for (int k = 2; _connectionNames.Contains(name); k++) name = $"{baseName}#{k}";
        connection.Name = name;
        _connections.Add(connection);
        _connectionSet.Add(connection);
        _connectionNames.Add(name);
        if (connection.IsIdentity) _identityEdges.Add((connection.From, connection.To, connection.Delay));
        if (!_incoming.TryGetValue(connection.To, out var into)) _incoming[connection.To] = into = new List<Connection>();
        into.Add(connection);
        Invalidate();
        return connection;
    }

    /// <summary>Marks <paramref name="layer"/> as an output (a layer may be listed twice with different modes).</summary>
    /// <param name="layer">The layer.</param>
    /// <param name="mode">Every step ([T, N, ...]) or the last step ([N, ...]).</param>
    /// <returns>This network.</returns>
    public Network AddOutput(Layer layer, OutputMode mode = OutputMode.AllSteps)
    {
        Add(layer);
        _outputs.Add((layer, mode));
        Invalidate();
        return this;
    }

    internal void Invalidate()
    {
        _plan = null;
        _built = false;
        _carried = null;
    }

    // ------------------------------------------------------------------ parameters

    /// <summary>Every parameter (connection weights and biases, layer biases, learned initial states), each once,
    /// in a stable order. Builds the network first if needed.</summary>
    public IEnumerable<Tensor> Parameters => NamedParameters.Select(p => p.Value);

    /// <summary>Every parameter with its name (<c>connection.weight</c>, <c>layer.bias</c>, ...).</summary>
    public IReadOnlyList<(string Name, Tensor Value)> NamedParameters
    {
        get
        {
            Build();
            var list = new List<(string, Tensor)>();
            var seen = new HashSet<Tensor>(ReferenceEqualityComparer.Instance);
            foreach (var c in _connections)
                foreach (var p in c.Parameters)
                    if (seen.Add(p)) list.Add((p.Name ?? c.Name, p));
            foreach (var l in _layers)
                foreach (var p in l.Parameters)
                    if (seen.Add(p)) list.Add((p.Name ?? l.Name, p));
            return list;
        }
    }

    /// <summary>Total number of parameter elements.</summary>
    public long ParameterCount => Parameters.Sum(p => (long)p.Length);

    /// <summary>Clears every parameter's gradient (sets it to null).</summary>
    public void ZeroGrad()
    {
        foreach (var p in Parameters) p.ZeroGrad();
    }

    /// <summary>The connections into <paramref name="layer"/>, in the order they were added.</summary>
    internal IReadOnlyList<Connection> IncomingOf(Layer layer) => _incoming.TryGetValue(layer, out var list) ? list : [];

    /// <summary>The layer named <paramref name="name"/>.</summary>
    /// <param name="name">Layer name.</param>
    /// <returns>The layer.</returns>
    /// <exception cref="KeyNotFoundException">No such layer.</exception>
    public Layer this[string name] => _layers.Find(l => l.Name == name)
                                      ?? throw new KeyNotFoundException($"Network '{Name}' has no layer '{name}'.");

    // ------------------------------------------------------------------ running

    /// <summary>Runs the network (inference semantics, recorded for autodiff when parameters require grad).</summary>
    /// <param name="inputs">One tensor per input layer (see <see cref="Inputs"/>): [N, ...shape], or [T, N, ...shape] for temporal inputs.</param>
    /// <returns>One tensor per output (see <see cref="Outputs"/>): [T, N, ...shape] (every step) or [N, ...shape] (last step).</returns>
    public Tensor[] Forward(params Tensor[] inputs) => Forward(inputs, training: false);

    /// <summary>Unrolls the network over T steps and returns the outputs.</summary>
    /// <param name="inputs">One tensor per input layer: [N, ...shape] (non-temporal, presented at every step) or [T, N, ...shape].</param>
    /// <param name="training">Training mode (for layers that differ, e.g. dropout).</param>
    /// <param name="mask">Optional [T, N] mask of 1 (valid) and 0 (padding) for variable-length sequences: at a masked step a
    /// sample's layers keep their previous state and its per-step outputs are zero; last-step outputs give each sample's
    /// last valid step.</param>
    /// <param name="steps">Number of steps for a network without temporal inputs (default <see cref="Steps"/>).</param>
    /// <returns>One tensor per output: [T, N, ...shape] or [N, ...shape].</returns>
    /// <exception cref="ShapeMismatchException">An input, the mask or a contribution has the wrong shape.</exception>
    public Tensor[] Forward(Tensor[] inputs, bool training, Tensor? mask = null, int? steps = null) =>
        Forward(inputs, training, mask, steps, reuse: null);

    /// <summary><see cref="Forward(Tensor[], bool, Tensor?, int?)"/> with the outputs written into
    /// <paramref name="reuse"/> when it has one entry per output (a trainer keeps it from step to step), else into a
    /// new array; returns the array used.</summary>
    internal Tensor[] ForwardInto(Tensor[] inputs, bool training, Tensor? mask, Tensor[]? reuse) =>
        Forward(inputs, training, mask, steps: null, reuse);

    private Tensor[] Forward(Tensor[] inputs, bool training, Tensor? mask, int? steps, Tensor[]? reuse)
    {
        var plan = CompilePlan();
        if (steps is null && !_stepsSet && plan.RecurrentWithoutTime)
            throw new GraphException(
                $"Network '{Name}' has recurrent connections ({plan.FirstDelayed}) but no temporal input and no number of steps: it would run " +
                "one step, before any delayed edge carries a value. Set Steps (or pass steps:), or give an input layer a sequenceLength and [T, N, ...] data.");
        var carried = Stateful ? _carried : null;
        List<Tensor>[]? record = null;
        if (RecordActivations)
        {
            record = new List<Tensor>[plan.Order.Count];
            for (int i = 0; i < record.Length; i++) record[i] = new List<Tensor>();
        }
        var result = plan.Run(inputs, training, mask, steps, _truncate, carried, Stateful, out var next, record: record, reuse: reuse);
        if (record is not null)
        {
            var acts = new List<KeyValuePair<string, Tensor>>();
            foreach (int i in plan.HiddenPositions())
            {
                var ys = record[i];
                // Stryker disable once Statement: unreachable: every layer runs at the last step, so every record holds at least one output
                if (ys.Count == 0) continue;
                acts.Add(new(plan.Order[i].Name, ys.Count == 1 ? ys[0] : Tensor.Stack(ys.ToArray(), 0)));
            }
            _activations = acts;
        }
        if (Stateful) _carried = next;
        return result;
    }

    /// <summary>Runs exactly one step with an explicit previous state (the functional form <c>(state, x) → (state', y)</c>):
    /// <paramref name="previous"/> gives the outputs of recurrent sources at t − 1 (missing ones are zero or their
    /// learned initial state). The returned state holds every layer's output at this step; gradients flow through both.
    /// Only delay-1 recurrence is meaningful here (deeper history is not part of the state).</summary>
    /// <param name="inputs">One [N, ...] tensor per input layer.</param>
    /// <param name="previous">Outputs of the previous step by layer.</param>
    /// <param name="training">Training mode.</param>
    /// <param name="current">Every layer's output at this step.</param>
    /// <returns>The outputs at this step ([N, ...shape]; every-step outputs get a leading axis of length 1).</returns>
    public Tensor[] Step(Tensor[] inputs, IReadOnlyDictionary<Layer, Tensor> previous, bool training, out Dictionary<Layer, Tensor> current)
    {
        var plan = CompilePlan();
        foreach (var i in Inputs)
            if (i.IsTemporal)
                throw new GraphException($"Network '{Name}': Step takes one step of non-temporal inputs; input '{i.Name}' is temporal.");
        int n = inputs.Length > 0 ? inputs[0].Shape[0] : throw new ArgumentException("Step needs the inputs.", nameof(inputs));
        var state = plan.NewState(n);
        foreach (var (layer, value) in previous)
        {
            int pos = plan.PositionOf(layer);
            if (pos < 0) throw new GraphException($"Network '{Name}': layer '{layer.Name}' in the state does not belong to this network.");
            if (plan.HistoryDepth(layer) > 0) state.Push(pos, value);
        }
        var result = plan.Run(inputs, training, null, 1, null, state, keepState: true, out var next, persist: false);
        current = new Dictionary<Layer, Tensor>(ReferenceEqualityComparer.Instance);
        for (int i = 0; i < plan.Order.Count; i++) current[plan.Order[i]] = next!.Last[i]!;
        return result;
    }
}
