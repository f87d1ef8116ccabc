using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace FlexNet.Kernels;

/// <summary>Activation fused after a bias add in <see cref="Activations.BiasAct{T}"/>.</summary>
internal enum FusedActivation
{
    /// <summary>y = x + b.</summary>
    Linear,
    /// <summary>y = max(x + b, 0).</summary>
    Relu,
    /// <summary>y = tanh(x + b).</summary>
    Tanh,
    /// <summary>y = 1 / (1 + exp(-(x + b))).</summary>
    Sigmoid,
}

/// <summary>
/// Elementwise activation kernels (forward and backward) for spans of float or double.
/// Conventions: forward kernels take <c>(x, y)</c> (input, output; y may be x itself). Backward kernels take the
/// saved tensor the derivative needs (x or y, as the name of the parameter says), the upstream gradient
/// <c>gy</c>, and ACCUMULATE into <c>gx</c>: <c>gx[i] += gy[i] * f'(...)</c>. All spans of one call have the same
/// length; mismatches throw <see cref="ShapeMismatchException"/>. Plain activations TensorPrimitives already
/// has (Tanh, Sigmoid, Exp, Log, Abs, ...) are meant to be called there; these kernels fill the gaps.
/// </summary>
internal static class Activations
{
    // ------------------------------------------------------------------ relu family

    /// <summary><c>y = max(x, 0)</c>; NaN propagates.</summary>
    public static void Relu<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
        => Simd.Map<ReluOp<T>, T>(x, y);

    /// <summary>
    /// <c>gx += x &gt; 0 ? gy : 0</c>. <paramref name="xOrY"/> may be the input x or the output y = relu(x)
    /// (same sign pattern). The derivative at exactly 0 is taken as 0.
    /// </summary>
    public static void ReluBackward<T>(ReadOnlySpan<T> xOrY, ReadOnlySpan<T> gy, Span<T> gx) where T : unmanaged, IFloatingPointIeee754<T>
        => Simd.MapAdd<ReluGradOp<T>, T>(gy, xOrY, gx);

    /// <summary><c>y = x &gt; 0 ? x : slope * x</c>.</summary>
    public static void LeakyRelu<T>(ReadOnlySpan<T> x, Span<T> y, T slope) where T : unmanaged, IFloatingPointIeee754<T>
        => Simd.Map<LeakyReluOp<T>, T>(x, slope, y);

    /// <summary><c>gx += x &gt; 0 ? gy : slope * gy</c> (derivative at 0 taken as slope).</summary>
    public static void LeakyReluBackward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> gy, Span<T> gx, T slope) where T : unmanaged, IFloatingPointIeee754<T>
        => Simd.MapAdd<LeakyReluGradOp<T>, T>(gy, x, slope, gx);

    /// <summary><c>y = x &gt; 0 ? x : alpha * (exp(x) - 1)</c>, with an accurate expm1 near 0 (series).</summary>
    public static void Elu<T>(ReadOnlySpan<T> x, Span<T> y, T alpha) where T : unmanaged, IFloatingPointIeee754<T>
        => Simd.Map<EluOp<T>, T>(x, alpha, y);

    /// <summary><c>gx += x &gt; 0 ? gy : gy * alpha * exp(x)</c> (recomputes exp from x; valid for any alpha).</summary>
    public static void EluBackward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> gy, Span<T> gx, T alpha) where T : unmanaged, IFloatingPointIeee754<T>
        => Simd.MapAdd<EluGradOp<T>, T>(gy, x, alpha, gx);

    // ------------------------------------------------------------------ smooth activations

    /// <summary><c>y = log(1 + exp(x))</c> computed as <c>max(x, 0) + log1p(exp(-|x|))</c>: no overflow for
    /// large x, full relative accuracy for very negative x (softplus(-30) ~ 9.4e-14 is not rounded to 0).</summary>
    public static void Softplus<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
        => Simd.Map<SoftplusOp<T>, T>(x, y);

    /// <summary><c>gx += gy * sigmoid(x)</c> (overflow-free sigmoid).</summary>
    public static void SoftplusBackward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> gy, Span<T> gx) where T : unmanaged, IFloatingPointIeee754<T>
        => Simd.MapAdd<SoftplusGradOp<T>, T>(gy, x, gx);

    /// <summary><c>y = x / (1 + |x|)</c>. (x = ±inf gives NaN.)</summary>
    public static void Softsign<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
        => Simd.Map<SoftsignOp<T>, T>(x, y);

    /// <summary><c>gx += gy / (1 + |x|)^2</c>.</summary>
    public static void SoftsignBackward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> gy, Span<T> gx) where T : unmanaged, IFloatingPointIeee754<T>
        => Simd.MapAdd<SoftsignGradOp<T>, T>(gy, x, gx);

    /// <summary><c>y = 1 / (1 + exp(-x))</c> (TensorPrimitives.Sigmoid computes the same; this one is the op
    /// used by <see cref="BiasAct{T}"/>).</summary>
    public static void Sigmoid<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
        => Simd.Map<SigmoidOp<T>, T>(x, y);

    /// <summary><c>gx += gy * y * (1 - y)</c> where <c>y = sigmoid(x)</c> is the saved output.</summary>
    public static void SigmoidBackward<T>(ReadOnlySpan<T> y, ReadOnlySpan<T> gy, Span<T> gx) where T : unmanaged, IFloatingPointIeee754<T>
        => Simd.MapAdd<SigmoidGradOp<T>, T>(gy, y, gx);

    /// <summary>
    /// <c>y = tanh(x)</c> with full relative accuracy everywhere (odd Taylor series for |x| &lt; 0.5, else
    /// <c>sign(x) (1 - 2 / (exp(2|x|) + 1))</c>). Prefer this to TensorPrimitives.Tanh: in System.Numerics.Tensors
    /// 10.0 that one is accurate only in absolute terms near 0 (float tanh(1e-10) comes back as -6e-8,
    /// tanh(1e-4) with 3e-4 relative error).
    /// </summary>
    public static void Tanh<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
        => Simd.Map<TanhOp<T>, T>(x, y);

    /// <summary><c>gx += gy * (1 - y^2)</c> where <c>y = tanh(x)</c> is the saved output.</summary>
    public static void TanhBackward<T>(ReadOnlySpan<T> y, ReadOnlySpan<T> gy, Span<T> gx) where T : unmanaged, IFloatingPointIeee754<T>
        => Simd.MapAdd<TanhGradOp<T>, T>(gy, y, gx);

    // ------------------------------------------------------------------ clip

    /// <summary><c>y = min(max(x, lo), hi)</c>; requires <c>lo &lt;= hi</c>; NaN x stays NaN.</summary>
    public static void Clip<T>(ReadOnlySpan<T> x, Span<T> y, T lo, T hi) where T : unmanaged, IFloatingPointIeee754<T>
    {
        CheckBounds(lo, hi, nameof(Clip));
        Simd.Map<ClipOp<T>, T>(x, lo, hi, y);
    }

    /// <summary>
    /// <c>gx += (lo &lt;= x &lt;= hi) ? gy : 0</c>. Gradient 1 strictly inside (lo, hi) and 0 outside.
    /// Boundary choice: at x == lo or x == hi exactly the gradient is 1 (inclusive, as PyTorch's clamp and
    /// TensorFlow's clip_by_value), so a value sitting exactly on a bound still receives gradient. NaN x gets 0.
    /// </summary>
    public static void ClipBackward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> gy, Span<T> gx, T lo, T hi) where T : unmanaged, IFloatingPointIeee754<T>
    {
        CheckBounds(lo, hi, nameof(ClipBackward));
        Simd.MapAdd<ClipGradOp<T>, T>(gy, x, lo, hi, gx);
    }

    private static void CheckBounds<T>(T lo, T hi, string op) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (!(lo <= hi))
            throw new ArgumentOutOfRangeException(nameof(lo), $"Activations.{op}: lower bound {lo} must be <= upper bound {hi} (and neither NaN).");
    }

    // ------------------------------------------------------------------ derivatives of plain math ops

    /// <summary><c>gx += gy * sign(x)</c>, with sign(0) = 0 (and 0 for NaN x), for <c>y = |x|</c>.</summary>
    public static void AbsBackward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> gy, Span<T> gx) where T : unmanaged, IFloatingPointIeee754<T>
        => Simd.MapAdd<AbsGradOp<T>, T>(gy, x, gx);

    /// <summary><c>gx += gy / (2 y)</c> for the saved output <c>y = sqrt(x)</c> (±inf where y = 0).</summary>
    public static void SqrtBackward<T>(ReadOnlySpan<T> y, ReadOnlySpan<T> gy, Span<T> gx) where T : unmanaged, IFloatingPointIeee754<T>
        => Simd.MapAdd<SqrtGradOp<T>, T>(gy, y, gx);

    /// <summary><c>gx += 2 x gy</c> for <c>y = x^2</c>.</summary>
    public static void SquareBackward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> gy, Span<T> gx) where T : unmanaged, IFloatingPointIeee754<T>
        => Simd.MapAdd<SquareGradOp<T>, T>(gy, x, gx);

    /// <summary><c>gx += gy / x</c> for <c>y = log(x)</c>.</summary>
    public static void LogBackward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> gy, Span<T> gx) where T : unmanaged, IFloatingPointIeee754<T>
        => Simd.MapAdd<LogGradOp<T>, T>(gy, x, gx);

    /// <summary><c>gx += gy * y</c> for the saved output <c>y = exp(x)</c>.</summary>
    public static void ExpBackward<T>(ReadOnlySpan<T> y, ReadOnlySpan<T> gy, Span<T> gx) where T : unmanaged, IFloatingPointIeee754<T>
        => Simd.MapAdd<ExpGradOp<T>, T>(gy, y, gx);

    // ------------------------------------------------------------------ where / select

    /// <summary><c>y = mask != 0 ? a : b</c> elementwise (mask is a 0/1 tensor of T; any nonzero, NaN included,
    /// counts as true). <paramref name="y"/> may be any of the inputs.</summary>
    public static void Where<T>(ReadOnlySpan<T> mask, ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
        => Simd.Map<WhereOp<T>, T>(mask, a, b, y);

    /// <summary><c>ga += mask != 0 ? gy : 0</c> and <c>gb += mask != 0 ? 0 : gy</c>. Either gradient may be
    /// empty to skip it (an input that needs no gradient).</summary>
    public static void WhereBackward<T>(ReadOnlySpan<T> mask, ReadOnlySpan<T> gy, Span<T> ga, Span<T> gb) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (gy.Length != mask.Length)
            throw new ShapeMismatchException($"Activations.WhereBackward: gy has {gy.Length} elements but mask has {mask.Length}.");
        if (!ga.IsEmpty) Simd.MapAdd<MaskKeepOp<T>, T>(gy, mask, ga);
        if (!gb.IsEmpty) Simd.MapAdd<MaskDropOp<T>, T>(gy, mask, gb);
    }

    // ------------------------------------------------------------------ fused bias + activation

    /// <summary>
    /// <c>y[r, j] = act(x[r, j] + bias[j])</c> for row-major <c>x, y: [rows, cols]</c>, <c>bias: [cols]</c>
    /// (an empty bias means no bias). y may be x itself. Large inputs are split over rows across cores; every
    /// row is computed the same way, so results do not depend on the core count.
    /// </summary>
    public static unsafe void BiasAct<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> bias, Span<T> y, int rows, int cols, FusedActivation act)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (rows < 0 || cols < 0 || (long)rows * cols != x.Length || y.Length != x.Length || (bias.Length != cols && bias.Length != 0))
            throw new ShapeMismatchException(
                $"Activations.BiasAct: x has {x.Length} elements, y {y.Length}, bias {bias.Length}; expected x and y [{rows}, {cols}] and bias [{cols}] or empty.");
        if ((uint)act > (uint)FusedActivation.Sigmoid)
            throw new ArgumentOutOfRangeException(nameof(act), act, "Activations.BiasAct: unknown activation.");
        if (x.IsEmpty) return;
        // Work per element: the exp/tanh ones are ~10x a bias add.
        long cost = act is FusedActivation.Tanh or FusedActivation.Sigmoid ? 8 : 1;
        fixed (T* px = x, pb = bias, py = y)
        {
            var job = new BiasActJob<T>(px, bias.IsEmpty ? null : pb, py, cols, act);
            RowParallel.For(job, rows, cols * cost);
        }
    }

    private readonly unsafe struct BiasActJob<T>(T* x, T* b, T* y, int cols, FusedActivation act) : IRowJob
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        public void Run(int rowStart, int rowEnd)
        {
            var bias = b == null ? default : new ReadOnlySpan<T>(b, cols);
            for (int r = rowStart; r < rowEnd; r++)
            {
                var xr = new ReadOnlySpan<T>(x + (long)r * cols, cols);
                var yr = new Span<T>(y + (long)r * cols, cols);
                Row(xr, bias, yr, act);
            }
        }
    }

    private static void Row<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> b, Span<T> y, FusedActivation act) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (b.IsEmpty)
        {
            switch (act)
            {
                case FusedActivation.Linear: if (!Unsafe.AreSame(ref MemoryMarshal.GetReference(x), ref MemoryMarshal.GetReference(y))) x.CopyTo(y); break;
                case FusedActivation.Relu: Simd.Map<ReluOp<T>, T>(x, y); break;
                case FusedActivation.Tanh: Simd.Map<TanhOp<T>, T>(x, y); break;
                default: Simd.Map<SigmoidOp<T>, T>(x, y); break;
            }
            return;
        }
        switch (act)
        {
            case FusedActivation.Linear: Simd.Map<AddOp<T>, T>(x, b, y); break;
            case FusedActivation.Relu: Simd.Map<AddReluOp<T>, T>(x, b, y); break;
            case FusedActivation.Tanh: Simd.Map<AddTanhOp<T>, T>(x, b, y); break;
            default: Simd.Map<AddSigmoidOp<T>, T>(x, b, y); break;
        }
    }
}
