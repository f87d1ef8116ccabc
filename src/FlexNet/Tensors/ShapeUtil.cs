using System.Text;

namespace FlexNet.Tensors;

/// <summary>Shape arithmetic shared by tensors and ops: products, strides, broadcasting, formatting.</summary>
internal static class ShapeUtil
{
    internal static int Product(ReadOnlySpan<int> shape)
    {
        long p = 1;
        foreach (int d in shape)
            if (d < 0) throw new ArgumentException($"Negative dimension {d} in shape {Format(shape)}.");
        if (shape.Contains(0)) return 0; // an empty tensor, whatever its other dimensions
        foreach (int d in shape)
        {
            p *= d;
            if (p > int.MaxValue) throw new ArgumentException($"Shape {Format(shape)} has more than {int.MaxValue} elements.");
        }
        return (int)p;
    }

    internal static int[] ContiguousStrides(ReadOnlySpan<int> shape)
    {
        var s = new int[shape.Length];
        ContiguousStrides(shape, s);
        return s;
    }

    /// <summary>Writes the row-major strides of <paramref name="shape"/> into <paramref name="s"/> (same length).</summary>
    internal static void ContiguousStrides(ReadOnlySpan<int> shape, Span<int> s)
    {
        int acc = 1;
        for (int d = shape.Length - 1; d >= 0; d--)
        {
            s[d] = acc;
            acc *= Math.Max(shape[d], 1);
        }
    }

    internal static bool IsContiguous(ReadOnlySpan<int> shape, ReadOnlySpan<int> strides)
    {
        int acc = 1;
        for (int d = shape.Length - 1; d >= 0; d--)
        {
            if (shape[d] == 1) continue;
            if (shape[d] == 0) return true;
            if (strides[d] != acc) return false;
            acc *= shape[d];
        }
        return true;
    }

    internal static bool SameShape(ReadOnlySpan<int> a, ReadOnlySpan<int> b) => a.SequenceEqual(b);

    internal static int NormalizeAxis(int axis, int rank, string op)
    {
        int a = axis < 0 ? axis + rank : axis;
        if ((uint)a >= (uint)Math.Max(rank, 0) && !(rank == 0 && a == 0))
            throw new ArgumentOutOfRangeException(nameof(axis), $"{op}: axis {axis} is out of range for rank {rank}.");
        return a;
    }

    /// <summary>NumPy broadcasting of two shapes; throws naming the op and both shapes.</summary>
    internal static int[] Broadcast(ReadOnlySpan<int> a, ReadOnlySpan<int> b, string op)
    {
        int r = Math.Max(a.Length, b.Length);
        var o = new int[r];
        for (int i = 0; i < r; i++)
        {
            int da = i - (r - a.Length) >= 0 ? a[i - (r - a.Length)] : 1;
            int db = i - (r - b.Length) >= 0 ? b[i - (r - b.Length)] : 1;
            if (da == db || db == 1) o[i] = da;
            else if (da == 1) o[i] = db;
            else
                throw new ShapeMismatchException(
                    $"{op}: shapes {Format(a)} and {Format(b)} cannot be broadcast together (dimension {i}: {da} vs {db}).");
        }
        return o;
    }

    /// <summary>Strides that read a tensor of <paramref name="shape"/>/<paramref name="strides"/> as if it had
    /// <paramref name="target"/>'s shape (stride 0 on broadcast dimensions).</summary>
    internal static int[] BroadcastStrides(ReadOnlySpan<int> shape, ReadOnlySpan<int> strides, ReadOnlySpan<int> target)
    {
        var s = new int[target.Length];
        BroadcastStrides(shape, strides, target, s);
        return s;
    }

    /// <summary><see cref="BroadcastStrides(ReadOnlySpan{int}, ReadOnlySpan{int}, ReadOnlySpan{int})"/> into <paramref name="s"/>.</summary>
    internal static void BroadcastStrides(ReadOnlySpan<int> shape, ReadOnlySpan<int> strides, ReadOnlySpan<int> target, Span<int> s)
    {
        int off = target.Length - shape.Length;
        for (int i = 0; i < target.Length; i++)
        {
            int j = i - off;
            s[i] = j < 0 || shape[j] == 1 ? 0 : strides[j];
        }
    }

    /// <summary>True when <paramref name="shape"/> broadcasts to exactly <paramref name="target"/> (NumPy rules).</summary>
    internal static bool BroadcastsTo(ReadOnlySpan<int> shape, ReadOnlySpan<int> target)
    {
        if (shape.Length > target.Length) return false;
        int off = target.Length - shape.Length;
        for (int j = 0; j < shape.Length; j++)
            if (shape[j] != target[j + off] && shape[j] != 1) return false;
        return true;
    }

    internal static string Format(ReadOnlySpan<int> shape)
    {
        var sb = new StringBuilder("[");
        for (int i = 0; i < shape.Length; i++)
        {
            if (i > 0) sb.Append(", ");
            sb.Append(shape[i]);
        }
        return sb.Append(']').ToString();
    }

    /// <summary>Buffer offsets of every element of <paramref name="t"/> in row-major order (slow path helper).</summary>
    internal static IEnumerable<int> Offsets(Tensor t)
    {
        int rank = t.Rank;
        var shape = t.ShapeArray;
        var strides = t.StridesArray;
        var idx = new int[rank];
        int off = t.Offset;
        for (int n = 0; n < t.Length; n++)
        {
            yield return off;
            for (int d = rank - 1; d >= 0; d--)
            {
                idx[d]++;
                off += strides[d];
                if (idx[d] < shape[d]) break;
                off -= strides[d] * shape[d];
                idx[d] = 0;
            }
        }
    }
}
