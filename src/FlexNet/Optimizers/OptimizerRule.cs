using System.Numerics;
using FlexNet.Tensors;

namespace FlexNet.Optimizers;

/// <summary>
/// An optimisation rule in the style of Optimisers.jl: an immutable description of the update (learning rate and
/// hyper-parameters) with no per-parameter memory. <see cref="Init"/> creates the separate, serialisable
/// <see cref="ParamState"/> of one parameter and <see cref="Apply"/> updates the parameter in place from its
/// gradient: <c>w ← w − Δ(g, state)</c>. Rules are records, so <c>rule with { LearningRate = 1e-4 }</c> makes a variant.
/// Updates run over contiguous spans of float32 or float64 and allocate nothing.
/// </summary>
public abstract record OptimizerRule
{
    /// <summary>The rule's registry name (e.g. <c>adam</c>).</summary>
    public abstract string Name { get; }

    /// <summary>Base learning rate η (a schedule multiplies it; see <see cref="LearningRateSchedule"/>).</summary>
    public double LearningRate { get; init; } = 0.01;

    /// <summary>Coupled (L2) weight decay λ as in PyTorch's <c>weight_decay</c>: the rule sees <c>g + λ·w</c>.
    /// <see cref="AdamW"/> uses it as decoupled decay instead.</summary>
    public double WeightDecay { get; init; }

    /// <summary>Names of the per-parameter state slots, each a tensor of the parameter's shape.</summary>
    protected internal abstract string[] SlotNames { get; }

    /// <summary>True when <see cref="Apply"/> needs a Hessian-vector product (<see cref="Esgd"/>): the
    /// <see cref="Optimizer"/> then needs a loss closure.</summary>
    public virtual bool NeedsHessianVectorProduct => false;

    /// <summary>Checks the hyper-parameters; throws <see cref="ArgumentOutOfRangeException"/> naming the bad one.</summary>
    public virtual void Validate()
    {
        if (!(LearningRate >= 0) || double.IsInfinity(LearningRate))
            throw new ArgumentOutOfRangeException(nameof(LearningRate), $"{Name}: learning rate must be finite and >= 0; got {LearningRate}.");
        if (!(WeightDecay >= 0) || double.IsInfinity(WeightDecay))
            throw new ArgumentOutOfRangeException(nameof(WeightDecay), $"{Name}: weight decay must be finite and >= 0; got {WeightDecay}.");
    }

    /// <summary>Creates the state of one parameter: every slot zero-filled with the parameter's shape and dtype,
    /// then <see cref="InitSlots"/> for rules that start from other values.</summary>
    /// <param name="parameter">A float32/float64 parameter tensor.</param>
    /// <returns>The new state (allocated outside any <see cref="TensorScope"/>).</returns>
    public ParamState Init(Tensor parameter)
    {
        ArgumentNullException.ThrowIfNull(parameter);
        parameter.RequireFloat(Name);
        var names = SlotNames;
        var slots = new Tensor[names.Length];
        using (TensorScope.Suspend())
            for (int i = 0; i < slots.Length; i++) slots[i] = Tensor.Zeros(parameter.ShapeArray, parameter.DType);
        var s = new ParamState(names, slots);
        InitSlots(s);
        return s;
    }

    /// <summary>Sets non-zero initial slot values (e.g. Adagrad's initial accumulator). Default: nothing.</summary>
    /// <param name="state">The freshly zeroed state.</param>
    protected virtual void InitSlots(ParamState state) { }

    /// <summary>One update of <paramref name="parameter"/> in place: increments <see cref="ParamState.Step"/>
    /// (t = 1 on the first call) and applies the rule with learning rate <paramref name="learningRate"/>.</summary>
    /// <param name="state">The parameter's state from <see cref="Init"/>.</param>
    /// <param name="parameter">Contiguous parameter tensor, updated in place (not recorded by autodiff).</param>
    /// <param name="grad">Gradient dL/dw, same shape and dtype.</param>
    /// <param name="learningRate">Learning rate for this step (base rate times schedule).</param>
    /// <param name="hessianVector">H·v for <see cref="Esgd"/>, null otherwise.</param>
    public void Apply(ParamState state, Tensor parameter, Tensor grad, double learningRate, Tensor? hessianVector = null)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (!parameter.IsContiguous || !grad.IsContiguous)
            throw new ArgumentException($"{Name}: parameter '{parameter.Name}' and its gradient must be contiguous.");
        if (!ShapeUtil.SameShape(parameter.Shape, grad.Shape) || parameter.DType != grad.DType)
            throw new ShapeMismatchException($"{Name}: gradient {ShapeUtil.Format(grad.Shape)} {grad.DType} does not match parameter '{parameter.Name}' {ShapeUtil.Format(parameter.Shape)} {parameter.DType}.");
        if (state.Slots.Length != SlotNames.Length || (state.Slots.Length > 0 && !ShapeUtil.SameShape(state.Slots[0].Shape, parameter.Shape)))
            throw new ArgumentException($"{Name}: state does not belong to parameter '{parameter.Name}' {ShapeUtil.Format(parameter.Shape)}.");
        if (NeedsHessianVectorProduct && hessianVector is null)
            throw new ArgumentException($"{Name}: needs a Hessian-vector product; call Optimizer.Step with a loss closure.");
        state.Step++;
        if (hessianVector is null && UpdateParts.Split(this, state, parameter, grad, learningRate)) return;
        UpdateRange(state, parameter, grad, learningRate, 0, parameter.Length, hessianVector);
    }

    /// <summary>True for a built-in rule whose <see cref="Update{T}"/> treats every element on its own (and reads
    /// nothing of the state but its slots' elements and <see cref="ParamState.Step"/>): a large parameter is then
    /// updated in parts over the cores, with the same result (see <see cref="UpdateParts"/>).</summary>
    internal virtual bool ElementwiseUpdate => false;

    /// <summary>Runs <see cref="Update{T}"/> on elements [from, from + count) of the parameter, its gradient (and H·v)
    /// with <paramref name="part"/>: the parameter's state for the whole range, or a part's state whose slots are
    /// views of the same elements.</summary>
    internal void UpdateRange(ParamState part, Tensor parameter, Tensor grad, double learningRate, int from, int count,
        Tensor? hessianVector = null)
    {
        if (parameter.DType == DType.Float32)
            Update<float>(part, parameter.F.Slice(from, count), grad.F.Slice(from, count), learningRate,
                hessianVector is null ? default : hessianVector.F.Slice(from, count));
        else
            Update<double>(part, parameter.D.Slice(from, count), grad.D.Slice(from, count), learningRate,
                hessianVector is null ? default : hessianVector.D.Slice(from, count));
    }

    /// <summary>The rule's arithmetic over one contiguous parameter. <c>state.Step</c> is already t (1-based).</summary>
    /// <typeparam name="T">float or double.</typeparam>
    /// <param name="state">Per-parameter state; slots via <see cref="ParamState.Slot{T}"/>.</param>
    /// <param name="w">Parameter values, updated in place.</param>
    /// <param name="g">Gradient.</param>
    /// <param name="lr">Learning rate of this step.</param>
    /// <param name="hv">Hessian-vector product (empty unless <see cref="NeedsHessianVectorProduct"/>).</param>
    protected abstract void Update<T>(ParamState state, Span<T> w, ReadOnlySpan<T> g, double lr, ReadOnlySpan<T> hv)
        where T : unmanaged, IFloatingPointIeee754<T>;

    /// <summary>Converts a hyper-parameter to the update's element type.</summary>
    /// <typeparam name="T">float or double.</typeparam>
    /// <param name="v">Value.</param>
    /// <returns>The value as T.</returns>
    protected static T C<T>(double v) where T : unmanaged, IFloatingPointIeee754<T> => T.CreateChecked(v);
}

/// <summary>The memory of one parameter under an <see cref="OptimizerRule"/>: the step count t and named slot
/// tensors (momentum buffers, moment estimates, ...), each with the parameter's shape and dtype. Serialisable
/// through <see cref="Optimizer.StateDict"/>.</summary>
public sealed class ParamState
{
    /// <summary>Creates a state from slot names and tensors (same length).</summary>
    /// <param name="slotNames">Slot names.</param>
    /// <param name="slots">Slot tensors.</param>
    public ParamState(string[] slotNames, Tensor[] slots)
    {
        if (slotNames.Length != slots.Length) throw new ArgumentException("ParamState: one tensor per slot name.");
        SlotNames = slotNames;
        Slots = slots;
    }

    /// <summary>Number of updates applied so far (t after the update).</summary>
    public long Step { get; set; }

    /// <summary>Slot names, e.g. <c>exp_avg</c>, <c>exp_avg_sq</c>.</summary>
    public IReadOnlyList<string> SlotNames { get; }

    /// <summary>Slot tensors, aligned with <see cref="SlotNames"/>.</summary>
    public Tensor[] Slots { get; }

    /// <summary>Per-core parts of this state for <see cref="UpdateParts"/> (views of the slots), and the slot tensors
    /// they were made from (remade when a slot tensor is replaced).</summary>
    internal ParamState[]? Parts;
    internal Tensor[]? PartsOf;
    internal int PartsChunk;

    /// <summary>Slot <paramref name="i"/>'s elements as a span.</summary>
    /// <typeparam name="T">float or double (the parameter's dtype).</typeparam>
    /// <param name="i">Slot index.</param>
    /// <returns>The slot's contiguous data.</returns>
    public Span<T> Slot<T>(int i) where T : unmanaged => Slots[i].Data<T>();
}

/// <summary>
/// A large parameter's update in parts over the cores (<see cref="Kernels.WorkerPool"/>): part j updates elements
/// [j·chunk, (j + 1)·chunk) with a <see cref="ParamState"/> whose slots are views of the same elements, made once.
/// The rules' vector lanes compute exactly their scalar expressions, so an element gets the same bits in any part;
/// parts start on multiples of 64 elements, so the vector loops cover whole parts (the scalar tail stays at the
/// parameter's end) and no cache line is written by two cores. The update of SGD with momentum, Adam and the like
/// streams the parameter, its gradient and one to three slots once (20-28 bytes an element for float): on one core
/// it was ~8 % of mlp_train's step (session 22, Zen 5).
/// </summary>
internal sealed class UpdateParts : Kernels.IParallelBody
{
    /// <summary>Elements from which an update is split (a part then streams ≥ 640 KB for SGD with momentum).</summary>
    internal const int SplitElements = 1 << 15;

    private const int Align = 64;

    [ThreadStatic] private static UpdateParts? t_job;

    /// <summary>Test hook: how many updates this thread split.</summary>
    [ThreadStatic] internal static int SplitsOnThisThread;

    private OptimizerRule? _rule;
    private ParamState? _state;
    private Tensor? _w, _g;
    private double _lr;
    private int _chunk, _n;

    /// <summary>Updates the parameter in parts when the rule allows it and it pays; false when the caller must run the
    /// whole update itself.</summary>
    internal static bool Split(OptimizerRule rule, ParamState state, Tensor parameter, Tensor grad, double lr)
    {
        int n = parameter.Length;
        int cores = Kernels.WorkerPool.Threads;
        // Stryker disable once Equality : speed only: on one core the split makes one part, the whole update
        if (!rule.ElementwiseUpdate || n < SplitElements || cores < 2 || Kernels.WorkerPool.InsideRegion) return false;
        int chunk = ((n + cores - 1) / cores + Align - 1) / Align * Align;
        int parts = (n + chunk - 1) / chunk;
        var partStates = PartsOf(state, parts, chunk, n, parameter.Name);
        // Stryker disable once NullCoalescing : allocation only: a new job computes the same
        var job = t_job ?? new UpdateParts();
        t_job = null; // a nested update on this thread (none today) gets its own job
        try
        {
            job._rule = rule;
            job._state = state;
            job._w = parameter;
            job._g = grad;
            job._lr = lr;
            job._chunk = chunk;
            job._n = n;
            for (int j = 0; j < parts; j++) partStates[j].Step = state.Step;
            Kernels.WorkerPool.For(parts, job);
            SplitsOnThisThread++;
        }
        finally
        {
            job._rule = null;
            job._state = null;
            job._w = job._g = null;
            t_job = job;
        }
        return true;
    }

    /// <summary>The state's parts for this split, made (once) as views of its slot tensors.</summary>
    private static ParamState[] PartsOf(ParamState state, int parts, int chunk, int n, string? parameter)
    {
        var slots = state.Slots;
        var made = state.Parts;
        bool fresh = made is not null && made.Length == parts && state.PartsChunk == chunk;
        for (int k = 0; fresh && k < slots.Length; k++) fresh = ReferenceEquals(state.PartsOf![k], slots[k]);
        if (fresh) return made!;
        var names = new string[state.SlotNames.Count];
        for (int k = 0; k < names.Length; k++) names[k] = state.SlotNames[k];
        made = new ParamState[parts];
        for (int j = 0; j < parts; j++)
        {
            int from = j * chunk, count = Math.Min(n, from + chunk) - from;
            var views = new Tensor[slots.Length];
            for (int k = 0; k < slots.Length; k++)
            {
                var slot = slots[k];
                if (!slot.IsContiguous || slot.Length != n)
                    throw new InvalidOperationException($"Optimizer state slot '{names[k]}' {ShapeUtil.Format(slot.Shape)} of parameter '{parameter}' is not a contiguous tensor of the parameter's {n} elements.");
                // not a step scope's tensor: the views live as long as the state
                using (TensorScope.Suspend()) views[k] = Tensor.CreateContiguous(slot.Storage, [count], slot.Offset + from);
            }
            made[j] = new ParamState(names, views);
        }
        state.Parts = made;
        state.PartsOf = (Tensor[])slots.Clone();
        state.PartsChunk = chunk;
        return made;
    }

    public void Run(int index)
    {
        int from = index * _chunk;
        _rule!.UpdateRange(_state!.Parts![index], _w!, _g!, _lr, from, Math.Min(_n, from + _chunk) - from);
    }
}
