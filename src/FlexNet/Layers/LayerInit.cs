using System.Globalization;
using FlexNet.Initializers;
using FlexNet.Tensors;
using FlexNet.Autodiff;

namespace FlexNet.Layers;

/// <summary>
/// How a catalog layer initialises its parameters. Without any setting the layer keeps its built-in default
/// (PyTorch's: dense/conv W, b ~ U(−1/√fan_in, 1/√fan_in); recurrent U(−1/√H, 1/√H); norms γ = 1, β = 0).
/// <para>theanets attributes (per layer, or per parameter as <c>mean_NAME</c>, <c>std_NAME</c>, ... — the
/// per-parameter value wins): weights W [out, in] ~ N(mean, std²) with std = 1/√(in + out) unless given;
/// <c>sparsity</c> p zeroes a random fraction p of the entries (the leading diagonal is kept);
/// <c>diagonal</c> d gives d·I (rectangular eye); <c>radius</c> r rescales each square [H, H] block of a recurrent
/// matrix to spectral norm r. Biases start at zero unless <c>mean_NAME</c>/<c>std_NAME</c> is given for them.</para>
/// <para>Named schemes (<see cref="Scheme"/>) for weights of rank ≥ 2: <c>glorot_uniform</c>/<c>xavier_uniform</c>
/// U(±√(6/(fan_in+fan_out))), <c>glorot_normal</c>/<c>xavier_normal</c> N(0, 2/(fan_in+fan_out)),
/// <c>he_uniform</c>/<c>kaiming_uniform</c> U(±√(6/fan_in)), <c>he_normal</c>/<c>kaiming_normal</c> N(0, 2/fan_in),
/// <c>orthogonal</c>, <c>identity</c>, <c>zeros</c>, <c>ones</c>, <c>constant</c> (attribute <c>value</c>),
/// <c>torch</c>/<c>default</c> (keep PyTorch's default); biases then start at zero (<c>torch</c>: unchanged).
/// fan_in = shape[1]·receptive field, fan_out = shape[0]·receptive field.</para>
/// <para><see cref="Seed"/> (<c>rng</c>) makes a layer's initialisation repeatable independently of the network's
/// seed; it is mixed with the parameter's full name so two layers with the same seed still differ. A seed without a
/// scheme selects the theanets rules (Gaussian weights, zero biases).</para>
/// </summary>
public sealed class LayerInit
{
    /// <summary>Attribute names accepted (alone or as <c>NAME_param</c> prefixes).</summary>
    public static IReadOnlyList<string> AttributeNames { get; } = ["mean", "std", "sparsity", "diagonal", "radius", "value"];

    /// <summary>Scheme names accepted by <see cref="Scheme"/>.</summary>
    public static IReadOnlyList<string> SchemeNames { get; } =
    [
        "torch", "default", "theanets", "glorot_uniform", "xavier_uniform", "glorot_normal", "xavier_normal", "he_uniform",
        "kaiming_uniform", "he_normal", "kaiming_normal", "orthogonal", "identity", "zeros", "ones", "constant",
    ];

    private readonly Dictionary<string, double> _attributes = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>The default: keep each parameter's built-in initialisation.</summary>
    public LayerInit() { }

    /// <summary>An initialisation from a scheme and/or attributes.</summary>
    /// <param name="scheme">Scheme name (see <see cref="SchemeNames"/>), or null.</param>
    /// <param name="attributes">Attributes such as <c>std</c>, <c>sparsity</c>, <c>std_weight_hh</c>.</param>
    /// <param name="seed">Optional per-layer seed (<c>rng</c>).</param>
    /// <exception cref="SpecValidationException">Unknown scheme or attribute, or a value out of range.</exception>
    public LayerInit(string? scheme, IEnumerable<KeyValuePair<string, double>>? attributes = null, ulong? seed = null)
    {
        if (scheme is not null && !SchemeNames.Contains(scheme.ToLowerInvariant()))
            throw new SpecValidationException($"Unknown initialiser '{scheme}'. Known: {string.Join(", ", SchemeNames)}.");
        Scheme = scheme?.ToLowerInvariant();
        Seed = seed;
        if (attributes is not null)
            foreach (var (k, v) in attributes) Set(k, v);
    }

    /// <summary>A named scheme, as in <c>net.ConnectDense(a, b, init: "he_normal")</c> (see <see cref="SchemeNames"/>).</summary>
    /// <param name="scheme">Scheme name.</param>
    /// <exception cref="SpecValidationException">Unknown scheme.</exception>
    public static implicit operator LayerInit(string scheme) => new(scheme);

    /// <summary>A named scheme (see <see cref="SchemeNames"/>).</summary>
    /// <param name="scheme">Scheme name.</param>
    /// <returns>The settings.</returns>
    public static LayerInit FromScheme(string scheme) => new(scheme);

    /// <summary>The named scheme (null: theanets attributes if any, else the built-in default).</summary>
    public string? Scheme { get; }

    /// <summary>Per-layer seed (theanets' <c>rng</c>), or null to use the network's generator.</summary>
    public ulong? Seed { get; }

    /// <summary>The attributes given (name → value).</summary>
    public IReadOnlyDictionary<string, double> Attributes => _attributes;

    /// <summary>True when nothing was set: parameters keep their built-in initialisation.</summary>
    public bool IsDefault => (Scheme is null or "torch" or "default") && _attributes.Count == 0 && Seed is null;

    /// <summary>Whether <paramref name="key"/> is an init attribute (<c>mean</c>, <c>std_w</c>, ...).</summary>
    /// <param name="key">Attribute name.</param>
    /// <returns>True for a known attribute or a known attribute with a parameter suffix.</returns>
    public static bool IsAttribute(string key)
    {
        foreach (var a in AttributeNames)
            if (key.Equals(a, StringComparison.OrdinalIgnoreCase) ||
                (key.StartsWith(a + "_", StringComparison.OrdinalIgnoreCase) && key.Length > a.Length + 1))
                return true;
        return false;
    }

    private void Set(string key, double value)
    {
        if (!IsAttribute(key))
            throw new SpecValidationException($"Unknown init attribute '{key}'. Known: {string.Join(", ", AttributeNames)} (optionally with _PARAM, e.g. std_weight).");
        string stem = key.Split('_')[0].ToLowerInvariant();
        bool bad = stem switch
        {
            "std" => value < 0 || !double.IsFinite(value),
            "sparsity" => value < 0 || value >= 1,
            "radius" => value < 0 || !double.IsFinite(value),
            _ => !double.IsFinite(value),
        };
        if (bad) throw new SpecValidationException($"Init attribute '{key}' = {value.ToString(CultureInfo.InvariantCulture)} is out of range.");
        _attributes[key] = value;
    }

    private static readonly Dictionary<string, string[]> Aliases = new(StringComparer.OrdinalIgnoreCase)
    {
        ["weight"] = ["w"], ["w"] = ["weight"], ["bias"] = ["b"], ["b"] = ["bias"],
        ["weight_hh_l0"] = ["hh", "weight_hh"], ["weight_ih_l0"] = ["xh", "weight_ih"],
        ["bias_ih_l0"] = ["bias_ih"], ["bias_hh_l0"] = ["bias_hh"],
    };

    private double? Get(string attribute, string param)
    {
        if (_attributes.TryGetValue(attribute + "_" + param, out var v)) return v;
        if (Aliases.TryGetValue(param, out var al))
            foreach (var a in al)
                if (_attributes.TryGetValue(attribute + "_" + a, out v)) return v;
        return null;
    }

    private double? GetLayer(string attribute) => _attributes.TryGetValue(attribute, out var v) ? v : null;

    private bool HasTheanets => _attributes.Count > 0 || Scheme == "theanets" || (Scheme is null && Seed is not null);

    /// <summary>Re-initialises <paramref name="param"/> in place (no-op for the default).</summary>
    /// <param name="param">The parameter (already created with its built-in default).</param>
    /// <param name="shortName">Its short name (e.g. <c>weight</c>, <c>bias</c>, <c>weight_hh_l0</c>) for per-parameter attributes.</param>
    /// <param name="recurrentHidden">For recurrent matrices: H (radius rescales [H, H] blocks); 0 otherwise.</param>
    /// <param name="rng">The network's generator (used when no <see cref="Seed"/>).</param>
    /// <param name="fullName">The parameter's full name, mixed into the per-layer seed.</param>
    public void Apply(Tensor param, string shortName, int recurrentHidden, RandomGenerator rng, string fullName)
    {
        if (IsDefault) return;
        if (Seed is ulong s) rng = new RandomGenerator(Mix(s, fullName));
        var shape = param.ShapeArray;
        bool isWeight = shape.Length >= 2;
        Tensor? value = null;
        var mean = Get("mean", shortName);
        var std = Get("std", shortName);
        if (!isWeight)
        {
            // biases and vectors (norm scales keep their default unless per-parameter values are given)
            bool isScale = shortName is "gamma" or "weight" or "ci" or "cf" or "co";
            if (mean is not null || std is not null)
                value = Tensor.Normal(shape, mean ?? 0, std ?? 0, rng, param.DType);
            else if (isScale && shortName is "gamma" or "weight") return;
            else if (Scheme is "torch" or "default") return;
            else if (Scheme is null && !HasTheanets) return;
            else if (shortName is "ci" or "cf" or "co") value = Tensor.Normal(shape, GetLayer("mean") ?? 0, GetLayer("std") ?? 1 / Math.Sqrt(2.0 * shape[0]), rng, param.DType);
            else value = Tensor.Zeros(shape, param.DType);
        }
        else
        {
            int fanOut = shape[0], fanIn = shape[1], field = 1;
            for (int i = 2; i < shape.Length; i++) field *= shape[i];
            fanIn *= field;
            fanOut *= field;
            var diagonal = Get("diagonal", shortName) ?? GetLayer("diagonal");
            if (Scheme is "torch" or "default" && mean is null && std is null && diagonal is null && GetLayer("mean") is null && GetLayer("std") is null &&
                Get("sparsity", shortName) is null && GetLayer("sparsity") is null && Get("radius", shortName) is null && GetLayer("radius") is null)
                return;
            if (diagonal is double d) value = Eye(shape, d, param.DType);
            else
            {
                switch (Scheme)
                {
                    case "glorot_uniform" or "xavier_uniform":
                        { double b = Math.Sqrt(6.0 / (fanIn + fanOut)); value = Tensor.Uniform(shape, -b, b, rng, param.DType); break; }
                    case "glorot_normal" or "xavier_normal":
                        value = Tensor.Normal(shape, 0, Math.Sqrt(2.0 / (fanIn + fanOut)), rng, param.DType); break;
                    case "he_uniform" or "kaiming_uniform":
                        { double b = Math.Sqrt(6.0 / fanIn); value = Tensor.Uniform(shape, -b, b, rng, param.DType); break; }
                    case "he_normal" or "kaiming_normal":
                        value = Tensor.Normal(shape, 0, Math.Sqrt(2.0 / fanIn), rng, param.DType); break;
                    case "orthogonal": value = Init.Orthogonal(shape, 1, rng, param.DType); break;
                    case "identity": value = Eye(shape, 1, param.DType); break;
                    case "zeros": value = Tensor.Zeros(shape, param.DType); break;
                    case "ones": value = Tensor.Ones(shape, param.DType); break;
                    case "constant": value = Tensor.Full(shape, Get("value", shortName) ?? GetLayer("value") ?? 0, param.DType); break;
                    default:
                        value = Tensor.Normal(shape, mean ?? GetLayer("mean") ?? 0, std ?? GetLayer("std") ?? 1 / Math.Sqrt(fanIn + fanOut), rng, param.DType);
                        break;
                }
                if (Scheme is "torch" or "default") value = param.Detach().Clone();
                if (mean is not null || std is not null)
                    value = Tensor.Normal(shape, mean ?? GetLayer("mean") ?? 0, std ?? GetLayer("std") ?? 1 / Math.Sqrt(fanIn + fanOut), rng, param.DType);
                var sparsity = Get("sparsity", shortName) ?? GetLayer("sparsity");
                if (sparsity is double p && p > 0) value = Sparsify(value, p, rng);
                var radius = Get("radius", shortName) ?? GetLayer("radius");
                if (radius is double r && recurrentHidden > 0 && shape.Length == 2 && shape[1] == recurrentHidden && shape[0] % recurrentHidden == 0)
                    value = r > 0 ? Init.ScaleBlocksToSpectralNorm(value, r) : value * 0.0;
            }
        }
        using (Autodiff.Autograd.NoGrad()) param.CopyFrom(value.To(param.DType));
    }

    internal static ulong Mix(ulong seed, string name)
    {
        ulong h = 14695981039346656037UL ^ seed;
        foreach (char c in name) h = (h ^ c) * 1099511628211UL;
        return h;
    }

    private static Tensor Eye(int[] shape, double d, DType dtype)
    {
        var t = Tensor.Zeros(shape, dtype);
        int rows = shape[0], cols = ShapeUtil.Product(shape) / rows;
        var flat = t.Reshape(rows, cols);
        for (int i = 0; i < Math.Min(rows, cols); i++) flat[i, i] = d;
        return t;
    }

    private static Tensor Sparsify(Tensor w, double p, RandomGenerator rng)
    {
        var v = w.Detach().Clone();
        int rows = v.Shape[0], cols = v.Length / rows;
        var flat = v.Reshape(rows, cols);
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++)
                if (i != j && rng.NextDouble() < p) flat[i, j] = 0;
        return v;
    }
}
