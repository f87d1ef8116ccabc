using FlexNet.Connections;
using FlexNet.Tensors;
using FlexNet.Autodiff;

namespace FlexNet.Graph;

/// <content>Building a network: shape inference, parameter creation and the compiled plan.</content>
public sealed partial class Network
{
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
        // Every unfinished layer still waits for an unfinished source (its in-degree never reached 0), so a walk
        // backward among them never stops: it repeats a layer, and the layers between the two visits form a cycle.
        // (A walk forward can end at a layer downstream of the cycle that feeds no other.)
        var pred = new int[succ.Length];
        Array.Fill(pred, -1);
        for (int i = 0; i < succ.Length; i++)
            if (!done[i])
                foreach (int j in succ[i])
                    if (!done[j] && pred[j] < 0) pred[j] = i;
        var seenAt = new Dictionary<int, int>();
        var path = new List<int>();
        int cur = Array.IndexOf(done, false);
        while (!seenAt.ContainsKey(cur))
        {
            seenAt[cur] = path.Count;
            path.Add(cur);
            cur = pred[cur];
        }
        var back = path.GetRange(seenAt[cur], path.Count - seenAt[cur]);
        back.Reverse(); // in the direction of the connections
        int first = back.IndexOf(back.Min()); // spelled from the layer added first
        var cycle = back.GetRange(first, back.Count - first);
        cycle.AddRange(back.GetRange(0, first));
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
            // Stryker disable once Statement: speed only: a connection built above has its source's current shape and dtype, so BuildOnce returns its shape at once, and that shape is its target's InputShape (checked above, or the shape it was inferred from)
            if (built.Contains(c)) continue;
            var target = c.To.Combine == CombineRule.Concat ? null : c.To.InputShape;
            var shape = c.BuildOnce(c.From.OutputShape!, target, _dtype, rng);
            if (target is not null && !ShapeUtil.SameShape(shape, target)) throw ContributionMismatch(c, shape, target);
        }
        foreach (var layer in _layers)
        {
            if (layer.Combine == CombineRule.Concat)
            {
                // Only a declared shape can disagree: without one, InputShape is the concatenation of these same
                // connections, all built in the loop over the order (and not rebuilt since), so the message names it.
                var s = ConcatShape(layer, incoming[layer]);
                if (!ShapeUtil.SameShape(s, layer.InputShape!) || (layer.DeclaredShape is { } d && !ShapeUtil.SameShape(d, s)))
                    throw new ShapeMismatchException($"Network '{Name}': concat layer '{layer.Name}' is declared {Connection.FormatShape(layer.DeclaredShape)} but its inputs concatenate to {ShapeUtil.Format(s)}.");
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
}
