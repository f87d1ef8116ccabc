using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using FlexNet.Graph;
using FlexNet.Models;
using FlexNet.Tensors;

namespace FlexNet.Specs;

/// <summary>The theanets shorthand inside a spec: <c>model: {kind: classifier | regressor | autoencoder, layers: [...]}</c>
/// in place of <c>inputs</c>/<c>layers</c>/<c>connections</c>/<c>outputs</c>. Each entry of <c>layers</c> is a theanets
/// layer spec (<see cref="SpecModel"/>): a size (<c>256</c>), a form name (<c>flatten</c>), a list mixing a size, a
/// form and an activation (<c>[10, linear]</c>, <c>[3, nobias, linear]</c>), or an object with <c>form</c>,
/// <c>size</c>, <c>activation</c>, <c>name</c>, <c>inputs</c> and the form's options; the first is the input (a size,
/// a shape list or an object). Hidden layers default to relu; a classifier's last layer is linear (logits for the
/// cross-entropy loss), a regressor's and an autoencoder's too. The initial weights follow theanets' rules (a layer's
/// <c>rng</c> option), not the spec's <c>seed</c>, which still orders the data. <c>data_kind</c> is <c>feedforward</c>
/// or <c>convolutional</c> (the input a shape such as <c>[1, 28, 28]</c>); sequences need the graph form.</summary>
public sealed partial class TrainingSpec
{
    // Stryker disable all : a static list like LayerKinds in TrainingSpec.cs (the reason is given there); SpecMessageTests spells it out
    /// <summary>The model kinds a spec accepts in <c>model.kind</c>.</summary>
    public static IReadOnlyList<string> TheanetsKinds { get; } = ["classifier", "regressor", "autoencoder"];
    // Stryker restore all

    private static Network BuildTheanets(Ctx c, JsonNode node, TrainingSpec spec)
    {
        const string p = "$.model";
        var o = c.Obj(node, p);
        c.Keys(o, p, ["kind", "layers", "data_kind"]);
        // Stryker disable once String : the default's text only reaches the switch below, whose default arm is the classifier
        string kind = c.Word(o, "kind", p, TheanetsKinds, "model kind") ?? "classifier";
        if (o["data_kind"] is JsonValue dkv && dkv.GetValueKind() == JsonValueKind.String && dkv.GetValue<string>().Equals("recurrent", StringComparison.OrdinalIgnoreCase))
            throw c.Fail(p + ".data_kind", "theanets' recurrent models take sequences whose length the shorthand cannot state; describe the network with " +
                                           "inputs (with sequence_length), layers and connections instead, as examples/specs/lstm.yaml does.");
        // Stryker disable once String : the default's text is only compared with "convolutional" below
        string dataKind = c.Word(o, "data_kind", p, ["feedforward", "convolutional"], "data kind") ?? "feedforward";
        var layers = c.Arr(o, "layers", p, required: true)!;
        if (layers.Count < 2) throw c.Fail(p + ".layers", $"theanets layer specs need an input and at least one layer; there are {layers.Count}.");
        if (layers.Count > MaxItems) throw c.Fail(p + ".layers", $"a spec may have at most {MaxItems} layers; it has {layers.Count}.");
        var specs = new object[layers.Count];
        for (int i = 0; i < layers.Count; i++) specs[i] = LayerSpec(c, layers[i], $"{p}.layers[{i}]", first: i == 0);
        var dk = dataKind == "convolutional" ? DataKind.Convolutional : DataKind.Feedforward; // "recurrent" is refused above
        SpecModel model;
        try
        {
            model = kind switch
            {
                // Stryker disable once String : a Regressor and a Classifier build the same network from the same specs (linear output), and the spec keeps only the network
                "regressor" => new Regressor(dk, DType.Float32, specs),
                "autoencoder" => new Autoencoder(dk, DType.Float32, specs),
                _ => new Classifier(dk, DType.Float32, specs),
            };
            return model.Network;
        }
        catch (SpecValidationException e)
        {
            // SpecModel names the spec as "layers[i] 'name': ..."; point at the same entry of the file
            var m = Regex.Match(e.Message, @"^layers\[(\d+)\]");
            throw c.Fail(m.Success ? $"{p}.layers[{m.Groups[1].Value}]" : p + ".layers", e.Message);
        }
        catch (Exception e) when (e is ArgumentException or FlexNetException)
        {
            throw c.Fail(p + ".layers", e.Message);
        }
    }

    /// <summary>A layer spec from the file as <see cref="SpecModel"/> takes it: whole numbers as int, text as string, a
    /// list of whole numbers as a shape (the input) or a tuple (<c>object[]</c>), an object as a dictionary.</summary>
    private static object LayerSpec(Ctx c, JsonNode? n, string path, bool first)
    {
        switch (n)
        {
            case JsonValue v when v.GetValueKind() == JsonValueKind.String:
                string s = v.GetValue<string>();
                c.NotTypeName(s, path, "layer form");
                return s;
            case JsonValue v when v.GetValueKind() == JsonValueKind.Number:
                return v.TryGetValue(out long l) && l is >= 1 and <= MaxLayerElements ? (int)l
                    : throw c.Fail(path, $"a layer size must be a whole number from 1 to {MaxLayerElements}, found {Ctx.Describe(n)}.");
            case JsonArray a:
                if (a.Count is 0 or > 8) throw c.Fail(path, $"a list spec has 1 to 8 entries; it has {a.Count}.");
                var items = new object[a.Count];
                bool allInts = true;
                for (int i = 0; i < a.Count; i++)
                {
                    items[i] = LayerSpec(c, a[i], $"{path}[{i}]", first: false);
                    allInts &= items[i] is int;
                }
                if (first && allInts) return items.Select(x => (int)x).ToArray(); // the input's shape
                return items;
            case JsonObject o:
                var d = new Dictionary<string, object>(StringComparer.Ordinal);
                foreach (var (k, v) in o)
                {
                    string kp = $"{path}.{k}";
                    if (k is "form" or "activation" && v is JsonValue fv && fv.GetValueKind() == JsonValueKind.String)
                        c.NotTypeName(fv.GetValue<string>(), kp, k == "form" ? "layer form" : "activation");
                    if (k == "inputs" && v is JsonArray ia)
                    {
                        var names = new string[ia.Count];
                        for (int j = 0; j < ia.Count; j++) names[j] = c.AsString(ia[j], $"{kp}[{j}]");
                        d[k] = names;
                    }
                    else d[k] = c.ArgValue(v, kp);
                }
                return d;
            default:
                throw c.Fail(path, $"a theanets layer spec is a size, a form name, a list or an object; found {Ctx.Describe(n)}.");
        }
    }
}
