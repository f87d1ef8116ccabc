using System.Globalization;
using System.Text;

namespace FlexNet.Tensors;

/// <summary>Readable text for tensors: nested brackets for up to <see cref="MaxShown"/> elements, else a summary.</summary>
internal static class TensorFormatter
{
    internal const int MaxShown = 64;

    internal static string Format(Tensor t)
    {
        var sb = new StringBuilder();
        sb.Append("Tensor").Append(ShapeUtil.Format(t.Shape)).Append(' ').Append(t.DType);
        if (t.Name is not null) sb.Append(" '").Append(t.Name).Append('\'');
        if (t.IsDisposed) return sb.Append(" <released>").ToString();
        if (t.RequiresGrad) sb.Append(t.IsLeaf ? " requires_grad" : $" grad_fn={t.GradFn!.Name}");
        if (t.Length > MaxShown)
        {
            var v = t.ToDoubleArray();
            double min = double.PositiveInfinity, max = double.NegativeInfinity, sum = 0;
            foreach (var x in v) { min = Math.Min(min, x); max = Math.Max(max, x); sum += x; }
            sb.Append(CultureInfo.InvariantCulture, $" (min {min:G5}, max {max:G5}, mean {sum / v.Length:G5})");
            return sb.ToString();
        }
        sb.Append(' ');
        var vals = t.ToDoubleArray();
        int pos = 0;
        Append(sb, t.Shape, 0, vals, ref pos, t.DType);
        return sb.ToString();
    }

    private static void Append(StringBuilder sb, ReadOnlySpan<int> shape, int dim, double[] vals, ref int pos, DType dt)
    {
        if (dim == shape.Length)
        {
            double v = vals[pos++];
            // an Int32 value has at most 10 digits, so G10 shows it exactly, as integer text
            sb.Append(v.ToString(dt == DType.Float32 ? "G7" : "G10", CultureInfo.InvariantCulture));
            return;
        }
        sb.Append('[');
        for (int i = 0; i < shape[dim]; i++)
        {
            if (i > 0) sb.Append(", ");
            Append(sb, shape, dim + 1, vals, ref pos, dt);
        }
        sb.Append(']');
    }
}
