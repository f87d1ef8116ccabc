using FlexNet.Autodiff;
using FlexNet.Tensors;

namespace FlexNet.Losses;

/// <summary>
/// Hinge loss. Integer labels (multi-class, Crammer–Singer): <c>l = max(0, m + max_{k≠y} o_k − o_y)</c>; with margin
/// m = 0 this is theanets' <c>hinge</c> (<c>max(0, max_k(o_k − o_y))</c>). Float targets in {−1, +1} with the
/// output's shape (binary): <c>l = mean_c max(0, m − t_c·o_c)</c>.
/// </summary>
public sealed class Hinge : Loss
{
    /// <summary>Creates the loss.</summary>
    /// <param name="margin">m ≥ 0.</param>
    public Hinge(double margin = 1.0)
    {
        if (!(margin >= 0)) throw new ArgumentOutOfRangeException(nameof(margin), $"hinge loss: margin must be >= 0; got {margin}.");
        Margin = margin;
    }

    /// <summary>m.</summary>
    public double Margin { get; }

    /// <inheritdoc/>
    public override string Name => "hinge";

    /// <inheritdoc/>
    public override Tensor PerSample(Tensor output, Tensor target)
    {
        if (target.DType != DType.Int32)
        {
            var t = SameShapeTarget(output, target).Detach();
            return FeatureMean((Margin - t * output).Relu());
        }
        if (output.Rank < 1 || !ShapeUtil.SameShape(target.Shape, output.Shape[..^1]))
            throw new ShapeMismatchException($"hinge loss: integer labels {ShapeUtil.Format(target.Shape)} must have the sample shape of the output {ShapeUtil.Format(output.Shape)}.");
        int c = output.ShapeArray[^1];
        if (c < 2) throw new ShapeMismatchException($"hinge loss: integer labels need at least 2 classes; output is {ShapeUtil.Format(output.Shape)}.");
        Tensor oh;
        using (Autograd.NoGrad()) oh = CrossEntropy.OneHot(target, c, output.DType);
        var correct = (output * oh).Sum(-1);
        var others = (output - oh * 1e30).Max(-1);
        return (others - correct + Margin).Relu();
    }
}

/// <summary>
/// Kullback–Leibler divergence KL(t ‖ p) per sample: <c>l = Σ_c t_c (log t_c − log p_c)</c> with <c>0·log 0 = 0</c>,
/// where p = softmax(output) (default, <see cref="FromLogits"/>) or p = clip(output, 1e-8, 1) for probability
/// outputs. Targets are probabilities with the output's shape. (theanets' <c>kl</c> averages |t·log(t/o)| over
/// elements instead; this is the per-sample divergence, PyTorch's <c>reduction='batchmean'</c> under the mean.)
/// </summary>
public sealed class KLDivergence : Loss
{
    /// <inheritdoc/>
    public override string Name => "kl";

    /// <summary>The output holds logits (true) or probabilities (false).</summary>
    public bool FromLogits { get; init; } = true;

    /// <inheritdoc/>
    public override Tensor PerSample(Tensor output, Tensor target)
    {
        var t = SameShapeTarget(output, target).Detach();
        Tensor tlogt;
        using (Autograd.NoGrad()) tlogt = t * t.Clip(1e-30, double.MaxValue).Log();
        var logp = FromLogits ? NN.LogSoftmax(output, -1) : output.Clip(1e-8, 1).Log();
        var r = tlogt - t * logp;
        // Stryker disable once Equality : equivalent: at rank 1, Sum(-1) and Sum() give the same scalar
        return r.Rank <= 1 ? r.Sum() : r.Sum(-1);
    }
}
