using FlexNet.Graph;
using FlexNet.Tensors;
using FlexNet.Autodiff;

namespace FlexNet.Connections;

/// <summary>
/// 2-D convolution (PyTorch conv2d): c = conv2d(s, W, b, stride, padding, dilation) with W [Cout, Cin, k, k],
/// b [Cout]; s [N, Cin, H, W] → c [N, Cout, Hout, Wout], Hout = ⌊(H + pad_top + pad_bottom − d·(k−1) − 1)/stride⌋ + 1
/// (⌈H/stride⌉ for 'same'). Cout comes from the target's shape unless given. Initialised like torch:
/// W, b ~ U(−1/√(Cin·k²), 1/√(Cin·k²)).
/// </summary>
public sealed class Conv2dConnection : Connection
{
    private readonly int? _outChannels;

    /// <summary>Creates the connection.</summary>
    /// <param name="from">Source layer [Cin, H, W].</param>
    /// <param name="to">Target layer [Cout, Hout, Wout].</param>
    /// <param name="kernelSize">Square kernel size k.</param>
    /// <param name="stride">Stride.</param>
    /// <param name="padding">Valid, same or explicit padding.</param>
    /// <param name="dilation">Dilation d.</param>
    /// <param name="delay">Delay in steps.</param>
    /// <param name="bias">Whether the connection owns a bias [Cout].</param>
    /// <param name="outChannels">Cout when the target's shape cannot give it.</param>
    /// <param name="name">Name (default <c>From→To</c>).</param>
    public Conv2dConnection(Layer from, Layer to, int kernelSize, int stride = 1, Padding padding = default, int dilation = 1,
                            int delay = 0, bool bias = true, int? outChannels = null, string? name = null)
        : base(from, to, delay, name)
    {
        if (kernelSize <= 0) throw new ArgumentException($"kernelSize must be positive. Received: {kernelSize}", nameof(kernelSize));
        if (stride <= 0) throw new ArgumentException($"stride must be positive. Received: {stride}", nameof(stride));
        if (dilation <= 0) throw new ArgumentException($"dilation must be positive. Received: {dilation}", nameof(dilation));
        if (outChannels is <= 0) throw new ArgumentException($"outChannels must be positive. Received: {outChannels}", nameof(outChannels));
        KernelSize = kernelSize;
        Stride = stride;
        Padding = padding;
        Dilation = dilation;
        HasBias = bias;
        _outChannels = outChannels;
    }

    /// <summary>Kernel size k.</summary>
    public int KernelSize { get; }

    /// <summary>Stride.</summary>
    public int Stride { get; }

    /// <summary>Padding.</summary>
    public Padding Padding { get; }

    /// <summary>Dilation.</summary>
    public int Dilation { get; }

    /// <summary>Whether the connection owns a bias.</summary>
    public bool HasBias { get; }

    /// <summary>Filters W [Cout, Cin, k, k] (after build).</summary>
    public Tensor Weight => BuiltParameter(0);

    /// <summary>Bias [Cout] (null without bias).</summary>
    public Tensor? Bias => HasBias ? BuiltParameter(1) : null;

    /// <inheritdoc/>
    public override string Kind => $"conv2d {KernelSize}x{KernelSize}/{Stride}{(Padding.IsSame ? " same" : Padding.Top + Padding.Bottom + Padding.Left + Padding.Right > 0 ? $" pad {Padding.Top},{Padding.Bottom},{Padding.Left},{Padding.Right}" : "")}" +
                                   $"{(Dilation > 1 ? $" dil {Dilation}" : "")}";

    private int OutSize(int n, bool rows)
    {
        if (Padding.IsSame) return (n + Stride - 1) / Stride;
        int pad = rows ? Padding.Top + Padding.Bottom : Padding.Left + Padding.Right;
        return (n + pad - Dilation * (KernelSize - 1) - 1) / Stride + 1;
    }

    /// <inheritdoc/>
    protected override int[] Build(ConnectionBuildContext context)
    {
        var src = context.SourceShape;
        if (src.Length != 3) throw Mismatch($"conv2d needs a [C, H, W] source; got {ShapeUtil.Format(src)}.");
        int cin = src[0], h = OutSize(src[1], true), w = OutSize(src[2], false);
        if (h <= 0 || w <= 0) throw Mismatch($"the {KernelSize}x{KernelSize} kernel does not fit the {src[1]}x{src[2]} input.");
        var t = context.TargetShape; // null into a concatenating target (see ConnectionBuildContext.TargetShape)
        int cout = _outChannels ?? (t is { Length: 3 } ? t[0] : t is null
            ? throw new GraphException($"Conv2d connection '{Name}' from '{From.Name}' to '{To.Name}': give the target a [C, H, W] shape or outChannels.")
            : throw Mismatch($"conv2d needs a [C, H, W] target; got {ShapeUtil.Format(t)}."));
        int[] shape = [cout, h, w];
        if (t is not null && !ShapeUtil.SameShape(t, shape))
            throw Mismatch($"conv2d {KernelSize}x{KernelSize} stride {Stride} produces {ShapeUtil.Format(shape)} from {ShapeUtil.Format(src)}, the target has {ShapeUtil.Format(t)}.");
        double bound = 1 / Math.Sqrt(cin * KernelSize * KernelSize);
        AddParameter("weight", Tensor.Uniform([cout, cin, KernelSize, KernelSize], -bound, bound, context.Random, context.DType));
        if (HasBias) AddParameter("bias", Tensor.Uniform([cout], -bound, bound, context.Random, context.DType));
        return shape;
    }

    /// <inheritdoc/>
    public override Tensor Contribute(Tensor source) => NN.Conv2d(source, Weight, Bias, Stride, Padding, Dilation);
}
