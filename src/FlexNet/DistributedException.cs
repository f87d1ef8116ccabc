namespace FlexNet;

/// <summary>A failure of distributed training: no MPI library could be loaded (the message names the package to
/// install), an MPI call returned an error (the message names the call, the rank and MPI's own error text), or the
/// ranks disagree (different data set sizes, models or options; weights that drifted apart).</summary>
public sealed class DistributedException : FlexNetException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">Names the call or the disagreement and the ranks involved.</param>
    /// <param name="inner">Optional cause.</param>
    public DistributedException(string message, Exception? inner = null) : base("FN800", message, inner) { }
}
