using FlexNet.Autodiff;
using FlexNet.Connections;
using FlexNet.Graph;
using FlexNet.Tensors;

namespace FlexNet.Tests.Graph;

/// <summary>
/// Loop-invariant hoisting: a dense connection from a non-temporal input into a layer that runs at every step gives the
/// same product at every step, so the plan computes z₀ = Σ W x + b once per run and adds it at each step. Checked
/// against plain loops written here (no plan, no kernels), with gradients against finite differences, and with the
/// hoisting off.
/// </summary>
public sealed class LoopInvariantTests
{
    private const int Steps = 5, N = 2;

    /// <summary>h1(t) = tanh(A x + a + B u + b + C h2(t−1) + c), h2(t) = tanh(D h1(t) + d); x [N, 3] and u [N, 2] are
    /// non-temporal (the same at every step), h2 is the every-step output.</summary>
    private static (Network Net, Tensor X, Tensor U) Build(bool hoist, bool lastStep = false)
    {
        var net = new Network("inv", DType.Float64, 3) { HoistInvariants = hoist };
        var x = new InputLayer(3, name: "x");
        var u = new InputLayer(2, name: "u");
        var h1 = new Layer(4, "tanh", name: "h1");
        var h2 = new Layer(3, "tanh", name: "h2");
        net.ConnectDense(x, h1, name: "A");
        net.ConnectDense(u, h1, name: "B");
        net.ConnectDense(h2, h1, delay: 1, name: "C");
        net.ConnectDense(h1, h2, name: "D");
        net.AddOutput(h2, lastStep ? OutputMode.LastStep : OutputMode.AllSteps);
        net.Compile();
        var rng = new RandomGenerator(4);
        foreach (var p in net.Parameters) p.CopyFrom(Tensor.Normal(p.ShapeArray, 0, 0.6, rng, DType.Float64));
        var xs = Tensor.Normal([N, 3], 0, 1, new RandomGenerator(5), DType.Float64);
        var us = Tensor.Normal([N, 2], 0, 1, new RandomGenerator(6), DType.Float64);
        return (net, xs, us);
    }

    private static double[] Oracle(Network net, Tensor x, Tensor u)
    {
        var c = net.Connections.Cast<DenseConnection>().ToDictionary(k => k.Name);
        double[] W(string n) => c[n].Weight.ToDoubleArray();
        double[] B(string n) => c[n].Bias!.ToDoubleArray();
        double[] xs = x.ToDoubleArray(), us = u.ToDoubleArray();
        var out2 = new double[Steps * N * 3];
        var prev = new double[N * 3];
        for (int t = 0; t < Steps; t++)
        {
            var h2 = new double[N * 3];
            for (int n = 0; n < N; n++)
            {
                var h1 = new double[4];
                for (int o = 0; o < 4; o++)
                {
                    double z = B("A")[o] + B("B")[o] + B("C")[o];
                    for (int i = 0; i < 3; i++) z += W("A")[o * 3 + i] * xs[n * 3 + i];
                    for (int i = 0; i < 2; i++) z += W("B")[o * 2 + i] * us[n * 2 + i];
                    for (int i = 0; i < 3; i++) z += W("C")[o * 3 + i] * prev[n * 3 + i];
                    h1[o] = Math.Tanh(z);
                }
                for (int o = 0; o < 3; o++)
                {
                    double z = B("D")[o];
                    for (int i = 0; i < 4; i++) z += W("D")[o * 4 + i] * h1[i];
                    h2[n * 3 + o] = Math.Tanh(z);
                }
            }
            Array.Copy(h2, 0, out2, t * N * 3, N * 3);
            prev = h2;
        }
        return out2;
    }

    [Fact]
    public void HoistedInvariants_MatchPlainLoops_AndThePlanSaysSo()
    {
        var (net, x, u) = Build(hoist: true);
        Assert.Contains("[once per run: x + u]", net.DescribePlan());
        var got = net.Forward([x, u], training: false, steps: Steps)[0];
        Assert.Equal([Steps, N, 3], got.ShapeArray);
        var want = Oracle(net, x, u);
        var g = got.ToDoubleArray();
        for (int i = 0; i < want.Length; i++)
            Assert.True(Math.Abs(want[i] - g[i]) <= 1e-12 + 1e-12 * Math.Abs(want[i]), $"element {i}: loops {want[i]:G15}, network {g[i]:G15}");
        var (off, _, _) = Build(hoist: false);
        Assert.DoesNotContain("once per run", off.DescribePlan());
    }

    [Fact]
    public void HoistedInvariants_GradientsMatchFiniteDifferences_AndTheUnhoistedPlan()
    {
        var (net, x, u) = Build(hoist: true);
        var ps = net.Parameters.ToArray();
        var r = GradCheck.Check("hoisted", _ => net.Forward([x, u], training: true, steps: Steps)[0], ps);
        Assert.True(r.Passed, r.Failure);

        var (plain, _, _) = Build(hoist: false);
        var g1 = Grads(net, x, u);
        var g2 = Grads(plain, x, u);
        for (int k = 0; k < g1.Length; k++)
            for (int i = 0; i < g1[k].Length; i++)
                Assert.True(Math.Abs(g1[k][i] - g2[k][i]) <= 1e-12 + 1e-12 * Math.Abs(g2[k][i]), $"parameter {k}, element {i}");
    }

    private static double[][] Grads(Network net, Tensor x, Tensor u)
    {
        foreach (var p in net.Parameters) p.Grad = null;
        var y = net.Forward([x, u], training: true, steps: Steps)[0];
        (y * y).Sum().Backward();
        return net.Parameters.Select(p => p.Grad!.ToDoubleArray()).ToArray();
    }

    [Fact]
    public void TruncatedWindows_KeepTheHoistedSum()
    {
        // with truncation every window after the first reads z₀ made in the first: it must survive the window's scope
        var (net, x, u) = Build(hoist: true, lastStep: true);
        var (plain, _, _) = Build(hoist: false, lastStep: true);
        net.TruncatedBptt = 2;
        plain.TruncatedBptt = 2;
        using (TensorScope.Begin())
        {
            var a = net.Forward([x, u], training: true, steps: Steps)[0];
            var b = plain.Forward([x, u], training: true, steps: Steps)[0];
            (a * a).Sum().Backward();
            (b * b).Sum().Backward();
            var av = a.ToDoubleArray();
            var bv = b.ToDoubleArray();
            for (int i = 0; i < av.Length; i++) Assert.True(Math.Abs(av[i] - bv[i]) <= 1e-12, $"element {i}");
            var pa = net.Parameters.ToArray();
            var pb = plain.Parameters.ToArray();
            for (int k = 0; k < pa.Length; k++)
            {
                var ga = pa[k].Grad!.ToDoubleArray();
                var gb = pb[k].Grad!.ToDoubleArray();
                for (int i = 0; i < ga.Length; i++) Assert.True(Math.Abs(ga[i] - gb[i]) <= 1e-12 + 1e-12 * Math.Abs(gb[i]), $"parameter {k}, element {i}");
            }
        }
    }
}
