using System.Text.RegularExpressions;
using FlexNet.Training;

namespace FlexNet.Tests.Training;

/// <summary>The trainer's progress lines, written to a <see cref="StringWriter"/>: the live line (redrawn with a carriage
/// return, padded over a longer previous line, drawn at the last batch of an epoch whatever the 100 ms throttle) and the
/// plain line per epoch (logs in order, without time, lr and NaN values). Times and rates depend on the clock, so they
/// are matched as numbers; everything else is written out here.</summary>
public sealed class ProgressPrinterTests
{
    private static readonly (string, double)[] Acc = [("acc", 0.25)];

    [Fact]
    public void TheLiveLineIsRedrawnAndPaddedAndEndsWithTheEpochLine()
    {
        var w = new StringWriter();
        var p = new ProgressPrinter(ProgressMode.Live, w, epochs: 3, batches: 2);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        p.BeginEpoch();
        // the first of two batches, within 100 ms of the epoch's start: not drawn (a machine that stalled the test for
        // 90 ms or more leaves nothing to check here)
        p.Batch(0, 0, 4, 0.75, Acc);
        if (clock.ElapsedMilliseconds >= 90) return;
        Assert.Equal("", w.ToString());
        // the last batch is always drawn; the rate counts both batches' samples
        p.Batch(0, 1, 4, 0.5, Acc);
        string live = w.ToString();
        var m = Regex.Match(live, @"^\rEpoch 1/3  2/2  loss 0\.5000  acc 0\.2500  (\d+) samples/s  ETA 00:00$");
        Assert.True(m.Success, live);
        Assert.True(long.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) > 0);
        w.GetStringBuilder().Clear();

        // the epoch line replaces the live one: padded with spaces over its longer length, then a line break
        p.EndEpoch(0, new Dictionary<string, double> { ["loss"] = 0.5, ["time"] = 1.5, ["lr"] = 0.01, ["val_loss"] = double.NaN, ["acc"] = 0.25 });
        string end = w.ToString();
        var e = Regex.Match(end, @"^\rEpoch 1/3  loss 0\.5000  acc 0\.2500  \d+\.\ds  (\d+) samples/s( *)" + Regex.Escape(Environment.NewLine) + "$");
        Assert.True(e.Success, end);
        int shown = end.Length - Environment.NewLine.Length - e.Groups[2].Length;
        Assert.Equal(live.Length, shown + e.Groups[2].Length); // the pad covers exactly the longer live line
        w.GetStringBuilder().Clear();

        // the next epoch starts from an empty line: nothing to pad
        p.BeginEpoch();
        p.Batch(1, 1, 2, 0.125, []);
        Assert.Matches(@"^\rEpoch 2/3  2/2  loss 0\.1250  \d+ samples/s  ETA 00:00$", w.ToString());
    }

    [Fact]
    public void APlainPrinterWritesOneLinePerEpochAndNothingPerBatch()
    {
        var w = new StringWriter();
        var p = new ProgressPrinter(ProgressMode.Plain, w, epochs: 2, batches: 1);
        p.BeginEpoch();
        p.Batch(1, 0, 8, 0.5, Acc);
        Assert.Equal("", w.ToString());
        p.EndEpoch(1, new Dictionary<string, double> { ["loss"] = 1.0 / 3, ["val_acc"] = 0.875 });
        Assert.Matches(@"^Epoch 2/2  loss 0\.3333  val_acc 0\.8750  \d+\.\ds  \d+ samples/s" + Regex.Escape(Environment.NewLine) + "$", w.ToString());
        Assert.True(p.EpochSeconds >= 0);
    }

    [Fact]
    public void ANonePrinterWritesNothing()
    {
        var w = new StringWriter();
        var p = new ProgressPrinter(ProgressMode.None, w, epochs: 1, batches: 1);
        p.BeginEpoch();
        p.Batch(0, 0, 8, 0.5, Acc);
        p.EndEpoch(0, new Dictionary<string, double> { ["loss"] = 0.5 });
        Assert.Equal("", w.ToString());
        // Auto with a writer given is not a terminal: plain lines
        var a = new StringWriter();
        var q = new ProgressPrinter(ProgressMode.Auto, a, epochs: 1, batches: 1);
        q.BeginEpoch();
        q.Batch(0, 0, 8, 0.5, Acc);
        Assert.Equal("", a.ToString());
        q.EndEpoch(0, new Dictionary<string, double> { ["loss"] = 0.5 });
        Assert.StartsWith("Epoch 1/1  loss 0.5000  ", a.ToString());
    }

    /// <summary>A clock that moves only when told to (microsecond timestamps).</summary>
    private sealed class FakeClock : TimeProvider
    {
        private long _ticks;
        public override long TimestampFrequency => 1_000_000;
        public override long GetTimestamp() => _ticks;
        internal void At(double seconds) => _ticks = (long)Math.Round(seconds * 1e6);
    }

    private sealed class CountingWriter : StringWriter
    {
        internal int Flushes;
        public override void Flush()
        {
            Flushes++;
            base.Flush();
        }
    }

    [Fact]
    public void RatesEtasAndTheThrottle_FollowTheClock()
    {
        var clock = new FakeClock();
        var w = new CountingWriter();
        var p = new ProgressPrinter(ProgressMode.Live, w, epochs: 2, batches: 100, clock);
        clock.At(5);
        p.BeginEpoch(); // the epoch's clock starts here, not at construction
        // batch 1 of 100 after 30 s: 32 samples / 30 s; ETA 30 s per batch × 99 batches = 2970 s
        clock.At(35);
        p.Batch(0, 0, 32, 0.5, []);
        Assert.Equal("\rEpoch 1/2  1/100  loss 0.5000  1 samples/s  ETA 49:30", w.ToString());
        Assert.Equal(1, w.Flushes);
        // 50 ms later: within the 100 ms throttle, not drawn, but its samples count
        w.GetStringBuilder().Clear();
        clock.At(35.05);
        p.Batch(0, 1, 32, 0.25, []);
        Assert.Equal("", w.ToString());
        Assert.Equal(1, w.Flushes);
        // 99.999 ms after the last drawing: not drawn; exactly 100 ms: drawn; 96 samples / 30.1 s = 3.19; ETA 30.1 / 3 × 97 = 973.2 s
        clock.At(35.099999);
        p.Batch(0, 2, 0, 0.125, []);
        Assert.Equal("", w.ToString());
        clock.At(35.1);
        p.Batch(0, 2, 32, 0.125, []);
        Assert.Equal("\rEpoch 1/2  3/100  loss 0.1250  3 samples/s  ETA 16:13", w.ToString());
        // an ETA of hours: 7230 s / 4 × 96 = 173,520 s = 48:12:00; beyond 99:59:59 it stays there
        w.GetStringBuilder().Clear();
        clock.At(7235);
        p.Batch(0, 3, 32, 0.125, []);
        Assert.EndsWith("  0 samples/s  ETA 48:12:00", w.ToString());
        w.GetStringBuilder().Clear();
        clock.At(50005);
        p.Batch(0, 4, 32, 0.125, []);
        Assert.EndsWith("  ETA 99:59:59", w.ToString());
        // the epoch line: 50,000 s, 160 samples
        w.GetStringBuilder().Clear();
        p.EndEpoch(0, new Dictionary<string, double> { ["loss"] = 0.125 });
        string end = w.ToString();
        Assert.StartsWith("\rEpoch 1/2  loss 0.1250  50000.0s  0 samples/s", end);
        Assert.Equal(5, w.Flushes);
        Assert.Equal(50000, p.EpochSeconds, 9);

        // exactly one hour left shows as hours: 1800 s for the first of 3 batches
        var q = new ProgressPrinter(ProgressMode.Live, w, epochs: 1, batches: 3, clock);
        clock.At(0);
        q.BeginEpoch();
        clock.At(1800);
        w.GetStringBuilder().Clear();
        q.Batch(0, 0, 7200, 0.5, []);
        Assert.Equal("\rEpoch 1/1  1/3  loss 0.5000  4 samples/s  ETA 1:00:00", w.ToString());
        // the epoch line of a plain printer: its samples over its seconds
        var r = new ProgressPrinter(ProgressMode.Plain, w, epochs: 1, batches: 1, clock);
        clock.At(10);
        r.BeginEpoch();
        r.Batch(0, 0, 500, 0.5, []);
        clock.At(12.5);
        w.GetStringBuilder().Clear();
        r.EndEpoch(0, new Dictionary<string, double>());
        Assert.Equal("Epoch 1/1  2.5s  200 samples/s" + Environment.NewLine, w.ToString());
    }

    [Fact]
    public void AutoIsLiveOnlyOnTheConsoleOfATerminal()
    {
        Assert.True(new ProgressPrinter(ProgressMode.Auto, null, 1, 1, consoleIsTerminal: true).IsLive);
        Assert.False(new ProgressPrinter(ProgressMode.Auto, null, 1, 1, consoleIsTerminal: false).IsLive);
        Assert.False(new ProgressPrinter(ProgressMode.Auto, new StringWriter(), 1, 1, consoleIsTerminal: true).IsLive);
        Assert.True(new ProgressPrinter(ProgressMode.Live, new StringWriter(), 1, 1, consoleIsTerminal: false).IsLive);
        Assert.False(new ProgressPrinter(ProgressMode.Plain, null, 1, 1, consoleIsTerminal: true).IsLive);
        Assert.False(new ProgressPrinter(ProgressMode.None, null, 1, 1, consoleIsTerminal: true).IsLive);
    }
}
