using System.Globalization;
using System.Text;

namespace FlexNet.Training;

/// <summary>Live single-line progress (redrawn with <c>\r</c>, at most ten times a second) or one plain line per epoch.
/// Rates are samples over the seconds since the epoch began; the ETA is the mean time per batch so far times the
/// batches left.</summary>
internal sealed class ProgressPrinter
{
    private readonly TextWriter? _out;
    private readonly bool _live;
    private readonly int _epochs;
    private readonly int _batches;
    private readonly TimeProvider _time;
    private long _epochStart;
    private long _lastDraw; // timestamp of the last drawing (the epoch's start before the first)
    private static readonly TimeSpan Throttle = TimeSpan.FromMilliseconds(100);
    private int _lastLength;
    private long _samples;

    /// <param name="mode">None, Plain, Live, or Auto (live only when writing to the console on a terminal).</param>
    /// <param name="output">Where lines go (null: the console).</param>
    /// <param name="epochs">Epochs of the run.</param>
    /// <param name="batches">Batches per epoch.</param>
    /// <param name="time">The clock (tests give a fake one; null: the system's).</param>
    /// <param name="consoleIsTerminal">Whether the console writes to a terminal (tests; null: asks the console).</param>
    internal ProgressPrinter(ProgressMode mode, TextWriter? output, int epochs, int batches, TimeProvider? time = null, bool? consoleIsTerminal = null)
    {
        _epochs = epochs;
        _batches = batches;
        _time = time ?? TimeProvider.System;
        _epochStart = _time.GetTimestamp();
        if (mode == ProgressMode.None) return;
        _out = output ?? Console.Out;
        bool terminal = output is null && (consoleIsTerminal ?? !Console.IsOutputRedirected);
        _live = mode == ProgressMode.Live || (mode == ProgressMode.Auto && terminal);
    }

    /// <summary>Whether batches redraw a live line (tests).</summary>
    internal bool IsLive => _live;

    private double Elapsed => _time.GetElapsedTime(_epochStart).TotalSeconds;

    internal void BeginEpoch()
    {
        _epochStart = _time.GetTimestamp();
        _samples = 0;
        _lastDraw = _epochStart;
    }

    internal void Batch(int epoch, int batch, int batchSamples, double meanLoss, IReadOnlyList<(string Name, double Value)> metrics)
    {
        _samples += batchSamples;
        if (!_live || _out is null) return;
        long now = _time.GetTimestamp();
        if (batch + 1 < _batches && _time.GetElapsedTime(_lastDraw, now) < Throttle) return;
        _lastDraw = now;
        double secs = Math.Max(_time.GetElapsedTime(_epochStart, now).TotalSeconds, 1e-9);
        double rate = _samples / secs;
        double eta = secs / (batch + 1) * (_batches - batch - 1);
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"Epoch {epoch + 1}/{_epochs}  {batch + 1}/{_batches}  loss {meanLoss:F4}");
        foreach (var (n, v) in metrics) sb.Append(CultureInfo.InvariantCulture, $"  {n} {v:F4}");
        sb.Append(CultureInfo.InvariantCulture, $"  {rate:F0} samples/s  ETA {Format(eta)}");
        string line = sb.ToString();
        int pad = Math.Max(0, _lastLength - line.Length);
        _lastLength = line.Length;
        _out.Write("\r" + line + new string(' ', pad));
        _out.Flush();
    }

    internal void EndEpoch(int epoch, IReadOnlyDictionary<string, double> logs)
    {
        if (_out is null) return;
        double secs = Elapsed;
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"Epoch {epoch + 1}/{_epochs}");
        foreach (var (k, v) in logs)
        {
            if (k is "time" or "lr" || double.IsNaN(v)) continue;
            sb.Append(CultureInfo.InvariantCulture, $"  {k} {v:F4}");
        }
        sb.Append(CultureInfo.InvariantCulture, $"  {secs:F1}s  {_samples / Math.Max(secs, 1e-9):F0} samples/s");
        string line = sb.ToString();
        if (_live)
        {
            int pad = Math.Max(0, _lastLength - line.Length);
            _out.Write("\r" + line + new string(' ', pad) + Environment.NewLine);
            _lastLength = 0;
        }
        else _out.WriteLine(line);
        _out.Flush();
    }

    internal double EpochSeconds => Elapsed;

    private static string Format(double seconds)
    {
        var t = TimeSpan.FromSeconds(Math.Max(0, Math.Min(seconds, 359999)));
        return t.TotalHours >= 1 ? $"{(int)t.TotalHours}:{t.Minutes:D2}:{t.Seconds:D2}" : $"{t.Minutes:D2}:{t.Seconds:D2}";
    }
}
