using System.Diagnostics;
using System.Text.Json.Nodes;
using FlexNet.Connections;
using FlexNet.Graph;
using FlexNet.IO;
using FlexNet.Layers;
using FlexNet.Models;
using FlexNet.Tensors;
using FlexNet.Tests.Models;

namespace FlexNet.Tests.IO;

/// <summary>
/// R9 for .flexnet model files: four small saved networks (recurrent with tied and elementwise edges, convolutional
/// with pooling and a transposed convolution, a float64 MLP with init settings, one with conv1d, reshape, concat, complement and shared edges) are mutated into more than 10,000 malformed files: every
/// truncation, seeded bit flips, header lengths 0 / huge / past the end, metadata removed or replaced, tensors
/// removed, added, reshaped, retyped or made non-finite, and architecture JSON with every field removed or given a
/// wrong type, a negative, 2^31 or huge size, unknown kinds (including .NET type names), delay-0 cycles, connections
/// to missing layers, duplicate names, JSON nested 10,000 deep. Each load must succeed or throw
/// <see cref="ModelFormatException"/> naming the file — nothing else — within a second, allocating no more than a
/// bound proportional to the file.
/// </summary>
public sealed class NetworkFileFuzzTests
{
    private static Network Mlp()
    {
        var net = new Network("mlp", DType.Float64, 1);
        var x = new InputLayer(3, name: "x");
        var h = new Layer(4, "relu", name: "fc1");
        var y = new Layer(2, name: "fc2");
        net.ConnectDense(x, h, init: new LayerInit("he_normal", [new("std_bias", 0.1)], seed: 4)); // init settings: format version 2
        net.Connect(h, y);
        return net;
    }

    /// <summary>Whole sequences [N, 5, 3] through an LSTM, batch norm (moved running statistics), dropout and a head.</summary>
    private static Sequential SequentialSeed()
    {
        var m = new Sequential("seq", DType.Float32, 2, new LSTM(3, returnSequences: false, name: "lstm"), new BatchNorm(name: "bn"),
                               new Dropout(0.5, name: "drop"), new Dense(2, name: "head")) { InputShape = [5, 3] };
        _ = m.Forward(Tensor.Normal([4, 5, 3], 0, 1, new RandomGenerator(1)), training: true);
        return m;
    }

    /// <summary>Two inputs, a shared layer, a concatenation and a delay-1 feedback edge.</summary>
    private static Model FunctionalSeed()
    {
        var a = FlexNet.Models.Functional.Input(2, sequence: true, name: "a");
        var b = FlexNet.Models.Functional.Input(2, sequence: true, name: "b");
        var shared = new Dense(3, "tanh", name: "shared");
        var h = new Concatenate(name: "cat").Call(shared.Call(a), shared.Call(b));
        var y = new Dense(2, name: "y").Call(h);
        var m = new Model([a, b], [y], "fn", DType.Float64, 3);
        m.AddFeedback(y, y, 1, "identity");
        return m;
    }

    private static Classifier SpecSeed() =>
        new(DataKind.Feedforward, DType.Float32, 3, new Dictionary<string, object> { ["size"] = 4, ["name"] = "h", ["std"] = 0.2 },
            new Dictionary<string, object> { ["form"] = "dropout", ["rate"] = 0.2 }, 2);

    private int _cases, _rejected, _accepted;
    private long _maxAllocated;
    private string _worst = "";

    private void Check(byte[] bytes, string label)
    {
        string src = $"fuzz-{_cases}.flexnet";
        long alloc0 = GC.GetAllocatedBytesForCurrentThread();
        var sw = Stopwatch.StartNew();
        bool threw = false;
        try
        {
            NetworkFile.FromFile(SafeTensorFile.Parse(bytes, src), src);
        }
        catch (ModelFormatException e)
        {
            threw = true;
            if (!e.Message.Contains(src, StringComparison.Ordinal))
                Assert.Fail($"{label}: the error does not name the file '{src}': {e.Message}");
        }
        catch (Exception e)
        {
            Assert.Fail($"{label}: leaked {e.GetType().FullName}: {e.Message}\n{e.StackTrace}");
        }
        sw.Stop();
        long allocated = GC.GetAllocatedBytesForCurrentThread() - alloc0;
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(1), $"{label}: took {sw.Elapsed.TotalMilliseconds:F0} ms");
        long bound = 64L * bytes.Length + (2L << 20);
        Assert.True(allocated <= bound, $"{label}: allocated {allocated} bytes for a {bytes.Length}-byte file");
        if (allocated > _maxAllocated) (_maxAllocated, _worst) = (allocated, $"{label} ({bytes.Length} bytes)");
        _cases++;
        if (threw) _rejected++;
        else _accepted++;
    }

    private static readonly JsonNode?[] ValueVariants =
    [
        null, new JsonObject(), new JsonArray(), "x", "", true, 1.5, -1, 0, 2147483648L, 2147483647, 1073741824, 3000000000L, 1e300,
        new JsonArray(-1), new JsonArray(1.5), new JsonArray(0), new JsonArray(2147483647, 2147483647), new JsonArray(65536, 65536),
        new JsonArray(new JsonArray(1)), "System.Diagnostics.Process", "sum", "concat", "last_step", "h", "x",
    ];

    private static IEnumerable<(byte[] Bytes, string Label)> Mutants(string name, byte[] seed, Random rng)
    {
        for (int len = 0; len < seed.Length; len++) yield return (seed.AsSpan(0, len).ToArray(), $"{name} truncated to {len}");
        yield return ([.. seed, 0], $"{name} one byte appended");
        int headerEnd = 8 + (int)BitConverter.ToUInt64(seed, 0);
        for (int i = 0; i < 1000; i++)
        {
            byte[] m = (byte[])seed.Clone();
            int flips = 1 + rng.Next(3);
            for (int f = 0; f < flips; f++)
            {
                int at = rng.NextDouble() < 0.8 ? rng.Next(headerEnd) : rng.Next(m.Length);
                m[at] ^= (byte)(1 << rng.Next(8));
            }
            yield return (m, $"{name} bit flips #{i}");
        }
        foreach (ulong n in new ulong[] { 0, 1, 7, (ulong)headerEnd - 9, (ulong)headerEnd - 7, (ulong)seed.Length, 100_000_001, ulong.MaxValue, (ulong)int.MaxValue + 1 })
        {
            byte[] m = (byte[])seed.Clone();
            BitConverter.TryWriteBytes(m.AsSpan(0, 8), n);
            yield return (m, $"{name} header length {n}");
        }

        var file = SafeTensorFile.Parse(seed, "seed");
        var entries = file.Tensors.ToList();
        var meta = file.Metadata.ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
        byte[] Build(Dictionary<string, string> md, List<SafeTensorEntry> es) => SafeTensorWriter.ToBytes(md, es);
        string deep = new string('[', 10_000) + new string(']', 10_000);
        foreach (string key in meta.Keys)
        {
            var without = new Dictionary<string, string>(meta, StringComparer.Ordinal);
            without.Remove(key);
            yield return (Build(without, entries), $"{name} metadata '{key}' missing");
            foreach (string v in new[] { "", "0", "2", "-1", "1.5", "99", "flexnet-weights", "{}", "[]", "null", deep, "{\"a\":" + deep + "}" })
                yield return (Build(new(meta, StringComparer.Ordinal) { [key] = v }, entries), $"{name} metadata '{key}' = '{(v.Length > 20 ? v[..20] + "..." : v)}'");
        }
        for (int i = 0; i < entries.Count; i++)
        {
            var e = entries[i];
            yield return (Build(meta, entries.Where((_, j) => j != i).ToList()), $"{name} tensor '{e.Name}' missing");
            var others = entries.Where((_, j) => j != i).ToList();
            yield return (Build(meta, [.. others, SafeTensorEntry.FromFloats(e.Name, [e.ElementCount + 1], new float[e.ElementCount + 1])]), $"{name} tensor '{e.Name}' one element more");
            yield return (Build(meta, [.. others, SafeTensorEntry.FromInt32s(e.Name, e.Shape, new int[e.ElementCount])]), $"{name} tensor '{e.Name}' as I32");
            yield return (Build(meta, [.. others, e.DType == SafeTensorDType.F32
                ? SafeTensorEntry.FromDoubles(e.Name, e.Shape, e.ToDoubleArray()) : SafeTensorEntry.FromFloats(e.Name, e.Shape, e.ToFloatArray())]), $"{name} tensor '{e.Name}' other float dtype");
            yield return (Build(meta, [.. others, SafeTensorEntry.FromFloats(e.Name, [.. e.Shape.Reverse(), 1], new float[e.ElementCount])]), $"{name} tensor '{e.Name}' reshaped");
            foreach (double bad in new[] { double.NaN, double.PositiveInfinity, double.NegativeInfinity })
            {
                var v = e.ToDoubleArray();
                v[^1] = bad;
                var replaced = e.DType == SafeTensorDType.F32 ? SafeTensorEntry.FromFloats(e.Name, e.Shape, v.Select(d => (float)d).ToArray()) : SafeTensorEntry.FromDoubles(e.Name, e.Shape, v);
                yield return (Build(meta, [.. others, replaced]), $"{name} tensor '{e.Name}' holds {bad}");
            }
        }
        yield return (Build(meta, [.. entries, SafeTensorEntry.FromFloats("zz.extra", [1], [1f])]), $"{name} extra tensor");

        // the architecture JSON: every field of every object removed or replaced
        string arch = meta["architecture"];
        byte[] WithArch(JsonNode a) => Build(new(meta, StringComparer.Ordinal) { ["architecture"] = a.ToJsonString() }, entries);
        // front-end files: the model section named by another kind, and a version-2 file read as version 1
        if (JsonNode.Parse(arch)!["model"] is JsonObject)
        {
            foreach (string kind in new[] { "sequential", "functional", "spec", "registered", "feedback_chain", "feedback_tree", "network", "System.Object" })
            {
                var k = JsonNode.Parse(arch)!;
                k["model"]!["kind"] = kind;
                yield return (WithArch(k), $"{name} model.kind = {kind}");
            }
            yield return (Build(new(meta, StringComparer.Ordinal) { ["format_version"] = "1" }, entries), $"{name} format_version 1");
        }
        // every object anywhere in the architecture (network, layers, connections, paddings, outputs, the model
        // section of front-end files with its inputs, layer configurations, nodes and feedback edges)
        var root = JsonNode.Parse(arch)!;
        var paths = new List<(string Label, object[] Path)>();
        var lists = new List<(string Label, object[] Path)>();
        void Walk(JsonNode? n, string label, object[] path)
        {
            if (n is JsonObject o)
            {
                paths.Add((label, path));
                foreach (var (k, v) in o) Walk(v, label == "root" ? k : $"{label}.{k}", [.. path, k]);
            }
            else if (n is JsonArray a && a.Count > 0 && a[0] is JsonObject)
            {
                lists.Add((label, path));
                for (int i = 0; i < a.Count; i++) Walk(a[i], $"{label}[{i}]", [.. path, i]);
            }
        }
        Walk(root, "root", []);
        static JsonNode At(JsonNode a, object[] path)
        {
            foreach (var step in path) a = step is string k ? a[k]! : a[(int)step]!;
            return a;
        }
        foreach (var (label, path) in paths)
            foreach (string key in At(root, path).AsObject().Select(p => p.Key).ToList())
            {
                var removed = JsonNode.Parse(arch)!;
                At(removed, path).AsObject().Remove(key);
                yield return (WithArch(removed), $"{name} {label} without '{key}'");
                foreach (var variant in ValueVariants)
                {
                    var changed = JsonNode.Parse(arch)!;
                    At(changed, path)[key] = variant?.DeepClone();
                    yield return (WithArch(changed), $"{name} {label}.{key} = {variant?.ToJsonString() ?? "null"}");
                }
            }
        foreach (var (label, path) in lists)
        {
            for (int i = 0; i < At(root, path).AsArray().Count; i++)
            {
                var dropped = JsonNode.Parse(arch)!;
                At(dropped, path).AsArray().RemoveAt(i);
                yield return (WithArch(dropped), $"{name} without {label}[{i}]");
                var dup = JsonNode.Parse(arch)!;
                At(dup, path).AsArray().Add(At(dup, path)[i]!.DeepClone());
                yield return (WithArch(dup), $"{name} {label}[{i}] twice");
            }
            var reversed = JsonNode.Parse(arch)!;
            var items = At(reversed, path).AsArray().Select(n => n!.DeepClone()).Reverse().ToList();
            var parent = At(reversed, path[..^1]);
            if (path[^1] is string pk) parent[pk] = new JsonArray(items.ToArray());
            else parent[(int)path[^1]] = new JsonArray(items.ToArray());
            yield return (WithArch(reversed), $"{name} {label} reversed");
        }
        // every delayed connection made delay 0 (a cycle when it closes a loop); every connection to a missing layer
        for (int i = 0; i < (root["connections"]?.AsArray().Count ?? 0); i++)
        {
            var c = JsonNode.Parse(arch)!;
            c["connections"]![i]!["delay"] = 0;
            yield return (WithArch(c), $"{name} connections[{i}] delay 0");
            var toMissing = JsonNode.Parse(arch)!;
            toMissing["connections"]![i]!["to"] = "nowhere";
            yield return (WithArch(toMissing), $"{name} connections[{i}] to a missing layer");
            var fromMissing = JsonNode.Parse(arch)!;
            fromMissing["connections"]![i]!["from"] = "nowhere";
            yield return (WithArch(fromMissing), $"{name} connections[{i}] from a missing layer");
        }
        foreach (string bad in new[] { "", "{}", "[]", "null", "1", "{", deep, "{\"format_version\":" + deep + "}", arch + "x", arch.Replace("\"format_version\":1", "\"format_version\":2", StringComparison.Ordinal) })
            yield return (Build(new(meta, StringComparer.Ordinal) { ["architecture"] = bad }, entries), $"{name} architecture '{(bad.Length > 20 ? bad[..20] + "..." : bad)}'");
    }

    [Fact]
    public void TenThousandMalformedModelFiles_LoadOrThrowTheTypedFormatError()
    {
        var total = Stopwatch.StartNew();
        var rng = new Random(1010);
        var seeds = new List<(string, Func<(Dictionary<string, string>, List<SafeTensorEntry>)>)>
        {
            ("recurrent", () => NetworkFile.Image(NetworkFileTests.Recurrent())), ("cnn", () => NetworkFile.Image(NetworkFileTests.Convolutional())),
            ("mlp", () => NetworkFile.Image(Mlp())), ("every", () => NetworkFile.Image(NetworkFileTests.EveryKind())),
            ("custom-layer", () => { LayerKindsTests.Register(); return NetworkFile.Image(LayerKindsTests.Net()); }),
            ("norm-noise", () => NetworkFile.Image(Graph.NormNoiseLayerTests.FileNet())),
            ("rnn-gru-lstm", () => NetworkFile.Image(Graph.RecurrentCellLayerTests.FileNet())),
            // front-end model files (format version 2): read through the same entry point, Network.Load
            ("sequential", () => ModelFile.Image(SequentialSeed())), ("functional", () => ModelFile.Image(FunctionalSeed())),
            ("spec", () => ModelFile.Image(SpecSeed())), ("chain", () => ModelFileTests.Chain().Image()),
            ("bidirectional-clockwork", () => NetworkFile.Image(RecurrentKindFileTests.Build("bi-clockwork").Net)),
            ("scrn-fixed-rate", () => NetworkFile.Image(RecurrentKindFileTests.Build("scrn-uniform").Net)),
        };
        foreach (var (name, image) in seeds)
        {
            var (meta, entries) = image();
            byte[] seed = SafeTensorWriter.ToBytes(meta, entries);
            int rejected = _rejected;
            Check(seed, $"{name} unmodified");
            Assert.Equal(rejected, _rejected);
            foreach (var (bytes, label) in Mutants(name, seed, rng)) Check(bytes, label);
        }

        // a tiny file declaring a 30000 x 30000 dense layer must be rejected without allocating it
        var small = Mlp();
        var (m, es) = NetworkFile.Image(small);
        var arch = JsonNode.Parse(m["architecture"])!;
        arch["layers"]![1]!["shape"] = new JsonArray(30000);
        arch["connections"]![0]!["units"] = 30000;
        arch["connections"]![1]!.AsObject().Remove("units");
        arch["connections"]![1]!["units"] = null;
        arch["layers"]![0]!["shape"] = new JsonArray(30000);
        Check(SafeTensorWriter.ToBytes(new Dictionary<string, string>(m) { ["architecture"] = arch.ToJsonString() }, es), "30000x30000 dense");
        string summary = $"{_cases} files ({_rejected} rejected, {_accepted} loaded); max allocation {_maxAllocated} bytes ({_worst}); {total.Elapsed.TotalSeconds:F1} s";
        TestContext.Current.SendDiagnosticMessage(summary);
        Assert.True(_cases >= 10_000, summary);
        Assert.True(_rejected > _cases * 3 / 4, summary);
        Assert.True(total.Elapsed < TimeSpan.FromSeconds(40), summary);
    }
}
