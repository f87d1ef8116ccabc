namespace FlexNet;

/// <summary>Misuse of automatic differentiation (backward twice through a released graph, backward from a non-scalar without a seed, ...).</summary>
public sealed class AutogradException : FlexNetException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">Says what was misused and how to fix it.</param>
    public AutogradException(string message) : base("FN700", message) { }
}
