namespace FlexNet.Models;

/// <summary>
/// Subclassed models that model files may name (Keras' <c>register_keras_serializable</c>): a name maps to a factory
/// registered in code, never to a .NET type read from a file. Register once (e.g. at start-up, before saving and
/// loading): <c>ModelRegistry.Register&lt;MyModel&gt;("my_model", config =&gt; new MyModel(int.Parse(config["units"])))</c>,
/// and let the model give its constructor arguments by overriding <see cref="Model.GetConfig"/>. Saving stores the
/// name and the configuration; loading calls the factory with the configuration, builds the model and loads the
/// weights.
/// </summary>
public static class ModelRegistry
{
    private sealed record Entry(string Name, Type Type, Func<IReadOnlyDictionary<string, string>, Model> Create);

    private static readonly Registry<Entry> Table = new("model class");
    private static readonly Dictionary<Type, Entry> ByType = new();
    private static readonly object Gate = new();

    /// <summary>Registers (or replaces) a model class under <paramref name="name"/>.</summary>
    /// <typeparam name="TModel">The model class (a subclass of <see cref="Model"/>).</typeparam>
    /// <param name="name">The name stored in model files (1 to 256 characters).</param>
    /// <param name="create">Builds the model from the configuration its <see cref="Model.GetConfig"/> gave.</param>
    /// <exception cref="ArgumentException">An empty or too long name.</exception>
    public static void Register<TModel>(string name, Func<IReadOnlyDictionary<string, string>, TModel> create) where TModel : Model
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(create);
        if (name.Length > 256) throw new ArgumentException($"A model class name has at most 256 characters; got {name.Length}.", nameof(name));
        var entry = new Entry(name, typeof(TModel), c => create(c));
        lock (Gate)
        {
            Table.Register(name, entry);
            ByType[typeof(TModel)] = entry;
        }
    }

    /// <summary>The registered names, in registration order.</summary>
    public static IReadOnlyList<string> Registered => Table.Names;

    /// <summary>The name a class is registered under, or null.</summary>
    internal static string? NameOf(Type type)
    {
        lock (Gate) return ByType.TryGetValue(type, out var e) ? e.Name : null;
    }

    /// <summary>The factory registered as <paramref name="name"/> and the class it makes, or null.</summary>
    internal static (Type Type, Func<IReadOnlyDictionary<string, string>, Model> Create)? Find(string name) =>
        Table.TryGet(name, out var e) && e.Name == name ? (e.Type, e.Create) : null;
}
