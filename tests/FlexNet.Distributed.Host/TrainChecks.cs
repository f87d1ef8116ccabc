using System.Globalization;
using FlexNet.Graph;
using FlexNet.Training;

namespace FlexNet.Distributed.Host;

/// <summary>Data-parallel training against one process on the same global batches.</summary>
internal static class TrainChecks
{
    private const double Tolerance = 1e-5;

    /// <summary>R ranks train <paramref name="kind"/> for a few epochs (every rank builds its model with a different
    /// seed, so only the broadcast can make them start equal); every rank also trains the same model alone on the
    /// full batches. The weights must agree within 1e-5 (max-abs difference relative to the max-abs weight, per
    /// tensor), the histories (loss, accuracy) must agree, and all ranks must hold bit-identical weights.</summary>
    public static void Train(ICommunicator c, Report report, string kind, int samples, int batch, int epochs)
    {
        var (x, y) = Models.Data(kind, samples);
        var net = Models.Build(kind, seed: 100 + (ulong)c.Rank);
        var o = Models.Options(kind, epochs, batch);
        o.Communicator = c;
        var progress = new StringWriter();
        o.Progress = ProgressMode.Plain;
        o.Output = progress;
        string ckpt = Path.Combine(Path.GetTempPath(), $"flexnet-dp-test-{Environment.ProcessId}.ckpt");
        o.CheckpointPath = ckpt;
        var trainer = new Trainer(net.AsTrainable(), o);
        var h = trainer.Fit(x, y);
        long steps = trainer.Optimizer.StepCount;
        bool wroteCkpt = File.Exists(ckpt);
        File.Delete(ckpt);

        var single = Models.Build(kind, seed: 100);
        var so = Models.Options(kind, epochs, batch);
        var st = new Trainer(single.AsTrainable(), so);
        var sh = st.Fit(x, y);

        string tag = $"{kind} ({samples} samples, batch {batch}, {epochs} epochs = {steps} steps, {c.Size} ranks)";
        report.Check($"{tag}: step count equals one process", steps == st.Optimizer.StepCount, $"{steps} vs {st.Optimizer.StepCount}");
        double worst = MaxRelative(net, single, out string where);
        report.Check($"{tag}: weights equal one process within {Tolerance}", worst <= Tolerance, $"max relative difference {worst:E2} in {where}");
        if (c.Rank == 0) Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {tag}: max relative weight difference to one process {worst:E2} ({where})"));
        double lossDiff = 0, accDiff = 0;
        for (int e = 0; e < epochs; e++)
        {
            lossDiff = Math.Max(lossDiff, Math.Abs(h["loss"][e] - sh["loss"][e]) / Math.Abs(sh["loss"][e]));
            accDiff = Math.Max(accDiff, Math.Abs(h["acc"][e] - sh["acc"][e]));
        }
        report.Check($"{tag}: epoch losses equal one process (1e-5 relative)", lossDiff <= 1e-5, $"max relative difference {lossDiff:E2}");
        report.Check($"{tag}: epoch accuracies equal one process", accDiff <= 1e-6, $"max difference {accDiff:E2}");
        BitIdentical(c, report, tag, net);
        report.Check($"{tag}: only rank 0 prints progress", c.Rank == 0 ? progress.ToString().Contains("loss", StringComparison.Ordinal) : progress.ToString().Length == 0,
            $"rank {c.Rank} printed {progress.ToString().Length} characters");
        report.Check($"{tag}: only rank 0 writes the checkpoint", wroteCkpt == (c.Rank == 0), $"rank {c.Rank} wrote: {wroteCkpt}");
    }

    /// <summary>Resume: train 1 epoch with a checkpoint, then a fresh trainer (another seed) resumes; only rank 0
    /// loads the file, the others get its state by broadcast. The result must be bit-identical to 2 epochs in one go.</summary>
    public static void Resume(ICommunicator c, Report report, int samples, int batch)
    {
        var (x, y) = Models.Data("mlp", samples);
        var straight = Models.Build("mlp", 100);
        var o = Models.Options("mlp", 2, batch);
        o.Communicator = c;
        new Trainer(straight.AsTrainable(), o).Fit(x, y);

        string ckpt = Path.Combine(Path.GetTempPath(), $"flexnet-dp-resume-{Environment.ProcessId}.ckpt");
        var shared = new long[] { c.Rank == 0 ? Environment.ProcessId : 0 };
        c.AllReduce<long>(shared, ReduceOp.Max); // every rank learns rank 0's file name (same machine)
        ckpt = Path.Combine(Path.GetTempPath(), $"flexnet-dp-resume-{shared[0]}.ckpt");
        var first = Models.Build("mlp", 100);
        var o1 = Models.Options("mlp", 1, batch);
        o1.Communicator = c;
        o1.CheckpointPath = ckpt;
        new Trainer(first.AsTrainable(), o1).Fit(x, y);
        c.Barrier();
        var resumed = Models.Build("mlp", 555 + (ulong)c.Rank);
        var o2 = Models.Options("mlp", 2, batch);
        o2.Communicator = c;
        var t2 = new Trainer(resumed.AsTrainable(), o2);
        if (c.Rank == 0) t2.LoadCheckpoint(ckpt);
        t2.Fit(x, y);
        c.Barrier();
        if (c.Rank == 0) File.Delete(ckpt);
        var a = Flat(straight);
        var b = Flat(resumed);
        int diff = 0;
        for (int i = 0; i < a.Length; i++) if (BitConverter.DoubleToInt64Bits(a[i]) != BitConverter.DoubleToInt64Bits(b[i])) diff++;
        report.Check($"resume from a rank-0 checkpoint continues exactly ({c.Size} ranks)", diff == 0, $"{diff} of {a.Length} weights differ from the uninterrupted run");
    }

    /// <summary>A data set whose size leaves an uneven last batch, including one smaller than the number of ranks
    /// (some ranks get no sample in it): training must finish on every rank with the single-process weights.</summary>
    public static void Uneven(ICommunicator c, Report report)
    {
        int samples = 2 * 10 + (c.Size - 1); // batch 10: two full batches and a last one of size−1 samples
        Train(c, report, "mlp", samples, 10, 2);
        Train(c, report, "mlp", 7, 5, 3);      // batches of 5 and 2: with 3 ranks, 2 samples on 3 ranks
    }

    private static void BitIdentical(ICommunicator c, Report report, string tag, Network net)
    {
        var mine = Flat(net);
        var root = (double[])mine.Clone();
        c.Broadcast<double>(root, 0);
        int diff = 0;
        for (int i = 0; i < mine.Length; i++) if (BitConverter.DoubleToInt64Bits(mine[i]) != BitConverter.DoubleToInt64Bits(root[i])) diff++;
        report.Check($"{tag}: weights bit-identical on all ranks", diff == 0, $"rank {c.Rank}: {diff} of {mine.Length} weights differ from rank 0's");
    }

    private static double[] Flat(Network net)
    {
        var list = new List<double>();
        foreach (var (_, p) in net.NamedParameters) list.AddRange(p.ToDoubleArray()); // float → double is exact
        return [.. list];
    }

    private static double MaxRelative(Network a, Network b, out string where)
    {
        double worst = 0;
        where = "";
        var pa = a.NamedParameters;
        var pb = b.NamedParameters;
        for (int k = 0; k < pa.Count; k++)
        {
            var va = pa[k].Item2.ToDoubleArray();
            var vb = pb[k].Item2.ToDoubleArray();
            double maxDiff = 0, maxAbs = 0;
            for (int i = 0; i < va.Length; i++)
            {
                maxDiff = Math.Max(maxDiff, Math.Abs(va[i] - vb[i]));
                maxAbs = Math.Max(maxAbs, Math.Abs(vb[i]));
            }
            double rel = maxDiff / Math.Max(maxAbs, 1e-30);
            if (rel >= worst) { worst = rel; where = pa[k].Item1; }
        }
        return worst;
    }

    /// <summary>Control that starts on one rank reaches all: the last rank's cancellation token (set after step 3)
    /// cancels every rank before step 4; the last rank's OnEpochEnd stop request (after epoch 1) stops every rank.</summary>
    public static void Control(ICommunicator c, Report report)
    {
        var (x, y) = Models.Data("mlp", 40);
        int last = c.Size - 1;
        using var cts = new CancellationTokenSource();
        var o = Models.Options("mlp", 50, 8);
        o.Communicator = c;
        o.CancellationToken = cts.Token;
        o.OnBatchEnd = info => { if (c.Rank == last && info.Step == 3) cts.Cancel(); };
        var t = new Trainer(Models.Mlp(1).AsTrainable(), o);
        var h = t.Fit(x, y);
        report.Check("a cancellation on the last rank cancels every rank before the next step", h.Cancelled && t.Optimizer.StepCount == 3,
            $"rank {c.Rank}: cancelled {h.Cancelled}, {t.Optimizer.StepCount} steps");

        var o2 = Models.Options("mlp", 50, 8);
        o2.Communicator = c;
        o2.OnEpochEnd = info => { if (c.Rank == last && info.Epoch == 1) info.StopTraining = true; };
        var t2 = new Trainer(Models.Mlp(1).AsTrainable(), o2);
        var h2 = t2.Fit(x, y);
        report.Check("a stop request on the last rank stops every rank after the same epoch", t2.Epoch == 2 && h2.StoppedEarly,
            $"rank {c.Rank}: stopped after {t2.Epoch} epochs (early: {h2.StoppedEarly})");
    }

    /// <summary>The last rank has one sample more than the others: every rank must refuse before the first step (the
    /// abort that follows ends the job with the message).</summary>
    public static int Disagree(ICommunicator c)
    {
        var (x, y) = Models.Data("mlp", c.Rank == c.Size - 1 ? 41 : 40);
        var o = Models.Options("mlp", 2, 8);
        o.Communicator = c;
        new Trainer(Models.Mlp(1).AsTrainable(), o).Fit(x, y);
        Console.WriteLine($"rank {c.Rank}: training ran although the ranks disagree");
        return 3;
    }
}
