using FlexNet.Tensors;

namespace FlexNet.Graph;

/// <summary>
/// A node of a <see cref="Network"/>: it combines the contributions cᵢ of its incoming connections with its
/// <see cref="CombineRule"/> into z (Sum: z = Σ cᵢ), adds its optional per-unit bias b and applies its activation:
/// y = act(z + b). Shapes are per sample (no batch axis): <c>[units]</c> or <c>[C, H, W]</c>; at run time the layer
/// holds y [N, ...shape] at each step. A layer keeps no time state of its own (history lives in the plan's ring
/// buffers). The bias of a <c>[C, H, W]</c> layer is per channel, shape [C].
/// </summary>
public class Layer
{
    private Func<Tensor, Tensor> _activation;
    private string _activationName;

    /// <summary>A vector layer of <paramref name="units"/> units.</summary>
    /// <param name="units">Number of units (per-sample shape [units]).</param>
    /// <param name="activation">Activation name (see <see cref="Activations"/>), default linear.</param>
    /// <param name="combine">How incoming contributions merge (default Sum).</param>
    /// <param name="bias">Whether the layer owns a per-unit bias (connections may own biases too).</param>
    /// <param name="name">Unique name; the network assigns one when null.</param>
    public Layer(int units, string activation = "linear", CombineRule combine = CombineRule.Sum, bool bias = false, string? name = null)
        : this([units], activation, combine, bias, name)
    {
    }

    /// <summary>A layer of the given per-sample shape, or of an inferred shape when <paramref name="shape"/> is null.</summary>
    /// <param name="shape">Per-sample shape ([units] or [C, H, W]); null to infer it from the incoming connections.</param>
    /// <param name="activation">Activation name (see <see cref="Activations"/>), default linear.</param>
    /// <param name="combine">How incoming contributions merge (default Sum).</param>
    /// <param name="bias">Whether the layer owns a per-unit (per-channel) bias.</param>
    /// <param name="name">Unique name; the network assigns one when null.</param>
    public Layer(int[]? shape, string activation = "linear", CombineRule combine = CombineRule.Sum, bool bias = false, string? name = null)
    {
        if (shape is not null)
        {
            if (shape.Length == 0) throw new ArgumentException($"Layer shape must have at least one dimension. Received: []", nameof(shape));
            foreach (int d in shape)
                if (d <= 0) throw new ArgumentException($"Layer dimensions must be positive. Received: {ShapeUtil.Format(shape)}", nameof(shape));
        }
        DeclaredShape = shape is null ? null : (int[])shape.Clone();
        _activationName = activation;
        _activation = Activations.Get(activation);
        Combine = combine;
        UseBias = bias;
        Name = name ?? "";
    }

    /// <summary>The layer's unique name within its network.</summary>
    public string Name { get; internal set; }

    /// <summary>The shape given at construction (null when inferred).</summary>
    public int[]? DeclaredShape { get; }

    /// <summary>Per-sample shape of the combined input z (after build).</summary>
    public int[]? InputShape { get; internal set; }

    /// <summary>Per-sample shape of the output y (after build); equal to <see cref="InputShape"/> except for
    /// shape-changing layers (flatten, reshape, pooling).</summary>
    public int[]? OutputShape { get; internal set; }

    /// <summary>How incoming contributions are combined.</summary>
    public CombineRule Combine { get; }

    /// <summary>Name of the activation.</summary>
    public string Activation
    {
        get => _activationName;
        set
        {
            _activation = Activations.Get(value);
            _activationName = value;
            Network?.Invalidate();
        }
    }

    /// <summary>Whether the layer owns a bias.</summary>
    public bool UseBias { get; }

    /// <summary>The layer's bias [units] or [C] (after build; null without bias).</summary>
    public Tensor? Bias { get; private set; }

    /// <summary>When true the value this layer has "before step 0" (read by recurrent connections and masks) is a
    /// learned parameter <see cref="InitialState"/> of the output shape instead of zeros. Set before compiling.</summary>
    public bool LearnInitialState
    {
        get => _learnInitial;
        set
        {
            _learnInitial = value;
            Network?.Invalidate();
        }
    }

    private bool _learnInitial;

    /// <summary>The learned initial state [...OutputShape] (broadcast over the batch), when <see cref="LearnInitialState"/>.</summary>
    public Tensor? InitialState { get; private set; }

    /// <summary>The network this layer belongs to.</summary>
    public Network? Network { get; internal set; }

    /// <summary>A short description of the kind of layer, e.g. <c>Layer</c>, <c>Input</c>, <c>Flatten</c>.</summary>
    public virtual string Kind => "Layer";

    /// <summary>Whether shapes flow through the layer unchanged from the combined input (false for flatten/pool/...):
    /// connections into a shape-changing layer are built without a target shape and <see cref="Network.Connect"/> makes
    /// them identity connections.</summary>
    public virtual bool ChangesShape => false;

    /// <summary>The layer's own parameters (bias, learned initial state).</summary>
    public virtual IEnumerable<Tensor> Parameters
    {
        get
        {
            if (Bias is not null) yield return Bias;
            if (InitialState is not null) yield return InitialState;
        }
    }

    /// <summary>Non-trainable state saved with the weights (e.g. batch-norm running statistics); none here.</summary>
    internal virtual IEnumerable<Tensor> Buffers => [];

    /// <summary>Output shape for a combined input of per-sample shape <paramref name="inputShape"/> (identity here).</summary>
    /// <param name="inputShape">Per-sample shape of z.</param>
    /// <returns>Per-sample shape of y.</returns>
    protected internal virtual int[] InferOutputShape(int[] inputShape) => inputShape;

    /// <summary>Creates the layer's parameters once its shapes are known (called by the network's build).</summary>
    /// <param name="dtype">Parameter element type.</param>
    /// <param name="rng">Generator for random initialisation.</param>
    protected internal virtual void BuildParameters(DType dtype, RandomGenerator rng)
    {
        var inShape = InputShape!;
        using (TensorScope.Suspend())
        {
            if (UseBias && BiasSource is not null) Bias = BiasSource(dtype, inShape[0]);
            else if (UseBias && (Bias is null || Bias.DType != dtype || Bias.Length != inShape[0]))
                Bias = NamedParameter(Tensor.Zeros([inShape[0]], dtype), "bias");
            if (LearnInitialState && (InitialState is null || InitialState.DType != dtype))
                InitialState = NamedParameter(Tensor.Zeros(OutputShape!, dtype), "initial_state");
            if (!LearnInitialState) InitialState = null;
        }
        AfterBuild?.Invoke(rng);
    }

    /// <summary>The stem of the automatic name (<c>stem{position}</c>) when not the lower-case <see cref="Kind"/>: a builder's
    /// plain node is named after the builder (<c>dense2</c>, <c>conv2d3</c>).</summary>
    internal string? AutoNameStem { get; set; }

    /// <summary>Where the bias comes from when several layers share one (the nodes of one Keras-style builder called more
    /// than once): given the dtype and the length, it returns the shared tensor (creating it on first use). Null: the
    /// layer owns its bias.</summary>
    internal Func<DType, int, Tensor>? BiasSource { get; set; }

    /// <summary>Runs at the end of <see cref="BuildParameters"/>, once every connection of the network is built: a
    /// Keras-style builder initialises the connections it made here (per its init settings, in build order).</summary>
    internal Action<RandomGenerator>? AfterBuild { get; set; }

    private Tensor NamedParameter(Tensor t, string what)
    {
        t.RequireGrad();
        t.Name = $"{Name}.{what}";
        return t;
    }

    /// <summary>y = act(z + b): applies bias and activation to the combined input z [N, ...InputShape].</summary>
    /// <param name="combined">Combined input z [N, ...InputShape].</param>
    /// <param name="training">True in training (for layers that behave differently, e.g. dropout).</param>
    /// <returns>y [N, ...OutputShape].</returns>
    protected internal virtual Tensor Transform(Tensor combined, bool training)
    {
        var z = combined;
        if (Bias is not null)
        {
            var shape = InputShape!;
            if (shape.Length == 1) z = z + Bias;
            else
            {
                var bshape = new int[shape.Length];
                Array.Fill(bshape, 1);
                bshape[0] = shape[0];
                z = z + Bias.Reshape(bshape);
            }
        }
        return _activation(z);
    }

    /// <summary>True for a layer that carries its own per-step state (e.g. a recurrent cell's h and c) from one step
    /// of the unrolled network to the next, like a delay-1 self-connection: the plan then calls
    /// <see cref="TransformStep"/> instead of <see cref="Transform"/>, detaches the state at truncated-BPTT window
    /// boundaries, keeps it across calls of a stateful network and holds it at masked steps.</summary>
    protected internal virtual bool HasStepState => false;

    /// <summary>One step of a layer with <see cref="HasStepState"/>: (s_{t−1}, z_t) → (s_t, y_t). The state is explicit:
    /// the plan keeps it (with the step counter) between steps and between calls of a stateful network; the layer keeps
    /// nothing of a run.</summary>
    /// <param name="combined">Combined input z_t [N, ...InputShape].</param>
    /// <param name="training">True in training.</param>
    /// <param name="time">Steps taken since the state started (0 with <paramref name="state"/> null), for cells whose
    /// update depends on t (e.g. Clockwork).</param>
    /// <param name="state">In: the state after the previous step (null before the first step of a run). Out: the new
    /// state (a new array; tensors [N, ...]); the plan stores it for the next step.</param>
    /// <returns>y_t [N, ...OutputShape].</returns>
    protected internal virtual Tensor TransformStep(Tensor combined, bool training, int time, ref Tensor[]? state) => Transform(combined, training);

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<Type, bool> PlainStepTypes = new();

    /// <summary>True when this layer's step is the base one, y = act(z + b) with the output shape of z and no step
    /// state: no subclass between it and <see cref="Layer"/> overrides <see cref="Transform"/>,
    /// <see cref="TransformStep"/>, <see cref="HasStepState"/>, <see cref="InferOutputShape"/> or
    /// <see cref="ChangesShape"/>. A capability read from the type (once per type), so every front end that builds such a
    /// layer gets the same execution path.</summary>
    internal bool HasPlainStep => PlainStepTypes.GetOrAdd(GetType(), IsPlainStepType);

    /// <summary>The reflection behind <see cref="HasPlainStep"/>, uncached: true when <paramref name="t"/> (a
    /// <see cref="Layer"/> type) inherits all five members from <see cref="Layer"/>. Tests call it directly, since the
    /// cache keeps the first answer for a type for the life of the process.</summary>
    /// <param name="t">A layer type.</param>
    /// <returns>Whether a layer of that type has the base step.</returns>
    internal static bool IsPlainStepType(Type t)
    {
        const System.Reflection.BindingFlags all = System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.NonPublic;
        bool Base(string name) => t.GetMethod(name, all)!.DeclaringType == typeof(Layer);
        bool BaseProperty(string name) => t.GetProperty(name, all)!.GetMethod!.DeclaringType == typeof(Layer);
        return Base(nameof(Transform)) && Base(nameof(TransformStep)) && Base(nameof(InferOutputShape)) &&
               BaseProperty(nameof(HasStepState)) && BaseProperty(nameof(ChangesShape));
    }

    /// <summary>The activation function (for fused kernels and subclasses).</summary>
    protected Func<Tensor, Tensor> ActivationFunction => _activation;

    /// <summary>e.g. <c>L2: Layer([300], sigmoid)</c>.</summary>
    /// <returns>A one-line description.</returns>
    public override string ToString()
    {
        var shape = OutputShape ?? DeclaredShape;
        return $"{Name}: {Kind}({(shape is null ? "?" : ShapeUtil.Format(shape))}" +
               $"{(Activation == "linear" ? "" : ", " + Activation)}{(Combine == CombineRule.Sum ? "" : ", " + Combine)}{(UseBias ? ", bias" : "")})";
    }
}
