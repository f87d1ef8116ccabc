namespace FlexNet;

/// <summary>A network that cannot be exported to ONNX as asked (an unsupported layer, connection, activation, data type
/// or option): the message names the layer or connection and why. Nothing is approximated.</summary>
public sealed class OnnxExportException : FlexNetException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">Names the layer/connection at fault and the reason.</param>
    public OnnxExportException(string message) : base("FN900", message) { }
}
