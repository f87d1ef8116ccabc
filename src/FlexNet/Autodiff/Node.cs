using System.Runtime.CompilerServices;
using FlexNet.Tensors;

namespace FlexNet.Autodiff;

/// <summary>
/// One recorded op in the autodiff graph: it remembers the inputs that need gradients (and whatever it saved
/// from the forward pass) and, given dL/d(output), accumulates dL/d(input) for each of them.
/// Subclasses are the backward halves of the primitive ops; users normally never see them.
/// </summary>
public abstract class Node
{
    // one or two inputs (most ops) live in the node itself, no array per recorded op; more go to an array
    private TwoInputs _few;
    private Tensor?[]? _many;
    private int _count;

    [InlineArray(2)]
    private struct TwoInputs
    {
        private Tensor? _first;
    }

    /// <summary>Records the op's differentiable inputs; entries that do not require gradients are dropped.</summary>
    /// <param name="inputs">The op's tensor inputs, in order.</param>
    protected Node(params ReadOnlySpan<Tensor?> inputs)
    {
        _count = inputs.Length;
        KeepDifferentiable(inputs, inputs.Length <= 2 ? _few[..inputs.Length] : (_many = new Tensor?[inputs.Length]));
    }

    /// <summary>Adopts <paramref name="inputs"/> (entries that need no gradient are set to null in it), for the
    /// library's ops that build their input array anyway.</summary>
    private protected Node(Tensor?[] inputs)
    {
        _count = inputs.Length;
        if (inputs.Length > 2) _many = inputs;
        KeepDifferentiable(inputs, inputs.Length <= 2 ? _few[..inputs.Length] : inputs);
    }

    /// <summary>Re-arms a node taken from <see cref="NodePool{T}"/> for a new op with <paramref name="inputs"/>, as the
    /// constructor would (an input array of the last use is reused when the count matches).</summary>
    private protected void Rearm(ReadOnlySpan<Tensor?> inputs)
    {
        Released = false;
        PendingGrad = null;
        RetainTarget = null;
        _count = inputs.Length;
        KeepDifferentiable(inputs, inputs.Length <= 2 ? _few[..inputs.Length] : (_many = NodeArrays.Rent(inputs.Length)));
    }

    /// <summary>Copies <paramref name="inputs"/> into <paramref name="dst"/> (the same length; it may be the same
    /// memory), with null for the entries that need no gradient.</summary>
    private static void KeepDifferentiable(ReadOnlySpan<Tensor?> inputs, Span<Tensor?> dst)
    {
        for (int i = 0; i < inputs.Length; i++)
            dst[i] = inputs[i] is { RequiresGrad: false } ? null : inputs[i];
    }

    /// <summary>True while the node waits in a <see cref="NodePool{T}"/>.</summary>
    internal bool InPool;

    /// <summary>Set on the nodes of live tensors while a recycling scope sorts out what died (never pooled then).</summary>
    internal bool Pinned;

    /// <summary>Puts this dead node (released) into its kind's pool, for the kinds that have one; false for the others.</summary>
    internal virtual bool Recycle() => false;

    private Span<Tensor?> InputSpan => _many ?? ((Span<Tensor?>)_few)[.._count];

    /// <summary>The op's name as shown in errors and <see cref="Tensor.ToString"/>, e.g. <c>MatMulBackward</c>.</summary>
    public virtual string Name => GetType().Name;

    /// <summary>The differentiable inputs (null where an input needs no gradient).</summary>
    internal ReadOnlySpan<Tensor?> Inputs => InputSpan;

    /// <summary>Gradient of the loss w.r.t. this node's output, summed over its consumers during backward.</summary>
    internal Tensor? PendingGrad { get; set; }

    /// <summary>When the output asked to keep its gradient (<see cref="Tensor.RetainGrad"/>).</summary>
    internal Tensor? RetainTarget { get; set; }

    /// <summary>True after a backward pass without <c>retainGraph</c> freed this node's saved values.</summary>
    internal bool Released { get; private set; }

    /// <summary>Whether input <paramref name="i"/> needs a gradient.</summary>
    /// <param name="i">Input index.</param>
    /// <returns>True when a gradient must be accumulated for that input.</returns>
    protected bool NeedsGrad(int i) => InputSpan[i] is not null;

    /// <summary>Computes dL/d(inputs) from <paramref name="gradOutput"/> = dL/d(output) and passes each to
    /// <see cref="Accumulate"/>. Runs with recording disabled.</summary>
    /// <param name="gradOutput">Gradient w.r.t. this op's output, same shape as the output.</param>
    protected internal abstract void Backward(Tensor gradOutput);

    /// <summary>Adds <paramref name="grad"/> to input <paramref name="i"/>'s gradient, summing over broadcast
    /// dimensions when <paramref name="grad"/> has the broadcast (larger) shape.</summary>
    /// <param name="i">Input index.</param>
    /// <param name="grad">Gradient contribution.</param>
    /// <param name="owned">True when <paramref name="grad"/> is a fresh tensor nobody else references (it may be adopted without a copy).</param>
    protected void Accumulate(int i, Tensor grad, bool owned = true)
    {
        var input = InputSpan[i];
        if (input is null) return;
        Autograd.AccumulateInto(input, grad, owned);
    }

    /// <summary>Drops saved tensors so their memory can go; called after a backward pass that does not retain the graph.</summary>
    protected virtual void ReleaseSaved() { }

    internal void Release()
    {
        Released = true;
        PendingGrad = null;
        InputSpan.Clear();
        if (_many is not null) NodeArrays.Return(_many); // a node recycled later takes one of its count from there
        _many = null;
        _count = 0;
        ReleaseSaved();
    }
}

/// <summary>Dead nodes of one kind waiting for reuse on this thread (filled when a recycling
/// <see cref="TensorScope"/> ends; see <see cref="Node.Recycle"/>).</summary>
/// <typeparam name="T">The node kind.</typeparam>
internal static class NodePool<T> where T : Node
{
    [ThreadStatic] private static Stack<T>? t_free;

    /// <summary>A dead node of this kind to re-arm, or null.</summary>
    internal static T? Take()
    {
        if (t_free is not { } s || !s.TryPop(out var n)) return null;
        n.InPool = false;
        return n;
    }

    internal static bool Return(T node)
    {
        node.InPool = true;
        (t_free ??= new Stack<T>()).Push(node);
        return true;
    }
}

/// <summary>Cleared tensor arrays of 3 to 16 elements (nodes' input lists and saved inputs) kept on this thread for
/// reuse, so recycled nodes of different arities find an array of their size.</summary>
internal static class NodeArrays
{
    private const int Max = 16;
    [ThreadStatic] private static Stack<Tensor?[]>[]? t_free;

    internal static Tensor?[] Rent(int length)
    {
        if (length <= Max && t_free?[length] is { } s && s.TryPop(out var a)) return a;
        return new Tensor?[length];
    }

    /// <summary>Takes <paramref name="a"/> back (cleared here); the caller must not use it any more.</summary>
    internal static void Return(Tensor?[] a)
    {
        if (a.Length > Max) return;
        Array.Clear(a);
        var free = t_free ??= new Stack<Tensor?[]>[Max + 1];
        (free[a.Length] ??= new Stack<Tensor?[]>()).Push(a);
    }
}
