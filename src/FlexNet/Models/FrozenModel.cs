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
            return _model.Predict(input, batchSize);
        }
        finally
        {
            Interlocked.Exchange(ref _busy, 0); // a full fence: the read below cannot move before it
            if (_disposed) Release(); // Dispose ran during the call: the packs go now
        }
    }

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
