// Over 300 lines on purpose: one table of one-defect model files per front end (Sequential, Functional, spec and
// registered models) and the metadata, with the builders they share.
using System.Globalization;
using System.Text.Json.Nodes;
using FlexNet.Graph;
using FlexNet.IO;
using FlexNet.Layers;
using FlexNet.Models;
using FlexNet.Tensors;
using static FlexNet.Models.Functional;
using static FlexNet.Tests.Connections.NetworkFileCodecMessageTests;

namespace FlexNet.Tests.Models;

/// <summary>The reader of model files (format version 2, <c>ModelFile.Load</c>) on one defect at a time: each case
/// edits one field of a valid file's architecture or metadata and expects the whole message, which names the file and
/// the field by its path, and each limit is checked at the limit (accepted as far as that check goes) and one past it.
/// Before these tests only the fuzz tests (which assert the exception type) and a few <c>Contains</c> checks reached
/// these refusals. The expected messages are written from the format's rules, not copied from the reader.</summary>
public sealed class ModelFileMessageTests
{
    private const string P = "model file 'm.flexnet': ";

    private static Sequential Seq() =>
        new("s", DType.Float32, 3, new Dense(3, "relu", name: "fc"), new Dense(2, name: "out")) { InputShape = [4] };

    /// <summary>Input a (node 0), h = Dense(a) (node 1), o = Dense(h) (node 2), feedback o → h with delay 2.</summary>
    private static Model Fn()
    {
        var a = Input(4, sequence: true, name: "a");
        var h = new Dense(3, "tanh", name: "h").Call(a);
        var o = new Dense(2, name: "o").Call(h);
        var m = new Model([a], [o], "fn", DType.Float32, 5);
        m.AddFeedback(o, h, delay: 2, kind: "dense");
        return m;
    }

    private static Classifier Spec() =>
        new(DataKind.Feedforward, DType.Float64, 3, new Dictionary<string, object> { ["size"] = 5, ["form"] = "dense", ["name"] = "h" }, 2);

    /// <summary>A registered subclass whose factory reads <c>units</c>.</summary>
    public sealed class MsgTower(int units, string name = "towers") : Model(name, DType.Float32, 4)
    {
        private readonly Dense _left = new(units, "relu", name: "left");
        private readonly Dense _head = new(2, name: "head");

        protected override SymbolicTensor Forward(SymbolicTensor x) => _head.Call(_left.Call(x));

        public override IReadOnlyDictionary<string, string> GetConfig() =>
            new Dictionary<string, string> { ["units"] = units.ToString(CultureInfo.InvariantCulture) };
    }

    /// <summary>A registered subclass without parameters (no tensors in its file).</summary>
    public sealed class MsgFlat() : Model("flat", DType.Float32, 4)
    {
        protected override SymbolicTensor Forward(SymbolicTensor x) => new Flatten(name: "f").Call(x);
    }

    /// <summary>Registered as <c>msg_wrong</c> and <c>msg_null</c>, whose factories make a subclass and null.</summary>
    public class MsgBase() : Model("base", DType.Float32, 4)
    {
        protected override SymbolicTensor Forward(SymbolicTensor x) => new Flatten(name: "f").Call(x);
    }

    public sealed class MsgDerived : MsgBase;

    private static readonly Lazy<bool> Registered = new(() =>
    {
        ModelRegistry.Register("msg_tower", cfg => new MsgTower(int.Parse(cfg["units"], CultureInfo.InvariantCulture)));
        ModelRegistry.Register("msg_flat", _ => new MsgFlat());
        ModelRegistry.Register<MsgBase>("msg_wrong", _ => new MsgDerived());
        ModelRegistry.Register<MsgBase>("msg_null", _ => null!);
        return true;
    });

    private static Model Reg()
    {
        _ = Registered.Value;
        return new MsgTower(6) { InputShape = [3] };
    }

    private static Model Base(string kind) => kind switch
    {
        "seq" => Seq(),
        "fn" => Fn(),
        "spec" => Spec(),
        "reg" => Reg(),
        "flat" => FlatModel(),
        _ => throw new ArgumentException(kind),
    };

    private static MsgFlat FlatModel()
    {
        _ = Registered.Value;
        return new MsgFlat { InputShape = [2, 2] };
    }

    /// <summary>The model's file with its metadata changed by <paramref name="meta"/>.</summary>
    private static byte[] File(Model m, Action<Dictionary<string, string>> meta)
    {
        var (md, entries) = ModelFile.Image(m);
        meta(md);
        return SafeTensorWriter.ToBytes(md, entries);
    }

    private static byte[] WithArchitecture(Model m, Func<string, string> change) => File(m, md => md["architecture"] = change(md["architecture"]));

    private static Model Load(byte[] bytes) => ModelFile.Load(SafeTensorFile.Parse(bytes, "m.flexnet"), "m.flexnet");

    private static string Refusal(byte[] bytes) => Assert.Throws<ModelFormatException>(() => Load(bytes)).Message;

    private static string EditRefusal(string kind, string edit) => Refusal(WithArchitecture(Base(kind), a => Edit(a, edit)));

    /// <summary>The architecture with <paramref name="change"/> applied to its parsed JSON.</summary>
    private static byte[] WithJson(Model m, Action<JsonNode> change) => WithArchitecture(m, a =>
    {
        var root = JsonNode.Parse(a)!;
        change(root);
        return root.ToJsonString();
    });

    private static JsonArray Numbers(int count)
    {
        var a = new JsonArray();
        for (int i = 0; i < count; i++) a.Add(0);
        return a;
    }

    private static string Quoted(char c, int count) => "\"" + new string(c, count) + "\"";

    public static TheoryData<string, string, string> Cases => new()
    {
        // the architecture object
        { "seq", "add . zzz 1", "architecture has an unknown field 'zzz' (allowed: format_version, model, network, layers, connections, outputs)." },
        { "seq", "add . network {}", "a sequential model file has only 'format_version' and 'model' in its architecture." },
        { "fn", "add . outputs []", "a functional model file has only 'format_version' and 'model' in its architecture." },
        { "seq", "del format_version", "architecture has no 'format_version'." },
        { "seq", "set format_version 1", "architecture.format_version must be an integer in [2, 2]; got 1." },
        { "seq", "set format_version 3", "architecture.format_version must be an integer in [2, 2]; got 3." },
        { "seq", "set format_version \"2\"", "architecture.format_version must be an integer in [2, 2]; got String." },
        { "seq", "set model 5", "model must be a JSON object; got Number." },
        { "seq", "del model.kind", "model has no 'kind'." },
        { "seq", "set model.kind 5", "model.kind must be a string; got Number." },
        { "seq", "set model.kind \"feedback_chain\"", "the file holds a feedback chain, which is not a Model; load it with FeedbackChain.Load (or Network.Load)." },
        { "seq", "set model.kind \"feedback_tree\"", "the file holds a feedback tree, which is not a Model; load it with FeedbackChain.Load (or Network.Load)." },
        { "seq", "set model.kind \"graph\"", "unknown model kind 'graph' (sequential, functional, spec, registered, feedback_chain, feedback_tree)." },
        { "seq", "del model.name", "model has no 'name'." },
        { "seq", "set model.name \"\"", "model.name must be a name of 1 to 256 characters; got 0 characters." },
        { "seq", $"set model.name {Quoted('n', 257)}", "model.name must be a name of 1 to 256 characters; got 257 characters." },
        { "seq", "del model.dtype", "model has no 'dtype'." },
        { "seq", "set model.dtype 32", "model.dtype must be a string; got Number." },
        { "seq", "set model.dtype \"float16\"", "model.dtype must be 'float32' or 'float64'; got 'float16'." },
        { "seq", "set model.dtype \"Float32\"", "model.dtype must be 'float32' or 'float64'; got 'Float32'." },
        { "seq", "del model.seed", "model has no 'seed'." },
        { "seq", "set model.seed 3", "model.seed must be a string; got Number." },
        { "seq", "set model.seed \"-1\"", "model.seed must be a decimal unsigned 64-bit integer in a string; got '-1'." },
        { "seq", "set model.seed \"+1\"", "model.seed must be a decimal unsigned 64-bit integer in a string; got '+1'." },
        { "seq", "set model.seed \"1.0\"", "model.seed must be a decimal unsigned 64-bit integer in a string; got '1.0'." },
        { "seq", "set model.seed \"18446744073709551616\"", "model.seed must be a decimal unsigned 64-bit integer in a string; got '18446744073709551616'." },
        { "seq", "set model.seed \"\"", "model.seed must be a decimal unsigned 64-bit integer in a string; got ''." },

        // Sequential
        { "seq", "add model zzz 1", "model has an unknown field 'zzz' (allowed: kind, name, dtype, seed, inputs, layers)." },
        { "seq", "set model.inputs []", "a sequential model has one input; the file lists 0." },
        { "seq", "set model.inputs [{\"name\":null,\"shape\":[4],\"sequence\":false},{\"name\":null,\"shape\":[4],\"sequence\":false}]",
          "a sequential model has one input; the file lists 2." },
        { "seq", "set model.layers []", "a sequential model has at least one layer." },
        { "seq", "del model.inputs", "model has no 'inputs'." },
        { "seq", "set model.inputs {}", "model.inputs must be a JSON array; got Object." },
        { "seq", "set model.inputs[0] 1", "model.inputs[0] must be a JSON object; got Number." },
        { "seq", "add model.inputs[0] zzz 1", "model.inputs[0] has an unknown field 'zzz' (allowed: name, shape, sequence)." },
        { "seq", "del model.inputs[0].name", "model.inputs[0] has no 'name'." },
        { "seq", "set model.inputs[0].name 1", "model.inputs[0].name must be a string; got Number." },
        { "seq", "set model.inputs[0].name \"\"", "model.inputs[0].name must be a name of 1 to 256 characters; got 0 characters." },
        { "seq", "del model.inputs[0].shape", "model.inputs[0] has no 'shape'." },
        { "seq", "set model.inputs[0].shape []", "model.inputs[0].shape must have 1 to 8 dimensions; got 0." },
        { "seq", "del model.inputs[0].sequence", "model.inputs[0] has no 'sequence'." },
        { "seq", "set model.inputs[0].sequence 1", "model.inputs[0].sequence must be true or false; got Number." },
        { "seq", "del model.layers", "model has no 'layers'." },
        { "seq", "set model.layers 1", "model.layers must be a JSON array; got Number." },
        { "seq", "set model.layers[0] 1", "model.layers[0] must be a JSON object; got Number." },
        { "seq", "del model.layers[1].form", "model.layers[1] has no 'form' string." },
        { "seq", "set model.layers[0].form 1", "model.layers[0] has no 'form' string." },
        { "seq", "set model.layers[0].name 5", "model.layers[0].name must be a string." },
        { "seq", "set model.layers[0].name \"\"", "model.layers[0].name must have 1 to 256 characters." },
        { "seq", $"set model.layers[0].name {Quoted('n', 257)}", "model.layers[0].name must have 1 to 256 characters." },
        { "seq", "set model.layers[1].name \"fc\"", "two layers are named 'fc'." },
        { "seq", "add model.layers[0]  1", "model.layers[0] has an argument name of 0 characters." },
        { "seq", $"add model.layers[0] {new string('a', 257)} 1", "model.layers[0] has an argument name of 257 characters." },
        { "seq", "add model.layers[0] Size 3", "model.layers[0] has 'Size' twice." },
        { "seq", "set model.layers[0].activation {}", "model.layers[0].activation must be a number, string, bool or array of integers; got Object." },
        { "seq", "set model.layers[0].activation null", "model.layers[0].activation must be a number, string, bool or array of integers; got Null." },
        { "seq", $"set model.layers[0].activation {Quoted('a', 4097)}", "model.layers[0].activation is longer than 4096 characters." },
        { "seq", "set model.layers[0].size 1e400", "model.layers[0].size is not a finite number." },
        { "seq", "set model.layers[0].size [1,\"x\"]", "model.layers[0].size[1] must be an integer in [-2147483648, 2147483647]; got String." },
        { "seq", "set model.layers[0].size [2147483648]", "model.layers[0].size[0] must be an integer in [-2147483648, 2147483647]; got 2147483648." },

        // Functional
        { "fn", "add model zzz 1", "model has an unknown field 'zzz' (allowed: kind, name, dtype, seed, inputs, layers, nodes, outputs, feedback)." },
        { "fn", "set model.inputs []", "a functional model has at least one input." },
        { "fn", "del model.nodes", "model has no 'nodes'." },
        { "fn", "set model.nodes 1", "model.nodes must be a JSON array; got Number." },
        { "fn", "set model.nodes[0] 1", "model.nodes[0] must be a JSON object; got Number." },
        { "fn", "add model.nodes[0] zzz 1", "model.nodes[0] has an unknown field 'zzz' (allowed: layer, inputs)." },
        { "fn", "del model.nodes[1].layer", "model.nodes[1] has no 'layer'." },
        { "fn", "set model.nodes[0].layer 2", "model.nodes[0].layer must be an integer in [0, 1]; got 2." },
        { "fn", "set model.nodes[0].layer -1", "model.nodes[0].layer must be an integer in [0, 1]; got -1." },
        { "fn", "del model.nodes[0].inputs", "model.nodes[0] has no 'inputs'." },
        { "fn", "set model.nodes[0].inputs 0", "model.nodes[0].inputs must be a JSON array; got Number." },
        { "fn", "set model.nodes[0].inputs []", "model.nodes[0].inputs must list 1 to 64 earlier values; got 0." },
        { "fn", "set model.nodes[0].inputs [1]", "model.nodes[0].inputs[0] must be an integer in [0, 0]; got 1." },
        { "fn", "set model.nodes[1].inputs [0,2]", "model.nodes[1].inputs[1] must be an integer in [0, 1]; got 2." },
        { "fn", "set model.nodes[1].layer 0", "model.layers[1] is called by no node." },
        { "fn", "del model.outputs", "model has no 'outputs'." },
        { "fn", "set model.outputs 2", "model.outputs must be a JSON array; got Number." },
        { "fn", "set model.outputs []", "model.outputs must list 1 to 100000 values; got 0." },
        { "fn", "set model.outputs [3]", "model.outputs[0] must be an integer in [0, 2]; got 3." },
        { "fn", "set model.outputs [2,-1]", "model.outputs[1] must be an integer in [0, 2]; got -1." },
        { "fn", "del model.feedback", "model has no 'feedback'." },
        { "fn", "set model.feedback {}", "model.feedback must be a JSON array; got Object." },
        { "fn", "set model.feedback[0] 1", "model.feedback[0] must be a JSON object; got Number." },
        { "fn", "add model.feedback[0] zzz 1", "model.feedback[0] has an unknown field 'zzz' (allowed: from, to, delay, kind)." },
        { "fn", "del model.feedback[0].from", "model.feedback[0] has no 'from'." },
        { "fn", "set model.feedback[0].from 3", "model.feedback[0].from must be an integer in [0, 2]; got 3." },
        { "fn", "del model.feedback[0].to", "model.feedback[0] has no 'to'." },
        { "fn", "set model.feedback[0].to 0", "model.feedback[0].to must be an integer in [1, 2]; got 0." },
        { "fn", "set model.feedback[0].to 3", "model.feedback[0].to must be an integer in [1, 2]; got 3." },
        { "fn", "del model.feedback[0].delay", "model.feedback[0] has no 'delay'." },
        { "fn", "set model.feedback[0].delay 65537", "model.feedback[0].delay must be an integer in [0, 65536]; got 65537." },
        { "fn", "set model.feedback[0].delay -1", "model.feedback[0].delay must be an integer in [0, 65536]; got -1." },
        { "fn", "del model.feedback[0].kind", "model.feedback[0] has no 'kind'." },
        { "fn", "set model.feedback[0].kind 1", "model.feedback[0].kind must be a string; got Number." },
        { "fn", "set model.feedback[0].kind \"conv\"", "model.feedback[0].kind must be 'dense' or 'identity'; got 'conv'." },
        { "fn", "set model.feedback [{\"from\":2,\"to\":1,\"delay\":2,\"kind\":\"dense\"},{\"from\":2,\"to\":1,\"delay\":1,\"kind\":\"conv\"}]",
          "model.feedback[1].kind must be 'dense' or 'identity'; got 'conv'." },
        { "fn", "set model.inputs [{\"name\":\"a\",\"shape\":[4],\"sequence\":true},{\"name\":\"b\",\"shape\":[],\"sequence\":false}]",
          "model.inputs[1].shape must have 1 to 8 dimensions; got 0." },

        // spec models
        { "spec", "add model zzz 1", "model has an unknown field 'zzz' (allowed: kind, name, dtype, seed, type, data_kind, specs)." },
        { "spec", "del model.type", "model has no 'type'." },
        { "spec", "set model.type 1", "model.type must be a string; got Number." },
        { "spec", "set model.type \"Network\"", "unknown spec model type 'Network' (Regressor, Classifier or Autoencoder)." },
        { "spec", "del model.data_kind", "model has no 'data_kind'." },
        { "spec", "set model.data_kind 1", "model.data_kind must be a string; got Number." },
        { "spec", "set model.data_kind \"feedforward\"", "unknown data kind 'feedforward' (expected Feedforward, Recurrent, Convolutional)." },
        { "spec", "del model.specs", "model has no 'specs'." },
        { "spec", "set model.specs {}", "model.specs must be a JSON array; got Object." },

        // registered subclasses
        { "reg", "add model zzz 1", "model has an unknown field 'zzz' (allowed: kind, name, dtype, seed, class, config, inputs)." },
        { "reg", "del model.class", "model has no 'class'." },
        { "reg", "set model.class 1", "model.class must be a string; got Number." },
        { "reg", "del model.config", "model has no 'config'." },
        { "reg", "set model.config []", "model.config must be a JSON object; got Array." },
        { "reg", "set model.config.units 6", "model.config.units must be a string; got Number." },
        { "reg", "set model.name \"other\"", "the rebuilt model is 'towers' (Float32); the file describes 'other' (Float32)." },
        { "reg", "set model.class \"msg_wrong\"", "the factory of registered class 'msg_wrong' did not make a MsgBase." },
        { "reg", "set model.class \"msg_null\"", "the factory of registered class 'msg_null' did not make a MsgBase." },
        { "reg", "del model.inputs", "model has no 'inputs'." },
        { "flat", "set model.dtype \"float64\"", "the rebuilt model is 'flat' (Float32); the file describes 'flat' (Float64)." },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void OneDefect_IsRefusedWithItsWholeMessage(string kind, string edit, string message) =>
        Assert.Equal(P + message, EditRefusal(kind, edit));

    [Fact]
    public void Metadata_FormatVersionAndArchitecture_AreCheckedFirst()
    {
        var m = Seq();
        Assert.Equal(P + "metadata 'format' is missing; a model file has format 'flexnet'.", Refusal(File(m, md => md.Remove("format"))));
        Assert.Equal(P + "metadata 'format' is 'flexnet-weights'; a model file has format 'flexnet'.", Refusal(File(m, md => md["format"] = "flexnet-weights")));
        Assert.Equal(P + "metadata 'format' is '" + new string('f', 80) + "...'; a model file has format 'flexnet'.",
                     Refusal(File(m, md => md["format"] = new string('f', 81))));
        Assert.Equal(P + "a version-1 file holds a network built with Connect, not a model; load it with Network.Load.", Refusal(File(m, md => md["format_version"] = "1")));
        Assert.Equal(P + "metadata 'format_version' is missing; a model (not a Connect network) is written in version 2.", Refusal(File(m, md => md.Remove("format_version"))));
        Assert.Equal(P + "metadata 'format_version' is '02'; a model (not a Connect network) is written in version 2.", Refusal(File(m, md => md["format_version"] = "02")));
        Assert.Equal(P + "metadata has no 'architecture'.", Refusal(File(m, md => md.Remove("architecture"))));
        Assert.Equal(P + "architecture must be a JSON object; got Array.", Refusal(File(m, md => md["architecture"] = "[1]")));
        Assert.StartsWith(P + "the architecture is not valid JSON (or is nested deeper than 16): ", Refusal(File(m, md => md["architecture"] = "{")));
        Assert.Equal(P + "the architecture describes a network built with Connect (no 'model'); load it with Network.Load.",
                     Refusal(File(m, md => md["architecture"] = "{\"format_version\":2}")));
    }

    [Fact]
    public void Names_KindsAndSeeds_AtTheirLimits_Load()
    {
        string kind80 = new('k', 80);
        Assert.Equal(P + $"unknown model kind '{kind80}' (sequential, functional, spec, registered, feedback_chain, feedback_tree).",
                     EditRefusal("seq", $"set model.kind \"{kind80}\""));
        Assert.Equal(P + $"unknown model kind '{kind80}...' (sequential, functional, spec, registered, feedback_chain, feedback_tree).",
                     EditRefusal("seq", $"set model.kind \"{kind80}k\""));

        string name256 = new('n', 256);
        var named = Load(WithArchitecture(Seq(), a => Edit(a, $"set model.name \"{name256}\"")));
        Assert.Equal(name256, named.Name);
        var top = Load(WithArchitecture(Seq(), a => Edit(a, "set model.seed \"18446744073709551615\"")));
        Assert.Equal(ulong.MaxValue, top.Seed);
        Assert.Equal(0UL, Load(WithArchitecture(Seq(), a => Edit(a, "set model.seed \"0\""))).Seed);
        var one = Load(WithArchitecture(Seq(), a => Edit(a, "set model.inputs[0].name \"x\"")));
        Assert.Equal("s", one.Name);
        Assert.Equal(DType.Float32, one.DType);
    }

    [Fact]
    public void TensorsOfAnotherDType_AreRefusedBeforeAnythingIsBuilt()
    {
        string msg = EditRefusal("seq", "set model.dtype \"float64\"");
        Assert.Matches(@"^model file 'm\.flexnet': tensor '(fc|out)\.[a-z]+' has dtype F32; the model is Float64 \(F64\)\.$", msg);
        Assert.Matches(@"^model file 'm\.flexnet': tensor 'h\.[a-z]+' has dtype F64; the model is Float32 \(F32\)\.$", EditRefusal("spec", "set model.dtype \"float32\""));
    }

    [Fact]
    public void ListLimits_AreCheckedAtTheLimitAndOnePast()
    {
        Assert.Equal(P + "model.inputs has more than 1024 entries.", Refusal(WithJson(Seq(), r => r["model"]!["inputs"] = Numbers(1025))));
        Assert.Equal(P + "model.inputs[0] must be a JSON object; got Number.", Refusal(WithJson(Seq(), r => r["model"]!["inputs"] = Numbers(1024))));
        Assert.Equal(P + "model.layers has more than 100000 entries.", Refusal(WithJson(Seq(), r => r["model"]!["layers"] = Numbers(100_001))));
        Assert.Equal(P + "model.layers[0] must be a JSON object; got Number.", Refusal(WithJson(Seq(), r => r["model"]!["layers"] = Numbers(100_000))));
        Assert.Equal(P + "model.nodes has more than 100000 entries.", Refusal(WithJson(Fn(), r => r["model"]!["nodes"] = Numbers(100_001))));
        Assert.Equal(P + "model.nodes[0] must be a JSON object; got Number.", Refusal(WithJson(Fn(), r => r["model"]!["nodes"] = Numbers(100_000))));
        Assert.Equal(P + "model.outputs must list 1 to 100000 values; got 100001.", Refusal(WithJson(Fn(), r => r["model"]!["outputs"] = Numbers(100_001))));
        Assert.Equal(P + "model.feedback has more than 100000 entries.", Refusal(WithJson(Fn(), r => r["model"]!["feedback"] = Numbers(100_001))));
        Assert.Equal(P + "model.feedback[0] must be a JSON object; got Number.", Refusal(WithJson(Fn(), r => r["model"]!["feedback"] = Numbers(100_000))));

        // outputs may name one value more than once
        var many = Load(WithJson(Fn(), r =>
        {
            var outs = new JsonArray();
            for (int i = 0; i < 3; i++) outs.Add(2);
            r["model"]!["outputs"] = outs;
        }));
        Assert.Equal(3, many.Outputs.Count);

        Assert.Equal(P + "model.nodes[0].inputs must list 1 to 64 earlier values; got 65.",
                     Refusal(WithJson(Fn(), r => r["model"]!["nodes"]![0]!["inputs"] = Numbers(65))));
        // 64 inputs pass the count, and the model builds; its weights then do not match the file's
        Assert.StartsWith("m.flexnet: no tensor 'h:a", Refusal(WithJson(Fn(), r => r["model"]!["nodes"]![0]!["inputs"] = Numbers(64))));

        Assert.Equal(P + "model.layers[0].size has more than 64 entries.", Refusal(WithJson(Seq(), r => r["model"]!["layers"]![0]!["size"] = Numbers(65))));
        Assert.StartsWith(P + "model.layers[0] ('dense') does not build: ", Refusal(WithJson(Seq(), r => r["model"]!["layers"]![0]!["size"] = Numbers(64))));

        Assert.Equal(P + "model.layers[0] has more than 64 arguments.", Refusal(WithJson(Seq(), r => Pad(r["model"]!["layers"]![0]!.AsObject(), 65))));
        Assert.StartsWith(P + "model.layers[0] ('dense') does not build: ", Refusal(WithJson(Seq(), r => Pad(r["model"]!["layers"]![0]!.AsObject(), 64))));

        string arg256 = new('a', 256);
        Assert.StartsWith(P + "model.layers[0] ('dense') does not build: ", EditRefusal("seq", $"add model.layers[0] {arg256} 1"));
        Assert.StartsWith(P + "model.layers[0] ('dense') does not build: ", EditRefusal("seq", $"set model.layers[0].activation {Quoted('a', 4096)}"));
    }

    /// <summary>Adds arguments <c>zN</c> until the layer has <paramref name="count"/>.</summary>
    private static void Pad(JsonObject layer, int count)
    {
        for (int i = 0; layer.Count < count; i++) layer["z" + i.ToString(CultureInfo.InvariantCulture)] = 1;
    }

    [Fact]
    public void Registered_ConfigAndFactoryRefusals_NameTheClass()
    {
        string none = EditRefusal("reg", "set model.class \"msg_none\"");
        Assert.StartsWith(P + "model class 'msg_none' is not registered (registered: ", none);
        Assert.Contains("msg_tower", none);
        Assert.EndsWith("); call ModelRegistry.Register<TModel>(name, config => new TModel(...)) before loading.", none);

        Assert.Equal(P + "model.config has 'units' twice.",
                     Refusal(WithArchitecture(Reg(), a => a.Replace("\"units\":\"6\"", "\"units\":\"6\",\"units\":\"6\"", StringComparison.Ordinal))));
        Assert.Equal(P + "model.config has more than 256 entries.", Refusal(WithJson(Reg(), r => Pad(r["model"]!["config"]!.AsObject(), 257, "\"1\""))));
        var wide = Assert.IsType<MsgTower>(Load(WithJson(Reg(), r => Pad(r["model"]!["config"]!.AsObject(), 256, "\"1\""))));
        Assert.Equal("towers", wide.Name);

        Assert.StartsWith(P + "the factory of registered class 'msg_tower' rejects its configuration: ", EditRefusal("reg", "set model.config.units \"x\""));
        Assert.StartsWith(P + "the factory of registered class 'msg_tower' rejects its configuration: ", EditRefusal("reg", "del model.config.units"));

        // the stored input applies to a registered model that did not set its own
        var seqIn = Load(WithArchitecture(Reg(), a => Edit(a, "set model.inputs[0].sequence true")));
        Assert.Equal([3], seqIn.InputShape!);
        Assert.True(seqIn.SequenceInput);
    }

    private static void Pad(JsonObject config, int count, string value)
    {
        for (int i = 0; config.Count < count; i++) config["z" + i.ToString(CultureInfo.InvariantCulture)] = JsonNode.Parse(value);
    }

    [Fact]
    public void Spec_AndBuildFailures_CarryTheInnerMessage()
    {
        Assert.Equal(P + "the stored specs do not build: A Classifier needs an input spec and at least one layer spec; got 1 spec(s).",
                     EditRefusal("spec", "set model.specs [{\"name\":\"in\",\"shape\":[3]}]"));
        Assert.StartsWith(P + "model.layers[0] ('dense') does not build: ", EditRefusal("seq", "set model.layers[0].size -3"));
        Assert.StartsWith(P + "the architecture does not build: ", EditRefusal("fn", "set model.feedback[0].delay 0"));
        // a second input of o builds a connection a -> o whose weights the file lacks
        Assert.StartsWith("m.flexnet: no tensor 'o:a.weight' for model 'fn' (the file has ", EditRefusal("fn", "set model.nodes[1].inputs [0,1]"));
    }

    /// <summary>A layer whose configuration is null (the base class's answer).</summary>
    private sealed class NoConfig(int size) : CustomLayer(size, name: "nc")
    {
        public override string Form => "no_config_form";

        public override IReadOnlyDictionary<string, object>? GetConfig() => null;

        protected override void Setup() => AddWeights("w", InputSize, Size);

        protected override Tensor Transform(Tensor input) => FlexNet.Autodiff.NN.MatMul(input, Find("w"));
    }

    [Fact]
    public void Layers_WithoutAConfigurationOrWithAnUnknownForm_AreNamed()
    {
        var m = new Sequential("nc", DType.Float32, 1, new NoConfig(2)) { InputShape = [3] };
        Assert.Equal($"Layer 'nc' is a {typeof(NoConfig).FullName} without a configuration, so a model file cannot rebuild it: override GetConfig() to return " +
                     "its registered form and arguments, and register the form once with LayerRegistry.Register(\"no_config_form\", ...) before saving and loading.",
                     Assert.Throws<GraphException>(() => ModelFile.Image(m)).Message);

        Assert.Equal(P + $"model.layers[0]: unknown layer form 'zzz'. Registered forms: {string.Join(", ", LayerRegistry.Names)} " +
                     "(a custom layer loads once its form is registered with LayerRegistry.Register).",
                     EditRefusal("seq", "set model.layers[0].form \"zzz\""));

        string none = EditRefusal("reg", "set model.class \"msg_none\"");
        Assert.Equal(P + $"model class 'msg_none' is not registered (registered: {string.Join(", ", ModelRegistry.Registered)}); " +
                     "call ModelRegistry.Register<TModel>(name, config => new TModel(...)) before loading.", none);

        // a 256-character layer name passes the name check; the weights then carry the old names
        string name256 = new('n', 256);
        Assert.StartsWith($"m.flexnet: no tensor '{name256}.", EditRefusal("seq", $"set model.layers[0].name \"{name256}\""));
        // identity feedback (h -> h: same shapes) passes the kind check; the file's dense feedback weights then belong to nothing
        Assert.StartsWith("m.flexnet: tensor 'o->h.",
                          Refusal(WithArchitecture(Fn(), a => Edit(Edit(a, "set model.feedback[0].kind \"identity\""), "set model.feedback[0].from 1"))));
    }

    /// <summary>A layer whose configuration is given (its form "dense" is registered).</summary>
    private sealed class Cfg(Dictionary<string, object?> config) : CustomLayer(2, name: "cfg")
    {
        public override string Form => "cfg_form";

        public override IReadOnlyDictionary<string, object>? GetConfig() => config!;

        protected override void Setup() => AddWeights("w", InputSize, Size);

        protected override Tensor Transform(Tensor input) => FlexNet.Autodiff.NN.MatMul(input, Find("w"));
    }

    private static JsonNode SavedLayer(Dictionary<string, object?> config) =>
        JsonNode.Parse(ModelFile.Image(new Sequential("cfg", DType.Float32, 1, new Cfg(config)) { InputShape = [3] }).Meta["architecture"])!["model"]!["layers"]![0]!;

    [Fact]
    public void LayerConfigurations_WriteEachKindOfValue_AndNameTheOthers()
    {
        var layer = SavedLayer(new() { ["form"] = "dense", ["a_long"] = 5_000_000_000L, ["b_float"] = 1.5f, ["c_ints"] = new[] { 1, -2 }, ["d_bool"] = true, ["e_int"] = 3, ["f_double"] = 0.25, ["g_text"] = "t" });
        Assert.Equal("{\"form\":\"dense\",\"a_long\":5000000000,\"b_float\":1.5,\"c_ints\":[1,-2],\"d_bool\":true,\"e_int\":3,\"f_double\":0.25,\"g_text\":\"t\"}",
                     layer.ToJsonString());
        string Refused(object? v) => Assert.Throws<GraphException>(() => SavedLayer(new() { ["form"] = "dense", ["k"] = v })).Message;
        const string tail = "; a model file holds ints, finite numbers, strings, bools and int arrays.";
        Assert.Equal("Layer 'cfg' (Cfg): configuration value 'k' is a Double" + tail, Refused(double.NaN));
        Assert.Equal("Layer 'cfg' (Cfg): configuration value 'k' is a Single" + tail, Refused(float.PositiveInfinity));
        Assert.Equal("Layer 'cfg' (Cfg): configuration value 'k' is a null" + tail, Refused(null));
        Assert.Equal("Layer 'cfg' (Cfg): configuration value 'k' is a Int64[]" + tail, Refused(new long[] { 1 }));
        Assert.Equal("Layer 'cfg' (Cfg): its configuration names no registered form (got 'nope'); register it with LayerRegistry.Register.",
                     Assert.Throws<GraphException>(() => SavedLayer(new() { ["form"] = "nope" })).Message);
        Assert.Equal("Layer 'cfg' (Cfg): its configuration names no registered form (got '5'); register it with LayerRegistry.Register.",
                     Assert.Throws<GraphException>(() => SavedLayer(new() { ["form"] = 5 })).Message);
        Assert.Equal("Layer 'cfg' (Cfg): its configuration names no registered form (got ''); register it with LayerRegistry.Register.",
                     Assert.Throws<GraphException>(() => SavedLayer(new() { ["size"] = 2 })).Message);
    }

    [Fact]
    public void AnUnnamedInput_IsWrittenAsNull_AndLoadsUnnamed()
    {
        var x = Input(3);
        var m = new Model(x, new Dense(2, name: "d").Call(x), "un", DType.Float32, 1);
        var arch = JsonNode.Parse(ModelFile.Image(m).Meta["architecture"])!;
        Assert.Equal("{\"name\":null,\"shape\":[3],\"sequence\":false}", arch["model"]!["inputs"]![0]!.ToJsonString());
        var back = Load(File(m, _ => { }));
        Assert.Null(back.Inputs[0].Name);
        Assert.Equal("input", back.Network.Inputs[0].Name);
    }

    /// <summary>A registered subclass whose factory sets its own input.</summary>
    public sealed class OwnInput() : Model("own", DType.Float32, 4)
    {
        protected override SymbolicTensor Forward(SymbolicTensor x) => new Dense(2, name: "d").Call(x);
    }

    [Fact]
    public void Registered_TheFactorysOwnInputWins_OverTheFile()
    {
        ModelRegistry.Register("msg_own_input", _ => new OwnInput { InputShape = [3], SequenceInput = false });
        var saved = new OwnInput { InputShape = [3] };
        var back = Load(WithArchitecture(saved, a => Edit(Edit(a, "set model.inputs[0].shape [5]"), "set model.inputs[0].sequence true")));
        Assert.Equal([3], back.InputShape!);
        Assert.False(back.SequenceInput);
    }

    [Fact]
    public void AHundredThousandOutputs_PassTheCount()
    {
        var back = Load(WithJson(Fn(), r => r["model"]!["outputs"] = Numbers(100_000).Aggregate(new JsonArray(), (a, _) => { a.Add(2); return a; })));
        Assert.Equal(100_000, back.Outputs.Count);
    }

    [Fact]
    public void AHugeDeclaredLayer_IsRefusedByTheBudgetOfTheStoredTensors()
    {
        var m = Seq();
        var (_, entries) = ModelFile.Image(m);
        long stored = 0;
        foreach (var e in entries) stored += e.Data.Length;
        long limit = 8 * stored + (1L << 20);
        string msg = EditRefusal("seq", "set model.layers[1].size 300000");
        Assert.StartsWith(P + $"the stored architecture: building it needs more than {limit} bytes of tensors (the next buffer alone is ", msg);
        Assert.EndsWith(" bytes), out of proportion to the weights the file stores; the architecture declares layers larger than its tensors.", msg);
    }
}
