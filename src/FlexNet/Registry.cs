namespace FlexNet;

/// <summary>
/// A closed table of named entries (layer forms, connection kinds, activations, losses, optimizers): names are
/// case-insensitive, an entry may have aliases, and users add their own with <see cref="Register"/>. Nothing is ever
/// looked up as a .NET type: an unknown name is an error that lists what is registered. Thread-safe.
/// </summary>
/// <typeparam name="TEntry">What a name stands for (a factory, a description, a function).</typeparam>
public sealed class Registry<TEntry> where TEntry : class
{
    private readonly Dictionary<string, TEntry> _byName = new(StringComparer.OrdinalIgnoreCase);
    private readonly List<string> _canonical = new();
    private readonly object _gate = new();

    /// <summary>Creates an empty registry.</summary>
    /// <param name="what">What an entry is, for messages (e.g. <c>activation</c>, <c>layer form</c>).</param>
    public Registry(string what)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(what);
        What = what;
    }

    /// <summary>What an entry is, e.g. <c>activation</c>.</summary>
    public string What { get; }

    /// <summary>Adds or replaces <paramref name="name"/> (and its aliases).</summary>
    /// <param name="name">The canonical name (listed by <see cref="Names"/>).</param>
    /// <param name="entry">The entry.</param>
    /// <param name="aliases">Other names for the same entry (not listed, but found).</param>
    /// <exception cref="ArgumentException">An empty name.</exception>
    public void Register(string name, TEntry entry, params string[] aliases)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(entry);
        lock (_gate)
        {
            if (!_byName.ContainsKey(name)) _canonical.Add(name);
            _byName[name] = entry;
            foreach (var a in aliases)
            {
                ArgumentException.ThrowIfNullOrWhiteSpace(a);
                _byName[a] = entry;
            }
        }
    }

    /// <summary>The entry registered under <paramref name="name"/> or one of its aliases.</summary>
    /// <param name="name">A name (case-insensitive).</param>
    /// <param name="entry">The entry when found.</param>
    /// <returns>True when found.</returns>
    public bool TryGet(string name, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out TEntry? entry)
    {
        lock (_gate) return _byName.TryGetValue(name ?? "", out entry);
    }

    /// <summary>Whether <paramref name="name"/> is registered (or an alias).</summary>
    /// <param name="name">A name.</param>
    /// <returns>True when registered.</returns>
    public bool Contains(string name) => TryGet(name, out _);

    /// <summary>The canonical names in registration order.</summary>
    public IReadOnlyList<string> Names
    {
        get
        {
            lock (_gate) return _canonical.ToArray();
        }
    }

    /// <summary>Every accepted name (canonical names and aliases), sorted ordinally.</summary>
    public IReadOnlyList<string> AcceptedNames
    {
        get
        {
            lock (_gate)
            {
                var all = _byName.Keys.ToArray();
                Array.Sort(all, StringComparer.Ordinal);
                return all;
            }
        }
    }

    /// <summary>The entries in the order their canonical names were first registered, each once.</summary>
    public IReadOnlyList<TEntry> Entries
    {
        get
        {
            lock (_gate)
            {
                var list = new TEntry[_canonical.Count];
                for (int i = 0; i < list.Length; i++) list[i] = _byName[_canonical[i]];
                return list;
            }
        }
    }

    /// <summary>The message for an unknown name: <c>Unknown activation 'x'. Registered: linear, relu, ...</c>.</summary>
    /// <param name="name">The name that was not found.</param>
    /// <returns>The message.</returns>
    public string UnknownMessage(string name) => $"Unknown {What} '{name}'. Registered: {string.Join(", ", Names)}.";
}
