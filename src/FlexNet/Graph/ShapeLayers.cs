using FlexNet.Tensors;
using FlexNet.Autodiff;

namespace FlexNet.Graph;

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

/// <summary>Kind of pooling of a <see cref="Pool2dLayer"/>.</summary>
public enum PoolKind
{
    /// <summary>Maximum over each window.</summary>
    Max,

    /// <summary>Mean over each window.</summary>
    Average,
}

/// <summary>
/// 2-D pooling of each channel (PyTorch's max_pool2d / avg_pool2d): [N, C, H, W] → [N, C, Hout, Wout] with
/// Hout = ⌊(H + 2·padding − size)/stride⌋ + 1 (likewise W). y[n,c,i,j] = max (or mean) of the window at
/// (stride·i − padding, stride·j − padding). No parameters, no activation.
/// </summary>
public sealed class Pool2dLayer : Layer
{
    /// <summary>Creates the layer.</summary>
    /// <param name="kind">Max or average.</param>
    /// <param name="size">Window size.</param>
    /// <param name="stride">Stride (default: the window size).</param>
    /// <param name="padding">Symmetric padding (at most half the window).</param>
    /// <param name="name">Unique name; the network assigns one when null.</param>
    public Pool2dLayer(PoolKind kind, int size, int? stride = null, int padding = 0, string? name = null)
        : base((int[]?)null, "linear", CombineRule.Sum, false, name)
    {
        if (size <= 0) throw new ArgumentException($"Pool size must be positive. Received: {size}", nameof(size));
        if (stride is <= 0) throw new ArgumentException($"Pool stride must be positive. Received: {stride}", nameof(stride));
        if (padding < 0 || 2 * padding > size) throw new ArgumentException($"Pool padding must be in [0, size/2]. Received: {padding}", nameof(padding));
        PoolKind = kind;
        Size = size;
        Stride = stride ?? size;
        Padding = padding;
    }

    /// <summary>Max or average.</summary>
    public PoolKind PoolKind { get; }

    /// <summary>Window size.</summary>
    public int Size { get; }

    /// <summary>Stride.</summary>
    public int Stride { get; }

    /// <summary>Symmetric padding.</summary>
    public int Padding { get; }

    /// <inheritdoc/>
    public override string Kind => $"{(PoolKind == PoolKind.Max ? "MaxPool2d" : "AvgPool2d")}({Size}/{Stride})";

    /// <inheritdoc/>
    public override bool ChangesShape => true;

    /// <inheritdoc/>
    protected internal override int[] InferOutputShape(int[] inputShape)
    {
        if (inputShape.Length != 3 || inputShape[1] + 2 * Padding < Size || inputShape[2] + 2 * Padding < Size)
            throw new ShapeMismatchException($"Pool layer '{Name}' ({Kind}): needs a [C, H, W] input with H, W >= {Size - 2 * Padding}; got {ShapeUtil.Format(inputShape)}.");
        return [inputShape[0], (inputShape[1] + 2 * Padding - Size) / Stride + 1, (inputShape[2] + 2 * Padding - Size) / Stride + 1];
    }

    /// <inheritdoc/>
    protected internal override Tensor Transform(Tensor combined, bool training) =>
        PoolKind == PoolKind.Max ? NN.MaxPool2d(combined, Size, Stride, Padding) : NN.AvgPool2d(combined, Size, Stride, Padding);
}
