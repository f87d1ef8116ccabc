using System.Diagnostics;
using FlexNet.Training;

namespace FlexNet.Distributed.Host;

/// <summary>Scenarios whose success is that the whole job stops: the test that launches them checks the exit code,
/// the time and the messages. The last rank fails after a few steps while the others keep training for a long
/// time (a hang would show as a timeout).</summary>
internal static class FailureChecks
{
    /// <summary>The last rank dereferences null inside an OnBatchEnd callback at step 3: the trainer must abort all
    /// ranks with a message naming the failing rank (this also checks that .NET still turns the SIGSEGV of a null
    /// dereference into a NullReferenceException once MPI is initialized).</summary>
    public static int Fail(ICommunicator c) => TrainUntil(c, onStep3: () =>
    {
        Console.WriteLine($"rank {c.Rank} fails now at {DateTime.UtcNow:O}");
        Console.Out.Flush();
        string? s = Environment.GetEnvironmentVariable("FLEXNET_SURELY_UNSET_VARIABLE");
        _ = s!.Length; // a real null dereference
    });

    /// <summary>The last rank kills itself with SIGKILL at step 3 (no chance to call MPI_Abort): the launcher must
    /// stop the others.</summary>
    public static int Kill(ICommunicator c) => TrainUntil(c, onStep3: () =>
    {
        Console.WriteLine($"rank {c.Rank} sends itself SIGKILL at {DateTime.UtcNow:O}");
        Console.Out.Flush();
        Process.GetCurrentProcess().Kill(); // SIGKILL on Unix
    });

    private static int TrainUntil(ICommunicator c, Action onStep3)
    {
        var (x, y) = Models.Data("mlp", 64);
        var net = Models.Mlp(1);
        var o = Models.Options("mlp", 100_000, 8);
        o.Communicator = c;
        int last = c.Size - 1;
        o.OnBatchEnd = info => { if (c.Rank == last && info.Step == 3) onStep3(); };
        new Trainer(net.AsTrainable(), o).Fit(x, y);
        Console.WriteLine($"rank {c.Rank}: training finished although rank {last} failed");
        return 3;
    }
}
