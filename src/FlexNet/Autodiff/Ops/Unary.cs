using System.Numerics;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using FlexNet.Kernels;
using FlexNet.Tensors;
using FlexNet.Autodiff;

namespace FlexNet.Autodiff.Ops;

/// <summary>Elementwise unary ops, each forward beside its derivative.</summary>
internal static class Unary
{
    internal enum Kind
    {
        Neg, Exp, Log, Sqrt, Abs, Square, Tanh, Sigmoid, Relu, LeakyRelu, Elu, Softplus, Softsign, Clip,
        PowScalar, AddScalar, MulScalar,
    }

    internal static Tensor Neg(Tensor x) => Apply(x, Kind.Neg);

    internal static Tensor Apply(Tensor x, Kind kind, double p1 = 0, double p2 = 0)
    {
        if (!x.DType.IsFloatingPoint()) x.RequireFloat(kind.ToString()); // the name is formatted only for the error
        var xc = x.Contiguous();
        var y = Tensor.Empty(x.ShapeArray, x.DType);
        if (y.Length >= ParallelLength && kind == Kind.Relu)
        {
            if (x.DType == DType.Float32) ReluParallel<float>(xc.F, y.F, default, default, backward: false);
            else ReluParallel<double>(xc.D, y.D, default, default, backward: false);
        }
        else if (y.Length > 0)
        {
            if (x.DType == DType.Float32) Forward<float>(xc.F, y.F, kind, (float)p1, (float)p2);
            else Forward<double>(xc.D, y.D, kind, p1, p2);
        }
        if (Autograd.ShouldRecord(x)) y.MarkRecorded(UnaryBackward.Make(x, xc, y, kind, p1, p2));
        return y;
    }

    /// <summary>Relu of at least this many elements runs in element ranges on the workers (forward, and backward with
    /// each range of the gradient cleared where it is computed instead of in a serial pass first).</summary>
    internal const int ParallelLength = 1 << 17;

    /// <summary>Forward: y = relu(x); backward: gx = 0, then gx += relu'(x)·gy (the same bits as
    /// <see cref="Activations.ReluBackward{T}"/> into zeros), over fixed element ranges (any core count, same result).</summary>
    private static unsafe void ReluParallel<T>(ReadOnlySpan<T> x, Span<T> y, ReadOnlySpan<T> gy, Span<T> gx, bool backward)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        fixed (T* px = x, py = y, pgy = gy, pgx = gx)
            RowParallel.For(new ReluJob<T>(px, py, pgy, pgx, backward), x.Length, 1);
    }

    private readonly unsafe struct ReluJob<T>(T* x, T* y, T* gy, T* gx, bool backward) : IRowJob
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        public void Run(int start, int end)
        {
            int n = end - start;
            var xs = new ReadOnlySpan<T>(x + start, n);
            if (!backward)
            {
                Activations.Relu(xs, new Span<T>(y + start, n));
                return;
            }
            var d = new Span<T>(gx + start, n);
            d.Clear();
            Activations.ReluBackward(xs, new ReadOnlySpan<T>(gy + start, n), d);
        }
    }

    private static void Forward<T>(ReadOnlySpan<T> x, Span<T> y, Kind kind, T p1, T p2)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        switch (kind)
        {
            case Kind.Neg: TensorPrimitives.Negate(x, y); break;
            case Kind.Exp: TensorPrimitives.Exp(x, y); break;
            case Kind.Log: TensorPrimitives.Log(x, y); break;
            case Kind.Sqrt: TensorPrimitives.Sqrt(x, y); break;
            case Kind.Abs: TensorPrimitives.Abs(x, y); break;
            case Kind.Square: TensorPrimitives.Multiply(x, x, y); break;
            case Kind.Tanh: Activations.Tanh(x, y); break;
            case Kind.Sigmoid: Activations.Sigmoid(x, y); break;
            case Kind.Relu: Activations.Relu(x, y); break;
            case Kind.Clip: Activations.Clip(x, y, p1, p2); break;
            case Kind.PowScalar: TensorPrimitives.Pow(x, p1, y); break;
            case Kind.AddScalar: TensorPrimitives.Add(x, p1, y); break;
            case Kind.MulScalar: TensorPrimitives.Multiply(x, p1, y); break;
            case Kind.LeakyRelu: Activations.LeakyRelu(x, y, p1); break;
            case Kind.Elu: Activations.Elu(x, y, p1); break;
            case Kind.Softplus: Activations.Softplus(x, y); break;
            case Kind.Softsign: Activations.Softsign(x, y); break;
        }
    }

    /// <summary>gx += gy * f'(x), through the saved output y where that is cheaper or more stable. gx is accumulated into.</summary>
    private static void Derivative<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> y, ReadOnlySpan<T> gy, Span<T> gx, Kind kind, T p1, T p2)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        switch (kind)
        {
            case Kind.Neg: TensorPrimitives.Subtract(gx, gy, gx); break;
            case Kind.Exp: Activations.ExpBackward(y, gy, gx); break;
            case Kind.Log: Activations.LogBackward(x, gy, gx); break;
            case Kind.Sqrt: Activations.SqrtBackward(y, gy, gx); break;
            case Kind.Abs: Activations.AbsBackward(x, gy, gx); break;
            case Kind.Square: Activations.SquareBackward(x, gy, gx); break;
            case Kind.Tanh: Activations.TanhBackward(y, gy, gx); break;
            case Kind.Sigmoid: Activations.SigmoidBackward(y, gy, gx); break;
            case Kind.Relu: Activations.ReluBackward(x, gy, gx); break;
            case Kind.LeakyRelu: Activations.LeakyReluBackward(x, gy, gx, p1); break;
            case Kind.Elu: Activations.EluBackward(x, gy, gx, p1); break;
            case Kind.Softplus: Activations.SoftplusBackward(x, gy, gx); break;
            case Kind.Softsign: Activations.SoftsignBackward(x, gy, gx); break;
            case Kind.Clip: Activations.ClipBackward(x, gy, gx, p1, p2); break;
            case Kind.PowScalar:
                for (int i = 0; i < gx.Length; i++) gx[i] += gy[i] * p1 * T.Pow(x[i], p1 - T.One);
                break;
            case Kind.AddScalar: TensorPrimitives.Add(gx, gy, gx); break;
            case Kind.MulScalar: TensorPrimitives.MultiplyAdd(gy, p1, gx, gx); break;
        }
    }

    private sealed class UnaryBackward : Node
    {
        private Tensor? _x;
        private Tensor? _y;
        private Kind _kind;
        private double _p1, _p2;

        /// <summary>A node for kind(x) (a dead one of an earlier training step when there is one).</summary>
        internal static UnaryBackward Make(Tensor x, Tensor xc, Tensor y, Kind kind, double p1, double p2)
        {
            var n = NodePool<UnaryBackward>.Take() ?? new UnaryBackward();
            n.Rearm([x]);
            (n._x, n._y, n._kind, n._p1, n._p2) = (xc, y, kind, p1, p2);
            return n;
        }

        internal override bool Recycle() => NodePool<UnaryBackward>.Return(this);

        public override string Name => _kind + "Backward";

        protected internal override void Backward(Tensor gy)
        {
            var g = gy.Contiguous();
            if (_kind == Kind.Relu && g.Length >= ParallelLength)
            {
                var gxe = Tensor.Empty(gy.ShapeArray, gy.DType);
                if (gy.DType == DType.Float32) ReluParallel<float>(_x!.F, default, g.F, gxe.F, backward: true);
                else ReluParallel<double>(_x!.D, default, g.D, gxe.D, backward: true);
                Accumulate(0, gxe);
                return;
            }
            var gx = Tensor.Zeros(gy.ShapeArray, gy.DType);
            if (gx.Length > 0)
            {
                if (gy.DType == DType.Float32) Derivative<float>(_x!.F, _y!.F, g.F, gx.F, _kind, (float)_p1, (float)_p2);
                else Derivative<double>(_x!.D, _y!.D, g.D, gx.D, _kind, _p1, _p2);
            }
            Accumulate(0, gx);
        }

        protected override void ReleaseSaved()
        {
            _x = null;
            _y = null;
        }
    }

    /// <summary>where(cond, a, b): a where cond != 0, else b (cond is any dtype; all three broadcast).</summary>
    internal static Tensor Where(Tensor cond, Tensor a, Tensor b)
    {
        if (a.DType != b.DType) throw new ArgumentException($"Where: dtypes differ ({a.DType} vs {b.DType}).");
        var shape = ShapeUtil.Broadcast(ShapeUtil.Broadcast(cond.Shape, a.Shape, "Where"), b.Shape, "Where");
        Tensor mask, ae, be;
        using (Autograd.NoGrad())
        {
            // a 0/1 mask in the values' dtype (any non-zero condition counts as true), and a, b broadcast
            mask = Movement.Expand(cond.Detach().To(a.DType), shape).Contiguous();
            ae = Movement.Expand(a.Detach(), shape).Contiguous();
            be = Movement.Expand(b.Detach(), shape).Contiguous();
        }
        var y = Tensor.Empty(shape, a.DType);
        if (a.DType == DType.Float32) Activations.Where<float>(mask.F, ae.F, be.F, y.F);
        else Activations.Where<double>(mask.D, ae.D, be.D, y.D);
        if (Autograd.ShouldRecord(a, b)) y.MarkRecorded(new WhereBackward(a, b, mask));
        return y;
    }

    private sealed class WhereBackward(Tensor a, Tensor b, Tensor mask) : Node(a, b)
    {
        protected internal override void Backward(Tensor gy)
        {
            var g = gy.Contiguous();
            var ga = NeedsGrad(0) ? Tensor.Zeros(g.ShapeArray, g.DType) : null;
            var gb = NeedsGrad(1) ? Tensor.Zeros(g.ShapeArray, g.DType) : null;
            if (g.DType == DType.Float32)
                Activations.WhereBackward<float>(mask.F, g.F, ga is null ? default : ga.F, gb is null ? default : gb.F);
            else
                Activations.WhereBackward<double>(mask.D, g.D, ga is null ? default : ga.D, gb is null ? default : gb.D);
            if (ga is not null) Accumulate(0, ga);
            if (gb is not null) Accumulate(1, gb);
        }
    }
}
