using System.Globalization;
using System.Text;
using FlexNet.Graph;
using Microsoft.Msagl.Core.Geometry;
using Microsoft.Msagl.Core.Geometry.Curves;
using Microsoft.Msagl.Core.Layout;
using Microsoft.Msagl.Layout.Layered;
using Microsoft.Msagl.Miscellaneous;
using SkiaSharp;
using MsaglNode = Microsoft.Msagl.Core.Layout.Node;
using MsaglEdge = Microsoft.Msagl.Core.Layout.Edge;

namespace FlexNet.Cli.Reports;

/// <summary>
/// A network's picture when Graphviz's <c>dot</c> is not installed: the layout comes from Microsoft's Automatic Graph
/// Layout (MSAGL, NuGet <c>AutomaticGraphLayout</c>; its layered Sugiyama layout with spline edge routing), and this
/// class only paints what the layout computed — boxes for layers (ellipses for inputs), the routed edge curves with an
/// arrowhead, and labels — as SVG text or as PNG through SkiaSharp. Recurrent connections (delay ≥ 1) are drawn
/// dashed in red and labelled with their kind and delay (<c>dense d=1</c>), as in the DOT output.
/// </summary>
internal static class GraphPicture
{
    private const double FontSize = 12, LineHeight = 15, CharWidth = 7.2, Pad = 8, Margin = 16;

    /// <summary>A laid-out picture: boxes, edges and the drawing's size (y grows downwards).</summary>
    internal sealed record Picture(double Width, double Height, List<Box> Boxes, List<Arrow> Arrows);

    /// <summary>A layer's box: its centre, size, text lines and whether it is an input (ellipse).</summary>
    internal sealed record Box(string Name, double X, double Y, double W, double H, string[] Lines, bool Ellipse);

    /// <summary>A connection: the routed curve as cubic pieces (start point, then 3 points per piece), the arrow tip,
    /// the label and its position, and whether it is recurrent.</summary>
    internal sealed record Arrow(string From, string To, List<(double X, double Y)> Path, (double X, double Y) Tip,
                                 string Label, (double X, double Y) LabelAt, bool Recurrent);

    /// <summary>Lays the network out with MSAGL.</summary>
    internal static Picture Layout(Network network)
    {
        var g = new GeometryGraph();
        var nodes = new Dictionary<Layer, MsaglNode>();
        var lines = new Dictionary<Layer, string[]>();
        foreach (var l in network.Layers)
        {
            string shape = l.OutputShape is null ? "[?]" : "[" + string.Join(", ", l.OutputShape) + "]";
            var text = new List<string> { l.Name, $"{l.Kind} {shape}" };
            string extra = (l.Activation == "linear" ? "" : l.Activation) + (l.Combine == CombineRule.Sum ? "" : $" ({l.Combine})");
            if (extra.Trim().Length > 0) text.Add(extra.Trim());
            int widest = 0;
            foreach (string s in text) widest = Math.Max(widest, s.Length);
            double w = widest * CharWidth + 2 * Pad, h = text.Count * LineHeight + 2 * Pad;
            bool ellipse = l is InputLayer;
            var curve = ellipse ? CurveFactory.CreateEllipse(w / 2 + Pad, h / 2 + 2, new Point()) : CurveFactory.CreateRectangle(w, h, new Point());
            var n = new MsaglNode(curve, l);
            g.Nodes.Add(n);
            nodes[l] = n;
            lines[l] = text.ToArray();
        }
        var edges = new List<(MsaglEdge Edge, Connection Conn)>();
        foreach (var c in network.Connections)
        {
            var e = new MsaglEdge(nodes[c.From], nodes[c.To]) { UserData = c };
            // The label is a box the layout places beside the edge, so labels of parallel edges do not overlap.
            e.Label = new Label(Text(c).Length * CharWidth + 4, LineHeight, e);
            if (c.From == c.To) nodes[c.From].AddSelfEdge(e);
            else
            {
                nodes[c.From].AddOutEdge(e);
                nodes[c.To].AddInEdge(e);
            }
            g.Edges.Add(e);
            edges.Add((e, c));
        }
        var settings = new SugiyamaLayoutSettings { NodeSeparation = 30, LayerSeparation = 50 };
        LayoutHelpers.CalculateLayout(g, settings, null);

        // MSAGL's y axis points up; the picture's points down.
        var box = g.BoundingBox;
        double left = box.Left - Margin, top = box.Top + Margin;
        double X(double x) => x - left;
        double Y(double y) => top - y;
        var boxes = new List<Box>();
        foreach (var l in network.Layers)
        {
            var n = nodes[l];
            boxes.Add(new Box(l.Name, X(n.Center.X), Y(n.Center.Y), n.BoundingBox.Width, n.BoundingBox.Height, lines[l], l is InputLayer));
        }
        var arrows = new List<Arrow>();
        foreach (var (e, c) in edges)
        {
            var path = new List<(double, double)>();
            ICurve curve = e.Curve ?? new LineSegment(e.Source.Center, e.Target.Center);
            AppendCubic(curve, path, X, Y);
            var end = e.EdgeGeometry?.TargetArrowhead is not null ? e.EdgeGeometry.TargetArrowhead.TipPosition : curve.End;
            var at = e.Label is { } lab ? new Point(lab.Center.X - lab.Width / 2 + 2, lab.Center.Y - FontSize / 3) : curve[(curve.ParStart + curve.ParEnd) / 2];
            arrows.Add(new Arrow(c.From.Name, c.To.Name, path, (X(end.X), Y(end.Y)), Text(c), (X(at.X), Y(at.Y)), c.Delay > 0));
        }
        // Labels sit right of their curve's midpoint and may reach past the layout's box.
        double width = box.Width + 2 * Margin;
        foreach (var a in arrows) width = Math.Max(width, a.LabelAt.X + a.Label.Length * CharWidth + Margin);
        return new Picture(width, box.Height + 2 * Margin, boxes, arrows);
    }

    private static string Text(Connection c) => c.Delay == 0 ? c.Kind : $"{c.Kind} d={c.Delay}";

    /// <summary>The curve as a start point followed by cubic Bézier pieces (lines become straight cubics).</summary>
    private static void AppendCubic(ICurve curve, List<(double, double)> path, Func<double, double> x, Func<double, double> y)
    {
        void Add(Point p) => path.Add((x(p.X), y(p.Y)));
        switch (curve)
        {
            case Curve composite:
                foreach (var seg in composite.Segments) AppendCubic(seg, path, x, y);
                return;
            case CubicBezierSegment b:
                if (path.Count == 0) Add(b.B(0));
                Add(b.B(1)); Add(b.B(2)); Add(b.B(3));
                return;
            default:
                // Lines, arcs and anything else: sampled into straight pieces.
                const int pieces = 8;
                if (path.Count == 0) Add(curve.Start);
                for (int i = 1; i <= pieces; i++)
                {
                    var a = curve[curve.ParStart + (curve.ParEnd - curve.ParStart) * (i - 1) / pieces];
                    var p = curve[curve.ParStart + (curve.ParEnd - curve.ParStart) * i / pieces];
                    Add(a + (p - a) / 3); Add(a + (p - a) * 2 / 3); Add(p);
                }
                return;
        }
    }

    private static string F(double v) => v.ToString("0.##", CultureInfo.InvariantCulture);

    private static string Escape(string s) => s.Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;").Replace("\"", "&quot;");

    /// <summary>The picture as SVG text.</summary>
    internal static string ToSvg(Picture p)
    {
        var sb = new StringBuilder();
        sb.Append($"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{F(p.Width)}\" height=\"{F(p.Height)}\" viewBox=\"0 0 {F(p.Width)} {F(p.Height)}\" font-family=\"Helvetica, Arial, sans-serif\" font-size=\"{F(FontSize)}\">\n");
        sb.Append("<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n");
        foreach (var a in p.Arrows)
        {
            string color = a.Recurrent ? "#c0392b" : "#000000";
            var d = new StringBuilder($"M {F(a.Path[0].X)} {F(a.Path[0].Y)}");
            for (int i = 1; i + 2 <= a.Path.Count - 1; i += 3)
                d.Append($" C {F(a.Path[i].X)} {F(a.Path[i].Y)} {F(a.Path[i + 1].X)} {F(a.Path[i + 1].Y)} {F(a.Path[i + 2].X)} {F(a.Path[i + 2].Y)}");
            var last = Before(a);
            d.Append($" L {F(a.Tip.X)} {F(a.Tip.Y)}");
            sb.Append($"<g class=\"connection{(a.Recurrent ? " recurrent" : "")}\" data-from=\"{Escape(a.From)}\" data-to=\"{Escape(a.To)}\">");
            sb.Append($"<path d=\"{d}\" fill=\"none\" stroke=\"{color}\"{(a.Recurrent ? " stroke-dasharray=\"6 4\"" : "")}/>");
            sb.Append($"<polygon points=\"{ArrowHead(last, a.Tip)}\" fill=\"{color}\"/>");
            sb.Append($"<text x=\"{F(a.LabelAt.X)}\" y=\"{F(a.LabelAt.Y)}\" fill=\"{color}\">{Escape(a.Label)}</text></g>\n");
        }
        foreach (var b in p.Boxes)
        {
            sb.Append($"<g class=\"layer\" data-name=\"{Escape(b.Name)}\">");
            sb.Append(b.Ellipse
                ? $"<ellipse cx=\"{F(b.X)}\" cy=\"{F(b.Y)}\" rx=\"{F(b.W / 2)}\" ry=\"{F(b.H / 2)}\" fill=\"white\" stroke=\"black\"/>"
                : $"<rect x=\"{F(b.X - b.W / 2)}\" y=\"{F(b.Y - b.H / 2)}\" width=\"{F(b.W)}\" height=\"{F(b.H)}\" fill=\"white\" stroke=\"black\"/>");
            double y0 = b.Y - (b.Lines.Length - 1) * LineHeight / 2 + FontSize / 3;
            for (int i = 0; i < b.Lines.Length; i++)
                sb.Append($"<text x=\"{F(b.X)}\" y=\"{F(y0 + i * LineHeight)}\" text-anchor=\"middle\">{Escape(b.Lines[i])}</text>");
            sb.Append("</g>\n");
        }
        sb.Append("</svg>\n");
        return sb.ToString();
    }

    /// <summary>The last point of the curve that is not the arrow's tip (the arrowhead points away from it).</summary>
    private static (double X, double Y) Before(Arrow a)
    {
        for (int i = a.Path.Count - 1; i >= 0; i--)
        {
            double dx = a.Tip.X - a.Path[i].X, dy = a.Tip.Y - a.Path[i].Y;
            if (dx * dx + dy * dy > 1) return a.Path[i];
        }
        return (a.Tip.X, a.Tip.Y - 1);
    }

    /// <summary>The three corners of an arrowhead pointing from <paramref name="from"/> to <paramref name="tip"/>.</summary>
    private static string ArrowHead((double X, double Y) from, (double X, double Y) tip)
    {
        var c = Corners(from, tip);
        return $"{F(tip.X)},{F(tip.Y)} {F(c.Ax)},{F(c.Ay)} {F(c.Bx)},{F(c.By)}";
    }

    private static (double Ax, double Ay, double Bx, double By) Corners((double X, double Y) from, (double X, double Y) tip)
    {
        double dx = tip.X - from.X, dy = tip.Y - from.Y, len = Math.Sqrt(dx * dx + dy * dy);
        if (len < 1e-9) (dx, dy, len) = (0, 1, 1);
        dx /= len; dy /= len;
        const double l = 9, w = 4;
        double bx = tip.X - dx * l, by = tip.Y - dy * l;
        return (bx - dy * w, by + dx * w, bx + dy * w, by - dx * w);
    }

    /// <summary>The picture as PNG bytes (SkiaSharp).</summary>
    internal static byte[] ToPng(Picture p)
    {
        int w = (int)Math.Ceiling(p.Width), h = (int)Math.Ceiling(p.Height);
        using var surface = SKSurface.Create(new SKImageInfo(w, h));
        var canvas = surface.Canvas;
        canvas.Clear(SKColors.White);
        using var font = new SKFont(SKTypeface.Default, (float)FontSize);
        foreach (var a in p.Arrows)
        {
            var color = a.Recurrent ? new SKColor(0xc0, 0x39, 0x2b) : SKColors.Black;
            using var stroke = new SKPaint { Color = color, IsStroke = true, StrokeWidth = 1, IsAntialias = true };
            if (a.Recurrent) stroke.PathEffect = SKPathEffect.CreateDash([6, 4], 0);
            using var fill = new SKPaint { Color = color, IsAntialias = true };
            using var path = new SKPath();
            path.MoveTo((float)a.Path[0].X, (float)a.Path[0].Y);
            for (int i = 1; i + 2 <= a.Path.Count - 1; i += 3)
                path.CubicTo((float)a.Path[i].X, (float)a.Path[i].Y, (float)a.Path[i + 1].X, (float)a.Path[i + 1].Y, (float)a.Path[i + 2].X, (float)a.Path[i + 2].Y);
            path.LineTo((float)a.Tip.X, (float)a.Tip.Y);
            canvas.DrawPath(path, stroke);
            var c = Corners(Before(a), a.Tip);
            using var head = new SKPath();
            head.MoveTo((float)a.Tip.X, (float)a.Tip.Y);
            head.LineTo((float)c.Ax, (float)c.Ay);
            head.LineTo((float)c.Bx, (float)c.By);
            head.Close();
            canvas.DrawPath(head, fill);
            canvas.DrawText(a.Label, (float)a.LabelAt.X, (float)a.LabelAt.Y, SKTextAlign.Left, font, fill);
        }
        using var outline = new SKPaint { Color = SKColors.Black, IsStroke = true, StrokeWidth = 1, IsAntialias = true };
        using var white = new SKPaint { Color = SKColors.White };
        using var ink = new SKPaint { Color = SKColors.Black, IsAntialias = true };
        foreach (var b in p.Boxes)
        {
            var r = new SKRect((float)(b.X - b.W / 2), (float)(b.Y - b.H / 2), (float)(b.X + b.W / 2), (float)(b.Y + b.H / 2));
            if (b.Ellipse) { canvas.DrawOval(r, white); canvas.DrawOval(r, outline); }
            else { canvas.DrawRect(r, white); canvas.DrawRect(r, outline); }
            double y0 = b.Y - (b.Lines.Length - 1) * LineHeight / 2 + FontSize / 3;
            for (int i = 0; i < b.Lines.Length; i++)
                canvas.DrawText(b.Lines[i], (float)b.X, (float)(y0 + i * LineHeight), SKTextAlign.Center, font, ink);
        }
        using var image = surface.Snapshot();
        using var data = image.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }
}
