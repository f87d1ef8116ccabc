using FlexNet.Tensors;

namespace FlexNet.Training;

/// <summary>
/// The minimal contract a model implements to be trained by <see cref="Trainer"/>: one input, one output.
/// Parameters are leaf tensors with <see cref="Tensor.RequiresGrad"/> allocated outside any
/// <see cref="TensorScope"/>; their <see cref="Tensor.Name"/> names them in errors, checkpoints and regularizer
/// patterns. <see cref="Forward"/> runs inside the trainer's per-step scope and must be recorded by autodiff.
/// </summary>
public interface ITrainable
{
    /// <summary>Trainable parameters in a fixed order (checkpoints and optimizer state use the order).</summary>
    IReadOnlyList<Tensor> Parameters { get; }

    /// <summary>The forward pass.</summary>
    /// <param name="input">A batch (batch axis as configured in <see cref="TrainerOptions.InputBatchAxis"/>).</param>
    /// <param name="training">True in training (dropout and noise active), false in evaluation/prediction.</param>
    /// <returns>The output batch.</returns>
    Tensor Forward(Tensor input, bool training);
}

/// <summary>The contract of a model with several inputs and/or outputs (each output may have its own loss and weight).</summary>
public interface IMultiTrainable
{
    /// <summary>Trainable parameters in a fixed order.</summary>
    IReadOnlyList<Tensor> Parameters { get; }

    /// <summary>The forward pass.</summary>
    /// <param name="inputs">One batch per input.</param>
    /// <param name="training">Training or evaluation behaviour.</param>
    /// <returns>One batch per output.</returns>
    Tensor[] Forward(Tensor[] inputs, bool training);
}

/// <summary>Optionally implemented by a model to expose named intermediate activations of its latest forward
/// pass (e.g. hidden layer outputs), for activity regularizers (<c>hidden_l1</c>, contractive) and for naming the
/// first layer that produced a non-finite value.</summary>
public interface IActivationSource
{
    /// <summary>Activations of the latest forward pass, in forward order.</summary>
    IReadOnlyList<KeyValuePair<string, Tensor>> Activations { get; }
}

/// <summary>A model that runs on a <see cref="Graph.Network"/>; the trainer re-runs a failing forward pass on it
/// with <see cref="Graph.Network.CheckFinite"/> on to name the first layer that produced NaN/∞.</summary>
public interface IGraphBacked
{
    /// <summary>The network the model runs.</summary>
    Graph.Network Network { get; }
}

/// <summary>A model that is both <see cref="ITrainable"/> (one input, one output) and <see cref="IMaskedTrainable"/>
/// (several inputs and outputs, masks), as every <c>FlexNet.Models.Model</c> is; <see cref="Trainer"/> has a constructor
/// for it so that <c>new Trainer(model, options)</c> is not ambiguous between the two.</summary>
public interface ITrainableModel : ITrainable, IMaskedTrainable
{
    /// <summary>Trainable parameters in a fixed order.</summary>
    new IReadOnlyList<Tensor> Parameters { get; }
}

/// <summary>Adapts a single-input, single-output <see cref="ITrainable"/> to <see cref="IMultiTrainable"/>.</summary>
internal sealed class SingleAdapter(ITrainable model) : IMultiTrainable, IForwardInto
{
    internal ITrainable Model { get; } = model;

    public IReadOnlyList<Tensor> Parameters => Model.Parameters;

    public Tensor[] Forward(Tensor[] inputs, bool training) => [Model.Forward(inputs[0], training)];

    /// <summary>As <see cref="Forward"/> (the mask is not the model's: it has no masked form).</summary>
    public Tensor[] ForwardInto(Tensor[] inputs, bool training, Tensor? mask, Tensor[]? reuse)
    {
        var y = Model.Forward(inputs[0], training);
        // Stryker disable once Conditional: memory only: a new one-element array holds the same output
        var r = reuse is { Length: 1 } ? reuse : new Tensor[1];
        r[0] = y;
        return r;
    }
}
