namespace FlexNet.Onnx;

/// <summary>Which form of a network the ONNX export writes.</summary>
public enum OnnxExportMode
{
    /// <summary>One step t of the unrolled network: (x_t, buffers_{t−1}) → (outputs_t, buffers_t). Every layer that is
    /// the source of a delayed connection has a state input <c>&lt;layer&gt;.state</c> and a state output
    /// <c>&lt;layer&gt;.state_next</c> of shape [K, N, ...shape] (K = the largest delay leaving it) holding its last K
    /// outputs, newest first (row j = y(t − 1 − j)); a recurrent cell (RNN/GRU/LSTM layer) has <c>&lt;layer&gt;.state_h</c>
    /// (and <c>.state_c</c>) [N, H] with their <c>_next</c> outputs. The host starts from zeros and feeds each
    /// <c>X_next</c> output back as the next step's <c>X</c> input.</summary>
    Step,

    /// <summary>The whole computation over a sequence in one call: an ONNX <c>Loop</c> over the time steps whose
    /// loop-carried values are the buffers and cell states (starting from zeros, or from a layer's learned initial
    /// state). A temporal input is [T, N, ...shape] with T symbolic; a non-temporal input [N, ...shape] is presented at every step (then T is
    /// <see cref="OnnxExportOptions.Steps"/>, else the network's <c>Steps</c>). Outputs as <c>Network.Forward</c>:
    /// [T, N, ...shape] for every-step outputs, [N, ...shape] for last-step ones.</summary>
    Sequence,

    /// <summary>The same inputs and outputs as <see cref="Sequence"/> for a fixed T (<see cref="OnnxExportOptions.Steps"/>,
    /// else the declared sequence length or the network's <c>Steps</c>), written as a flat graph of T copies of the step
    /// (for viewers and runtimes without Loop).</summary>
    Unrolled,
}

/// <summary>Options of <see cref="OnnxExport.ExportOnnx(FlexNet.Graph.Network, string, OnnxExportOptions?)"/>.</summary>
public sealed class OnnxExportOptions
{
    /// <summary>The lowest supported default-domain opset.</summary>
    public const int MinOpset = 13;

    /// <summary>The highest supported default-domain opset.</summary>
    public const int MaxOpset = 21;

    /// <summary>The form to export (default <see cref="OnnxExportMode.Step"/>).</summary>
    public OnnxExportMode Mode { get; init; } = OnnxExportMode.Step;

    /// <summary>The ONNX default-domain opset, <see cref="MinOpset"/>…<see cref="MaxOpset"/> (default 17, IR version 8;
    /// the IR version follows the opset: 13–14 → 7, 19–20 → 9, 21 → 10).</summary>
    public int Opset { get; init; } = 17;

    /// <summary>The number of steps T: required by nothing in the step form (where it must stay null); in the unrolled form
    /// the fixed T (default: the temporal inputs' declared sequence length, else the network's <c>Steps</c>); in the
    /// sequence form only for a network without temporal inputs (default: the network's <c>Steps</c>), since T is read
    /// from the inputs otherwise.</summary>
    public int? Steps { get; init; }
}
