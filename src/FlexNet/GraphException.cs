namespace FlexNet;

/// <summary>An invalid network graph (a delay-0 cycle, a dangling connection, ...): the message names the layers involved.</summary>
public sealed class GraphException : FlexNetException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">Names the layers/connections at fault.</param>
    public GraphException(string message) : base("FN400", message) { }
}
