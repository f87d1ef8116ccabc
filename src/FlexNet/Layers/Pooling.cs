using FlexNet.Graph;
using FlexNet.Tensors;
using FlexNet.Autodiff;

namespace FlexNet.Layers;

/// <summary>
/// Max or average pooling over 1 or 2 spatial axes (torch max_pool1d/2d, avg_pool1d/2d): [N, C, L] → [N, C, Lout]
/// or [N, C, H, W] → [N, C, Hout, Wout] with out = ⌊(in + 2·padding − size)/stride⌋ + 1; <see cref="Global"/>
/// pools every spatial position: [N, C, ...] → [N, C]. Average counts padding (torch default). No parameters.
/// </summary>
public class Pooling : CatalogLayer
{
    /// <summary>Creates the layer.</summary>
    /// <param name="kind">Max or average.</param>
    /// <param name="dimensions">1 or 2 spatial axes (ignored when global).</param>
    /// <param name="size">Window size.</param>
    /// <param name="stride">Stride (default: size).</param>
    /// <param name="padding">Symmetric padding (at most size/2).</param>
    /// <param name="global">Pool the whole map.</param>
    /// <param name="name">Layer name.</param>
    public Pooling(PoolKind kind, int dimensions, int size = 2, int? stride = null, int padding = 0, bool global = false, string? name = null)
        : base(name, null)
    {
        if (!global)
        {
            if (dimensions is not (1 or 2)) throw new ArgumentOutOfRangeException(nameof(dimensions), $"Pooling: dimensions must be 1 or 2. Received: {dimensions}");
            if (size <= 0) throw new ArgumentOutOfRangeException(nameof(size), $"Pooling: size must be positive. Received: {size}");
            if (stride is <= 0) throw new ArgumentOutOfRangeException(nameof(stride), $"Pooling: stride must be positive. Received: {stride}");
            if (padding < 0 || 2 * padding > size) throw new ArgumentOutOfRangeException(nameof(padding), $"Pooling: padding must be in [0, size/2]. Received: {padding}");
        }
        (PoolKind, Dimensions, Size, Stride, Padding, Global) = (kind, dimensions, size, stride ?? size, padding, global);
    }

    /// <summary>Max or average.</summary>
    public PoolKind PoolKind { get; }

    /// <summary>Number of spatial axes (1 or 2).</summary>
    public int Dimensions { get; }

    /// <summary>Window size.</summary>
    public int Size { get; }

    /// <summary>Stride.</summary>
    public int Stride { get; }

    /// <summary>Padding.</summary>
    public int Padding { get; }

    /// <summary>Whether the whole map is pooled.</summary>
    public bool Global { get; }

    /// <inheritdoc/>
    public override string Form => Global ? (PoolKind == PoolKind.Max ? "globalmaxpool" : "globalavgpool") : $"pool{Dimensions}";

    /// <inheritdoc/>
    public override IReadOnlyDictionary<string, object>? GetConfig()
    {
        var d = Config(Global ? "globalpool" : $"pool{Dimensions}", withInit: false);
        d["mode"] = PoolKind == PoolKind.Max ? "max" : "avg";
        if (Global) return d;
        (d["size"], d["stride"], d["padding"]) = (Size, Stride, Padding);
        return d;
    }

    /// <inheritdoc/>
    protected override Layer AttachCore(AttachContext ctx)
    {
        var node = ctx.Add(Global ? PoolLayer.Global(PoolKind, ctx.NodeName) : new PoolLayer(PoolKind, Dimensions, Size, Stride, Padding, ctx.NodeName));
        ctx.Identity(0, node);
        return node;
    }
}
