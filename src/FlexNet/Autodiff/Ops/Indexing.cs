using FlexNet.Tensors;
using FlexNet.Autodiff;

namespace FlexNet.Autodiff.Ops;

/// <summary>Gather of rows (embedding lookup) and dropout.</summary>
internal static class Indexing
{
    /// <summary>out[..., :] = weight[indices[...], :], weight [V, D], indices Int32 of any shape.</summary>
    internal static Tensor Gather(Tensor weight, Tensor indices)
    {
        weight.RequireFloat("Gather");
        if (weight.Rank != 2)
            throw new ShapeMismatchException($"Gather: weight must be [vocabulary, dim]; got {ShapeUtil.Format(weight.Shape)}.");
        int v = weight.ShapeArray[0], d = weight.ShapeArray[1];
        var idx = indices.ToInt32Array();
        for (int i = 0; i < idx.Length; i++)
            if ((uint)idx[i] >= (uint)v)
                throw new ArgumentOutOfRangeException(nameof(indices), $"Gather: index {idx[i]} at position {i} is outside [0, {v}) for weight {ShapeUtil.Format(weight.Shape)}.");
        var shape = new int[indices.Rank + 1];
        indices.Shape.CopyTo(shape);
        shape[^1] = d;
        var y = Tensor.Empty(shape, weight.DType);
        var w = weight.Contiguous();
        if (weight.DType == DType.Float32)
            for (int i = 0; i < idx.Length; i++) w.F.Slice(idx[i] * d, d).CopyTo(y.F.Slice(i * d, d));
        else
            for (int i = 0; i < idx.Length; i++) w.D.Slice(idx[i] * d, d).CopyTo(y.D.Slice(i * d, d));
        if (Autograd.ShouldRecord(weight)) y.MarkRecorded(new GatherBackward(weight, idx));
        return y;
    }

    private sealed class GatherBackward(Tensor weight, int[] idx) : Node(weight)
    {
        private readonly int[] _shape = weight.ShapeArray;

        protected internal override void Backward(Tensor gy)
        {
            var gw = Tensor.Zeros(_shape, gy.DType);
            var g = gy.Contiguous();
            int d = _shape[1];
            if (gy.DType == DType.Float32)
                for (int i = 0; i < idx.Length; i++)
                    System.Numerics.Tensors.TensorPrimitives.Add(gw.F.Slice(idx[i] * d, d), g.F.Slice(i * d, d), gw.F.Slice(idx[i] * d, d));
            else
                for (int i = 0; i < idx.Length; i++)
                    System.Numerics.Tensors.TensorPrimitives.Add(gw.D.Slice(idx[i] * d, d), g.D.Slice(i * d, d), gw.D.Slice(idx[i] * d, d));
            Accumulate(0, gw);
        }
    }

    /// <summary>Inverted dropout: zero each element with probability p, scale survivors by 1/(1−p).</summary>
    internal static Tensor Dropout(Tensor x, double p, RandomGenerator rng)
    {
        if (p < 0 || p >= 1) throw new ArgumentOutOfRangeException(nameof(p), $"Dropout rate must be in [0, 1). Received: {p}");
        var mask = Tensor.Empty(x.ShapeArray, x.DType);
        double keep = 1 - p, scale = 1 / keep;
        if (x.DType == DType.Float32)
        {
            var m = mask.F;
            float s = (float)scale;
            for (int i = 0; i < m.Length; i++) m[i] = rng.NextDouble() < keep ? s : 0f;
        }
        else
        {
            var m = mask.D;
            for (int i = 0; i < m.Length; i++) m[i] = rng.NextDouble() < keep ? scale : 0;
        }
        return Binary.Apply(x, mask, Binary.Kind.Mul);
    }
}
