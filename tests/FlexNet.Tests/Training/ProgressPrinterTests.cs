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
}
