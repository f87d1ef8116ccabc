using System.Runtime.ExceptionServices;

namespace FlexNet.Kernels;

/// <summary>A parallel loop body: runs item <c>i</c> of a region (a class instance reused across calls, so a
/// region allocates nothing).</summary>
internal interface IParallelBody
{
    void Run(int index);
}

/// <summary>
/// The kernels' own coarse-grained workers, in place of <c>Parallel.For</c> (which allocates its task and range
/// bookkeeping, 1-2 KB, at every call, and whose thread-pool workers spin while waiting). A region of
/// <c>count</c> items is shared by the calling thread and <see cref="Environment.ProcessorCount"/> − 1 long-lived
/// background threads: every participant claims the next unclaimed item with an atomic increment until none is
/// left, so a thread that the OS does not schedule (another process is busy on its core) holds up at most the one
/// item it claimed while the others take the rest; the caller itself always works, and never waits for a worker
/// that has not woken up. Item 0 is always the caller's (the others claim from item 1 on), so a kernel that splits
/// its work the same way at every call keeps each block of its data on the same core. Workers poll for the next
/// region for 20 µs after one ends, then sleep on an event (nothing spins when idle).
/// <para>One region runs at a time: a call from inside a region (a kernel within a kernel) or from a second
/// thread while a region runs executes its items inline, in order, on the calling thread. Which thread runs an
/// item never changes what the item computes, so results do not depend on the core count or the scheduling.</para>
/// </summary>
internal static class WorkerPool
{
    private sealed class Worker
    {
        public readonly ManualResetEventSlim Go = new(false, 40);
        public long Generation;
    }

    private static readonly object Gate = new();
    private static Worker[]? _workers;
    [ThreadStatic] private static bool t_inside;

    // The live region. _state packs (generation << 32) | next item: a claim is a compare-and-swap on it, so a
    // worker that wakes late for a finished region can never claim an item of the next one.
    private static long _state;
    private static long _generation;
    private static IParallelBody? _body;
    private static int _count;
    private static int _pending;
    private static Exception? _error;

    /// <summary>True on a thread that is running an item of a region (a kernel called from there runs serially).</summary>
    internal static bool InsideRegion => t_inside;

    /// <summary>Threads the regions use (caller included).</summary>
    internal static int Threads => Environment.ProcessorCount;

    /// <summary>Runs <c>body.Run(i)</c> for i in [0, <paramref name="count"/>), spread over the workers.</summary>
    public static void For(int count, IParallelBody body)
    {
        if (count <= 0) return;
        if (count == 1 || Environment.ProcessorCount < 2)
        {
            for (int i = 0; i < count; i++) body.Run(i);
            return;
        }
        if (t_inside || !Monitor.TryEnter(Gate))
        {
            // nested, or another thread's region is live: the items run here, in order, and count as inside a region
            // (a kernel they call runs serially, as it would on a worker)
            bool was = t_inside;
            t_inside = true;
            try { for (int i = 0; i < count; i++) body.Run(i); }
            finally { t_inside = was; }
            return;
        }
        try
        {
            var workers = _workers ??= Start(Environment.ProcessorCount - 1);
            long gen = ++_generation;
            // invalidate first (no item claimable), then publish the region, then open it
            Volatile.Write(ref _state, gen << 32 | int.MaxValue);
            _body = body;
            _count = count;
            _error = null;
            Volatile.Write(ref _pending, count);
            // item 0 is the caller's: the others claim from 1 on
            Volatile.Write(ref _state, gen << 32 | 1);
            int wake = Math.Min(workers.Length, count - 1);
            for (int w = 0; w < wake; w++)
            {
                Volatile.Write(ref workers[w].Generation, gen);
                workers[w].Go.Set();
            }
            t_inside = true;
            try
            {
                RunItem(body, 0);
                Drain(gen);
            }
            finally { t_inside = false; }
            // wait for items other threads claimed and still run (never for a worker that claimed nothing)
            WaitUntilZero(ref _pending);
            _body = null;
            if (_error is { } e)
            {
                _error = null;
                ExceptionDispatchInfo.Capture(e).Throw();
            }
        }
        finally
        {
            Monitor.Exit(Gate);
        }
    }

    /// <summary>Claims and runs items of region <paramref name="gen"/> until none is left.</summary>
    private static void Drain(long gen)
    {
        while (true)
        {
            long s = Volatile.Read(ref _state);
            if (s >> 32 != gen) return;
            int i = (int)(s & 0xFFFF_FFFF);
            var body = _body;
            int count = _count;
            if (i >= count || body is null) return;
            if (Interlocked.CompareExchange(ref _state, s + 1, s) != s) continue;
            // the claim succeeded while the state still belonged to gen, so body and count were gen's
            RunItem(body, i);
        }
    }

    /// <summary>Runs item <paramref name="i"/>, keeps its exception (the first of a region) for the caller and
    /// counts it done.</summary>
    private static void RunItem(IParallelBody body, int i)
    {
        try { body.Run(i); }
        catch (Exception e) { Interlocked.CompareExchange(ref _error, e, null); }
        Interlocked.Decrement(ref _pending);
    }

    /// <summary>
    /// Waits until <paramref name="value"/> reads 0: a tight poll (one normalised pause, ~35 ns, between reads) for
    /// <see cref="SpinTicks"/>, then <see cref="SpinWait"/>'s back-off. The back-off alone lets a wait of 0.5 µs
    /// overshoot by as much again (its pauses double: 35, 70, 140 ns, ...): with the worker's poll below, ~10 % of a
    /// 64³ product split over two cores (1 µs a core; session 18, Zen 5). A wait longer than the tight phase (a big
    /// product's task) falls back to the back-off, whose overshoot is then small beside the wait.
    /// </summary>
    internal static void WaitUntilZero(ref int value)
    {
        if (Volatile.Read(ref value) == 0) return;
        long until = System.Diagnostics.Stopwatch.GetTimestamp() + SpinTicks;
        while (System.Diagnostics.Stopwatch.GetTimestamp() < until)
        {
            Thread.SpinWait(1);
            if (Volatile.Read(ref value) == 0) return;
        }
        var spin = new SpinWait();
        while (Volatile.Read(ref value) != 0) spin.SpinOnce(sleep1Threshold: -1);
    }

    private static Worker[] Start(int n)
    {
        var ws = new Worker[n];
        for (int i = 0; i < n; i++)
        {
            var w = ws[i] = new Worker();
            var t = new Thread(() => Loop(w)) { IsBackground = true, Name = $"FlexNet worker {i + 1}" };
            t.Start();
        }
        return ws;
    }

    /// <summary>How long a worker that finished a region polls for the next one before it blocks (kernels come
    /// back to back in a training step: waking a blocked thread costs about as much as a small region).</summary>
    private static readonly long SpinTicks = System.Diagnostics.Stopwatch.Frequency / 50_000; // 20 µs

    private static void Loop(Worker w)
    {
        t_inside = true;
        long last = 0;
        while (true)
        {
            long gen = 0;
            long until = System.Diagnostics.Stopwatch.GetTimestamp() + SpinTicks;
            do
            {
                long s = Volatile.Read(ref _state);
                if (s >> 32 != last && (int)(s & 0xFFFF_FFFF) < Volatile.Read(ref _count))
                {
                    gen = s >> 32;
                    break;
                }
                Thread.SpinWait(1); // ~35 ns between reads (8, ~280 ns, saw a region ~0.1 µs later on average)
            }
            while (System.Diagnostics.Stopwatch.GetTimestamp() < until);
            if (gen == 0)
            {
                w.Go.Wait();
                w.Go.Reset();
                gen = Volatile.Read(ref w.Generation);
            }
            last = gen;
            Drain(gen);
        }
    }
}
