using System.Runtime.Intrinsics.X86;
using FlexNet.Kernels;
using Xunit;
using static FlexNet.Tests.Kernels.SimdTestSupport;

namespace FlexNet.Tests.Kernels;

/// <summary>
/// What the rerun of the ker17 files (session 17) still left: ops that only the autodiff tests ran (subtraction and
/// multiply-subtract), the refusals of BiasAct and WhereBackward that no kernel test reached, and the 2x2 max-pooling
/// backward's bad-index message.
/// </summary>
[Trait("Category", "Kernels")]
[Collection(SimdPathsCollection.Name)]
public sealed class KernelMutationGapTests17D
{
    [Fact]
    public void SubAndMulSub_AtEveryWidth_AreThePlainLoops()
    {
        var rng = new Random(17);
        foreach (int n in (int[])[1, 3, 4, 8, 15, 16, 17, 33, 70])
        {
            float[] a = new float[n], b = new float[n], c = new float[n];
            for (int i = 0; i < n; i++) { a[i] = (float)(rng.NextDouble() * 8 - 4); b[i] = (float)(rng.NextDouble() * 8 - 4); c[i] = (float)(rng.NextDouble() * 8 - 4); }
            ForEachPath(bits =>
            {
                var sub = new float[n];
                Simd.Map<SubOp<float>, float>(a, b, sub);
                var mulSub = new float[n];
                Simd.Map<MulSubOp<float>, float>(a, b, c, mulSub);
                for (int i = 0; i < n; i++)
                {
                    Assert.Equal(a[i] - b[i], sub[i]);
                    // x1 * x2 - x3 may be fused (one rounding) on a vector path: within one rounding of the product
                    double exact = (double)a[i] * b[i] - c[i];
                    Assert.True(Math.Abs(mulSub[i] - exact) <= 4e-6 * Math.Max(1.0, Math.Abs(exact)) + 2e-6,
                        $"width {bits}, n {n}, [{i}]: {a[i]} * {b[i]} - {c[i]} = {exact}, got {mulSub[i]}");
                }
            });
        }
    }

    [Fact]
    public void SubAndMulSub_InDouble_AreThePlainLoops()
    {
        double[] a = [1.5, -2.25, 3.0, 0.5, 7.0, -1.0, 2.0, 9.5, 4.25], b = [0.25, 4.0, -3.0, 2.0, 0.5, 6.0, -2.0, 1.5, 2.0];
        double[] c = [1.0, 1.0, -9.0, 0.25, 3.5, -6.0, 4.0, 14.25, 8.5];
        ForEachPath(bits =>
        {
            var sub = new double[a.Length];
            Simd.Map<SubOp<double>, double>(a, b, sub);
            var mulSub = new double[a.Length];
            Simd.Map<MulSubOp<double>, double>(a, b, c, mulSub);
            // every product and difference here is exact in double, so fused or not the results are these
            Assert.Equal([1.25, -6.25, 6.0, -1.5, 6.5, -7.0, 4.0, 8.0, 2.25], sub);
            Assert.Equal([-0.625, -10.0, 0.0, 0.75, 0.0, 0.0, -8.0, 0.0, 0.0], mulSub);
        });
    }

    [Fact]
    public void BiasAct_RefusesAnUnknownActivation_EvenOnAnEmptyInput()
    {
        var x = new float[6];
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => Activations.BiasAct<float>(x, [], x, 2, 3, (FusedActivation)4));
        Assert.Equal("Activations.BiasAct: unknown activation. (Parameter 'act')\nActual value was 4.", ex.Message);
        Assert.Equal("act", ex.ParamName);
        var empty = Assert.Throws<ArgumentOutOfRangeException>(() => Activations.BiasAct<float>([], [], [], 0, 3, (FusedActivation)(-1)));
        Assert.Equal("Activations.BiasAct: unknown activation. (Parameter 'act')\nActual value was -1.", empty.Message);
        // Sigmoid, the last one, is accepted
        Activations.BiasAct<float>(x, [], x, 2, 3, FusedActivation.Sigmoid);
        Assert.All(x, v => Assert.Equal(0.5f, v));
    }

    [Fact]
    public void WhereBackward_RefusesAGradientOfAnotherLength_WithTheWholeMessage()
    {
        var ex = Assert.Throws<ShapeMismatchException>(() => Activations.WhereBackward<double>([1, 0, 1], [1, 2], new double[3], new double[3]));
        Assert.Equal("Activations.WhereBackward: gy has 2 elements but mask has 3.", ex.Message);
    }

    [Fact]
    public void MaxBackward2x2_NamesTheOutputsAndTheGeometry_OfABadIndex()
    {
        // in 4 x 18 -> out 2 x 9: the 256-bit tier covers outputs 0..7 and 1..8 of each row, the 128-bit tier 0..3, 4..7, 5..8
        var g = new PoolGeometry(4, 18, 2, 2, 2, 2, 0, 0);
        var gy = new float[g.OutPlane];
        var at = new int[g.OutPlane];
        for (int oh = 0; oh < g.OutH; oh++)
            for (int ow = 0; ow < g.OutW; ow++) at[oh * g.OutW + ow] = 2 * oh * g.InW + 2 * ow;
        at[g.OutW] = 0; // output (1, 0) points into output (0, 0)'s window
        var gx = new float[g.InH * g.InW];
        string geometry = "in 4x18, kernel 2x2, stride 2x2, pad 0x0, dilation 1x1, ceil False, out 2x9";
        if (Avx2.IsSupported)
        {
            var ex = Assert.Throws<ArgumentOutOfRangeException>(() => PoolSimd.MaxBackward2x2(ref gy[0], ref at[0], ref gx[0], g));
            Assert.Equal($"MaxPool2dBackward: an index among outputs (1, 0..) is not in its 2x2 window ({geometry}). (Parameter 'indices')", ex.Message);
        }
        if (Sse2.IsSupported)
        {
            var ex = Assert.Throws<ArgumentOutOfRangeException>(() => PoolSimd.MaxBackward2x2Vector128(ref gy[0], ref at[0], ref gx[0], g));
            Assert.Equal($"MaxPool2dBackward: an index among outputs (1, 0..) is not in its 2x2 window ({geometry}). (Parameter 'indices')", ex.Message);
            Assert.Equal("indices", ex.ParamName);
        }
    }
}
