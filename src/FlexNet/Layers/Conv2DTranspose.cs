using FlexNet.Connections;
using FlexNet.Graph;
using FlexNet.Autodiff;

namespace FlexNet.Layers;

/// <summary>Transposed 2-D convolution layer (torch ConvTranspose2d): x [N, Cin, H, W] → y = act(conv_transpose2d(x, W) + b)
/// [N, filters, (H − 1)s − 2p + k + op, ...]. Graph: a node with a <see cref="ConvTranspose2dConnection"/>;
/// parameters <c>NAME.weight</c> [Cin, filters, k, k], <c>NAME.bias</c>.</summary>
public sealed class Conv2DTranspose : CatalogLayer
{
    private Connection? _first;

    /// <summary>Creates the layer.</summary>
    /// <param name="filters">Output channels.</param>
    /// <param name="kernelSize">Square kernel size.</param>
    /// <param name="stride">Stride (upsampling factor).</param>
    /// <param name="padding">Padding removed from each side.</param>
    /// <param name="outputPadding">Extra rows/columns on one side.</param>
    /// <param name="activation">Activation.</param>
    /// <param name="useBias">Whether to learn a bias.</param>
    /// <param name="name">Layer name.</param>
    /// <param name="init">Initialisation.</param>
    public Conv2DTranspose(int filters, int kernelSize, int stride = 1, int padding = 0, int outputPadding = 0, string activation = "linear",
                           bool useBias = true, string? name = null, LayerInit? init = null) : base(name, init)
    {
        if (filters <= 0 || kernelSize <= 0 || stride <= 0 || padding < 0 || outputPadding < 0)
            throw new ArgumentOutOfRangeException(nameof(filters), $"Conv2DTranspose: bad sizes {filters}, {kernelSize}, {stride}, {padding}, {outputPadding}.");
        _ = Activations.Get(activation);
        (Filters, KernelSize, Stride, Padding, OutputPadding, Activation, UseBias) = (filters, kernelSize, stride, padding, outputPadding, activation, useBias);
    }

    /// <summary>Output channels.</summary>
    public int Filters { get; }

    /// <summary>Kernel size.</summary>
    public int KernelSize { get; }

    /// <summary>Stride.</summary>
    public int Stride { get; }

    /// <summary>Padding.</summary>
    public int Padding { get; }

    /// <summary>Output padding.</summary>
    public int OutputPadding { get; }

    /// <summary>Activation.</summary>
    public string Activation { get; }

    /// <summary>Whether the layer has a bias.</summary>
    public bool UseBias { get; }

    /// <inheritdoc/>
    public override string Form => "conv2t";

    /// <inheritdoc/>
    public override IReadOnlyDictionary<string, object>? GetConfig()
    {
        var d = Config("conv2t");
        (d["size"], d["filter_size"], d["stride"], d["padding"], d["output_padding"], d["activation"], d["bias"]) =
            (Filters, KernelSize, Stride, Padding, OutputPadding, Activation, UseBias);
        return d;
    }

    /// <inheritdoc/>
    protected override Layer AttachCore(AttachContext ctx)
    {
        var node = ctx.Add(PlainNode(null, Activation, CombineRule.Sum, ctx.NodeName));
        if (_first is null)
            _first = Own(ctx.Network, new ConvTranspose2dConnection(ctx.Inputs[0], node, KernelSize, Stride, Padding, OutputPadding, 1, 0, UseBias, Filters, node.Name));
        else Own(ctx.Network, new SharedConnection(_first, ctx.Inputs[0], node));
        return node;
    }
}
