namespace FlexNet;

/// <summary>An invalid layer spec or spec file: the message gives the spec path (e.g. <c>$.layers[2].size</c>) and what is wrong.</summary>
public sealed class SpecValidationException : FlexNetException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">Names the spec path and the defect.</param>
    public SpecValidationException(string message) : base("FN500", message) { }
}
