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
            // a one-element operand broadcasts to the other's shape, so the other has y's length already. The returns
            // of these fast paths only save time: without them the paths below (at last General) write the same values.
            if (b.Length == 1)
            {
                ScalarRight(a.Data<T>(), b.Data<T>()[0], ys, kind);
                // Stryker disable once Statement : only speed, the paths below write the same values
                return;
            }
            if (a.Length == 1)
            {
                ScalarLeft(a.Data<T>()[0], b.Data<T>(), ys, kind);
                // Stryker disable once Statement : only speed, the paths below write the same values
                return;
            }
            // b broadcasts as a row over a's leading dimensions (bias add): b's shape is a suffix of y's shape
            if (a.Length == y.Length && IsSuffix(b.Shape, y.Shape))
            {
                var bs = b.Data<T>();
                var as_ = a.Data<T>();
                int w = bs.Length;
                for (int o = 0; o < ys.Length; o += w) Same(as_.Slice(o, w), bs, ys.Slice(o, w), kind);
                // Stryker disable once Statement : only speed, General writes the same values again
                return;
            }
        }
        General<T>(a, b, y, kind);
    }

    /// <summary>Whether <paramref name="small"/> (b's shape, broadcast to <paramref name="big"/>, y's shape, so never of
    /// higher rank) is y's trailing dimensions after leading 1s. The caller has sent one-element and empty operands
    /// elsewhere already (an empty b means an empty y, which the equal-length path takes). A wrong "false" only sends
    /// the op through General, which gives the same values; the mutants that make it so are marked.</summary>
    private static bool IsSuffix(ReadOnlySpan<int> small, ReadOnlySpan<int> big)
    {
        int off = big.Length - small.Length;
        int firstNon1 = 0;
        // Stryker disable once Equality : `>` gives false (General, same values); `<=` only differs when b is all 1s, which the one-element path takes; `!= 1` only refuses a leading 1 (General)
        while (firstNon1 < small.Length && small[firstNon1] == 1) firstNon1++;
        for (int i = firstNon1; i < small.Length; i++)
        {
            // Stryker disable once Equality : b's dimensions after its leading 1s are 1 or y's, and the first is y's, so `==` only returns false (General, same values)
            if (small[i] != big[off + i]) return false;
        }
        // Stryker disable once Boolean : false only sends the op through General, which writes the same values
        return true;
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
        Kind.Max => T.Max(a, b), // NaN when either is NaN (IEEE 754 maximum), as TensorPrimitives.Max on the fast paths
        _ => T.Min(a, b),
    };

    /// <summary>Fully general strided broadcast loop (innermost dimension tight).</summary>
    private static void General<T>(Tensor a, Tensor b, Tensor y, Kind kind) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var shape = y.ShapeArray;
        int rank = shape.Length;
        var ys = y.Data<T>(); // an empty y runs no row below (o < 0 fails at once); rank 0 has one element
        var sa = ShapeUtil.BroadcastStrides(a.Shape, a.Strides, shape);
        var sb = ShapeUtil.BroadcastStrides(b.Shape, b.Strides, shape);
        var ab = a.Buffer<T>();
        var bb = b.Buffer<T>();
        // Stryker disable once Statement : not reached: a rank-0 y needs rank-0 operands, which are contiguous and take Same
        if (rank == 0) { ys[0] = Op(ab[a.Offset], bb[b.Offset], kind); return; }
        int inner = shape[rank - 1], ia = sa[rank - 1], ib = sb[rank - 1];
        Span<int> idx = stackalloc int[rank];
        // Stryker disable once Statement : stackalloc memory is zeroed already (FlexNet is not compiled with SkipLocalsInit); the Clear keeps it right if that changes
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
            // Add and Sub read neither (a recycled node comes released, so ReleaseSaved has set both to null)
            if (kind is not (Kind.Add or Kind.Sub))
            {
                n._a = a;
                n._b = b;
            }
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
                    var (ga, gb) = SelectMasks(_a!, _b!, gy.ShapeArray, _kind == Kind.Max);
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

    /// <summary>Each operand's share of the gradient at every element of <paramref name="shape"/> (y's shape, the
    /// broadcast of a's and b's): 1 for the selected one, 0 for the other, ½ each on ties.</summary>
    private static (Tensor, Tensor) SelectMasks(Tensor a, Tensor b, int[] shape, bool max)
    {
        var ae = Movement.Expand(a, shape).Contiguous();
        var be = Movement.Expand(b, shape).Contiguous();
        var ma = Tensor.Empty(shape, a.DType);
        var mb = Tensor.Empty(shape, a.DType);
        for (int i = 0; i < ma.Length; i++)
        {
            double x = ae.GetFlat(ae.Offset + i), z = be.GetFlat(be.Offset + i);
            if (x == z)
            {
                ma.SetFlat(ma.Offset + i, 0.5);
                mb.SetFlat(mb.Offset + i, 0.5);
                continue;
            }
            // the selected value is x's (not a tie, and a NaN compares unequal: b gets it, as with x > z before)
            double wa = (max ? Math.Max(x, z) : Math.Min(x, z)) == x ? 1 : 0;
            ma.SetFlat(ma.Offset + i, wa);
            mb.SetFlat(mb.Offset + i, 1 - wa);
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
