using FlexNet.Distributed;
using FlexNet.Losses;
using FlexNet.Optimizers;
using FlexNet.Training;
using FlexNet.Tests.Training;
using FlexNet.Tensors;

namespace FlexNet.Tests.Distributed;

/// <summary>What can be checked without MPI: the split of a global batch, the library search and its error, and
/// that a one-rank communicator leaves training untouched.</summary>
[Collection("Mpi")]
public sealed class DistributedUnitTests
{
    [Fact]
    public void SharesCoverTheBatchContiguouslyAndDifferByAtMostOne()
    {
        for (int size = 1; size <= 5; size++)
            for (int count = 0; count <= 23; count++)
            {
                int next = 0, min = int.MaxValue, max = 0;
                for (int r = 0; r < size; r++)
                {
                    var (start, length) = Trainer.Share(count, r, size);
                    Assert.Equal(next, start);
                    next += length;
                    min = Math.Min(min, length);
                    max = Math.Max(max, length);
                }
                Assert.Equal(count, next);
                Assert.True(max - min <= 1, $"count {count}, size {size}: shares {min}..{max}");
            }
    }

    [Fact]
    public void AMissingLibraryIsATypedErrorNamingThePackages()
    {
        var e = LoadRefused("/nonexistent/libmpi-flexnet-test.so");
        Assert.Equal("FN800", e.Code);
        // the reason is the C library's dlerror() text for a missing file
        Assert.Equal("Distributed training needs an MPI library, and none could be loaded (/nonexistent/libmpi-flexnet-test.so: " +
            "/nonexistent/libmpi-flexnet-test.so: cannot open shared object file: No such file or directory). On Debian or Ubuntu " +
            "install Open MPI with 'apt-get install openmpi-bin libopenmpi3' (or MPICH with 'apt-get install mpich libmpich12'), on " +
            "every node, or set FLEXNET_MPI_LIBRARY to the path of libmpi.so.", e.Message);
    }

    /// <summary>The refusal of <see cref="MpiLibrary.Load"/> with the override variable set to <paramref name="library"/>
    /// (put back as it was afterwards).</summary>
    private static DistributedException LoadRefused(string library)
    {
        var before = Environment.GetEnvironmentVariable(MpiLibrary.OverrideVariable);
        try
        {
            Environment.SetEnvironmentVariable(MpiLibrary.OverrideVariable, library);
            return Assert.Throws<DistributedException>(() => MpiLibrary.Load());
        }
        finally
        {
            Environment.SetEnvironmentVariable(MpiLibrary.OverrideVariable, before);
        }
    }

    [Fact]
    public void TheLauncherInTheEnvironmentChoosesTheLibraryFirst()
    {
        string?[] saved = [Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_SIZE"), Environment.GetEnvironmentVariable("PMI_SIZE"),
            Environment.GetEnvironmentVariable("PMI_RANK"), Environment.GetEnvironmentVariable(MpiLibrary.OverrideVariable)];
        try
        {
            Environment.SetEnvironmentVariable(MpiLibrary.OverrideVariable, null);
            Environment.SetEnvironmentVariable("PMI_RANK", null);
            Environment.SetEnvironmentVariable("OMPI_COMM_WORLD_SIZE", "3");
            Environment.SetEnvironmentVariable("PMI_SIZE", null);
            Assert.Equal("libmpi.so.40", MpiLibrary.Candidates()[0]);
            Assert.True(MpiCommunicator.LaunchedUnderMpi);
            Assert.Equal(3, MpiCommunicator.LaunchedWorldSize);
            Environment.SetEnvironmentVariable("OMPI_COMM_WORLD_SIZE", null);
            Environment.SetEnvironmentVariable("PMI_SIZE", "2");
            Assert.Equal("libmpich.so.12", MpiLibrary.Candidates()[0]);
            Assert.Equal(2, MpiCommunicator.LaunchedWorldSize);
            Environment.SetEnvironmentVariable("OMPI_COMM_WORLD_SIZE", "2"); // Open MPI's own variable wins
            Assert.Equal(["libmpi.so.40", "libmpich.so.12", "libmpi.so.12"], MpiLibrary.Candidates());
            Environment.SetEnvironmentVariable("OMPI_COMM_WORLD_SIZE", null);
            Environment.SetEnvironmentVariable("PMI_SIZE", null);
            Assert.Equal(["libmpi.so.40", "libmpich.so.12", "libmpi.so.12"], MpiLibrary.Candidates()); // no launcher
            Environment.SetEnvironmentVariable("PMI_RANK", "0"); // PMI's rank alone says MPICH's Hydra or Slurm
            Assert.Equal(["libmpich.so.12", "libmpi.so.12", "libmpi.so.40"], MpiLibrary.Candidates());
            Environment.SetEnvironmentVariable(MpiLibrary.OverrideVariable, " ");
            Assert.Equal("libmpich.so.12", MpiLibrary.Candidates()[0]); // a blank override is no override
            Environment.SetEnvironmentVariable(MpiLibrary.OverrideVariable, "/opt/mpi/libmpi.so");
            Assert.Equal(["/opt/mpi/libmpi.so"], MpiLibrary.Candidates());
        }
        finally
        {
            Environment.SetEnvironmentVariable("OMPI_COMM_WORLD_SIZE", saved[0]);
            Environment.SetEnvironmentVariable("PMI_SIZE", saved[1]);
            Environment.SetEnvironmentVariable("PMI_RANK", saved[2]);
            Environment.SetEnvironmentVariable(MpiLibrary.OverrideVariable, saved[3]);
        }
    }

    /// <summary>Which launcher variables say "started by an MPI launcher", and which world sizes count: PMIx's rank
    /// alone is a launch (without a size); a size must be a positive integer.</summary>
    [Fact]
    public void TheLaunchIsReadFromTheLaunchersVariables()
    {
        string[] names = ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"];
        var saved = Array.ConvertAll(names, Environment.GetEnvironmentVariable);
        void Set(string? ompi, string? pmi, string? pmix)
        {
            Environment.SetEnvironmentVariable(names[0], ompi);
            Environment.SetEnvironmentVariable(names[1], pmi);
            Environment.SetEnvironmentVariable(names[2], pmix);
        }
        try
        {
            Set(null, null, null);
            Assert.False(MpiCommunicator.LaunchedUnderMpi);
            Assert.Null(MpiCommunicator.LaunchedWorldSize);
            Set(null, null, "0");
            Assert.True(MpiCommunicator.LaunchedUnderMpi);
            Assert.Null(MpiCommunicator.LaunchedWorldSize);
            foreach (var bad in new[] { "0", "-2", "two", "", " " })
            {
                Set(bad, null, null);
                Assert.Null(MpiCommunicator.LaunchedWorldSize);
                Assert.False(MpiCommunicator.LaunchedUnderMpi, $"OMPI_COMM_WORLD_SIZE='{bad}'");
            }
            Set("0", "4", null);
            Assert.Equal(4, MpiCommunicator.LaunchedWorldSize);
            Set(" 5", null, null);
            Assert.Equal(5, MpiCommunicator.LaunchedWorldSize);
        }
        finally
        {
            for (int i = 0; i < names.Length; i++) Environment.SetEnvironmentVariable(names[i], saved[i]);
        }
    }

    /// <summary>A library that loads but is no MPI (the C math library) is refused by the first MPI symbol it lacks,
    /// naming the library and the ABI it was taken for.</summary>
    [Fact]
    public void ALibraryThatIsNoMpiIsRefusedByTheSymbolItLacks() =>
        Assert.Equal("MPI library 'libm.so.6' (MPICH ABI) does not export 'MPI_Init_thread': it is not the MPI it claims to be.",
            LoadRefused("libm.so.6").Message);

    [Fact]
    public void AOneRankCommunicatorTrainsExactlyLikeNone()
    {
        var rng = new RandomGenerator(4);
        var x = Tensor.Normal([30, 5], 0, 1, rng);
        var y = new int[30];
        for (int i = 0; i < y.Length; i++) y[i] = rng.NextInt(3);
        var labels = Tensor.FromArray(y, 30);
        TrainerOptions Opts(ICommunicator? c) => new()
        {
            Epochs = 3, BatchSize = 8, Loss = new CrossEntropy(), Optimizer = new Adam(0.01), Progress = ProgressMode.None, Communicator = c,
        };
        var a = new TinyMlp(5, 7, 3, seed: 9);
        var b = new TinyMlp(5, 7, 3, seed: 9);
        Trainer.Fit(a, x, labels, Opts(null));
        Trainer.Fit(b, x, labels, Opts(new OneRank()));
        for (int i = 0; i < a.Parameters.Count; i++) Assert.Equal(a.Parameters[i].ToFloatArray(), b.Parameters[i].ToFloatArray());
    }

    /// <summary>A communicator of one rank that fails the test if the trainer calls any collective.</summary>
    private sealed class OneRank : ICommunicator
    {
        public int Rank => 0;
        public int Size => 1;
        public void AllReduce<T>(Span<T> data, ReduceOp op) where T : unmanaged => Assert.Fail("AllReduce with one rank");
        public void Broadcast<T>(Span<T> data, int root) where T : unmanaged => Assert.Fail("Broadcast with one rank");
        public void Barrier() => Assert.Fail("Barrier with one rank");
        public void Abort(int errorCode, string message) => Assert.Fail("Abort: " + message);
    }
}
