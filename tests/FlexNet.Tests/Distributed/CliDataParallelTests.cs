using FlexNet.Tensors;

namespace FlexNet.Tests.Distributed;

/// <summary><c>mpirun -np R flexnet train SPEC</c> trains data-parallel: rank 0 prints and writes the model, the
/// others stay silent, and the weights equal a single-process run's.</summary>
[Collection("Mpi")]
public sealed class CliDataParallelTests
{
    private static string CliDll() => Path.Combine(AppContext.BaseDirectory, "FlexNet.Cli.dll");

    private static string[] Args(string outFile) =>
    [
        "train", Path.Combine(AppContext.BaseDirectory, "examples", "specs", "mlp.yaml"),
        "--data", Path.Combine(AppContext.BaseDirectory, "testdata", "fashion-mnist"),
        "--epochs", "1", "--limit", "600", "--batch", "60", "--seed", "3", "--out", outFile,
    ];

    [Theory]
    [InlineData("openmpi", 2)]
    [InlineData("mpich", 3)]
    public void TrainUnderMpirunIsDataParallelAndMatchesOneProcess(string mpi, int ranks)
    {
        var dir = Directory.CreateTempSubdirectory("flexnet-cli-dp-").FullName;
        try
        {
            var one = Path.Combine(dir, "one.safetensors");
            var many = Path.Combine(dir, "many.safetensors");
            var single = MpiHost.RunDll(mpi, 1, CliDll(), Args(one));
            Assert.True(single.ExitCode == 0, single.Output);
            var r = MpiHost.RunDll(mpi, ranks, CliDll(), Args(many));
            Assert.False(r.TimedOut, "the data-parallel CLI run hung");
            Assert.True(r.ExitCode == 0, r.Output);
            Assert.Contains($"data-parallel over {ranks} ranks", r.Output);
            Assert.Equal(1, r.Output.Split('\n').Count(l => l.StartsWith("trained 1 epochs", StringComparison.Ordinal))); // rank 0 only
            var a = FlexNet.IO.TensorFile.Load(one, out _);
            var b = FlexNet.IO.TensorFile.Load(many, out _);
            Assert.Equal(a.Keys.Order(), b.Keys.Order());
            foreach (var (name, t) in a)
            {
                var x = t.ToDoubleArray();
                var y = b[name].ToDoubleArray();
                for (int i = 0; i < x.Length; i++)
                    Assert.True(Math.Abs(x[i] - y[i]) <= 1e-5 * Math.Max(1, Math.Abs(x[i])), $"{name}[{i}]: one process {x[i]}, {ranks} ranks {y[i]}");
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
