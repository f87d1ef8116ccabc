using System.Runtime.CompilerServices;
using FlexNet.Autodiff;
using FlexNet.Data;
using FlexNet.FunctionalBlocks;
using FlexNet.Optimizers;
using FlexNet.Tensors;

namespace FlexNet.Tests.FunctionalBlocks;

/// <summary>A network of blocks trains on the shipped Fashion-MNIST subset, and the README's "Functional blocks"
/// code block is exactly the code of <see cref="ReadmeSnippetTrains"/>.</summary>
public class BlocksTrainingTests
{
    private static (Tensor X, Tensor Y) Load(int count)
    {
        var (images, labels, n) = FashionMnist.Load(Path.Combine(AppContext.BaseDirectory, "testdata", "fashion-mnist"), "t10k");
        Assert.True(n >= count);
        return (Tensor.FromArray(images.AsSpan(0, count * 784), count, 1, 28, 28), Tensor.FromArray(labels.AsSpan(0, count), count));
    }

    private static double EvalLoss(Block b, Tensor x, Tensor y)
    {
        using (Autograd.NoGrad()) return NN.CrossEntropy(b.EvalOutput(x), y).Item();
    }

    [Fact]
    public void LossDecreasesWhileTraining()
    {
        var (x, y) = Load(600);
        var rng = new RandomGenerator(3);
        var b = Blocks.Input([1, 28, 28]);
        b = Blocks.Conv(b, 8, 3, rng);
        b = Blocks.Activation(b, "relu");
        b = Blocks.MaxPool(b, 2);
        b = Blocks.Dropout(b, 0.2, rng);
        b = Blocks.Linear(b, 10, rng);
        var opt = new Optimizer(b.Parameters, new Adam(3e-3));
        double before = EvalLoss(b, x, y);
        Assert.InRange(before, 1.5, 3.5); // about log 10 at initialisation
        for (int epoch = 0; epoch < 2; epoch++)
            for (int i = 0; i < 600; i += 50)
            {
                using var scope = TensorScope.Begin();
                var loss = NN.CrossEntropy(b.Output(x.Slice(0, i, 50)), y.Slice(0, i, 50));
                opt.ZeroGrad();
                loss.Backward();
                opt.Step();
            }
        double after = EvalLoss(b, x, y);
        Assert.True(after < 0.6 * before, $"loss {before:F4} → {after:F4}");
    }

    [Fact]
    public void ReadmeSnippetTrains()
    {
        var (x, y) = Load(1500);
        // README:functional-blocks:begin
        var rng = new RandomGenerator(1);
        var b = Blocks.Input([1, 28, 28]);        // per-sample shape; each block below infers its own
        b = Blocks.Conv(b, 16, 3, rng);           // [16, 26, 26]: creates conv1.weight [16, 1, 3, 3], conv1.bias [16]
        b = Blocks.MaxPool(b, 2);                 // [16, 13, 13]
        b = Blocks.Activation(b, "relu");
        b = Blocks.Dropout(b, 0.5, rng);          // active in b.Output (training), the identity in b.EvalOutput
        b = Blocks.Linear(b, 10, rng);            // flattens 16·13·13 = 2704 features → [10]

        var opt = new Optimizer(b.Parameters, new Adam(1e-3));
        for (int epoch = 0; epoch < 3; epoch++)
            for (int i = 0; i < 1000; i += 50)    // the first 1000 images train
            {
                using var scope = TensorScope.Begin();   // this step's intermediates go back to the pool
                var loss = NN.CrossEntropy(b.Output(x.Slice(0, i, 50)), y.Slice(0, i, 50));
                opt.ZeroGrad();
                loss.Backward();
                opt.Step();
            }

        double accuracy;
        using (Autograd.NoGrad())                 // the next 500 test, in inference mode (no dropout)
        {
            int[] predicted = b.EvalOutput(x.Slice(0, 1000, 500)).ArgMax(1).ToInt32Array();
            int[] truth = y.Slice(0, 1000, 500).ToInt32Array();
            accuracy = predicted.Where((p, k) => p == truth[k]).Count() / 500.0;
        }
        Console.WriteLine(b.Summary());
        Console.WriteLine($"test accuracy {accuracy:P1}");
        // README:functional-blocks:end
        Assert.InRange(accuracy, 0.65, 1.0);
    }

    [Fact]
    public void ReadmeShowsExactlyTheSnippetTheTestRuns()
    {
        var readme = File.ReadAllLines(Path.Combine(RepoRoot(), "README.md"));
        int section = Array.FindIndex(readme, l => l.Trim() == "## Functional blocks");
        Assert.True(section >= 0, "README.md has no '## Functional blocks' section");
        int open = Array.FindIndex(readme, section, l => l.Trim().StartsWith("```csharp", StringComparison.Ordinal));
        int close = Array.FindIndex(readme, open + 1, l => l.Trim() == "```");
        var block = readme[(open + 1)..close];
        var usings = block.TakeWhile(l => l.StartsWith("using ", StringComparison.Ordinal)).ToArray();
        // the README first loads the shipped images into x and y (the test loads them itself); the rest is the same code
        var body = block.Skip(usings.Length).SkipWhile(l => !l.StartsWith("var rng", StringComparison.Ordinal)).ToArray();
        Assert.True(body.Length > 10, "README's functional-blocks block has no 'var rng' line");

        var source = File.ReadAllLines(ThisFile());
        int begin = Array.FindIndex(source, l => l.Trim() == "// README:functional-blocks:begin");
        int end = Array.FindIndex(source, l => l.Trim() == "// README:functional-blocks:end");
        const string indent = "        ";
        var snippet = source[(begin + 1)..end].Select(l => l.StartsWith(indent, StringComparison.Ordinal) ? l[indent.Length..] : l).ToArray();
        Assert.Equal(snippet, body);
        foreach (var u in usings)
            Assert.Contains(u[..(u.IndexOf(';') + 1)], source);
    }

    private static string ThisFile([CallerFilePath] string path = "") => path;

    private static string RepoRoot() => Path.GetFullPath(Path.Combine(Path.GetDirectoryName(ThisFile())!, "..", "..", ".."));
}
