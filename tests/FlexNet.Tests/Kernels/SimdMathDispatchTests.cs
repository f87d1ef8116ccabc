using System.Runtime.Intrinsics;
using FlexNet.Kernels;
using Xunit;

namespace FlexNet.Tests.Kernels;

/// <summary>
/// <c>SimdMath</c>'s element-type dispatch of Exp, Log and MulAdd at every vector width: float and double lanes against
/// <see cref="Math"/>, and any other element type refused with the message naming it.
/// </summary>
[Trait("Category", "Kernels")]
public sealed class SimdMathDispatchTests
{
    private static readonly double[] Xs = [-3.5, -1.25, -0.5, 0.0, 0.3, 1.0, 2.75, 7.5];
    private static readonly double[] Positives = [0.125, 0.5, 1.0, 1.5, 2.0, 3.25, 10.0, 1000.0];

    private static void Lanes(int count, Func<int, double> got, Func<int, double> expected, double rtol, string what)
    {
        for (int i = 0; i < count; i++)
        {
            double e = expected(i), g = got(i);
            Assert.True(Math.Abs(g - e) <= rtol * Math.Max(1.0, Math.Abs(e)), $"{what} lane {i}: expected {e}, got {g}");
        }
    }

    [Fact]
    public void Exp_Log_MulAdd_OfFloatLanes_AtEveryWidth()
    {
        float[] x = Array.ConvertAll(Xs, v => (float)v), p = Array.ConvertAll(Positives, v => (float)v);
        float[] b = [2f, -1f, 0.5f, 3f, -2f, 4f, 1.5f, -0.25f], c = [1f, 2f, -3f, 0.5f, 7f, -1f, 0f, 9f];
        Lanes(4, i => SimdMath.Exp(Vector128.Create(x))[i], i => Math.Exp(x[i]), 4e-7, "Exp128<float>");
        Lanes(8, i => SimdMath.Exp(Vector256.Create(x))[i], i => Math.Exp(x[i]), 4e-7, "Exp256<float>");
        Lanes(4, i => SimdMath.Log(Vector128.Create(p))[i], i => Math.Log(p[i]), 4e-7, "Log128<float>");
        Lanes(8, i => SimdMath.Log(Vector256.Create(p))[i], i => Math.Log(p[i]), 4e-7, "Log256<float>");
        Lanes(4, i => SimdMath.MulAdd(Vector128.Create(x), Vector128.Create(b), Vector128.Create(c))[i], i => (double)x[i] * b[i] + c[i], 1e-6, "MulAdd128<float>");
        Lanes(8, i => SimdMath.MulAdd(Vector256.Create(x), Vector256.Create(b), Vector256.Create(c))[i], i => (double)x[i] * b[i] + c[i], 1e-6, "MulAdd256<float>");
        float[] x16 = [.. x, .. x], p16 = [.. p, .. p], b16 = [.. b, .. b], c16 = [.. c, .. c];
        Lanes(16, i => SimdMath.Exp(Vector512.Create(x16))[i], i => Math.Exp(x16[i]), 4e-7, "Exp512<float>");
        Lanes(16, i => SimdMath.Log(Vector512.Create(p16))[i], i => Math.Log(p16[i]), 4e-7, "Log512<float>");
        Lanes(16, i => SimdMath.MulAdd(Vector512.Create(x16), Vector512.Create(b16), Vector512.Create(c16))[i], i => (double)x16[i] * b16[i] + c16[i], 1e-6, "MulAdd512<float>");
    }

    [Fact]
    public void Exp_Log_MulAdd_OfDoubleLanes_AtEveryWidth()
    {
        double[] b = [2, -1, 0.5, 3, -2, 4, 1.5, -0.25], c = [1, 2, -3, 0.5, 7, -1, 0, 9];
        Lanes(2, i => SimdMath.Exp(Vector128.Create(Xs))[i], i => Math.Exp(Xs[i]), 1e-15, "Exp128<double>");
        Lanes(4, i => SimdMath.Exp(Vector256.Create(Xs))[i], i => Math.Exp(Xs[i]), 1e-15, "Exp256<double>");
        Lanes(8, i => SimdMath.Exp(Vector512.Create(Xs))[i], i => Math.Exp(Xs[i]), 1e-15, "Exp512<double>");
        Lanes(2, i => SimdMath.Log(Vector128.Create(Positives))[i], i => Math.Log(Positives[i]), 1e-15, "Log128<double>");
        Lanes(4, i => SimdMath.Log(Vector256.Create(Positives))[i], i => Math.Log(Positives[i]), 1e-15, "Log256<double>");
        Lanes(8, i => SimdMath.Log(Vector512.Create(Positives))[i], i => Math.Log(Positives[i]), 1e-15, "Log512<double>");
        // every product and sum here is exact in double
        Lanes(2, i => SimdMath.MulAdd(Vector128.Create(Xs), Vector128.Create(b), Vector128.Create(c))[i], i => Xs[i] * b[i] + c[i], 0, "MulAdd128<double>");
        Lanes(4, i => SimdMath.MulAdd(Vector256.Create(Xs), Vector256.Create(b), Vector256.Create(c))[i], i => Xs[i] * b[i] + c[i], 0, "MulAdd256<double>");
        Lanes(8, i => SimdMath.MulAdd(Vector512.Create(Xs), Vector512.Create(b), Vector512.Create(c))[i], i => Xs[i] * b[i] + c[i], 0, "MulAdd512<double>");
    }

    [Fact]
    public void OtherElementTypes_AreRefused_WithTheTypeNamed()
    {
        const string Int = "FlexNet kernels support float and double only, not Int32.";
        const string Long = "FlexNet kernels support float and double only, not Int64.";
        Assert.Equal(Int, Assert.Throws<NotSupportedException>(() => SimdMath.Exp(Vector128.Create(1))).Message);
        Assert.Equal(Int, Assert.Throws<NotSupportedException>(() => SimdMath.Exp(Vector256.Create(1))).Message);
        Assert.Equal(Int, Assert.Throws<NotSupportedException>(() => SimdMath.Exp(Vector512.Create(1))).Message);
        Assert.Equal(Long, Assert.Throws<NotSupportedException>(() => SimdMath.Log(Vector128.Create(1L))).Message);
        Assert.Equal(Long, Assert.Throws<NotSupportedException>(() => SimdMath.Log(Vector256.Create(1L))).Message);
        Assert.Equal(Long, Assert.Throws<NotSupportedException>(() => SimdMath.Log(Vector512.Create(1L))).Message);
        Assert.Equal(Int, Assert.Throws<NotSupportedException>(() => SimdMath.MulAdd(Vector128.Create(1), Vector128.Create(2), Vector128.Create(3))).Message);
        Assert.Equal(Int, Assert.Throws<NotSupportedException>(() => SimdMath.MulAdd(Vector256.Create(1), Vector256.Create(2), Vector256.Create(3))).Message);
        Assert.Equal(Int, Assert.Throws<NotSupportedException>(() => SimdMath.MulAdd(Vector512.Create(1), Vector512.Create(2), Vector512.Create(3))).Message);
    }
}
