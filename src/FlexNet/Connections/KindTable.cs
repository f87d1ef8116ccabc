namespace FlexNet.Connections;

/// <summary>The user-registered kinds of one model-file table (<see cref="LayerKinds"/>, <see cref="ConnectionKinds"/>):
/// each entry found by its kind name (as files store it) and by its exact .NET type (as saving meets it); registering
/// a kind again replaces it. Thread-safe.</summary>
internal sealed class KindTable<TEntry> where TEntry : class
{
    private readonly Dictionary<string, (Type Type, TEntry Entry)> _byKind = new(StringComparer.Ordinal);
    private readonly Dictionary<Type, TEntry> _byType = new();

    internal void Add(string kind, Type type, TEntry entry)
    {
        lock (_byKind)
        {
            if (_byKind.TryGetValue(kind, out var old)) _byType.Remove(old.Type);
            _byKind[kind] = (type, entry);
            _byType[type] = entry;
        }
    }

    /// <summary>The registered kind names, sorted.</summary>
    internal IReadOnlyList<string> Names
    {
        get
        {
            lock (_byKind) return _byKind.Keys.Order(StringComparer.Ordinal).ToList();
        }
    }

    internal TEntry? Find(string kind)
    {
        lock (_byKind) return _byKind.TryGetValue(kind, out var e) ? e.Entry : null;
    }

    internal TEntry? Find(Type type)
    {
        lock (_byKind) return _byType.GetValueOrDefault(type);
    }
}
