using FlexNet.Autodiff;
using FlexNet.Tensors;

namespace FlexNet.Graph;

/// <summary>Per-run recurrent state: one ring buffer per recurrent source (its last k outputs) and, with masks or
/// stateful runs, every layer's latest output.</summary>
internal sealed class RunState
{
    // A ring of depth k holds the last k outputs; a slot not written in this run is null, which is what Read returns
    // before step 0 (delay > steps taken), so the ring needs no count of its own.
    private readonly Tensor?[][] _rings;
    private readonly int[] _head;

    internal RunState(int[] depth, int batch)
    {
        Batch = batch;
        _rings = new Tensor?[depth.Length][];
        for (int i = 0; i < depth.Length; i++) _rings[i] = new Tensor?[depth[i]];
        _head = new int[depth.Length];
        Last = new Tensor?[depth.Length];
        Steps = new Tensor[]?[depth.Length];
        StepTime = new int[depth.Length];
    }

    /// <summary>Back to the state of a new run (empty rings, nothing stored), keeping the arrays.</summary>
    internal void Reset()
    {
        foreach (var ring in _rings) Array.Clear(ring);
        // Stryker disable once Statement: equivalent: the rings are empty, and Read and Push count from the head wherever it is
        Array.Clear(_head);
        Array.Clear(Last);
        Array.Clear(Steps);
        // Stryker disable once Statement: equivalent: StepTime[i] is read only while Steps[i] is not null, and Steps is cleared above; the first step sets it again
        Array.Clear(StepTime);
    }

    private RunState(RunState other)
    {
        Batch = other.Batch;
        _rings = new Tensor?[other._rings.Length][];
        for (int i = 0; i < _rings.Length; i++) _rings[i] = (Tensor?[])other._rings[i].Clone();
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
    /// <param name="i">Plan position of a layer with a ring.</param>
    /// <param name="delay">1 to the ring's depth.</param>
    internal Tensor? Read(int i, int delay)
    {
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
            // Stryker disable once Statement: equivalent: windows need runs without a mask, whose steps write no Last (a kept state's Last is written after the last window), and a carried Last is a persisted copy that no scope owns
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
        int bad = 0;
        if (y.DType == DType.Float32) { foreach (var f in y.ToFloatArray()) if (!float.IsFinite(f)) bad++; }
        else { foreach (var d in y.ToDoubleArray()) if (!double.IsFinite(d)) bad++; }
        if (bad > 0)
            throw new NonFiniteValueException(
                $"layer '{layer.Name}' produced {bad} non-finite values (output {ShapeUtil.Format(y.Shape)}) in phase 'forward' at time step {step}.");
    }
}
