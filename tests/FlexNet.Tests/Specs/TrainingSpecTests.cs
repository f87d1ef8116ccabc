using System.Text.Json;
using FlexNet.Connections;
using FlexNet.Graph;
using FlexNet.Specs;
using FlexNet.Tensors;
using Json.Schema;

namespace FlexNet.Tests.Specs;

public class TrainingSpecTests
{
    internal static string Examples => Path.Combine(AppContext.BaseDirectory, "examples", "specs");

    public static TheoryData<string> ExampleNames() =>
        new(Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "examples", "specs"), "*.yaml").Select(Path.GetFileName).Order(StringComparer.Ordinal)!);

    /// <summary>A small valid spec network (x → h → y) that tests extend.</summary>
    internal const string Mlp = """
        name: t
        inputs:
          - {name: x, size: 4}
        layers:
          - {name: h, size: 3, activation: tanh}
          - {name: y, size: 2}
        connections:
          - {from: x, to: h}
          - {from: h, to: y}
        outputs: [y]
        """;

    private static SpecValidationException Bad(string yaml) =>
        Assert.Throws<SpecValidationException>(() => TrainingSpec.Parse(yaml, "bad.yaml"));

    [Fact]
    public void ExpectedExamplesShip()
    {
        var names = Directory.GetFiles(Examples, "*.yaml").Select(Path.GetFileName).ToHashSet();
        foreach (var n in new[] { "mlp.yaml", "cnn.yaml", "feedback.yaml", "seed_demo.yaml", "blt.yaml", "autoencoder.yaml" })
            Assert.Contains(n, names);
    }

    internal static readonly Lazy<JsonSchema> Schema = new(() => JsonSchema.FromFile(Path.Combine(AppContext.BaseDirectory, "docs", "spec.schema.json")));

    [Theory]
    [MemberData(nameof(ExampleNames))]
    public void ExampleValidatesAgainstTheJsonSchema(string name)
    {
        var schema = Schema.Value;
        var (root, _) = SpecReader.Parse(File.ReadAllText(Path.Combine(Examples, name)), name);
        using var doc = JsonDocument.Parse(root.ToJsonString());
        var result = schema.Evaluate(doc.RootElement, new EvaluationOptions { OutputFormat = OutputFormat.List });
        Assert.True(result.IsValid, name + ": " + string.Join("; ", (result.Details ?? []).Where(d => d.Errors is not null)
            .SelectMany(d => d.Errors!.Select(e => $"{d.InstanceLocation}: {e.Value}"))));
        TrainingSpec.Load(Path.Combine(Examples, name)); // and the library accepts it
    }

    [Fact]
    public void SchemaRejectsABrokenSpec()
    {
        var schema = Schema.Value;
        foreach (var broken in new[] { Mlp.Replace("size: 3", "size: -3"), Mlp.Replace("{from: x, to: h}", "{from: x, to: h, delay: -1}"),
                                       Mlp.Replace("outputs: [y]", "outputs: []"), Mlp + "\nsurprise: 1\n" })
        {
            var (root, _) = SpecReader.Parse(broken, "b.yaml");
            using var doc = JsonDocument.Parse(root.ToJsonString());
            Assert.False(schema.Evaluate(doc.RootElement).IsValid, broken);
        }
    }

    [Fact]
    public void YamlAndJsonGiveTheSameTree()
    {
        var (yaml, _) = SpecReader.Parse(Mlp, "a.yaml");
        const string json = """{"name":"t","inputs":[{"name":"x","size":4}],"layers":[{"name":"h","size":3,"activation":"tanh"},{"name":"y","size":2}],"connections":[{"from":"x","to":"h"},{"from":"h","to":"y"}],"outputs":["y"]}""";
        var (fromJson, _) = SpecReader.Parse(json, "a.json");
        Assert.Equal(fromJson.ToJsonString(), yaml.ToJsonString());
    }

    [Fact]
    public void SpecNetworkComputesWhatTheHandBuiltNetworkComputes()
    {
        var spec = TrainingSpec.Parse(Mlp.Replace("name: t", "name: t\nseed: 7"), "t.yaml");
        var net = new Network("t", DType.Float32, 7);
        var x = net.Add(new InputLayer(4, name: "x"));
        var h = net.Add(new Layer(3, "tanh", name: "h"));
        var y = net.Add(new Layer(2, name: "y"));
        net.ConnectDense(x, h);
        net.ConnectDense(h, y);
        net.AddOutput(y, OutputMode.LastStep);
        net.Build();
        var a = spec.Network.NamedParameters;
        var b = net.NamedParameters;
        Assert.Equal(b.Select(p => p.Name), a.Select(p => p.Name));
        for (int i = 0; i < a.Count; i++) Assert.Equal(b[i].Value.ToFloatArray(), a[i].Value.ToFloatArray());

        // and the forward pass, checked against loops written here: y = W2·tanh(W1·x + b1) + b2
        var input = Tensor.FromArray(new float[] { 0.5f, -1f, 2f, 0.25f }, 1, 4);
        float[] w1 = a[0].Value.ToFloatArray(), b1 = a[1].Value.ToFloatArray(), w2 = a[2].Value.ToFloatArray(), b2 = a[3].Value.ToFloatArray();
        Assert.Equal([3, 4], a[0].Value.Shape);
        float[] xin = [0.5f, -1f, 2f, 0.25f];
        var hv = new double[3];
        for (int j = 0; j < 3; j++) { double s = b1[j]; for (int k = 0; k < 4; k++) s += w1[j * 4 + k] * xin[k]; hv[j] = Math.Tanh(s); }
        var got = spec.Network.Forward(input)[0].ToFloatArray();
        for (int j = 0; j < 2; j++)
        {
            double s = b2[j];
            for (int k = 0; k < 3; k++) s += w2[j * 3 + k] * hv[k];
            Assert.Equal(s, got[j], 5);
        }
    }

    [Fact]
    public void UnknownLayerKindListsTheRegisteredOnes()
    {
        var e = Bad(Mlp.Replace("{name: h, size: 3, activation: tanh}", "{name: h, kind: dens, size: 3}"));
        Assert.Contains("bad.yaml: $.layers[0].kind (line 5)", e.Message);
        Assert.Contains("layer, pool, flatten, reshape", e.Message);
        var c = Bad(Mlp.Replace("{from: h, to: y}", "{kind: conv3d, from: h, to: y}"));
        Assert.Contains("$.connections[1].kind", c.Message);
        Assert.Contains("dense, conv2d, convtranspose2d, identity, elementwise, tied", c.Message);
    }

    [Fact]
    public void RegisteredCatalogFormsAreLayerKinds()
    {
        string spec = Mlp.Replace("  - {name: h, size: 3, activation: tanh}", "  - {name: h, kind: dense, inputs: [x], size: 3, activation: tanh}\n  - {name: d, kind: dropout, inputs: [h], rate: 0.5}")
                         .Replace("  - {from: x, to: h}\n", "").Replace("{from: h, to: y}", "{from: d, to: y}");
        var s = TrainingSpec.Parse(spec, "f.yaml");
        var y = s.Network.Forward(Tensor.Ones([2, 4]))[0];
        Assert.Equal([2, 2], y.Shape);
        Assert.Contains(s.Network.Layers, l => l.Name == "h");
        var e = Bad(spec.Replace("rate: 0.5", "rat: 0.5"));
        Assert.Contains("bad.yaml: $.layers[1]", e.Message);
        Assert.Contains("rat", e.Message);
        Assert.Contains("$.layers[0].inputs[0]", Bad(spec.Replace("inputs: [x]", "inputs: [q]")).Message);
        Assert.Contains("catalog forms", Bad(spec.Replace("kind: dropout", "kind: dropoutt")).Message);
    }

    [Fact]
    public void MissingOrNegativeSizeNamesThePath()
    {
        Assert.Contains("$.layers[0].size (line 5): 'size' (or 'shape') is missing", Bad(Mlp.Replace("size: 3, ", "")).Message);
        var e = Bad(Mlp.Replace("size: 3", "size: -3"));
        Assert.Contains("$.layers[0].size", e.Message);
        Assert.Contains("-3", e.Message);
        Assert.Contains("$.inputs[0].shape[1]", Bad(Mlp.Replace("size: 4", "shape: [2, 0]")).Message);
    }

    [Fact]
    public void ConnectionToAMissingLayer()
    {
        var e = Bad(Mlp.Replace("{from: h, to: y}", "{from: h, to: z}"));
        Assert.Contains("$.connections[1].to (line 9): no layer or input is named 'z'. Declared: x, h, y.", e.Message);
    }

    [Fact]
    public void DelayZeroCycleNamesItsLayers()
    {
        var e = Bad(Mlp.Replace("  - {from: h, to: y}", "  - {from: h, to: y}\n  - {from: y, to: h}"));
        Assert.Contains("$.connections[2]", e.Message);
        Assert.Contains("h → y → h", e.Message);
        // with a delay it is a recurrent network and fine
        var ok = TrainingSpec.Parse(Mlp.Replace("  - {from: h, to: y}", "  - {from: h, to: y}\n  - {from: y, to: h, delay: 1}"), "ok.yaml");
        Assert.Equal(3, ok.Network.Connections.Count);
    }

    [Fact]
    public void ShapesThatDoNotFitNameBothLayers()
    {
        string cnn = File.ReadAllText(Path.Combine(Examples, "cnn.yaml"));
        var e = Assert.Throws<SpecValidationException>(() => TrainingSpec.Parse(cnn.Replace("shape: [8, 28, 28]", "shape: [8, 27, 28]"), "c.yaml"));
        Assert.Contains("$.connections[0]", e.Message);
        Assert.Contains("'x'", e.Message);
        Assert.Contains("'c1' is [8, 27, 28]", e.Message);
        // a shape the library infers (after pooling) is checked when the network is built, still naming the connection
        var f = Assert.Throws<SpecValidationException>(() => TrainingSpec.Parse(cnn.Replace("shape: [16, 14, 14]", "shape: [16, 13, 14]"), "c.yaml"));
        Assert.Contains("$.connections[2]", f.Message);
        Assert.Contains("[16, 13, 14]", f.Message);
        var g = Bad(Mlp.Replace("{from: h, to: y}", "{kind: identity, from: h, to: y}"));
        Assert.Contains("'h' is [3] but 'y' is [2]", g.Message);
    }

    [Fact]
    public void DotNetTypeNamesAreRefusedNeverLoaded()
    {
        foreach (var t in new[] { "System.IO.File", "FlexNet.Graph.Layer, FlexNet", "System.Diagnostics.Process" })
        {
            var e = Bad(Mlp.Replace("{name: h, size: 3, activation: tanh}", $"{{name: h, kind: '{t}', size: 3}}"));
            Assert.Contains("looks like a .NET type name", e.Message);
            Assert.Contains("$.layers[0].kind", e.Message);
        }
        Assert.Contains("$.layers[0].activation", Bad(Mlp.Replace("activation: tanh", "activation: System.Math")).Message);
        Assert.Contains("$.optimizer", Bad(Mlp + "\noptimizer: FlexNet.Optimizers.Adam\n").Message);
    }

    [Fact]
    public void TiedNeedsAnEarlierDenseConnectionOfTheRightShape()
    {
        string ae = File.ReadAllText(Path.Combine(Examples, "autoencoder.yaml"));
        var ok = TrainingSpec.Parse(ae, "ae.yaml");
        var tied = Assert.IsType<TiedConnection>(ok.Network.Connections[1]);
        Assert.Contains("$.connections[1].partner", Assert.Throws<SpecValidationException>(() => TrainingSpec.Parse(ae.Replace("partner: encoder", "partner: enc"), "ae.yaml")).Message);
        var e = Assert.Throws<SpecValidationException>(() => TrainingSpec.Parse(ae.Replace("{name: recon, size: 784", "{name: recon, size: 783"), "ae.yaml"));
        Assert.Contains("$.connections[1].to", e.Message);
        Assert.Contains("783", e.Message);
        Assert.NotNull(tied);
    }

    [Fact]
    public void AFewLinesCannotAllocateGigabytes()
    {
        var sw = System.Diagnostics.Stopwatch.StartNew();
        var e = Bad(Mlp.Replace("size: 4", "size: 16000000").Replace("size: 3,", "size: 16000000,"));
        Assert.Contains("$.connections[0]", e.Message);
        Assert.Contains("bytes", e.Message);
        Assert.True(sw.Elapsed.TotalSeconds < 10, $"refused after {sw.Elapsed.TotalSeconds} s");
    }

    [Fact]
    public void MalformedFilesNameTheLine()
    {
        Assert.Contains("bad.yaml: not valid YAML", Bad("name: a\ninputs:\n  - {name: x, size: 4\nlayers: []\n").Message);
        Assert.Contains("bad.yaml: line 4", Bad("name: a\ninputs:\n  - name: x\n size: 4\nlayers: []\n").Message);
        Assert.Contains("bad.json: line 2", Assert.Throws<SpecValidationException>(() => TrainingSpec.Parse("{\n\"name\": }", "bad.json")).Message);
        Assert.Contains("$.surprise", Bad(Mlp + "\nsurprise: 1\n").Message);
    }

    [Fact]
    public void OptimizerComesFromTheFactoryWithItsHyperParameters()
    {
        var s = TrainingSpec.Parse(Mlp + "\noptimizer: {name: SGD, lr: 0.05, momentum: 0.9}\nepochs: 4\nbatch: 16\n", "o.yaml");
        var sgd = Assert.IsType<FlexNet.Optimizers.Sgd>(s.Optimizer);
        Assert.Equal(0.05, sgd.LearningRate);
        Assert.Equal(0.9, sgd.Momentum);
        Assert.Equal(4, s.CreateTrainerOptions().Epochs);
        Assert.Equal(16, s.CreateTrainerOptions().BatchSize);
        Assert.Contains("$.optimizer.momentun", Bad(Mlp + "\noptimizer: {name: sgd, momentun: 0.9}\n").Message);
    }

    [Fact]
    public void SequenceInputDataIsCutIntoSteps()
    {
        var spec = TrainingSpec.Load(Path.Combine(Examples, "seed_demo.yaml"));
        var data = spec.Data!.Load(spec.Network);
        Assert.Equal([4, 8000, 196], data.XTrain.Shape);
        var (images, _, _) = FlexNet.Data.FashionMnist.Load(Path.Combine(AppContext.BaseDirectory, "testdata", "fashion-mnist"), "t10k");
        var x = data.XTrain.ToFloatArray();
        // sample 5, step 2, feature 17 is image 5's pixel 2·196 + 17
        Assert.Equal(images[5 * 784 + 2 * 196 + 17], x[(2 * 8000 + 5) * 196 + 17]);
    }
}
