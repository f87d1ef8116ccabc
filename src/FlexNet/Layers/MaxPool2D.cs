using FlexNet.Graph;

namespace FlexNet.Layers;

/// <summary>2-D max pooling [N, C, H, W] → [N, C, Hout, Wout], out = ⌊(in + 2·padding − size)/stride⌋ + 1 (see <see cref="Pooling"/>).</summary>
public sealed class MaxPool2D : Pooling
{
    /// <summary>Creates the layer.</summary>
    /// <param name="size">Window size.</param>
    /// <param name="stride">Stride (default: size).</param>
    /// <param name="padding">Symmetric padding.</param>
    /// <param name="name">Layer name.</param>
    public MaxPool2D(int size = 2, int? stride = null, int padding = 0, string? name = null) : base(PoolKind.Max, 2, size, stride, padding, false, name) { }
}
