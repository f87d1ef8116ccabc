using FlexNet.Graph;

namespace FlexNet.Layers;

/// <summary>Global pooling: y[n, c] = mean over all spatial positions of x[n, c, ...]: [N, C, ...] → [N, C].</summary>
public sealed class GlobalAvgPool : Pooling
{
    /// <summary>Creates the layer.</summary>
    /// <param name="name">Layer name.</param>
    public GlobalAvgPool(string? name = null) : base(PoolKind.Average, 2, 1, null, 0, true, name) { }
}
