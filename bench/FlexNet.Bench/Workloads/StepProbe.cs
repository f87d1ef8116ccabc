using System.Diagnostics;
using FlexNet.Training;
using FlexNet.Tensors;

namespace FlexNet.Bench.Workloads;

/// <summary>
/// A data set that measures the trainer's steps from the inside: <see cref="Trainer"/> asks it for a batch once at
/// the start of every step, so the difference between two consecutive calls is one whole training step (batch
/// gather, forward, loss, backward, optimizer step, the trainer's bookkeeping), with no callback of the measurement
/// in between (an <c>OnBatchEnd</c> callback would add its own record per step). It is asked the way the trainer asks
/// the wrapped data set itself: through the library's internal filling path (<see cref="IFillsBatch"/>, no
/// <see cref="Batch"/> per step) for a <see cref="TensorDataset"/>, through <see cref="IDataset.GetBatch"/> otherwise.
/// Per step it records the managed bytes allocated by all threads (<see cref="GC.GetTotalAllocatedBytes(bool)"/>
/// with precise = true), the wall-clock time and the peak of pooled tensor bytes held (above what was held when
/// the step began). After <c>steps</c> calls it cancels the run.
/// </summary>
internal sealed class StepProbe : IDataset, IFillsBatch
{
    private readonly IDataset _inner;
    private readonly long[] _bytes, _ticks, _peaks;
    private readonly TimeSpan[] _cpu;
    private readonly CancellationTokenSource _cts = new();
    private long _baseLive;
    private int _calls;
    private readonly int _atStep;
    private readonly Action? _atStepAction;

    /// <summary>Wraps <paramref name="inner"/> for <paramref name="steps"/> training steps; calls
    /// <paramref name="atStepAction"/> when step <paramref name="atStep"/> begins (e.g. to start a sampler after warm-up).</summary>
    public StepProbe(IDataset inner, int steps, int atStep = -1, Action? atStepAction = null)
    {
        _inner = inner;
        _atStep = atStep;
        _atStepAction = atStepAction;
        _bytes = new long[steps + 1];
        _ticks = new long[steps + 1];
        _peaks = new long[steps + 1];
        _cpu = new TimeSpan[steps + 1];
    }

    /// <summary>Cancels the trainer once every step has been measured (give it to <see cref="TrainerOptions.CancellationToken"/>).</summary>
    public CancellationToken Token => _cts.Token;

    public int Count => _inner.Count;

    public Batch GetBatch(ReadOnlySpan<int> indices)
    {
        Mark();
        return _inner.GetBatch(indices);
    }

    void IFillsBatch.FillBatch(ReadOnlySpan<int> indices, StepBatch into)
    {
        Mark();
        into.Load(_inner, indices);
    }

    private void Mark()
    {
        int k = _calls++;
        if (k == _atStep) _atStepAction?.Invoke();
        if (k < _bytes.Length)
        {
            if (k > 0) _peaks[k - 1] = FlexNet.Tensors.BufferPool.PeakLiveBytes - _baseLive;
            _ticks[k] = Stopwatch.GetTimestamp();
            _cpu[k] = Environment.CpuUsage.TotalTime;
            _bytes[k] = GC.GetTotalAllocatedBytes(precise: true);
            _baseLive = FlexNet.Tensors.BufferPool.LiveBytes;
            FlexNet.Tensors.BufferPool.ResetPeak();
            if (k == _bytes.Length - 1) _cts.Cancel();
        }
    }

    /// <summary>Steps measured completely.</summary>
    public int Measured => Math.Max(0, Math.Min(_calls, _bytes.Length) - 1);

    /// <summary>Managed bytes allocated during step <paramref name="k"/> (0-based).</summary>
    public long AllocatedBytes(int k) => _bytes[k + 1] - _bytes[k];

    /// <summary>Seconds of step <paramref name="k"/>.</summary>
    public double Seconds(int k) => Stopwatch.GetElapsedTime(_ticks[k], _ticks[k + 1]).TotalSeconds;

    /// <summary>Process CPU seconds (user + system, all threads) of step <paramref name="k"/>: less sensitive than
    /// wall time to other processes taking the cores (but counts the workers' short polling).</summary>
    public double CpuSeconds(int k) => (_cpu[k + 1] - _cpu[k]).TotalSeconds;

    /// <summary>Highest pooled tensor bytes held during step <paramref name="k"/> beyond what was held at its start.</summary>
    public long PeakTensorBytes(int k) => _peaks[k];

    /// <summary>Trains <paramref name="model"/> on <paramref name="data"/> with <paramref name="options"/> (its
    /// Epochs and CancellationToken are set here) for <paramref name="steps"/> measured steps and returns the probe.</summary>
    public static StepProbe Run(IMultiTrainable model, TrainerOptions options, IDataset data, int steps)
    {
        var probe = new StepProbe(data, steps);
        probe.Train(model, options);
        return probe;
    }

    /// <summary>Trains <paramref name="model"/> through this probe until every step is measured.</summary>
    public void Train(IMultiTrainable model, TrainerOptions options)
    {
        int steps = _bytes.Length - 1;
        int perEpoch = (_inner.Count + options.BatchSize - 1) / options.BatchSize;
        options.Epochs = (steps + 1 + perEpoch - 1) / perEpoch + 1;
        options.CancellationToken = Token;
        if (options.Progress == ProgressMode.Auto) options.Progress = ProgressMode.None;
        new Trainer(model, options).Fit(this);
        if (Measured < steps) throw new InvalidOperationException($"bench: only {Measured} of {steps} steps were measured");
    }

    /// <summary>The median of <paramref name="f"/> over steps [<paramref name="from"/>, Measured).</summary>
    public double Median(Func<int, double> f, int from)
    {
        var xs = new double[Measured - from];
        for (int k = from; k < Measured; k++) xs[k - from] = f(k);
        return Timing.Median(xs);
    }

    /// <summary>The values of <paramref name="f"/> over steps [<paramref name="from"/>, Measured).</summary>
    public double[] Values(Func<int, double> f, int from)
    {
        var xs = new double[Measured - from];
        for (int k = from; k < Measured; k++) xs[k - from] = f(k);
        return xs;
    }

    /// <summary>The machine's load averages (/proc/loadavg), for logs beside timings.</summary>
    public static string Load()
    {
        try { return "load average " + string.Join(" ", File.ReadAllText("/proc/loadavg").Split(' ').Take(3)); }
        catch (IOException) { return "load average unknown"; }
        catch (UnauthorizedAccessException) { return "load average unknown"; }
    }
}
