using FlexNet.Tensors;

namespace FlexNet.Training;

/// <summary>
/// The batch of one trainer step, in arrays the trainer keeps from step to step. A data set of the library
/// (<see cref="TensorDataset"/>, <see cref="SubsetDataset"/> over one) gathers straight into them, so a step
/// allocates no <see cref="Batch"/> record and no input or target array; any other <see cref="IDataset"/> is asked
/// for its <see cref="Batch"/> through the public <see cref="IDataset.GetBatch"/>, whose arrays are used as they are.
/// </summary>
internal sealed class StepBatch
{
    private Tensor[] _inputs = [], _targets = [];

    /// <summary>One tensor per model input.</summary>
    internal Tensor[] Inputs { get; private set; } = [];

    /// <summary>One target per model output.</summary>
    internal Tensor[] Targets { get; private set; } = [];

    /// <summary>Per-sample weights or null.</summary>
    internal Tensor? Weights { get; set; }

    /// <summary>Step mask [T, N] or null.</summary>
    internal Tensor? Mask { get; set; }

    /// <summary>The samples at <paramref name="indices"/> of <paramref name="data"/>.</summary>
    internal void Load(IDataset data, ReadOnlySpan<int> indices)
    {
        if (data is IFillsBatch filler) filler.FillBatch(indices, this);
        else Set(Fetch(data, indices));
    }

    /// <summary><paramref name="data"/>'s batch of <paramref name="indices"/>, refused when a (custom) data set returns
    /// none, or one without its input or target array.</summary>
    internal static Batch Fetch(IDataset data, ReadOnlySpan<int> indices)
    {
        var b = data.GetBatch(indices);
        if (b is null || b.Inputs is null || b.Targets is null)
            throw new ArgumentException(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"Trainer: data set {data.GetType().Name} returned {(b is null ? "no batch" : "a batch without its inputs or targets")} for {indices.Length} samples."), nameof(data));
        return b;
    }

    /// <summary>Uses a batch made by <see cref="IDataset.GetBatch"/>.</summary>
    internal void Set(Batch batch)
    {
        Inputs = batch.Inputs;
        Targets = batch.Targets;
        Weights = batch.Weights;
        Mask = batch.Mask;
    }

    /// <summary>This object's own input and target arrays, sized <paramref name="inputs"/> and
    /// <paramref name="targets"/> (made once, then reused), for a filler to write into: they become
    /// <see cref="Inputs"/> and <see cref="Targets"/>, and the weights and mask are null until the filler sets them.</summary>
    internal (Tensor[] Inputs, Tensor[] Targets) Own(int inputs, int targets)
    {
        if (_inputs.Length != inputs) _inputs = new Tensor[inputs];
        if (_targets.Length != targets) _targets = new Tensor[targets];
        Inputs = _inputs;
        Targets = _targets;
        Weights = null;
        Mask = null;
        return (_inputs, _targets);
    }

    /// <summary>Drops the step's tensors (they are dead once the step's scope ends) and a data set's arrays.</summary>
    internal void Clear()
    {
        Array.Clear(_inputs);
        Array.Clear(_targets);
        Inputs = _inputs;
        Targets = _targets;
        Weights = null;
        Mask = null;
    }
}

/// <summary>A data set of the library that gathers a batch into the trainer's <see cref="StepBatch"/>: the same
/// tensors, in the same order, as its <see cref="IDataset.GetBatch"/> (the implementing classes are sealed, so the
/// public method cannot be overridden behind the trainer's back).</summary>
internal interface IFillsBatch
{
    /// <summary>Gathers the samples at <paramref name="indices"/> into <paramref name="into"/>.</summary>
    void FillBatch(ReadOnlySpan<int> indices, StepBatch into);
}

/// <summary>A model of the library whose forward pass can write its outputs into an array the trainer keeps from
/// step to step: the same outputs as <see cref="IMaskedTrainable.Forward(Tensor[], bool, Tensor?)"/> when
/// <c>mask</c> is not null (or as <see cref="IMultiTrainable.Forward"/> for a model without masks), and as
/// <see cref="IMultiTrainable.Forward"/> when it is null.</summary>
internal interface IForwardInto
{
    /// <summary>The forward pass, its outputs in <paramref name="reuse"/> when it has one entry per output (its
    /// contents overwritten), else in a new array; returns the array used.</summary>
    Tensor[] ForwardInto(Tensor[] inputs, bool training, Tensor? mask, Tensor[]? reuse);
}
