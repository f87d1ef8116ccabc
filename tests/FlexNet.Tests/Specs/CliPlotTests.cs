using System.Globalization;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using FlexNet.Cli;

namespace FlexNet.Tests.Specs;

/// <summary><c>flexnet train --out</c> draws the history (ScottPlot): one PNG and one SVG per quantity beside the model
/// file, whose series carry the values of the history CSV.</summary>
public class CliPlotTests
{
    private static (int Code, string Out, string Err) Run(params string[] args) => CliRunner.Run(args);

    [Fact]
    public void TrainWritesALossAndAnAccuracyFigureWhoseSeriesAreTheHistory()
    {
        string dir = Path.Combine(Path.GetTempPath(), "flexnet-plot-" + Guid.NewGuid().ToString("N"));
        try
        {
            const int epochs = 4;
            string model = Path.Combine(dir, "m.flexnet");
            var (code, output, err) = Run("train", Path.Combine(TrainingSpecTests.Examples, "mlp.yaml"), "--epochs", epochs.ToString(CultureInfo.InvariantCulture),
                                          "--limit", "600", "--batch", "64", "--out", model);
            Assert.True(code == 0, output + err);
            var csv = File.ReadAllLines(Path.Combine(dir, "m.history.csv"));
            var header = csv[0].Split(',');
            double[] Column(string name)
            {
                int c = Array.IndexOf(header, name);
                Assert.True(c > 0, $"no column {name} in {csv[0]}");
                return csv.Skip(1).Select(l => double.Parse(l.Split(',')[c], CultureInfo.InvariantCulture)).ToArray();
            }
            foreach (string q in new[] { "loss", "acc" })
            {
                string png = Path.Combine(dir, $"m.{q}.png"), svg = Path.Combine(dir, $"m.{q}.svg");
                Assert.Contains(png, output);
                // PNG: the 8-byte signature, then an IHDR chunk of 640 × 400
                var bytes = File.ReadAllBytes(png);
                Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A }, bytes[..8]);
                Assert.Equal("IHDR", System.Text.Encoding.ASCII.GetString(bytes, 12, 4));
                Assert.Equal(640, System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(16)));
                Assert.Equal(400, System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(20)));
                // SVG: well-formed XML whose clipped data lines are the train and validation series
                var doc = XDocument.Load(svg);
                Assert.Equal("svg", doc.Root!.Name.LocalName);
                Assert.Contains(doc.Descendants().Where(e => e.Name.LocalName == "text"), t => t.Value.Contains(q, StringComparison.Ordinal));
                // (the legend is a clipped group too, the one with text)
                var series = doc.Descendants().Where(e => e.Name.LocalName == "g" && e.Attribute("clip-path") is not null && !e.Elements().Any(c => c.Name.LocalName == "text"))
                    .SelectMany(g => g.Elements().Where(e => e.Name.LocalName == "path"))
                    .Select(p => Points(p.Attribute("d")!.Value)).ToList();
                Assert.Equal(2, series.Count);
                AssertDrawn(Column(q), series[0], q);
                AssertDrawn(Column("val_" + q), series[1], "val_" + q);
            }
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, true);
        }
    }

    /// <summary>One point per epoch, x increasing by equal steps, and the y pixels an affine image of the values
    /// (screen y grows downwards, so a larger value is higher up): each point's height relative to the first two
    /// matches the values' within a pixel's rounding.</summary>
    private static void AssertDrawn(double[] values, List<(double X, double Y)> points, string what)
    {
        Assert.True(points.Count == values.Length, $"{what}: {points.Count} points for {values.Length} epochs");
        double dx = points[1].X - points[0].X;
        Assert.True(dx > 0, what);
        for (int i = 1; i < points.Count; i++) Assert.True(Math.Abs(points[i].X - points[i - 1].X - dx) < 0.01, $"{what}: x steps are not equal");
        int far = 1;
        for (int i = 1; i < values.Length; i++) if (Math.Abs(values[i] - values[0]) > Math.Abs(values[far] - values[0])) far = i;
        Assert.True(Math.Abs(values[far] - values[0]) > 1e-6, $"{what}: the values do not change: {string.Join(", ", values)}");
        double scale = (points[far].Y - points[0].Y) / (values[far] - values[0]);
        Assert.True(scale < 0, $"{what}: larger values must be drawn higher");
        for (int i = 0; i < values.Length; i++)
        {
            double expected = points[0].Y + scale * (values[i] - values[0]);
            Assert.True(Math.Abs(points[i].Y - expected) < 0.05, $"{what}: epoch {i + 1} drawn at y {points[i].Y}, expected {expected}");
        }
    }

    private static List<(double X, double Y)> Points(string d) =>
        Regex.Matches(d, @"[ML]\s*(-?[0-9.]+)[ ,](-?[0-9.]+)")
            .Select(m => (double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture), double.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture)))
            .ToList();
}
