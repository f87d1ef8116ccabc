// Over 400 lines on purpose: tanh, expm1, log1p, ... each as a scalar and a Vector128/256/512 version next to one
// another, sharing their range reduction and constants; splitting them would separate a function from its constants.
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace FlexNet.Kernels;

// Polynomial kernels for tanh, expm1 and log1p (generated from exact Taylor coefficients; term counts chosen so
// the truncation error is below a quarter ulp of the result, checked with 50-digit arithmetic):
//   tanh(x),  |x| < 0.5: x + x z P(z), z = x^2 (float 8 terms, double 17); else sign(x) (1 - 2 / (exp(2|x|) + 1))
//             (no cancellation there: the subtracted term is <= 0.54).
//   expm1(x), |x| < 0.5: x + x^2 Q(x) (float 8 terms, double 15); else exp(x) - 1 (result magnitude >= 0.39).
//   log1p(e), e in [0, 1]: 2 atanh(s) = 2s + 2s w R(w), s = e / (2 + e), w = s^2 <= 1/9 (float 7 terms, double 16).
// They avoid vector Log entirely: the runtime's Vector*.Log is not inlined inside the driver loops and made
// tanh/softplus/elu 2-3x slower; the old forms (Kahan's expm1, Goldberg's log1p) needed one Log each.
internal static partial class SimdMath
{
    /// <summary>tanh(x), full relative accuracy, tanh(±0) = ±0, ±1 at ±inf, NaN propagates.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Tanh<T>(T x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float)) return (T)(object)TanhFS((float)(object)x);
        if (typeof(T) == typeof(double)) return (T)(object)TanhDS((double)(object)x);
        ThrowNotSupported<T>();
        return default;
    }

    /// <summary>tanh(x), full relative accuracy, tanh(±0) = ±0, ±1 at ±inf, NaN propagates.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Tanh<T>(Vector128<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float)) return TanhF128(x.AsSingle()).As<float, T>();
        if (typeof(T) == typeof(double)) return TanhD128(x.AsDouble()).As<double, T>();
        ThrowNotSupported<T>();
        return default;
    }

    /// <summary>tanh(x), full relative accuracy, tanh(±0) = ±0, ±1 at ±inf, NaN propagates.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Tanh<T>(Vector256<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float)) return TanhF256(x.AsSingle()).As<float, T>();
        if (typeof(T) == typeof(double)) return TanhD256(x.AsDouble()).As<double, T>();
        ThrowNotSupported<T>();
        return default;
    }

    /// <summary>tanh(x), full relative accuracy, tanh(±0) = ±0, ±1 at ±inf, NaN propagates.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Tanh<T>(Vector512<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float)) return TanhF512(x.AsSingle()).As<float, T>();
        if (typeof(T) == typeof(double)) return TanhD512(x.AsDouble()).As<double, T>();
        ThrowNotSupported<T>();
        return default;
    }

    /// <summary>exp(x) - 1 with full relative accuracy near 0 (any x).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T ExpM1<T>(T x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float)) return (T)(object)ExpM1FS((float)(object)x);
        if (typeof(T) == typeof(double)) return (T)(object)ExpM1DS((double)(object)x);
        ThrowNotSupported<T>();
        return default;
    }

    /// <summary>exp(x) - 1 with full relative accuracy near 0 (any x).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> ExpM1<T>(Vector128<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float)) return ExpM1F128(x.AsSingle()).As<float, T>();
        if (typeof(T) == typeof(double)) return ExpM1D128(x.AsDouble()).As<double, T>();
        ThrowNotSupported<T>();
        return default;
    }

    /// <summary>exp(x) - 1 with full relative accuracy near 0 (any x).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> ExpM1<T>(Vector256<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float)) return ExpM1F256(x.AsSingle()).As<float, T>();
        if (typeof(T) == typeof(double)) return ExpM1D256(x.AsDouble()).As<double, T>();
        ThrowNotSupported<T>();
        return default;
    }

    /// <summary>exp(x) - 1 with full relative accuracy near 0 (any x).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> ExpM1<T>(Vector512<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float)) return ExpM1F512(x.AsSingle()).As<float, T>();
        if (typeof(T) == typeof(double)) return ExpM1D512(x.AsDouble()).As<double, T>();
        ThrowNotSupported<T>();
        return default;
    }

    /// <summary>log(1 + e) for e in [0, 1] with full relative accuracy near 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Log1p<T>(T x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float)) return (T)(object)Log1pFS((float)(object)x);
        if (typeof(T) == typeof(double)) return (T)(object)Log1pDS((double)(object)x);
        ThrowNotSupported<T>();
        return default;
    }

    /// <summary>log(1 + e) for e in [0, 1] with full relative accuracy near 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> Log1p<T>(Vector128<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float)) return Log1pF128(x.AsSingle()).As<float, T>();
        if (typeof(T) == typeof(double)) return Log1pD128(x.AsDouble()).As<double, T>();
        ThrowNotSupported<T>();
        return default;
    }

    /// <summary>log(1 + e) for e in [0, 1] with full relative accuracy near 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Log1p<T>(Vector256<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float)) return Log1pF256(x.AsSingle()).As<float, T>();
        if (typeof(T) == typeof(double)) return Log1pD256(x.AsDouble()).As<double, T>();
        ThrowNotSupported<T>();
        return default;
    }

    /// <summary>log(1 + e) for e in [0, 1] with full relative accuracy near 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Log1p<T>(Vector512<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float)) return Log1pF512(x.AsSingle()).As<float, T>();
        if (typeof(T) == typeof(double)) return Log1pD512(x.AsDouble()).As<double, T>();
        ThrowNotSupported<T>();
        return default;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float TanhFS(float x)
    {
        float a = float.Abs(x);
        float z = x * x;
        float p = -0.0014558343682438135f;
        p = float.MultiplyAddEstimate(p, z, 0.0035921279340982437f);
        p = float.MultiplyAddEstimate(p, z, -0.0088632358238101f);
        p = float.MultiplyAddEstimate(p, z, 0.021869488060474396f);
        p = float.MultiplyAddEstimate(p, z, -0.05396825447678566f);
        p = float.MultiplyAddEstimate(p, z, 0.13333334028720856f);
        p = float.MultiplyAddEstimate(p, z, -0.3333333432674408f);
        float small = float.MultiplyAddEstimate(x * z, p, x);
        if (a < 0.5f) return small;
        return float.CopySign(1f - 2f / (float.Exp(a + a) + 1f), x);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float ExpM1FS(float x)
    {
        float p = 2.4801587642286904e-05f;
        p = float.MultiplyAddEstimate(p, x, 0.00019841270113829523f);
        p = float.MultiplyAddEstimate(p, x, 0.0013888889225199819f);
        p = float.MultiplyAddEstimate(p, x, 0.008333333767950535f);
        p = float.MultiplyAddEstimate(p, x, 0.0416666679084301f);
        p = float.MultiplyAddEstimate(p, x, 0.1666666716337204f);
        p = float.MultiplyAddEstimate(p, x, 0.5f);
        float small = float.MultiplyAddEstimate(x * x, p, x);
        return float.Abs(x) < 0.5f ? small : float.Exp(x) - 1f;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Log1pFS(float e)
    {
        float s = e / (2f + e);
        float w = s * s;
        float p = 0.07692307978868484f;
        p = float.MultiplyAddEstimate(p, w, 0.09090909361839294f);
        p = float.MultiplyAddEstimate(p, w, 0.1111111119389534f);
        p = float.MultiplyAddEstimate(p, w, 0.1428571492433548f);
        p = float.MultiplyAddEstimate(p, w, 0.20000000298023224f);
        p = float.MultiplyAddEstimate(p, w, 0.3333333432674408f);
        float s2 = s + s;
        return float.MultiplyAddEstimate(s2 * w, p, s2);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> TanhF128(Vector128<float> x)
    {
        Vector128<float> a = Vector128.Abs(x);
        Vector128<float> z = x * x;
        Vector128<float> p = Vector128.Create(-0.0014558343682438135f);
        p = Vector128.MultiplyAddEstimate(p, z, Vector128.Create(0.0035921279340982437f));
        p = Vector128.MultiplyAddEstimate(p, z, Vector128.Create(-0.0088632358238101f));
        p = Vector128.MultiplyAddEstimate(p, z, Vector128.Create(0.021869488060474396f));
        p = Vector128.MultiplyAddEstimate(p, z, Vector128.Create(-0.05396825447678566f));
        p = Vector128.MultiplyAddEstimate(p, z, Vector128.Create(0.13333334028720856f));
        p = Vector128.MultiplyAddEstimate(p, z, Vector128.Create(-0.3333333432674408f));
        Vector128<float> small = Vector128.MultiplyAddEstimate(x * z, p, x);
        Vector128<float> large = Vector128.CopySign(Vector128<float>.One - Vector128.Create(2f) / (Exp(a + a) + Vector128<float>.One), x);
        return Vector128.ConditionalSelect(Vector128.LessThan(a, Vector128.Create(0.5f)), small, large);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> ExpM1F128(Vector128<float> x)
    {
        Vector128<float> p = Vector128.Create(2.4801587642286904e-05f);
        p = Vector128.MultiplyAddEstimate(p, x, Vector128.Create(0.00019841270113829523f));
        p = Vector128.MultiplyAddEstimate(p, x, Vector128.Create(0.0013888889225199819f));
        p = Vector128.MultiplyAddEstimate(p, x, Vector128.Create(0.008333333767950535f));
        p = Vector128.MultiplyAddEstimate(p, x, Vector128.Create(0.0416666679084301f));
        p = Vector128.MultiplyAddEstimate(p, x, Vector128.Create(0.1666666716337204f));
        p = Vector128.MultiplyAddEstimate(p, x, Vector128.Create(0.5f));
        Vector128<float> small = Vector128.MultiplyAddEstimate(x * x, p, x);
        Vector128<float> large = Exp(x) - Vector128<float>.One;
        return Vector128.ConditionalSelect(Vector128.LessThan(Vector128.Abs(x), Vector128.Create(0.5f)), small, large);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> Log1pF128(Vector128<float> e)
    {
        Vector128<float> s = e / (Vector128.Create(2f) + e);
        Vector128<float> w = s * s;
        Vector128<float> p = Vector128.Create(0.07692307978868484f);
        p = Vector128.MultiplyAddEstimate(p, w, Vector128.Create(0.09090909361839294f));
        p = Vector128.MultiplyAddEstimate(p, w, Vector128.Create(0.1111111119389534f));
        p = Vector128.MultiplyAddEstimate(p, w, Vector128.Create(0.1428571492433548f));
        p = Vector128.MultiplyAddEstimate(p, w, Vector128.Create(0.20000000298023224f));
        p = Vector128.MultiplyAddEstimate(p, w, Vector128.Create(0.3333333432674408f));
        Vector128<float> s2 = s + s;
        return Vector128.MultiplyAddEstimate(s2 * w, p, s2);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> TanhF256(Vector256<float> x)
    {
        Vector256<float> a = Vector256.Abs(x);
        Vector256<float> z = x * x;
        Vector256<float> p = Vector256.Create(-0.0014558343682438135f);
        p = Vector256.MultiplyAddEstimate(p, z, Vector256.Create(0.0035921279340982437f));
        p = Vector256.MultiplyAddEstimate(p, z, Vector256.Create(-0.0088632358238101f));
        p = Vector256.MultiplyAddEstimate(p, z, Vector256.Create(0.021869488060474396f));
        p = Vector256.MultiplyAddEstimate(p, z, Vector256.Create(-0.05396825447678566f));
        p = Vector256.MultiplyAddEstimate(p, z, Vector256.Create(0.13333334028720856f));
        p = Vector256.MultiplyAddEstimate(p, z, Vector256.Create(-0.3333333432674408f));
        Vector256<float> small = Vector256.MultiplyAddEstimate(x * z, p, x);
        Vector256<float> large = Vector256.CopySign(Vector256<float>.One - Vector256.Create(2f) / (Exp(a + a) + Vector256<float>.One), x);
        return Vector256.ConditionalSelect(Vector256.LessThan(a, Vector256.Create(0.5f)), small, large);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> ExpM1F256(Vector256<float> x)
    {
        Vector256<float> p = Vector256.Create(2.4801587642286904e-05f);
        p = Vector256.MultiplyAddEstimate(p, x, Vector256.Create(0.00019841270113829523f));
        p = Vector256.MultiplyAddEstimate(p, x, Vector256.Create(0.0013888889225199819f));
        p = Vector256.MultiplyAddEstimate(p, x, Vector256.Create(0.008333333767950535f));
        p = Vector256.MultiplyAddEstimate(p, x, Vector256.Create(0.0416666679084301f));
        p = Vector256.MultiplyAddEstimate(p, x, Vector256.Create(0.1666666716337204f));
        p = Vector256.MultiplyAddEstimate(p, x, Vector256.Create(0.5f));
        Vector256<float> small = Vector256.MultiplyAddEstimate(x * x, p, x);
        Vector256<float> large = Exp(x) - Vector256<float>.One;
        return Vector256.ConditionalSelect(Vector256.LessThan(Vector256.Abs(x), Vector256.Create(0.5f)), small, large);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Log1pF256(Vector256<float> e)
    {
        Vector256<float> s = e / (Vector256.Create(2f) + e);
        Vector256<float> w = s * s;
        Vector256<float> p = Vector256.Create(0.07692307978868484f);
        p = Vector256.MultiplyAddEstimate(p, w, Vector256.Create(0.09090909361839294f));
        p = Vector256.MultiplyAddEstimate(p, w, Vector256.Create(0.1111111119389534f));
        p = Vector256.MultiplyAddEstimate(p, w, Vector256.Create(0.1428571492433548f));
        p = Vector256.MultiplyAddEstimate(p, w, Vector256.Create(0.20000000298023224f));
        p = Vector256.MultiplyAddEstimate(p, w, Vector256.Create(0.3333333432674408f));
        Vector256<float> s2 = s + s;
        return Vector256.MultiplyAddEstimate(s2 * w, p, s2);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> TanhF512(Vector512<float> x)
    {
        Vector512<float> a = Vector512.Abs(x);
        Vector512<float> z = x * x;
        Vector512<float> p = Vector512.Create(-0.0014558343682438135f);
        p = Vector512.MultiplyAddEstimate(p, z, Vector512.Create(0.0035921279340982437f));
        p = Vector512.MultiplyAddEstimate(p, z, Vector512.Create(-0.0088632358238101f));
        p = Vector512.MultiplyAddEstimate(p, z, Vector512.Create(0.021869488060474396f));
        p = Vector512.MultiplyAddEstimate(p, z, Vector512.Create(-0.05396825447678566f));
        p = Vector512.MultiplyAddEstimate(p, z, Vector512.Create(0.13333334028720856f));
        p = Vector512.MultiplyAddEstimate(p, z, Vector512.Create(-0.3333333432674408f));
        Vector512<float> small = Vector512.MultiplyAddEstimate(x * z, p, x);
        Vector512<float> large = Vector512.CopySign(Vector512<float>.One - Vector512.Create(2f) / (Exp(a + a) + Vector512<float>.One), x);
        return Vector512.ConditionalSelect(Vector512.LessThan(a, Vector512.Create(0.5f)), small, large);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> ExpM1F512(Vector512<float> x)
    {
        Vector512<float> p = Vector512.Create(2.4801587642286904e-05f);
        p = Vector512.MultiplyAddEstimate(p, x, Vector512.Create(0.00019841270113829523f));
        p = Vector512.MultiplyAddEstimate(p, x, Vector512.Create(0.0013888889225199819f));
        p = Vector512.MultiplyAddEstimate(p, x, Vector512.Create(0.008333333767950535f));
        p = Vector512.MultiplyAddEstimate(p, x, Vector512.Create(0.0416666679084301f));
        p = Vector512.MultiplyAddEstimate(p, x, Vector512.Create(0.1666666716337204f));
        p = Vector512.MultiplyAddEstimate(p, x, Vector512.Create(0.5f));
        Vector512<float> small = Vector512.MultiplyAddEstimate(x * x, p, x);
        Vector512<float> large = Exp(x) - Vector512<float>.One;
        return Vector512.ConditionalSelect(Vector512.LessThan(Vector512.Abs(x), Vector512.Create(0.5f)), small, large);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Log1pF512(Vector512<float> e)
    {
        Vector512<float> s = e / (Vector512.Create(2f) + e);
        Vector512<float> w = s * s;
        Vector512<float> p = Vector512.Create(0.07692307978868484f);
        p = Vector512.MultiplyAddEstimate(p, w, Vector512.Create(0.09090909361839294f));
        p = Vector512.MultiplyAddEstimate(p, w, Vector512.Create(0.1111111119389534f));
        p = Vector512.MultiplyAddEstimate(p, w, Vector512.Create(0.1428571492433548f));
        p = Vector512.MultiplyAddEstimate(p, w, Vector512.Create(0.20000000298023224f));
        p = Vector512.MultiplyAddEstimate(p, w, Vector512.Create(0.3333333432674408f));
        Vector512<float> s2 = s + s;
        return Vector512.MultiplyAddEstimate(s2 * w, p, s2);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static double TanhDS(double x)
    {
        double a = double.Abs(x);
        double z = x * x;
        double p = 4.294911078273806e-07;
        p = double.MultiplyAddEstimate(p, z, -1.0597268320104654e-06);
        p = double.MultiplyAddEstimate(p, z, 2.6147711512907546e-06);
        p = double.MultiplyAddEstimate(p, z, -6.451689215655431e-06);
        p = double.MultiplyAddEstimate(p, z, 1.5918905069328964e-05);
        p = double.MultiplyAddEstimate(p, z, -3.927832388331683e-05);
        p = double.MultiplyAddEstimate(p, z, 9.691537956929451e-05);
        p = double.MultiplyAddEstimate(p, z, -0.00023912911424355248);
        p = double.MultiplyAddEstimate(p, z, 0.000590027440945586);
        p = double.MultiplyAddEstimate(p, z, -0.0014558343870513183);
        p = double.MultiplyAddEstimate(p, z, 0.003592128036572481);
        p = double.MultiplyAddEstimate(p, z, -0.008863235529902197);
        p = double.MultiplyAddEstimate(p, z, 0.021869488536155203);
        p = double.MultiplyAddEstimate(p, z, -0.05396825396825397);
        p = double.MultiplyAddEstimate(p, z, 0.13333333333333333);
        p = double.MultiplyAddEstimate(p, z, -0.3333333333333333);
        double small = double.MultiplyAddEstimate(x * z, p, x);
        if (a < 0.5) return small;
        return double.CopySign(1.0 - 2.0 / (double.Exp(a + a) + 1.0), x);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static double ExpM1DS(double x)
    {
        double p = 7.647163731819816e-13;
        p = double.MultiplyAddEstimate(p, x, 1.1470745597729725e-11);
        p = double.MultiplyAddEstimate(p, x, 1.6059043836821613e-10);
        p = double.MultiplyAddEstimate(p, x, 2.08767569878681e-09);
        p = double.MultiplyAddEstimate(p, x, 2.505210838544172e-08);
        p = double.MultiplyAddEstimate(p, x, 2.755731922398589e-07);
        p = double.MultiplyAddEstimate(p, x, 2.7557319223985893e-06);
        p = double.MultiplyAddEstimate(p, x, 2.48015873015873e-05);
        p = double.MultiplyAddEstimate(p, x, 0.0001984126984126984);
        p = double.MultiplyAddEstimate(p, x, 0.001388888888888889);
        p = double.MultiplyAddEstimate(p, x, 0.008333333333333333);
        p = double.MultiplyAddEstimate(p, x, 0.041666666666666664);
        p = double.MultiplyAddEstimate(p, x, 0.16666666666666666);
        p = double.MultiplyAddEstimate(p, x, 0.5);
        double small = double.MultiplyAddEstimate(x * x, p, x);
        return double.Abs(x) < 0.5 ? small : double.Exp(x) - 1.0;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static double Log1pDS(double e)
    {
        double s = e / (2.0 + e);
        double w = s * s;
        double p = 0.03225806451612903;
        p = double.MultiplyAddEstimate(p, w, 0.034482758620689655);
        p = double.MultiplyAddEstimate(p, w, 0.037037037037037035);
        p = double.MultiplyAddEstimate(p, w, 0.04);
        p = double.MultiplyAddEstimate(p, w, 0.043478260869565216);
        p = double.MultiplyAddEstimate(p, w, 0.047619047619047616);
        p = double.MultiplyAddEstimate(p, w, 0.05263157894736842);
        p = double.MultiplyAddEstimate(p, w, 0.058823529411764705);
        p = double.MultiplyAddEstimate(p, w, 0.06666666666666667);
        p = double.MultiplyAddEstimate(p, w, 0.07692307692307693);
        p = double.MultiplyAddEstimate(p, w, 0.09090909090909091);
        p = double.MultiplyAddEstimate(p, w, 0.1111111111111111);
        p = double.MultiplyAddEstimate(p, w, 0.14285714285714285);
        p = double.MultiplyAddEstimate(p, w, 0.2);
        p = double.MultiplyAddEstimate(p, w, 0.3333333333333333);
        double s2 = s + s;
        return double.MultiplyAddEstimate(s2 * w, p, s2);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<double> TanhD128(Vector128<double> x)
    {
        Vector128<double> a = Vector128.Abs(x);
        Vector128<double> z = x * x;
        Vector128<double> p = Vector128.Create(4.294911078273806e-07);
        p = Vector128.MultiplyAddEstimate(p, z, Vector128.Create(-1.0597268320104654e-06));
        p = Vector128.MultiplyAddEstimate(p, z, Vector128.Create(2.6147711512907546e-06));
        p = Vector128.MultiplyAddEstimate(p, z, Vector128.Create(-6.451689215655431e-06));
        p = Vector128.MultiplyAddEstimate(p, z, Vector128.Create(1.5918905069328964e-05));
        p = Vector128.MultiplyAddEstimate(p, z, Vector128.Create(-3.927832388331683e-05));
        p = Vector128.MultiplyAddEstimate(p, z, Vector128.Create(9.691537956929451e-05));
        p = Vector128.MultiplyAddEstimate(p, z, Vector128.Create(-0.00023912911424355248));
        p = Vector128.MultiplyAddEstimate(p, z, Vector128.Create(0.000590027440945586));
        p = Vector128.MultiplyAddEstimate(p, z, Vector128.Create(-0.0014558343870513183));
        p = Vector128.MultiplyAddEstimate(p, z, Vector128.Create(0.003592128036572481));
        p = Vector128.MultiplyAddEstimate(p, z, Vector128.Create(-0.008863235529902197));
        p = Vector128.MultiplyAddEstimate(p, z, Vector128.Create(0.021869488536155203));
        p = Vector128.MultiplyAddEstimate(p, z, Vector128.Create(-0.05396825396825397));
        p = Vector128.MultiplyAddEstimate(p, z, Vector128.Create(0.13333333333333333));
        p = Vector128.MultiplyAddEstimate(p, z, Vector128.Create(-0.3333333333333333));
        Vector128<double> small = Vector128.MultiplyAddEstimate(x * z, p, x);
        Vector128<double> large = Vector128.CopySign(Vector128<double>.One - Vector128.Create(2.0) / (Exp(a + a) + Vector128<double>.One), x);
        return Vector128.ConditionalSelect(Vector128.LessThan(a, Vector128.Create(0.5)), small, large);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<double> ExpM1D128(Vector128<double> x)
    {
        Vector128<double> p = Vector128.Create(7.647163731819816e-13);
        p = Vector128.MultiplyAddEstimate(p, x, Vector128.Create(1.1470745597729725e-11));
        p = Vector128.MultiplyAddEstimate(p, x, Vector128.Create(1.6059043836821613e-10));
        p = Vector128.MultiplyAddEstimate(p, x, Vector128.Create(2.08767569878681e-09));
        p = Vector128.MultiplyAddEstimate(p, x, Vector128.Create(2.505210838544172e-08));
        p = Vector128.MultiplyAddEstimate(p, x, Vector128.Create(2.755731922398589e-07));
        p = Vector128.MultiplyAddEstimate(p, x, Vector128.Create(2.7557319223985893e-06));
        p = Vector128.MultiplyAddEstimate(p, x, Vector128.Create(2.48015873015873e-05));
        p = Vector128.MultiplyAddEstimate(p, x, Vector128.Create(0.0001984126984126984));
        p = Vector128.MultiplyAddEstimate(p, x, Vector128.Create(0.001388888888888889));
        p = Vector128.MultiplyAddEstimate(p, x, Vector128.Create(0.008333333333333333));
        p = Vector128.MultiplyAddEstimate(p, x, Vector128.Create(0.041666666666666664));
        p = Vector128.MultiplyAddEstimate(p, x, Vector128.Create(0.16666666666666666));
        p = Vector128.MultiplyAddEstimate(p, x, Vector128.Create(0.5));
        Vector128<double> small = Vector128.MultiplyAddEstimate(x * x, p, x);
        Vector128<double> large = Exp(x) - Vector128<double>.One;
        return Vector128.ConditionalSelect(Vector128.LessThan(Vector128.Abs(x), Vector128.Create(0.5)), small, large);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<double> Log1pD128(Vector128<double> e)
    {
        Vector128<double> s = e / (Vector128.Create(2.0) + e);
        Vector128<double> w = s * s;
        Vector128<double> p = Vector128.Create(0.03225806451612903);
        p = Vector128.MultiplyAddEstimate(p, w, Vector128.Create(0.034482758620689655));
        p = Vector128.MultiplyAddEstimate(p, w, Vector128.Create(0.037037037037037035));
        p = Vector128.MultiplyAddEstimate(p, w, Vector128.Create(0.04));
        p = Vector128.MultiplyAddEstimate(p, w, Vector128.Create(0.043478260869565216));
        p = Vector128.MultiplyAddEstimate(p, w, Vector128.Create(0.047619047619047616));
        p = Vector128.MultiplyAddEstimate(p, w, Vector128.Create(0.05263157894736842));
        p = Vector128.MultiplyAddEstimate(p, w, Vector128.Create(0.058823529411764705));
        p = Vector128.MultiplyAddEstimate(p, w, Vector128.Create(0.06666666666666667));
        p = Vector128.MultiplyAddEstimate(p, w, Vector128.Create(0.07692307692307693));
        p = Vector128.MultiplyAddEstimate(p, w, Vector128.Create(0.09090909090909091));
        p = Vector128.MultiplyAddEstimate(p, w, Vector128.Create(0.1111111111111111));
        p = Vector128.MultiplyAddEstimate(p, w, Vector128.Create(0.14285714285714285));
        p = Vector128.MultiplyAddEstimate(p, w, Vector128.Create(0.2));
        p = Vector128.MultiplyAddEstimate(p, w, Vector128.Create(0.3333333333333333));
        Vector128<double> s2 = s + s;
        return Vector128.MultiplyAddEstimate(s2 * w, p, s2);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<double> TanhD256(Vector256<double> x)
    {
        Vector256<double> a = Vector256.Abs(x);
        Vector256<double> z = x * x;
        Vector256<double> p = Vector256.Create(4.294911078273806e-07);
        p = Vector256.MultiplyAddEstimate(p, z, Vector256.Create(-1.0597268320104654e-06));
        p = Vector256.MultiplyAddEstimate(p, z, Vector256.Create(2.6147711512907546e-06));
        p = Vector256.MultiplyAddEstimate(p, z, Vector256.Create(-6.451689215655431e-06));
        p = Vector256.MultiplyAddEstimate(p, z, Vector256.Create(1.5918905069328964e-05));
        p = Vector256.MultiplyAddEstimate(p, z, Vector256.Create(-3.927832388331683e-05));
        p = Vector256.MultiplyAddEstimate(p, z, Vector256.Create(9.691537956929451e-05));
        p = Vector256.MultiplyAddEstimate(p, z, Vector256.Create(-0.00023912911424355248));
        p = Vector256.MultiplyAddEstimate(p, z, Vector256.Create(0.000590027440945586));
        p = Vector256.MultiplyAddEstimate(p, z, Vector256.Create(-0.0014558343870513183));
        p = Vector256.MultiplyAddEstimate(p, z, Vector256.Create(0.003592128036572481));
        p = Vector256.MultiplyAddEstimate(p, z, Vector256.Create(-0.008863235529902197));
        p = Vector256.MultiplyAddEstimate(p, z, Vector256.Create(0.021869488536155203));
        p = Vector256.MultiplyAddEstimate(p, z, Vector256.Create(-0.05396825396825397));
        p = Vector256.MultiplyAddEstimate(p, z, Vector256.Create(0.13333333333333333));
        p = Vector256.MultiplyAddEstimate(p, z, Vector256.Create(-0.3333333333333333));
        Vector256<double> small = Vector256.MultiplyAddEstimate(x * z, p, x);
        Vector256<double> large = Vector256.CopySign(Vector256<double>.One - Vector256.Create(2.0) / (Exp(a + a) + Vector256<double>.One), x);
        return Vector256.ConditionalSelect(Vector256.LessThan(a, Vector256.Create(0.5)), small, large);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<double> ExpM1D256(Vector256<double> x)
    {
        Vector256<double> p = Vector256.Create(7.647163731819816e-13);
        p = Vector256.MultiplyAddEstimate(p, x, Vector256.Create(1.1470745597729725e-11));
        p = Vector256.MultiplyAddEstimate(p, x, Vector256.Create(1.6059043836821613e-10));
        p = Vector256.MultiplyAddEstimate(p, x, Vector256.Create(2.08767569878681e-09));
        p = Vector256.MultiplyAddEstimate(p, x, Vector256.Create(2.505210838544172e-08));
        p = Vector256.MultiplyAddEstimate(p, x, Vector256.Create(2.755731922398589e-07));
        p = Vector256.MultiplyAddEstimate(p, x, Vector256.Create(2.7557319223985893e-06));
        p = Vector256.MultiplyAddEstimate(p, x, Vector256.Create(2.48015873015873e-05));
        p = Vector256.MultiplyAddEstimate(p, x, Vector256.Create(0.0001984126984126984));
        p = Vector256.MultiplyAddEstimate(p, x, Vector256.Create(0.001388888888888889));
        p = Vector256.MultiplyAddEstimate(p, x, Vector256.Create(0.008333333333333333));
        p = Vector256.MultiplyAddEstimate(p, x, Vector256.Create(0.041666666666666664));
        p = Vector256.MultiplyAddEstimate(p, x, Vector256.Create(0.16666666666666666));
        p = Vector256.MultiplyAddEstimate(p, x, Vector256.Create(0.5));
        Vector256<double> small = Vector256.MultiplyAddEstimate(x * x, p, x);
        Vector256<double> large = Exp(x) - Vector256<double>.One;
        return Vector256.ConditionalSelect(Vector256.LessThan(Vector256.Abs(x), Vector256.Create(0.5)), small, large);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<double> Log1pD256(Vector256<double> e)
    {
        Vector256<double> s = e / (Vector256.Create(2.0) + e);
        Vector256<double> w = s * s;
        Vector256<double> p = Vector256.Create(0.03225806451612903);
        p = Vector256.MultiplyAddEstimate(p, w, Vector256.Create(0.034482758620689655));
        p = Vector256.MultiplyAddEstimate(p, w, Vector256.Create(0.037037037037037035));
        p = Vector256.MultiplyAddEstimate(p, w, Vector256.Create(0.04));
        p = Vector256.MultiplyAddEstimate(p, w, Vector256.Create(0.043478260869565216));
        p = Vector256.MultiplyAddEstimate(p, w, Vector256.Create(0.047619047619047616));
        p = Vector256.MultiplyAddEstimate(p, w, Vector256.Create(0.05263157894736842));
        p = Vector256.MultiplyAddEstimate(p, w, Vector256.Create(0.058823529411764705));
        p = Vector256.MultiplyAddEstimate(p, w, Vector256.Create(0.06666666666666667));
        p = Vector256.MultiplyAddEstimate(p, w, Vector256.Create(0.07692307692307693));
        p = Vector256.MultiplyAddEstimate(p, w, Vector256.Create(0.09090909090909091));
        p = Vector256.MultiplyAddEstimate(p, w, Vector256.Create(0.1111111111111111));
        p = Vector256.MultiplyAddEstimate(p, w, Vector256.Create(0.14285714285714285));
        p = Vector256.MultiplyAddEstimate(p, w, Vector256.Create(0.2));
        p = Vector256.MultiplyAddEstimate(p, w, Vector256.Create(0.3333333333333333));
        Vector256<double> s2 = s + s;
        return Vector256.MultiplyAddEstimate(s2 * w, p, s2);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<double> TanhD512(Vector512<double> x)
    {
        Vector512<double> a = Vector512.Abs(x);
        Vector512<double> z = x * x;
        Vector512<double> p = Vector512.Create(4.294911078273806e-07);
        p = Vector512.MultiplyAddEstimate(p, z, Vector512.Create(-1.0597268320104654e-06));
        p = Vector512.MultiplyAddEstimate(p, z, Vector512.Create(2.6147711512907546e-06));
        p = Vector512.MultiplyAddEstimate(p, z, Vector512.Create(-6.451689215655431e-06));
        p = Vector512.MultiplyAddEstimate(p, z, Vector512.Create(1.5918905069328964e-05));
        p = Vector512.MultiplyAddEstimate(p, z, Vector512.Create(-3.927832388331683e-05));
        p = Vector512.MultiplyAddEstimate(p, z, Vector512.Create(9.691537956929451e-05));
        p = Vector512.MultiplyAddEstimate(p, z, Vector512.Create(-0.00023912911424355248));
        p = Vector512.MultiplyAddEstimate(p, z, Vector512.Create(0.000590027440945586));
        p = Vector512.MultiplyAddEstimate(p, z, Vector512.Create(-0.0014558343870513183));
        p = Vector512.MultiplyAddEstimate(p, z, Vector512.Create(0.003592128036572481));
        p = Vector512.MultiplyAddEstimate(p, z, Vector512.Create(-0.008863235529902197));
        p = Vector512.MultiplyAddEstimate(p, z, Vector512.Create(0.021869488536155203));
        p = Vector512.MultiplyAddEstimate(p, z, Vector512.Create(-0.05396825396825397));
        p = Vector512.MultiplyAddEstimate(p, z, Vector512.Create(0.13333333333333333));
        p = Vector512.MultiplyAddEstimate(p, z, Vector512.Create(-0.3333333333333333));
        Vector512<double> small = Vector512.MultiplyAddEstimate(x * z, p, x);
        Vector512<double> large = Vector512.CopySign(Vector512<double>.One - Vector512.Create(2.0) / (Exp(a + a) + Vector512<double>.One), x);
        return Vector512.ConditionalSelect(Vector512.LessThan(a, Vector512.Create(0.5)), small, large);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<double> ExpM1D512(Vector512<double> x)
    {
        Vector512<double> p = Vector512.Create(7.647163731819816e-13);
        p = Vector512.MultiplyAddEstimate(p, x, Vector512.Create(1.1470745597729725e-11));
        p = Vector512.MultiplyAddEstimate(p, x, Vector512.Create(1.6059043836821613e-10));
        p = Vector512.MultiplyAddEstimate(p, x, Vector512.Create(2.08767569878681e-09));
        p = Vector512.MultiplyAddEstimate(p, x, Vector512.Create(2.505210838544172e-08));
        p = Vector512.MultiplyAddEstimate(p, x, Vector512.Create(2.755731922398589e-07));
        p = Vector512.MultiplyAddEstimate(p, x, Vector512.Create(2.7557319223985893e-06));
        p = Vector512.MultiplyAddEstimate(p, x, Vector512.Create(2.48015873015873e-05));
        p = Vector512.MultiplyAddEstimate(p, x, Vector512.Create(0.0001984126984126984));
        p = Vector512.MultiplyAddEstimate(p, x, Vector512.Create(0.001388888888888889));
        p = Vector512.MultiplyAddEstimate(p, x, Vector512.Create(0.008333333333333333));
        p = Vector512.MultiplyAddEstimate(p, x, Vector512.Create(0.041666666666666664));
        p = Vector512.MultiplyAddEstimate(p, x, Vector512.Create(0.16666666666666666));
        p = Vector512.MultiplyAddEstimate(p, x, Vector512.Create(0.5));
        Vector512<double> small = Vector512.MultiplyAddEstimate(x * x, p, x);
        Vector512<double> large = Exp(x) - Vector512<double>.One;
        return Vector512.ConditionalSelect(Vector512.LessThan(Vector512.Abs(x), Vector512.Create(0.5)), small, large);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<double> Log1pD512(Vector512<double> e)
    {
        Vector512<double> s = e / (Vector512.Create(2.0) + e);
        Vector512<double> w = s * s;
        Vector512<double> p = Vector512.Create(0.03225806451612903);
        p = Vector512.MultiplyAddEstimate(p, w, Vector512.Create(0.034482758620689655));
        p = Vector512.MultiplyAddEstimate(p, w, Vector512.Create(0.037037037037037035));
        p = Vector512.MultiplyAddEstimate(p, w, Vector512.Create(0.04));
        p = Vector512.MultiplyAddEstimate(p, w, Vector512.Create(0.043478260869565216));
        p = Vector512.MultiplyAddEstimate(p, w, Vector512.Create(0.047619047619047616));
        p = Vector512.MultiplyAddEstimate(p, w, Vector512.Create(0.05263157894736842));
        p = Vector512.MultiplyAddEstimate(p, w, Vector512.Create(0.058823529411764705));
        p = Vector512.MultiplyAddEstimate(p, w, Vector512.Create(0.06666666666666667));
        p = Vector512.MultiplyAddEstimate(p, w, Vector512.Create(0.07692307692307693));
        p = Vector512.MultiplyAddEstimate(p, w, Vector512.Create(0.09090909090909091));
        p = Vector512.MultiplyAddEstimate(p, w, Vector512.Create(0.1111111111111111));
        p = Vector512.MultiplyAddEstimate(p, w, Vector512.Create(0.14285714285714285));
        p = Vector512.MultiplyAddEstimate(p, w, Vector512.Create(0.2));
        p = Vector512.MultiplyAddEstimate(p, w, Vector512.Create(0.3333333333333333));
        Vector512<double> s2 = s + s;
        return Vector512.MultiplyAddEstimate(s2 * w, p, s2);
    }
}
