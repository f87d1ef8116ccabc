// Over 400 lines: the writer and the untrusted-input reader of the architecture JSON belong side by side (each field
// is written and checked in the same place, so the two cannot drift apart).
using System.Globalization;
using System.Text.Json;
using FlexNet.Autodiff;
using FlexNet.Graph;
using FlexNet.Layers;
using FlexNet.Tensors;
using static FlexNet.Connections.UntrustedJson;

namespace FlexNet.Connections;

/// <summary>Turns a network into a <see cref="NetworkRecord"/> and records into architecture JSON and back. The kinds
/// form a closed table of FlexNet's own layer and connection types; nothing read from a file names a .NET type.</summary>
internal static class NetworkFileCodec
{
    internal static readonly string[] LayerKinds = ["layer", "input", "flatten", "reshape", "pool", .. BuiltInLayerKinds.Names];
    internal static readonly string[] ConnectionKinds = ["dense", "conv2d", "conv_transpose2d", "conv1d", "identity", "elementwise", "tied", "complement", "shared"];

    internal const int MaxDelay = 1 << 16;
    internal const int MaxSteps = 1 << 24;
    internal const int MaxSize = 1 << 24;
    internal const int MaxRank = 8;
    internal const int MaxLayers = 100_000;

    // ------------------------------------------------------------------ network -> record

    internal static NetworkRecord Describe(Network net)
    {
        var r = new NetworkRecord
        {
            Name = net.Name,
            DType = net.DType,
            Seed = net.Seed,
            Steps = net.StepsExplicit ? net.Steps : null,
            TruncatedBptt = net.TruncatedBptt,
            Stateful = net.Stateful,
            FuseDenseLayers = net.FuseDenseLayers,
        };
        foreach (var l in net.Layers) r.Layers.Add(DescribeLayer(l));
        foreach (var c in net.Connections) r.Connections.Add(DescribeConnection(c));
        foreach (var (l, m) in net.Outputs) r.Outputs.Add((l.Name, m));
        return r;
    }

    private static GraphException Unsaveable(string what, string typeName, bool connection) => new(
        $"{what} is a {typeName}, which the .flexnet format cannot describe: a model file holds FlexNet's own kinds " +
        $"(layers: {string.Join(", ", LayerKinds)}; connections: {string.Join(", ", ConnectionKinds)}), registered layer kinds " +
        $"({(Connections.LayerKinds.Registered.Count == 0 ? "none" : string.Join(", ", Connections.LayerKinds.Registered))}) and registered connection kinds " +
        $"({(Connections.ConnectionKinds.Registered.Count == 0 ? "none" : string.Join(", ", Connections.ConnectionKinds.Registered))}). " +
        (connection
            ? $"Register it once before saving and loading: ConnectionKinds.Register<{typeName.Split('.', '+')[^1]}>(\"my-kind\", describe: c => options, create: (from, to, delay, name, options) => new ..., shapes: (source, target, options) => new ConnectionShapes(output, parameters))."
            : $"Register it once before saving and loading: LayerKinds.Register<{typeName.Split('.', '+')[^1]}>(\"my-kind\", describe: l => options, create: (name, options) => new ..., shapes: (input, options) => new LayerShapes(output, parameters)). " +
              "(A layer made by a catalog builder such as Dense or LSTM is saved with the model that built it: model.Save.)"));

    private static LayerRecord DescribeLayer(Layer l)
    {
        var rec = l switch
        {
            InputLayer i => new LayerRecord { Kind = "input", Name = l.Name, Shape = (int[])i.DeclaredShape!.Clone(), SequenceLength = i.SequenceLength },
            FlattenLayer => new LayerRecord { Kind = "flatten", Name = l.Name },
            ReshapeLayer => new LayerRecord { Kind = "reshape", Name = l.Name, Shape = (int[])l.OutputShape!.Clone() },
            PoolLayer p => new LayerRecord
            {
                Kind = "pool", Name = l.Name, Pool = p.PoolKind == PoolKind.Max ? "max" : "average", Global = p.IsGlobal,
                Dimensions = p.Dimensions, Size = p.Size, Stride = p.Stride, Padding = p.Padding,
            },
            _ when Connections.LayerKinds.Find(l.GetType()) is { } entry => Registered(l, entry),
            _ when l.GetType() == typeof(Layer) => new LayerRecord
            {
                Kind = "layer", Name = l.Name, Shape = l.DeclaredShape is null ? null : (int[])l.DeclaredShape.Clone(), Combine = l.Combine, Bias = l.UseBias,
            },
            _ => throw Unsaveable($"Layer '{l.Name}'", l.GetType().FullName ?? l.GetType().Name, connection: false),
        };
        rec.Activation = l.Activation;
        rec.LearnInitialState = l.LearnInitialState;
        return rec;
    }

    private static LayerRecord Registered(Layer l, Connections.LayerKinds.Entry entry)
    {
        var rec = new LayerRecord
        {
            Kind = entry.Kind, Name = l.Name, Shape = l.DeclaredShape is null ? null : (int[])l.DeclaredShape.Clone(), Combine = l.Combine, Bias = l.UseBias,
            ChangesShape = l.ChangesShape, Options = new SortedDictionary<string, string>(StringComparer.Ordinal),
        };
        foreach (var (k, v) in entry.Describe(l)) rec.Options[k] = v;
        return rec;
    }

    private static ConnectionRecord DescribeConnection(Connection c)
    {
        var r = new ConnectionRecord { Kind = "", Name = c.Name, From = c.From.Name, To = c.To.Name, Delay = c.Delay, Init = ConnectionInit.InitOf(c) };
        switch (c)
        {
            case DenseConnection d:
                r.Kind = "dense"; r.Bias = d.HasBias; r.Units = d.OutFeatures;
                break;
            case Conv2dConnection k:
                r.Kind = "conv2d"; r.Bias = k.HasBias; r.Kernel = k.KernelSize; r.Stride = k.Stride; r.Dilation = k.Dilation; r.Pad = k.Padding;
                r.OutChannels = k.Weight.Shape[0];
                break;
            case ConvTranspose2dConnection k:
                r.Kind = "conv_transpose2d"; r.Bias = k.HasBias; r.Kernel = k.KernelSize; r.Stride = k.Stride; r.Dilation = k.Dilation; r.PadT = k.Padding;
                r.OutChannels = k.Weight.Shape[1];
                r.OutputPadding = k.OutputPadding.H == k.OutputPadding.W ? k.OutputPadding.H : null;
                break;
            case Conv1dConnection k:
                r.Kind = "conv1d"; r.Bias = k.HasBias; r.Kernel = k.KernelSize; r.Stride = k.Stride; r.Dilation = k.Dilation; r.Pad = k.Padding;
                r.OutChannels = k.OutChannels;
                break;
            case IdentityConnection:
            case SequenceInputConnection: // the input edge of a recurrent layer: loaded as one again (see NetworkFile)
                r.Kind = "identity";
                break;
            case ComplementConnection:
                r.Kind = "complement";
                break;
            case ElementwiseConnection e:
                r.Kind = "elementwise"; r.Bias = e.HasBias;
                break;
            case TiedConnection t when t.Partner is not null:
                r.Kind = "tied"; r.Bias = t.HasBias; r.Partner = t.Partner.Name;
                break;
            case SharedConnection s:
                r.Kind = "shared"; r.Partner = s.Partner.Name;
                break;
            default:
                var entry = Connections.ConnectionKinds.Find(c.GetType())
                            ?? throw Unsaveable($"Connection '{c.Name}' from '{c.From.Name}' to '{c.To.Name}'", c.GetType().FullName ?? c.GetType().Name, connection: true);
                r.Kind = entry.Kind;
                r.Options = new SortedDictionary<string, string>(StringComparer.Ordinal);
                foreach (var (k, v) in entry.Describe(c)) r.Options[k] = v;
                break;
        }
        return r;
    }

    // ------------------------------------------------------------------ record -> JSON

    internal static string ToJson(NetworkRecord r)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms))
        {
            w.WriteStartObject();
            w.WriteNumber("format_version", VersionOf(r));
            w.WriteStartObject("network");
            w.WriteString("name", r.Name);
            w.WriteString("dtype", r.DType == DType.Float64 ? "float64" : "float32");
            w.WriteString("seed", r.Seed.ToString(CultureInfo.InvariantCulture));
            WriteInt(w, "steps", r.Steps);
            WriteInt(w, "truncated_bptt", r.TruncatedBptt);
            w.WriteBoolean("stateful", r.Stateful);
            w.WriteBoolean("fuse_dense_layers", r.FuseDenseLayers);
            w.WriteEndObject();
            w.WriteStartArray("layers");
            foreach (var l in r.Layers)
            {
                w.WriteStartObject();
                w.WriteString("kind", l.Kind);
                w.WriteString("name", l.Name);
                w.WriteString("activation", l.Activation);
                w.WriteBoolean("learn_initial_state", l.LearnInitialState);
                switch (l.Kind)
                {
                    case "layer":
                        WriteShape(w, "shape", l.Shape);
                        w.WriteString("combine", l.Combine.ToString().ToLowerInvariant());
                        w.WriteBoolean("bias", l.Bias);
                        break;
                    case "input":
                        WriteShape(w, "shape", l.Shape);
                        WriteInt(w, "sequence_length", l.SequenceLength);
                        break;
                    case "reshape":
                        WriteShape(w, "shape", l.Shape);
                        break;
                    case "pool":
                        w.WriteString("pool", l.Pool);
                        w.WriteBoolean("global", l.Global);
                        if (!l.Global)
                        {
                            w.WriteNumber("dimensions", l.Dimensions);
                            w.WriteNumber("size", l.Size);
                            w.WriteNumber("stride", l.Stride);
                            w.WriteNumber("padding", l.Padding);
                        }
                        break;
                    case "flatten":
                        break;
                    default:
                        WriteShape(w, "shape", l.Shape);
                        w.WriteString("combine", l.Combine.ToString().ToLowerInvariant());
                        w.WriteBoolean("bias", l.Bias);
                        w.WriteBoolean("changes_shape", l.ChangesShape);
                        w.WriteStartObject("options");
                        foreach (var (k, v) in l.Options!) w.WriteString(k, v);
                        w.WriteEndObject();
                        break;
                }
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartArray("connections");
            foreach (var c in r.Connections)
            {
                w.WriteStartObject();
                w.WriteString("kind", c.Kind);
                w.WriteString("name", c.Name);
                w.WriteString("from", c.From);
                w.WriteString("to", c.To);
                w.WriteNumber("delay", c.Delay);
                if (c.Init is { } init)
                {
                    w.WriteStartObject("init");
                    if (init.Scheme is null) w.WriteNull("scheme");
                    else w.WriteString("scheme", init.Scheme);
                    if (init.Seed is ulong seed) w.WriteString("seed", seed.ToString(CultureInfo.InvariantCulture));
                    else w.WriteNull("seed");
                    w.WriteStartObject("attributes");
                    foreach (var (k, v) in init.Attributes.OrderBy(kv => kv.Key, StringComparer.Ordinal)) w.WriteNumber(k.ToLowerInvariant(), v);
                    w.WriteEndObject();
                    w.WriteEndObject();
                }
                switch (c.Kind)
                {
                    case "dense":
                        w.WriteBoolean("bias", c.Bias);
                        WriteInt(w, "units", c.Units);
                        break;
                    case "conv2d" or "conv1d":
                        w.WriteBoolean("bias", c.Bias);
                        WriteConv(w, c);
                        w.WriteStartObject("padding");
                        w.WriteBoolean("same", c.Pad.IsSame);
                        w.WriteNumber("top", c.Pad.Top);
                        w.WriteNumber("bottom", c.Pad.Bottom);
                        w.WriteNumber("left", c.Pad.Left);
                        w.WriteNumber("right", c.Pad.Right);
                        w.WriteEndObject();
                        break;
                    case "conv_transpose2d":
                        w.WriteBoolean("bias", c.Bias);
                        WriteConv(w, c);
                        w.WriteNumber("padding", c.PadT);
                        WriteInt(w, "output_padding", c.OutputPadding);
                        break;
                    case "elementwise":
                        w.WriteBoolean("bias", c.Bias);
                        break;
                    case "tied":
                        w.WriteBoolean("bias", c.Bias);
                        w.WriteString("partner", c.Partner);
                        break;
                    case "shared":
                        w.WriteString("partner", c.Partner);
                        break;
                    case "identity" or "complement":
                        break;
                    default:
                        w.WriteStartObject("options");
                        foreach (var (k, v) in c.Options!) w.WriteString(k, v);
                        w.WriteEndObject();
                        break;
                }
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartArray("outputs");
            foreach (var (layer, mode) in r.Outputs)
            {
                w.WriteStartObject();
                w.WriteString("layer", layer);
                w.WriteString("mode", mode == OutputMode.LastStep ? "last_step" : "all_steps");
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(ms.ToArray());
    }

    /// <summary>The lowest format version that describes the record: 1, or 2 when a connection has init settings.</summary>
    internal static int VersionOf(NetworkRecord r) => r.Connections.Exists(c => c.Init is not null) ? 2 : 1;

    private static Layers.LayerInit ReadInit(JsonElement e, string at, Func<string, ModelFormatException> bad)
    {
        var o = Obj(e, at, bad);
        Only(o, at, bad, "scheme", "seed", "attributes");
        var s = Req(o, "scheme", at, bad);
        string? scheme = s.ValueKind == JsonValueKind.Null ? null : Str(s, at + ".scheme", bad);
        var sd = Req(o, "seed", at, bad);
        ulong? seed = null;
        if (sd.ValueKind != JsonValueKind.Null)
        {
            string text = Str(sd, at + ".seed", bad);
            seed = ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out ulong u) ? u
                : throw bad($"{at}.seed must be a decimal unsigned 64-bit integer in a string; got '{Short(text)}'.");
        }
        var attrs = new List<KeyValuePair<string, double>>();
        var a = Obj(Req(o, "attributes", at, bad), at + ".attributes", bad);
        foreach (var p in a.EnumerateObject())
        {
            if (attrs.Count >= 64) throw bad($"{at}.attributes has more than 64 entries.");
            if (p.Value.ValueKind != JsonValueKind.Number || !p.Value.TryGetDouble(out double v) || !double.IsFinite(v))
                throw bad($"{at}.attributes.{Short(p.Name)} must be a finite number.");
            attrs.Add(new(p.Name, v));
        }
        try
        {
            return new Layers.LayerInit(scheme, attrs, seed);
        }
        catch (SpecValidationException x)
        {
            throw bad($"{at}: {x.Message}");
        }
    }

    private static void WriteConv(Utf8JsonWriter w, ConnectionRecord c)
    {
        w.WriteNumber("kernel_size", c.Kernel);
        w.WriteNumber("stride", c.Stride);
        w.WriteNumber("dilation", c.Dilation);
        WriteInt(w, "out_channels", c.OutChannels);
    }

    private static void WriteInt(Utf8JsonWriter w, string name, int? v)
    {
        if (v is int i) w.WriteNumber(name, i);
        else w.WriteNull(name);
    }

    private static void WriteShape(Utf8JsonWriter w, string name, int[]? s)
    {
        if (s is null)
        {
            w.WriteNull(name);
            return;
        }
        w.WriteStartArray(name);
        foreach (int d in s) w.WriteNumberValue(d);
        w.WriteEndArray();
    }

    // ------------------------------------------------------------------ JSON -> record (untrusted)

    /// <summary>Parses and checks architecture JSON: every field's type and range, unique names, known kinds,
    /// references to existing layers and connections. Shapes are checked later by the planner.</summary>
    internal static NetworkRecord FromJson(string json, Func<string, ModelFormatException> bad) => FromJson(json, bad, NetworkFile.FormatVersion, false);

    /// <summary>The <c>model.kind</c> of a version-2 architecture, or null when it has no <c>model</c> (a Connect network).</summary>
    internal static string? ModelKind(string json, Func<string, ModelFormatException> bad)
    {
        using (var doc = ParseArchitecture(json, bad))
        {
            var root = Obj(doc.RootElement, "architecture", bad);
            if (!root.TryGetProperty("model", out var model)) return null;
            return Str(Req(Obj(model, "model", bad), "kind", "model", bad), "model.kind", bad);
        }
    }

    /// <summary>Parses a version-<paramref name="fileVersion"/> architecture; <paramref name="allowModel"/> lets a
    /// version-2 file carry a (feedback chain's) <c>model</c> section, read elsewhere.</summary>
    internal static NetworkRecord FromJson(string json, Func<string, ModelFormatException> bad, int fileVersion, bool allowModel)
    {
        using (var doc = ParseArchitecture(json, bad))
        {
            var root = Obj(doc.RootElement, "architecture", bad);
            if (allowModel && fileVersion == 2) Only(root, "architecture", bad, "format_version", "network", "layers", "connections", "outputs", "model");
            else Only(root, "architecture", bad, "format_version", "network", "layers", "connections", "outputs");
            int version = Int(Req(root, "format_version", "architecture", bad), "architecture.format_version", bad, 1, int.MaxValue);
            if (version != fileVersion)
                throw bad($"architecture.format_version is {version}; the metadata says {fileVersion}.");
            var net = Obj(Req(root, "network", "architecture", bad), "network", bad);
            Only(net, "network", bad, "name", "dtype", "seed", "steps", "truncated_bptt", "stateful", "fuse_dense_layers");
            string dtype = Str(Req(net, "dtype", "network", bad), "network.dtype", bad);
            string seedText = Str(Req(net, "seed", "network", bad), "network.seed", bad);
            if (!ulong.TryParse(seedText, NumberStyles.None, CultureInfo.InvariantCulture, out ulong seed))
                throw bad($"network.seed must be a decimal unsigned 64-bit integer in a string; got '{Short(seedText)}'.");
            var r = new NetworkRecord
            {
                Name = Str(Req(net, "name", "network", bad), "network.name", bad),
                DType = dtype switch
                {
                    "float32" => DType.Float32,
                    "float64" => DType.Float64,
                    _ => throw bad($"network.dtype must be 'float32' or 'float64'; got '{Short(dtype)}'."),
                },
                Seed = seed,
                Steps = OptInt(net, "steps", "network", bad, 1, MaxSteps),
                TruncatedBptt = OptInt(net, "truncated_bptt", "network", bad, 1, MaxSteps),
                Stateful = Bool(Req(net, "stateful", "network", bad), "network.stateful", bad),
                FuseDenseLayers = Bool(Req(net, "fuse_dense_layers", "network", bad), "network.fuse_dense_layers", bad),
            };
            var layers = Arr(Req(root, "layers", "architecture", bad), "layers", bad);
            if (layers.GetArrayLength() > MaxLayers) throw bad($"layers has {layers.GetArrayLength()} entries (at most {MaxLayers}).");
            var layerNames = new HashSet<string>(StringComparer.Ordinal);
            int li = 0;
            foreach (var e in layers.EnumerateArray())
            {
                var l = ReadLayer(e, $"layers[{li++}]", bad);
                if (!layerNames.Add(l.Name)) throw bad($"two layers are named '{Short(l.Name)}'.");
                r.Layers.Add(l);
            }
            if (r.Layers.Count == 0) throw bad("the network has no layers.");
            var conns = Arr(Req(root, "connections", "architecture", bad), "connections", bad);
            if (conns.GetArrayLength() > MaxLayers) throw bad($"connections has {conns.GetArrayLength()} entries (at most {MaxLayers}).");
            var connNames = new HashSet<string>(StringComparer.Ordinal);
            int ci = 0;
            foreach (var e in conns.EnumerateArray())
            {
                string at = $"connections[{ci++}]";
                var c = ReadConnection(e, at, bad, fileVersion);
                if (!connNames.Add(c.Name)) throw bad($"two connections are named '{Short(c.Name)}'.");
                if (!layerNames.Contains(c.From)) throw bad($"{at} ('{Short(c.Name)}') comes from '{Short(c.From)}', which is not a layer of the network.");
                if (!layerNames.Contains(c.To)) throw bad($"{at} ('{Short(c.Name)}') goes to '{Short(c.To)}', which is not a layer of the network.");
                if (r.Layers.Find(x => x.Name == c.To)!.Kind == "input") throw bad($"{at} ('{Short(c.Name)}') goes into input layer '{Short(c.To)}'; input layers take no connections.");
                r.Connections.Add(c);
            }
            foreach (var c in r.Connections)
                if (c.Partner is { } p && !connNames.Contains(p))
                    throw bad($"connection '{Short(c.Name)}' ({c.Kind}) names partner '{Short(p)}', which is not a connection of the network.");
            var outs = Arr(Req(root, "outputs", "architecture", bad), "outputs", bad);
            int oi = 0;
            foreach (var e in outs.EnumerateArray())
            {
                string at = $"outputs[{oi++}]";
                var o = Obj(e, at, bad);
                Only(o, at, bad, "layer", "mode");
                string layer = Str(Req(o, "layer", at, bad), at + ".layer", bad);
                if (!layerNames.Contains(layer)) throw bad($"{at} names layer '{Short(layer)}', which is not a layer of the network.");
                string mode = Str(Req(o, "mode", at, bad), at + ".mode", bad);
                r.Outputs.Add((layer, mode switch
                {
                    "all_steps" => OutputMode.AllSteps,
                    "last_step" => OutputMode.LastStep,
                    _ => throw bad($"{at}.mode must be 'all_steps' or 'last_step'; got '{Short(mode)}'."),
                }));
            }
            if (oi > MaxLayers) throw bad($"outputs has {oi} entries (at most {MaxLayers}).");
            return r;
        }
    }

    private static LayerRecord ReadLayer(JsonElement e, string at, Func<string, ModelFormatException> bad)
    {
        var o = Obj(e, at, bad);
        string kind = Str(Req(o, "kind", at, bad), at + ".kind", bad);
        string name = Name(Req(o, "name", at, bad), at + ".name", bad);
        var l = new LayerRecord { Kind = kind, Name = name };
        l.Activation = Str(Req(o, "activation", at, bad), at + ".activation", bad);
        if (!Activations.IsKnown(l.Activation))
            throw bad($"{at} ('{Short(name)}'): unknown activation '{Short(l.Activation)}'. Known: {string.Join(", ", Activations.Names)} " +
                      "(a custom activation must be registered with Activations.Register before loading).");
        l.LearnInitialState = Bool(Req(o, "learn_initial_state", at, bad), at + ".learn_initial_state", bad);
        switch (kind)
        {
            case "layer":
                Only(o, at, bad, "kind", "name", "activation", "learn_initial_state", "shape", "combine", "bias");
                l.Shape = Shape(Req(o, "shape", at, bad), at + ".shape", bad, nullable: true);
                string combine = Str(Req(o, "combine", at, bad), at + ".combine", bad);
                l.Combine = combine switch
                {
                    "sum" => CombineRule.Sum,
                    "product" => CombineRule.Product,
                    "concat" => CombineRule.Concat,
                    _ => throw bad($"{at}.combine must be 'sum', 'product' or 'concat'; got '{Short(combine)}'."),
                };
                l.Bias = Bool(Req(o, "bias", at, bad), at + ".bias", bad);
                break;
            case "input":
                Only(o, at, bad, "kind", "name", "activation", "learn_initial_state", "shape", "sequence_length");
                l.Shape = Shape(Req(o, "shape", at, bad), at + ".shape", bad, nullable: false);
                l.SequenceLength = OptInt(o, "sequence_length", at, bad, 1, MaxSteps);
                break;
            case "flatten":
                Only(o, at, bad, "kind", "name", "activation", "learn_initial_state");
                break;
            case "reshape":
                Only(o, at, bad, "kind", "name", "activation", "learn_initial_state", "shape");
                l.Shape = Shape(Req(o, "shape", at, bad), at + ".shape", bad, nullable: false);
                break;
            case "pool":
                l.Pool = Str(Req(o, "pool", at, bad), at + ".pool", bad);
                if (l.Pool is not ("max" or "average")) throw bad($"{at}.pool must be 'max' or 'average'; got '{Short(l.Pool)}'.");
                l.Global = Bool(Req(o, "global", at, bad), at + ".global", bad);
                if (l.Global)
                {
                    Only(o, at, bad, "kind", "name", "activation", "learn_initial_state", "pool", "global");
                    break;
                }
                Only(o, at, bad, "kind", "name", "activation", "learn_initial_state", "pool", "global", "dimensions", "size", "stride", "padding");
                l.Dimensions = Int(Req(o, "dimensions", at, bad), at + ".dimensions", bad, 1, 2);
                l.Size = Int(Req(o, "size", at, bad), at + ".size", bad, 1, MaxSize);
                l.Stride = Int(Req(o, "stride", at, bad), at + ".stride", bad, 1, MaxSize);
                l.Padding = Int(Req(o, "padding", at, bad), at + ".padding", bad, 0, l.Size / 2);
                break;
            default:
                if (Connections.LayerKinds.Find(kind) is null)
                    throw bad($"{at} ('{Short(name)}'): unknown layer kind '{Short(kind)}'. Known layer kinds: {string.Join(", ", LayerKinds)}; " +
                              $"registered: {(Connections.LayerKinds.Registered.Count == 0 ? "none" : string.Join(", ", Connections.LayerKinds.Registered))} " +
                              "(a custom kind loads once registered with LayerKinds.Register).");
                Only(o, at, bad, "kind", "name", "activation", "learn_initial_state", "shape", "combine", "bias", "changes_shape", "options");
                l.Shape = Shape(Req(o, "shape", at, bad), at + ".shape", bad, nullable: true);
                l.Combine = Str(Req(o, "combine", at, bad), at + ".combine", bad) switch
                {
                    "sum" => CombineRule.Sum,
                    "product" => CombineRule.Product,
                    "concat" => CombineRule.Concat,
                    var other => throw bad($"{at}.combine must be 'sum', 'product' or 'concat'; got '{Short(other)}'."),
                };
                l.Bias = Bool(Req(o, "bias", at, bad), at + ".bias", bad);
                l.ChangesShape = Bool(Req(o, "changes_shape", at, bad), at + ".changes_shape", bad);
                var lopts = Obj(Req(o, "options", at, bad), at + ".options", bad);
                l.Options = new SortedDictionary<string, string>(StringComparer.Ordinal);
                foreach (var p2 in lopts.EnumerateObject())
                {
                    if (l.Options.Count >= 64) throw bad($"{at}.options has more than 64 entries.");
                    string v = Str(p2.Value, $"{at}.options.{Short(p2.Name)}", bad);
                    if (v.Length > 4096 || p2.Name.Length > 256) throw bad($"{at}.options.{Short(p2.Name)} is too long.");
                    if (!l.Options.TryAdd(p2.Name, v)) throw bad($"{at}.options has '{Short(p2.Name)}' twice.");
                }
                break;
        }
        return l;
    }

    private static ConnectionRecord ReadConnection(JsonElement e, string at, Func<string, ModelFormatException> bad, int fileVersion)
    {
        var o = Obj(e, at, bad);
        if (o.TryGetProperty("init", out var initElement) && fileVersion < 2)
            throw bad($"{at} has 'init', which format version {fileVersion} does not have.");
        string kind = Str(Req(o, "kind", at, bad), at + ".kind", bad);
        string name = Name(Req(o, "name", at, bad), at + ".name", bad);
        var c = new ConnectionRecord
        {
            Kind = kind,
            Name = name,
            From = Name(Req(o, "from", at, bad), at + ".from", bad),
            To = Name(Req(o, "to", at, bad), at + ".to", bad),
            Delay = Int(Req(o, "delay", at, bad), at + ".delay", bad, 0, MaxDelay),
        };
        string[] common = fileVersion >= 2 ? ["kind", "name", "from", "to", "delay", "init"] : ["kind", "name", "from", "to", "delay"];
        if (initElement.ValueKind != JsonValueKind.Undefined) c.Init = ReadInit(initElement, at + ".init", bad);
        switch (kind)
        {
            case "dense":
                Only(o, at, bad, [.. common, "bias", "units"]);
                c.Bias = Bool(Req(o, "bias", at, bad), at + ".bias", bad);
                c.Units = OptInt(o, "units", at, bad, 1, int.MaxValue);
                break;
            case "conv2d" or "conv1d":
                Only(o, at, bad, [.. common, "bias", "kernel_size", "stride", "dilation", "out_channels", "padding"]);
                ReadConv(o, c, at, bad);
                var p = Obj(Req(o, "padding", at, bad), at + ".padding", bad);
                Only(p, at + ".padding", bad, "same", "top", "bottom", "left", "right");
                bool same = Bool(Req(p, "same", at + ".padding", bad), at + ".padding.same", bad);
                int top = Int(Req(p, "top", at + ".padding", bad), at + ".padding.top", bad, 0, MaxSize);
                int bottom = Int(Req(p, "bottom", at + ".padding", bad), at + ".padding.bottom", bad, 0, MaxSize);
                int left = Int(Req(p, "left", at + ".padding", bad), at + ".padding.left", bad, 0, MaxSize);
                int right = Int(Req(p, "right", at + ".padding", bad), at + ".padding.right", bad, 0, MaxSize);
                if (same && top + bottom + left + right != 0) throw bad($"{at}.padding: 'same' padding has no amounts.");
                c.Pad = same ? Padding.Same : Padding.Explicit(top, bottom, left, right);
                if (kind == "conv1d")
                {
                    if (c.Delay != 0) throw bad($"{at} ('{Short(name)}'): a conv1d connection has no delay; got {c.Delay}.");
                    if (c.OutChannels is null) throw bad($"{at} ('{Short(name)}'): a conv1d connection needs out_channels.");
                }
                break;
            case "conv_transpose2d":
                Only(o, at, bad, [.. common, "bias", "kernel_size", "stride", "dilation", "out_channels", "padding", "output_padding"]);
                ReadConv(o, c, at, bad);
                c.PadT = Int(Req(o, "padding", at, bad), at + ".padding", bad, 0, MaxSize);
                c.OutputPadding = OptInt(o, "output_padding", at, bad, 0, MaxSize);
                break;
            case "identity" or "complement":
                Only(o, at, bad, common);
                break;
            case "elementwise":
                Only(o, at, bad, [.. common, "bias"]);
                c.Bias = Bool(Req(o, "bias", at, bad), at + ".bias", bad);
                break;
            case "tied":
                Only(o, at, bad, [.. common, "bias", "partner"]);
                c.Bias = Bool(Req(o, "bias", at, bad), at + ".bias", bad);
                c.Partner = Name(Req(o, "partner", at, bad), at + ".partner", bad);
                break;
            case "shared":
                Only(o, at, bad, [.. common, "partner"]);
                c.Partner = Name(Req(o, "partner", at, bad), at + ".partner", bad);
                break;
            default:
                if (Connections.ConnectionKinds.Find(kind) is null)
                    throw bad($"{at} ('{Short(name)}'): unknown connection kind '{Short(kind)}'. Known connection kinds: {string.Join(", ", ConnectionKinds)}; " +
                              $"registered: {(Connections.ConnectionKinds.Registered.Count == 0 ? "none" : string.Join(", ", Connections.ConnectionKinds.Registered))} " +
                              "(a custom kind loads once registered with ConnectionKinds.Register).");
                Only(o, at, bad, [.. common, "options"]);
                var opts = Obj(Req(o, "options", at, bad), at + ".options", bad);
                c.Options = new SortedDictionary<string, string>(StringComparer.Ordinal);
                foreach (var p2 in opts.EnumerateObject())
                {
                    if (c.Options.Count >= 64) throw bad($"{at}.options has more than 64 entries.");
                    string v = Str(p2.Value, $"{at}.options.{Short(p2.Name)}", bad);
                    if (v.Length > 4096 || p2.Name.Length > 256) throw bad($"{at}.options.{Short(p2.Name)} is too long.");
                    if (!c.Options.TryAdd(p2.Name, v)) throw bad($"{at}.options has '{Short(p2.Name)}' twice.");
                }
                break;
        }
        return c;
    }

    private static void ReadConv(JsonElement o, ConnectionRecord c, string at, Func<string, ModelFormatException> bad)
    {
        c.Bias = Bool(Req(o, "bias", at, bad), at + ".bias", bad);
        c.Kernel = Int(Req(o, "kernel_size", at, bad), at + ".kernel_size", bad, 1, MaxSize);
        c.Stride = Int(Req(o, "stride", at, bad), at + ".stride", bad, 1, MaxSize);
        c.Dilation = Int(Req(o, "dilation", at, bad), at + ".dilation", bad, 1, MaxSize);
        c.OutChannels = OptInt(o, "out_channels", at, bad, 1, MaxSize);
    }

    internal static string Short(string s) => s.Length <= 80 ? s : s[..80] + "...";
}
