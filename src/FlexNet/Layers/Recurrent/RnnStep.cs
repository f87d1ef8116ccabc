using FlexNet.Autodiff;
using FlexNet.Kernels;
using FlexNet.Tensors;

namespace FlexNet.Layers.Recurrent;

/// <summary>
/// One Elman step h = act(p + h₋₁·Wᵀ) (p [N, H] the projected input, h₋₁ [N, H], W [H, H] in PyTorch layout)
/// recorded as one node instead of three (product, sum, activation): the forward writes the product, adds p and
/// applies the activation in one buffer (the same kernels in the same order as the three ops, so the same bits), and
/// the backward forms g = gy ⊙ act′ once from the saved output (tanh: 1 − h², sigmoid: h(1 − h), relu: h &gt; 0,
/// linear: 1) and passes dp = g, dh₋₁ = g·W, dW = gᵀ·h₋₁. On a batch-1 step most of the time is per-node overhead,
/// so the fused node is the short path of <c>small_rnn_step_latency</c>.
/// </summary>
internal static class RnnStep
{
    internal static Tensor Apply(Tensor projected, Tensor hPrev, Tensor weight, RecurrentActivation act)
    {
        Tensor y;
        using (Autograd.NoGrad())
        {
            y = NN.MatMul(hPrev, weight.T);
            if (y.DType != projected.DType || !ShapeUtil.SameShape(y.Shape, projected.Shape))
                throw new ShapeMismatchException($"RnnCell: projected input {ShapeUtil.Format(projected.Shape)} ({projected.DType}) does not match the recurrent product {ShapeUtil.Format(y.Shape)} ({y.DType}).");
            Autodiff.Ops.Binary.AddInPlace(y, projected);
            if (y.DType == DType.Float32) Activate<float>(y.F, act);
            else Activate<double>(y.D, act);
        }
        if (Autograd.ShouldRecord([projected, hPrev, weight])) y.MarkRecorded(new RnnStepBackward(projected, hPrev, weight, y, act));
        return y;
    }

    internal static void Activate<T>(Span<T> z, RecurrentActivation act) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        switch (act)
        {
            case RecurrentActivation.Tanh: Activations.Tanh<T>(z, z); break;
            case RecurrentActivation.Sigmoid: Activations.Sigmoid<T>(z, z); break;
            case RecurrentActivation.Relu: Activations.Relu<T>(z, z); break;
        }
    }

    /// <summary>g += gy ⊙ act′, with act′ taken from the output y.</summary>
    internal static void Derivative<T>(ReadOnlySpan<T> y, ReadOnlySpan<T> gy, Span<T> g, RecurrentActivation act)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        switch (act)
        {
            case RecurrentActivation.Tanh: Activations.TanhBackward(y, gy, g); break;
            case RecurrentActivation.Sigmoid: Activations.SigmoidBackward(y, gy, g); break;
            case RecurrentActivation.Relu: Activations.ReluBackward(y, gy, g); break; // y > 0 exactly where x > 0
            default: System.Numerics.Tensors.TensorPrimitives.Add(g, gy, g); break;
        }
    }

    private sealed class RnnStepBackward(Tensor p, Tensor h, Tensor w, Tensor y, RecurrentActivation act) : Node(p, h, w)
    {
        private Tensor? _h = h.Detach(), _w = w.Detach(), _y = y.Detach();

        public override string Name => "RnnStepBackward";

        protected internal override void Backward(Tensor gy)
        {
            var g = Tensor.Zeros(gy.ShapeArray, gy.DType);
            var gc = gy.Contiguous();
            if (g.DType == DType.Float32) Derivative<float>(_y!.F, gc.F, g.F, act);
            else Derivative<double>(_y!.D, gc.D, g.D, act);
            if (NeedsGrad(1)) Accumulate(1, NN.MatMul(g, _w!));       // dh₋₁ = g·W    [N, H]·[H, H]
            if (NeedsGrad(2)) Accumulate(2, NN.MatMul(g.T, _h!));     // dW   = gᵀ·h₋₁ [H, N]·[N, H]
            Accumulate(0, g);                                          // dp   = g (last: it may be adopted)
        }

        protected override void ReleaseSaved()
        {
            _h = null;
            _w = null;
            _y = null;
        }
    }
}
