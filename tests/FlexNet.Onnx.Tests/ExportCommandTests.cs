using FlexNet.Cli;
using FlexNet.Connections;
using FlexNet.Graph;
using FlexNet.Layers;

namespace FlexNet.Onnx.Tests;

/// <summary><c>flexnet export</c> run in-process: the written file runs in ONNX Runtime and matches Forward.</summary>
public sealed class ExportCommandTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "flexnet-export-" + Guid.NewGuid().ToString("N"));

    public ExportCommandTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int code = Program.Run(args, o, e);
        return (code, o.ToString(), e.ToString());
    }

    [Fact]
    public void Export_WritesAStepModelThatMatchesForward()
    {
        var net = StepExportTests.FeedbackNetwork();
        string model = Path.Combine(_dir, "net.flexnet"), onnx = Path.Combine(_dir, "net.onnx");
        net.Save(model);
        var (code, _, err) = Run("export", model, "--format", "onnx", "--mode", "step", "--opset", "18", "--out", onnx);
        Assert.True(code == 0, err);
        StepExportTests.CheckFeedback(net, File.ReadAllBytes(onnx));
    }

    [Fact]
    public void Export_UnknownFormatOrOpset_IsAUsageError()
    {
        string model = Path.Combine(_dir, "net.flexnet");
        StepExportTests.FeedbackNetwork().Save(model);
        var (code, _, err) = Run("export", model, "--format", "tflite", "--out", Path.Combine(_dir, "x"));
        Assert.Equal(2, code);
        Assert.Contains("tflite", err);
        (code, _, err) = Run("export", model, "--opset", "22", "--out", Path.Combine(_dir, "x"));
        Assert.Equal(2, code);
        Assert.Contains("--opset 22", err);
        Assert.False(File.Exists(Path.Combine(_dir, "x")));
    }

    [Fact]
    public void Export_UnsupportedLayer_ExitsOneNamingIt()
    {
        var net = new Network("flat");
        var x = new InputLayer(6, name: "x");
        var flat = new FlattenLayer(name: "flat");
        net.Connect(x, flat);
        net.Connect(flat, new Layer(2, name: "out"));
        string model = Path.Combine(_dir, "flat.flexnet"), onnx = Path.Combine(_dir, "flat.onnx");
        net.Save(model);
        var (code, _, err) = Run("export", model, "--out", onnx);
        Assert.Equal(1, code);
        Assert.Contains("FN900", err);
        Assert.Contains("'flat'", err);
        Assert.False(File.Exists(onnx));
    }
}
