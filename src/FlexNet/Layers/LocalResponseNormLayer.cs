using FlexNet.Graph;
using FlexNet.Tensors;

namespace FlexNet.Layers;

/// <summary>
/// A local-response-normalisation node across channels, as FeedbackNets.jl's <c>LRN</c> (Spoerer et al. 2017 recurrent
/// CNNs), usable in any network (<c>net.Connect</c> into it makes an identity connection); the
/// <see cref="LocalResponseNorm"/> builder adds exactly this layer. For x [N, C] or [N, C, ...spatial]:
/// y[n, c, ...] = x[n, c, ...] / (k + α·Σ_{c' = c − ⌊size/2⌋}^{c + ⌊(size − 1)/2⌋} x[n, c', ...]²)^β, channels outside
/// [0, C) contributing zero; the output has the input's shape. No parameters. Saved in <c>.flexnet</c> files as layer
/// kind <c>lrn</c>.
/// </summary>
public sealed class LocalResponseNormLayer : Layer, IIdentityInput
{
    /// <summary>Creates the layer (its shape is inferred from its input).</summary>
    /// <param name="size">Window of channels n ≥ 1.</param>
    /// <param name="alpha">α ≥ 0.</param>
    /// <param name="beta">β.</param>
    /// <param name="k">k &gt; 0.</param>
    /// <param name="name">Unique name; the network assigns one when null.</param>
    /// <exception cref="ArgumentOutOfRangeException">A size below 1, k ≤ 0, α &lt; 0 or a non-finite value.</exception>
    public LocalResponseNormLayer(int size = 5, double alpha = 1e-4, double beta = 0.75, double k = 1.0, string? name = null)
        : base(null, "linear", CombineRule.Sum, false, name)
    {
        if (size < 1) throw new ArgumentOutOfRangeException(nameof(size), $"LRN: size must be >= 1. Received: {size}");
        if (!(k > 0) || !(alpha >= 0) || !double.IsFinite(k) || !double.IsFinite(alpha) || !double.IsFinite(beta))
            throw new ArgumentOutOfRangeException(nameof(k), $"LRN: k must be > 0, alpha >= 0 and beta finite. Received: k={k}, alpha={alpha}, beta={beta}");
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
    public override string Kind => $"LRN({Size})";

    /// <inheritdoc/>
    protected internal override Tensor Transform(Tensor x, bool training)
    {
        int c = x.Shape[1], before = Size / 2, after = (Size - 1) / 2;
        var sq = x.Square();
        var pads = new int[2 * x.Rank];
        pads[2] = before;
        pads[3] = after;
        var padded = before + after > 0 ? sq.Pad(pads) : sq;
        Tensor sum = padded.Slice(1, 0, c);
        for (int j = 1; j < Size; j++) sum = sum + padded.Slice(1, j, c);
        return x / (sum * Alpha + K).Pow(Beta);
    }
}
