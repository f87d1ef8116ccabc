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
public sealed class Network
{
    private readonly List<Layer> _layers = new();
    private readonly List<Connection> _connections = new();
    private readonly List<(Layer Layer, OutputMode Mode)> _outputs = new();
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);
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
    public IReadOnlyList<InputLayer> Inputs => _layers.OfType<InputLayer>().ToList();

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
    /// k ≥ T equals full BPTT exactly.</summary>
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
            string stem = layer is InputLayer ? "input" : layer.Kind.Split('(')[0].ToLowerInvariant();
            int i = _layers.Count + 1;
            while (_names.Contains(stem + i)) i++;
            layer.Name = stem + i;
        }
        else if (_names.Contains(layer.Name))
            throw new GraphException($"Network '{Name}' already has a layer named '{layer.Name}'.");
        _names.Add(layer.Name);
        layer.Network = this;
        _layers.Add(layer);
        if (layer is InputLayer { SequenceLength: int t } && t > _steps) _steps = t;
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
        if (_connections.Contains(connection)) return connection;
        Add(connection.From);
        Add(connection.To);
        if (connection.To is InputLayer)
            throw new GraphException($"Connection from '{connection.From.Name}' into input layer '{connection.To.Name}': input layers take no connections.");
        if (connection.IsIdentity)
            foreach (var c in _connections)
                if (c.IsIdentity && ReferenceEquals(c.From, connection.From) && ReferenceEquals(c.To, connection.To) && c.Delay == connection.Delay)
                    throw new GraphException(
                        $"Network '{Name}': layer '{connection.To.Name}' already receives '{connection.From.Name}' (delay {c.Delay}) through identity connection " +
                        $"'{c.Name}'; a second identity edge would add the same values twice. (A builder's Attach already made that edge: do not Connect it again.)");
        string baseName = connection.Name.Length > 0 ? connection.Name : $"{connection.From.Name}->{connection.To.Name}";
        string name = baseName;
        for (int k = 2; _connections.Exists(c => c.Name == name); k++) name = $"{baseName}#{k}";
        connection.Name = name;
        _connections.Add(connection);
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

    // ------------------------------------------------------------------ build, compile

    /// <summary>Topological order of the delay-0 subgraph (layers in insertion order where free).</summary>
    /// <returns>Every layer, each after the sources of its delay-0 inputs.</returns>
    /// <exception cref="GraphException">A delay-0 cycle; the message names every layer on it.</exception>
    public IReadOnlyList<Layer> TopologicalOrder()
    {
        int n = _layers.Count;
        var index = new Dictionary<Layer, int>(ReferenceEqualityComparer.Instance);
        for (int i = 0; i < n; i++) index[_layers[i]] = i;
        var indeg = new int[n];
        var succ = new List<int>[n];
        for (int i = 0; i < n; i++) succ[i] = new List<int>();
        foreach (var c in _connections)
        {
            if (c.Delay != 0) continue;
            int a = index[c.From], b = index[c.To];
            succ[a].Add(b);
            indeg[b]++;
        }
        var order = new List<Layer>(n);
        var done = new bool[n];
        // stable Kahn: repeatedly take the first ready layer in insertion order
        var ready = new SortedSet<int>();
        for (int i = 0; i < n; i++) if (indeg[i] == 0) ready.Add(i);
        while (ready.Count > 0)
        {
            int i = ready.Min;
            ready.Remove(i);
            done[i] = true;
            order.Add(_layers[i]);
            foreach (int j in succ[i]) if (--indeg[j] == 0) ready.Add(j);
        }
        if (order.Count == n) return order;
        throw new GraphException(DescribeCycle(succ, done));
    }

    private string DescribeCycle(List<int>[] succ, bool[] done)
    {
        // walk forward among the unfinished layers until a layer repeats: that closes a cycle
        int start = Array.IndexOf(done, false);
        var seenAt = new Dictionary<int, int>();
        var path = new List<int>();
        int cur = start;
        while (!seenAt.ContainsKey(cur))
        {
            seenAt[cur] = path.Count;
            path.Add(cur);
            int next = -1;
            foreach (int j in succ[cur]) if (!done[j]) { next = j; break; }
            cur = next;
        }
        var cycle = path.GetRange(seenAt[cur], path.Count - seenAt[cur]);
        var names = cycle.ConvertAll(i => $"'{_layers[i].Name}'");
        names.Add($"'{_layers[cycle[0]].Name}'");
        return $"Network '{Name}': the delay-0 connections form a cycle {string.Join(" -> ", names)}. " +
               "Connections within one step must form a DAG; give one connection on the cycle a delay >= 1.";
    }

    /// <summary>Infers every layer's and connection's shape from the inputs and creates the parameters
    /// (existing parameters of unchanged shape are kept).</summary>
    /// <exception cref="GraphException">A cycle, an unconnected layer, a shape that cannot be inferred.</exception>
    /// <exception cref="ShapeMismatchException">A connection does not fit its layers (the message names the
    /// connection, both layers and both shapes).</exception>
    public void Build()
    {
        if (_built) return;
        if (_layers.Count == 0) throw new GraphException($"Network '{Name}' has no layers.");
        var order = TopologicalOrder();
        var incoming = new Dictionary<Layer, List<Connection>>(ReferenceEqualityComparer.Instance);
        foreach (var l in _layers) incoming[l] = new List<Connection>();
        foreach (var c in _connections) incoming[c.To].Add(c);
        foreach (var l in _layers)
        {
            if (l is not InputLayer && incoming[l].Count == 0)
                throw new GraphException($"Network '{Name}': layer '{l.Name}' has no incoming connections (only input layers may be sources without inputs).");
            l.InputShape = null;
            l.OutputShape = null;
        }
        var rng = new RandomGenerator(Seed);
        var built = new HashSet<Connection>(ReferenceEqualityComparer.Instance);
        foreach (var layer in order)
        {
            if (layer is InputLayer)
            {
                layer.InputShape = (int[])layer.DeclaredShape!.Clone();
                layer.OutputShape = layer.InputShape;
                continue;
            }
            bool concat = layer.Combine == CombineRule.Concat;
            int[]? target = layer.ChangesShape || concat ? null : layer.DeclaredShape;
            foreach (var c in incoming[layer])
            {
                if (c.From.OutputShape is null) continue; // a recurrent input from a later layer: built below
                var shape = c.BuildOnce(c.From.OutputShape, target, _dtype, rng);
                built.Add(c);
                if (concat) continue;
                if (target is null) target = shape;
                else if (!ShapeUtil.SameShape(shape, target)) throw ContributionMismatch(c, shape, target);
            }
            int[] combined;
            if (concat)
            {
                combined = incoming[layer].TrueForAll(built.Contains)
                    ? ConcatShape(layer, incoming[layer])
                    : layer.DeclaredShape ?? throw new GraphException(
                        $"Network '{Name}': concat layer '{layer.Name}' has recurrent inputs from later layers; declare its shape.");
            }
            else
            {
                combined = target ?? throw new GraphException(
                    $"Network '{Name}': cannot infer the shape of layer '{layer.Name}' (its inputs are all recurrent from later layers); declare its shape.");
            }
            layer.InputShape = combined;
            layer.OutputShape = layer.InferOutputShape(combined);
        }
        foreach (var c in _connections)
        {
            if (built.Contains(c)) continue;
            var target = c.To.Combine == CombineRule.Concat ? null : c.To.InputShape;
            var shape = c.BuildOnce(c.From.OutputShape!, target, _dtype, rng);
            if (target is not null && !ShapeUtil.SameShape(shape, target)) throw ContributionMismatch(c, shape, target);
        }
        foreach (var layer in _layers)
        {
            if (layer.Combine == CombineRule.Concat)
            {
                var s = ConcatShape(layer, incoming[layer]);
                if (!ShapeUtil.SameShape(s, layer.InputShape!) || (layer.DeclaredShape is { } d && !ShapeUtil.SameShape(d, s)))
                    throw new ShapeMismatchException($"Network '{Name}': concat layer '{layer.Name}' is declared {Connection.FormatShape(layer.DeclaredShape ?? layer.InputShape)} but its inputs concatenate to {ShapeUtil.Format(s)}.");
            }
            layer.BuildParameters(_dtype, rng);
        }
        _built = true;
    }

    private static ShapeMismatchException ContributionMismatch(Connection c, int[] shape, int[] target) =>
        new($"Connection '{c.Name}' ({c.Kind}, delay {c.Delay}) from layer '{c.From.Name}' {Connection.FormatShape(c.From.OutputShape)} " +
            $"to layer '{c.To.Name}' {ShapeUtil.Format(target)}: it produces {ShapeUtil.Format(shape)}, the target's input is {ShapeUtil.Format(target)}.");

    private int[] ConcatShape(Layer layer, List<Connection> inputs)
    {
        int[]? s = null;
        foreach (var c in inputs)
        {
            var o = c.OutputShape!;
            if (s is null) { s = (int[])o.Clone(); continue; }
            bool ok = o.Length == s.Length;
            for (int i = 1; ok && i < o.Length; i++) ok = o[i] == s[i];
            if (!ok)
                throw new ShapeMismatchException($"Network '{Name}': concat layer '{layer.Name}' cannot join {ShapeUtil.Format(s)} and {ShapeUtil.Format(o)} " +
                                                 $"(from connection '{c.Name}'): all but the first (feature/channel) dimension must agree.");
            s[0] += o[0];
        }
        return s!;
    }

    /// <summary>Builds the network (shapes, parameters) and its execution plan: the topological order of the delay-0
    /// subgraph, the ring-buffer depth of every recurrent source (its largest outgoing delay) and the per-layer
    /// input lists. Forward calls compile on demand; call it explicitly to get errors early.
    /// <see cref="DescribePlan"/> shows the result.</summary>
    /// <exception cref="GraphException">A delay-0 cycle, a layer without inputs, or no layers.</exception>
    /// <exception cref="ShapeMismatchException">A connection does not fit its layers.</exception>
    public void Compile() => CompilePlan();

    /// <summary>The execution order within one step, each layer's inputs with their delays and the ring-buffer depth of
    /// every recurrent source, one line per layer (compiles the network first).</summary>
    /// <returns>Multi-line text.</returns>
    public string DescribePlan() => CompilePlan().ToString();

    internal ExecutionPlan CompilePlan()
    {
        Build();
        if (_plan is not null) return _plan;
        if (_outputs.Count == 0)
        {
            // default output: the last layer added that is not an input
            var last = _layers.LastOrDefault(l => l is not InputLayer)
                       ?? throw new GraphException($"Network '{Name}' has no layers besides inputs.");
            _outputs.Add((last, OutputMode.AllSteps));
        }
        _plan = new ExecutionPlan(this, TopologicalOrder(), _connections, _outputs);
        return _plan;
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
    public Tensor[] Forward(Tensor[] inputs, bool training, Tensor? mask = null, int? steps = null)
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
        var result = plan.Run(inputs, training, mask, steps, _truncate, carried, Stateful, out var next, record: record);
        if (record is not null)
        {
            var acts = new List<KeyValuePair<string, Tensor>>();
            foreach (int i in plan.HiddenPositions())
            {
                var ys = record[i];
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

    // ------------------------------------------------------------------ seeing the graph

    /// <summary>A table of the layers (kind, shape, activation, combine rule, parameters), the connections (kind,
    /// shapes, delay, parameters) and the total parameter count.</summary>
    /// <returns>Multi-line text.</returns>
    public string Summary()
    {
        Build();
        var sb = new System.Text.StringBuilder();
        sb.AppendLine($"Network '{Name}' ({_dtype}, {_steps} step{(_steps == 1 ? "" : "s")}{(_truncate is int k ? $", truncated BPTT {k}" : "")}{(Stateful ? ", stateful" : "")})");
        sb.AppendLine($"{"Layer",-16} {"Kind",-18} {"Shape",-16} {"Activation",-11} {"Combine",-8} {"Params",10}");
        foreach (var l in _layers)
            sb.AppendLine($"{l.Name,-16} {l.Kind,-18} {ShapeUtil.Format(l.OutputShape!),-16} {l.Activation,-11} {l.Combine,-8} {l.Parameters.Sum(p => (long)p.Length),10}");
        sb.AppendLine($"{"Connection",-24} {"Kind",-20} {"From -> To shape",-26} {"Delay",5} {"Params",10}");
        foreach (var c in _connections)
            sb.AppendLine($"{c.Name,-24} {c.Kind,-20} {Connection.FormatShape(c.SourceShape) + " -> " + Connection.FormatShape(c.OutputShape),-26} {c.Delay,5} {c.Parameters.Sum(p => (long)p.Length),10}");
        if (_outputs.Count > 0)
            sb.AppendLine("Outputs: " + string.Join(", ", _outputs.Select(o => $"{o.Layer.Name} ({(o.Mode == OutputMode.AllSteps ? "every step" : "last step")})")));
        sb.AppendLine($"Total parameters: {ParameterCount}");
        return sb.ToString();
    }

    /// <summary>The graph in Graphviz DOT: layers as boxes with kind and shape, connections labelled with their kind;
    /// recurrent connections (delay ≥ 1) dashed, labelled with their delay and not constraining the layout.</summary>
    /// <returns>DOT text (render with <c>dot -Tsvg</c>).</returns>
    public string ToDot()
    {
        Build();
        static string Q(string s) => "\"" + s.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"";
        var sb = new System.Text.StringBuilder();
        sb.AppendLine($"digraph {Q(Name)} {{");
        sb.AppendLine("  rankdir=TB;");
        sb.AppendLine("  node [shape=box, fontname=\"Helvetica\"];");
        foreach (var l in _layers)
        {
            string label = $"{l.Name}\\n{l.Kind} {ShapeUtil.Format(l.OutputShape!)}" +
                           (l.Activation == "linear" ? "" : $"\\n{l.Activation}") + (l.Combine == CombineRule.Sum ? "" : $" ({l.Combine})");
            sb.AppendLine($"  {Q(l.Name)} [label=\"{label.Replace("\"", "\\\"")}\"{(l is InputLayer ? ", shape=ellipse" : "")}];");
        }
        foreach (var c in _connections)
        {
            string attrs = c.Delay == 0
                ? $"label={Q(c.Kind)}"
                : $"label={Q($"{c.Kind} d={c.Delay}")}, style=dashed, color=\"#c0392b\", constraint=false";
            sb.AppendLine($"  {Q(c.From.Name)} -> {Q(c.To.Name)} [{attrs}];");
        }
        sb.AppendLine("}");
        return sb.ToString();
    }

    /// <summary>e.g. <c>Network 'Demo': 6 layers, 7 connections</c>.</summary>
    /// <returns>A one-line description.</returns>
    public override string ToString() => $"Network '{Name}': {_layers.Count} layers, {_connections.Count} connections";
}
