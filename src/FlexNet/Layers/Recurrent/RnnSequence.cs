using System.Numerics;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using FlexNet.Autodiff;
using FlexNet.Kernels;
using FlexNet.Tensors;

namespace FlexNet.Layers.Recurrent;

/// <summary>
/// A whole sequence of Elman steps (<c>torch.nn.RNN</c>) as ONE recorded op: forward P = X·W_ihᵀ + (b_ih + b_hh) for
/// all T steps in one product, then per step h_t = act(h_{t−1}·W_hhᵀ + P_t). Backward walks the steps in reverse:
/// g_t = (dY_t + g_{t+1}·W_hh) ⊙ act′(h_t), one product per step, then the weight gradients over all steps at once:
/// dW_ih = Gᵀ·X, dW_hh = Σ_t g_tᵀ·h_{t−1} (one product with k = T·N), db_ih = db_hh = column sums of G, dX = G·W_ih,
/// dh₀ = g_first·W_hh. x [T, N, I], W_ih [H, I], W_hh [H, H], biases [H], h₀ [N, H] → Y [T, N, H].
/// </summary>
/// <remarks>
/// <para>A batch-1 step is two 64 × 64 matrix-vector products: recorded step by step (<see cref="RnnStep"/>), the
/// autograd node, the tensors and the dispatch of each step cost ten times the arithmetic. Here a step is the two
/// products and one pointwise pass over buffers made once per sequence.</para>
/// <para>The forward values are those of <see cref="RnnCell.StepProjected"/> over <see cref="RnnCell.ProjectInput"/>
/// (the same products, sums and activation kernels in the same order), which makes the per-step cell its oracle. With
/// <see cref="Autograd.FlushSubnormals"/> on, the backward pass flushes each step's incoming gradient and g_t to zero
/// where they are subnormal, as the walk does for the gradient handed to every node.</para>
/// <para>With <c>reverse</c>, steps run t = T−1 down to 0 and Y stays in input order (row t is the output after
/// reading x_t).</para>
/// </remarks>
internal static class RnnSequence
{
    /// <summary>Runs the sequence; returns Y [T, N, H].</summary>
    internal static Tensor Apply(Tensor x, Tensor wIh, Tensor wHh, Tensor bIh, Tensor bHh, Tensor h0, RecurrentActivation act, bool reverse)
    {
        int steps = x.Shape[0], n = x.Shape[1], inF = x.Shape[2], hs = wHh.Shape[1];
        if (steps < 1 || wIh.Shape[0] != hs || wIh.Shape[1] != inF || wHh.Shape[0] != hs
            || h0.Rank != 2 || h0.Shape[0] != n || h0.Shape[1] != hs)
            throw new ShapeMismatchException($"RnnSequence: x {ShapeUtil.Format(x.Shape)}, W_ih {ShapeUtil.Format(wIh.Shape)}, W_hh {ShapeUtil.Format(wHh.Shape)}, h0 {ShapeUtil.Format(h0.Shape)} do not fit an Elman RNN over [T, N, I].");
        var dtype = x.DType;
        var s = new Saved
        {
            X = x.Contiguous().Detach(), WIh = wIh.Contiguous().Detach(), WHh = wHh.Contiguous().Detach(),
            H0 = h0.Contiguous().Detach(), Act = act, Reverse = reverse,
        };
        var y = Tensor.Empty([steps, n, hs], dtype);
        var p = Tensor.Empty([steps, n, hs], dtype);
        var bias = Tensor.Empty([hs], dtype);
        if (dtype == DType.Float32)
        {
            TensorPrimitives.Add(bIh.Contiguous().F, bHh.Contiguous().F, bias.F);
            Forward<float>(s, bias.F, p.F, y.F, steps, n, inF, hs);
        }
        else
        {
            TensorPrimitives.Add(bIh.Contiguous().D, bHh.Contiguous().D, bias.D);
            Forward<double>(s, bias.D, p.D, y.D, steps, n, inF, hs);
        }
        // Stryker disable once Statement: memory only: p and the summed bias go back to the pool (a plain allocation is collected instead)
        Autograd.ReleaseTemporary(p);
        // Stryker disable once Statement: memory only (as the line above)
        Autograd.ReleaseTemporary(bias);
        if (Autograd.IsEnabled && (x.RequiresGrad || wIh.RequiresGrad || wHh.RequiresGrad || bIh.RequiresGrad
                                   || bHh.RequiresGrad || h0.RequiresGrad))
        {
            s.Y = y.Detach();
            y.MarkRecorded(new RnnSequenceBackward(x, wIh, wHh, bIh, bHh, h0, s));
        }
        return y;
    }

    /// <summary>What backward needs from forward (all contiguous).</summary>
    private sealed class Saved
    {
        public required Tensor X, WIh, WHh, H0;
        public Tensor? Y;
        public RecurrentActivation Act;
        public bool Reverse;
    }

    private static void Forward<T>(Saved s, ReadOnlySpan<T> bias, Span<T> p, Span<T> y, int steps, int n, int inF, int hs)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int rows = steps * n, nh = n * hs;
        // P = X·W_ihᵀ, then + (b_ih + b_hh) per row (RnnCell.ProjectInput's order)
        Gemm.Run(false, true, rows, hs, inF, T.One, s.X.Data<T>(), inF, s.WIh.Data<T>(), inF, T.Zero, p, hs);
        for (int r = 0; r < rows; r++)
        {
            var row = p.Slice(r * hs, hs);
            TensorPrimitives.Add(row, bias, row);
        }
        ReadOnlySpan<T> w = s.WHh.Data<T>(), h0 = s.H0.Data<T>();
        for (int k = 0; k < steps; k++)
        {
            int t = s.Reverse ? steps - 1 - k : k, prev = LstmSequence.Prev(t, steps, s.Reverse);
            ReadOnlySpan<T> hPrev = prev < 0 ? h0 : y.Slice(prev * nh, nh);
            var z = y.Slice(t * nh, nh);
            // h_t = act(h_{t−1}·W_hhᵀ + P_t) (RnnStep's order: the product, then + P_t, then the activation)
            Gemm.Run(false, true, n, hs, hs, T.One, hPrev, hs, w, hs, T.Zero, z, hs);
            TensorPrimitives.Add(z, p.Slice(t * nh, nh), z);
            RnnStep.Activate(z, s.Act);
        }
    }

    private sealed class RnnSequenceBackward(Tensor x, Tensor wIh, Tensor wHh, Tensor bIh, Tensor bHh, Tensor h0, Saved saved)
        : Node(x, wIh, wHh, bIh, bHh, h0)
    {
        private Saved? _s = saved;

        public override string Name => "RnnSequenceBackward";

        protected internal override void Backward(Tensor gy)
        {
            // Stryker disable once String,Statement: unreachable: a second backward through a released graph is refused by the walk before any node runs
            var s = _s ?? throw new InvalidOperationException("RnnSequenceBackward: saved values were released.");
            // Stryker disable once Conditional: equivalent: a contiguous gradient copied once more gives the same values
            var g = gy.IsContiguous ? gy : gy.Contiguous();
            if (g.DType == DType.Float32) Run<float>(s, g);
            else Run<double>(s, g);
            // Stryker disable once Statement,Boolean: memory only: which buffer goes back to the pool after the walk is done with it
            if (!ReferenceEquals(g, gy)) Autograd.ReleaseTemporary(g);
        }

        private void Run<T>(Saved s, Tensor gTensor) where T : unmanaged, IFloatingPointIeee754<T>
        {
            int steps = s.X.Shape[0], n = s.X.Shape[1], inF = s.X.Shape[2], hs = s.WHh.Shape[1];
            int nh = n * hs, rows = steps * n;
            var dtype = s.X.DType;
            var gAllTensor = Tensor.Empty([steps, n, hs], dtype);
            var dhTensor = Tensor.Empty([n, hs], dtype);
            ReadOnlySpan<T> dy = gTensor.Data<T>(), y = s.Y!.Data<T>(), w = s.WHh.Data<T>();
            Span<T> gAll = gAllTensor.Data<T>(), dh = dhTensor.Data<T>();
            bool flush = Autograd.FlushSubnormals;
            bool needH0 = NeedsGrad(5);
            int later = -1; // the step processed after t in forward, once backward has done it
            for (int k = steps - 1; k >= 0; k--)
            {
                int t = s.Reverse ? steps - 1 - k : k;
                // dh = dY_t (+ g_later·W_hh, already in dh), then g_t = dh ⊙ act′(h_t)
                if (later >= 0) TensorPrimitives.Add(dh, dy.Slice(t * nh, nh), dh);
                else dy.Slice(t * nh, nh).CopyTo(dh);
                // Stryker disable once Statement: equivalent: g = dh ⊙ act′ with |act′| ≤ 1 is subnormal or zero wherever dh is, and g is flushed below
                if (flush) Subnormals.FlushToZero(dh);
                var gt = gAll.Slice(t * nh, nh);
                gt.Clear();
                RnnStep.Derivative<T>(y.Slice(t * nh, nh), dh, gt, s.Act);
                if (flush) Subnormals.FlushToZero(gt);
                later = t;
                // dh_{t−1} = g_t·W_hh [N, H]·[H, H]
                // Stryker disable once Equality: equivalent: one more product into dh, which is then discarded (h0 needs no gradient)
                if (k > 0 || needH0) Gemm.Run(false, false, n, hs, hs, T.One, gt, hs, w, hs, T.Zero, dh, hs);
            }
            var x = s.X.Data<T>();
            var h0 = s.H0.Data<T>();
            if (NeedsGrad(1))
            {
                // dW_ih = Gᵀ·X over all steps
                var target = LstmSequence.GradTarget<T>(Inputs[1]!, out T beta, out var temp);
                Gemm.Run(true, false, hs, inF, rows, T.One, gAll, hs, x, inF, beta, target, inF);
                if (temp is not null) Accumulate(1, temp);
            }
            if (NeedsGrad(2))
            {
                // dW_hh = Σ_t g_tᵀ·h_{t−1}: the steps whose h_{t−1} is a row of Y in one product, then the first step's h0
                var target = LstmSequence.GradTarget<T>(Inputs[2]!, out T beta, out var temp);
                int first = s.Reverse ? steps - 1 : 0;
                // Stryker disable once Equality: equivalent: with one step the product runs over zero rows and leaves β·target
                if (steps > 1)
                {
                    var gSteps = s.Reverse ? gAll[..((steps - 1) * nh)] : gAll[nh..];
                    var hSteps = s.Reverse ? y[nh..] : y[..((steps - 1) * nh)];
                    Gemm.Run(true, false, hs, hs, (steps - 1) * n, T.One, gSteps, hs, hSteps, hs, beta, target, hs);
                    beta = T.One;
                }
                Gemm.Run(true, false, hs, hs, n, T.One, gAll.Slice(first * nh, nh), hs, h0, hs, beta, target, hs);
                if (temp is not null) Accumulate(2, temp);
            }
            if (NeedsGrad(3) || NeedsGrad(4))
            {
                var db = Tensor.Empty([hs], dtype);
                db.Data<T>().Clear();
                RowSum.AddColumnSums<T>(gAll, rows, hs, db.Data<T>());
                // Stryker disable once Boolean: memory only: one input adopting db is safe (the other gets a copy); both adopting it is caught by SequenceMutationGapTests
                if (NeedsGrad(3)) Accumulate(3, db, owned: false);
                // Stryker disable once Boolean: memory only (as the line above)
                if (NeedsGrad(4)) Accumulate(4, db, owned: false);
                // Stryker disable once Statement: memory only
                Autograd.ReleaseTemporary(db);
            }
            if (NeedsGrad(0))
            {
                var dx = Tensor.Empty([steps, n, inF], dtype);
                Gemm.Run(false, false, rows, inF, hs, T.One, gAll, hs, s.WIh.Data<T>(), inF, T.Zero, dx.Data<T>(), inF);
                Accumulate(0, dx);
            }
            if (needH0) Accumulate(5, dhTensor);
            // Stryker disable once Statement: memory only
            else Autograd.ReleaseTemporary(dhTensor);
            // Stryker disable once Statement: memory only
            Autograd.ReleaseTemporary(gAllTensor);
        }

        protected override void ReleaseSaved() => _s = null;
    }
}
