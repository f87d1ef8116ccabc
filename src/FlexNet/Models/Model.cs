using FlexNet.Autodiff;
using FlexNet.Connections;
using FlexNet.Graph;
using FlexNet.IO;
using FlexNet.Layers;
using FlexNet.Training;
using FlexNet.Tensors;

namespace FlexNet.Models;

/// <summary>
/// A model over one <see cref="Graph.Network"/> built by catalog layers. Three ways to make one:
/// <b>Functional</b> — <c>new Model(inputs, outputs)</c> from symbolic values (<see cref="Functional.Input(int, bool, string?)"/>,
/// <see cref="CatalogLayer.Call"/>); several inputs/outputs; a layer object called twice shares its weights;
/// <see cref="AddFeedback"/> adds recurrent/feedback edges between symbolic values with a delay.
/// <b>Subclassing</b> — derive, keep layers in fields and override <see cref="Forward(SymbolicTensor)"/>; the first
/// call traces it (input shape from <see cref="InputShape"/> or the first batch), so parameters are found through
/// the graph without registration. <b>Sequential</b> — see <see cref="Sequential"/>.
/// Data: [N, ...shape] per input, or [T, N, ...shape] for sequence inputs (then outputs are [T, N, ...] or, after a
/// layer returning the last step, [N, ...]).
/// </summary>
public partial class Model : ITrainableModel, IGraphBacked, IActivationSource, IForwardInto
{
    private SymbolicTensor[]? _inputs;
    private SymbolicTensor[]? _outputs;
    private Network? _network;
    private readonly Dictionary<SymbolicTensor, Layer> _nodes = new(ReferenceEqualityComparer.Instance);
    private readonly List<(SymbolicTensor From, SymbolicTensor To, int Delay, string Kind)> _feedback = new();

    /// <summary>A Functional model with one input and one output.</summary>
    /// <param name="input">Symbolic input.</param>
    /// <param name="output">Symbolic output.</param>
    /// <param name="name">Model name.</param>
    /// <param name="dtype">Float32 or Float64.</param>
    /// <param name="seed">Initialisation seed.</param>
    public Model(SymbolicTensor input, SymbolicTensor output, string name = "model", DType dtype = DType.Float32, ulong seed = 0)
        : this([input], [output], name, dtype, seed) { }

    /// <summary>A Functional model with several inputs and outputs.</summary>
    /// <param name="inputs">Symbolic inputs (the order of <see cref="Forward(Tensor[], bool)"/>'s arguments).</param>
    /// <param name="outputs">Symbolic outputs (the order of its results).</param>
    /// <param name="name">Model name.</param>
    /// <param name="dtype">Float32 or Float64.</param>
    /// <param name="seed">Initialisation seed.</param>
    /// <exception cref="GraphException">An output depends on an input not listed, or an input is not symbolic input.</exception>
    public Model(IReadOnlyList<SymbolicTensor> inputs, IReadOnlyList<SymbolicTensor> outputs, string name = "model", DType dtype = DType.Float32, ulong seed = 0)
        : this(name, dtype, seed)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(outputs);
        if (outputs.Count == 0) throw new ArgumentException("Model: at least one output is needed.", nameof(outputs));
        foreach (var i in inputs)
            if (!i.IsInput) throw new GraphException($"Model '{name}': {i} is not a symbolic input (make inputs with Functional.Input).");
        _inputs = inputs.ToArray();
        _outputs = outputs.ToArray();
    }

    /// <summary>For subclasses (and <see cref="Sequential"/>): the graph is traced from <see cref="Forward(SymbolicTensor)"/> at the first call.</summary>
    /// <param name="name">Model name.</param>
    /// <param name="dtype">Float32 or Float64.</param>
    /// <param name="seed">Initialisation seed.</param>
    protected Model(string name = "model", DType dtype = DType.Float32, ulong seed = 0)
    {
        Name = name;
        DType = dtype;
        Seed = seed;
    }

    /// <summary>Sets the symbolic inputs and outputs of a model made by a subclass's constructor (before the first call).</summary>
    /// <param name="inputs">Symbolic inputs.</param>
    /// <param name="outputs">Symbolic outputs.</param>
    protected void SetGraph(SymbolicTensor[] inputs, SymbolicTensor[] outputs)
    {
        if (_network is not null) throw new GraphException($"Model '{Name}' is already built.");
        _inputs = inputs;
        _outputs = outputs;
    }

    /// <summary>The symbolic graph as given or traced (for model files): inputs, outputs, feedback edges.</summary>
    internal (SymbolicTensor[]? Inputs, SymbolicTensor[]? Outputs, IReadOnlyList<(SymbolicTensor From, SymbolicTensor To, int Delay, string Kind)> Feedback) Graph =>
        (_inputs, _outputs, _feedback);

    /// <summary>Model name.</summary>
    public string Name { get; }

    /// <summary>Element type.</summary>
    public DType DType { get; }

    /// <summary>Initialisation seed.</summary>
    public ulong Seed { get; }

    /// <summary>Per-sample input shape for traced models (null: taken from the first batch).</summary>
    public int[]? InputShape { get; set; }

    /// <summary>For traced models: the input is a sequence [T, N, ...] stepped by the network (null: decided from the first batch).</summary>
    public bool? SequenceInput { get; set; }

    /// <summary>True once the network exists.</summary>
    public bool IsBuilt => _network is not null;

    /// <summary>The graph (built on demand; traced models need <see cref="InputShape"/> or a first call).</summary>
    public Network Network => BuildNetwork();

    /// <summary>Trainable parameters (after build), each once, in the network's stable order.</summary>
    public IReadOnlyList<Tensor> Parameters => Network.Parameters.ToList();

    /// <summary>Parameters with their names.</summary>
    public IReadOnlyList<(string Name, Tensor Value)> NamedParameters => Network.NamedParameters;

    /// <summary>The hidden layers' outputs of the latest forward pass, for activity regularizers (see
    /// <see cref="Graph.Network.Activations"/>).</summary>
    IReadOnlyList<KeyValuePair<string, Tensor>> IActivationSource.Activations => Network.Activations;

    /// <summary>Symbolic inputs (after build for traced models).</summary>
    public IReadOnlyList<SymbolicTensor> Inputs => _inputs ?? [];

    /// <summary>Symbolic outputs.</summary>
    public IReadOnlyList<SymbolicTensor> Outputs => _outputs ?? [];

    /// <summary>The subclass's forward pass, written on symbolic values (traced once).</summary>
    /// <param name="x">Symbolic input.</param>
    /// <returns>Symbolic output.</returns>
    protected virtual SymbolicTensor Forward(SymbolicTensor x) =>
        throw new GraphException($"Model '{Name}' has no inputs/outputs: construct it Functional-style or override Forward(SymbolicTensor).");

    /// <summary>Decides the input of a traced model from the first batch (override for other rules).</summary>
    /// <param name="x">The first batch.</param>
    /// <returns>Per-sample shape and whether it is a stepped sequence.</returns>
    protected virtual (int[] Shape, bool Sequence) InferInput(Tensor x)
    {
        bool seq = SequenceInput ?? false;
        int lead = seq ? 2 : 1;
        if (x.Rank <= lead) throw new ShapeMismatchException($"Model '{Name}': the first batch {ShapeUtil.Format(x.Shape)} has no feature axes.");
        return (x.ShapeArray[lead..], seq);
    }

    /// <summary>Adds a recurrent/feedback edge between symbolic values, read <paramref name="delay"/> steps later.</summary>
    /// <param name="from">Source value.</param>
    /// <param name="to">Target value (a layer output).</param>
    /// <param name="delay">Delay ≥ 1 (0 only if it creates no cycle).</param>
    /// <param name="kind"><c>dense</c> (learned W, b) or <c>identity</c>.</param>
    /// <returns>This model.</returns>
    public Model AddFeedback(SymbolicTensor from, SymbolicTensor to, int delay = 1, string kind = "dense")
    {
        if (_network is not null) throw new GraphException($"Model '{Name}': add feedback edges before the first call.");
        if (kind is not ("dense" or "identity")) throw new ArgumentException($"Feedback kind must be 'dense' or 'identity'. Received: '{kind}'", nameof(kind));
        if (to.IsInput) throw new GraphException($"Model '{Name}': a feedback edge cannot enter an input.");
        _feedback.Add((from, to, delay, kind));
        return this;
    }

    /// <summary>The graph node computing <paramref name="value"/>.</summary>
    /// <param name="value">A symbolic value of this model.</param>
    /// <returns>The node.</returns>
    public Layer NodeOf(SymbolicTensor value)
    {
        _ = Network;
        return _nodes.TryGetValue(value, out var n) ? n : throw new KeyNotFoundException($"Model '{Name}': {value} is not part of this model.");
    }

    /// <summary>The network: built at the first call (a traced model from <see cref="InputShape"/> or, failing that, from
    /// <paramref name="first"/>), returned as it is at every later call.</summary>
    private Network BuildNetwork(Tensor? first = null)
    {
        if (_network is not null) return _network;
        if (_outputs is null)
        {
            (int[] shape, bool seq) = InputShape is { } s ? (s, SequenceInput ?? false)
                : first is not null ? InferInput(first)
                : throw new GraphException($"Model '{Name}': the input shape is unknown; set InputShape or call the model on a batch first.");
            var x = Functional.Input(shape, seq, "input");
            _inputs = [x];
            _outputs = [Forward(x)];
        }
        var net = new Network(Name, DType, Seed);
        var order = new List<SymbolicTensor>();
        var seen = new HashSet<SymbolicTensor>(ReferenceEqualityComparer.Instance);
        foreach (var o in _outputs)
            foreach (var s in o.Ancestry())
                if (seen.Add(s)) order.Add(s);
        foreach (var (f, t, _, _) in _feedback)
            foreach (var root in new[] { f, t })
                foreach (var s in root.Ancestry())
                    if (seen.Add(s)) order.Add(s);
        foreach (var s in order)
            if (s.IsInput && Array.IndexOf(_inputs!, s) < 0)
                throw new GraphException($"Model '{Name}': an output depends on {s} ('{s.Name}'), which is not among the model's inputs.");
        int k = 0;
        foreach (var x in _inputs!)
        {
            k++;
            var node = net.Add(new InputLayer(x.Shape!, x.IsSequence ? 1 : null, x.Name ?? (_inputs.Length == 1 ? "input" : $"input{k}")));
            _nodes[x] = node;
        }
        foreach (var s in order)
        {
            if (s.IsInput) continue;
            var ins = s.Inputs.Select(i => _nodes[i]).ToArray();
            _nodes[s] = s.Layer!.Attach(net, ins);
        }
        foreach (var (f, t, d, kind) in _feedback)
        {
            if (kind == "identity") net.ConnectIdentity(_nodes[f], _nodes[t], d);
            else net.ConnectDense(_nodes[f], _nodes[t], d);
        }
        bool temporal = _inputs.Any(i => i.IsSequence);
        foreach (var o in _outputs) net.AddOutput(_nodes[o], !temporal || o.LastStepOnly ? OutputMode.LastStep : OutputMode.AllSteps);
        _network = net;
        try
        {
            net.Compile();
        }
        catch
        {
            _network = null;
            throw;
        }
        return net;
    }

    /// <summary>Runs the model: one tensor per input, one per output.</summary>
    /// <param name="inputs">Batches [N, ...] or [T, N, ...] for sequence inputs.</param>
    /// <param name="training">Training behaviour (dropout, noise, batch statistics).</param>
    /// <returns>Outputs.</returns>
    public Tensor[] Forward(Tensor[] inputs, bool training)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        var net = BuildNetwork(inputs.Length > 0 ? inputs[0] : null);
        return net.Forward(inputs, training);
    }

    /// <summary>Runs the model with a [T, N] step mask (sequence inputs; masked steps keep their state).</summary>
    /// <param name="inputs">Batches.</param>
    /// <param name="training">Training behaviour.</param>
    /// <param name="mask">[T, N] mask of 1 (valid) and 0 (padding), or null.</param>
    /// <returns>Outputs.</returns>
    public Tensor[] Forward(Tensor[] inputs, bool training, Tensor? mask)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        var net = BuildNetwork(inputs.Length > 0 ? inputs[0] : null);
        return net.Forward(inputs, training, mask);
    }

    /// <summary>Both forms above (mask null: the first), the outputs in the trainer's array.</summary>
    Tensor[] IForwardInto.ForwardInto(Tensor[] inputs, bool training, Tensor? mask, Tensor[]? reuse)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        var net = BuildNetwork(inputs.Length > 0 ? inputs[0] : null);
        return net.ForwardInto(inputs, training, mask, reuse);
    }

    /// <summary>Trains the model with <see cref="Trainer"/> (builds it from <paramref name="x"/> first if needed):
    /// <c>model.Fit(x, y, new TrainerOptions { Epochs = 10, Loss = new CrossEntropy() })</c>.</summary>
    /// <param name="x">Inputs (batch axis <see cref="TrainerOptions.InputBatchAxis"/>; 1 for sequence data [T, N, ...]).</param>
    /// <param name="y">Targets.</param>
    /// <param name="options">Trainer settings.</param>
    /// <returns>The training history.</returns>
    public History Fit(Tensor x, Tensor y, TrainerOptions options)
    {
        _ = BuildNetwork(x);
        return Trainer.Fit((IMultiTrainable)this, [x], [y], options);
    }

    /// <summary>Runs a single-input, single-output model (the trainer contract).</summary>
    /// <param name="input">Batch.</param>
    /// <param name="training">Training behaviour.</param>
    /// <returns>Output batch.</returns>
    public Tensor Forward(Tensor input, bool training = false)
    {
        var r = Forward([input], training);
        if (r.Length != 1) throw new InvalidOperationException($"Model '{Name}' has {r.Length} outputs; call Forward(Tensor[], bool).");
        return r[0];
    }

    /// <summary>Evaluation-mode output without recording gradients, computed <paramref name="batchSize"/> samples at a
    /// time (Keras' <c>model.predict</c>). A batch [N, ...] (or [T, N, ...] for a sequence input) gives [N, ...]; a
    /// single sample (the input shape without the batch axis) gives a single output. The packed (GEMM-ready) weights of
    /// its dense layers are kept from call to call while the weights are unchanged; any change to a weight (training,
    /// loading, the indexer, <see cref="Tensor.Fill"/>) makes the next call pack it again.</summary>
    /// <param name="input">A batch, or one sample.</param>
    /// <param name="batchSize">Samples per forward pass.</param>
    /// <returns>Output (detached).</returns>
    public Tensor Predict(Tensor input, int batchSize = 256)
    {
        ArgumentNullException.ThrowIfNull(input);
        var net = BuildNetwork(input);
        if (net.Inputs.Count != 1 || net.Outputs.Count != 1)
        {
            using (Autograd.NoGrad()) return Forward(input, false);
        }
        return net.Predict(input, batchSize);
    }

    /// <summary>Every parameter and buffer (e.g. running statistics) by name, as saved by <see cref="SaveWeights"/>.</summary>
    /// <returns>Name → tensor.</returns>
    public IReadOnlyDictionary<string, Tensor> StateDict()
    {
        var d = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (name, p) in Network.NamedParameters) d[name] = p;
        var seen = new HashSet<CatalogLayer>(ReferenceEqualityComparer.Instance);
        foreach (var o in Outputs)
            foreach (var s in o.Ancestry())
                if (s.Layer is { } l && seen.Add(l))
                    foreach (var b in l.Buffers) d[b.Name ?? $"{l.Name}.buffer{d.Count}"] = b;
        return d;
    }

    /// <summary>Writes <see cref="StateDict"/> to a safetensors file (atomically).</summary>
    /// <param name="path">Destination.</param>
    /// <param name="metadata">Extra string metadata.</param>
    public void SaveWeights(string path, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var meta = new Dictionary<string, string>(StringComparer.Ordinal) { ["format"] = "flexnet-weights", ["model"] = Name };
        if (metadata is not null) foreach (var (k, v) in metadata) meta[k] = v;
        TensorFile.Save(path, StateDict(), meta);
    }

    /// <summary>Loads weights saved by <see cref="SaveWeights"/> into this (built) model: every name must match with the same shape.</summary>
    /// <param name="path">Source file.</param>
    /// <exception cref="ModelFormatException">A tensor is missing, unexpected, or has another shape (names the tensor and the file).</exception>
    public void LoadWeights(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        LoadWeights(IO.SafeTensorFile.Read(path), path);
    }

    /// <summary>Loads the tensors of an already-read file: all names, shapes and values (finite) are checked before
    /// any weight changes.</summary>
    internal void LoadWeights(IO.SafeTensorFile file, string path)
    {
        var loaded = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var e in file.Tensors) loaded[e.Name] = TensorFile.ToTensor(e);
        var state = StateDict();
        foreach (var name in state.Keys)
            if (!loaded.ContainsKey(name))
                throw new ModelFormatException($"{path}: no tensor '{name}' for model '{Name}' (the file has {string.Join(", ", loaded.Keys)}).");
        foreach (var (name, t) in loaded)
        {
            if (!state.TryGetValue(name, out var p))
                throw new ModelFormatException($"{path}: tensor '{name}' does not belong to model '{Name}' (its tensors: {string.Join(", ", state.Keys)}).");
            if (!ShapeUtil.SameShape(p.Shape, t.Shape))
                throw new ModelFormatException($"{path}: tensor '{name}' has shape {ShapeUtil.Format(t.Shape)}; model '{Name}' needs {ShapeUtil.Format(p.Shape)}.");
            int bad = Training.Batching.CountNonFinite(t);
            if (bad > 0)
                throw new ModelFormatException($"{path}: tensor '{name}' {ShapeUtil.Format(t.Shape)} has {bad} non-finite values (NaN or ±Inf); refusing to load it into model '{Name}'.");
        }
        using (Autograd.NoGrad())
            foreach (var (name, t) in loaded) state[name].CopyFrom(t.To(state[name].DType));
    }

    /// <summary>The network's layer/connection table (builds the model; traced models need their input shape).</summary>
    /// <returns>Multi-line text.</returns>
    public string Summary() => $"Model '{Name}' ({GetType().Name})\n" + Network.Summary();

    /// <summary>Clears all gradients.</summary>
    public void ZeroGrad() => Network.ZeroGrad();
}
