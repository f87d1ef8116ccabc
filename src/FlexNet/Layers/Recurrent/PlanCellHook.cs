using System.Runtime.CompilerServices;
using FlexNet.Graph;

namespace FlexNet.Layers.Recurrent;

/// <summary>Gives the graph plan (a lower tier) the whole-sequence LSTM op for the LSTM cells it fuses.</summary>
internal static class PlanCellHook
{
#pragma warning disable CA2255 // the library's own hook: ExecutionPlan (a lower tier) runs fused LSTM cells through it
    [ModuleInitializer]
    internal static void Hook() => ExecutionPlan.LstmSequenceOp = LstmSequence.Apply;
#pragma warning restore CA2255
}
