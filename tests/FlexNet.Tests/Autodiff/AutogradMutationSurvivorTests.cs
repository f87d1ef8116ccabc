using System.Globalization;
using System.Text.RegularExpressions;
using FlexNet.Autodiff;
using FlexNet.Tensors;
using FlexNet.Tests.Testing;

namespace FlexNet.Tests.Autodiff;

/// <summary>Tests written against the survivors of the Stryker run of 2026-12-03 15:07 over Autograd, GradCheck,
/// NN, Node, Padding, Binary and Indexing (issue 15): recording rules of two-input ops, the caller's seed never
/// adopted or freed, shared subexpressions walked once, the walk's state after a failed backward, and GradCheck's
/// whole failure message.</summary>
public class AutogradMutationSurvivorTests
{
    [Fact]
    public void TwoInputOpsRecordOnlyWhenEnabledAndAnInputNeedsGradients()
    {
        var x = T.Rand(41, 3);
        var c = Tensor.FromArray(new double[] { 1, 2, 3 }, 3);
        Assert.False((c + c).RequiresGrad);
        Assert.Null((c * c).GradFn);
        Assert.NotNull((c * x).GradFn);
        Assert.NotNull((x - c).GradFn);
        using (Autograd.NoGrad())
        {
            Assert.Null((x + x).GradFn);
            Assert.False((x * c).RequiresGrad);
        }
    }

    [Theory]
    [InlineData("a+c")]
    [InlineData("c+a")]
    [InlineData("a-c")]
    public void TheSeedOfAnAddOrSubRootIsCopiedNotAdoptedByItsInputs(string form)
    {
        // the root passes the seed to both inputs; c = exp(a) then adds its gradient into a's pending gradient,
        // which must not be the caller's seed
        var x = Tensor.FromArray(new double[] { 0.5, -1 }, 2).RequireGrad();
        var a = x * 2.0;
        var c = a.Exp();
        var y = form switch { "a+c" => a + c, "c+a" => c + a, _ => a - c };
        var seed = Tensor.FromArray(new double[] { 1, 3 }, 2);
        y.Backward(seed);
        Assert.Equal(new double[] { 1, 3 }, seed.ToDoubleArray());
        double sign = form == "a-c" ? -1 : 1;
        var xs = new[] { 0.5, -1.0 };
        var s = new[] { 1.0, 3.0 };
        T.Close(xs.Select((v, i) => s[i] * 2 * (1 + sign * Math.Exp(2 * v))).ToArray(), x.Grad!.ToDoubleArray(), 1e-14, 1e-14, form);
    }

    [Fact]
    public void ASeedMadeInsideAScopeIsNotFreedByTheBackward()
    {
        var x = Tensor.FromArray(new double[] { 1, 2, 3 }, 3).RequireGrad();
        using var scope = TensorScope.Begin();
        var seed = Tensor.Full([3], 2.0, DType.Float64);
        var y = x.Tanh();
        y.Backward(seed);
        Assert.False(seed.IsDisposed);
        Assert.Equal(new double[] { 2, 2, 2 }, seed.ToDoubleArray());
        var z = (x * 3.0).Sum();
        z.Backward();
        T.Close(new[] { 1.0, 2, 3 }.Select(v => 2 * (1 - Math.Tanh(v) * Math.Tanh(v)) + 3).ToArray(), x.Grad!.ToDoubleArray(), 1e-14, 1e-14, "grad");
    }

    [Fact]
    public void ASubexpressionSharedAtEveryLevelIsWalkedOnce()
    {
        // h = h·0.5 + h·0.5 forty times: 2^40 paths from the root to x, 120 nodes
        var x = Tensor.FromArray(new double[] { 1.5, -2 }, 2).RequireGrad();
        var h = x;
        for (int i = 0; i < 40; i++) h = h * 0.5 + h * 0.5;
        h.Sum().Backward();
        Assert.Equal(new double[] { 1, 1 }, x.Grad!.ToDoubleArray());
    }

    [Fact]
    public void AFailedBackwardLeavesNothingBehindForTheNextOne()
    {
        var x = T.Rand(42, 3);
        var h = x.Exp();
        h.Sum().Backward();
        Assert.Throws<AutogradException>(() => (h * 2.0).Sum().Backward()); // stops in the middle of the walk
        // the next backward on this thread starts clean: its root is still the root, whose seed is never flushed
        double tiny = double.Epsilon * 1000;
        var v = Tensor.FromArray(new double[] { 1, 2 }, 2).RequireGrad();
        var seed = Tensor.FromArray(new double[] { tiny, 1 }, 2);
        (v * 1.0).Backward(seed);
        Assert.Equal(new double[] { tiny, 1 }, seed.ToDoubleArray());
        Assert.Equal(new double[] { tiny, 1 }, v.Grad!.ToDoubleArray());
    }

    [Fact]
    public void GradCheckFailureMessageNamesAnalyticNumericErrorAndTolerance()
    {
        // forward x, backward 2: analytic 2g, numeric g, error |2g − g| / max(1, |2g|, |g|)
        var x = Tensor.FromArray(new double[] { 0.25 }, 1).RequireGrad();
        var r = GradCheck.Check("twice", a => a[0] * 2.0 + (a[0] * -1.0).Detach(), [x]);
        Assert.False(r.Passed);
        double g = new RandomGenerator(7).NextNormal();
        var inv = CultureInfo.InvariantCulture;
        var m = Regex.Match(r.Failure!, @"^twice: gradient of input 0 \(shape \[1\]\) element 0 \[0\]: analytic (\S+), numeric (\S+), error (\S+) > 1E-06$");
        Assert.True(m.Success, r.Failure);
        Assert.Equal((2 * g).ToString("G10", inv), m.Groups[1].Value);
        double numeric = double.Parse(m.Groups[2].Value.TrimEnd(','), inv);
        Assert.Equal(g, numeric, 1e-6);
        double err = double.Parse(m.Groups[3].Value, inv);
        double expected = Math.Abs(g) / Math.Max(1, 2 * Math.Abs(g));
        Assert.Equal(expected, err, 0.01 * expected);
        Assert.Equal(expected, r.MaxError, 1e-6);
    }
}
