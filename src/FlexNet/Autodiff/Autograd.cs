using FlexNet.Tensors;

namespace FlexNet.Autodiff;

/// <summary>
/// Reverse-mode automatic differentiation over the graph of <see cref="Node"/>s recorded during the forward pass.
/// The backward walk is iterative (an explicit stack, not recursion), since a network unrolled over thousands of
/// time steps makes graphs that deep.
/// </summary>
public static class Autograd
{
    [ThreadStatic] private static int _disabled;

    /// <summary>True when ops on this thread record themselves for differentiation.</summary>
    public static bool IsEnabled => _disabled == 0;

    /// <summary>Disables recording on this thread until the returned scope is disposed (inference, updates).</summary>
    /// <returns>A scope; dispose it to restore recording.</returns>
    public static NoGradScope NoGrad()
    {
        _disabled++;
        return new NoGradScope(true);
    }

    internal static void Reenable() => _disabled--;

    private static volatile bool _flushSubnormals = true;
    private static long _subnormalsFlushed;

    /// <summary>
    /// Flush subnormal gradients to zero during <see cref="Backward"/> (default true, process-wide): the gradient
    /// handed to each node of the graph (except the seed at the root) has every value with
    /// 0 &lt; |g| &lt; MinNormal (float 1.17549435e-38, double 2.2250738585072014e-308) replaced by a zero of the
    /// same sign before the node computes with it, as the FTZ/DAZ modes of the CPU (and PyTorch's
    /// <c>set_flush_denormal(True)</c>) would. Gradients of long recurrences shrink geometrically and become
    /// subnormal a few dozen steps back; many CPUs take ~100 cycles per arithmetic instruction on a subnormal, so
    /// without the flush the backward pass of a long sequence can stall. Values of normal magnitude, zeros,
    /// infinities and NaNs are never changed, so results differ only where a gradient was below 1.2e-38 anyway.
    /// Set false to keep subnormals (bit-exact IEEE arithmetic throughout).
    /// </summary>
    public static bool FlushSubnormals
    {
        get => _flushSubnormals;
        set => _flushSubnormals = value;
    }

    /// <summary>Subnormal gradient values flushed so far (or counted, see <see cref="SubnormalCensus"/>), all
    /// threads (diagnostics and benchmarks).</summary>
    internal static long SubnormalsFlushed => Interlocked.Read(ref _subnormalsFlushed);

    /// <summary>With <see cref="FlushSubnormals"/> off, count (without changing them) the subnormal values of the
    /// gradients handed to nodes into <see cref="SubnormalsFlushed"/> (benchmarks: how many there would be).</summary>
    internal static bool SubnormalCensus { get; set; }

    private static void Census(Tensor g)
    {
        if (!g.IsContiguous) return;
        int n = g.DType switch
        {
            DType.Float32 => Kernels.Subnormals.Count<float>(g.F),
            DType.Float64 => Kernels.Subnormals.Count<double>(g.D),
            _ => 0,
        };
        if (n > 0) Interlocked.Add(ref _subnormalsFlushed, n);
    }

    /// <summary>Gradient values scanned by the flush so far, all threads (its cost: one pass over these).</summary>
    internal static long SubnormalsScanned => Interlocked.Read(ref _subnormalsScanned);

    private static long _subnormalsScanned;

    /// <summary>Flushes <paramref name="g"/>; adds the values scanned and flushed to the walk's tallies (published
    /// once per backward, not with an atomic per node).</summary>
    private static void Flush(Tensor g, ref long scanned, ref long flushed)
    {
        if (!g.IsContiguous) return;
        scanned += g.Length;
        flushed += g.DType switch
        {
            DType.Float32 => Kernels.Subnormals.FlushToZeroAny(g.F),
            DType.Float64 => Kernels.Subnormals.FlushToZeroAny(g.D),
            _ => 0,
        };
    }

    internal static bool ShouldRecord(Tensor a) => _disabled == 0 && a.RequiresGrad;

    internal static bool ShouldRecord(Tensor a, Tensor b) => _disabled == 0 && (a.RequiresGrad || b.RequiresGrad);

    internal static bool ShouldRecord(ReadOnlySpan<Tensor> ts)
    {
        if (_disabled != 0) return false;
        foreach (var t in ts) if (t.RequiresGrad) return true;
        return false;
    }

    /// <summary>Back-propagates from <paramref name="root"/>: accumulates d(root·seed)/d(leaf) into every leaf's
    /// <see cref="Tensor.Grad"/>.</summary>
    /// <param name="root">The output to differentiate (a scalar loss unless a seed is given).</param>
    /// <param name="seed">dL/d(root), same shape as root; defaults to 1 for a one-element root.</param>
    /// <param name="retainGraph">Keep saved values so backward can run through this graph again.</param>
    /// <exception cref="AutogradException">Root does not require grad, is not scalar without a seed, or the graph was released.</exception>
    public static void Backward(Tensor root, Tensor? seed = null, bool retainGraph = false)
    {
        if (!root.RequiresGrad)
            throw new AutogradException($"Backward: the tensor (shape {ShapeUtil.Format(root.Shape)}) does not require " +
                                        "gradients; no parameter or input on its path has RequiresGrad set.");
        if (seed is null)
        {
            if (root.Length != 1)
                throw new AutogradException($"Backward from a non-scalar tensor of shape {ShapeUtil.Format(root.Shape)} " +
                                            "needs a seed gradient of the same shape (or reduce it to a scalar first).");
            seed = Tensor.Full(root.ShapeArray, 1, root.DType);
        }
        else if (!ShapeUtil.SameShape(seed.Shape, root.Shape))
        {
            throw new ShapeMismatchException($"Backward: seed shape {ShapeUtil.Format(seed.Shape)} differs from the output shape {ShapeUtil.Format(root.Shape)}.");
        }
        else if (seed.DType != root.DType)
        {
            seed = seed.To(root.DType);
        }

        using var _ = NoGrad();
        if (root.GradFn is null)
        {
            AccumulateInto(root, seed, owned: false);
            return;
        }
        if (root.GradFn.Released) throw Released(root.GradFn);

        var walk = t_walk ?? new Walk();
        t_walk = null; // a Backward inside a backward (rare) gets its own
        try { BackwardWalk(root, seed, retainGraph, walk); }
        finally
        {
            walk.Clear();
            t_walk = walk;
        }
    }

    /// <summary>The collections of one backward walk, reused across calls on a thread (no allocation per step).</summary>
    private sealed class Walk
    {
        public readonly List<Node> Order = new();
        public readonly HashSet<Node> Visited = new(ReferenceEqualityComparer.Instance);
        public readonly Stack<(Node Node, int Next)> Stack = new();

        public void Clear()
        {
            Order.Clear();
            Visited.Clear();
            Stack.Clear();
        }
    }

    [ThreadStatic] private static Walk? t_walk;

    /// <summary>Hands a node's private temporary (made during this backward, never given to another node) back to
    /// the pool before the step's scope ends. Anything else is left alone.</summary>
    internal static void ReleaseTemporary(Tensor t)
    {
        var st = t.Storage;
        if (st.BornInBackward && st.HandOffs == 0 && st.Pooled && st.Owner is not null && t.Offset == 0 && t.Length == st.Length)
            st.Release();
    }

    [ThreadStatic] private static bool t_inBackward;

    /// <summary>True while a backward pass runs on this thread.</summary>
    internal static bool InBackward => t_inBackward;

    private static void BackwardWalk(Tensor root, Tensor seed, bool retainGraph, Walk walk)
    {
        bool outer = t_inBackward;
        t_inBackward = true;
        try { BackwardNodes(root, seed, retainGraph, walk); }
        finally { t_inBackward = outer; }
    }

    private static void BackwardNodes(Tensor root, Tensor seed, bool retainGraph, Walk walk)
    {
        var order = TopologicalOrder(root.GradFn!, walk);
        root.GradFn!.PendingGrad = seed.IsContiguous ? seed : seed.Contiguous();
        bool flush = FlushSubnormals, census = !flush && SubnormalCensus;
        long scanned = 0, flushed = 0;
        try
        {
            for (int k = order.Count - 1; k >= 0; k--)
            {
                var node = order[k];
                var gy = node.PendingGrad;
                if (gy is null) continue;
                node.PendingGrad = null;
                // the root's gradient is the caller's seed: never written to
                if (k < order.Count - 1)
                {
                    if (flush) Flush(gy, ref scanned, ref flushed);
                    else if (census) Census(gy);
                }
                if (node.RetainTarget is { } keep) AccumulateLeafGrad(keep, gy);
                var st = gy.Storage;
                int handOffs = st.HandOffs;
                node.Backward(gy);
                // A gradient made during this backward, consumed by its node and not handed on to another node
                // (nor a view of a larger buffer) goes back to the pool now instead of when the step's scope ends:
                // gradient memory then follows the live frontier of the walk, not the whole unrolled graph.
                if (k < order.Count - 1 && st.BornInBackward && st.HandOffs == handOffs && st.Pooled && st.Owner is not null
                    && gy.Offset == 0 && gy.Length == st.Length)
                    st.Release();
            }
        }
        finally
        {
            if (scanned > 0) Interlocked.Add(ref _subnormalsScanned, scanned);
            if (flushed > 0) Interlocked.Add(ref _subnormalsFlushed, flushed);
        }
        if (!retainGraph)
            foreach (var node in order) node.Release();
    }

    private static AutogradException Released(Node n) => new(
        $"Backward through a graph that was already released (at {n.Name}): its saved values were freed by an " +
        "earlier Backward. Pass retainGraph: true to the first Backward to run backward twice.");

    /// <summary>Post-order of the nodes reachable from <paramref name="root"/> (inputs before consumers), iteratively.</summary>
    private static List<Node> TopologicalOrder(Node root, Walk walk)
    {
        var order = walk.Order;
        var visited = walk.Visited;
        var stack = walk.Stack;
        stack.Push((root, 0));
        visited.Add(root);
        while (stack.Count > 0)
        {
            var (node, next) = stack.Pop();
            var inputs = node.Inputs;
            bool descended = false;
            for (int i = next; i < inputs.Length; i++)
            {
                var child = inputs[i]?.GradFn;
                if (child is null || visited.Contains(child)) continue;
                if (child.Released) throw Released(child);
                visited.Add(child);
                stack.Push((node, i + 1));
                stack.Push((child, 0));
                descended = true;
                break;
            }
            if (!descended) order.Add(node);
        }
        // post-order lists inputs first; iterate from the end for reverse topological order
        return order;
    }

    internal static void AccumulateInto(Tensor input, Tensor grad, bool owned)
    {
        if (!ShapeUtil.SameShape(grad.Shape, input.Shape))
        {
            grad = Ops.Reduce.SumToShape(grad, input.ShapeArray);
            owned = true;
        }
        if (input.GradFn is { } fn)
        {
            if (fn.PendingGrad is null)
            {
                if (owned && grad.IsContiguous)
                {
                    grad.Storage.HandOffs++;
                    fn.PendingGrad = grad;
                }
                else fn.PendingGrad = grad.Clone();
            }
            else
                Ops.Binary.AddInPlace(fn.PendingGrad, grad);
            return;
        }
        AccumulateLeafGrad(input, grad);
    }

    private static void AccumulateLeafGrad(Tensor leaf, Tensor grad)
    {
        if (leaf.Grad is null)
        {
            if (ShapeUtil.SameShape(grad.Shape, leaf.Shape) && leaf.TakeSpareGrad(grad.DType) is { } spare)
            {
                Ops.Movement.CopyInto(grad, spare); // any layout of grad; spare is contiguous
                leaf.Grad = spare;
            }
            else using (TensorScope.Suspend()) leaf.Grad = grad.Clone();
        }
        else
        {
            Ops.Binary.AddInPlace(leaf.Grad, grad);
        }
    }
}

/// <summary>Disables autodiff recording on the current thread while alive (see <see cref="Autograd.NoGrad"/>).</summary>
public readonly struct NoGradScope : IDisposable
{
    private readonly bool _active;

    internal NoGradScope(bool active) => _active = active;

    /// <summary>Restores recording.</summary>
    public void Dispose()
    {
        if (_active) Autograd.Reenable();
    }
}
