namespace FlexNet;

/// <summary>
/// Base of FlexNet's typed exceptions. Each carries a stable <see cref="Code"/> (for tooling and golden
/// messages) and a message that names the op, layer, file or spec path involved and the offending values.
/// </summary>
public class FlexNetException : Exception
{
    /// <summary>Creates an exception with a stable code and a descriptive message.</summary>
    /// <param name="code">Stable machine-readable code, e.g. <c>FN001</c>.</param>
    /// <param name="message">Human-readable description naming what is at fault.</param>
    /// <param name="inner">Optional cause.</param>
    public FlexNetException(string code, string message, Exception? inner = null)
        : base(message, inner) => Code = code;

    /// <summary>Stable machine-readable error code.</summary>
    public string Code { get; }
}
