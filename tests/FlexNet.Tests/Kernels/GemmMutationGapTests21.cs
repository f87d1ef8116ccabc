using FlexNet.Kernels;
using Xunit;

namespace FlexNet.Tests.Kernels;

/// <summary>The GEMM entry points' settings and refusals (survivors of session 21's run of the GEMM files): the provider
/// named by <c>FLEXNET_BLAS</c>, read once per process; the provider setter; the generic entry's element types. In the
/// process-global collection: the tests change the environment variable and the cached provider, which every GEMM of
/// every other test reads.</summary>
[Collection(SimdPathsCollection.Name)]
[Trait("Category", "Kernels")]
public sealed class GemmMutationGapTests21
{
    private const string Variable = "FLEXNET_BLAS";

    private static string Unavailable(string requestedBy) =>
        $"{requestedBy}: OpenBLAS is not available ({OpenBlas.Description}). Install it " +
        "(Debian/Ubuntu: apt-get install libopenblas0-pthread) or use FLEXNET_BLAS=managed.";

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData(" \t ")]
    [InlineData("managed")]
    [InlineData(" MANAGED ")]
    [InlineData("Managed")]
    public void ProviderFrom_UnsetBlankOrManaged_IsManaged(string? setting)
        => Assert.Equal(GemmProvider.Managed, Gemm.ProviderFrom(setting));

    [Theory]
    [InlineData("openblas")]
    [InlineData(" OpenBLAS\t")]
    public void ProviderFrom_OpenBlas_IsOpenBlasWhenItLoads(string setting)
    {
        if (OpenBlas.IsAvailable)
        {
            Assert.Equal(GemmProvider.OpenBlas, Gemm.ProviderFrom(setting));
            return;
        }
        var ex = Assert.Throws<FlexNetException>(() => Gemm.ProviderFrom(setting));
        Assert.Equal(Unavailable("FLEXNET_BLAS=openblas"), ex.Message);
        Assert.Equal("FN900", ex.Code);
    }

    [Theory]
    [InlineData("mkl")]
    [InlineData("managed2")]
    [InlineData("open blas")]
    [InlineData(" x ")]
    public void ProviderFrom_AnythingElse_IsRefusedWithTheValue(string setting)
    {
        var ex = Assert.Throws<FlexNetException>(() => Gemm.ProviderFrom(setting));
        Assert.Equal($"FLEXNET_BLAS='{setting}' is not a known GEMM provider: use 'managed' or 'openblas'.", ex.Message);
        Assert.Equal("FN900", ex.Code);
    }

    /// <summary>The provider comes from the variable at the first read after a reset and is kept: a later change of
    /// the variable (even to a bad value) changes nothing until the next reset.</summary>
    [Fact]
    public void Provider_IsReadFromTheVariableOnceAndKept() => WithTheVariableRestored(() =>
    {
        Environment.SetEnvironmentVariable(Variable, null);
        Gemm.ResetProvider();
        Assert.Equal(GemmProvider.Managed, Gemm.Provider);
        Environment.SetEnvironmentVariable(Variable, "bogus");
        Assert.Equal(GemmProvider.Managed, Gemm.Provider);
        Assert.Equal(GemmProvider.Managed, Gemm.Provider);

        Gemm.ResetProvider();
        var ex = Assert.Throws<FlexNetException>(() => Gemm.Provider);
        Assert.Equal("FLEXNET_BLAS='bogus' is not a known GEMM provider: use 'managed' or 'openblas'.", ex.Message);

        if (OpenBlas.IsAvailable)
        {
            Environment.SetEnvironmentVariable(Variable, "OPENBLAS");
            Gemm.ResetProvider();
            Assert.Equal(GemmProvider.OpenBlas, Gemm.Provider);
            Environment.SetEnvironmentVariable(Variable, "managed");
            Assert.Equal(GemmProvider.OpenBlas, Gemm.Provider);
        }
    });

    [Fact]
    public void ProviderSetter_SetsKnownProvidersAndRefusesOthers() => WithTheVariableRestored(() =>
    {
        Environment.SetEnvironmentVariable(Variable, "bogus"); // the setter never reads it
        Gemm.ResetProvider();
        Gemm.Provider = GemmProvider.Managed;
        Assert.Equal(GemmProvider.Managed, Gemm.Provider);

        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => Gemm.Provider = (GemmProvider)2);
        Assert.Equal("Gemm.Provider: unknown provider. (Parameter 'value')\nActual value was 2.", ex.Message.ReplaceLineEndings("\n"));
        Assert.Throws<ArgumentOutOfRangeException>(() => Gemm.Provider = (GemmProvider)(-1));
        Assert.Equal(GemmProvider.Managed, Gemm.Provider); // unchanged by the refusals

        if (OpenBlas.IsAvailable)
        {
            Gemm.Provider = GemmProvider.OpenBlas;
            Assert.Equal(GemmProvider.OpenBlas, Gemm.Provider);
            float[] a = [1, 2, 3, 4], b = [5, 6, 7, 8], c = new float[4];
            Gemm.Run(false, false, 2, 2, 2, 1f, a, 2, b, 2, 0f, c, 2);
            Assert.Equal([19f, 22f, 43f, 50f], c);
        }
        else
        {
            var refused = Assert.Throws<FlexNetException>(() => Gemm.Provider = GemmProvider.OpenBlas);
            Assert.Equal(Unavailable("Gemm.Provider = OpenBlas"), refused.Message);
            Assert.Equal(GemmProvider.Managed, Gemm.Provider);
        }
    });

    /// <summary>Runs <paramref name="body"/>, then puts <c>FLEXNET_BLAS</c> back as it was and forgets the provider.</summary>
    private static void WithTheVariableRestored(Action body)
    {
        string? saved = Environment.GetEnvironmentVariable(Variable);
        try
        {
            body();
        }
        finally
        {
            Environment.SetEnvironmentVariable(Variable, saved);
            Gemm.ResetProvider();
        }
    }

    [Fact]
    public void GenericEntry_RefusesOtherElementTypesByName()
    {
        int[] a = [1], b = [1], c = [0];
        var ex = Assert.Throws<NotSupportedException>(() => Gemm.Run<int>(false, false, 1, 1, 1, 1, a, 1, b, 1, 0, c, 1));
        Assert.Equal("Gemm: element type Int32 is not supported (float, double).", ex.Message);
        Half[] ha = [(Half)1], hb = [(Half)1], hc = [(Half)0];
        var exh = Assert.Throws<NotSupportedException>(() => Gemm.Run<Half>(false, false, 1, 1, 1, (Half)1, ha, 1, hb, 1, (Half)0, hc, 1));
        Assert.Equal("Gemm: element type Half is not supported (float, double).", exh.Message);
    }

    /// <summary>With k = 0 or alpha = 0 the product is C = beta·C: exactly the m × n elements, none of the gap between
    /// rows (ldc &gt; n) nor the row after the last, which the span here holds (the bound of the row loop).</summary>
    [Theory]
    [InlineData(0, 1f, 0f)]
    [InlineData(3, 0f, 2f)]
    [InlineData(0, 1f, 1f)]
    public void ScalingC_TouchesOnlyTheMByNElements(int k, float alpha, float beta)
    {
        const int m = 3, n = 2, ldc = 4;
        var c = new float[(m + 1) * ldc];
        for (int i = 0; i < c.Length; i++) c[i] = i + 1;
        var cd = new double[c.Length];
        for (int i = 0; i < cd.Length; i++) cd[i] = i + 1;
        float[] a = new float[m * Math.Max(k, 1)], b = new float[Math.Max(k, 1) * n];
        double[] ad = new double[a.Length], bd = new double[b.Length];
        Gemm.Run(false, false, m, n, k, alpha, a, Math.Max(k, 1), b, n, beta, c, ldc);
        Gemm.Run(false, false, m, n, k, alpha, ad, Math.Max(k, 1), bd, n, beta, cd, ldc);
        for (int i = 0; i < c.Length; i++)
        {
            bool inC = i / ldc < m && i % ldc < n;
            Assert.Equal(inC ? beta * (i + 1) : i + 1, c[i]);
            Assert.Equal(inC ? beta * (i + 1) : i + 1, cd[i]);
        }
    }

    [Theory]
    [InlineData(-1, 2, 3)]
    [InlineData(2, -1, 3)]
    [InlineData(2, 3, -5)]
    public void NegativeDimensions_AreRefusedWithAllThree(int m, int n, int k)
    {
        var ex = Assert.Throws<ShapeMismatchException>(() => Gemm.Run(false, false, m, n, k, 1f, new float[8], 8, new float[8], 8, 0f, new float[8], 8));
        Assert.Equal($"Gemm: dimensions m={m}, n={n}, k={k} must be non-negative.", ex.Message);
    }

    /// <summary>Each operand's refusal whole: its stored shape, the transposition note only when transposed, its
    /// leading dimension and, for a short span, the elements it needs.</summary>
    [Fact]
    public void OperandRefusals_NameTheStoredShapeAndTheTransposition()
    {
        // m = 2, n = 3, k = 4; A^T is stored [4, 2], B^T [3, 4], C [2, 3]
        static void Refused(Action run, string message) => Assert.Equal(message, Assert.Throws<ShapeMismatchException>(run).Message);
        Refused(() => Gemm.Run(true, true, 2, 3, 4, 1f, new float[7], 2, new float[12], 4, 0f, new float[6], 3),
            "Gemm (m=2, n=3, k=4): A is stored as [4, 2] (transA=true) with lda=2, which needs 8 elements, but the span has 7.");
        Refused(() => Gemm.Run(true, true, 2, 3, 4, 1f, new float[8], 2, new float[12], 3, 0f, new float[6], 3),
            "Gemm (m=2, n=3, k=4): B is stored as [3, 4] (transB=true) but its leading dimension ldb=3 is smaller than its row length 4.");
        Refused(() => Gemm.Run(false, false, 2, 3, 4, 1d, new double[8], 4, new double[11], 3, 0d, new double[6], 3),
            "Gemm (m=2, n=3, k=4): B is stored as [4, 3] with ldb=3, which needs 12 elements, but the span has 11.");
        Refused(() => Gemm.Run(false, false, 2, 3, 4, 1d, new double[8], 3, new double[12], 3, 0d, new double[6], 3),
            "Gemm (m=2, n=3, k=4): A is stored as [2, 4] but its leading dimension lda=3 is smaller than its row length 4.");
        Refused(() => Gemm.Run(false, false, 2, 3, 4, 1f, new float[8], 4, new float[12], 3, 0f, new float[5], 3),
            "Gemm (m=2, n=3, k=4): C is stored as [2, 3] with ldc=3, which needs 6 elements, but the span has 5.");
    }

    /// <summary>An operand with no rows or no columns needs no element, whatever its leading dimension: m = 0 with an
    /// empty A and C (leading dimension 0) is a valid empty product.</summary>
    [Fact]
    public void EmptyOperands_NeedNoElements()
    {
        Gemm.Run(false, false, 0, 3, 4, 1f, [], 0, new float[12], 3, 0f, [], 0);
        Gemm.Run(true, false, 0, 3, 4, 1d, new double[0], 0, new double[12], 3, 0d, new double[0], 0);
        var c = new float[] { 5, 6 };
        Gemm.Run(false, true, 1, 2, 0, 1f, [], 0, [], 0, 2f, c, 0); // k = 0: A [1, 0] and B^T [2, 0] empty
        Assert.Equal([10f, 12f], c);
    }

    /// <summary><see cref="Gemm.PacksTransposedB{T}"/> says whether a dense layer's product x·Wᵀ runs on the blocked
    /// driver: checked against where the driver actually ran it (its blocked-run count), over batch and output sizes
    /// around 1 and half a panel, with and without the forced packing, and false for OpenBLAS.</summary>
    [Fact]
    public void PacksTransposedB_SaysWhereTheDriverRunsTheProduct()
    {
        int half = Gemm.PanelWidth<float>(Gemm.BestTier) / 2;
        const int k = 3;
        foreach (bool force in new[] { false, true })
        {
            Gemm.ForcePackingOnThisThread = force;
            try
            {
                foreach (int m in new[] { 0, 1, 2, 5 })
                    foreach (int n in new[] { 1, 2, half - 1, half, half + 1, 3 * half })
                    {
                        var a = new float[Math.Max(m, 1) * k];
                        var w = new float[n * k];
                        var c = new float[Math.Max(m, 1) * n];
                        int before = Gemm.BlockedRunsOnThisThread;
                        Gemm.Run(false, true, m, n, k, 1f, a, k, w, k, 0f, c, n);
                        bool blocked = Gemm.BlockedRunsOnThisThread > before;
                        Assert.True(blocked == Gemm.PacksTransposedB<float>(m, n, k), $"m={m}, n={n}, forced packing {force}: the driver ran it blocked: {blocked}");
                    }
            }
            finally
            {
                Gemm.ForcePackingOnThisThread = false;
            }
        }
        Assert.True(Gemm.PacksTransposedB<double>(4, 3 * Gemm.PanelWidth<double>(Gemm.BestTier), k));
        if (OpenBlas.IsAvailable)
        {
            try
            {
                Gemm.Provider = GemmProvider.OpenBlas;
                Assert.False(Gemm.PacksTransposedB<double>(4, 3 * Gemm.PanelWidth<double>(Gemm.BestTier), k));
            }
            finally
            {
                Gemm.ResetProvider();
            }
        }
    }
}
