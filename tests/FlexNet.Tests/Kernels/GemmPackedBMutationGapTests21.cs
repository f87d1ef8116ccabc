using FlexNet.Kernels;
using Xunit;

namespace FlexNet.Tests.Kernels;

/// <summary><see cref="GemmPackedB{T}"/> beyond its products (survivors of session 21's run of the GEMM files): the pinned
/// buffer given back on a second pack and on dispose, the copy's alignment and room, k one short of a k block, column
/// counts one and two short of a panel, the epilogue's refusals and empty products. In the process-global collection:
/// <see cref="GemmPackedB{T}.LivePins"/> counts every pack of the process.</summary>
[Collection(SimdPathsCollection.Name)]
[Trait("Category", "Kernels")]
public sealed class GemmPackedBMutationGapTests21
{
    private static double[] RandomD(int length, int seed) => SimdTestSupport.Uniform(new Random(seed), length, -1, 1);

    private static float[] Random(int length, int seed) => SimdTestSupport.To<float>(RandomD(length, seed));

    private static IEnumerable<GemmProvider> Providers()
    {
        yield return GemmProvider.Managed;
        if (OpenBlas.IsAvailable) yield return GemmProvider.OpenBlas;
    }

    [Fact]
    public void PackingAgainAndDisposing_GiveBackThePinnedBuffer()
    {
        foreach (var provider in Providers())
        {
            int before = GemmPackedB<float>.LivePins;
            var packed = new GemmPackedB<float>();
            Assert.False(packed.HoldsPin);
            Assert.False(packed.IsPacked);
            Assert.Equal(before, GemmPackedB<float>.LivePins);
            var packing = new GemmPackedB<float>(provider, GemmKernelTier.Auto, false, 3, 5, Random(15, 1), 5);
            Assert.Equal(before + 1, GemmPackedB<float>.LivePins);
            Assert.True(packing.HoldsPin);
            Assert.True(packing.IsPacked);
            Assert.Equal(provider == GemmProvider.Managed, packing.IsManaged);
            packing.Dispose();
            Assert.False(packing.HoldsPin);
            Assert.Equal(before, GemmPackedB<float>.LivePins);
            packing.Dispose(); // a second dispose gives back nothing
            Assert.Equal(before, GemmPackedB<float>.LivePins);

            packed.Pack(false, 3, 5, Random(15, 2), 5);
            packed.Pack(true, 4, 2, Random(8, 3), 4); // the first packing is given back
            Assert.Equal(before + 1, GemmPackedB<float>.LivePins);
            packed.Dispose();
            Assert.Equal(before, GemmPackedB<float>.LivePins);
            Assert.False(packed.HoldsPin);
            Assert.False(packed.IsPacked);
        }
    }

    /// <summary>The copy starts on a 64-byte boundary inside the pinned buffer and fits in it: k × n elements in row
    /// order for OpenBLAS, k × n rounded up to whole panels for the managed kernels.</summary>
    [Theory]
    [InlineData(64, 40)]
    [InlineData(1, 1)]
    [InlineData(7, 33)]
    [InlineData(300, 3)]
    public void TheCopyIsAlignedAndFitsTheBuffer(int k, int n)
    {
        foreach (var provider in Providers())
        {
            using var f = new GemmPackedB<float>(provider, GemmKernelTier.Auto, false, k, n, Random(k * n, k + n), n);
            using var d = new GemmPackedB<double>(provider, GemmKernelTier.Auto, true, k, n, RandomD(k * n, k - n), k);
            Check(f, provider, k, n, sizeof(float));
            Check(d, provider, k, n, sizeof(double));
        }

        static void Check<T>(GemmPackedB<T> p, GemmProvider provider, int k, int n, int size)
            where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
        {
            long need = provider == GemmProvider.OpenBlas ? (long)k * n : (long)k * ((n + p.PanelWidth - 1) / p.PanelWidth * p.PanelWidth);
            Assert.Equal(0, p.DataAddress % 64);
            Assert.True(p.DataAddress >= p.BufferAddress, $"{provider}: the copy starts {p.BufferAddress - p.DataAddress} bytes before the buffer");
            long end = p.DataAddress + need * size, bufferEnd = p.BufferAddress + (long)p.BufferLength * size;
            Assert.True(end <= bufferEnd, $"{provider}, k={k}, n={n}: the copy ends {end - bufferEnd} bytes after the buffer");
        }
    }

    /// <summary>k one short of a k block (KC − 1, 2·KC − 1) and n one and two short of a panel: the products equal
    /// <see cref="Gemm"/>'s bit for bit (the same k blocks), at every tier, and the naive loop closely.</summary>
    [Fact]
    public void BlockAndPanelEdges_EqualGemmBitForBit()
    {
        for (var tier = GemmKernelTier.Scalar; tier <= Gemm.BestTier; tier++)
        {
            int kcF = Gemm.KBlock<float>(tier), kcD = Gemm.KBlock<double>(tier), nr = Gemm.PanelWidth<float>(tier);
            foreach (var (m, n, k) in new[] { (5, nr - 1, kcF - 1), (9, 2 * nr - 2, 2 * kcF - 1), (3, nr - 2, kcF + 1) })
            {
                var a = Random(m * k, m + k);
                var b = Random(k * n, n + k);
                using var packed = new GemmPackedB<float>(GemmProvider.Managed, tier, false, k, n, b, n);
                var got = new float[m * n];
                var want = new float[m * n];
                packed.Multiply(false, m, 1f, a, k, 0f, got, n);
                Gemm.Run(GemmProvider.Managed, tier, false, false, m, n, k, 1f, a, k, b, n, 0f, want, n);
                Assert.Equal(want, got);
                for (int i = 0; i < m; i++)
                    for (int j = 0; j < n; j++)
                    {
                        double s = 0;
                        for (int p = 0; p < k; p++) s += (double)a[i * k + p] * b[p * n + j];
                        Assert.True(Math.Abs(s - got[i * n + j]) <= 1e-4 * (1 + Math.Abs(s)), $"{tier} ({m}, {n}, {k}) [{i}, {j}]: {got[i * n + j]} vs {s}");
                    }
            }
            foreach (var (m, n, k) in new[] { (4, 7, kcD - 1), (6, 5, 2 * kcD - 1) })
            {
                var a = RandomD(m * k, m * k);
                var b = RandomD(k * n, k * n);
                using var packed = new GemmPackedB<double>(GemmProvider.Managed, tier, true, k, n, Transposed(b, k, n), k);
                var got = new double[m * n];
                var want = new double[m * n];
                packed.Multiply(false, m, 1d, a, k, 0d, got, n);
                Gemm.Run(GemmProvider.Managed, tier, false, false, m, n, k, 1d, a, k, b, n, 0d, want, n);
                Assert.Equal(want, got);
            }
        }
    }

    private static double[] Transposed(double[] b, int k, int n)
    {
        var t = new double[b.Length];
        for (int p = 0; p < k; p++)
            for (int j = 0; j < n; j++) t[j * k + p] = b[p * n + j];
        return t;
    }

    [Fact]
    public void BiasAndActivation_AreCheckedBeforeTheProduct()
    {
        using var packed = new GemmPackedB<float>(false, 3, 4, Random(12, 5), 4);
        var a = Random(6, 6);
        var c = new float[8];
        var ex = Assert.Throws<ShapeMismatchException>(() => packed.MultiplyBiasAct(false, 2, 1f, a, 3, 0f, c, 4, new float[3], FusedActivation.Relu));
        Assert.Equal("Gemm (m=2, n=4): the bias has 3 elements; expected 4 or none.", ex.Message);
        ex = Assert.Throws<ShapeMismatchException>(() => packed.MultiplyBiasAct(false, 2, 1f, a, 3, 0f, new float[10], 5, new float[4], FusedActivation.Relu));
        Assert.Equal("Gemm (m=2, n=4): bias and activation need a contiguous C (ldc=5, expected 4).", ex.Message);
        var bad = Assert.Throws<ArgumentOutOfRangeException>(() => packed.MultiplyBiasAct(false, 2, 1f, a, 3, 0f, c, 4, new float[4], (FusedActivation)9));
        Assert.StartsWith("Gemm: unknown activation.", bad.Message);
        ex = Assert.Throws<ShapeMismatchException>(() => packed.MultiplyBiasAct(false, 2, 1f, a, 3, 0f, new float[7], 4, new float[4], FusedActivation.Relu));
        Assert.Equal("Gemm (m=2, n=4): C [2, 4] does not fit a span of 7.", ex.Message);
        Assert.All(c, v => Assert.Equal(0f, v)); // nothing was written
    }

    /// <summary>An empty product (m = 0) needs no element of A or C, whatever their leading dimensions.</summary>
    [Fact]
    public void AnEmptyProduct_NeedsNoElements()
    {
        foreach (var provider in Providers())
        {
            using var packed = new GemmPackedB<double>(provider, GemmKernelTier.Auto, false, 3, 4, RandomD(12, 7), 4);
            packed.Multiply(false, 0, 1d, [], 0, 0d, [], 0);
            packed.Multiply(true, 0, 1d, [], 0, 0d, [], 0);
            packed.MultiplyBiasAct(false, 0, 1d, [], 0, 0d, [], 0, new double[4], FusedActivation.Tanh);
        }
    }

    [Fact]
    public void OtherElementTypes_AreRefusedByName()
    {
        var ex = Assert.Throws<NotSupportedException>(() => new GemmPackedB<Half>(false, 1, 1, [(Half)1], 1));
        Assert.Equal("GemmPackedB: element type Half is not supported (float, double).", ex.Message);
        Half[] h = [(Half)1];
        ex = Assert.Throws<NotSupportedException>(() => Gemm.RunBiasAct<Half>(false, false, 1, 1, 1, (Half)1, h, 1, h, 1, (Half)0, new Half[1], 1, [], FusedActivation.Linear));
        Assert.Equal("Gemm: element type Half is not supported (float, double).", ex.Message);
    }

    /// <summary>op(B) packed from B stored either way ([k, n], or [n, k] with a wider ldb) gives the product of loops
    /// over op(B), for each provider (the OpenBLAS copy reads B by its column stride when transposed).</summary>
    [Fact]
    public void BothStorageOrders_GiveTheLoopsProduct()
    {
        const int m = 3, n = 5, k = 4, ldT = 6;
        var b = RandomD(k * n, 11);          // op(B) [k, n]
        var bt = new double[n * ldT];         // stored [n, k] with ldb = 6
        for (int p = 0; p < k; p++)
            for (int j = 0; j < n; j++) bt[j * ldT + p] = b[p * n + j];
        var a = RandomD(m * k, 12);
        foreach (var provider in Providers())
            foreach (bool transB in new[] { false, true })
            {
                using var packed = transB
                    ? new GemmPackedB<double>(provider, GemmKernelTier.Auto, true, k, n, bt, ldT)
                    : new GemmPackedB<double>(provider, GemmKernelTier.Auto, false, k, n, b, n);
                var c = new double[m * n];
                packed.Multiply(false, m, 1d, a, k, 0d, c, n);
                for (int i = 0; i < m; i++)
                    for (int j = 0; j < n; j++)
                    {
                        double want = 0;
                        for (int p = 0; p < k; p++) want += a[i * k + p] * b[p * n + j];
                        Assert.True(Math.Abs(want - c[i * n + j]) <= 1e-12, $"{provider}, transB {transB}: C[{i}, {j}] = {c[i * n + j]}, loops {want}");
                    }
            }
    }
}
