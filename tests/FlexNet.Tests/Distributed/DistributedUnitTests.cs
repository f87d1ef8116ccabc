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
        var before = Environment.GetEnvironmentVariable(MpiLibrary.OverrideVariable);
        try
        {
            Environment.SetEnvironmentVariable(MpiLibrary.OverrideVariable, "/nonexistent/libmpi-flexnet-test.so");
            var e = Assert.Throws<DistributedException>(() => MpiLibrary.Load());
            Assert.Equal("FN800", e.Code);
            Assert.Contains("/nonexistent/libmpi-flexnet-test.so", e.Message);
            Assert.Contains("apt-get install openmpi-bin libopenmpi3", e.Message);
            Assert.Contains("mpich libmpich12", e.Message);
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
        }
        finally
        {
            Environment.SetEnvironmentVariable("OMPI_COMM_WORLD_SIZE", saved[0]);
            Environment.SetEnvironmentVariable("PMI_SIZE", saved[1]);
            Environment.SetEnvironmentVariable("PMI_RANK", saved[2]);
            Environment.SetEnvironmentVariable(MpiLibrary.OverrideVariable, saved[3]);
        }
    }

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
