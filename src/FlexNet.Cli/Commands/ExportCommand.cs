using FlexNet.Connections;
using FlexNet.Graph;
using FlexNet.Onnx;

namespace FlexNet.Cli.Commands;

/// <summary><c>flexnet export MODEL --format onnx --mode step|sequence|unrolled [--steps T] [--opset N] --out FILE</c>:
/// a saved model file as ONNX.</summary>
internal static class ExportCommand
{
    internal static int Run(string modelPath, string format, string mode, int? steps, int opset, string outPath, TextWriter output)
    {
        if (format != "onnx") throw new UsageException($"--format {format}: only onnx is supported.");
        var form = mode switch
        {
            "step" => OnnxExportMode.Step,
            "sequence" => OnnxExportMode.Sequence,
            "unrolled" => OnnxExportMode.Unrolled,
            _ => throw new UsageException($"--mode {mode}: must be step, sequence or unrolled."),
        };
        if (opset < OnnxExportOptions.MinOpset || opset > OnnxExportOptions.MaxOpset)
            throw new UsageException($"--opset {opset}: must be {OnnxExportOptions.MinOpset}..{OnnxExportOptions.MaxOpset}.");
        if (steps is <= 0) throw new UsageException($"--steps {steps}: must be positive.");
        if (steps is not null && form == OnnxExportMode.Step) throw new UsageException("--steps applies to --mode sequence or unrolled, not step.");
        var network = Network.Load(modelPath);
        network.ExportOnnx(outPath, new OnnxExportOptions { Mode = form, Opset = opset, Steps = steps });
        output.WriteLine($"wrote {outPath} (ONNX, {mode} form{(steps is int t ? $", {t} steps" : "")}, opset {opset}) from {modelPath}");
        return 0;
    }
}
