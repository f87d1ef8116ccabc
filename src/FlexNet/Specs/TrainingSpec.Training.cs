using System.Text.Json.Nodes;
using FlexNet.Losses;
using FlexNet.Optimizers;
using FlexNet.Regularizers;
using FlexNet.Training;

namespace FlexNet.Specs;

/// <summary>The training sections of a spec: <c>loss</c>, <c>schedule</c>, <c>regularizers</c>, <c>early_stopping</c>
/// and <c>checkpoint</c>.</summary>
public sealed partial class TrainingSpec
{
    // Stryker disable all : a static list like LayerKinds in TrainingSpec.cs (the reason is given there); SpecMessageTests spells it out
    /// <summary>The schedule kinds a spec accepts in <c>schedule.kind</c>.</summary>
    public static IReadOnlyList<string> ScheduleKinds { get; } = ["constant", "step", "exponential", "cosine", "warmup"];

    // Stryker disable all : a static list like LayerKinds in TrainingSpec.cs (the reason is given there); SpecMessageTests spells it out
    /// <summary>The regularizer kinds a spec accepts in <c>regularizers[i].kind</c>.</summary>
    public static IReadOnlyList<string> RegularizerKinds { get; } = ["weight_l2", "weight_l1", "hidden_l1"];
    // Stryker restore all

    /// <summary>The learning-rate schedule (<c>schedule</c>: one entry, or a list whose multipliers multiply, e.g. a warm-up
    /// and a cosine decay), counted in optimizer steps; null: constant.</summary>
    public LearningRateSchedule? Schedule { get; private set; }

    /// <summary>Penalties added to the training loss (<c>regularizers</c>).</summary>
    public IReadOnlyList<Regularizer> Regularizers { get; private set; } = [];

    /// <summary>Early stopping (<c>early_stopping</c>; null: off).</summary>
    public EarlyStopping? EarlyStopping { get; private set; }

    /// <summary>Where checkpoints go (<c>checkpoint.path</c>, relative to the spec file's folder; null: none unless the
    /// caller sets one).</summary>
    public string? CheckpointPath { get; private set; }

    /// <summary>Epochs between checkpoints (<c>checkpoint.every</c>, default 1).</summary>
    public int CheckpointEvery { get; private set; } = 1;

    private static Loss ReadLoss(Ctx c, JsonObject top)
    {
        string? name = c.Str(top, "loss", "$");
        if (name is null) return new CrossEntropy();
        c.NotTypeName(name, "$.loss", "loss");
        try
        {
            return Loss.Create(name);
        }
        catch (ArgumentException)
        {
            throw c.Fail("$.loss", $"unknown loss '{name}'. Registered: {Join(Loss.RegisteredNames)}.");
        }
    }

    private static void ReadTraining(Ctx c, JsonObject top, TrainingSpec spec, string baseDir)
    {
        // schedule
        if (top["schedule"] is { } sched)
        {
            if (sched is JsonArray list)
            {
                if (list.Count is 0 or > 8) throw c.Fail("$.schedule", $"a list of schedules has 1 to 8 entries; it has {list.Count}.");
                LearningRateSchedule? product = null;
                for (int i = 0; i < list.Count; i++)
                {
                    var one = ReadSchedule(c, list[i], $"$.schedule[{i}]");
                    product = product is null ? one : product * one;
                }
                spec.Schedule = product;
            }
            else spec.Schedule = ReadSchedule(c, sched, "$.schedule");
        }

        // regularizers
        if (c.Arr(top, "regularizers", "$", required: false) is { } regs)
        {
            if (regs.Count > 64) throw c.Fail("$.regularizers", $"a spec may have at most 64 regularizers; it has {regs.Count}.");
            var list = new List<Regularizer>(regs.Count);
            for (int i = 0; i < regs.Count; i++)
            {
                string p = $"$.regularizers[{i}]";
                var o = c.Obj(regs[i], p);
                c.Keys(o, p, ["kind", "weight", "pattern"]);
                string kind = c.Word(o, "kind", p, RegularizerKinds, "regularizer") ?? throw c.Fail(p + ".kind", $"'kind' is missing ({Join(RegularizerKinds)}).");
                double weight = c.Num(o, "weight", p, 0, 1e6) ?? throw c.Fail(p + ".weight", "'weight' (the penalty's factor in the loss) is missing.");
                string pattern = c.Str(o, "pattern", p) ?? "*"; // weight penalties skip rank-1 parameters (biases) themselves
                if (pattern.Length is 0 or > 256) throw c.Fail(p + ".pattern", "a pattern has 1 to 256 characters.");
                list.Add(kind switch
                {
                    "weight_l2" => new WeightL2 { Weight = weight, Pattern = pattern },
                    "weight_l1" => new WeightL1 { Weight = weight, Pattern = pattern },
                    _ => new HiddenL1 { Weight = weight, Pattern = pattern },
                });
            }
            spec.Regularizers = list;
        }

        // early stopping
        if (top["early_stopping"] is { } esNode)
        {
            const string p = "$.early_stopping";
            var o = c.Obj(esNode, p);
            c.Keys(o, p, ["monitor", "patience", "min_delta", "restore_best_weights", "mode"]);
            string monitor = c.Str(o, "monitor", p) ?? "val_loss";
            if (monitor.Length is 0 or > 64) throw c.Fail(p + ".monitor", "'monitor' names a history key such as val_loss or val_acc.");
            string? mode = c.Word(o, "mode", p, ["auto", "min", "max"], "mode");
            spec.EarlyStopping = new EarlyStopping
            {
                Monitor = monitor,
                Patience = c.Int(o, "patience", p, 0, 1_000_000) ?? 5,
                MinDelta = c.Num(o, "min_delta", p, 0, double.MaxValue) ?? 0,
                RestoreBestWeights = c.Bool(o, "restore_best_weights", p) ?? true,
                HigherIsBetter = mode switch { "max" => true, "min" => false, _ => null },
            };
        }

        // checkpoint
        if (top["checkpoint"] is { } ckNode)
        {
            const string p = "$.checkpoint";
            var o = c.Obj(ckNode, p);
            c.Keys(o, p, ["path", "every"]);
            string path = c.Str(o, "path", p) ?? throw c.Fail(p + ".path", "'path' (the checkpoint file) is missing.");
            if (path.Length == 0) throw c.Fail(p + ".path", "'path' is empty.");
            spec.CheckpointPath = Path.GetFullPath(Path.Combine(baseDir, path));
            spec.CheckpointEvery = c.Int(o, "every", p, 1, 1_000_000) ?? 1;
        }
    }

    private static LearningRateSchedule ReadSchedule(Ctx c, JsonNode? node, string p)
    {
        var o = c.Obj(node, p);
        string kind = c.Word(o, "kind", p, ScheduleKinds, "schedule") ?? throw c.Fail(p + ".kind", $"'kind' is missing ({Join(ScheduleKinds)}).");
        switch (kind)
        {
            case "constant":
                c.Keys(o, p, ["kind"]);
                return LearningRateSchedule.Constant;
            case "step":
                c.Keys(o, p, ["kind", "step_size", "gamma"]);
                return LearningRateSchedule.Step(c.Long(o, "step_size", p, 1, long.MaxValue) ?? throw c.Fail(p + ".step_size", "'step_size' (optimizer steps between decays) is missing."),
                                                 c.Num(o, "gamma", p, 0, 1e6) ?? 0.1);
            case "exponential":
                c.Keys(o, p, ["kind", "gamma"]);
                return LearningRateSchedule.Exponential(c.Num(o, "gamma", p, 0, 1e6) ?? throw c.Fail(p + ".gamma", "'gamma' (the factor per optimizer step) is missing."));
            case "cosine":
                c.Keys(o, p, ["kind", "total_steps", "min_factor"]);
                return LearningRateSchedule.Cosine(c.Long(o, "total_steps", p, 1, long.MaxValue) ?? throw c.Fail(p + ".total_steps", "'total_steps' (optimizer steps of the decay) is missing."),
                                                   c.Num(o, "min_factor", p, 0, 1) ?? 0);
            default:
                c.Keys(o, p, ["kind", "steps", "start_factor"]);
                return LearningRateSchedule.Warmup(c.Long(o, "steps", p, 1, long.MaxValue) ?? throw c.Fail(p + ".steps", "'steps' (optimizer steps of the warm-up) is missing."),
                                                   c.Num(o, "start_factor", p, 0, 1) ?? 0);
        }
    }
}
