using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using FlexNet.Distributed;
using FlexNet.Losses;
using FlexNet.Metrics;
using FlexNet.Optimizers;
using FlexNet.Tensors;
using FlexNet.Training;

namespace FlexNet.Tests.Training;

/// <summary>Synchronous data-parallel training (<c>Trainer.DataParallel.cs</c>) without MPI: the ranks are threads of
/// this process joined by <see cref="ThreadRanks"/>, an in-memory communicator whose collectives reduce in rank order
/// (so every rank gets the same bits, as MPI's all-reduce does). The oracle is the trainer itself in one process on
/// the same global batches: R ranks must follow its trajectory up to float rounding. Before session 16 this code was
/// run only by the MPI tests, whose ranks are separate processes that a mutation run does not instrument.</summary>
public sealed class DataParallelInProcessTests
{
    /// <summary>The ranks of one group: each collective is two barrier phases (deposit, then read), reduced in rank
    /// order. <see cref="Abort"/> records the message and cancels every rank's wait.</summary>
    private sealed class ThreadRanks(Group group, int rank) : ICommunicator
    {
        public int Rank => rank;

        public int Size => group.Size;

        public void AllReduce<T>(Span<T> data, ReduceOp op) where T : unmanaged
        {
            group.Slots[rank] = data.ToArray();
            Wait();
            if (typeof(T) == typeof(float)) Reduce(MemoryMarshal.Cast<T, float>(data), Parts<float>(), op);
            else if (typeof(T) == typeof(double)) Reduce(MemoryMarshal.Cast<T, double>(data), Parts<double>(), op);
            else if (typeof(T) == typeof(int)) Reduce(MemoryMarshal.Cast<T, int>(data), Parts<int>(), op);
            else if (typeof(T) == typeof(long)) Reduce(MemoryMarshal.Cast<T, long>(data), Parts<long>(), op);
            else throw new ArgumentException($"AllReduce of {typeof(T).Name}");
            Wait();
        }

        private TE[][] Parts<TE>()
        {
            var parts = new TE[group.Size][];
            for (int r = 0; r < parts.Length; r++) parts[r] = (TE[])group.Slots[r]!;
            return parts;
        }

        private static void Reduce<TE>(Span<TE> dst, TE[][] parts, ReduceOp op) where TE : System.Numerics.INumber<TE>
        {
            for (int i = 0; i < dst.Length; i++)
            {
                TE v = parts[0][i];
                for (int r = 1; r < parts.Length; r++)
                    v = op switch { ReduceOp.Sum => v + parts[r][i], ReduceOp.Min => TE.Min(v, parts[r][i]), _ => TE.Max(v, parts[r][i]) };
                dst[i] = v;
            }
        }

        public void Broadcast<T>(Span<T> data, int root) where T : unmanaged
        {
            if (rank == root) group.Slots[root] = data.ToArray();
            Wait();
            if (rank != root) ((T[])group.Slots[root]!).AsSpan().CopyTo(data);
            Wait();
        }

        public void Barrier() => Wait();

        public void Abort(int errorCode, string message)
        {
            group.AbortMessages.Enqueue(message);
            group.Aborted.Cancel();
        }

        private void Wait() => group.Barrier.SignalAndWait(group.Aborted.Token);
    }

    private sealed class Group(int size)
    {
        public int Size { get; } = size;
        public Barrier Barrier { get; } = new(size);
        public object?[] Slots { get; } = new object?[size];
        public CancellationTokenSource Aborted { get; } = new();
        public ConcurrentQueue<string> AbortMessages { get; } = new();
    }

    /// <summary>Runs <paramref name="body"/> on every rank, each in its own thread; a rank's exception is its result.</summary>
    private static (T? Result, Exception? Error)[] OnRanks<T>(int size, Func<ICommunicator, T> body, out Group group)
    {
        var g = new Group(size);
        var results = new (T?, Exception?)[size];
        var threads = new Thread[size];
        for (int r = 0; r < size; r++)
        {
            int rank = r;
            threads[r] = new Thread(() =>
            {
                try { results[rank] = (body(new ThreadRanks(g, rank)), null); }
                catch (Exception e) { results[rank] = (default, e); }
            });
            threads[r].Start();
        }
        foreach (var t in threads) Assert.True(t.Join(TimeSpan.FromMinutes(2)), "a rank did not finish");
        group = g;
        return results;
    }

    private static (Tensor X, Tensor Y) Data(int n)
    {
        var rng = new RandomGenerator(21);
        var x = Tensor.Normal([n, 5], 0, 1, rng, DType.Float64);
        var y = new int[n];
        for (int i = 0; i < n; i++) y[i] = rng.NextInt(3);
        return (x, Tensor.FromArray(y, n));
    }

    private static TrainerOptions Options(int batch, ICommunicator? comm, int epochs = 2) => new()
    {
        Epochs = epochs, BatchSize = batch, Loss = new CrossEntropy(), Optimizer = new Sgd(0.2, momentum: 0.5), Progress = ProgressMode.None,
        Metrics = [Metric.Create("accuracy")], Seed = 5, Communicator = comm,
    };

    [Theory]
    [InlineData(2, 31, 8)] // shares of 4 + 4 and, in the last batch of 7, 4 + 3
    [InlineData(3, 31, 8)] // 3 + 3 + 2, and 3 + 2 + 2
    [InlineData(2, 7, 3)]  // the last batch holds 1 sample: rank 1 has none and contributes zeros
    public void Ranks_FollowTheSingleProcessTrajectory(int size, int n, int batch)
    {
        var (x, y) = Data(n);
        var single = new TinyMlp(5, 6, 3, seed: 9, dtype: DType.Float64);
        var h1 = Trainer.Fit(single, x, y, Options(batch, null));
        var expected = single.Snapshot();

        // rank 0 starts from the single run's initial weights; the other ranks from other seeds, which the broadcast replaces
        var runs = OnRanks(size, comm =>
        {
            var m = new TinyMlp(5, 6, 3, seed: comm.Rank == 0 ? 9UL : 100UL + (ulong)comm.Rank, dtype: DType.Float64);
            var h = Trainer.Fit(m, x, y, Options(batch, comm));
            return (m.Snapshot(), h);
        }, out var group);
        Assert.Empty(group.AbortMessages);
        AssertFollowed(expected, h1, Results(runs), 1e-12, "acc");
    }

    /// <summary>Every rank ran without error, ends with the single process's weights and per-epoch loss (within
    /// <paramref name="tol"/>) and metrics (exactly), and every rank has the same bits.</summary>
    private static void AssertFollowed(double[][] expected, History single, (double[][] W, History H)[] runs, double tol, params string[] metrics)
    {
        foreach (var (weights, h) in runs)
        {
            for (int p = 0; p < expected.Length; p++)
                for (int i = 0; i < expected[p].Length; i++)
                    Assert.True(Math.Abs(expected[p][i] - weights[p][i]) <= tol, $"parameter {p}[{i}]: {weights[p][i]}, single process {expected[p][i]}");
            for (int e = 0; e < single["loss"].Count; e++)
            {
                Assert.Equal(single["loss"][e], h["loss"][e], tol);
                foreach (var k in metrics) Assert.Equal(single[k][e], h[k][e]);
            }
            for (int p = 0; p < expected.Length; p++) Assert.Equal(runs[0].W[p], weights[p]); // every rank the same bits
        }
    }

    private static (double[][] W, History H)[] Results(((double[][], History) Result, Exception? Error)[] runs)
    {
        foreach (var (_, error) in runs) Assert.Null(error);
        return runs.Select(r => (r.Result.Item1, r.Result.Item2)).ToArray();
    }

    [Fact]
    public void Ranks_ThatDisagreeOnTheOptions_AllStop_NamingTheSetting()
    {
        var (x, y) = Data(16);
        var runs = OnRanks(2, comm => Trainer.Fit(new TinyMlp(5, 6, 3, seed: 9, dtype: DType.Float64), x, y, Options(comm.Rank == 0 ? 8 : 4, comm)), out var group);
        Assert.Equal("Data-parallel training: the 2 ranks disagree on the batch size (this rank 0: 8; range over ranks 4 … 8). " +
                     "Every rank must train the same model on the same data with the same options.", Assert.IsType<DistributedException>(runs[0].Error).Message);
        Assert.Equal("Data-parallel training: the 2 ranks disagree on the batch size (this rank 1: 4; range over ranks 4 … 8). " +
                     "Every rank must train the same model on the same data with the same options.", Assert.IsType<DistributedException>(runs[1].Error).Message);
        var messages = group.AbortMessages.ToArray();
        Assert.Equal(2, messages.Length);
        Assert.Contains(messages, m => m.StartsWith("FlexNet data-parallel training failed on rank 0 of 2: FlexNet.DistributedException: Data-parallel training: the 2 ranks disagree", StringComparison.Ordinal));
        Assert.Contains(messages, m => m.StartsWith("FlexNet data-parallel training failed on rank 1 of 2: FlexNet.DistributedException: Data-parallel training: the 2 ranks disagree", StringComparison.Ordinal));

        var (x2, y2) = Data(20);
        var samples = OnRanks(2, comm => Trainer.Fit(new TinyMlp(5, 6, 3, seed: 9, dtype: DType.Float64), comm.Rank == 0 ? x : x2, comm.Rank == 0 ? y : y2, Options(8, comm)), out _);
        Assert.Equal("Data-parallel training: the 2 ranks disagree on the training samples (this rank 1: 20; range over ranks 16 … 20). " +
                     "Every rank must train the same model on the same data with the same options.", Assert.IsType<DistributedException>(samples[1].Error).Message);
    }

    [Fact]
    public void WeightsThatDriftApartOnOneRank_StopTraining_AfterTheEpoch()
    {
        var (x, y) = Data(16);
        var runs = OnRanks(2, comm =>
        {
            var m = new TinyMlp(5, 6, 3, seed: 9, dtype: DType.Float64);
            var o = Options(8, comm, epochs: 3);
            if (comm.Rank == 1) o.OnBatchEnd = _ => { using (FlexNet.Autodiff.Autograd.NoGrad()) m.B2.CopyFrom(m.B2 + 1e-3); };
            return Trainer.Fit(m, x, y, o);
        }, out _);
        foreach (var (rank, (_, error)) in runs.Select((r, i) => (i, r)))
        {
            string msg = Assert.IsType<DistributedException>(error).Message;
            Assert.StartsWith($"Data-parallel training: after epoch 1 the weights differ between ranks (hash on rank {rank}: ", msg);
            Assert.EndsWith("). Something rank-local changed them (a callback, batch-norm statistics, or an MPI whose all-reduce is not bitwise identical on every rank).", msg);
        }
    }

    [Fact]
    public void RulesAndLossesThatCannotBeAveraged_AreRefused()
    {
        var (x, y) = Data(16);
        var esgd = OnRanks(2, comm =>
        {
            var o = Options(8, comm);
            o.Optimizer = new Esgd();
            return Trainer.Fit(new TinyMlp(5, 6, 3, seed: 9, dtype: DType.Float64), x, y, o);
        }, out _);
        foreach (var (_, error) in esgd)
            Assert.Equal("Trainer: data-parallel training does not support the 'esgd' rule (it re-evaluates the loss inside the step).", Assert.IsType<ArgumentException>(error).Message);

        var sum = OnRanks(2, comm =>
        {
            var o = Options(8, comm);
            o.Loss = new CrossEntropy { Reduction = Reduction.Sum };
            return Trainer.Fit(new TinyMlp(5, 6, 3, seed: 9, dtype: DType.Float64), x, y, o);
        }, out _);
        foreach (var (_, error) in sum)
            Assert.Equal("Trainer: data-parallel training averages the ranks' mean losses; loss 'xe' uses Reduction.Sum.", Assert.IsType<ArgumentException>(error).Message);
    }

    [Fact]
    public void Float32Ranks_FollowTheSingleProcessTrajectory_ToFloatRounding()
    {
        // float32 parameters: the gradients travel in a float buffer (Σ n_r·g_r / Σ n_r rounds differently from the
        // single process's mean, so the weights agree to float precision, and every rank has the same bits)
        var (xd, y) = Data(31);
        var x = Tensor.FromArray(xd.ToFloatArray(), 31, 5);
        var single = new TinyMlp(5, 6, 3, seed: 9);
        TrainerOptions TwoMetrics(ICommunicator? comm)
        {
            var o = Options(8, comm);
            o.Metrics = [Metric.Create("accuracy"), new TopKAccuracy(2)]; // two metrics' sums and counts travel
            return o;
        }
        var h1 = Trainer.Fit(single, x, y, TwoMetrics(null));
        var expected = single.Snapshot();
        var runs = OnRanks(2, comm =>
        {
            var m = new TinyMlp(5, 6, 3, seed: comm.Rank == 0 ? 9UL : 77UL);
            var h = Trainer.Fit(m, x, y, TwoMetrics(comm));
            return (m.Snapshot(), h);
        }, out var group);
        Assert.Empty(group.AbortMessages);
        AssertFollowed(expected, h1, Results(runs), 1e-5, "acc", "top2");
    }

    public static TheoryData<string, string> Disagreements() => new()
    {
        { "epochs", "the epochs (this rank 1: 3; range over ranks 2 … 3)" },
        { "seed", "the seed (this rank 1: 6; range over ranks 5 … 6)" },
        { "shuffle", "the shuffle (this rank 1: 0; range over ranks 0 … 1)" },
        { "metrics", "the metrics (this rank 1: 0; range over ranks 0 … 1)" },
        { "validation split", "the validation split (ppm) (this rank 1: 260000; range over ranks 250000 … 260000)" },
        { "parameter elements", "the parameter elements (this rank 1: 66; range over ranks 57 … 66)" },
    };

    [Theory]
    [MemberData(nameof(Disagreements))]
    public void Ranks_ThatDisagreeOnOneSetting_StopNamingIt(string what, string text)
    {
        var (x, y) = Data(16);
        var runs = OnRanks(2, comm =>
        {
            var o = Options(8, comm);
            o.ValidationSplit = what == "validation split" ? 0.25 : 0; // both ranks then hold out 4 of 16 samples
            int hidden = 6;
            if (comm.Rank == 1)
                switch (what)
                {
                    case "epochs": o.Epochs = 3; break;
                    case "seed": o.Seed = 6; break;
                    case "shuffle": o.Shuffle = false; break;
                    case "metrics": o.Metrics = []; break;
                    case "validation split": o.ValidationSplit = 0.26; break;
                    case "parameter elements": hidden = 7; break; // 5·6 + 6 + 6·3 + 3 = 57 elements; 7 hidden: 35 + 7 + 21 + 3 = 66
                }
            return Trainer.Fit(new TinyMlp(5, hidden, 3, seed: 9, dtype: DType.Float64), x, y, o);
        }, out _);
        Assert.Equal($"Data-parallel training: the 2 ranks disagree on {text}. Every rank must train the same model on the same data with the same options.",
                     Assert.IsType<DistributedException>(runs[1].Error).Message);
        Assert.IsType<DistributedException>(runs[0].Error);
    }

    [Fact]
    public void OneCancelledRank_StopsEveryRank_BeforeTheFirstUpdate()
    {
        var (x, y) = Data(16);
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        var start = new TinyMlp(5, 6, 3, seed: 9, dtype: DType.Float64).Snapshot();
        var runs = OnRanks(2, comm =>
        {
            var m = new TinyMlp(5, 6, 3, seed: 9, dtype: DType.Float64);
            var o = Options(8, comm);
            if (comm.Rank == 1) o.CancellationToken = cancelled.Token;
            var h = Trainer.Fit(m, x, y, o);
            return (m.Snapshot(), h);
        }, out var group);
        Assert.Empty(group.AbortMessages);
        foreach (var (result, error) in runs)
        {
            Assert.Null(error);
            Assert.True(result.h.Cancelled);
            for (int p = 0; p < start.Length; p++) Assert.Equal(start[p], result.Item1[p]); // no step taken
        }
    }

    [Fact]
    public void ANonFiniteLossOnOneRank_IsNamedThere_AndStopsTheOthers()
    {
        // 16 samples, unshuffled batches of 8: rank 1 takes samples 4-7 of the first batch; sample 6 holds a NaN
        var (x, y) = Data(16);
        var xv = x.ToDoubleArray();
        xv[6 * 5 + 2] = double.NaN;
        var bad = Tensor.FromArray(xv, 16, 5);
        var runs = OnRanks(2, comm =>
        {
            var o = Options(8, comm);
            o.Shuffle = false;
            return Trainer.Fit(new TinyMlp(5, 6, 3, seed: 9, dtype: DType.Float64), bad, y, o);
        }, out var group);
        Assert.Equal("Non-finite loss NaN in phase 'forward' at step 1 (epoch 1, batch 1): input 0 [4, 5] has 1 non-finite values (bad data); " +
                     "layer 'hid' [4, 6] is the first with non-finite values (6); output 0 [4, 3] has 3 non-finite values.",
                     Assert.IsType<NonFiniteValueException>(runs[1].Error).Message);
        Assert.NotNull(runs[0].Error); // rank 0 waits in the step's all-reduce until rank 1 aborts the group
        Assert.Contains(group.AbortMessages, m => m.StartsWith("FlexNet data-parallel training failed on rank 1 of 2: FlexNet.NonFiniteValueException: Non-finite loss NaN", StringComparison.Ordinal));
    }
}
