using FlexNet.Graph;
using FlexNet.IO;
using FlexNet.Layers;
using FlexNet.Tensors;

namespace FlexNet.Onnx;

/// <summary>ONNX export of a network built with <see cref="Network.Connect{TConnection}"/>, its verbs, a spec or the
/// catalog front ends, in one of three forms (<see cref="OnnxExportMode"/>): one step with explicit state, the whole
/// sequence as a <c>Loop</c>, or a fixed number of steps unrolled.</summary>
/// <remarks>Supported: input, plain (y = act(combine + b)), flatten, reshape, pooling (windowed and global, max and
/// average), batch-norm (inference: running statistics), dropout and Gaussian-noise (removed: identity) layers and the
/// RNN, GRU and LSTM layers in their stepped mode; the combine rules Sum (<c>Sum</c>), Product (<c>Mul</c>) and Concat
/// (<c>Concat</c>, axis 1); the activations linear, relu, tanh, sigmoid, softmax, log-softmax, leaky-relu, elu, softplus
/// and softsign; dense (<c>Gemm</c>, transB = 1: c = x Wᵀ + b), identity, elementwise (c = x ⊙ w [+ b]), conv1d, conv2d
/// (<c>Conv</c>, 'same' as explicit pads) and convtranspose2d (<c>ConvTranspose</c>) connections at any delay; float32
/// networks. A delayed source S with largest outgoing delay K holds a buffer [K, N, ...shape] (row j = y_S(t − 1 − j));
/// a delay-k edge reads row k − 1 (<c>Gather</c>); the next buffer is concat(y_S(t), rows 0…K − 2). Inputs and outputs
/// are named after their layers; N (and T in the sequence form) are symbolic. Anything else is an
/// <see cref="OnnxExportException"/> naming the layer or connection and why: nothing is approximated.</remarks>
public static partial class OnnxExport
{
    /// <summary>Writes the network as an ONNX model to <paramref name="path"/> (atomically: temporary file, fsync, rename).</summary>
    /// <param name="network">A network of supported layers and connections (built here if needed).</param>
    /// <param name="path">The .onnx file to write.</param>
    /// <param name="options">Form, opset and steps (default: step form, opset 17).</param>
    /// <exception cref="OnnxExportException">An unsupported layer, connection, activation, data type or option.</exception>
    public static void ExportOnnx(this Network network, string path, OnnxExportOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        var bytes = ToOnnxBytes(network, options);
        AtomicFile.Write(path, s => s.Write(bytes));
    }

    /// <summary>The ONNX model (serialised ModelProto) of the network; see <see cref="ExportOnnx"/>.</summary>
    /// <param name="network">A network of supported layers and connections (built here if needed).</param>
    /// <param name="options">Form, opset and steps (default: step form, opset 17).</param>
    /// <returns>The bytes of the .onnx file.</returns>
    /// <exception cref="OnnxExportException">An unsupported layer, connection, activation, data type or option.</exception>
    public static byte[] ToOnnxBytes(this Network network, OnnxExportOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(network);
        options ??= new OnnxExportOptions();
        string what = $"ONNX export of network '{network.Name}'";
        if (options.Opset < OnnxExportOptions.MinOpset || options.Opset > OnnxExportOptions.MaxOpset)
            throw new OnnxExportException($"{what}: opset {options.Opset} is outside the supported range {OnnxExportOptions.MinOpset}..{OnnxExportOptions.MaxOpset}.");
        if (options.Steps is <= 0)
            throw new OnnxExportException($"{what}: Steps must be positive; got {options.Steps}.");
        network.Build();
        if (network.DType != DType.Float32)
            throw new OnnxExportException($"{what}: dtype {network.DType} is not supported; only float32 networks are exported.");
        if (network.Inputs.Count == 0)
            throw new OnnxExportException($"{what}: the network has no input layer.");
        var scope = new OnnxModelScope();
        var step = new OnnxStep(network, scope, learnedInitialState: options.Mode != OnnxExportMode.Step);
        return options.Mode switch
        {
            OnnxExportMode.Step => options.Steps is null ? StepForm(network, step, scope, options.Opset)
                : throw new OnnxExportException($"{what}: Steps = {options.Steps} does not apply to the step form (it computes one step)."),
            OnnxExportMode.Sequence => SequenceForm(network, step, scope, options),
            OnnxExportMode.Unrolled => UnrolledForm(network, step, scope, options),
            _ => throw new OnnxExportException($"{what}: unknown mode {options.Mode}."),
        };
    }

    private static string CellName(Layer l, int part) => l.Name + (part == 0 ? ".state_h" : ".state_c");

    private static byte[] StepForm(Network net, OnnxStep step, OnnxModelScope scope, int opset)
    {
        var g = new OnnxGraph(scope);
        foreach (var layer in net.Layers) scope.Reserve(layer.Name);
        var inputs = new Dictionary<Layer, string>();
        var buffers = new Dictionary<Layer, string>();
        var cells = new Dictionary<Layer, string[]>();
        foreach (var layer in net.Layers)
        {
            if (layer is InputLayer)
            {
                inputs[layer] = layer.Name;
                g.Input(OnnxGraph.ValueInfo(layer.Name, OnnxStep.Dims(layer)));
            }
            if (step.Depth.TryGetValue(layer, out int k))
            {
                buffers[layer] = Claim(scope, net, layer.Name + ".state");
                Claim(scope, net, layer.Name + ".state_next");
                g.Input(OnnxGraph.ValueInfo(buffers[layer], OnnxStep.Dims(layer, k)));
            }
            if (step.CellSizes.TryGetValue(layer, out var sizes))
            {
                cells[layer] = new string[sizes.Length];
                for (int p = 0; p < sizes.Length; p++)
                {
                    cells[layer][p] = Claim(scope, net, CellName(layer, p));
                    Claim(scope, net, CellName(layer, p) + "_next");
                    g.Input(OnnxGraph.ValueInfo(cells[layer][p], [-1, sizes[p]]));
                }
            }
        }
        var result = step.Emit(g, new StepBindings
        {
            Inputs = inputs,
            Buffers = buffers,
            Cells = cells,
            Value = l => l.Name,
            NextBuffer = l => l.Name + ".state_next",
            NextCell = (l, p) => CellName(l, p) + "_next",
            Stem = s => s,
        });
        var seen = new HashSet<Layer>();
        foreach (var (layer, _) in net.Outputs)
            if (seen.Add(layer)) g.Output(OnnxGraph.ValueInfo(result.Values[layer], OnnxStep.Dims(layer)));
        foreach (var (layer, name) in result.NextBuffers) g.Output(OnnxGraph.ValueInfo(name, OnnxStep.Dims(layer, step.Depth[layer])));
        foreach (var (layer, names) in result.NextCells)
            for (int p = 0; p < names.Length; p++) g.Output(OnnxGraph.ValueInfo(names[p], [-1, step.CellSizes[layer][p]]));
        return OnnxGraph.Model(g.Build(net.Name,
            "FlexNet step form: feed each 'X_next' output back as the 'X' input of the next step ('<layer>.state' buffers, " +
            "'<layer>.state_h'/'.state_c' cell states); start from zeros.", withInitializers: true), opset);
    }

    private static string Claim(OnnxModelScope scope, Network net, string name) => scope.Reserve(name) ? name
        : throw new OnnxExportException($"ONNX export of network '{net.Name}': the value name '{name}' is needed for a state but a layer already has that name; rename the layer.");
}
