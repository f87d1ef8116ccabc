using FlexNet.Graph;

namespace FlexNet.Connections;

/// <summary>What a registered connection kind contributes and which parameters it owns, for given shapes.</summary>
/// <param name="Output">Per-sample shape of the contribution c.</param>
/// <param name="Parameters">The parameters the connection's <c>Build</c> declares, in order: short name (as given to
/// <c>AddParameter</c>) and shape.</param>
public readonly record struct ConnectionShapes(int[] Output, IReadOnlyList<(string Name, int[] Shape)> Parameters);

/// <summary>
/// The registry of user-defined connection kinds that model files may hold (like Keras'
/// <c>register_keras_serializable</c>). A registered kind is saved as its name and its options (string → string);
/// loading calls the registered factory, never a type named by the file. The shape function predicts the
/// contribution and the parameter shapes so that a file is checked against its tensors before anything is allocated.
/// </summary>
/// <example><code>
/// ConnectionKinds.Register&lt;ScaleConnection&gt;("scale",
///     describe: c =&gt; new Dictionary&lt;string, string&gt; { ["factor"] = c.Factor.ToString("R") },
///     create: (from, to, delay, name, o) =&gt; new ScaleConnection(from, to, double.Parse(o["factor"]), delay, name),
///     shapes: (source, target, o) =&gt; new ConnectionShapes(source, []));
/// </code></example>
public static class ConnectionKinds
{
    internal sealed record Entry(
        string Kind,
        Type Type,
        Func<Connection, IReadOnlyDictionary<string, string>> Describe,
        Func<Layer, Layer, int, string, IReadOnlyDictionary<string, string>, Connection> Create,
        Func<int[], int[]?, IReadOnlyDictionary<string, string>, ConnectionShapes> Shapes);

    private static readonly KindTable<Entry> Table = new();

    /// <summary>Registers (or replaces) a connection kind for model files.</summary>
    /// <typeparam name="TConnection">The connection type (matched exactly, not by subclass).</typeparam>
    /// <param name="kind">Name written in files; not one of FlexNet's own kinds (dense, conv2d, ...).</param>
    /// <param name="describe">The options that, with from, to, delay and name, recreate the connection.</param>
    /// <param name="create">Makes the connection from (from, to, delay, name, options); throw
    /// <see cref="ArgumentException"/> or <see cref="FlexNetException"/> for options it cannot use.</param>
    /// <param name="shapes">(source shape, target shape or null, options) → contribution shape and parameter shapes,
    /// exactly as the connection's <c>Build</c> will create them.</param>
    /// <exception cref="ArgumentException">The kind is empty or one of FlexNet's own.</exception>
    public static void Register<TConnection>(string kind, Func<TConnection, IReadOnlyDictionary<string, string>> describe,
        Func<Layer, Layer, int, string, IReadOnlyDictionary<string, string>, TConnection> create,
        Func<int[], int[]?, IReadOnlyDictionary<string, string>, ConnectionShapes> shapes) where TConnection : Connection
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(kind);
        ArgumentNullException.ThrowIfNull(describe);
        ArgumentNullException.ThrowIfNull(create);
        ArgumentNullException.ThrowIfNull(shapes);
        if (Array.IndexOf(NetworkFileCodec.ConnectionKinds, kind) >= 0)
            throw new ArgumentException($"'{kind}' is one of FlexNet's own connection kinds; choose another name.", nameof(kind));
        var e = new Entry(kind, typeof(TConnection), c => describe((TConnection)c), (f, t, d, n, o) => create(f, t, d, n, o), shapes);
        Table.Add(kind, typeof(TConnection), e);
    }

    /// <summary>The registered kinds' names.</summary>
    public static IReadOnlyList<string> Registered => Table.Names;

    internal static Entry? Find(string kind) => Table.Find(kind);

    internal static Entry? Find(Type type) => Table.Find(type);
}
