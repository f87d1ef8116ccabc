using FlexNet.Graph;
using FlexNet.Tensors;
using FlexNet.Autodiff;

namespace FlexNet.Connections;

/// <summary>
/// Full matrix: c = s·Wᵀ + b with W [out, in] (PyTorch layout), in = the source's per-sample element count
/// (a [C, H, W] source is flattened), out = the target's element count (or <c>units</c>); the result is reshaped
/// to the target's shape. Initialised like torch.nn.Linear: W, b ~ U(−1/√in, 1/√in).
/// </summary>
public sealed class DenseConnection : Connection
{
    private readonly int? _units;
    private int[] _outShape = [];

    /// <summary>Creates the connection (parameters are created when the network is built).</summary>
    /// <param name="from">Source layer.</param>
    /// <param name="to">Target layer.</param>
    /// <param name="delay">Delay in steps (0 = feed-forward).</param>
    /// <param name="bias">Whether the connection owns a bias b [out].</param>
    /// <param name="units">Output features when the target's shape cannot give them (e.g. a concat target).</param>
    /// <param name="name">Name (default <c>From→To</c>).</param>
    public DenseConnection(Layer from, Layer to, int delay = 0, bool bias = true, int? units = null, string? name = null)
        : base(from, to, delay, name)
    {
        if (units is <= 0) throw new ArgumentException($"units must be positive. Received: {units}", nameof(units));
        HasBias = bias;
        _units = units;
    }

    /// <summary>Whether the connection owns a bias.</summary>
    public bool HasBias { get; }

    /// <summary>The weight W [out, in] (after build).</summary>
    public Tensor Weight => BuiltParameter(0);

    /// <summary>The bias b [out] (after build; null without bias).</summary>
    public Tensor? Bias => HasBias ? BuiltParameter(1) : null;

    /// <summary>Input features (after build).</summary>
    public int InFeatures => Weight.Shape[1];

    /// <summary>Output features (after build).</summary>
    public int OutFeatures => Weight.Shape[0];

    /// <inheritdoc/>
    public override string Kind => "dense";


    /// <inheritdoc/>
    protected override int[] Build(ConnectionBuildContext context)
    {
        int inF = ShapeUtil.Product(context.SourceShape);
        if (_units is int u)
        {
            _outShape = [u];
            if (context.TargetShape is { } ts && ShapeUtil.Product(ts) != u)
                throw Mismatch($"units {u} differ from the target shape {ShapeUtil.Format(ts)}.");
            if (context.TargetShape is { } ts2) _outShape = (int[])ts2.Clone();
        }
        else
        {
            _outShape = (int[])context.RequireTargetShape().Clone();
        }
        int outF = ShapeUtil.Product(_outShape);
        double bound = 1 / Math.Sqrt(inF);
        AddParameter("weight", Tensor.Uniform([outF, inF], -bound, bound, context.Random, context.DType));
        if (HasBias) AddParameter("bias", Tensor.Uniform([outF], -bound, bound, context.Random, context.DType));
        return _outShape;
    }

    internal override bool TryGetAffine(out Tensor? weight, out Tensor? bias)
    {
        weight = Weight;
        bias = Bias;
        return true;
    }

    /// <inheritdoc/>
    public override Tensor Contribute(Tensor source)
    {
        // Stryker disable once Conditional,Equality : equivalent: reshaping an [N, F] source to [N, -1] gives the same [N, F] view
        var x = source.Rank > 2 ? source.Reshape(source.Shape[0], -1) : source;
        var y = NN.Linear(x, Weight, Bias);
        if (_outShape.Length == 1) return y;
        var s = new int[_outShape.Length + 1];
        s[0] = source.Shape[0];
        _outShape.CopyTo(s, 1);
        return y.Reshape(s);
    }
}
