using System.Globalization;

namespace FlexNet.Optimizers;

/// <summary>Creates rules from names: PyTorch class names with <c>torch.optim</c> keyword arguments (for the
/// reference checker), and theanets/downhill algorithm names.</summary>
public static class OptimizerFactory
{
    /// <summary>
    /// A rule from a PyTorch optimizer name (<c>SGD</c>, <c>SGD nesterov</c>, <c>Adam</c>, <c>AdamW</c>,
    /// <c>RMSprop</c>, <c>Adagrad</c>, <c>Adadelta</c>, <c>Rprop</c>; case-insensitive) and its keyword arguments as
    /// strings (<c>lr</c>, <c>momentum</c>, <c>dampening</c>, <c>nesterov</c>, <c>weight_decay</c>, <c>betas</c>
    /// "b1,b2", <c>eps</c>, <c>alpha</c>, <c>centered</c>, <c>lr_decay</c>, <c>initial_accumulator_value</c>,
    /// <c>rho</c>, <c>etas</c>, <c>step_sizes</c>). Absent values take PyTorch's defaults; other keys are ignored.
    /// </summary>
    /// <param name="op">PyTorch optimizer name.</param>
    /// <param name="hyper">Keyword arguments.</param>
    /// <returns>The rule.</returns>
    public static OptimizerRule FromPyTorchName(string op, IReadOnlyDictionary<string, string> hyper)
    {
        ArgumentNullException.ThrowIfNull(op);
        ArgumentNullException.ThrowIfNull(hyper);
        var parts = op.Trim().ToLowerInvariant().Split(' ', StringSplitOptions.RemoveEmptyEntries);
        string name = parts.Length > 0 ? parts[0] : "";
        bool nesterovFlag = Array.IndexOf(parts, "nesterov") > 0 || Bool(hyper, "nesterov", false);
        double wd = Num(hyper, "weight_decay", 0);
        OptimizerRule rule = name switch
        {
            "sgd" => new Sgd(Num(hyper, "lr", 1e-3), Num(hyper, "momentum", 0), nesterovFlag) { Dampening = Num(hyper, "dampening", 0), WeightDecay = wd },
            "adam" => new Adam(Num(hyper, "lr", 1e-3), Pair(hyper, "betas", 0.9, 0.999).a, Pair(hyper, "betas", 0.9, 0.999).b, Num(hyper, "eps", 1e-8)) { WeightDecay = wd },
            "adamw" => new AdamW(Num(hyper, "lr", 1e-3), Pair(hyper, "betas", 0.9, 0.999).a, Pair(hyper, "betas", 0.9, 0.999).b, Num(hyper, "eps", 1e-8), Num(hyper, "weight_decay", 0.01)),
            "rmsprop" => new RmsProp(Num(hyper, "lr", 1e-2), Num(hyper, "alpha", 0.99), Num(hyper, "eps", 1e-8), Num(hyper, "momentum", 0), Bool(hyper, "centered", false)) { WeightDecay = wd },
            "adagrad" => new Adagrad(Num(hyper, "lr", 1e-2), Num(hyper, "eps", 1e-10), Num(hyper, "lr_decay", 0), Num(hyper, "initial_accumulator_value", 0)) { WeightDecay = wd },
            "adadelta" => new Adadelta(Num(hyper, "lr", 1.0), Num(hyper, "rho", 0.9), Num(hyper, "eps", 1e-6)) { WeightDecay = wd },
            "rprop" => new Rprop(Num(hyper, "lr", 1e-2), Pair(hyper, "etas", 0.5, 1.2).a, Pair(hyper, "etas", 0.5, 1.2).b, Pair(hyper, "step_sizes", 1e-6, 50).a, Pair(hyper, "step_sizes", 1e-6, 50).b),
            _ => throw new ArgumentException($"OptimizerFactory: unknown PyTorch optimizer '{op}' (known: SGD, SGD nesterov, Adam, AdamW, RMSprop, Adagrad, Adadelta, Rprop).", nameof(op)),
        };
        rule.Validate();
        return rule;
    }

    /// <summary>A rule from a theanets/downhill algorithm name with its defaults and the given learning rate:
    /// <c>sgd</c>, <c>momentum</c>, <c>nag</c> (Nesterov), <c>rmsprop</c>, <c>adam</c>, <c>adamw</c>,
    /// <c>adadelta</c>, <c>adagrad</c>, <c>rprop</c>, <c>esgd</c>.</summary>
    /// <param name="name">Algorithm name (case-insensitive).</param>
    /// <param name="learningRate">η; null keeps the rule's default.</param>
    /// <returns>The rule.</returns>
    public static OptimizerRule Create(string name, double? learningRate = null)
    {
        ArgumentNullException.ThrowIfNull(name);
        OptimizerRule rule = name.Trim().ToLowerInvariant() switch
        {
            "sgd" => new Sgd(),
            "momentum" => new Momentum(),
            "nag" or "nesterov" => new Nesterov(),
            "rmsprop" => new RmsProp(),
            "adam" => new Adam(),
            "adamw" => new AdamW(),
            "adadelta" => new Adadelta(),
            "adagrad" => new Adagrad(),
            "rprop" => new Rprop(),
            "esgd" => new Esgd(),
            _ => throw new ArgumentException($"OptimizerFactory: unknown algorithm '{name}' (known: sgd, momentum, nag, rmsprop, adam, adamw, adadelta, adagrad, rprop, esgd).", nameof(name)),
        };
        if (learningRate is { } lr) rule = rule with { LearningRate = lr };
        rule.Validate();
        return rule;
    }

    private static double Num(IReadOnlyDictionary<string, string> h, string key, double def)
    {
        if (!h.TryGetValue(key, out var s)) return def;
        if (!double.TryParse(s.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var v))
            throw new ArgumentException($"OptimizerFactory: '{key}' = '{s}' is not a number.");
        return v;
    }

    private static bool Bool(IReadOnlyDictionary<string, string> h, string key, bool def)
    {
        if (!h.TryGetValue(key, out var s)) return def;
        return s.Trim().ToLowerInvariant() switch
        {
            "true" or "1" => true,
            "false" or "0" => false,
            _ => throw new ArgumentException($"OptimizerFactory: '{key}' = '{s}' is not a boolean."),
        };
    }

    private static (double a, double b) Pair(IReadOnlyDictionary<string, string> h, string key, double a, double b)
    {
        if (!h.TryGetValue(key, out var s)) return (a, b);
        var p = s.Trim().Trim('(', ')', '[', ']').Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        if (p.Length != 2
            || !double.TryParse(p[0], NumberStyles.Float, CultureInfo.InvariantCulture, out var x)
            || !double.TryParse(p[1], NumberStyles.Float, CultureInfo.InvariantCulture, out var y))
            throw new ArgumentException($"OptimizerFactory: '{key}' = '{s}' is not a pair 'a,b'.");
        return (x, y);
    }
}
