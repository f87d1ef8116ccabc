using FlexNet.Tensors;
using FlexNet.Autodiff;

namespace FlexNet.Autodiff.Ops;

/// <summary>Shape and layout ops: clone, cast, reshape, permute, slice, expand, concat, stack, split, pad.
/// Views share the input's buffer; their backward routes the gradient to the viewed positions.</summary>
internal static class Movement
{
    internal static Tensor Clone(Tensor x)
    {
        var y = Tensor.Empty(x.ShapeArray, x.DType);
        CopyInto(x, y);
        if (Autograd.ShouldRecord(x)) y.MarkRecorded(new IdentityBackward(x));
        return y;
    }

    /// <summary>y (contiguous, same shape) = x.</summary>
    internal static void CopyInto(Tensor x, Tensor y)
    {
        switch (x.DType)
        {
            case DType.Float32: Strided.Gather(x.Buffer<float>(), x.Offset, x.ShapeArray, x.StridesArray, y.F); break;
            case DType.Float64: Strided.Gather(x.Buffer<double>(), x.Offset, x.ShapeArray, x.StridesArray, y.D); break;
            default: Strided.Gather(x.Buffer<int>(), x.Offset, x.ShapeArray, x.StridesArray, y.Data<int>()); break;
        }
    }

    private sealed class IdentityBackward(Tensor x) : Node(x)
    {
        protected internal override void Backward(Tensor gy) => Accumulate(0, gy, owned: false);
    }

    internal static Tensor Cast(Tensor x, DType dtype)
    {
        var xc = x.Contiguous(); // only read here: a copy's identity node is never reached
        var y = Tensor.Empty(x.ShapeArray, dtype);
        int n = x.Length;
        switch (x.DType, dtype)
        {
            case (DType.Float32, DType.Float64): { var s = xc.F; var d = y.D; for (int i = 0; i < n; i++) d[i] = s[i]; break; }
            case (DType.Float64, DType.Float32): { var s = xc.D; var d = y.F; for (int i = 0; i < n; i++) d[i] = (float)s[i]; break; }
            case (DType.Int32, DType.Float32): { var s = xc.Data<int>(); var d = y.F; for (int i = 0; i < n; i++) d[i] = s[i]; break; }
            case (DType.Int32, DType.Float64): { var s = xc.Data<int>(); var d = y.D; for (int i = 0; i < n; i++) d[i] = s[i]; break; }
            case (DType.Float32, DType.Int32): { var s = xc.F; var d = y.Data<int>(); for (int i = 0; i < n; i++) d[i] = (int)s[i]; break; }
            case (DType.Float64, DType.Int32): { var s = xc.D; var d = y.Data<int>(); for (int i = 0; i < n; i++) d[i] = (int)s[i]; break; }
        }
        if (dtype.IsFloatingPoint() && Autograd.ShouldRecord(x)) y.MarkRecorded(new CastBackward(x));
        return y;
    }

    private sealed class CastBackward(Tensor x) : Node(x)
    {
        private readonly DType _dtype = x.DType;

        protected internal override void Backward(Tensor gy) => Accumulate(0, Cast(gy, _dtype));
    }

    internal static Tensor Reshape(Tensor x, ReadOnlySpan<int> shape)
    {
        // Stryker disable once Conditional,Equality : stack or heap scratch for the same values
        Span<int> s = shape.Length <= 16 ? stackalloc int[shape.Length] : new int[shape.Length];
        ResolveShape(x, shape, s);
        var src = x.IsContiguous ? x : Clone(x);
        var y = Tensor.CreateContiguous(src.Storage, s, src.Offset);
        if (Autograd.ShouldRecord(src)) y.MarkRecorded(ReshapeBackward.Make(src));
        return y;
    }

    private static void ResolveShape(Tensor x, ReadOnlySpan<int> shape, Span<int> s)
    {
        shape.CopyTo(s);
        int infer = -1;
        long known = 1;
        for (int i = 0; i < s.Length; i++)
        {
            if (s[i] == -1)
            {
                if (infer >= 0) throw new ShapeMismatchException($"Reshape: only one dimension can be -1; got {ShapeUtil.Format(shape)}.");
                infer = i;
            }
            else if (s[i] < 0) throw new ShapeMismatchException($"Reshape: invalid dimension {s[i]} in {ShapeUtil.Format(shape)}.");
            else known *= s[i];
        }
        if (infer >= 0)
        {
            if (known == 0 || x.Length % known != 0)
                throw new ShapeMismatchException($"Reshape: cannot reshape {ShapeUtil.Format(x.Shape)} ({x.Length} elements) to {ShapeUtil.Format(shape)}.");
            s[infer] = (int)(x.Length / known);
        }
        else if (known != x.Length)
        {
            throw new ShapeMismatchException($"Reshape: cannot reshape {ShapeUtil.Format(x.Shape)} ({x.Length} elements) to {ShapeUtil.Format(shape)} ({known} elements).");
        }
    }

    private sealed class ReshapeBackward : Node
    {
        private int[] _shape = [];

        /// <summary>A node for a reshape of x (a dead one of an earlier training step when there is one).</summary>
        internal static ReshapeBackward Make(Tensor x)
        {
            // Stryker disable once NullCoalescing : a pooled dead node is re-armed in full (Rearm, _shape); a new one differs in memory only
            var n = NodePool<ReshapeBackward>.Take() ?? new ReshapeBackward();
            n.Rearm([x]);
            n._shape = x.ShapeArray;
            return n;
        }

        protected override void ReleaseSaved() => _shape = [];

        internal override bool Recycle() => NodePool<ReshapeBackward>.Return(this);

        protected internal override void Backward(Tensor gy) => Accumulate(0, Reshape(gy, _shape), owned: false);
    }

    internal static Tensor Permute(Tensor x, int[] dims)
    {
        int r = x.Rank;
        if (dims.Length != r)
            throw new ShapeMismatchException($"Permute: {dims.Length} axes given for a tensor of rank {r} (shape {ShapeUtil.Format(x.Shape)}).");
        // Stryker disable once Conditional,Equality : stack or heap scratch for the same values
        Span<bool> seen = r <= 16 ? stackalloc bool[r] : new bool[r];
        // Stryker disable once Conditional,Equality : stack or heap scratch for the same values
        Span<int> shape = r <= 16 ? stackalloc int[r] : new int[r];
        // Stryker disable once Conditional,Equality : stack or heap scratch for the same values
        Span<int> strides = r <= 16 ? stackalloc int[r] : new int[r];
        for (int i = 0; i < r; i++)
        {
            int d = ShapeUtil.NormalizeAxis(dims[i], r, "Permute");
            if (seen[d]) throw new ArgumentException($"Permute: axis {dims[i]} repeated in {ShapeUtil.Format(dims)}.");
            seen[d] = true;
            shape[i] = x.ShapeArray[d];
            strides[i] = x.StridesArray[d];
        }
        var y = Tensor.Create(x.Storage, shape, strides, x.Offset);
        if (Autograd.ShouldRecord(x))
        {
            var inv = new int[r];
            // Stryker disable once String : the loop above already checked every axis against r, so this one never throws
            for (int i = 0; i < r; i++) inv[ShapeUtil.NormalizeAxis(dims[i], r, "Permute")] = i;
            y.MarkRecorded(new PermuteBackward(x, inv));
        }
        return y;
    }

    private sealed class PermuteBackward(Tensor x, int[] inverse) : Node(x)
    {
        protected internal override void Backward(Tensor gy) => Accumulate(0, Permute(gy, inverse), owned: false);
    }

    internal static Tensor Transpose(Tensor x, int a, int b)
    {
        int r = x.Rank;
        var dims = new int[r];
        for (int i = 0; i < r; i++) dims[i] = i;
        a = ShapeUtil.NormalizeAxis(a, r, "Transpose");
        b = ShapeUtil.NormalizeAxis(b, r, "Transpose");
        (dims[a], dims[b]) = (dims[b], dims[a]);
        return Permute(x, dims);
    }

    /// <summary>Elements start, start+step, ... (count of them) along <paramref name="axis"/>, as a view.</summary>
    internal static Tensor Slice(Tensor x, int axis, int start, int length, int step = 1)
    {
        axis = ShapeUtil.NormalizeAxis(axis, x.Rank, "Slice");
        int size = x.ShapeArray[axis];
        if (start < 0) start += size;
        if (step <= 0) throw new ArgumentException($"Slice: step must be positive. Received: {step}");
        // start may equal size only for an empty slice; then start - step < size, so length 0 needs no case of its own
        if (start < 0 || start > size || length < 0 || start + (long)(length - 1) * step >= size)
            throw new ShapeMismatchException($"Slice: [{start}, +{length} step {step}) is out of range for axis {axis} of size {size} (shape {ShapeUtil.Format(x.Shape)}).");
        int r = x.Rank;
        // Stryker disable once Conditional,Equality : stack or heap scratch for the same values
        Span<int> shape = r <= 16 ? stackalloc int[r] : new int[r];
        // Stryker disable once Conditional,Equality : stack or heap scratch for the same values
        Span<int> strides = r <= 16 ? stackalloc int[r] : new int[r];
        x.Shape.CopyTo(shape);
        x.Strides.CopyTo(strides);
        shape[axis] = length;
        strides[axis] *= step;
        var y = Tensor.Create(x.Storage, shape, strides, x.Offset + start * x.StridesArray[axis]);
        if (Autograd.ShouldRecord(x)) y.MarkRecorded(SliceBackward.Make(x, axis, start, length, step));
        return y;
    }

    private sealed class SliceBackward : Node
    {
        private int[] _shape = [];
        private int axis, start, length, step;

        /// <summary>A node for a slice of x (a dead one of an earlier training step when there is one).</summary>
        internal static SliceBackward Make(Tensor x, int axis, int start, int length, int step)
        {
            // Stryker disable once NullCoalescing : a pooled dead node is re-armed in full (Rearm and every field); a new one differs in memory only
            var n = NodePool<SliceBackward>.Take() ?? new SliceBackward();
            n.Rearm([x]);
            (n._shape, n.axis, n.start, n.length, n.step) = (x.ShapeArray, axis, start, length, step);
            return n;
        }

        protected override void ReleaseSaved() => _shape = [];

        internal override bool Recycle() => NodePool<SliceBackward>.Return(this);

        protected internal override void Backward(Tensor gy)
        {
            var gx = Tensor.Zeros(_shape, gy.DType);
            var view = Slice(gx, axis, start, length, step);
            AddIntoView(view, gy);
            Accumulate(0, gx);
        }
    }

    /// <summary>view += g, where view is a (possibly strided) window of a contiguous buffer.</summary>
    internal static void AddIntoView(Tensor view, Tensor g)
    {
        var gc = g.Contiguous();
        if (g.DType == DType.Float32) Strided.ScatterAdd<float>(gc.F, view.Buffer<float>(), view.Offset, view.ShapeArray, view.StridesArray);
        else Strided.ScatterAdd<double>(gc.D, view.Buffer<double>(), view.Offset, view.ShapeArray, view.StridesArray);
    }

    /// <summary>A read-only broadcast view of x with the given (larger) shape: stride 0 on expanded dims.</summary>
    internal static Tensor Expand(Tensor x, int[] shape)
    {
        if (!ShapeUtil.BroadcastsTo(x.Shape, shape))
        {
            _ = ShapeUtil.Broadcast(x.Shape, shape, "Expand"); // incompatible shapes: its message
            throw new ShapeMismatchException($"Expand: cannot expand {ShapeUtil.Format(x.Shape)} to {ShapeUtil.Format(shape)}.");
        }
        Span<int> strides = shape.Length <= 16 ? stackalloc int[shape.Length] : new int[shape.Length];
        ShapeUtil.BroadcastStrides(x.Shape, x.Strides, shape, strides);
        var y = Tensor.Create(x.Storage, shape, strides, x.Offset);
        if (Autograd.ShouldRecord(x)) y.MarkRecorded(new IdentityBackward(x)); // AccumulateInto sums to x's shape
        return y;
    }

    internal static Tensor Concat(ReadOnlySpan<Tensor> xs, int axis)
    {
        if (xs.Length == 0) throw new ArgumentException("Concat needs at least one tensor.");
        var first = xs[0];
        axis = ShapeUtil.NormalizeAxis(axis, first.Rank, "Concat");
        int total = 0;
        foreach (var t in xs)
        {
            if (t.Rank != first.Rank || t.DType != first.DType)
                throw new ShapeMismatchException($"Concat: tensor of shape {ShapeUtil.Format(t.Shape)} ({t.DType}) does not fit {ShapeUtil.Format(first.Shape)} ({first.DType}).");
            for (int d = 0; d < first.Rank; d++)
                if (d != axis && t.ShapeArray[d] != first.ShapeArray[d])
                    throw new ShapeMismatchException($"Concat along axis {axis}: shapes {ShapeUtil.Format(first.Shape)} and {ShapeUtil.Format(t.Shape)} differ in dimension {d}.");
            total += t.ShapeArray[axis];
        }
        var shape = (int[])first.ShapeArray.Clone();
        shape[axis] = total;
        var y = Tensor.Empty(shape, first.DType);
        int pos = 0;
        var sizes = new int[xs.Length];
        for (int i = 0; i < xs.Length; i++)
        {
            var t = xs[i];
            sizes[i] = t.ShapeArray[axis];
            var window = Slice(y.Detach(), axis, pos, sizes[i]);
            var tc = t.Contiguous();
            switch (t.DType)
            {
                case DType.Float32: Strided.Scatter<float>(tc.F, window.Buffer<float>(), window.Offset, window.ShapeArray, window.StridesArray); break;
                case DType.Float64: Strided.Scatter<double>(tc.D, window.Buffer<double>(), window.Offset, window.ShapeArray, window.StridesArray); break;
                default: Strided.Scatter<int>(tc.Data<int>(), window.Buffer<int>(), window.Offset, window.ShapeArray, window.StridesArray); break;
            }
            pos += sizes[i];
        }
        if (Autograd.ShouldRecord(xs)) y.MarkRecorded(new ConcatBackward(xs.ToArray(), axis, sizes));
        return y;
    }

    private sealed class ConcatBackward(Tensor[] xs, int axis, int[] sizes) : Node(xs)
    {
        protected internal override void Backward(Tensor gy)
        {
            int pos = 0;
            for (int i = 0; i < sizes.Length; i++)
            {
                // Stryker disable once Boolean : Accumulate skips an input that needs no gradient; the test only saves the slice view
                if (NeedsGrad(i)) Accumulate(i, Slice(gy, axis, pos, sizes[i]), owned: false);
                pos += sizes[i];
            }
        }
    }

    internal static Tensor Stack(ReadOnlySpan<Tensor> xs, int axis)
    {
        if (xs.Length == 0) throw new ArgumentException("Stack needs at least one tensor.");
        axis = ShapeUtil.NormalizeAxis(axis, xs[0].Rank + 1, "Stack");
        var parts = new Tensor[xs.Length];
        for (int i = 0; i < xs.Length; i++)
        {
            if (!ShapeUtil.SameShape(xs[i].Shape, xs[0].Shape))
                throw new ShapeMismatchException($"Stack: tensor {i} has shape {ShapeUtil.Format(xs[i].Shape)} but tensor 0 has {ShapeUtil.Format(xs[0].Shape)}.");
            parts[i] = Unsqueeze(xs[i], axis);
        }
        return Concat(parts, axis);
    }

    internal static Tensor[] Split(Tensor x, int[] sizes, int axis)
    {
        axis = ShapeUtil.NormalizeAxis(axis, x.Rank, "Split");
        long sum = 0;
        foreach (int s in sizes) sum += s;
        if (sum != x.ShapeArray[axis])
            throw new ShapeMismatchException($"Split: sizes {ShapeUtil.Format(sizes)} sum to {sum}, but axis {axis} of {ShapeUtil.Format(x.Shape)} has {x.ShapeArray[axis]}.");
        var r = new Tensor[sizes.Length];
        int pos = 0;
        for (int i = 0; i < sizes.Length; i++)
        {
            r[i] = Slice(x, axis, pos, sizes[i]);
            pos += sizes[i];
        }
        return r;
    }

    internal static Tensor Unsqueeze(Tensor x, int axis)
    {
        axis = ShapeUtil.NormalizeAxis(axis, x.Rank + 1, "Unsqueeze");
        int r = x.Rank + 1;
        // Stryker disable once Conditional,Equality : stack or heap scratch for the same values
        Span<int> shape = r <= 16 ? stackalloc int[r] : new int[r];
        for (int d = 0, j = 0; d < r; d++) shape[d] = d == axis ? 1 : x.ShapeArray[j++];
        return Reshape(x, shape);
    }

    internal static Tensor Squeeze(Tensor x, int axis)
    {
        axis = ShapeUtil.NormalizeAxis(axis, x.Rank, "Squeeze");
        if (x.ShapeArray[axis] != 1)
            throw new ShapeMismatchException($"Squeeze: axis {axis} of {ShapeUtil.Format(x.Shape)} has size {x.ShapeArray[axis]}, not 1.");
        int r = x.Rank - 1;
        // Stryker disable once Conditional,Equality : stack or heap scratch for the same values
        Span<int> shape = r <= 16 ? stackalloc int[r] : new int[r];
        for (int d = 0, j = 0; d < x.Rank; d++) if (d != axis) shape[j++] = x.ShapeArray[d];
        return Reshape(x, shape);
    }

    /// <summary>Constant padding: <paramref name="pads"/> holds (before, after) per dimension, outermost first.</summary>
    internal static Tensor Pad(Tensor x, int[] pads, double value)
    {
        if (pads.Length != 2 * x.Rank)
            throw new ShapeMismatchException($"Pad: needs 2 values (before, after) per dimension = {2 * x.Rank} for shape {ShapeUtil.Format(x.Shape)}; got {pads.Length}.");
        var shape = new int[x.Rank];
        for (int d = 0; d < x.Rank; d++)
        {
            if (pads[2 * d] < 0 || pads[2 * d + 1] < 0) throw new ArgumentException($"Pad: negative padding {ShapeUtil.Format(pads)}.");
            shape[d] = x.ShapeArray[d] + pads[2 * d] + pads[2 * d + 1];
        }
        var y = Tensor.Full(shape, value, x.DType);
        var window = Window(y.Detach(), x.ShapeArray, pads);
        var xc = x.Contiguous();
        if (x.DType == DType.Float32) Strided.Scatter<float>(xc.F, window.Buffer<float>(), window.Offset, window.ShapeArray, window.StridesArray);
        else if (x.DType == DType.Float64) Strided.Scatter<double>(xc.D, window.Buffer<double>(), window.Offset, window.ShapeArray, window.StridesArray);
        else Strided.Scatter<int>(xc.Data<int>(), window.Buffer<int>(), window.Offset, window.ShapeArray, window.StridesArray);
        if (Autograd.ShouldRecord(x)) y.MarkRecorded(new PadBackward(x, pads));
        return y;
    }

    private static Tensor Window(Tensor padded, int[] inner, int[] pads)
    {
        var t = padded;
        for (int d = 0; d < inner.Length; d++) t = Slice(t, d, pads[2 * d], inner[d]);
        return t;
    }

    private sealed class PadBackward(Tensor x, int[] pads) : Node(x)
    {
        private readonly int[] _shape = x.ShapeArray;

        // Stryker disable once Boolean : adopting the window of gy instead of copying it gives the same values: AccumulateInto
        // copies a non-contiguous window anyway, and nothing reads gy after this Backward
        protected internal override void Backward(Tensor gy) => Accumulate(0, Window(gy, _shape, pads), owned: false);
    }
}
