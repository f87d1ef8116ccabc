using System.Diagnostics;
using FlexNet.Tensors;
using FlexNet.Autodiff;

namespace FlexNet.Bench.Workloads;

/// <summary>
/// mlp_infer_latency + mlp_infer_batch (shared/bench/pytorch/mlp_infer.py): the untrained 784-512-512-10 MLP of
/// mlp_train (Sequential, torch default init) in evaluation mode without gradients (<c>Model.Predict</c>), logits
/// out. Latency: batch 1, a different test image each call (2000 pre-made [1, 784] tensors), 1.5 s of untimed calls
/// for the tiered JIT (<see cref="Timing.JitWarmup"/>), then the spec's 1000 warm-up calls,
/// then 5 repeats of 2000 individually timed calls; median over repeats of the per-repeat median, in µs/call.
/// Batch: the first 1024 test images as one batch of 1024 (the script's <c>model(xb)</c>; <c>Predict</c>'s default
/// would split it into batches of 256), 1.5 s of untimed calls for the JIT, the spec's 5 warm-up calls, then 7 timed
/// repeats of 20 calls; median samples/s.
/// Each call runs in a <see cref="TensorScope"/> so its output returns to the pool (PyTorch frees it as well).
/// </summary>
internal sealed class InferWorkload : IWorkload
{
    public IEnumerable<string> Names => ["mlp_infer_latency", "mlp_infer_batch"];

    public int Order => 60;

    /// <summary>Managed bytes this thread allocates per call of <paramref name="call"/> (in a scope), over 10 calls after 2.</summary>
    private static double AllocatedPerCall(Action call)
    {
        for (int i = 0; i < 2; i++)
            using (TensorScope.Begin()) call();
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10; i++)
            using (TensorScope.Begin()) call();
        return (GC.GetAllocatedBytesForCurrentThread() - before) / 10.0;
    }

    public void Run(string name, Reporter reporter)
    {
        var (images, _, _) = BenchSupport.Load("t10k");
        var model = MlpWorkload.Build(0);
        if (name == "mlp_infer_latency")
        {
            var singles = new Tensor[2000];
            for (int i = 0; i < singles.Length; i++) singles[i] = Tensor.FromArray(images.AsSpan(i * 784, 784), 1, 784);
            var ts = new double[singles.Length];
            int next = 0;
            // 5 repeats of one timed call per image (median µs per repeat); first, with warm, 1.5 s of untimed calls
            // for the tiered JIT and the spec's 1000 warm-up calls
            double[] Repeats(Action<int> call, bool warm)
            {
                if (warm)
                {
                    Timing.JitWarmup(() =>
                    {
                        using var scope = TensorScope.Begin();
                        call(next++ % singles.Length);
                    });
                    for (int i = 0; i < 1000; i++)
                        using (TensorScope.Begin()) call(i);
                }
                var perRepeat = new double[5];
                for (int r = 0; r < perRepeat.Length; r++)
                {
                    for (int i = 0; i < singles.Length; i++)
                    {
                        long t0 = Stopwatch.GetTimestamp();
                        using (TensorScope.Begin()) call(i);
                        ts[i] = Stopwatch.GetElapsedTime(t0).TotalMicroseconds;
                    }
                    perRepeat[r] = Timing.Median(ts);
                }
                return perRepeat;
            }
            var predict = Repeats(i => model.Predict(singles[i]), warm: true);
            reporter.Report(name, Timing.Median(predict), "us/call", predict);
            // the same math straight on the engine ops (NN.Linear, Relu) with the model's weights: the floor the
            // graph/model layers add their overhead to
            var w = model.Parameters;
            var direct = Repeats(i =>
            {
                using (Autodiff.Autograd.NoGrad())
                    NN.Linear(NN.Linear(NN.Linear(singles[i], w[0], w[1]).Relu(), w[2], w[3]).Relu(), w[4], w[5]);
            }, warm: false);
            reporter.Log($"mlp_infer_latency: same math on NN.Linear/Relu directly {Timing.Median(direct):F1} us/call");
            // the frozen snapshot (Model.Freeze: private weights, packs kept between calls), measured the same way
            using (var frozen = model.Freeze())
            {
                var frozenRepeat = Repeats(i => frozen.Predict(singles[i]), warm: true);
                reporter.Log($"mlp_infer_latency: frozen model (Model.Freeze) {Timing.Median(frozenRepeat):F1} us/call " +
                             $"[{string.Join(", ", frozenRepeat.Select(v => v.ToString("F1")))}]; {AllocatedPerCall(() => frozen.Predict(singles[0])):F0} B/call allocated " +
                             $"(Model.Predict {AllocatedPerCall(() => model.Predict(singles[0])):F0} B/call)");
            }
        }
        else
        {
            var xb = Tensor.FromArray(images.AsSpan(0, 1024 * 784), 1024, 784);
            const int calls = 20;
            Timing.JitWarmup(() =>
            {
                using var scope = TensorScope.Begin();
                model.Predict(xb, xb.Shape[0]);
            });
            for (int i = 0; i < 5; i++)
                using (TensorScope.Begin()) model.Predict(xb, xb.Shape[0]);
            double[] times = Timing.TimeRepeats(() =>
            {
                for (int i = 0; i < calls; i++)
                    using (TensorScope.Begin()) model.Predict(xb, xb.Shape[0]);
            }, 7, warmup: 0);
            var rates = times.Select(t => calls * 1024 / t).ToArray();
            reporter.Report(name, Timing.Median(rates), "samples/s", rates);
            // the same math straight on the engine ops: the floor the model layers add their overhead to
            var w = model.Parameters;
            times = Timing.TimeRepeats(() =>
            {
                for (int i = 0; i < calls; i++)
                    using (TensorScope.Begin())
                    using (Autodiff.Autograd.NoGrad())
                        NN.Linear(NN.Linear(NN.Linear(xb, w[0], w[1]).Relu(), w[2], w[3]).Relu(), w[4], w[5]);
            }, 7, warmup: 1);
            reporter.Log($"mlp_infer_batch: same math on NN.Linear/Relu directly {Timing.Median(times.Select(t => calls * 1024 / t).ToArray()):F0} samples/s");
            // the frozen snapshot (Model.Freeze: private weights, packs kept between calls), measured the same way
            using (var frozen = model.Freeze())
            {
                Timing.JitWarmup(() =>
                {
                    using var scope = TensorScope.Begin();
                    frozen.Predict(xb, xb.Shape[0]);
                });
                for (int i = 0; i < 5; i++)
                    using (TensorScope.Begin()) frozen.Predict(xb, xb.Shape[0]);
                times = Timing.TimeRepeats(() =>
                {
                    for (int i = 0; i < calls; i++)
                        using (TensorScope.Begin()) frozen.Predict(xb, xb.Shape[0]);
                }, 7, warmup: 0);
                var frozenRates = times.Select(t => calls * 1024 / t).ToArray();
                reporter.Log($"mlp_infer_batch: frozen model (Model.Freeze) {Timing.Median(frozenRates):F0} samples/s " +
                             $"[{string.Join(", ", frozenRates.Select(v => v.ToString("F0")))}] beside Predict's {Timing.Median(rates):F0}; " +
                             $"{AllocatedPerCall(() => frozen.Predict(xb, xb.Shape[0])):F0} B/call allocated (Model.Predict {AllocatedPerCall(() => model.Predict(xb, xb.Shape[0])):F0} B/call; the output alone is {1024 * 10 * 4} B of data)");
                // on a busy machine the two figures above come minutes apart: rounds that alternate 20 calls of each
                // give the ratio under the same load
                var ratios = new double[21];
                for (int r = 0; r < ratios.Length; r++)
                {
                    double tp = Timing.TimeRepeats(() =>
                    {
                        for (int i = 0; i < calls; i++)
                            using (TensorScope.Begin()) model.Predict(xb, xb.Shape[0]);
                    }, 1, warmup: 0)[0];
                    double tf = Timing.TimeRepeats(() =>
                    {
                        for (int i = 0; i < calls; i++)
                            using (TensorScope.Begin()) frozen.Predict(xb, xb.Shape[0]);
                    }, 1, warmup: 0)[0];
                    ratios[r] = tp / tf;
                }
                reporter.Log($"mlp_infer_batch: frozen / Predict speed, alternating rounds of {calls} calls: median {Timing.Median(ratios):F3} " +
                             $"[{string.Join(", ", ratios.Select(v => v.ToString("F2")))}]");
            }
        }
    }
}
