using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using FlexNet.Kernels;

namespace FlexNet.Layers.Recurrent;

/// <summary>
/// The LSTM gate update of one batch row in one pass over hidden units [u0, u1), shared by the per-step op
/// (<see cref="LstmPointwise"/>) and the whole-sequence op (<see cref="LstmSequence"/>) so both give the same bits:
/// from the pre-activations a = [a_i | a_f | a_g | a_o] (row length 4H, overwritten with i, f, g, o),
/// i, f, o = σ(a), g = tanh(a), c = f ⊙ c_prev + i ⊙ g (one fused multiply-add), tanh c, h = o ⊙ tanh c.
/// σ and tanh are the kernels' own (<see cref="SigmoidOp{T}"/>, <see cref="TanhOp{T}"/>, as in the fused dense
/// layers); widths follow <see cref="Simd.MaxVectorBits"/>, units past the last whole vector take the scalar forms.
/// </summary>
internal static unsafe class LstmGates
{
    internal static void ForwardRow<T>(T* a, T* cPrev, T* c, T* tanhC, T* h, int hs, int u0, int u1)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int u = u0;
        if (Simd.MaxVectorBits >= 512 && Vector512.IsHardwareAccelerated && u1 - u >= Vector512<T>.Count)
        {
            for (; u + Vector512<T>.Count <= u1; u += Vector512<T>.Count)
            {
                var i = SigmoidOp<T>.Invoke(Vector512.Load(a + u));
                var f = SigmoidOp<T>.Invoke(Vector512.Load(a + hs + u));
                var g = TanhOp<T>.Invoke(Vector512.Load(a + 2 * hs + u));
                var o = SigmoidOp<T>.Invoke(Vector512.Load(a + 3 * hs + u));
                i.Store(a + u); f.Store(a + hs + u); g.Store(a + 2 * hs + u); o.Store(a + 3 * hs + u);
                var cn = Fma(i, g, f * Vector512.Load(cPrev + u));
                var tc = TanhOp<T>.Invoke(cn);
                cn.Store(c + u); tc.Store(tanhC + u); (o * tc).Store(h + u);
            }
        }
        else if (Simd.MaxVectorBits >= 256 && Vector256.IsHardwareAccelerated && u1 - u >= Vector256<T>.Count)
        {
            for (; u + Vector256<T>.Count <= u1; u += Vector256<T>.Count)
            {
                var i = SigmoidOp<T>.Invoke(Vector256.Load(a + u));
                var f = SigmoidOp<T>.Invoke(Vector256.Load(a + hs + u));
                var g = TanhOp<T>.Invoke(Vector256.Load(a + 2 * hs + u));
                var o = SigmoidOp<T>.Invoke(Vector256.Load(a + 3 * hs + u));
                i.Store(a + u); f.Store(a + hs + u); g.Store(a + 2 * hs + u); o.Store(a + 3 * hs + u);
                var cn = Fma(i, g, f * Vector256.Load(cPrev + u));
                var tc = TanhOp<T>.Invoke(cn);
                cn.Store(c + u); tc.Store(tanhC + u); (o * tc).Store(h + u);
            }
        }
        for (; u < u1; u++) Scalar(a, cPrev, c, tanhC, h, hs, u);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<T> Fma<T>(Vector512<T> x, Vector512<T> y, Vector512<T> z) where T : unmanaged, IFloatingPointIeee754<T>
        => typeof(T) == typeof(float)
            ? Vector512.FusedMultiplyAdd(x.AsSingle(), y.AsSingle(), z.AsSingle()).As<float, T>()
            : Vector512.FusedMultiplyAdd(x.AsDouble(), y.AsDouble(), z.AsDouble()).As<double, T>();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<T> Fma<T>(Vector256<T> x, Vector256<T> y, Vector256<T> z) where T : unmanaged, IFloatingPointIeee754<T>
        => typeof(T) == typeof(float)
            ? Vector256.FusedMultiplyAdd(x.AsSingle(), y.AsSingle(), z.AsSingle()).As<float, T>()
            : Vector256.FusedMultiplyAdd(x.AsDouble(), y.AsDouble(), z.AsDouble()).As<double, T>();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Scalar<T>(T* a, T* cPrev, T* c, T* tanhC, T* h, int hs, int u) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T i = SigmoidOp<T>.Invoke(a[u]), f = SigmoidOp<T>.Invoke(a[hs + u]);
        T g = TanhOp<T>.Invoke(a[2 * hs + u]), o = SigmoidOp<T>.Invoke(a[3 * hs + u]);
        a[u] = i; a[hs + u] = f; a[2 * hs + u] = g; a[3 * hs + u] = o;
        T cn = T.FusedMultiplyAdd(i, g, f * cPrev[u]);
        T tc = TanhOp<T>.Invoke(cn);
        c[u] = cn; tanhC[u] = tc; h[u] = o * tc;
    }
}
