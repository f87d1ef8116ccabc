using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using FlexNet.IO;
using FlexNet.Layers;
using FlexNet.Losses;
using FlexNet.Models;
using FlexNet.Optimizers;
using FlexNet.Training;
using FlexNet.Tensors;

namespace FlexNet.Tests.IO;

/// <summary>
/// R9 for FlexNet's own loaders: saved checkpoints, spec-model files, model weight files and tensor files are mutated
/// into more than 10,000 malformed files (every truncation, bit flips, header lengths 0 / huge / past the end,
/// overlapping, reversed and out-of-range offsets, holes, shape-product overflow, unknown dtypes, duplicate names,
/// JSON nested 10,000 deep, spec JSON with wrong types, missing fields and negative or 2^31 sizes, missing and
/// non-string metadata, more than 100,000 tensors). Each load must succeed or throw FlexNet's typed format error
/// naming the file — nothing else — within a second, allocating no more than a bound proportional to the file, and a
/// rejected checkpoint must leave the trainer's model unchanged. Checkpoint mutations are re-sealed with a valid
/// checksum so they reach the checks behind it.
/// </summary>
[Collection("Training")] // loading a checkpoint restores RandomGenerator.Default
public sealed partial class ModelFileFuzzTests
{
    private sealed class Kind(string name, byte[] seed, Action<byte[], string> load, bool sealedByChecksum, Func<byte[]>? state = null)
    {
        public string Name { get; } = name;
        public byte[] Seed { get; } = seed;
        public Action<byte[], string> Load { get; } = load;
        public bool Checksummed { get; } = sealedByChecksum;
        public Func<byte[]>? State { get; } = state;
        public int Cases, Rejected, Accepted;
    }

    private static byte[] ModelState(Sequential m) => Checkpoint.Host.ResumeScenario.WeightsImage(m);

    private static List<Kind> Kinds(string dir)
    {
        var kinds = new List<Kind>();

        // 1. a mid-epoch checkpoint of a model with batch norm and dropout (early stopping's best weights included)
        Sequential CkptModel() => new("fz", DType.Float32, 4, new Dense(3, "relu", name: "fc"), new BatchNorm(name: "bn"),
            new Dropout(0.2, name: "drop"), new Dense(2, name: "out")) { InputShape = [2] };
        TrainerOptions CkptOptions() => new()
        {
            Loss = new CrossEntropy(), Optimizer = new Adam(0.01), Epochs = 2, BatchSize = 3, Progress = ProgressMode.None,
            EarlyStopping = new EarlyStopping { Monitor = "loss", Patience = 100 },
        };
        var x = Tensor.Normal([6, 2], 0, 1, new RandomGenerator(8));
        var y = Tensor.FromArray(new[] { 0, 1, 1, 0, 1, 0 }, 6);
        string ckpt = Path.Combine(dir, "fz.ckpt");
        var writer = new Trainer((ITrainable)CkptModel(), CkptOptions());
        writer.Options.OnBatchEnd = i => { if (i.Epoch == 1 && i.Batch == 0) writer.SaveCheckpoint(ckpt); };
        writer.Fit(x, y);
        var target = CkptModel();
        var trainer = new Trainer((ITrainable)target, CkptOptions());
        byte[] TrainerState()
        {
            // weights and buffers, epoch, step count, the first Adam slot and the process-wide generator
            var extra = new List<byte>(ModelState(target));
            extra.AddRange(BitConverter.GetBytes(trainer.Epoch));
            extra.AddRange(BitConverter.GetBytes(trainer.Optimizer.StepCount));
            if (trainer.Optimizer.State(0) is { } st) foreach (float v in st.Slots[0].ToFloatArray()) extra.AddRange(BitConverter.GetBytes(v));
            foreach (ulong w in RandomGenerator.Default.GetState()) extra.AddRange(BitConverter.GetBytes(w));
            return [.. extra];
        }
        kinds.Add(new Kind("checkpoint", File.ReadAllBytes(ckpt), (b, src) => trainer.LoadCheckpointImage(b, src), true, TrainerState));

        // 2. spec models (theanets-style): a regressor and a classifier with dropout and an explicit 'inputs'
        string spec1 = Path.Combine(dir, "reg.safetensors"), spec2 = Path.Combine(dir, "cls.safetensors");
        // (the spec-weights format of earlier versions, which SpecModel.Load still reads; .flexnet files: NetworkFileFuzzTests)
        new Regressor(3, new Dictionary<string, object> { ["size"] = 4, ["name"] = "hid1", ["activation"] = "tanh" }, 2).SaveSpecWeights(spec1);
        new Classifier(DataKind.Feedforward, DType.Float64, 3, 5,
            new Dictionary<string, object> { ["form"] = "dropout", ["rate"] = 0.2 },
            new Dictionary<string, object> { ["size"] = 2, ["inputs"] = new[] { "hid2" } }).SaveSpecWeights(spec2);
        foreach (var (n, p) in new[] { ("spec-regressor", spec1), ("spec-classifier", spec2) })
            kinds.Add(new Kind(n, File.ReadAllBytes(p), (b, src) => SpecModel.LoadFrom(SafeTensorFile.Parse(b, src), src), false));

        // 3. Sequential weights with buffers
        string weights = Path.Combine(dir, "w.safetensors");
        var wm = new Sequential("w", DType.Float32, 5, new Dense(3, name: "d"), new BatchNorm(name: "b")) { InputShape = [2] };
        wm.SaveWeights(weights);
        var wtarget = new Sequential("w", DType.Float32, 6, new Dense(3, name: "d"), new BatchNorm(name: "b")) { InputShape = [2] };
        _ = wtarget.Network;
        kinds.Add(new Kind("weights", File.ReadAllBytes(weights), (b, src) => wtarget.LoadWeights(SafeTensorFile.Parse(b, src), src), false));

        // 4. a tensor file of every dtype TensorFile writes, with an empty tensor
        string tensors = Path.Combine(dir, "t.safetensors");
        TensorFile.Save(tensors, new Dictionary<string, Tensor>
        {
            ["f"] = Tensor.FromArray(new float[] { 1, 2, 3, 4 }, 2, 2),
            ["d"] = Tensor.FromArray(new double[] { -1, 0.5 }, 2),
            ["i"] = Tensor.FromArray(new[] { 7, -8, 9 }, 3),
            ["e"] = Tensor.Zeros([3, 0]),
        }, new Dictionary<string, string> { ["note"] = "fuzz" });
        kinds.Add(new Kind("tensors", File.ReadAllBytes(tensors), (b, src) =>
        {
            var f = SafeTensorFile.Parse(b, src);
            foreach (var e in f.Tensors) _ = TensorFile.ToTensor(e);
        }, false));
        return kinds;
    }

    private long _maxAllocated, _maxSmall;
    private string _worst = "", _worstSmall = "";

    private void Check(Kind k, byte[] bytes, string label)
    {
        if (k.Checksummed) ChecksummedFile.Reseal(bytes);
        string src = $"{k.Name}-{k.Cases}.fuzz";
        byte[]? before = k.State?.Invoke();
        long alloc0 = GC.GetAllocatedBytesForCurrentThread();
        var sw = Stopwatch.StartNew();
        bool threw = false;
        try
        {
            k.Load(bytes, src);
        }
        catch (Exception e) when (e is ModelFormatException or SpecValidationException)
        {
            threw = true;
            if (!e.Message.Contains(src, StringComparison.Ordinal))
                Assert.Fail($"{k.Name} {label}: {e.GetType().Name} does not name the file '{src}': {e.Message}");
        }
        catch (Exception e)
        {
            Assert.Fail($"{k.Name} {label}: leaked {e.GetType().FullName}: {e.Message}\n{e.StackTrace}");
        }
        sw.Stop();
        long allocated = GC.GetAllocatedBytesForCurrentThread() - alloc0;
        // One second per file; the 5.7 MB header with 100,001 entries (parsed up to the limit) gets three on a busy machine.
        var limit = TimeSpan.FromSeconds(bytes.Length > 1_000_000 ? 3 : 1);
        Assert.True(sw.Elapsed < limit, $"{k.Name} {label}: took {sw.Elapsed.TotalMilliseconds:F0} ms");
        // The loaders read a file already in memory; what they allocate on top must stay proportional to its size
        // (a model of the declared size, initialisers' temporaries, the parsed header).
        long bound = 32L * bytes.Length + (2L << 20);
        Assert.True(allocated <= bound, $"{k.Name} {label}: allocated {allocated} bytes for a {bytes.Length}-byte file");
        if (allocated > _maxAllocated) _worst = $"{k.Name} {label} ({bytes.Length} bytes)";
        _maxAllocated = Math.Max(_maxAllocated, allocated);
        if (bytes.Length < 100_000 && allocated > _maxSmall) { _maxSmall = allocated; _worstSmall = $"{k.Name} {label} ({bytes.Length} bytes)"; }
        if (threw && before is not null)
            Assert.True(before.AsSpan().SequenceEqual(k.State!()), $"{k.Name} {label}: a rejected checkpoint changed the model");
        k.Cases++;
        if (threw) k.Rejected++;
        else k.Accepted++;
    }

    private static string HeaderOf(byte[] image) => TestFiles.HeaderOf(image);

    private static byte[] WithHeader(byte[] image, string header) => TestFiles.WithHeader(image, header);

    [GeneratedRegex("\"data_offsets\":\\[(\\d+),(\\d+)\\]")]
    private static partial Regex Offsets();

    [GeneratedRegex("\"shape\":\\[[0-9,]*\\]")]
    private static partial Regex Shapes();

    [GeneratedRegex("\"dtype\":\"[A-Z0-9]+\"")]
    private static partial Regex DTypes();

    [GeneratedRegex(@"\d+")]
    private static partial Regex Numbers();

    private static readonly string[] NumberVariants =
        ["0", "-1", "1", "2147483647", "2147483648", "-2147483648", "4294967296", "9223372036854775807", "18446744073709551616", "1.5", "1e400", "null", "\"7\"", "[]"];

    private static readonly string[] ShapeVariants =
    [
        "[]", "[0]", "[-1]", "[2147483648]", "[4194305,4194305,211106198978564]", "[2147483647,2147483647,2147483647,2147483647]",
        "[65536,65536,0]", "[1,1,1,1,1,1,1,1,1]", "[1.5]", "[\"2\"]", "null", "{}", "[[2]]", "[3000000000]",
    ];

    private static readonly string[] DTypeVariants = ["\"F64\"", "\"I64\"", "\"U8\"", "\"BOOL\"", "\"F8_E4M3\"", "\"C64\"", "\"Int32\"", "\"\"", "1", "null"];

    private static readonly JsonNode?[] SpecValueVariants =
    [
        null, new JsonObject(), new JsonArray(), "x", true, 1.5, -1, 0, 2147483648L, 1073741824, 3000000000L,
        new JsonArray(-1), new JsonArray(1.5), new JsonArray(new JsonArray(1)), new JsonArray("in", 3), "in", 99999, "System.Diagnostics.Process",
    ];

    private IEnumerable<(byte[] Bytes, string Label)> Mutants(Kind k, Random rng)
    {
        byte[] seed = k.Seed;
        // every truncation
        for (int len = 0; len < seed.Length; len++) yield return (seed.AsSpan(0, len).ToArray(), $"truncated to {len}");
        // appended bytes
        yield return ([.. seed, 0], "one byte appended");
        yield return ([.. seed, .. seed], "appended twice");
        // seeded bit flips, mostly in the prefix and header
        int headerEnd = 8 + (int)BitConverter.ToUInt64(seed, 0);
        for (int i = 0; i < 700; i++)
        {
            byte[] m = (byte[])seed.Clone();
            int flips = 1 + rng.Next(3);
            for (int f = 0; f < flips; f++)
            {
                int at = rng.NextDouble() < 0.8 ? rng.Next(headerEnd) : rng.Next(m.Length);
                m[at] ^= (byte)(1 << rng.Next(8));
            }
            yield return (m, $"bit flips #{i}");
        }
        // header length prefix: 0, huge, past the end, off by one
        foreach (ulong n in new ulong[] { 0, 1, 7, (ulong)headerEnd - 9, (ulong)headerEnd - 7, (ulong)seed.Length - 8, (ulong)seed.Length, 100_000_001, ulong.MaxValue, 1UL << 63, (ulong)int.MaxValue + 1 })
        {
            byte[] m = (byte[])seed.Clone();
            BitConverter.TryWriteBytes(m.AsSpan(0, 8), n);
            yield return (m, $"header length {n}");
        }
        string header = HeaderOf(seed);
        // offsets: every pair replaced by overlapping / reversed / out-of-range / gapped values
        var offsets = Offsets().Matches(header);
        long dataLength = seed.Length - headerEnd;
        foreach (Match o in offsets)
        {
            long b = long.Parse(o.Groups[1].Value, CultureInfo.InvariantCulture), e = long.Parse(o.Groups[2].Value, CultureInfo.InvariantCulture);
            foreach (var (nb, ne) in new[] { (e, b), (b + 1, e + 1), (b - 1, e - 1), (b, e + 4), (b, dataLength + 8), (0, e - b), (b + 4, e + 4), (b, b), (dataLength, dataLength + e - b), (b, (long)int.MaxValue * 4), (-1, e) })
                yield return (WithHeader(seed, header[..o.Index] + $"\"data_offsets\":[{nb},{ne}]" + header[(o.Index + o.Length)..]), $"offsets [{nb},{ne}] at {o.Index}");
        }
        // shapes, dtypes and every number in the header
        foreach (Match s in Shapes().Matches(header))
            foreach (string v in ShapeVariants)
                yield return (WithHeader(seed, header[..s.Index] + "\"shape\":" + v + header[(s.Index + s.Length)..]), $"shape {v} at {s.Index}");
        foreach (Match d in DTypes().Matches(header))
            foreach (string v in DTypeVariants)
                yield return (WithHeader(seed, header[..d.Index] + "\"dtype\":" + v + header[(d.Index + d.Length)..]), $"dtype {v} at {d.Index}");
        int metaEnd = header.IndexOf("},\"", StringComparison.Ordinal); // numbers inside metadata strings are covered below
        foreach (Match num in Numbers().Matches(header, Math.Max(metaEnd, 0)))
            foreach (string v in NumberVariants)
                yield return (WithHeader(seed, header[..num.Index] + v + header[(num.Index + num.Length)..]), $"number {v} at {num.Index}");
        // duplicate names, JSON nested 10,000 deep, non-object header, too many tensors
        var node = JsonNode.Parse(header)!.AsObject();
        string firstTensor = node.Select(p => p.Key).First(n => n != SafeTensorFile.MetadataKey);
        string dup = header.TrimEnd()[..^1] + $",\"{firstTensor}\":" + node[firstTensor]!.ToJsonString() + "}";
        yield return (WithHeader(seed, dup), "duplicate tensor name");
        yield return (WithHeader(seed, header.TrimEnd()[..^1] + ",\"__metadata__\":{}}"), "duplicate metadata");
        string deep = new string('[', 10_000) + new string(']', 10_000);
        yield return (WithHeader(seed, "{\"x\":" + deep + "}"), "header nested 10,000 deep");
        yield return (WithHeader(seed, deep), "header is a nested array");
        yield return (WithHeader(seed, "{\"__metadata__\":{\"spec\":" + deep + "}}"), "metadata nested 10,000 deep");
        foreach (string h in new[] { "", "[]", "null", "{}", "{", "{\"__metadata__\":[]}", "{\"__metadata__\":{\"format\":1}}", "{\"a\":{}}", "\u00ff\u00fe" })
            yield return (WithHeader(seed, h), $"header '{h}'");
        // structure-aware: metadata values (removed, wrong, deep), tensors removed
        var file = SafeTensorFile.Parse(seed, "seed");
        var entries = file.Tensors.ToList();
        var meta = file.Metadata.ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
        byte[] Build(Dictionary<string, string> md, List<SafeTensorEntry> es) => SafeTensorWriter.ToBytes(md, es);
        foreach (string key in meta.Keys)
        {
            if (key == ChecksummedFile.ChecksumKey) continue;
            var without = new Dictionary<string, string>(meta, StringComparer.Ordinal);
            without.Remove(key);
            yield return (Build(without, entries), $"metadata '{key}' missing");
            foreach (string v in new[] { "", "-5", "1.5", "NaN", "99", "2147483648", "-2147483649", "Int32", "Float32,Float64", "x\ny", deep, "[" + deep + "]", "{}" })
            {
                var changed = new Dictionary<string, string>(meta, StringComparer.Ordinal) { [key] = v };
                yield return (Build(changed, entries), $"metadata '{key}' = '{(v.Length > 20 ? v[..20] + "..." : v)}'");
            }
        }
        for (int i = 0; i < entries.Count; i++)
            yield return (Build(meta, entries.Where((_, j) => j != i).ToList()), $"tensor '{entries[i].Name}' missing");
        yield return (Build(meta, [.. entries, SafeTensorEntry.FromFloats("zz.extra", [1], [1f])]), "extra tensor");
        foreach (var e in entries.Where(e => e.DType is SafeTensorDType.F32 or SafeTensorDType.F64 && e.ElementCount > 0))
            foreach (double bad in new[] { double.NaN, double.PositiveInfinity, double.NegativeInfinity })
            {
                var v = e.ToDoubleArray();
                v[0] = bad;
                var replaced = e.DType == SafeTensorDType.F32 ? SafeTensorEntry.FromFloats(e.Name, e.Shape, v.Select(d => (float)d).ToArray()) : SafeTensorEntry.FromDoubles(e.Name, e.Shape, v);
                yield return (Build(meta, entries.Select(x => x.Name == e.Name ? replaced : x).ToList()), $"tensor '{e.Name}' holds {bad}");
            }
        // spec JSON: every key of every layer removed or given a wrong type, a negative or a 2^31 size
        if (meta.TryGetValue("spec", out var specJson))
        {
            var layers = JsonNode.Parse(specJson)!.AsArray();
            for (int li = 0; li < layers.Count; li++)
            {
                foreach (string key in layers[li]!.AsObject().Select(p => p.Key).ToList())
                {
                    var removed = JsonNode.Parse(specJson)!.AsArray();
                    removed[li]!.AsObject().Remove(key);
                    yield return (Build(new(meta, StringComparer.Ordinal) { ["spec"] = removed.ToJsonString() }, entries), $"spec[{li}] without '{key}'");
                    foreach (var variant in SpecValueVariants)
                    {
                        var changed = JsonNode.Parse(specJson)!.AsArray();
                        changed[li]![key] = variant?.DeepClone();
                        yield return (Build(new(meta, StringComparer.Ordinal) { ["spec"] = changed.ToJsonString() }, entries), $"spec[{li}].{key} = {variant?.ToJsonString() ?? "null"}");
                    }
                }
                var dropped = JsonNode.Parse(specJson)!.AsArray();
                dropped.RemoveAt(li);
                yield return (Build(new(meta, StringComparer.Ordinal) { ["spec"] = dropped.ToJsonString() }, entries), $"spec without layer {li}");
            }
        }
        if (k.Name != "tensors") yield break; // the rest is the same for every kind: once is enough
        var many = new StringBuilder("{");
        for (int i = 0; i <= SafeTensorFile.MaxTensorCount; i++) many.Append(i == 0 ? "" : ",").Append(CultureInfo.InvariantCulture, $"\"t{i}\":{{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0]}}");
        yield return (TestFiles.Image(many.Append('}').ToString()), "100,001 empty tensors");
    }

    [Fact]
    public void TenThousandMalformedModelFiles_LoadOrThrowTheTypedFormatError()
    {
        string dir = TestFiles.NewTempDir();
        var total = Stopwatch.StartNew();
        try
        {
            var kinds = Kinds(dir);
            var rng = new Random(1010);
            foreach (var k in kinds)
            {
                Check(k, (byte[])k.Seed.Clone(), "unmodified seed");
                Assert.Equal(0, k.Rejected); // the seeds load
                foreach (var (bytes, label) in Mutants(k, rng)) Check(k, bytes, label);
            }
            int cases = kinds.Sum(k => k.Cases);
            string summary = string.Join("; ", kinds.Select(k => $"{k.Name}: {k.Cases} ({k.Rejected} rejected, {k.Accepted} loaded)")) +
                             $"; max allocation {_maxAllocated} bytes ({_worst}); for files under 100 kB {_maxSmall} bytes ({_worstSmall}); {total.Elapsed.TotalSeconds:F1} s";
            TestContext.Current.SendDiagnosticMessage(summary);
            Assert.True(cases >= 10_000, $"only {cases} files: {summary}");
            foreach (var k in kinds) Assert.True(k.Rejected > k.Cases / 2, $"{k.Name}: too few rejections ({summary})");
            Assert.True(total.Elapsed < TimeSpan.FromSeconds(40), summary);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
