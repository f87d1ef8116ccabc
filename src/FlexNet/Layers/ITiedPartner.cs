using FlexNet.Tensors;

namespace FlexNet.Layers;

/// <summary>A layer whose single weight a <see cref="Tied"/> layer can share transposed.</summary>
public interface ITiedPartner
{
    /// <summary>The layer's name.</summary>
    string? Name { get; }

    /// <summary>The weight in [out, in] orientation (PyTorch layout; a view for layers that store [in, out]).</summary>
    /// <returns>W [out, in] (recorded for autodiff).</returns>
    Tensor TiedWeight();
}
