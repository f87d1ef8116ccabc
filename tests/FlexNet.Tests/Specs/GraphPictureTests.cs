using System.Globalization;
using System.Xml.Linq;
using FlexNet.Cli;

namespace FlexNet.Tests.Specs;

/// <summary><c>flexnet graph --layout msagl</c>: the picture drawn from MSAGL's layout when Graphviz is not used.
/// The checks read the SVG back and test its geometry against the spec's network (every layer a box, every
/// connection an arrow from its source box to its target box, recurrent ones dashed and labelled with the delay,
/// no two boxes overlapping), so a picture with a wrong or missing edge fails.</summary>
public class GraphPictureTests
{
    private static (int Code, string Out, string Err) Run(params string[] args) => CliRunner.Run(args);

    private static double D(XElement e, string name) => double.Parse(e.Attribute(name)!.Value, CultureInfo.InvariantCulture);

    private sealed record Rect(double Left, double Top, double Right, double Bottom)
    {
        public bool Near(double x, double y, double tol) => x >= Left - tol && x <= Right + tol && y >= Top - tol && y <= Bottom + tol;
    }

    [Theory]
    [InlineData("blt.yaml")]
    [InlineData("seed_demo.yaml")]
    [InlineData("feedback.yaml")]
    public void TheMsaglSvgHasEveryLayerAndEveryConnectionWhereTheyBelong(string example)
    {
        string spec = Path.Combine(TrainingSpecTests.Examples, example);
        string file = Path.Combine(Path.GetTempPath(), $"flexnet-msagl-{Guid.NewGuid():N}.svg");
        try
        {
            var (code, output, err) = Run("graph", spec, "--format", "svg", "--layout", "msagl", "--out", file);
            Assert.True(code == 0, err);
            Assert.Contains("MSAGL", output);
            var network = FlexNet.Specs.TrainingSpec.Load(spec).Network;
            XNamespace ns = "http://www.w3.org/2000/svg";
            var svg = XDocument.Load(file).Root!;

            var boxes = new Dictionary<string, Rect>();
            foreach (var g in svg.Elements(ns + "g").Where(g => (string?)g.Attribute("class") == "layer"))
            {
                string name = g.Attribute("data-name")!.Value;
                var shape = g.Elements().First();
                var r = shape.Name.LocalName == "rect"
                    ? new Rect(D(shape, "x"), D(shape, "y"), D(shape, "x") + D(shape, "width"), D(shape, "y") + D(shape, "height"))
                    : new Rect(D(shape, "cx") - D(shape, "rx"), D(shape, "cy") - D(shape, "ry"), D(shape, "cx") + D(shape, "rx"), D(shape, "cy") + D(shape, "ry"));
                Assert.Equal(name, g.Elements(ns + "text").First().Value);
                boxes.Add(name, r);
            }
            Assert.Equal(network.Layers.Select(l => l.Name).Order(), boxes.Keys.Order());
            var list = boxes.Values.ToList();
            for (int i = 0; i < list.Count; i++)
                for (int j = i + 1; j < list.Count; j++)
                    Assert.False(list[i].Left < list[j].Right && list[j].Left < list[i].Right && list[i].Top < list[j].Bottom && list[j].Top < list[i].Bottom,
                                 $"boxes {i} and {j} overlap");
            double width = D(svg, "width"), height = D(svg, "height");
            Assert.All(list, r => Assert.True(r.Left >= 0 && r.Top >= 0 && r.Right <= width && r.Bottom <= height, "a box lies outside the picture"));

            var arrows = svg.Elements(ns + "g").Where(g => ((string?)g.Attribute("class") ?? "").StartsWith("connection", StringComparison.Ordinal)).ToList();
            var expected = network.Connections.Select(c => $"{c.From.Name}->{c.To.Name} {(c.Delay == 0 ? c.Kind : $"{c.Kind} d={c.Delay}")}").Order().ToList();
            var drawn = arrows.Select(a => $"{a.Attribute("data-from")!.Value}->{a.Attribute("data-to")!.Value} {a.Element(ns + "text")!.Value}").Order().ToList();
            Assert.Equal(expected, drawn);
            foreach (var a in arrows)
            {
                var from = boxes[a.Attribute("data-from")!.Value];
                var to = boxes[a.Attribute("data-to")!.Value];
                string d = a.Element(ns + "path")!.Attribute("d")!.Value;
                var nums = d.Split(' ', StringSplitOptions.RemoveEmptyEntries).Where(t => !char.IsLetter(t[0]))
                            .Select(t => double.Parse(t, CultureInfo.InvariantCulture)).ToArray();
                Assert.True(from.Near(nums[0], nums[1], 6), $"{d}: the edge does not start at its source box");
                var tip = a.Element(ns + "polygon")!.Attribute("points")!.Value.Split(' ')[0].Split(',')
                           .Select(t => double.Parse(t, CultureInfo.InvariantCulture)).ToArray();
                Assert.True(to.Near(tip[0], tip[1], 6), $"the arrow {a.Attribute("data-from")!.Value}->{a.Attribute("data-to")!.Value} does not end at its target box");
                bool recurrent = a.Attribute("class")!.Value.Contains("recurrent");
                Assert.Equal(recurrent, a.Element(ns + "path")!.Attribute("stroke-dasharray") is not null);
                Assert.Equal(recurrent, a.Element(ns + "text")!.Value.Contains(" d="));
            }
            Assert.Contains(network.Connections, c => c.Delay > 0);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void TheMsaglPngIsAPictureOfTheSvgsSize()
    {
        string spec = Path.Combine(TrainingSpecTests.Examples, "seed_demo.yaml");
        string dir = Path.Combine(Path.GetTempPath(), $"flexnet-msagl-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        try
        {
            string png = Path.Combine(dir, "g.png"), svg = Path.Combine(dir, "g.svg");
            Assert.Equal(0, Run("graph", spec, "--format", "png", "--layout", "msagl", "--out", png).Code);
            Assert.Equal(0, Run("graph", spec, "--format", "svg", "--layout", "msagl", "--out", svg).Code);
            byte[] b = File.ReadAllBytes(png);
            Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A }, b[..8]);
            int w = (b[16] << 24) | (b[17] << 16) | (b[18] << 8) | b[19], h = (b[20] << 24) | (b[21] << 16) | (b[22] << 8) | b[23];
            var root = XDocument.Load(svg).Root!;
            Assert.Equal((int)Math.Ceiling(D(root, "width")), w);
            Assert.Equal((int)Math.Ceiling(D(root, "height")), h);
            Assert.Equal(["g.png", "g.svg"], Directory.GetFiles(dir).Select(Path.GetFileName).Order().ToArray()); // no temporary left
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}
