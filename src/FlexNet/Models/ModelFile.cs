// Over 400 lines: the writer and the untrusted-input reader of one JSON section belong side by side (each field is
// written and checked in the same place), like NetworkFileCodec.
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text.Json;
using FlexNet.Autodiff;
using FlexNet.Connections;
using FlexNet.Graph;
using FlexNet.IO;
using FlexNet.Layers;
using FlexNet.Tensors;
using J = FlexNet.Connections.UntrustedJson;

namespace FlexNet.Models;

/// <summary>
/// Model files (<c>.flexnet</c>, format version 2) of the front ends: Sequential, Functional, spec models,
/// registered subclasses and feedback chains. The file is a safetensors file whose tensors are the model's
/// <see cref="Model.StateDict"/> (parameters and buffers such as running statistics); the metadata's
/// <c>architecture</c> JSON holds <c>format_version</c> and a <c>model</c> object: the kind, name, dtype and seed, the
/// inputs (shape, sequence), every catalog layer's configuration (<see cref="CatalogLayer.GetConfig"/>: its registered
/// form and arguments, init included), the call graph (which layer reads which values), the outputs and the feedback
/// edges (delay, kind). Loading rebuilds the layers through the closed <see cref="LayerRegistry"/> (never a .NET type
/// named by the file) under an allocation budget proportional to the stored tensors, checks every tensor's name,
/// shape, dtype and values, and only then copies the weights.
/// </summary>
internal static class ModelFile
{
    internal const int Version = 2;
    private const int MaxLayers = 100_000;

#pragma warning disable CA2255 // the library's own hook: Network.Load (a lower tier) reads model files through it
    [ModuleInitializer]
    internal static void Hook() => NetworkFile.ModelLoader = LoadNetwork;
#pragma warning restore CA2255

    // ------------------------------------------------------------------ save

    internal static (Dictionary<string, string> Meta, List<SafeTensorEntry> Entries) Image(Model m)
    {
        string json = Describe(m);
        var entries = new List<SafeTensorEntry>();
        foreach (var (name, t) in m.StateDict()) entries.Add(TensorFile.ToEntry(name, t));
        return (Meta(json), entries);
    }

    private static Dictionary<string, string> Meta(string json) => new(StringComparer.Ordinal)
    {
        ["format"] = NetworkFile.FormatName,
        ["format_version"] = Version.ToString(CultureInfo.InvariantCulture),
        ["architecture"] = json,
    };

    private static string Describe(Model m)
    {
        _ = m.Network; // builds (traced models need their input shape)
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms))
        {
            w.WriteStartObject();
            w.WriteNumber("format_version", Version);
            w.WriteStartObject("model");
            switch (m)
            {
                case SpecModel s:
                    w.WriteString("kind", "spec");
                    Common(w, m);
                    w.WriteString("type", s.GetType().Name);
                    w.WriteString("data_kind", s.Kind.ToString());
                    w.WritePropertyName("specs");
                    w.WriteRawValue(s.SpecJsonText());
                    break;
                case Sequential q:
                    w.WriteString("kind", "sequential");
                    Common(w, m);
                    WriteInputs(w, m.Graph.Inputs!);
                    w.WriteStartArray("layers");
                    foreach (var l in q.Layers) WriteConfig(w, l);
                    w.WriteEndArray();
                    break;
                case var _ when m.GetType() == typeof(Model):
                    w.WriteString("kind", "functional");
                    Common(w, m);
                    WriteGraph(w, m);
                    break;
                default:
                    var type = m.GetType();
                    string cls = ModelRegistry.NameOf(type) ?? throw new GraphException(
                        $"Model '{m.Name}' is a {type.FullName}, a subclass the model file cannot rebuild unless it is registered: call " +
                        $"ModelRegistry.Register<{type.Name}>(\"{type.Name.ToLowerInvariant()}\", config => new {type.Name}(...)) once before saving and loading, " +
                        "and override GetConfig() to return its constructor arguments.");
                    w.WriteString("kind", "registered");
                    Common(w, m);
                    w.WriteString("class", cls);
                    w.WriteStartObject("config");
                    var config = new SortedDictionary<string, string>(StringComparer.Ordinal);
                    foreach (var (k, v) in m.GetConfig() ?? new Dictionary<string, string>()) config[k] = v;
                    foreach (var (k, v) in config) w.WriteString(k, v);
                    w.WriteEndObject();
                    WriteInputs(w, m.Graph.Inputs!);
                    break;
            }
            w.WriteEndObject();
            w.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(ms.ToArray());
    }

    private static void Common(Utf8JsonWriter w, Model m)
    {
        w.WriteString("name", m.Name);
        w.WriteString("dtype", m.DType == DType.Float64 ? "float64" : "float32");
        w.WriteString("seed", m.Seed.ToString(CultureInfo.InvariantCulture));
    }

    private static void WriteInputs(Utf8JsonWriter w, SymbolicTensor[] inputs)
    {
        w.WriteStartArray("inputs");
        foreach (var x in inputs)
        {
            w.WriteStartObject();
            if (x.Name is null) w.WriteNull("name");
            else w.WriteString("name", x.Name);
            w.WriteStartArray("shape");
            foreach (int d in x.Shape!) w.WriteNumberValue(d);
            w.WriteEndArray();
            w.WriteBoolean("sequence", x.IsSequence);
            w.WriteEndObject();
        }
        w.WriteEndArray();
    }

    private static void WriteConfig(Utf8JsonWriter w, CatalogLayer l)
    {
        var config = l.GetConfig() ?? throw new GraphException(
            $"Layer '{l.Name}' is a {l.GetType().FullName} without a configuration, so a model file cannot rebuild it: override GetConfig() to return " +
            $"its registered form and arguments, and register the form once with LayerRegistry.Register(\"{l.Form}\", ...) before saving and loading.");
        if (!config.TryGetValue("form", out var form) || form is not string f || LayerRegistry.Describe(f) is null)
            throw new GraphException($"Layer '{l.Name}' ({l.GetType().Name}): its configuration names no registered form (got '{form}'); register it with LayerRegistry.Register.");
        w.WriteStartObject();
        foreach (var (k, v) in config.OrderBy(kv => kv.Key == "form" ? "" : kv.Key, StringComparer.Ordinal))
        {
            switch (v)
            {
                case int i: w.WriteNumber(k, i); break;
                case long i: w.WriteNumber(k, i); break;
                case double d when double.IsFinite(d): w.WriteNumber(k, d); break;
                case float d when float.IsFinite(d): w.WriteNumber(k, (double)d); break;
                case string s: w.WriteString(k, s); break;
                case bool b: w.WriteBoolean(k, b); break;
                case int[] a:
                    w.WriteStartArray(k);
                    foreach (int d in a) w.WriteNumberValue(d);
                    w.WriteEndArray();
                    break;
                default:
                    throw new GraphException($"Layer '{l.Name}' ({l.GetType().Name}): configuration value '{k}' is a {v?.GetType().Name ?? "null"}; a model file holds ints, finite numbers, strings, bools and int arrays.");
            }
        }
        w.WriteEndObject();
    }

    private static void WriteGraph(Utf8JsonWriter w, Model m)
    {
        var (inputs, outputs, feedback) = m.Graph;
        var order = new List<SymbolicTensor>();
        var seen = new HashSet<SymbolicTensor>(ReferenceEqualityComparer.Instance);
        foreach (var o in outputs!)
            foreach (var s in o.Ancestry())
                if (seen.Add(s)) order.Add(s);
        foreach (var (f, t, _, _) in feedback)
            foreach (var root in new[] { f, t })
                foreach (var s in root.Ancestry())
                    if (seen.Add(s)) order.Add(s);
        var index = new Dictionary<SymbolicTensor, int>(ReferenceEqualityComparer.Instance);
        foreach (var x in inputs!) index[x] = index.Count;
        var layers = new List<CatalogLayer>();
        var layerIndex = new Dictionary<CatalogLayer, int>(ReferenceEqualityComparer.Instance);
        var nodes = new List<SymbolicTensor>();
        foreach (var s in order)
        {
            if (s.IsInput) continue;
            if (!layerIndex.ContainsKey(s.Layer!))
            {
                layerIndex[s.Layer!] = layers.Count;
                layers.Add(s.Layer!);
            }
            index[s] = index.Count;
            nodes.Add(s);
        }
        WriteInputs(w, inputs);
        w.WriteStartArray("layers");
        foreach (var l in layers) WriteConfig(w, l);
        w.WriteEndArray();
        w.WriteStartArray("nodes");
        foreach (var s in nodes)
        {
            w.WriteStartObject();
            w.WriteNumber("layer", layerIndex[s.Layer!]);
            w.WriteStartArray("inputs");
            foreach (var i in s.Inputs) w.WriteNumberValue(index[i]);
            w.WriteEndArray();
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteStartArray("outputs");
        foreach (var o in outputs) w.WriteNumberValue(index[o]);
        w.WriteEndArray();
        w.WriteStartArray("feedback");
        foreach (var (f, t, d, kind) in feedback)
        {
            w.WriteStartObject();
            w.WriteNumber("from", index[f]);
            w.WriteNumber("to", index[t]);
            w.WriteNumber("delay", d);
            w.WriteString("kind", kind);
            w.WriteEndObject();
        }
        w.WriteEndArray();
    }

    // ------------------------------------------------------------------ load (untrusted)

    /// <summary>Network.Load on a model file: the model's network (a feedback chain's network is read directly).</summary>
    private static Network LoadNetwork(SafeTensorFile file, string path, string kind) =>
        kind is "feedback_chain" or "feedback_tree" ? FeedbackChain.FromFile(file, path).Network : Load(file, path).Network;

    internal static Model Load(SafeTensorFile file, string path)
    {
        ModelFormatException Bad(string msg) => new($"model file '{path}': {msg}");
        var json = Architecture(file, path);
        using (var doc = J.ParseArchitecture(json, Bad))
        {
            var root = J.Obj(doc.RootElement, "architecture", Bad);
            if (!root.TryGetProperty("model", out var model))
                throw Bad("the architecture describes a network built with Connect (no 'model'); load it with Network.Load.");
            J.Only(root, "architecture", Bad, "format_version", "model", "network", "layers", "connections", "outputs");
            J.Int(J.Req(root, "format_version", "architecture", Bad), "architecture.format_version", Bad, Version, Version);
            model = J.Obj(model, "model", Bad);
            string kind = J.Str(J.Req(model, "kind", "model", Bad), "model.kind", Bad);
            if (kind is "feedback_chain" or "feedback_tree")
                throw Bad($"the file holds a {kind.Replace('_', ' ')}, which is not a Model; load it with FeedbackChain.Load (or Network.Load).");
            if (kind is not ("sequential" or "functional" or "spec" or "registered"))
                throw Bad($"unknown model kind '{NetworkFileCodec.Short(kind)}' (sequential, functional, spec, registered, feedback_chain, feedback_tree).");
            if (root.EnumerateObject().Count() != 2) throw Bad($"a {kind} model file has only 'format_version' and 'model' in its architecture.");
            string name = J.Name(J.Req(model, "name", "model", Bad), "model.name", Bad);
            string dt = J.Str(J.Req(model, "dtype", "model", Bad), "model.dtype", Bad);
            DType dtype = dt switch
            {
                "float32" => DType.Float32,
                "float64" => DType.Float64,
                _ => throw Bad($"model.dtype must be 'float32' or 'float64'; got '{NetworkFileCodec.Short(dt)}'."),
            };
            string seedText = J.Str(J.Req(model, "seed", "model", Bad), "model.seed", Bad);
            if (!ulong.TryParse(seedText, NumberStyles.None, CultureInfo.InvariantCulture, out ulong seed))
                throw Bad($"model.seed must be a decimal unsigned 64-bit integer in a string; got '{NetworkFileCodec.Short(seedText)}'.");

            // tensors first: names unique (the reader checks), dtype the model's, values finite
            var want = dtype == DType.Float64 ? SafeTensorDType.F64 : SafeTensorDType.F32;
            long stored = 0;
            foreach (var e in file.Tensors)
            {
                if (e.DType != want) throw Bad($"tensor '{NetworkFileCodec.Short(e.Name)}' has dtype {e.DType}; the model is {dtype} ({want}).");
                stored += e.Data.Length;
            }

            Model m;
            try
            {
                using (AllocationBudget.Limit(8 * stored + (1L << 20), $"model file '{path}': the stored architecture"))
                {
                    m = kind switch
                    {
                        "sequential" => Sequential(model, name, dtype, seed, Bad),
                        "functional" => Functional(model, name, dtype, seed, Bad),
                        "spec" => Spec(model, dtype, path, Bad),
                        _ => Registered(model, Bad),
                    };
                    _ = m.Network;
                }
            }
            catch (ModelFormatException)
            {
                throw;
            }
            catch (Exception e) when (e is FlexNetException or ArgumentException or KeyNotFoundException or InvalidOperationException)
            {
                throw Bad($"the architecture does not build: {e.Message}");
            }
            if (m.Name != name || m.DType != dtype)
                throw Bad($"the rebuilt model is '{m.Name}' ({m.DType}); the file describes '{NetworkFileCodec.Short(name)}' ({dtype}).");
            m.LoadWeights(file, path); // every name, shape and value checked before any weight changes
            return m;
        }
    }

    /// <summary>The checked <c>format</c>, <c>format_version</c> (2) and the architecture text.</summary>
    internal static string Architecture(SafeTensorFile file, string path)
    {
        var meta = file.Metadata;
        if (!meta.TryGetValue("format", out var format) || format != NetworkFile.FormatName)
            throw new ModelFormatException($"model file '{path}': metadata 'format' is {(format is null ? "missing" : $"'{NetworkFileCodec.Short(format)}'")}; a model file has format '{NetworkFile.FormatName}'.");
        if (meta.TryGetValue("format_version", out var v) && v == "1")
            throw new ModelFormatException($"model file '{path}': a version-1 file holds a network built with Connect, not a model; load it with Network.Load.");
        if (v != "2")
            throw new ModelFormatException($"model file '{path}': metadata 'format_version' is {(v is null ? "missing" : $"'{NetworkFileCodec.Short(v)}'")}; a model (not a Connect network) is written in version 2.");
        return meta.TryGetValue("architecture", out var json) ? json : throw new ModelFormatException($"model file '{path}': metadata has no 'architecture'.");
    }

    private static Sequential Sequential(JsonElement model, string name, DType dtype, ulong seed, Func<string, ModelFormatException> bad)
    {
        J.Only(model, "model", bad, "kind", "name", "dtype", "seed", "inputs", "layers");
        var inputs = Inputs(model, bad);
        if (inputs.Count != 1) throw bad($"a sequential model has one input; the file lists {inputs.Count}.");
        var layers = Layers(model, bad);
        if (layers.Count == 0) throw bad("a sequential model has at least one layer.");
        return new Sequential(name, dtype, seed, [.. layers]) { InputShape = inputs[0].Shape, SequenceInput = inputs[0].Sequence };
    }

    private static Model Functional(JsonElement model, string name, DType dtype, ulong seed, Func<string, ModelFormatException> bad)
    {
        J.Only(model, "model", bad, "kind", "name", "dtype", "seed", "inputs", "layers", "nodes", "outputs", "feedback");
        var values = new List<SymbolicTensor>();
        foreach (var x in Inputs(model, bad)) values.Add(Models.Functional.Input(x.Shape, x.Sequence, x.Name));
        int nInputs = values.Count;
        if (nInputs == 0) throw bad("a functional model has at least one input.");
        var layers = Layers(model, bad);
        var used = new bool[layers.Count];
        var nodes = J.Arr(J.Req(model, "nodes", "model", bad), "model.nodes", bad);
        if (nodes.GetArrayLength() > MaxLayers) throw bad($"model.nodes has more than {MaxLayers} entries.");
        int ni = 0;
        foreach (var n in nodes.EnumerateArray())
        {
            string at = $"model.nodes[{ni++}]";
            var o = J.Obj(n, at, bad);
            J.Only(o, at, bad, "layer", "inputs");
            int li = J.Int(J.Req(o, "layer", at, bad), at + ".layer", bad, 0, layers.Count - 1);
            var ins = J.Arr(J.Req(o, "inputs", at, bad), at + ".inputs", bad);
            int count = ins.GetArrayLength();
            if (count is 0 or > 64) throw bad($"{at}.inputs must list 1 to 64 earlier values; got {count}.");
            var args = new SymbolicTensor[count];
            int k = 0;
            foreach (var i in ins.EnumerateArray()) args[k] = values[J.Int(i, $"{at}.inputs[{k++}]", bad, 0, values.Count - 1)];
            used[li] = true;
            values.Add(layers[li].Call(args));
        }
        for (int i = 0; i < used.Length; i++)
            if (!used[i]) throw bad($"model.layers[{i}] is called by no node.");
        var outs = J.Arr(J.Req(model, "outputs", "model", bad), "model.outputs", bad);
        int on = outs.GetArrayLength();
        if (on is 0 or > MaxLayers) throw bad($"model.outputs must list 1 to {MaxLayers} values; got {on}.");
        var outputs = new List<SymbolicTensor>();
        int oi = 0;
        foreach (var o in outs.EnumerateArray()) outputs.Add(values[J.Int(o, $"model.outputs[{oi++}]", bad, 0, values.Count - 1)]);
        var m = new Model(values.GetRange(0, nInputs), outputs, name, dtype, seed);
        var fb = J.Arr(J.Req(model, "feedback", "model", bad), "model.feedback", bad);
        if (fb.GetArrayLength() > MaxLayers) throw bad($"model.feedback has more than {MaxLayers} entries.");
        int fi = 0;
        foreach (var f in fb.EnumerateArray())
        {
            string at = $"model.feedback[{fi++}]";
            var o = J.Obj(f, at, bad);
            J.Only(o, at, bad, "from", "to", "delay", "kind");
            var from = values[J.Int(J.Req(o, "from", at, bad), at + ".from", bad, 0, values.Count - 1)];
            var to = values[J.Int(J.Req(o, "to", at, bad), at + ".to", bad, nInputs, values.Count - 1)];
            int delay = J.Int(J.Req(o, "delay", at, bad), at + ".delay", bad, 0, NetworkFileCodec.MaxDelay);
            string kind = J.Str(J.Req(o, "kind", at, bad), at + ".kind", bad);
            if (kind is not ("dense" or "identity")) throw bad($"{at}.kind must be 'dense' or 'identity'; got '{NetworkFileCodec.Short(kind)}'.");
            m.AddFeedback(from, to, delay, kind);
        }
        return m;
    }

    private static SpecModel Spec(JsonElement model, DType dtype, string path, Func<string, ModelFormatException> bad)
    {
        J.Only(model, "model", bad, "kind", "name", "dtype", "seed", "type", "data_kind", "specs");
        string type = J.Str(J.Req(model, "type", "model", bad), "model.type", bad);
        string kindName = J.Str(J.Req(model, "data_kind", "model", bad), "model.data_kind", bad);
        if (!Enum.GetNames<DataKind>().Contains(kindName, StringComparer.Ordinal))
            throw bad($"unknown data kind '{NetworkFileCodec.Short(kindName)}' (expected {string.Join(", ", Enum.GetNames<DataKind>())}).");
        var kind = Enum.Parse<DataKind>(kindName);
        var specs = SpecJson.Read(J.Arr(J.Req(model, "specs", "model", bad), "model.specs", bad).GetRawText(), path);
        try
        {
            return type switch
            {
                nameof(Regressor) => new Regressor(kind, dtype, specs),
                nameof(Classifier) => new Classifier(kind, dtype, specs),
                nameof(Autoencoder) => new Autoencoder(kind, dtype, specs),
                _ => throw bad($"unknown spec model type '{NetworkFileCodec.Short(type)}' (Regressor, Classifier or Autoencoder)."),
            };
        }
        catch (SpecValidationException e)
        {
            throw bad($"the stored specs do not build: {e.Message}");
        }
    }

    /// <summary>A registered subclass: its factory builds it from the stored configuration (name, dtype and seed are the
    /// factory's; the caller checks name and dtype against the file).</summary>
    private static Model Registered(JsonElement model, Func<string, ModelFormatException> bad)
    {
        J.Only(model, "model", bad, "kind", "name", "dtype", "seed", "class", "config", "inputs");
        string cls = J.Str(J.Req(model, "class", "model", bad), "model.class", bad);
        var entry = ModelRegistry.Find(cls) ?? throw bad(
            $"model class '{NetworkFileCodec.Short(cls)}' is not registered (registered: {(ModelRegistry.Registered.Count == 0 ? "none" : string.Join(", ", ModelRegistry.Registered))}); " +
            "call ModelRegistry.Register<TModel>(name, config => new TModel(...)) before loading.");
        var cfg = J.Obj(J.Req(model, "config", "model", bad), "model.config", bad);
        var config = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var p in cfg.EnumerateObject())
        {
            if (config.Count >= 256) throw bad("model.config has more than 256 entries.");
            string v = J.Str(p.Value, $"model.config.{NetworkFileCodec.Short(p.Name)}", bad);
            if (!config.TryAdd(p.Name, v)) throw bad($"model.config has '{NetworkFileCodec.Short(p.Name)}' twice.");
        }
        var inputs = Inputs(model, bad);
        Model m;
        try
        {
            m = entry.Create(config);
        }
        catch (Exception e) when (e is FlexNetException or ArgumentException or FormatException or OverflowException or KeyNotFoundException or InvalidOperationException)
        {
            throw bad($"the factory of registered class '{cls}' rejects its configuration: {e.Message}");
        }
        if (m is null || m.GetType() != entry.Type) throw bad($"the factory of registered class '{cls}' did not make a {entry.Type.Name}.");
        if (!m.IsBuilt && m.Graph.Outputs is null && inputs.Count == 1)
        {
            m.InputShape ??= inputs[0].Shape;
            m.SequenceInput ??= inputs[0].Sequence;
        }
        return m;
    }

    private static List<(string? Name, int[] Shape, bool Sequence)> Inputs(JsonElement model, Func<string, ModelFormatException> bad)
    {
        var arr = J.Arr(J.Req(model, "inputs", "model", bad), "model.inputs", bad);
        if (arr.GetArrayLength() > 1024) throw bad("model.inputs has more than 1024 entries.");
        var list = new List<(string?, int[], bool)>();
        int i = 0;
        foreach (var e in arr.EnumerateArray())
        {
            string at = $"model.inputs[{i++}]";
            var o = J.Obj(e, at, bad);
            J.Only(o, at, bad, "name", "shape", "sequence");
            var n = J.Req(o, "name", at, bad);
            string? name = n.ValueKind == JsonValueKind.Null ? null : J.Name(n, at + ".name", bad);
            list.Add((name, J.Shape(J.Req(o, "shape", at, bad), at + ".shape", bad), J.Bool(J.Req(o, "sequence", at, bad), at + ".sequence", bad)));
        }
        return list;
    }

    private static List<CatalogLayer> Layers(JsonElement model, Func<string, ModelFormatException> bad)
    {
        var arr = J.Arr(J.Req(model, "layers", "model", bad), "model.layers", bad);
        if (arr.GetArrayLength() > MaxLayers) throw bad($"model.layers has more than {MaxLayers} entries.");
        var list = new List<CatalogLayer>();
        var byName = new Dictionary<string, CatalogLayer>(StringComparer.Ordinal);
        int i = 0;
        foreach (var e in arr.EnumerateArray())
        {
            string at = $"model.layers[{i++}]";
            var o = J.Obj(e, at, bad);
            var args = new Dictionary<string, object>(StringComparer.OrdinalIgnoreCase);
            foreach (var p in o.EnumerateObject())
            {
                if (args.Count >= 64) throw bad($"{at} has more than 64 arguments.");
                if (p.Name.Length is 0 or > 256) throw bad($"{at} has an argument name of {p.Name.Length} characters.");
                if (!args.TryAdd(p.Name, Value(p.Value, $"{at}.{NetworkFileCodec.Short(p.Name)}", bad))) throw bad($"{at} has '{NetworkFileCodec.Short(p.Name)}' twice.");
            }
            if (!args.TryGetValue("form", out var f) || f is not string form)
                throw bad($"{at} has no 'form' string.");
            if (LayerRegistry.Describe(form) is null)
                throw bad($"{at}: unknown layer form '{NetworkFileCodec.Short(form)}'. Registered forms: {string.Join(", ", LayerRegistry.Names)} " +
                          "(a custom layer loads once its form is registered with LayerRegistry.Register).");
            string? name = args.TryGetValue("name", out var nm) ? nm as string ?? throw bad($"{at}.name must be a string.") : null;
            if (name is { Length: 0 or > 256 }) throw bad($"{at}.name must have 1 to 256 characters.");
            if (name is not null && byName.ContainsKey(name)) throw bad($"two layers are named '{NetworkFileCodec.Short(name)}'.");
            CatalogLayer layer;
            try
            {
                layer = LayerRegistry.Create(form, new LayerArgs(args, at, n => byName.GetValueOrDefault(n)));
            }
            catch (Exception x) when (x is FlexNetException or ArgumentException or FormatException or OverflowException or KeyNotFoundException or InvalidOperationException)
            {
                throw bad($"{at} ('{form}') does not build: {x.Message}");
            }
            if (name is not null) byName[name] = layer;
            list.Add(layer);
        }
        return list;
    }

    private static object Value(JsonElement e, string at, Func<string, ModelFormatException> bad)
    {
        switch (e.ValueKind)
        {
            case JsonValueKind.String:
                string s = e.GetString()!;
                return s.Length <= 4096 ? s : throw bad($"{at} is longer than 4096 characters.");
            case JsonValueKind.True: return true;
            case JsonValueKind.False: return false;
            case JsonValueKind.Number:
                if (e.TryGetInt32(out int i)) return i;
                if (e.TryGetInt64(out long l)) return l;
                double d = e.GetDouble();
                return double.IsFinite(d) ? d : throw bad($"{at} is not a finite number.");
            case JsonValueKind.Array:
                int n = e.GetArrayLength();
                if (n > NetworkFileCodec.MaxRank * 8) throw bad($"{at} has more than {NetworkFileCodec.MaxRank * 8} entries.");
                var a = new int[n];
                int k = 0;
                foreach (var x in e.EnumerateArray()) a[k] = J.Int(x, $"{at}[{k++}]", bad, int.MinValue, int.MaxValue);
                return a;
            default:
                throw bad($"{at} must be a number, string, bool or array of integers; got {e.ValueKind}.");
        }
    }
}
