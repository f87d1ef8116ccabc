using System.Numerics;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using FlexNet.Autodiff;
using FlexNet.Tensors;

namespace FlexNet.Layers.Recurrent;

/// <summary>
/// The GRU step after the recurrent product, fused into one recorded op (torch.nn.GRU's equations): from the
/// projected input p = x·W_ihᵀ + b_ih [N, 3H], the recurrent term q = h·W_hhᵀ [N, 3H], b_hh [3H] and h [N, H]:
/// r, z = σ(p_rz + q_rz + b_hh,rz), n = tanh(p_n + r ⊙ (q_n + b_hh,n)), h' = n + z ⊙ (h − n).
/// The composite in <see cref="GruCell.Gates"/> is its test oracle.
/// </summary>
internal static class GruPointwise
{
    internal static Tensor Apply(Tensor projected, Tensor recurrent, Tensor biasHh, Tensor h)
    {
        int n = h.Shape[0], hs = h.Shape[1];
        var p = projected.Contiguous();
        var q = recurrent.Contiguous();
        var b = biasHh.Contiguous();
        var hc = h.Contiguous();
        var acts = Tensor.Empty([n, 3 * hs], h.DType); // r, z, n
        var ghn = Tensor.Empty([n, hs], h.DType);      // q_n + b_hh,n
        var y = Tensor.Empty([n, hs], h.DType);
        if (n > 0)
        {
            if (h.DType == DType.Float32) Forward<float>(p.F, q.F, b.F, hc.F, acts.F, ghn.F, y.F, n, hs);
            else Forward<double>(p.D, q.D, b.D, hc.D, acts.D, ghn.D, y.D, n, hs);
        }
        if (Autograd.IsEnabled && (projected.RequiresGrad || recurrent.RequiresGrad || biasHh.RequiresGrad || h.RequiresGrad))
            y.MarkRecorded(new GruPointwiseBackward(projected, recurrent, biasHh, h, hc, acts, ghn));
        return y;
    }

    private static void Forward<T>(ReadOnlySpan<T> p, ReadOnlySpan<T> q, ReadOnlySpan<T> b, ReadOnlySpan<T> h, Span<T> acts,
                                   Span<T> ghn, Span<T> y, int n, int hs) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int row = 0; row < n; row++)
        {
            var a = acts.Slice(row * 3 * hs, 3 * hs);
            var pr = p.Slice(row * 3 * hs, 3 * hs);
            var qr = q.Slice(row * 3 * hs, 3 * hs);
            var rz = a[..(2 * hs)];
            TensorPrimitives.Add(pr[..(2 * hs)], qr[..(2 * hs)], rz);
            TensorPrimitives.Add(rz, b[..(2 * hs)], rz);
            TensorPrimitives.Sigmoid(rz, rz);
            var g = ghn.Slice(row * hs, hs);
            TensorPrimitives.Add(qr[(2 * hs)..], b[(2 * hs)..], g);
            var nn = a[(2 * hs)..];
            TensorPrimitives.FusedMultiplyAdd(a[..hs], g, pr[(2 * hs)..], nn); // p_n + r ⊙ ghn
            FlexNet.Kernels.Activations.Tanh(nn, nn);
            var yr = y.Slice(row * hs, hs);
            TensorPrimitives.Subtract(h.Slice(row * hs, hs), nn, yr);
            TensorPrimitives.FusedMultiplyAdd(a.Slice(hs, hs), yr, nn, yr);   // n + z ⊙ (h − n)
        }
    }

    private sealed class GruPointwiseBackward(Tensor p, Tensor q, Tensor b, Tensor h, Tensor hSaved, Tensor acts, Tensor ghn)
        : Node(p, q, b, h)
    {
        private Tensor? _h = hSaved, _acts = acts, _ghn = ghn;

        protected internal override void Backward(Tensor gy)
        {
            var g = gy.Contiguous();
            int n = _h!.Shape[0], hs = _h.Shape[1];
            var dp = Tensor.Empty([n, 3 * hs], g.DType);
            var dq = Tensor.Empty([n, 3 * hs], g.DType);
            var dh = Tensor.Empty([n, hs], g.DType);
            if (n > 0)
            {
                if (g.DType == DType.Float32) Grad<float>(g.F, _h.F, _acts!.F, _ghn!.F, dp.F, dq.F, dh.F, n, hs);
                else Grad<double>(g.D, _h.D, _acts!.D, _ghn!.D, dp.D, dq.D, dh.D, n, hs);
            }
            if (NeedsGrad(0)) Accumulate(0, dp);
            if (NeedsGrad(2)) Accumulate(2, dq, owned: false); // summed over rows by Accumulate
            if (NeedsGrad(1)) Accumulate(1, dq);
            if (NeedsGrad(3)) Accumulate(3, dh);
        }

        private static void Grad<T>(ReadOnlySpan<T> gy, ReadOnlySpan<T> h, ReadOnlySpan<T> acts, ReadOnlySpan<T> ghn,
                                    Span<T> dp, Span<T> dq, Span<T> dh, int n, int hs) where T : unmanaged, IFloatingPointIeee754<T>
        {
            for (int row = 0; row < n; row++)
            {
                var a = acts.Slice(row * 3 * hs, 3 * hs);
                var dpr = dp.Slice(row * 3 * hs, 3 * hs);
                var dqr = dq.Slice(row * 3 * hs, 3 * hs);
                int o = row * hs;
                for (int u = 0; u < hs; u++)
                {
                    T r = a[u], z = a[hs + u], nv = a[2 * hs + u], gu = gy[o + u];
                    T dan = gu * (T.One - z) * (T.One - nv * nv);   // through n = tanh(·)
                    T dar = dan * ghn[o + u] * r * (T.One - r);
                    T daz = gu * (h[o + u] - nv) * z * (T.One - z);
                    dpr[u] = dar;
                    dpr[hs + u] = daz;
                    dpr[2 * hs + u] = dan;
                    dqr[u] = dar;
                    dqr[hs + u] = daz;
                    dqr[2 * hs + u] = dan * r;                     // the reset gate scales q_n + b_hh,n
                    dh[o + u] = gu * z;
                }
            }
        }

        protected override void ReleaseSaved()
        {
            _h = null;
            _acts = null;
            _ghn = null;
        }
    }
}
