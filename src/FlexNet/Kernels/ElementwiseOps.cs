// Over 400 lines on purpose: every lane-wise operator (activations and their gradients) as a small struct with its
// scalar and Vector128/256/512 members; one file so the formulas of an op and its gradient are read side by side.
// Lane-wise operators for Simd.Map / Simd.MapAdd. Each op states its formula once in the summary; the scalar
// member and the three vector members (128/256/512 bits, identical formula) must stay consistent: the driver
// may use any of them for any element. Operand names x1..x4 follow the order in the summary.
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace FlexNet.Kernels;

/// <summary><c>max(x, 0)</c>; NaN propagates (IEEE maximum), relu(-0) = +0.</summary>
internal readonly struct ReluOp<T> : IUnaryOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Invoke(T x) => T.Max(x, T.Zero);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Invoke(Vector128<T> x) => Vector128.Max(x, Vector128<T>.Zero);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Invoke(Vector256<T> x) => Vector256.Max(x, Vector256<T>.Zero);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Invoke(Vector512<T> x) => Vector512.Max(x, Vector512<T>.Zero);
}

/// <summary><c>(g, x) -> x &gt; 0 ? g : 0</c> (mask from x or y: same sign).</summary>
internal readonly struct ReluGradOp<T> : IBinaryOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Invoke(T x1, T x2) => x2 > T.Zero ? x1 : T.Zero;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Invoke(Vector128<T> x1, Vector128<T> x2) => Vector128.ConditionalSelect(Vector128.GreaterThan(x2, Vector128<T>.Zero), x1, Vector128<T>.Zero);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Invoke(Vector256<T> x1, Vector256<T> x2) => Vector256.ConditionalSelect(Vector256.GreaterThan(x2, Vector256<T>.Zero), x1, Vector256<T>.Zero);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Invoke(Vector512<T> x1, Vector512<T> x2) => Vector512.ConditionalSelect(Vector512.GreaterThan(x2, Vector512<T>.Zero), x1, Vector512<T>.Zero);
}

/// <summary><c>(x, slope) -> x &gt; 0 ? x : slope * x</c>.</summary>
internal readonly struct LeakyReluOp<T> : IBinaryOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Invoke(T x1, T x2) => x1 > T.Zero ? x1 : x1 * x2;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Invoke(Vector128<T> x1, Vector128<T> x2) => Vector128.ConditionalSelect(Vector128.GreaterThan(x1, Vector128<T>.Zero), x1, x1 * x2);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Invoke(Vector256<T> x1, Vector256<T> x2) => Vector256.ConditionalSelect(Vector256.GreaterThan(x1, Vector256<T>.Zero), x1, x1 * x2);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Invoke(Vector512<T> x1, Vector512<T> x2) => Vector512.ConditionalSelect(Vector512.GreaterThan(x1, Vector512<T>.Zero), x1, x1 * x2);
}

/// <summary><c>(g, x, slope) -> x &gt; 0 ? g : slope * g</c>.</summary>
internal readonly struct LeakyReluGradOp<T> : ITernaryOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Invoke(T x1, T x2, T x3) => x2 > T.Zero ? x1 : x1 * x3;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Invoke(Vector128<T> x1, Vector128<T> x2, Vector128<T> x3) => Vector128.ConditionalSelect(Vector128.GreaterThan(x2, Vector128<T>.Zero), x1, x1 * x3);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Invoke(Vector256<T> x1, Vector256<T> x2, Vector256<T> x3) => Vector256.ConditionalSelect(Vector256.GreaterThan(x2, Vector256<T>.Zero), x1, x1 * x3);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Invoke(Vector512<T> x1, Vector512<T> x2, Vector512<T> x3) => Vector512.ConditionalSelect(Vector512.GreaterThan(x2, Vector512<T>.Zero), x1, x1 * x3);
}

/// <summary><c>(x, alpha) -> x &gt; 0 ? x : alpha * expm1(x)</c> (accurate expm1).</summary>
internal readonly struct EluOp<T> : IBinaryOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Invoke(T x1, T x2) => x1 > T.Zero ? x1 : x2 * SimdMath.ExpM1(x1);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Invoke(Vector128<T> x1, Vector128<T> x2) => Vector128.ConditionalSelect(Vector128.GreaterThan(x1, Vector128<T>.Zero), x1, x2 * SimdMath.ExpM1(x1));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Invoke(Vector256<T> x1, Vector256<T> x2) => Vector256.ConditionalSelect(Vector256.GreaterThan(x1, Vector256<T>.Zero), x1, x2 * SimdMath.ExpM1(x1));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Invoke(Vector512<T> x1, Vector512<T> x2) => Vector512.ConditionalSelect(Vector512.GreaterThan(x1, Vector512<T>.Zero), x1, x2 * SimdMath.ExpM1(x1));
}

/// <summary><c>(g, x, alpha) -> x &gt; 0 ? g : g * alpha * exp(x)</c>.</summary>
internal readonly struct EluGradOp<T> : ITernaryOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Invoke(T x1, T x2, T x3) => x2 > T.Zero ? x1 : x1 * (x3 * T.Exp(x2));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Invoke(Vector128<T> x1, Vector128<T> x2, Vector128<T> x3) => Vector128.ConditionalSelect(Vector128.GreaterThan(x2, Vector128<T>.Zero), x1, x1 * (x3 * SimdMath.Exp(x2)));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Invoke(Vector256<T> x1, Vector256<T> x2, Vector256<T> x3) => Vector256.ConditionalSelect(Vector256.GreaterThan(x2, Vector256<T>.Zero), x1, x1 * (x3 * SimdMath.Exp(x2)));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Invoke(Vector512<T> x1, Vector512<T> x2, Vector512<T> x3) => Vector512.ConditionalSelect(Vector512.GreaterThan(x2, Vector512<T>.Zero), x1, x1 * (x3 * SimdMath.Exp(x2)));
}

/// <summary><c>log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|))</c>: never overflows, accurate for x &lt;&lt; 0.</summary>
internal readonly struct SoftplusOp<T> : IUnaryOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Invoke(T x) => T.Max(x, T.Zero) + SimdMath.Log1p(T.Exp(-T.Abs(x)));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Invoke(Vector128<T> x) => Vector128.Max(x, Vector128<T>.Zero) + SimdMath.Log1p(SimdMath.Exp(-Vector128.Abs(x)));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Invoke(Vector256<T> x) => Vector256.Max(x, Vector256<T>.Zero) + SimdMath.Log1p(SimdMath.Exp(-Vector256.Abs(x)));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Invoke(Vector512<T> x) => Vector512.Max(x, Vector512<T>.Zero) + SimdMath.Log1p(SimdMath.Exp(-Vector512.Abs(x)));
}

/// <summary><c>(g, x) -> g * sigmoid(x)</c>, sigmoid as <c>(x &gt;= 0 ? 1 : e) / (1 + e)</c>, <c>e = exp(-|x|)</c>.</summary>
internal readonly struct SoftplusGradOp<T> : IBinaryOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Invoke(T x1, T x2) => SpScalar(x1, x2);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Invoke(Vector128<T> x1, Vector128<T> x2) => Sp(x1, x2);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Invoke(Vector256<T> x1, Vector256<T> x2) => Sp(x1, x2);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Invoke(Vector512<T> x1, Vector512<T> x2) => Sp(x1, x2);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static T SpScalar(T g, T x)
    {
        T e = T.Exp(-T.Abs(x));
        return g * ((x >= T.Zero ? T.One : e) / (T.One + e));
    }
    // sigmoid(x) = (x >= 0 ? 1 : e) / (1 + e), e = exp(-|x|): no overflow, no cancellation.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<T> Sp(Vector128<T> g, Vector128<T> x)
    {
        Vector128<T> e = SimdMath.Exp(-Vector128.Abs(x));
        return g * (Vector128.ConditionalSelect(Vector128.GreaterThanOrEqual(x, Vector128<T>.Zero), Vector128<T>.One, e) / (Vector128<T>.One + e));
    }
    // sigmoid(x) = (x >= 0 ? 1 : e) / (1 + e), e = exp(-|x|): no overflow, no cancellation.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<T> Sp(Vector256<T> g, Vector256<T> x)
    {
        Vector256<T> e = SimdMath.Exp(-Vector256.Abs(x));
        return g * (Vector256.ConditionalSelect(Vector256.GreaterThanOrEqual(x, Vector256<T>.Zero), Vector256<T>.One, e) / (Vector256<T>.One + e));
    }
    // sigmoid(x) = (x >= 0 ? 1 : e) / (1 + e), e = exp(-|x|): no overflow, no cancellation.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<T> Sp(Vector512<T> g, Vector512<T> x)
    {
        Vector512<T> e = SimdMath.Exp(-Vector512.Abs(x));
        return g * (Vector512.ConditionalSelect(Vector512.GreaterThanOrEqual(x, Vector512<T>.Zero), Vector512<T>.One, e) / (Vector512<T>.One + e));
    }
}

/// <summary><c>x / (1 + |x|)</c>.</summary>
internal readonly struct SoftsignOp<T> : IUnaryOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Invoke(T x) => x / (T.One + T.Abs(x));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Invoke(Vector128<T> x) => x / (Vector128<T>.One + Vector128.Abs(x));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Invoke(Vector256<T> x) => x / (Vector256<T>.One + Vector256.Abs(x));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Invoke(Vector512<T> x) => x / (Vector512<T>.One + Vector512.Abs(x));
}

/// <summary><c>(g, x) -> g / (1 + |x|)^2</c>.</summary>
internal readonly struct SoftsignGradOp<T> : IBinaryOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Invoke(T x1, T x2) => SsScalar(x1, x2);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Invoke(Vector128<T> x1, Vector128<T> x2) => Ss(x1, x2);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Invoke(Vector256<T> x1, Vector256<T> x2) => Ss(x1, x2);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Invoke(Vector512<T> x1, Vector512<T> x2) => Ss(x1, x2);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static T SsScalar(T g, T x)
    {
        T d = T.One + T.Abs(x);
        return g / (d * d);
    }
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<T> Ss(Vector128<T> g, Vector128<T> x)
    {
        Vector128<T> d = Vector128<T>.One + Vector128.Abs(x);
        return g / (d * d);
    }
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<T> Ss(Vector256<T> g, Vector256<T> x)
    {
        Vector256<T> d = Vector256<T>.One + Vector256.Abs(x);
        return g / (d * d);
    }
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<T> Ss(Vector512<T> g, Vector512<T> x)
    {
        Vector512<T> d = Vector512<T>.One + Vector512.Abs(x);
        return g / (d * d);
    }
}

/// <summary><c>1 / (1 + exp(-x))</c> (exp overflow gives the exact limit 0).</summary>
internal readonly struct SigmoidOp<T> : IUnaryOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Invoke(T x) => T.One / (T.One + T.Exp(-x));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Invoke(Vector128<T> x) => Vector128<T>.One / (Vector128<T>.One + SimdMath.Exp(-x));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Invoke(Vector256<T> x) => Vector256<T>.One / (Vector256<T>.One + SimdMath.Exp(-x));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Invoke(Vector512<T> x) => Vector512<T>.One / (Vector512<T>.One + SimdMath.Exp(-x));
}

/// <summary><c>(g, y) -> g * y * (1 - y)</c>, y = sigmoid(x).</summary>
internal readonly struct SigmoidGradOp<T> : IBinaryOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Invoke(T x1, T x2) => x1 * (x2 * (T.One - x2));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Invoke(Vector128<T> x1, Vector128<T> x2) => x1 * (x2 * (Vector128<T>.One - x2));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Invoke(Vector256<T> x1, Vector256<T> x2) => x1 * (x2 * (Vector256<T>.One - x2));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Invoke(Vector512<T> x1, Vector512<T> x2) => x1 * (x2 * (Vector512<T>.One - x2));
}

/// <summary><c>tanh(x)</c> with full relative accuracy near 0 (series for |x| &lt; 0.5, see SimdMath.Series.cs), exact limits ±1, tanh(-0) = -0.</summary>
internal readonly struct TanhOp<T> : IUnaryOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Invoke(T x) => SimdMath.Tanh(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Invoke(Vector128<T> x) => SimdMath.Tanh(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Invoke(Vector256<T> x) => SimdMath.Tanh(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Invoke(Vector512<T> x) => SimdMath.Tanh(x);
}

/// <summary><c>(g, y) -> g * (1 - y^2)</c>, y = tanh(x).</summary>
internal readonly struct TanhGradOp<T> : IBinaryOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Invoke(T x1, T x2) => x1 * (T.One - x2 * x2);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Invoke(Vector128<T> x1, Vector128<T> x2) => x1 * (Vector128<T>.One - x2 * x2);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Invoke(Vector256<T> x1, Vector256<T> x2) => x1 * (Vector256<T>.One - x2 * x2);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Invoke(Vector512<T> x1, Vector512<T> x2) => x1 * (Vector512<T>.One - x2 * x2);
}

/// <summary><c>(x, lo, hi) -> min(max(x, lo), hi)</c>; NaN propagates.</summary>
internal readonly struct ClipOp<T> : ITernaryOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Invoke(T x1, T x2, T x3) => T.Min(T.Max(x1, x2), x3);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Invoke(Vector128<T> x1, Vector128<T> x2, Vector128<T> x3) => Vector128.Min(Vector128.Max(x1, x2), x3);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Invoke(Vector256<T> x1, Vector256<T> x2, Vector256<T> x3) => Vector256.Min(Vector256.Max(x1, x2), x3);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Invoke(Vector512<T> x1, Vector512<T> x2, Vector512<T> x3) => Vector512.Min(Vector512.Max(x1, x2), x3);
}

/// <summary><c>(g, x, lo, hi) -> lo &lt;= x &lt;= hi ? g : 0</c> (boundary inclusive).</summary>
internal readonly struct ClipGradOp<T> : IQuaternaryOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Invoke(T x1, T x2, T x3, T x4) => x2 >= x3 && x2 <= x4 ? x1 : T.Zero;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Invoke(Vector128<T> x1, Vector128<T> x2, Vector128<T> x3, Vector128<T> x4) => Vector128.ConditionalSelect(Vector128.GreaterThanOrEqual(x2, x3) & Vector128.LessThanOrEqual(x2, x4), x1, Vector128<T>.Zero);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Invoke(Vector256<T> x1, Vector256<T> x2, Vector256<T> x3, Vector256<T> x4) => Vector256.ConditionalSelect(Vector256.GreaterThanOrEqual(x2, x3) & Vector256.LessThanOrEqual(x2, x4), x1, Vector256<T>.Zero);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Invoke(Vector512<T> x1, Vector512<T> x2, Vector512<T> x3, Vector512<T> x4) => Vector512.ConditionalSelect(Vector512.GreaterThanOrEqual(x2, x3) & Vector512.LessThanOrEqual(x2, x4), x1, Vector512<T>.Zero);
}

/// <summary><c>(g, x) -> g * sign(x)</c>, sign(0) = sign(NaN) = 0.</summary>
internal readonly struct AbsGradOp<T> : IBinaryOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Invoke(T x1, T x2) => x2 > T.Zero ? x1 : x2 < T.Zero ? -x1 : T.Zero;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Invoke(Vector128<T> x1, Vector128<T> x2) => Vector128.ConditionalSelect(Vector128.GreaterThan(x2, Vector128<T>.Zero), x1, Vector128.ConditionalSelect(Vector128.LessThan(x2, Vector128<T>.Zero), -x1, Vector128<T>.Zero));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Invoke(Vector256<T> x1, Vector256<T> x2) => Vector256.ConditionalSelect(Vector256.GreaterThan(x2, Vector256<T>.Zero), x1, Vector256.ConditionalSelect(Vector256.LessThan(x2, Vector256<T>.Zero), -x1, Vector256<T>.Zero));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Invoke(Vector512<T> x1, Vector512<T> x2) => Vector512.ConditionalSelect(Vector512.GreaterThan(x2, Vector512<T>.Zero), x1, Vector512.ConditionalSelect(Vector512.LessThan(x2, Vector512<T>.Zero), -x1, Vector512<T>.Zero));
}

/// <summary><c>(g, y) -> g / (2 y)</c>, y = sqrt(x) (inf at y = 0).</summary>
internal readonly struct SqrtGradOp<T> : IBinaryOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Invoke(T x1, T x2) => x1 / (x2 + x2);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Invoke(Vector128<T> x1, Vector128<T> x2) => x1 / (x2 + x2);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Invoke(Vector256<T> x1, Vector256<T> x2) => x1 / (x2 + x2);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Invoke(Vector512<T> x1, Vector512<T> x2) => x1 / (x2 + x2);
}

/// <summary><c>(g, x) -> 2 x g</c>.</summary>
internal readonly struct SquareGradOp<T> : IBinaryOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Invoke(T x1, T x2) => x1 * (x2 + x2);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Invoke(Vector128<T> x1, Vector128<T> x2) => x1 * (x2 + x2);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Invoke(Vector256<T> x1, Vector256<T> x2) => x1 * (x2 + x2);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Invoke(Vector512<T> x1, Vector512<T> x2) => x1 * (x2 + x2);
}

/// <summary><c>(g, x) -> g / x</c>.</summary>
internal readonly struct LogGradOp<T> : IBinaryOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Invoke(T x1, T x2) => x1 / x2;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Invoke(Vector128<T> x1, Vector128<T> x2) => x1 / x2;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Invoke(Vector256<T> x1, Vector256<T> x2) => x1 / x2;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Invoke(Vector512<T> x1, Vector512<T> x2) => x1 / x2;
}

/// <summary><c>(g, y) -> g * y</c>, y = exp(x).</summary>
internal readonly struct ExpGradOp<T> : IBinaryOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Invoke(T x1, T x2) => x1 * x2;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Invoke(Vector128<T> x1, Vector128<T> x2) => x1 * x2;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Invoke(Vector256<T> x1, Vector256<T> x2) => x1 * x2;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Invoke(Vector512<T> x1, Vector512<T> x2) => x1 * x2;
}

/// <summary><c>(mask, a, b) -> mask != 0 ? a : b</c> (NaN counts as true).</summary>
internal readonly struct WhereOp<T> : ITernaryOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Invoke(T x1, T x2, T x3) => x1 != T.Zero ? x2 : x3;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Invoke(Vector128<T> x1, Vector128<T> x2, Vector128<T> x3) => Vector128.ConditionalSelect(Vector128.Equals(x1, Vector128<T>.Zero), x3, x2);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Invoke(Vector256<T> x1, Vector256<T> x2, Vector256<T> x3) => Vector256.ConditionalSelect(Vector256.Equals(x1, Vector256<T>.Zero), x3, x2);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Invoke(Vector512<T> x1, Vector512<T> x2, Vector512<T> x3) => Vector512.ConditionalSelect(Vector512.Equals(x1, Vector512<T>.Zero), x3, x2);
}

/// <summary><c>(g, mask) -> mask != 0 ? g : 0</c>.</summary>
internal readonly struct MaskKeepOp<T> : IBinaryOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Invoke(T x1, T x2) => x2 != T.Zero ? x1 : T.Zero;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Invoke(Vector128<T> x1, Vector128<T> x2) => Vector128.ConditionalSelect(Vector128.Equals(x2, Vector128<T>.Zero), Vector128<T>.Zero, x1);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Invoke(Vector256<T> x1, Vector256<T> x2) => Vector256.ConditionalSelect(Vector256.Equals(x2, Vector256<T>.Zero), Vector256<T>.Zero, x1);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Invoke(Vector512<T> x1, Vector512<T> x2) => Vector512.ConditionalSelect(Vector512.Equals(x2, Vector512<T>.Zero), Vector512<T>.Zero, x1);
}

/// <summary><c>(g, mask) -> mask == 0 ? g : 0</c>.</summary>
internal readonly struct MaskDropOp<T> : IBinaryOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Invoke(T x1, T x2) => x2 == T.Zero ? x1 : T.Zero;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Invoke(Vector128<T> x1, Vector128<T> x2) => Vector128.ConditionalSelect(Vector128.Equals(x2, Vector128<T>.Zero), x1, Vector128<T>.Zero);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Invoke(Vector256<T> x1, Vector256<T> x2) => Vector256.ConditionalSelect(Vector256.Equals(x2, Vector256<T>.Zero), x1, Vector256<T>.Zero);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Invoke(Vector512<T> x1, Vector512<T> x2) => Vector512.ConditionalSelect(Vector512.Equals(x2, Vector512<T>.Zero), x1, Vector512<T>.Zero);
}

/// <summary><c>x + y</c>.</summary>
internal readonly struct AddOp<T> : IBinaryOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Invoke(T x1, T x2) => x1 + x2;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Invoke(Vector128<T> x1, Vector128<T> x2) => x1 + x2;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Invoke(Vector256<T> x1, Vector256<T> x2) => x1 + x2;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Invoke(Vector512<T> x1, Vector512<T> x2) => x1 + x2;
}

/// <summary><c>x - y</c>.</summary>
internal readonly struct SubOp<T> : IBinaryOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Invoke(T x1, T x2) => x1 - x2;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Invoke(Vector128<T> x1, Vector128<T> x2) => x1 - x2;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Invoke(Vector256<T> x1, Vector256<T> x2) => x1 - x2;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Invoke(Vector512<T> x1, Vector512<T> x2) => x1 - x2;
}

/// <summary><c>x * y</c>.</summary>
internal readonly struct MulOp<T> : IBinaryOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Invoke(T x1, T x2) => x1 * x2;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Invoke(Vector128<T> x1, Vector128<T> x2) => x1 * x2;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Invoke(Vector256<T> x1, Vector256<T> x2) => x1 * x2;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Invoke(Vector512<T> x1, Vector512<T> x2) => x1 * x2;
}

/// <summary><c>x / y</c>.</summary>
internal readonly struct DivOp<T> : IBinaryOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Invoke(T x1, T x2) => x1 / x2;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Invoke(Vector128<T> x1, Vector128<T> x2) => x1 / x2;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Invoke(Vector256<T> x1, Vector256<T> x2) => x1 / x2;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Invoke(Vector512<T> x1, Vector512<T> x2) => x1 / x2;
}

/// <summary><c>exp(x - y)</c>.</summary>
internal readonly struct ExpSubOp<T> : IBinaryOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Invoke(T x1, T x2) => T.Exp(x1 - x2);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Invoke(Vector128<T> x1, Vector128<T> x2) => SimdMath.Exp(x1 - x2);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Invoke(Vector256<T> x1, Vector256<T> x2) => SimdMath.Exp(x1 - x2);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Invoke(Vector512<T> x1, Vector512<T> x2) => SimdMath.Exp(x1 - x2);
}

/// <summary><c>(x - y) - z</c>.</summary>
internal readonly struct SubSubOp<T> : ITernaryOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Invoke(T x1, T x2, T x3) => (x1 - x2) - x3;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Invoke(Vector128<T> x1, Vector128<T> x2, Vector128<T> x3) => (x1 - x2) - x3;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Invoke(Vector256<T> x1, Vector256<T> x2, Vector256<T> x3) => (x1 - x2) - x3;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Invoke(Vector512<T> x1, Vector512<T> x2, Vector512<T> x3) => (x1 - x2) - x3;
}

/// <summary><c>(y, x, a) -> y + a * x</c> (fused multiply-add where the CPU has it).</summary>
internal readonly struct AxpyOp<T> : ITernaryOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Invoke(T x1, T x2, T x3) => T.MultiplyAddEstimate(x3, x2, x1);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Invoke(Vector128<T> x1, Vector128<T> x2, Vector128<T> x3) => SimdMath.MulAdd(x3, x2, x1);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Invoke(Vector256<T> x1, Vector256<T> x2, Vector256<T> x3) => SimdMath.MulAdd(x3, x2, x1);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Invoke(Vector512<T> x1, Vector512<T> x2, Vector512<T> x3) => SimdMath.MulAdd(x3, x2, x1);
}

/// <summary><c>(y, x, a, b) -> a * y + b * x</c>.</summary>
internal readonly struct ScaleAddOp<T> : IQuaternaryOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Invoke(T x1, T x2, T x3, T x4) => T.MultiplyAddEstimate(x3, x1, x4 * x2);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Invoke(Vector128<T> x1, Vector128<T> x2, Vector128<T> x3, Vector128<T> x4) => SimdMath.MulAdd(x3, x1, x4 * x2);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Invoke(Vector256<T> x1, Vector256<T> x2, Vector256<T> x3, Vector256<T> x4) => SimdMath.MulAdd(x3, x1, x4 * x2);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Invoke(Vector512<T> x1, Vector512<T> x2, Vector512<T> x3, Vector512<T> x4) => SimdMath.MulAdd(x3, x1, x4 * x2);
}

/// <summary><c>max(x + b, 0)</c>.</summary>
internal readonly struct AddReluOp<T> : IBinaryOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Invoke(T x1, T x2) => T.Max(x1 + x2, T.Zero);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Invoke(Vector128<T> x1, Vector128<T> x2) => Vector128.Max(x1 + x2, Vector128<T>.Zero);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Invoke(Vector256<T> x1, Vector256<T> x2) => Vector256.Max(x1 + x2, Vector256<T>.Zero);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Invoke(Vector512<T> x1, Vector512<T> x2) => Vector512.Max(x1 + x2, Vector512<T>.Zero);
}

/// <summary><c>tanh(x + b)</c> (accurate near 0, see TanhOp).</summary>
internal readonly struct AddTanhOp<T> : IBinaryOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Invoke(T x1, T x2) => TanhOp<T>.Invoke(x1 + x2);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Invoke(Vector128<T> x1, Vector128<T> x2) => TanhOp<T>.Invoke(x1 + x2);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Invoke(Vector256<T> x1, Vector256<T> x2) => TanhOp<T>.Invoke(x1 + x2);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Invoke(Vector512<T> x1, Vector512<T> x2) => TanhOp<T>.Invoke(x1 + x2);
}

/// <summary><c>sigmoid(x + b)</c>.</summary>
internal readonly struct AddSigmoidOp<T> : IBinaryOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Invoke(T x1, T x2) => T.One / (T.One + T.Exp(-(x1 + x2)));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Invoke(Vector128<T> x1, Vector128<T> x2) => Vector128<T>.One / (Vector128<T>.One + SimdMath.Exp(-(x1 + x2)));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Invoke(Vector256<T> x1, Vector256<T> x2) => Vector256<T>.One / (Vector256<T>.One + SimdMath.Exp(-(x1 + x2)));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Invoke(Vector512<T> x1, Vector512<T> x2) => Vector512<T>.One / (Vector512<T>.One + SimdMath.Exp(-(x1 + x2)));
}

/// <summary><c>(y, g, dot) -> y * (g - dot)</c>, dot = sum(g * y) of the row.</summary>
internal readonly struct SoftmaxGradOp<T> : ITernaryOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Invoke(T x1, T x2, T x3) => x1 * (x2 - x3);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Invoke(Vector128<T> x1, Vector128<T> x2, Vector128<T> x3) => x1 * (x2 - x3);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Invoke(Vector256<T> x1, Vector256<T> x2, Vector256<T> x3) => x1 * (x2 - x3);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Invoke(Vector512<T> x1, Vector512<T> x2, Vector512<T> x3) => x1 * (x2 - x3);
}

/// <summary><c>(g, y, sumg) -> g - exp(y) * sumg</c>, y = log-softmax, sumg = sum(g) of the row.</summary>
internal readonly struct LogSoftmaxGradOp<T> : ITernaryOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Invoke(T x1, T x2, T x3) => x1 - T.Exp(x2) * x3;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Invoke(Vector128<T> x1, Vector128<T> x2, Vector128<T> x3) => x1 - SimdMath.Exp(x2) * x3;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Invoke(Vector256<T> x1, Vector256<T> x2, Vector256<T> x3) => x1 - SimdMath.Exp(x2) * x3;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Invoke(Vector512<T> x1, Vector512<T> x2, Vector512<T> x3) => x1 - SimdMath.Exp(x2) * x3;
}

/// <summary><c>(x, m, c) -> exp(x - m) * c</c>.</summary>
internal readonly struct ExpSubMulOp<T> : ITernaryOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Invoke(T x1, T x2, T x3) => T.Exp(x1 - x2) * x3;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Invoke(Vector128<T> x1, Vector128<T> x2, Vector128<T> x3) => SimdMath.Exp(x1 - x2) * x3;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Invoke(Vector256<T> x1, Vector256<T> x2, Vector256<T> x3) => SimdMath.Exp(x1 - x2) * x3;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Invoke(Vector512<T> x1, Vector512<T> x2, Vector512<T> x3) => SimdMath.Exp(x1 - x2) * x3;
}

/// <summary><c>(e, s, c) -> e * s - c</c>.</summary>
internal readonly struct MulSubOp<T> : ITernaryOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Invoke(T x1, T x2, T x3) => x1 * x2 - x3;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Invoke(Vector128<T> x1, Vector128<T> x2, Vector128<T> x3) => x1 * x2 - x3;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Invoke(Vector256<T> x1, Vector256<T> x2, Vector256<T> x3) => x1 * x2 - x3;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Invoke(Vector512<T> x1, Vector512<T> x2, Vector512<T> x3) => x1 * x2 - x3;
}
