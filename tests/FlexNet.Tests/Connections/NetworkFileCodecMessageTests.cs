using System.Text.Json.Nodes;
using FlexNet.Connections;
using FlexNet.Graph;
using FlexNet.Layers;
using FlexNet.Tensors;

namespace FlexNet.Tests.Connections;

/// <summary>The architecture reader of .flexnet files (<c>NetworkFileCodec.FromJson</c>) on one defect at a time: each
/// case edits one field of a valid architecture (removes it, gives it the wrong JSON type, adds an unknown field) and
/// expects the whole message, which names the field by its path (session 12: the run of <c>Connections</c> left every
/// path string, every "unknown field" check and the limits at their boundaries alive; the fuzz tests that reach them
/// are too slow for a mutation run and assert less). The expected messages are written from the format's rules.</summary>
public sealed class NetworkFileCodecMessageTests
{
    private const string Top = "format_version, network, layers, connections, outputs";
    private const string Common = "kind, name, from, to, delay";
    private const int MaxSize = 1 << 24;

    private static readonly Lazy<string> EveryKind = new(() => NetworkFile.Image(FlexNet.Tests.IO.NetworkFileTests.EveryKind()).Meta["architecture"]);

    /// <summary>A version-2 network (a connection with init settings) with the kinds <see cref="EveryKind"/> lacks:
    /// input with a sequence length, elementwise with a bias, tied, flatten, a custom layer and a custom connection with
    /// options, a transposed convolution.</summary>
    private static readonly Lazy<string> Extra = new(() =>
    {
        LayerKinds.Register<CxLayer>("zz_codec_layer", l => new Dictionary<string, string> { ["alpha"] = "1" }, (n, _) => new CxLayer(n),
                                     (input, _) => new LayerShapes(input, []));
        ConnectionKinds.Register<CxConn>("zz_codec_conn", _ => new Dictionary<string, string> { ["k"] = "1" }, (f, t, d, n, _) => new CxConn(f, t, d, n),
                                         (s, _, _) => new ConnectionShapes(s, []));
        var net = new Network("extra", DType.Float64, 3);
        var x = new InputLayer(4, sequenceLength: 2, name: "x");
        var e = new Layer(4, name: "e");
        var enc = new Layer(3, name: "enc");
        var dec = new Layer(4, name: "dec");
        var flat = new FlattenLayer("flat");
        var cx = new CxLayer("cx");
        var img = new InputLayer([1, 2, 2], name: "img");
        var up = new Layer([2, 3, 3], name: "up");
        net.Connect(new ElementwiseConnection(x, e, bias: true));                                     // connections[0]
        var d = net.ConnectDense(e, enc, init: new LayerInit("glorot_uniform", seed: 5)); // connections[1]
        net.Connect(new TiedConnection(enc, dec, d));                                                 // connections[2]
        net.Connect(dec, flat);                                                                       // connections[3]
        net.Connect(new CxConn(flat, cx, 0, "flat->cx"));                                             // connections[4]
        net.Connect(new ConvTranspose2dConnection(img, up, 2));                                       // connections[5]
        net.AddOutput(cx);
        net.AddOutput(up);
        return NetworkFile.Image(net).Meta["architecture"];
    });

    private sealed class CxLayer(string? name) : Layer((int[]?)null, "linear", CombineRule.Sum, false, name);

    private sealed class CxConn(Layer from, Layer to, int delay, string? name) : Connection(from, to, delay, name)
    {
        public override string Kind => "cx";

        protected override int[] Build(ConnectionBuildContext context) => context.SourceShape;

        public override Tensor Contribute(Tensor source) => source;
    }

    internal static JsonNode Node(JsonNode root, string path)
    {
        var n = root;
        foreach (var part in path.Split('.', StringSplitOptions.RemoveEmptyEntries))
        {
            int b = part.IndexOf('[');
            n = b < 0 ? n[part]! : n[part[..b]]![int.Parse(part[(b + 1)..^1])]!;
        }
        return n;
    }

    /// <summary>"set PATH JSON", "del PATH", "add PATH KEY JSON" (PATH "." is the root; the JSON of "set" has no spaces).</summary>
    internal static string Edit(string json, string edit)
    {
        var root = JsonNode.Parse(json)!;
        var w = edit.Split(' ', 4);
        string path = w[1] == "." ? "" : w[1];
        int dot = path.LastIndexOf('.');
        switch (w[0])
        {
            case "set":
            {
                var value = JsonNode.Parse(w[2]);
                var parent = dot < 0 ? root : Node(root, path[..dot]);
                string last = dot < 0 ? path : path[(dot + 1)..];
                int b = last.IndexOf('[');
                if (b < 0) parent[last] = value;
                else parent[last[..b]]![int.Parse(last[(b + 1)..^1])] = value;
                break;
            }
            case "del":
                ((JsonObject)(dot < 0 ? root : Node(root, path[..dot]))).Remove(dot < 0 ? path : path[(dot + 1)..]);
                break;
            case "add":
                ((JsonObject)(path.Length == 0 ? root : Node(root, path)))[w[2]] = JsonNode.Parse(w[3]);
                break;
            default:
                throw new ArgumentException(edit);
        }
        return root.ToJsonString();
    }

    private static string Refusal(string json, int version, bool allowModel = false) =>
        Assert.Throws<ModelFormatException>(() => NetworkFileCodec.FromJson(json, m => new ModelFormatException(m), version, allowModel)).Message;

    public static TheoryData<string, string> EveryKindCases => new()
    {
        { "add . extra 1", $"architecture has an unknown field 'extra' (allowed: {Top})." },
        { "del format_version", "architecture has no 'format_version'." },
        { "set format_version \"1\"", "architecture.format_version must be an integer in [1, 2147483647]; got String." },
        { "del network", "architecture has no 'network'." },
        { "set network 5", "network must be a JSON object; got Number." },
        { "add network extra 1", "network has an unknown field 'extra' (allowed: name, dtype, seed, steps, truncated_bptt, stateful, fuse_dense_layers)." },
        { "del network.dtype", "network has no 'dtype'." },
        { "set network.dtype 1", "network.dtype must be a string; got Number." },
        { "del network.seed", "network has no 'seed'." },
        { "set network.seed 1", "network.seed must be a string; got Number." },
        { "del network.name", "network has no 'name'." },
        { "set network.name 1", "network.name must be a string; got Number." },
        { "del network.steps", "network has no 'steps'." },
        { "set network.steps \"x\"", "network.steps must be an integer in [1, 16777216]; got String." },
        { "del network.truncated_bptt", "network has no 'truncated_bptt'." },
        { "del network.stateful", "network has no 'stateful'." },
        { "set network.stateful 1", "network.stateful must be true or false; got Number." },
        { "del network.fuse_dense_layers", "network has no 'fuse_dense_layers'." },
        { "set network.fuse_dense_layers 1", "network.fuse_dense_layers must be true or false; got Number." },
        { "del layers", "architecture has no 'layers'." },
        { "set layers 1", "layers must be a JSON array; got Number." },
        { "set layers[1].kind 1", "layers[1].kind must be a string; got Number." },
        { "set layers[1].name 1", "layers[1].name must be a string; got Number." },
        { "set layers[1].activation 1", "layers[1].activation must be a string; got Number." },
        { "set layers[1].learn_initial_state 1", "layers[1].learn_initial_state must be true or false; got Number." },
        { "add layers[1] extra 1", "layers[1] has an unknown field 'extra' (allowed: kind, name, activation, learn_initial_state, shape, combine, bias)." },
        { "set layers[1].shape 1", "layers[1].shape must be a JSON array; got Number." },
        { "set layers[1].combine 1", "layers[1].combine must be a string; got Number." },
        { "set layers[1].bias 1", "layers[1].bias must be true or false; got Number." },
        { "add layers[0] extra 1", "layers[0] has an unknown field 'extra' (allowed: kind, name, activation, learn_initial_state, shape, sequence_length)." },
        { "set layers[0].shape null", "layers[0].shape must be a JSON array; got Null." },
        { "add layers[2] extra 1", "layers[2] has an unknown field 'extra' (allowed: kind, name, activation, learn_initial_state, pool, global, dimensions, size, stride, padding)." },
        { "set layers[2].pool 1", "layers[2].pool must be a string; got Number." },
        { "set layers[2].global 1", "layers[2].global must be true or false; got Number." },
        { "set layers[2].dimensions \"x\"", "layers[2].dimensions must be an integer in [1, 2]; got String." },
        { "set layers[2].size \"x\"", $"layers[2].size must be an integer in [1, {MaxSize}]; got String." },
        { "set layers[2].stride \"x\"", $"layers[2].stride must be an integer in [1, {MaxSize}]; got String." },
        { "set layers[2].padding 2", "layers[2].padding must be an integer in [0, 1]; got 2." },
        { "add layers[5] extra 1", "layers[5] has an unknown field 'extra' (allowed: kind, name, activation, learn_initial_state, pool, global)." },
        { "add layers[3] extra 1", "layers[3] has an unknown field 'extra' (allowed: kind, name, activation, learn_initial_state, shape)." },
        { "set layers[3].shape null", "layers[3].shape must be a JSON array; got Null." },
        { "del connections", "architecture has no 'connections'." },
        { "set connections[1].kind 1", "connections[1].kind must be a string; got Number." },
        { "set connections[1].name 1", "connections[1].name must be a string; got Number." },
        { "set connections[1].from 1", "connections[1].from must be a string; got Number." },
        { "set connections[1].to 1", "connections[1].to must be a string; got Number." },
        { "set connections[1].delay \"x\"", "connections[1].delay must be an integer in [0, 65536]; got String." },
        { "add connections[1] extra 1", $"connections[1] has an unknown field 'extra' (allowed: {Common})." },
        { "add connections[9] extra 1", $"connections[9] has an unknown field 'extra' (allowed: {Common})." },
        { "add connections[1] init {}", "connections[1] has 'init', which format version 1 does not have." },
        { "add connections[0] extra 1", $"connections[0] has an unknown field 'extra' (allowed: {Common}, bias, kernel_size, stride, dilation, out_channels, padding)." },
        { "set connections[0].bias 1", "connections[0].bias must be true or false; got Number." },
        { "set connections[0].kernel_size \"x\"", $"connections[0].kernel_size must be an integer in [1, {MaxSize}]; got String." },
        { "set connections[0].stride \"x\"", $"connections[0].stride must be an integer in [1, {MaxSize}]; got String." },
        { "set connections[0].dilation \"x\"", $"connections[0].dilation must be an integer in [1, {MaxSize}]; got String." },
        { "set connections[0].padding 1", "connections[0].padding must be a JSON object; got Number." },
        { "add connections[0].padding extra 1", "connections[0].padding has an unknown field 'extra' (allowed: same, top, bottom, left, right)." },
        { "del connections[0].padding.same", "connections[0].padding has no 'same'." },
        { "set connections[0].padding.same 1", "connections[0].padding.same must be true or false; got Number." },
        { "del connections[0].padding.top", "connections[0].padding has no 'top'." },
        { "set connections[0].padding.top \"x\"", $"connections[0].padding.top must be an integer in [0, {MaxSize}]; got String." },
        { "del connections[0].padding.bottom", "connections[0].padding has no 'bottom'." },
        { "set connections[0].padding.bottom \"x\"", $"connections[0].padding.bottom must be an integer in [0, {MaxSize}]; got String." },
        { "del connections[0].padding.left", "connections[0].padding has no 'left'." },
        { "set connections[0].padding.left \"x\"", $"connections[0].padding.left must be an integer in [0, {MaxSize}]; got String." },
        { "del connections[0].padding.right", "connections[0].padding has no 'right'." },
        { "set connections[0].padding.right \"x\"", $"connections[0].padding.right must be an integer in [0, {MaxSize}]; got String." },
        { "add connections[3] extra 1", $"connections[3] has an unknown field 'extra' (allowed: {Common}, bias, kernel_size, stride, dilation, out_channels, padding)." },
        { "add connections[5] extra 1", $"connections[5] has an unknown field 'extra' (allowed: {Common}, bias, units)." },
        { "set connections[5].bias 1", "connections[5].bias must be true or false; got Number." },
        { "add connections[10] extra 1", $"connections[10] has an unknown field 'extra' (allowed: {Common}, partner)." },
        { "set connections[10].partner 1", "connections[10].partner must be a string; got Number." },
        { "del outputs", "architecture has no 'outputs'." },
        { "add outputs[0] extra 1", "outputs[0] has an unknown field 'extra' (allowed: layer, mode)." },
        { "set outputs[1].layer 1", "outputs[1].layer must be a string; got Number." },
        { "set outputs[0].mode 1", "outputs[0].mode must be a string; got Number." },
    };

    [Theory]
    [MemberData(nameof(EveryKindCases))]
    public void AVersionOneDefectIsNamedByItsPath(string edit, string message) =>
        Assert.Equal(message, Refusal(Edit(EveryKind.Value, edit), 1));

    [Theory]
    [InlineData("1, 1, 0, 0")]
    [InlineData("1, 0, 1, 0")]
    [InlineData("1, 0, 0, 1")]
    public void SamePaddingWithAnyAmountIsRefused(string amounts)
    {
        var a = amounts.Split(", ");
        string json = EveryKind.Value;
        string[] sides = ["top", "bottom", "left", "right"];
        for (int i = 0; i < 4; i++) json = Edit(json, $"set connections[0].padding.{sides[i]} {a[i]}");
        Assert.Equal("connections[0].padding: 'same' padding has no amounts.", Refusal(json, 1));
    }

    private static string Version2(string json) => Edit(json, "set format_version 2");

    [Fact]
    public void OnlyAVersionTwoReadThatAllowsItTakesAModelSection()
    {
        string v2 = Version2(EveryKind.Value);
        Assert.Equal($"architecture has an unknown field 'extra' (allowed: {Top}, model).", Refusal(Edit(v2, "add . extra 1"), 2, allowModel: true));
        Assert.Equal($"architecture has an unknown field 'model' (allowed: {Top}).", Refusal(Edit(v2, "add . model {}"), 2, allowModel: false));
        Assert.Equal($"architecture has an unknown field 'model' (allowed: {Top}).", Refusal(Edit(EveryKind.Value, "add . model {}"), 1, allowModel: true));
    }

    private static int LayerIndex(string json, string name)
    {
        var layers = JsonNode.Parse(json)!["layers"]!.AsArray();
        for (int i = 0; i < layers.Count; i++)
            if ((string)layers[i]!["name"]! == name) return i;
        throw new KeyNotFoundException(name);
    }

    public static TheoryData<string, string> ExtraCases => new()
    {
        { "add layers[FLAT] extra 1", "layers[FLAT] has an unknown field 'extra' (allowed: kind, name, activation, learn_initial_state)." },
        { "add layers[CX] extra 1", "layers[CX] has an unknown field 'extra' (allowed: kind, name, activation, learn_initial_state, shape, combine, bias, changes_shape, options)." },
        { "set layers[CX].shape 1", "layers[CX].shape must be a JSON array; got Number." },
        { "set layers[CX].combine 1", "layers[CX].combine must be a string; got Number." },
        { "set layers[CX].bias 1", "layers[CX].bias must be true or false; got Number." },
        { "set layers[CX].changes_shape 1", "layers[CX].changes_shape must be true or false; got Number." },
        { "set layers[CX].options 1", "layers[CX].options must be a JSON object; got Number." },
        { "set layers[CX].options.alpha 1", "layers[CX].options.alpha must be a string; got Number." },
        { "add connections[0] extra 1", $"connections[0] has an unknown field 'extra' (allowed: {Common}, init, bias)." },
        { "set connections[0].bias 1", "connections[0].bias must be true or false; got Number." },
        { "add connections[2] extra 1", $"connections[2] has an unknown field 'extra' (allowed: {Common}, init, bias, partner)." },
        { "set connections[2].bias 1", "connections[2].bias must be true or false; got Number." },
        { "set connections[2].partner 1", "connections[2].partner must be a string; got Number." },
        { "add connections[4] extra 1", $"connections[4] has an unknown field 'extra' (allowed: {Common}, init, options)." },
        { "set connections[4].options 1", "connections[4].options must be a JSON object; got Number." },
        { "set connections[4].options.k 1", "connections[4].options.k must be a string; got Number." },
        { "add connections[5] extra 1", $"connections[5] has an unknown field 'extra' (allowed: {Common}, init, bias, kernel_size, stride, dilation, out_channels, padding, output_padding)." },
        { "set connections[5].padding \"x\"", $"connections[5].padding must be an integer in [0, {MaxSize}]; got String." },
        { "set connections[1].init 1", "connections[1].init must be a JSON object; got Number." },
        { "add connections[1].init extra 1", "connections[1].init has an unknown field 'extra' (allowed: scheme, seed, attributes)." },
        { "set connections[1].init.scheme 1", "connections[1].init.scheme must be a string; got Number." },
        { "set connections[1].init.seed 1", "connections[1].init.seed must be a string; got Number." },
        { "set connections[1].init.attributes 1", "connections[1].init.attributes must be a JSON object; got Number." },
    };

    private static string InExtra(string text, string json) =>
        text.Replace("FLAT", LayerIndex(json, "flat").ToString(), StringComparison.Ordinal).Replace("CX", LayerIndex(json, "cx").ToString(), StringComparison.Ordinal);

    [Theory]
    [MemberData(nameof(ExtraCases))]
    public void AVersionTwoDefectIsNamedByItsPath(string edit, string message)
    {
        string json = Extra.Value;
        Assert.Equal(InExtra(message, json), Refusal(Edit(json, InExtra(edit, json)), 2));
    }

    [Fact]
    public void ACustomLayersCombineRuleIsRead()
    {
        string json = Extra.Value;
        int cx = LayerIndex(json, "cx");
        var r = NetworkFileCodec.FromJson(Edit(json, $"set layers[{cx}].combine \"product\""), m => new ModelFormatException(m), 2, false);
        Assert.Equal(CombineRule.Product, r.Layers[cx].Combine);
    }

    private static string WithOptions(string json, string path, int count, int valueLength = 1, int keyLength = 0)
    {
        var root = JsonNode.Parse(json)!;
        var o = new JsonObject();
        for (int i = 0; i < count; i++)
        {
            string key = keyLength > 0 && i == count - 1 ? new string('k', keyLength) : $"o{i:00}";
            o[key] = new string('v', valueLength);
        }
        var parent = Node(root, path);
        parent["options"] = o;
        return root.ToJsonString();
    }

    [Fact]
    public void OptionsAndInitAttributesHaveTheirLimitsAtTheBoundary()
    {
        string json = Extra.Value;
        int cx = LayerIndex(json, "cx");
        foreach (var (path, at) in new[] { ($"layers[{cx}]", $"layers[{cx}]"), ("connections[4]", "connections[4]") })
        {
            NetworkFileCodec.FromJson(WithOptions(json, path, 64), m => new ModelFormatException(m), 2, false);
            Assert.Equal($"{at}.options has more than 64 entries.", Refusal(WithOptions(json, path, 65), 2));
            NetworkFileCodec.FromJson(WithOptions(json, path, 1, valueLength: 4096), m => new ModelFormatException(m), 2, false);
            Assert.Equal($"{at}.options.o00 is too long.", Refusal(WithOptions(json, path, 1, valueLength: 4097), 2));
            NetworkFileCodec.FromJson(WithOptions(json, path, 1, keyLength: 256), m => new ModelFormatException(m), 2, false);
            Assert.Equal($"{at}.options.{new string('k', 80)}... is too long.", Refusal(WithOptions(json, path, 1, keyLength: 257), 2));
        }
        var root = JsonNode.Parse(json)!;
        var attrs = new JsonObject();
        for (int i = 0; i < 64; i++) attrs[$"mean_p{i}"] = 0.5;
        root["connections"]![1]!["init"]!["attributes"] = attrs;
        NetworkFileCodec.FromJson(root.ToJsonString(), m => new ModelFormatException(m), 2, false);
        attrs["mean_p64"] = 0.5;
        Assert.Equal("connections[1].init.attributes has more than 64 entries.", Refusal(root.ToJsonString(), 2));
    }

    [Fact]
    public void AnUnknownKindListsTheKnownAndTheRegisteredOnes()
    {
        string json = Extra.Value;
        int cx = LayerIndex(json, "cx");
        string registered = string.Join(", ", LayerKinds.Registered);
        Assert.Equal($"layers[{cx}] ('cx'): unknown layer kind 'nope'. Known layer kinds: layer, input, flatten, reshape, pool, batchnorm, dropout, gaussian_noise, " +
                     $"layernorm, lrn, embedding, recurrent; registered: {registered} (a custom kind loads once registered with LayerKinds.Register).",
                     Refusal(Edit(json, $"set layers[{cx}].kind \"nope\""), 2));
        Assert.Equal("connections[4] ('flat->cx'): unknown connection kind 'nope'. Known connection kinds: dense, conv2d, conv_transpose2d, conv1d, identity, " +
                     $"elementwise, tied, complement, shared; registered: {string.Join(", ", ConnectionKinds.Registered)} " +
                     "(a custom kind loads once registered with ConnectionKinds.Register).",
                     Refusal(Edit(json, "set connections[4].kind \"nope\""), 2));
    }
}
