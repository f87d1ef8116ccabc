namespace FlexNet.Onnx;

/// <summary>Which form of a network the ONNX export writes.</summary>
public enum OnnxExportMode
{
    /// <summary>One step t of the unrolled network: (x_t, buffers_{t−1}) → (outputs_t, buffers_t). Every layer that is
    /// the source of a delayed connection has a state input <c>&lt;layer&gt;.state</c> and a state output
    /// <c>&lt;layer&gt;.state_next</c> of shape [K, N, units] (K = the largest delay leaving it) holding its last K outputs,
    /// newest first (row j = y(t − 1 − j)); the host starts from zeros and feeds each state output back as the next
    /// step's state input.</summary>
    Step,
}

/// <summary>Options of <see cref="OnnxExport.ExportOnnx(FlexNet.Graph.Network, string, OnnxExportOptions?)"/>.</summary>
public sealed class OnnxExportOptions
{
    /// <summary>The lowest supported default-domain opset.</summary>
    public const int MinOpset = 13;

    /// <summary>The highest supported default-domain opset.</summary>
    public const int MaxOpset = 21;

    /// <summary>The form to export (only <see cref="OnnxExportMode.Step"/> so far).</summary>
    public OnnxExportMode Mode { get; init; } = OnnxExportMode.Step;

    /// <summary>The ONNX default-domain opset, <see cref="MinOpset"/>…<see cref="MaxOpset"/> (default 17, IR version 8;
    /// the IR version follows the opset: 19–20 → 9, 21 → 10).</summary>
    public int Opset { get; init; } = 17;
}
