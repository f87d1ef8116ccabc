using System.Buffers;
using FlexNet.Tensors;

namespace FlexNet.Training;

/// <summary>One training or evaluation batch: a tensor per model input and per output target, optional per-sample
/// weights and an optional <c>[T, N]</c> step mask for padded sequences (given to the losses, and to the model
/// when it implements <see cref="IMaskedTrainable"/>).</summary>
/// <param name="Inputs">One tensor per model input.</param>
/// <param name="Targets">One target per model output.</param>
/// <param name="Weights">Per-sample weights broadcastable to each loss's sample shape, or null.</param>
/// <param name="Mask">Step mask <c>[T, N]</c> (1 valid, 0 padding), or null.</param>
public sealed record Batch(Tensor[] Inputs, Tensor[] Targets, Tensor? Weights = null, Tensor? Mask = null);

/// <summary>
/// A data set the trainer draws batches from by sample index. <see cref="GetBatch"/> runs inside the trainer's
/// per-step <see cref="TensorScope"/>, so the tensors it creates are returned to the pool after the step;
/// implementations may read from memory, decode files or augment on the fly.
/// </summary>
public interface IDataset
{
    /// <summary>Number of samples.</summary>
    int Count { get; }

    /// <summary>The samples at <paramref name="indices"/> (each in [0, <see cref="Count"/>)), in that order.</summary>
    /// <param name="indices">Sample indices.</param>
    /// <returns>The batch.</returns>
    Batch GetBatch(ReadOnlySpan<int> indices);
}

/// <summary>A model that accepts the batch's step mask (e.g. a recurrent <c>Network</c>: masked steps keep state).</summary>
public interface IMaskedTrainable : IMultiTrainable
{
    /// <summary>The forward pass with a step mask.</summary>
    /// <param name="inputs">One batch per input.</param>
    /// <param name="training">Training or evaluation behaviour.</param>
    /// <param name="mask"><c>[T, N]</c> mask or null.</param>
    /// <returns>One batch per output.</returns>
    Tensor[] Forward(Tensor[] inputs, bool training, Tensor? mask);
}

/// <summary>
/// An in-memory data set over tensors: samples along <c>inputAxis</c> of every input and <c>targetAxis</c> of every
/// target (0 for <c>[N, ...]</c>, 1 for <c>[T, N, ...]</c>); weights along axis 0 when rank 1, else the target
/// axis; the mask <c>[T, N]</c> along axis 1. Batches are gathered copies.
/// </summary>
public sealed class TensorDataset : IDataset, IFillsBatch
{
    private readonly Tensor[] _inputs;
    private readonly Tensor[] _targets;
    private readonly Tensor? _weights;
    private readonly Tensor? _mask;
    private readonly int _inputAxis;
    private readonly int _targetAxis;
    private readonly int _weightAxis;

    /// <summary>Creates the data set (tensors are made contiguous once, outside any scope).</summary>
    /// <param name="inputs">One tensor per model input.</param>
    /// <param name="targets">One tensor per model output.</param>
    /// <param name="weights">Per-sample weights or null.</param>
    /// <param name="mask">Step mask <c>[T, N]</c> or null.</param>
    /// <param name="inputAxis">Sample axis of the inputs.</param>
    /// <param name="targetAxis">Sample axis of the targets.</param>
    public TensorDataset(Tensor[] inputs, Tensor[] targets, Tensor? weights = null, Tensor? mask = null, int inputAxis = 0, int targetAxis = 0)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(targets);
        if (inputs.Length == 0 || targets.Length == 0) throw new ArgumentException("TensorDataset: needs at least one input and one target.");
        using (TensorScope.Suspend())
        {
            _inputs = Array.ConvertAll(inputs, t => t.Detach().Contiguous());
            _targets = Array.ConvertAll(targets, t => t.Detach().Contiguous());
            _weights = weights?.Detach().Contiguous();
            _mask = mask?.Detach().Contiguous();
        }
        _inputAxis = inputAxis;
        _targetAxis = targetAxis;
        _weightAxis = weights is { Rank: 1 } ? 0 : targetAxis;
        Count = _inputs[0].Size(inputAxis);
        foreach (var t in _inputs) Check(t, inputAxis, "input");
        foreach (var t in _targets) Check(t, targetAxis, "target");
        if (_weights is not null) Check(_weights, _weightAxis, "weights");
        if (_mask is not null)
        {
            if (_mask.Rank != 2) throw new ShapeMismatchException($"TensorDataset: mask must be [T, N]; got {ShapeUtil.Format(_mask.Shape)}.");
            Check(_mask, 1, "mask");
        }
    }

    /// <summary>A single-input, single-target data set.</summary>
    /// <param name="x">Inputs.</param>
    /// <param name="y">Targets.</param>
    /// <param name="inputAxis">Sample axis of the inputs.</param>
    /// <param name="targetAxis">Sample axis of the targets.</param>
    public TensorDataset(Tensor x, Tensor y, int inputAxis = 0, int targetAxis = 0) : this([x], [y], null, null, inputAxis, targetAxis) { }

    /// <inheritdoc/>
    public int Count { get; }

    /// <inheritdoc/>
    public Batch GetBatch(ReadOnlySpan<int> indices)
    {
        CheckIndices(indices);
        var xs = new Tensor[_inputs.Length];
        var ys = new Tensor[_targets.Length];
        Gather(indices, xs, ys, out var weights, out var mask);
        return new Batch(xs, ys, weights, mask);
    }

    /// <summary>The trainer's path: the same tensors as <see cref="GetBatch"/>, in arrays the trainer reuses.</summary>
    void IFillsBatch.FillBatch(ReadOnlySpan<int> indices, StepBatch into)
    {
        CheckIndices(indices);
        var (xs, ys) = into.Own(_inputs.Length, _targets.Length);
        Gather(indices, xs, ys, out var weights, out var mask);
        into.Weights = weights;
        into.Mask = mask;
    }

    private void CheckIndices(ReadOnlySpan<int> indices)
    {
        for (int i = 0; i < indices.Length; i++)
            if ((uint)indices[i] >= (uint)Count)
                throw new ArgumentOutOfRangeException(nameof(indices), $"TensorDataset: index {indices[i]} is outside [0, {Count}).");
    }

    private void Gather(ReadOnlySpan<int> indices, Tensor[] xs, Tensor[] ys, out Tensor? weights, out Tensor? mask)
    {
        for (int i = 0; i < xs.Length; i++) xs[i] = Batching.Take(_inputs[i], _inputAxis, indices);
        for (int i = 0; i < ys.Length; i++) ys[i] = Batching.Take(_targets[i], _targetAxis, indices);
        weights = _weights is null ? null : Batching.Take(_weights, _weightAxis, indices);
        mask = _mask is null ? null : Batching.Take(_mask, 1, indices);
    }

    private void Check(Tensor t, int axis, string what)
    {
        if (axis >= t.Rank || t.Size(axis) != Count)
            throw new ShapeMismatchException($"TensorDataset: {what} {ShapeUtil.Format(t.Shape)} must have {Count} samples along axis {axis} (the first input's count).");
    }
}

/// <summary>A view of a contiguous range of another data set's samples (used for validation splits).</summary>
public sealed class SubsetDataset : IDataset, IFillsBatch
{
    private readonly IDataset _source;
    private readonly int _start;

    /// <summary>Samples <c>[start, start + count)</c> of <paramref name="source"/>.</summary>
    /// <param name="source">The data set.</param>
    /// <param name="start">First sample.</param>
    /// <param name="count">Number of samples.</param>
    public SubsetDataset(IDataset source, int start, int count)
    {
        _source = source ?? throw new ArgumentNullException(nameof(source));
        if (start < 0 || count < 0 || (long)start + count > source.Count)
            throw new ArgumentOutOfRangeException(nameof(count), $"SubsetDataset: [{start}, {(long)start + count}) is outside [0, {source.Count}).");
        _start = start;
        Count = count;
    }

    /// <inheritdoc/>
    public int Count { get; }

    /// <inheritdoc/>
    public Batch GetBatch(ReadOnlySpan<int> indices)
    {
        int[] shifted = Shift(indices);
        try
        {
            return _source.GetBatch(shifted.AsSpan(0, indices.Length));
        }
        finally
        // Stryker disable once Block: memory only: an array not returned is collected, and the pool rents another
        {
            // Stryker disable once Statement: memory only: an array not returned is collected, and the pool rents another
            ArrayPool<int>.Shared.Return(shifted);
        }
    }

    /// <summary>The trainer's path: the source's own path when it has one (a <see cref="TensorDataset"/>), else its
    /// <see cref="IDataset.GetBatch"/>.</summary>
    void IFillsBatch.FillBatch(ReadOnlySpan<int> indices, StepBatch into)
    {
        int[] shifted = Shift(indices);
        try
        {
            into.Load(_source, shifted.AsSpan(0, indices.Length));
        }
        finally
        // Stryker disable once Block: memory only: an array not returned is collected, and the pool rents another
        {
            // Stryker disable once Statement: memory only: an array not returned is collected, and the pool rents another
            ArrayPool<int>.Shared.Return(shifted);
        }
    }

    /// <summary>The source's indices, in a pooled array (return it).</summary>
    private int[] Shift(ReadOnlySpan<int> indices)
    {
        int[] shifted = ArrayPool<int>.Shared.Rent(indices.Length);
        for (int i = 0; i < indices.Length; i++)
        {
            if ((uint)indices[i] >= (uint)Count)
            {
                // Stryker disable once Statement: memory only: an array not returned is collected, and the pool rents another
                ArrayPool<int>.Shared.Return(shifted);
                throw new ArgumentOutOfRangeException(nameof(indices), $"SubsetDataset: index {indices[i]} is outside [0, {Count}).");
            }
            shifted[i] = indices[i] + _start;
        }
        return shifted;
    }
}
