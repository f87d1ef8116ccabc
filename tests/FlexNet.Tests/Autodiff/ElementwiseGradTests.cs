using FlexNet.Autodiff;
using FlexNet.Tests.Testing;
using FlexNet.Tensors;

namespace FlexNet.Tests.Autodiff;

public class ElementwiseGradTests
{
    public static TheoryData<string, int[], int[]> BinaryShapes() => new()
    {
        { "add", [3, 4], [3, 4] }, { "add", [3, 4], [4] }, { "add", [2, 1, 4], [3, 1] }, { "add", [1], [5, 2] },
        { "sub", [3, 4], [3, 4] }, { "sub", [4], [3, 4] }, { "sub", [2, 3, 1], [1, 3, 5] },
        { "mul", [3, 4], [3, 4] }, { "mul", [3, 1], [1, 4] }, { "mul", [1, 1], [2, 5] }, { "mul", [2, 3, 4], [4] },
        { "div", [3, 4], [3, 4] }, { "div", [3, 4], [1, 4] }, { "div", [5], [] },
        { "max", [3, 4], [3, 4] }, { "max", [3, 4], [4] }, { "min", [2, 3], [2, 1] },
    };

    private static Tensor Bin(string op, Tensor a, Tensor b) => op switch
    {
        "add" => a + b,
        "sub" => a - b,
        "mul" => a * b,
        "div" => a / b,
        "max" => a.Maximum(b),
        _ => a.Minimum(b),
    };

    [Theory]
    [MemberData(nameof(BinaryShapes))]
    public void BinaryOpsPassGradientCheck(string op, int[] sa, int[] sb)
    {
        var a = T.Rand(1, sa);
        var b = op == "div" ? T.RandU(2, 0.5, 2, sb) : T.Rand(2, sb);
        T.GradOk(op, x => Bin(op, x[0], x[1]), a, b);
        T.GradOk(op + " non-contiguous", x => Bin(op, x[0], x[1]), T.NonContiguous(a), b);
    }

    [Fact]
    public void BroadcastForwardMatchesNaiveLoop()
    {
        var a = T.Rand(3, 2, 1, 4);
        var b = T.Rand(4, 3, 1);
        var y = (a * b).ToDoubleArray();
        Assert.Equal([2, 3, 4], (a * b).Shape.ToArray());
        for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++)
        for (int k = 0; k < 4; k++)
            Assert.Equal(a[i, 0, k] * b[j, 0], y[(i * 3 + j) * 4 + k], 15);
    }

    public static TheoryData<string> UnaryNames() =>
        ["neg", "exp", "log", "sqrt", "abs", "square", "tanh", "sigmoid", "relu", "leaky", "elu", "softplus",
         "softsign", "clip", "pow", "addS", "mulS", "rsub"];

    private static Tensor Un(string op, Tensor x) => op switch
    {
        "neg" => -x,
        "exp" => x.Exp(),
        "log" => x.Abs().Log(),
        "sqrt" => (x.Abs() + 0.1).Sqrt(),
        "abs" => x.Abs(),
        "square" => x.Square(),
        "tanh" => x.Tanh(),
        "sigmoid" => x.Sigmoid(),
        "relu" => x.Relu(),
        "leaky" => x.LeakyRelu(0.2),
        "elu" => x.Elu(0.7),
        "softplus" => x.Softplus(),
        "softsign" => x.Softsign(),
        "clip" => x.Clip(-0.5, 0.7),
        "pow" => (x.Abs() + 0.5).Pow(2.5),
        "addS" => x + 3.0,
        "mulS" => 2.5 * x,
        _ => 1.0 - x,
    };

    [Theory]
    [MemberData(nameof(UnaryNames))]
    public void UnaryOpsPassGradientCheck(string op)
    {
        // values kept away from the kinks at 0, -0.5 and 0.7 (at least 10 steps of h = 1e-6)
        var x = Tensor.FromArray(new double[] { -2.1, -0.9, -0.31, -0.02, 0.03, 0.4, 0.95, 1.7, 3.2, -4.4, 0.55, -0.65 }, 3, 4)
            .RequireGrad();
        T.GradOk(op, v => Un(op, v[0]), x);
        T.GradOk(op + " non-contiguous", v => Un(op, v[0]), T.NonContiguous(x));
        T.GradOk(op + " batch 1", v => Un(op, v[0]), T.Rand(9, 1, 5).Clip(-3, 3).Detach().RequireGrad());
    }

    [Fact]
    public void UnaryForwardValuesMatchScalarMath()
    {
        var xs = new double[] { -3, -0.5, 0.25, 2 };
        var x = Tensor.FromArray(xs, 4);
        T.Close(xs.Select(v => Math.Log(1 + Math.Exp(v))).ToArray(), x.Softplus().ToDoubleArray(), 0, 1e-12, "values");
        T.Close(xs.Select(v => v / (1 + Math.Abs(v))).ToArray(), x.Softsign().ToDoubleArray(), 0, 1e-12, "values");
        T.Close(xs.Select(v => v > 0 ? v : 1.5 * (Math.Exp(v) - 1)).ToArray(), x.Elu(1.5).ToDoubleArray(), 0, 1e-12, "values");
        T.Close(xs.Select(v => 1 / (1 + Math.Exp(-v))).ToArray(), x.Sigmoid().ToDoubleArray(), 0, 1e-12, "values");
        var big = Tensor.FromArray(new float[] { -1e4f, 1e4f, 100, -100 }, 4);
        Assert.All(big.Softplus().ToFloatArray(), v => Assert.True(float.IsFinite(v)));
        Assert.All(big.Sigmoid().ToFloatArray(), v => Assert.True(float.IsFinite(v)));
        Assert.All(big.Tanh().ToFloatArray(), v => Assert.True(float.IsFinite(v)));
    }

    [Fact]
    public void WhereSelectsAndRoutesGradient()
    {
        var c = Tensor.FromArray(new double[] { 1, 0, 1, 0 }, 4);
        var a = T.Rand(1, 4);
        var b = T.Rand(2, 1);
        T.GradOk("where", x => Tensor.Where(c, x[0], x[1]), a, b);
        var y = Tensor.Where(c, a, b).ToDoubleArray();
        Assert.Equal(a[0], y[0]);
        Assert.Equal(b[0], y[1]);
    }
}
