using System.Globalization;
using FlexNet.Graph;
using FlexNet.Layers;

namespace FlexNet.Connections;

/// <summary>FlexNet's own layer kinds that a <c>.flexnet</c> file stores like registered ones (kind, options map,
/// own parameters predicted from the input shape): <c>batchnorm</c> (<see cref="BatchNormLayer"/>), <c>dropout</c>
/// (<see cref="DropoutLayer"/>), <c>gaussian_noise</c> (<see cref="GaussianNoiseLayer"/>), <c>layernorm</c>
/// (<see cref="LayerNormLayer"/>), <c>lrn</c> (<see cref="LocalResponseNormLayer"/>) and <c>embedding</c>
/// (<see cref="EmbeddingLayer"/>), <c>recurrent</c> (<see cref="RecurrentCellLayer"/> with one RNN, GRU or LSTM
/// cell; options cell, units, return_sequences, go_backwards, input_width and activation/peepholes). Their names are reserved:
/// <see cref="LayerKinds.Register"/> refuses them.</summary>
internal static class BuiltInLayerKinds
{
    internal static readonly string[] Names = ["batchnorm", "dropout", "gaussian_noise", "layernorm", "lrn", "embedding", "recurrent"];

    private static readonly LayerKinds.Entry[] Entries =
    [
        new("batchnorm", typeof(BatchNormLayer),
            l => new Dictionary<string, string> { ["momentum"] = Text(((BatchNormLayer)l).Momentum), ["epsilon"] = Text(((BatchNormLayer)l).Epsilon) },
            CreateBatchNorm,
            (input, o) =>
            {
                CreateBatchNorm("check", o);
                int[] c = [input[0]];
                return new LayerShapes(input, [("gamma", c), ("beta", c), ("running_mean", c), ("running_var", c)]);
            }),
        new("dropout", typeof(DropoutLayer),
            l => WithSeed("rate", ((DropoutLayer)l).Rate, ((DropoutLayer)l).Seed),
            CreateDropout,
            (input, o) =>
            {
                CreateDropout("check", o);
                return new LayerShapes(input, []);
            }),
        new("gaussian_noise", typeof(GaussianNoiseLayer),
            l => WithSeed("std", ((GaussianNoiseLayer)l).Std, ((GaussianNoiseLayer)l).Seed),
            CreateNoise,
            (input, o) =>
            {
                CreateNoise("check", o);
                return new LayerShapes(input, []);
            }),
        new("layernorm", typeof(LayerNormLayer),
            l => new Dictionary<string, string> { ["epsilon"] = Text(((LayerNormLayer)l).Epsilon) },
            CreateLayerNorm,
            (input, o) =>
            {
                CreateLayerNorm("check", o);
                int[] d = [input[^1]];
                return new LayerShapes(input, [("gamma", d), ("beta", d)]);
            }),
        new("lrn", typeof(LocalResponseNormLayer),
            l => l is LocalResponseNormLayer r
                ? new Dictionary<string, string> { ["size"] = r.Size.ToString(CultureInfo.InvariantCulture), ["alpha"] = Text(r.Alpha), ["beta"] = Text(r.Beta), ["k"] = Text(r.K) }
                : throw new ArgumentException("not an LRN layer"),
            CreateLrn,
            (input, o) =>
            {
                CreateLrn("check", o);
                return new LayerShapes(input, []);
            }),
        new("embedding", typeof(EmbeddingLayer),
            l => l is EmbeddingLayer e
                ? new Dictionary<string, string> { ["vocabulary"] = e.Vocabulary.ToString(CultureInfo.InvariantCulture), ["dimension"] = e.Dimension.ToString(CultureInfo.InvariantCulture) }
                : throw new ArgumentException("not an embedding layer"),
            CreateEmbedding,
            (input, o) =>
            {
                var e = CreateEmbedding("check", o);
                return new LayerShapes([.. input, e.Dimension], [("weight", [e.Vocabulary, e.Dimension])]);
            }),
        new("recurrent", typeof(RecurrentCellLayer), DescribeRecurrent, CreateRecurrent, RecurrentShapes),
    ];

    internal static LayerKinds.Entry? Find(string kind) => Array.Find(Entries, e => e.Kind == kind);

    internal static LayerKinds.Entry? Find(Type type) => Array.Find(Entries, e => e.Type == type);

    private static BatchNormLayer CreateBatchNorm(string name, IReadOnlyDictionary<string, string> o)
    {
        Only(o, "momentum", "epsilon");
        return new BatchNormLayer(Number(o, "momentum"), Number(o, "epsilon"), name);
    }

    private static DropoutLayer CreateDropout(string name, IReadOnlyDictionary<string, string> o)
    {
        Only(o, "rate", "seed");
        return new DropoutLayer(Number(o, "rate"), Seed(o), name);
    }

    private static GaussianNoiseLayer CreateNoise(string name, IReadOnlyDictionary<string, string> o)
    {
        Only(o, "std", "seed");
        return new GaussianNoiseLayer(Number(o, "std"), Seed(o), name);
    }

    private static LayerNormLayer CreateLayerNorm(string name, IReadOnlyDictionary<string, string> o)
    {
        Only(o, "epsilon");
        return new LayerNormLayer(Number(o, "epsilon"), name);
    }

    private static LocalResponseNormLayer CreateLrn(string name, IReadOnlyDictionary<string, string> o)
    {
        Only(o, "size", "alpha", "beta", "k");
        return new LocalResponseNormLayer(Count(o, "size"), Number(o, "alpha"), Number(o, "beta"), Number(o, "k"), name);
    }

    private static EmbeddingLayer CreateEmbedding(string name, IReadOnlyDictionary<string, string> o)
    {
        Only(o, "vocabulary", "dimension");
        return new EmbeddingLayer(Count(o, "vocabulary"), Count(o, "dimension"), name);
    }

    private static Dictionary<string, string> DescribeRecurrent(Layer l)
    {
        var r = (RecurrentCellLayer)l;
        var c = r.Cell;
        if (r.IsBidirectional || c is not (RNN or GRU or LSTM))
            throw new GraphException($"recurrent layer '{l.Name}' ({l.Kind}): only one RNN, GRU or LSTM cell can be saved in a .flexnet file.");
        var d = new Dictionary<string, string>
        {
            ["cell"] = c.Form,
            ["units"] = c.Units.ToString(CultureInfo.InvariantCulture),
            ["return_sequences"] = c.ReturnSequences ? "true" : "false",
            ["go_backwards"] = c.GoBackwards ? "true" : "false",
        };
        if (c.InputWidth is int w) d["input_width"] = w.ToString(CultureInfo.InvariantCulture);
        if (c is RNN rnn) d["activation"] = rnn.Activation.ToString().ToLowerInvariant();
        if (c is LSTM lstm) d["peepholes"] = lstm.Peepholes ? "true" : "false";
        return d;
    }

    private static RecurrentCellLayer CreateRecurrent(string name, IReadOnlyDictionary<string, string> o)
    {
        string cell = o.TryGetValue("cell", out var k) ? k : throw new FormatException("option 'cell' is missing.");
        int units = Count(o, "units");
        bool seq = Flag(o, "return_sequences"), back = Flag(o, "go_backwards");
        int? width = o.ContainsKey("input_width") ? Count(o, "input_width") : null;
        RecurrentLayer c;
        switch (cell)
        {
            case "rnn":
                Only(o, "cell", "units", "return_sequences", "go_backwards", "input_width", "activation");
                string act = o.TryGetValue("activation", out var a) ? a : throw new FormatException("option 'activation' is missing.");
                if (act is not ("tanh" or "relu" or "sigmoid" or "linear"))
                    throw new FormatException($"option 'activation' is '{(act.Length > 40 ? act[..40] + "..." : act)}', not tanh, relu, sigmoid or linear.");
                c = new RNN(units, act, seq, back, name, null, width);
                break;
            case "gru":
                Only(o, "cell", "units", "return_sequences", "go_backwards", "input_width");
                c = new GRU(units, seq, back, name, null, width);
                break;
            case "lstm":
                Only(o, "cell", "units", "return_sequences", "go_backwards", "input_width", "peepholes");
                c = new LSTM(units, seq, back, Flag(o, "peepholes"), name, null, width);
                break;
            default:
                throw new FormatException($"option 'cell' is '{(cell.Length > 40 ? cell[..40] + "..." : cell)}', not rnn, gru or lstm.");
        }
        return new RecurrentCellLayer(c, name);
    }

    /// <summary>Stepped input [I] → [H]; whole-sequence input [T, F] → [T, H] or [H]; the cell's parameters in its order.</summary>
    private static LayerShapes RecurrentShapes(int[] input, IReadOnlyDictionary<string, string> o)
    {
        var c = CreateRecurrent("check", o).Cell;
        if (input.Length is not (1 or 2)) throw new ArgumentException($"a recurrent layer reads vectors [I] or sequences [T, F]; got rank {input.Length}.");
        int h = c.Units, i = input[^1];
        int g = c switch { LSTM => 4, GRU => 3, _ => 1 };
        int gh = checked(g * h);
        var ps = new List<(string, int[])> { ("weight_ih_l0", [gh, i]), ("weight_hh_l0", [gh, h]), ("bias_ih_l0", [gh]), ("bias_hh_l0", [gh]) };
        if (c is LSTM { Peepholes: true }) ps.AddRange([("ci", [h]), ("cf", [h]), ("co", [h])]);
        int[] output = input.Length == 2 && c.ReturnSequences ? [input[0], h] : [h];
        return new LayerShapes(output, ps);
    }

    private static bool Flag(IReadOnlyDictionary<string, string> o, string key)
    {
        if (!o.TryGetValue(key, out var text)) throw new FormatException($"option '{key}' is missing.");
        return text switch
        {
            "true" => true,
            "false" => false,
            _ => throw new FormatException($"option '{key}' is '{(text.Length > 40 ? text[..40] + "..." : text)}', not true or false."),
        };
    }

    private static int Count(IReadOnlyDictionary<string, string> o, string key)
    {
        if (!o.TryGetValue(key, out var text)) throw new FormatException($"option '{key}' is missing.");
        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int v) || v < 1)
            throw new FormatException($"option '{key}' is '{(text.Length > 40 ? text[..40] + "..." : text)}', not an integer from 1 to {int.MaxValue}.");
        return v;
    }

    private static Dictionary<string, string> WithSeed(string key, double value, ulong? seed)
    {
        var d = new Dictionary<string, string> { [key] = Text(value) };
        if (seed is ulong s) d["seed"] = s.ToString(CultureInfo.InvariantCulture);
        return d;
    }

    private static string Text(double v) => v.ToString("R", CultureInfo.InvariantCulture);

    private static void Only(IReadOnlyDictionary<string, string> o, params string[] allowed)
    {
        foreach (var k in o.Keys)
            if (Array.IndexOf(allowed, k) < 0)
                throw new FormatException($"unknown option '{(k.Length > 40 ? k[..40] + "..." : k)}' (allowed: {string.Join(", ", allowed)}).");
    }

    private static double Number(IReadOnlyDictionary<string, string> o, string key)
    {
        if (!o.TryGetValue(key, out var text)) throw new FormatException($"option '{key}' is missing.");
        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) || !double.IsFinite(v))
            throw new FormatException($"option '{key}' is '{(text.Length > 40 ? text[..40] + "..." : text)}', not a finite number.");
        return v;
    }

    private static ulong? Seed(IReadOnlyDictionary<string, string> o)
    {
        if (!o.TryGetValue("seed", out var text)) return null;
        if (!ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out ulong s))
            throw new FormatException($"option 'seed' is '{(text.Length > 40 ? text[..40] + "..." : text)}', not an unsigned 64-bit integer.");
        return s;
    }
}
