using FlexNet.Autodiff;
using FlexNet.Tensors;

namespace FlexNet.Tests.Autodiff;

/// <summary>
/// GradCheck must be able to fail: every gradient test in the suite relies on it. Each function here has a forward
/// value whose true derivative differs from what backward reports, built with <see cref="Tensor.Detach"/>: in
/// <c>f = a + (b − a).Detach()</c> the value is b but backward sees only a. The expected derivatives are written by hand.
/// </summary>
public sealed class GradCheckSelfTests
{
    private static Tensor X(params int[] shape)
    {
        // deterministic values in [0.5, 1.7), away from 0 so that x² has a non-zero derivative everywhere
        int n = 1;
        foreach (int d in shape) n *= d;
        var v = new double[n];
        for (int i = 0; i < n; i++) v[i] = 0.5 + 0.1 * ((i * 7) % 12);
        return Tensor.FromArray(v, shape).RequireGrad();
    }

    private static Tensor Mask(int[] shape, int flat)
    {
        int n = 1;
        foreach (int d in shape) n *= d;
        var v = new double[n];
        v[flat] = 1;
        return Tensor.FromArray(v, shape);
    }

    [Fact]
    public void CorrectGradientPasses()
    {
        var x = X(3, 4);
        var r = GradCheck.Check("square", a => a[0] * a[0] * 3.0, [x]);
        Assert.True(r.Passed, r.Failure);
        Assert.True(r.MaxError < 1e-7, $"max error {r.MaxError}");
    }

    [Fact]
    public void WrongSignFails()
    {
        // value −x³ (derivative −3x²), backward reports +3x²: equal magnitudes, opposite signs.
        var x = X(3, 4);
        var r = GradCheck.Check("wrong-sign", a =>
        {
            var cube = a[0] * a[0] * a[0];
            return cube + (-cube - cube).Detach();
        }, [x]);
        Assert.False(r.Passed);
        Assert.Contains("wrong-sign: gradient of input 0 (shape [3, 4]) element 0 [0, 0]", r.Failure);
        // analytic +0.75·g, numeric −0.75·g (x = 0.5, g the random output weight): a check of magnitudes alone passes
        Assert.True(r.MaxError > 0.1, $"max error {r.MaxError}");
    }

    [Fact]
    public void WrongScaleFails()
    {
        // value x² (derivative 2x), backward reports 3x (1.5 times too large).
        var x = X(2, 3);
        var r = GradCheck.Check("wrong-scale", a =>
        {
            var sq = a[0] * a[0];
            return sq * 1.5 + (sq - sq * 1.5).Detach();
        }, [x]);
        Assert.False(r.Passed);
        Assert.Contains("wrong-scale: gradient of input 0 (shape [2, 3]) element 0 [0, 0]", r.Failure);
        Assert.Contains("analytic", r.Failure);
        Assert.Contains("numeric", r.Failure);
    }

    [Fact]
    public void OneWrongElementIsNamedByFlatIndexAndCoordinates()
    {
        // every element is x² except element 6 = [1, 2] of a [3, 4] input, whose backward is 0 while its value is 5x.
        int[] shape = [3, 4];
        var x = X(shape);
        var m = Mask(shape, 6);
        var r = GradCheck.Check("one-element", a =>
        {
            var good = a[0] * a[0] * (1 - m);
            return good + (m * a[0] * 5.0).Detach();
        }, [x]);
        Assert.False(r.Passed);
        Assert.Matches(@"^one-element: gradient of input 0 \(shape \[3, 4\]\) element 6 \[1, 2\]: analytic -?0, numeric -?\d", r.Failure);
    }

    [Fact]
    public void WrongGradientOfTheSecondInputNamesThatInput()
    {
        // f(a, b) = a·b: a's gradient right, b's halved.
        var a = X(2, 2);
        var b = X(2, 2);
        var r = GradCheck.Check("second", t =>
        {
            var p = t[0] * t[1];
            return t[0].Detach() * t[1] * 0.5 + t[0] * t[1].Detach() + (p * 0.5 - p).Detach() + p.Detach() * 0.0;
        }, [a, b]);
        Assert.False(r.Passed);
        Assert.Contains("gradient of input 1 (shape [2, 2]) element 0 [0, 0]", r.Failure);
    }

    [Fact]
    public void InputsWithoutGradAreSkippedAndNumberedByPosition()
    {
        // input 0 needs no gradient (its "wrong" derivative must not matter); input 1 is wrong and is reported as input 1.
        var c = Tensor.FromArray([1.0, 2.0], 2);
        var x = X(2);
        var r = GradCheck.Check("skip", t => (t[0] * t[1]) + (t[1] * t[1]).Detach(), [c, x]);
        Assert.False(r.Passed);
        Assert.Contains("gradient of input 1 (shape [2]) element 0 [0]", r.Failure);
    }

    [Fact]
    public void ErrorIsRelativeForLargeGradientsAndAbsoluteForSmallOnes()
    {
        // large: value 1e6·x, backward (1e6 + 0.05)·x: relative error 5e-8 passes the 1e-6 tolerance
        var x = X(3);
        var big = GradCheck.Check("big", a => a[0] * (1e6 + 0.05) + (a[0] * -0.05).Detach(), [x]);
        Assert.True(big.Passed, big.Failure);
        Assert.True(big.MaxError > 1e-9 && big.MaxError < 1e-6, $"max error {big.MaxError}");
        // small: value 1e-3·x, backward 2e-3·x: the error 1e-3 (not 100 %) is measured against max(1, |g|)
        var small = GradCheck.Check("small", a => a[0] * 2e-3 + (a[0] * -1e-3).Detach(), [X(3)], tolerance: 1e-2);
        Assert.True(small.Passed, small.Failure);
        var strict = GradCheck.Check("small", a => a[0] * 2e-3 + (a[0] * -1e-3).Detach(), [X(3)]);
        Assert.False(strict.Passed);
    }

    [Fact]
    public void ToleranceIsAnUpperBound()
    {
        // backward 1.0001 times the derivative of x (scaled error 1e-4 times |g|): fails at 1e-6, passes at 1e-2
        Func<Tensor[], Tensor> f = a => a[0] * 1.0001 + (a[0] * -0.0001).Detach();
        Assert.False(GradCheck.Check("tol", f, [X(4)]).Passed);
        Assert.True(GradCheck.Check("tol", f, [X(4)], tolerance: 1e-2).Passed);
    }

    [Fact]
    public void NaNGradientFails()
    {
        // sqrt(0·x) has value 0 and derivative ∞·0 = NaN in backward; the true derivative of the value (0) is 0.
        var x = X(2);
        var r = GradCheck.Check("nan", a => a[0] + (a[0] * 0.0).Sqrt(), [x]);
        Assert.False(r.Passed);
        Assert.Equal(double.PositiveInfinity, r.MaxError);
    }

    [Fact]
    public void NonFloat64InputsAreRejected()
    {
        var x = Tensor.FromArray([1f, 2f], 2).RequireGrad();
        var e = Assert.Throws<ArgumentException>(() => GradCheck.Check("f32", a => a[0] * 2.0, [x]));
        Assert.Contains("Float64", e.Message);
    }
}
