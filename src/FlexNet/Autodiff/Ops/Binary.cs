using System.Numerics;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using FlexNet.Tensors;
using FlexNet.Autodiff;

namespace FlexNet.Autodiff.Ops;

/// <summary>Elementwise binary ops with NumPy broadcasting: add, sub, mul, div, maximum, minimum.</summary>
internal static class Binary
{
    internal enum Kind { Add, Sub, Mul, Div, Max, Min }

    /// <summary>The kinds' names for messages, made once (Kind.ToString() boxes and allocates at every call).</summary>
    private static readonly string[] KindNames = Enum.GetNames<Kind>();

    internal static Tensor Apply(Tensor a, Tensor b, Kind kind)
    {
        a.RequireFloat(KindNames[(int)kind]);
        if (a.DType != b.DType)
            throw new ArgumentException($"{kind}: dtypes differ ({a.DType} vs {b.DType}); convert one with To(dtype).");
        var shape = ShapeUtil.SameShape(a.Shape, b.Shape) ? a.ShapeArray : ShapeUtil.Broadcast(a.Shape, b.Shape, KindNames[(int)kind]);
        var y = Tensor.Empty(shape, a.DType);
        if (a.DType == DType.Float32) Compute<float>(a, b, y, kind);
        else Compute<double>(a, b, y, kind);
        if (Autograd.ShouldRecord(a, b)) y.MarkRecorded(BinaryBackward.Make(a, b, kind));
        return y;
    }

    private static void Compute<T>(Tensor a, Tensor b, Tensor y, Kind kind)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var ys = y.Data<T>();
        if (a.IsContiguous && b.IsContiguous)
        {
            if (a.Length == y.Length && b.Length == y.Length) { Same(a.Data<T>(), b.Data<T>(), ys, kind); return; }
            if (b.Length == 1 && a.Length == y.Length) { ScalarRight(a.Data<T>(), b.Data<T>()[0], ys, kind); return; }
            if (a.Length == 1 && b.Length == y.Length) { ScalarLeft(a.Data<T>()[0], b.Data<T>(), ys, kind); return; }
            // b broadcasts as a row over a's leading dimensions (bias add): b's shape is a suffix of y's shape
            if (a.Length == y.Length && IsSuffix(b.Shape, y.Shape))
            {
                var bs = b.Data<T>();
                var as_ = a.Data<T>();
                int w = bs.Length;
                for (int o = 0; o < ys.Length; o += w) Same(as_.Slice(o, w), bs, ys.Slice(o, w), kind);
                return;
            }
        }
        General<T>(a, b, y, kind);
    }

    private static bool IsSuffix(ReadOnlySpan<int> small, ReadOnlySpan<int> big)
    {
        if (small.Length > big.Length) return false;
        int off = big.Length - small.Length;
        int firstNon1 = 0;
        while (firstNon1 < small.Length && small[firstNon1] == 1) firstNon1++;
        for (int i = firstNon1; i < small.Length; i++) if (small[i] != big[off + i]) return false;
        return ShapeUtil.Product(small) > 0;
    }

    private static void Same<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> y, Kind kind)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        switch (kind)
        {
            case Kind.Add: TensorPrimitives.Add(a, b, y); break;
            case Kind.Sub: TensorPrimitives.Subtract(a, b, y); break;
            case Kind.Mul: TensorPrimitives.Multiply(a, b, y); break;
            case Kind.Div: TensorPrimitives.Divide(a, b, y); break;
            case Kind.Max: TensorPrimitives.Max(a, b, y); break;
            default: TensorPrimitives.Min(a, b, y); break;
        }
    }

    private static void ScalarRight<T>(ReadOnlySpan<T> a, T b, Span<T> y, Kind kind)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        switch (kind)
        {
            case Kind.Add: TensorPrimitives.Add(a, b, y); break;
            case Kind.Sub: TensorPrimitives.Subtract(a, b, y); break;
            case Kind.Mul: TensorPrimitives.Multiply(a, b, y); break;
            case Kind.Div: TensorPrimitives.Divide(a, b, y); break;
            case Kind.Max: TensorPrimitives.Max(a, b, y); break;
            default: TensorPrimitives.Min(a, b, y); break;
        }
    }

    private static void ScalarLeft<T>(T a, ReadOnlySpan<T> b, Span<T> y, Kind kind)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        switch (kind)
        {
            case Kind.Add: TensorPrimitives.Add(b, a, y); break;
            case Kind.Sub: TensorPrimitives.Subtract(a, b, y); break;
            case Kind.Mul: TensorPrimitives.Multiply(b, a, y); break;
            case Kind.Div: TensorPrimitives.Divide(a, b, y); break;
            case Kind.Max: TensorPrimitives.Max(b, a, y); break;
            default: TensorPrimitives.Min(b, a, y); break;
        }
    }

    private static T Op<T>(T a, T b, Kind kind) where T : unmanaged, IFloatingPointIeee754<T> => kind switch
    {
        Kind.Add => a + b,
        Kind.Sub => a - b,
        Kind.Mul => a * b,
        Kind.Div => a / b,
        Kind.Max => T.IsNaN(a) || T.IsNaN(b) ? T.NaN : T.Max(a, b),
        _ => T.IsNaN(a) || T.IsNaN(b) ? T.NaN : T.Min(a, b),
    };

    /// <summary>Fully general strided broadcast loop (innermost dimension tight).</summary>
    private static void General<T>(Tensor a, Tensor b, Tensor y, Kind kind) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var shape = y.ShapeArray;
        int rank = shape.Length;
        var ys = y.Data<T>();
        if (ys.Length == 0) return;
        var sa = ShapeUtil.BroadcastStrides(a.Shape, a.Strides, shape);
        var sb = ShapeUtil.BroadcastStrides(b.Shape, b.Strides, shape);
        var ab = a.Buffer<T>();
        var bb = b.Buffer<T>();
        if (rank == 0) { ys[0] = Op(ab[a.Offset], bb[b.Offset], kind); return; }
        int inner = shape[rank - 1], ia = sa[rank - 1], ib = sb[rank - 1];
        Span<int> idx = stackalloc int[rank];
        idx.Clear();
        int oa = a.Offset, ob = b.Offset;
        for (int o = 0; o < ys.Length; o += inner)
        {
            for (int j = 0, pa = oa, pb = ob; j < inner; j++, pa += ia, pb += ib) ys[o + j] = Op(ab[pa], bb[pb], kind);
            for (int d = rank - 2; d >= 0; d--)
            {
                idx[d]++;
                oa += sa[d];
                ob += sb[d];
                if (idx[d] < shape[d]) break;
                oa -= sa[d] * shape[d];
                ob -= sb[d] * shape[d];
                idx[d] = 0;
            }
        }
    }

    private sealed class BinaryBackward : Node
    {
        private Tensor? _a;
        private Tensor? _b;
        private Kind _kind;

        /// <summary>A node for a ⊙ b (a dead one of an earlier training step when there is one).</summary>
        internal static BinaryBackward Make(Tensor a, Tensor b, Kind kind)
        {
            var n = NodePool<BinaryBackward>.Take() ?? new BinaryBackward();
            n.Rearm([a, b]);
            n._kind = kind;
            n._a = kind is Kind.Add or Kind.Sub ? null : a;
            n._b = kind is Kind.Add or Kind.Sub ? null : b;
            return n;
        }

        public override string Name => _kind + "Backward";

        internal override bool Recycle() => NodePool<BinaryBackward>.Return(this);

        protected internal override void Backward(Tensor gy)
        {
            switch (_kind)
            {
                case Kind.Add:
                    Accumulate(0, gy, owned: false);
                    Accumulate(1, gy, owned: false);
                    break;
                case Kind.Sub:
                    Accumulate(0, gy, owned: false);
                    if (NeedsGrad(1)) Accumulate(1, Unary.Neg(gy));
                    break;
                case Kind.Mul:
                    if (NeedsGrad(0)) Accumulate(0, Apply(gy, _b!, Kind.Mul));
                    if (NeedsGrad(1)) Accumulate(1, Apply(gy, _a!, Kind.Mul));
                    break;
                case Kind.Div:
                    if (NeedsGrad(0)) Accumulate(0, Apply(gy, _b!, Kind.Div));
                    if (NeedsGrad(1))
                    {
                        // d(a/b)/db = -a/b² = -(a/b)/b
                        var q = Apply(Apply(_a!, _b!, Kind.Div), _b!, Kind.Div);
                        Accumulate(1, Unary.Neg(Apply(gy, q, Kind.Mul)));
                    }
                    break;
                default:
                    // gradient goes to the selected operand; ties split evenly (as PyTorch's maximum does)
                    var (ga, gb) = SelectMasks(_a!, _b!, _kind == Kind.Max);
                    if (NeedsGrad(0)) Accumulate(0, Apply(gy, ga, Kind.Mul));
                    if (NeedsGrad(1)) Accumulate(1, Apply(gy, gb, Kind.Mul));
                    break;
            }
        }

        protected override void ReleaseSaved()
        {
            _a = null;
            _b = null;
        }
    }

    private static (Tensor, Tensor) SelectMasks(Tensor a, Tensor b, bool max)
    {
        var shape = ShapeUtil.Broadcast(a.Shape, b.Shape, "Maximum");
        var ae = Movement.Expand(a, shape).Contiguous();
        var be = Movement.Expand(b, shape).Contiguous();
        var ma = Tensor.Empty(shape, a.DType);
        var mb = Tensor.Empty(shape, a.DType);
        for (int i = 0; i < ma.Length; i++)
        {
            double x = ae.GetFlat(ae.Offset + i), z = be.GetFlat(be.Offset + i);
            double wa = x == z ? 0.5 : (max ? (x > z ? 1 : 0) : (x < z ? 1 : 0));
            ma.SetFlat(i, wa);
            mb.SetFlat(i, x == z ? 0.5 : 1 - wa);
        }
        return (ma, mb);
    }

    /// <summary>dst += src in place (shapes equal, or src broadcastable to dst); not recorded.</summary>
    internal static void AddInPlace(Tensor dst, Tensor src)
    {
        if (dst.IsContiguous && src.IsContiguous && dst.Length == src.Length && dst.DType == src.DType)
        {
            if (dst.DType == DType.Float32) TensorPrimitives.Add(dst.F, src.F, dst.F);
            else TensorPrimitives.Add(dst.D, src.D, dst.D);
            return;
        }
        using var _ = Autograd.NoGrad();
        var sum = Apply(dst, src, Kind.Add);
        dst.CopyFrom(sum);
    }
}
