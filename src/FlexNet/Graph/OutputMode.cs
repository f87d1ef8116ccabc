using FlexNet.Tensors;

namespace FlexNet.Graph;

/// <summary>Which time steps of an output layer <see cref="Network.Forward(Tensor[])"/> returns.</summary>
public enum OutputMode
{
    /// <summary>Every step, stacked: [T, N, ...shape] (PyTorch's sequence layout).</summary>
    AllSteps,

    /// <summary>The last step only: [N, ...shape] (with a mask: each sample's last unmasked step).</summary>
    LastStep,
}
