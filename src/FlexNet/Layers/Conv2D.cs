using FlexNet.Connections;
using FlexNet.Graph;
using FlexNet.Autodiff;

namespace FlexNet.Layers;

/// <summary>2-D convolution layer (theanets <c>conv2</c>, Keras Conv2D with channels first, torch Conv2d): x [N, Cin, H, W]
/// → y = act(conv2d(x, W) + b) [N, filters, Hout, Wout]. Graph: a node with a <see cref="Conv2dConnection"/>;
/// parameters <c>NAME.weight</c> [filters, Cin, k, k], <c>NAME.bias</c> [filters].</summary>
public sealed class Conv2D : CatalogLayer
{
    private Connection? _first;

    /// <summary>Creates the layer.</summary>
    /// <param name="filters">Output channels.</param>
    /// <param name="kernelSize">Square kernel size.</param>
    /// <param name="stride">Stride.</param>
    /// <param name="padding">Padding (valid, same, or an int).</param>
    /// <param name="activation">Activation.</param>
    /// <param name="useBias">Whether to learn a bias.</param>
    /// <param name="dilation">Dilation.</param>
    /// <param name="name">Layer name.</param>
    /// <param name="init">Initialisation.</param>
    public Conv2D(int filters, int kernelSize, int stride = 1, Padding padding = default, string activation = "linear",
                  bool useBias = true, int dilation = 1, string? name = null, LayerInit? init = null) : base(name, init)
    {
        if (filters <= 0 || kernelSize <= 0 || stride <= 0 || dilation <= 0)
            throw new ArgumentOutOfRangeException(nameof(filters), $"Conv2D: filters, kernelSize, stride, dilation must be positive. Received: {filters}, {kernelSize}, {stride}, {dilation}");
        _ = Activations.Get(activation);
        (Filters, KernelSize, Stride, Padding, Activation, UseBias, Dilation) = (filters, kernelSize, stride, padding, activation, useBias, dilation);
    }

    /// <summary>Output channels.</summary>
    public int Filters { get; }

    /// <summary>Kernel size.</summary>
    public int KernelSize { get; }

    /// <summary>Stride.</summary>
    public int Stride { get; }

    /// <summary>Padding.</summary>
    public Padding Padding { get; }

    /// <summary>Activation.</summary>
    public string Activation { get; }

    /// <summary>Whether the layer has a bias.</summary>
    public bool UseBias { get; }

    /// <summary>Dilation.</summary>
    public int Dilation { get; }

    /// <inheritdoc/>
    public override string Form => "conv2";

    /// <inheritdoc/>
    public override IReadOnlyDictionary<string, object>? GetConfig()
    {
        var d = Config("conv2");
        (d["size"], d["filter_size"], d["stride"], d["padding"], d["activation"], d["bias"], d["dilation"]) =
            (Filters, KernelSize, Stride, PaddingArgument(Padding), Activation, UseBias, Dilation);
        return d;
    }

    /// <inheritdoc/>
    protected override Layer AttachCore(AttachContext ctx)
    {
        var node = ctx.Add(PlainNode(null, Activation, CombineRule.Sum, ctx.NodeName));
        if (_first is null)
            _first = Own(ctx.Network, new Conv2dConnection(ctx.Inputs[0], node, KernelSize, Stride, Padding, Dilation, 0, UseBias, Filters, node.Name));
        else Own(ctx.Network, new SharedConnection(_first, ctx.Inputs[0], node));
        return node;
    }
}
