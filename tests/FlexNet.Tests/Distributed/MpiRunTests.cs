using System.Globalization;
using System.Text.RegularExpressions;

namespace FlexNet.Tests.Distributed;

/// <summary>Runs in a collection of its own, alone: each test starts 2 or 3 processes on a 2-core machine.</summary>
[CollectionDefinition("Mpi", DisableParallelization = true)]
public sealed class MpiCollection;

/// <summary>
/// Data-parallel training and the MPI binding, checked in several local processes started by mpirun (Open MPI) and
/// mpiexec.hydra (MPICH). Each launch runs one scenario of tests/FlexNet.Distributed.Host, whose rank 0 prints one
/// PASS/FAIL line per check and "N passed, N failed"; the checks compare R-rank training with single-process
/// training on the same global batches (weights within 1e-5, bit-identical across ranks), see TrainChecks.cs.
/// Skipped, with the reason, when the MPI is not installed.
/// </summary>
[Collection("Mpi")]
public sealed class MpiRunTests
{
    [Theory]
    [InlineData("openmpi", 2)]
    [InlineData("openmpi", 3)]
    [InlineData("mpich", 2)]
    [InlineData("mpich", 3)]
    public void BindingCollectivesAreCorrect(string mpi, int ranks) => AllChecksPass(mpi, ranks, "binding");

    [Theory]
    [InlineData("openmpi", 2, "mlp")]
    [InlineData("openmpi", 3, "mlp")]
    [InlineData("openmpi", 2, "feedback")]
    [InlineData("openmpi", 3, "feedback")]
    [InlineData("openmpi", 2, "conv")]
    [InlineData("openmpi", 3, "conv")]
    [InlineData("openmpi", 3, "mlp64")]
    [InlineData("mpich", 3, "mlp")]
    [InlineData("mpich", 3, "feedback")]
    [InlineData("mpich", 3, "conv")]
    public void DataParallelTrainingEqualsOneProcess(string mpi, int ranks, string model) => AllChecksPass(mpi, ranks, "train", model);

    [Theory]
    [InlineData("openmpi", 2)]
    [InlineData("openmpi", 3)]
    [InlineData("mpich", 3)]
    public void UnevenDataSetEndsCleanly(string mpi, int ranks) => AllChecksPass(mpi, ranks, "uneven");

    [Theory]
    [InlineData("openmpi", 3)]
    [InlineData("mpich", 2)]
    public void CancellationAndStopRequestsOnOneRankReachAll(string mpi, int ranks) => AllChecksPass(mpi, ranks, "control");

    [Fact]
    public void RanksThatDisagreeOnTheDataStopBeforeTraining()
    {
        var r = MpiHost.Run("openmpi", 3, "disagree");
        Assert.False(r.TimedOut, "ranks with different data sets hung");
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("disagree on the training samples", r.Output);
        Assert.Contains("range over ranks 40 … 41", r.Output);
        Assert.DoesNotContain("training ran although", r.Output);
    }

    [Theory]
    [InlineData("openmpi", 3)]
    [InlineData("mpich", 2)]
    public void ResumeFromCheckpointContinuesExactly(string mpi, int ranks) => AllChecksPass(mpi, ranks, "resume");

    [Theory]
    [InlineData("openmpi", 3)]
    [InlineData("mpich", 3)]
    public void AnExceptionOnOneRankAbortsAllWithItsRank(string mpi, int ranks)
    {
        var r = MpiHost.Run(mpi, ranks, "fail");
        Assert.False(r.TimedOut, "the job hung after one rank failed");
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains($"failed on rank {ranks - 1} of {ranks}", r.Output);
        Assert.Contains("NullReferenceException", r.Output);
        Assert.DoesNotContain("training finished although", r.Output);
        Assert.True(SecondsAfterMarker(r, "fails now at") < 30, $"ranks stopped {SecondsAfterMarker(r, "fails now at"):F1} s after the failure");
    }

    [Theory]
    [InlineData("openmpi", 3)]
    [InlineData("mpich", 3)]
    public void ARankKilledWithSigkillStopsTheOthers(string mpi, int ranks)
    {
        var r = MpiHost.Run(mpi, ranks, "kill");
        Assert.False(r.TimedOut, "the job hung after one rank was killed");
        Assert.NotEqual(0, r.ExitCode);
        Assert.DoesNotContain("training finished although", r.Output);
        double s = SecondsAfterMarker(r, "sends itself SIGKILL at");
        Assert.True(s < 30, $"the other ranks exited {s:F1} s after the SIGKILL");
    }

    /// <summary>On every rank: a type or operation AllReduce does not know and a broadcast root outside the world are
    /// refused before any MPI call (an MPI error would abort the job); after <c>Dispose</c> (MPI_Finalize) the
    /// collectives refuse with <see cref="ObjectDisposedException"/>, a new <c>Initialize</c> is refused by name, a
    /// second dispose does nothing.</summary>
    [Theory]
    [InlineData("openmpi", 2)]
    [InlineData("mpich", 2)]
    public void MisuseIsRefusedOnEveryRank(string mpi, int ranks)
    {
        var r = MpiHost.Run(mpi, ranks, "misuse");
        Assert.False(r.TimedOut, r.Output);
        Assert.True(r.ExitCode == 0, $"exit {r.ExitCode}:\n{r.Output}");
        var (implementation, library) = mpi == "openmpi" ? ("Open MPI", "libmpi.so.40") : ("MPICH", "libmpich.so.12");
        for (int k = 0; k < ranks; k++)
        {
            Assert.Contains($"rank {k}: 10 of 10 misuse checks passed", r.Output);
            Assert.Contains($"rank {k} is MpiCommunicator(rank {k} of {ranks}, {implementation}, {library})", r.Output);
        }
        Assert.DoesNotContain("FAIL", r.Output);
    }

    /// <summary>The ranks load the <c>FlexNet.dll</c> this test process loaded (the same bytes), from the host's
    /// temporary copy, not the host's own build output: under mutation testing only the test process's copy is
    /// mutated, and the ranks must run it for the mutants of code that runs only in ranks to be tested.</summary>
    [Fact]
    public void TheRanksRunTheLibraryThisTestProcessLoaded()
    {
        var r = MpiHost.Run("openmpi", 2, "library");
        Assert.True(r.ExitCode == 0, $"exit {r.ExitCode}:\n{r.Output}");
        var loaded = Regex.Matches(r.Output, @"^rank (\d) runs (.+)$", RegexOptions.Multiline);
        Assert.Equal(2, loaded.Count);
        var mine = typeof(FlexNet.Graph.Network).Assembly.Location;
        var builtDir = Path.GetDirectoryName(MpiHost.BuiltHostDll())!;
        for (int k = 0; k < 2; k++)
        {
            var path = loaded[k].Groups[2].Value.Trim();
            Assert.NotEqual(Path.GetFullPath(builtDir), Path.GetFullPath(Path.GetDirectoryName(path)!));
            Assert.NotEqual(Path.GetFullPath(mine), Path.GetFullPath(path));
            Assert.Equal(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(mine)),
                System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(path)));
        }
        Assert.Equal(["0", "1"], loaded.Select(m => m.Groups[1].Value).Order());
    }

    private static void AllChecksPass(string mpi, int ranks, params string[] scenario)
    {
        var r = MpiHost.Run(mpi, ranks, scenario);
        Assert.False(r.TimedOut, $"timed out after {MpiHost.Timeout.TotalSeconds} s:\n{r.Output}");
        var summary = Regex.Match(r.Output, @"^(\d+) passed, (\d+) failed", RegexOptions.Multiline);
        Assert.True(summary.Success, $"no summary line (exit {r.ExitCode}):\n{r.Output}");
        Assert.True(summary.Groups[2].Value == "0" && r.ExitCode == 0, $"exit {r.ExitCode}:\n{r.Output}");
        Assert.True(int.Parse(summary.Groups[1].Value, CultureInfo.InvariantCulture) > 0, r.Output);
        Assert.Contains(mpi == "openmpi" ? "Open MPI" : "MPICH", r.Output); // the ABI the host actually loaded
    }

    /// <summary>Seconds from the timestamp the failing rank printed after <paramref name="marker"/> to the launcher's exit.</summary>
    private static double SecondsAfterMarker(MpiHost.Result r, string marker)
    {
        var m = Regex.Match(r.Output, Regex.Escape(marker) + @" (\S+)");
        Assert.True(m.Success, $"the failing rank did not report '{marker}':\n{r.Output}");
        var t = DateTime.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind).ToUniversalTime();
        return (r.Exited - t).TotalSeconds;
    }
}
