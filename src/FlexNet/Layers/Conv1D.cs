using FlexNet.Connections;
using FlexNet.Graph;
using FlexNet.Autodiff;

namespace FlexNet.Layers;

/// <summary>1-D convolution layer (theanets <c>conv1</c>, Keras Conv1D, channels first): x [N, Cin, L] →
/// y = act(conv1d(x, W) + b) [N, filters, Lout]. Graph: a node with a <see cref="Conv1dConnection"/>; parameters
/// <c>NAME.weight</c> [filters, Cin, k], <c>NAME.bias</c>.</summary>
public sealed class Conv1D : CatalogLayer
{
    private Connection? _first;

    /// <summary>Creates the layer.</summary>
    /// <param name="filters">Output channels.</param>
    /// <param name="kernelSize">Kernel length.</param>
    /// <param name="stride">Stride.</param>
    /// <param name="padding">Padding.</param>
    /// <param name="activation">Activation.</param>
    /// <param name="useBias">Whether to learn a bias.</param>
    /// <param name="dilation">Dilation.</param>
    /// <param name="name">Layer name.</param>
    /// <param name="init">Initialisation.</param>
    public Conv1D(int filters, int kernelSize, int stride = 1, Padding padding = default, string activation = "linear",
                  bool useBias = true, int dilation = 1, string? name = null, LayerInit? init = null) : base(name, init)
    {
        if (filters <= 0 || kernelSize <= 0 || stride <= 0 || dilation <= 0)
            throw new ArgumentOutOfRangeException(nameof(filters), $"Conv1D: filters, kernelSize, stride, dilation must be positive. Received: {filters}, {kernelSize}, {stride}, {dilation}");
        _ = Activations.Get(activation);
        (Filters, KernelSize, Stride, Padding, Activation, UseBias, Dilation) = (filters, kernelSize, stride, padding, activation, useBias, dilation);
    }

    /// <summary>Output channels.</summary>
    public int Filters { get; }

    /// <summary>Kernel length.</summary>
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
    public override string Form => "conv1";

    /// <inheritdoc/>
    public override IReadOnlyDictionary<string, object>? GetConfig()
    {
        var d = Config("conv1");
        (d["size"], d["filter_size"], d["stride"], d["padding"], d["activation"], d["bias"], d["dilation"]) =
            (Filters, KernelSize, Stride, PaddingArgument(Padding), Activation, UseBias, Dilation);
        return d;
    }

    /// <inheritdoc/>
    protected override Layer AttachCore(AttachContext ctx)
    {
        var node = ctx.Add(PlainNode(null, Activation, CombineRule.Sum, ctx.NodeName));
        if (_first is null) _first = Own(ctx.Network, new Conv1dConnection(ctx.Inputs[0], node, Filters, KernelSize, Stride, Padding, Dilation, UseBias, node.Name));
        else Own(ctx.Network, new SharedConnection(_first, ctx.Inputs[0], node));
        return node;
    }
}
