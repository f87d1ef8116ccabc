using FlexNet.Tensors;

namespace FlexNet.Layers;

/// <summary>A graph node that draws random numbers in training (dropout, noise) from a generator of its own. The
/// trainer saves and restores <see cref="Generator"/> in checkpoints so a resumed training draws the same masks.</summary>
internal interface IStochasticNode
{
    /// <summary>The node's generator (created on first use from the node's seed and name).</summary>
    RandomGenerator Generator { get; }
}
