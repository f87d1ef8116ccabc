using System.Globalization;
using FlexNet.Cli;
using FlexNet.Connections;
using FlexNet.Data;
using FlexNet.Graph;
using FlexNet.Tensors;

namespace FlexNet.Tests.Specs;

/// <summary>train --out MODEL.flexnet, then evaluate, predict, summary and graph on that file (issue 11).</summary>
public class CliModelFileTests
{
    private static (int Code, string Out, string Err) Run(params string[] args) => CliRunner.Run(args);

    private static string Data => Path.Combine(AppContext.BaseDirectory, "testdata", "fashion-mnist");

    [Fact]
    public void ATrainedModelFileIsEvaluatedPredictedSummarisedAndDrawn()
    {
        string dir = Directory.CreateTempSubdirectory("flexnet-cli-model-").FullName;
        try
        {
            string model = Path.Combine(dir, "mlp.flexnet");
            var t = Run("train", Path.Combine(TrainingSpecTests.Examples, "mlp.yaml"), "--data", Data, "--epochs", "1", "--limit", "1500", "--out", model);
            Assert.True(t.Code == 0, t.Out + t.Err);
            string trainAcc = t.Out.Split('\n').Single(l => l.StartsWith("test accuracy ", StringComparison.Ordinal)).Trim();

            var ev = Run("evaluate", model, "--data", Data);
            Assert.True(ev.Code == 0, ev.Out + ev.Err);
            // the same test images as train's own test evaluation: the same accuracy
            Assert.Contains(trainAcc, ev.Out);

            // predict on 5 test images through NPY, against the network's own forward pass
            var (images, _, _) = FashionMnist.Load(Data, "t10k");
            var five = images.AsSpan(0, 5 * 784).ToArray();
            string input = Path.Combine(dir, "five.npy"), output = Path.Combine(dir, "out.npy"), csv = Path.Combine(dir, "out.csv");
            Npy.Write(input, five, [5, 784]);
            var p = Run("predict", model, input, "--out", output);
            Assert.True(p.Code == 0, p.Out + p.Err);
            var got = Npy.Read(output);
            Assert.Equal([5, 10], got.Shape);
            var net = Network.Load(model);
            var expected = net.Forward(Tensor.FromArray(five, 5, 784))[0].ToFloatArray();
            Assert.Equal(expected, got.ToFloatArray());
            Assert.Equal(0, Run("predict", model, input, "--out", csv).Code);
            var rows = File.ReadAllLines(csv);
            Assert.Equal(5, rows.Length);
            Assert.Equal(expected[10], float.Parse(rows[1].Split(',')[0], CultureInfo.InvariantCulture));

            var s = Run("summary", model);
            Assert.True(s.Code == 0, s.Err);
            Assert.Contains("h1", s.Out);
            var g = Run("graph", model, "--format", "dot");
            Assert.True(g.Code == 0, g.Err);
            Assert.Contains("digraph", g.Out);

            // wrong input width: exit 1 naming the file and both sizes
            Npy.Write(input, new float[6], [2, 3]);
            var bad = Run("predict", model, input);
            Assert.Equal(1, bad.Code);
            Assert.Contains("five.npy", bad.Err);
            Assert.Contains("784", bad.Err);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
