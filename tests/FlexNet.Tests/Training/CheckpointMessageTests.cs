using FlexNet.IO;
using FlexNet.Tests.IO;
using FlexNet.Training;
using FlexNet.Tensors;
using Xunit;

namespace FlexNet.Tests.Training;

/// <summary>
/// Every check of <see cref="Trainer.LoadCheckpoint"/> with its whole message (the file is rewritten with one defect
/// and a valid checksum, so the semantic check must catch it), and each bound accepted at its limit: the message
/// tests of <see cref="CheckpointTests"/> asserted only the path, so a check could fire for the wrong reason, or a
/// bound move by one, and pass.
/// </summary>
[Collection("Training")]
public sealed class CheckpointMessageTests
{
    private delegate void Edit(Dictionary<string, string> meta, Dictionary<string, SafeTensorEntry> e);

    private static SafeTensorEntry I32(string name, int[] shape, params int[] v) => SafeTensorEntry.FromInt32s(name, shape, v);

    private static SafeTensorEntry F64(string name, int[] shape, params double[] v) => SafeTensorEntry.FromDoubles(name, shape, v);

    /// <summary>A generator state as the file stores it (12 int32: six ulongs, low word first).</summary>
    private static SafeTensorEntry Rng(string name, params ulong[] s)
    {
        var v = new int[12];
        for (int i = 0; i < 6; i++) { v[2 * i] = (int)(uint)s[i]; v[2 * i + 1] = (int)(uint)(s[i] >> 32); }
        return I32(name, [12], v);
    }

    private static readonly string Long81 = new('x', 81), Long80 = new('y', 80);

    private const string Sums = "tensors 'position.sums' and 'position.counts' must be F64 vectors of one length.";

    /// <summary>(what, the edit, the message after "checkpoint '&lt;path&gt;': ", or null: the file loads).</summary>
    private static readonly (string What, Edit Edit, string? Message)[] Cases =
    [
        ("format of another version", (m, _) => m["format"] = "flexnet-checkpoint/1",
            "metadata format 'flexnet-checkpoint/1' is not 'flexnet-checkpoint/2' (not a FlexNet checkpoint of this version)."),
        ("format of 81 characters", (m, _) => m["format"] = Long81, $"metadata format '{new string('x', 80)}...' is not 'flexnet-checkpoint/2' (not a FlexNet checkpoint of this version)."),
        ("format of 80 characters", (m, _) => m["format"] = Long80, $"metadata format '{Long80}' is not 'flexnet-checkpoint/2' (not a FlexNet checkpoint of this version)."),
        ("format missing", (m, _) => m.Remove("format"), "metadata 'format' is missing."),
        ("another rule", (m, _) => m["optimizer"] = "sgd", "the optimizer state is for 'sgd'; this trainer uses 'adam'."),
        ("epoch -1", (m, _) => m["epoch"] = "-1", "metadata 'epoch' must be an integer in [0, 2147483647]; got '-1'."),
        ("epoch 2^31", (m, _) => m["epoch"] = "2147483648", "metadata 'epoch' must be an integer in [0, 2147483647]; got '2147483648'."),
        ("epoch 2^31 - 1", (m, _) => m["epoch"] = "2147483647", null),
        ("one parameter fewer", (m, _) => m["parameters"] = m["parameters"][..m["parameters"].LastIndexOf('\n')], "the file has 5 parameters, the model 6; the checkpoint is for another model."),
        ("parameter renamed", (m, _) => m["parameters"] = m["parameters"].Replace("fc.", "fx.", StringComparison.Ordinal), "parameter 0 is 'fx.weight' in the file, 'fc.weight' in the model; the checkpoint is for another model."),
        ("parameter as F64", (_, e) => e["param.0"] = F64("param.0", [4, 3], new double[12]), "tensor 'param.0' (parameter 'fc.weight') is F64; expected F32."),
        ("parameter of another shape", (_, e) => e["param.0"] = SafeTensorEntry.FromFloats("param.0", [3, 4], new float[12]), "tensor 'param.0' (parameter 'fc.weight') has shape [3, 4] in the file, [4, 3] in the model."),
        ("parameter missing", (_, e) => e.Remove("param.1"), "tensor 'param.1' is missing."),
        ("two non-finite weights", (_, e) => e["param.2"] = CheckpointTests.Replace(e["param.2"], v => { v[0] = float.NaN; v[3] = float.NegativeInfinity; }), "tensor 'param.2' (parameter 'out.weight') [2, 4] has 2 non-finite values (NaN or ±Inf)."),
        ("buffers renamed", (m, _) => m["buffers"] = m["buffers"].Replace("bn.", "bx.", StringComparison.Ordinal), "the file's buffers [bx.running_mean, bx.running_var] differ from the model's [bn.running_mean, bn.running_var]."),
        ("buffer non-finite", (_, e) => e["buffer.1"] = CheckpointTests.Replace(e["buffer.1"], v => v[0] = float.NaN), "tensor 'buffer.1' (buffer 'bn.running_var') [4] has 1 non-finite values (NaN or ±Inf)."),
        ("generators renamed", (m, _) => m["generators"] = "other", "the file's dropout/noise generators [other] differ from the model's [drop]."),
        ("optimizer step as F32", (_, e) => e["optimizer.step"] = SafeTensorEntry.FromFloats("optimizer.step", [], [1f]), "tensor 'optimizer.step' (optimizer step count) must be an F64 scalar; got F32 []."),
        ("optimizer step of rank 1", (_, e) => e["optimizer.step"] = F64("optimizer.step", [1], 1), "tensor 'optimizer.step' (optimizer step count) must be an F64 scalar; got F64 [1]."),
        ("optimizer step 1.5", (_, e) => e["optimizer.step"] = F64("optimizer.step", [], 1.5), "tensor 'optimizer.step' (optimizer step count) must be a whole number in [0, 2^53]; got 1.5."),
        ("optimizer step -1", (_, e) => e["optimizer.step"] = F64("optimizer.step", [], -1), "tensor 'optimizer.step' (optimizer step count) must be a whole number in [0, 2^53]; got -1."),
        ("optimizer step 2^53 + 2", (_, e) => e["optimizer.step"] = F64("optimizer.step", [], 9007199254740994), "tensor 'optimizer.step' (optimizer step count) must be a whole number in [0, 2^53]; got 9007199254740994."),
        ("optimizer step 2^53", (_, e) => e["optimizer.step"] = F64("optimizer.step", [], 9007199254740992), null),
        ("optimizer step 0", (_, e) => e["optimizer.step"] = F64("optimizer.step", [], 0), null),
        ("parameter step Inf", (_, e) => e["optimizer.0.step"] = F64("optimizer.0.step", [], double.PositiveInfinity), "tensor 'optimizer.0.step' (step count of parameter 'fc.weight') must be a whole number in [0, 2^53]; got Infinity."),
        ("Adam slot non-finite", (_, e) => e["optimizer.1.exp_avg_sq"] = CheckpointTests.Replace(e["optimizer.1.exp_avg_sq"], v => v[0] = float.PositiveInfinity), "tensor 'optimizer.1.exp_avg_sq' (optimizer slot 'exp_avg_sq' of parameter 'fc.bias') [4] has 1 non-finite values (NaN or ±Inf)."),
        ("generator of 11 words", (_, e) => e["rng.trainer"] = I32("rng.trainer", [11], new int[11]), "tensor 'rng.trainer' (generator state) must be I32 [12]; got I32 [11]."),
        ("generator as I32 [2, 6]", (_, e) => e["rng.trainer"] = I32("rng.trainer", [2, 6], new int[12]), "tensor 'rng.trainer' (generator state) must be I32 [12]; got I32 [2, 6]."),
        ("generator as F32 [12]", (_, e) => e["rng.trainer"] = SafeTensorEntry.FromFloats("rng.trainer", [12], new float[12]), "tensor 'rng.trainer' (generator state) must be I32 [12]; got F32 [12]."),
        ("generator all zero", (_, e) => e["rng.optimizer"] = Rng("rng.optimizer", 0, 0, 0, 0, 5, 0), "tensor 'rng.optimizer' is an all-zero generator state (invalid for xoshiro256**)."),
        ("generator flag 2", (_, e) => e["rng.default"] = Rng("rng.default", 1, 2, 3, 4, 0, 2), "tensor 'rng.default': the cached-normal flag must be 0 or 1; got 2."),
        ("generator flag 1, cached NaN", (_, e) => e["rng.default"] = Rng("rng.default", 1, 2, 3, 4, (ulong)BitConverter.DoubleToInt64Bits(double.NaN), 1), "tensor 'rng.default': the cached normal sample is not finite."),
        ("generator flag 0, NaN left in the cache", (_, e) => e["rng.default"] = Rng("rng.default", 1, 2, 3, 4, (ulong)BitConverter.DoubleToInt64Bits(double.NaN), 0), null),
        ("generator flag 1, cached 0.5", (_, e) => e["rng.default"] = Rng("rng.default", 1, 2, 3, 4, (ulong)BitConverter.DoubleToInt64Bits(0.5), 1), null),
        ("node generator missing", (_, e) => e.Remove("rng.node.0"), "tensor 'rng.node.0' is missing."),
        ("early stopping best NaN", (m, _) => m["early_stopping.best"] = "NaN", "metadata 'early_stopping.best' is NaN."),
        ("early stopping best not a number", (m, _) => m["early_stopping.best"] = "best", "metadata 'early_stopping.best' must be a number; got 'best'."),
        ("early stopping best -Infinity", (m, _) => m["early_stopping.best"] = "-Infinity", null),
        ("early stopping best epoch -2", (m, _) => m["early_stopping.best_epoch"] = "-2", "metadata 'early_stopping.best_epoch' must be an integer in [-1, 2147483647]; got '-2'."),
        ("early stopping best epoch -1", (m, _) => m["early_stopping.best_epoch"] = "-1", null),
        ("early stopping wait +1", (m, _) => m["early_stopping.wait"] = "+1", null),
        ("best weights non-finite", (_, e) => e["best.param.3"] = CheckpointTests.Replace(e["best.param.3"], v => v[0] = float.NaN), "tensor 'best.param.3' (best weights of parameter 'out.bias') [2] has 1 non-finite values (NaN or ±Inf)."),
        ("best buffer non-finite", (_, e) => e["best.buffer.0"] = CheckpointTests.Replace(e["best.buffer.0"], v => v[2] = float.NaN), "tensor 'best.buffer.0' (best value of buffer 'bn.running_mean') [4] has 1 non-finite values (NaN or ±Inf)."),
        ("best buffer missing", (_, e) => e.Remove("best.buffer.1"), "tensor 'best.buffer.1' is missing."),
        ("position perm as F32", (_, e) => e["position.perm"] = SafeTensorEntry.FromFloats("position.perm", [10], new float[10]), "tensor 'position.perm' must be a non-empty I32 vector; got F32 [10]."),
        ("position perm I32 [2, 5]", (_, e) => e["position.perm"] = I32("position.perm", [2, 5], 0, 1, 2, 3, 4, 5, 6, 7, 8, 9), "tensor 'position.perm' must be a non-empty I32 vector; got I32 [2, 5]."),
        ("position perm empty", (_, e) => e["position.perm"] = I32("position.perm", [0]), "tensor 'position.perm' must be a non-empty I32 vector; got I32 [0]."),
        ("position perm holds 10", (_, e) => e["position.perm"] = I32("position.perm", [10], 0, 1, 2, 3, 4, 5, 6, 7, 8, 10), "tensor 'position.perm' is not a permutation of 0..9 (value 10)."),
        ("position perm holds -1", (_, e) => e["position.perm"] = I32("position.perm", [10], 0, 1, 2, 3, 4, 5, 6, 7, 8, -1), "tensor 'position.perm' is not a permutation of 0..9 (value -1)."),
        ("position perm reversed", (_, e) => e["position.perm"] = I32("position.perm", [10], 9, 8, 7, 6, 5, 4, 3, 2, 1, 0), null),
        ("position sums as F32", (_, e) => e["position.sums"] = SafeTensorEntry.FromFloats("position.sums", [e["position.sums"].Shape[0]], new float[e["position.sums"].Shape[0]]), Sums),
        ("position counts as F32", (_, e) => e["position.counts"] = SafeTensorEntry.FromFloats("position.counts", [e["position.counts"].Shape[0]], new float[e["position.counts"].Shape[0]]), Sums),
        ("position sums of rank 2", (_, e) => e["position.sums"] = F64("position.sums", [1, e["position.sums"].Shape[0]], new double[e["position.sums"].Shape[0]]), Sums),
        ("position counts of rank 2", (_, e) => e["position.counts"] = F64("position.counts", [1, e["position.counts"].Shape[0]], new double[e["position.counts"].Shape[0]]), Sums),
        ("position counts one longer", (_, e) => e["position.counts"] = F64("position.counts", [e["position.counts"].Shape[0] + 1], new double[e["position.counts"].Shape[0] + 1]), Sums),
        ("position sums non-finite", (_, e) => { e["position.sums"] = F64("position.sums", [1], double.NaN); e["position.counts"] = F64("position.counts", [1], 1); }, "tensor 'position.sums' has non-finite values."),
        ("position counts negative", (_, e) => { e["position.sums"] = F64("position.sums", [1], 0); e["position.counts"] = F64("position.counts", [1], -1); }, "tensor 'position.counts' has negative or non-finite values."),
        // one metric value each (the small model has none: Fit refuses the count, LoadCheckpoint checks only the values)
        ("position counts zero", (_, e) => { e["position.sums"] = F64("position.sums", [1], 0); e["position.counts"] = F64("position.counts", [1], 0); }, null),
        ("position batch size 0", (m, _) => m["position.batch_size"] = "0", "metadata 'position.batch_size' must be an integer in [1, 2147483647]; got '0'."),
        ("position batch 4 of 3", (m, _) => m["position.batch"] = "4", "metadata 'position.batch' must be an integer in [0, 3]; got '4'."),
        ("position batch 3 of 3", (m, _) => m["position.batch"] = "3", null),
        ("position batch 5 of 5 batches of 2", (m, _) => { m["position.batch_size"] = "2"; m["position.batch"] = "5"; }, null),
        ("position batch 6 of 5 batches of 2", (m, _) => { m["position.batch_size"] = "2"; m["position.batch"] = "6"; }, "metadata 'position.batch' must be an integer in [0, 5]; got '6'."),
        ("position seen -1", (m, _) => m["position.seen"] = "-1", "metadata 'position.seen' must be an integer in [0, 10]; got '-1'."),
        ("position seen 11", (m, _) => m["position.seen"] = "11", "metadata 'position.seen' must be an integer in [0, 10]; got '11'."),
        ("position seen 10", (m, _) => m["position.seen"] = "10", null),
        ("position seen 0", (m, _) => m["position.seen"] = "0", null),
        ("position seen missing", (m, _) => m.Remove("position.seen"), "metadata 'position.seen' is missing."),
        ("position lr Infinity", (m, _) => m["position.lr"] = "Infinity", "metadata 'position.lr' must be a finite number; got 'Infinity'."),
        ("position loss sum missing", (m, _) => m.Remove("position.loss_sum"), "metadata 'position.loss_sum' is missing."),
        ("unexpected tensor", (_, e) => e["param.99"] = SafeTensorEntry.FromFloats("param.99", [1], [1f]), "unexpected tensor 'param.99' (the checkpoint is for another model or optimizer)."),
        ("unexpected optimizer tensor", (_, e) => e["optimizer.7.step"] = F64("optimizer.7.step", [], 1), "unexpected tensor 'optimizer.7.step' (the checkpoint is for another model or optimizer)."),
        // the model has 6 parameters (0 to 5): one past the last is not read as a parameter's
        ("optimizer tensor of parameter 6 of 6", (_, e) => e["optimizer.6.step"] = F64("optimizer.6.step", [], 1), "unexpected tensor 'optimizer.6.step' (the checkpoint is for another model or optimizer)."),
        ("two generators renamed", (m, _) => m["generators"] = "a\nb", "the file's dropout/noise generators [a, b] differ from the model's [drop]."),
        ("position loss sum NaN", (m, _) => m["position.loss_sum"] = "NaN", "metadata 'position.loss_sum' must be a finite number; got 'NaN'."),
    ];

    public static TheoryData<int> Indices()
    {
        var d = new TheoryData<int>();
        for (int i = 0; i < Cases.Length; i++) d.Add(i);
        return d;
    }

    [Theory]
    [MemberData(nameof(Indices))]
    public void Defect_GivesItsWholeMessage_OrTheFileLoads(int index)
    {
        var (what, edit, message) = Cases[index];
        InTempDir(dir =>
        {
            var (path, t) = Edited(dir, edit);
            if (message is null)
            {
                t.LoadCheckpoint(path);
                return;
            }
            var ex = Assert.Throws<ModelFormatException>(() => t.LoadCheckpoint(path));
            Assert.True($"checkpoint '{path}': {message}" == ex.Message, $"{what}: {ex.Message.Replace(path, "<path>", StringComparison.Ordinal)}");
        });
    }

    /// <summary>Runs <paramref name="body"/> in a fresh temporary folder, deleted afterwards, and puts back the default
    /// generator's state, which a loaded checkpoint replaces.</summary>
    private static void InTempDir(Action<string> body)
    {
        var saved = RandomGenerator.Default.GetState();
        string dir = TestFiles.NewTempDir();
        try
        {
            body(dir);
        }
        finally
        {
            RandomGenerator.Default.SetState(saved);
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary><see cref="CheckpointTests.SmallCheckpoint"/> written to <c>dir/c.ckpt</c> and rewritten by
    /// <paramref name="edit"/>, and a fresh trainer of the same model to load it.</summary>
    private static (string Path, Trainer Trainer) Edited(string dir, Edit edit)
    {
        string path = Path.Combine(dir, "c.ckpt");
        File.WriteAllBytes(path, CheckpointTests.SmallCheckpoint(dir));
        CheckpointTests.Rewrite(path, (m, e) => edit(m, e));
        var (_, t, _, _) = CheckpointTests.Small(50);
        return (path, t);
    }

    /// <summary>Loads the edited checkpoint (see <see cref="Edited"/>) into a fresh trainer whose options print to
    /// <paramref name="output"/>.</summary>
    private static Trainer LoadEdited(string dir, Edit edit, TextWriter? output = null)
    {
        var (path, t) = Edited(dir, edit);
        if (output is not null)
        {
            t.Options.Progress = ProgressMode.Plain;
            t.Options.Output = output;
        }
        t.LoadCheckpoint(path);
        return t;
    }

    [Fact]
    public void GeneratorStates_WithOneNonZeroWord_AreValid_AndEachIsRestored()
    {
        // xoshiro256** needs any of its four words non-zero: a state whose only non-zero word is the 2nd, 3rd or 4th
        // is valid, and must reach the optimizer's generator and the default one unchanged.
        InTempDir(dir =>
        {
            for (int word = 0; word < 4; word++)
            {
                var opt = new ulong[6];
                opt[word] = 7UL << (8 * word);
                var def = new ulong[6];
                def[3 - word] = 0x9E3779B97F4A7C15UL;
                def[4] = (ulong)BitConverter.DoubleToInt64Bits(-1.25);
                def[5] = 1;
                var t = LoadEdited(dir, (_, e) =>
                {
                    e["rng.optimizer"] = Rng("rng.optimizer", opt);
                    e["rng.default"] = Rng("rng.default", def);
                });
                Assert.Equal(opt, t.Optimizer.Random.GetState());
                Assert.Equal(def, RandomGenerator.Default.GetState());
                Assert.Equal(-1.25, RandomGenerator.Default.NextNormal()); // the cached sample comes first
            }
        });
    }

    [Fact]
    public void BoundsAtTheirLimit_AreRestored()
    {
        InTempDir(dir =>
        {
            var t = LoadEdited(dir, (m, e) =>
            {
                m["epoch"] = "2147483647";
                e["optimizer.step"] = F64("optimizer.step", [], 9007199254740992);
        });
        Assert.Equal(int.MaxValue, t.Epoch);
        Assert.Equal(9007199254740992L, t.Optimizer.StepCount);
        t = LoadEdited(dir, (_, e) => e["optimizer.step"] = F64("optimizer.step", [], 0));
        Assert.Equal(0L, t.Optimizer.StepCount);
        });
    }

    [Fact]
    public void CheckpointFromAnotherMachine_PrintsTheWholeNote_WithALongNameShortened()
    {
        InTempDir(dir =>
        {
            string here = string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"{System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture}, {FlexNet.Kernels.Simd.MaxVectorBits}-bit vectors, {Environment.ProcessorCount} cores");
            string path = Path.Combine(dir, "c.ckpt");
            var note = new StringWriter();
            LoadEdited(dir, (m, _) => m["machine"] = "Arm64, 128-bit vectors, 64 cores", note);
            Assert.Equal($"Note: checkpoint '{path}' was written on [Arm64, 128-bit vectors, 64 cores], this process runs on [{here}]; " +
                "the resumed training is exact only with the same vector width and core count." + Environment.NewLine, note.ToString());
            note = new StringWriter();
            LoadEdited(dir, (m, _) => m["machine"] = Long81, note);
            Assert.Equal($"Note: checkpoint '{path}' was written on [{new string('x', 80)}...], this process runs on [{here}]; " +
                "the resumed training is exact only with the same vector width and core count." + Environment.NewLine, note.ToString());
            // the same machine, or no machine recorded: nothing printed
            note = new StringWriter();
            LoadEdited(dir, (m, _) => m["machine"] = here, note);
            LoadEdited(dir, (m, _) => m.Remove("machine"), note);
            Assert.Equal("", note.ToString());
        });
    }

    [Fact]
    public void BlankPaths_AreRefusedBeforeAnyFileIsTouched()
    {
        var (_, t, _, _) = CheckpointTests.Small(50);
        Assert.Throws<ArgumentException>(() => t.LoadCheckpoint(" "));
        Assert.Throws<ArgumentException>(() => t.SaveCheckpoint(""));
        Assert.Throws<ArgumentNullException>(() => t.LoadCheckpoint(null!));
    }
}
