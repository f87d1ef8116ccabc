using FlexNet.Layers.Recurrent;
using FlexNet.Graph;
using System.Globalization;
using FlexNet.IO;
using FlexNet.Tensors;

namespace FlexNet.References;

/// <summary>
/// One reference case: a safetensors file whose metadata names an <c>op</c> and its hyper-parameters, with
/// inputs/parameters, seed gradients <c>g_*</c>, expected outputs <c>out_*</c> and expected gradients <c>grad_*</c>
/// (conventions of <c>testdata/reference/README.md</c>). Tensors load as float64 (integers as Int32).
/// </summary>
public sealed class ReferenceCase
{
    private readonly SafeTensorFile _file;

    private ReferenceCase(SafeTensorFile file, string name)
    {
        _file = file;
        Name = name;
    }

    /// <summary>The case name (file name without extension).</summary>
    public string Name { get; }

    /// <summary>The <c>op</c> metadata entry ("" when absent).</summary>
    public string Op => _file.Metadata.TryGetValue("op", out var op) ? op : "";

    /// <summary>All metadata entries.</summary>
    public IReadOnlyDictionary<string, string> Metadata => _file.Metadata;

    /// <summary>Names of every stored tensor.</summary>
    public IEnumerable<string> TensorNames
    {
        get
        {
            foreach (var t in _file.Tensors) yield return t.Name;
        }
    }

    /// <summary>Reads a case file.</summary>
    /// <param name="path">Path of a .safetensors case.</param>
    /// <returns>The case.</returns>
    /// <exception cref="ModelFormatException">When the file is malformed.</exception>
    public static ReferenceCase Load(string path) => new(SafeTensorFile.Read(path), Path.GetFileNameWithoutExtension(path));

    /// <summary>True when a tensor of that name is stored.</summary>
    /// <param name="name">Tensor name.</param>
    /// <returns>Whether it exists.</returns>
    public bool Has(string name) => _file.Contains(name);

    /// <summary>A stored tensor as a float64 tensor (integer dtypes as Int32).</summary>
    /// <param name="name">Tensor name.</param>
    /// <returns>The tensor.</returns>
    public Tensor Get(string name)
    {
        var e = _file[name];
        return e.DType switch
        {
            SafeTensorDType.I64 or SafeTensorDType.I32 or SafeTensorDType.U8 => Tensor.FromArray(e.ToInt32Array(), e.Shape),
            _ => Tensor.FromArray(e.ToDoubleArray(), e.Shape),
        };
    }

    /// <summary>A stored float tensor as a leaf that requires gradients.</summary>
    /// <param name="name">Tensor name.</param>
    /// <returns>The parameter/input tensor.</returns>
    public Tensor Param(string name) => Get(name).RequireGrad();

    /// <summary>An integer hyper-parameter (first component of a tuple such as "2,2" or "(2, 2)").</summary>
    /// <param name="key">Metadata key.</param>
    /// <param name="fallback">PyTorch's default when the key is absent.</param>
    /// <returns>The value.</returns>
    public int Int(string key, int fallback) => Ints(key, fallback)[0];

    /// <summary>A pair hyper-parameter such as "2", "2,3" or "(2, 3)" (a single value is repeated).</summary>
    /// <param name="key">Metadata key.</param>
    /// <param name="fallback">Default for both components.</param>
    /// <returns>The (first, second) pair.</returns>
    public (int, int) Pair(string key, int fallback)
    {
        var v = Ints(key, fallback);
        return (v[0], v.Length > 1 ? v[1] : v[0]);
    }

    private int[] Ints(string key, int fallback)
    {
        if (!Metadata.TryGetValue(key, out var s)) return [fallback];
        var parts = s.Trim().Trim('(', ')', '[', ']').Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var r = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!int.TryParse(parts[i], NumberStyles.Integer, CultureInfo.InvariantCulture, out r[i]))
                throw new FormatException($"{Name}: metadata '{key}' = '{s}' is not an integer or tuple of integers.");
        return r.Length == 0 ? [fallback] : r;
    }

    /// <summary>A floating-point hyper-parameter (first component of a tuple).</summary>
    /// <param name="key">Metadata key.</param>
    /// <param name="fallback">Default when absent.</param>
    /// <returns>The value.</returns>
    public double Double(string key, double fallback) => Doubles(key, fallback)[0];

    /// <summary>A tuple of floating-point values such as "0.9,0.999".</summary>
    /// <param name="key">Metadata key.</param>
    /// <param name="fallback">Default (one component) when absent.</param>
    /// <returns>The values.</returns>
    public double[] Doubles(string key, params double[] fallback)
    {
        if (!Metadata.TryGetValue(key, out var s)) return fallback;
        var parts = s.Trim().Trim('(', ')', '[', ']').Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var r = new double[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!double.TryParse(parts[i], NumberStyles.Float, CultureInfo.InvariantCulture, out r[i]))
                throw new FormatException($"{Name}: metadata '{key}' = '{s}' is not a number or tuple of numbers.");
        return r;
    }

    /// <summary>A boolean hyper-parameter ("true"/"false"/"1"/"0", case-insensitive).</summary>
    /// <param name="key">Metadata key.</param>
    /// <param name="fallback">Default when absent.</param>
    /// <returns>The value.</returns>
    public bool Bool(string key, bool fallback)
    {
        if (!Metadata.TryGetValue(key, out var s)) return fallback;
        return s.Trim().ToLowerInvariant() switch
        {
            "true" or "1" or "yes" => true,
            "false" or "0" or "no" => false,
            _ => throw new FormatException($"{Name}: metadata '{key}' = '{s}' is not a boolean."),
        };
    }

    /// <summary>A string hyper-parameter.</summary>
    /// <param name="key">Metadata key.</param>
    /// <param name="fallback">Default when absent.</param>
    /// <returns>The value.</returns>
    public string Text(string key, string fallback) => Metadata.TryGetValue(key, out var s) ? s : fallback;

    /// <summary>The loss of the reference convention, Σ_k Σ out_k ⊙ g_k, over the outputs that have a stored seed <c>g_k</c>.</summary>
    /// <param name="outputs">Computed outputs by name without the <c>out_</c> prefix (e.g. "y").</param>
    /// <returns>The scalar loss.</returns>
    public Tensor SeedLoss(IReadOnlyDictionary<string, Tensor> outputs)
    {
        Tensor? loss = null;
        foreach (var (name, value) in outputs)
        {
            if (!Has("g_" + name)) continue;
            var term = (value * Get("g_" + name)).Sum();
            loss = loss is null ? term : loss + term;
        }
        return loss ?? throw new InvalidOperationException($"{Name}: no g_* seed matches the outputs {string.Join(", ", outputs.Keys)}.");
    }
}
