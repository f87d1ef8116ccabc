using System.Buffers.Binary;
using FlexNet.Connections;
using FlexNet.Graph;
using FlexNet.IO;
using FlexNet.Tensors;

namespace FlexNet.Onnx;

/// <summary>ONNX export of a network built with <see cref="Network.Connect{TConnection}"/> and its verbs.</summary>
/// <remarks>Supported (step form): <see cref="InputLayer"/> and plain <see cref="Layer"/>s with vector outputs,
/// any <see cref="CombineRule"/>, a layer bias, the activations linear, relu, tanh, sigmoid and softmax; dense
/// (Gemm, transB = 1: c = x Wᵀ + b), identity and elementwise (c = x ⊙ w [+ b]) connections at any delay k ≥ 1 or 0;
/// float32 networks. A delayed source S with largest outgoing delay K gets the state input <c>S.state</c> [K, N, units]
/// (row j = y_S(t − 1 − j)); a delay-k edge reads row k − 1 (Gather); the state output <c>S.state_next</c> is
/// concat(y_S(t), rows 0…K − 2). Inputs are named after the input layers ([N, features] at this step), outputs after
/// the output layers ([N, units] at this step, whatever their output mode); N is the symbolic dimension <c>N</c>.
/// Anything else is an <see cref="OnnxExportException"/> naming the layer or connection.</remarks>
public static class OnnxExport
{
    private const int FloatType = 1, Int64Type = 7;

    /// <summary>Writes the network as an ONNX model to <paramref name="path"/> (atomically: temporary file, fsync, rename).</summary>
    /// <param name="network">A network of supported layers and connections (built here if needed).</param>
    /// <param name="path">The .onnx file to write.</param>
    /// <param name="options">Mode and opset (default: step form, opset 17).</param>
    /// <exception cref="OnnxExportException">An unsupported layer, connection, activation, data type or option.</exception>
    public static void ExportOnnx(this Network network, string path, OnnxExportOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        var bytes = ToOnnxBytes(network, options);
        AtomicFile.Write(path, s => s.Write(bytes));
    }

    /// <summary>The ONNX model (serialised ModelProto) of the network; see <see cref="ExportOnnx"/>.</summary>
    /// <param name="network">A network of supported layers and connections (built here if needed).</param>
    /// <param name="options">Mode and opset (default: step form, opset 17).</param>
    /// <returns>The bytes of the .onnx file.</returns>
    /// <exception cref="OnnxExportException">An unsupported layer, connection, activation, data type or option.</exception>
    public static byte[] ToOnnxBytes(this Network network, OnnxExportOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(network);
        options ??= new OnnxExportOptions();
        if (options.Mode != OnnxExportMode.Step)
            throw new OnnxExportException($"ONNX export of network '{network.Name}': mode {options.Mode} is not supported; only Step is.");
        if (options.Opset < OnnxExportOptions.MinOpset || options.Opset > OnnxExportOptions.MaxOpset)
            throw new OnnxExportException($"ONNX export of network '{network.Name}': opset {options.Opset} is outside the supported range {OnnxExportOptions.MinOpset}..{OnnxExportOptions.MaxOpset}.");
        network.Build();
        if (network.DType != DType.Float32)
            throw new OnnxExportException($"ONNX export of network '{network.Name}': dtype {network.DType} is not supported; only float32 networks are exported.");
        return new StepGraph(network).Model(options.Opset);
    }

    private sealed class StepGraph
    {
        private readonly Network _net;
        private readonly List<ProtoWriter> _nodes = [];
        private readonly List<ProtoWriter> _initializers = [];
        private readonly List<ProtoWriter> _inputs = [];
        private readonly List<ProtoWriter> _outputs = [];
        private readonly HashSet<string> _names = new(StringComparer.Ordinal);
        private readonly Dictionary<Layer, string> _value = [];
        private readonly Dictionary<Layer, int> _depth = [];
        private int _counter;

        public StepGraph(Network net)
        {
            _net = net;
            Check();
            foreach (var c in net.Connections)
                if (c.Delay > 0) _depth[c.From] = Math.Max(_depth.GetValueOrDefault(c.From), c.Delay);
            foreach (var layer in net.Layers)
                _names.Add(layer.Name);
            foreach (var layer in net.Layers)
            {
                if (layer is InputLayer) { _inputs.Add(ValueInfo(layer.Name, [-1, Units(layer)])); _value[layer] = layer.Name; }
                if (_depth.TryGetValue(layer, out int k))
                    _inputs.Add(ValueInfo(StateIn(layer), [k, -1, Units(layer)]));
            }
            foreach (var layer in Order())
                if (layer is not InputLayer) Emit(layer);
            foreach (var (layer, _) in net.Outputs)
                _outputs.Add(ValueInfo(_value[layer], [-1, Units(layer)]));
            foreach (var layer in net.Layers)
                if (_depth.TryGetValue(layer, out int k)) EmitStateNext(layer, k);
        }

        private static string StateIn(Layer l) => l.Name + ".state";

        private static string StateOut(Layer l) => l.Name + ".state_next";

        private static int Units(Layer l) => l.OutputShape![0];

        private void Check()
        {
            string net = $"ONNX export of network '{_net.Name}'";
            foreach (var layer in _net.Layers)
            {
                var type = layer.GetType();
                if (type != typeof(Layer) && type != typeof(InputLayer))
                    throw new OnnxExportException($"{net}: layer '{layer.Name}' of kind {layer.Kind} ({type.Name}) is not supported by the step export; only Layer and InputLayer are (no conv, pooling, reshape, catalog or custom layers yet).");
                if (layer.OutputShape is not { Length: 1 })
                    throw new OnnxExportException($"{net}: layer '{layer.Name}' has output shape {Connection.FormatShape(layer.OutputShape)}; the step export supports vector layers only.");
                if (layer.LearnInitialState)
                    throw new OnnxExportException($"{net}: layer '{layer.Name}' learns its initial state; the step export's state buffers start from zeros, so it is not supported.");
                if (layer is not InputLayer && ActivationOp(layer.Activation) is null)
                    throw new OnnxExportException($"{net}: layer '{layer.Name}' has activation '{layer.Activation}'; the step export supports linear, relu, tanh, sigmoid and softmax.");
            }
            foreach (var (layer, _) in _net.Outputs)
                if (layer is InputLayer)
                    throw new OnnxExportException($"{net}: output '{layer.Name}' is an input layer; an ONNX graph output cannot have its input's name, so it is not exported.");
            foreach (var c in _net.Connections)
                if (c is not (DenseConnection or IdentityConnection or ElementwiseConnection))
                    throw new OnnxExportException($"{net}: connection '{c.Name}' ({c.From.Name} -> {c.To.Name}) of kind {c.Kind} is not supported by the step export; only dense, identity and elementwise are.");
        }

        private static string? ActivationOp(string name) => name.ToLowerInvariant() switch
        {
            "linear" or "identity" => "Identity",
            "relu" => "Relu",
            "tanh" => "Tanh",
            "sigmoid" or "logistic" => "Sigmoid",
            "softmax" => "Softmax",
            _ => null,
        };

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
            if (order.Count != _net.Layers.Count)
                throw new OnnxExportException($"ONNX export of network '{_net.Name}': the delay-0 connections form a cycle.");
            return order;
        }

        private string Fresh(string stem)
        {
            string name = stem;
            while (!_names.Add(name)) name = $"{stem}_{++_counter}";
            return name;
        }

        private void Emit(Layer layer)
        {
            var parts = new List<string>();
            foreach (var c in _net.Connections)
            {
                if (c.To != layer) continue;
                string src = c.Delay == 0 ? _value[c.From] : Gather(c);
                parts.Add(c switch
                {
                    DenseConnection d => Node("Gemm", d.Bias is null ? [src, Init(c.Name + ".weight", d.Weight)] : [src, Init(c.Name + ".weight", d.Weight), Init(c.Name + ".bias", d.Bias)],
                        c.Name, w => w.Message(5, IntAttribute("transB", 1))),
                    ElementwiseConnection e => e.Bias is null
                        ? Node("Mul", [src, Init(c.Name + ".weight", e.Weight)], c.Name)
                        : Node("Add", [Node("Mul", [src, Init(c.Name + ".weight", e.Weight)], c.Name + ".scaled"), Init(c.Name + ".bias", e.Bias)], c.Name),
                    _ => src, // identity
                });
            }
            string z = parts.Count == 1 ? parts[0] : layer.Combine switch
            {
                CombineRule.Sum => Node("Sum", parts, layer.Name + ".combined"),
                CombineRule.Product => Chain("Mul", parts, layer.Name + ".combined"),
                _ => Node("Concat", parts, layer.Name + ".combined", w => w.Message(5, IntAttribute("axis", 1))),
            };
            if (layer.Bias is not null) z = Node("Add", [z, Init(layer.Name + ".layer_bias", layer.Bias)], layer.Name + ".biased");
            string op = ActivationOp(layer.Activation)!;
            _names.Remove(layer.Name);
            _value[layer] = op == "Softmax"
                ? Node(op, [z], layer.Name, w => w.Message(5, IntAttribute("axis", 1)))
                : Node(op, [z], layer.Name);
        }

        private string Chain(string op, List<string> parts, string stem)
        {
            string acc = parts[0];
            for (int i = 1; i < parts.Count; i++) acc = Node(op, [acc, parts[i]], i == parts.Count - 1 ? stem : stem + "." + i);
            return acc;
        }

        private string Gather(Connection c) =>
            Node("Gather", [StateIn(c.From), Int64Init($"{c.Name}.delay_index", [], [c.Delay - 1])], $"{c.From.Name}.t-{c.Delay}",
                w => w.Message(5, IntAttribute("axis", 0)));

        private void EmitStateNext(Layer layer, int k)
        {
            string name = StateOut(layer);
            _names.Add(name);
            var axes0 = Int64Init(layer.Name + ".axes0", [1], [0]);
            if (k == 1) NodeTo("Unsqueeze", [_value[layer], axes0], name, name, null);
            else
            {
                string now = Node("Unsqueeze", [_value[layer], axes0], layer.Name + ".newest");
                string kept = Node("Slice", [StateIn(layer), Int64Init(layer.Name + ".keep_start", [1], [0]), Int64Init(layer.Name + ".keep_end", [1], [k - 1]), axes0],
                    layer.Name + ".kept");
                NodeTo("Concat", [now, kept], name, name, w => w.Message(5, IntAttribute("axis", 0)));
            }
            _outputs.Add(ValueInfo(name, [k, -1, Units(layer)]));
        }

        private string Node(string op, IReadOnlyList<string> inputs, string stem, Action<ProtoWriter>? attributes = null)
        {
            string output = Fresh(stem);
            NodeTo(op, inputs, output, output, attributes);
            return output;
        }

        private void NodeTo(string op, IReadOnlyList<string> inputs, string output, string name, Action<ProtoWriter>? attributes)
        {
            var w = new ProtoWriter();
            foreach (var i in inputs) w.String(1, i);
            w.String(2, output).String(3, name + "/" + op).String(4, op);
            attributes?.Invoke(w);
            _nodes.Add(w);
        }

        private static ProtoWriter IntAttribute(string name, long value) => new ProtoWriter().String(1, name).Int64(3, value).Int32(20, 2);

        private string Init(string stem, Tensor t)
        {
            string name = Fresh(stem);
            var values = t.ToFloatArray();
            var raw = new byte[values.Length * 4];
            for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(raw.AsSpan(i * 4), values[i]);
            var w = new ProtoWriter();
            foreach (int d in t.Shape) w.Int64(1, d);
            _initializers.Add(w.Int32(2, FloatType).String(8, name).Bytes(9, raw));
            return name;
        }

        private string Int64Init(string stem, long[] dims, long[] values)
        {
            string name = Fresh(stem);
            var raw = new byte[values.Length * 8];
            for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteInt64LittleEndian(raw.AsSpan(i * 8), values[i]);
            var w = new ProtoWriter();
            foreach (long d in dims) w.Int64(1, d);
            _initializers.Add(w.Int32(2, Int64Type).String(8, name).Bytes(9, raw));
            return name;
        }

        /// <summary>A float tensor's ValueInfoProto; a dimension of −1 is the symbolic batch dimension N.</summary>
        private static ProtoWriter ValueInfo(string name, int[] dims)
        {
            var shape = new ProtoWriter();
            foreach (int d in dims)
                shape.Message(1, d < 0 ? new ProtoWriter().String(2, "N") : new ProtoWriter().Int64(1, d));
            var tensor = new ProtoWriter().Int32(1, FloatType).Message(2, shape);
            return new ProtoWriter().String(1, name).Message(2, new ProtoWriter().Message(1, tensor));
        }

        public byte[] Model(int opset)
        {
            var graph = new ProtoWriter();
            foreach (var n in _nodes) graph.Message(1, n);
            graph.String(2, _net.Name);
            foreach (var i in _initializers) graph.Message(5, i);
            graph.String(10, "FlexNet step form: feed each '<layer>.state_next' output back as the '<layer>.state' input of the next step; start from zeros.");
            foreach (var i in _inputs) graph.Message(11, i);
            foreach (var o in _outputs) graph.Message(12, o);
            int ir = opset >= 21 ? 10 : opset >= 19 ? 9 : opset >= 15 ? 8 : 7;
            var model = new ProtoWriter()
                .Int64(1, ir)
                .String(2, "FlexNet")
                .String(3, typeof(OnnxExport).Assembly.GetName().Version?.ToString() ?? "0")
                .Message(7, graph)
                .Message(8, new ProtoWriter().String(1, "").Int64(2, opset));
            return model.ToArray();
        }
    }
}
