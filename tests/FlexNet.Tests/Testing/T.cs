using FlexNet.Autodiff;
using FlexNet.Tensors;

namespace FlexNet.Tests.Testing;

/// <summary>Small helpers for tests: seeded float64 tensors, non-contiguous variants, gradient-check asserts.</summary>
internal static class T
{
    internal static string RefDir => Reference.Dir;

    internal static Tensor Rand(ulong seed, params int[] shape) =>
        Tensor.Normal(shape, 0, 1, new RandomGenerator(seed), DType.Float64).RequireGrad();

    /// <summary>Uniform in [lo, hi), away from kinks when the range excludes them.</summary>
    internal static Tensor RandU(ulong seed, double lo, double hi, params int[] shape) =>
        Tensor.Uniform(shape, lo, hi, new RandomGenerator(seed), DType.Float64).RequireGrad();

    /// <summary>The same values as a non-contiguous view (a transposed copy transposed back).</summary>
    internal static Tensor NonContiguous(Tensor x)
    {
        if (x.Rank < 2) return x;
        Tensor v;
        using (Autograd.NoGrad()) v = x.Transpose(0, -1).Contiguous().Transpose(0, -1).Detach();
        return v.IsContiguous ? x : v.RequireGrad(); // size-1 dimensions can leave the transpose contiguous
    }

    internal static void GradOk(string name, Func<Tensor[], Tensor> f, params Tensor[] inputs)
    {
        var r = GradCheck.Check(name, f, inputs);
        Assert.True(r.Passed, r.Failure);
    }

    internal static void Close(double[] expected, double[] actual, double rtol, double atol, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            double err = Math.Abs(expected[i] - actual[i]);
            Assert.True(err <= atol + rtol * Math.Abs(expected[i]),
                $"{what}: element {i} expected {expected[i]:G12} got {actual[i]:G12} (|diff| {err:G3})");
        }
    }
}
