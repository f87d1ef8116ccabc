using FlexNet.Tensors;

namespace FlexNet.Losses;

/// <summary>Mean squared error (theanets <c>mse</c>): per sample <c>l = mean_c (o_c − t_c)²</c>; target has the output's shape.</summary>
public sealed class MeanSquaredError : Loss
{
    /// <inheritdoc/>
    public override string Name => "mse";

    /// <inheritdoc/>
    public override Tensor PerSample(Tensor output, Tensor target) =>
        FeatureMean((output - SameShapeTarget(output, target).Detach()).Square());
}

/// <summary>Mean absolute error (theanets <c>mae</c>): per sample <c>l = mean_c |o_c − t_c|</c>.</summary>
public sealed class MeanAbsoluteError : Loss
{
    /// <inheritdoc/>
    public override string Name => "mae";

    /// <inheritdoc/>
    public override Tensor PerSample(Tensor output, Tensor target) =>
        FeatureMean((output - SameShapeTarget(output, target).Detach()).Abs());
}

/// <summary>
/// Huber loss with threshold δ: per element, with <c>e = o − t</c> and <c>q = min(|e|, δ)</c>,
/// <c>h = q²/2 + δ(|e| − q)</c> (= e²/2 for |e| ≤ δ, δ(|e| − δ/2) beyond); per sample the mean over the last axis.
/// </summary>
public sealed class Huber : Loss
{
    /// <summary>Creates the loss.</summary>
    /// <param name="delta">δ &gt; 0.</param>
    public Huber(double delta = 1.0)
    {
        if (!(delta > 0)) throw new ArgumentOutOfRangeException(nameof(delta), $"huber loss: delta must be > 0; got {delta}.");
        Delta = delta;
    }

    /// <summary>δ.</summary>
    public double Delta { get; }

    /// <inheritdoc/>
    public override string Name => "huber";

    /// <inheritdoc/>
    public override Tensor PerSample(Tensor output, Tensor target)
    {
        var a = (output - SameShapeTarget(output, target).Detach()).Abs();
        var q = a.Clip(0, Delta);
        return FeatureMean(q.Square() * 0.5 + (a - q) * Delta);
    }
}

/// <summary>
/// Binary cross-entropy from logits, numerically stable: per element with target t ∈ [0, 1],
/// <c>b = max(x, 0) − x·t + log(1 + exp(−|x|))</c> (= −t·log σ(x) − (1−t)·log(1 − σ(x))); per sample the mean over
/// the last axis. Gradient <c>σ(x) − t</c>.
/// </summary>
public sealed class BinaryCrossEntropy : Loss
{
    /// <inheritdoc/>
    public override string Name => "bce";

    /// <inheritdoc/>
    public override Tensor PerSample(Tensor output, Tensor target)
    {
        var t = SameShapeTarget(output, target).Detach();
        return FeatureMean(output.Relu() - output * t + (-output.Abs()).Softplus());
    }
}
