using FlexNet.Graph;

namespace FlexNet.Onnx;

/// <summary>The sequence form (a <c>Loop</c> over time with the buffers and cell states as loop-carried values) and the
/// unrolled form (T copies of the step); both take the inputs and give the outputs of <see cref="Network.Forward(FlexNet.Tensors.Tensor[])"/>.</summary>
public static partial class OnnxExport
{
    /// <summary>The graph outputs in the order of <see cref="Network.Outputs"/>: a layer's name, or for a layer listed twice
    /// (every step and last step) its name with <c>.all_steps</c> / <c>.last_step</c> the second time.</summary>
    private static List<(Layer Layer, OutputMode Mode, string Name)> OutputNames(Network net, OnnxModelScope scope)
    {
        var list = new List<(Layer, OutputMode, string)>();
        var seen = new HashSet<Layer>();
        var pairs = new HashSet<(Layer, OutputMode)>();
        foreach (var (layer, mode) in net.Outputs)
        {
            if (!pairs.Add((layer, mode))) continue;
            string name = seen.Add(layer) ? layer.Name : layer.Name + (mode == OutputMode.AllSteps ? ".all_steps" : ".last_step");
            list.Add((layer, mode, Claim(scope, net, name)));
        }
        return list;
    }

    /// <summary>T of a form over time: the option, else (unrolled) the declared sequence length, else the network's Steps.</summary>
    private static int StepCount(Network net, OnnxExportOptions options, bool sequence)
    {
        string what = $"ONNX export of network '{net.Name}' ({options.Mode} form)";
        var temporal = net.Inputs.Where(i => i.IsTemporal).ToList();
        if (sequence && temporal.Count > 0)
            return options.Steps is null ? 0 : throw new OnnxExportException(
                $"{what}: Steps = {options.Steps} does not apply: T is read from the temporal input '{temporal[0].Name}' [T, N, ...] at run time.");
        if (options.Steps is int s) return s;
        if (temporal.Count > 0) return temporal[0].SequenceLength!.Value;
        if (!net.StepsExplicit && net.Connections.Any(c => c.Delay > 0))
            throw new OnnxExportException($"{what}: the network has delayed connections but no temporal input and no Steps; set Steps on the network or in the options.");
        return net.Steps;
    }

    /// <summary>Writes the nodes that make the batch size N as a one-element int64 tensor, from the first input.</summary>
    private static string BatchDim(OnnxGraph g, OnnxModelScope scope, Network net)
    {
        var x = net.Inputs[0];
        string shape = g.Node("Shape", [x.Name], x.Name + ".shape");
        return g.Node("Gather", [shape, scope.Int64("batch_axis", [1], [x.IsTemporal ? 1 : 0])], "N", OnnxGraph.Int("axis", 0));
    }

    /// <summary>The int64 shape [lead..., N, ...shape] (a Concat of constants around the batch size N).</summary>
    private static string BatchShape(OnnxGraph g, OnnxModelScope scope, string n, long[] lead, int[] shape, string stem)
    {
        var parts = new List<string>();
        // Stryker disable once String: names only: this stem names an intermediate value, which OnnxModelScope.Fresh keeps unique and nothing looks up; the op and attribute names here fail every model ONNX Runtime runs
        if (lead.Length > 0) parts.Add(scope.Int64(stem + ".lead", [lead.Length], lead));
        parts.Add(n);
        // Stryker disable once String: names only: this stem names an intermediate value, which OnnxModelScope.Fresh keeps unique and nothing looks up; the op and attribute names here fail every model ONNX Runtime runs
        parts.Add(scope.Int64(stem + ".dims", [shape.Length], shape.Select(d => (long)d).ToArray()));
        // Stryker disable once String: names only: this stem names an intermediate value, which OnnxModelScope.Fresh keeps unique and nothing looks up; the op and attribute names here fail every model ONNX Runtime runs
        return g.Node("Concat", parts, stem + ".shape", OnnxGraph.Int("axis", 0));
    }

    /// <summary>Zeros of shape [lead..., N, ...shape].</summary>
    private static string Zeros(OnnxGraph g, OnnxModelScope scope, string n, long[] lead, int[] shape, string stem) =>
        g.Node("ConstantOfShape", [BatchShape(g, scope, n, lead, shape, stem)], stem);

    /// <summary>A buffer [K, N, ...shape] whose every row is the layer's learned initial state (what a read before step 0
    /// sees in FlexNet), broadcast over the batch.</summary>
    private static string Learned(OnnxGraph g, OnnxModelScope scope, string n, int k, Layer layer, FlexNet.Tensors.Tensor initial)
    {
        var shape = OnnxStep.Shape(layer);
        // Stryker disable once String: names only: this stem names an intermediate value, which OnnxModelScope.Fresh keeps unique and nothing looks up; the op and attribute names here fail every model ONNX Runtime runs
        string stem = layer.Name + ".state0";
        string value = scope.Weight(layer.Name + ".initial_state", initial, [1, 1, .. shape]); // the parameter's own name
        return g.Node("Expand", [value, BatchShape(g, scope, n, [k], shape, stem)], stem);
    }

    /// <summary>The outer inputs ([T, N, ...] for temporal inputs, T symbolic unless <paramref name="fixedT"/> &gt; 0) and
    /// the zero buffers and cell states.</summary>
    private static (Dictionary<Layer, string> Buffers, Dictionary<Layer, string[]> Cells) Start(
        Network net, OnnxStep step, OnnxGraph g, OnnxModelScope scope, int fixedT)
    {
        foreach (var x in net.Inputs)
        {
            Claim(scope, net, x.Name);
            g.Input(OnnxGraph.ValueInfo(x.Name, x.IsTemporal ? OnnxStep.Dims(x, fixedT > 0 ? fixedT : -2) : OnnxStep.Dims(x)));
        }
        string n = BatchDim(g, scope, net);
        var buffers = new Dictionary<Layer, string>();
        var cells = new Dictionary<Layer, string[]>();
        foreach (var layer in net.Layers)
        {
            if (step.Depth.TryGetValue(layer, out int k))
                buffers[layer] = layer.InitialState is { } learned
                    ? Learned(g, scope, n, k, layer, learned)
                    : Zeros(g, scope, n, [k], OnnxStep.Shape(layer), layer.Name + ".state0");
            if (step.CellSizes.TryGetValue(layer, out var sizes))
                // Stryker disable once String: names only: this stem names an intermediate value, which OnnxModelScope.Fresh keeps unique and nothing looks up; the op and attribute names here fail every model ONNX Runtime runs
                cells[layer] = sizes.Select((h, p) => Zeros(g, scope, n, [], [h], CellName(layer, p) + "0")).ToArray();
        }
        return (buffers, cells);
    }

    private static StepBindings Bindings(OnnxModelScope scope, string at, Dictionary<Layer, string> inputs,
        Dictionary<Layer, string> buffers, Dictionary<Layer, string[]> cells) => new()
    {
        Inputs = inputs,
        Buffers = buffers,
        Cells = cells,
        Value = l => scope.Fresh($"{l.Name}@{at}"),
        NextBuffer = l => scope.Fresh($"{l.Name}.state@{at}+1"),
        NextCell = (l, p) => scope.Fresh($"{CellName(l, p)}@{at}+1"),
        Stem = s => $"{s}@{at}",
    };

    /// <summary>The most steps the unrolled form writes (each is a copy of the step's nodes; the sequence form has no limit).</summary>
    public const int MaxUnrolledSteps = 10_000;

    private static byte[] UnrolledForm(Network net, OnnxStep step, OnnxModelScope scope, OnnxExportOptions options)
    {
        int T = StepCount(net, options, sequence: false);
        if (T > MaxUnrolledSteps)
            throw new OnnxExportException($"ONNX export of network '{net.Name}' (Unrolled form): {T} steps would write {T} copies of the step; " +
                                          $"at most {MaxUnrolledSteps} are unrolled. Use the sequence form (a Loop, any T).");
        var g = new OnnxGraph(scope);
        var outputs = OutputNames(net, scope);
        var (buffers, cells) = Start(net, step, g, scope, T);
        var perStep = outputs.Select(_ => new List<string>()).ToList();
        StepResult? last = null;
        for (int t = 0; t < T; t++)
        {
            var inputs = new Dictionary<Layer, string>();
            foreach (var x in net.Inputs)
                inputs[x] = x.IsTemporal
                    ? g.Node("Gather", [x.Name, scope.Int64($"t{t}", [], [t])], $"{x.Name}@{t}", OnnxGraph.Int("axis", 0))
                    : x.Name;
            last = step.Emit(g, Bindings(scope, t.ToString(System.Globalization.CultureInfo.InvariantCulture), inputs, buffers, cells));
            buffers = last.NextBuffers;
            cells = last.NextCells;
            for (int o = 0; o < outputs.Count; o++)
                if (outputs[o].Mode == OutputMode.AllSteps)
                    perStep[o].Add(g.Node("Unsqueeze", [last.Values[outputs[o].Layer], scope.Int64("axes0", [1], [0])], $"{outputs[o].Name}@{t}.row"));
        }
        for (int o = 0; o < outputs.Count; o++)
        {
            var (layer, mode, name) = outputs[o];
            if (mode == OutputMode.LastStep) g.NodeTo("Identity", [last!.Values[layer]], [name]);
            else g.NodeTo("Concat", perStep[o], [name], OnnxGraph.Int("axis", 0));
            g.Output(OnnxGraph.ValueInfo(name, mode == OutputMode.LastStep ? OnnxStep.Dims(layer) : OnnxStep.Dims(layer, T)));
        }
        return OnnxGraph.Model(g.Build(net.Name, $"FlexNet unrolled form: {T} steps from zero state; outputs as Network.Forward.", withInitializers: true), options.Opset);
    }

    private static byte[] SequenceForm(Network net, OnnxStep step, OnnxModelScope scope, OnnxExportOptions options)
    {
        int fixedSteps = StepCount(net, options, sequence: true);
        var g = new OnnxGraph(scope);
        var outputs = OutputNames(net, scope);
        var (buffers, cells) = Start(net, step, g, scope, 0);
        var temporal = net.Inputs.FirstOrDefault(i => i.IsTemporal);
        string tripCount = temporal is not null
            ? g.Node("Gather", [g.Node("Shape", [temporal.Name], temporal.Name + ".shape"), scope.Int64("time_axis", [], [0])], "T", OnnxGraph.Int("axis", 0))
            : scope.Int64("T", [], [fixedSteps]);
        string n = BatchDim(g, scope, net);

        // the body: (t, cond, buffers, cells, last-step outputs) -> (cond, buffers', cells', last-step outputs', every-step outputs)
        var body = new OnnxGraph(scope);
        string iter = scope.Fresh("t"), condIn = scope.Fresh("cond"), condOut = scope.Fresh("cond_out");
        body.Input(OnnxGraph.ValueInfo(iter, [], OnnxModelScope.Int64Type));
        body.Input(OnnxGraph.ValueInfo(condIn, [], OnnxModelScope.BoolType));
        var carriedInit = new List<string>();
        var carriedOuter = new List<string>();
        var bodyBuffers = new Dictionary<Layer, string>();
        var bodyCells = new Dictionary<Layer, string[]>();
        foreach (var (layer, zero) in buffers)
        {
            // Stryker disable once String: names only: this stem names an intermediate value, which OnnxModelScope.Fresh keeps unique and nothing looks up; the op and attribute names here fail every model ONNX Runtime runs
            bodyBuffers[layer] = scope.Fresh(layer.Name + ".state@t");
            body.Input(OnnxGraph.ValueInfo(bodyBuffers[layer], OnnxStep.Dims(layer, step.Depth[layer])));
            carriedInit.Add(zero);
            // Stryker disable once String: names only: this stem names an intermediate value, which OnnxModelScope.Fresh keeps unique and nothing looks up; the op and attribute names here fail every model ONNX Runtime runs
            carriedOuter.Add(scope.Fresh(layer.Name + ".state_final"));
        }
        foreach (var (layer, zeros) in cells)
        {
            bodyCells[layer] = new string[zeros.Length];
            for (int p = 0; p < zeros.Length; p++)
            {
                // Stryker disable once String: names only: this stem names an intermediate value, which OnnxModelScope.Fresh keeps unique and nothing looks up; the op and attribute names here fail every model ONNX Runtime runs
                bodyCells[layer][p] = scope.Fresh(CellName(layer, p) + "@t");
                body.Input(OnnxGraph.ValueInfo(bodyCells[layer][p], [-1, step.CellSizes[layer][p]]));
                carriedInit.Add(zeros[p]);
                // Stryker disable once String: names only: this stem names an intermediate value, which OnnxModelScope.Fresh keeps unique and nothing looks up; the op and attribute names here fail every model ONNX Runtime runs
                carriedOuter.Add(scope.Fresh(CellName(layer, p) + "_final"));
            }
        }
        var lastOutputs = outputs.Where(o => o.Mode == OutputMode.LastStep).ToList();
        foreach (var (layer, _, name) in lastOutputs)
        {
            // Stryker disable once String: names only: this stem names an intermediate value, which OnnxModelScope.Fresh keeps unique and nothing looks up; the op and attribute names here fail every model ONNX Runtime runs
            body.Input(OnnxGraph.ValueInfo(scope.Fresh(name + "@t-1"), OnnxStep.Dims(layer)));
            // Stryker disable once String: names only: this stem names an intermediate value, which OnnxModelScope.Fresh keeps unique and nothing looks up; the op and attribute names here fail every model ONNX Runtime runs
            carriedInit.Add(Zeros(g, scope, n, [], OnnxStep.Shape(layer), name + ".initial"));
            carriedOuter.Add(name);
        }
        var inputs = new Dictionary<Layer, string>();
        foreach (var x in net.Inputs)
            // Stryker disable once String: names only: this stem names an intermediate value, which OnnxModelScope.Fresh keeps unique and nothing looks up; the op and attribute names here fail every model ONNX Runtime runs
            inputs[x] = x.IsTemporal ? body.Node("Gather", [x.Name, iter], x.Name + "@t", OnnxGraph.Int("axis", 0)) : x.Name;
        var r = step.Emit(body, Bindings(scope, "t", inputs, bodyBuffers, bodyCells));

        body.NodeTo("Identity", [condIn], [condOut]);
        body.Output(OnnxGraph.ValueInfo(condOut, [], OnnxModelScope.BoolType));
        foreach (var (layer, _) in buffers) body.Output(OnnxGraph.ValueInfo(r.NextBuffers[layer], OnnxStep.Dims(layer, step.Depth[layer])));
        foreach (var (layer, zeros) in cells)
            for (int p = 0; p < zeros.Length; p++) body.Output(OnnxGraph.ValueInfo(r.NextCells[layer][p], [-1, step.CellSizes[layer][p]]));
        foreach (var (layer, _, name) in lastOutputs)
            // Stryker disable once String: names only: this stem names an intermediate value, which OnnxModelScope.Fresh keeps unique and nothing looks up; the op and attribute names here fail every model ONNX Runtime runs
            body.Output(OnnxGraph.ValueInfo(body.Node("Identity", [r.Values[layer]], name + "@t"), OnnxStep.Dims(layer)));
        var everyStep = outputs.Where(o => o.Mode == OutputMode.AllSteps).ToList();
        foreach (var (layer, _, name) in everyStep)
            // Stryker disable once String: names only: this stem names an intermediate value, which OnnxModelScope.Fresh keeps unique and nothing looks up; the op and attribute names here fail every model ONNX Runtime runs
            body.Output(OnnxGraph.ValueInfo(body.Node("Identity", [r.Values[layer]], name + "@t.row"), OnnxStep.Dims(layer)));

        var loopOutputs = carriedOuter.Concat(everyStep.Select(o => o.Name)).ToList();
        g.NodeTo("Loop", [tripCount, "", .. carriedInit], loopOutputs, OnnxGraph.Graph("body", body.Build(net.Name + ".step", null, withInitializers: false)));
        foreach (var (layer, mode, name) in outputs)
            g.Output(OnnxGraph.ValueInfo(name, mode == OutputMode.LastStep ? OnnxStep.Dims(layer) : OnnxStep.Dims(layer, -2)));
        return OnnxGraph.Model(g.Build(net.Name,
            "FlexNet sequence form: a Loop over the time steps from zero state; outputs as Network.Forward.", withInitializers: true), options.Opset);
    }
}
