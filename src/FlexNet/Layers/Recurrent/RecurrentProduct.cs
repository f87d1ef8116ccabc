using FlexNet.Autodiff;
using FlexNet.Tensors;

namespace FlexNet.Layers.Recurrent;

/// <summary>
/// h·Wᵀ for a weight W [out, H] in PyTorch layout, recorded as one node whose backward writes dW = gyᵀ·h straight
/// in W's own layout. Through a transposed view (NN.MatMul(h, W.T)) every step would instead produce dWᵀ and add it
/// into W's gradient through a strided transpose, which costs more than the product itself for LSTM-sized weights.
/// </summary>
internal static class RecurrentProduct
{
    internal static Tensor Apply(Tensor h, Tensor weight)
    {
        Tensor y;
        using (Autograd.NoGrad()) y = NN.MatMul(h, weight.T);
        if (Autograd.IsEnabled && (h.RequiresGrad || weight.RequiresGrad)) y.MarkRecorded(new RecurrentProductBackward(h, weight));
        return y;
    }

    private sealed class RecurrentProductBackward(Tensor h, Tensor weight) : Node(h, weight)
    {
        private Tensor? _h = h.Detach(), _w = weight.Detach();

        protected internal override void Backward(Tensor gy)
        {
            if (NeedsGrad(0)) Accumulate(0, NN.MatMul(gy, _w!));       // dh = gy·W   [N, out]·[out, H]
            if (NeedsGrad(1)) Accumulate(1, NN.MatMul(gy.T, _h!));     // dW = gyᵀ·h  [out, N]·[N, H]
        }

        protected override void ReleaseSaved()
        {
            _h = null;
            _w = null;
        }
    }
}
