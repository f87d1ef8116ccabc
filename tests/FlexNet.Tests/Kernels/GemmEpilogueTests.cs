using FlexNet.Autodiff;
using FlexNet.Autodiff.Ops;
using FlexNet.Kernels;
using FlexNet.Layers;
using FlexNet.Models;
using FlexNet.Tensors;
using Xunit;

namespace FlexNet.Tests.Kernels;

/// <summary>
/// Bias and ReLU in the GEMM epilogue (<see cref="Gemm.RunBiasAct{T}(bool, bool, int, int, int, T, ReadOnlySpan{T}, int, ReadOnlySpan{T}, int, T, Span{T}, int, ReadOnlySpan{T}, FusedActivation)"/>,
/// <see cref="GemmPackedB{T}.MultiplyBiasAct"/>, DenseSum): bit for bit the GEMM followed by
/// <see cref="Activations.BiasAct{T}"/>, and close to a product in double loops written here.
/// </summary>
[Trait("Category", "Kernels")]
public sealed class GemmEpilogueTests
{
    public static TheoryData<int> Tiers()
    {
        var d = new TheoryData<int>();
        for (var t = GemmKernelTier.Scalar; t <= Gemm.BestTier; t++) d.Add((int)t);
        return d;
    }

    private static readonly int[] Sizes = [1, 7, 13, 31, 33, 64, 100];
    private static readonly int[] Depths = [1, 5, 300, 800]; // 800 > KC: several k blocks

    private static T[] Random<T>(Random rng, int n) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        var a = new T[n];
        for (int i = 0; i < n; i++) a[i] = T.CreateTruncating(rng.NextDouble() * 2 - 1);
        return a;
    }

    /// <summary>z = alpha·op(A)·op(B) + beta·C0 + bias in double loops (the independent oracle, before the activation).</summary>
    private static double[] Oracle<T>(bool tb, int m, int n, int k, double alpha, T[] a, T[] b, double beta, T[] c0, T[]? bias)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        var z = new double[m * n];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double s = 0;
                for (int p = 0; p < k; p++)
                    s += double.CreateTruncating(a[i * k + p]) * double.CreateTruncating(tb ? b[j * k + p] : b[p * n + j]);
                double v = alpha * s + beta * double.CreateTruncating(c0[i * n + j]);
                if (bias is not null) v += double.CreateTruncating(bias[j]);
                z[i * n + j] = v;
            }
        return z;
    }

    /// <summary>Fused vs Run + BiasAct (bits) and vs the oracle (tolerance) for Linear+bias, ReLU+bias and ReLU alone;
    /// returns how many of the three took the epilogue.</summary>
    private static int Check<T>(GemmKernelTier tier, bool tb, int m, int n, int k, T alpha, T beta, Random rng)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        var a = Random<T>(rng, m * k);
        var b = Random<T>(rng, k * n);
        var c0 = Random<T>(rng, m * n);
        var bias = Random<T>(rng, n);
        double tol = typeof(T) == typeof(float) ? 2e-5 * (k + 1) : 1e-13 * (k + 1);
        int ldb = tb ? k : n;
        int fused = 0;
        var z0 = Oracle(tb, m, n, k, double.CreateTruncating(alpha), a, b, double.CreateTruncating(beta), c0, null);
        foreach (var (act, withBias) in new[] { (FusedActivation.Linear, true), (FusedActivation.Relu, true), (FusedActivation.Relu, false) })
        {
            var bs = withBias ? bias : null;
            var want = (T[])c0.Clone();
            if (typeof(T) == typeof(float))
                Gemm.Run(GemmProvider.Managed, tier, false, tb, m, n, k, (float)(object)alpha, (float[])(object)a, k, (float[])(object)b, ldb,
                    (float)(object)beta, (float[])(object)want, n);
            else
                Gemm.Run(GemmProvider.Managed, tier, false, tb, m, n, k, (double)(object)alpha, (double[])(object)a, k, (double[])(object)b, ldb,
                    (double)(object)beta, (double[])(object)want, n);
            Activations.BiasAct<T>(want, bs, want, m, n, act);

            var got = (T[])c0.Clone();
            int before = Gemm.FusedEpiloguesOnThisThread;
            Gemm.RunBiasAct<T>(GemmProvider.Managed, tier, false, tb, m, n, k, alpha, a, k, b, ldb, beta, got, n, bs, act);
            fused += Gemm.FusedEpiloguesOnThisThread - before;

            string what = $"{typeof(T).Name} {tier} tb={tb} m={m} n={n} k={k} beta={beta} {act} bias={withBias}";
            for (int i = 0; i < want.Length; i++)
                if (!want[i].Equals(got[i])) Assert.Fail($"{what}: element {i} fused {got[i]}, GEMM + BiasAct {want[i]}");

            for (int i = 0; i < z0.Length; i++)
            {
                double z = z0[i] + (bs is null ? 0 : double.CreateTruncating(bs[i % n]));
                double o = act == FusedActivation.Relu ? Math.Max(z, 0) : z;
                double g = double.CreateTruncating(got[i]);
                if (!(Math.Abs(o - g) <= tol * (1 + Math.Abs(o)))) Assert.Fail($"{what}: element {i} = {g}, oracle {o}");
            }
        }
        return fused;
    }

    private static void Sweep<T>(GemmKernelTier tier) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        var rng = new Random(17 + (int)tier);
        bool old = Gemm.ForcePackingOnThisThread;
        try
        {
            int case_ = 0;
            foreach (int m in Sizes)
                foreach (int n in Sizes)
                    foreach (int k in Depths)
                        foreach (bool tb in new[] { false, true })
                            foreach (var beta in new[] { T.Zero, T.One })
                            {
                                // packed and in-place operands both (the tiny shapes pack only when forced)
                                bool force = (case_++ & 1) == 1;
                                Gemm.ForcePackingOnThisThread = force;
                                T alpha = k == 5 ? T.CreateTruncating(-0.75) : T.One;
                                int fused = Check(tier, tb, m, n, k, alpha, beta, rng);
                                // m, n > 1 and n over half the widest panel: the blocked driver, so the epilogue must run
                                if (m > 1 && n > 16) Assert.True(fused == 3, $"{typeof(T).Name} {tier} m={m} n={n} k={k}: {fused} of 3 fused");
                                if (m == 1 || n == 1) Assert.Equal(0, fused); // matrix-vector paths: the separate pass
                            }
        }
        finally
        {
            Gemm.ForcePackingOnThisThread = old;
        }
    }

    [Theory]
    [MemberData(nameof(Tiers))]
    public void Float_EveryTileTail_EqualsGemmThenBiasAct(int tier) => Sweep<float>((GemmKernelTier)tier);

    [Theory]
    [MemberData(nameof(Tiers))]
    public void Double_EveryTileTail_EqualsGemmThenBiasAct(int tier) => Sweep<double>((GemmKernelTier)tier);

    [Theory]
    [MemberData(nameof(Tiers))]
    public void SplitProducts_RowsSharedB_RowsOwnB_Columns_EqualGemmThenBiasAct(int tier)
    {
        var t = (GemmKernelTier)tier;
        var rng = new Random(5);
        bool oldShared = Gemm.NoSharedPackingOnThisThread;
        try
        {
            foreach (bool noShared in new[] { false, true })
            {
                Gemm.NoSharedPackingOnThisThread = noShared;
                // rows (m ≥ n), transB false and true; columns (m < n)
                foreach (var (m, n, k, tb) in new[] { (300, 200, 800, false), (260, 100, 300, true), (40, 700, 100, true), (37, 500, 120, false) })
                {
                    int splits = GemmDriver<float, KernelScalar<float>>.SplitsOnThisThread
                        + GemmDriver<float, Kernel128<float>>.SplitsOnThisThread
                        + GemmDriver<float, Kernel256<float>>.SplitsOnThisThread
                        + GemmDriver<float, Kernel512<float>>.SplitsOnThisThread;
                    Assert.Equal(6, Check(t, tb, m, n, k, 1f, 0f, rng) + Check(t, tb, m, n, k, 1f, 1f, rng));
                    int after = GemmDriver<float, KernelScalar<float>>.SplitsOnThisThread
                        + GemmDriver<float, Kernel128<float>>.SplitsOnThisThread
                        + GemmDriver<float, Kernel256<float>>.SplitsOnThisThread
                        + GemmDriver<float, Kernel512<float>>.SplitsOnThisThread;
                    if (Environment.ProcessorCount >= 2) Assert.True(after - splits >= 6, $"m={m} n={n} k={k}: {after - splits} splits");
                }
                Assert.Equal(6, Check<double>(t, false, 300, 150, 500, 1d, 1d, rng) / 1 + Check<double>(t, true, 30, 600, 100, 1d, 0d, rng));
            }
        }
        finally
        {
            Gemm.NoSharedPackingOnThisThread = oldShared;
        }
    }

    [Theory]
    [MemberData(nameof(Tiers))]
    public void SpecialValues_NaN_SignedZero_Infinity_SameBitsAsBiasAct(int tier)
    {
        // C holds NaNs with payloads, ±0, ±inf; the bias too; alpha = -1 and zero rows of A make -0 + -0 sums
        var t = (GemmKernelTier)tier;
        float[] specials = [float.NaN, BitConverter.Int32BitsToSingle(0x7FC01234), BitConverter.Int32BitsToSingle(unchecked((int)0xFFC00042)),
            -0f, 0f, float.PositiveInfinity, float.NegativeInfinity, 1e-40f, -1e-40f, 3f, -3f];
        var rng = new Random(9);
        int m = 19, n = 45, k = 7;
        var a = Random<float>(rng, m * k);
        for (int i = 0; i < m; i += 2) Array.Clear(a, i * k, k);
        var b = Random<float>(rng, n * k);
        var c0 = new float[m * n];
        for (int i = 0; i < c0.Length; i++) c0[i] = specials[rng.Next(specials.Length)];
        var bias = new float[n];
        for (int j = 0; j < n; j++) bias[j] = specials[rng.Next(specials.Length)];
        foreach (var act in new[] { FusedActivation.Linear, FusedActivation.Relu })
        {
            var want = (float[])c0.Clone();
            Gemm.Run(GemmProvider.Managed, t, false, true, m, n, k, -1f, a, k, b, k, 1f, want, n);
            Activations.BiasAct<float>(want, bias, want, m, n, act);
            var got = (float[])c0.Clone();
            int before = Gemm.FusedEpiloguesOnThisThread;
            Gemm.RunBiasAct<float>(GemmProvider.Managed, t, false, true, m, n, k, -1f, a, k, b, k, 1f, got, n, bias, act);
            Assert.Equal(before + 1, Gemm.FusedEpiloguesOnThisThread);
            for (int i = 0; i < want.Length; i++)
                Assert.True(BitConverter.SingleToInt32Bits(want[i]) == BitConverter.SingleToInt32Bits(got[i]),
                    $"{act} element {i}: fused {got[i]} (0x{BitConverter.SingleToInt32Bits(got[i]):X8}), separate {want[i]} (0x{BitConverter.SingleToInt32Bits(want[i]):X8})");
        }
    }

    [Theory]
    [MemberData(nameof(Tiers))]
    public void PackedB_MultiplyBiasAct_EqualsMultiplyThenBiasAct(int tier)
    {
        var t = (GemmKernelTier)tier;
        var rng = new Random(3);
        // serial and split by column panels (≥ 2²⁰ multiply-adds), tails in m and n, several k blocks
        foreach (var (m, n, k) in new[] { (13, 45, 800), (64, 33, 5), (300, 260, 400) })
        {
            var w = Random<float>(rng, n * k); // W [n, k]: B = Wᵀ
            var x = Random<float>(rng, m * k);
            var bias = Random<float>(rng, n);
            var c0 = Random<float>(rng, m * n);
            using var packed = new GemmPackedB<float>(GemmProvider.Managed, t, true, k, n, w, k);
            foreach (var act in new[] { FusedActivation.Linear, FusedActivation.Relu, FusedActivation.Tanh })
                foreach (float beta in new[] { 0f, 1f })
                {
                    var want = (float[])c0.Clone();
                    packed.Multiply(false, m, 1f, x, k, beta, want, n);
                    Activations.BiasAct<float>(want, bias, want, m, n, act);
                    var got = (float[])c0.Clone();
                    int before = Gemm.FusedEpiloguesOnThisThread;
                    packed.MultiplyBiasAct(false, m, 1f, x, k, beta, got, n, bias, act);
                    Assert.Equal(before + (act == FusedActivation.Tanh ? 0 : 1), Gemm.FusedEpiloguesOnThisThread);
                    Assert.Equal(want, got);
                    var z = Oracle(true, m, n, k, 1, x, w, beta, c0, bias);
                    for (int i = 0; i < z.Length; i++)
                    {
                        double o = act switch { FusedActivation.Relu => Math.Max(z[i], 0), FusedActivation.Tanh => Math.Tanh(z[i]), _ => z[i] };
                        Assert.True(Math.Abs(o - got[i]) <= 2e-5 * (k + 1) * (1 + Math.Abs(o)), $"m={m} n={n} k={k} {act}: {got[i]} vs {o}");
                    }
                }
        }
    }

    [Theory]
    [InlineData(DType.Float32)]
    [InlineData(DType.Float64)]
    public void DenseModel_PredictAndFrozen_EqualTheUnfusedLayers(DType dtype)
    {
        var model = new Sequential("mlp", dtype, 3, new Dense(64, "relu", name: "h1"), new Dense(48, "tanh", name: "h2"),
            new Dense(40, "relu", name: "h3"), new Dense(10, name: "out")) { InputShape = [20] };
        var g = new RandomGenerator(77);
        using (Autograd.NoGrad())
            foreach (var p in model.Parameters) p.CopyFrom(p + Tensor.Normal(p.ShapeArray, 0, 0.1, g, p.DType));
        const int n = 37;
        var x = Tensor.Normal([n, 20], 0, 1, new RandomGenerator(1), dtype);

        // the layers unfused by hand: Gemm.Run, then BiasAct (the pass the epilogue replaces)
        var cur = x.ToDoubleArray();
        int inF = 20;
        var acts = new[] { FusedActivation.Relu, FusedActivation.Tanh, FusedActivation.Relu, FusedActivation.Linear };
        for (int l = 0; l < 4; l++)
        {
            var d = (Dense)model.Layers[l];
            int outF = d.Weight.ShapeArray[0];
            cur = dtype == DType.Float32
                ? Layer(cur.Select(v => (float)v).ToArray(), d.Weight.ToFloatArray(), d.Bias!.ToFloatArray(), n, inF, outF, acts[l]).Select(v => (double)v).ToArray()
                : Layer(cur, d.Weight.ToDoubleArray(), d.Bias!.ToDoubleArray(), n, inF, outF, acts[l]);
            inF = outF;
        }

        int fused = Gemm.FusedEpiloguesOnThisThread;
        var predicted = model.Predict(x, n).ToDoubleArray();
        // h1 and h3 (ReLU, 64 and 40 outputs: the blocked driver); h2's tanh keeps the separate pass, and out's 10
        // outputs too where they are dot products (not a packed panel, which depends on the vector width)
        bool outBlocked = dtype == DType.Float32 ? Gemm.PacksTransposedB<float>(n, 10, 40) : Gemm.PacksTransposedB<double>(n, 10, 40);
        bool managed = Gemm.Provider == GemmProvider.Managed; // (FLEXNET_BLAS=openblas: the separate pass everywhere)
        Assert.Equal(fused + (managed ? 2 + (outBlocked ? 1 : 0) : 0), Gemm.FusedEpiloguesOnThisThread);
        Assert.Equal(cur, predicted);

        // the frozen model (weights packed once, GemmPackedB's driver)
        using (var frozen = model.Freeze())
        {
            fused = Gemm.FusedEpiloguesOnThisThread;
            Assert.Equal(cur, frozen.Predict(x, n).ToDoubleArray());
            Assert.Equal(cur, frozen.Predict(x, n).ToDoubleArray());
            if (Gemm.Provider == GemmProvider.Managed) Assert.True(Gemm.FusedEpiloguesOnThisThread >= fused + 4, $"{Gemm.FusedEpiloguesOnThisThread - fused} fused in two frozen calls");
        }

    }

    [Theory]
    [InlineData(DType.Float32)]
    [InlineData(DType.Float64)]
    public void DenseSum_FusesOnlyWhenTheLastTermIsAGemm_RecordedOrNot(DType dtype)
    {
        const int n = 29, inF = 50, outF = 70;
        var x = Tensor.Normal([n, inF], 0, 1, new RandomGenerator(1), dtype);
        var id = Tensor.Normal([n, outF], 0, 1, new RandomGenerator(2), dtype);
        var w = Tensor.Normal([outF, inF], 0, 0.3, new RandomGenerator(3), dtype).RequireGrad();
        var bias = Tensor.Normal([outF], 0, 0.3, new RandomGenerator(4), dtype);
        // unfused by hand: relu(x·Wᵀ (+ id) + b) with the additions in the order of the inputs
        var xd = x.ToDoubleArray(); var idd = id.ToDoubleArray(); var wd = w.ToDoubleArray(); var bd = bias.ToDoubleArray();
        double[] Want(bool identityFirst)
        {
            double[] y;
            if (dtype == DType.Float32)
            {
                var yf = new float[n * outF];
                if (identityFirst) for (int i = 0; i < yf.Length; i++) yf[i] = (float)idd[i];
                Gemm.Run<float>(false, true, n, outF, inF, 1f, xd.Select(v => (float)v).ToArray(), inF, wd.Select(v => (float)v).ToArray(), inF,
                    identityFirst ? 1f : 0f, yf, outF);
                if (!identityFirst) for (int i = 0; i < yf.Length; i++) yf[i] += (float)idd[i];
                Activations.BiasAct<float>(yf, bd.Select(v => (float)v).ToArray(), yf, n, outF, FusedActivation.Relu);
                y = yf.Select(v => (double)v).ToArray();
            }
            else
            {
                y = new double[n * outF];
                if (identityFirst) idd.CopyTo(y, 0);
                Gemm.Run<double>(false, true, n, outF, inF, 1d, xd, inF, wd, inF, identityFirst ? 1d : 0d, y, outF);
                if (!identityFirst) for (int i = 0; i < y.Length; i++) y[i] += idd[i];
                Activations.BiasAct<double>(y, bd, y, n, outF, FusedActivation.Relu);
            }
            return y;
        }
        foreach (bool record in new[] { false, true })
        {
            using IDisposable? grad = record ? null : Autograd.NoGrad();
            int before = Gemm.FusedEpiloguesOnThisThread;
            var last = DenseSum.Apply([id, x], [null, w], [bias], FusedActivation.Relu); // the GEMM last: fused, beta = 1
            Assert.Equal(before + (Gemm.Provider == GemmProvider.Managed ? 1 : 0), Gemm.FusedEpiloguesOnThisThread);
            Assert.Equal(Want(identityFirst: true), last.ToDoubleArray());
            Assert.Equal(record, last.RequiresGrad);
            before = Gemm.FusedEpiloguesOnThisThread;
            var first = DenseSum.Apply([x, id], [w, null], [bias], FusedActivation.Relu); // identity added after: separate pass
            Assert.Equal(before, Gemm.FusedEpiloguesOnThisThread);
            Assert.Equal(Want(identityFirst: false), first.ToDoubleArray());
        }
    }

    private static T[] Layer<T>(T[] x, T[] w, T[] b, int n, int inF, int outF, FusedActivation act)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        var y = new T[n * outF];
        Gemm.Run<T>(false, true, n, outF, inF, T.One, x, inF, w, inF, T.Zero, y, outF);
        Activations.BiasAct<T>(y, b, y, n, outF, act);
        return y;
    }
}
