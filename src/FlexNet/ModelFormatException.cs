namespace FlexNet;

/// <summary>A model, weights or safetensors file that is malformed: the message names the file and what is wrong.</summary>
public sealed class ModelFormatException : FlexNetException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">Names the file and the defect (offset, key, dtype...).</param>
    /// <param name="inner">Optional cause.</param>
    public ModelFormatException(string message, Exception? inner = null) : base("FN200", message, inner) { }
}
