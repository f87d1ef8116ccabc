using FlexNet.Graph;
using FlexNet.Tensors;
using FlexNet.Autodiff;

namespace FlexNet.Connections;

/// <summary>
/// 1-D convolution (torch conv1d): s [N, Cin, L] → c [N, Cout, Lout], W [Cout, Cin, k], b [Cout],
/// Lout = ⌊(L + 2p − d(k − 1) − 1)/stride⌋ + 1 (⌈L/stride⌉ for 'same'). Init U(±1/√(Cin·k)) like torch.
/// </summary>
public sealed class Conv1dConnection : Connection
{
    /// <summary>Creates the connection.</summary>
    /// <param name="from">Source [Cin, L].</param>
    /// <param name="to">Target.</param>
    /// <param name="outChannels">Cout.</param>
    /// <param name="kernelSize">k.</param>
    /// <param name="stride">Stride.</param>
    /// <param name="padding">Padding (valid, same or explicit).</param>
    /// <param name="dilation">Dilation.</param>
    /// <param name="bias">Whether to learn b.</param>
    /// <param name="name">Name.</param>
    public Conv1dConnection(Layer from, Layer to, int outChannels, int kernelSize, int stride = 1, Padding padding = default,
                            int dilation = 1, bool bias = true, string? name = null) : base(from, to, 0, name)
    {
        if (outChannels <= 0 || kernelSize <= 0 || stride <= 0 || dilation <= 0)
            throw new ArgumentException($"Conv1d: outChannels, kernelSize, stride and dilation must be positive. Received: {outChannels}, {kernelSize}, {stride}, {dilation}");
        OutChannels = outChannels;
        KernelSize = kernelSize;
        Stride = stride;
        Padding = padding;
        Dilation = dilation;
        HasBias = bias;
    }

    /// <summary>Cout.</summary>
    public int OutChannels { get; }

    /// <summary>k.</summary>
    public int KernelSize { get; }

    /// <summary>Stride.</summary>
    public int Stride { get; }

    /// <summary>Padding.</summary>
    public Padding Padding { get; }

    /// <summary>Dilation.</summary>
    public int Dilation { get; }

    /// <summary>Whether the connection owns a bias.</summary>
    public bool HasBias { get; }

    /// <summary>W [Cout, Cin, k].</summary>
    public Tensor Weight => BuiltParameter(0);

    /// <summary>b [Cout] or null.</summary>
    public Tensor? Bias => HasBias ? BuiltParameter(1) : null;

    /// <inheritdoc/>
    public override string Kind => $"conv1d {KernelSize}/{Stride}";

    /// <inheritdoc/>
    protected override int[] Build(ConnectionBuildContext context)
    {
        var src = context.SourceShape;
        if (src.Length != 2) throw Mismatch($"conv1d needs a [C, L] source; got {ShapeUtil.Format(src)}.");
        int l = Padding.IsSame ? (src[1] + Stride - 1) / Stride
            : (src[1] + Padding.Left + Padding.Right - Dilation * (KernelSize - 1) - 1) / Stride + 1;
        if (l <= 0) throw Mismatch($"the kernel {KernelSize} does not fit the length {src[1]}.");
        double bound = 1 / Math.Sqrt(src[0] * KernelSize);
        AddParameter("weight", Tensor.Uniform([OutChannels, src[0], KernelSize], -bound, bound, context.Random, context.DType));
        if (HasBias) AddParameter("bias", Tensor.Uniform([OutChannels], -bound, bound, context.Random, context.DType));
        return [OutChannels, l];
    }

    /// <inheritdoc/>
    public override Tensor Contribute(Tensor source) => NN.Conv1d(source, Weight, Bias, Stride, Padding, Dilation);
}
