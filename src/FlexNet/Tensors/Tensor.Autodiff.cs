using FlexNet.Autodiff;

namespace FlexNet.Tensors;

public sealed partial class Tensor
{
    /// <summary>Back-propagates from this scalar: accumulates d(this)/d(leaf) into every leaf's <see cref="Grad"/>.</summary>
    /// <exception cref="AutogradException">When this is not a one-element tensor, or needs no gradient.</exception>
    public void Backward() => Autograd.Backward(this);

    /// <summary>Back-propagates with an explicit seed gradient dL/d(this).</summary>
    /// <param name="seed">Same shape as this tensor.</param>
    /// <param name="retainGraph">Keep the graph so backward can run through it again.</param>
    public void Backward(Tensor? seed, bool retainGraph = false) => Autograd.Backward(this, seed, retainGraph);

    /// <summary>Asks a non-leaf tensor to keep its gradient in <see cref="Grad"/> during backward.</summary>
    /// <returns>This tensor.</returns>
    public Tensor RetainGrad()
    {
        if (GradFn is not null) GradFn.RetainTarget = this;
        return this;
    }

    /// <summary>Sets <see cref="Grad"/> to null.</summary>
    public void ZeroGrad() => Grad = null;

    /// <summary>A gradient buffer dropped by <see cref="Optimizers.Optimizer.RecycleGrads"/>, kept for the next
    /// backward to fill instead of allocating a new one (null when none).</summary>
    internal Tensor? SpareGrad;

    /// <summary>Moves <see cref="Grad"/> to <see cref="SpareGrad"/> and sets Grad to null, when the gradient is a
    /// contiguous garbage-collected buffer of this tensor's shape (one a backward made; anything else is just
    /// dropped).</summary>
    internal void RecycleGrad()
    {
        var g = Grad;
        Grad = null;
        if (g is not null && g.IsContiguous && g.Storage.Owner is null && !g.Storage.Pooled && g.Length == g.Storage.Length
            && ShapeUtil.SameShape(g.Shape, Shape))
            SpareGrad = g;
    }

    /// <summary>The spare gradient buffer if it has <paramref name="dtype"/> (taken: SpareGrad becomes null), else
    /// null. Its contents are stale: the caller overwrites every element.</summary>
    internal Tensor? TakeSpareGrad(DType dtype)
    {
        var s = SpareGrad;
        if (s is null || s.DType != dtype) return null;
        SpareGrad = null;
        return s;
    }
}
