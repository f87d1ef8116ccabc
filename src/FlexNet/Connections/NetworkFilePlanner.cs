// Over 400 lines on purpose: one shape rule per built-in kind, kept side by side so that each can be read against
// the same kind's Build in the graph engine; the loader's safety rests on the two agreeing.
using FlexNet.Graph;

namespace FlexNet.Connections;

/// <summary>
/// Predicts, from a <see cref="NetworkRecord"/> alone, every layer's shape and every parameter's name and shape,
/// without creating a tensor: the same inference as <see cref="Network.Build"/> for FlexNet's own kinds, in long
/// arithmetic with every size bounded. The loader compares this prediction with the file's tensors before it
/// allocates anything; the saver checks it against the built network's parameters.
/// </summary>
internal static class NetworkFilePlanner
{
    /// <summary>Largest per-sample element count of any layer or parameter the format accepts.</summary>
    internal const long MaxElements = int.MaxValue;

    /// <summary>The parameter short names a connection kind owns, in declaration order.</summary>
    internal static string[] ConnectionParameters(ConnectionRecord c) => c.Kind switch
    {
        "dense" or "conv2d" or "conv_transpose2d" or "conv1d" or "elementwise" => c.Bias ? ["weight", "bias"] : ["weight"],
        "tied" => c.Bias ? ["bias"] : [],
        _ => [],
    };

    /// <summary>
    /// State-dict names. A connection's parameters are named after its target layer: <c>{to}.{param}</c> when it is the
    /// only connection with parameters into that layer; otherwise <c>{to}.{from}.{param}</c>, and
    /// <c>{to}.{from}.{k}.{param}</c> (k = 0, 1, ... in connection order) when several such connections come from the
    /// same source. A layer's own parameters are <c>{layer}.layer_bias</c> and <c>{layer}.initial_state</c>.
    /// </summary>
    /// <returns>Per connection, the name prefix of its parameters (null for connections without parameters).</returns>
    internal static string?[] ConnectionPrefixes(NetworkRecord r, Func<int, bool> hasParameters)
    {
        var prefixes = new string?[r.Connections.Count];
        var byTarget = new Dictionary<string, List<int>>(StringComparer.Ordinal);
        for (int i = 0; i < r.Connections.Count; i++)
        {
            var c = r.Connections[i];
            if (!hasParameters(i)) continue;
            if (!byTarget.TryGetValue(c.To, out var list)) byTarget[c.To] = list = new List<int>();
            list.Add(i);
        }
        foreach (var (to, list) in byTarget)
        {
            if (list.Count == 1)
            {
                prefixes[list[0]] = to;
                continue;
            }
            var perSource = new Dictionary<string, int>(StringComparer.Ordinal);
            foreach (int i in list) perSource[r.Connections[i].From] = perSource.GetValueOrDefault(r.Connections[i].From) + 1;
            var seen = new Dictionary<string, int>(StringComparer.Ordinal);
            foreach (int i in list)
            {
                string from = r.Connections[i].From;
                if (perSource[from] == 1) prefixes[i] = $"{to}.{from}";
                else
                {
                    int k = seen.GetValueOrDefault(from);
                    seen[from] = k + 1;
                    prefixes[i] = $"{to}.{from}.{k}";
                }
            }
        }
        return prefixes;
    }

    /// <summary>Infers every shape and lists the state dict (connections in order, then layers in order).</summary>
    /// <param name="r">A record whose names and references were already checked (unique names, known layers).</param>
    /// <param name="bad">Makes the error to throw for a defect (the message names the layer or connection).</param>
    /// <returns>The state slots.</returns>
    internal static List<StateSlot> Plan(NetworkRecord r, Func<string, Exception> bad)
    {
        int n = r.Layers.Count;
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < n; i++) index[r.Layers[i].Name] = i;
        var order = TopologicalOrder(r, index, bad);
        var incoming = new List<int>[n];
        for (int i = 0; i < n; i++) incoming[i] = new List<int>();
        for (int i = 0; i < r.Connections.Count; i++) incoming[index[r.Connections[i].To]].Add(i);
        for (int i = 0; i < n; i++)
            if (r.Layers[i].Kind != "input" && incoming[i].Count == 0)
                throw bad($"layer '{r.Layers[i].Name}' has no incoming connections (only input layers may be sources without inputs).");

        var inShape = new int[]?[n];
        var outShape = new int[]?[n];
        var cSrc = new int[]?[r.Connections.Count];
        var cOut = new int[]?[r.Connections.Count];
        var cParams = new int[][]?[r.Connections.Count];
        var cNames = new string[]?[r.Connections.Count];
        var built = new bool[r.Connections.Count];
        var layerParams = new (string Name, int[] Shape)[]?[n];

        int[] BuildOnce(int ci, int[] src, int[]? target)
        {
            if (cSrc[ci] is { } s0 && Same(s0, src)) return cOut[ci]!;
            var (o, p, names) = Contribute(r, ci, src, target, index, cSrc, cOut, cParams, BuildOnce, bad);
            cSrc[ci] = (int[])src.Clone();
            cOut[ci] = o;
            cParams[ci] = p;
            cNames[ci] = names ?? ConnectionParameters(r.Connections[ci]);
            return o;
        }

        foreach (int li in order)
        {
            var l = r.Layers[li];
            if (l.Kind == "input")
            {
                inShape[li] = outShape[li] = l.Shape!;
                continue;
            }
            bool concat = l.Combine == CombineRule.Concat;
            int[]? target = ChangesShape(l) || concat ? null : l.Shape;
            foreach (int ci in incoming[li])
            {
                var from = outShape[index[r.Connections[ci].From]];
                if (from is null) continue;
                var shape = BuildOnce(ci, from, target);
                built[ci] = true;
                if (concat) continue;
                if (target is null) target = shape;
                else if (!Same(shape, target)) throw Mismatch(r.Connections[ci], shape, target, bad);
            }
            int[] combined;
            if (concat)
            {
                combined = incoming[li].TrueForAll(ci => built[ci])
                    ? ConcatShape(r, l, incoming[li], cOut, bad)
                    : l.Shape ?? throw bad($"concat layer '{l.Name}' has recurrent inputs from later layers; its shape must be declared.");
            }
            else combined = target ?? throw bad($"cannot infer the shape of layer '{l.Name}' (its inputs are all recurrent from later layers); its shape must be declared.");
            inShape[li] = combined;
            if (IsBuiltIn(l)) outShape[li] = LayerOutput(l, combined, bad);
            else (outShape[li], layerParams[li]) = Registered(l, combined, bad);
        }
        for (int ci = 0; ci < r.Connections.Count; ci++)
        {
            if (built[ci]) continue;
            var c = r.Connections[ci];
            int to = index[c.To];
            var target = r.Layers[to].Combine == CombineRule.Concat ? null : inShape[to];
            var shape = BuildOnce(ci, outShape[index[c.From]]!, target);
            if (target is not null && !Same(shape, target)) throw Mismatch(c, shape, target, bad);
        }
        for (int li = 0; li < n; li++)
        {
            var l = r.Layers[li];
            if (l.Combine != CombineRule.Concat) continue;
            var s = ConcatShape(r, l, incoming[li], cOut, bad);
            if (!Same(s, inShape[li]!) || (l.Shape is { } d && !Same(d, s)))
                throw bad($"concat layer '{l.Name}' is declared {Format(l.Shape ?? inShape[li]!)} but its inputs concatenate to {Format(s)}.");
        }

        var slots = new List<StateSlot>();
        var prefixes = ConnectionPrefixes(r, ci => cNames[ci]!.Length > 0);
        for (int ci = 0; ci < r.Connections.Count; ci++)
        {
            var names = cNames[ci]!;
            for (int k = 0; k < names.Length; k++)
                slots.Add(new StateSlot($"{prefixes[ci]}.{names[k]}", cParams[ci]![k], false, ci, names[k]));
        }
        for (int li = 0; li < n; li++)
        {
            var l = r.Layers[li];
            if (l.Bias) slots.Add(new StateSlot($"{l.Name}.layer_bias", [inShape[li]![0]], true, li, "layer_bias"));
            if (l.LearnInitialState) slots.Add(new StateSlot($"{l.Name}.initial_state", outShape[li]!, true, li, "initial_state"));
            foreach (var (pname, pshape) in layerParams[li] ?? [])
                slots.Add(new StateSlot($"{l.Name}.{pname}", pshape, true, li, pname));
        }
        var taken = new HashSet<string>(StringComparer.Ordinal);
        foreach (var s in slots)
            if (!taken.Add(s.Name))
                throw bad($"two parameters would both be named '{s.Name}' in the state dict (a layer name containing '.' collides with the '{{to}}.{{from}}' rule); rename one of the layers.");
        return slots;
    }

    internal static bool ChangesShape(LayerRecord l) => l.Kind is "flatten" or "reshape" or "pool" || (!IsBuiltIn(l) && l.ChangesShape);

    internal static bool IsBuiltIn(LayerRecord l) => l.Kind is "layer" or "input" or "flatten" or "reshape" or "pool";

    /// <summary>A registered layer kind's output shape and own parameters, from its <c>shapes</c> function.</summary>
    private static (int[] Out, (string, int[])[] Params) Registered(LayerRecord l, int[] input, Func<string, Exception> bad)
    {
        string who = $"layer '{l.Name}' ({l.Kind}) with input {Format(input)}";
        var entry = LayerKinds.Find(l.Kind) ?? throw bad($"{who}: unknown kind '{l.Kind}'.");
        LayerShapes s;
        try
        {
            s = entry.Shapes((int[])input.Clone(), l.Options!);
        }
        catch (Exception e) when (e is ArgumentException or FlexNetException or FormatException or OverflowException or KeyNotFoundException)
        {
            throw bad($"{who}: the registered kind '{l.Kind}' rejects its options: {e.Message}");
        }
        if (s.Output is null || s.Parameters is null || s.Output.Length is 0 or > 8) throw bad($"{who}: the registered kind '{l.Kind}' gives no valid output shape.");
        Elements(s.Output, who, bad);
        var ps = new (string, int[])[s.Parameters.Count];
        for (int i = 0; i < ps.Length; i++)
        {
            var (name, shape) = s.Parameters[i];
            if (string.IsNullOrEmpty(name) || name is "layer_bias" or "initial_state" || shape is null || shape.Length is 0 or > 8)
                throw bad($"{who}: the registered kind '{l.Kind}' gives an invalid parameter {i}.");
            Elements(shape, who, bad);
            ps[i] = (name, (int[])shape.Clone());
        }
        return ((int[])s.Output.Clone(), ps);
    }

    private static List<int> TopologicalOrder(NetworkRecord r, Dictionary<string, int> index, Func<string, Exception> bad)
    {
        int n = r.Layers.Count;
        var indeg = new int[n];
        var succ = new List<int>[n];
        for (int i = 0; i < n; i++) succ[i] = new List<int>();
        foreach (var c in r.Connections)
        {
            if (c.Delay != 0) continue;
            int a = index[c.From], b = index[c.To];
            succ[a].Add(b);
            indeg[b]++;
        }
        var order = new List<int>(n);
        var ready = new SortedSet<int>();
        for (int i = 0; i < n; i++) if (indeg[i] == 0) ready.Add(i);
        while (ready.Count > 0)
        {
            int i = ready.Min;
            ready.Remove(i);
            order.Add(i);
            foreach (int j in succ[i]) if (--indeg[j] == 0) ready.Add(j);
        }
        if (order.Count == n) return order;
        var onCycle = new List<string>();
        for (int i = 0; i < n && onCycle.Count < 8; i++) if (indeg[i] > 0) onCycle.Add($"'{r.Layers[i].Name}'");
        throw bad($"the delay-0 connections form a cycle through {string.Join(", ", onCycle)}; connections within one step must form a DAG.");
    }

    private static int[] LayerOutput(LayerRecord l, int[] s, Func<string, Exception> bad)
    {
        switch (l.Kind)
        {
            case "flatten":
                return [checked((int)Elements(s, $"layer '{l.Name}'", bad))];
            case "reshape":
                if (Elements(s, l.Name, bad) != Elements(l.Shape!, l.Name, bad))
                    throw bad($"reshape layer '{l.Name}': input {Format(s)} and target {Format(l.Shape!)} have different element counts.");
                return l.Shape!;
            case "pool":
                if (l.Global)
                {
                    if (s.Length < 2) throw bad($"pool layer '{l.Name}' needs [C, ...spatial]; got {Format(s)}.");
                    return [s[0]];
                }
                if (s.Length != l.Dimensions + 1) throw bad($"pool layer '{l.Name}' needs a {l.Dimensions}-D map; got {Format(s)}.");
                var o = (int[])s.Clone();
                for (int d = 1; d < s.Length; d++)
                {
                    if ((long)s[d] + 2L * l.Padding < l.Size) throw bad($"pool layer '{l.Name}': window {l.Size} does not fit {Format(s)} with padding {l.Padding}.");
                    o[d] = (int)(((long)s[d] + 2L * l.Padding - l.Size) / l.Stride + 1);
                }
                return o;
            default:
                return s;
        }
    }

    private static (int[] Out, int[][] Params, string[]? Names) Contribute(
        NetworkRecord r, int ci, int[] src, int[]? target, Dictionary<string, int> index,
        int[]?[] cSrc, int[]?[] cOut, int[][]?[] cParams, Func<int, int[], int[]?, int[]> buildOnce, Func<string, Exception> bad)
    {
        var c = r.Connections[ci];
        var to = r.Layers[index[c.To]];
        bool concat = to.Combine == CombineRule.Concat;
        var t = concat ? null : target;
        string who = $"connection '{c.Name}' ({c.Kind}) from '{c.From}' {Format(src)} to '{c.To}'";
        Exception Bad(string what) => bad($"{who}: {what}");
        long inF = Elements(src, who, bad);
        switch (c.Kind)
        {
            case "dense":
            {
                int[] shape;
                if (c.Units is int u)
                {
                    shape = [u];
                    if (t is not null)
                    {
                        if (Elements(t, who, bad) != u) throw Bad($"units {u} differ from the target shape {Format(t)}.");
                        shape = t;
                    }
                }
                else shape = t ?? throw Bad("the target's shape is unknown and no units are given.");
                long outF = Elements(shape, who, bad);
                Check(outF * inF, who, bad);
                return (shape, c.Bias ? [[(int)outF, (int)inF], [(int)outF]] : [[(int)outF, (int)inF]], null);
            }
            case "conv2d":
            {
                if (src.Length != 3) throw Bad($"conv2d needs a [C, H, W] source; got {Format(src)}.");
                long h = ConvOut(src[1], c, true), w = ConvOut(src[2], c, false);
                if (h <= 0 || w <= 0) throw Bad($"the {c.Kernel}x{c.Kernel} kernel does not fit the {src[1]}x{src[2]} input.");
                int cout = c.OutChannels ?? (t is { Length: 3 } ? t[0] : throw Bad("give the target a [C, H, W] shape or out_channels."));
                int[] shape = [cout, Int(h, who, bad), Int(w, who, bad)];
                Elements(shape, who, bad);
                if (t is not null && !Same(t, shape)) throw Bad($"produces {Format(shape)}, the target has {Format(t)}.");
                Check((long)cout * src[0] * c.Kernel * c.Kernel, who, bad);
                int[] wShape = [cout, src[0], c.Kernel, c.Kernel];
                return (shape, c.Bias ? [wShape, [cout]] : [wShape], null);
            }
            case "conv_transpose2d":
            {
                if (src.Length != 3) throw Bad($"conv_transpose2d needs a [C, H, W] source; got {Format(src)}.");
                if (t is not null && t.Length != 3) throw Bad($"conv_transpose2d needs a [C, H, W] target; got {Format(t)}.");
                int cout = c.OutChannels ?? t?[0] ?? throw Bad("give the target a [C, H, W] shape or out_channels.");
                long bh = ((long)src[1] - 1) * c.Stride - 2L * c.PadT + (long)c.Dilation * (c.Kernel - 1) + 1;
                long bw = ((long)src[2] - 1) * c.Stride - 2L * c.PadT + (long)c.Dilation * (c.Kernel - 1) + 1;
                long oph, opw;
                if (c.OutputPadding is int op) { oph = op; opw = op; }
                else if (t is not null)
                {
                    oph = t[1] - bh;
                    opw = t[2] - bw;
                    int lim = ConvTranspose2dConnection.OutputPaddingBound(c.Stride, c.Dilation);
                    if (oph < 0 || oph >= lim || opw < 0 || opw >= lim)
                        throw Bad($"{c.Kernel}x{c.Kernel} stride {c.Stride} padding {c.PadT} dilation {c.Dilation} gives [{cout}, {bh}+p, {bw}+q] with output paddings 0 <= p, q < {lim}, which cannot reach the target {Format(t)}.");
                }
                else { oph = 0; opw = 0; }
                long hh = bh + oph, ww = bw + opw;
                if (hh <= 0 || ww <= 0) throw Bad($"produces an empty map [{cout}, {hh}, {ww}].");
                int[] shape = [cout, Int(hh, who, bad), Int(ww, who, bad)];
                Elements(shape, who, bad);
                if (t is not null && !Same(t, shape)) throw Bad($"produces {Format(shape)}, the target has {Format(t)}.");
                Check((long)cout * src[0] * c.Kernel * c.Kernel, who, bad);
                int[] wShape = [src[0], cout, c.Kernel, c.Kernel];
                return (shape, c.Bias ? [wShape, [cout]] : [wShape], null);
            }
            case "conv1d":
            {
                if (src.Length != 2) throw Bad($"conv1d needs a [C, L] source; got {Format(src)}.");
                long l = c.Pad.IsSame ? ((long)src[1] + c.Stride - 1) / c.Stride
                    : ((long)src[1] + c.Pad.Left + c.Pad.Right - (long)c.Dilation * (c.Kernel - 1) - 1) / c.Stride + 1;
                if (l <= 0) throw Bad($"the kernel {c.Kernel} does not fit the length {src[1]}.");
                int cout = c.OutChannels!.Value;
                int[] shape = [cout, Int(l, who, bad)];
                Elements(shape, who, bad);
                Check((long)cout * src[0] * c.Kernel, who, bad);
                int[] wShape = [cout, src[0], c.Kernel];
                return (shape, c.Bias ? [wShape, [cout]] : [wShape], null);
            }
            case "identity" or "complement":
                if (t is not null && !Same(t, src)) throw Bad($"needs equal shapes; source {Format(src)} vs target {Format(t)}.");
                return (src, [], null);
            case "elementwise":
                if (t is not null && !Same(t, src)) throw Bad($"needs equal shapes; source {Format(src)} vs target {Format(t)}.");
                return (src, c.Bias ? [src, src] : [src], null);
            case "tied":
            {
                int pi = r.Connections.FindIndex(x => x.Name == c.Partner);
                if (pi < 0 || r.Connections[pi].Kind != "dense") throw Bad($"partner '{c.Partner}' is not a dense connection of the network.");
                if (cParams[pi] is not { } pp) throw Bad($"partner '{c.Partner}' is not built before this connection; it must come before the tied layer.");
                long outP = pp[0][0], inP = pp[0][1];
                if (inF != outP) throw Bad($"the source has {inF} features but partner '{c.Partner}' produces {outP}.");
                int[] shape = t ?? [(int)inP];
                if (Elements(shape, who, bad) != inP) throw Bad($"partner '{c.Partner}' maps back to {inP} features, the target has {Format(shape)}.");
                return (shape, c.Bias ? [[(int)inP]] : [], null);
            }
            case "shared":
            {
                int pi = r.Connections.FindIndex(x => x.Name == c.Partner);
                if (pi < 0 || pi == ci) throw Bad($"partner '{c.Partner}' is not another connection of the network.");
                if (cSrc[pi] is null)
                {
                    var p = r.Connections[pi];
                    var pTo = r.Layers[index[p.To]];
                    int[]? pTarget = ChangesShape(pTo) || pTo.Combine == CombineRule.Concat ? null : pTo.Shape;
                    buildOnce(pi, src, pTarget);
                }
                if (!Same(cSrc[pi]!, src)) throw Bad($"the shared partner '{c.Partner}' was built for inputs of shape {Format(cSrc[pi]!)}.");
                return (cOut[pi]!, [], null);
            }
            default:
                return Custom(c, src, t, who, bad);
        }
    }

    private static (int[] Out, int[][] Params, string[]? Names) Custom(ConnectionRecord c, int[] src, int[]? t, string who, Func<string, Exception> bad)
    {
        var entry = ConnectionKinds.Find(c.Kind) ?? throw bad($"{who}: unknown kind '{c.Kind}'.");
        ConnectionShapes s;
        try
        {
            s = entry.Shapes((int[])src.Clone(), t is null ? null : (int[])t.Clone(), c.Options!);
        }
        catch (Exception e) when (e is ArgumentException or FlexNetException or FormatException or OverflowException or KeyNotFoundException)
        {
            throw bad($"{who}: the registered kind '{c.Kind}' rejects its options: {e.Message}");
        }
        if (s.Output is null || s.Parameters is null || s.Output.Length is 0 or > 8) throw bad($"{who}: the registered kind '{c.Kind}' gives no valid output shape.");
        Elements(s.Output, who, bad);
        var shapes = new int[s.Parameters.Count][];
        var names = new string[s.Parameters.Count];
        for (int i = 0; i < shapes.Length; i++)
        {
            var (name, shape) = s.Parameters[i];
            if (string.IsNullOrEmpty(name) || shape is null || shape.Length is 0 or > 8) throw bad($"{who}: the registered kind '{c.Kind}' gives an invalid parameter {i}.");
            Elements(shape, who, bad);
            (names[i], shapes[i]) = (name, (int[])shape.Clone());
        }
        return ((int[])s.Output.Clone(), shapes, names);
    }

    private static long ConvOut(int n, ConnectionRecord c, bool rows)
    {
        if (c.Pad.IsSame) return ((long)n + c.Stride - 1) / c.Stride;
        long pad = rows ? (long)c.Pad.Top + c.Pad.Bottom : (long)c.Pad.Left + c.Pad.Right;
        return ((long)n + pad - (long)c.Dilation * (c.Kernel - 1) - 1) / c.Stride + 1;
    }

    private static int[] ConcatShape(NetworkRecord r, LayerRecord l, List<int> inputs, int[]?[] cOut, Func<string, Exception> bad)
    {
        int[]? s = null;
        foreach (int ci in inputs)
        {
            var o = cOut[ci]!;
            if (s is null) { s = (int[])o.Clone(); continue; }
            bool ok = o.Length == s.Length;
            for (int i = 1; ok && i < o.Length; i++) ok = o[i] == s[i];
            if (!ok) throw bad($"concat layer '{l.Name}' cannot join {Format(s)} and {Format(o)} (from connection '{r.Connections[ci].Name}').");
            s[0] = Int((long)s[0] + o[0], l.Name, bad);
        }
        Elements(s!, l.Name, bad);
        return s!;
    }

    private static Exception Mismatch(ConnectionRecord c, int[] shape, int[] target, Func<string, Exception> bad) =>
        bad($"connection '{c.Name}' ({c.Kind}) from '{c.From}' to '{c.To}' produces {Format(shape)}, the target's input is {Format(target)}.");

    internal static long Elements(int[] shape, string who, Func<string, Exception> bad)
    {
        long p = 1;
        foreach (int d in shape)
        {
            p *= d;
            if (d <= 0 || p > MaxElements) throw bad($"{who}: shape {Format(shape)} has a non-positive size or more than {MaxElements} elements.");
        }
        return p;
    }

    private static void Check(long elements, string who, Func<string, Exception> bad)
    {
        if (elements <= 0 || elements > MaxElements) throw bad($"{who}: a parameter would have {elements} elements (at most {MaxElements}).");
    }

    private static int Int(long v, string who, Func<string, Exception> bad) =>
        v is > 0 and <= int.MaxValue ? (int)v : throw bad($"{who}: size {v} is out of range.");

    internal static bool Same(int[] a, int[] b) => a.AsSpan().SequenceEqual(b);

    internal static string Format(int[] s) => "[" + string.Join(", ", s) + "]";
}
