using FlexNet.Tensors;

namespace FlexNet.Layers;

/// <summary>
/// A symbolic value of the Functional front end: either a model input (<see cref="IsInput"/>, made by
/// <c>Functional.Input</c>) or the output of a catalog layer applied to other symbolic values
/// (<see cref="CatalogLayer.Call"/>). Nothing is computed; a <c>Model</c> built from inputs and outputs walks these
/// records and attaches every layer to one <see cref="Graph.Network"/>.
/// </summary>
public sealed class SymbolicTensor
{
    private SymbolicTensor(CatalogLayer? layer, SymbolicTensor[] inputs, int[]? shape, bool sequence, string? name)
    {
        Layer = layer;
        Inputs = inputs;
        Shape = shape;
        IsSequence = sequence;
        Name = name;
    }

    /// <summary>The layer that produced this value (null for an input).</summary>
    public CatalogLayer? Layer { get; }

    /// <summary>The layer's inputs.</summary>
    public IReadOnlyList<SymbolicTensor> Inputs { get; }

    /// <summary>Per-sample shape of an input (null for layer outputs; shapes are inferred when the model is built).</summary>
    public int[]? Shape { get; }

    /// <summary>For an input: the data is a sequence [T, N, ...shape] stepped by the network.</summary>
    public bool IsSequence { get; }

    /// <summary>The input's name.</summary>
    public string? Name { get; }

    /// <summary>True for a model input.</summary>
    public bool IsInput => Layer is null;

    /// <summary>True when any layer on the path from the inputs returns only the last step of a sequence.</summary>
    public bool LastStepOnly => Layer is not null && (Layer.ReturnsLastStep || Inputs.Any(i => i.LastStepOnly));

    internal static SymbolicTensor NewInput(int[] shape, bool sequence, string? name)
    {
        ArgumentNullException.ThrowIfNull(shape);
        if (shape.Length == 0 || shape.Any(d => d <= 0))
            throw new ArgumentException($"Input shape must be non-empty with positive dimensions. Received: {ShapeUtil.Format(shape)}", nameof(shape));
        return new SymbolicTensor(null, [], (int[])shape.Clone(), sequence, name);
    }

    internal static SymbolicTensor Apply(CatalogLayer layer, SymbolicTensor[] inputs)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        if (inputs.Length == 0) throw new ArgumentException($"Layer '{layer.Name ?? layer.Form}' was called without inputs.", nameof(inputs));
        foreach (var i in inputs) ArgumentNullException.ThrowIfNull(i, nameof(inputs));
        return new SymbolicTensor(layer, (SymbolicTensor[])inputs.Clone(), null, false, null);
    }

    /// <summary>Every symbolic value this one depends on (itself last), each once, inputs before users.</summary>
    /// <returns>Topological order.</returns>
    public IReadOnlyList<SymbolicTensor> Ancestry()
    {
        var order = new List<SymbolicTensor>();
        var seen = new HashSet<SymbolicTensor>(ReferenceEqualityComparer.Instance);
        var stack = new Stack<(SymbolicTensor, bool)>();
        stack.Push((this, false));
        while (stack.Count > 0)
        {
            var (s, expanded) = stack.Pop();
            if (expanded) { order.Add(s); continue; }
            if (!seen.Add(s)) continue;
            stack.Push((s, true));
            for (int i = s.Inputs.Count - 1; i >= 0; i--)
                if (!seen.Contains(s.Inputs[i])) stack.Push((s.Inputs[i], false));
        }
        return order;
    }

    /// <summary>e.g. <c>Input([10])</c> or <c>Dense(hid1)(...)</c>.</summary>
    /// <returns>The description.</returns>
    public override string ToString() => IsInput ? $"Input({ShapeUtil.Format(Shape!)}{(IsSequence ? ", sequence" : "")})" : $"{Layer}(...)";
}
