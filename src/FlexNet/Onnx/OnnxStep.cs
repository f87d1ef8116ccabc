using FlexNet.Graph;
using FlexNet.Layers;

namespace FlexNet.Onnx;

/// <summary>Where one step's values come from and what the emitted values are called.</summary>
internal sealed class StepBindings
{
    /// <summary>Each input layer's value at this step ([N, ...shape]).</summary>
    public required Dictionary<Layer, string> Inputs { get; init; }

    /// <summary>Each delayed source's history buffer [K, N, ...shape], newest first (row j = y(t − 1 − j)).</summary>
    public required Dictionary<Layer, string> Buffers { get; init; }

    /// <summary>Each recurrent cell's state before this step ([N, H] each: h, or h and c).</summary>
    public required Dictionary<Layer, string[]> Cells { get; init; }

    /// <summary>Claims the name of a layer's output at this step.</summary>
    public required Func<Layer, string> Value { get; init; }

    /// <summary>Claims the name of a delayed source's next buffer.</summary>
    public required Func<Layer, string> NextBuffer { get; init; }

    /// <summary>Claims the name of a cell's next state part (index 0 = h, 1 = c).</summary>
    public required Func<Layer, int, string> NextCell { get; init; }

    /// <summary>A stem for intermediate values of a layer at this step (e.g. <c>h1@3</c>).</summary>
    public required Func<string, string> Stem { get; init; }
}

/// <summary>What one emitted step produced.</summary>
internal sealed record StepResult(Dictionary<Layer, string> Values, Dictionary<Layer, string> NextBuffers, Dictionary<Layer, string[]> NextCells);

/// <summary>
/// Emits one step t of a network as ONNX nodes: in topological order of the delay-0 edges, each layer's incoming
/// contributions (a delay-k edge reads row k − 1 of its source's buffer with Gather), their combination, the layer's own
/// transform, and afterwards every delayed source's next buffer = concat(y(t), rows 0…K − 2) and every recurrent cell's
/// next state. The three forms (step, sequence, unrolled) call it once, inside a Loop body, or T times.
/// </summary>
internal sealed partial class OnnxStep
{
    private readonly Network _net;
    private readonly OnnxModelScope _scope;
    private readonly List<Layer> _order;
    private OnnxGraph _g = null!;
    private StepBindings _b = null!;

    /// <summary>Checks the network (typed errors for what cannot be exported) and prepares its step.</summary>
    /// <param name="net">The built network.</param>
    /// <param name="scope">The model's names and weights.</param>
    /// <param name="learnedInitialState">Whether the form starts its buffers itself (sequence, unrolled), so a learned
    /// initial state can be written; the step form's host starts from zeros.</param>
    internal OnnxStep(Network net, OnnxModelScope scope, bool learnedInitialState)
    {
        _net = net;
        _scope = scope;
        Check(learnedInitialState);
        foreach (var c in net.Connections)
            if (c.Delay > 0) Depth[c.From] = Math.Max(Depth.GetValueOrDefault(c.From), c.Delay);
        foreach (var layer in net.Layers)
            if (layer is RecurrentCellLayer { IsWholeSequence: false } r) CellSizes[layer] = CellParts(r);
        _order = Order();
    }

    /// <summary>K per delayed source: the largest delay leaving it.</summary>
    internal Dictionary<Layer, int> Depth { get; } = [];

    /// <summary>Per recurrent node, the widths of its cell state parts (h, or h and c).</summary>
    internal Dictionary<Layer, int[]> CellSizes { get; } = [];

    /// <summary>Per-sample output shape of a layer.</summary>
    internal static int[] Shape(Layer l) => l.OutputShape!;

    /// <summary>[lead..., N, ...shape] with N symbolic (−1).</summary>
    internal static int[] Dims(Layer l, params int[] lead)
    {
        var s = Shape(l);
        var d = new int[lead.Length + 1 + s.Length];
        lead.CopyTo(d, 0);
        d[lead.Length] = -1;
        s.CopyTo(d, lead.Length + 1);
        return d;
    }

    internal StepResult Emit(OnnxGraph g, StepBindings b)
    {
        _g = g;
        _b = b;
        var values = new Dictionary<Layer, string>();
        var cells = new Dictionary<Layer, string[]>();
        foreach (var (layer, name) in b.Inputs) values[layer] = name;
        foreach (var layer in _order)
            if (layer is not InputLayer) values[layer] = EmitLayer(layer, values, cells);
        var buffers = new Dictionary<Layer, string>();
        foreach (var layer in _net.Layers)
            if (Depth.TryGetValue(layer, out int k)) buffers[layer] = NextBuffer(layer, k, values[layer]);
        return new StepResult(values, buffers, cells);
    }

    private List<Layer> Order()
    {
        var indegree = new Dictionary<Layer, int>();
        foreach (var l in _net.Layers) indegree[l] = 0;
        foreach (var c in _net.Connections) if (c.Delay == 0) indegree[c.To]++;
        var ready = new Queue<Layer>(_net.Layers.Where(l => indegree[l] == 0));
        var order = new List<Layer>();
        while (ready.Count > 0)
        {
            var l = ready.Dequeue();
            order.Add(l);
            foreach (var c in _net.Connections)
                if (c.Delay == 0 && c.From == l && --indegree[c.To] == 0) ready.Enqueue(c.To);
        }
        // Stryker disable once all: unreachable: Network.Build refuses a cycle of delay-0 connections before the export runs
        if (order.Count != _net.Layers.Count)
            throw new OnnxExportException($"ONNX export of network '{_net.Name}': the delay-0 connections form a cycle.");
        return order;
    }

    private string Node(string op, IReadOnlyList<string> inputs, string stem, params ProtoWriter[] attributes) =>
        _g.Node(op, inputs, _b.Stem(stem), attributes);

    private string Axes(string stem, params long[] axes) => _scope.Int64(stem, [axes.Length], axes);

    private string EmitLayer(Layer layer, Dictionary<Layer, string> values, Dictionary<Layer, string[]> cells)
    {
        var parts = new List<string>();
        foreach (var c in _net.Connections)
        {
            if (c.To != layer) continue;
            string src = c.Delay == 0 ? values[c.From] : Delayed(c);
            parts.Add(Contribution(c, src));
        }
        string z = parts.Count == 1 ? parts[0] : layer.Combine switch
        {
            // Stryker disable once String: names only: this stem names an intermediate value, which OnnxModelScope.Fresh keeps unique and nothing looks up; the op and attribute names here fail every model ONNX Runtime runs
            CombineRule.Sum => Node("Sum", parts, layer.Name + ".combined"),
            // Stryker disable once String: names only: this stem names an intermediate value, which OnnxModelScope.Fresh keeps unique and nothing looks up; the op and attribute names here fail every model ONNX Runtime runs
            CombineRule.Product => Chain("Mul", parts, layer.Name + ".combined"),
            // Stryker disable once String: names only: this stem names an intermediate value, which OnnxModelScope.Fresh keeps unique and nothing looks up; the op and attribute names here fail every model ONNX Runtime runs
            _ => Node("Concat", parts, layer.Name + ".combined", OnnxGraph.Int("axis", 1)),
        };
        return Transform(layer, z, cells);
    }

    private string Chain(string op, List<string> parts, string stem)
    {
        string acc = parts[0];
        for (int i = 1; i < parts.Count; i++) acc = Node(op, [acc, parts[i]], stem);
        return acc;
    }

    /// <summary>y_From(t − k): row k − 1 of the source's buffer.</summary>
    private string Delayed(Connection c) =>
        Node("Gather", [_b.Buffers[c.From], _scope.Int64($"{c.From.Name}.row{c.Delay - 1}", [], [c.Delay - 1])], $"{c.From.Name}.t-{c.Delay}",
            OnnxGraph.Int("axis", 0));

    private string NextBuffer(Layer layer, int k, string y)
    {
        string name = _b.NextBuffer(layer);
        var axes0 = Axes(layer.Name + ".axes0", 0);
        if (k == 1) _g.NodeTo("Unsqueeze", [y, axes0], [name]);
        else
        {
            // Stryker disable once String: names only: this stem names an intermediate value, which OnnxModelScope.Fresh keeps unique and nothing looks up; the op and attribute names here fail every model ONNX Runtime runs
            string now = Node("Unsqueeze", [y, axes0], layer.Name + ".newest");
            // Stryker disable once String: names only: this stem names an intermediate value, which OnnxModelScope.Fresh keeps unique and nothing looks up; the op and attribute names here fail every model ONNX Runtime runs
            string kept = Node("Slice", [_b.Buffers[layer], _scope.Int64(layer.Name + ".keep_start", [1], [0]),
                _scope.Int64(layer.Name + ".keep_end", [1], [k - 1]), axes0], layer.Name + ".kept");
            _g.NodeTo("Concat", [now, kept], [name], OnnxGraph.Int("axis", 0));
        }
        return name;
    }

    /// <summary>Writes the final node of a layer into its claimed output name.</summary>
    private string Final(Layer layer, string op, IReadOnlyList<string> inputs, params ProtoWriter[] attributes)
    {
        string name = _b.Value(layer);
        _g.NodeTo(op, inputs, [name], attributes);
        return name;
    }
}
