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
    public void Export_SequenceAndUnrolledModes_MatchForward()
    {
        var net = StepExportTests.FeedbackNetwork();
        string model = Path.Combine(_dir, "net.flexnet"), seq = Path.Combine(_dir, "seq.onnx"), flat = Path.Combine(_dir, "flat.onnx");
        net.Save(model);
        var (code, _, err) = Run("export", model, "--mode", "sequence", "--out", seq);
        Assert.True(code == 0, err);
        (code, var output, err) = Run("export", model, "--mode", "unrolled", "--steps", "6", "--out", flat);
        Assert.True(code == 0, err);
        Assert.Contains("6 steps", output);
        const int n = 2, T = 6;
        var xs = Ort.RandomData(T * n * 3, 41);
        var expected = Ort.Forward(net, null, FlexNet.Tensors.Tensor.FromArray(xs, T, n, 3));
        foreach (var file in new[] { seq, flat })
        {
            var got = Ort.Run(File.ReadAllBytes(file), ("x", xs, [T, n, 3]));
            Ort.Close(expected[0], got["y"], $"y of {Path.GetFileName(file)}");
            Ort.Close(expected[1], got["h2"], $"h2 of {Path.GetFileName(file)}");
        }
        (code, _, err) = Run("export", model, "--mode", "loop", "--out", seq);
        Assert.Equal(2, code);
        Assert.Contains("--mode loop", err);
        (code, _, err) = Run("export", model, "--mode", "step", "--steps", "3", "--out", seq);
        Assert.Equal(2, code);
        Assert.Contains("--steps", err);
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
        Activations.Register("onnx-cli-cube", t => t * t * t);
        var net = new Network("cube");
        var x = new InputLayer(6, name: "x");
        var h = new Layer(3, "onnx-cli-cube", name: "norm");
        net.Connect(x, h);
        net.Connect(h, new Layer(2, name: "out"));
        string model = Path.Combine(_dir, "cube.flexnet"), onnx = Path.Combine(_dir, "cube.onnx");
        net.Save(model);
        var (code, _, err) = Run("export", model, "--out", onnx);
        Assert.Equal(1, code);
        Assert.Contains("FN900", err);
        Assert.Contains("'norm'", err);
        Assert.Contains("'onnx-cli-cube'", err);
        Assert.False(File.Exists(onnx));
    }
}
