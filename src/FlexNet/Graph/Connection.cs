using FlexNet.Tensors;

namespace FlexNet.Graph;

/// <summary>
/// An edge of a <see cref="Network"/> that owns its weights. At step t it reads its source layer's output
/// s = y_From(t − <see cref="Delay"/>) [N, ...sourceShape] (zeros, or the learned initial state, before step 0) and
/// returns the term c = <see cref="Contribute"/>(s) [N, ...contribution shape] that the target layer combines with
/// its other inputs (summed by default). Parameters use PyTorch layouts (dense weight [out, in]).
/// </summary>
/// <remarks>
/// A user-defined connection subclasses this, creates its parameters in <see cref="Build"/> with
/// <see cref="AddParameter"/> once the shapes are known, and writes <see cref="Contribute"/> with ordinary
/// differentiable tensor ops; autodiff provides the backward pass.
/// </remarks>
public abstract class Connection
{
    private readonly List<Tensor> _parameters = new();

    /// <summary>Creates an edge from <paramref name="from"/> to <paramref name="to"/>.</summary>
    /// <param name="from">Source layer.</param>
    /// <param name="to">Target layer.</param>
    /// <param name="delay">Steps of delay k ≥ 0 (0: same step; k ≥ 1: reads the source's output at t − k).</param>
    /// <param name="name">Name (default <c>From→To</c>, made unique by the network).</param>
    protected Connection(Layer from, Layer to, int delay = 0, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(from);
        ArgumentNullException.ThrowIfNull(to);
        if (delay < 0) throw new ArgumentException($"Connection delay must be >= 0. Received: {delay}", nameof(delay));
        if (to is InputLayer) throw new GraphException($"Connection into input layer '{to.Name}' from '{from.Name}': input layers take no connections.");
        From = from;
        To = to;
        Delay = delay;
        Name = name ?? "";
    }

    /// <summary>Source layer.</summary>
    public Layer From { get; }

    /// <summary>Target layer.</summary>
    public Layer To { get; }

    /// <summary>Delay in steps (0 = feed-forward within a step; k ≥ 1 = recurrent, reads y_From(t − k)).</summary>
    public int Delay { get; }

    /// <summary>Unique name within the network (used to name the parameters, e.g. <c>L1→L2.weight</c>).</summary>
    public string Name { get; internal set; }

    /// <summary>Short kind label for summaries and Graphviz, e.g. <c>dense</c>, <c>conv2d 3x3/1</c>.</summary>
    public virtual string Kind => GetType().Name;

    /// <summary>True once <see cref="Build"/> has run.</summary>
    public bool IsBuilt { get; private set; }

    /// <summary>Per-sample shape of the source output this connection was built for.</summary>
    public int[]? SourceShape { get; private set; }

    /// <summary>Per-sample shape of the contribution c.</summary>
    public int[]? OutputShape { get; private set; }

    /// <summary>The connection's parameters (after build), in declaration order.</summary>
    public IReadOnlyList<Tensor> Parameters => _parameters;

    /// <summary>Declares a parameter: sets <see cref="Tensor.RequireGrad"/> and names it <c>{Name}.{name}</c>.
    /// Call from <see cref="Build"/>.</summary>
    /// <param name="name">Short name, e.g. <c>weight</c>.</param>
    /// <param name="value">The initial value (allocated outside any <see cref="TensorScope"/>).</param>
    /// <returns>The parameter.</returns>
    protected Tensor AddParameter(string name, Tensor value)
    {
        value.RequireGrad();
        value.Name = $"{Name}.{name}";
        _parameters.Add(value);
        return value;
    }

    /// <summary>The parameter declared <paramref name="index"/>-th by <see cref="Build"/>, or a <see cref="GraphException"/>
    /// naming the connection when the network has not been built yet.</summary>
    /// <param name="index">Declaration position (0 for the first <see cref="AddParameter"/>).</param>
    /// <returns>The parameter.</returns>
    protected Tensor BuiltParameter(int index) => index < _parameters.Count ? _parameters[index] : throw new GraphException(
        $"Connection '{Name}' ({Kind}) from '{From.Name}' to '{To.Name}' has no parameters yet: call Compile() (or Build()) on the network first.");

    /// <summary>Infers the contribution's shape and creates the parameters.</summary>
    /// <param name="context">Source shape, target shape (when the target's combined input shape is known), dtype, generator.</param>
    /// <returns>Per-sample shape of the contribution.</returns>
    protected abstract int[] Build(ConnectionBuildContext context);

    /// <summary>The term this connection adds to its target: c = f(s) for the source output s [N, ...SourceShape].</summary>
    /// <param name="source">The source's output at step t − Delay, [N, ...SourceShape].</param>
    /// <returns>c [N, ...OutputShape].</returns>
    public abstract Tensor Contribute(Tensor source);

    /// <summary>Whether this connection is affine in its source, c = s·Wᵀ + b (W [out, in], b [out], either may be
    /// absent: identity is W = I, b = 0). Plans use it to run layers fed only by affine connections through one fused
    /// kernel, whatever front end built them. A connection that is not affine returns false (the default).</summary>
    /// <param name="weight">W [out, in], or null for the identity.</param>
    /// <param name="bias">b [out], or null.</param>
    /// <returns>True when c = s·Wᵀ + b exactly.</returns>
    internal virtual bool TryGetAffine(out Tensor? weight, out Tensor? bias)
    {
        weight = null;
        bias = null;
        return false;
    }

    /// <summary>True for a connection that passes its source through unchanged with no parameters (c = s).</summary>
    internal virtual bool IsIdentity => false;

    /// <summary>Re-initialises each parameter right after <see cref="Build"/> creates it (parameter, short name, the
    /// network's generator): the init settings given to the connect verbs.</summary>
    internal Action<Tensor, string, RandomGenerator>? Initializer { get; set; }

    internal int[] BuildOnce(int[] sourceShape, int[]? targetShape, DType dtype, RandomGenerator rng)
    {
        if (IsBuilt && ShapeUtil.SameShape(SourceShape!, sourceShape) && // SourceShape is set whenever IsBuilt is
            _parameters.TrueForAll(p => p.DType == dtype))
            return OutputShape!;
        _parameters.Clear();
        int[] shape;
        using (TensorScope.Suspend())
        {
            shape = Build(new ConnectionBuildContext(this, sourceShape, targetShape, dtype, rng));
            if (Initializer is { } init)
                foreach (var p in _parameters)
                    init(p, p.Name is { } n && n.LastIndexOf('.') is int i and >= 0 ? n[(i + 1)..] : "weight", rng);
        }
        SourceShape = (int[])sourceShape.Clone();
        OutputShape = (int[])shape.Clone();
        IsBuilt = true;
        return shape;
    }

    /// <summary>The network's error for a shape that does not fit: names this connection, both layers and the shapes.</summary>
    /// <param name="detail">What did not fit.</param>
    /// <returns>The exception to throw.</returns>
    protected ShapeMismatchException Mismatch(string detail) =>
        new($"Connection '{Name}' ({Kind}, delay {Delay}) from layer '{From.Name}' {FormatShape(From.OutputShape)} to layer '{To.Name}' {FormatShape(To.InputShape ?? To.DeclaredShape)}: {detail}");

    internal static string FormatShape(int[]? s) => s is null ? "[?]" : ShapeUtil.Format(s);

    /// <summary>e.g. <c>L1→L2: dense [196] → [300], delay 0</c>.</summary>
    /// <returns>A one-line description.</returns>
    public override string ToString() =>
        $"{Name}: {Kind} {FormatShape(SourceShape ?? From.OutputShape)} -> {FormatShape(OutputShape)}, delay {Delay}";
}

/// <summary>What a connection's <c>Build</c> knows: the shapes around it, the dtype and a seeded generator.</summary>
public sealed class ConnectionBuildContext
{
    internal ConnectionBuildContext(Connection c, int[] source, int[]? target, DType dtype, RandomGenerator rng)
    {
        Connection = c;
        SourceShape = source;
        TargetShape = target;
        DType = dtype;
        Random = rng;
    }

    /// <summary>The connection being built.</summary>
    public Connection Connection { get; }

    /// <summary>Per-sample shape of the source layer's output.</summary>
    public int[] SourceShape { get; }

    /// <summary>Per-sample shape of the target's combined input when it is known (declared, or inferred from
    /// earlier connections); null when the contribution must determine it (e.g. into a flatten or concat layer).</summary>
    public int[]? TargetShape { get; }

    /// <summary>Element type of the parameters.</summary>
    public DType DType { get; }

    /// <summary>Seeded generator for initialisation.</summary>
    public RandomGenerator Random { get; }

    /// <summary>The target shape, or a <see cref="ShapeMismatchException"/> naming the connection when it is unknown.</summary>
    /// <returns>The target's per-sample input shape.</returns>
    public int[] RequireTargetShape() => TargetShape ?? throw new GraphException(
        $"Connection '{Connection.Name}' ({Connection.Kind}) from '{Connection.From.Name}' to '{Connection.To.Name}' needs the target's shape: " +
        $"give layer '{Connection.To.Name}' a shape (it cannot be inferred from this connection).");
}
