using System.Numerics;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using FlexNet.Autodiff;
using FlexNet.Tensors;

namespace FlexNet.Layers.Recurrent;

/// <summary>
/// The LSTM step after the recurrent product, fused into one recorded op: from the projected input p [N, 4H], the
/// recurrent term r = h·W_hhᵀ [N, 4H] and c [N, H] it computes a = p + r, i, f, o = σ(a_i, a_f, a_o), g = tanh(a_g),
/// c' = f ⊙ c + i ⊙ g, h' = o ⊙ tanh(c') and returns [h' ; c'] as one [2, N, H] tensor. It replaces about ten
/// elementwise ops on strided gate views (each with its own buffer and backward node) per step.
/// <see cref="LstmCell.Gates"/> is the same math from primitive ops and serves as this op's test oracle.
/// </summary>
internal static class LstmPointwise
{
    internal static Tensor Apply(Tensor projected, Tensor recurrent, Tensor c)
    {
        int n = c.Shape[0], hs = c.Shape[1];
        var p = projected.Contiguous();
        var r = recurrent.Contiguous();
        var cc = c.Contiguous();
        var acts = Tensor.Empty([n, 4 * hs], c.DType); // i, f, g, o after their nonlinearities
        var y = Tensor.Empty([2, n, hs], c.DType);     // [h' ; c']
        var tanhC = Tensor.Empty([n, hs], c.DType);
        if (n > 0)
        {
            if (c.DType == DType.Float32) Forward<float>(p.F, r.F, cc.F, acts.F, y.F, tanhC.F, n, hs);
            else Forward<double>(p.D, r.D, cc.D, acts.D, y.D, tanhC.D, n, hs);
        }
        if (Autograd.IsEnabled && (projected.RequiresGrad || recurrent.RequiresGrad || c.RequiresGrad))
            y.MarkRecorded(new LstmPointwiseBackward(projected, recurrent, c, cc, acts, tanhC));
        return y;
    }

    private static unsafe void Forward<T>(ReadOnlySpan<T> p, ReadOnlySpan<T> r, ReadOnlySpan<T> c, Span<T> acts, Span<T> y,
                                          Span<T> tanhC, int n, int hs) where T : unmanaged, IFloatingPointIeee754<T>
    {
        TensorPrimitives.Add(p, r, acts);
        fixed (T* pa = acts)
        fixed (T* pc = c)
        fixed (T* py = y)
        fixed (T* ptc = tanhC)
        {
            T* h = py, cNext = py + (nint)n * hs;
            for (int row = 0; row < n; row++)
            {
                nint o = (nint)row * hs;
                LstmGates.ForwardRow(pa + 4 * o, pc + o, cNext + o, ptc + o, h + o, hs, 0, hs); // i, f, g, o; c'; tanh c'; h'
            }
        }
    }

    private sealed class LstmPointwiseBackward(Tensor p, Tensor r, Tensor c, Tensor cSaved, Tensor acts, Tensor tanhC) : Node(p, r, c)
    {
        private Tensor? _c = cSaved, _acts = acts, _tanhC = tanhC;

        protected internal override void Backward(Tensor gy)
        {
            var g = gy.Contiguous();
            int n = _c!.Shape[0], hs = _c.Shape[1];
            var da = Tensor.Empty([n, 4 * hs], g.DType);
            var dc = Tensor.Empty([n, hs], g.DType);
            if (n > 0)
            {
                if (g.DType == DType.Float32) Grad<float>(g.F, _c.F, _acts!.F, _tanhC!.F, da.F, dc.F, n, hs);
                else Grad<double>(g.D, _c.D, _acts!.D, _tanhC!.D, da.D, dc.D, n, hs);
            }
            if (NeedsGrad(0) && NeedsGrad(1))
            {
                Accumulate(0, da, owned: false);
                Accumulate(1, da, owned: true);
            }
            else if (NeedsGrad(0)) Accumulate(0, da);
            else if (NeedsGrad(1)) Accumulate(1, da);
            if (NeedsGrad(2)) Accumulate(2, dc);
        }

        private static void Grad<T>(ReadOnlySpan<T> gy, ReadOnlySpan<T> c, ReadOnlySpan<T> acts, ReadOnlySpan<T> tanhC,
                                    Span<T> da, Span<T> dcPrev, int n, int hs) where T : unmanaged, IFloatingPointIeee754<T>
        {
            var dh = gy[..(n * hs)];
            var dcOut = gy[(n * hs)..];
            for (int row = 0; row < n; row++)
            {
                var a = acts.Slice(row * 4 * hs, 4 * hs);
                var d = da.Slice(row * 4 * hs, 4 * hs);
                int o0 = row * hs;
                for (int u = 0; u < hs; u++)
                {
                    T i = a[u], f = a[hs + u], gg = a[2 * hs + u], o = a[3 * hs + u];
                    T tc = tanhC[o0 + u], dhu = dh[o0 + u];
                    // dL/dc' collects the direct path and the path through h' = o ⊙ tanh(c')
                    T dcu = dcOut[o0 + u] + dhu * o * (T.One - tc * tc);
                    d[u] = dcu * gg * i * (T.One - i);
                    d[hs + u] = dcu * c[o0 + u] * f * (T.One - f);
                    d[2 * hs + u] = dcu * i * (T.One - gg * gg);
                    d[3 * hs + u] = dhu * tc * o * (T.One - o);
                    dcPrev[o0 + u] = dcu * f;
                }
            }
        }

        protected override void ReleaseSaved()
        {
            _c = null;
            _acts = null;
            _tanhC = null;
        }
    }
}
