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
    [ThreadStatic] private static TensorScope? t_spareRecycling;
    private readonly List<Storage> _owned;
    private readonly List<Tensor>? _made;
    private TensorScope? _outer;
    private bool _disposed;

    private TensorScope(TensorScope? outer, bool recycles = false)
    {
        _outer = outer;
        Recycles = recycles;
        if (recycles) _made = new List<Tensor>();
        // the list of the last scope that ended on this thread, already grown to a step's size (a scope per
        // training step would otherwise regrow a fresh list every step)
        _owned = t_spareList ?? new List<Storage>();
        t_spareList = null;
    }

    private void RecycleList()
    {
        _owned.Clear();
        // Stryker disable once Assignment: memory only: = keeps the list of the scope that ended last instead of the first (both grown, both cleared)
        if (!Recycles) t_spareList ??= _owned; // a recycling scope object is itself reused, with its list
    }

    /// <summary>True for a scope opened by <see cref="BeginRecycling"/>.</summary>
    internal bool Recycles { get; }

    /// <summary>
    /// Opens a recycling scope (a trainer's step): as <see cref="Begin"/>, and when it ends the objects of the tensors
    /// made in it that are dead (their buffer went back to the pool) — the tensor objects with their shape and stride
    /// arrays, and the storage objects — wait on this thread for the next recycling scope, whose tensors reuse them.
    /// A warmed-up step then allocates no tensor objects. The price: a tensor of an ended step read later, which
    /// throws <see cref="ObjectDisposedException"/> after a plain scope, may instead show another step's values, so
    /// only code that never reads a step's tensors after the step opens one (the trainer; TrainerOptions.RecycleStepTensors).
    /// Tensors made in it that stay alive (kept, or views of buffers from outside the scope) are never reused, and
    /// nothing is reused when a live tensor's graph may still reach a dead one.
    /// </summary>
    internal static TensorScope BeginRecycling()
    {
        var s = t_spareRecycling;
        if (s is not null)
        {
            t_spareRecycling = null;
            s._outer = _current;
            s._disposed = false;
        }
        else s = new TensorScope(_current, recycles: true);
        _current = s;
        return s;
    }

    internal void Made(Tensor t) => _made!.Add(t);

    /// <summary>The current thread's dead tensor and storage objects from the last recycling scope that ended on it.</summary>
    internal static ShellPool Shells => t_shells ??= new ShellPool();

    [ThreadStatic] private static ShellPool? t_shells;

    internal sealed class ShellPool
    {
        private const int MaxRank = 8;
        private readonly Stack<Tensor>[] _tensors = new Stack<Tensor>[MaxRank + 1];
        private readonly Stack<Storage> _storages = new();

        internal ShellPool()
        {
            for (int r = 0; r <= MaxRank; r++) _tensors[r] = new Stack<Tensor>();
        }

        internal bool TryTake(int rank, out Tensor t)
        {
            if (rank <= MaxRank && _tensors[rank].TryPop(out t!)) return true;
            t = null!;
            return false;
        }

        internal void Return(Tensor t)
        {
            if (t.Rank <= MaxRank) _tensors[t.Rank].Push(t);
        }

        internal bool TryTakeStorage(out Storage s) => _storages.TryPop(out s!);

        internal void ReturnStorage(Storage s) => _storages.Push(s);

        /// <summary>Tensor objects waiting (diagnostics and tests).</summary>
        internal int TensorCount
        {
            get
            {
                int n = 0;
                foreach (var st in _tensors) n += st.Count;
                return n;
            }
        }
    }

    /// <summary>Hands the dead tensors and storages of this ended recycling scope to <see cref="Shells"/>.</summary>
    private void Recycle()
    {
        var made = _made!;
        // a live tensor whose graph was not released may still reach the dead ones through its nodes: reuse nothing
        bool safe = true;
        foreach (var t in made)
        {
            if (t.Storage.IsReleased) continue;
            if (t.GradFn is { } live)
            {
                if (!live.Released)
                {
                    safe = false;
                    // Stryker disable once Statement: equivalent: without it the loop pins more live nodes, and the last loop unpins them all; nothing is reused either way
                    break;
                }
                live.Pinned = true; // a node shared with a dead tensor stays with the live one
            }
        }
        if (safe)
        {
            var pool = Shells;
            foreach (var t in made)
            {
                if (!t.Storage.IsReleased) continue;
                if (t.GradFn is { InPool: false, Pinned: false } node)
                {
                    if (!node.Released) node.Release(); // dead, and no live graph reaches it
                    node.Recycle();
                }
                t.ResetShell();
                pool.Return(t);
            }
            foreach (var st in _owned)
            {
                if (!ReferenceEquals(st.Owner, this) || !st.IsReleased) continue;
                st.Owner = null; // listed twice (moved out and back): returned once
                pool.ReturnStorage(st);
            }
        }
        foreach (var t in made)
            if (t.GradFn is { Pinned: true } n) n.Pinned = false;
        made.Clear();
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
        if (Recycles) Recycle();
        RecycleList();
        if (ReferenceEquals(_current, this)) _current = _outer;
        if (Recycles)
        {
            _outer = null;
            // Stryker disable once Assignment: memory only: = keeps the recycling scope that ended last (nested ones) instead of the first; either serves the next step
            t_spareRecycling ??= this;
        }
    }
}
