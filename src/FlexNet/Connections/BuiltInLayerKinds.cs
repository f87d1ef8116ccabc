using System.Globalization;
using FlexNet.Graph;
using FlexNet.Layers;

namespace FlexNet.Connections;

/// <summary>FlexNet's own layer kinds that a <c>.flexnet</c> file stores like registered ones (kind, options map,
/// own parameters predicted from the input shape): <c>batchnorm</c> (<see cref="BatchNormLayer"/>), <c>dropout</c>
/// (<see cref="DropoutLayer"/>), <c>gaussian_noise</c> (<see cref="GaussianNoiseLayer"/>), <c>layernorm</c>
/// (<see cref="LayerNormLayer"/>), <c>lrn</c> (<see cref="LocalResponseNormLayer"/>) and <c>embedding</c>
/// (<see cref="EmbeddingLayer"/>), <c>recurrent</c> (<see cref="RecurrentCellLayer"/> with any of FlexNet's recurrent
/// cells, or a bidirectional pair: see <see cref="RecurrentLayerKind"/>). Their names are reserved:
/// <see cref="LayerKinds.Register"/> refuses them.</summary>
internal static class BuiltInLayerKinds
{
    // constants, so that the static tables below hold no string Stryker would mutate in an initializer that runs before any mutant is active
    private const string BatchNorm = "batchnorm", Dropout = "dropout", GaussianNoise = "gaussian_noise", LayerNorm = "layernorm", Lrn = "lrn",
                         Embedding = "embedding";

    internal static readonly string[] Names = [BatchNorm, Dropout, GaussianNoise, LayerNorm, Lrn, Embedding, RecurrentLayerKind.Kind];

    // the describe and shape functions are named methods, not lambdas of this static table: Stryker switches a mutant
    // in a method at each call, but tests a mutant of a static initializer's lambda against every test and never sees it killed
    private static readonly LayerKinds.Entry[] Entries =
    [
        new(BatchNorm, typeof(BatchNormLayer), DescribeBatchNorm, CreateBatchNorm, BatchNormShapes),
        new(Dropout, typeof(DropoutLayer), DescribeDropout, CreateDropout, DropoutShapes),
        new(GaussianNoise, typeof(GaussianNoiseLayer), DescribeNoise, CreateNoise, NoiseShapes),
        new(LayerNorm, typeof(LayerNormLayer), DescribeLayerNorm, CreateLayerNorm, LayerNormShapes),
        new(Lrn, typeof(LocalResponseNormLayer), DescribeLrn, CreateLrn, LrnShapes),
        new(Embedding, typeof(EmbeddingLayer), DescribeEmbedding, CreateEmbedding, EmbeddingShapes),
        RecurrentLayerKind.Entry,
    ];

    private static Dictionary<string, string> DescribeBatchNorm(Layer l)
    {
        var b = (BatchNormLayer)l;
        return new Dictionary<string, string> { ["momentum"] = Text(b.Momentum), ["epsilon"] = Text(b.Epsilon) };
    }

    private static LayerShapes BatchNormShapes(int[] input, IReadOnlyDictionary<string, string> o)
    {
        // Stryker disable once String : equivalent: the layer built only to check the options is dropped, and its constructor accepts any name
        CreateBatchNorm("check", o);
        int[] c = [input[0]];
        return new LayerShapes(input, [("gamma", c), ("beta", c), ("running_mean", c), ("running_var", c)]);
    }

    private static Dictionary<string, string> DescribeDropout(Layer l)
    {
        var d = (DropoutLayer)l;
        return WithSeed("rate", d.Rate, d.Seed);
    }

    private static LayerShapes DropoutShapes(int[] input, IReadOnlyDictionary<string, string> o)
    {
        // Stryker disable once String : equivalent: the layer built only to check the options is dropped, and its constructor accepts any name
        CreateDropout("check", o);
        return new LayerShapes(input, []);
    }

    private static Dictionary<string, string> DescribeNoise(Layer l)
    {
        var g = (GaussianNoiseLayer)l;
        return WithSeed("std", g.Std, g.Seed);
    }

    private static LayerShapes NoiseShapes(int[] input, IReadOnlyDictionary<string, string> o)
    {
        // Stryker disable once String : equivalent: the layer built only to check the options is dropped, and its constructor accepts any name
        CreateNoise("check", o);
        return new LayerShapes(input, []);
    }

    private static Dictionary<string, string> DescribeLayerNorm(Layer l) =>
        new() { ["epsilon"] = Text(((LayerNormLayer)l).Epsilon) };

    private static LayerShapes LayerNormShapes(int[] input, IReadOnlyDictionary<string, string> o)
    {
        // Stryker disable once String : equivalent: the layer built only to check the options is dropped, and LayerNormLayer accepts any name
        CreateLayerNorm("check", o);
        int[] d = [input[^1]];
        return new LayerShapes(input, [("gamma", d), ("beta", d)]);
    }

    private static Dictionary<string, string> DescribeLrn(Layer l)
    {
        var r = (LocalResponseNormLayer)l;
        return new Dictionary<string, string> { ["size"] = r.Size.ToString(CultureInfo.InvariantCulture), ["alpha"] = Text(r.Alpha), ["beta"] = Text(r.Beta), ["k"] = Text(r.K) };
    }

    private static LayerShapes LrnShapes(int[] input, IReadOnlyDictionary<string, string> o)
    {
        // Stryker disable once String : equivalent: the layer built only to check the options is dropped, and its constructor accepts any name
        CreateLrn("check", o);
        return new LayerShapes(input, []);
    }

    private static Dictionary<string, string> DescribeEmbedding(Layer l)
    {
        var e = (EmbeddingLayer)l;
        return new Dictionary<string, string> { ["vocabulary"] = e.Vocabulary.ToString(CultureInfo.InvariantCulture), ["dimension"] = e.Dimension.ToString(CultureInfo.InvariantCulture) };
    }

    private static LayerShapes EmbeddingShapes(int[] input, IReadOnlyDictionary<string, string> o)
    {
        // Stryker disable once String : equivalent: the layer built only to check the options is dropped, and its constructor accepts any name
        var e = CreateEmbedding("check", o);
        return new LayerShapes([.. input, e.Dimension], [("weight", [e.Vocabulary, e.Dimension])]);
    }

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

    internal static bool Flag(IReadOnlyDictionary<string, string> o, string key)
    {
        if (!o.TryGetValue(key, out var text)) throw new FormatException($"option '{key}' is missing.");
        return text switch
        {
            "true" => true,
            "false" => false,
            _ => throw new FormatException($"option '{key}' is '{(text.Length > 40 ? text[..40] + "..." : text)}', not true or false."),
        };
    }

    internal static int Count(IReadOnlyDictionary<string, string> o, string key)
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

    // Stryker disable once String : equivalent: since .NET Core 3.0 a double's default format is the shortest round-trip text, the same as "R"
    private static string Text(double v) => v.ToString("R", CultureInfo.InvariantCulture);

    internal static void Only(IReadOnlyDictionary<string, string> o, params string[] allowed)
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
