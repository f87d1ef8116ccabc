using FlexNet.Graph;

namespace FlexNet.Layers;

/// <summary>Global pooling: y[n, c] = maximum over all spatial positions of x[n, c, ...]: [N, C, ...] → [N, C].</summary>
public sealed class GlobalMaxPool : Pooling
{
    /// <summary>Creates the layer.</summary>
    /// <param name="name">Layer name.</param>
    public GlobalMaxPool(string? name = null) : base(PoolKind.Max, 2, 1, null, 0, true, name) { }
}
