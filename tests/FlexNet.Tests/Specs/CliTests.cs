using System.Globalization;
using FlexNet.Cli;
using FlexNet.IO;

namespace FlexNet.Tests.Specs;

/// <summary>The <c>flexnet</c> tool run in-process through <see cref="Program.Run"/>.</summary>
public class CliTests
{
    private static (int Code, string Out, string Err) Run(params string[] args) => CliRunner.Run(args);

    private static string Example(string name) => Path.Combine(TrainingSpecTests.Examples, name);

    [Fact]
    public void MlpLearns()
    {
        var (code, output, err) = Run("train", Example("mlp.yaml"), "--epochs", "2", "--limit", "2000");
        Assert.True(code == 0, output + err);
        var line = output.Split('\n').Single(l => l.StartsWith("test accuracy ", StringComparison.Ordinal));
        double acc = double.Parse(line["test accuracy ".Length..].TrimEnd('%', '\r'), CultureInfo.InvariantCulture);
        Assert.True(acc > 60, line); // chance is 10%
    }

    [Fact]
    public void TheEarlierFashionMnistCommandStillRuns()
    {
        var (code, output, err) = Run("fashion-mnist", "--epochs", "1", "--limit", "1000", "--data", Path.Combine(AppContext.BaseDirectory, "testdata", "fashion-mnist"));
        Assert.True(code == 0, output + err);
        Assert.Contains("test accuracy", output);
        Assert.Equal(2, Run("fashion-mnist", "--model", "rnn").Code);
    }

    [Fact]
    public void ResumeContinuesFromTheCheckpoint()
    {
        string dir = Path.Combine(Path.GetTempPath(), "flexnet-cli-" + Guid.NewGuid().ToString("N"));
        try
        {
            string model = Path.Combine(dir, "m.safetensors");
            Assert.Equal(0, Run("train", Example("mlp.yaml"), "--epochs", "1", "--limit", "256", "--out", model).Code);
            string ckpt = Path.Combine(dir, "m.ckpt");
            var (code, output, err) = Run("train", Example("mlp.yaml"), "--epochs", "2", "--limit", "256", "--resume", ckpt, "--out", Path.Combine(dir, "m2.safetensors"));
            Assert.True(code == 0, output + err);
            Assert.Contains("resumed from", output);
            Assert.Contains("at epoch 1", output);
            Assert.Contains("Epoch 2/2", output);
            Assert.DoesNotContain("Epoch 1/2", output);
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void UsageErrorsExitTwoWithTheCommandsUsageLine()
    {
        var (code, _, err) = Run("train", Example("mlp.yaml"), "--epochz", "3");
        Assert.Equal(2, code);
        Assert.Contains("Usage: flexnet train SPEC", err);
        Assert.Equal(2, Run("train").Code);
        Assert.Equal(2, Run("frobnicate").Code);
        Assert.Equal(2, Run().Code);
        var (c2, _, e2) = Run("train", Example("mlp.yaml"), "--epochs", "0");
        Assert.Equal(2, c2);
        Assert.Contains("--epochs must be at least 1", e2);
        Assert.Equal(2, Run("graph", Example("mlp.yaml"), "--format", "gif").Code);
    }

    [Fact]
    public void BadSpecExitsOneNamingFileAndPathWithoutAStackTrace()
    {
        string path = Path.Combine(Path.GetTempPath(), $"flexnet-bad-{Guid.NewGuid():N}.yaml");
        File.WriteAllText(path, File.ReadAllText(Example("feedback.yaml")).Replace("{from: h2, to: h3}", "{from: h2, to: h9}"));
        try
        {
            var (code, _, err) = Run("train", path);
            Assert.Equal(1, code);
            Assert.Contains(path + ": $.connections[3].to", err);
            Assert.DoesNotContain("   at ", err);
            var (vcode, _, verr) = Run("summary", path, "--verbose");
            Assert.Equal(1, vcode);
            Assert.Contains("   at ", verr); // the stack trace only with --verbose
            Assert.Equal(1, Run("summary", path + ".missing").Code);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void HelpListsExitCodesAndEveryCommand()
    {
        var (code, output, _) = Run("--help");
        Assert.Equal(0, code);
        foreach (var c in new[] { "train", "summary", "graph", "layers", "version", "fashion-mnist", "Exit codes", "usage error" })
            Assert.Contains(c, output);
        foreach (var c in new[] { "train", "summary", "graph", "layers", "version", "fashion-mnist" })
            Assert.Equal(0, Run(c, "--help").Code);
        Assert.Contains("Exit codes", Run("train", "--help").Out);
    }

    [Fact]
    public void SvgThroughGraphvizOrAClearMessage()
    {
        string file = Path.Combine(Path.GetTempPath(), $"flexnet-graph-{Guid.NewGuid():N}.svg");
        try
        {
            bool hasDot = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator).Any(d => File.Exists(Path.Combine(d, "dot")));
            var (code, _, err) = Run("graph", Example("blt.yaml"), "--format", "svg", "--out", file);
            if (hasDot)
            {
                Assert.True(code == 0, err);
                Assert.Contains("<svg", File.ReadAllText(file));
            }
            else
            {
                // without Graphviz the layout comes from MSAGL (GraphPictureTests check its picture)
                Assert.True(code == 0, err);
                Assert.Contains("<svg", File.ReadAllText(file));
                File.Delete(file);
                var (code2, _, err2) = Run("graph", Example("blt.yaml"), "--format", "svg", "--out", file, "--layout", "graphviz");
                Assert.Equal(1, code2);
                Assert.Contains("Graphviz", err2);
                Assert.False(File.Exists(file));
            }
            Assert.Equal(2, Run("graph", Example("blt.yaml"), "--format", "svg").Code); // an image needs --out
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void SummaryGraphLayersVersion()
    {
        var s = Run("summary", Example("feedback.yaml"));
        Assert.Equal(0, s.Code);
        Assert.Contains("h1", s.Out);
        var g = Run("graph", Example("feedback.yaml"), "--format", "dot");
        Assert.Equal(0, g.Code);
        Assert.StartsWith("digraph", g.Out);
        Assert.Contains("dashed", g.Out); // the feedback edge
        var l = Run("layers");
        Assert.Equal(0, l.Code);
        Assert.Contains("convtranspose2d", l.Out);
        var v = Run("version");
        Assert.Equal(0, v.Code);
        Assert.StartsWith("flexnet ", v.Out);
    }
}
