using FlexNet.Graph;

namespace FlexNet.Layers;

/// <summary>1-D average pooling [N, C, L] → [N, C, Lout], out = ⌊(in + 2·padding − size)/stride⌋ + 1 (see <see cref="Pooling"/>).</summary>
public sealed class AvgPool1D : Pooling
{
    /// <summary>Creates the layer.</summary>
    /// <param name="size">Window size.</param>
    /// <param name="stride">Stride (default: size).</param>
    /// <param name="padding">Symmetric padding.</param>
    /// <param name="name">Layer name.</param>
    public AvgPool1D(int size = 2, int? stride = null, int padding = 0, string? name = null) : base(PoolKind.Average, 1, size, stride, padding, false, name) { }
}
