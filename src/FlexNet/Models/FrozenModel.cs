using FlexNet.Autodiff;
using FlexNet.Tensors;

namespace FlexNet.Models;

/// <summary>
/// A frozen inference snapshot of a <see cref="Model"/>, made by <see cref="Model.Freeze"/> (PyTorch's
/// <c>torch.jit.freeze</c>, an ONNX Runtime session): it owns a private deep copy of the network with every weight and
/// buffer as they were when it was frozen, which no user code can reach, so its outputs never change — training the
/// original model afterwards leaves them as they were. <see cref="Predict"/> runs forward only, in evaluation mode
/// (dropout off, batch-norm running statistics) without recording gradients, exactly as <see cref="Model.Predict"/>
/// does on the frozen weights (the same shapes, batching, exceptions and bits). Because the weights cannot change,
/// the dense layers' packed weights (Wᵀ in the GEMM's panel layout) are made at the first call and kept until
/// <see cref="Dispose"/>, instead of being packed again at every call.
/// <para>One call at a time: <see cref="Predict"/> must not be called from several threads at once (a concurrent call
/// throws <see cref="InvalidOperationException"/> naming the model); freeze one snapshot per thread for parallel
/// inference.</para>
/// </summary>
/// <example><code>
/// using var frozen = model.Freeze();
/// Tensor logits = frozen.Predict(x, batchSize: 1024);
/// </code></example>
public sealed class FrozenModel : IDisposable
{
    private readonly Model _model;
    private int _busy; // 1 while a call (or Dispose's release) runs
    private volatile bool _disposed;

    internal FrozenModel(Model copy)
    {
        _model = copy;
        Name = copy.Name;
        DType = copy.DType;
    }

    /// <summary>The name of the model it was frozen from.</summary>
    public string Name { get; }

    /// <summary>Element type of the weights and of the data it takes.</summary>
    public DType DType { get; }

    /// <summary>The private copy (tests).</summary>
    internal Model Snapshot => _model;

    /// <summary>Evaluation-mode output of the frozen weights without recording gradients, computed
    /// <paramref name="batchSize"/> samples at a time: what <see cref="Model.Predict"/> returned on the model when it
    /// was frozen. A batch [N, ...] (or [T, N, ...] for a sequence input) gives [N, ...] (or [T, N, ...] for an
    /// every-step output); a single sample (the input shape without the batch axis) gives a single output.</summary>
    /// <param name="input">A batch, or one sample.</param>
    /// <param name="batchSize">Samples per forward pass.</param>
    /// <returns>Output (detached, allocated outside any scope).</returns>
    /// <remarks>The outputs are those of <see cref="Model.Predict"/> itself: for a <see cref="Classifier"/>, the network's
    /// logits (not the classes of <see cref="Classifier.Predict"/>).</remarks>
    /// <exception cref="ObjectDisposedException">After <see cref="Dispose"/>.</exception>
    /// <exception cref="InvalidOperationException">Another thread is in <see cref="Predict"/> on this object.</exception>
    /// <exception cref="ShapeMismatchException">The input does not fit the input layer (names the layer and both shapes).</exception>
    /// <exception cref="ArgumentException">The input's dtype is not the model's, or the batch size is not positive.</exception>
    public Tensor Predict(Tensor input, int batchSize = 256)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (Interlocked.CompareExchange(ref _busy, 1, 0) != 0)
            throw new InvalidOperationException($"Frozen model '{Name}': Predict is already running on another thread; a frozen model runs one call " +
                                                "at a time (freeze one snapshot per thread).");
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return OneBatch(input, batchSize) ?? _model.Predict(input, batchSize);
        }
        finally
        {
            Interlocked.Exchange(ref _busy, 0); // a full fence: the read below cannot move before it
            if (_disposed) Release(); // Dispose ran during the call: the packs go now
        }
    }

    /// <summary>The common call without Predict's per-call garbage: a valid batch of one input that fits in one forward
    /// pass runs the network directly in a recycling scope (its tensor objects reused from call to call), into arrays
    /// kept here, and only the output is allocated. It computes what Predict computes for that call — one forward pass
    /// over the whole batch, copied into a new tensor — so the bits are the same. Null for everything else (several
    /// batches, one sample, several inputs or outputs, a wrong shape or dtype): Predict then runs, with its exceptions.</summary>
    private Tensor? OneBatch(Tensor input, int batchSize)
    {
        var net = _model.Network;
        if (input is null || net.Inputs.Count != 1 || net.Outputs.Count != 1) return null;
        var layer = net.Inputs[0];
        var shape = layer.OutputShape!;
        int lead = layer.IsTemporal ? 2 : 1;
        if (input.DType != DType || input.Rank != shape.Length + lead) return null;
        for (int d = 0; d < shape.Length; d++)
            if (input.ShapeArray[d + lead] != shape[d]) return null;
        int n = input.ShapeArray[lead - 1];
        if (n < 1 || n > batchSize) return null;
        var inputs = _inputs;
        var outputs = _outputs;
        try
        {
            using (Autograd.NoGrad())
            using (TensorScope.BeginRecycling())
            {
                inputs[0] = input;
                var y = net.ForwardInto(inputs, false, null, outputs)[0];
                Tensor result;
                using (TensorScope.Suspend()) result = Tensor.Empty(y.ShapeArray, y.DType);
                return result.CopyFrom(y);
            }
        }
        finally
        {
            inputs[0] = null!; // holds neither the caller's tensor nor a pooled one between calls
            outputs[0] = null!;
        }
    }

    private readonly Tensor[] _inputs = new Tensor[1];
    private readonly Tensor[] _outputs = new Tensor[1];

    /// <summary>Gives the packed weights back; <see cref="Predict"/> then throws <see cref="ObjectDisposedException"/>.
    /// May be called more than once.</summary>
    public void Dispose()
    {
        _disposed = true;
        Release();
        GC.SuppressFinalize(this);
    }

    /// <summary>A frozen model that was never disposed gives its pinned pack buffers back when collected.</summary>
    ~FrozenModel() => _model.Network.ReleaseKeptPacks();

    /// <summary>Releases the packs unless a call is running (that call releases them as it ends).</summary>
    private void Release()
    {
        if (Interlocked.CompareExchange(ref _busy, 1, 0) != 0) return;
        try
        {
            _model.Network.ReleaseKeptPacks();
        }
        finally
        {
            Volatile.Write(ref _busy, 0);
        }
    }

    /// <summary>Name and state.</summary>
    /// <returns>One line.</returns>
    public override string ToString() => $"FrozenModel '{Name}' ({DType}{(_disposed ? ", disposed" : "")})";
}
