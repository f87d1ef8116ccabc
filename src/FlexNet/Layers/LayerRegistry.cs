using FlexNet.Graph;
using FlexNet.Autodiff;

namespace FlexNet.Layers;

/// <summary>
/// The closed registry of layer forms that specs and saved models may name (theanets' registry): a name maps to a
/// factory delegate registered in code — a spec never names a .NET type. Built-in forms are registered at start-up;
/// custom layers are added with <see cref="Register"/>.
/// </summary>
public static class LayerRegistry
{
    private static readonly Registry<LayerForm> Table = new("layer form");

    // Stryker disable all : registration data, run once per process by the static initializers before any mutant is active, so Stryker's reused test host cannot switch it; LayerCatalogTableTests checks every name, alias, description and parameter list against a table of its own (a removed registration and a blanked name, alias, description or parameter each fail it, planted by hand). The factories are the methods below the constructor, mutated and tested as usual.
    private static readonly string[] InitParams = ["init (scheme)", "rng (seed)", "mean, std, sparsity, diagonal, radius, value", "mean_PARAM, std_PARAM, ..."];

    private const string ConnectionParam = "connection (a registered connection kind, default dense; plus its options)";

    static LayerRegistry()
    {
        string[] dense = ["size (int, required)", "activation", "bias (bool)", ConnectionParam, .. InitParams];
        Add("dense", "Fully connected y = act(Σ x_k·W_kᵀ + b)", dense, DenseFromSpec, "ff", "feedforward");
        // theanets' documented custom layer, built in so its docs' tied autoencoder (4, (3, "nobias"), (4, "tied")) runs as written
        Add("nobias", "Fully connected without bias y = act(Σ x_k·W_kᵀ)", ["size (int, required)", "activation", .. InitParams], NoBiasFromSpec);
        Add("classifier", "Softmax over a linear transform", ["size (int, required)", ConnectionParam, .. InitParams], ClassifierFromSpec, "softmax");
        Add("tied", "Decoder using the transpose of a partner layer's weight, own bias", ["partner (layer name; default: mirrored)", "activation"], TiedFromSpec);
        Add("concatenate", "Join inputs along the feature/channel axis", [], a => new Concatenate(a.Name), "concat");
        Add("add", "Elementwise sum of inputs", [], a => new Add(a.Name));
        Add("product", "Elementwise product of inputs", [], a => new Product(a.Name), "prod");
        Add("flatten", "Flatten each sample to a vector", [], a => new Flatten(a.Name), "flat");
        Add("reshape", "Reshape each sample", ["shape (ints, required)"], ReshapeFromSpec);
        Add("dropout", "Inverted dropout (training only)", ["rate (0..1)", "rng"], DropoutFromSpec);
        Add("noise", "Additive Gaussian noise (training only)", ["std", "rng"], NoiseFromSpec, "gaussiannoise");
        string[] conv = ["size (filters, required)", "filter_size (int, required)", "stride", "padding (int|'same'|'valid')", "activation", "bias (bool)", "dilation", .. InitParams];
        Add("conv1", "1-D convolution [C, L] -> [size, L']", conv, Conv1FromSpec, "conv1d");
        Add("conv2", "2-D convolution [C, H, W] -> [size, H', W']", conv, Conv2FromSpec, "conv2d");
        Add("conv2t", "Transposed 2-D convolution (upsampling)",
            ["size (filters, required)", "filter_size (int, required)", "stride", "padding (int)", "output_padding", "activation", "bias (bool)", .. InitParams],
            Conv2TFromSpec, "conv2dtranspose");
        string[] pool = ["mode ('max'|'avg')", "size (window)", "stride", "padding"];
        Add("pool1", "1-D max/average pooling", pool, a => PoolFromSpec(a, 1));
        Add("pool2", "2-D max/average pooling", pool, a => PoolFromSpec(a, 2));
        Add("globalpool", "Global max/average pooling [C, ...] -> [C]", ["mode ('max'|'avg')"], GlobalPoolFromSpec);
        Add("batchnorm", "Batch normalisation (running statistics in evaluation)", ["momentum", "epsilon"], BatchNormFromSpec, "bn");
        Add("layernorm", "Layer normalisation over the last axis", ["epsilon"], LayerNormFromSpec);
        Add("lrn", "Local response normalisation across channels (FeedbackNets.jl)", ["size (channels)", "alpha", "beta", "k"], LrnFromSpec);
        Add("embedding", "Lookup table of integer indices", ["vocabulary (int, required)", "size (dimension, required)", .. InitParams], EmbeddingFromSpec);
        string[] rec = ["size (units, required)", "return_sequences (bool)", "direction ('forward'|'backward')", "input_width", .. InitParams];
        Add("rnn", "Elman RNN, torch.nn.RNN equations", [.. rec, "activation ('tanh'|'relu')"], RnnFromSpec);
        Add("gru", "GRU, torch.nn.GRU equations", rec, GruFromSpec);
        Add("lstm", "LSTM, torch.nn.LSTM equations (peepholes option)", [.. rec, "peepholes (bool)"], LstmFromSpec);
        Add("rrnn", "theanets RRNN: leaky RNN with per-unit update rates", [.. rec, "rate ('matrix'|'vector'|'uniform'|'log')", "activation"], RrnnFromSpec);
        Add("mut1", "theanets MUT1 (Jozefowicz 2015) gated cell", rec, Mut1FromSpec);
        Add("mrnn", "theanets MRNN: factored multiplicative RNN", [.. rec, "factors (int)", "activation"], MrnnFromSpec);
        Add("scrn", "theanets SCRN: structurally constrained RNN with slow context", [.. rec, "rate ('vector'|'uniform'|'log')", "activation"], ScrnFromSpec);
        Add("clockwork", "theanets Clockwork RNN: modules updating at their own periods", [.. rec, "periods (ints, required)", "activation"], ClockworkFromSpec);
        Add("bidirectional", "Forward + backward recurrent halves over a whole sequence, concatenated",
            ["worker ('rnn'|'gru'|'lstm'|'rrnn'|'mut1'|'mrnn'|'scrn')", "size (total output units, even, required; size/2 per half as theanets)", "return_sequences (bool)", .. InitParams],
            BidirectionalFromSpec, "bdrnn");
    }
    // Stryker restore all

    private static Dense NoBiasFromSpec(LayerArgs a) =>
        new(a.Int("size"), a.Activation("linear"), false, a.Name, a.Init()) { SpecPath = a.Path };

    private static ClassifierLayer ClassifierFromSpec(LayerArgs a)
    {
        var (kind, options) = ConnectionFromSpec(a);
        return new ClassifierLayer(a.Int("size"), a.Name, a.Init(), kind, options) { SpecPath = a.Path };
    }

    private static Tied TiedFromSpec(LayerArgs a)
    {
        var pname = a.OptionalString("partner") ?? throw a.Error("missing 'partner' (the name of the layer whose weight is shared).");
        var p = a.Lookup?.Invoke(pname) ?? throw a.Error($"partner '{pname}' does not name an earlier layer.");
        if (p is not ITiedPartner tp) throw a.Error($"partner '{pname}' ({p.Form}) has no single weight to share.");
        return new Tied(tp, a.Activation("linear"), a.Name);
    }

    private static Reshape ReshapeFromSpec(LayerArgs a) =>
        new(a.OptionalShape("shape") ?? throw a.Error("missing 'shape'."), a.Name);

    private static Dropout DropoutFromSpec(LayerArgs a) =>
        new(Range(a, "rate", a.OptionalDouble("rate") ?? 0.5, 0, 1), a.Name, a.OptionalSeed("rng"));

    private static GaussianNoise NoiseFromSpec(LayerArgs a) =>
        new(Range(a, "std", a.OptionalDouble("std") ?? 0.1, 0, double.PositiveInfinity), a.Name, a.OptionalSeed("rng"));

    private static Conv1D Conv1FromSpec(LayerArgs a) =>
        new(a.Int("size"), a.Int("filter_size"), a.OptionalInt("stride") ?? 1, Pad(a), a.Activation("linear"), a.OptionalBool("bias") ?? true,
            a.OptionalInt("dilation") ?? 1, a.Name, a.Init());

    private static Conv2D Conv2FromSpec(LayerArgs a) =>
        new(a.Int("size"), a.Int("filter_size"), a.OptionalInt("stride") ?? 1, Pad(a), a.Activation("linear"), a.OptionalBool("bias") ?? true,
            a.OptionalInt("dilation") ?? 1, a.Name, a.Init());

    private static Conv2DTranspose Conv2TFromSpec(LayerArgs a) =>
        new(a.Int("size"), a.Int("filter_size"), a.OptionalInt("stride") ?? 1, a.OptionalInt("padding", true) ?? 0,
            a.OptionalInt("output_padding", true) ?? 0, a.Activation("linear"), a.OptionalBool("bias") ?? true, a.Name, a.Init());

    private static Pooling PoolFromSpec(LayerArgs a, int dimensions) =>
        new(Mode(a), dimensions, a.OptionalInt("size") ?? 2, a.OptionalInt("stride"), a.OptionalInt("padding", true) ?? 0, false, a.Name);

    private static Pooling GlobalPoolFromSpec(LayerArgs a) => new(Mode(a), 2, 1, null, 0, true, a.Name);

    private static BatchNorm BatchNormFromSpec(LayerArgs a) =>
        new(a.OptionalDouble("momentum") ?? 0.1, a.OptionalDouble("epsilon") ?? 1e-5, a.Name, a.Init());

    private static LayerNorm LayerNormFromSpec(LayerArgs a) => new(a.OptionalDouble("epsilon") ?? 1e-5, a.Name, a.Init());

    private static LocalResponseNorm LrnFromSpec(LayerArgs a) =>
        new(a.OptionalInt("size") ?? 5, a.OptionalDouble("alpha") ?? 1e-4, a.OptionalDouble("beta") ?? 0.75, a.OptionalDouble("k") ?? 1, a.Name);

    private static Embedding EmbeddingFromSpec(LayerArgs a) => new(a.Int("vocabulary"), a.Int("size"), a.Name, a.Init());

    private static RNN RnnFromSpec(LayerArgs a) =>
        new(a.Int("size"), a.OptionalString("activation") ?? "tanh", a.OptionalBool("return_sequences") ?? true, Back(a), a.Name, a.Init(),
            a.OptionalInt("input_width"));

    private static GRU GruFromSpec(LayerArgs a) =>
        new(a.Int("size"), a.OptionalBool("return_sequences") ?? true, Back(a), a.Name, a.Init(), a.OptionalInt("input_width"));

    private static LSTM LstmFromSpec(LayerArgs a) =>
        new(a.Int("size"), a.OptionalBool("return_sequences") ?? true, Back(a), a.OptionalBool("peepholes") ?? false, a.Name, a.Init(),
            a.OptionalInt("input_width"));

    private static RRNN RrnnFromSpec(LayerArgs a) =>
        new(a.Int("size"), a.OptionalString("rate") ?? "matrix", a.OptionalString("activation") ?? "tanh", a.OptionalBool("return_sequences") ?? true,
            Back(a), a.Name, a.Init(), a.OptionalInt("input_width"));

    private static MUT1 Mut1FromSpec(LayerArgs a) =>
        new(a.Int("size"), a.OptionalBool("return_sequences") ?? true, Back(a), a.Name, a.Init(), a.OptionalInt("input_width"));

    private static MRNN MrnnFromSpec(LayerArgs a) =>
        new(a.Int("size"), a.OptionalInt("factors"), a.OptionalString("activation") ?? "tanh", a.OptionalBool("return_sequences") ?? true, Back(a),
            a.Name, a.Init(), a.OptionalInt("input_width"));

    private static SCRN ScrnFromSpec(LayerArgs a) =>
        new(a.Int("size"), a.OptionalString("rate") ?? "vector", a.OptionalString("activation") ?? "tanh", a.OptionalBool("return_sequences") ?? true,
            Back(a), a.Name, a.Init(), a.OptionalInt("input_width"));

    private static Clockwork ClockworkFromSpec(LayerArgs a) =>
        new(a.Int("size"), a.OptionalShape("periods") ?? throw a.Error("missing 'periods' (module periods, e.g. (1, 2, 4))."),
            a.OptionalString("activation") ?? "tanh", a.OptionalBool("return_sequences") ?? true, Back(a), a.Name, a.Init(), a.OptionalInt("input_width"));

    private static BidirectionalLayer BidirectionalFromSpec(LayerArgs a)
    {
        string worker = a.OptionalString("worker") ?? "lstm";
        int total = a.Int("size");
        if (total % 2 != 0) throw a.Error($"'size' of a bidirectional layer is the total of both halves and must be even; got {total}.");
        int size = total / 2;
        bool seq = a.OptionalBool("return_sequences") ?? true;
        var init = a.Init();
        RecurrentLayer fw = worker.ToLowerInvariant() switch
        {
            "rnn" => new RNN(size, "tanh", seq, false, null, init),
            "gru" => new GRU(size, seq, false, null, init),
            "lstm" => new LSTM(size, seq, false, false, null, init),
            "rrnn" => new RRNN(size, "matrix", "tanh", seq, false, null, init),
            "mut1" => new MUT1(size, seq, false, null, init),
            "mrnn" => new MRNN(size, null, "tanh", seq, false, null, init),
            "scrn" => new SCRN(size, "vector", "tanh", seq, false, null, init),
            _ => throw a.Error($"unknown worker '{worker}'; use rnn, gru, lstm, rrnn, mut1, mrnn or scrn."),
        };
        return new BidirectionalLayer(fw, null, a.Name);
    }

    private static (string? Kind, Dictionary<string, object>? Options) ConnectionFromSpec(LayerArgs a)
    {
        var kindName = a.OptionalString("connection");
        var kind = kindName is null ? null : ConnectionRegistry.Require(kindName, a.Path);
        return (kind?.Name, kind is null ? null : a.Take(kind.OptionKeys));
    }

    private static Dense DenseFromSpec(LayerArgs a)
    {
        var (kind, options) = ConnectionFromSpec(a);
        return new Dense(a.Int("size"), a.Activation("linear"), a.OptionalBool("bias") ?? true, a.Name, a.Init(), kind, options) { SpecPath = a.Path };
    }

    private static double Range(LayerArgs a, string key, double v, double lo, double hi) =>
        v >= lo && v < hi ? v : throw a.Error($"'{key}' must be in [{lo}, {hi}); got {v}.");

    private static Padding Pad(LayerArgs a)
    {
        if (!a.Has("padding")) return Padding.Valid;
        try
        {
            return a.OptionalInt("padding", true) is int p ? Padding.Explicit(p) : Padding.Valid;
        }
        catch (SpecValidationException)
        {
            var s = a.OptionalString("padding")!;
            return s.ToLowerInvariant() switch
            {
                "same" => Padding.Same,
                "valid" => Padding.Valid,
                _ => throw a.Error($"'padding' must be an integer, 'same' or 'valid'; got \"{s}\"."),
            };
        }
    }

    private static PoolKind Mode(LayerArgs a) => (a.OptionalString("mode") ?? "max").ToLowerInvariant() switch
    {
        "max" => PoolKind.Max,
        "avg" or "average" or "mean" => PoolKind.Average,
        var m => throw a.Error($"'mode' must be 'max' or 'avg'; got \"{m}\"."),
    };

    private static bool Back(LayerArgs a) => (a.OptionalString("direction") ?? "forward").Contains("back", StringComparison.OrdinalIgnoreCase);

    private static void Add(string name, string description, string[] parameters, Func<LayerArgs, CatalogLayer> factory, params string[] aliases)
    {
        Table.Register(name, new LayerForm(name, description, parameters, factory, aliases), aliases);
    }

    /// <summary>Every registered form (built-in first, then custom ones in registration order).</summary>
    public static IReadOnlyList<LayerForm> Forms
    {
        get => Table.Entries;
    }

    /// <summary>All accepted names (forms and aliases), sorted.</summary>
    public static IReadOnlyList<string> Names
    {
        get => Table.AcceptedNames;
    }

    /// <summary>Whether <paramref name="name"/> is a registered form or alias.</summary>
    /// <param name="name">Form name.</param>
    /// <returns>True when registered.</returns>
    public static bool IsRegistered(string name)
    {
        return Table.Contains(name);
    }

    /// <summary>The form registered as <paramref name="name"/>, or null.</summary>
    /// <param name="name">Form name or alias.</param>
    /// <returns>The form.</returns>
    public static LayerForm? Describe(string name)
    {
        return Table.TryGet(name, out var f) ? f : null;
    }

    /// <summary>Registers (or replaces) a form, e.g. a custom layer: <c>Register("nobias", "...", ["size"], a =&gt; new NoBias(a.Int("size"), ...))</c>.</summary>
    /// <param name="name">Form name used in specs and saved models.</param>
    /// <param name="description">One line for <c>flexnet layers</c>.</param>
    /// <param name="parameters">Argument names with hints.</param>
    /// <param name="factory">Builds the layer from its arguments.</param>
    public static void Register(string name, string description, IReadOnlyList<string> parameters, Func<LayerArgs, CatalogLayer> factory)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(factory);
        Table.Register(name, new LayerForm(name.ToLowerInvariant(), description ?? "", parameters ?? [], factory, []));
    }

    /// <summary>Builds a layer of form <paramref name="form"/> from <paramref name="args"/>; rejects arguments the form does not read.</summary>
    /// <param name="form">Form name or alias.</param>
    /// <param name="args">Arguments.</param>
    /// <returns>The layer.</returns>
    /// <exception cref="SpecValidationException">Unknown form (lists the registered ones) or bad arguments.</exception>
    public static CatalogLayer Create(string form, LayerArgs args)
    {
        var f = Describe(form) ?? throw args.Error($"unknown form '{form}'. Registered forms: {string.Join(", ", Names)}.");
        CatalogLayer layer;
        try
        {
            layer = f.Factory(args);
        }
        catch (ArgumentException e)
        {
            throw args.Error(e.Message);
        }
        _ = args.Name;
        args.RejectUnused(f.Name, "form", "inputs", "name");
        return layer;
    }
}
