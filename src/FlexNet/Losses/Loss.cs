using FlexNet.Tensors;
using FlexNet.Autodiff;

namespace FlexNet.Losses;

/// <summary>How a loss reduces its per-sample values.</summary>
public enum Reduction
{
    /// <summary>Weighted mean <c>Σ wᵢlᵢ / Σ wᵢ</c> (plain mean without weights or mask).</summary>
    Mean,

    /// <summary>Weighted sum <c>Σ wᵢlᵢ</c>.</summary>
    Sum,

    /// <summary>No reduction: the per-sample values <c>wᵢlᵢ</c> with the sample shape.</summary>
    None,
}

/// <summary>
/// A differentiable training loss. The output has shape <c>[..., C]</c>: the last axis holds the features or class
/// scores and every leading axis is a sample axis (<c>[N, C]</c>, or <c>[T, N, C]</c> for every step of a
/// sequence). <see cref="PerSample"/> gives one value per sample (shape <c>[...]</c>); <see cref="Compute"/> then
/// applies per-sample weights and a mask (both broadcast to the sample shape, e.g. <c>[N]</c> or <c>[T, N]</c>;
/// a mask of 0/1 drops padded sequence steps) and the <see cref="Reduction"/>.
/// Losses are registered by name (theanets names: <c>mse</c>, <c>mae</c>, <c>xe</c>, <c>bce</c>, <c>huber</c>,
/// <c>hinge</c>, <c>kl</c>); see <see cref="Create"/>.
/// </summary>
public abstract class Loss
{
    /// <summary>The losses by name: theanets' names with Keras' and PyTorch's as aliases.</summary>
    private static readonly Registry<Func<Loss>> Losses = Build();

    /// <summary>A fresh registry of the built-in losses (internal: tests check a fresh one, since the static one is built
    /// once per process).</summary>
    internal static Registry<Func<Loss>> Build()
    {
        var r = new Registry<Func<Loss>>("loss");
        r.Register("mse", () => new MeanSquaredError(), "mean_squared_error", "MSELoss");
        r.Register("mae", () => new MeanAbsoluteError(), "mean_absolute_error", "L1Loss");
        r.Register("xe", () => new CrossEntropy(), "crossentropy", "cross_entropy", "sparse_categorical_crossentropy", "categorical_crossentropy", "CrossEntropyLoss");
        r.Register("bce", () => new BinaryCrossEntropy(), "binary_crossentropy", "BCELoss");
        r.Register("huber", () => new Huber(), "HuberLoss");
        r.Register("hinge", () => new Hinge());
        r.Register("kl", () => new KLDivergence(), "kl_divergence", "kld", "KLDivLoss");
        return r;
    }

    /// <summary>Registry name, e.g. <c>mse</c>.</summary>
    public abstract string Name { get; }

    /// <summary>Reduction of the per-sample values (default mean).</summary>
    public Reduction Reduction { get; init; } = Reduction.Mean;

    /// <summary>For sequence outputs <c>[T, N, C]</c>: use only the last step <c>T−1</c> (targets, weights and mask
    /// given for all T steps are sliced the same way; targets given for one step are used as they are).</summary>
    public bool LastStepOnly { get; init; }

    /// <summary>Per-sample loss values.</summary>
    /// <param name="output">Model output <c>[..., C]</c> (or <c>[N]</c> for losses that allow it).</param>
    /// <param name="target">Target in the loss's format.</param>
    /// <returns>Shape <c>output.Shape[..^1]</c> (or <c>[N]</c> for a rank-1 output).</returns>
    public abstract Tensor PerSample(Tensor output, Tensor target);

    /// <summary>The loss: <c>reduce(w ⊙ m ⊙ PerSample(output, target))</c>.</summary>
    /// <param name="output">Model output.</param>
    /// <param name="target">Target.</param>
    /// <param name="weights">Per-sample weights broadcastable to the sample shape, or null.</param>
    /// <param name="mask">0/1 (or any non-negative) mask broadcastable to the sample shape, or null.</param>
    /// <returns>A scalar (or the sample-shaped values for <see cref="Reduction.None"/>).</returns>
    public Tensor Compute(Tensor output, Tensor target, Tensor? weights = null, Tensor? mask = null)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(target);
        output.RequireFloat(Name);
        if (LastStepOnly && output.Rank == 3)
        {
            int t = output.ShapeArray[0];
            output = output.Slice(0, t - 1, 1).Squeeze(0);
            target = LastStep(target, t);
            if (weights is not null && weights.Rank >= 2 && weights.ShapeArray[0] == t) weights = weights.Slice(0, t - 1, 1).Squeeze(0);
            if (mask is not null && mask.Rank >= 2 && mask.ShapeArray[0] == t) mask = mask.Slice(0, t - 1, 1).Squeeze(0);
        }
        var per = PerSample(output, target);
        Tensor? w = null;
        if (weights is not null) w = CheckWeights(weights, per, "weights");
        if (mask is not null) { var m = CheckWeights(mask, per, "mask"); w = w is null ? m : w * m; }
        if (w is null)
        {
            return Reduction switch
            {
                Reduction.Mean => per.Mean(),
                Reduction.Sum => per.Sum(),
                _ => per,
            };
        }
        var weighted = per * w;
        switch (Reduction)
        {
            case Reduction.None: return weighted;
            case Reduction.Sum: return weighted.Sum();
            default:
                // Σ w over the broadcast sample shape (a constant: weights carry no gradient)
                double sw;
                // Stryker disable once Arithmetic : equivalent: w / 1 is w * 1 (the ones only broadcast w to the sample shape)
                using (Autodiff.Autograd.NoGrad()) sw = (w * Tensor.Ones(per.ShapeArray, per.DType)).Sum().Item();
                if (sw > 0) return weighted.Sum() / sw;
                // Stryker disable once Linq : equivalent: with no positive weight the loss is 0 (Max times 0.0 is the same 0), kept in the graph so its gradient is 0
                return weighted.Sum() * 0.0;
        }
    }

    /// <summary>Slices a target given for every step of a <c>[T, N, ...]</c> output down to the last step.</summary>
    private static Tensor LastStep(Tensor target, int steps)
    {
        // every-step targets: labels [T, N] or float targets [T, N, C]; anything else is already per step
        bool everyStep = (target.DType == DType.Int32 ? target.Rank == 2 : target.Rank == 3) && target.ShapeArray[0] == steps;
        return everyStep ? target.Slice(0, steps - 1, 1).Squeeze(0) : target;
    }

    private Tensor CheckWeights(Tensor w, Tensor per, string what)
    {
        bool ok;
        try
        {
            ok = ShapeUtil.SameShape(ShapeUtil.Broadcast(w.Shape, per.Shape, Name), per.Shape);
        }
        catch (ShapeMismatchException)
        {
            ok = false;
        }
        if (!ok)
        {
            throw new ShapeMismatchException($"{Name} loss: {what} {ShapeUtil.Format(w.Shape)} do not broadcast to the per-sample shape {ShapeUtil.Format(per.Shape)}.");
        }
        // Stryker disable once Conditional : equivalent: To(the same dtype) is a copy with the same values
        return w.DType == per.DType ? w.Detach() : w.Detach().To(per.DType);
    }

    /// <summary>Checks that <paramref name="target"/> has the output's shape (float losses).</summary>
    /// <param name="output">Output.</param>
    /// <param name="target">Target.</param>
    /// <returns>The target as the output's dtype.</returns>
    protected Tensor SameShapeTarget(Tensor output, Tensor target)
    {
        if (!ShapeUtil.SameShape(output.Shape, target.Shape))
            throw new ShapeMismatchException($"{Name} loss: target {ShapeUtil.Format(target.Shape)} must have the output's shape {ShapeUtil.Format(output.Shape)}.");
        // Stryker disable once Conditional : equivalent: To(the same dtype) is a copy with the same values (the target carries no gradient)
        return target.DType == output.DType ? target : target.To(output.DType);
    }

    /// <summary>Mean over the last (feature) axis, or the values themselves for a rank-0/1 output.</summary>
    /// <param name="elementwise">Elementwise loss.</param>
    /// <returns>Per-sample values.</returns>
    protected static Tensor FeatureMean(Tensor elementwise) => elementwise.Rank <= 1 ? elementwise : elementwise.Mean(LastAxis);

    // Stryker disable once Unary : a static initializer, run once per process before any mutant is active; Rank3OutputsAverageOverTheLastAxis fails with [1] (planted by hand)
    private static readonly int[] LastAxis = [-1]; // Mean(-1) would allocate its params array at every call (read only)

    /// <summary>Creates a registered loss by name (case-insensitive).</summary>
    /// <param name="name">Registry name.</param>
    /// <returns>A new loss with default settings.</returns>
    public static Loss Create(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return Losses.TryGet(name.Trim(), out var f) ? f() : throw new ArgumentException(Losses.UnknownMessage(name), nameof(name));
    }

    /// <summary>Registers (or replaces) a loss factory under <paramref name="name"/>.</summary>
    /// <param name="name">Registry name.</param>
    /// <param name="factory">Creates the loss.</param>
    public static void Register(string name, Func<Loss> factory)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(factory);
        Losses.Register(name.Trim(), factory);
    }

    /// <summary>Every accepted loss name (theanets names and their Keras/PyTorch aliases), sorted.</summary>
    public static IReadOnlyList<string> RegisteredNames
    {
        get => Losses.AcceptedNames;
    }
}

/// <summary>One output's loss and its weight in the total <c>Σ weight·loss</c> of a multi-output model.</summary>
/// <param name="Loss">The loss.</param>
/// <param name="Weight">Its weight.</param>
public sealed record WeightedLoss(Loss Loss, double Weight = 1);
