using FlexNet.Autodiff;
using FlexNet.Tensors;

namespace FlexNet.Graph;

/// <summary>Per-run recurrent state: one ring buffer per recurrent source (its last k outputs) and, with masks or
/// stateful runs, every layer's latest output.</summary>
internal sealed class RunState
{
    private readonly Tensor?[][] _rings;
    private readonly int[] _count;
    private readonly int[] _head;

    internal RunState(int[] depth, int batch)
    {
        Batch = batch;
        _rings = new Tensor?[depth.Length][];
        for (int i = 0; i < depth.Length; i++) _rings[i] = depth[i] > 0 ? new Tensor?[depth[i]] : [];
        _count = new int[depth.Length];
        _head = new int[depth.Length];
        Last = new Tensor?[depth.Length];
        Steps = new Tensor[]?[depth.Length];
        StepTime = new int[depth.Length];
    }

    /// <summary>Back to the state of a new run (empty rings, nothing stored), keeping the arrays.</summary>
    internal void Reset()
    {
        foreach (var ring in _rings) Array.Clear(ring);
        Array.Clear(_count);
        Array.Clear(_head);
        Array.Clear(Last);
        Array.Clear(Steps);
        Array.Clear(StepTime);
    }

    private RunState(RunState other)
    {
        Batch = other.Batch;
        _rings = new Tensor?[other._rings.Length][];
        for (int i = 0; i < _rings.Length; i++) _rings[i] = (Tensor?[])other._rings[i].Clone();
        _count = (int[])other._count.Clone();
        _head = (int[])other._head.Clone();
        Last = (Tensor?[])other.Last.Clone();
        Steps = (Tensor[]?[])other.Steps.Clone();
        StepTime = (int[])other.StepTime.Clone();
    }

    internal int Batch { get; }

    /// <summary>Latest output of each layer (null before the first step).</summary>
    internal Tensor?[] Last { get; }

    /// <summary>Per-step state of layers with <see cref="Layer.HasStepState"/> (null before their first step).</summary>
    internal Tensor[]?[] Steps { get; }

    /// <summary>Steps each layer with step state has taken since its state started (the <c>time</c> passed to
    /// <see cref="Layer.TransformStep"/>).</summary>
    internal int[] StepTime { get; }

    /// <summary>The output of layer <paramref name="i"/> <paramref name="delay"/> steps ago, or null before step 0.</summary>
    internal Tensor? Read(int i, int delay)
    {
        if (delay > _count[i]) return null;
        var ring = _rings[i];
        int at = _head[i] - delay;
        if (at < 0) at += ring.Length;
        return ring[at];
    }

    internal void Push(int i, Tensor y)
    {
        var ring = _rings[i];
        ring[_head[i]] = y;
        _head[i] = (_head[i] + 1) % ring.Length;
        if (_count[i] < ring.Length) _count[i]++;
    }

    /// <summary>Cuts the gradient path through the stored history (truncated BPTT window boundary).</summary>
    internal void Detach()
    {
        foreach (var ring in _rings)
            for (int j = 0; j < ring.Length; j++)
                if (ring[j] is { } t) ring[j] = t.Detach();
        for (int j = 0; j < Last.Length; j++)
            if (Last[j] is { } t) Last[j] = t.Detach();
        for (int j = 0; j < Steps.Length; j++)
            if (Steps[j] is { } s) Steps[j] = Array.ConvertAll(s, static x => x.Detach());
    }

    /// <summary>Moves the buffers of every stored tensor that <paramref name="from"/> owns to <paramref name="to"/> (a
    /// truncated-BPTT window ends; the state it leaves is read by the next one, and released with it).</summary>
    internal void Transfer(TensorScope from, TensorScope to)
    {
        foreach (var ring in _rings)
            foreach (var t in ring)
                if (t is not null) from.Transfer(t, to);
        foreach (var t in Last)
            if (t is not null) from.Transfer(t, to);
        foreach (var s in Steps)
            if (s is not null)
                foreach (var t in s) from.Transfer(t, to);
    }

    /// <summary>A copy whose tensors live outside every scope and carry no graph (for stateful runs).</summary>
    internal RunState Persist()
    {
        var p = new RunState(this);
        using (TensorScope.Suspend())
        using (Autograd.NoGrad())
        {
            var copies = new Dictionary<Tensor, Tensor>(ReferenceEqualityComparer.Instance);
            Tensor Copy(Tensor t)
            {
                if (!copies.TryGetValue(t, out var c)) copies[t] = c = t.Detach().Clone();
                return c;
            }
            foreach (var ring in p._rings)
                for (int j = 0; j < ring.Length; j++)
                    if (ring[j] is { } t) ring[j] = Copy(t);
            for (int j = 0; j < p.Last.Length; j++)
                if (p.Last[j] is { } t) p.Last[j] = Copy(t);
            for (int j = 0; j < p.Steps.Length; j++)
                if (p.Steps[j] is { } s) p.Steps[j] = Array.ConvertAll(s, Copy);
        }
        return p;
    }

    internal RunState Resume(int batch, string network)
    {
        if (batch != Batch)
            throw new ShapeMismatchException($"Network '{network}' is stateful with a carried state for batch size {Batch}, but this call has batch size {batch}; call ResetState() first.");
        return new RunState(this);
    }

    internal static void RequireFinite(Layer layer, Tensor y, int step)
    {
        var v = y.DType == DType.Float32 ? null : y.ToDoubleArray();
        int bad = 0;
        if (v is null) { foreach (var f in y.ToFloatArray()) if (!float.IsFinite(f)) bad++; }
        else { foreach (var d in v) if (!double.IsFinite(d)) bad++; }
        if (bad > 0)
            throw new NonFiniteValueException(
                $"layer '{layer.Name}' produced {bad} non-finite values (output {ShapeUtil.Format(y.Shape)}) in phase 'forward' at time step {step}.");
    }
}
