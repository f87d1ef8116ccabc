using FlexNet.Distributed;
using FlexNet.Distributed.Host;

// Test host for distributed training, started by mpirun (see tests/FlexNet.Tests/Distributed and tools/mpitest.sh):
//   mpirun -np R dotnet FlexNet.Distributed.Host.dll SCENARIO [ARGS]
// Scenarios: binding | train mlp|feedback|conv | uneven | resume | fail | kill | library | misuse | bench mlp|cnn|feedback|lstm SAMPLES EPOCHS BATCH
if (args.Length == 0)
{
    Console.Error.WriteLine("usage: FlexNet.Distributed.Host binding|train MODEL|uneven|resume|fail|kill|bench MODEL SAMPLES EPOCHS BATCH");
    return 2;
}
if (args[0] == "bench" && !MpiCommunicator.LaunchedUnderMpi)
    return Bench.Run(null, args[1], int.Parse(args[2]), int.Parse(args[3]), int.Parse(args[4])); // one process, no MPI
using var world = MpiCommunicator.Initialize();
if (world.Rank == 0) Console.WriteLine($"{world.Size} ranks, {world.Implementation} ({world.Library}), thread level {world.ThreadLevel}");
if (args[0] == "misuse") return MisuseChecks.Run(world); // no collective (and so no report) after MPI_Finalize
var report = new Report(world);
int code = args[0] switch
{
    "binding" => BindingChecks.Run(world, report),
    "train" => Train(world, report, args.Length > 1 ? args[1] : "mlp"),
    "uneven" => Run(() => TrainChecks.Uneven(world, report)),
    "fail" => FailureChecks.Fail(world),
    "kill" => FailureChecks.Kill(world),
    "bench" => Bench.Run(world, args[1], int.Parse(args[2]), int.Parse(args[3]), int.Parse(args[4])),
    "allreduce" => Bench.AllReduce(world, int.Parse(args[1]), int.Parse(args[2])),
    "control" => Run(() => TrainChecks.Control(world, report)),
    "disagree" => TrainChecks.Disagree(world),
    "resume" => Run(() => TrainChecks.Resume(world, report, 40, 8)),
    "library" => Run(() => Console.WriteLine($"rank {world.Rank} runs {typeof(FlexNet.Graph.Network).Assembly.Location}")),
    _ => -1,
};
if (code == -1)
{
    Console.Error.WriteLine($"unknown scenario '{args[0]}'");
    return 2;
}
return report.Finish() | code;

static int Run(Action a)
{
    a();
    return 0;
}

static int Train(ICommunicator c, Report report, string kind)
{
    // 50 samples in batches of 16: 16, 16, 16, 2 (the last one smaller than 3 ranks).
    TrainChecks.Train(c, report, kind, 50, 16, 3);
    return 0;
}
