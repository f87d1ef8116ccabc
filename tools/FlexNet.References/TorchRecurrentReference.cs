using FlexNet.Layers.Recurrent;
using FlexNet.Graph;
using FlexNet.Autodiff;
using FlexNet.Tensors;

namespace FlexNet.References;

/// <summary>
/// Recomputes a PyTorch recurrent reference case (<c>rnn_tanh</c>, <c>rnn_relu</c>, <c>gru</c>, <c>lstm</c> in
/// testdata/reference) through FlexNet's cells, for tests and the reference checker. The case holds x [T, N, I],
/// the torch parameters weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0 and the loss weights g_y [T, N, H],
/// g_h_last [N, H]; the loss is L = Σ out_y ⊙ g_y + Σ out_h_last ⊙ g_h_last (zero initial state).
/// </summary>
public static class TorchRecurrentReference
{
    /// <summary>The ops this class understands.</summary>
    public static IReadOnlyList<string> Ops { get; } = ["rnn_tanh", "rnn_relu", "gru", "lstm"];

    /// <summary>Computes the case's outputs and gradients.</summary>
    /// <param name="op"><c>rnn_tanh</c>, <c>rnn_relu</c>, <c>gru</c> or <c>lstm</c> (the case's metadata <c>op</c>).</param>
    /// <param name="get">Returns the case's tensor of a given name (x, weight_ih_l0, ..., g_y, g_h_last), float32 or float64;
    /// sizes are read from the tensors' shapes.</param>
    /// <returns>out_y [T, N, H], out_h_last [N, H], grad_x [T, N, I] and grad_NAME for each parameter NAME, in x's dtype.</returns>
    /// <exception cref="ArgumentException">Unknown <paramref name="op"/>.</exception>
    /// <exception cref="ShapeMismatchException">The tensors' shapes do not fit together.</exception>
    public static IReadOnlyDictionary<string, Tensor> Run(string op, Func<string, Tensor> get)
    {
        ArgumentNullException.ThrowIfNull(get);
        var x = get("x").Detach().Clone().RequireGrad();
        var wih = get("weight_ih_l0");
        var whh = get("weight_hh_l0");
        if (x.Rank != 3 || wih.Rank != 2 || whh.Rank != 2)
            throw new ShapeMismatchException($"TorchRecurrentReference({op}): x {ShapeUtil.Format(x.Shape)}, weight_ih_l0 {ShapeUtil.Format(wih.Shape)}, weight_hh_l0 {ShapeUtil.Format(whh.Shape)} are not [T, N, I], [G·H, I], [G·H, H].");
        int inputSize = wih.Shape[1], hidden = whh.Shape[1];
        IRecurrentCell cell = op switch
        {
            "rnn_tanh" => new RnnCell(inputSize, hidden, RecurrentActivation.Tanh, x.DType, new RandomGenerator(0)),
            "rnn_relu" => new RnnCell(inputSize, hidden, RecurrentActivation.Relu, x.DType, new RandomGenerator(0)),
            "gru" => new GruCell(inputSize, hidden, x.DType, new RandomGenerator(0)),
            "lstm" => new LstmCell(inputSize, hidden, peepholes: false, x.DType, new RandomGenerator(0)),
            _ => throw new ArgumentException($"TorchRecurrentReference: unknown op '{op}'; known: {string.Join(", ", Ops)}."),
        };
        foreach (var p in cell.Parameters)
        {
            var v = get(p.Name!);
            if (!ShapeUtil.SameShape(v.Shape, p.Shape))
                throw new ShapeMismatchException($"TorchRecurrentReference({op}): {p.Name} has shape {ShapeUtil.Format(v.Shape)}; the cell needs {ShapeUtil.Format(p.Shape)}.");
            p.CopyFrom(v.To(p.DType));
        }

        var (y, final) = Recurrence.Run(cell, x);
        var loss = (y * get("g_y").To(x.DType)).Sum() + (final.H * get("g_h_last").To(x.DType)).Sum();
        loss.Backward();

        var result = new Dictionary<string, Tensor>
        {
            ["out_y"] = y.Detach(),
            ["out_h_last"] = final.H.Detach(),
            ["grad_x"] = x.Grad!,
        };
        foreach (var p in cell.Parameters) result["grad_" + p.Name] = p.Grad!;
        return result;
    }
}
