namespace FlexNet.Layers;

/// <summary>A registered layer form: its name, a one-line description, its arguments and its factory.</summary>
/// <param name="Name">Form name used in specs (lower case).</param>
/// <param name="Description">One line.</param>
/// <param name="Parameters">Argument names with a hint, e.g. <c>size (int, required)</c>.</param>
/// <param name="Factory">Builds the layer from its arguments.</param>
/// <param name="Aliases">Other names of the form.</param>
public sealed record LayerForm(string Name, string Description, IReadOnlyList<string> Parameters, Func<LayerArgs, CatalogLayer> Factory,
                               IReadOnlyList<string> Aliases);
