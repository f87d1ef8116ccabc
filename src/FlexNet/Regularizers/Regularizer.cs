using System.Text.RegularExpressions;
using FlexNet.Tensors;

namespace FlexNet.Regularizers;

/// <summary>
/// What a <see cref="Regularizer"/> can see during one training step: the model's parameters (named by
/// <see cref="Tensor.Name"/>, or <c>#i</c> when unnamed), the named intermediate activations of the forward pass
/// (when the model exposes them, see <c>FlexNet.Training.IActivationSource</c>) and the inputs.
/// </summary>
/// <param name="Parameters">Model parameters.</param>
/// <param name="Activations">Named activations of the current forward pass (hidden layer outputs).</param>
/// <param name="Inputs">The batch inputs.</param>
public sealed record RegularizationContext(
    IReadOnlyList<Tensor> Parameters,
    IReadOnlyList<KeyValuePair<string, Tensor>> Activations,
    IReadOnlyList<Tensor> Inputs)
{
    /// <summary>Name of parameter <paramref name="i"/> as matched by patterns: its <see cref="Tensor.Name"/> or <c>#i</c>.</summary>
    /// <param name="i">Index.</param>
    /// <returns>The name.</returns>
    public string ParameterName(int i) => Parameters[i].Name ?? "#" + i;
}

/// <summary>
/// A penalty added to the training loss: the trainer minimises <c>Σ loss + Σ Weight·Penalty</c> (theanets
/// <c>graph.py</c> <c>loss</c>). Each regularizer selects parameters or activations by a glob
/// <see cref="Pattern"/> (<c>*</c> any run of characters, <c>?</c> one character; several patterns separated by
/// <c>|</c>). Regularizers act only in training; evaluation reports the plain loss.
/// </summary>
public abstract class Regularizer
{
    private Regex? _regex; // Pattern is init-only, so the expression compiled on first use stays valid

    /// <summary>Weight of the penalty in the total loss.</summary>
    public double Weight { get; init; } = 1;

    /// <summary>Glob selecting parameter or activation names (default <c>*</c>: all).</summary>
    public string Pattern { get; init; } = "*";

    /// <summary>Registry-style name, e.g. <c>weight_l2</c>.</summary>
    public abstract string Name { get; }

    /// <summary>The unweighted penalty (a scalar tensor), or null when nothing matches.</summary>
    /// <param name="context">The step's parameters and activations.</param>
    /// <returns>The penalty.</returns>
    public abstract Tensor? Penalty(RegularizationContext context);

    /// <summary>True when <see cref="Penalty"/> reads <see cref="RegularizationContext.Activations"/>: the trainer then asks
    /// a network-backed model to record its hidden layers' outputs.</summary>
    public virtual bool UsesActivations => false;

    /// <summary>Whether <paramref name="name"/> matches <see cref="Pattern"/>.</summary>
    /// <param name="name">Parameter or activation name.</param>
    /// <returns>True on a match.</returns>
    public bool Matches(string name)
    {
        _regex ??= GlobToRegex(Pattern);
        return _regex.IsMatch(name);
    }

    /// <summary>Converts a glob (<c>*</c>, <c>?</c>, alternatives split by <c>|</c>) to an anchored regex.</summary>
    /// <param name="glob">The glob.</param>
    /// <returns>The compiled expression.</returns>
    public static Regex GlobToRegex(string glob)
    {
        ArgumentNullException.ThrowIfNull(glob);
        var alts = glob.Split('|');
        for (int i = 0; i < alts.Length; i++)
            alts[i] = Regex.Escape(alts[i].Trim()).Replace(@"\*", ".*").Replace(@"\?", ".");
        return new Regex("^(?:" + string.Join("|", alts) + ")$", RegexOptions.CultureInvariant);
    }
}

/// <summary>theanets <c>weight_l2</c>: <c>(1/|Ω|)·Σ_{W∈Ω} mean(W²)</c> over matching parameters with rank &gt; 1
/// (biases excluded; a mean per matrix, not the Frobenius sum).</summary>
public sealed class WeightL2 : Regularizer
{
    /// <inheritdoc/>
    public override string Name => "weight_l2";

    /// <inheritdoc/>
    public override Tensor? Penalty(RegularizationContext context) => MeanOverParams(this, context, square: true);

    internal static Tensor? MeanOverParams(Regularizer r, RegularizationContext ctx, bool square)
    {
        Tensor? sum = null;
        int count = 0;
        for (int i = 0; i < ctx.Parameters.Count; i++)
        {
            var p = ctx.Parameters[i];
            if (p.Rank <= 1 || !r.Matches(ctx.ParameterName(i))) continue;
            var term = (square ? p.Square() : p.Abs()).Mean();
            sum = sum is null ? term : sum + term;
            count++;
        }
        return sum is null ? null : sum / count;
    }
}

/// <summary>theanets <c>weight_l1</c>: <c>(1/|Ω|)·Σ_{W∈Ω} mean|W|</c> over matching parameters with rank &gt; 1.</summary>
public sealed class WeightL1 : Regularizer
{
    /// <inheritdoc/>
    public override string Name => "weight_l1";

    /// <inheritdoc/>
    public override Tensor? Penalty(RegularizationContext context) => WeightL2.MeanOverParams(this, context, square: false);
}

/// <summary>theanets <c>hidden_l1</c> (sparsity): <c>(1/|Ω|)·Σ_{Z∈Ω} mean|Z|</c> over the matching activations
/// the model exposes (theanets' default is the output of every hidden layer).</summary>
public sealed class HiddenL1 : Regularizer
{
    /// <inheritdoc/>
    public override string Name => "hidden_l1";

    /// <inheritdoc/>
    public override bool UsesActivations => true;

    /// <inheritdoc/>
    public override Tensor? Penalty(RegularizationContext context)
    {
        Tensor? sum = null;
        int count = 0;
        foreach (var (name, z) in context.Activations)
        {
            if (!Matches(name)) continue;
            var term = z.Abs().Mean();
            sum = sum is null ? term : sum + term;
            count++;
        }
        return sum is null ? null : sum / count;
    }
}

/// <summary>Activation of the hidden layer for <see cref="Contractive"/> (its derivative in terms of the output h).</summary>
public enum ContractiveActivation
{
    /// <summary>h = σ(a): h' = h(1 − h).</summary>
    Sigmoid,

    /// <summary>h = tanh(a): h' = 1 − h².</summary>
    Tanh,

    /// <summary>h = relu(a): h' = [h &gt; 0].</summary>
    Relu,

    /// <summary>h = a: h' = 1.</summary>
    Linear,
}

/// <summary>
/// Contractive penalty for autoencoders (Rifai et al. 2011): the squared Frobenius norm of the encoder Jacobian
/// ∂h/∂x for a dense layer <c>h = f(x·Wᵀ + b)</c>, W <c>[hidden, in]</c>:
/// <c>‖J‖² = Σ_j f'(a_j)² Σ_i W_ji²</c>, averaged over the batch. The activation named <see cref="Hidden"/> and the
/// parameter named <see cref="WeightName"/> select the layer. (theanets computes a cheaper surrogate, the squared
/// gradient of mean(h) w.r.t. the inputs, which needs double backward; this is the exact penalty of the paper.)
/// </summary>
public sealed class Contractive : Regularizer
{
    /// <summary>Creates the penalty.</summary>
    /// <param name="hidden">Name of the hidden activation (as exposed by the model).</param>
    /// <param name="weightName">Name of the encoder weight <c>[hidden, in]</c>.</param>
    /// <param name="activation">The hidden layer's activation.</param>
    public Contractive(string hidden, string weightName, ContractiveActivation activation = ContractiveActivation.Sigmoid)
    {
        Hidden = hidden;
        WeightName = weightName;
        Activation = activation;
    }

    /// <summary>Hidden activation name.</summary>
    public string Hidden { get; }

    /// <summary>Encoder weight name.</summary>
    public string WeightName { get; }

    /// <summary>Hidden activation function.</summary>
    public ContractiveActivation Activation { get; }

    /// <inheritdoc/>
    public override string Name => "contractive";

    /// <inheritdoc/>
    public override bool UsesActivations => true;

    /// <inheritdoc/>
    public override Tensor? Penalty(RegularizationContext context)
    {
        Tensor? h = null, w = null;
        foreach (var (name, z) in context.Activations) if (name == Hidden) h = z;
        for (int i = 0; i < context.Parameters.Count; i++) if (context.ParameterName(i) == WeightName) w = context.Parameters[i];
        if (h is null || w is null)
            throw new ArgumentException($"contractive: activation '{Hidden}' {(h is null ? "not exposed by the model" : "found")}, weight '{WeightName}' {(w is null ? "not among the parameters" : "found")}.");
        if (w.Rank != 2 || h.ShapeArray[^1] != w.ShapeArray[0])
            throw new ShapeMismatchException($"contractive: weight '{WeightName}' {ShapeUtil.Format(w.Shape)} must be [hidden, in] with hidden = last axis of '{Hidden}' {ShapeUtil.Format(h.Shape)}.");
        Tensor d = Activation switch
        {
            ContractiveActivation.Sigmoid => h * (1.0 - h),
            ContractiveActivation.Tanh => 1.0 - h.Square(),
            ContractiveActivation.Relu => Tensor.Where(h.Detach(), Tensor.Ones([], h.DType), Tensor.Zeros([], h.DType)) * 1.0,
            _ => Tensor.Ones(h.ShapeArray, h.DType),
        };
        var colNorms = w.Square().Sum(1);            // [hidden]: Σ_i W_ji²
        var perSample = (d.Square() * colNorms).Sum(-1); // [...]: Σ_j f'_j² Σ_i W_ji²
        return perSample.Mean();
    }
}
