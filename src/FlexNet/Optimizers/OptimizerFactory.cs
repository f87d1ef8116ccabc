using System.Globalization;

namespace FlexNet.Optimizers;

/// <summary>Creates rules from names: PyTorch class names with <c>torch.optim</c> keyword arguments (for the
/// reference checker), and theanets/downhill algorithm names.</summary>
public static class OptimizerFactory
{
    /// <summary>The optimizers by name, each with its defaults (the rule's constructor defaults, written once).</summary>
    private static readonly Registry<Func<OptimizerRule>> Rules = BuildRules();

    /// <summary>A fresh registry (tests build it per test: the static one is built once per process).</summary>
    internal static Registry<Func<OptimizerRule>> BuildRules()
    {
        var r = new Registry<Func<OptimizerRule>>("optimizer");
        r.Register("sgd", () => new Sgd());
        r.Register("momentum", () => new Momentum());
        r.Register("nag", () => new Nesterov(), "nesterov");
        r.Register("rmsprop", () => new RmsProp());
        r.Register("adam", () => new Adam());
        r.Register("adamw", () => new AdamW());
        r.Register("adadelta", () => new Adadelta());
        r.Register("adagrad", () => new Adagrad());
        r.Register("rprop", () => new Rprop());
        r.Register("esgd", () => new Esgd());
        return r;
    }

    /// <summary>torch.optim.SGD's default learning rate (FlexNet's <see cref="Sgd"/>, like Keras, defaults to 0.01).</summary>
    private const double TorchSgdLearningRate = 1e-3;

    /// <summary>The registered optimizer names.</summary>
    public static IReadOnlyList<string> Names => Rules.Names;

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
        string name = parts.Length > 0 ? parts[0] : /* Stryker disable once String : equivalent: any name that is not registered is refused alike, and the message quotes op, not name */ "";
        if (name is "esgd" or "momentum" or "nag" or "nesterov" || !Rules.TryGet(name, out var make))
            throw new ArgumentException($"OptimizerFactory: unknown PyTorch optimizer '{op}' (known: SGD, SGD nesterov, Adam, AdamW, RMSprop, Adagrad, Adadelta, Rprop).", nameof(op));
        // every default comes from the rule's own constructor (written once) except where torch.optim's default
        // differs from Keras'/theanets' (SGD's learning rate); the file's values override them
        var rule = make();
        if (rule is Sgd) rule = rule with { LearningRate = TorchSgdLearningRate };
        rule = rule with { LearningRate = Num(hyper, "lr", rule.LearningRate), WeightDecay = Num(hyper, "weight_decay", rule.WeightDecay) };
        rule = rule switch
        {
            Sgd g => g with
            {
                Momentum = Num(hyper, "momentum", g.Momentum), Dampening = Num(hyper, "dampening", g.Dampening),
                // Stryker disable once Equality : ">= 0" differs only when parts[0] is "nesterov", which is refused above
                Nesterov = Array.IndexOf(parts, "nesterov") > 0 || Bool(hyper, "nesterov", g.Nesterov),
            },
            Adam a => a with
            {
                Beta1 = Pair(hyper, "betas", a.Beta1, a.Beta2).a, Beta2 = Pair(hyper, "betas", a.Beta1, a.Beta2).b,
                Epsilon = Num(hyper, "eps", a.Epsilon),
            },
            RmsProp r => r with
            {
                Alpha = Num(hyper, "alpha", r.Alpha), Epsilon = Num(hyper, "eps", r.Epsilon),
                Momentum = Num(hyper, "momentum", r.Momentum), Centered = Bool(hyper, "centered", r.Centered),
            },
            Adagrad a => a with
            {
                Epsilon = Num(hyper, "eps", a.Epsilon), LearningRateDecay = Num(hyper, "lr_decay", a.LearningRateDecay),
                InitialAccumulator = Num(hyper, "initial_accumulator_value", a.InitialAccumulator),
            },
            Adadelta d => d with { Rho = Num(hyper, "rho", d.Rho), Epsilon = Num(hyper, "eps", d.Epsilon) },
            Rprop p => p with
            {
                EtaMinus = Pair(hyper, "etas", p.EtaMinus, p.EtaPlus).a, EtaPlus = Pair(hyper, "etas", p.EtaMinus, p.EtaPlus).b,
                MinStep = Pair(hyper, "step_sizes", p.MinStep, p.MaxStep).a, MaxStep = Pair(hyper, "step_sizes", p.MinStep, p.MaxStep).b,
            },
            _ => rule,
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
        var rule = Rules.TryGet(name.Trim(), out var make) ? make()
            : throw new ArgumentException($"OptimizerFactory: {Rules.UnknownMessage(name)}", nameof(name));
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
