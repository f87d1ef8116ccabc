using FlexNet.Autodiff.Ops;
using FlexNet.Connections;
using FlexNet.Graph;
using FlexNet.Tensors;
using Xunit;

namespace FlexNet.Tests.Graph;

/// <summary>
/// The plan keeps its packed-weight objects from run to run but never their contents: each run packs every
/// every-step weight again from its current values. Weights changed in place between runs must show in the next
/// run's outputs (checked against hand-written loops), and a released pack can no longer be multiplied with.
/// </summary>
public sealed class PackedWeightReuseTests
{
    private const int In = 3, H = 5, H2 = 4, Out = 2, Steps = 4, N = 3;

    private static double[] Affine(double[] src, int n, Tensor w, Tensor? b)
    {
        int o = w.Shape[0], i = w.Shape[1];
        var wv = w.ToDoubleArray();
        var bv = b?.ToDoubleArray();
        var r = new double[n * o];
        for (int s = 0; s < n; s++)
            for (int k = 0; k < o; k++)
            {
                double acc = bv?[k] ?? 0;
                for (int j = 0; j < i; j++) acc += src[s * i + j] * wv[k * i + j];
                r[s * o + k] = acc;
            }
        return r;
    }

    private static double[] Add(double[] a, double[] b, Tensor? bias)
    {
        var bv = bias?.ToDoubleArray();
        var r = new double[a.Length];
        for (int i = 0; i < r.Length; i++) r[i] = a[i] + b[i] + (bv is null ? 0 : bv[i % bv.Length]);
        return r;
    }

    [Fact]
    public void WeightsChangedBetweenRuns_AreUsedByTheNextRun()
    {
        // h(t) = tanh(Wx·x + F·h2(t−1) + b), h2(t) = relu(W2·h(t) + b2), y = Wy·h2(T) + by: F and W2 run at every step
        // (packed once per run), Wx is computed once per run, Wy only at the last step
        var net = new Network("fb", DType.Float32, 21) { Steps = Steps };
        var x = net.Add(new InputLayer(In, name: "x"));
        var h = net.Add(new Layer(H, "tanh", name: "h"));
        var h2 = net.Add(new Layer(H2, "relu", name: "h2"));
        var y = net.Add(new Layer(Out, name: "y"));
        var cx = net.ConnectDense(x, h);
        var cf = net.ConnectDense(h2, h, delay: 1);
        var c2 = net.ConnectDense(h, h2);
        var cy = net.ConnectDense(h2, y);
        net.AddOutput(y, OutputMode.LastStep);
        net.Compile();
        var xs = Tensor.Normal([N, In], 0, 1, new RandomGenerator(4), DType.Float32);
        var xv = xs.ToDoubleArray();
        var rng = new RandomGenerator(8);
        for (int run = 0; run < 4; run++)
        {
            if (run > 0)
                foreach (var c in new[] { cf, c2, cx }) c.Weight.CopyFrom(Tensor.Normal(c.Weight.ShapeArray, 0, 0.8, rng, DType.Float32));
            var got = net.Forward([xs], training: false)[0].ToDoubleArray();

            var prev2 = new double[N * H2];
            for (int t = 0; t < Steps; t++)
            {
                var zh = Add(Affine(xv, N, cx.Weight, cx.Bias), Affine(prev2, N, cf.Weight, cf.Bias), h.Bias);
                var hv = zh.Select(Math.Tanh).ToArray();
                var z2 = Affine(hv, N, c2.Weight, c2.Bias);
                var b2 = h2.Bias?.ToDoubleArray();
                prev2 = z2.Select((v, i) => Math.Max(0, v + (b2 is null ? 0 : b2[i % H2]))).ToArray();
            }
            var want = Affine(prev2, N, cy.Weight, cy.Bias);
            var by = y.Bias?.ToDoubleArray();
            for (int i = 0; i < want.Length; i++)
            {
                double w = want[i] + (by is null ? 0 : by[i % Out]);
                Assert.True(Math.Abs(w - got[i]) <= 1e-5 * (1 + Math.Abs(w)), $"run {run}: y[{i}] = {got[i]}, want {w}");
            }
        }
    }

    [Fact]
    public void AReleasedPack_HoldsNothing_AndPacksAgainFromTheNewWeight()
    {
        var w1 = Tensor.Normal([4, 3], 0, 1, new RandomGenerator(1), DType.Float32);
        var w2 = Tensor.Normal([5, 2], 0, 1, new RandomGenerator(2), DType.Float32);
        var x1 = new float[] { 1, 2, 3, -1, 0.5f, 2 };
        var x2 = new float[] { 0.25f, -2, 1, 3 };
        var pw = new PackedWeight(w1);
        Assert.Same(w1, pw.Source);
        pw.Dispose();
        Assert.Null(pw.Source);
        Assert.Throws<ObjectDisposedException>(() => pw.MultiplyInto<float>(2, x1, 0f, new float[8]));
        pw.Pack(w2); // another shape: the object takes it
        Assert.Same(w2, pw.Source);
        Assert.Equal((5, 2), (pw.Out, pw.In));
        var got = new float[10];
        pw.MultiplyInto<float>(2, x2, 0f, got);
        var wv = w2.ToFloatArray();
        for (int r = 0; r < 2; r++)
            for (int o = 0; o < 5; o++)
            {
                double want = 0;
                for (int i = 0; i < 2; i++) want += x2[r * 2 + i] * (double)wv[o * 2 + i];
                Assert.True(Math.Abs(want - got[r * 5 + o]) <= 1e-5 * (1 + Math.Abs(want)), $"y[{r}, {o}] = {got[r * 5 + o]}, want {want}");
            }
        // packing a tensor whose values changed since gives the new values
        w2.CopyFrom(Tensor.Normal([5, 2], 0, 1, new RandomGenerator(3), DType.Float32));
        pw.Pack(w2);
        var again = new float[10];
        pw.MultiplyInto<float>(2, x2, 0f, again);
        wv = w2.ToFloatArray();
        for (int r = 0; r < 2; r++)
            for (int o = 0; o < 5; o++)
            {
                double want = 0;
                for (int i = 0; i < 2; i++) want += x2[r * 2 + i] * (double)wv[o * 2 + i];
                Assert.True(Math.Abs(want - again[r * 5 + o]) <= 1e-5 * (1 + Math.Abs(want)), $"after the update y[{r}, {o}] = {again[r * 5 + o]}, want {want}");
            }
        pw.Dispose();
        pw.Dispose(); // twice is harmless
    }
}

/// <summary>
/// The plan packs a layer's weight once per run (a layer that runs at every step of T &gt; 1) only where the unpacked
/// GEMM would pack it itself: a batch of 1 or a layer of few outputs runs on GEMM's matrix-vector paths, which read W
/// in place and round differently, so packing there would make the results depend on T.
/// </summary>
public sealed class PerRunPackRoutingTests
{
    private static (Network Net, Tensor X) Feedback(int batch, int hidden)
    {
        var net = new Network("route", DType.Float32, 5) { Steps = 3 };
        var x = net.Add(new InputLayer(6, name: "x"));
        var h = net.Add(new Layer(hidden, "tanh", name: "h"));
        net.ConnectDense(x, h);
        net.ConnectDense(h, h, delay: 1);
        net.AddOutput(h, OutputMode.LastStep);
        net.Compile();
        return (net, Tensor.Normal([batch, 6], 0, 1, new RandomGenerator(3), DType.Float32));
    }

    [Theory]
    [InlineData(1, 40)]  // batch 1: matrix-vector products
    [InlineData(4, 8)]   // 8 outputs: dot products of W's rows (n ≤ NR/2 for every kernel width)
    public void NoPackWhereTheGemmReadsWInPlace(int batch, int hidden)
    {
        var (net, xs) = Feedback(batch, hidden);
        net.Forward([xs], training: false);
        Assert.Equal(0, net.PacksMade);
    }

    [Fact]
    public void PacksOncePerRunWhereTheGemmWouldPack()
    {
        if (FlexNet.Kernels.Gemm.Provider != FlexNet.Kernels.GemmProvider.Managed) return; // OpenBLAS never packs managed
        var (net, xs) = Feedback(4, 40);
        net.Forward([xs], training: false);
        int first = net.PacksMade;
        Assert.True(first >= 1, $"{first} packs in a run of 3 steps at batch 4 with 40 outputs");
        net.Forward([xs], training: false);
        Assert.Equal(2 * first, net.PacksMade); // packed again from W in the next run (not kept)
    }
}
