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
}
