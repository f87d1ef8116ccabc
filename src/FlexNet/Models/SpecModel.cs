using System.Runtime.CompilerServices;
using FlexNet.Autodiff;
using FlexNet.Graph;
using FlexNet.Layers;
using FlexNet.Tensors;

namespace FlexNet.Models;

/// <summary>
/// A model from a list of theanets layer specs. The first spec is the input: an int (size), a shape (int[] or a
/// tuple of ints, e.g. (1, 28, 28)) or a dictionary with <c>size</c>/<c>shape</c>/<c>name</c>. Every later spec is
/// an int (size), a registered form name, a tuple mixing a size, a form and an activation (e.g.
/// <c>(3, "nobias", "linear")</c>), a dictionary with <c>form</c>, <c>size</c>, <c>activation</c>, <c>name</c>,
/// <c>inputs</c> (a name or names of earlier layers; default the previous layer), <c>h_0</c> (recurrent forms: an earlier
/// layer whose output is the initial state), <c>connection</c> (dense forms: a kind registered in
/// <see cref="ConnectionRegistry"/> for the layer's incoming edges, with the kind's options as further keys) plus form options and init
/// attributes, or a <see cref="CatalogLayer"/> object. Names default to <c>in</c>, <c>hid1</c>…, <c>out</c>; the form
/// to <c>dense</c>; the activation to <c>relu</c>, the last layer's to the model's output activation. A <c>tied</c>
/// layer without <c>partner</c> pairs with its mirror (theanets' counter rule). Errors are
/// <see cref="SpecValidationException"/>s naming the spec (<c>layers[i] 'name'</c>) and what is wrong.
/// </summary>
public abstract class SpecModel : Model
{
    private readonly Dictionary<string, SymbolicTensor> _byName = new(StringComparer.Ordinal);
    private readonly List<(string Name, SymbolicTensor Value, CatalogLayer? Layer, int? Size)> _specLayers = new();
    private readonly Dictionary<string, Model> _aux = new(StringComparer.Ordinal);
    private readonly List<Dictionary<string, object>?> _canonical = new();

    /// <summary>Parses the specs and builds the network.</summary>
    /// <param name="kind">Data family.</param>
    /// <param name="dtype">Element type.</param>
    /// <param name="outputActivation">Default activation of the last layer.</param>
    /// <param name="specs">The layer specs.</param>
    /// <exception cref="SpecValidationException">A bad spec (names the layer and the problem).</exception>
    protected SpecModel(DataKind kind, DType dtype, string outputActivation, object[] specs) : base("spec", dtype, 0)
    {
        ArgumentNullException.ThrowIfNull(specs);
        Kind = kind;
        if (specs.Length < 2) throw new SpecValidationException($"A {GetType().Name} needs an input spec and at least one layer spec; got {specs.Length} spec(s).");
        var (shape, inName) = ParseInput(specs[0]);
        if (kind == DataKind.Convolutional && shape.Length != 3)
            throw new SpecValidationException($"layers[0] '{inName}': a convolutional model needs an input shape (C, H, W); got {ShapeUtil.Format(shape)}.");
        _canonical.Add(new Dictionary<string, object>(StringComparer.Ordinal) { ["shape"] = shape, ["name"] = inName });
        var input = Functional.Input(shape, kind == DataKind.Recurrent, inName);
        _byName[inName] = input;
        _specLayers.Add((inName, input, null, ShapeUtil.Product(shape)));
        // Stryker disable once String: equivalent: forms[0] is never read (the tied mirror rule walks back to j = 1 only)
        var forms = new List<string> { "input" };
        SymbolicTensor prev = input;
        for (int i = 1; i < specs.Length; i++)
        {
            bool last = i == specs.Length - 1;
            string defName = last ? "out" : $"hid{i}";
            var (layer, ins, size, name, form) = ParseLayer(specs[i], i, defName, last ? outputActivation : "relu", forms, prev);
            if (_byName.ContainsKey(name)) throw new SpecValidationException($"layers[{i}] '{name}': the name is already used by an earlier layer.");
            var value = layer.Call(ins);
            _byName[name] = value;
            _specLayers.Add((name, value, layer, size));
            forms.Add(form);
            prev = value;
        }
        RequireReachable(prev);
        SetGraph([input], [prev]);
        try
        {
            _ = Network;
        }
        catch (Exception e) when (e is ShapeMismatchException or GraphException)
        {
            throw new SpecValidationException($"The layer specs do not fit together: {e.Message}");
        }
        for (int i = 1; i < _specLayers.Count; i++)
        {
            var (name, value, layer, size) = _specLayers[i];
            if (size is int s && layer is Tied or Dense or CustomLayer && ShapeUtil.Product(NodeOf(value).OutputShape!) != s)
            {
                // the shapes of the values the layer reads (the node's own InputShape is its combined input, its output's shape)
                var from = value.Inputs.Select(v => Connection.FormatShape(NodeOf(v).OutputShape)).ToArray();
                throw new SpecValidationException($"layers[{i}] '{name}': size {s} does not fit; the layer produces {ShapeUtil.Format(NodeOf(value).OutputShape!)} " +
                                                  $"from its input{(from.Length == 1 ? "" : "s")} {string.Join(", ", from)}.");
            }
        }
    }

    /// <summary>Every layer must lead to the output (an <c>inputs</c> list that skips a layer cuts it out).</summary>
    private void RequireReachable(SymbolicTensor output)
    {
        var reach = new HashSet<SymbolicTensor>(ReferenceEqualityComparer.Instance);
        var stack = new Stack<SymbolicTensor>();
        stack.Push(output);
        while (stack.Count > 0)
        {
            var v = stack.Pop();
            if (reach.Add(v)) foreach (var i in v.Inputs) stack.Push(i);
        }
        for (int i = 0; i < _specLayers.Count; i++)
            if (!reach.Contains(_specLayers[i].Value))
                throw new SpecValidationException($"layers[{i}] '{_specLayers[i].Name}': the output does not depend on this layer (a later layer's 'inputs' skip it); every layer must lead to the output.");
    }

    /// <summary>The data family.</summary>
    public DataKind Kind { get; }

    /// <summary>Names of the layers in spec order (input first).</summary>
    public IReadOnlyList<string> LayerNames => _specLayers.Select(l => l.Name).ToArray();

    /// <summary>The catalog layer named <paramref name="name"/>.</summary>
    /// <param name="name">Layer name.</param>
    /// <returns>The layer.</returns>
    public CatalogLayer Layer(string name) => _specLayers.FirstOrDefault(l => l.Name == name).Layer
                                             ?? throw new KeyNotFoundException($"{GetType().Name} has no layer '{name}'; layers: {string.Join(", ", LayerNames)}.");

    private (int[] Shape, string Name) ParseInput(object spec)
    {
        switch (spec)
        {
            case int n when n > 0: return ([n], "in");
            case int n: throw new SpecValidationException($"layers[0] 'in': the input size must be positive; got {n}.");
            case int[] s when s.Length > 0 && s.All(d => d > 0): return ((int[])s.Clone(), "in");
            case int[] s: throw new SpecValidationException($"layers[0] 'in': an input shape holds one or more positive ints; got {ShapeUtil.Format(s)}.");
            case ITuple t:
                {
                    var s = new int[t.Length];
                    for (int i = 0; i < t.Length; i++)
                        s[i] = t[i] is int d && d > 0 ? d : throw new SpecValidationException($"layers[0] 'in': an input shape tuple holds positive ints; got {t}.");
                    return (s, "in");
                }
            case IReadOnlyDictionary<string, object> d:
                {
                    var a = new LayerArgs(d, "layers[0] 'in'");
                    var name = a.OptionalString("name") ?? "in";
                    var shape = a.OptionalShape("shape") ?? (a.OptionalInt("size") is int n ? [n] : throw a.Error("the input needs 'size' or 'shape'."));
                    a.RejectUnused("input", "form");
                    return (shape, name);
                }
            default: throw new SpecValidationException($"layers[0] 'in': an input spec is an int, a shape or a dictionary; got {spec?.GetType().Name ?? "null"}.");
        }
    }

    private (CatalogLayer Layer, SymbolicTensor[] Inputs, int? Size, string Name, string Form) ParseLayer(
        object spec, int index, string defName, string defActivation, List<string> forms, SymbolicTensor prev)
    {
        if (spec is CatalogLayer obj)
        {
            _canonical.Add(null);
            obj.Name ??= defName;
            return (obj, [prev], null, obj.Name, obj.Form);
        }
        if (spec is object[] list) spec = new ListTuple(list); // a list read from a spec file is a tuple spec
        var args = new Dictionary<string, object>(StringComparer.OrdinalIgnoreCase);
        string path = $"layers[{index}]";
        switch (spec)
        {
            case int n: args["size"] = n; break;
            case string s:
                if (!LayerRegistry.IsRegistered(s)) throw new SpecValidationException($"{path} '{defName}': unknown form '{s}'. Registered forms: {string.Join(", ", LayerRegistry.Names)}.");
                args["form"] = s;
                break;
            case ITuple t:
                for (int i = 0; i < t.Length; i++)
                {
                    switch (t[i])
                    {
                        case int n when !args.ContainsKey("size"): args["size"] = n; break;
                        case int n: throw new SpecValidationException($"{path} '{defName}': a tuple spec holds one size; got a second int {n} in {t}.");
                        case string s when LayerRegistry.IsRegistered(s): args["form"] = s; break;
                        case string s when Activations.IsKnown(s): args["activation"] = s; break;
                        case string s: throw new SpecValidationException($"{path} '{defName}': '{s}' in {t} is neither a registered form ({string.Join(", ", LayerRegistry.Names)}) nor an activation.");
                        case var v: throw new SpecValidationException($"{path} '{defName}': a tuple spec holds ints and strings; got {v?.GetType().Name ?? "null"} in {t}.");
                    }
                }
                break;
            case IReadOnlyDictionary<string, object> d:
                foreach (var (k, v) in d) args[k] = v;
                break;
            default:
                throw new SpecValidationException($"{path} '{defName}': a layer spec is an int, a form name, a tuple, a dictionary or a layer object; got {spec?.GetType().Name ?? "null"}.");
        }
        string form = args.TryGetValue("form", out var f) ? f as string ?? throw new SpecValidationException($"{path} '{defName}': 'form' must be a string.") : "dense";
        string name = args.TryGetValue("name", out var nm) ? nm as string ?? throw new SpecValidationException($"{path} '{defName}': 'name' must be a string.") : defName;
        args["name"] = name;
        path = $"{path} '{name}'";
        var registered = LayerRegistry.Describe(form) ?? throw new SpecValidationException($"{path}: unknown form '{form}'. Registered forms: {string.Join(", ", LayerRegistry.Names)}.");
        if (!args.ContainsKey("activation") && registered.Parameters.Any(p => p.StartsWith("activation", StringComparison.Ordinal)) && registered.Name is not ("rnn" or "rrnn" or "mrnn" or "scrn" or "clockwork"))
            args["activation"] = defActivation;
        // inputs
        SymbolicTensor[] ins = [prev];
        string? initialState = null;
        if (args.TryGetValue("inputs", out var raw))
        {
            var names = raw switch
            {
                string s => [s],
                string[] a => a,
                ITuple t => Enumerable.Range(0, t.Length).Select(i => t[i] as string ?? throw new SpecValidationException($"{path}: 'inputs' must name layers; got {t}.")).ToArray(),
                IEnumerable<string> e => e.ToArray(),
                _ => throw new SpecValidationException($"{path}: 'inputs' must be a layer name or a list of names."),
            };
            if (names.Length == 0) throw new SpecValidationException($"{path}: 'inputs' is empty.");
            args["inputs"] = names.Select(n => n.EndsWith(":out", StringComparison.Ordinal) ? n[..^4] : n).ToArray();
            ins = names.Select(n => _byName.TryGetValue(n.EndsWith(":out", StringComparison.Ordinal) ? n[..^4] : n, out var v) ? v
                : throw new SpecValidationException($"{path}: 'inputs' names '{n}', which is not an earlier layer; earlier layers: {string.Join(", ", _byName.Keys)}.")).ToArray();
        }
        // theanets h_0: an earlier layer's output as the initial state of a recurrent layer (its second input)
        if (args.TryGetValue("h_0", out var h0raw))
        {
            var h0 = h0raw as string ?? throw new SpecValidationException($"{path}: 'h_0' must name an earlier layer.");
            if (!IsRecurrentForm(registered.Name))
                throw new SpecValidationException($"{path}: 'h_0' applies to recurrent forms only, not '{registered.Name}'.");
            if (ins.Length != 1) throw new SpecValidationException($"{path}: a recurrent layer with 'h_0' takes one data input; got {ins.Length}.");
            var h0v = _byName.TryGetValue(h0, out var v0) ? v0
                : throw new SpecValidationException($"{path}: 'h_0' names '{h0}', which is not an earlier layer; earlier layers: {string.Join(", ", _byName.Keys)}.");
            ins = [ins[0], h0v];
            args.Remove("h_0");
            initialState = h0;
        }
        // tied partner by the mirror rule
        if (registered.Name == "tied" && !args.ContainsKey("partner"))
        {
            int counter = 1;
            string? partner = null;
            for (int j = forms.Count - 1; j >= 1; j--)
            {
                counter += forms[j] == "tied" ? 1 : -1;
                if (counter == 0) { partner = _specLayers[j].Name; break; }
            }
            args["partner"] = partner ?? throw new SpecValidationException($"{path}: a tied layer needs a partner and none can be paired by mirroring; give 'partner'.");
        }
        int? size = args.TryGetValue("size", out var sz) && sz is int si ? si : null;
        if (sz is not null and not int)
            throw new SpecValidationException($"{path}: 'size' must be a positive integer in the int32 range; got {Convert.ToString(sz, System.Globalization.CultureInfo.InvariantCulture)}.");
        if (registered.Name == "tied") args.Remove("size");
        else if (size is null && registered.Parameters.Any(p => p.StartsWith("size (", StringComparison.Ordinal) && p.Contains("required", StringComparison.Ordinal)))
            throw new SpecValidationException($"{path}: missing 'size' for form '{registered.Name}'.");
        CatalogLayer layer = LayerRegistry.Create(form, new LayerArgs(args, path, n => _specLayers.FirstOrDefault(l => l.Name == n).Layer));
        var canonical = new Dictionary<string, object>(args, StringComparer.Ordinal) { ["form"] = registered.Name };
        if (initialState is not null) canonical["h_0"] = initialState;
        if (registered.Name == "tied" && size is int ts) canonical["size"] = ts;
        _canonical.Add(canonical);
        return (layer, ins, size, name, registered.Name);
    }

    /// <summary>The specs in canonical dictionary form (form, name, size, activation, inputs, options), input first;
    /// null entries for layers given as objects.</summary>
    public IReadOnlyList<IReadOnlyDictionary<string, object>?> CanonicalSpecs => _canonical;

    /// <summary>The canonical specs as JSON (for model files).</summary>
    /// <exception cref="ModelFormatException">A layer was given as an object (no spec to save).</exception>
    internal string SpecJsonText()
    {
        int at = _canonical.FindIndex(c => c is null);
        // Stryker disable once Equality: equivalent: at is never 0 (the input's canonical spec, entry 0, is never null)
        if (at >= 0)
            throw new ModelFormatException($"{GetType().Name} '{Name}': layers[{at}] '{_specLayers[at].Name}' was given as an object, not a spec, so a model file cannot rebuild it; give it as a spec, or save its weights with SaveWeights and rebuild it in code.");
        return SpecJson.Write(_canonical!);
    }

    /// <summary>Writes the spec-weights format of earlier FlexNet versions (weights with the specs, data kind and type
    /// as metadata), which <see cref="Load"/> still reads.</summary>
    internal void SaveSpecWeights(string path) =>
        SaveWeights(path, new Dictionary<string, string>
        {
            ["spec"] = SpecJsonText(),
            ["kind"] = Kind.ToString(),
            ["type"] = GetType().Name,
            ["dtype"] = DType.ToString(),
        });

    /// <summary>Loads a spec model saved with <see cref="Model.Save"/> (a <c>.flexnet</c> file) or in the spec-weights
    /// format of earlier versions: rebuilds it from the stored specs (forms by registered name, never by .NET type) and
    /// loads the weights.</summary>
    /// <param name="path">Source.</param>
    /// <returns>A <see cref="Regressor"/>, <see cref="Classifier"/> or <see cref="Autoencoder"/>.</returns>
    /// <exception cref="ModelFormatException">The file is not a saved spec model.</exception>
    /// <exception cref="SpecValidationException">A stored spec names a form that is not registered.</exception>
    public static new SpecModel Load(string path)
    {
        // Stryker disable once Statement: equivalent: SafeTensorFile.Read throws the same ArgumentNullException naming 'path'
        ArgumentNullException.ThrowIfNull(path);
        return LoadFrom(IO.SafeTensorFile.Read(path), path);
    }

    /// <summary>Loads a spec model from a file already read and validated as safetensors (<paramref name="path"/> names it in errors).</summary>
    internal static SpecModel LoadFrom(IO.SafeTensorFile file, string path)
    {
        var meta = file.Metadata;
        if (meta.TryGetValue("format", out var format) && format == Connections.NetworkFile.FormatName)
            return ModelFile.Load(file, path) as SpecModel ?? throw new ModelFormatException($"model file '{path}': it holds a model that is not a spec model; load it with Model.Load.");
        string Get(string key) => meta.TryGetValue(key, out var v) ? v
            : throw new ModelFormatException($"{path}: not a saved FlexNet spec model (metadata '{key}' is missing).");
        // Enum names exactly (Enum.TryParse would also take "99" or "A,B").
        string kindName = Get("kind");
        if (!Enum.GetNames<DataKind>().Contains(kindName, StringComparer.Ordinal))
            throw new ModelFormatException($"{path}: unknown data kind '{kindName}' (expected {string.Join(", ", Enum.GetNames<DataKind>())}).");
        var kind = Enum.Parse<DataKind>(kindName);
        string dtypeName = Get("dtype");
        DType dtype = dtypeName switch
        {
            nameof(DType.Float32) => DType.Float32,
            nameof(DType.Float64) => DType.Float64,
            _ => throw new ModelFormatException($"{path}: unknown dtype '{dtypeName}' (a spec model is Float32 or Float64)."),
        };
        string type = Get("type");
        if (type is not (nameof(Regressor) or nameof(Classifier) or nameof(Autoencoder)))
            throw new ModelFormatException($"{path}: unknown model type '{type}' (Regressor, Classifier or Autoencoder).");
        var specs = SpecJson.Read(Get("spec"), path);
        // Building allocates the declared layers: cap it relative to the weights the file stores, so a small file
        // declaring a huge layer fails before the allocation (initialisers may need a few temporaries).
        long stored = 0;
        foreach (var e in file.Tensors) stored += (long)e.ElementCount * (dtype == DType.Float64 ? 8 : 4);
        SpecModel m;
        try
        {
            using (AllocationBudget.Limit(8 * stored + (1L << 20), $"{path}: the stored architecture"))
            {
                m = type switch
                {
                    nameof(Regressor) => new Regressor(kind, dtype, specs),
                    nameof(Classifier) => new Classifier(kind, dtype, specs),
                    _ => new Autoencoder(kind, dtype, specs),
                };
            }
        }
        catch (SpecValidationException e)
        {
            throw new SpecValidationException($"{path}: {e.Message}");
        }
        catch (ArgumentException e)
        {
            throw new ModelFormatException($"{path}: the stored architecture cannot be built: {e.Message}", e);
        }
        m.LoadWeights(file, path);
        return m;
    }

    private static bool IsRecurrentForm(string form) => form is "rnn" or "gru" or "lstm" or "rrnn" or "mut1" or "mrnn" or "scrn" or "clockwork" or "bidirectional";

    /// <summary>The output of layer <paramref name="layer"/> (default: the middle layer) for <paramref name="x"/>.</summary>
    /// <param name="x">Input batch.</param>
    /// <param name="layer">Layer name.</param>
    /// <returns>Its output (detached).</returns>
    protected Tensor LayerOutput(Tensor x, string layer)
    {
        var entry = _specLayers.FirstOrDefault(l => l.Name == layer);
        if (entry.Value is null) throw new KeyNotFoundException($"{GetType().Name} has no layer '{layer}'; layers: {string.Join(", ", LayerNames)}.");
        if (!_aux.TryGetValue("encode:" + layer, out var m))
            _aux["encode:" + layer] = m = new Model(Inputs, [entry.Value], Name + "-" + layer, DType, Seed);
        using (Autograd.NoGrad()) return m.Forward(x, false);
    }

    /// <summary>Runs the layers after <paramref name="layer"/> on <paramref name="z"/> (a value of that layer's shape).</summary>
    /// <param name="z">Code batch.</param>
    /// <param name="layer">Layer name.</param>
    /// <returns>The model's output (detached).</returns>
    protected Tensor FromLayer(Tensor z, string layer)
    {
        int at = _specLayers.FindIndex(l => l.Name == layer);
        if (at < 0) throw new KeyNotFoundException($"{GetType().Name} has no layer '{layer}'; layers: {string.Join(", ", LayerNames)}.");
        if (!_aux.TryGetValue("decode:" + layer, out var m))
        {
            var code = Functional.Input(NodeOf(_specLayers[at].Value).OutputShape!, Kind == DataKind.Recurrent, layer);
            var map = new Dictionary<SymbolicTensor, SymbolicTensor>(ReferenceEqualityComparer.Instance) { [_specLayers[at].Value] = code };
            for (int i = at + 1; i < _specLayers.Count; i++)
            {
                var v = _specLayers[i].Value;
                var ins = v.Inputs.Select(s => map.TryGetValue(s, out var r) ? r
                    : throw new GraphException($"Decoding from '{layer}': layer '{_specLayers[i].Name}' also reads a layer before '{layer}'.")).ToArray();
                map[v] = v.Layer!.Call(ins);
            }
            _aux["decode:" + layer] = m = new Model(code, map[_specLayers[^1].Value], Name + "-from-" + layer, DType, Seed);
        }
        using (Autograd.NoGrad()) return m.Forward(z, false);
    }

    /// <summary>R² = 1 − Σ(y − ŷ)² / Σ(y − ȳ)² with ȳ the mean of all target values (theanets' score).</summary>
    /// <param name="target">y.</param>
    /// <param name="prediction">ŷ.</param>
    /// <returns>R².</returns>
    protected static double RSquared(Tensor target, Tensor prediction)
    {
        var y = target.Detach().To(DType.Float64);
        var p = prediction.Detach().To(DType.Float64);
        if (!ShapeUtil.SameShape(y.Shape, p.Shape))
            throw new ShapeMismatchException($"Score: targets {ShapeUtil.Format(y.Shape)} and predictions {ShapeUtil.Format(p.Shape)} differ in shape.");
        double sse = (y - p).Square().Sum().Item();
        double sst = (y - y.Mean()).Square().Sum().Item();
        return 1 - sse / sst;
    }
}

/// <summary>A list of spec values (read from a spec file) seen as a tuple spec: <c>[256, "relu"]</c> is <c>(256, "relu")</c>.</summary>
internal sealed class ListTuple(object[] items) : ITuple
{
    public int Length => items.Length;

    public object? this[int index] => items[index];

    public override string ToString() => "(" + string.Join(", ", items.Select(i => Convert.ToString(i, System.Globalization.CultureInfo.InvariantCulture))) + ")";
}
