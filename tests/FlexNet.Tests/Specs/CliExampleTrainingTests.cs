using System.Globalization;
using FlexNet.IO;

namespace FlexNet.Tests.Specs;

/// <summary>Every example spec trained for a few batches through the <c>flexnet</c> tool (the slowest spec tests, kept
/// apart so that a mutation run of Specs can leave them out: tools/mutation.sh with MUTATION_SKIP_TESTS).</summary>
public class CliExampleTrainingTests
{
    private static (int Code, string Out, string Err) Run(params string[] args) => CliRunner.Run(args);

    private static string Example(string name) => Path.Combine(TrainingSpecTests.Examples, name);

    [Theory]
    [MemberData(nameof(TrainingSpecTests.ExampleNames), MemberType = typeof(TrainingSpecTests))]
    public void EveryExampleTrainsAFewBatchesThroughTheCli(string name)
    {
        string dir = Path.Combine(Path.GetTempPath(), "flexnet-cli-" + Guid.NewGuid().ToString("N"));
        try
        {
            string model = Path.Combine(dir, "model.safetensors");
            var (code, output, err) = Run("train", Example(name), "--epochs", "1", "--limit", "192", "--batch", "64", "--out", model);
            Assert.True(code == 0, $"exit {code}\n{output}\n{err}");
            Assert.Contains("metric", output);
            Assert.Contains("Epoch 1/1", output);
            // the model file holds every parameter of the spec's network, finite
            var spec = FlexNet.Specs.TrainingSpec.Load(Example(name));
            var saved = TensorFile.Load(model, out var meta);
            Assert.Equal(spec.Network.NamedParameters.Select(p => p.Name).Order(), saved.Keys.Order());
            Assert.All(saved.Values, t => Assert.All(t.ToFloatArray(), v => Assert.True(float.IsFinite(v))));
            Assert.Contains("flexnet.spec", meta.Keys);
            // the history CSV has a header and one row per epoch with a finite loss
            var lines = File.ReadAllLines(Path.Combine(dir, "model.history.csv"));
            Assert.Equal(2, lines.Length);
            int lossColumn = Array.IndexOf(lines[0].Split(','), "loss");
            double loss = double.Parse(lines[1].Split(',')[lossColumn], CultureInfo.InvariantCulture);
            Assert.True(double.IsFinite(loss) && loss > 0, lines[1]);
            Assert.True(File.Exists(Path.Combine(dir, "model.ckpt")));
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, true);
        }
    }
}
