using FlexNet.Graph;
using FlexNet.Tensors;

namespace FlexNet.Layers;

/// <summary>Where a builder keeps a layer's own tensors so that every attachment of one builder shares them (short
/// name, shape, dtype, default value, trainable, the network's generator) — see <c>CatalogLayer.Store</c>.</summary>
internal delegate Tensor ParameterSource(string shortName, int[] shape, DType dtype, Func<Tensor> create, bool trainable, RandomGenerator rng);

/// <summary>Creates a public layer's own tensors: from its builder's <see cref="ParameterSource"/> when it has one, else
/// its own, named <c>{layer}.{short name}</c> (kept while shape and dtype fit).</summary>
internal static class OwnParameters
{
    internal static Tensor Get(Layer layer, ParameterSource? source, string shortName, int[] shape, DType dtype, Func<Tensor> create,
                               bool trainable, RandomGenerator rng, Tensor? old)
    {
        if (source is not null) return source(shortName, shape, dtype, create, trainable, rng);
        if (old is not null && old.DType == dtype && ShapeUtil.SameShape(old.Shape, shape)) return old;
        using (TensorScope.Suspend())
        {
            var t = create();
            t.Name = $"{layer.Name}.{shortName}";
            if (trainable) t.RequireGrad();
            return t;
        }
    }
}
