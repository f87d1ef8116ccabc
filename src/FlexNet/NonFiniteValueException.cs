namespace FlexNet;

/// <summary>A NaN or infinity appeared: the message names the layer, the phase (forward, backward, update) and the step.</summary>
public sealed class NonFiniteValueException : FlexNetException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">Names the layer, phase and step and counts the non-finite values.</param>
    public NonFiniteValueException(string message) : base("FN600", message) { }
}
