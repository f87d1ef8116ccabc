using System.Buffers.Binary;
using FlexNet.Tensors;

namespace FlexNet.Onnx;

/// <summary>The names and weights of one ONNX model: every value name is unique in the whole model (outer graph and
/// loop bodies alike), and every weight is one initializer of the outer graph, written once however many steps read it.</summary>
internal sealed class OnnxModelScope
{
    internal const int FloatType = 1, Int64Type = 7, BoolType = 9;

    private readonly HashSet<string> _names = new(StringComparer.Ordinal);
    private readonly Dictionary<(Tensor, string), string> _weights = [];
    private int _counter;

    internal List<ProtoWriter> Initializers { get; } = [];

    /// <summary>Claims <paramref name="name"/> exactly; false when it is taken.</summary>
    internal bool Reserve(string name) => _names.Add(name);

    /// <summary>A new unique name: <paramref name="stem"/>, else <c>stem_2</c>, <c>stem_3</c>, ...</summary>
    internal string Fresh(string stem)
    {
        string name = stem;
        while (!_names.Add(name)) name = $"{stem}_{++_counter}";
        return name;
    }

    /// <summary>The initializer holding <paramref name="t"/> (float32, shape <paramref name="dims"/> or its own).</summary>
    internal string Weight(string stem, Tensor t, int[]? dims = null)
    {
        // Stryker disable once String: equivalent: the key only tells a tensor's own shape from the dims asked for, which no joined dims list equals
        string key = dims is null ? "" : string.Join(",", dims);
        if (_weights.TryGetValue((t, key), out var known)) return known;
        string name = Float(stem, t.ToFloatArray(), dims ?? t.ShapeArray);
        _weights[(t, key)] = name;
        return name;
    }

    private readonly Dictionary<float, string> _scalars = [];

    /// <summary>A float32 scalar initializer, one per value.</summary>
    internal string Scalar(float value)
    {
        if (!_scalars.TryGetValue(value, out var name)) _scalars[value] = name = Float("const", [value], []);
        return name;
    }

    /// <summary>A float32 initializer of the given values.</summary>
    internal string Float(string stem, float[] values, int[] dims)
    {
        string name = Fresh(stem);
        var raw = new byte[values.Length * 4];
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(raw.AsSpan(i * 4), values[i]);
        var w = new ProtoWriter();
        foreach (int d in dims) w.Int64(1, d);
        Initializers.Add(w.Int32(2, FloatType).String(8, name).Bytes(9, raw));
        return name;
    }

    private readonly Dictionary<string, string> _int64s = new(StringComparer.Ordinal);

    /// <summary>An int64 initializer (shape <paramref name="dims"/>; [] for a scalar), written once per stem and value
    /// however many steps ask for it.</summary>
    internal string Int64(string stem, long[] dims, long[] values)
    {
        string key = $"{stem}|{string.Join(",", dims)}|{string.Join(",", values)}";
        if (_int64s.TryGetValue(key, out var known)) return known;
        string name = Fresh(stem);
        var raw = new byte[values.Length * 8];
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteInt64LittleEndian(raw.AsSpan(i * 8), values[i]);
        var w = new ProtoWriter();
        foreach (long d in dims) w.Int64(1, d);
        Initializers.Add(w.Int32(2, Int64Type).String(8, name).Bytes(9, raw));
        _int64s[key] = name;
        return name;
    }
}

/// <summary>One ONNX graph (the model's graph or a loop body) being written: nodes, inputs, outputs.</summary>
internal sealed class OnnxGraph(OnnxModelScope scope)
{
    private readonly List<ProtoWriter> _nodes = [];
    private readonly List<ProtoWriter> _inputs = [];
    private readonly List<ProtoWriter> _outputs = [];

    internal OnnxModelScope Scope => scope;

    /// <summary>Adds node <paramref name="op"/> with a new output named from <paramref name="stem"/>; returns that name.</summary>
    internal string Node(string op, IReadOnlyList<string> inputs, string stem, params ProtoWriter[] attributes)
    {
        string output = scope.Fresh(stem);
        NodeTo(op, inputs, [output], attributes);
        return output;
    }

    /// <summary>Adds node <paramref name="op"/> writing exactly <paramref name="outputs"/> (names already claimed).</summary>
    internal void NodeTo(string op, IReadOnlyList<string> inputs, IReadOnlyList<string> outputs, params ProtoWriter[] attributes)
    {
        var w = new ProtoWriter();
        foreach (var i in inputs) w.String(1, i);
        foreach (var o in outputs) w.String(2, o);
        w.String(3, scope.Fresh((outputs[0].Length > 0 ? outputs[0] : op) + "/" + op)).String(4, op);
        foreach (var a in attributes) w.Message(5, a);
        _nodes.Add(w);
    }

    internal void Input(ProtoWriter valueInfo) => _inputs.Add(valueInfo);

    internal void Output(ProtoWriter valueInfo) => _outputs.Add(valueInfo);

    /// <summary>The GraphProto.</summary>
    internal ProtoWriter Build(string name, string? doc, bool withInitializers)
    {
        var graph = new ProtoWriter();
        foreach (var n in _nodes) graph.Message(1, n);
        graph.String(2, name);
        if (withInitializers) foreach (var i in scope.Initializers) graph.Message(5, i);
        if (doc is not null) graph.String(10, doc);
        foreach (var i in _inputs) graph.Message(11, i);
        foreach (var o in _outputs) graph.Message(12, o);
        return graph;
    }

    // ------------------------------------------------------------------ attributes and value infos

    internal static ProtoWriter Int(string name, long value) => new ProtoWriter().String(1, name).Int64(3, value).Int32(20, 2);

    internal static ProtoWriter Float(string name, float value) => new ProtoWriter().String(1, name).Float(2, value).Int32(20, 1);

    internal static ProtoWriter Ints(string name, params long[] values)
    {
        var w = new ProtoWriter().String(1, name);
        foreach (long v in values) w.Int64(8, v);
        return w.Int32(20, 7);
    }

    internal static ProtoWriter Strings(string name, params string[] values)
    {
        var w = new ProtoWriter().String(1, name);
        foreach (var v in values) w.String(9, v);
        return w.Int32(20, 8);
    }

    internal static ProtoWriter Str(string name, string value) => new ProtoWriter().String(1, name).String(4, value).Int32(20, 3);

    internal static ProtoWriter Graph(string name, ProtoWriter graph) => new ProtoWriter().String(1, name).Message(6, graph).Int32(20, 5);

    /// <summary>A tensor's ValueInfoProto. A dimension −1 is the symbolic batch <c>N</c>, −2 the symbolic time <c>T</c>;
    /// null dims leave the shape unknown.</summary>
    internal static ProtoWriter ValueInfo(string name, int[]? dims, int elemType = OnnxModelScope.FloatType)
    {
        var tensor = new ProtoWriter().Int32(1, elemType);
        if (dims is not null)
        {
            var shape = new ProtoWriter();
            foreach (int d in dims)
                shape.Message(1, d switch
                {
                    -1 => new ProtoWriter().String(2, "N"),
                    -2 => new ProtoWriter().String(2, "T"),
                    _ => new ProtoWriter().Int64(1, d),
                });
            tensor.Message(2, shape);
        }
        return new ProtoWriter().String(1, name).Message(2, new ProtoWriter().Message(1, tensor));
    }

    /// <summary>The ModelProto around <paramref name="graph"/>.</summary>
    internal static byte[] Model(ProtoWriter graph, int opset)
    {
        int ir = opset >= 21 ? 10 : opset >= 19 ? 9 : opset >= 15 ? 8 : 7;
        return new ProtoWriter()
            .Int64(1, ir)
            .String(2, "FlexNet")
            // Stryker disable once String,NullCoalescing: unreachable: the assembly always has a version
            .String(3, typeof(OnnxExport).Assembly.GetName().Version?.ToString() ?? "0")
            .Message(7, graph)
            .Message(8, new ProtoWriter().String(1, "").Int64(2, opset))
            .ToArray();
    }
}
