using System.Globalization;
using FlexNet.Tensors;

namespace FlexNet.Autodiff;

/// <summary>
/// Finite-difference gradient checking in float64: compares the gradients that backward computes for
/// L = Σ f(inputs) ⊙ g (g random, fixed) with central differences (L(x+h) − L(x−h)) / 2h. Use it to verify
/// custom ops, layers and connections.
/// </summary>
public static class GradCheck
{
    /// <summary>Default step of the central difference.</summary>
    public const double DefaultStep = 1e-6;

    /// <summary>Default tolerance on |analytic − numeric| / max(1, |analytic|, |numeric|).</summary>
    public const double DefaultTolerance = 1e-6;

    /// <summary>Result of one check: the worst element found.</summary>
    /// <param name="MaxError">Largest scaled error over all inputs and elements.</param>
    /// <param name="Failure">Null when the check passed, else a description naming the input, element and both values.</param>
    public sealed record Result(double MaxError, string? Failure)
    {
        /// <summary>True when every element was within tolerance.</summary>
        public bool Passed => Failure is null;
    }

    /// <summary>Checks every element of every input that requires gradients.</summary>
    /// <param name="name">Op or layer name for the failure message.</param>
    /// <param name="f">The function under test; called many times, must be deterministic.</param>
    /// <param name="inputs">Float64 inputs; those with RequiresGrad are checked.</param>
    /// <param name="seed">Seed of the random output weights g.</param>
    /// <param name="step">Finite-difference step h.</param>
    /// <param name="tolerance">Allowed scaled error.</param>
    /// <returns>The worst error and, on failure, a description.</returns>
    public static Result Check(string name, Func<Tensor[], Tensor> f, Tensor[] inputs, ulong seed = 7,
                               double step = DefaultStep, double tolerance = DefaultTolerance)
    {
        foreach (var x in inputs)
            if (x.RequiresGrad && x.DType != DType.Float64)
                throw new ArgumentException($"GradCheck({name}): inputs must be Float64; got {x.DType}.");
        foreach (var x in inputs) x.Grad = null;
        var y = f(inputs);
        var g = Tensor.Normal(y.ShapeArray, 0, 1, new RandomGenerator(seed), DType.Float64);
        var loss = (y * g).Sum();
        loss.Backward();

        double worst = 0;
        for (int k = 0; k < inputs.Length; k++)
        {
            var x = inputs[k];
            if (!x.RequiresGrad) continue;
            var analytic = x.Grad?.ToDoubleArray() ?? new double[x.Length];
            int e = 0;
            foreach (int off in ShapeUtil.Offsets(x))
            {
                double orig = x.GetFlat(off);
                x.SetFlat(off, orig + step);
                double lp = Eval(f, inputs, g);
                x.SetFlat(off, orig - step);
                double lm = Eval(f, inputs, g);
                x.SetFlat(off, orig);
                double numeric = (lp - lm) / (2 * step);
                double a = analytic[e];
                double err = Math.Abs(a - numeric) / Math.Max(1, Math.Max(Math.Abs(a), Math.Abs(numeric)));
                if (double.IsNaN(err)) err = double.PositiveInfinity;
                worst = Math.Max(worst, err);
                if (err > tolerance)
                    return new Result(worst, Message(name, k, x, e, a, numeric, err, tolerance));
                e++;
            }
        }
        return new Result(worst, null);
    }

    // One plain interpolated string with invariant ToString calls (not string.Create with a handler): Stryker's string
    // mutants of a handler argument do not compile and would take every mutant of Check out of mutation testing.
    private static string Message(string name, int k, Tensor x, int e, double a, double numeric, double err, double tolerance)
    {
        var inv = CultureInfo.InvariantCulture;
        return $"{name}: gradient of input {k.ToString(inv)} (shape {ShapeUtil.Format(x.Shape)}) element {e.ToString(inv)} "
               + $"{ShapeUtil.Format(Unravel(e, x.ShapeArray))}: analytic {a.ToString("G10", inv)}, numeric {numeric.ToString("G10", inv)}, "
               + $"error {err.ToString("G3", inv)} > {tolerance.ToString("G3", inv)}";
    }

    private static double Eval(Func<Tensor[], Tensor> f, Tensor[] inputs, Tensor g)
    {
        using var _ = Autograd.NoGrad();
        return (f(inputs) * g).Sum().Item();
    }

    private static int[] Unravel(int flat, int[] shape)
    {
        var idx = new int[shape.Length];
        for (int d = shape.Length - 1; d >= 0; d--)
        {
            idx[d] = shape[d] == 0 ? 0 : flat % shape[d];
            flat = shape[d] == 0 ? 0 : flat / shape[d];
        }
        return idx;
    }
}
