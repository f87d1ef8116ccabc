using FlexNet.Connections;
using FlexNet.Graph;
using FlexNet.Onnx;

namespace FlexNet.Cli.Commands;

/// <summary><c>flexnet export MODEL --format onnx --mode step [--opset N] --out FILE</c>: a saved model file as ONNX.</summary>
internal static class ExportCommand
{
    internal static int Run(string modelPath, string format, string mode, int opset, string outPath, TextWriter output)
    {
        if (format != "onnx") throw new UsageException($"--format {format}: only onnx is supported.");
        if (mode != "step") throw new UsageException($"--mode {mode}: only step is supported (the sequence and unrolled forms are not written yet).");
        if (opset < OnnxExportOptions.MinOpset || opset > OnnxExportOptions.MaxOpset)
            throw new UsageException($"--opset {opset}: must be {OnnxExportOptions.MinOpset}..{OnnxExportOptions.MaxOpset}.");
        var network = Network.Load(modelPath);
        network.ExportOnnx(outPath, new OnnxExportOptions { Mode = OnnxExportMode.Step, Opset = opset });
        output.WriteLine($"wrote {outPath} (ONNX, step form, opset {opset}) from {modelPath}");
        return 0;
    }
}
