using FlexNet.Losses;
using FlexNet.Tensors;

namespace FlexNet.Tests.Losses;

/// <summary>
/// Losses on sequence outputs [T, N, C] with per-sample weights [N] (broadcast over time) or [T, N], and a [T, N]
/// mask: every expected value is computed here by plain loops from the loss formulas. The mean divides by
/// Σ_{t,n} w·m over the whole [T, N] sample shape.
/// </summary>
public sealed class SequenceLossWeightingTests
{
    private const int T = 3, N = 2, C = 3;

    private static readonly double[] Out =
    [
        0.2, -1.1, 0.7, /**/ 1.5, 0.3, -0.4,
        -0.6, 0.9, 0.1, /**/ 0.05, -2.0, 1.2,
        0.8, 0.4, -1.3, /**/ -0.2, 0.6, 0.35,
    ];

    private static readonly double[] Target =
    [
        0.0, -1.0, 1.5, /**/ 1.0, 0.9, 0.0,
        -0.1, 0.2, 0.4, /**/ 0.3, -1.0, 0.8,
        1.0, 0.0, -0.3, /**/ 0.5, 0.1, 0.2,
    ];

    // probabilities in (0, 1) for bce (per element) and rows summing to 1 for kl / soft xe
    private static readonly double[] Prob =
    [
        0.1, 0.6, 0.3, /**/ 0.7, 0.2, 0.1,
        0.25, 0.25, 0.5, /**/ 0.0, 1.0, 0.0,
        0.4, 0.4, 0.2, /**/ 0.05, 0.15, 0.8,
    ];

    private static readonly int[] Labels = [2, 0, 1, 1, 0, 2]; // [T, N]
    private static readonly double[] WeightN = [0.5, 2.0];
    private static readonly double[] WeightTN = [1.0, 0.25, 3.0, 0.5, 2.0, 1.5];
    private static readonly double[] MaskTN = [1, 1, 1, 0, 0, 1];

    private static double O(int t, int n, int c) => Out[(t * N + n) * C + c];

    private static double Tg(int t, int n, int c) => Target[(t * N + n) * C + c];

    private static double P(int t, int n, int c) => Prob[(t * N + n) * C + c];

    /// <summary>Per-sample value l[t, n] of each loss, straight from its formula.</summary>
    private static double PerSample(string loss, int t, int n)
    {
        double s = 0;
        switch (loss)
        {
            case "mse":
                for (int c = 0; c < C; c++) s += (O(t, n, c) - Tg(t, n, c)) * (O(t, n, c) - Tg(t, n, c));
                return s / C;
            case "mae":
                for (int c = 0; c < C; c++) s += Math.Abs(O(t, n, c) - Tg(t, n, c));
                return s / C;
            case "huber": // δ = 0.5
                for (int c = 0; c < C; c++)
                {
                    double e = Math.Abs(O(t, n, c) - Tg(t, n, c));
                    s += e <= 0.5 ? e * e / 2 : 0.5 * (e - 0.25);
                }
                return s / C;
            case "bce":
                for (int c = 0; c < C; c++)
                {
                    double x = O(t, n, c), y = P(t, n, c), sig = 1 / (1 + Math.Exp(-x));
                    s += -(y * Math.Log(sig) + (1 - y) * Math.Log(1 - sig));
                }
                return s / C;
            case "xe":
            {
                double z = 0;
                for (int c = 0; c < C; c++) z += Math.Exp(O(t, n, c));
                return Math.Log(z) - O(t, n, Labels[t * N + n]);
            }
            case "xe-soft":
            case "kl":
            {
                double z = 0;
                for (int c = 0; c < C; c++) z += Math.Exp(O(t, n, c));
                for (int c = 0; c < C; c++)
                {
                    double p = P(t, n, c), logq = O(t, n, c) - Math.Log(z);
                    s += loss == "kl" ? (p > 0 ? p * (Math.Log(p) - logq) : 0) : -p * logq;
                }
                return s;
            }
            case "hinge": // margin 1, integer labels
            {
                int y = Labels[t * N + n];
                double other = double.NegativeInfinity;
                for (int c = 0; c < C; c++) if (c != y) other = Math.Max(other, O(t, n, c));
                return Math.Max(0, 1 + other - O(t, n, y));
            }
            default: throw new ArgumentException(loss);
        }
    }

    private static (Loss Loss, Tensor Target) Make(string name, Reduction reduction, bool lastStep = false) => name switch
    {
        "mse" => (new MeanSquaredError { Reduction = reduction, LastStepOnly = lastStep }, Tensor.FromArray(Target, T, N, C)),
        "mae" => (new MeanAbsoluteError { Reduction = reduction, LastStepOnly = lastStep }, Tensor.FromArray(Target, T, N, C)),
        "huber" => (new Huber(0.5) { Reduction = reduction, LastStepOnly = lastStep }, Tensor.FromArray(Target, T, N, C)),
        "bce" => (new BinaryCrossEntropy { Reduction = reduction, LastStepOnly = lastStep }, Tensor.FromArray(Prob, T, N, C)),
        "xe" => (new CrossEntropy { Reduction = reduction, LastStepOnly = lastStep }, Tensor.FromArray(Labels, T, N)),
        "xe-soft" => (new CrossEntropy { Reduction = reduction, LastStepOnly = lastStep }, Tensor.FromArray(Prob, T, N, C)),
        "kl" => (new KLDivergence { Reduction = reduction, LastStepOnly = lastStep }, Tensor.FromArray(Prob, T, N, C)),
        "hinge" => (new Hinge(1.0) { Reduction = reduction, LastStepOnly = lastStep }, Tensor.FromArray(Labels, T, N)),
        _ => throw new ArgumentException(name),
    };

    public static TheoryData<string> Names() => new() { "mse", "mae", "huber", "bce", "xe", "xe-soft", "kl", "hinge" };

    private static void Near(double expected, double actual, string what) =>
        Assert.True(Math.Abs(expected - actual) <= 1e-12 * Math.Max(1, Math.Abs(expected)),
            $"{what}: hand {expected:G15}, loss {actual:G15}");

    [Theory]
    [MemberData(nameof(Names))]
    public void MeanWithWeightsPerSequenceAndMaskPerStep(string name)
    {
        // Σ_{t,n} w_n m_tn l_tn / Σ_{t,n} w_n m_tn: the weight of sequence n counts once per unmasked step
        double num = 0, den = 0;
        for (int t = 0; t < T; t++)
            for (int n = 0; n < N; n++)
            {
                double wm = WeightN[n] * MaskTN[t * N + n];
                num += wm * PerSample(name, t, n);
                den += wm;
            }
        var (loss, target) = Make(name, Reduction.Mean);
        double got = loss.Compute(Tensor.FromArray(Out, T, N, C), target, Tensor.FromArray(WeightN, N), Tensor.FromArray(MaskTN, T, N)).Item();
        Near(num / den, got, name);
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void SumAndNoneWithPerStepWeightsAndMask(string name)
    {
        var (sumLoss, target) = Make(name, Reduction.Sum);
        var (noneLoss, _) = Make(name, Reduction.None);
        var o = Tensor.FromArray(Out, T, N, C);
        var w = Tensor.FromArray(WeightTN, T, N);
        var m = Tensor.FromArray(MaskTN, T, N);
        double total = 0;
        var each = noneLoss.Compute(o, target, w, m);
        Assert.Equal([T, N], each.ShapeArray);
        var got = each.ToDoubleArray();
        for (int t = 0; t < T; t++)
            for (int n = 0; n < N; n++)
            {
                double v = WeightTN[t * N + n] * MaskTN[t * N + n] * PerSample(name, t, n);
                Near(v, got[t * N + n], $"{name} none [{t}, {n}]");
                total += v;
            }
        Near(total, sumLoss.Compute(o, target, w, m).Item(), $"{name} sum");
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void MaskAloneAndWeightsAlone(string name)
    {
        var (loss, target) = Make(name, Reduction.Mean);
        var o = Tensor.FromArray(Out, T, N, C);
        double mNum = 0, mDen = 0, wNum = 0, wDen = 0, plain = 0;
        for (int t = 0; t < T; t++)
            for (int n = 0; n < N; n++)
            {
                double l = PerSample(name, t, n);
                mNum += MaskTN[t * N + n] * l;
                mDen += MaskTN[t * N + n];
                wNum += WeightN[n] * l;
                wDen += WeightN[n];
                plain += l;
            }
        Near(mNum / mDen, loss.Compute(o, target, mask: Tensor.FromArray(MaskTN, T, N)).Item(), $"{name} mask only");
        Near(wNum / wDen, loss.Compute(o, target, Tensor.FromArray(WeightN, N)).Item(), $"{name} weights only");
        Near(plain / (T * N), loss.Compute(o, target).Item(), $"{name} plain mean");
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void LastStepOnlySlicesWeightsAndMaskToo(string name)
    {
        // only t = T−1 counts, with m[T−1] = [0, 1] and weights [N]
        var (loss, target) = Make(name, Reduction.Mean, lastStep: true);
        double num = 0, den = 0;
        for (int n = 0; n < N; n++)
        {
            double wm = WeightN[n] * MaskTN[(T - 1) * N + n];
            num += wm * PerSample(name, T - 1, n);
            den += wm;
        }
        double got = loss.Compute(Tensor.FromArray(Out, T, N, C), target, Tensor.FromArray(WeightN, N), Tensor.FromArray(MaskTN, T, N)).Item();
        Near(num / den, got, $"{name} last step");
    }

    [Fact]
    public void FullyMaskedBatchGivesZeroNotNaN()
    {
        var (loss, target) = Make("mse", Reduction.Mean);
        var o = Tensor.FromArray(Out, T, N, C).RequireGrad();
        var l = loss.Compute(o, target, Tensor.FromArray(WeightN, N), Tensor.Zeros([T, N], DType.Float64));
        Assert.Equal(0.0, l.Item());
        l.Backward();
        Assert.All(o.Grad!.ToDoubleArray(), g => Assert.Equal(0.0, g));
    }

    [Fact]
    public void MseGradientCarriesWeightAndMask()
    {
        // dL/do[t,n,c] = w_n m_tn · 2(o − y)/C / Σ w m
        var (loss, target) = Make("mse", Reduction.Mean);
        var o = Tensor.FromArray(Out, T, N, C).RequireGrad();
        loss.Compute(o, target, Tensor.FromArray(WeightN, N), Tensor.FromArray(MaskTN, T, N)).Backward();
        double den = 0;
        for (int t = 0; t < T; t++)
            for (int n = 0; n < N; n++) den += WeightN[n] * MaskTN[t * N + n];
        var g = o.Grad!.ToDoubleArray();
        for (int t = 0; t < T; t++)
            for (int n = 0; n < N; n++)
                for (int c = 0; c < C; c++)
                {
                    double want = WeightN[n] * MaskTN[t * N + n] * 2 * (O(t, n, c) - Tg(t, n, c)) / C / den;
                    Near(want, g[(t * N + n) * C + c], $"dL/do[{t}, {n}, {c}]");
                }
    }

    [Fact]
    public void WeightsThatDoNotBroadcastAreRejectedNamingTheShapes()
    {
        var (loss, target) = Make("mse", Reduction.Mean);
        var ex = Assert.Throws<ShapeMismatchException>(() =>
            loss.Compute(Tensor.FromArray(Out, T, N, C), target, Tensor.FromArray([1.0, 2.0, 3.0], 3)));
        Assert.Contains("mse loss: weights [3]", ex.Message);
        Assert.Contains("[3, 2]", ex.Message);
        var ex2 = Assert.Throws<ShapeMismatchException>(() =>
            loss.Compute(Tensor.FromArray(Out, T, N, C), target, mask: Tensor.FromArray([1.0, 0.0, 1.0], 3, 1, 1)));
        Assert.Contains("mask [3, 1, 1]", ex2.Message);
    }
}
