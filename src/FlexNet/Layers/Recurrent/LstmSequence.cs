// Over 400 lines on purpose: the whole-sequence LSTM is one recorded op, and its forward loop, its backward loop
// and their two pointwise row kernels (vector widths with scalar tails) share one set of buffers and layouts.
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using FlexNet.Autodiff;
using FlexNet.Kernels;
using FlexNet.Tensors;

namespace FlexNet.Layers.Recurrent;

/// <summary>
/// A whole sequence of <c>torch.nn.LSTM</c> steps (gates i, f, g, o, no peepholes) as ONE recorded op, the way
/// cuDNN runs it: forward P = X·W_ihᵀ + b_ih + b_hh for all T steps in one GEMM, then per step
/// a_t = P_t + h_{t−1}·W_hhᵀ (W_hhᵀ packed once for all steps), i, f, o = σ(a), g = tanh(a), c_t = f ⊙ c_{t−1} + i ⊙ g,
/// h_t = o ⊙ tanh(c_t). Backward walks the steps in reverse with one fused pointwise kernel and one
/// dh_{t−1} = dA_t·W_hh product per step (W_hh packed once), then computes the weight gradients over all steps at
/// once: dW_ih = dAᵀ·X, dW_hh = Σ_t dA_tᵀ·h_{t−1} (one GEMM with k = T·N), db = column sums of dA, dX = dA·W_ih.
/// </summary>
/// <remarks>
/// <para>Output Z [T + 1, N, H]: rows 0..T−1 are h_t in input order (with <c>reverse</c>, step t is the cell's output
/// after reading x_t, processing t = T−1 down to 0), row T is the cell state after the last processed step.</para>
/// <para>The forward values are those of <see cref="LstmCell.StepProjected"/> over <see cref="LstmCell.ProjectInput"/>
/// (the same products, sums and activation kernels in the same order), which makes the per-step cell its oracle.
/// With <see cref="Autograd.FlushSubnormals"/> on, the backward kernel flushes the gradients it produces (and the
/// dh it reads) to zero where they are subnormal, as the walk does for the gradient handed to every node.</para>
/// </remarks>
internal static class LstmSequence
{
    /// <summary>Runs the sequence. x [T, N, I]; W_ih [4H, I]; W_hh [4H, H]; b_ih, b_hh [4H]; h0, c0 [N, H].</summary>
    internal static Tensor Apply(Tensor x, Tensor wIh, Tensor wHh, Tensor bIh, Tensor bHh, Tensor h0, Tensor c0, bool reverse)
    {
        int steps = x.Shape[0], n = x.Shape[1], inF = x.Shape[2], hs = wHh.Shape[1];
        if (steps < 1 || wIh.Shape[0] != 4 * hs || wIh.Shape[1] != inF || wHh.Shape[0] != 4 * hs
            || h0.Rank != 2 || h0.Shape[0] != n || h0.Shape[1] != hs || c0.Rank != 2 || c0.Shape[0] != n || c0.Shape[1] != hs)
            throw new ShapeMismatchException($"LstmSequence: x {ShapeUtil.Format(x.Shape)}, W_ih {ShapeUtil.Format(wIh.Shape)}, W_hh {ShapeUtil.Format(wHh.Shape)}, h0 {ShapeUtil.Format(h0.Shape)}, c0 {ShapeUtil.Format(c0.Shape)} do not fit an LSTM over [T, N, I].");
        var dtype = x.DType;
        bool record = Autograd.IsEnabled && (x.RequiresGrad || wIh.RequiresGrad || wHh.RequiresGrad || bIh.RequiresGrad
                                             || bHh.RequiresGrad || h0.RequiresGrad || c0.RequiresGrad);
        // a recorded op takes a dead node of an earlier training step with its Saved (no allocation per step)
        var node = record ? NodePool<LstmSequenceBackward>.Take() ?? new LstmSequenceBackward() : null;
        var s = node?.S ?? new Saved();
        s.X = x.Contiguous().Detach();
        s.WIh = wIh.Contiguous().Detach();
        s.WHh = wHh.Contiguous().Detach();
        s.H0 = h0.Contiguous().Detach();
        s.C0 = c0.Contiguous().Detach();
        s.Acts = Tensor.Empty([steps, n, 4 * hs], dtype);
        s.C = Tensor.Empty([steps, n, hs], dtype);
        s.TanhC = Tensor.Empty([steps, n, hs], dtype);
        s.Reverse = reverse;
        var z = Tensor.Empty([steps + 1, n, hs], dtype);
        var bias = Tensor.Empty([4 * hs], dtype);
        if (dtype == DType.Float32)
        {
            TensorPrimitives.Add(bIh.Contiguous().F, bHh.Contiguous().F, bias.F);
            Forward<float>(s, bias.F, z.F, steps, n, inF, hs);
        }
        else
        {
            TensorPrimitives.Add(bIh.Contiguous().D, bHh.Contiguous().D, bias.D);
            Forward<double>(s, bias.D, z.D, steps, n, inF, hs);
        }
        if (node is not null)
        {
            s.Z = z.Detach();
            node.Arm(x, wIh, wHh, bIh, bHh, h0, c0);
            z.MarkRecorded(node);
        }
        return z;
    }

    /// <summary>Where a weight's gradient product goes: straight into the leaf's own gradient buffer (β = 1 when it
    /// already holds a sum, β = 0 into a fresh or recycled buffer), or into a temporary to accumulate.</summary>
    internal static Span<T> GradTarget<T>(Tensor w, out T beta, out Tensor? temp) where T : unmanaged, IFloatingPointIeee754<T>
    {
        temp = null;
        if (w.IsLeaf && (w.Grad is null || (w.Grad.IsContiguous && w.Grad.DType == w.DType && ShapeUtil.SameShape(w.Grad.Shape, w.Shape))))
        {
            bool fresh = w.Grad is null;
            if (fresh)
            {
                w.Grad = w.TakeSpareGrad(w.DType);
                if (w.Grad is null)
                    using (TensorScope.Suspend()) w.Grad = Tensor.Empty(w.ShapeArray, w.DType);
            }
            beta = fresh ? T.Zero : T.One;
            return w.Grad!.Data<T>();
        }
        temp = Tensor.Empty(w.ShapeArray, w.DType);
        beta = T.Zero;
        return temp.Data<T>();
    }

    /// <summary>What backward needs from forward (all contiguous).</summary>
    private sealed class Saved
    {
        public Tensor X = null!, WIh = null!, WHh = null!, H0 = null!, C0 = null!, Acts = null!, C = null!, TanhC = null!;
        public Tensor? Z;
        public bool Reverse;

        /// <summary>Drops every reference (the object itself is kept by its pooled node).</summary>
        public void Clear()
        {
            X = WIh = WHh = H0 = C0 = Acts = C = TanhC = null!;
            Z = null;
        }
    }

    /// <summary>This thread's packed-weight and step-region objects, lent to one forward or backward at a time (the
    /// packing itself is made for each use and given back at its end).</summary>
    private static class Reuse<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        [ThreadStatic] internal static GemmPackedB<T>? Pack;
        [ThreadStatic] internal static StepRegion<T>? Region;
    }

    /// <summary>A loan of <see cref="Reuse{T}"/>'s objects (new ones when they are lent already).</summary>
    private ref struct Lease<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        public GemmPackedB<T> Pack;
        public StepRegion<T> Region;

        public static Lease<T> Take()
        {
            var l = new Lease<T> { Pack = Reuse<T>.Pack ?? new GemmPackedB<T>(), Region = Reuse<T>.Region ?? new StepRegion<T>() };
            Reuse<T>.Pack = null;
            Reuse<T>.Region = null;
            return l;
        }

        public readonly void Dispose()
        {
            Pack.Dispose(); // the packing's buffer back to the pool
            Region.W = null;
            Reuse<T>.Pack = Pack;
            Reuse<T>.Region = Region;
        }
    }

    /// <summary>The step processed before step t (−1 for the first processed step).</summary>
    internal static int Prev(int t, int steps, bool reverse) => reverse ? (t == steps - 1 ? -1 : t + 1) : t - 1;

    private static unsafe void Forward<T>(Saved s, ReadOnlySpan<T> bias, Span<T> z, int steps, int n, int inF, int hs)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int g4 = 4 * hs, rows = steps * n, nh = n * hs;
        var acts = s.Acts.Data<T>();
        // P = X·W_ihᵀ, then + (b_ih + b_hh) per row (LstmCell.ProjectInput's order)
        Gemm.Run(false, true, rows, g4, inF, T.One, s.X.Data<T>(), inF, s.WIh.Data<T>(), inF, T.Zero, acts, g4);
        for (int r = 0; r < rows; r++)
        {
            var row = acts.Slice(r * g4, g4);
            TensorPrimitives.Add(row, bias, row);
        }
        var c = s.C.Data<T>();
        var tc = s.TanhC.Data<T>();
        var h0 = s.H0.Data<T>();
        var c0 = s.C0.Data<T>();
        using var lease = Lease<T>.Take();
        var wT = lease.Pack;
        wT.Pack(transB: true, hs, g4, s.WHh.Data<T>(), hs); // op(B) = W_hhᵀ [H, 4H]
        var region = lease.Region;
        bool oneRegion = region.Init(wT, n, hs, backward: false);
        fixed (T* pActs = acts)
        fixed (T* pc = c)
        fixed (T* ptc = tc)
        fixed (T* pz = z)
        fixed (T* ph0 = h0)
        fixed (T* pc0 = c0)
        {
            for (int k = 0; k < steps; k++)
            {
                int t = s.Reverse ? steps - 1 - k : k, prev = Prev(t, steps, s.Reverse);
                T* hPrev = prev < 0 ? ph0 : pz + (nint)prev * nh;
                T* cPrev = prev < 0 ? pc0 : pc + (nint)prev * nh;
                T* a = pActs + (nint)t * n * g4;
                var job = new ForwardRows<T> { A = a, CPrev = cPrev, C = pc + (nint)t * nh, TanhC = ptc + (nint)t * nh, H = pz + (nint)t * nh, Hs = hs, U0 = 0, U1 = hs };
                if (oneRegion)
                {
                    region.Fwd = job;
                    region.GemmA = hPrev;
                    region.Go();
                    continue;
                }
                // a_t = P_t + h_{t−1}·W_hhᵀ, then the gates
                wT.Multiply(false, n, T.One, new ReadOnlySpan<T>(hPrev, nh), hs, T.One, new Span<T>(a, n * g4), g4);
                RowParallel.For(job, n, 16L * hs);
            }
            int last = s.Reverse ? 0 : steps - 1;
            new ReadOnlySpan<T>(pc + (nint)last * nh, nh).CopyTo(new Span<T>(pz + (nint)steps * nh, nh));
        }
    }

    /// <summary>The gate nonlinearities and the state update for rows of one step (in place on the gate block), for
    /// hidden units [U0, U1).</summary>
    private unsafe struct ForwardRows<T> : IRowJob where T : unmanaged, IFloatingPointIeee754<T>
    {
        public T* A, CPrev, C, TanhC, H;
        public int Hs, U0, U1;

        public readonly void Run(int rowStart, int rowEnd)
        {
            int hs = Hs;
            for (int row = rowStart; row < rowEnd; row++)
            {
                nint o = (nint)row * hs;
                LstmGates.ForwardRow(A + 4 * o, CPrev + o, C + o, TanhC + o, H + o, hs, U0, U1);
            }
        }
    }

    /// <summary>
    /// One step as one parallel region when H is a whole number of GEMM panels: item j owns hidden units
    /// [j·Ub, (j+1)·Ub) and computes, for all rows, the four gate column blocks of those units (forward:
    /// a += h_{t−1}·W_hhᵀ, then the gates and the state update; backward: dh_rec = dA_{t+1}·W_hh for its units, then
    /// the pointwise backward). Every value is computed by the same code as in the two-region form, so results do
    /// not depend on the split; each core keeps reading the same part of the packed weight.
    /// </summary>
    private sealed unsafe class StepRegion<T> : IParallelBody where T : unmanaged, IFloatingPointIeee754<T>
    {
        public GemmPackedB<T>? W;
        public int N, Hs, Ub, Items;
        public bool Backward;
        public ForwardRows<T> Fwd;
        public BackwardRows<T> Bwd;
        public T* GemmA; // forward: h_{t−1} [N, H]; backward: dA of the later step [N, 4H] (null: none)

        public void Run(int j)
        {
            int u0 = j * Ub, u1 = Math.Min(Hs, u0 + Ub), nr = W!.PanelWidth;
            if (!Backward)
            {
                for (int g = 0; g < 4; g++)
                    W.MultiplyPanels(false, N, (g * Hs + u0) / nr, (g * Hs + u1 + nr - 1) / nr, T.One, GemmA, Hs, T.One, Fwd.A, 4 * Hs);
                var f = Fwd;
                f.U0 = u0;
                f.U1 = u1;
                f.Run(0, N);
            }
            else
            {
                if (GemmA != null) W.MultiplyPanels(false, N, u0 / nr, (u1 + nr - 1) / nr, T.One, GemmA, 4 * Hs, T.Zero, Bwd.DhRec, Hs);
                var b = Bwd;
                b.U0 = u0;
                b.U1 = u1;
                b.Run(0, N);
            }
        }

        /// <summary>Runs the items over the workers (inline when the step is small).</summary>
        public void Go()
        {
            if (Environment.ProcessorCount < 2 || (long)N * 4 * Hs * Hs < 1L << 20)
                for (int j = 0; j < Items; j++) Run(j);
            else WorkerPool.For(Items, this);
        }

        /// <summary>Sets the split for H units over panels of <paramref name="w"/>; false when H is not a whole number
        /// of panels (the two-region form is used then).</summary>
        public bool Init(GemmPackedB<T> w, int n, int hs, bool backward)
        {
            int nr = w.PanelWidth;
            if (!w.IsManaged || hs % nr != 0) return false;
            int panels = hs / nr;
            int items = Math.Clamp(2 * Environment.ProcessorCount, 1, panels);
            (W, N, Hs, Backward) = (w, n, hs, backward);
            Ub = (panels + items - 1) / items * nr;
            Items = (hs + Ub - 1) / Ub;
            return true;
        }
    }

    private sealed class LstmSequenceBackward : Node
    {
        internal readonly Saved S = new();

        /// <summary>Arms this node (new, or dead and taken from its pool) for an op with these inputs.</summary>
        internal void Arm(Tensor x, Tensor wIh, Tensor wHh, Tensor bIh, Tensor bHh, Tensor h0, Tensor c0) => Rearm([x, wIh, wHh, bIh, bHh, h0, c0]);

        internal override bool Recycle() => NodePool<LstmSequenceBackward>.Return(this);

        protected internal override void Backward(Tensor gy)
        {
            if (Released || S.X is null) throw new InvalidOperationException("LstmSequenceBackward: saved values were released.");
            var s = S;
            var g = gy.IsContiguous ? gy : gy.Contiguous();
            if (g.DType == DType.Float32) Run<float>(s, g);
            else Run<double>(s, g);
            if (!ReferenceEquals(g, gy)) Autograd.ReleaseTemporary(g);
        }

        private unsafe void Run<T>(Saved s, Tensor gTensor) where T : unmanaged, IFloatingPointIeee754<T>
        {
            int steps = s.X.Shape[0], n = s.X.Shape[1], inF = s.X.Shape[2], hs = s.WHh.Shape[1];
            int g4 = 4 * hs, nh = n * hs, rows = steps * n;
            var dtype = s.X.DType;
            var dATensor = Tensor.Empty([steps, n, g4], dtype);
            var dcTensor = Tensor.Empty([n, hs], dtype);
            var dhTensor = Tensor.Empty([n, hs], dtype);
            var g = gTensor.Data<T>();
            var dA = dATensor.Data<T>();
            var dc = dcTensor.Data<T>();
            var dhRec = dhTensor.Data<T>();
            g.Slice(steps * nh, nh).CopyTo(dc); // dL/dc after the last processed step
            bool flush = Autograd.FlushSubnormals;
            bool needH0 = NeedsGrad(5);
            using (var lease = Lease<T>.Take())
            {
                var w = lease.Pack;
                w.Pack(transB: false, g4, hs, s.WHh.Data<T>(), hs); // op(B) = W_hh [4H, H]
                var region = lease.Region;
                bool oneRegion = region.Init(w, n, hs, backward: true);
                int later = -1; // the step processed after t in forward (whose dA gives dh_rec), once backward has done it
                fixed (T* pg = g)
                fixed (T* pdA = dA)
                fixed (T* pdc = dc)
                fixed (T* pdh = dhRec)
                fixed (T* pActs = s.Acts.Data<T>())
                fixed (T* pc = s.C.Data<T>())
                fixed (T* ptc = s.TanhC.Data<T>())
                fixed (T* pc0 = s.C0.Data<T>())
                {
                    for (int k = steps - 1; k >= 0; k--)
                    {
                        int t = s.Reverse ? steps - 1 - k : k, prev = Prev(t, steps, s.Reverse);
                        var job = new BackwardRows<T>
                        {
                            Acts = pActs + (nint)t * n * g4, CPrev = prev < 0 ? pc0 : pc + (nint)prev * nh,
                            TanhC = ptc + (nint)t * nh, Dh = pg + (nint)t * nh, DhRec = later >= 0 ? pdh : null,
                            Dc = pdc, DA = pdA + (nint)t * n * g4, Hs = hs, Flush = flush, U0 = 0, U1 = hs,
                        };
                        if (oneRegion)
                        {
                            // dh_rec = dA_later·W_hh and the pointwise backward of step t, per block of units
                            region.Bwd = job;
                            region.GemmA = later >= 0 ? pdA + (nint)later * n * g4 : null;
                            region.Go();
                            later = t;
                            if (k == 0 && needH0)
                                w.Multiply(false, n, T.One, new ReadOnlySpan<T>(pdA + (nint)t * n * g4, n * g4), g4, T.Zero, dhRec, hs);
                            continue;
                        }
                        RowParallel.For(job, n, 12L * hs);
                        later = t;
                        if (k > 0 || needH0)
                        {
                            // dh_{t−1} = dA_t·W_hh
                            w.Multiply(false, n, T.One, new ReadOnlySpan<T>(pdA + (nint)t * n * g4, n * g4), g4, T.Zero, dhRec, hs);
                        }
                    }
                }
            }
            var x = s.X.Data<T>();
            var z = s.Z!.Data<T>();
            var h0 = s.H0.Data<T>();
            // dW_ih = dAᵀ·X over all steps
            if (NeedsGrad(1))
            {
                var target = GradTarget<T>(Inputs[1]!, out T beta, out var temp);
                Gemm.Run(true, false, g4, inF, rows, T.One, dA, g4, x, inF, beta, target, inF);
                if (temp is not null) Accumulate(1, temp);
            }
            // dW_hh = Σ_t dA_tᵀ·h_{t−1}: the steps whose h_{t−1} is a row of Z in one product, then the first processed step's h0
            if (NeedsGrad(2))
            {
                var target = GradTarget<T>(Inputs[2]!, out T beta, out var temp);
                int first = s.Reverse ? steps - 1 : 0;
                if (steps > 1)
                {
                    var dASteps = s.Reverse ? dA[..((steps - 1) * n * g4)] : dA[(n * g4)..];
                    var hSteps = s.Reverse ? z.Slice(nh, (steps - 1) * nh) : z[..((steps - 1) * nh)];
                    Gemm.Run(true, false, g4, hs, (steps - 1) * n, T.One, dASteps, g4, hSteps, hs, beta, target, hs);
                    beta = T.One;
                }
                Gemm.Run(true, false, g4, hs, n, T.One, dA.Slice(first * n * g4, n * g4), g4, h0, hs, beta, target, hs);
                if (temp is not null) Accumulate(2, temp);
            }
            if (NeedsGrad(3) || NeedsGrad(4))
            {
                var db = Tensor.Empty([g4], dtype);
                db.Data<T>().Clear();
                RowSum.AddColumnSums<T>(dA, rows, g4, db.Data<T>());
                if (NeedsGrad(3)) Accumulate(3, db, owned: false);
                if (NeedsGrad(4)) Accumulate(4, db, owned: false);
                Autograd.ReleaseTemporary(db);
            }
            if (NeedsGrad(0))
            {
                var dx = Tensor.Empty([steps, n, inF], dtype);
                Gemm.Run(false, false, rows, inF, g4, T.One, dA, g4, s.WIh.Data<T>(), inF, T.Zero, dx.Data<T>(), inF);
                Accumulate(0, dx);
            }
            if (needH0) Accumulate(5, dhTensor);
            else Autograd.ReleaseTemporary(dhTensor);
            if (NeedsGrad(6)) Accumulate(6, dcTensor);
            else Autograd.ReleaseTemporary(dcTensor);
            Autograd.ReleaseTemporary(dATensor);
        }

        protected override void ReleaseSaved() => S.Clear();
    }

    /// <summary>
    /// The pointwise backward of one step for rows of the batch: dh = dY_t + dh_rec (the later step's dA·W_hh),
    /// dc' = dc + dh ⊙ o ⊙ (1 − tanh²c), then dA = (dc'⊙g⊙i(1−i), dc'⊙c_{t−1}⊙f(1−f), dc'⊙i⊙(1−g²), dh⊙tanh c⊙o(1−o))
    /// and dc_{t−1} = dc' ⊙ f (written over dc). With <see cref="Flush"/>, subnormal results become signed zeros.
    /// </summary>
    private unsafe struct BackwardRows<T> : IRowJob where T : unmanaged, IFloatingPointIeee754<T>
    {
        public T* Acts, CPrev, TanhC, Dh, DhRec, Dc, DA;
        public int Hs, U0, U1;
        public bool Flush;

        public readonly void Run(int rowStart, int rowEnd)
        {
            for (int row = rowStart; row < rowEnd; row++) Row(row);
        }

        private readonly void Row(int row)
        {
            int hs = Hs;
            T* a = Acts + (nint)row * 4 * hs, d = DA + (nint)row * 4 * hs;
            nint o0 = (nint)row * hs;
            T* cp = CPrev + o0, tc = TanhC + o0, dy = Dh + o0, dc = Dc + o0;
            T* rec = DhRec is null ? null : DhRec + o0;
            int u = U0, end = U1;
            if (Simd.MaxVectorBits >= 512 && Vector512.IsHardwareAccelerated && end - u >= Vector512<T>.Count)
            {
                var one = Vector512<T>.One;
                var min = Vector512.Create(Subnormals.MinNormal<T>());
                var sign = Vector512.Create(T.NegativeZero);
                for (; u + Vector512<T>.Count <= end; u += Vector512<T>.Count)
                {
                    var i = Vector512.Load(a + u); var f = Vector512.Load(a + hs + u);
                    var gg = Vector512.Load(a + 2 * hs + u); var o = Vector512.Load(a + 3 * hs + u);
                    var t = Vector512.Load(tc + u);
                    var dh = Vector512.Load(dy + u);
                    if (rec != null) dh += Vector512.Load(rec + u);
                    if (Flush) dh = F(dh, min, sign);
                    var dcu = Vector512.Load(dc + u) + dh * o * (one - t * t);
                    var di = dcu * gg * i * (one - i);
                    var df = dcu * Vector512.Load(cp + u) * f * (one - f);
                    var dg = dcu * i * (one - gg * gg);
                    var dO = dh * t * o * (one - o);
                    var dcp = dcu * f;
                    if (Flush) { di = F(di, min, sign); df = F(df, min, sign); dg = F(dg, min, sign); dO = F(dO, min, sign); dcp = F(dcp, min, sign); }
                    di.Store(d + u); df.Store(d + hs + u); dg.Store(d + 2 * hs + u); dO.Store(d + 3 * hs + u);
                    dcp.Store(dc + u);
                }
            }
            else if (Simd.MaxVectorBits >= 256 && Vector256.IsHardwareAccelerated && end - u >= Vector256<T>.Count)
            {
                var one = Vector256<T>.One;
                var min = Vector256.Create(Subnormals.MinNormal<T>());
                var sign = Vector256.Create(T.NegativeZero);
                for (; u + Vector256<T>.Count <= end; u += Vector256<T>.Count)
                {
                    var i = Vector256.Load(a + u); var f = Vector256.Load(a + hs + u);
                    var gg = Vector256.Load(a + 2 * hs + u); var o = Vector256.Load(a + 3 * hs + u);
                    var t = Vector256.Load(tc + u);
                    var dh = Vector256.Load(dy + u);
                    if (rec != null) dh += Vector256.Load(rec + u);
                    if (Flush) dh = F(dh, min, sign);
                    var dcu = Vector256.Load(dc + u) + dh * o * (one - t * t);
                    var di = dcu * gg * i * (one - i);
                    var df = dcu * Vector256.Load(cp + u) * f * (one - f);
                    var dg = dcu * i * (one - gg * gg);
                    var dO = dh * t * o * (one - o);
                    var dcp = dcu * f;
                    if (Flush) { di = F(di, min, sign); df = F(df, min, sign); dg = F(dg, min, sign); dO = F(dO, min, sign); dcp = F(dcp, min, sign); }
                    di.Store(d + u); df.Store(d + hs + u); dg.Store(d + 2 * hs + u); dO.Store(d + 3 * hs + u);
                    dcp.Store(dc + u);
                }
            }
            for (; u < end; u++)
            {
                T i = a[u], f = a[hs + u], gg = a[2 * hs + u], o = a[3 * hs + u], t = tc[u];
                T dh = dy[u];
                if (rec != null) dh += rec[u];
                if (Flush) dh = F(dh);
                T dcu = dc[u] + dh * o * (T.One - t * t);
                T di = dcu * gg * i * (T.One - i);
                T df = dcu * cp[u] * f * (T.One - f);
                T dg = dcu * i * (T.One - gg * gg);
                T dO = dh * t * o * (T.One - o);
                T dcp = dcu * f;
                if (Flush) { di = F(di); df = F(df); dg = F(dg); dO = F(dO); dcp = F(dcp); }
                d[u] = di; d[hs + u] = df; d[2 * hs + u] = dg; d[3 * hs + u] = dO;
                dc[u] = dcp;
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static Vector512<T> F(Vector512<T> v, Vector512<T> min, Vector512<T> sign)
            => Vector512.ConditionalSelect(Vector512.LessThan(Vector512.Abs(v), min), v & sign, v);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static Vector256<T> F(Vector256<T> v, Vector256<T> min, Vector256<T> sign)
            => Vector256.ConditionalSelect(Vector256.LessThan(Vector256.Abs(v), min), v & sign, v);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static T F(T v) => T.IsSubnormal(v) ? (T.IsNegative(v) ? T.NegativeZero : T.Zero) : v;
    }
}
