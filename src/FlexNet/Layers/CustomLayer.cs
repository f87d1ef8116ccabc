using FlexNet.Graph;
using FlexNet.Tensors;

namespace FlexNet.Layers;

/// <summary>
/// Base of a user-defined layer (theanets' custom <c>Layer</c>): declare parameters in <see cref="Setup"/> with
/// <see cref="AddWeights"/>/<see cref="AddBias"/> once the input size is known, and write <see cref="Transform"/>
/// in ordinary differentiable tensor ops (autodiff gives the backward). Register a factory with
/// <see cref="LayerRegistry.Register"/> to use the layer by name in specs. Several inputs are concatenated on the
/// feature axis (<see cref="InputSize"/> is the total). Parameters are named <c>NAME.PARAM</c>, shared by every
/// attachment of the layer object.
/// </summary>
/// <example><code>
/// public sealed class NoBias(int size, string activation = "linear", string? name = null) : CustomLayer(size, activation, name)
/// {
///     public override string Form => "nobias";
///     protected override void Setup() => AddWeights("w", InputSize, Size);
///     protected override Tensor Transform(Tensor input) => Activate(NN.MatMul(input, Find("w")));
/// }
/// </code></example>
public abstract class CustomLayer : CatalogLayer, ITiedPartner
{
    private readonly Dictionary<string, Tensor> _params = new(StringComparer.Ordinal);
    private readonly List<string> _weightNames = new();
    private readonly Func<Tensor, Tensor> _act;
    private DType _dtype;
    private RandomGenerator? _rng;

    /// <summary>Sets size, activation, name and init.</summary>
    /// <param name="size">Output features.</param>
    /// <param name="activation">Activation applied by <see cref="Activate"/>.</param>
    /// <param name="name">Layer name.</param>
    /// <param name="init">Initialisation attributes (per-parameter ones use the names given to AddWeights/AddBias).</param>
    protected CustomLayer(int size, string activation = "linear", string? name = null, LayerInit? init = null) : base(name, init)
    {
        if (size <= 0) throw new ArgumentOutOfRangeException(nameof(size), $"{GetType().Name}: size must be positive. Received: {size}");
        Size = size;
        Activation = activation;
        _act = Activations.Get(activation);
    }

    /// <summary>Output features.</summary>
    public int Size { get; }

    /// <summary>Activation name.</summary>
    public string Activation { get; }

    /// <summary>Total input features (known in <see cref="Setup"/>).</summary>
    protected int InputSize { get; private set; }

    /// <inheritdoc/>
    public override string Form => GetType().Name.ToLowerInvariant();

    /// <summary>When <see cref="Form"/> is registered (<see cref="LayerRegistry.Register"/>): the form, name, size,
    /// activation and init — what a factory like <c>a =&gt; new NoBias(a.Int("size"), a.Activation("linear"), a.Name, a.Init())</c>
    /// reads; otherwise null (not saveable). Override it when the constructor takes more.</summary>
    /// <returns>The configuration or null.</returns>
    public override IReadOnlyDictionary<string, object>? GetConfig()
    {
        if (!LayerRegistry.IsRegistered(Form)) return null;
        var d = Config(Form);
        (d["size"], d["activation"]) = (Size, Activation);
        return d;
    }

    /// <inheritdoc/>
    protected override (int Min, int Max) InputArity => (1, int.MaxValue);

    /// <summary>Declares the parameters (called once the input size is known).</summary>
    protected abstract void Setup();

    /// <summary>The layer's computation on the (concatenated) input [N, InputSize] → [N, Size].</summary>
    /// <param name="input">Input batch.</param>
    /// <returns>Output batch.</returns>
    protected abstract Tensor Transform(Tensor input);

    /// <summary>A weight matrix [nin, nout] (theanets layout, used as x·W) ~ N(mean, std²) with std = 1/√(nin + nout)
    /// unless given; init attributes (<c>std_NAME</c>, <c>sparsity</c>, ...) apply.</summary>
    /// <param name="name">Parameter name.</param>
    /// <param name="nin">Rows.</param>
    /// <param name="nout">Columns.</param>
    /// <param name="mean">Mean.</param>
    /// <param name="std">Standard deviation.</param>
    /// <returns>The parameter.</returns>
    protected Tensor AddWeights(string name, int nin, int nout, double mean = 0, double? std = null)
    {
        var rng = _rng ?? RandomGenerator.Default;
        var t = Store(name, [nin, nout], _dtype, () => Tensor.Normal([nin, nout], mean, std ?? 1 / Math.Sqrt(nin + nout), rng, _dtype), rng);
        _params[name] = t;
        if (!_weightNames.Contains(name)) _weightNames.Add(name);
        return t;
    }

    /// <summary>A bias vector [size] ~ N(mean, std²) (zeros by default).</summary>
    /// <param name="name">Parameter name.</param>
    /// <param name="size">Length.</param>
    /// <param name="mean">Mean.</param>
    /// <param name="std">Standard deviation.</param>
    /// <returns>The parameter.</returns>
    protected Tensor AddBias(string name, int size, double mean = 0, double std = 0)
    {
        var rng = _rng ?? RandomGenerator.Default;
        var t = Store(name, [size], _dtype, () => Tensor.Normal([size], mean, std, rng, _dtype), rng);
        _params[name] = t;
        return t;
    }

    /// <summary>The parameter declared as <paramref name="name"/>.</summary>
    /// <param name="name">Parameter name.</param>
    /// <returns>The tensor.</returns>
    /// <exception cref="KeyNotFoundException">Not declared (lists the declared ones).</exception>
    protected Tensor Find(string name) => _params.TryGetValue(name, out var t) ? t
        : throw new KeyNotFoundException($"Layer '{Name}' has no parameter '{name}'; declared: {string.Join(", ", _params.Keys)}.");

    /// <summary>Applies the layer's activation.</summary>
    /// <param name="x">Pre-activation.</param>
    /// <returns>act(x).</returns>
    protected Tensor Activate(Tensor x) => _act(x);

    Tensor ITiedPartner.TiedWeight()
    {
        if (_weightNames.Count != 1) throw new GraphException($"Tied: partner '{Name}' must declare exactly one weight; it has [{string.Join(", ", _weightNames)}].");
        return _params[_weightNames[0]].T;
    }

    /// <inheritdoc/>
    protected override Layer AttachCore(AttachContext ctx)
    {
        var node = ctx.Add(new CustomNode(this, ctx.NodeName));
        for (int i = 0; i < ctx.Inputs.Count; i++) ctx.Identity(i, node);
        return node;
    }

    /// <summary>The node of a custom layer: inputs concatenated, then the layer's <c>Transform</c>; its
    /// parameters are the layer's (declared in <see cref="Setup"/> once the input width is known, shared by every
    /// attachment). Its incoming connections are identity connections (no parameters).</summary>
    private sealed class CustomNode(CustomLayer o, string? name) : Layer(null, "linear", CombineRule.Concat, false, name)
    {
        public override bool ChangesShape => true;

        public override string Kind => o.GetType().Name;

        public override IEnumerable<Tensor> Parameters => o._params.Values;

        protected internal override int[] InferOutputShape(int[] inputShape)
        {
            if (inputShape.Length != 1)
                throw new ShapeMismatchException($"Custom layer '{Name}' ({Kind}) takes vector inputs; got {ShapeUtil.Format(inputShape)}.");
            return [o.Size];
        }

        protected internal override void BuildParameters(DType dtype, RandomGenerator rng)
        {
            base.BuildParameters(dtype, rng);
            o._dtype = dtype;
            o._rng = rng;
            o.InputSize = InputShape![0];
            o.Setup();
        }

        protected internal override Tensor Transform(Tensor combined, bool training) => o.Transform(combined);
    }
}
