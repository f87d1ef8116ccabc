// Just over 400 lines: everything a checkpoint holds, written and validated in one place so that loading stays
// all-or-nothing (every check runs before the first assignment).
using System.Globalization;
using FlexNet.IO;
using FlexNet.Layers;
using FlexNet.Tensors;

namespace FlexNet.Training;

public sealed partial class Trainer
{
    private const string CheckpointFormat = "flexnet-checkpoint/2";
    private const long MaxExactStep = 1L << 53;

    private EarlyStoppingState _early = new(double.PositiveInfinity);
    private EpochPosition? _position;
    private bool _resumePending;
    private (List<(string Name, Tensor Value)> Buffers, List<(string Name, RandomGenerator Generator)> Generators)? _modelState;

    /// <summary>Where the current epoch stands: its sample order, the next batch and the running sums of its logs.</summary>
    private sealed class EpochPosition(int[] perm, int batchSize, double[] sums, double[] counts)
    {
        public int[] Perm { get; } = perm;
        public int BatchSize { get; } = batchSize;
        public double[] Sums { get; } = sums;
        public double[] Counts { get; } = counts;
        public int NextBatch { get; set; }
        public double LossSum { get; set; }
        public long Seen { get; set; }
        public double LearningRate { get; set; }
    }

    /// <summary>Early-stopping progress: best monitored value, evaluations without improvement, best weights.</summary>
    private sealed class EarlyStoppingState(double best)
    {
        public double Best { get; set; } = best;
        public int Wait { get; set; }
        public int BestEpoch { get; set; } = -1;
        public Tensor[]? BestParams { get; set; }
        public Tensor[]? BestBuffers { get; set; }
    }

    /// <summary>Non-trainable state of the model that decides the rest of a training: buffers (batch-norm running
    /// statistics) and the generators of dropout/noise nodes, found through the model's network.</summary>
    private (List<(string Name, Tensor Value)> Buffers, List<(string Name, RandomGenerator Generator)> Generators) ModelState()
    {
        if (_modelState is { } cached) return cached;
        var buffers = new List<(string, Tensor)>();
        var generators = new List<(string, RandomGenerator)>();
        if (ActivationModel is IGraphBacked gb)
        {
            var seen = new HashSet<Tensor>(ReferenceEqualityComparer.Instance);
            foreach (var layer in gb.Network.Layers)
            {
                foreach (var b in layer.Buffers)
                    if (seen.Add(b)) buffers.Add((b.Name ?? $"{layer.Name}.buffer{buffers.Count}", b));
                if (layer is IStochasticNode sn) generators.Add((layer.Name, sn.Generator));
            }
        }
        _modelState = (buffers, generators);
        return _modelState.Value;
    }

    private void SnapshotBest()
    {
        var buffers = ModelState().Buffers;
        using var suspend = TensorScope.Suspend();
        // Stryker disable once Assignment: memory only: a new array each time holds the same copies
        _early.BestParams ??= new Tensor[_params.Length];
        // Stryker disable once Assignment: memory only: a new array each time holds the same copies
        _early.BestBuffers ??= new Tensor[buffers.Count];
        for (int i = 0; i < _params.Length; i++)
        {
            // Stryker disable once Assignment: memory only: a new tensor each time receives the same copy
            _early.BestParams[i] ??= Tensor.Zeros(_params[i].ShapeArray, _params[i].DType);
            _early.BestParams[i].CopyFrom(_params[i]);
        }
        for (int j = 0; j < buffers.Count; j++)
        {
            var b = buffers[j].Value;
            // Stryker disable once Assignment: memory only: a new tensor each time receives the same copy
            _early.BestBuffers[j] ??= Tensor.Zeros(b.ShapeArray, b.DType);
            _early.BestBuffers[j].CopyFrom(b);
        }
    }

    private void RestoreBest()
    {
        var buffers = ModelState().Buffers;
        for (int i = 0; i < _params.Length; i++) _params[i].CopyFrom(_early.BestParams![i]);
        // the best buffers come with the best weights, one per buffer of the model (SnapshotBest, or a checkpoint's)
        var bb = _early.BestBuffers!;
        for (int j = 0; j < bb.Length; j++) buffers[j].Value.CopyFrom(bb[j]);
    }

    /// <summary>
    /// Writes everything that decides the rest of the training to <paramref name="path"/>: parameters
    /// (<c>param.{i}</c>), buffers such as batch-norm running statistics (<c>buffer.{j}</c>), the optimizer's state
    /// (<c>optimizer.*</c>, whose step count is also the learning-rate schedule's position), every random generator
    /// (data order <c>rng.trainer</c>, the process default <c>rng.default</c>, the optimizer's <c>rng.optimizer</c>,
    /// each dropout/noise node's <c>rng.node.{k}</c>), early-stopping progress and best weights (<c>best.*</c>),
    /// and, when called inside an epoch, the epoch's sample order and next batch (<c>position.*</c>). The file is a
    /// safetensors file with an XxHash3 checksum in its metadata, written atomically (temporary file, fsync,
    /// rename, directory fsync).
    /// </summary>
    /// <param name="path">Destination file.</param>
    public void SaveCheckpoint(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        var (buffers, generators) = ModelState();
        var entries = new List<SafeTensorEntry>();
        var meta = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["format"] = CheckpointFormat,
            ["epoch"] = Epoch.ToString(CultureInfo.InvariantCulture),
            ["optimizer"] = Optimizer.Rule.Name,
            ["parameters"] = JoinNames(_params.Select(p => p.Name ?? "")),
            ["buffers"] = JoinNames(buffers.Select(b => b.Name)),
            ["generators"] = JoinNames(generators.Select(g => g.Name)),
            ["early_stopping.best"] = D(_early.Best),
            ["early_stopping.wait"] = I(_early.Wait),
            ["early_stopping.best_epoch"] = I(_early.BestEpoch),
            ["machine"] = Machine(),
        };
        using (TensorScope.Suspend())
        {
            for (int i = 0; i < _params.Length; i++) entries.Add(TensorFile.ToEntry($"param.{i}", _params[i]));
            for (int j = 0; j < buffers.Count; j++) entries.Add(TensorFile.ToEntry($"buffer.{j}", buffers[j].Value));
            foreach (var (k, v) in Optimizer.StateDict()) entries.Add(TensorFile.ToEntry("optimizer." + k, v));
            entries.Add(RngEntry("rng.trainer", _rng));
            entries.Add(RngEntry("rng.default", RandomGenerator.Default));
            entries.Add(RngEntry("rng.optimizer", Optimizer.Random));
            for (int k = 0; k < generators.Count; k++) entries.Add(RngEntry($"rng.node.{k}", generators[k].Generator));
            if (_early.BestParams is { } bp)
            {
                for (int i = 0; i < bp.Length; i++) entries.Add(TensorFile.ToEntry($"best.param.{i}", bp[i]));
                var bb = _early.BestBuffers!; // set with the best weights
                for (int j = 0; j < bb.Length; j++) entries.Add(TensorFile.ToEntry($"best.buffer.{j}", bb[j]));
            }
        }
        if (_position is { } p)
        {
            entries.Add(SafeTensorEntry.FromInt32s("position.perm", [p.Perm.Length], p.Perm));
            entries.Add(SafeTensorEntry.FromDoubles("position.sums", [p.Sums.Length], p.Sums));
            entries.Add(SafeTensorEntry.FromDoubles("position.counts", [p.Counts.Length], p.Counts));
            meta["position.batch"] = I(p.NextBatch);
            meta["position.batch_size"] = I(p.BatchSize);
            meta["position.loss_sum"] = D(p.LossSum);
            meta["position.seen"] = p.Seen.ToString(CultureInfo.InvariantCulture);
            meta["position.lr"] = D(p.LearningRate);
        }
        ChecksummedFile.Write(path, meta, entries);
    }

    /// <summary>Restores a checkpoint written by <see cref="SaveCheckpoint"/> into this trainer's model and
    /// optimizer; the next <c>Fit</c> continues exactly where the checkpoint was taken (mid-epoch included, with the
    /// same data and settings). All or nothing: the whole file is read and checked (checksum, parameter names,
    /// shapes and finiteness, buffers, optimizer state, generator states, epoch, step counts, position) before the
    /// model or trainer is changed.</summary>
    /// <param name="path">Checkpoint file.</param>
    /// <exception cref="ModelFormatException">The file is corrupted, malformed, or belongs to another model,
    /// optimizer rule or model configuration (the message names the file and the entry).</exception>
    /// <exception cref="IOException">The file cannot be read.</exception>
    public void LoadCheckpoint(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        Restore(ChecksummedFile.Read(path), path);
    }

    /// <summary>Restores a checkpoint image held in memory (<paramref name="source"/> names it in errors).</summary>
    internal void LoadCheckpointImage(byte[] image, string source) => Restore(ChecksummedFile.Parse(image, source), source);

    private void Restore(SafeTensorFile file, string path)
    {
        Loaded c;
        using (TensorScope.Suspend()) c = Validate(file, path);
        // Nothing below can fail: every value was checked above.
        for (int i = 0; i < _params.Length; i++) _params[i].CopyFrom(c.Params[i]);
        var (buffers, generators) = ModelState();
        for (int j = 0; j < buffers.Count; j++) buffers[j].Value.CopyFrom(c.Buffers[j]);
        Optimizer.LoadStateDict(c.Optimizer);
        _rng.SetState(c.Trainer);
        RandomGenerator.Default.SetState(c.Default);
        Optimizer.Random.SetState(c.OptimizerRng);
        for (int k = 0; k < generators.Count; k++) generators[k].Generator.SetState(c.Nodes[k]);
        Epoch = c.Epoch;
        _early = c.Early;
        if (file.Metadata.TryGetValue("machine", out var machine) && machine != Machine() && Options.Progress != ProgressMode.None)
            (Options.Output ?? Console.Out).WriteLine(
                $"Note: checkpoint '{path}' was written on [{Short(machine)}], this process runs on [{Machine()}]; " +
                "the resumed training is exact only with the same vector width and core count.");
        _position = c.Position;
        _resumePending = true;
    }

    private sealed class Loaded
    {
        public required Tensor[] Params;
        public required Tensor[] Buffers;
        public required Dictionary<string, Tensor> Optimizer;
        public required ulong[] Trainer, Default, OptimizerRng;
        public required ulong[][] Nodes;
        public required int Epoch;
        public required EarlyStoppingState Early;
        public EpochPosition? Position;
    }

    private Loaded Validate(SafeTensorFile f, string path)
    {
        var meta = f.Metadata;
        var used = new HashSet<string>(StringComparer.Ordinal);
        ModelFormatException Bad(string what) => new($"checkpoint '{path}': {what}");
        string Meta(string key) => meta.TryGetValue(key, out var v) ? v : throw Bad($"metadata '{key}' is missing.");
        int MetaInt(string key, int min, int max)
        {
            string s = Meta(key);
            if (!int.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int v) || v < min || v > max)
                throw Bad($"metadata '{key}' must be an integer in [{min}, {max}]; got '{Short(s)}'.");
            return v;
        }
        double MetaDouble(string key, bool finite)
        {
            string s = Meta(key);
            if (!double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) || (finite && !double.IsFinite(v)))
                throw Bad($"metadata '{key}' must be a {(finite ? "finite " : "")}number; got '{Short(s)}'.");
            return v;
        }
        SafeTensorEntry Entry(string name)
        {
            if (!f.TryGet(name, out var e)) throw Bad($"tensor '{name}' is missing.");
            used.Add(name);
            return e;
        }
        Tensor Values(string name, ReadOnlySpan<int> shape, DType dtype, string what)
        {
            var e = Entry(name);
            var want = dtype == DType.Float64 ? SafeTensorDType.F64 : SafeTensorDType.F32;
            if (e.DType != want) throw Bad($"tensor '{name}' ({what}) is {e.DType.SpecName()}; expected {want.SpecName()}.");
            if (!e.ShapeSpan.SequenceEqual(shape))
                throw Bad($"tensor '{name}' ({what}) has shape {SafeTensorEntry.FormatShape(e.Shape)} in the file, {ShapeUtil.Format(shape)} in the model.");
            // Stryker disable once Conditional: equivalent: float32 values read as doubles are the same numbers, and every use copies them into the model's float32 tensors
            var t = dtype == DType.Float64 ? Tensor.FromArray(e.ToDoubleArray(), e.Shape) : Tensor.FromArray(e.ToFloatArray(), e.Shape);
            int bad = Batching.CountNonFinite(t);
            if (bad > 0) throw Bad($"tensor '{name}' ({what}) {ShapeUtil.Format(shape)} has {bad} non-finite values (NaN or ±Inf).");
            return t;
        }
        double Scalar(string name, string what)
        {
            var e = Entry(name);
            if (e.DType != SafeTensorDType.F64 || e.Rank != 0) throw Bad($"tensor '{name}' ({what}) must be an F64 scalar; got {e.DType.SpecName()} {SafeTensorEntry.FormatShape(e.Shape)}.");
            double v = e.ToDoubleArray()[0];
            if (!double.IsFinite(v) || v < 0 || v > MaxExactStep || v != Math.Floor(v))
                throw Bad(string.Create(CultureInfo.InvariantCulture, $"tensor '{name}' ({what}) must be a whole number in [0, 2^53]; got {v}."));
            return v;
        }
        ulong[] Rng(string name)
        {
            var e = Entry(name);
            if (e.DType != SafeTensorDType.I32 || e.Rank != 1 || e.ElementCount != 12)
                throw Bad($"tensor '{name}' (generator state) must be I32 [12]; got {e.DType.SpecName()} {SafeTensorEntry.FormatShape(e.Shape)}.");
            var v = e.ToInt32Array();
            var s = new ulong[6];
            for (int i = 0; i < 6; i++) s[i] = (uint)v[2 * i] | ((ulong)(uint)v[2 * i + 1] << 32);
            if ((s[0] | s[1] | s[2] | s[3]) == 0) throw Bad($"tensor '{name}' is an all-zero generator state (invalid for xoshiro256**).");
            if (s[5] > 1) throw Bad($"tensor '{name}': the cached-normal flag must be 0 or 1; got {s[5]}.");
            if (s[5] == 1 && !double.IsFinite(BitConverter.Int64BitsToDouble((long)s[4]))) throw Bad($"tensor '{name}': the cached normal sample is not finite.");
            return s;
        }

        string fmt = Meta("format");
        if (fmt != CheckpointFormat)
            throw Bad($"metadata format '{Short(fmt)}' is not '{CheckpointFormat}' (not a FlexNet checkpoint of this version).");
        string rule = Meta("optimizer");
        if (rule != Optimizer.Rule.Name) throw Bad($"the optimizer state is for '{Short(rule)}'; this trainer uses '{Optimizer.Rule.Name}'.");
        int epoch = MetaInt("epoch", 0, int.MaxValue);

        // parameters
        var names = SplitNames(Meta("parameters"));
        if (names.Length != _params.Length)
            throw Bad($"the file has {names.Length} parameters, the model {_params.Length}; the checkpoint is for another model.");
        var ps = new Tensor[_params.Length];
        for (int i = 0; i < _params.Length; i++)
        {
            string mine = _params[i].Name ?? "";
            if (names[i] != mine) throw Bad($"parameter {i} is '{Short(names[i])}' in the file, '{mine}' in the model; the checkpoint is for another model.");
            ps[i] = Values($"param.{i}", _params[i].Shape, _params[i].DType, $"parameter {PName(i)}");
        }

        // buffers and node generators
        var (buffers, generators) = ModelState();
        var bnames = SplitNames(Meta("buffers"));
        if (!bnames.SequenceEqual(buffers.Select(b => b.Name)))
            throw Bad($"the file's buffers [{Short(string.Join(", ", bnames))}] differ from the model's [{string.Join(", ", buffers.Select(b => b.Name))}].");
        var bs = new Tensor[buffers.Count];
        for (int j = 0; j < bs.Length; j++) bs[j] = Values($"buffer.{j}", buffers[j].Value.Shape, buffers[j].Value.DType, $"buffer '{buffers[j].Name}'");
        var gnames = SplitNames(Meta("generators"));
        if (!gnames.SequenceEqual(generators.Select(g => g.Name)))
            throw Bad($"the file's dropout/noise generators [{Short(string.Join(", ", gnames))}] differ from the model's [{string.Join(", ", generators.Select(g => g.Name))}].");
        var nodes = new ulong[generators.Count][];
        for (int k = 0; k < nodes.Length; k++) nodes[k] = Rng($"rng.node.{k}");

        // optimizer
        var opt = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        opt["step"] = Tensor.Scalar(Scalar("optimizer.step", "optimizer step count"), DType.Float64);
        for (int i = 0; i < _params.Length; i++)
        {
            if (!f.Contains($"optimizer.{i}.step")) continue;
            opt[$"{i}.step"] = Tensor.Scalar(Scalar($"optimizer.{i}.step", $"step count of parameter {PName(i)}"), DType.Float64);
            var st = Optimizer.RuleOf(i).Init(_params[i]);
            for (int k = 0; k < st.Slots.Length; k++)
            {
                string key = $"{i}.{st.SlotNames[k]}";
                opt[key] = Values("optimizer." + key, st.Slots[k].Shape, st.Slots[k].DType, $"optimizer slot '{st.SlotNames[k]}' of parameter {PName(i)}");
            }
        }

        var trainer = Rng("rng.trainer");
        var def = Rng("rng.default");
        var optRng = Rng("rng.optimizer");

        // early stopping
        var early = new EarlyStoppingState(MetaDouble("early_stopping.best", finite: false))
        {
            Wait = MetaInt("early_stopping.wait", 0, int.MaxValue),
            BestEpoch = MetaInt("early_stopping.best_epoch", -1, int.MaxValue),
        };
        if (double.IsNaN(early.Best)) throw Bad("metadata 'early_stopping.best' is NaN.");
        if (f.Contains("best.param.0") || _params.Length == 0 && f.Contains("best.buffer.0"))
        {
            early.BestParams = new Tensor[_params.Length];
            for (int i = 0; i < _params.Length; i++)
                early.BestParams[i] = Values($"best.param.{i}", _params[i].Shape, _params[i].DType, $"best weights of parameter {PName(i)}");
            early.BestBuffers = new Tensor[buffers.Count];
            for (int j = 0; j < buffers.Count; j++)
                early.BestBuffers[j] = Values($"best.buffer.{j}", buffers[j].Value.Shape, buffers[j].Value.DType, $"best value of buffer '{buffers[j].Name}'");
        }

        // position inside an epoch
        EpochPosition? position = null;
        if (meta.ContainsKey("position.batch"))
        {
            var pe = Entry("position.perm");
            if (pe.DType != SafeTensorDType.I32 || pe.Rank != 1 || pe.ElementCount == 0)
                throw Bad($"tensor 'position.perm' must be a non-empty I32 vector; got {pe.DType.SpecName()} {SafeTensorEntry.FormatShape(pe.Shape)}.");
            var perm = pe.ToInt32Array();
            var hit = new bool[perm.Length];
            foreach (int v in perm)
            {
                if ((uint)v >= (uint)perm.Length || hit[v]) throw Bad($"tensor 'position.perm' is not a permutation of 0..{perm.Length - 1} (value {v}).");
                hit[v] = true;
            }
            var se = Entry("position.sums");
            var ce = Entry("position.counts");
            if (se.DType != SafeTensorDType.F64 || ce.DType != SafeTensorDType.F64 || se.Rank != 1 || ce.Rank != 1 || se.ElementCount != ce.ElementCount)
                throw Bad("tensors 'position.sums' and 'position.counts' must be F64 vectors of one length.");
            var sums = se.ToDoubleArray();
            var counts = ce.ToDoubleArray();
            foreach (double v in sums) if (!double.IsFinite(v)) throw Bad("tensor 'position.sums' has non-finite values.");
            foreach (double v in counts) if (!double.IsFinite(v) || v < 0) throw Bad("tensor 'position.counts' has negative or non-finite values.");
            int batchSize = MetaInt("position.batch_size", 1, int.MaxValue);
            int batches = (int)((perm.Length + (long)batchSize - 1) / batchSize);
            int next = MetaInt("position.batch", 0, batches);
            long seen = long.TryParse(Meta("position.seen"), NumberStyles.None, CultureInfo.InvariantCulture, out long sv) && sv >= 0 && sv <= perm.Length ? sv
                : throw Bad($"metadata 'position.seen' must be an integer in [0, {perm.Length}]; got '{Short(Meta("position.seen"))}'.");
            position = new EpochPosition(perm, batchSize, sums, counts)
            {
                NextBatch = next,
                Seen = seen,
                LossSum = MetaDouble("position.loss_sum", finite: true),
                LearningRate = MetaDouble("position.lr", finite: true),
            };
        }

        foreach (var e in f.Tensors)
            if (!used.Contains(e.Name)) // (every optimizer entry the trainer takes was read above, so it is used)
                throw Bad($"unexpected tensor '{Short(e.Name)}' (the checkpoint is for another model or optimizer).");

        return new Loaded
        {
            Params = ps, Buffers = bs, Optimizer = opt, Trainer = trainer, Default = def, OptimizerRng = optRng,
            Nodes = nodes, Epoch = epoch, Early = early, Position = position,
        };
    }

    private static SafeTensorEntry RngEntry(string name, RandomGenerator g)
    {
        var state = g.GetState();
        var v = new int[state.Length * 2];
        // Stryker disable once Bitwise: equivalent: >> and >>> are the same shift on an unsigned value
        for (int i = 0; i < state.Length; i++) { v[2 * i] = (int)(uint)state[i]; v[2 * i + 1] = (int)(uint)(state[i] >> 32); }
        return SafeTensorEntry.FromInt32s(name, [v.Length], v);
    }

    /// <summary>What bit-exact resumption depends on besides the file: architecture, SIMD width and core count
    /// (reduction order). Recorded in checkpoints; a different value on load prints a note.</summary>
    private static string Machine() => string.Create(CultureInfo.InvariantCulture,
        $"{System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture}, {FlexNet.Kernels.Simd.MaxVectorBits}-bit vectors, {Environment.ProcessorCount} cores");

    private string PName(int i) => FlexNet.Optimizers.Optimizer.ParamName(_params[i], i);

    private static string JoinNames(IEnumerable<string> names) => string.Join("\n", names);

    private static string[] SplitNames(string s) => s.Length == 0 ? [] : s.Split('\n');

    // Stryker disable once String: equivalent: the empty format is the shortest round-trip form, as "R" (.NET Core 3.0 and later)
    private static string D(double v) => v.ToString("R", CultureInfo.InvariantCulture);

    private static string I(int v) => v.ToString(CultureInfo.InvariantCulture);

    private static string Short(string s) => s.Length <= 80 ? s : s[..80] + "...";
}
