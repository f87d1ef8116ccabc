namespace FlexNet;

/// <summary>Shapes that do not fit together: the message names the op or layer and both shapes.</summary>
public sealed class ShapeMismatchException : FlexNetException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">Names the op/layer/connection and the shapes involved.</param>
    public ShapeMismatchException(string message) : base("FN100", message) { }
}
