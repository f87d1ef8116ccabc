using FlexNet.Distributed;
using FlexNet.Distributed.Host;

// Test host for distributed training, started by mpirun (see tests/FlexNet.Tests/Distributed and tools/mpitest.sh):
//   mpirun -np R dotnet FlexNet.Distributed.Host.dll SCENARIO [ARGS]
// Scenarios: binding | train mlp|feedback|conv | uneven | fail | kill | bench MODEL SAMPLES
if (args.Length == 0)
{
    Console.Error.WriteLine("usage: FlexNet.Distributed.Host binding|train MODEL|uneven|fail|kill|bench MODEL SAMPLES");
    return 2;
}
using var world = MpiCommunicator.Initialize();
if (world.Rank == 0) Console.WriteLine($"{world.Size} ranks, {world.Implementation} ({world.Library}), thread level {world.ThreadLevel}");
var report = new Report(world);
int code = args[0] switch
{
    "binding" => BindingChecks.Run(world, report),
    _ => -1,
};
if (code == -1)
{
    Console.Error.WriteLine($"unknown scenario '{args[0]}'");
    return 2;
}
return report.Finish() | code;
