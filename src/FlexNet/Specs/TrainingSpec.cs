// Over 400 lines: the graph sections (inputs, layers, connections with their shape checks, outputs) are one validation
// pass sharing the name tables; the value readers (TrainingSpec.Ctx.cs), the training sections (TrainingSpec.Training.cs)
// and the theanets shorthand (TrainingSpec.Theanets.cs) are in their own files.
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using FlexNet.Autodiff;
using FlexNet.Connections;
using FlexNet.Graph;
using FlexNet.Layers;
using FlexNet.Losses;
using FlexNet.Metrics;
using FlexNet.Optimizers;
using FlexNet.Tensors;
using FlexNet.Training;

namespace FlexNet.Specs;

/// <summary>
/// A whole training described by a spec file (JSON, or YAML read into the same JSON tree): the network as a graph of
/// inputs, layers and connections (any delay; a delay-0 cycle is refused), its outputs, the loss, the optimizer
/// (a name understood by <see cref="OptimizerFactory"/> and its hyper-parameters), epochs, batch size, seed,
/// validation split and the data. Every defect raises <see cref="SpecValidationException"/> naming the file, the JSON
/// path (<c>$.connections[3].to</c>) and, for YAML, the line. Nothing in a file names a .NET type; sizes are bounded
/// so that a small file cannot make FlexNet allocate without limit. The schema is <c>docs/spec.schema.json</c>.
/// </summary>
public sealed partial class TrainingSpec
{
    /// <summary>Largest number of elements a single layer or input may have (2^24).</summary>
    public const int MaxLayerElements = 1 << 24;

    /// <summary>Largest number of layers, inputs or connections in a spec.</summary>
    public const int MaxItems = 4096;

    // Stryker disable all : static lists, filled once per process before any mutant is active, so Stryker's reused test host cannot switch them (and it tests each such mutant against every test); SpecMessageTests' whole messages spell every entry out by hand (planted: a blanked entry fails them). A comment covers only the member after it, so each list has one.
    /// <summary>The layer kinds a spec accepts in <c>layers[i].kind</c>.</summary>
    public static IReadOnlyList<string> LayerKinds { get; } = ["layer", "pool", "flatten", "reshape"];

    // Stryker disable all : a static list like LayerKinds in TrainingSpec.cs (the reason is given there); SpecMessageTests spells it out
    /// <summary>The connection kinds a spec accepts in <c>connections[i].kind</c>.</summary>
    public static IReadOnlyList<string> ConnectionKinds { get; } = ["dense", "conv2d", "convtranspose2d", "identity", "elementwise", "tied"];

    /// <summary>The loss names a spec accepts (Keras' names included).</summary>
    public static IReadOnlyList<string> LossNames => Loss.RegisteredNames;

    // Stryker disable all : a static list like LayerKinds in TrainingSpec.cs (the reason is given there); SpecMessageTests spells it out
    private static readonly string[] TopKeys =
        ["name", "description", "seed", "steps", "inputs", "layers", "connections", "outputs", "loss", "optimizer", "epochs", "batch", "validation_split", "data", "metrics",
         "schedule", "regularizers", "early_stopping", "checkpoint", "model"];
    // Stryker restore all

    private TrainingSpec(string file) { File = file; }

    /// <summary>The spec file (as given).</summary>
    public string File { get; }

    // Stryker disable once String : BuildWithin sets the name before a spec is returned, so the initial value is never seen
    /// <summary>The network's name (<c>name</c>, else the file's name).</summary>
    public string Name { get; private set; } = "";

    /// <summary>The network, built (its shapes inferred and checked).</summary>
    public Network Network { get; private set; } = null!;

    /// <summary>The loss (<c>loss</c>; default cross-entropy on logits).</summary>
    public Loss Loss { get; private set; } = null!;

    /// <summary>The optimizer rule (<c>optimizer</c>; default Adam 1e-3).</summary>
    public OptimizerRule Optimizer { get; private set; } = null!;

    /// <summary>The metrics (accuracy for a class loss, none otherwise, unless <c>metrics</c> names them).</summary>
    public IReadOnlyList<Metric> Metrics { get; private set; } = [];

    /// <summary>Epochs (<c>epochs</c>, default 1).</summary>
    public int Epochs { get; private set; } = 1;

    /// <summary>Mini-batch size (<c>batch</c>, default 32).</summary>
    public int BatchSize { get; private set; } = 32;

    /// <summary>The seed of the initial weights and the data order (<c>seed</c>, default 1).</summary>
    public ulong Seed { get; private set; } = 1;

    /// <summary>Fraction of the training data held out for validation (<c>validation_split</c>, default 0).</summary>
    public double ValidationSplit { get; private set; }

    /// <summary>The data section, or null when the spec has none.</summary>
    public SpecData? Data { get; private set; }

    /// <summary>Reads, validates and builds a spec file (<c>.json</c>, <c>.yaml</c> or <c>.yml</c>).</summary>
    /// <param name="path">The spec file.</param>
    /// <param name="seed">A seed that replaces the spec's <c>seed</c> (the initial weights depend on it).</param>
    /// <returns>The spec with its network built.</returns>
    /// <exception cref="SpecValidationException">The file is not valid (the message names the file, the JSON path and, for YAML, the line).</exception>
    public static TrainingSpec Load(string path, ulong? seed = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        var (root, lines) = SpecReader.Read(path);
        return Build(root, lines, path, Path.GetDirectoryName(Path.GetFullPath(path)) ?? ".", seed);
    }

    /// <summary>Validates and builds a spec held in memory.</summary>
    /// <param name="text">JSON or YAML text.</param>
    /// <param name="fileName">A name for messages; its extension picks JSON (<c>.json</c>) or YAML.</param>
    /// <param name="baseDirectory">The directory that relative data paths start from.</param>
    /// <returns>The spec with its network built.</returns>
    /// <exception cref="SpecValidationException">The text is not a valid spec.</exception>
    public static TrainingSpec Parse(string text, string fileName, string? baseDirectory = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.Length > SpecReader.MaxBytes) throw new SpecValidationException($"{fileName}: a spec may have at most {SpecReader.MaxBytes} characters.");
        var (root, lines) = SpecReader.Parse(text, fileName);
        return Build(root, lines, fileName, baseDirectory ?? Directory.GetCurrentDirectory(), null);
    }

    /// <summary>Trainer options from the spec: epochs, batch, seed, loss, optimizer, metrics, validation split, and the
    /// input batch axis (1 when an input is a sequence, whose tensors are [T, N, ...]).</summary>
    /// <returns>New options the caller may change further.</returns>
    public TrainerOptions CreateTrainerOptions() => new()
    {
        Epochs = Epochs,
        BatchSize = BatchSize,
        Seed = Seed,
        Loss = Loss,
        Optimizer = Optimizer,
        Metrics = Metrics,
        ValidationSplit = ValidationSplit,
        Schedule = Schedule,
        Regularizers = Regularizers,
        EarlyStopping = EarlyStopping,
        CheckpointPath = CheckpointPath,
        CheckpointEvery = CheckpointEvery,
        InputBatchAxis = Network.Inputs.Any(i => i.IsTemporal) ? 1 : 0,
        TargetBatchAxis = Data is { TargetIsInput: true } && Network.Inputs.Any(i => i.IsTemporal) ? 1 : 0,
    };

    // ---------------------------------------------------------------------------------------------------------------

    /// <summary>Most tensor bytes building a spec's network may allocate (1 GiB): a few lines of a file must not ask for more.</summary>
    public const long MaxBuildBytes = 1L << 30;

    private static TrainingSpec Build(JsonNode root, Dictionary<string, int> lines, string file, string baseDir, ulong? seedOverride)
    {
        using var budget = AllocationBudget.Limit(MaxBuildBytes, $"{file}: the network");
        return BuildWithin(root, lines, file, baseDir, seedOverride);
    }

    private static TrainingSpec BuildWithin(JsonNode root, Dictionary<string, int> lines, string file, string baseDir, ulong? seedOverride)
    {
        var c = new Ctx(file, lines);
        var spec = new TrainingSpec(file);
        var top = root.AsObject(); // SpecReader refuses a root that is not an object, naming the file
        c.Keys(top, "$", TopKeys);

        spec.Name = c.Str(top, "name", "$") ?? Path.GetFileNameWithoutExtension(file);
        spec.Seed = seedOverride ?? (ulong)(c.Long(top, "seed", "$", 0, long.MaxValue) ?? 1);
        spec.Epochs = c.Int(top, "epochs", "$", 1, 1_000_000) ?? 1;
        spec.BatchSize = c.Int(top, "batch", "$", 1, 1 << 20) ?? 32;
        spec.ValidationSplit = c.Num(top, "validation_split", "$", 0, 0.99) ?? 0;

        if (top["model"] is { } model)
        {
            foreach (var k in new[] { "inputs", "layers", "connections", "outputs", "steps" })
                if (top[k] is not null) throw c.Fail("$." + k, $"give 'model' (theanets layer specs) or inputs/layers/connections/outputs, not both; '{k}' is set.");
            spec.Network = BuildTheanets(c, model, spec);
        }
        else spec.Network = BuildGraph(c, top, spec);

        // loss, optimizer, metrics
        spec.Loss = ReadLoss(c, top);
        bool classes = spec.Loss is CrossEntropy;
        spec.Optimizer = ReadOptimizer(c, top);
        var metrics = c.Arr(top, "metrics", "$", required: false);
        if (metrics is null) spec.Metrics = classes ? [new Accuracy()] : [];
        else
        {
            var list = new List<Metric>();
            for (int i = 0; i < metrics.Count; i++)
            {
                string m = c.AsString(metrics[i], $"$.metrics[{i}]");
                c.NotTypeName(m, $"$.metrics[{i}]", "metric");
                try
                {
                    list.Add(Metric.Create(m));
                }
                catch (ArgumentException)
                {
                    throw c.Fail($"$.metrics[{i}]", $"unknown metric '{m}'. Known: {Join(Metric.KnownNames)}.");
                }
            }
            spec.Metrics = list;
        }

        ReadTraining(c, top, spec, baseDir);
        if (top["data"] is { } data) spec.Data = SpecData.Read(c, data, baseDir);
        return spec;
    }

    /// <summary>The network of <c>inputs</c>, <c>layers</c>, <c>connections</c> and <c>outputs</c>.</summary>
    private static Network BuildGraph(Ctx c, JsonObject top, TrainingSpec spec)
    {
        var net = new Network(spec.Name, DType.Float32, spec.Seed);
        var byName = new Dictionary<string, Layer>(StringComparer.Ordinal);
        var declaredAt = new Dictionary<string, string>(StringComparer.Ordinal);

        // inputs
        var inputs = c.Arr(top, "inputs", "$", required: true)!;
        if (inputs.Count == 0) throw c.Fail("$.inputs", "a spec needs at least one input.");
        for (int i = 0; i < inputs.Count; i++)
        {
            string p = $"$.inputs[{i}]";
            var o = c.Obj(inputs[i], p);
            c.Keys(o, p, ["name", "size", "shape", "sequence_length"]);
            string name = c.Name(o, p);
            int[] shape = c.Shape(o, p);
            int? seq = c.Int(o, "sequence_length", p, 1, 100_000);
            c.Unique(name, p, declaredAt);
            byName[name] = net.Add(new InputLayer(shape, seq, name));
        }

        // layers
        var layers = c.Arr(top, "layers", "$", required: true)!;
        for (int i = 0; i < layers.Count; i++)
        {
            string p = $"$.layers[{i}]";
            var o = c.Obj(layers[i], p);
            string name = c.Name(o, p);
            string? rawKind = c.Str(o, "kind", p);
            if (rawKind is not null) c.NotTypeName(rawKind, p + ".kind", "layer kind");
            if (rawKind is not null && !LayerKinds.Contains(rawKind.ToLowerInvariant()) && LayerRegistry.IsRegistered(rawKind.ToLowerInvariant()))
            {
                c.Unique(name, p, declaredAt);
                byName[name] = AttachForm(c, o, p, rawKind.ToLowerInvariant(), name, net, byName);
                continue;
            }
            if (rawKind is not null && !LayerKinds.Contains(rawKind.ToLowerInvariant()))
                throw c.Fail(p + ".kind", $"unknown layer kind '{rawKind}'. Registered: {string.Join(", ", LayerKinds)}, and the catalog forms {Join(LayerRegistry.Names)}.");
            string kind = rawKind?.ToLowerInvariant() ?? "layer";
            Layer layer;
            switch (kind)
            {
                case "layer":
                {
                    c.Keys(o, p, ["name", "kind", "size", "shape", "activation", "combine", "bias"]);
                    int[] shape = c.Shape(o, p);
                    string act = c.Activation(o, p);
                    // Stryker disable once String : the default's text only reaches the switch below, whose default arm is Sum
                    string combine = c.Word(o, "combine", p, ["sum", "product", "concat"], "combine rule") ?? "sum";
                    bool bias = c.Bool(o, "bias", p) ?? false;
                    var rule = combine switch { "product" => CombineRule.Product, "concat" => CombineRule.Concat, _ => CombineRule.Sum };
                    layer = new Layer(shape, act, rule, bias, name);
                    break;
                }
                case "pool":
                {
                    c.Keys(o, p, ["name", "kind", "pool", "window", "stride", "padding", "dims", "global"]);
                    // Stryker disable once String : the default's text is only compared with "avg" below, so any other text is Max
                    string pool = c.Word(o, "pool", p, ["max", "avg"], "pooling") ?? "max";
                    var pk = pool == "avg" ? PoolKind.Average : PoolKind.Max;
                    if (c.Bool(o, "global", p) == true) { layer = PoolLayer.Global(pk, name); break; }
                    int window = c.Int(o, "window", p, 1, 1024) ?? 2;
                    int? stride = c.Int(o, "stride", p, 1, 1024);
                    int padding = c.Int(o, "padding", p, 0, 1024) ?? 0;
                    int dims = c.Int(o, "dims", p, 1, 2) ?? 2;
                    layer = new PoolLayer(pk, dims, window, stride, padding, name);
                    break;
                }
                case "flatten":
                    c.Keys(o, p, ["name", "kind"]);
                    layer = new FlattenLayer(name);
                    break;
                default: // reshape
                    c.Keys(o, p, ["name", "kind", "shape"]);
                    layer = new ReshapeLayer(c.Shape(o, p, sizeKey: false), name);
                    break;
            }
            c.Unique(name, p, declaredAt);
            byName[name] = net.Add(layer);
        }
        if (declaredAt.Count > MaxItems) throw c.Fail("$.layers", $"a spec may have at most {MaxItems} layers and inputs; it has {declaredAt.Count}.");

        // connections
        var conns = c.Arr(top, "connections", "$", required: true)!;
        if (conns.Count > MaxItems) throw c.Fail("$.connections", $"a spec may have at most {MaxItems} connections; it has {conns.Count}.");
        var named = new Dictionary<string, (Connection C, string Path)>(StringComparer.Ordinal);
        var edges = new List<(string From, string To, int Delay, string Path)>();
        for (int i = 0; i < conns.Count; i++)
        {
            string p = $"$.connections[{i}]";
            var o = c.Obj(conns[i], p);
            string kind = c.Word(o, "kind", p, ConnectionKinds, "connection kind") ?? "dense";
            string[] allowed = kind switch
            {
                "dense" => ["kind", "from", "to", "delay", "bias", "name"],
                "conv2d" => ["kind", "from", "to", "delay", "bias", "name", "kernel", "stride", "padding", "dilation", "channels"],
                "convtranspose2d" => ["kind", "from", "to", "delay", "bias", "name", "kernel", "stride", "padding", "dilation", "channels", "output_padding"],
                "identity" => ["kind", "from", "to", "delay", "name"],
                "elementwise" => ["kind", "from", "to", "delay", "bias", "name"],
                _ => ["kind", "from", "to", "delay", "bias", "name", "partner"],
            };
            c.Keys(o, p, allowed);
            var from = c.LayerRef(o, "from", p, byName);
            var to = c.LayerRef(o, "to", p, byName);
            if (to is InputLayer) throw c.Fail(p + ".to", $"'{to.Name}' is an input; a connection cannot feed an input.");
            int delay = c.Int(o, "delay", p, 0, 10_000) ?? 0;
            string? cname = c.Str(o, "name", p);
            if (cname is not null && named.ContainsKey(cname)) throw c.Fail(p + ".name", $"connection name '{cname}' is already used at {named[cname].Path}.");
            bool bias = c.Bool(o, "bias", p) ?? kind is "dense" or "conv2d" or "convtranspose2d" or "tied";
            Connection made;
            try
            {
                switch (kind)
                {
                    case "dense":
                        if (from.DeclaredShape is { } fs && to.DeclaredShape is { } ts)
                        {
                            long nIn = Product(fs), nOut = Product(ts);
                            if (nIn * nOut * 4 > MaxBuildBytes)
                                throw c.Fail(p, $"a dense connection from '{from.Name}' ({nIn} features) to '{to.Name}' ({nOut}) needs {nIn * nOut} weights " +
                                                $"({nIn * nOut * 4} bytes); building a spec's network may allocate at most {MaxBuildBytes} bytes.");
                        }
                        made = net.ConnectDense(from, to, delay, bias, name: cname);
                        break;
                    case "conv2d":
                    case "convtranspose2d":
                    {
                        int kernel = c.Int(o, "kernel", p, 1, 64) ?? throw c.Fail(p + ".kernel", "a convolution needs 'kernel' (the kernel size).");
                        int stride = c.Int(o, "stride", p, 1, 64) ?? 1;
                        int dilation = c.Int(o, "dilation", p, 1, 64) ?? 1;
                        int? channels = c.Int(o, "channels", p, 1, 1 << 16);
                        CheckConv(c, p, kind, from, to, kernel, stride, dilation, o);
                        if (kind == "conv2d")
                        {
                            Padding pad = c.Padding(o, p);
                            made = net.ConnectConv2d(from, to, kernel, stride, pad, delay, bias, dilation, channels, cname);
                        }
                        else
                        {
                            int pad = c.Int(o, "padding", p, 0, 64) ?? 0;
                            int? outPad = c.Int(o, "output_padding", p, 0, 63);
                            made = net.ConnectConvTranspose2d(from, to, kernel, stride, pad, delay, bias, dilation, channels, outPad, cname);
                        }
                        break;
                    }
                    case "identity":
                        CheckSameShape(c, p, from, to);
                        made = net.ConnectIdentity(from, to, delay, cname);
                        break;
                    case "elementwise":
                        CheckSameShape(c, p, from, to);
                        made = net.ConnectElementwise(from, to, delay, bias, cname);
                        break;
                    default:
                    {
                        string partnerName = c.Str(o, "partner", p) ?? throw c.Fail(p + ".partner", "a tied connection needs 'partner': the name of an earlier dense connection whose weight it shares.");
                        if (!named.TryGetValue(partnerName, out var partner))
                            throw c.Fail(p + ".partner", $"no earlier connection is named '{partnerName}'. Named connections: {Join(named.Keys)}.");
                        if (partner.C is not DenseConnection dense)
                            throw c.Fail(p + ".partner", $"'{partnerName}' ({partner.Path}) is not a dense connection; only a dense weight can be tied.");
                        CheckTied(c, p, from, to, dense, partnerName);
                        made = net.ConnectTied(from, to, dense, delay, bias, cname);
                        break;
                    }
                }
            }
            catch (Exception e) when (e is ArgumentException or FlexNetException and not SpecValidationException)
            {
                throw c.Fail(p, e.Message);
            }
            if (cname is not null) named[cname] = (made, p);
            edges.Add((from.Name, to.Name, delay, p));
        }
        CheckCycles(c, edges);

        // outputs
        var outs = c.Arr(top, "outputs", "$", required: true)!;
        if (outs.Count == 0) throw c.Fail("$.outputs", "a spec needs at least one output.");
        for (int i = 0; i < outs.Count; i++)
        {
            string p = $"$.outputs[{i}]";
            Layer layer;
            OutputMode mode = OutputMode.LastStep;
            if (outs[i] is JsonValue)
            {
                string n = c.AsString(outs[i], p);
                layer = byName.TryGetValue(n, out var l) ? l : throw c.Fail(p, $"no layer is named '{n}'. Layers: {Join(byName.Keys)}.");
            }
            else
            {
                var o = c.Obj(outs[i], p);
                c.Keys(o, p, ["layer", "mode"]);
                layer = c.LayerRef(o, "layer", p, byName);
                // Stryker disable once String : the default's text is only compared with "all", so any other text is LastStep
                mode = (c.Word(o, "mode", p, ["last", "all"], "output mode") ?? "last") == "all" ? OutputMode.AllSteps : OutputMode.LastStep;
            }
            net.AddOutput(layer, mode);
        }

        int? steps = c.Int(top, "steps", "$", 1, 10_000);
        if (steps is { } s) net.Steps = s;
        try
        {
            net.Build();
        }
        catch (Exception e) when (e is ArgumentException or FlexNetException and not SpecValidationException)
        {
            string at = "$.connections";
            foreach (var edge in edges)
                if (e.Message.Contains($"'{edge.From}->{edge.To}'", StringComparison.Ordinal)) { at = edge.Path; break; }
            throw c.Fail(at, e.Message);
        }
        foreach (var l in net.Layers)
        {
            long n = 1;
            foreach (int d in l.OutputShape ?? []) n *= d;
            if (n > MaxLayerElements)
                throw c.Fail(declaredAt.TryGetValue(l.Name, out var at) ? at : "$.layers", $"layer '{l.Name}' has {n} elements per sample (shape {ShapeUtil.Format(l.OutputShape!)}); at most {MaxLayerElements} are allowed.");
        }
        return net;
    }

    /// <summary>A registered catalog form (<c>flexnet layers</c>) attached after the layers named in <c>inputs</c>; its
    /// other keys are the form's arguments.</summary>
    private static Layer AttachForm(Ctx c, JsonObject o, string p, string form, string name, Network net, Dictionary<string, Layer> byName)
    {
        var inputs = c.Arr(o, "inputs", p, required: true)!;
        var nodes = new List<Layer>(inputs.Count);
        for (int j = 0; j < inputs.Count; j++)
        {
            string n = c.AsString(inputs[j], $"{p}.inputs[{j}]");
            nodes.Add(byName.TryGetValue(n, out var l) ? l : throw c.Fail($"{p}.inputs[{j}]", $"no earlier layer or input is named '{n}'. Declared: {Join(byName.Keys)}."));
        }
        var args = new Dictionary<string, object>(StringComparer.Ordinal);
        foreach (var (k, v) in o)
        {
            if (k is "kind" or "inputs") continue;
            args[k] = c.ArgValue(v, $"{p}.{k}");
        }
        try
        {
            var layer = LayerRegistry.Create(form, new LayerArgs(args, p));
            return layer.Attach(net, nodes);
        }
        catch (SpecValidationException e)
        {
            throw c.Fail(p, e.Message.StartsWith(p + ": ", StringComparison.Ordinal) ? e.Message[(p.Length + 2)..] : e.Message);
        }
        catch (Exception e) when (e is ArgumentException or FlexNetException)
        {
            throw c.Fail(p, e.Message);
        }
    }

    private static OptimizerRule ReadOptimizer(Ctx c, JsonObject top)
    {
        var node = top["optimizer"];
        if (node is null) return new Adam(1e-3);
        string name;
        var hyper = new Dictionary<string, string>(StringComparer.Ordinal);
        const string p = "$.optimizer";
        if (node is JsonValue) name = c.AsString(node, p);
        else
        {
            var o = c.Obj(node, p);
            name = c.Str(o, "name", p) ?? throw c.Fail(p + ".name", "the optimizer needs a 'name' (sgd, adam, adamw, rmsprop, adagrad, adadelta, rprop).");
            foreach (var (k, v) in o)
            {
                if (k == "name") continue;
                if (v is JsonArray a) hyper[k] = string.Join(",", a.Select((x, j) => c.NumberText(x, $"{p}.{k}[{j}]")));
                else if (v is JsonValue jv && jv.TryGetValue(out bool b)) hyper[k] = b ? "true" : "false";
                else hyper[k] = c.NumberText(v, $"{p}.{k}");
            }
            string[] known = ["lr", "momentum", "dampening", "nesterov", "weight_decay", "betas", "eps", "alpha", "centered", "lr_decay", "initial_accumulator_value", "rho", "etas", "step_sizes"];
            foreach (var k in hyper.Keys)
                if (Array.IndexOf(known, k) < 0) throw c.Fail($"{p}.{k}", $"unknown optimizer setting '{k}'. Known: {string.Join(", ", known)}.");
        }
        c.NotTypeName(name, node is JsonValue ? p : p + ".name", "optimizer");
        try
        {
            return OptimizerFactory.FromPyTorchName(name, hyper);
        }
        catch (ArgumentException e)
        {
            throw c.Fail(node is JsonValue ? p : p + ".name", e.Message);
        }
    }

    private static void CheckConv(Ctx c, string p, string kind, Layer from, Layer to, int k, int stride, int dilation, JsonObject o)
    {
        var fs = from.DeclaredShape;
        var ts = to.DeclaredShape;
        if (fs is not null && fs.Length != 3)
            throw c.Fail(p + ".from", $"a {kind} connection needs a [channels, height, width] source; '{from.Name}' has shape {ShapeUtil.Format(fs)}.");
        if (ts is not null && ts.Length != 3)
            throw c.Fail(p + ".to", $"a {kind} connection needs a [channels, height, width] target; '{to.Name}' has shape {ShapeUtil.Format(ts)}.");
        if (fs is null || ts is null) return;
        for (int axis = 1; axis <= 2; axis++)
        {
            int h = fs[axis], span = dilation * (k - 1) + 1;
            int lo, hi;
            if (kind == "conv2d")
            {
                var pad = c.Padding(o, p);
                int before = pad.IsSame ? 0 : axis == 1 ? pad.Top : pad.Left, after = pad.IsSame ? 0 : axis == 1 ? pad.Bottom : pad.Right;
                lo = hi = pad.IsSame ? (h + stride - 1) / stride : (h + before + after - span) / stride + 1;
            }
            else
            {
                int pad = c.Int(o, "padding", p, 0, 64) ?? 0;
                int baseOut = (h - 1) * stride - 2 * pad + span;
                int? op = c.Int(o, "output_padding", p, 0, 63);
                lo = baseOut + (op ?? 0);
                hi = baseOut + (op ?? stride - 1);
            }
            if (ts[axis] < lo || ts[axis] > hi)
                throw c.Fail(p, $"shapes do not fit: a {kind} (kernel {k}, stride {stride}) from '{from.Name}' {ShapeUtil.Format(fs)} gives " +
                                $"{(lo == hi ? lo.ToString(CultureInfo.InvariantCulture) : $"{lo}..{hi}")} along axis {axis}, but '{to.Name}' is {ShapeUtil.Format(ts)}.");
        }
    }

    private static void CheckSameShape(Ctx c, string p, Layer from, Layer to)
    {
        // a concatenating target takes each source whole beside the others; the network checks their sum when it is built
        if (to.Combine != CombineRule.Concat && from.DeclaredShape is { } fs && to.DeclaredShape is { } ts && !fs.AsSpan().SequenceEqual(ts))
            throw c.Fail(p, $"shapes do not fit: '{from.Name}' is {ShapeUtil.Format(fs)} but '{to.Name}' is {ShapeUtil.Format(ts)}; this connection needs equal shapes.");
    }

    private static void CheckTied(Ctx c, string p, Layer from, Layer to, DenseConnection partner, string partnerName)
    {
        int? Size(Layer l) => l.DeclaredShape is { } s ? s.Aggregate(1, (a, b) => a * b) : null;
        if (Size(from) is { } f && Size(partner.To) is { } pt && f != pt)
            throw c.Fail(p + ".from", $"shapes do not fit: a connection tied to '{partnerName}' ({partner.From.Name} → {partner.To.Name}) reads {pt} features, but '{from.Name}' has {f}.");
        if (Size(to) is { } t && Size(partner.From) is { } pf && t != pf)
            throw c.Fail(p + ".to", $"shapes do not fit: a connection tied to '{partnerName}' ({partner.From.Name} → {partner.To.Name}) gives {pf} features, but '{to.Name}' has {t}.");
    }

    private static void CheckCycles(Ctx c, List<(string From, string To, int Delay, string Path)> edges)
    {
        var next = new Dictionary<string, List<(string To, string Path)>>(StringComparer.Ordinal);
        foreach (var e in edges)
            if (e.Delay == 0)
            {
                if (!next.TryGetValue(e.From, out var list)) next[e.From] = list = [];
                list.Add((e.To, e.Path));
            }
        var state = new Dictionary<string, int>(StringComparer.Ordinal); // 1 on the stack, 2 done
        var stack = new List<string>();
        foreach (var start in next.Keys)
        {
            if (state.ContainsKey(start)) continue;
            // iterative DFS
            var frames = new Stack<(string Node, int Index)>();
            frames.Push((start, 0));
            state[start] = 1;
            stack.Add(start);
            while (frames.Count > 0)
            {
                var (node, index) = frames.Pop();
                var outs = next.TryGetValue(node, out var l) ? l : [];
                if (index < outs.Count)
                {
                    frames.Push((node, index + 1));
                    var (to, path) = outs[index];
                    if (state.TryGetValue(to, out int st) && st == 1)
                    {
                        var cycle = stack.Skip(stack.IndexOf(to)).Append(to);
                        throw c.Fail(path, $"a cycle with delay 0: {string.Join(" → ", cycle)}. A recurrent connection needs 'delay: 1' or more.");
                    }
                    if (!state.ContainsKey(to))
                    {
                        state[to] = 1;
                        stack.Add(to);
                        frames.Push((to, 0));
                    }
                }
                else
                {
                    state[node] = 2;
                    stack.RemoveAt(stack.Count - 1);
                }
            }
        }
    }

    private static long Product(int[] shape)
    {
        long n = 1;
        foreach (int d in shape) n *= d;
        return n;
    }

    internal static string Join(IEnumerable<string> names) => string.Join(", ", names);
}
