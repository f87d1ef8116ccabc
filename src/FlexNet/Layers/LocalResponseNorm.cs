using FlexNet.Graph;
using FlexNet.Tensors;

namespace FlexNet.Layers;

/// <summary>
/// The Keras-style builder of a <see cref="LocalResponseNormLayer"/> (it adds that layer and an identity connection
/// from its input). Local response normalisation across channels, as FeedbackNets.jl's <c>LRN</c> (Spoerer et al. 2017 recurrent
/// CNNs): y[n, c, ...] = x[n, c, ...] / (k + α·Σ_{c' = c − ⌊size/2⌋}^{c + ⌊(size − 1)/2⌋} x[n, c', ...]²)^β, channels
/// outside [0, C) contribute zero. Works on [N, C] and [N, C, ...spatial]. No parameters.
/// </summary>
public sealed class LocalResponseNorm : CatalogLayer
{
    /// <summary>Creates the layer.</summary>
    /// <param name="size">Window of channels n ≥ 1.</param>
    /// <param name="alpha">α ≥ 0.</param>
    /// <param name="beta">β.</param>
    /// <param name="k">k &gt; 0.</param>
    /// <param name="name">Layer name.</param>
    public LocalResponseNorm(int size = 5, double alpha = 1e-4, double beta = 0.75, double k = 1.0, string? name = null) : base(name, null)
    {
        if (size < 1) throw new ArgumentOutOfRangeException(nameof(size), $"LRN: size must be >= 1. Received: {size}");
        if (k <= 0 || alpha < 0) throw new ArgumentOutOfRangeException(nameof(k), $"LRN: k must be > 0 and alpha >= 0. Received: k={k}, alpha={alpha}");
        (Size, Alpha, Beta, K) = (size, alpha, beta, k);
    }

    /// <summary>Window n.</summary>
    public int Size { get; }

    /// <summary>α.</summary>
    public double Alpha { get; }

    /// <summary>β.</summary>
    public double Beta { get; }

    /// <summary>k.</summary>
    public double K { get; }

    /// <inheritdoc/>
    public override string Form => "lrn";

    /// <inheritdoc/>
    public override IReadOnlyDictionary<string, object>? GetConfig()
    {
        var d = Config("lrn", withInit: false);
        (d["size"], d["alpha"], d["beta"], d["k"]) = (Size, Alpha, Beta, K);
        return d;
    }

    /// <inheritdoc/>
    protected override Layer AttachCore(AttachContext ctx)
    {
        var node = ctx.Add(new LocalResponseNormLayer(Size, Alpha, Beta, K, ctx.NodeName));
        ctx.Identity(0, node);
        return node;
    }
}
