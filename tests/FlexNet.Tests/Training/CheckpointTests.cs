using System.Globalization;
using FlexNet.Checkpoint.Host;
using FlexNet.IO;
using FlexNet.Layers;
using FlexNet.Losses;
using FlexNet.Models;
using FlexNet.Optimizers;
using FlexNet.Tests.IO;
using FlexNet.Training;
using FlexNet.Tensors;

namespace FlexNet.Tests.Training;

/// <summary>Checkpoints: complete state (buffers, every generator, early stopping, mid-epoch position), checksum,
/// all-or-nothing loading, stale temporary files.</summary>
[Collection("Training")]
public sealed class CheckpointTests
{
    private static byte[] Uninterrupted()
    {
        var model = ResumeScenario.NewModel();
        var (x, y) = ResumeScenario.Data();
        new Trainer((ITrainable)model, ResumeScenario.Options(null)).Fit(x, y);
        return ResumeScenario.WeightsImage(model);
    }

    [Fact]
    public void MidEpochCheckpoint_WithBatchNormDropoutNoiseAndEarlyStopping_ResumesBitIdentically()
    {
        string dir = TestFiles.NewTempDir();
        try
        {
            byte[] straight = Uninterrupted();
            string path = Path.Combine(dir, "run.ckpt"), copy = Path.Combine(dir, "step.ckpt");
            // The checkpoint written after step 21 (mid-epoch 2: 13 steps per epoch) is on disk while step 22 ends.
            const long Taken = 21;
            var model = ResumeScenario.NewModel();
            var (x, y) = ResumeScenario.Data();
            var first = new Trainer((ITrainable)model, ResumeScenario.Options(path, info =>
            {
                if (info.Step == Taken + 1) File.Copy(path, copy);
            }));
            first.Fit(x, y);
            Assert.Equal(straight, ResumeScenario.WeightsImage(model)); // checkpointing itself changes nothing

            var resumedModel = ResumeScenario.NewModel();
            var second = new Trainer((ITrainable)resumedModel, ResumeScenario.Options(null));
            RandomGenerator.Default.Reseed(777); // the file must restore the global generator too
            second.LoadCheckpoint(copy);
            Assert.Equal(Taken, second.Optimizer.StepCount);
            Assert.Equal((int)(Taken / ResumeScenario.StepsPerEpoch), second.Epoch);
            Assert.NotEqual(0, Taken % ResumeScenario.StepsPerEpoch);
            second.Fit(x, y);
            Assert.Equal(straight, ResumeScenario.WeightsImage(resumedModel));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void RestoreBestWeights_AlsoRestoresBatchNormRunningStatistics()
    {
        var model = ResumeScenario.NewModel();
        var (x, y) = ResumeScenario.Data();
        var o = ResumeScenario.Options(null);
        o.EarlyStopping = new EarlyStopping { Monitor = "acc", Patience = 1000, RestoreBestWeights = true };
        var bn = (BatchNorm)model.Layers.First(l => l is BatchNorm);
        var perEpoch = new List<float[]>();
        o.OnEpochEnd = _ => perEpoch.Add(bn.RunningMean!.ToFloatArray());
        var h = new Trainer((ITrainable)model, o).Fit(x, y);
        Assert.True(h.RestoredBestWeights);
        Assert.InRange(h.BestEpoch, 0, ResumeScenario.Epochs - 2); // the best is not the last epoch, or nothing is tested
        Assert.NotEqual(perEpoch[^1], perEpoch[h.BestEpoch]);
        Assert.Equal(perEpoch[h.BestEpoch], bn.RunningMean!.ToFloatArray());
    }

    internal static (Sequential Model, Trainer Trainer, Tensor X, Tensor Y) Small(ulong seed, string? path = null)
    {
        var model = new Sequential("small", DType.Float32, seed, new Dense(4, "relu", name: "fc"), new BatchNorm(name: "bn"),
            new Dropout(0.2, name: "drop"), new Dense(2, name: "out")) { InputShape = [3] };
        var rng = new RandomGenerator(seed + 100);
        var x = Tensor.Normal([10, 3], 0, 1, rng);
        var y = Tensor.FromArray(new[] { 0, 1, 1, 0, 1, 0, 0, 1, 1, 0 }, 10);
        var o = new TrainerOptions
        {
            Loss = new CrossEntropy(), Optimizer = new Adam(0.01), Epochs = 2, BatchSize = 4, Progress = ProgressMode.None,
            EarlyStopping = new EarlyStopping { Monitor = "loss", Patience = 100 }, CheckpointPath = path, CheckpointEverySteps = path is null ? 0 : 4,
        };
        return (model, new Trainer((ITrainable)model, o), x, y);
    }

    internal static byte[] SmallCheckpoint(string dir)
    {
        string path = Path.Combine(dir, "small.ckpt");
        var (_, t, x, y) = Small(1, null);
        // a mid-epoch save (after the first batch of epoch 2, with early stopping's best weights) from the batch callback
        t.Options.OnBatchEnd = info => { if (info.Epoch == 1 && info.Batch == 0) t.SaveCheckpoint(path); };
        t.Fit(x, y);
        return File.ReadAllBytes(path);
    }

    [Fact]
    public void EverySingleByteFlipOfACheckpoint_IsRejectedByTheChecksum()
    {
        string dir = TestFiles.NewTempDir();
        try
        {
            byte[] image = SmallCheckpoint(dir);
            Assert.Contains("position.perm", TestFiles.HeaderOf(image)); // a mid-epoch checkpoint
            ChecksummedFile.Parse(image, "ok");
            int rejected = 0;
            for (int i = 0; i < image.Length; i++)
            {
                byte[] m = (byte[])image.Clone();
                m[i] ^= (byte)(1 << (i % 8));
                string src = $"flip-{i}.ckpt";
                if (TestFiles.ReturnsOrThrowsTyped<ModelFormatException>(() => ChecksummedFile.Parse(m, src), src, src)) rejected++;
            }
            Assert.Equal(image.Length, rejected);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>Rewrites a checkpoint with a change to its metadata and tensors and a valid checksum, so the
    /// semantic checks (not the checksum) must catch the defect.</summary>
    internal static void Rewrite(string path, Action<Dictionary<string, string>, Dictionary<string, SafeTensorEntry>> change)
    {
        var f = SafeTensorFile.Read(path);
        var meta = new Dictionary<string, string>(f.Metadata, StringComparer.Ordinal);
        var entries = f.Tensors.ToDictionary(e => e.Name, e => e, StringComparer.Ordinal);
        change(meta, entries);
        ChecksummedFile.Write(path, meta, entries.Values);
    }

    internal static SafeTensorEntry Replace(SafeTensorEntry e, Action<float[]> edit)
    {
        var v = e.ToFloatArray();
        edit(v);
        return SafeTensorEntry.FromFloats(e.Name, e.Shape, v);
    }

    public static TheoryData<string> Defects() =>
    [
        "epoch -5", "epoch 1.5", "optimizer step NaN", "optimizer step negative", "parameter step Inf", "missing rng.default",
        "zero generator", "+Inf weight", "NaN buffer", "NaN Adam slot", "wrong shape", "extra tensor", "other rule",
        "perm not a permutation", "batch past the end", "wrong parameter name", "missing buffer", "other format",
        "non-finite best weights", "seen negative",
    ];

    [Theory]
    [MemberData(nameof(Defects))]
    public void DefectiveCheckpoint_ThrowsTypedAndLeavesEverythingUnchanged(string defect)
    {
        string dir = TestFiles.NewTempDir();
        try
        {
            string path = Path.Combine(dir, "small.ckpt");
            File.WriteAllBytes(path, SmallCheckpoint(dir));
            Rewrite(path, (meta, e) =>
            {
                switch (defect)
                {
                    case "epoch -5": meta["epoch"] = "-5"; break;
                    case "epoch 1.5": meta["epoch"] = "1.5"; break;
                    case "optimizer step NaN": e["optimizer.step"] = SafeTensorEntry.FromDoubles("optimizer.step", [], [double.NaN]); break;
                    case "optimizer step negative": e["optimizer.step"] = SafeTensorEntry.FromDoubles("optimizer.step", [], [-3]); break;
                    case "parameter step Inf": e["optimizer.0.step"] = SafeTensorEntry.FromDoubles("optimizer.0.step", [], [double.PositiveInfinity]); break;
                    case "missing rng.default": e.Remove("rng.default"); break;
                    case "zero generator": e["rng.node.0"] = SafeTensorEntry.FromInt32s("rng.node.0", [12], new int[12]); break;
                    case "+Inf weight": e["param.2"] = Replace(e["param.2"], v => v[1] = float.PositiveInfinity); break;
                    case "NaN buffer": e["buffer.1"] = Replace(e["buffer.1"], v => v[0] = float.NaN); break;
                    case "NaN Adam slot": e["optimizer.0.exp_avg"] = Replace(e["optimizer.0.exp_avg"], v => v[0] = float.NaN); break;
                    case "wrong shape": e["param.0"] = SafeTensorEntry.FromFloats("param.0", [3, 4], new float[12]); break;
                    case "extra tensor": e["param.99"] = SafeTensorEntry.FromFloats("param.99", [1], [1f]); break;
                    case "other rule": meta["optimizer"] = "sgd"; break;
                    case "perm not a permutation": e["position.perm"] = SafeTensorEntry.FromInt32s("position.perm", [10], [0, 1, 2, 3, 4, 5, 6, 7, 8, 8]); break;
                    case "batch past the end": meta["position.batch"] = "4"; break;
                    case "wrong parameter name": meta["parameters"] = meta["parameters"].Replace("fc.", "fx.", StringComparison.Ordinal); break;
                    case "missing buffer": e.Remove("buffer.0"); break;
                    case "other format": meta["format"] = "flexnet-checkpoint/1"; break;
                    case "non-finite best weights":
                        {
                            e["best.param.0"] = Replace(e["best.param.0"], v => v[0] = float.NaN);
                            break;
                        }
                    case "seen negative": meta["position.seen"] = "-1"; break;
                    default: throw new ArgumentException(defect);
                }
            });
            var (model, t, x, y) = Small(50);
            t.Fit(x, y); // give the target trainer some state of its own
            byte[] before = ResumeScenario.WeightsImage(model);
            long step = t.Optimizer.StepCount;
            int epoch = t.Epoch;
            var adam = t.Optimizer.State(0)!.Slots[0].ToFloatArray();
            var defaultState = RandomGenerator.Default.GetState();
            var e = Assert.Throws<ModelFormatException>(() => t.LoadCheckpoint(path));
            Assert.Contains(path, e.Message);
            Assert.Equal(before, ResumeScenario.WeightsImage(model));
            Assert.Equal(step, t.Optimizer.StepCount);
            Assert.Equal(epoch, t.Epoch);
            Assert.Equal(adam, t.Optimizer.State(0)!.Slots[0].ToFloatArray());
            Assert.Equal(defaultState, RandomGenerator.Default.GetState());
            if (defect == "+Inf weight") Assert.Contains("param.2", e.Message);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void MidEpochCheckpoint_ResumedWithOtherData_IsRefusedUntilTheDataMatches()
    {
        string dir = TestFiles.NewTempDir();
        try
        {
            string path = Path.Combine(dir, "small.ckpt");
            File.WriteAllBytes(path, SmallCheckpoint(dir));
            var (model, t, x, y) = Small(3);
            t.LoadCheckpoint(path);
            byte[] loaded = ResumeScenario.WeightsImage(model);
            var e = Assert.Throws<ModelFormatException>(() => t.Fit(x.Slice(0, 0, 9), y.Slice(0, 0, 9)));
            Assert.Contains("10 training samples", e.Message);
            Assert.Contains("9 samples", e.Message);
            Assert.Equal(loaded, ResumeScenario.WeightsImage(model)); // nothing trained
            var h = t.Fit(x, y); // the same data resumes
            Assert.Equal([1], h.Epochs);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void CheckpointFromAnotherMachine_LoadsWithANote()
    {
        string dir = TestFiles.NewTempDir();
        try
        {
            string path = Path.Combine(dir, "small.ckpt");
            File.WriteAllBytes(path, SmallCheckpoint(dir));
            var (_, same, _, _) = Small(4);
            var quiet = new StringWriter();
            same.Options.Progress = ProgressMode.Plain;
            same.Options.Output = quiet;
            same.LoadCheckpoint(path);
            Assert.Equal("", quiet.ToString());
            Rewrite(path, (meta, _) => meta["machine"] = "Arm64, 128-bit vectors, 64 cores");
            var (_, other, _, _) = Small(4);
            var note = new StringWriter();
            other.Options.Progress = ProgressMode.Plain;
            other.Options.Output = note;
            other.LoadCheckpoint(path);
            Assert.Contains("Arm64, 128-bit vectors, 64 cores", note.ToString());
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void StaleTemporaryFiles_AreIgnoredAndRemovedByTheNextWrite()
    {
        string dir = TestFiles.NewTempDir();
        try
        {
            string path = Path.Combine(dir, "small.ckpt");
            File.WriteAllBytes(path, SmallCheckpoint(dir));
            // A crashed writer's temporary file (a process id that is not running), one of this process that no write
            // owns, and one of a live process (pid 1), which must be left alone.
            string dead = Path.Combine(dir, ".small.ckpt.2147483646.0123456789abcdef.tmp");
            string own = Path.Combine(dir, string.Create(CultureInfo.InvariantCulture, $".small.ckpt.{Environment.ProcessId}.feed.tmp"));
            string live = Path.Combine(dir, ".small.ckpt.1.cafe.tmp");
            string older = Path.Combine(dir, ".small.ckpt.0123456789abcdef0123456789abcdef.tmp"); // earlier versions' name
            foreach (var f in new[] { dead, own, live, older }) File.WriteAllBytes(f, [1, 2, 3]);
            var (_, t, _, _) = Small(2);
            t.LoadCheckpoint(path); // the temporaries are ignored
            t.SaveCheckpoint(path);
            Assert.False(File.Exists(dead));
            Assert.False(File.Exists(own));
            Assert.False(File.Exists(older));
            Assert.True(File.Exists(live));
            Assert.Equal(2, Directory.GetFiles(dir).Length);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
