using FlexNet.Tensors;
using FlexNet.Autodiff;

using FlexNet.Graph;

namespace FlexNet.Layers;

/// <summary>Flattens each sample: [N, d₁, …, d_k] → [N, d₁·…·d_k]. No parameters, no activation.</summary>
public sealed class FlattenLayer : Layer
{
    /// <summary>Creates the layer.</summary>
    /// <param name="name">Unique name; the network assigns one when null.</param>
    public FlattenLayer(string? name = null) : base((int[]?)null, "linear", CombineRule.Sum, false, name) { }

    /// <inheritdoc/>
    public override string Kind => "Flatten";

    /// <inheritdoc/>
    public override bool ChangesShape => true;

    /// <inheritdoc/>
    protected internal override int[] InferOutputShape(int[] inputShape) => [ShapeUtil.Product(inputShape)];

    /// <inheritdoc/>
    protected internal override Tensor Transform(Tensor combined, bool training) => combined.Reshape(combined.Shape[0], -1);
}

/// <summary>Reshapes each sample: [N, ...in] → [N, ...shape] (same element count). No parameters, no activation.</summary>
public sealed class ReshapeLayer : Layer
{
    private readonly int[] _target;

    /// <summary>Creates the layer.</summary>
    /// <param name="shape">Per-sample target shape (its product must equal the input's).</param>
    /// <param name="name">Unique name; the network assigns one when null.</param>
    public ReshapeLayer(int[] shape, string? name = null) : base((int[]?)null, "linear", CombineRule.Sum, false, name)
    {
        ArgumentNullException.ThrowIfNull(shape);
        foreach (int d in shape)
            if (d <= 0) throw new ArgumentException($"Reshape dimensions must be positive. Received: {ShapeUtil.Format(shape)}", nameof(shape));
        _target = (int[])shape.Clone();
    }

    /// <inheritdoc/>
    public override string Kind => "Reshape";

    /// <inheritdoc/>
    public override bool ChangesShape => true;

    /// <inheritdoc/>
    protected internal override int[] InferOutputShape(int[] inputShape)
    {
        if (ShapeUtil.Product(inputShape) != ShapeUtil.Product(_target))
            throw new ShapeMismatchException($"Reshape layer '{Name}': input {ShapeUtil.Format(inputShape)} has {ShapeUtil.Product(inputShape)} elements, target {ShapeUtil.Format(_target)} has {ShapeUtil.Product(_target)}.");
        return (int[])_target.Clone();
    }

    /// <inheritdoc/>
    protected internal override Tensor Transform(Tensor combined, bool training)
    {
        var s = new int[_target.Length + 1];
        s[0] = combined.Shape[0];
        _target.CopyTo(s, 1);
        return combined.Reshape(s);
    }
}

/// <summary>Kind of pooling of a <see cref="PoolLayer"/>.</summary>
public enum PoolKind
{
    /// <summary>Maximum over the window.</summary>
    Max,

    /// <summary>Mean over the window.</summary>
    Average,
}

/// <summary>
/// Pooling over the spatial axes of a [C, L] or [C, H, W] input, or over all of them (global pooling):
/// y[c, i] = max or mean of x[c, window(i)] with windows of <see cref="Size"/> every <see cref="Stride"/> after
/// <see cref="Padding"/> on each side (max pads with −∞, average counts the padding), output length
/// ⌊(L + 2p − size)/stride⌋ + 1 per axis; global: y[c] = max or mean over every spatial position, shape [C]. The one
/// pooling layer of FlexNet: Connect graphs add it directly (<c>net.Connect(h, pool)</c> makes the identity edge into it)
/// and the Keras-style builders (MaxPool2D, GlobalAvgPool, ...) add the same layer.
/// </summary>
public sealed class PoolLayer : Layer
{
    /// <summary>A windowed pooling layer.</summary>
    /// <param name="kind">Max or average.</param>
    /// <param name="dimensions">1 ([C, L] inputs) or 2 ([C, H, W]).</param>
    /// <param name="size">Window size (positive).</param>
    /// <param name="stride">Stride (default: the window size).</param>
    /// <param name="padding">Padding on each side, in [0, size/2].</param>
    /// <param name="name">Unique name; the network assigns one when null.</param>
    /// <exception cref="ArgumentException">A size, stride, padding or dimension out of range (the message gives it).</exception>
    public PoolLayer(PoolKind kind, int dimensions = 2, int size = 2, int? stride = null, int padding = 0, string? name = null)
        : base((int[]?)null, "linear", CombineRule.Sum, false, name)
    {
        if (dimensions is not (1 or 2)) throw new ArgumentException($"Pool layer '{name}': dimensions must be 1 or 2. Received: {dimensions}", nameof(dimensions));
        if (size <= 0) throw new ArgumentException($"Pool layer '{name}': size must be positive. Received: {size}", nameof(size));
        if (stride is <= 0) throw new ArgumentException($"Pool layer '{name}': stride must be positive. Received: {stride}", nameof(stride));
        if (padding < 0 || 2 * padding > size) throw new ArgumentException($"Pool layer '{name}': padding must be in [0, size/2]. Received: {padding} for size {size}", nameof(padding));
        (PoolKind, Dimensions, Size, Stride, Padding) = (kind, dimensions, size, stride ?? size, padding);
    }

    private PoolLayer(PoolKind kind, string? name) : base((int[]?)null, "linear", CombineRule.Sum, false, name)
    {
        (PoolKind, _global) = (kind, true);
    }

    /// <summary>A global pooling layer: [C, ...spatial] → [C].</summary>
    /// <param name="kind">Max or average.</param>
    /// <param name="name">Unique name; the network assigns one when null.</param>
    /// <returns>The layer.</returns>
    public static PoolLayer Global(PoolKind kind, string? name = null) => new(kind, name);

    /// <summary>Max or average.</summary>
    public PoolKind PoolKind { get; }

    /// <summary>1 or 2 spatial axes (0 for a global pool, which takes any number).</summary>
    public int Dimensions { get; }

    /// <summary>True for global pooling over every spatial position.</summary>
    public bool IsGlobal => _global;

    private readonly bool _global;

    /// <summary>Window size (0 for a global pool).</summary>
    public int Size { get; }

    /// <summary>Stride (0 for a global pool).</summary>
    public int Stride { get; }

    /// <summary>Padding on each side.</summary>
    public int Padding { get; }

    /// <inheritdoc/>
    public override string Kind => _global ? $"Global{(PoolKind == PoolKind.Max ? "Max" : "Avg")}Pool"
        : $"{(PoolKind == PoolKind.Max ? "Max" : "Avg")}Pool{Dimensions}d({Size}/{Stride}{(Padding > 0 ? $", pad {Padding}" : "")})";

    /// <inheritdoc/>
    public override bool ChangesShape => true;

    /// <inheritdoc/>
    protected internal override int[] InferOutputShape(int[] s)
    {
        if (_global)
        {
            if (s.Length < 2) throw new ShapeMismatchException($"Pool layer '{Name}' ({Kind}): needs [C, ...spatial]; got {ShapeUtil.Format(s)}.");
            return [s[0]];
        }
        if (s.Length != Dimensions + 1)
            throw new ShapeMismatchException($"Pool layer '{Name}' ({Kind}): needs a [C, {(Dimensions == 1 ? "L" : "H, W")}] input; got {ShapeUtil.Format(s)}.");
        var o = (int[])s.Clone();
        for (int d = 1; d < s.Length; d++)
        {
            if (s[d] + 2 * Padding < Size)
                throw new ShapeMismatchException($"Pool layer '{Name}' ({Kind}): window {Size} does not fit {ShapeUtil.Format(s)} with padding {Padding}.");
            o[d] = (s[d] + 2 * Padding - Size) / Stride + 1;
        }
        return o;
    }

    /// <inheritdoc/>
    protected internal override Tensor Transform(Tensor x, bool training)
    {
        if (_global) return PoolKind == PoolKind.Max ? NN.GlobalMaxPool(x) : NN.GlobalAvgPool(x);
        if (Dimensions == 1)
            return PoolKind == PoolKind.Max ? NN.MaxPool1d(x, Size, Stride, Padding) : NN.AvgPool1d(x, Size, Stride, Padding);
        return PoolKind == PoolKind.Max ? NN.MaxPool2d(x, Size, Stride, Padding) : NN.AvgPool2d(x, Size, Stride, Padding);
    }
}
