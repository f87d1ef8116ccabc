namespace FlexNet.Tensors;

/// <summary>
/// A lifetime scope for tensors: every tensor buffer allocated on this thread while the scope is the innermost
/// one is rented from a pool and returned when the scope is disposed. A training step runs inside one scope,
/// so its intermediates (activations, saved values, gradients of intermediates) cost no garbage collection.
/// Tensors that must outlive the scope are passed to <see cref="Keep"/>; using a released tensor throws
/// <see cref="ObjectDisposedException"/>. Parameters and their gradients are allocated outside any scope.
/// </summary>
/// <example><code>
/// using (var scope = TensorScope.Begin())
/// {
///     var loss = Loss(model(x), y);
///     loss.Backward();
///     lossValue = loss.Item();
/// } // every intermediate buffer is back in the pool here
/// </code></example>
public sealed class TensorScope : IDisposable
{
    [ThreadStatic] private static TensorScope? _current;
    [ThreadStatic] private static List<Storage>? t_spareList;
    private readonly List<Storage> _owned;
    private readonly TensorScope? _outer;
    private bool _disposed;

    private TensorScope(TensorScope? outer)
    {
        _outer = outer;
        // the list of the last scope that ended on this thread, already grown to a step's size (a scope per
        // training step would otherwise regrow a fresh list every step)
        _owned = t_spareList ?? new List<Storage>();
        t_spareList = null;
    }

    private void RecycleList()
    {
        _owned.Clear();
        t_spareList ??= _owned;
    }

    /// <summary>The innermost scope on this thread, or null.</summary>
    internal static TensorScope? Current => _current;

    /// <summary>Opens a scope on this thread; dispose it to release what was allocated inside.</summary>
    /// <returns>The new innermost scope.</returns>
    public static TensorScope Begin()
    {
        var s = new TensorScope(_current);
        _current = s;
        return s;
    }

    /// <summary>Opens a region in which allocations are ordinary (garbage-collected) arrays owned by no scope.</summary>
    /// <returns>A handle that restores the previous scope when disposed.</returns>
    internal static SuspendHandle Suspend()
    {
        var prev = _current;
        _current = null;
        return new SuspendHandle(prev);
    }

    internal readonly struct SuspendHandle : IDisposable
    {
        private readonly TensorScope? _prev;

        internal SuspendHandle(TensorScope? prev) => _prev = prev;

        public void Dispose() => _current = _prev;
    }

    internal void Register(Storage s)
    {
        s.Owner = this;
        // an ended scope (only after out-of-order disposal) lists nothing: its list may serve another scope now
        if (!_disposed) _owned.Add(s);
    }

    /// <summary>Keeps <paramref name="tensor"/>'s buffer alive past this scope (it moves to the enclosing scope, if any).</summary>
    /// <param name="tensor">A tensor allocated in this scope (or a view of one).</param>
    /// <returns>The same tensor, for chaining.</returns>
    public Tensor Keep(Tensor tensor)
    {
        var s = tensor.Storage;
        if (ReferenceEquals(s.Owner, this))
        {
            if (_outer is not null) _outer.Register(s);
            else s.Detach(); // handed to the garbage collector: the pool no longer counts it
        }
        return tensor;
    }

    /// <summary>Opens a scope that replaces <paramref name="old"/> (same enclosing scope) as the innermost one on this
    /// thread; <paramref name="old"/> can then hand tensors to it (<see cref="Transfer"/>) and be disposed.</summary>
    internal static TensorScope BeginReplacing(TensorScope old)
    {
        var s = new TensorScope(old._outer);
        _current = s;
        return s;
    }

    /// <summary>Moves <paramref name="tensor"/>'s buffer from this scope to <paramref name="target"/> (nothing when this
    /// scope does not own it).</summary>
    internal void Transfer(Tensor tensor, TensorScope target)
    {
        var s = tensor.Storage;
        if (ReferenceEquals(s.Owner, this)) target.Register(s);
    }

    /// <summary>Ends this scope without releasing anything: every buffer it still owns moves to the enclosing scope
    /// (which must exist), as if each had been passed to <see cref="Keep"/>.</summary>
    internal void EndIntoOuter()
    {
        if (_disposed) return;
        if (_outer is null) throw new InvalidOperationException("TensorScope.EndIntoOuter: no enclosing scope.");
        _disposed = true;
        foreach (var s in _owned)
            if (ReferenceEquals(s.Owner, this)) _outer.Register(s);
        RecycleList();
        if (ReferenceEquals(_current, this)) _current = _outer;
    }

    /// <summary>Returns every buffer allocated in this scope (and not kept) to the pool.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        foreach (var s in _owned)
        {
            if (ReferenceEquals(s.Owner, this)) s.Release();
        }
        RecycleList();
        if (ReferenceEquals(_current, this)) _current = _outer;
    }
}
