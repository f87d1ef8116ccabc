using FlexNet.Graph;
using FlexNet.Tensors;
using FlexNet.Autodiff;

namespace FlexNet.Connections;

/// <summary>
/// Transposed 2-D convolution (PyTorch conv_transpose2d), typically top-down feedback into a larger map:
/// W [Cin, Cout, k, k], b [Cout]; s [N, Cin, H, W] → c [N, Cout, Hout, Wout] with
/// Hout = (H − 1)·stride − 2·padding + d·(k − 1) + outputPadding + 1. When outputPadding is not given it is chosen
/// in [0, max(stride, dilation)) so that the output fits the target's shape. Initialised like torch: U(±1/√(Cout·k²)).
/// </summary>
public sealed class ConvTranspose2dConnection : Connection
{
    private readonly int? _outChannels;
    private readonly int? _outputPadding;

    /// <summary>Creates the connection.</summary>
    /// <param name="from">Source layer [Cin, H, W].</param>
    /// <param name="to">Target layer [Cout, Hout, Wout].</param>
    /// <param name="kernelSize">Square kernel size k.</param>
    /// <param name="stride">Stride (upsampling factor).</param>
    /// <param name="padding">Implicit padding removed from each side of the output.</param>
    /// <param name="outputPadding">Extra rows/columns on one side, 0 ≤ outputPadding &lt; max(stride, dilation) (PyTorch's rule); null to fit the target's shape.</param>
    /// <param name="dilation">Dilation d.</param>
    /// <param name="delay">Delay in steps.</param>
    /// <param name="bias">Whether the connection owns a bias [Cout].</param>
    /// <param name="outChannels">Cout when the target's shape cannot give it.</param>
    /// <param name="name">Name (default <c>From→To</c>).</param>
    /// <exception cref="ArgumentException">A size, stride, dilation or output padding out of its range.</exception>
    public ConvTranspose2dConnection(Layer from, Layer to, int kernelSize, int stride = 1, int padding = 0, int? outputPadding = null,
                                     int dilation = 1, int delay = 0, bool bias = true, int? outChannels = null, string? name = null)
        : base(from, to, delay, name)
    {
        if (kernelSize <= 0) throw new ArgumentException($"kernelSize must be positive. Received: {kernelSize}", nameof(kernelSize));
        if (stride <= 0) throw new ArgumentException($"stride must be positive. Received: {stride}", nameof(stride));
        if (padding < 0) throw new ArgumentException($"padding must be >= 0. Received: {padding}", nameof(padding));
        if (dilation <= 0) throw new ArgumentException($"dilation must be positive. Received: {dilation}", nameof(dilation));
        if (outputPadding is < 0) throw new ArgumentException($"outputPadding must be >= 0. Received: {outputPadding}", nameof(outputPadding));
        if (outputPadding is int op && op >= OutputPaddingBound(stride, dilation))
            throw new ArgumentException($"outputPadding must be smaller than the stride ({stride}) or the dilation ({dilation}). Received: {op}", nameof(outputPadding));
        KernelSize = kernelSize;
        Stride = stride;
        Padding = padding;
        Dilation = dilation;
        HasBias = bias;
        _outChannels = outChannels;
        _outputPadding = outputPadding;
    }

    /// <summary>Kernel size k.</summary>
    public int KernelSize { get; }

    /// <summary>Stride.</summary>
    public int Stride { get; }

    /// <summary>Padding.</summary>
    public int Padding { get; }

    /// <summary>Dilation.</summary>
    public int Dilation { get; }

    /// <summary>Output padding (rows, columns) chosen at build.</summary>
    public (int H, int W) OutputPadding { get; private set; }

    /// <summary>Whether the connection owns a bias.</summary>
    public bool HasBias { get; }

    /// <summary>Filters W [Cin, Cout, k, k] (after build).</summary>
    public Tensor Weight => BuiltParameter(0);

    /// <summary>Bias [Cout] (null without bias).</summary>
    public Tensor? Bias => HasBias ? BuiltParameter(1) : null;

    /// <inheritdoc/>
    public override string Kind => $"convT2d {KernelSize}x{KernelSize}/{Stride}{(Padding > 0 ? $" pad {Padding}" : "")}" +
                                   $"{(Dilation > 1 ? $" dil {Dilation}" : "")}{(OutputPadding is (0, 0) ? "" : $" outpad {OutputPadding.H},{OutputPadding.W}")}";

    /// <summary>PyTorch's rule for the output padding, given or inferred: 0 ≤ outputPadding &lt; max(stride, dilation)
    /// (the extra rows lie within one more stride, or dilation, step of the input's last position).</summary>
    internal static int OutputPaddingBound(int stride, int dilation) => Math.Max(stride, dilation);

    private int BaseSize(int n) => (n - 1) * Stride - 2 * Padding + Dilation * (KernelSize - 1) + 1;

    /// <inheritdoc/>
    protected override int[] Build(ConnectionBuildContext context)
    {
        var src = context.SourceShape;
        if (src.Length != 3) throw Mismatch($"conv_transpose2d needs a [C, H, W] source; got {ShapeUtil.Format(src)}.");
        var t = context.TargetShape; // null into a concatenating target (see ConnectionBuildContext.TargetShape)
        if (t is not null && t.Length != 3) throw Mismatch($"conv_transpose2d needs a [C, H, W] target; got {ShapeUtil.Format(t)}.");
        int cout = _outChannels ?? t?[0] ?? throw new GraphException(
            $"ConvTranspose2d connection '{Name}' from '{From.Name}' to '{To.Name}': give the target a [C, H, W] shape or outChannels.");
        int bh = BaseSize(src[1]), bw = BaseSize(src[2]);
        int oph, opw;
        if (_outputPadding is int op) { oph = op; opw = op; }
        else if (t is not null)
        {
            oph = t[1] - bh;
            opw = t[2] - bw;
            int lim = OutputPaddingBound(Stride, Dilation);
            if (oph < 0 || oph >= lim || opw < 0 || opw >= lim)
                throw Mismatch($"conv_transpose2d {KernelSize}x{KernelSize} stride {Stride} padding {Padding} maps {ShapeUtil.Format(src)} to [{cout}, {bh}+p, {bw}+p] with 0 <= p < {lim}, which cannot reach the target {ShapeUtil.Format(t)}.");
        }
        else { oph = 0; opw = 0; }
        OutputPadding = (oph, opw);
        int[] shape = [cout, bh + oph, bw + opw];
        if (shape[1] <= 0 || shape[2] <= 0) throw Mismatch($"conv_transpose2d produces an empty map {ShapeUtil.Format(shape)}.");
        if (t is not null && !ShapeUtil.SameShape(t, shape))
            throw Mismatch($"conv_transpose2d produces {ShapeUtil.Format(shape)} from {ShapeUtil.Format(src)}, the target has {ShapeUtil.Format(t)}.");
        double bound = 1 / Math.Sqrt(cout * KernelSize * KernelSize);
        AddParameter("weight", Tensor.Uniform([src[0], cout, KernelSize, KernelSize], -bound, bound, context.Random, context.DType));
        if (HasBias) AddParameter("bias", Tensor.Uniform([cout], -bound, bound, context.Random, context.DType));
        return shape;
    }

    /// <inheritdoc/>
    public override Tensor Contribute(Tensor source)
    {
        if (OutputPadding.H == OutputPadding.W)
            return NN.ConvTranspose2d(source, Weight, Bias, Stride, Padding, OutputPadding.H, Dilation);
        // unequal output padding: compute with the larger one and crop
        int op = Math.Max(OutputPadding.H, OutputPadding.W);
        var y = NN.ConvTranspose2d(source, Weight, Bias, Stride, Padding, op, Dilation);
        return y.Slice(2, 0, OutputShape![1]).Slice(3, 0, OutputShape[2]);
    }
}
