using FlexNet.Layers.Recurrent;
using FlexNet.Graph;
using FlexNet.Connections;
using FlexNet.Tensors;

namespace FlexNet.References;

/// <summary>
/// Runs the graph reference cases (<c>feedback</c> and <c>delay2</c> in testdata/reference) through the public
/// network API, for the tests and the reference checker: each builds the network with <c>Connect</c> in float64,
/// loads the case's weights, runs forward and backward with the loss Σ out ⊙ g and returns the outputs and
/// gradients under the case's tensor names (<c>out_y</c>, <c>grad_x</c>, <c>grad_W1</c>, ...).
/// </summary>
public static class GraphReferenceCases
{
    /// <summary>The ops this class knows: <c>feedback</c>, <c>delay2</c>.</summary>
    public static IReadOnlyList<string> Ops { get; } = ["feedback", "delay2"];

    /// <summary>Runs the case whose metadata <c>op</c> is <paramref name="metadata"/>["op"].</summary>
    /// <param name="metadata">The case's metadata.</param>
    /// <param name="tensor">Loads a tensor of the case by name (float64).</param>
    /// <returns>Computed tensors by reference name.</returns>
    /// <exception cref="ArgumentException">Unknown op.</exception>
    public static IReadOnlyDictionary<string, Tensor> Run(IReadOnlyDictionary<string, string> metadata, Func<string, Tensor> tensor) =>
        metadata.TryGetValue("op", out var op) ? op switch
        {
            "feedback" => RunFeedback(metadata, tensor),
            "delay2" => RunDelay2(metadata, tensor),
            _ => throw new ArgumentException($"GraphReferenceCases: unknown op '{op}' (known: {string.Join(", ", Ops)})."),
        } : throw new ArgumentException("GraphReferenceCases: the metadata has no 'op'.");

    /// <summary>feedback: h1 = tanh(x W1ᵀ + h3(t−1) Fᵀ + b1), h2 = tanh(h1 W2ᵀ + b2), h3 = tanh(h2 W3ᵀ + b3),
    /// y(t) = h3 Woᵀ + bo, h3(−1) = 0; x [N, in] presented at every step, T from the metadata.</summary>
    /// <param name="metadata">Metadata with <c>T</c>.</param>
    /// <param name="tensor">Tensor loader.</param>
    /// <returns><c>out_y</c> [T, N, out], <c>grad_x</c> and <c>grad_*</c> of every weight.</returns>
    public static Dictionary<string, Tensor> RunFeedback(IReadOnlyDictionary<string, string> metadata, Func<string, Tensor> tensor)
    {
        int steps = int.Parse(metadata["T"], System.Globalization.CultureInfo.InvariantCulture);
        var x = tensor("x").To(DType.Float64);
        var w1 = tensor("W1"); var w2 = tensor("W2"); var w3 = tensor("W3"); var wo = tensor("Wo"); var f = tensor("F");
        var net = new Network("feedback_net", DType.Float64);
        var input = new InputLayer(x.Shape[1], name: "x");
        var h1 = new Layer(w1.Shape[0], "tanh", name: "h1");
        var h2 = new Layer(w2.Shape[0], "tanh", name: "h2");
        var h3 = new Layer(w3.Shape[0], "tanh", name: "h3");
        var y = new Layer(wo.Shape[0], "linear", name: "y");
        var c1 = (DenseConnection)net.Connect(input, h1);
        var c2 = (DenseConnection)net.Connect(h1, h2);
        var c3 = (DenseConnection)net.Connect(h2, h3);
        var co = (DenseConnection)net.Connect(h3, y);
        var cf = net.ConnectDense(h3, h1, delay: 1, bias: false);
        net.AddOutput(y, OutputMode.AllSteps);
        net.Steps = steps;
        net.Compile();
        c1.Weight.CopyFrom(w1); c1.Bias!.CopyFrom(tensor("b1"));
        c2.Weight.CopyFrom(w2); c2.Bias!.CopyFrom(tensor("b2"));
        c3.Weight.CopyFrom(w3); c3.Bias!.CopyFrom(tensor("b3"));
        co.Weight.CopyFrom(wo); co.Bias!.CopyFrom(tensor("bo"));
        cf.Weight.CopyFrom(f);
        x = x.Detach().Clone().RequireGrad();
        net.ZeroGrad();
        var outY = net.Forward(x)[0];
        (outY * tensor("g_y")).Sum().Backward();
        return new Dictionary<string, Tensor>
        {
            ["out_y"] = outY.Detach(),
            ["grad_x"] = x.Grad!,
            ["grad_W1"] = c1.Weight.Grad!, ["grad_b1"] = c1.Bias.Grad!,
            ["grad_W2"] = c2.Weight.Grad!, ["grad_b2"] = c2.Bias.Grad!,
            ["grad_W3"] = c3.Weight.Grad!, ["grad_b3"] = c3.Bias.Grad!,
            ["grad_Wo"] = co.Weight.Grad!, ["grad_bo"] = co.Bias.Grad!,
            ["grad_F"] = cf.Weight.Grad!,
        };
    }

    /// <summary>delay2: h(t) = tanh(x(t) Wᵀ + h(t−2) Uᵀ + b), zero initial state; x [T, N, in].</summary>
    /// <param name="metadata">Metadata (unused beyond the op).</param>
    /// <param name="tensor">Tensor loader.</param>
    /// <returns><c>out_y</c> [T, N, H], <c>grad_x</c>, <c>grad_W</c>, <c>grad_U</c>, <c>grad_b</c>.</returns>
    public static Dictionary<string, Tensor> RunDelay2(IReadOnlyDictionary<string, string> metadata, Func<string, Tensor> tensor)
    {
        var x = tensor("x").To(DType.Float64);
        var w = tensor("W"); var u = tensor("U");
        var net = new Network("delay2_recurrence", DType.Float64);
        var input = new InputLayer(x.Shape[2], sequenceLength: x.Shape[0], name: "x");
        var h = new Layer(w.Shape[0], "tanh", name: "h");
        var cw = (DenseConnection)net.Connect(input, h);
        var cu = net.ConnectDense(h, h, delay: 2, bias: false);
        net.AddOutput(h, OutputMode.AllSteps);
        net.Compile();
        cw.Weight.CopyFrom(w); cw.Bias!.CopyFrom(tensor("b"));
        cu.Weight.CopyFrom(u);
        x = x.Detach().Clone().RequireGrad();
        net.ZeroGrad();
        var outY = net.Forward(x)[0];
        (outY * tensor("g_y")).Sum().Backward();
        return new Dictionary<string, Tensor>
        {
            ["out_y"] = outY.Detach(),
            ["grad_x"] = x.Grad!,
            ["grad_W"] = cw.Weight.Grad!,
            ["grad_U"] = cu.Weight.Grad!,
            ["grad_b"] = cw.Bias.Grad!,
        };
    }
}
