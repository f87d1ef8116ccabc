using System.Numerics;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using FlexNet.Kernels;
using FlexNet.Tensors;
using FlexNet.Autodiff;

namespace FlexNet.Autodiff.Ops;

/// <summary>
/// Fused pre-activation sum of a graph layer with dense and identity inputs, bias and activation:
/// y = act(Σᵢ xᵢ·Wᵢᵀ + Σⱼ bⱼ) with xᵢ [N, inᵢ], Wᵢ [out, inᵢ] (null Wᵢ = identity, inᵢ = out), bⱼ [out].
/// One output buffer: the GEMMs accumulate into it (β = 1) and bias + activation run in place. Backward computes
/// dz = gy ⊙ act′ once, adds dzᵀ·xᵢ straight into leaf weight gradients (GEMM with β = 1, no temporary),
/// dz·Wᵢ for the inputs and column sums of dz for the biases.
/// </summary>
internal static class DenseSum
{
    internal static Tensor Apply(ReadOnlySpan<Tensor> xs, ReadOnlySpan<Tensor?> ws, ReadOnlySpan<Tensor?> biases, FusedActivation act,
                                 ReadOnlySpan<PackedWeight?> packed = default)
    {
        int k = xs.Length;
        var x0 = xs[0];
        var dtype = x0.DType;
        int n = x0.ShapeArray[0];
        int outF = ws[0] is { } w0 ? w0.ShapeArray[0] : x0.ShapeArray[1];
        bool record = false;
        if (Autograd.IsEnabled)
        {
            for (int i = 0; i < k; i++) record |= xs[i].RequiresGrad || ws[i] is { RequiresGrad: true };
            foreach (var b in biases) record |= b is { RequiresGrad: true };
        }
        // recorded: the node (a dead one of an earlier training step when there is one) owns the saved inputs
        // Stryker disable once NullCoalescing : a pooled dead node is re-armed in full; a new one differs in memory only
        var node = record ? NodePool<DenseSumBackward>.Take() ?? new DenseSumBackward() : null;
        // (not recorded: a pooled array for the contiguous inputs, given back after the product)
        Tensor[] saved;
        if (node is not null) saved = node.SavedInputs(k);
        else saved = NodeArrays.Rent(k)!;
        for (int i = 0; i < k; i++)
        {
            var x = xs[i];
            if (x.Rank != 2 || x.ShapeArray[0] != n || x.DType != dtype)
                throw new ShapeMismatchException($"DenseSum: input {i} has shape {ShapeUtil.Format(x.Shape)} ({x.DType}); expected [{n}, in] ({dtype}).");
            int inF = x.ShapeArray[1];
            if (ws[i] is { } w && (w.Rank != 2 || w.ShapeArray[0] != outF || w.ShapeArray[1] != inF || !w.IsContiguous || w.DType != dtype))
                throw new ShapeMismatchException($"DenseSum: weight {i} {ShapeUtil.Format(w.Shape)} does not map [{n}, {inF}] to [{n}, {outF}] (or is not contiguous {dtype}).");
            if (ws[i] is null && inF != outF)
                throw new ShapeMismatchException($"DenseSum: identity input {i} has {inF} features, the output {outF}.");
            if (x.IsContiguous) saved[i] = x;
            else using (Autograd.NoGrad()) saved[i] = Movement.Clone(x.Detach());
        }
        var y = Tensor.Empty([n, outF], dtype);
        Tensor? bias = null;
        foreach (var b in biases)
        {
            if (b is null) continue;
            if (b.Rank != 1 || b.ShapeArray[0] != outF || b.DType != dtype)
                throw new ShapeMismatchException($"DenseSum: bias {ShapeUtil.Format(b.Shape)} does not fit [{outF}].");
            var bc = b.Contiguous();
            if (bias is null) bias = bc;
            else
            {
                var sum = Tensor.Empty([outF], dtype);
                if (dtype == DType.Float32) TensorPrimitives.Add(bias.F, bc.F, sum.F); else TensorPrimitives.Add(bias.D, bc.D, sum.D);
                bias = sum;
            }
        }
        if (dtype == DType.Float32) Forward<float>(saved, ws, packed, bias, y, n, outF, act);
        else Forward<double>(saved, ws, packed, bias, y, n, outF, act);
        if (node is null) NodeArrays.Return(saved);

        if (node is not null)
        {
            node.Arm(xs, ws, biases, y, act);
            y.MarkRecorded(node);
        }
        return y;
    }

    private static void Forward<T>(Tensor[] xs, ReadOnlySpan<Tensor?> ws, ReadOnlySpan<PackedWeight?> packed, Tensor? bias, Tensor y, int n, int outF, FusedActivation act)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var ys = y.Data<T>();
        var bs = bias is null ? default : bias.Data<T>();
        int last = xs.Length - 1;
        bool first = true;
        for (int i = 0; i <= last; i++)
        {
            var x = xs[i].Data<T>();
            if (ws[i] is { } w)
            {
                int inF = xs[i].ShapeArray[1];
                T beta = first ? T.Zero : T.One;
                // the last term a GEMM: bias + activation go in its epilogue (bit-identical to the separate pass below,
                // which the GEMM takes itself where it cannot fuse); an identity input last keeps the separate pass
                bool fuse = i == last;
                if (i < packed.Length && packed[i] is { } pw && ReferenceEquals(pw.Source, w))
                {
                    // Wᵀ packed once per run by the plan
                    if (fuse) pw.MultiplyBiasActInto<T>(n, x, beta, ys, bs, act);
                    else pw.MultiplyInto<T>(n, x, beta, ys);
                }
                else if (fuse)
                    Gemm.RunBiasAct(false, true, n, outF, inF, T.One, x, inF, w.Data<T>(), inF, beta, ys, outF, bs, act);
                else
                    Gemm.Run(false, true, n, outF, inF, T.One, x, inF, w.Data<T>(), inF, beta, ys, outF);
                if (fuse) return;
            }
            else if (first) x.CopyTo(ys);
            else TensorPrimitives.Add(ys, x, ys);
            first = false;
        }
        Activations.BiasAct<T>(ys, bs, ys, n, outF, act);
    }

    private sealed class DenseSumBackward : Node
    {
        private Tensor[]? _xs;
        private Tensor?[]? _ws;
        private Tensor? _y;
        private int _k;
        private FusedActivation _act;
        [ThreadStatic] private static Tensor?[]? t_inputs;

        /// <summary>The array the forward fills with the saved (contiguous) inputs.</summary>
        internal Tensor[] SavedInputs(int k) => _xs = NodeArrays.Rent(k)!;

        /// <summary>Records the op: inputs xs, then ws, then biases (as the constructor of a node would).</summary>
        internal void Arm(ReadOnlySpan<Tensor> xs, ReadOnlySpan<Tensor?> ws, ReadOnlySpan<Tensor?> biases, Tensor y, FusedActivation act)
        {
            int k = xs.Length, count = 2 * k + biases.Length;
            var inputs = t_inputs is { } t && t.Length >= count ? t : t_inputs = new Tensor?[Math.Max(count, 8)];
            for (int i = 0; i < k; i++) { inputs[i] = xs[i]; inputs[k + i] = ws[i]; }
            for (int j = 0; j < biases.Length; j++) inputs[2 * k + j] = biases[j];
            Rearm(inputs.AsSpan(0, count));
            Array.Clear(inputs, 0, count);
            _ws = NodeArrays.Rent(k);
            ws.CopyTo(_ws);
            _y = y.Detach();
            _k = k;
            _act = act;
        }

        // TensorScope recycles a dead node only after Release (ReleaseSaved handed its arrays back to NodeArrays)
        internal override bool Recycle() => NodePool<DenseSumBackward>.Return(this);

        protected internal override void Backward(Tensor gy)
        {
            if (gy.DType == DType.Float32) Run<float>(gy);
            else Run<double>(gy);
        }

        private void Run<T>(Tensor gy) where T : unmanaged, IFloatingPointIeee754<T>
        {
            var xs = _xs!;
            var ws = _ws!;
            var y = _y!;
            int n = y.ShapeArray[0], outF = y.ShapeArray[1];
            var g = gy; // the backward walk hands every node a contiguous gradient (Autograd.AccumulateInto, the seed)
            Tensor dz;
            if (_act == FusedActivation.Linear) dz = g;
            else
            {
                dz = Tensor.Empty(y.ShapeArray, y.DType);
                var d = dz.Data<T>();
                d.Clear();
                switch (_act)
                {
                    case FusedActivation.Relu: Activations.ReluBackward<T>(y.Data<T>(), g.Data<T>(), d); break;
                    case FusedActivation.Tanh: Activations.TanhBackward<T>(y.Data<T>(), g.Data<T>(), d); break;
                    default: Activations.SigmoidBackward<T>(y.Data<T>(), g.Data<T>(), d); break;
                }
            }
            var dzs = dz.Data<T>();
            Tensor? db = null;
            for (int j = 2 * _k; j < Inputs.Length; j++)
            {
                // Stryker disable once Statement : Accumulate skips a bias that needs no gradient; the test only saves the column sums
                if (!NeedsGrad(j)) continue;
                if (db is null)
                {
                    db = Tensor.Empty([outF], y.DType);
                    db.Data<T>().Clear();
                    RowSum.AddColumnSums<T>(dzs, n, outF, db.Data<T>());
                }
                Accumulate(j, db, owned: false);
            }
            for (int i = 0; i < _k; i++)
            {
                var x = xs[i];
                int inF = x.ShapeArray[1];
                if (ws[i] is { } w)
                {
                    if (NeedsGrad(_k + i))
                    {
                        if (w.IsLeaf && (w.Grad is null || (w.Grad.IsContiguous && w.Grad.DType == w.DType && ShapeUtil.SameShape(w.Grad.Shape, w.Shape))))
                        {
                            bool fresh = w.Grad is null;
                            if (fresh)
                                w.Grad = w.TakeSpareGrad(w.DType); // recycled buffer: overwritten below (β = 0)
                            if (fresh && w.Grad is null)
                                using (TensorScope.Suspend()) w.Grad = Tensor.Empty(w.ShapeArray, w.DType);
                            Gemm.Run(true, false, outF, inF, n, T.One, dzs, outF, x.Data<T>(), inF, fresh ? T.Zero : T.One, w.Grad!.Data<T>(), inF);
                        }
                        else
                        {
                            var dw = Tensor.Empty(w.ShapeArray, w.DType);
                            Gemm.Run(true, false, outF, inF, n, T.One, dzs, outF, x.Data<T>(), inF, T.Zero, dw.Data<T>(), inF);
                            Accumulate(_k + i, dw);
                        }
                    }
                    if (NeedsGrad(i))
                    {
                        var dx = Tensor.Empty([n, inF], y.DType);
                        Gemm.Run(false, false, n, inF, outF, T.One, dzs, outF, w.Data<T>(), inF, T.Zero, dx.Data<T>(), inF);
                        Accumulate(i, dx);
                    }
                }
                else if (NeedsGrad(i))
                {
                    Accumulate(i, dz, owned: false);
                }
            }
            // node-private temporaries (what was handed on was copied): back to the pool now
            if (!ReferenceEquals(dz, g)) Autograd.ReleaseTemporary(dz);
            if (db is not null)
                // Stryker disable once Statement : returns a node-private buffer to the pool early; memory only
                Autograd.ReleaseTemporary(db);
        }

        // Stryker disable once Block : memory only: the saved inputs and rented arrays are kept until the node is armed again
        protected override void ReleaseSaved()
        {
            // Stryker disable once Equality,Statement : hands the rented array back to NodeArrays for reuse; memory only
            if (_xs is not null) NodeArrays.Return(_xs);
            // Stryker disable once Equality,Statement : hands the rented array back to NodeArrays for reuse; memory only
            if (_ws is not null) NodeArrays.Return(_ws);
            _xs = null;
            _ws = null;
            _y = null;
        }
    }
}
