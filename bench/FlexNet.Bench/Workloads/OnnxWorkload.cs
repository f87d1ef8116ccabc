using System.Diagnostics;
using FlexNet.Onnx;
using Microsoft.ML.OnnxRuntime;

namespace FlexNet.Bench.Workloads;

/// <summary>
/// onnx_export_feedback_ms: the time to export the feedback_train network (<see cref="FeedbackTrain.Build"/>,
/// 784-256-256-128 relu, h3(t−1) → h1, 8 steps) to an ONNX model in memory (<see cref="OnnxExport.ToOnnxBytes"/>, the
/// sequence form: checks, graph, weights serialised; no file I/O), 3 warm-up exports, then the median of 7, in ms.
/// mlp_infer_latency_onnx_export: the untrained 784-512-512-10 MLP of mlp_infer_latency exported by FlexNet (step
/// form) and run in ONNX Runtime 1.31.1 from C# with the peer runner's settings (shared/bench/onnxruntime: 2 intra-op
/// threads, all graph optimisations): batch 1, a different test image each call (2000 pre-made [1, 784] inputs),
/// 1000 warm-up calls, then 5 repeats of 2000 individually timed calls; median of the per-repeat medians, in µs/call
/// (what serving FlexNet's exported model costs, beside mlp_infer_latency).
/// </summary>
internal sealed class OnnxWorkload : IWorkload
{
    public IEnumerable<string> Names => ["mlp_infer_latency_onnx_export", "onnx_export_feedback_ms"];

    public int Order => 61;

    public void Run(string name, Reporter reporter)
    {
        if (name == "onnx_export_feedback_ms")
        {
            var net = FeedbackTrain.Build();
            var options = new OnnxExportOptions { Mode = OnnxExportMode.Sequence };
            int bytes = 0;
            for (int i = 0; i < 3; i++) bytes = net.ToOnnxBytes(options).Length;
            var ms = new double[7];
            for (int r = 0; r < ms.Length; r++)
            {
                long t0 = Stopwatch.GetTimestamp();
                bytes = net.ToOnnxBytes(options).Length;
                ms[r] = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
            }
            reporter.Report(name, Timing.Median(ms), "ms", ms);
            reporter.Log($"onnx_export_feedback_ms: sequence form, {bytes / 1024} KiB");
            return;
        }
        var (images, _, _) = BenchSupport.Load("t10k");
        var model = MlpWorkload.Build(0);
        byte[] onnx = model.Network.ToOnnxBytes();
        using var opts = new SessionOptions { IntraOpNumThreads = 2, InterOpNumThreads = 1, GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
        using var session = new InferenceSession(onnx, opts);
        string input = session.InputMetadata.Keys.Single();
        string[] inputNames = [input], outputNames = [session.OutputMetadata.Keys.First()];
        var singles = new OrtValue[2000];
        for (int i = 0; i < singles.Length; i++)
            singles[i] = OrtValue.CreateTensorValueFromMemory(images.AsSpan(i * 784, 784).ToArray(), [1, 784]);
        using var run = new RunOptions();
        try
        {
            for (int i = 0; i < 1000; i++)
                using (session.Run(run, inputNames, [singles[i]], outputNames)) { }
            var perRepeat = new double[5];
            var ts = new double[singles.Length];
            for (int r = 0; r < perRepeat.Length; r++)
            {
                for (int i = 0; i < singles.Length; i++)
                {
                    long t0 = Stopwatch.GetTimestamp();
                    using (session.Run(run, inputNames, [singles[i]], outputNames)) { }
                    ts[i] = Stopwatch.GetElapsedTime(t0).TotalMicroseconds;
                }
                perRepeat[r] = Timing.Median(ts);
            }
            reporter.Report(name, Timing.Median(perRepeat), "us/call", perRepeat);
        }
        finally
        {
            foreach (var v in singles) v.Dispose();
        }
    }
}
