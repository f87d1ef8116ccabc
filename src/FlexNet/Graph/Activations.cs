using FlexNet.Tensors;
using FlexNet.Autodiff;

namespace FlexNet.Graph;

/// <summary>
/// Activation functions selected by name, as in a layer's <c>activation</c> argument: <c>linear</c> (identity),
/// <c>sigmoid</c>/<c>logistic</c> σ(x) = 1/(1+e^(−x)), <c>tanh</c>, <c>relu</c> max(x, 0), <c>leaky-relu</c>
/// (slope 0.01), <c>elu</c>, <c>softplus</c> log(1+eˣ), <c>softsign</c> x/(1+|x|), <c>softmax</c> and
/// <c>log-softmax</c> (over the feature axis 1). Names are case-insensitive. Each maps [N, ...] → [N, ...].
/// </summary>
public static class Activations
{
    private static readonly Registry<Func<Tensor, Tensor>> Table = Build();

    private static Registry<Func<Tensor, Tensor>> Build()
    {
        var r = new Registry<Func<Tensor, Tensor>>("activation");
        r.Register("linear", static x => x, "identity");
        r.Register("sigmoid", static x => x.Sigmoid(), "logistic");
        r.Register("tanh", static x => x.Tanh());
        r.Register("relu", static x => x.Relu());
        r.Register("leaky-relu", static x => x.LeakyRelu(), "leaky_relu");
        r.Register("elu", static x => x.Elu());
        r.Register("softplus", static x => x.Softplus());
        r.Register("softsign", static x => x.Softsign());
        r.Register("softmax", static x => NN.Softmax(x, 1));
        r.Register("log-softmax", static x => NN.LogSoftmax(x, 1), "log_softmax");
        return r;
    }

    /// <summary>The registered activation names.</summary>
    public static IEnumerable<string> Names => Table.Names;

    /// <summary>Whether <paramref name="name"/> is a known activation.</summary>
    /// <param name="name">Activation name.</param>
    /// <returns>True when registered.</returns>
    public static bool IsKnown(string name) => Table.Contains(name);

    /// <summary>Registers (or replaces) a named activation so layers can refer to it.</summary>
    /// <param name="name">Name used in layer definitions.</param>
    /// <param name="function">Elementwise (or per-sample) map built from differentiable tensor ops.</param>
    public static void Register(string name, Func<Tensor, Tensor> function)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(function);
        Table.Register(name, function);
    }

    /// <summary>The function for <paramref name="name"/>.</summary>
    /// <param name="name">Activation name.</param>
    /// <returns>The map x ↦ act(x).</returns>
    /// <exception cref="ArgumentException">Unknown name (the message lists the known ones).</exception>
    public static Func<Tensor, Tensor> Get(string name)
    {
        if (Table.TryGet(name, out var f)) return f;
        throw new ArgumentException(Table.UnknownMessage(name), nameof(name));
    }
}
