using FlexNet.Graph;

namespace FlexNet.Connections;

/// <summary>What a registered layer kind produces for an input (combined) shape: its output shape and its own
/// parameters (beyond the layer bias and learned initial state every layer may have), each by short name and shape.</summary>
/// <param name="Output">Per-sample output shape.</param>
/// <param name="Parameters">The layer's own parameters, in the order its <see cref="Layer.Parameters"/> lists them;
/// each tensor must be named <c>{layer name}.{short name}</c>.</param>
public readonly record struct LayerShapes(int[] Output, IReadOnlyList<(string Name, int[] Shape)> Parameters);

/// <summary>
/// User-defined <see cref="Layer"/> subclasses that <c>.flexnet</c> files may hold, the twin of
/// <see cref="ConnectionKinds"/>: register a kind name with three functions, and networks with such layers save and
/// load. Nothing in a file names a .NET type: the loader finds the kind here, predicts the layer's output and
/// parameter shapes with <c>shapes</c> before anything is allocated, and builds it with <c>create</c>.
/// </summary>
/// <example><code>
/// LayerKinds.Register&lt;ScaledTanh&gt;("scaled_tanh",
///     describe: l =&gt; new Dictionary&lt;string, string&gt; { ["alpha"] = l.Alpha.ToString("R", CultureInfo.InvariantCulture) },
///     create: (name, o) =&gt; new ScaledTanh(double.Parse(o["alpha"], CultureInfo.InvariantCulture), name),
///     shapes: (input, o) =&gt; new LayerShapes(input, [("scale", [input[0]])]));
/// </code></example>
public static class LayerKinds
{
    /// <summary>A layer kind. <c>Tensors</c> (FlexNet's own kinds only): the layer's own tensors by short name, for a kind
    /// whose tensors are not named <c>{layer}.{short name}</c>; null: found by that name.</summary>
    internal sealed record Entry(
        string Kind,
        Type Type,
        Func<Layer, IReadOnlyDictionary<string, string>> Describe,
        Func<string, IReadOnlyDictionary<string, string>, Layer> Create,
        Func<int[], IReadOnlyDictionary<string, string>, LayerShapes> Shapes,
        Func<Layer, IReadOnlyList<(string Name, FlexNet.Tensors.Tensor Tensor)>>? Tensors = null);

    private static readonly KindTable<Entry> Table = new();

    /// <summary>Registers (or replaces) a layer kind.</summary>
    /// <typeparam name="TLayer">The layer class.</typeparam>
    /// <param name="kind">The name stored in files (not one of FlexNet's own layer kinds).</param>
    /// <param name="describe">The layer's options as strings (what <paramref name="create"/> needs beyond the name).</param>
    /// <param name="create">Builds the layer from its name and options; it must declare the same shape, combine rule
    /// and bias as the saved one.</param>
    /// <param name="shapes">Output shape and own parameters for an input shape (may throw <see cref="ArgumentException"/>
    /// or <see cref="FormatException"/> for bad options: a file's defect).</param>
    /// <exception cref="ArgumentException">An empty kind or one of FlexNet's own.</exception>
    public static void Register<TLayer>(string kind, Func<TLayer, IReadOnlyDictionary<string, string>> describe,
        Func<string, IReadOnlyDictionary<string, string>, TLayer> create,
        Func<int[], IReadOnlyDictionary<string, string>, LayerShapes> shapes) where TLayer : Layer
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(kind);
        ArgumentNullException.ThrowIfNull(describe);
        ArgumentNullException.ThrowIfNull(create);
        ArgumentNullException.ThrowIfNull(shapes);
        if (Array.IndexOf(NetworkFileCodec.LayerKinds, kind) >= 0)
            throw new ArgumentException($"'{kind}' is one of FlexNet's own layer kinds; choose another name.", nameof(kind));
        var e = new Entry(kind, typeof(TLayer), l => describe((TLayer)l), (n, o) => create(n, o), shapes);
        Table.Add(kind, typeof(TLayer), e);
    }

    /// <summary>The registered kinds, sorted.</summary>
    public static IReadOnlyList<string> Registered => Table.Names;

    internal static Entry? Find(string kind)
    {
        if (BuiltInLayerKinds.Find(kind) is { } own) return own;
        return Table.Find(kind);
    }

    internal static Entry? Find(Type type)
    {
        if (BuiltInLayerKinds.Find(type) is { } own) return own;
        return Table.Find(type);
    }
}
