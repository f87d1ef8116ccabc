using System.Buffers.Binary;
using System.Globalization;
using FlexNet.Autodiff;
using FlexNet.Graph;
using FlexNet.IO;
using FlexNet.Layers;
using FlexNet.Tensors;

namespace FlexNet.Connections;

/// <summary>
/// Model files and state dicts for networks built with <see cref="Network"/>'s connect verbs:
/// <c>network.Save("model.flexnet")</c>, <c>Network.Load("model.flexnet")</c>, <c>network.StateDict()</c> and
/// <c>network.LoadStateDict(...)</c>.
/// </summary>
/// <remarks>
/// <para>A <c>.flexnet</c> file is a standard safetensors file. Its tensors are the <see cref="StateDict"/> (names below,
/// dtype the network's, F32 or F64), so any safetensors reader gets the weights; its <c>__metadata__</c> holds
/// <c>format = "flexnet"</c>, <c>format_version = "1"</c> and <c>architecture</c>, a JSON object with the network
/// (name, dtype, seed, steps, truncated BPTT, stateful, fused dense layers), every layer (kind, name, activation,
/// learned initial state, and per kind: shape, combine rule, bias, sequence length, reshape target, pooling options),
/// every connection in order (kind, name, from, to, delay, bias, units, kernel size, stride, padding, dilation,
/// out channels, output padding, tied or shared partner) and the outputs with their modes. Saving the same network
/// twice gives identical bytes.</para>
/// <para>State-dict names follow torch.nn: a connection's parameters are named after its target layer. When a layer
/// has one input connection with parameters, they are <c>{layer}.weight</c> and <c>{layer}.bias</c>; with several,
/// <c>{layer}.{source}.weight</c>, and <c>{layer}.{source}.{k}.weight</c> (k = 0, 1, ... in connection order) when
/// several come from the same source. A layer's own bias is <c>{layer}.layer_bias</c>, its learned initial state
/// <c>{layer}.initial_state</c>. Layouts are torch's: dense weight [out, in] (Linear), conv2d [Cout, Cin, k, k]
/// (Conv2d), conv-transpose [Cin, Cout, k, k] (ConvTranspose2d), conv1d [Cout, Cin, k] (Conv1d).</para>
/// <para>Loading never runs code from the file and never instantiates a type the file names: kinds come from a closed
/// table of FlexNet's own layers (layer, input, flatten, reshape, pool, batchnorm, dropout, gaussian_noise, layernorm, lrn, embedding, recurrent) and connections (dense, conv2d,
/// conv_transpose2d, conv1d, identity, elementwise, tied, complement, shared), plus the kinds registered with
/// <see cref="LayerKinds"/> and <see cref="ConnectionKinds"/>. The whole architecture is checked
/// against the stored tensors (names, shapes, dtypes, counts, finite values) before anything is allocated, and a
/// malformed file throws <see cref="ModelFormatException"/> and nothing else.</para>
/// </remarks>
public static class NetworkFile
{
    /// <summary>The file name extension of model files.</summary>
    public const string Extension = ".flexnet";

    /// <summary>The architecture format version of a Connect-built network's file (read: versions 1 and 2); a network
    /// with connection init settings (<see cref="ConnectionInit"/>) is written in version 2.</summary>
    public const int FormatVersion = 1;

    /// <summary>The newest format version this FlexNet reads: 2 adds the <c>model</c> section of the front ends
    /// (Sequential, Functional, spec models, registered subclasses, feedback chains).</summary>
    public const int LatestFormatVersion = 2;

    /// <summary>Reads a version-2 file that holds a model (set by the Models tier): file, path, model kind → its network.</summary>
    internal static Func<SafeTensorFile, string, string, Network>? ModelLoader;

    /// <summary>Metadata value of <c>format</c> in a model file.</summary>
    public const string FormatName = "flexnet";

    /// <param name="network">The network.</param>
    extension(Network network)
    {
        /// <summary>Saves the architecture and the weights to a <c>.flexnet</c> file, atomically (the file is replaced only
        /// once the new one is complete and flushed). Compiles the network first.</summary>
        /// <param name="path">Destination.</param>
        /// <exception cref="GraphException">A layer or connection is not one of FlexNet's own kinds (the message names it).</exception>
        public void Save(string path)
        {
            // Stryker disable once Statement : equivalent: SafeTensorWriter.Write refuses a null path with the same ArgumentNullException (ParamName "path"); this only fails before the image is made
            ArgumentNullException.ThrowIfNull(path);
            var (meta, entries) = Image(network);
            SafeTensorWriter.Write(path, meta, entries);
        }

        /// <summary>Every parameter by its torch-style name (see <see cref="NetworkFile"/> for the naming rule and layouts),
        /// connections in order, then layers. The tensors are the network's own (not copies). Builds the network first.</summary>
        /// <returns>Name → parameter.</returns>
        /// <exception cref="GraphException">A layer or connection is not one of FlexNet's own kinds, or two names collide.</exception>
        public IReadOnlyDictionary<string, Tensor> StateDict()
        {
            var (_, slots, tensors) = Snapshot(network);
            var d = new Dictionary<string, Tensor>(StringComparer.Ordinal);
            for (int i = 0; i < slots.Count; i++) d.Add(slots[i].Name, tensors[i]);
            return d;
        }

        /// <summary>Copies <paramref name="state"/> into the network's parameters: every name of <see cref="StateDict"/>
        /// must be present with the same shape and finite values, and no other name. All are checked before any value
        /// changes. Values are converted to the network's dtype.</summary>
        /// <param name="state">Name → tensor (e.g. from a PyTorch state_dict saved as safetensors).</param>
        /// <exception cref="ModelFormatException">A missing, extra, misshapen or non-finite tensor (the message names it).</exception>
        public void LoadStateDict(IReadOnlyDictionary<string, Tensor> state)
        {
            ArgumentNullException.ThrowIfNull(state);
            CopyState(network, state, "state dict");
        }

        /// <summary>Loads a state dict from a safetensors file (e.g. written from PyTorch); see
        /// <see cref="LoadStateDict(Network, IReadOnlyDictionary{string, Tensor})"/>.</summary>
        /// <param name="path">A safetensors file whose tensors are named as in <see cref="StateDict"/>.</param>
        /// <exception cref="ModelFormatException">The file is malformed or does not fit the network.</exception>
        public void LoadStateDict(string path)
        {
            ArgumentNullException.ThrowIfNull(path);
            var file = SafeTensorFile.Read(path);
            var own = network.StateDict();
            var state = new Dictionary<string, Tensor>(StringComparer.Ordinal);
            foreach (var e in file.Tensors)
            {
                if (e.DType is not (SafeTensorDType.F32 or SafeTensorDType.F64 or SafeTensorDType.F16 or SafeTensorDType.BF16))
                    throw new ModelFormatException($"state dict '{path}': tensor '{e.Name}' has dtype {e.DType}; a parameter needs a floating-point dtype.");
                if (own.TryGetValue(e.Name, out var p) && !p.Shape.SequenceEqual(e.Shape))
                    throw new ModelFormatException($"state dict '{path}': tensor '{e.Name}' has shape {NetworkFilePlanner.Format(e.Shape)}; network '{network.Name}' needs {NetworkFilePlanner.Format(p.Shape.ToArray())}.");
                state[e.Name] = TensorFile.ToTensor(e);
            }
            CopyState(network, state, $"state dict '{path}'");
        }
    }

    extension(Network)
    {
        /// <summary>Loads a network saved with <see cref="Save"/>: the same architecture, bit-identical weights, ready to run
        /// and to train further. All-or-nothing: a malformed file throws before anything is built.</summary>
        /// <param name="path">A <c>.flexnet</c> file.</param>
        /// <returns>The network (built and compiled).</returns>
        /// <exception cref="ModelFormatException">The file is not a valid model file; the message names the file and the defect.</exception>
        /// <exception cref="IOException">The file cannot be read.</exception>
        public static Network Load(string path)
        {
            ArgumentNullException.ThrowIfNull(path);
            return FromFile(SafeTensorFile.Read(path), path);
        }
    }

    /// <summary>The image of a network (metadata and tensors) as <see cref="Save"/> writes it.</summary>
    internal static (Dictionary<string, string> Meta, List<SafeTensorEntry> Entries) Image(Network network)
    {
        network.Compile();
        var (record, slots, tensors) = Snapshot(network);
        var meta = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["format"] = FormatName,
            ["format_version"] = NetworkFileCodec.VersionOf(record).ToString(CultureInfo.InvariantCulture),
            ["architecture"] = NetworkFileCodec.ToJson(record),
        };
        var entries = new List<SafeTensorEntry>(slots.Count);
        for (int i = 0; i < slots.Count; i++) entries.Add(TensorFile.ToEntry(slots[i].Name, tensors[i]));
        return (meta, entries);
    }

    /// <summary>The record, the predicted state slots and the network's tensor for each slot (checked to agree).</summary>
    private static (NetworkRecord Record, List<StateSlot> Slots, Tensor[] Tensors) Snapshot(Network network)
    {
        network.Build();
        var record = NetworkFileCodec.Describe(network);
        var slots = NetworkFilePlanner.Plan(record, msg => new GraphException($"Network '{network.Name}': {msg}"));
        var tensors = new Tensor[slots.Count];
        var covered = new HashSet<Tensor>(ReferenceEqualityComparer.Instance);
        for (int i = 0; i < slots.Count; i++)
        {
            var s = slots[i];
            Tensor? t;
            if (s.OfLayer)
            {
                var l = network.Layers[s.Index];
                t = s.Parameter switch
                {
                    "layer_bias" => l.Bias,
                    "initial_state" => l.InitialState,
                    _ => OwnTensor(l, s.Parameter),
                };
            }
            else
            {
                var c = network.Connections[s.Index];
                string full = c.Name + "." + s.Parameter;
                t = null;
                foreach (var p in c.Parameters) if (p.Name == full) t = p;
            }
            if (t is null || !t.Shape.SequenceEqual(s.Shape))
                throw new GraphException($"Network '{network.Name}': parameter '{s.Name}' is {(t is null ? "missing" : NetworkFilePlanner.Format(t.Shape.ToArray()))}, " +
                                         $"the model-file format predicts {NetworkFilePlanner.Format(s.Shape)}.");
            tensors[i] = t;
            if (!covered.Add(t)) // e.g. the layer bias every call of a shared Dense over a connection kind uses
                throw new GraphException($"Network '{network.Name}': parameter '{s.Name}' is the same tensor as an earlier one; a .flexnet file cannot say that " +
                                         "two layers share it (loading would un-share them). Save the model that built the network instead (model.Save).");
        }
        foreach (var (name, p) in network.NamedParameters)
            if (!covered.Contains(p))
                throw new GraphException($"Network '{network.Name}': parameter '{name}' has no place in the state dict.");
        return (record, slots, tensors);
    }

    /// <summary>A layer's own tensor by short name: from its kind's list, or the one named <c>{layer}.{short name}</c>.</summary>
    private static Tensor? OwnTensor(Layer l, string shortName) =>
        LayerKinds.Find(l.GetType()) is { Tensors: { } list }
            ? list(l).FirstOrDefault(e => e.Name == shortName).Tensor
            : l.Parameters.Concat(l.Buffers).FirstOrDefault(p => p.Name == l.Name + "." + shortName);

    private static void CopyState(Network network, IReadOnlyDictionary<string, Tensor> state, string source)
    {
        var own = network.StateDict();
        foreach (var name in own.Keys)
            if (!state.ContainsKey(name))
                throw new ModelFormatException($"{source}: no tensor '{name}' for network '{network.Name}' (it needs {Names(own.Keys)}).");
        foreach (var (name, t) in state)
        {
            if (!own.TryGetValue(name, out var p))
                throw new ModelFormatException($"{source}: tensor '{name}' does not belong to network '{network.Name}' (its tensors: {Names(own.Keys)}).");
            if (!p.Shape.SequenceEqual(t.Shape))
                throw new ModelFormatException($"{source}: tensor '{name}' has shape {NetworkFilePlanner.Format(t.Shape.ToArray())}; network '{network.Name}' needs {NetworkFilePlanner.Format(p.Shape.ToArray())}.");
            if (!t.DType.IsFloatingPoint())
                throw new ModelFormatException($"{source}: tensor '{name}' has dtype {t.DType}; a parameter needs Float32 or Float64.");
            int bad = 0;
            foreach (double v in t.ToDoubleArray()) if (!double.IsFinite(v)) bad++;
            if (bad > 0)
                throw new ModelFormatException($"{source}: tensor '{name}' {NetworkFilePlanner.Format(t.Shape.ToArray())} has {bad} non-finite values (NaN or ±Inf); refusing to load it into network '{network.Name}'.");
        }
        using (Autograd.NoGrad())
            foreach (var (name, t) in state) own[name].CopyFrom(t);
    }

    private static string Names(IEnumerable<string> names)
    {
        var list = names.Take(21).ToList();
        return list.Count > 20 ? string.Join(", ", list.Take(20)) + ", ..." : string.Join(", ", list);
    }

    /// <summary>Validates a parsed safetensors file as a model file and builds the network (all-or-nothing); a file
    /// holding a model (Sequential, Functional, ...) gives that model's network.</summary>
    internal static Network FromFile(SafeTensorFile file, string path)
    {
        if (file.Metadata.TryGetValue("format_version", out var v) && v == "2" && file.Metadata.TryGetValue("format", out var f) && f == FormatName &&
            file.Metadata.TryGetValue("architecture", out var arch) &&
            NetworkFileCodec.ModelKind(arch, msg => new ModelFormatException($"model file '{path}': {msg}")) is { } kind)
        {
            var loader = ModelLoader ?? throw new ModelFormatException($"model file '{path}': it holds a '{kind}' model and no model reader is loaded.");
            return loader(file, path, kind);
        }
        return FromNetworkFile(file, path, allowModel: false);
    }

    /// <summary>Reads the network part of a model file; <paramref name="allowModel"/>: a feedback chain's file, whose
    /// architecture also has the chain's <c>model</c> section.</summary>
    internal static Network FromNetworkFile(SafeTensorFile file, string path, bool allowModel)
    {
        ModelFormatException Bad(string msg) => new($"model file '{path}': {msg}");
        var meta = file.Metadata;
        if (!meta.TryGetValue("format", out var format) || format != FormatName)
            throw Bad($"metadata 'format' is {(format is null ? "missing" : $"'{NetworkFileCodec.Short(format)}'")}; a model file has format '{FormatName}' (a weights-only file loads with LoadStateDict).");
        if (!meta.TryGetValue("format_version", out var versionText) ||
            !int.TryParse(versionText, NumberStyles.None, CultureInfo.InvariantCulture, out int version) || version < 1 || version > LatestFormatVersion)
            throw Bad($"metadata 'format_version' is {(versionText is null ? "missing" : $"'{NetworkFileCodec.Short(versionText)}'")}; this FlexNet reads versions 1 to {LatestFormatVersion}.");
        if (!meta.TryGetValue("architecture", out var json))
            throw Bad("metadata has no 'architecture'.");
        var record = NetworkFileCodec.FromJson(json, Bad, version, allowModel);
        var slots = NetworkFilePlanner.Plan(record, Bad);

        // the stored tensors against the prediction: names, count, dtype, shape, finite values
        var want = record.DType == DType.Float64 ? SafeTensorDType.F64 : SafeTensorDType.F32;
        if (file.Tensors.Count != slots.Count)
        {
            var expected = new HashSet<string>(slots.Select(s => s.Name), StringComparer.Ordinal);
            foreach (var e in file.Tensors)
                if (!expected.Contains(e.Name)) throw Bad($"tensor '{NetworkFileCodec.Short(e.Name)}' is not a parameter of the architecture (it has {Names(expected)}).");
        }
        foreach (var s in slots)
        {
            if (!file.TryGet(s.Name, out var e)) throw Bad($"no tensor '{s.Name}' for the architecture's parameter {NetworkFilePlanner.Format(s.Shape)}.");
            if (e.DType != want) throw Bad($"tensor '{s.Name}' has dtype {e.DType}; the network is {record.DType} ({want}).");
            if (!e.ShapeSpan.SequenceEqual(s.Shape))
                throw Bad($"tensor '{s.Name}' has shape {NetworkFilePlanner.Format(e.Shape)}; the architecture needs {NetworkFilePlanner.Format(s.Shape)}.");
            int nonFinite = CountNonFinite(e);
            if (nonFinite > 0) throw Bad($"tensor '{s.Name}' {NetworkFilePlanner.Format(s.Shape)} has {nonFinite} non-finite values (NaN or ±Inf).");
        }

        Network net;
        List<StateSlot> built;
        Tensor[] tensors;
        try
        {
            net = Construct(record);
            net.Compile();
            (_, built, tensors) = Snapshot(net);
        }
        catch (Exception e) when (e is FlexNetException or ArgumentException or FormatException or OverflowException or KeyNotFoundException or InvalidOperationException)
        {
            throw Bad($"the architecture does not build: {e.Message}");
        }
        for (int i = 0; i < built.Count; i++)
            if (built[i].Name != slots[i].Name || !built[i].Shape.AsSpan().SequenceEqual(slots[i].Shape))
                throw Bad($"the built network's parameter '{built[i].Name}' differs from the prediction '{slots[i].Name}'.");
        using (Autograd.NoGrad())
            for (int i = 0; i < slots.Count; i++)
            {
                var e = file[slots[i].Name];
                if (record.DType == DType.Float64) tensors[i].CopyFrom(Tensor.FromArray(e.ToDoubleArray(), e.Shape));
                else tensors[i].CopyFrom(Tensor.FromArray(e.ToFloatArray(), e.Shape));
            }
        return net;
    }

    private static int CountNonFinite(SafeTensorEntry e)
    {
        var bytes = e.Data.Span;
        int bad = 0;
        if (e.DType == SafeTensorDType.F64)
        {
            for (int i = 0; i + 8 <= bytes.Length; i += 8)
                if (!double.IsFinite(BinaryPrimitives.ReadDoubleLittleEndian(bytes[i..]))) bad++;
        }
        else
        {
            for (int i = 0; i + 4 <= bytes.Length; i += 4)
                if (!float.IsFinite(BinaryPrimitives.ReadSingleLittleEndian(bytes[i..]))) bad++;
        }
        return bad;
    }

    private static Layer CustomLayer(LayerRecord l)
    {
        var entry = LayerKinds.Find(l.Kind) ?? throw new GraphException($"unknown layer kind '{l.Kind}'.");
        var layer = entry.Create(l.Name, l.Options!);
        if (layer is null || layer.GetType() != entry.Type || layer.Name != l.Name || layer.Network is not null)
            throw new GraphException($"the factory of registered layer kind '{l.Kind}' did not make a new {entry.Type.Name} named '{l.Name}'.");
        bool sameShape = layer.DeclaredShape is null ? l.Shape is null : l.Shape is not null && layer.DeclaredShape.AsSpan().SequenceEqual(l.Shape);
        if (!sameShape || layer.Combine != l.Combine || layer.UseBias != l.Bias || layer.ChangesShape != l.ChangesShape)
            throw new GraphException($"the factory of registered layer kind '{l.Kind}' made layer '{l.Name}' with another shape, combine rule, bias or shape behaviour than the file describes.");
        return layer;
    }

    private static Connection Custom(ConnectionRecord c, Layer from, Layer to)
    {
        var entry = ConnectionKinds.Find(c.Kind) ?? throw new GraphException($"unknown connection kind '{c.Kind}'.");
        var conn = entry.Create(from, to, c.Delay, c.Name, c.Options!);
        if (conn is null || conn.GetType() != entry.Type || !ReferenceEquals(conn.From, from) || !ReferenceEquals(conn.To, to) || conn.Delay != c.Delay)
            throw new GraphException($"the factory of registered kind '{c.Kind}' did not make a {entry.Type.Name} from '{c.From}' to '{c.To}' with delay {c.Delay}.");
        return conn;
    }

    private static Network Construct(NetworkRecord r)
    {
        var net = new Network(r.Name, r.DType, r.Seed);
        var layers = new Dictionary<string, Layer>(StringComparer.Ordinal);
        foreach (var l in r.Layers)
        {
            Layer layer = l.Kind switch
            {
                "input" => new InputLayer(l.Shape!, l.SequenceLength, l.Name),
                "flatten" => new FlattenLayer(l.Name),
                "reshape" => new ReshapeLayer(l.Shape!, l.Name),
                "pool" when l.Global => PoolLayer.Global(l.Pool == "max" ? PoolKind.Max : PoolKind.Average, l.Name),
                "pool" => new PoolLayer(l.Pool == "max" ? PoolKind.Max : PoolKind.Average, l.Dimensions, l.Size, l.Stride, l.Padding, l.Name),
                "layer" => new Layer(l.Shape, l.Activation, l.Combine, l.Bias, l.Name),
                _ => CustomLayer(l),
            };
            if (layer.Activation != l.Activation) layer.Activation = l.Activation;
            if (l.LearnInitialState) layer.LearnInitialState = true;
            layers[l.Name] = net.Add(layer);
        }
        var made = new Connection?[r.Connections.Count];
        var making = new bool[r.Connections.Count];
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < r.Connections.Count; i++) index[r.Connections[i].Name] = i;

        Connection Make(int i)
        {
            if (made[i] is { } done) return done;
            if (making[i]) throw new GraphException($"connection '{r.Connections[i].Name}': its partners form a cycle.");
            making[i] = true;
            var c = r.Connections[i];
            Layer from = layers[c.From], to = layers[c.To];
            Connection conn = c.Kind switch
            {
                "dense" => new DenseConnection(from, to, c.Delay, c.Bias, c.Units, c.Name),
                "conv2d" => new Conv2dConnection(from, to, c.Kernel, c.Stride, c.Pad, c.Dilation, c.Delay, c.Bias, c.OutChannels, c.Name),
                "conv_transpose2d" => new ConvTranspose2dConnection(from, to, c.Kernel, c.Stride, c.PadT, c.OutputPadding, c.Dilation, c.Delay, c.Bias, c.OutChannels, c.Name),
                "conv1d" => new Conv1dConnection(from, to, c.OutChannels!.Value, c.Kernel, c.Stride, c.Pad, c.Dilation, c.Bias, c.Name),
                "identity" => to is RecurrentCellLayer ? new SequenceInputConnection(from, to, c.Delay, c.Name) : new IdentityConnection(from, to, c.Delay, c.Name),
                "complement" => new ComplementConnection(from, to, c.Delay, c.Name),
                "elementwise" => new ElementwiseConnection(from, to, c.Delay, c.Bias, c.Name),
                "tied" => new TiedConnection(from, to, Make(index[c.Partner!]) as DenseConnection
                                                       ?? throw new GraphException($"tied connection '{c.Name}': partner '{c.Partner}' is not a dense connection."), c.Delay, c.Bias, c.Name),
                "shared" => new SharedConnection(Make(index[c.Partner!]), from, to, c.Delay, c.Name),
                _ => Custom(c, from, to),
            };
            if (c.Init is { } init) conn.WithInit(init);
            made[i] = conn;
            return conn;
        }

        for (int i = 0; i < r.Connections.Count; i++) net.Connect(Make(i));
        foreach (var (layer, mode) in r.Outputs) net.AddOutput(layers[layer], mode);
        if (r.Steps is int steps) net.Steps = steps;
        net.TruncatedBptt = r.TruncatedBptt;
        net.Stateful = r.Stateful;
        net.FuseDenseLayers = r.FuseDenseLayers;
        return net;
    }
}
