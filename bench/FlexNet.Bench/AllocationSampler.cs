using System.Diagnostics.Tracing;

namespace FlexNet.Bench;

/// <summary>
/// Samples managed allocations by type through the runtime's GCAllocationTick events (one event per ~100 KB
/// allocated, naming the type of the object that crossed the mark), for finding what a training step allocates.
/// On when FLEXNET_BENCH_ALLOC_TYPES=1: the train_step_alloc_bytes_* figures then log the top types.
/// </summary>
internal sealed class AllocationSampler : EventListener
{
    private readonly Dictionary<string, long> _bytes = new(StringComparer.Ordinal);
    private readonly object _gate = new();
    private bool _on;

    public static bool Enabled => Environment.GetEnvironmentVariable("FLEXNET_BENCH_ALLOC_TYPES") == "1";

    public void Start()
    {
        lock (_gate) { _bytes.Clear(); _on = true; }
    }

    public IReadOnlyList<(string Type, long Bytes)> Stop(int top)
    {
        lock (_gate)
        {
            _on = false;
            return _bytes.OrderByDescending(kv => kv.Value).Take(top).Select(kv => (kv.Key, kv.Value)).ToList();
        }
    }

    protected override void OnEventSourceCreated(EventSource source)
    {
        if (source.Name == "Microsoft-Windows-DotNETRuntime")
            EnableEvents(source, EventLevel.Verbose, (EventKeywords)0x1); // GC keyword: AllocationTick
    }

    protected override void OnEventWritten(EventWrittenEventArgs e)
    {
        if (e.EventName is null || !e.EventName.StartsWith("GCAllocationTick", StringComparison.Ordinal) || e.Payload is null) return;
        int iType = e.PayloadNames!.IndexOf("TypeName"), iAmount = e.PayloadNames.IndexOf("AllocationAmount64");
        if (iType < 0) return;
        string type = e.Payload[iType] as string ?? "?";
        long amount = iAmount >= 0 ? Convert.ToInt64(e.Payload[iAmount]) : 100_000;
        lock (_gate)
        {
            if (!_on) return;
            _bytes[type] = _bytes.GetValueOrDefault(type) + amount;
        }
    }
}
