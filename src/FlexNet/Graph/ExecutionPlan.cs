// Over 400 lines on purpose: Run is one loop over steps and layers whose per-run state (ring buffers, windows, Wᵀ
// copies, hoisted invariants, masks) would otherwise be passed between methods as a dozen ref locals.
using FlexNet.Autodiff;
using FlexNet.Kernels;
using FlexNet.Tensors;

namespace FlexNet.Graph;

/// <summary>
/// A compiled <see cref="Network"/>: the topological order of the delay-0 subgraph (one step), each layer's incoming
/// connections with the position of their source in that order, and for every recurrent source the depth of its
/// ring buffer (the largest delay on its outgoing connections), which holds its last k outputs. Running the plan
/// unrolls the step T times; every intermediate is allocated from the enclosing <see cref="TensorScope"/>'s pool,
/// so a training loop that opens one scope per batch reuses the same buffers step after step.
/// </summary>
internal sealed partial class ExecutionPlan
{
    private readonly Network _net;
    private readonly Layer[] _order;
    private readonly Connection[][] _in;
    private readonly int[][] _inSrc;
    private readonly int[] _depth;
    private readonly int[] _inputPos;
    private readonly (int Index, OutputMode Mode)[] _outs;
    private readonly FusedActivation?[] _fused;
    private readonly bool[] _everyStep;
    private readonly bool[]?[] _invariant; // per fused layer: which inputs are hoisted (null: none)

    internal ExecutionPlan(Network net, IReadOnlyList<Layer> order, IReadOnlyList<Connection> connections,
                           IReadOnlyList<(Layer Layer, OutputMode Mode)> outputs)
    {
        _net = net;
        _order = order.ToArray();
        var pos = new Dictionary<Layer, int>(ReferenceEqualityComparer.Instance);
        for (int i = 0; i < _order.Length; i++) pos[_order[i]] = i;
        var ins = new List<Connection>[_order.Length];
        for (int i = 0; i < ins.Length; i++) ins[i] = new List<Connection>();
        _depth = new int[_order.Length];
        foreach (var c in connections)
        {
            ins[pos[c.To]].Add(c);
            int s = pos[c.From];
            _depth[s] = Math.Max(_depth[s], c.Delay);
        }
        _in = new Connection[_order.Length][];
        _inSrc = new int[_order.Length][];
        for (int i = 0; i < _order.Length; i++)
        {
            _in[i] = ins[i].ToArray();
            _inSrc[i] = Array.ConvertAll(_in[i], c => pos[c.From]);
        }
        var inputs = net.Inputs;
        _inputPos = new int[inputs.Count];
        for (int k = 0; k < inputs.Count; k++) _inputPos[k] = pos[inputs[k]];
        _outs = outputs.Select(o => (pos[o.Layer], o.Mode)).ToArray();
        foreach (var c in connections)
            if (c.Delay > 0)
            {
                FirstDelayed = $"'{c.Name}' (delay {c.Delay})";
                break;
            }
        bool temporal = false;
        foreach (var i in inputs) temporal |= i.IsTemporal;
        RecurrentWithoutTime = FirstDelayed.Length > 0 && !temporal;
        _fused = new FusedActivation?[_order.Length];
        if (net.FuseDenseLayers)
            for (int i = 0; i < _order.Length; i++) _fused[i] = Fusable(_order[i], _in[i]);
        FindCells(net);
        // a layer must run at every step when it carries per-step state, or an every-step output, a recurrent
        // read or a layer that runs at every step needs it; the others (e.g. a readout used only at the last step) run at the last step only
        _everyStep = new bool[_order.Length];
        foreach (var (index, mode) in _outs) if (mode == OutputMode.AllSteps) _everyStep[index] = true;
        for (int i = 0; i < _order.Length; i++) if (_depth[i] > 0 || _order[i].HasStepState) _everyStep[i] = true;
        for (int i = _order.Length - 1; /* Stryker disable once Equality: i > 0 only skips position 0, first in the topological order, so it has no delay-0 input to mark */ i >= 0; i--)
        {
            if (!_everyStep[i]) continue;
            for (int j = 0; j < _in[i].Length; j++)
                if (_in[i][j].Delay == 0) _everyStep[_inSrc[i][j]] = true;
        }
        EveryStepWithCells();
        // loop invariants: dense connections (delay 0) from a non-temporal input into a fused every-step layer
        _invariant = new bool[]?[_order.Length];
        if (net.HoistInvariants)
            for (int i = 0; i < _order.Length; i++)
            {
                if (_fused[i] is null || !_everyStep[i]) continue;
                bool[]? hoist = null;
                for (int j = 0; j < _in[i].Length; j++)
                {
                    var c = _in[i][j];
                    if (c.Delay == 0 && _order[_inSrc[i][j]] is InputLayer { IsTemporal: false } && c.TryGetAffine(out var w, out _) && w is not null)
                        (hoist ??= new bool[_in[i].Length])[j] = true;
                }
                _invariant[i] = hoist;
            }
    }

    /// <summary>z₀ = Σ Wⱼ xⱼ + bⱼ over layer <paramref name="i"/>'s hoisted inputs (non-temporal, so the same at every
    /// step): one linear fused GEMM per run; every step then adds z₀ as an identity term.</summary>
    private Tensor Invariant(int i, Tensor[] cur, RunScratch scratch)
    {
        var hoist = _invariant[i]!;
        int count = 0;
        foreach (bool h in hoist) if (h) count++;
        var xs = scratch.InvXs[i];
        var ws = scratch.InvWs[i];
        var bs = scratch.InvBs[i];
        for (int j = 0, k = 0; j < hoist.Length; j++)
        {
            if (!hoist[j]) continue;
            _in[i][j].TryGetAffine(out var w, out var b);
            xs[k] = cur[_inSrc[i][j]];
            ws[k] = w;
            bs[k++] = b;
        }
        var z = Autodiff.Ops.DenseSum.Apply(xs.AsSpan(0, count), ws.AsSpan(0, count), bs.AsSpan(0, count), FusedActivation.Linear);
        // Stryker disable once Statement: memory only: the next call writes entries 0..count−1 before it reads them; clearing lets the tensors go
        Array.Clear(xs);
        // Stryker disable once Statement: memory only: the next call writes entries 0..count−1 before it reads them
        Array.Clear(ws);
        // Stryker disable once Statement: memory only: the next call writes entries 0..count−1 before it reads them
        Array.Clear(bs);
        return z;
    }

    /// <summary>Drops the hoisted inputs folded into z₀ (null entries) from a fused step's argument lists, in place:
    /// the first <c>kept</c> entries (and the layer's bias at <c>bs[kept]</c>) are the step's; returns <c>kept</c>.</summary>
    private static int Compact(Tensor[] xs, Tensor?[] ws, Tensor?[] bs, Autodiff.Ops.PackedWeight?[]? wts)
    {
        var layerBias = bs[xs.Length];
        int k = 0;
        for (int j = 0; j < xs.Length; j++)
        {
            if (xs[j] is null) continue;
            xs[k] = xs[j];
            ws[k] = ws[j];
            bs[k] = bs[j];
            // Stryker disable once Equality: Compact runs only with hoisted inputs, i.e. T > 1 at an every-step layer, where wts is never null; a pack left at another index does not match that index's W (DenseSum checks pw.Source) and only falls back to the unpacked GEMM
            if (wts is not null) wts[k] = wts[j];
            k++;
        }
        bs[k] = layerBias;
        return k;
    }

    private RunScratch? _scratch;

    /// <summary>The arrays one run of the plan works in, kept by the plan between runs (cleared after each).</summary>
    private sealed class RunScratch
    {
        internal readonly Tensor[] Cur, Xs;
        internal readonly Tensor?[] Init, Invariant;
        internal readonly List<Tensor>?[] PerStep;
        internal readonly Tensor[][] DenseXs;
        internal readonly Tensor?[][] DenseWs, DenseBs;
        internal readonly Autodiff.Ops.PackedWeight?[][] DensePacked;
        internal readonly Tensor[][] InvXs;
        internal readonly Tensor?[][] InvWs, InvBs;
        internal readonly Tensor[] CellZ, CellParts; // fused LSTM cells: each one's output, the concatenations' parts
        /// <summary>The packed-weight objects by weight, kept from run to run; their contents only after a run that
        /// keeps packs (a frozen model's, or one that records nothing: then used only while W is unchanged, see
        /// <see cref="Pack"/>), otherwise packed again at the first use in a run and released at its end (<see cref="ReleasePacks"/>).</summary>
        internal readonly Dictionary<Tensor, Autodiff.Ops.PackedWeight> Packed = new(ReferenceEqualityComparer.Instance);
        /// <summary>How many packs hold a packing now: those a run that keeps packs (a frozen model's, or an inference
        /// run's) left, which <see cref="ReleasePacks"/> gives back at the end of the next run that does not keep them.</summary>
        internal int HeldPacks
        {
            get
            {
                int held = 0;
                foreach (var pw in Packed.Values) if (pw.Source is not null) held++;
                return held;
            }
        }
        private readonly ExecutionPlan _plan;
        private RunState? _state;

        internal RunScratch(ExecutionPlan plan)
        {
            _plan = plan;
            int L = plan._order.Length;
            Cur = new Tensor[L];
            Xs = new Tensor[L];
            Init = new Tensor?[L];
            CellZ = new Tensor[plan._cells.Length];
            CellParts = new Tensor[16];
            Invariant = new Tensor?[L];
            PerStep = new List<Tensor>?[plan._outs.Length];
            DenseXs = new Tensor[L][];
            DenseWs = new Tensor?[L][];
            DenseBs = new Tensor?[L][];
            DensePacked = new Autodiff.Ops.PackedWeight?[L][];
            InvXs = new Tensor[L][];
            InvWs = new Tensor?[L][];
            InvBs = new Tensor?[L][];
            for (int i = 0; i < L; i++)
            {
                int c = plan._in[i].Length;
                DenseXs[i] = new Tensor[c];
                DenseWs[i] = new Tensor?[c];
                DenseBs[i] = new Tensor?[c + 1];
                DensePacked[i] = new Autodiff.Ops.PackedWeight?[c];
                InvXs[i] = new Tensor[c];
                InvWs[i] = new Tensor?[c];
                InvBs[i] = new Tensor?[c];
            }
        }

        /// <summary>A fresh state for a run that does not keep it: the same object every time, reset by
        /// <see cref="Clear"/> at the end of the run that used it (a scratch is only reused after that).</summary>
        internal RunState State(int batch)
        {
            // Stryker disable once Equality: a run that does not keep its state never reads its Batch (only Resume of a carried state does), and Reset empties a state of any batch size, so which object is used makes no difference
            if (_state is null || _state.Batch != batch) _state = _plan.NewState(batch);
            return _state;
        }

        internal void Clear()
        {
            // Stryker disable once Statement: memory only: a run writes cur[i] before any layer reads it (sources run first, every layer runs at the last step); the entries of fused cells' inner layers are never read
            Array.Clear(Cur);
            // Stryker disable once Statement: memory only: a run writes xs of every input before reading it
            Array.Clear(Xs);
            Array.Clear(Init);
            // Stryker disable once Statement: memory only: a run with fused cells writes every cell's entry before reading it, and only such runs read them
            Array.Clear(CellZ);
            Array.Clear(Invariant);
            for (int o = 0; o < PerStep.Length; o++)
            {
                PerStep[o]?.Clear();
                // Stryker disable once Equality: only every-step outputs ever get a list (Run), so the others are null already; nulling the every-step lists instead only makes the next run allocate new ones
                if (_plan._outs[o].Mode != OutputMode.AllSteps) PerStep[o] = null;
            }
            for (int i = 0; i < DenseXs.Length; i++)
            {
                // Stryker disable once Statement: memory only: each step writes every entry of xsIn before DenseSum reads it
                Array.Clear(DenseXs[i]);
                Array.Clear(DenseWs[i]);
                Array.Clear(DenseBs[i]);
                // a kept pack (not released, Source still W) must not reach a later run whose batch reads W in place (FrozenModelTests)
                Array.Clear(DensePacked[i]);
            }
            _state?.Reset();
        }

        /// <summary>The pack of <paramref name="w"/> for this run: packed from W as it is now at its first use in the
        /// run (the object may be an earlier run's, released since, so no packed value survives a weight update).</summary>
        /// <param name="w">The weight.</param>
        /// <param name="current">Whether a pack kept from an earlier run must still match W's data (its buffer's
        /// version, <see cref="Autodiff.Ops.PackedWeight.IsPackOf"/>); false for a frozen model's weights, which never
        /// change, and in a run that released its packs at the end of the one before.</param>
        internal Autodiff.Ops.PackedWeight Pack(Tensor w, bool current)
        {
            if (!Packed.TryGetValue(w, out var pw)) Packed[w] = pw = new Autodiff.Ops.PackedWeight();
            // a kept pack of a weight whose data was handed out since (written, perhaps) is made again: never stale values
            if (current && !pw.IsPackOf(w)) pw.Dispose();
            // Stryker disable once Boolean,Statement,Logical,Equality: speed only: DenseSum uses a pack only when pw.Source is that very W, and otherwise runs the unpacked GEMM with the same W; the provider test matters only when Gemm.Provider (process-wide) changes between runs of a plan with kept packs, which the tests never do
            if (!ReferenceEquals(pw.Source, w) || pw.Provider != Gemm.Provider) // (a kept pack of another provider is made again)
            {
                pw.Pack(w);
                _plan.PacksMade++;
            }
            return pw;
        }

        /// <summary>Every pack gives its buffer back to the pool and the cache forgets them (kept packs, see ExecutionPlan.Frozen.cs).</summary>
        internal void DropPacks()
        {
            // Stryker disable once Statement: memory only: undisposed packs keep their pinned buffers until collected; the cache forgets them below
            foreach (var pw in Packed.Values) pw.Dispose();
            Packed.Clear();
        }

        /// <summary>At the end of a run (also one that threw): every pack gives its buffer back to the pool and holds
        /// nothing (forward only: backward reads W); objects not used by this run are dropped, so the cache never
        /// outgrows the weights of one run.</summary>
        internal void ReleasePacks()
        {
            foreach (var (w, pw) in Packed)
            {
                // Stryker disable once Equality,Statement: memory only: which pack objects the cache keeps and whether their buffers go back to the pool; every run packs again from W before a use (Pack)
                if (pw.Source is null) Packed.Remove(w); // allowed while enumerating (.NET Core 3.0 and later)
                else pw.Dispose();
            }
        }
    }

    /// <summary>The fused kernel's activation when <paramref name="layer"/> computes y = act(Σ cᵢ + b) on vectors (its step
    /// is the base layer's, whatever front end made it) with a linear/relu/tanh/sigmoid activation and every input is
    /// affine (<see cref="Connection.TryGetAffine"/>: dense, identity, or a shared dense); null otherwise.</summary>
    private static FusedActivation? Fusable(Layer layer, Connection[] inputs)
    {
        if (!layer.HasPlainStep || layer.Combine != CombineRule.Sum || inputs.Length == 0 || layer.InputShape!.Length != 1)
            return null;
        FusedActivation act;
        switch (layer.Activation.ToLowerInvariant())
        {
            case "linear" or "identity": act = FusedActivation.Linear; break;
            case "relu": act = FusedActivation.Relu; break;
            case "tanh": act = FusedActivation.Tanh; break;
            case "sigmoid" or "logistic": act = FusedActivation.Sigmoid; break;
            default: return null;
        }
        foreach (var c in inputs)
        {
            if (c.From.OutputShape!.Length != 1) return null;
            if (!c.TryGetAffine(out var w, out _)) return null;
            if (w is not null && /* Stryker disable once Logical: unreachable: the affine connections (dense, shared dense) into a Sum layer of vectors always have W [units, in], so neither part is ever true */ (w.Rank != 2 || w.Shape[0] != layer.InputShape[0])) return null;
        }
        return act;
    }

    /// <summary>True when the network has delayed connections but no temporal input (its step count must then be
    /// given, or the recurrence would never act).</summary>
    internal bool RecurrentWithoutTime { get; }

    /// <summary>The first delayed connection, e.g. <c>'h2->h1' (delay 2)</c>, for messages.</summary>
    internal string FirstDelayed { get; } = "";

    /// <summary>Whether <paramref name="layer"/> runs through the fused dense kernel.</summary>
    /// <param name="layer">A layer of the network.</param>
    /// <returns>True when fused.</returns>
    public bool IsFused(Layer layer) => _fused[Array.IndexOf(_order, layer)] is not null;

    /// <summary>Layers in execution order within one step.</summary>
    public IReadOnlyList<Layer> Order => _order;

    /// <summary>Ring-buffer depth of <paramref name="layer"/>: the largest delay of its outgoing connections (0 when none is recurrent).</summary>
    /// <param name="layer">A layer of the network.</param>
    /// <returns>Number of past outputs kept.</returns>
    public int HistoryDepth(Layer layer) => _depth[Array.IndexOf(_order, layer)];

    /// <summary>One line per step of the plan: layer, its inputs with delays, ring depth.</summary>
    /// <returns>Multi-line text.</returns>
    public override string ToString()
    {
        var sb = new System.Text.StringBuilder();
        for (int i = 0; i < _order.Length; i++)
        {
            sb.Append($"{i,3}: {_order[i].Name}");
            if (_in[i].Length > 0)
                sb.Append(" <- ").Append(string.Join(", ", _in[i].Select(c => c.Delay == 0 ? c.From.Name : $"{c.From.Name}(t-{c.Delay})")));
            if (_depth[i] > 0) sb.Append($"  [ring {_depth[i]}]");
            if (_invariant[i] is { } hoist)
            {
                var names = new List<string>();
                for (int j = 0; j < hoist.Length; j++) if (hoist[j]) names.Add(_in[i][j].From.Name);
                sb.Append($"  [once per run: {string.Join(" + ", names)}]");
            }
            sb.Append(CellNote(i));
            sb.AppendLine();
        }
        return sb.ToString();
    }

    internal Tensor[] Run(Tensor[] inputs, bool training, Tensor? mask, int? steps, int? truncate, RunState? carried,
                          bool keepState, out RunState? next, bool persist = true, List<Tensor>[]? record = null, Tensor[]? reuse = null)
    {
        var netInputs = _net.Inputs;
        if (inputs.Length != _inputPos.Length)
            throw new ArgumentException($"Network '{_net.Name}' has {_inputPos.Length} input layer(s) ({string.Join(", ", netInputs.Select(l => l.Name))}) but {inputs.Length} tensor(s) were given.");
        var dtype = _net.DType;
        int n = -1, T = -1;
        for (int k = 0; k < inputs.Length; k++)
        {
            var x = inputs[k] ?? throw new ArgumentNullException(nameof(inputs), $"Input {k} ('{netInputs[k].Name}') is null.");
            var layer = netInputs[k];
            var shape = layer.OutputShape!;
            int lead = layer.IsTemporal ? 2 : 1;
            bool ok = x.Rank == shape.Length + lead;
            for (int d = 0; ok && d < shape.Length; d++) ok = x.Shape[d + lead] == shape[d];
            if (!ok)
                throw new ShapeMismatchException($"Network '{_net.Name}': input layer '{layer.Name}' expects {(layer.IsTemporal ? "[T, N, " : "[N, ")}{string.Join(", ", shape)}], got {ShapeUtil.Format(x.Shape)}.");
            if (x.DType != dtype)
                throw new ArgumentException($"Network '{_net.Name}': input '{layer.Name}' is {x.DType} but the network is {dtype}; convert with To({dtype}).");
            int nb = x.Shape[lead - 1];
            if (n >= 0 && nb != n)
                throw new ShapeMismatchException($"Network '{_net.Name}': input '{layer.Name}' has batch size {nb}, an earlier input has {n} (shape {ShapeUtil.Format(x.Shape)}).");
            n = nb;
            if (layer.IsTemporal)
            {
                if (T >= 0 && x.Shape[0] != T)
                    throw new ShapeMismatchException($"Network '{_net.Name}': temporal input '{layer.Name}' has {x.Shape[0]} steps, an earlier one has {T} (shape {ShapeUtil.Format(x.Shape)}).");
                T = x.Shape[0];
            }
        }
        if (T < 0) T = steps ?? _net.Steps;
        else if (steps is int s && s != T)
            throw new ArgumentException($"Network '{_net.Name}': steps = {s} but the temporal inputs have {T} steps.");
        if (T <= 0) throw new ArgumentException($"Network '{_net.Name}': the number of steps must be positive; got {T}.");
        if (n < 0) throw new ArgumentException($"Network '{_net.Name}' has no inputs; nothing sets the batch size.");
        if (mask is not null)
        {
            if (mask.Rank != 2 || mask.Shape[0] != T || mask.Shape[1] != n)
                throw new ShapeMismatchException($"Network '{_net.Name}': the mask must be [T, N] = [{T}, {n}], got {ShapeUtil.Format(mask.Shape)}.");
            if (mask.DType != dtype) mask = mask.To(dtype);
            if (mask.RequiresGrad) mask = mask.Detach();
        }

        int L = _order.Length;
        // the per-run arrays come from the plan's scratch (rented: a concurrent run gets its own), so a training step
        // allocates none; DenseSum copies what its node keeps
        // Stryker disable once NullCoalescing: allocation only: a new scratch is what the first run gets
        var scratch = Interlocked.Exchange(ref _scratch, null) ?? new RunScratch(this);
        var state = carried is not null ? carried.Resume(n, _net.Name) : /* Stryker disable once Conditional: allocation only: a kept state leaves this run through Persist (a copy) before the scratch state is reset, and the only non-persisted kept state (Step) is a carried one */ keepState ? NewState(n) : scratch.State(n);
        var cur = scratch.Cur;
        var init = scratch.Init;
        var perStep = scratch.PerStep;
        // Stryker disable once Assignment: allocation only: the list kept from the last run was cleared by Clear
        for (int o = 0; o < _outs.Length; o++) if (_outs[o].Mode == OutputMode.AllSteps) perStep[o] ??= new List<Tensor>(T);
        var xs = scratch.Xs;
        for (int k = 0; k < inputs.Length; k++) xs[_inputPos[k]] = inputs[k];
        Tensor? Initial(int i)
        {
            if (init[i] is { } z) return z;
            var layer = _order[i];
            if (layer.InitialState is null)
            {
                Span<int> zs = stackalloc int[layer.OutputShape!.Length + 1]; // no shape array per run
                zs[0] = n;
                layer.OutputShape.CopyTo(zs[1..]);
                return init[i] = Tensor.Empty(zs, dtype).Fill(0);
            }
            var shape = new int[layer.OutputShape!.Length + 1];
            shape[0] = n;
            layer.OutputShape.CopyTo(shape, 1);
            return init[i] = layer.InitialState.Unsqueeze(0).Expand(shape);
        }

        // Stryker disable once Boolean: memory only: ReleasePacks after a run that packed nothing only drops released pack objects from the cache
        bool packed = false; // Wᵀ packed for the fused forward GEMMs, once per run (scratch.Pack)
        bool keep = _net.KeepPacks; // a frozen model's private network: packs are kept from run to run (ExecutionPlan.Frozen.cs)
        // a run that records nothing (inference: Predict, Evaluate, NoGrad) keeps its packs for the next such run, which
        // uses each only while its weight's buffer has not been handed out since (PackedWeight.IsPackOf)
        bool fresh = !keep && !Autodiff.Autograd.IsEnabled;
        bool completed = false;
        // Stryker disable once Conditional,Equality: speed only: hoisting z₀ (or not) gives the same values up to summation order, at any T
        var invariant = T > 1 ? scratch.Invariant : null;  // z₀ = Σ W x + b of each layer's hoisted inputs, made once per run
        // Truncated BPTT with only last-step outputs: backward can never reach a window once the state is cut after
        // it, so each window runs in a scope of its own that gives its buffers back at the cut (memory bounded by
        // the window, not by T); what later windows read (the cut state, initial states) moves out first.
        bool windowed = truncate is int kw && /* Stryker disable once Equality: T = k makes one window that is never cut and ends into the outer scope, like no window */ T > kw && mask is null && record is null && TensorScope.Current is not null;
        for (int o = 0; windowed && o < _outs.Length; o++) windowed = perStep[o] is null;
        var window = windowed ? TensorScope.Begin() : null;
        bool cellsOn = CellsApply(mask, T, truncate, carried, keepState, record);
        // Stryker disable once Conditional: speed only: _everyStep marks every layer _everyStepCells marks (and more), so the mutant only runs more layers per step; inner cell layers skip themselves below
        var every = cellsOn ? _everyStepCells : _everyStep;
        LastRunFusedCells = cellsOn;
        Tensor[]? cellZ = null;
        try
        {
            if (cellsOn)
            {
                cellZ = scratch.CellZ;
                for (int k = 0; k < _cells.Length; k++)
                    cellZ[k] = RunCell(k, xs[_cells[k].X], Initial(_cells[k].H)!, Initial(_cells[k].C)!, scratch.CellParts);
            }
            for (int t = 0; t < T; t++)
            {
                if (truncate is int k && /* Stryker disable once Equality: a cut at t = 0 changes nothing: the state is fresh or a persisted (detached) carried one, and the window holds nothing yet (cells do not fuse under a window shorter than T) */ t > 0 && t % k == 0)
                {
                    state.Detach();
                    if (window is not null)
                    {
                        foreach (var z in init) if (z is not null) window.Keep(z);
                        if (invariant is not null) foreach (var z in invariant) if (z is not null) window.Keep(z);
                        var nextWindow = TensorScope.BeginReplacing(window);
                        state.Transfer(window, nextWindow);
                        window.Dispose();
                        window = nextWindow;
                    }
                }
                Tensor? m = null;
                bool last = t == T - 1 || mask is not null;
                for (int i = 0; i < L; i++)
                {
                    if (!last && !every[i]) continue;
                    var layer = _order[i];
                    Tensor y;
                    if (cellZ is not null && _cellOf[i] >= 0)
                    {
                        // Stryker disable once Statement: speed only: an inner cell layer would store a slice of h in cur, which nothing reads (no reader outside the cell, no ring push, no output, no record)
                        if (_cells[_cellOf[i]].H != i) continue; // inside the fused cell
                        y = cellZ[_cellOf[i]].Slice(0, t, 1).Squeeze(0);
                    }
                    else if (layer is InputLayer il)
                    {
                        y = il.IsTemporal ? xs[i].Slice(0, t, 1).Squeeze(0) : xs[i];
                    }
                    else if (_fused[i] is { } act)
                    {
                        var conns = _in[i];
                        var srcs = _inSrc[i];
                        // Stryker disable once Conditional: speed only: no hoisting gives the same values up to summation order
                        var hoist = invariant is not null ? _invariant[i] : null;
                        if (hoist is not null && invariant![i] is null) invariant[i] = Invariant(i, cur, scratch);
                        int carrier = hoist is null ? /* Stryker disable once Unary: carrier is read only when hoist is not null */ -1 : Array.IndexOf(hoist, true); // the hoisted input that carries z₀
                        var xsIn = scratch.DenseXs[i];
                        var ws = scratch.DenseWs[i];
                        var bs = scratch.DenseBs[i];
                        // Stryker disable once Conditional,Logical,Equality: speed only: packed or not, DenseSum computes the same product (packs are made from the W in use)
                        bool perRun = T > 1 && _everyStep[i];
                        var wts = perRun || keep || fresh ? scratch.DensePacked[i] : null;
                        int kept = conns.Length;
                        for (int j = 0; j < conns.Length; j++)
                        {
                            var c = conns[j];
                            if (hoist is not null && hoist[j])
                            {
                                // z₀ enters as an identity term at the carrier; the other hoisted inputs are already in it
                                xsIn[j] = j == carrier ? invariant![i]! : null!;
                                // Stryker disable once Statement: speed only: without it the hoisted input is entered again as a plain term (z₀ is then unused): the same values up to summation order
                                continue;
                            }
                            xsIn[j] = c.Delay == 0 ? cur[srcs[j]] : state.Read(srcs[j], c.Delay) ?? Initial(srcs[j])!;
                            c.TryGetAffine(out var w, out var b);
                            ws[j] = w;
                            bs[j] = b;
                            // only where the unpacked GEMM packs Wᵀ itself (blocked path): there the pack gives the same bits;
                            // the matrix-vector paths (batch 1, few outputs) round differently and read W in place
                            if (wts is not null && w is { IsContiguous: /* Stryker disable once Boolean: speed only: dense weights are always contiguous, so the mutant packs nothing and DenseSum runs the unpacked GEMM */ true }
                                && KeptPackFits(w, n))
                            {
                                packed = true;
                                wts[j] = scratch.Pack(w, current: fresh);
                            }
                        }
                        bs[conns.Length] = layer.Bias;
                        if (hoist is not null) kept = Compact(xsIn, ws, bs, wts);
                        y = Autodiff.Ops.DenseSum.Apply(xsIn.AsSpan(0, kept), ws.AsSpan(0, kept), bs.AsSpan(0, kept + 1), act,
                                                        // Stryker disable once Conditional: speed only: without packs DenseSum runs the unpacked GEMM
                                                        wts is null ? default : wts.AsSpan(0, kept));
                        if (mask is not null)
                        {
                            // Stryker disable once Assignment: speed only: the step's mask slice is the same view each time
                            m ??= StepMask(mask, t, n);
                            var prev = state.Last[i] ?? Initial(i)!;
                            y = prev + m * (y - prev);
                        }
                    }
                    else
                    {
                        var conns = _in[i];
                        var srcs = _inSrc[i];
                        Tensor? z = null;
                        Tensor[]? parts = layer.Combine == CombineRule.Concat ? new Tensor[conns.Length] : null;
                        for (int j = 0; j < conns.Length; j++)
                        {
                            var c = conns[j];
                            var src = c.Delay == 0 ? cur[srcs[j]] : state.Read(srcs[j], c.Delay) ?? Initial(srcs[j])!;
                            var contrib = c.Contribute(src);
                            if (t == 0) CheckContribution(c, contrib, n);
                            if (parts is not null) parts[j] = contrib;
                            else if (z is null) z = contrib;
                            else z = layer.Combine == CombineRule.Sum ? z + contrib : z * contrib;
                        }
                        if (parts is not null) z = Tensor.Concat(parts, 1);
                        if (layer.HasStepState)
                        {
                            var prevState = state.Steps[i];
                            var newState = prevState;
                            int time = prevState is null ? 0 : state.StepTime[i];
                            y = layer.TransformStep(z!, training, time, ref newState);
                            state.StepTime[i] = time + 1;
                            if (mask is not null && newState is not null)
                            {
                                // Stryker disable once Assignment: speed only: the step's mask slice is the same view each time
                                m ??= StepMask(mask, t, n);
                                newState = BlendState(prevState, newState, m, n);
                            }
                            state.Steps[i] = newState;
                        }
                        else y = layer.Transform(z!, training);
                        if (t == 0) CheckOutput(layer, y, n);
                        if (mask is not null)
                        {
                            // Stryker disable once Assignment: speed only: the step's mask slice is the same view each time
                            m ??= StepMask(mask, t, n);
                            var prev = state.Last[i] ?? Initial(i)!;
                            // Stryker disable once Conditional: m is [N, 1]: at rank 2 the reshape gives the same [N, 1]
                            var mb = m.Rank == y.Rank ? m : m.Reshape(MaskShape(n, y.Rank));
                            y = prev + mb * (y - prev);
                        }
                    }
                    if (_net.CheckFinite) RunState.RequireFinite(layer, y, t);
                    cur[i] = y;
                    record?[i].Add(y);
                }
                for (int i = 0; i < L; i++)
                {
                    if (_depth[i] > 0 && (cellZ is null || _cellOf[i] == -1)) state.Push(i, cur[i]); // −1: outside every cell
                    if (mask is not null) state.Last[i] = cur[i];
                }
                for (int o = 0; o < _outs.Length; o++)
                {
                    var list = perStep[o]; // not a pattern variable: Stryker's mutants of the test would leave it unassigned
                    if (list is null) continue;
                    var y = cur[_outs[o].Index];
                    if (mask is not null)
                    {
                        // Stryker disable once Assignment: speed only: the step's mask slice is the same view each time
                        m ??= StepMask(mask, t, n);
                        // Stryker disable once Conditional: m is [N, 1]: at rank 2 the reshape gives the same [N, 1]
                        y = y * (m.Rank == y.Rank ? m : m.Reshape(MaskShape(n, y.Rank)));
                    }
                    list.Add(y);
                }
            }
            completed = true;
        }
        finally
        {
            // the last window's graph is what backward walks: its buffers go to the caller's scope
            window?.EndIntoOuter();
            // forward only: backward reads W. Kept packs stay, unless the run threw (its scratch is then dropped)
            // Stryker disable once Logical: memory only: without the second term the packs of a kept-packs run that threw stay pinned until collected
            // packs kept by an inference run go back at the end of the next run that does not keep them
            if ((packed || scratch.HeldPacks > 0) && (!(keep || fresh) || !completed)) scratch.ReleasePacks();
        }

        var result = reuse is not null && reuse.Length == _outs.Length ? reuse : new Tensor[_outs.Length];
        for (int o = 0; o < _outs.Length; o++)
        {
            var list = perStep[o];
            result[o] = list is not null ? Tensor.Stack(list.ToArray(), 0) : cur[_outs[o].Index];
        }
        if (keepState)
        {
            if (mask is null)
                for (int i = 0; i < L; i++) state.Last[i] = cur[i];
            next = persist ? state.Persist() : state;
        }
        else next = null;
        scratch.Clear(); // (a run that threw leaves its scratch to the garbage collector)
        _scratch = scratch;
        return result;
    }

    /// <summary>Hidden layers (neither inputs nor outputs), in plan order: what activity regularizers see.</summary>
    internal IEnumerable<int> HiddenPositions()
    {
        for (int i = 0; i < _order.Length; i++)
        {
            if (_order[i] is InputLayer) continue;
            bool output = false;
            foreach (var (index, _) in _outs) output |= index == i;
            if (!output) yield return i;
        }
    }

    internal RunState NewState(int batch) => new(_depth, batch);

    internal int PositionOf(Layer layer) => Array.IndexOf(_order, layer);

    private static int[] MaskShape(int n, int rank)
    {
        var s = new int[rank];
        Array.Fill(s, 1);
        s[0] = n;
        return s;
    }

    private static Tensor[] BlendState(Tensor[]? prev, Tensor[] next, Tensor m, int n)
    {
        var r = new Tensor[next.Length];
        for (int j = 0; j < next.Length; j++)
        {
            // Stryker disable once Conditional: m is [N, 1]: at rank 2 the reshape gives the same [N, 1]
            var mb = m.Rank == next[j].Rank ? m : m.Reshape(MaskShape(n, next[j].Rank));
            r[j] = prev is null ? next[j] * mb : prev[j] + mb * (next[j] - prev[j]);
        }
        return r;
    }

    private static Tensor StepMask(Tensor mask, int t, int n) => mask.Slice(0, t, 1).Reshape(n, 1);

    private void CheckContribution(Connection c, Tensor contrib, int n)
    {
        var want = c.OutputShape!;
        bool ok = contrib.Rank == want.Length + 1 && contrib.Shape[0] == n;
        for (int d = 0; ok && d < want.Length; d++) ok = contrib.Shape[d + 1] == want[d];
        if (!ok)
            throw new ShapeMismatchException($"Network '{_net.Name}': connection '{c.Name}' ({c.Kind}) from layer '{c.From.Name}' to layer '{c.To.Name}' " +
                                             $"returned {ShapeUtil.Format(contrib.Shape)} from Contribute, expected [{n}, {string.Join(", ", want)}].");
    }

    private void CheckOutput(Layer layer, Tensor y, int n)
    {
        var want = layer.OutputShape!;
        bool ok = y.Rank == want.Length + 1 && y.Shape[0] == n;
        for (int d = 0; ok && d < want.Length; d++) ok = y.Shape[d + 1] == want[d];
        if (!ok)
            throw new ShapeMismatchException($"Network '{_net.Name}': layer '{layer.Name}' ({layer.Kind}) produced {ShapeUtil.Format(y.Shape)}, expected [{n}, {string.Join(", ", want)}].");
    }
}
