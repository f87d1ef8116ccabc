namespace FlexNet;

/// <summary>A malformed dataset file (IDX, CSV, NPY): the message names the file, the byte offset or line, and the defect.</summary>
public sealed class DatasetFormatException : FlexNetException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">Names the file and the defect.</param>
    /// <param name="inner">Optional cause.</param>
    public DatasetFormatException(string message, Exception? inner = null) : base("FN300", message, inner) { }
}
