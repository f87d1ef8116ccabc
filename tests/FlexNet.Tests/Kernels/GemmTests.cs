// Over 400 lines on purpose: the GEMM against a naive product for every kernel tier, tail length, transpose,
// provider and split (serial, row/column tasks, shared packing, bursts), sharing the theory data and helpers.
using FlexNet.Kernels;
using Xunit;

namespace FlexNet.Tests.Kernels;

[Trait("Category", "Kernels")]
public sealed class GemmTests
{
    // ------------------------------------------------------------------ theory data

    /// <summary>Every micro-kernel tier this machine accelerates (as ints: the enum is internal).</summary>
    public static TheoryData<int> Tiers()
    {
        var d = new TheoryData<int>();
        for (var t = GemmKernelTier.Scalar; t <= Gemm.BestTier; t++) d.Add((int)t);
        return d;
    }

    /// <summary>Managed (best tier) and OpenBLAS.</summary>
    public static TheoryData<int> Providers() => new() { (int)GemmProvider.Managed, (int)GemmProvider.OpenBlas };

    private static readonly (bool TA, bool TB)[] TransCombos = [(false, false), (false, true), (true, false), (true, true)];

    // ------------------------------------------------------------------ tail sweeps

    [Theory]
    [MemberData(nameof(Tiers))]
    public void Float_AllTailLengths_MatchesNaive(int tier)
    {
        var rng = new Random(1000 + tier);
        foreach (bool pack in new[] { false, true })
        using (ForcePacking(pack))
        foreach (var (ta, tb) in TransCombos)
            for (int m = 1; m <= 17; m++)
                for (int n = 1; n <= 40; n++)
                    foreach (int k in new[] { 1, 3, 17 })
                    {
                        int pad = (m + n + k) % 3; // mixes ld == width and ld > width
                        CheckFloat(GemmProvider.Managed, (GemmKernelTier)tier, ta, tb, m, n, k,
                            alpha: 1f, beta: (m + n) % 2 == 0 ? 0f : 1f, pad, pad + 1, pad, rng);
                    }
    }

    [Theory]
    [MemberData(nameof(Tiers))]
    public void Double_AllTailLengths_MatchesNaive(int tier)
    {
        var rng = new Random(2000 + tier);
        foreach (bool pack in new[] { false, true })
        using (ForcePacking(pack))
        foreach (var (ta, tb) in TransCombos)
            for (int m = 1; m <= 17; m++)
                for (int n = 1; n <= 40; n++)
                    foreach (int k in new[] { 1, 3, 17 })
                    {
                        int pad = (m + n + k) % 3;
                        CheckDouble(GemmProvider.Managed, (GemmKernelTier)tier, ta, tb, m, n, k,
                            alpha: 1d, beta: (m + n) % 2 == 0 ? 0d : 1d, pad, pad + 1, pad, rng);
                    }
    }

    [Theory]
    [MemberData(nameof(Tiers))]
    public void Float_AllKLengths_MatchesNaive(int tier)
    {
        var rng = new Random(3000 + tier);
        foreach (bool pack in new[] { false, true })
        using (ForcePacking(pack))
        foreach (var (ta, tb) in TransCombos)
            for (int k = 1; k <= 40; k++)
                foreach (var (m, n) in new[] { (1, 1), (9, 33), (13, 7) })
                    CheckFloat(GemmProvider.Managed, (GemmKernelTier)tier, ta, tb, m, n, k,
                        alpha: -0.75f, beta: 0.5f, 1, 0, 2, rng);
    }

    // ------------------------------------------------------------------ larger / odd shapes, every path

    /// <summary>
    /// Shapes that reach the packed paths (operands above the in-place limit), several KC blocks, both parallel
    /// splits (m ≥ n and m &lt; n), single-row and single-column problems, and large leading dimensions.
    /// </summary>
    private static readonly (int M, int N, int K)[] BigShapes =
    [
        (67, 131, 259), (1, 1000, 1), (1000, 1, 3), (3, 1000, 300), (300, 3, 500), (20, 700, 150),
        (129, 65, 513), (64, 64, 64), (256, 33, 600), (41, 97, 1), (1100, 1030, 5),
    ];

    [Theory]
    [MemberData(nameof(Tiers))]
    public void Float_BigShapes_AllTrans_AlphaBeta(int tier)
    {
        var rng = new Random(4000 + tier);
        foreach (var (m, n, k) in BigShapes)
            foreach (var (ta, tb) in TransCombos)
                CheckFloat(GemmProvider.Managed, (GemmKernelTier)tier, ta, tb, m, n, k,
                    [(1f, 0f), (-1.5f, 1f), (0.5f, -2f)], 3, 5, 7, rng);
    }

    [Theory]
    [MemberData(nameof(Tiers))]
    public void Double_BigShapes_AllTrans_AlphaBeta(int tier)
    {
        var rng = new Random(5000 + tier);
        foreach (var (m, n, k) in BigShapes)
            foreach (var (ta, tb) in TransCombos)
                CheckDouble(GemmProvider.Managed, (GemmKernelTier)tier, ta, tb, m, n, k,
                    [(1d, 0d), (2d, 1d), (-0.25d, 0.75d)], 2, 0, 9, rng);
    }

    // ------------------------------------------------------------------ providers

    [Theory]
    [MemberData(nameof(Providers))]
    public void Providers_Float_MatchNaive(int provider)
    {
        var p = (GemmProvider)provider;
        SkipIfUnavailable(p);
        var rng = new Random(6000 + provider);
        foreach (var (ta, tb) in TransCombos)
        {
            foreach (var (m, n, k) in new[] { (1, 1, 1), (7, 5, 3), (33, 17, 40), (67, 131, 259), (1, 1000, 1) })
            {
                CheckFloat(p, GemmKernelTier.Auto, ta, tb, m, n, k, 1f, 0f, 0, 0, 0, rng);
                CheckFloat(p, GemmKernelTier.Auto, ta, tb, m, n, k, -0.5f, 1.5f, 3, 1, 4, rng);
            }
        }
    }

    [Theory]
    [MemberData(nameof(Providers))]
    public void Providers_Double_MatchNaive(int provider)
    {
        var p = (GemmProvider)provider;
        SkipIfUnavailable(p);
        var rng = new Random(7000 + provider);
        foreach (var (ta, tb) in TransCombos)
        {
            foreach (var (m, n, k) in new[] { (1, 1, 1), (7, 5, 3), (33, 17, 40), (67, 131, 259), (1000, 1, 2) })
            {
                CheckDouble(p, GemmKernelTier.Auto, ta, tb, m, n, k, 1d, 0d, 0, 0, 0, rng);
                CheckDouble(p, GemmKernelTier.Auto, ta, tb, m, n, k, 2.5d, -1d, 2, 3, 1, rng);
            }
        }
    }

    [Theory]
    [MemberData(nameof(Providers))]
    public void BetaZero_OverwritesNaNAndInfinity(int provider)
    {
        var p = (GemmProvider)provider;
        SkipIfUnavailable(p);
        foreach (int size in new[] { 3, 40, 150 })
        {
            float[] a = Filled(size * size, 1f), b = Filled(size * size, 2f);
            float[] c = new float[size * size];
            for (int i = 0; i < c.Length; i++) c[i] = i % 2 == 0 ? float.NaN : float.NegativeInfinity;
            Gemm.Run(p, GemmKernelTier.Auto, false, false, size, size, size, 1f, a, size, b, size, 0f, c, size);
            Assert.All(c, v => Assert.Equal(2f * size, v));

            double[] ad = Filled(size * size, 1d), bd = Filled(size * size, 2d);
            double[] cd = new double[size * size];
            Array.Fill(cd, double.NaN);
            Gemm.Run(p, GemmKernelTier.Auto, true, true, size, size, size, 1d, ad, size, bd, size, 0d, cd, size);
            Assert.All(cd, v => Assert.Equal(2d * size, v));
        }
    }

    [Theory]
    [MemberData(nameof(Providers))]
    public void KZeroOrAlphaZero_ScalesC(int provider)
    {
        var p = (GemmProvider)provider;
        SkipIfUnavailable(p);
        float[] c = [1f, 2f, 3f, 4f, 5f, 6f];
        Gemm.Run(p, GemmKernelTier.Auto, false, false, 2, 3, 0, 1f, [], 0, [], 3, 2f, c, 3);
        Assert.Equal([2f, 4f, 6f, 8f, 10f, 12f], c);

        float[] nanC = [float.NaN, float.NaN, float.NaN, float.NaN];
        Gemm.Run(p, GemmKernelTier.Auto, false, false, 2, 2, 0, 1f, [], 0, [], 2, 0f, nanC, 2);
        Assert.Equal([0f, 0f, 0f, 0f], nanC);

        float[] a = [1f, 2f, 3f, 4f];
        double[] cd = [1d, -1d, 2d, -2d];
        double[] ad = [1d, 2d, 3d, 4d];
        Gemm.Run(p, GemmKernelTier.Auto, false, false, 2, 2, 2, 0d, ad, 2, ad, 2, -1d, cd, 2);
        Assert.Equal([-1d, 1d, -2d, 2d], cd);

        float[] cf = [float.NaN, 1f, 2f, 3f];
        Gemm.Run(p, GemmKernelTier.Auto, false, false, 2, 2, 2, 0f, a, 2, a, 2, 0f, cf, 2);
        Assert.Equal([0f, 0f, 0f, 0f], cf);
    }

    [Fact]
    public void ProviderProperty_RejectsOpenBlasWhenAbsent_AndReportsAvailability()
    {
        Assert.Equal(OpenBlas.IsAvailable, Gemm.OpenBlasAvailable);
        if (Gemm.OpenBlasAvailable)
        {
            Assert.Contains("loaded", OpenBlas.Description);
            return;
        }
        var ex = Assert.Throws<FlexNetException>(() => Gemm.Provider = GemmProvider.OpenBlas);
        Assert.Contains("OpenBLAS is not available", ex.Message);
    }

    // ------------------------------------------------------------------ determinism, generic entry, validation

    [Theory]
    [MemberData(nameof(Tiers))]
    public void ParallelResult_IsBitwiseEqualToSingleThread(int tier)
    {
        foreach (var (m, n, k) in new[] { (300, 200, 300), (40, 900, 70), (67, 131, 259) })
        {
            var rng = new Random(m + n + k);
            float[] a = Random(rng, m * k), b = Random(rng, k * n), c0 = Random(rng, m * n);
            float[] par = (float[])c0.Clone(), ser = (float[])c0.Clone();
            Gemm.Run(GemmProvider.Managed, (GemmKernelTier)tier, false, true, m, n, k, 0.5f, a, k, b, k, 1.5f,
                par, n);
            SerialFloat((GemmKernelTier)tier, m, n, k, a, b, ser);
            Assert.Equal(ser, par);
        }
    }

    [Fact]
    public void MidSizeProducts_SplitOnlyInABurst_WithTheSameBits()
    {
        // 64 x 80 x 72 = 368,640 multiply-adds: between the burst threshold (2^18) and the parallel one (2^20).
        if (Environment.ProcessorCount < 2) Assert.Skip("one core: nothing splits");
        const int m = 64, n = 80, k = 72;
        var rng = new Random(5);
        float[] a = Random(rng, m * k), b = Random(rng, k * n), c0 = Random(rng, m * n);
        float[] ser = (float[])c0.Clone();
        SerialFloat(Gemm.BestTier, m, n, k, a, b, ser);
        float[] c = (float[])c0.Clone();
        int before = GemmDriver<float, Kernel512<float>>.SplitsOnThisThread
                     + GemmDriver<float, Kernel256<float>>.SplitsOnThisThread
                     + GemmDriver<float, Kernel128<float>>.SplitsOnThisThread
                     + GemmDriver<float, KernelScalar<float>>.SplitsOnThisThread;
        int Splits() => GemmDriver<float, Kernel512<float>>.SplitsOnThisThread
                        + GemmDriver<float, Kernel256<float>>.SplitsOnThisThread
                        + GemmDriver<float, Kernel128<float>>.SplitsOnThisThread
                        + GemmDriver<float, KernelScalar<float>>.SplitsOnThisThread - before;
        // alone (the last mid-size product on this thread is long past): on the calling thread
        Thread.Sleep(5);
        c0.CopyTo(c, 0);
        Gemm.Run(GemmProvider.Managed, GemmKernelTier.Auto, false, true, m, n, k, 0.5f, a, k, b, k, 1.5f, c, n);
        Assert.Equal(ser, c);
        Assert.Equal(0, Splits());
        // back to back: the later ones split, and every one gives the serial bits
        var outs = new float[50][];
        for (int i = 0; i < outs.Length; i++) outs[i] = (float[])c0.Clone();
        for (int i = 0; i < outs.Length; i++)
            Gemm.Run(GemmProvider.Managed, GemmKernelTier.Auto, false, true, m, n, k, 0.5f, a, k, b, k, 1.5f, outs[i], n);
        Assert.InRange(Splits(), 1, outs.Length - 1); // the first of the burst cannot know it is one
        foreach (var o in outs) Assert.Equal(ser, o);
        // below the burst threshold (32 x 80 x 72) nothing splits, however close the calls
        int atSmall = Splits();
        for (int i = 0; i < 5; i++)
            Gemm.Run(GemmProvider.Managed, GemmKernelTier.Auto, false, true, m / 2, n, k, 0.5f, a, k, b, k, 1.5f, c, n);
        Assert.Equal(atSmall, Splits());
    }

    [Fact]
    public void SingleRow_GivesTheSameBitsAsThatRowOfALargerProduct()
    {
        // The m = 1 (matrix-vector) path accumulates in the micro-kernels' order; holds where both use FMA.
        if (Gemm.BestTier < GemmKernelTier.Vector512 && !System.Runtime.Intrinsics.X86.Fma.IsSupported)
            Assert.Skip("the fallback kernels multiply and add separately, the vector path fuses");
        var rng = new Random(77);
        foreach (var (n, k) in new[] { (37, 5), (100, 64), (700, 900), (1000, 1) })
        {
            float[] a = Random(rng, 9 * k), b = Random(rng, k * n), c0 = Random(rng, 9 * n);
            float[] big = (float[])c0.Clone(), one = c0.AsSpan(0, n).ToArray();
            Gemm.Run(false, false, 9, n, k, 0.75f, a, k, b, n, -1.25f, big, n);
            Gemm.Run(false, false, 1, n, k, 0.75f, a.AsSpan(0, k), k, b, n, -1.25f, one, n);
            Assert.Equal(big.AsSpan(0, n).ToArray(), one);
        }
    }

    [Theory]
    [MemberData(nameof(Tiers))]
    public void RowTasksWithOwnPackedB_MatchNaive_AndSharedPacking(int tier)
    {
        var rng = new Random(8000 + tier);
        bool old = Gemm.NoSharedPackingOnThisThread;
        try
        {
            foreach (var (m, n, k) in new[] { (129, 65, 513), (300, 200, 300), (1100, 1030, 5) })
            {
                foreach (var (ta, tb) in TransCombos)
                {
                    Gemm.NoSharedPackingOnThisThread = true;
                    CheckFloat(GemmProvider.Managed, (GemmKernelTier)tier, ta, tb, m, n, k, [(1f, 0f), (0.5f, 2f)],
                        1, 2, 3, rng);
                }
                float[] a = Random(rng, m * k), b = Random(rng, k * n), c0 = Random(rng, m * n);
                float[] own = (float[])c0.Clone(), shared = (float[])c0.Clone();
                Gemm.NoSharedPackingOnThisThread = true;
                Gemm.Run(GemmProvider.Managed, (GemmKernelTier)tier, false, false, m, n, k, 1.5f, a, k, b, n, -1f,
                    own, n);
                Gemm.NoSharedPackingOnThisThread = false;
                Gemm.Run(GemmProvider.Managed, (GemmKernelTier)tier, false, false, m, n, k, 1.5f, a, k, b, n, -1f,
                    shared, n);
                Assert.Equal(own, shared);
            }
        }
        finally
        {
            Gemm.NoSharedPackingOnThisThread = old;
        }
    }

    [Theory]
    [MemberData(nameof(Tiers))]
    public void RowsReadInPlace_GiveThePackedBits(int tier)
    {
        // Above the 32 KB in-place limit, A with contiguous rows is read in place by the 6 x 16 AVX2 tile and packed
        // by the others; with packing forced, every tier packs. The accumulation order is the same, so the bits are.
        var rng = new Random(8500 + tier);
        foreach (var (m, n, k, padA) in new[] { (256, 256, 256, 0), (131, 70, 300, 5), (7, 300, 1200, 3) })
        {
            foreach (bool tb in new[] { false, true })
            {
                CheckFloat(GemmProvider.Managed, (GemmKernelTier)tier, false, tb, m, n, k, [(1f, 0f), (0.5f, -1f)],
                    padA, 1, 2, rng);
                int lda = k + padA, ldb = tb ? k : n;
                float[] a = Random(rng, (m - 1) * lda + k), b = Random(rng, tb ? n * k : k * n), c0 = Random(rng, m * n);
                float[] inPlace = (float[])c0.Clone(), packed = (float[])c0.Clone();
                Gemm.Run(GemmProvider.Managed, (GemmKernelTier)tier, false, tb, m, n, k, 1.5f, a, lda, b, ldb, -0.5f,
                    inPlace, n);
                using (ForcePacking(true))
                    Gemm.Run(GemmProvider.Managed, (GemmKernelTier)tier, false, tb, m, n, k, 1.5f, a, lda, b, ldb,
                        -0.5f, packed, n);
                Assert.Equal(packed, inPlace);
            }
        }
    }

    [Fact]
    public void SquareProducts_SplitByColumns_WhereTheirTilesSpreadMoreEvenly()
    {
        // 6 x 16 tile, two cores: 256 columns are 8 + 8 panels (8 * 16 * 256 = 32,768 per core) against 43 row panels,
        // 22 + 21 (22 * 6 * 256 = 33,792): 3 % less, so columns. 1024 x 1024: 32 * 16 * 1024 = 524,288 against
        // 86 * 6 * 1024 = 528,384, under the 2 % margin, so rows.
        Assert.True(GemmDriver<float, Kernel256<float>>.ColumnsSpreadBetter(256, 256, 2));
        Assert.False(GemmDriver<float, Kernel256<float>>.ColumnsSpreadBetter(1024, 1024, 2));
        Assert.False(GemmDriver<float, Kernel256<float>>.ColumnsSpreadBetter(1024, 512, 2));
        // 96 rows are 16 panels, 8 + 8 (exactly even), 48 columns are 3 panels, 2 + 1: rows
        Assert.False(GemmDriver<float, Kernel256<float>>.ColumnsSpreadBetter(96, 48, 2));
        // one core: 16 * 16 * 256 = 65,536 against 43 * 6 * 256 = 66,048, under 2 %: rows
        Assert.False(GemmDriver<float, Kernel256<float>>.ColumnsSpreadBetter(256, 256, 1));
        // four cores, 128 x 200: 13 column panels, 4 on the busiest core (4 * 16 * 128 = 8,192), against 22 row panels,
        // 6 on the busiest (6 * 6 * 200 = 7,200): rows
        Assert.False(GemmDriver<float, Kernel256<float>>.ColumnsSpreadBetter(128, 200, 4));

        if (Environment.ProcessorCount < 2 || Gemm.BestTier < GemmKernelTier.Vector256)
            Assert.Skip("needs two cores and the AVX2 tile");
        var (a, c) = SplitsByColumnsWithTheSerialBits<Kernel256<float>>(GemmKernelTier.Vector256, 256, 8600);
        // A transposed (columns contiguous, not rows) is packed, and the square product keeps the row split
        int before = GemmDriver<float, Kernel256<float>>.ColumnSplitsOnThisThread;
        Gemm.Run(GemmProvider.Managed, GemmKernelTier.Vector256, true, true, 256, 256, 256, 0.5f, a, 256, a, 256, 1.5f, c, 256);
        Assert.Equal(before, GemmDriver<float, Kernel256<float>>.ColumnSplitsOnThisThread);
    }

    /// <summary>An n × n × n product (A in place, B transposed) on <paramref name="tier"/>: one column split, and the
    /// bits of the serial driver. Returns A and C for further checks.</summary>
    private static (float[] A, float[] C) SplitsByColumnsWithTheSerialBits<TK>(GemmKernelTier tier, int n, int seed)
        where TK : struct, IGemmKernel<float>
    {
        var rng = new Random(seed);
        float[] a = Random(rng, n * n), b = Random(rng, n * n), c = new float[n * n], ser = new float[n * n];
        int before = GemmDriver<float, TK>.ColumnSplitsOnThisThread;
        Gemm.Run(GemmProvider.Managed, tier, false, true, n, n, n, 0.5f, a, n, b, n, 1.5f, c, n);
        Assert.Equal(before + 1, GemmDriver<float, TK>.ColumnSplitsOnThisThread);
        SerialFloat(tier, n, n, n, a, b, ser);
        Assert.Equal(ser, c);
        return (a, c);
    }

    [Fact]
    public void LargeProducts_SplitByColumns_WhereTheTileDoesNotShareB()
    {
        // the 8 x 32 tile packs all of B in every row task: columns when B is at least 384 KB, n >= 0.4 m and the
        // column panels spread no worse. 1024^3: 4 MB; 16 * 32 * 1024 = 524,288 per core either way: columns
        Assert.True(GemmDriver<float, Kernel512<float>>.ColumnsHalveThePacking(1024, 1024, 1024, 2));
        // 256^3: 256 KB of B: rows
        Assert.False(GemmDriver<float, Kernel512<float>>.ColumnsHalveThePacking(256, 256, 256, 2));
        // the size bound: k * n * 4 = 393,216 bytes exactly (384 x 256) against one k row fewer
        Assert.True(GemmDriver<float, Kernel512<float>>.ColumnsHalveThePacking(384, 384, 256, 2));
        Assert.False(GemmDriver<float, Kernel512<float>>.ColumnsHalveThePacking(384, 384, 255, 2));
        // the shape bound: 5 n = 2 m exactly (1280 x 512; 8 * 32 * 1280 = 80 * 8 * 512 = 327,680) against 8 more rows
        Assert.True(GemmDriver<float, Kernel512<float>>.ColumnsHalveThePacking(1280, 512, 784, 2));
        Assert.False(GemmDriver<float, Kernel512<float>>.ColumnsHalveThePacking(1288, 512, 784, 2));
        // 700 x 400: 13 panels, 7 on the busiest core (7 * 32 * 700 = 156,800) against 44 of 88 row tiles
        // (44 * 8 * 400 = 140,800): rows; 416 columns are 13 panels too, 7 * 32 * 700 = 156,800 against 44 * 8 * 416 =
        // 146,432: rows; 448 columns, 14 panels: 7 * 32 * 700 = 156,800 against 44 * 8 * 448 = 157,696: columns
        Assert.False(GemmDriver<float, Kernel512<float>>.ColumnsHalveThePacking(700, 400, 900, 2));
        Assert.False(GemmDriver<float, Kernel512<float>>.ColumnsHalveThePacking(700, 416, 900, 2));
        Assert.True(GemmDriver<float, Kernel512<float>>.ColumnsHalveThePacking(700, 448, 900, 2));
        // a tile that shares B never
        Assert.False(GemmDriver<float, Kernel256<float>>.ColumnsHalveThePacking(1024, 1024, 1024, 2));

        if (Environment.ProcessorCount < 2 || Gemm.BestTier < GemmKernelTier.Vector512)
            Assert.Skip("needs two cores and the AVX-512 tile");
        SplitsByColumnsWithTheSerialBits<Kernel512<float>>(GemmKernelTier.Vector512, 512, 8601);
    }

    [Fact]
    public void MidSizeProducts_ReadBInPlace_WithTheBitsOfThePackedProduct()
    {
        // the AVX-512 tile: B (rows contiguous) in place up to 256 rows of C and 384 KB of B
        Assert.True(GemmDriver<float, Kernel512<float>>.ReadsMidSizeBInPlace(256, 256, 256));
        Assert.True(GemmDriver<float, Kernel512<float>>.ReadsMidSizeBInPlace(256, 384, 256)); // 393,216 bytes exactly
        Assert.False(GemmDriver<float, Kernel512<float>>.ReadsMidSizeBInPlace(256, 384, 257));
        Assert.False(GemmDriver<float, Kernel512<float>>.ReadsMidSizeBInPlace(257, 256, 256));
        Assert.False(GemmDriver<double, Kernel512<double>>.ReadsMidSizeBInPlace(256, 256, 256)); // 512 KB of doubles
        Assert.True(GemmDriver<double, Kernel512<double>>.ReadsMidSizeBInPlace(256, 192, 256));
        // tiles that share B when split (AVX2) or pack A (128-bit) keep packing B
        Assert.False(GemmDriver<float, Kernel256<float>>.ReadsMidSizeBInPlace(256, 256, 256));
        Assert.False(GemmDriver<float, Kernel128<float>>.ReadsMidSizeBInPlace(256, 256, 256));

        if (Gemm.BestTier < GemmKernelTier.Vector512) Assert.Skip("needs the AVX-512 tile");
        var rng = new Random(2203);
        // (150 x 200 x 400: a tail panel of 8 columns, packed, two k blocks, a tail of rows)
        foreach (var (m, n, k) in new[] { (256, 256, 256), (100, 384, 200), (256, 64, 1000), (150, 200, 400) })
        {
            float[] a = Random(rng, m * k), b = Random(rng, k * n), c0 = Random(rng, m * n);
            float[] inPlace = (float[])c0.Clone(), packed = (float[])c0.Clone();
            int direct = GemmDriver<float, Kernel512<float>>.DirectBOnThisThread;
            Gemm.Run(GemmProvider.Managed, GemmKernelTier.Vector512, false, false, m, n, k, 0.5f, a, k, b, n, 1.5f, inPlace, n);
            Assert.True(GemmDriver<float, Kernel512<float>>.DirectBOnThisThread > direct, $"{m} x {n} x {k}: B was packed");
            bool old = Gemm.ForcePackingOnThisThread;
            Gemm.ForcePackingOnThisThread = true;
            try { Gemm.Run(GemmProvider.Managed, GemmKernelTier.Vector512, false, false, m, n, k, 0.5f, a, k, b, n, 1.5f, packed, n); }
            finally { Gemm.ForcePackingOnThisThread = old; }
            Assert.Equal(packed, inPlace);
            for (int i = 0; i < m; i += 37)
                for (int j = 0; j < n; j += 13)
                {
                    double z = 1.5 * c0[i * n + j], abs = Math.Abs(z);
                    for (int p = 0; p < k; p++) { double t = 0.5 * a[i * k + p] * b[p * n + j]; z += t; abs += Math.Abs(t); }
                    Assert.True(Math.Abs(z - inPlace[i * n + j]) <= 1e-6 * (k + 2) * abs, $"{m} x {n} x {k}: c[{i},{j}] = {inPlace[i * n + j]}, oracle {z}");
                }
        }
    }

    private static unsafe void SerialFloat(GemmKernelTier tier, int m, int n, int k, float[] a, float[] b, float[] c)
    {
        fixed (float* pa = a)
        fixed (float* pb = b)
        fixed (float* pc = c)
        {
            // transA = false (rsA = k, csA = 1), transB = true (rsB = 1, csB = k), alpha 0.5, beta 1.5
            switch (tier)
            {
                case GemmKernelTier.Vector512:
                    GemmDriver<float, Kernel512<float>>.Serial(m, n, k, 0.5f, pa, k, 1, pb, 1, k, 1.5f, pc, n);
                    break;
                case GemmKernelTier.Vector256:
                    GemmDriver<float, Kernel256<float>>.Serial(m, n, k, 0.5f, pa, k, 1, pb, 1, k, 1.5f, pc, n);
                    break;
                case GemmKernelTier.Vector128:
                    GemmDriver<float, Kernel128<float>>.Serial(m, n, k, 0.5f, pa, k, 1, pb, 1, k, 1.5f, pc, n);
                    break;
                default:
                    GemmDriver<float, KernelScalar<float>>.Serial(m, n, k, 0.5f, pa, k, 1, pb, 1, k, 1.5f, pc, n);
                    break;
            }
        }
    }

    [Fact]
    public void GenericEntry_DispatchesFloatAndDouble()
    {
        float[] a = [1f, 2f, 3f, 4f], b = [5f, 6f, 7f, 8f], c = new float[4];
        Gemm.Run<float>(false, false, 2, 2, 2, 1f, a, 2, b, 2, 0f, c, 2);
        Assert.Equal([19f, 22f, 43f, 50f], c);
        double[] ad = [1d, 2d, 3d, 4d], bd = [5d, 6d, 7d, 8d], cd = [1d, 1d, 1d, 1d];
        Gemm.Run<double>(true, false, 2, 2, 2, 1d, ad, 2, bd, 2, 1d, cd, 2);
        Assert.Equal([27d, 31d, 39d, 45d], cd);
        Assert.Throws<NotSupportedException>(() =>
            Gemm.Run<int>(false, false, 1, 1, 1, 1, [1], 1, [1], 1, 0, new int[1], 1));
    }

    [Fact]
    public void InvalidShapes_Throw_WithOpAndShapes()
    {
        float[] buf = new float[100];
        var ex = Assert.Throws<ShapeMismatchException>(() =>
            Gemm.Run(false, false, 4, 4, 5, 1f, buf, 4, buf, 4, 0f, buf, 4)); // lda 4 < k 5
        Assert.Contains("Gemm", ex.Message);
        Assert.Contains("lda=4", ex.Message);

        ex = Assert.Throws<ShapeMismatchException>(() =>
            Gemm.Run(false, true, 4, 6, 5, 1f, buf, 5, buf.AsSpan(0, 20), 5, 0f, buf, 6)); // B [6,5] needs 30
        Assert.Contains("B is stored as [6, 5]", ex.Message);
        Assert.Contains("30", ex.Message);

        ex = Assert.Throws<ShapeMismatchException>(() =>
            Gemm.Run(false, false, 10, 10, 1, 1f, buf, 1, buf, 10, 0f, buf.AsSpan(0, 99), 10));
        Assert.Contains("C is stored as [10, 10]", ex.Message);

        Assert.Throws<ShapeMismatchException>(() =>
            Gemm.Run(false, false, -1, 2, 2, 1d, new double[4], 2, new double[4], 2, 0d, new double[4], 2));
    }

    // ------------------------------------------------------------------ helpers

    private static Restore ForcePacking(bool on)
    {
        bool old = Gemm.ForcePackingOnThisThread;
        Gemm.ForcePackingOnThisThread = on;
        return new Restore(old);
    }

    private readonly struct Restore(bool old) : IDisposable
    {
        public void Dispose() => Gemm.ForcePackingOnThisThread = old;
    }

    private static void SkipIfUnavailable(GemmProvider p)
    {
        if (p == GemmProvider.OpenBlas && !Gemm.OpenBlasAvailable)
            Assert.Skip($"OpenBLAS not available: {OpenBlas.Description}");
    }

    private static float[] Filled(int n, float v)
    {
        var x = new float[n];
        Array.Fill(x, v);
        return x;
    }

    private static double[] Filled(int n, double v)
    {
        var x = new double[n];
        Array.Fill(x, v);
        return x;
    }

    private static float[] Random(Random rng, int n)
    {
        var x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);
        return x;
    }

    /// <summary>Matrix [rows, cols] with row stride ld; padding (ld - cols per row) is NaN so reading it shows.</summary>
    private static double[] Matrix(Random rng, int rows, int cols, int ld)
    {
        int len = rows == 0 || cols == 0 ? 0 : (rows - 1) * ld + cols;
        var x = new double[len];
        for (int i = 0; i < len; i++) x[i] = i % ld < cols ? rng.NextDouble() * 2 - 1 : double.NaN;
        return x;
    }

    private static void CheckFloat(GemmProvider provider, GemmKernelTier tier, bool ta, bool tb, int m, int n, int k,
        float alpha, float beta, int padA, int padB, int padC, Random rng)
        => CheckFloat(provider, tier, ta, tb, m, n, k, [(alpha, beta)], padA, padB, padC, rng);

    /// <summary>
    /// One shape, one pair of random operands (NaN in the ld padding), and for each (alpha, beta) a fresh random C
    /// (NaN when beta = 0, a sentinel in its ld padding); checks every element against the reference and that
    /// the padding is untouched.
    /// </summary>
    private static void CheckFloat(GemmProvider provider, GemmKernelTier tier, bool ta, bool tb, int m, int n, int k,
        (float Alpha, float Beta)[] pairs, int padA, int padB, int padC, Random rng)
    {
        int lda = (ta ? m : k) + padA, ldb = (tb ? k : n) + padB, ldc = n + padC;
        float[] a = Array.ConvertAll(Matrix(rng, ta ? k : m, ta ? m : k, lda), v => (float)v);
        float[] b = Array.ConvertAll(Matrix(rng, tb ? n : k, tb ? k : n, ldb), v => (float)v);
        var (dot, abs) = Dots(ta, tb, m, n, k, Array.ConvertAll(a, v => (double)v), lda,
            Array.ConvertAll(b, v => (double)v), ldb);
        foreach (var (alpha, beta) in pairs)
        {
            float[] c = Array.ConvertAll(Matrix(rng, m, n, ldc), v => (float)v);
            for (int i = 0; i < c.Length; i++)
            {
                if (i % ldc >= n) c[i] = Sentinel;
                else if (beta == 0f) c[i] = float.NaN;
            }
            double[] c0 = Array.ConvertAll(c, v => (double)v);
            Gemm.Run(provider, tier, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
            Verify(Array.ConvertAll(c, v => (double)v), c0, dot, abs, alpha, beta, m, n, k, ldc, Math.Pow(2, -24),
                $"alpha={alpha} beta={beta} lda={lda} ldb={ldb} ldc={ldc} {Describe(provider, tier, ta, tb, m, n, k)}");
        }
    }

    private static void CheckDouble(GemmProvider provider, GemmKernelTier tier, bool ta, bool tb, int m, int n, int k,
        double alpha, double beta, int padA, int padB, int padC, Random rng)
        => CheckDouble(provider, tier, ta, tb, m, n, k, [(alpha, beta)], padA, padB, padC, rng);

    private static void CheckDouble(GemmProvider provider, GemmKernelTier tier, bool ta, bool tb, int m, int n, int k,
        (double Alpha, double Beta)[] pairs, int padA, int padB, int padC, Random rng)
    {
        int lda = (ta ? m : k) + padA, ldb = (tb ? k : n) + padB, ldc = n + padC;
        double[] a = Matrix(rng, ta ? k : m, ta ? m : k, lda);
        double[] b = Matrix(rng, tb ? n : k, tb ? k : n, ldb);
        var (dot, abs) = Dots(ta, tb, m, n, k, a, lda, b, ldb);
        foreach (var (alpha, beta) in pairs)
        {
            double[] c = Matrix(rng, m, n, ldc);
            for (int i = 0; i < c.Length; i++)
            {
                if (i % ldc >= n) c[i] = Sentinel;
                else if (beta == 0d) c[i] = double.NaN;
            }
            double[] c0 = (double[])c.Clone();
            Gemm.Run(provider, tier, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
            Verify(c, c0, dot, abs, alpha, beta, m, n, k, ldc, Math.Pow(2, -53),
                $"alpha={alpha} beta={beta} lda={lda} ldb={ldb} ldc={ldc} {Describe(provider, tier, ta, tb, m, n, k)}");
        }
    }

    private const float Sentinel = 12345f;

    /// <summary>
    /// Checks <c>c = alpha*dot + beta*c0</c> (beta = 0: c0 ignored) within <c>(2k + 6)·u·(|alpha|·Σ|a·b| + |beta·c0|)</c>,
    /// a rigorous bound for k multiply-adds plus the scaling (u = unit roundoff), and that C's ld padding still
    /// holds the sentinel.
    /// </summary>
    private static void Verify(double[] c, double[] c0, double[] dot, double[] abs, double alpha, double beta,
        int m, int n, int k, int ldc, double u, string what)
    {
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < ldc && i * ldc + j < c.Length; j++)
            {
                int idx = i * ldc + j;
                if (j >= n)
                {
                    Assert.True(c[idx] == Sentinel, $"Gemm wrote C padding at ({i},{j}) {what}");
                    continue;
                }
                double cOld = beta == 0 ? 0 : beta * c0[idx];
                double expect = alpha * dot[i * n + j] + cOld;
                double tol = (2 * k + 6) * u * (Math.Abs(alpha) * abs[i * n + j] + Math.Abs(cOld)) + 1e-300;
                double err = Math.Abs(c[idx] - expect);
                if (!(err <= tol))
                    Assert.Fail($"C[{i},{j}] = {c[idx]:R}, expected {expect:R} (err {err:E3} > tol {tol:E3}) {what}");
            }
        }
    }

    private static string Describe(GemmProvider p, GemmKernelTier t, bool ta, bool tb, int m, int n, int k)
        => $"[{p}/{t}] transA={ta} transB={tb} m={m} n={n} k={k}";

    /// <summary>
    /// Reference dot products <c>Σ_p op(A)[i,p]·op(B)[p,j]</c> with double-double accumulation (error-free
    /// product and sum transformations: exact to ~2⁻¹⁰⁰ relative to Σ|a·b|), plus <c>Σ|a·b|</c>.
    /// </summary>
    private static (double[] Dot, double[] Abs) Dots(bool ta, bool tb, int m, int n, int k,
        double[] a, int lda, double[] b, int ldb)
    {
        var dot = new double[m * n];
        var abs = new double[m * n];
        var x = new double[k];
        var y = new double[k];
        for (int i = 0; i < m; i++)
        {
            for (int p = 0; p < k; p++) x[p] = ta ? a[p * lda + i] : a[i * lda + p];
            for (int j = 0; j < n; j++)
            {
                for (int p = 0; p < k; p++) y[p] = tb ? b[j * ldb + p] : b[p * ldb + j];
                double hi = 0, lo = 0, sa = 0;
                for (int p = 0; p < k; p++)
                {
                    double prod = x[p] * y[p];
                    double perr = Math.FusedMultiplyAdd(x[p], y[p], -prod);
                    double s = hi + prod;
                    double bb = s - hi;
                    lo += (hi - (s - bb)) + (prod - bb) + perr;
                    hi = s;
                    sa += Math.Abs(prod);
                }
                dot[i * n + j] = hi + lo;
                abs[i * n + j] = sa;
            }
        }
        return (dot, abs);
    }
}
