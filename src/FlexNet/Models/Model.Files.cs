using FlexNet.Graph;
using FlexNet.IO;

namespace FlexNet.Models;

public partial class Model
{
    /// <summary>The constructor arguments of a registered subclass (Keras' <c>get_config</c>), stored in its model
    /// file and given back to the factory registered with <see cref="ModelRegistry.Register"/>. Default: none.</summary>
    /// <returns>Name → value (null or empty: the factory needs no arguments).</returns>
    public virtual IReadOnlyDictionary<string, string>? GetConfig() => null;

    /// <summary>Saves the model to a <c>.flexnet</c> file (format version 2), atomically: a safetensors file whose tensors
    /// are <see cref="StateDict"/> (parameters and buffers such as batch-norm running statistics), with the architecture
    /// in its metadata — the model kind (Sequential, Functional, spec model or registered subclass), name, dtype, seed,
    /// inputs, every layer's configuration (<see cref="Layers.CatalogLayer.GetConfig"/>: form, sizes, options, init), the
    /// call graph, outputs and feedback edges. Builds the model first (a traced model needs its input shape). Saving
    /// twice gives identical bytes. <see cref="Load"/> gives back a model of the same kind; <c>Network.Load</c> its network.</summary>
    /// <param name="path">Destination.</param>
    /// <exception cref="GraphException">A subclass that is not registered, or a layer without a configuration (the
    /// message names the class and how to register it).</exception>
    /// <exception cref="ModelFormatException">A spec model with a layer given as an object (no spec to save).</exception>
    public void Save(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        var (meta, entries) = ModelFile.Image(this);
        SafeTensorWriter.Write(path, meta, entries);
    }

    /// <summary>Loads a model saved with <see cref="Save"/>: a <see cref="Sequential"/> file gives a Sequential, a
    /// Functional one a <see cref="Model"/>, a spec model its <see cref="Regressor"/>/<see cref="Classifier"/>/<see cref="Autoencoder"/>,
    /// a registered subclass that class (registered under the same name before loading). Outputs and weights are
    /// bit-identical and the model trains further. Layers are rebuilt through <see cref="Layers.LayerRegistry"/> (custom forms
    /// must be registered), never from a type named by the file; all tensors are checked before any weight is set, and
    /// building is capped in proportion to the stored tensors.</summary>
    /// <param name="path">A <c>.flexnet</c> model file.</param>
    /// <returns>The model.</returns>
    /// <exception cref="ModelFormatException">The file is malformed, names an unknown form or class (listing the registered
    /// ones), or holds a Connect network or a feedback chain (the message says which loader to use).</exception>
    public static Model Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        return ModelFile.Load(SafeTensorFile.Read(path), path);
    }
}
