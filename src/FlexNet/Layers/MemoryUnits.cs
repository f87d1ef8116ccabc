using FlexNet.Connections;
using FlexNet.Graph;

namespace FlexNet.Layers;

/// <summary>The layers and connections of an LSTM assembled by <see cref="MemoryUnits.AddLstm"/>.</summary>
/// <param name="InputGate">i = σ(W_i x + b_i + U_i h(t−1) + c_i) (null when the input gate is coupled: i = 1 − f).</param>
/// <param name="ForgetGate">f = σ(W_f x + b_f + U_f h(t−1) + c_f).</param>
/// <param name="Candidate">g = tanh(W_g x + b_g + U_g h(t−1) + c_g).</param>
/// <param name="OutputGate">o = σ(W_o x + b_o + U_o h(t−1) + c_o).</param>
/// <param name="Cell">c = i ⊙ g + f ⊙ c(t−1).</param>
/// <param name="Hidden">h = o ⊙ tanh(c).</param>
/// <param name="InputWeights">Dense x → gate connections in torch gate order i, f, g, o (W [H, I], bias b_ih); entry 0 is null when coupled.</param>
/// <param name="RecurrentWeights">Dense h(t−1) → gate connections, order i, f, g, o (U [H, H], bias b_hh); entry 0 null when coupled.</param>
/// <param name="Peepholes">Elementwise peepholes c(t−1) → i, c(t−1) → f, c(t) → o (without the i one when coupled); empty without peepholes.</param>
public sealed record LstmUnit(Layer? InputGate, Layer ForgetGate, Layer Candidate, Layer OutputGate, Layer Cell, Layer Hidden,
                              DenseConnection?[] InputWeights, DenseConnection?[] RecurrentWeights, ElementwiseConnection[] Peepholes);

/// <summary>
/// Memory units built from graph primitives: gates are sigmoid layers, multiplicative combination is the
/// <see cref="CombineRule.Product"/> rule and the cell keeps its value through an identity connection of delay 1.
/// The plain LSTM computes exactly what torch.nn.LSTM computes (load weight_ih rows [kH, (k+1)H) into
/// <c>InputWeights[k]</c>, weight_hh into <c>RecurrentWeights[k]</c>, k over i, f, g, o).
/// </summary>
public static class MemoryUnits
{
    /// <summary>Adds an LSTM reading <paramref name="input"/> to <paramref name="net"/>:
    /// i, f, o = σ(W x + b_ih + U h(t−1) + b_hh [+ p ⊙ c]), g = tanh(...), c = f ⊙ c(t−1) + i ⊙ g, h = o ⊙ tanh(c).</summary>
    /// <param name="net">The network.</param>
    /// <param name="input">The layer feeding the LSTM (any vector layer, e.g. a temporal input).</param>
    /// <param name="hidden">Units H.</param>
    /// <param name="peepholes">Add diagonal peepholes c(t−1) → i, f and c(t) → o (Gers and Schmidhuber).</param>
    /// <param name="coupledInputForget">Couple the input gate to the forget gate: i = 1 − f (no input-gate weights).</param>
    /// <param name="prefix">Prefix of the layer names.</param>
    /// <returns>The gate, cell and hidden layers and the weight connections.</returns>
    public static LstmUnit AddLstm(Network net, Layer input, int hidden, bool peepholes = false, bool coupledInputForget = false, string prefix = "lstm")
    {
        ArgumentNullException.ThrowIfNull(net);
        ArgumentNullException.ThrowIfNull(input);
        if (hidden <= 0) throw new ArgumentException($"hidden must be positive. Received: {hidden}", nameof(hidden));
        var gi = coupledInputForget ? null : new Layer(hidden, "sigmoid", name: $"{prefix}.i");
        var gf = new Layer(hidden, "sigmoid", name: $"{prefix}.f");
        var gg = new Layer(hidden, "tanh", name: $"{prefix}.g");
        var go = new Layer(hidden, "sigmoid", name: $"{prefix}.o");
        var ig = new Layer(hidden, combine: CombineRule.Product, name: $"{prefix}.i*g");
        var fc = new Layer(hidden, combine: CombineRule.Product, name: $"{prefix}.f*c");
        var c = new Layer(hidden, name: $"{prefix}.c");
        var tc = new Layer(hidden, "tanh", name: $"{prefix}.tanh(c)");
        var h = new Layer(hidden, combine: CombineRule.Product, name: $"{prefix}.h");
        Layer?[] gates = [gi, gf, gg, go];
        var wx = new DenseConnection?[4];
        var wh = new DenseConnection?[4];
        for (int k = 0; k < 4; k++)
        {
            if (gates[k] is not { } gate) continue;
            wx[k] = net.ConnectDense(input, gate);
            wh[k] = net.ConnectDense(h, gate, delay: 1);
        }
        if (gi is null) net.Connect(new ComplementConnection(gf, ig));
        else net.ConnectIdentity(gi, ig);
        net.ConnectIdentity(gg, ig);
        net.ConnectIdentity(gf, fc);
        net.ConnectIdentity(c, fc, delay: 1); // the memory: c(t−1) reaches step t
        net.ConnectIdentity(ig, c);
        net.ConnectIdentity(fc, c);
        net.ConnectIdentity(c, tc);
        net.ConnectIdentity(go, h);
        net.ConnectIdentity(tc, h);
        var peep = new List<ElementwiseConnection>();
        if (peepholes)
        {
            if (gi is not null) peep.Add(net.ConnectElementwise(c, gi, delay: 1));
            peep.Add(net.ConnectElementwise(c, gf, delay: 1));
            peep.Add(net.ConnectElementwise(c, go));
        }
        return new LstmUnit(gi, gf, gg, go, c, h, wx, wh, peep.ToArray());
    }
}
