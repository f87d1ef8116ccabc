namespace FlexNet.Distributed.Host;

/// <summary>Misuse of the communicator, checked on every rank: arguments refused before any MPI call, and every call
/// after MPI_Finalize (no collective can run then, so each rank prints its own result line, "rank R: N of N misuse
/// checks passed" or a FAIL line per check, and exits non-zero on a failure).</summary>
internal static class MisuseChecks
{
    public static int Run(MpiCommunicator world)
    {
        int rank = world.Rank, size = world.Size, failed = 0, total = 0;
        void Check(string name, bool ok, string detail)
        {
            total++;
            if (ok) return;
            failed++;
            Console.WriteLine($"rank {rank}: FAIL {name}: {detail}");
        }
        static string Thrown(Action a)
        {
            try { a(); return "nothing thrown"; }
            catch (Exception e) { return $"{e.GetType().Name}: {e.Message}"; }
        }

        Console.WriteLine($"rank {rank} is {world}");
        string got = Thrown(() => world.AllReduce<short>(new short[2], ReduceOp.Sum));
        Check("AllReduce of short", got == "ArgumentException: AllReduce supports float, double, int and long; got Int16. (Parameter 'data')", got);
        got = Thrown(() => world.AllReduce<double>(new double[2], (ReduceOp)3));
        Check("AllReduce with an unknown operation", got == "ArgumentOutOfRangeException: Unknown reduce operation 3. (Parameter 'op')", got);
        got = Thrown(() => world.Broadcast<int>(new int[2], size));
        Check("Broadcast from rank Size", got == $"ArgumentOutOfRangeException: Broadcast root must be in [0, {size}); got {size}. (Parameter 'root')", got);
        got = Thrown(() => world.Broadcast<int>(new int[2], -1));
        Check("Broadcast from rank -1", got == $"ArgumentOutOfRangeException: Broadcast root must be in [0, {size}); got -1. (Parameter 'root')", got);
        Check("the same instance while not disposed", ReferenceEquals(world, MpiCommunicator.Initialize()), "a second Initialize made another communicator");
        world.Dispose();
        world.Dispose(); // a second dispose does nothing (MPI_Finalize twice would fail)
        const string disposed = "ObjectDisposedException: MPI was finalized (the communicator is disposed).\nObject name: 'MpiCommunicator'.";
        foreach (var (name, call) in new (string, Action)[]
                 { ("AllReduce", () => world.AllReduce<float>(new float[2], ReduceOp.Sum)), ("Broadcast", () => world.Broadcast<int>(new int[2], 0)), ("Barrier", world.Barrier) })
        {
            got = Thrown(call).ReplaceLineEndings("\n");
            Check($"{name} after dispose", got == disposed, got);
        }
        got = Thrown(() => MpiCommunicator.Initialize());
        Check("Initialize after finalize", got == "DistributedException: MPI was finalized in this process; MPI cannot be initialized twice.", got);
        Check("rank and size kept", world.Rank == rank && world.Size == size, $"{world.Rank} of {world.Size}");
        Console.WriteLine(failed == 0 ? $"rank {rank}: {total} of {total} misuse checks passed" : $"rank {rank}: {failed} of {total} misuse checks failed");
        Console.Out.Flush();
        return failed == 0 ? 0 : 1;
    }
}
