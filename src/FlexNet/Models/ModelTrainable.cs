using FlexNet.Training;
using FlexNet.Autodiff;
using FlexNet.Tensors;

namespace FlexNet.Models;

/// <summary>
/// Lets <see cref="Trainer"/> train a <see cref="Model"/> (Functional, Sequential or subclassed): parameters from
/// <see cref="Model.NamedParameters"/> (unnamed ones get that name), forward through the model's network (with the
/// batch's <c>[T, N]</c> mask when there is one).
/// </summary>
public sealed class ModelTrainable : IMaskedTrainable, IGraphBacked, IActivationSource, IForwardInto
{
    private readonly Tensor[] _params;

    /// <summary>Wraps a built model (see <see cref="ModelTrainingExtensions.AsTrainable(Model, Tensor?)"/> to build a
    /// traced model from a sample batch first).</summary>
    /// <param name="model">The model.</param>
    public ModelTrainable(Model model)
    {
        Model = model ?? throw new ArgumentNullException(nameof(model));
        var named = model.NamedParameters;
        _params = new Tensor[named.Count];
        for (int i = 0; i < named.Count; i++)
        {
            var (name, p) = named[i];
            p.Name ??= name;
            _params[i] = p;
        }
    }

    /// <summary>The wrapped model.</summary>
    public Model Model { get; }

    /// <inheritdoc/>
    public Graph.Network Network => Model.Network;

    /// <inheritdoc/>
    public IReadOnlyList<Tensor> Parameters => _params;

    /// <inheritdoc/>
    public Tensor[] Forward(Tensor[] inputs, bool training) => Model.Forward(inputs, training);

    /// <summary>The hidden layers' outputs of the latest forward pass (see <see cref="Graph.Network.Activations"/>).</summary>
    public IReadOnlyList<KeyValuePair<string, Tensor>> Activations => Model.Network.Activations;

    /// <inheritdoc/>
    public Tensor[] Forward(Tensor[] inputs, bool training, Tensor? mask) =>
        mask is null ? Model.Forward(inputs, training) : Model.Network.Forward(inputs, training, mask);

    Tensor[] IForwardInto.ForwardInto(Tensor[] inputs, bool training, Tensor? mask, Tensor[]? reuse) =>
        mask is null ? ((IForwardInto)Model).ForwardInto(inputs, training, null, reuse) : Model.Network.ForwardInto(inputs, training, mask, reuse);
}

/// <summary>Training entry points on <see cref="Model"/>.</summary>
public static class ModelTrainingExtensions
{
    /// <summary>The model as an <see cref="IMultiTrainable"/>. A traced (subclassed) model without
    /// <see cref="Model.InputShape"/> is first built by one evaluation-mode pass over the first sample of
    /// <paramref name="sample"/>.</summary>
    /// <param name="model">The model.</param>
    /// <param name="sample">A batch to build a traced model from (samples along axis 0), or null.</param>
    /// <returns>The adapter.</returns>
    public static ModelTrainable AsTrainable(this Model model, Tensor? sample = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (sample is not null && model.InputShape is null)
        {
            using (Autograd.NoGrad())
            using (TensorScope.Begin())
                model.Forward([sample.Slice(0, 0, 1)], false);
        }
        return new ModelTrainable(model);
    }
}
