namespace FlexNet.Autodiff;

/// <summary>
/// Padding of a convolution: <see cref="Valid"/> (none), <see cref="Same"/> (output size ⌈in/stride⌉; for stride 1
/// exactly PyTorch's <c>padding='same'</c>: total d·(k−1), the odd element after), or explicit amounts per side.
/// </summary>
public readonly record struct Padding
{
    private Padding(bool same, int top, int bottom, int left, int right)
    {
        IsSame = same;
        Top = top;
        Bottom = bottom;
        Left = left;
        Right = right;
    }

    /// <summary>True for 'same' padding (amounts are computed from the input size).</summary>
    public bool IsSame { get; }

    /// <summary>Rows added above.</summary>
    public int Top { get; }

    /// <summary>Rows added below.</summary>
    public int Bottom { get; }

    /// <summary>Columns added on the left.</summary>
    public int Left { get; }

    /// <summary>Columns added on the right.</summary>
    public int Right { get; }

    /// <summary>No padding.</summary>
    public static Padding Valid => new(false, 0, 0, 0, 0);

    /// <summary>'same' padding.</summary>
    public static Padding Same => new(true, 0, 0, 0, 0);

    /// <summary>The same amount on every side.</summary>
    /// <param name="p">Non-negative amount.</param>
    /// <returns>Symmetric padding.</returns>
    public static Padding Explicit(int p) => Explicit(p, p, p, p);

    /// <summary>Symmetric padding per dimension.</summary>
    /// <param name="h">Rows above and below.</param>
    /// <param name="w">Columns left and right.</param>
    /// <returns>The padding.</returns>
    public static Padding Explicit(int h, int w) => Explicit(h, h, w, w);

    /// <summary>Explicit padding per side.</summary>
    /// <param name="top">Rows above.</param>
    /// <param name="bottom">Rows below.</param>
    /// <param name="left">Columns left.</param>
    /// <param name="right">Columns right.</param>
    /// <returns>The padding.</returns>
    public static Padding Explicit(int top, int bottom, int left, int right)
    {
        if (top < 0 || bottom < 0 || left < 0 || right < 0)
            throw new ArgumentOutOfRangeException(nameof(top), $"Padding must be non-negative. Received: ({top}, {bottom}, {left}, {right})");
        return new Padding(false, top, bottom, left, right);
    }

    /// <summary>An int is symmetric explicit padding.</summary>
    /// <param name="p">Amount on every side.</param>
    public static implicit operator Padding(int p) => Explicit(p);

    /// <summary>Parses "valid", "same" or an integer.</summary>
    /// <param name="text">The padding name or amount.</param>
    /// <returns>The padding.</returns>
    public static Padding Parse(string text) => text.Trim().ToLowerInvariant() switch
    {
        "valid" => Valid,
        "same" => Same,
        var s when int.TryParse(s, out int p) => Explicit(p),
        _ => throw new ArgumentException($"Padding must be 'valid', 'same' or an integer. Received: '{text}'"),
    };

    /// <summary>Resolves 'same' for one axis: before/after amounts.</summary>
    internal static (int Before, int After) SameAmounts(int input, int kernel, int stride, int dilation)
    {
        int eff = dilation * (kernel - 1) + 1;
        int outSize = (input + stride - 1) / stride;
        int total = Math.Max((outSize - 1) * stride + eff - input, 0);
        return (total / 2, total - total / 2);
    }

    /// <inheritdoc/>
    public override string ToString() => IsSame ? "same" : Top == Bottom && Left == Right && Top == Left ? Top.ToString() : $"({Top}, {Bottom}, {Left}, {Right})";
}
