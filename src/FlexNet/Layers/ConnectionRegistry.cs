using FlexNet.Connections;
using FlexNet.Graph;

namespace FlexNet.Layers;

/// <summary>A registered connection kind: its name, a one-line description, its options and its factory.</summary>
/// <param name="Name">Kind name used in specs (lower case), e.g. <c>elementwise</c>.</param>
/// <param name="Description">One line.</param>
/// <param name="Parameters">Option names with a hint, e.g. <c>rank (int, required)</c>; the option's key is the first word.</param>
/// <param name="Factory">Builds the connection for one edge.</param>
public sealed record ConnectionKind(string Name, string Description, IReadOnlyList<string> Parameters, Func<ConnectionSite, Connection> Factory)
{
    /// <summary>The option keys (the first word of each <see cref="Parameters"/> entry).</summary>
    public IReadOnlyList<string> OptionKeys => Parameters.Select(p => p.Split([' ', '(', ','], 2)[0]).Where(k => k.Length > 0).ToArray();
}

/// <summary>One edge a registered connection kind is asked to build: the source and target layers, the name the
/// connection must take (its parameters are named <c>{Name}.{param}</c>) and the kind's options from the layer spec.</summary>
public sealed class ConnectionSite
{
    internal ConnectionSite(Layer from, Layer to, string name, LayerArgs options)
    {
        From = from;
        To = to;
        Name = name;
        Options = options;
    }

    /// <summary>Source layer (its output s [N, ...sourceShape] is what the connection reads).</summary>
    public Layer From { get; }

    /// <summary>Target layer (the connection's contribution c is combined into its input).</summary>
    public Layer To { get; }

    /// <summary>The name to give the connection.</summary>
    public string Name { get; }

    /// <summary>The kind's options (only the keys the kind declares), read with typed accessors; errors name the spec.</summary>
    public LayerArgs Options { get; }
}

/// <summary>
/// The closed registry of connection kinds that specs and saved models may name (the connection counterpart of
/// <see cref="LayerRegistry"/>): a name maps to a factory delegate registered in code — a spec never names a .NET type.
/// A dense (or classifier) layer spec with <c>connection: "KIND"</c> connects each of its inputs through that kind instead of a
/// full matrix: y = act(Σₖ cₖ(xₖ) + b) with cₖ = KIND(xₖ) [N, units] and the layer's own bias b [units].
/// Built-in kinds: <c>dense</c> (the default), <c>identity</c>, <c>elementwise</c>, <c>complement</c>; custom
/// <see cref="Connection"/> subclasses are added with <see cref="Register(string, string, IReadOnlyList{string}, Func{ConnectionSite, Connection})"/>.
/// </summary>
public static class ConnectionRegistry
{
    private static readonly Registry<ConnectionKind> Table = new("connection kind");
    private static readonly HashSet<string> Reserved = new(StringComparer.OrdinalIgnoreCase) { "form", "name", "inputs", "size", "activation", "bias", "init", "rng", "connection" };

    static ConnectionRegistry()
    {
        Add(new("dense", "Full matrix c = s·Wᵀ (default; in a dense layer spec it also owns the layer's bias)", [],
                s => new DenseConnection(s.From, s.To, 0, false, null, s.Name)));
        Add(new("identity", "c = s, no parameters (source and target shapes equal)", [],
                s => new IdentityConnection(s.From, s.To, 0, s.Name)));
        Add(new("elementwise", "c = w ⊙ s, one weight per unit (starts at 1)", [],
                s => new ElementwiseConnection(s.From, s.To, 0, false, s.Name)));
        Add(new("complement", "c = 1 − s, no parameters", [],
                s => new ComplementConnection(s.From, s.To, 0, s.Name)));
    }

    private static void Add(ConnectionKind kind)
    {
        Table.Register(kind.Name, kind);
    }

    /// <summary>Every registered kind (built-in first, then custom ones in registration order).</summary>
    public static IReadOnlyList<ConnectionKind> Kinds
    {
        get => Table.Entries;
    }

    /// <summary>All registered kind names, sorted.</summary>
    public static IReadOnlyList<string> Names
    {
        get => Table.AcceptedNames;
    }

    /// <summary>Whether <paramref name="name"/> is a registered kind.</summary>
    /// <param name="name">Kind name.</param>
    /// <returns>True when registered.</returns>
    public static bool IsRegistered(string name)
    {
        return Table.Contains(name);
    }

    /// <summary>The kind registered as <paramref name="name"/>, or null.</summary>
    /// <param name="name">Kind name.</param>
    /// <returns>The kind.</returns>
    public static ConnectionKind? Describe(string name)
    {
        return Table.TryGet(name, out var k) ? k : null;
    }

    /// <summary>Registers (or replaces) a kind without options, e.g.
    /// <c>Register("scaled", "...", s =&gt; new Scaled(s.From, s.To, name: s.Name))</c>.</summary>
    /// <param name="name">Kind name used in specs and saved models.</param>
    /// <param name="description">One line for <c>flexnet layers</c>.</param>
    /// <param name="factory">Builds the connection for one edge (it must use <see cref="ConnectionSite.Name"/>).</param>
    public static void Register(string name, string description, Func<ConnectionSite, Connection> factory) =>
        Register(name, description, [], factory);

    /// <summary>Registers (or replaces) a kind with options read from the layer spec, e.g.
    /// <c>Register("lowrank", "...", ["rank (int, required)"], s =&gt; new LowRank(s.From, s.To, s.Options.Int("rank"), s.Name))</c>.</summary>
    /// <param name="name">Kind name used in specs and saved models.</param>
    /// <param name="description">One line for <c>flexnet layers</c>.</param>
    /// <param name="parameters">Option names with hints; a layer spec using the kind may give these keys.</param>
    /// <param name="factory">Builds the connection for one edge (it must use <see cref="ConnectionSite.Name"/>).</param>
    public static void Register(string name, string description, IReadOnlyList<string> parameters, Func<ConnectionSite, Connection> factory)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(factory);
        var kind = new ConnectionKind(name.ToLowerInvariant(), description ?? "", parameters ?? [], factory);
        foreach (var k in kind.OptionKeys)
            if (Reserved.Contains(k) || LayerInit.IsAttribute(k))
                throw new ArgumentException($"Connection kind '{name}': option '{k}' clashes with an argument of the dense form.", nameof(parameters));
        Add(kind);
    }

    /// <summary>The kind named <paramref name="name"/>, or a <see cref="SpecValidationException"/> naming
    /// <paramref name="path"/> and listing the registered kinds.</summary>
    /// <param name="name">Kind name.</param>
    /// <param name="path">Where the spec is (for the message).</param>
    /// <returns>The kind.</returns>
    public static ConnectionKind Require(string name, string path) => Describe(name)
        ?? throw new SpecValidationException($"{path}: unknown connection kind '{name}'. Registered connection kinds: {string.Join(", ", Names)}.");

    /// <summary>Builds the connection of kind <paramref name="kind"/> from <paramref name="from"/> to <paramref name="to"/>.</summary>
    /// <param name="kind">Kind name.</param>
    /// <param name="from">Source layer.</param>
    /// <param name="to">Target layer.</param>
    /// <param name="name">Connection name.</param>
    /// <param name="options">The kind's options (null: none).</param>
    /// <param name="path">Where the spec is (for messages).</param>
    /// <returns>The connection (not yet added to a network).</returns>
    /// <exception cref="SpecValidationException">Unknown kind or bad options.</exception>
    public static Connection Create(string kind, Layer from, Layer to, string name, IReadOnlyDictionary<string, object>? options = null, string? path = null)
    {
        ArgumentNullException.ThrowIfNull(from);
        ArgumentNullException.ThrowIfNull(to);
        path ??= $"connection '{name}'";
        var k = Require(kind, path);
        var args = new LayerArgs(options ?? new Dictionary<string, object>(), $"{path} connection '{k.Name}'");
        Connection c;
        try
        {
            c = k.Factory(new ConnectionSite(from, to, name, args));
        }
        catch (ArgumentException e)
        {
            throw args.Error(e.Message);
        }
        if (c is null || !ReferenceEquals(c.From, from) || !ReferenceEquals(c.To, to))
            throw args.Error($"the factory of connection kind '{k.Name}' must return a connection from '{from.Name}' to '{to.Name}'.");
        return c;
    }
}
