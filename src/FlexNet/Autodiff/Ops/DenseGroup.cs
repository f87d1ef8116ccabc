// Over 400 lines on purpose: the per-run state (stacked weights, packed copies, the dZ and X stacks of the deferred
// weight gradients) is shared by three node kinds (member, step, collector), which are nested here to keep it private.
using System.Numerics;
using FlexNet.Kernels;
using FlexNet.Tensors;

namespace FlexNet.Autodiff.Ops;

/// <summary>
/// Several fused dense layers ("members") that read the same sources at the same delays, e.g. an LSTM's four gates
/// from x(t) and h(t−1), run as one product per source per step. Built once per run from the members' weights
/// Wₛ,ₘ [Hₘ, inₛ] (source s, member m), biases and activations:
/// <list type="bullet">
/// <item>Forward, per step: Z [N, ΣHₘ] = Σₛ xₛ·Wₛᵀ with Wₛ = [Wₛ,₁; …; Wₛ,ₘ] [ΣHₘ, inₛ] (stacked and packed once per
/// run), then yₘ = actₘ(Z[:, offₘ..offₘ+Hₘ] + bₘ), bₘ the sum of member m's biases; each yₘ is its own contiguous
/// [N, Hₘ] tensor.</item>
/// <item>Backward, per step: dZ with column block m = gyₘ ⊙ actₘ′(yₘ), and dxₛ = dZ·Wₛ (one product per source).</item>
/// <item>Backward, once per walk: the weight and bias gradients of all the steps walked, as one product per member
/// and source, dWₛ,ₘ = dZ[:, m]ᵀ·Xₛ over the stacked rows of every step (k = steps·N instead of N), and
/// dbₘ = column sums of dZ[:, m]. A collector node that every step node feeds runs after all of them (it is their
/// common input), so it sees every step that backward reached, whatever truncation or masking did.</item>
/// </list>
/// Results equal the per-layer fused kernel (<see cref="DenseSum"/>) up to floating-point summation order.
/// Dispose the group at the end of the forward run (it frees the forward packing; the backward keeps what it needs).
/// </summary>
internal sealed class DenseGroup : IDisposable
{
    private readonly int _m, _s, _n, _total, _capacity;
    private readonly int[] _off, _width, _inF;
    private readonly FusedActivation[] _acts;
    private readonly Tensor[] _wcat;            // per source: [ΣH, inₛ], the members' weights stacked (a snapshot)
    private readonly PackedWeight?[] _fwd;      // per source: Wₛᵀ packed for the forward products (this run)
    private readonly Tensor? _bias;             // [ΣH], each member's biases summed, or null
    private readonly Tensor _z;                 // [N, ΣH] forward scratch
    private readonly Tensor _zero;              // [1] zero: the placeholder gradient of the token tensors
    private readonly Tensor? _token;            // [1], recorded with the collector node (null when nothing records)
    private readonly DType _dtype;
    private readonly bool _anyParamGrad;        // some weight or bias needs a gradient (the collector has work)
    private object?[]? _bwd;                    // per source: GemmPackedB of Wₛ (not transposed), built at the first backward
    private Tensor? _dz;                        // [capacity·N, ΣH]: dZ of the steps walked, in walk order
    private Tensor?[]? _x;                      // per source: [capacity·N, inₛ], the inputs of the same steps
    private int _count;                         // steps walked so far (slots used in _dz and _x)
    private int _walk;                          // walks finished (a retained graph can be walked again)

    /// <summary>Stacks the weights and sums the biases for a run of at most <paramref name="steps"/> steps of batch
    /// <paramref name="n"/>.</summary>
    /// <param name="weights">[member][source] weight Wₛ,ₘ [Hₘ, inₛ], contiguous, all distinct tensors.</param>
    /// <param name="biases">[member] the biases added to that member (connection biases and the layer bias), [Hₘ] each.</param>
    /// <param name="acts">[member] activation.</param>
    /// <param name="steps">Most steps a run can make (the stacks' capacity).</param>
    /// <param name="n">Batch size.</param>
    internal DenseGroup(Tensor[][] weights, Tensor[][] biases, FusedActivation[] acts, int steps, int n)
    {
        _m = weights.Length;
        _s = weights[0].Length;
        _n = n;
        _capacity = steps;
        _acts = acts;
        _dtype = weights[0][0].DType;
        _off = new int[_m];
        _width = new int[_m];
        _inF = new int[_s];
        for (int s = 0; s < _s; s++) _inF[s] = weights[0][s].ShapeArray[1];
        for (int m = 0; m < _m; m++)
        {
            _off[m] = _total;
            _width[m] = weights[m][0].ShapeArray[0];
            _total += _width[m];
            for (int s = 0; s < _s; s++)
            {
                var w = weights[m][s];
                if (w.Rank != 2 || !w.IsContiguous || w.DType != _dtype || w.ShapeArray[0] != _width[m] || w.ShapeArray[1] != _inF[s])
                    throw new ShapeMismatchException($"DenseGroup: weight [{m}][{s}] {ShapeUtil.Format(w.Shape)} ({w.DType}) should be a contiguous [{_width[m]}, {_inF[s]}] {_dtype} matrix.");
            }
        }
        _wcat = new Tensor[_s];
        _fwd = new PackedWeight?[_s];
        bool record = Autograd.IsEnabled;
        bool anyParamGrad = false;
        using (Autograd.NoGrad())
        {
            for (int s = 0; s < _s; s++)
            {
                var cat = Tensor.Empty([_total, _inF[s]], _dtype);
                for (int m = 0; m < _m; m++)
                {
                    var w = weights[m][s];
                    anyParamGrad |= w.RequiresGrad;
                    if (_dtype == DType.Float32) w.F.CopyTo(cat.F.Slice(_off[m] * _inF[s]));
                    else w.D.CopyTo(cat.D.Slice(_off[m] * _inF[s]));
                }
                _wcat[s] = cat;
                _fwd[s] = new PackedWeight(cat);
            }
            bool anyBias = false;
            foreach (var bs in biases) anyBias |= bs.Length > 0;
            if (anyBias)
            {
                _bias = Tensor.Empty([_total], _dtype);
                for (int m = 0; m < _m; m++)
                {
                    if (_dtype == DType.Float32) SumBiases<float>(biases[m], _bias.F.Slice(_off[m], _width[m]), m);
                    else SumBiases<double>(biases[m], _bias.D.Slice(_off[m], _width[m]), m);
                    foreach (var b in biases[m]) anyParamGrad |= b.RequiresGrad;
                }
            }
            _z = Tensor.Empty([n, _total], _dtype);
            using (TensorScope.Suspend()) _zero = Tensor.Zeros([1], _dtype);
        }
        if (record)
        {
            // the collector's inputs: weight (m, s) at m·S + s, then each member's biases in order
            int nb = 0;
            foreach (var bs in biases) nb += bs.Length;
            var inputs = new Tensor?[_m * _s + nb];
            var biasOwner = new int[nb];
            for (int m = 0, j = 0; m < _m; m++)
            {
                for (int s = 0; s < _s; s++) inputs[m * _s + s] = weights[m][s];
                foreach (var b in biases[m]) { biasOwner[j] = m; inputs[_m * _s + j++] = b; }
            }
            _token = Tensor.Empty([1], _dtype);
            _token.MarkRecorded(new CollectorBackward(this, inputs, biasOwner, anyParamGrad));
        }
        _anyParamGrad = anyParamGrad;
    }

    private void SumBiases<T>(Tensor[] bs, Span<T> dst, int m) where T : unmanaged, IFloatingPointIeee754<T>
    {
        dst.Clear();
        // the same order as DenseSum: connection biases in connection order, then the layer bias
        foreach (var b in bs)
        {
            if (b.Rank != 1 || b.ShapeArray[0] != _width[m] || b.DType != _dtype)
                throw new ShapeMismatchException($"DenseGroup: bias {ShapeUtil.Format(b.Shape)} of member {m} does not fit [{_width[m]}].");
            var bc = b.Contiguous();
            System.Numerics.Tensors.TensorPrimitives.Add(dst, (ReadOnlySpan<T>)bc.Data<T>(), dst);
        }
    }

    /// <summary>Members in the group.</summary>
    internal int Members => _m;

    /// <summary>The tensors this group made for the run (stacked weights, bias, scratch): a scope that ends before the
    /// run does (a truncation window) must keep them.</summary>
    internal IEnumerable<Tensor> RunTensors()
    {
        foreach (var w in _wcat) yield return w;
        if (_bias is not null) yield return _bias;
        yield return _z;
        if (_token is not null) yield return _token;
    }

    /// <summary>One step: the members' outputs yₘ [N, Hₘ] from the sources xₛ [N, inₛ] (in the order of the weights).</summary>
    internal Tensor[] Step(Tensor[] xs)
    {
        if (xs.Length != _s) throw new ArgumentException($"DenseGroup.Step: {xs.Length} inputs for {_s} sources.");
        var saved = new Tensor[_s];
        bool record = false;
        for (int s = 0; s < _s; s++)
        {
            var x = xs[s];
            if (x.Rank != 2 || x.ShapeArray[0] != _n || x.ShapeArray[1] != _inF[s] || x.DType != _dtype)
                throw new ShapeMismatchException($"DenseGroup: input {s} has shape {ShapeUtil.Format(x.Shape)} ({x.DType}); expected [{_n}, {_inF[s]}] ({_dtype}).");
            if (x.IsContiguous) saved[s] = x;
            else using (Autograd.NoGrad()) saved[s] = Movement.Clone(x.Detach());
            record |= x.RequiresGrad;
        }
        record = _token is not null && Autograd.IsEnabled && (record || _anyParamGrad);
        var ys = new Tensor[_m];
        for (int m = 0; m < _m; m++) ys[m] = Tensor.Empty([_n, _width[m]], _dtype);
        if (_dtype == DType.Float32) Forward<float>(saved, ys);
        else Forward<double>(saved, ys);
        if (record)
        {
            var inputs = new Tensor?[_s + 1];
            for (int s = 0; s < _s; s++) inputs[s] = xs[s];
            inputs[_s] = _token;
            var step = new StepBackward(this, inputs, saved, ys);
            var tok = Tensor.Empty([1], _dtype);
            tok.MarkRecorded(step);
            for (int m = 0; m < _m; m++) ys[m].MarkRecorded(new MemberBackward(step, tok, m));
        }
        return ys;
    }

    private unsafe void Forward<T>(Tensor[] xs, Tensor[] ys) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int nr = _fwd[0]?.PanelWidth ?? 0;
        for (int s = 1; s < _s; s++) if ((_fwd[s]?.PanelWidth ?? 0) != nr) nr = 0;
        long work = 0;
        for (int s = 0; s < _s; s++) work += (long)_n * _total * _inF[s];
        int panels = nr == 0 ? 0 : (_total + nr - 1) / nr;
        // the GEMM driver's rule: below 2²⁰ multiply-adds a product stays on the calling thread
        int tasks = nr == 0 || Environment.ProcessorCount < 2 || work < (1L << 20) ? 1 : Math.Min(panels, Environment.ProcessorCount);
        if (nr == 0)
        {
            // products through the GEMM entry point (OpenBLAS provider), then bias + activation
            var z = _z.Data<T>();
            for (int s = 0; s < _s; s++)
            {
                var beta = s == 0 ? T.Zero : T.One;
                if (_fwd[s] is { } pw) pw.MultiplyInto<T>(_n, xs[s].Data<T>(), beta, z);
                else Gemm.Run(false, true, _n, _total, _inF[s], T.One, xs[s].Data<T>(), _inF[s], _wcat[s].Data<T>(), _inF[s], beta, z, _total);
            }
            ActColumns<T>(0, _total, ys);
            return;
        }
        // one region per step: task j owns a contiguous range of column panels; it computes Z's columns there from
        // every source, then bias + activation of the same columns (hot in its cache). Each column gets the values
        // of the whole product, and each element the same activation code, so results do not depend on the split.
        var job = new ForwardJob<T>(this, xs, ys, panels, tasks, nr);
        if (tasks == 1) job.Run(0);
        else WorkerPool.For(tasks, job);
    }

    /// <summary>yₘ[:, c] = actₘ(Z[:, c] + b[c]) for the columns c in [<paramref name="c0"/>, <paramref name="c1"/>) of Z.</summary>
    private void ActColumns<T>(int c0, int c1, Tensor[] ys) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var z = _z.Data<T>();
        ReadOnlySpan<T> bias = _bias is null ? default : _bias.Data<T>();
        for (int m = 0; m < _m; m++)
        {
            int lo = Math.Max(c0, _off[m]), hi = Math.Min(c1, _off[m] + _width[m]);
            if (lo >= hi) continue;
            var y = ys[m].Data<T>();
            int w = _width[m], len = hi - lo, yo = lo - _off[m];
            var bm = bias.IsEmpty ? default : bias.Slice(lo, len);
            var act = _acts[m];
            for (int r = 0; r < _n; r++)
                Activations.Row(z.Slice(r * _total + lo, len), bm, y.Slice(r * w + yo, len), act);
        }
    }

    private sealed unsafe class ForwardJob<T>(DenseGroup g, Tensor[] xs, Tensor[] ys, int panels, int tasks, int nr) : IParallelBody
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        public void Run(int index)
        {
            int p0 = (int)((long)panels * index / tasks), p1 = (int)((long)panels * (index + 1) / tasks);
            fixed (T* z = g._z.Data<T>())
            {
                for (int s = 0; s < g._s; s++)
                    fixed (T* x = xs[s].Data<T>())
                        g._fwd[s]!.MultiplyPanels(g._n, p0, p1, x, g._inF[s], s == 0 ? T.Zero : T.One, z, g._total);
            }
            g.ActColumns<T>(p0 * nr, Math.Min(g._total, p1 * nr), ys);
        }
    }

    /// <summary>Frees the forward packing (the backward packs Wₛ itself when it runs).</summary>
    public void Dispose()
    {
        for (int s = 0; s < _s; s++)
        {
            _fwd[s]?.Dispose();
            _fwd[s] = null;
        }
    }

    /// <summary>The next free slot of the dZ/X stacks (allocated at the first step walked).</summary>
    private int NextSlot()
    {
        if (_count >= _capacity)
            throw new InvalidOperationException($"DenseGroup: more than {_capacity} steps reached backward in one walk.");
        if (_dz is null)
        {
            _dz = Tensor.Empty([_capacity * _n, _total], _dtype);
            _x = new Tensor?[_s];
        }
        return _count++;
    }

    private GemmPackedB<T> Backward<T>(int s) where T : unmanaged, IFloatingPointIeee754<T>
    {
        _bwd ??= new object?[_s];
        if (_bwd[s] is not GemmPackedB<T> p)
            _bwd[s] = p = new GemmPackedB<T>(transB: false, _total, _inF[s], _wcat[s].Data<T>(), _inF[s]);
        return p;
    }

    private void DisposeBackward()
    {
        if (_bwd is null) return;
        for (int s = 0; s < _bwd.Length; s++)
        {
            (_bwd[s] as IDisposable)?.Dispose();
            _bwd[s] = null;
        }
    }

    /// <summary>Gives the stacks back to the pool and starts the next walk from slot 0.</summary>
    private void ResetStacks()
    {
        _count = 0;
        _walk++;
        if (_dz is not null) Autograd.ReleaseTemporary(_dz);
        _dz = null;
        if (_x is not null) foreach (var x in _x) if (x is not null) Autograd.ReleaseTemporary(x);
        _x = null;
    }

    /// <summary>Member m of one step: writes its block of that step's dZ and makes the step node pending.</summary>
    private sealed class MemberBackward : Node
    {
        private StepBackward? _step;
        private readonly int _member;

        internal MemberBackward(StepBackward step, Tensor tok, int member) : base(tok)
        {
            _step = step;
            _member = member;
        }

        protected internal override void Backward(Tensor gy)
        {
            var step = _step!;
            var g = gy.IsContiguous ? gy : gy.Contiguous();
            if (g.DType == DType.Float32) step.WriteBlock<float>(_member, g);
            else step.WriteBlock<double>(_member, g);
            if (!ReferenceEquals(g, gy)) Autograd.ReleaseTemporary(g);
            Accumulate(0, step.Group._zero);
        }

        protected override void ReleaseSaved() => _step = null;
    }

    /// <summary>One step: dxₛ = dZ·Wₛ; keeps xₛ for the collector's weight gradients.</summary>
    private sealed class StepBackward : Node
    {
        internal readonly DenseGroup Group;
        private Tensor[]? _xs;
        private Tensor[]? _ys;
        private bool[]? _filled;
        private int _slot = -1;
        private int _walk = -1; // the group's walk that _slot belongs to

        internal StepBackward(DenseGroup group, Tensor?[] inputs, Tensor[] xs, Tensor[] ys) : base(inputs)
        {
            Group = group;
            _xs = xs;
            _ys = new Tensor[ys.Length];
            for (int m = 0; m < ys.Length; m++) _ys[m] = ys[m].Detach();
        }

        private Span<T> Dz<T>()
        {
            var g = Group;
            if (_slot < 0 || _walk != g._walk)
            {
                _slot = g.NextSlot();
                _walk = g._walk;
                if (_filled is not null) Array.Clear(_filled);
            }
            return g._dz!.Data<T>().Slice(_slot * g._n * g._total, g._n * g._total);
        }

        internal void WriteBlock<T>(int m, Tensor gy) where T : unmanaged, IFloatingPointIeee754<T>
        {
            var g = Group;
            var dz = Dz<T>();
            var y = _ys![m].Data<T>();
            var gs = gy.Data<T>();
            int w = g._width[m], off = g._off[m], total = g._total;
            var act = g._acts[m];
            for (int r = 0; r < g._n; r++)
            {
                var dst = dz.Slice(r * total + off, w);
                var gr = gs.Slice(r * w, w);
                var yr = y.Slice(r * w, w);
                // dz = gy ⊙ act′(y) written in one pass (the per-layer kernel adds the same product into zeros)
                switch (act)
                {
                    case FusedActivation.Linear: gr.CopyTo(dst); break;
                    case FusedActivation.Relu: Simd.Map<ReluGradOp<T>, T>(gr, yr, dst); break;
                    case FusedActivation.Tanh: Simd.Map<TanhGradOp<T>, T>(gr, yr, dst); break;
                    default: Simd.Map<SigmoidGradOp<T>, T>(gr, yr, dst); break;
                }
            }
            (_filled ??= new bool[g._m])[m] = true;
        }

        protected internal override void Backward(Tensor gy)
        {
            if (Group._dtype == DType.Float32) Run<float>();
            else Run<double>();
        }

        private void Run<T>() where T : unmanaged, IFloatingPointIeee754<T>
        {
            var g = Group;
            var dz = Dz<T>();
            int total = g._total, n = g._n;
            for (int m = 0; m < g._m; m++)
            {
                if (_filled is not null && _filled[m]) continue;
                // a member whose output got no gradient at this step contributes zeros
                for (int r = 0; r < n; r++) dz.Slice(r * total + g._off[m], g._width[m]).Clear();
            }
            var xs = _xs!;
            for (int s = 0; s < g._s; s++)
            {
                if (NeedsGrad(s))
                {
                    int inF = g._inF[s];
                    var dx = Tensor.Empty([n, inF], g._dtype);
                    g.Backward<T>(s).Multiply(false, n, T.One, dz, total, T.Zero, dx.Data<T>(), inF);
                    Accumulate(s, dx);
                }
                if (g._anyParamGrad)
                {
                    // the collector's products read the inputs of every step from one stack
                    var stack = g._x![s] ??= Tensor.Empty([g._capacity * n, g._inF[s]], g._dtype);
                    xs[s].Data<T>().CopyTo(stack.Data<T>().Slice(_slot * n * g._inF[s], n * g._inF[s]));
                }
            }
            Accumulate(g._s, g._zero);
        }

        protected override void ReleaseSaved()
        {
            _xs = null;
            _ys = null;
        }
    }

    /// <summary>After every step walked: dWₛ,ₘ = dZ[:, m]ᵀ·Xₛ and dbₘ = column sums of dZ[:, m], over all those steps.</summary>
    private sealed class CollectorBackward : Node
    {
        private DenseGroup? _group;
        private readonly int[] _biasOwner;
        private readonly bool _params;

        internal CollectorBackward(DenseGroup group, Tensor?[] inputs, int[] biasOwner, bool anyParamGrad) : base(inputs)
        {
            _group = group;
            _biasOwner = biasOwner;
            _params = anyParamGrad;
        }

        protected internal override void Backward(Tensor gy)
        {
            var g = _group!;
            try
            {
                if (_params && g._count > 0)
                {
                    if (g._dtype == DType.Float32) Run<float>(g);
                    else Run<double>(g);
                }
            }
            finally
            {
                g.ResetStacks();
                g.DisposeBackward();
            }
        }

        private void Run<T>(DenseGroup g) where T : unmanaged, IFloatingPointIeee754<T>
        {
            int rows = g._count * g._n, total = g._total;
            var dz = g._dz!.Data<T>().Slice(0, rows * total);
            for (int s = 0; s < g._s; s++)
            {
                bool any = false;
                for (int m = 0; m < g._m; m++) any |= NeedsGrad(m * g._s + s);
                if (!any) continue;
                // one product per source for all members (X is packed once, and M = ΣH splits well over cores):
                // dWₛ = dZᵀ·Xₛ [ΣH, inₛ], whose row blocks are the members' weight gradients
                int inF = g._inF[s];
                var x = g._x![s]!.Data<T>().Slice(0, rows * inF);
                var dw = Tensor.Empty([total, inF], g._dtype);
                Gemm.Run(true, false, total, inF, rows, T.One, dz, total, x, inF, T.Zero, dw.Data<T>(), inF);
                for (int m = 0; m < g._m; m++)
                {
                    int idx = m * g._s + s;
                    if (NeedsGrad(idx)) Accumulate(idx, dw.Slice(0, g._off[m], g._width[m]), owned: false);
                }
                Autograd.ReleaseTemporary(dw);
            }
            int first = g._m * g._s;
            Tensor? db = null;
            for (int j = first; j < Inputs.Length; j++)
            {
                if (!NeedsGrad(j)) continue;
                if (db is null)
                {
                    db = Tensor.Empty([total], g._dtype);
                    var d = db.Data<T>();
                    d.Clear();
                    RowSum.AddColumnSums<T>(dz, rows, total, d);
                }
                int m = _biasOwner[j - first];
                var bm = Tensor.Empty([g._width[m]], g._dtype);
                db.Data<T>().Slice(g._off[m], g._width[m]).CopyTo(bm.Data<T>());
                Accumulate(j, bm);
            }
            if (db is not null) Autograd.ReleaseTemporary(db);
        }

        protected override void ReleaseSaved()
        {
            _group?.ResetStacks();
            _group?.DisposeBackward();
            _group = null;
        }
    }
}
