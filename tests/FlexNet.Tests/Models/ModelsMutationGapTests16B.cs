using System.Text.Json.Nodes;
using FlexNet.Autodiff;
using FlexNet.Connections;
using FlexNet.Graph;
using FlexNet.IO;
using FlexNet.Layers;
using FlexNet.Models;
using FlexNet.Tensors;
using FlexNet.Tests.IO;
using FlexNet.Tests.Testing;

namespace FlexNet.Tests.Models;

/// <summary>Session 16: the mod16 run's survivors in the model front ends other than Model and its files (feedback
/// chains and their files, chain elements, Sequential's sequence detection, spec models and their JSON, Autoencoder,
/// Classifier, ModelRegistry). The layer names a chain gives, the key order of saved files, the default names and
/// activations of spec layers and the refusals with their whole messages are asserted; values are computed in the test
/// with loops.</summary>
public sealed class ModelsMutationGapTests16B
{
    // ---------------------------------------------------------------- helpers

    private static double[] Rows(double[] x, int n, int cols, Tensor w, Tensor? b, Func<double, double> act)
    {
        var wv = w.ToDoubleArray();
        var bv = b?.ToDoubleArray();
        int outs = w.Shape[0];
        Assert.Equal(cols, w.Shape[1]);
        var y = new double[n * outs];
        for (int i = 0; i < n; i++)
            for (int k = 0; k < outs; k++)
            {
                double s = bv is null ? 0 : bv[k];
                for (int j = 0; j < cols; j++) s += wv[k * cols + j] * x[i * cols + j];
                y[i * outs + k] = act(s);
            }
        return y;
    }

    private static double Relu(double v) => v > 0 ? v : 0;

    private static double[] SoftmaxLastAxis(double[] z, int classes)
    {
        var p = new double[z.Length];
        for (int r = 0; r < z.Length / classes; r++)
        {
            double max = double.NegativeInfinity;
            for (int k = 0; k < classes; k++) max = Math.Max(max, z[r * classes + k]);
            double sum = 0;
            for (int k = 0; k < classes; k++) sum += Math.Exp(z[r * classes + k] - max);
            for (int k = 0; k < classes; k++) p[r * classes + k] = Math.Exp(z[r * classes + k] - max) / sum;
        }
        return p;
    }

    private static DenseConnection DenseInto(Network net, string layer) =>
        net.Connections.OfType<DenseConnection>().Single(c => c.To.Name == layer);

    private static T InTempDir<T>(Func<string, T> body)
    {
        string dir = TestFiles.NewTempDir();
        try
        {
            return body(dir);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    // ---------------------------------------------------------------- feedback chains

    /// <summary>b recorded after dense1, a after dense3 (so insertion order is not the sorted order), a Merger of b.</summary>
    private static FeedbackChain Chain2() => new("fc", [3], DType.Float64, 1,
        Chain.Dense(4, "tanh"), Chain.Splitter("b"), Chain.Dense(3), Chain.Splitter("a"),
        Chain.Merger("b", (f, t, d) => new DenseConnection(f, t, d)), Chain.Dense(2));

    [Fact]
    public void FeedbackChain_NamesItsLayersByPosition()
    {
        var chain = Chain2();
        Assert.Equal(["input", "dense1", "dense3", "merge5_b", "dense6"], chain.Network.Layers.Select(l => l.Name).ToArray());
        Assert.Equal("input", chain.Input.Name);
        Assert.Equal("dense6", chain.Output.Name);
        Assert.Equal("dense1", chain.Splits["b"].Name);
        Assert.Equal("dense3", chain.Splits["a"].Name);

        var conv = new FeedbackChain("cv", [1, 4, 4], DType.Float64, 1,
            Chain.Conv2d(2, 3, padding: Padding.Same), Chain.Splitter("c"), Chain.MaxPool(2),
            Chain.Merger("c", (f, t, d) => new Conv2dConnection(f, t, 3, stride: 2, padding: 1, delay: d)),
            Chain.Flatten(), Chain.Dense(3), Chain.Activation("tanh"));
        Assert.Equal(["input", "conv1", "pool3", "merge4_c", "flatten5", "dense6", "tanh7"], conv.Network.Layers.Select(l => l.Name).ToArray());
        Assert.Equal("tanh7", conv.Output.Name);
        Assert.Equal("conv1", conv.Splits["c"].Name);
    }

    [Fact]
    public void FeedbackTree_EndingInSplitters_DelaysTheStreamInNamedLayers()
    {
        var tree = new FeedbackTree("t", [3], DType.Float64, 1, Chain.Dense(2), Chain.Splitter("a"), Chain.Splitter("b"));
        Assert.Equal(["input", "dense1", "delayed3_dense1", "delayed4_delayed3_dense1"], tree.Network.Layers.Select(l => l.Name).ToArray());
        Assert.Equal("delayed4_delayed3_dense1", tree.Output.Name);
        Assert.Equal("dense1", tree.Splits["a"].Name);
        Assert.Equal("delayed3_dense1", tree.Splits["b"].Name);
        // the value needs three steps to reach the output: zeros at steps 1 and 2, W x + b at step 3
        var x = T.Rand(3, 2, 3).Detach();
        var w = DenseInto(tree.Network, "dense1");
        var expected = Rows(x.ToDoubleArray(), 2, 3, w.Weight, w.Bias, v => v);
        Assert.Equal(new double[4], tree.Forward(x, 2).ToDoubleArray());
        T.Close(expected, tree.Forward(x, 3).ToDoubleArray(), 1e-14, 1e-15, "tree after 3 steps");
    }

    [Fact]
    public void FeedbackChain_NullElements_NamesTheParameter() =>
        Assert.Equal("elements", Assert.Throws<ArgumentNullException>(() => new FeedbackChain("c", [3], OutputMode.LastStep, DType.Float32, 1, null!)).ParamName);

    [Fact]
    public void FeedbackChain_Save_WritesTheModelSectionWithSortedSplits() => InTempDir(dir =>
    {
        string path = Path.Combine(dir, "c.flexnet");
        Chain2().Save(path);
        string arch = SafeTensorFile.Read(path).Metadata["architecture"];
        Assert.EndsWith(",\"model\":{\"kind\":\"feedback_chain\",\"input\":\"input\",\"output\":\"dense6\",\"splits\":{\"a\":\"dense3\",\"b\":\"dense1\"}}}", arch);
        var back = FeedbackChain.Load(path);
        Assert.Equal(["a", "b"], back.SplitNames.Order(StringComparer.Ordinal).ToArray());
        return 0;
    });

    /// <summary>The chain's file with its architecture's model section changed by <paramref name="edit"/>; returns the
    /// path of the edited file.</summary>
    private static string Edited(string dir, string name, Action<JsonObject> edit)
    {
        string src = Path.Combine(dir, "src.flexnet");
        if (!File.Exists(src)) Chain2().Save(src);
        var f = SafeTensorFile.Read(src);
        var meta = new Dictionary<string, string>(f.Metadata, StringComparer.Ordinal);
        var arch = JsonNode.Parse(meta["architecture"])!.AsObject();
        edit(arch["model"]!.AsObject());
        meta["architecture"] = arch.ToJsonString();
        string path = Path.Combine(dir, name);
        SafeTensorWriter.Write(path, meta, f.Tensors.ToList());
        return path;
    }

    private static string LoadRefusal(string path) => Assert.Throws<ModelFormatException>(() => FeedbackChain.Load(path)).Message;

    [Fact]
    public void FeedbackChain_Load_RefusesNamesThatAreNotLayers() => InTempDir(dir =>
    {
        string p = Edited(dir, "in.flexnet", m => m["input"] = "nope");
        Assert.Equal($"model file '{p}': model.input names 'nope', which is not a layer of the network.", LoadRefusal(p));
        p = Edited(dir, "out.flexnet", m => m["output"] = "nope");
        Assert.Equal($"model file '{p}': model.output names 'nope', which is not a layer of the network.", LoadRefusal(p));
        p = Edited(dir, "notout.flexnet", m => m["output"] = "dense1");
        Assert.Equal($"model file '{p}': model.output 'dense1' is not the network's only output.", LoadRefusal(p));
        p = Edited(dir, "split.flexnet", m => m["splits"]!["a"] = "zz");
        Assert.Equal($"model file '{p}': model.splits names 'zz', which is not a layer of the network.", LoadRefusal(p));
        return 0;
    });

    [Fact]
    public void FeedbackChain_Load_TakesAtMost1024Splits() => InTempDir(dir =>
    {
        static JsonObject Splits(int n)
        {
            var o = new JsonObject();
            for (int i = 0; i < n; i++) o[$"s{i}"] = "dense1";
            return o;
        }
        string p = Edited(dir, "1024.flexnet", m => m["splits"] = Splits(1024));
        var chain = FeedbackChain.Load(p);
        Assert.Equal(1024, chain.SplitNames.Count);
        Assert.Equal("dense1", chain.Splits["s1023"].Name);
        p = Edited(dir, "1025.flexnet", m => m["splits"] = Splits(1025));
        Assert.Equal($"model file '{p}': model.splits has more than 1024 entries.", LoadRefusal(p));
        return 0;
    });

    [Fact]
    public void FeedbackChain_Load_ReadsTheModelSectionToDepth16() => InTempDir(dir =>
    {
        // root object, model, splits: depth 3; k nested arrays under splits.a make the document k + 3 deep
        static JsonNode Nested(int k)
        {
            JsonNode n = new JsonArray();
            for (int i = 1; i < k; i++) n = new JsonArray(n);
            return n;
        }
        string p = Edited(dir, "d16.flexnet", m => m["splits"]!["a"] = Nested(13));
        Assert.Equal($"model file '{p}': model.splits.a must be a layer name.", LoadRefusal(p));
        p = Edited(dir, "d17.flexnet", m => m["splits"]!["a"] = Nested(14));
        Assert.StartsWith($"model file '{p}': the architecture's model section is malformed: The maximum configured depth of 16 has been exceeded.", LoadRefusal(p));
        return 0;
    });

    // ---------------------------------------------------------------- Sequential

    [Fact]
    public void Sequential_DefaultName_AndNullLayer()
    {
        Assert.Equal("sequential", new Sequential(new Dense(1)).Name);
        var s = new Sequential("s", DType.Float32, 1);
        Assert.Equal("layer", Assert.Throws<ArgumentNullException>(() => s.Add(null!)).ParamName);
        Assert.Empty(s.Layers);
    }

    /// <summary>h_t = x_t W_ihᵀ + b_ih + h_{t−1} W_hhᵀ + b_hh (linear RNN) for x given as [T, N, F] (timeMajor) or [N, T, F].</summary>
    private static double[] LinearRnn(Model m, double[] x, int steps, int n, int f, bool timeMajor)
    {
        Tensor P(string suffix) => m.NamedParameters.Single(p => p.Name.EndsWith(suffix, StringComparison.Ordinal)).Value;
        var wih = P("weight_ih_l0").ToDoubleArray();
        var whh = P("weight_hh_l0").ToDoubleArray();
        var bih = P("bias_ih_l0").ToDoubleArray();
        var bhh = P("bias_hh_l0").ToDoubleArray();
        int h = bih.Length;
        var state = new double[n * h];
        for (int t = 0; t < steps; t++)
        {
            var next = new double[n * h];
            for (int i = 0; i < n; i++)
                for (int k = 0; k < h; k++)
                {
                    double s = bih[k] + bhh[k];
                    for (int j = 0; j < f; j++) s += wih[k * f + j] * x[timeMajor ? (t * n + i) * f + j : (i * steps + t) * f + j];
                    for (int j = 0; j < h; j++) s += whh[k * h + j] * state[i * h + j];
                    next[i * h + k] = s;
                }
            state = next;
        }
        return state;
    }

    [Fact]
    public void Sequential_ReadsA3DBatch_AsASequence_OnlyWhenTheFirstLayerIsRecurrent_AndNotSetOtherwise()
    {
        // [T=3, N=2, F=5] time-major: the last step's state for 2 samples
        var x = T.Rand(11, 3, 2, 5).Detach();
        var seq = new Sequential("seq", DType.Float64, 1, new RNN(4, "linear", returnSequences: false, name: "r"));
        var y = seq.Forward(x);
        Assert.Equal([2, 4], y.ShapeArray);
        Assert.True(seq.SequenceInput);
        T.Close(LinearRnn(seq, x.ToDoubleArray(), 3, 2, 5, timeMajor: true), y.ToDoubleArray(), 1e-13, 1e-14, "time-major RNN");

        // SequenceInput = false: the same tensor is [N=3, T=2, F=5], batch first
        var batchFirst = new Sequential("bf", DType.Float64, 1, new RNN(4, "linear", returnSequences: false, name: "r")) { SequenceInput = false };
        var yb = batchFirst.Forward(x);
        Assert.Equal([3, 4], yb.ShapeArray);
        Assert.False(batchFirst.SequenceInput);
        T.Close(LinearRnn(batchFirst, x.ToDoubleArray(), 2, 3, 5, timeMajor: false), yb.ToDoubleArray(), 1e-13, 1e-14, "batch-first RNN");

        // a first layer that is not recurrent: [N=3, 2, 5] samples, flattened to [3, 10]
        var flat = new Sequential("flat", DType.Float64, 1, new Flatten(name: "f"));
        var yf = flat.Forward(x);
        Assert.Equal([3, 10], yf.ShapeArray);
        Assert.Equal(x.ToDoubleArray(), yf.ToDoubleArray());
        Assert.Null(flat.SequenceInput);
    }

    // ---------------------------------------------------------------- ModelRegistry

    [Fact]
    public void ModelRegistry_RefusesANullNameAndANullFactory()
    {
        Assert.Equal("name", Assert.Throws<ArgumentNullException>(() => ModelRegistry.Register(null!, _ => new Sequential(new Dense(1)))).ParamName);
        Assert.Equal("create", Assert.Throws<ArgumentNullException>(() => ModelRegistry.Register<Sequential>("m16b_nullcreate", null!)).ParamName);
        Assert.DoesNotContain("m16b_nullcreate", ModelRegistry.Registered);
        ModelRegistry.Register("m16b_ok", _ => new Sequential(new Dense(1)));
        Assert.Contains("m16b_ok", ModelRegistry.Registered);
    }

    // ---------------------------------------------------------------- Classifier, Autoencoder

    [Fact]
    public void Classifier_PredictProba_SoftmaxOverTheLastAxis_OfA3DOutput()
    {
        var c = new Classifier(DataKind.Recurrent, DType.Float64, 3, (4, "rnn"), 2);
        var x = T.Rand(5, 4, 2, 3).Detach(); // [T=4, N=2, F=3]
        var logits = c.Forward(x).ToDoubleArray();
        var p = c.PredictProba(x);
        Assert.Equal([4, 2, 2], p.ShapeArray);
        T.Close(SoftmaxLastAxis(logits, 2), p.ToDoubleArray(), 1e-13, 1e-15, "softmax over classes");
    }

    [Fact]
    public void Classifier_WithASoftmaxOutput_GivesItsProbabilitiesOnce()
    {
        var c = new Classifier(DataKind.Feedforward, DType.Float64, 3, (2, "softmax"));
        var x = T.Rand(6, 4, 3).Detach();
        var w = DenseInto(c.Network, "out");
        var expected = SoftmaxLastAxis(Rows(x.ToDoubleArray(), 4, 3, w.Weight, w.Bias, v => v), 2);
        T.Close(expected, c.PredictProba(x).ToDoubleArray(), 1e-13, 1e-15, "softmax output, not softmax twice");
    }

    [Fact]
    public void Autoencoder_EncodesAndDecodesAtANamedLayer_AndNamesAShapeMismatch()
    {
        var ae = new Autoencoder(DataKind.Feedforward, DType.Float64, 4, 3, 2, 4);
        Assert.Equal("hid2", ae.MiddleLayer);
        var net = ae.Network;
        var (w1, w2, w3) = (DenseInto(net, "hid1"), DenseInto(net, "hid2"), DenseInto(net, "out"));
        var x = T.Rand(7, 2, 4).Detach();
        var h1 = Rows(x.ToDoubleArray(), 2, 4, w1.Weight, w1.Bias, Relu);
        T.Close(h1, ae.Encode(x, "hid1").ToDoubleArray(), 1e-14, 1e-15, "Encode at hid1");
        var h2 = Rows(h1, 2, 3, w2.Weight, w2.Bias, Relu);
        T.Close(h2, ae.Encode(x).ToDoubleArray(), 1e-14, 1e-15, "Encode at the middle");

        var z = T.Rand(8, 2, 3).Detach();
        var decoded = Rows(Rows(z.ToDoubleArray(), 2, 3, w2.Weight, w2.Bias, Relu), 2, 2, w3.Weight, w3.Bias, v => v);
        T.Close(decoded, ae.Decode(z, "hid1").ToDoubleArray(), 1e-14, 1e-15, "Decode from hid1");

        Assert.Equal("layers[2] 'out': an autoencoder's output must have the input's shape [4]; it has [2].",
                     Assert.Throws<SpecValidationException>(() => new Autoencoder(4, 3, 2)).Message);
    }

    // ---------------------------------------------------------------- spec models

    [Fact]
    public void SpecModel_NullSpecs_NamesTheParameter() =>
        Assert.Equal("specs", Assert.Throws<ArgumentNullException>(() => new Regressor(DataKind.Feedforward, DType.Float32, null!)).ParamName);

    [Fact]
    public void SpecModel_HiddenLayersDefaultToRelu_TheLastToTheOutputActivation_RecurrentFormsToTheirOwn()
    {
        var r = new Regressor(DataKind.Feedforward, DType.Float64, 3, 4, 2);
        Assert.Equal("relu", r.CanonicalSpecs[1]!["activation"]);
        Assert.Equal("linear", r.CanonicalSpecs[2]!["activation"]);
        Assert.Equal(["in", "hid1", "out"], r.LayerNames);

        var rec = new Regressor(DataKind.Recurrent, DType.Float64, 3, (4, "rnn"), 2);
        Assert.False(rec.CanonicalSpecs[1]!.ContainsKey("activation"));
        Assert.Equal("rnn", rec.CanonicalSpecs[1]!["form"]);
        Assert.Equal("linear", rec.CanonicalSpecs[2]!["activation"]);
    }

    [Fact]
    public void SpecModel_Refusals_NameTheLayerAndTheRule()
    {
        string forms = string.Join(", ", LayerRegistry.Names);
        Assert.Contains(", dense, ", forms);
        Assert.Equal($"layers[1] 'hid1': 'zzz' in (4, zzz) is neither a registered form ({forms}) nor an activation.",
                     Assert.Throws<SpecValidationException>(() => new Regressor(3, (4, "zzz"), 2)).Message);
        Assert.Equal($"layers[1] 'hid1': unknown form 'zzz'. Registered forms: {forms}.",
                     Assert.Throws<SpecValidationException>(() => new Regressor(3, new Dictionary<string, object> { ["form"] = "zzz" }, 2)).Message);
        Assert.Equal("layers[1] 'hid1': the output does not depend on this layer (a later layer's 'inputs' skip it); every layer must lead to the output.",
                     Assert.Throws<SpecValidationException>(() => new Regressor(3, 4, new Dictionary<string, object> { ["size"] = 2, ["inputs"] = "in" })).Message);
        // a tied layer gives its partner's input width (4) whatever size it is given; the message names the shape the
        // layer reads ([3], hid1's output), not its combined input (which has the output's shape)
        Assert.Equal("layers[2] 'out': size 5 does not fit; the layer produces [4] from its input [3].",
                     Assert.Throws<SpecValidationException>(() => new Regressor(DataKind.Feedforward, DType.Float64, 4, 3, (5, "tied"))).Message);
        var ok = new Regressor(3, 4, 2);
        Assert.Equal("Regressor has no layer 'nope'; layers: in, hid1, out.", Assert.Throws<KeyNotFoundException>(() => ok.Layer("nope")).Message);
    }

    [Fact]
    public void SpecModel_LayersThatDoNotFit_AreASpecError()
    {
        var e = Assert.Throws<SpecValidationException>(() => new Regressor(3, 4, new Dictionary<string, object> { ["form"] = "add", ["inputs"] = new[] { "in", "hid1" } }, 2));
        // the add layer's identity edges need equal shapes: 'in' [3] sets the sum's shape, 'hid1' [4] does not fit it
        Assert.Equal("The layer specs do not fit together: Connection 'hid1->hid2' (identity, delay 0) from layer 'hid1' [4] to layer 'hid2' [?]: " +
                     "an identity connection needs equal shapes; source [4] vs target [3].", e.Message);
    }

    [Fact]
    public void SpecModel_InputSpecs_NameTheInputIn_AndTakeOnlyTheirArguments()
    {
        Assert.Equal("in", new Regressor((1, 4), 2).LayerNames[0]);
        Assert.Equal("in", new Regressor(new Dictionary<string, object> { ["size"] = 3 }, 2).LayerNames[0]);
        var named = new Regressor(new Dictionary<string, object> { ["shape"] = new[] { 3 }, ["name"] = "x0", ["form"] = "input" }, 2);
        Assert.Equal(["x0", "out"], named.LayerNames);
        Assert.Equal("layers[0] 'in': form 'input' has no argument 'units'. Its arguments: .",
                     Assert.Throws<SpecValidationException>(() => new Regressor(new Dictionary<string, object> { ["size"] = 3, ["units"] = 4 }, 2)).Message);
        Assert.Equal("layers[0] 'in': the input needs 'size' or 'shape'.",
                     Assert.Throws<SpecValidationException>(() => new Regressor(new Dictionary<string, object> { ["name"] = "x0" }, 2)).Message);
    }

    // ---------------------------------------------------------------- spec JSON (the spec-weights format)

    private static Regressor TwoInputs() => new(DataKind.Feedforward, DType.Float64,
        4, new Dictionary<string, object> { ["size"] = 3, ["name"] = "hid1" },
        new Dictionary<string, object> { ["size"] = 2, ["inputs"] = new[] { "hid1", "in" } });

    private const string TwoInputsSpec =
        "[{\"name\":\"in\",\"shape\":[4]},{\"activation\":\"relu\",\"form\":\"dense\",\"name\":\"hid1\",\"size\":3}," +
        "{\"activation\":\"linear\",\"form\":\"dense\",\"inputs\":[\"hid1\",\"in\"],\"name\":\"out\",\"size\":2}]";

    [Fact]
    public void SpecJson_WritesSortedKeys_AndReadsStringArraysBack() => InTempDir(dir =>
    {
        var m = TwoInputs();
        string path = Path.Combine(dir, "m.safetensors");
        m.SaveSpecWeights(path);
        Assert.Equal(TwoInputsSpec, SafeTensorFile.Read(path).Metadata["spec"]);
        var back = SpecModel.Load(path);
        Assert.Equal(["hid1", "in"], (string[])back.CanonicalSpecs[2]!["inputs"]);
        var x = T.Rand(9, 3, 4).Detach();
        Assert.Equal(m.Predict(x).ToDoubleArray(), back.Predict(x).ToDoubleArray());
        return 0;
    });

    private static string SpecRefusal(string dir, string name, string from, string to)
    {
        string src = Path.Combine(dir, "src.safetensors");
        if (!File.Exists(src)) TwoInputs().SaveSpecWeights(src);
        var f = SafeTensorFile.Read(src);
        var meta = new Dictionary<string, string>(f.Metadata, StringComparer.Ordinal);
        Assert.Contains(from, meta["spec"]);
        meta["spec"] = meta["spec"].Replace(from, to, StringComparison.Ordinal);
        string path = Path.Combine(dir, name);
        SafeTensorWriter.Write(path, meta, f.Tensors.ToList());
        return Assert.Throws<ModelFormatException>(() => SpecModel.Load(path)).Message;
    }

    [Fact]
    public void SpecJson_RefusesMixedArraysAndInfiniteNumbers_WithTheValue() => InTempDir(dir =>
    {
        string p(string n) => Path.Combine(dir, n);
        const string inputs = "\"inputs\":[\"hid1\",\"in\"]";
        Assert.Equal($"{p("a")}: spec value 'inputs' = [\"hid1\",1]: an array holds only integers or only strings; got 1.",
                     SpecRefusal(dir, "a", inputs, "\"inputs\":[\"hid1\",1]"));
        Assert.Equal($"{p("b")}: spec value 'inputs' = [true,false]: an array holds only integers or only strings.",
                     SpecRefusal(dir, "b", inputs, "\"inputs\":[true,false]"));
        Assert.Equal($"{p("c")}: spec value 'size' = 1e400 is not a finite number.",
                     SpecRefusal(dir, "c", "\"size\":3", "\"size\":1e400"));
        return 0;
    });

    [Fact]
    public void SpecJson_CutsValuesLongerThan64CharactersInMessages() => InTempDir(dir =>
    {
        string at64 = new('x', 58), at65 = new('x', 59);
        // [1,"x…x"] is 6 characters more than its x's: 64 is shown whole, 65 as its first 64 characters and "..."
        Assert.Equal($"{Path.Combine(dir, "a")}: spec value 'size' = [1,\"{at64}\"]: array entries must be integers in the int32 range; got \"{at64}\".",
                     SpecRefusal(dir, "a", "\"size\":3", $"\"size\":[1,\"{at64}\"]"));
        Assert.Equal($"{Path.Combine(dir, "b")}: spec value 'size' = [1,\"{at65}\"...: array entries must be integers in the int32 range; got \"{at65}\".",
                     SpecRefusal(dir, "b", "\"size\":3", $"\"size\":[1,\"{at65}\"]"));
        return 0;
    });

    // ---------------------------------------------------------------- second batch: the final list's uncovered lines

    [Fact]
    public void SplittersAndMergers_AreNotAppendedAsLayers()
    {
        var net = new Network("n", DType.Float64, 1);
        var input = net.Add(new InputLayer([3], name: "x"));
        Assert.Equal("Splitters are handled by the chain.",
                     Assert.Throws<InvalidOperationException>(() => Chain.Splitter("a").Append(net, input, 0, 1)).Message);
        Assert.Equal("Mergers are handled by the chain.",
                     Assert.Throws<InvalidOperationException>(() => Chain.Merger("a", (f, t, d) => new DenseConnection(f, t, d)).Append(net, input, 0, 1)).Message);
    }

    [Fact]
    public void FeedbackChain_Load_RefusesAMalformedModelSection() => InTempDir(dir =>
    {
        string p = EditedRoot(dir, "nomodel.flexnet", a => a.Remove("model"));
        Assert.Equal($"model file '{p}': the architecture has no 'model' object; a Connect network loads with Network.Load.", LoadRefusal(p));
        p = Edited(dir, "extra.flexnet", m => m["extra"] = 1);
        Assert.Equal($"model file '{p}': model has an unknown field 'extra' (allowed: kind, input, output, splits).", LoadRefusal(p));
        p = Edited(dir, "kind.flexnet", m => m["kind"] = "sequential");
        Assert.Equal($"model file '{p}': the file holds a 'sequential' model, not a feedback chain; load it with Model.Load.", LoadRefusal(p));
        p = Edited(dir, "splits.flexnet", m => m["splits"] = new JsonArray());
        Assert.Equal($"model file '{p}': model.splits must be an object (Splitter name → layer name).", LoadRefusal(p));
        p = Edited(dir, "instr.flexnet", m => m["input"] = 3);
        Assert.Equal($"model file '{p}': model.input must be a string.", LoadRefusal(p));
        p = Edited(dir, "notinput.flexnet", m => m["input"] = "dense1");
        Assert.Equal($"model file '{p}': model.input 'dense1' is not an input layer.", LoadRefusal(p));
        return 0;
    });

    private static string EditedRoot(string dir, string name, Action<JsonObject> edit)
    {
        string src = Path.Combine(dir, "src.flexnet");
        if (!File.Exists(src)) Chain2().Save(src);
        var f = SafeTensorFile.Read(src);
        var meta = new Dictionary<string, string>(f.Metadata, StringComparer.Ordinal);
        var arch = JsonNode.Parse(meta["architecture"])!.AsObject();
        edit(arch);
        meta["architecture"] = arch.ToJsonString();
        string path = Path.Combine(dir, name);
        SafeTensorWriter.Write(path, meta, f.Tensors.ToList());
        return path;
    }

    [Fact]
    public void Sequential_WithoutLayers_Says_So_ForA3DBatchToo() =>
        Assert.Equal("Sequential 'e' has no layers.",
                     Assert.Throws<GraphException>(() => new Sequential("e", DType.Float32, 1).Forward(Tensor.Zeros([2, 3, 4]))).Message);

    [Fact]
    public void SpecJson_WritesEveryValueKind_AndRefusesTheRest()
    {
        var d = new Dictionary<string, object>(StringComparer.Ordinal)
        {
            ["f"] = 2.5, ["e"] = (1, 2), ["d"] = new[] { "x", "y" }, ["c"] = true, ["b"] = 1.5f, ["a"] = 5L, ["g"] = new[] { 3, 4 }, ["h"] = "s", ["i"] = 7,
        };
        Assert.Equal("[{\"a\":5,\"b\":1.5,\"c\":true,\"d\":[\"x\",\"y\"],\"e\":[1,2],\"f\":2.5,\"g\":[3,4],\"h\":\"s\",\"i\":7}]", SpecJson.Write([d]));
        Assert.Equal("Spec value 'k' = (1, a) cannot be saved (tuples of ints only).",
                     Assert.Throws<ModelFormatException>(() => SpecJson.Write([new() { ["k"] = (1, "a") }])).Message);
        Assert.Equal("Spec value 'k' of kind Object cannot be saved (numbers, strings, booleans and arrays only).",
                     Assert.Throws<ModelFormatException>(() => SpecJson.Write([new() { ["k"] = new object() }])).Message);

        var back = (Dictionary<string, object>)Assert.Single(SpecJson.Read("[{\"t\":true,\"f\":false,\"x\":1.5,\"e\":[]}]", "p"));
        Assert.Equal(true, back["t"]);
        Assert.Equal(false, back["f"]);
        Assert.Equal(1.5, back["x"]);
        Assert.Empty((int[])back["e"]);
        Assert.Equal("p: the stored spec is not a JSON array.", Assert.Throws<ModelFormatException>(() => SpecJson.Read("{}", "p")).Message);
        Assert.Equal("p: spec 1 is not a JSON object.", Assert.Throws<ModelFormatException>(() => SpecJson.Read("[{},1]", "p")).Message);
        Assert.Equal("p: spec value 'n' has an unsupported JSON kind Null.", Assert.Throws<ModelFormatException>(() => SpecJson.Read("[{\"n\":null}]", "p")).Message);
        Assert.StartsWith("p: the stored spec is not valid JSON: ", Assert.Throws<ModelFormatException>(() => SpecJson.Read("[", "p")).Message);
    }

    [Fact]
    public void SpecModel_MoreRefusals_NameTheLayerAndTheRule()
    {
        string forms = string.Join(", ", LayerRegistry.Names);
        string Refusal(Func<object> build) => Assert.Throws<SpecValidationException>(build).Message;
        Assert.Equal("A Regressor needs an input spec and at least one layer spec; got 1 spec(s).", Refusal(() => new Regressor(3)));
        Assert.Equal("layers[0] 'in': a convolutional model needs an input shape (C, H, W); got [3].",
                     Refusal(() => new Regressor(DataKind.Convolutional, DType.Float32, 3, 2)));
        Assert.Equal($"layers[1] 'hid1': unknown form 'zzz'. Registered forms: {forms}.", Refusal(() => new Regressor(3, "zzz", 2)));
        Assert.Equal("layers[1] 'hid1': a tuple spec holds one size; got a second int 5 in (4, 5).", Refusal(() => new Regressor(3, (4, 5), 2)));
        Assert.Equal("layers[1] 'hid1': a layer spec is an int, a form name, a tuple, a dictionary or a layer object; got Double.",
                     Refusal(() => new Regressor(3, 2.5, 2)));
        Assert.Equal("layers[1] 'hid1': 'form' must be a string.", Refusal(() => new Regressor(3, new Dictionary<string, object> { ["form"] = 1 }, 2)));
        Assert.Equal("layers[1] 'hid1': 'name' must be a string.", Refusal(() => new Regressor(3, new Dictionary<string, object> { ["name"] = 1 }, 2)));
        Assert.Equal("layers[1] 'hid1': missing 'size' for form 'nobias'.", Refusal(() => new Regressor(3, "nobias", 2)));
        Assert.Equal("layers[2] 'out': partner 'zz' does not name an earlier layer.", Refusal(() => new Regressor(4, 3, new Dictionary<string, object> { ["form"] = "tied", ["partner"] = "zz" })));
    }

    [Fact]
    public void SpecModel_CanonicalSpecs_RecordFormsNamesPartnersAndInputs()
    {
        var r = new Regressor(DataKind.Feedforward, DType.Float64, 3, (4, "nobias"), new Dictionary<string, object> { ["size"] = 2, ["inputs"] = new[] { "hid1:out" } });
        Assert.Equal("nobias", r.CanonicalSpecs[1]!["form"]);
        Assert.Equal("hid1", r.CanonicalSpecs[1]!["name"]);
        Assert.Equal("out", r.CanonicalSpecs[2]!["name"]);
        Assert.Equal(["hid1"], (string[])r.CanonicalSpecs[2]!["inputs"]);

        // theanets' mirror rule: the last tied layer pairs with the first encoder layer, the inner one with the inner one
        var ae = new Autoencoder(DataKind.Feedforward, DType.Float64, 4, 3, 2, "tied", "tied");
        Assert.Equal("hid2", ae.CanonicalSpecs[3]!["partner"]);
        Assert.Equal("hid1", ae.CanonicalSpecs[4]!["partner"]);
        var sized = new Regressor(DataKind.Feedforward, DType.Float64, 4, 3, (4, "tied"));
        Assert.Equal("tied", sized.CanonicalSpecs[2]!["form"]);
        Assert.Equal(4, sized.CanonicalSpecs[2]!["size"]);

        // a layer object keeps its own name (or gets the default) and has no canonical spec, so it cannot be saved as specs
        var obj = new Regressor(DataKind.Feedforward, DType.Float64, 3, new Dense(4, name: "mine"), new Dense(2));
        Assert.Equal(["in", "mine", "out"], obj.LayerNames);
        Assert.Null(obj.CanonicalSpecs[1]);
        Assert.Equal("Regressor 'spec': layers[1] 'mine' was given as an object, not a spec, so a model file cannot rebuild it; give it as a spec, " +
                     "or save its weights with SaveWeights and rebuild it in code.", Assert.Throws<ModelFormatException>(() => obj.SpecJsonText()).Message);
    }

    [Fact]
    public void Autoencoder_EncodeAtAnUnknownLayer_AndDecodeFromTheInput()
    {
        var ae = new Autoencoder(DataKind.Feedforward, DType.Float64, 4, 3, 4);
        Assert.Equal("Autoencoder has no layer 'nope'; layers: in, hid1, out.", Assert.Throws<KeyNotFoundException>(() => ae.Encode(Tensor.Zeros([1, 4], DType.Float64), "nope")).Message);
        var x = T.Rand(12, 2, 4).Detach();
        var (w1, w2) = (DenseInto(ae.Network, "hid1"), DenseInto(ae.Network, "out"));
        var expected = Rows(Rows(x.ToDoubleArray(), 2, 4, w1.Weight, w1.Bias, Relu), 2, 3, w2.Weight, w2.Bias, v => v);
        T.Close(expected, ae.Decode(x, "in").ToDoubleArray(), 1e-14, 1e-15, "Decode from the input");
    }
}
