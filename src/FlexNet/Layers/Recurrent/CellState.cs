using FlexNet.Tensors;

namespace FlexNet.Layers.Recurrent;

/// <summary>
/// The state a recurrent cell carries from one step to the next: a few named tensors (for example <c>h</c> [N, H]
/// and, for an LSTM, <c>c</c> [N, H]) plus the time index of the step about to be computed. Immutable: a cell's
/// <see cref="IRecurrentCell.Step"/> returns a new state and never changes the one it was given.
/// </summary>
public sealed class CellState
{
    private readonly string[] _names;
    private readonly Tensor[] _values;

    /// <summary>Creates a state from named tensors, at time index 0.</summary>
    /// <param name="entries">(name, tensor) pairs; names must be distinct.</param>
    /// <exception cref="ArgumentException">A name is repeated or no entry is given.</exception>
    public CellState(params (string Name, Tensor Value)[] entries) : this(0, entries) { }

    /// <summary>Creates a state from named tensors at a given time index.</summary>
    /// <param name="time">Index (into the input sequence) of the next step to compute.</param>
    /// <param name="entries">(name, tensor) pairs; names must be distinct.</param>
    /// <exception cref="ArgumentException">A name is repeated or no entry is given.</exception>
    public CellState(int time, params (string Name, Tensor Value)[] entries)
    {
        if (entries.Length == 0) throw new ArgumentException("CellState needs at least one named tensor.");
        _names = new string[entries.Length];
        _values = new Tensor[entries.Length];
        for (int i = 0; i < entries.Length; i++)
        {
            for (int j = 0; j < i; j++)
                if (_names[j] == entries[i].Name)
                    throw new ArgumentException($"CellState: the name '{entries[i].Name}' is given twice.");
            _names[i] = entries[i].Name;
            _values[i] = entries[i].Value;
        }
        Time = time;
    }

    private CellState(int time, string[] names, Tensor[] values)
    {
        Time = time;
        _names = names;
        _values = values;
    }

    /// <summary>Index into the input sequence of the step this state feeds (Clockwork reads it; most cells only pass it on).</summary>
    public int Time { get; }

    /// <summary>The state's names, in order (for example <c>h</c>, <c>c</c>).</summary>
    public IReadOnlyList<string> Names => _names;

    /// <summary>The state's tensors, in the order of <see cref="Names"/>.</summary>
    public IReadOnlyList<Tensor> Values => _values;

    /// <summary>The hidden state <c>h</c> [N, H].</summary>
    public Tensor H => this["h"];

    /// <summary>The tensor named <paramref name="name"/>.</summary>
    /// <param name="name">A state name such as <c>h</c> or <c>c</c>.</param>
    /// <exception cref="KeyNotFoundException">The state has no such name (the message lists the names it has).</exception>
    public Tensor this[string name]
    {
        get
        {
            int i = Array.IndexOf(_names, name);
            if (i < 0) throw new KeyNotFoundException($"CellState has no tensor '{name}'; it holds [{string.Join(", ", _names)}].");
            return _values[i];
        }
    }

    /// <summary>True when the state holds a tensor named <paramref name="name"/>.</summary>
    /// <param name="name">A state name.</param>
    /// <returns>Whether the name is present.</returns>
    public bool Contains(string name) => Array.IndexOf(_names, name) >= 0;

    /// <summary>A copy with the tensor <paramref name="name"/> replaced (same time index).</summary>
    /// <param name="name">An existing state name.</param>
    /// <param name="value">Its new value.</param>
    /// <returns>The new state.</returns>
    /// <exception cref="KeyNotFoundException">The state has no such name.</exception>
    public CellState With(string name, Tensor value)
    {
        _ = this[name];
        var values = (Tensor[])_values.Clone();
        values[Array.IndexOf(_names, name)] = value;
        return new CellState(Time, _names, values);
    }

    /// <summary>A copy at another time index (same tensors).</summary>
    /// <param name="time">The new time index.</param>
    /// <returns>The new state.</returns>
    public CellState WithTime(int time) => new(time, _names, _values);

    /// <summary>A state with the same names, new tensors (in the order of <see cref="Names"/>) and time index.</summary>
    /// <param name="time">Time index of the new state.</param>
    /// <param name="values">One tensor per name.</param>
    /// <returns>The new state.</returns>
    /// <exception cref="ArgumentException">The number of tensors differs from the number of names.</exception>
    public CellState Next(int time, params Tensor[] values)
    {
        if (values.Length != _names.Length)
            throw new ArgumentException($"CellState.Next: {values.Length} tensors given for the {_names.Length} names [{string.Join(", ", _names)}].");
        return new CellState(time, _names, (Tensor[])values.Clone());
    }

    /// <summary>Compact description, e.g. <c>CellState(t=3, h [4, 8], c [4, 8])</c>.</summary>
    /// <returns>The description.</returns>
    public override string ToString()
    {
        var parts = new string[_names.Length];
        for (int i = 0; i < parts.Length; i++) parts[i] = $"{_names[i]} {ShapeUtil.Format(_values[i].Shape)}";
        return $"CellState(t={Time}, {string.Join(", ", parts)})";
    }
}
