using System.Globalization;
using FlexNet.Training;
using ScottPlot;

namespace FlexNet.Cli.Reports;

/// <summary>
/// The history of a training as pictures (ScottPlot 5, drawn with SkiaSharp's self-contained Linux assets, so no
/// display or font package is needed): one figure per quantity — the loss and every metric — with the training
/// value of each epoch and, when the run was validated, the validation value, written as PNG and SVG beside the model
/// file: <c>--out m.flexnet</c> gives <c>m.loss.png</c>, <c>m.loss.svg</c>, <c>m.acc.png</c>, <c>m.acc.svg</c>, ....
/// The learning rate and the epoch time are in the history CSV only.
/// </summary>
internal static class HistoryPlots
{
    /// <summary>Width and height of every figure, in pixels.</summary>
    internal const int Width = 640, Height = 400;

    /// <summary>The quantities plotted: history keys other than <c>lr</c>, <c>time</c> and the <c>val_</c> ones, in order.</summary>
    internal static List<string> Quantities(History history)
    {
        var names = new List<string>();
        foreach (var k in history.Values.Keys)
        {
            string n = k.StartsWith("val_", StringComparison.Ordinal) ? k[4..] : k;
            if (n is not ("time" or "lr") && !names.Contains(n)) names.Add(n);
        }
        return names;
    }

    /// <summary>Writes <c>STEM.NAME.png</c> and <c>STEM.NAME.svg</c> for every quantity.</summary>
    /// <param name="history">The epochs trained.</param>
    /// <param name="stem">The model file without its extension (<c>runs/m</c>).</param>
    /// <param name="title">The network's name, for the figures' titles.</param>
    /// <returns>The files written.</returns>
    internal static List<string> Write(History history, string stem, string title)
    {
        var written = new List<string>();
        foreach (string name in Quantities(history))
        {
            using var plot = Figure(history, name, title);
            string png = $"{stem}.{name}.png", svg = $"{stem}.{name}.svg";
            WriteAtomically(png, path => plot.SavePng(path, Width, Height));
            WriteAtomically(svg, path => plot.SaveSvg(path, Width, Height));
            written.Add(png);
            written.Add(svg);
        }
        return written;
    }

    internal static Plot Figure(History history, string name, string title)
    {
        var plot = new Plot();
        int points = 0;
        points += AddSeries(plot, history, name, "train", Colors.C0);
        points += AddSeries(plot, history, "val_" + name, "validation", Colors.C1);
        plot.Title($"{title}: {name}");
        plot.XLabel("epoch");
        plot.YLabel(name);
        plot.ShowLegend(Alignment.UpperRight);
        if (points > 0 && history.Epochs.Count > 0)
        {
            // whole epochs on the x axis
            var ticks = new ScottPlot.TickGenerators.NumericAutomatic { IntegerTicksOnly = true };
            plot.Axes.Bottom.TickGenerator = ticks;
        }
        return plot;
    }

    private static int AddSeries(Plot plot, History history, string key, string label, Color color)
    {
        if (!history.Values.TryGetValue(key, out var values)) return 0;
        var xs = new List<double>();
        var ys = new List<double>();
        for (int i = 0; i < history.Epochs.Count && i < values.Count; i++)
        {
            if (!double.IsFinite(values[i])) continue; // an epoch that was not validated
            xs.Add(history.Epochs[i] + 1);
            ys.Add(values[i]);
        }
        if (xs.Count == 0) return 0;
        var s = plot.Add.Scatter(xs.ToArray(), ys.ToArray(), color);
        s.LegendText = label;
        s.LineWidth = 2;
        s.MarkerSize = 6;
        return xs.Count;
    }

    private static void WriteAtomically(string path, Action<string> save)
    {
        string tmp = path + "." + Environment.ProcessId.ToString(CultureInfo.InvariantCulture) + ".tmp" + Path.GetExtension(path);
        try
        {
            save(tmp);
            File.Move(tmp, path, overwrite: true);
        }
        finally
        {
            if (File.Exists(tmp)) File.Delete(tmp);
        }
    }
}
