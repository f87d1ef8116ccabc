using System.Text.Json;
using System.Text.Json.Nodes;
using FlexNet.Connections;
using FlexNet.Graph;
using FlexNet.IO;

namespace FlexNet.Models;

public partial class FeedbackChain
{
    /// <summary>Saves the chain to a <c>.flexnet</c> file (format version 2), atomically: its network as
    /// <see cref="NetworkFile"/> describes it (every layer and connection, the Mergers' feedback connections included)
    /// plus a <c>model</c> section with the chain's kind (chain or tree), input, output and Splitter names. Saving twice
    /// gives identical bytes; <see cref="Load"/> gives the chain back and <c>Network.Load</c> its network.</summary>
    /// <param name="path">Destination.</param>
    /// <exception cref="GraphException">A Merger's connection is a custom kind that is not registered (the message says how to register it).</exception>
    public void Save(string path)
    {
        // Stryker disable once Statement: equivalent: SafeTensorWriter.Write throws the same ArgumentNullException naming 'path' (the image is only built in memory first)
        ArgumentNullException.ThrowIfNull(path);
        var (meta, entries) = Image();
        SafeTensorWriter.Write(path, meta, entries);
    }

    internal (Dictionary<string, string> Meta, List<SafeTensorEntry> Entries) Image()
    {
        var (meta, entries) = NetworkFile.Image(Network);
        var arch = JsonNode.Parse(meta["architecture"])!.AsObject();
        arch["format_version"] = 2;
        var splits = new JsonObject();
        foreach (var (name, layer) in _splits.OrderBy(kv => kv.Key, StringComparer.Ordinal)) splits[name] = layer.Name;
        arch["model"] = new JsonObject
        {
            ["kind"] = IsTree ? "feedback_tree" : "feedback_chain",
            ["input"] = Input.Name,
            ["output"] = Output.Name,
            ["splits"] = splits,
        };
        meta["format_version"] = "2";
        meta["architecture"] = arch.ToJsonString();
        return (meta, entries);
    }

    /// <summary>Loads a chain saved with <see cref="Save"/>: a <see cref="FeedbackChain"/> or a <see cref="FeedbackTree"/>,
    /// with bit-identical weights and outputs, ready to step and to train further. All-or-nothing.</summary>
    /// <param name="path">A <c>.flexnet</c> file written by <see cref="Save"/>.</param>
    /// <returns>The chain.</returns>
    /// <exception cref="ModelFormatException">The file is malformed or holds no feedback chain (the message names the file).</exception>
    public static FeedbackChain Load(string path)
    {
        // Stryker disable once Statement: equivalent: SafeTensorFile.Read throws the same ArgumentNullException naming 'path'
        ArgumentNullException.ThrowIfNull(path);
        return FromFile(SafeTensorFile.Read(path), path);
    }

    internal static FeedbackChain FromFile(SafeTensorFile file, string path)
    {
        ModelFormatException Bad(string msg) => new($"model file '{path}': {msg}");
        string json = ModelFile.Architecture(file, path);
        string kind, input, output;
        var splitNames = new List<KeyValuePair<string, string>>();
        try
        {
            var model = JsonNode.Parse(json, documentOptions: new JsonDocumentOptions { MaxDepth = 16 })?["model"] as JsonObject
                        ?? throw Bad("the architecture has no 'model' object; a Connect network loads with Network.Load.");
            foreach (var (k, _) in model)
                if (k is not ("kind" or "input" or "output" or "splits")) throw Bad($"model has an unknown field '{NetworkFileCodec.Short(k)}' (allowed: kind, input, output, splits).");
            kind = Text(model, "kind");
            if (kind is not ("feedback_chain" or "feedback_tree"))
                throw Bad($"the file holds a '{NetworkFileCodec.Short(kind)}' model, not a feedback chain; load it with Model.Load.");
            input = Text(model, "input");
            output = Text(model, "output");
            var splits = model["splits"] as JsonObject ?? throw Bad("model.splits must be an object (Splitter name → layer name).");
            if (splits.Count > 1024) throw Bad("model.splits has more than 1024 entries.");
            foreach (var (k, v) in splits)
                splitNames.Add(new(k, v is JsonValue jv && jv.TryGetValue<string>(out var s) ? s : throw Bad($"model.splits.{NetworkFileCodec.Short(k)} must be a layer name.")));
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException or ArgumentException)
        {
            throw Bad($"the architecture's model section is malformed: {e.Message}");
        }
        var net = NetworkFile.FromNetworkFile(file, path, allowModel: true);
        Layer Find(string name, string what) =>
            net.Layers.FirstOrDefault(l => l.Name == name) ?? throw Bad($"model.{what} names '{NetworkFileCodec.Short(name)}', which is not a layer of the network.");
        var x = Find(input, "input") as InputLayer ?? throw Bad($"model.input '{NetworkFileCodec.Short(input)}' is not an input layer.");
        if (net.Layers.Count(l => l is InputLayer) != 1) throw Bad("a feedback chain's network has exactly one input layer.");
        var y = Find(output, "output");
        if (net.Outputs.Count != 1 || !ReferenceEquals(net.Outputs[0].Layer, y)) throw Bad($"model.output '{NetworkFileCodec.Short(output)}' is not the network's only output.");
        var map = splitNames.Select(kv => new KeyValuePair<string, Layer>(kv.Key, Find(kv.Value, "splits"))).ToList();
        return kind == "feedback_tree" ? new FeedbackTree(net, x, y, map) : new FeedbackChain(net, x, y, map);

        string Text(JsonObject o, string key) =>
            o[key] is JsonValue v && v.TryGetValue<string>(out var s) ? s : throw Bad($"model.{key} must be a string.");
    }
}
