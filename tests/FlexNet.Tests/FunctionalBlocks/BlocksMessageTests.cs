using FlexNet.Autodiff;
using FlexNet.FunctionalBlocks;
using FlexNet.Tensors;

namespace FlexNet.Tests.FunctionalBlocks;

/// <summary>The functional tier's bookkeeping, checked whole: every error message and exception type, default and
/// given names, descriptions, the summary table, shape boundaries (a kernel or window exactly as large as its input)
/// and the flatten of <see cref="Blocks.Linear"/> against hand-written sums. Expectations are literals in the test.</summary>
public class BlocksMessageTests
{
    private static Tensor Data(ulong seed, params int[] shape) =>
        Tensor.Normal(shape, 0, 1, new RandomGenerator(seed), DType.Float64);

    [Fact]
    public void InputRejectsBadDeclarationsAndBatchesWithWholeMessages()
    {
        // null or blank arguments, each by its own check (the 10:14 rerun's two survivors)
        Assert.Equal("shape", Assert.Throws<ArgumentNullException>(() => Blocks.Input(null!)).ParamName);
        Assert.Equal("name", Assert.Throws<ArgumentNullException>(() => Blocks.Input([3], name: null!)).ParamName);
        var blank = Assert.Throws<ArgumentException>(() => Blocks.Input([3], name: " "));
        Assert.Equal("name", blank.ParamName);
        Assert.IsNotType<ShapeMismatchException>(blank);
        var e1 = Assert.Throws<ArgumentException>(() => Blocks.Input([3], DType.Int32));
        Assert.Equal("dtype", e1.ParamName);
        Assert.Equal("Blocks.Input 'input': dtype must be Float32 or Float64. Received: Int32 (Parameter 'dtype')", e1.Message);
        var e2 = Assert.Throws<ShapeMismatchException>(() => Blocks.Input([3, 0], name: "pixels"));
        Assert.Equal("Blocks.Input 'pixels': the per-sample shape must have at least one dimension, all positive. Received: [3, 0]", e2.Message);

        var input = Blocks.Input([3, 2]);
        Assert.Equal("Input [3, 2] Float32", input.Description);
        Assert.Equal("input: Input [3, 2] Float32 → [3, 2]", input.ToString());
        Assert.Equal("Input [4] Float64", Blocks.Input([4], DType.Float64).Description);
        Assert.Throws<ArgumentNullException>("x", () => input.Output(null!));
        Assert.Throws<ArgumentNullException>("x", () => input.EvalOutput(null!));
        // same rank and dtype, same element count, other dimensions: every axis is compared
        var e3 = Assert.Throws<ShapeMismatchException>(() => input.Output(Tensor.Zeros([5, 2, 3])));
        Assert.Equal("Blocks.Input 'input': expected a batch [N, 3, 2] (Float32); got [5, 2, 3] (Float32).", e3.Message);
        var e4 = Assert.Throws<ShapeMismatchException>(() => input.Output(Tensor.Zeros([5, 3, 3])));
        Assert.Equal("Blocks.Input 'input': expected a batch [N, 3, 2] (Float32); got [5, 3, 3] (Float32).", e4.Message);
        var x = Tensor.Zeros([5, 3, 2]);
        Assert.Same(x, input.Output(x));
    }

    [Fact]
    public void ConvChecksArgumentsAndNamesTheAxisThatDoesNotFit()
    {
        var small = Blocks.Input([1, 4, 4]);
        Assert.Throws<ArgumentNullException>("input", () => Blocks.Conv(null!, 2, 3));
        var e1 = Assert.Throws<ArgumentOutOfRangeException>(() => Blocks.Conv(small, 0, 3));
        Assert.Equal("filters", e1.ParamName);
        Assert.Equal("Block 'conv1': filters must be positive. Received: 0 (Parameter 'filters')", e1.Message);
        var e2 = Assert.Throws<ArgumentOutOfRangeException>(() => Blocks.Conv(small, 2, 0, name: "c"));
        Assert.Equal("Block 'c': kernel must be positive. Received: 0 (Parameter 'kernel')", e2.Message);
        var e3 = Assert.Throws<ArgumentOutOfRangeException>(() => Blocks.Conv(small, 2, 3, stride: -1));
        Assert.Equal("Block 'conv1': stride must be positive. Received: -1 (Parameter 'stride')", e3.Message);

        var eh = Assert.Throws<ShapeMismatchException>(() => Blocks.Conv(Blocks.Input([1, 2, 5]), 2, 3));
        Assert.Equal("Blocks.Conv 'conv1': the 3×3 kernel does not fit the height 2 (padded 2) of input 'input' of per-sample shape [1, 2, 5].", eh.Message);
        var ew = Assert.Throws<ShapeMismatchException>(() => Blocks.Conv(Blocks.Input([1, 5, 2]), 2, 3, padding: Padding.Explicit(1, 0)));
        Assert.Equal("Blocks.Conv 'conv1': the 3×3 kernel does not fit the width 2 (padded 2) of input 'input' of per-sample shape [1, 5, 2].", ew.Message);
        var er = Assert.Throws<ShapeMismatchException>(() => Blocks.Conv(Blocks.Input([16]), 2, 3));
        Assert.Equal("Blocks.Conv 'conv1': input 'input' has per-sample shape [16]; a convolution needs [C, H, W].", er.Message);

        // a kernel exactly as large as the (padded) input fits: one output position, the full dot product
        var b = Blocks.Conv(Blocks.Input([2, 3, 3], DType.Float64), 1, 3, new RandomGenerator(1));
        Assert.Equal([1, 1, 1], b.Shape);
        var x = Data(2, 2, 2, 3, 3);
        double[] xs = x.ToDoubleArray(), ws = b.OwnParameters[0].ToDoubleArray();
        var y = b.Output(x).ToDoubleArray();
        for (int s = 0; s < 2; s++)
        {
            double acc = 0;
            for (int i = 0; i < 18; i++) acc += ws[i] * xs[s * 18 + i];
            Assert.Equal(acc, y[s], 12);
        }
        Assert.Equal([1, 1, 1], Blocks.Conv(Blocks.Input([1, 1, 1]), 1, 3, padding: 1).Shape);
        Assert.Equal([1, 1, 1], Blocks.Conv(Blocks.Input([1, 2, 1]), 1, 3, padding: Padding.Explicit(0, 1, 1, 1)).Shape);
    }

    [Fact]
    public void ConvDescribesItsPaddingAndHonoursBiasFalse()
    {
        var input = Blocks.Input([2, 5, 5]);
        Assert.Equal("Conv2d(2 → 3, 3×3, stride 1, padding valid)", Blocks.Conv(input, 3, 3).Description);
        Assert.Equal("Conv2d(2 → 3, 3×3, stride 2, padding same)", Blocks.Conv(input, 3, 3, stride: 2, padding: Padding.Same).Description);
        Assert.Equal("Conv2d(2 → 4, 1×1, stride 1, padding 1)", Blocks.Conv(input, 4, 1, padding: 1).Description);
        Assert.Equal("Conv2d(2 → 4, 3×3, stride 1, padding (1, 0, 2, 0))", Blocks.Conv(input, 4, 3, padding: Padding.Explicit(1, 0, 2, 0)).Description);

        var nb = Blocks.Conv(input, 3, 3, bias: false, name: "nb");
        Assert.Equal("nb", nb.Name);
        var w = Assert.Single(nb.OwnParameters);
        Assert.Equal("nb.weight", w.Name);
        Assert.Same(w, Assert.Single(nb.Parameters));
        Assert.Equal(3 * 2 * 9, nb.ParameterCount);
    }

    [Fact]
    public void MaxPoolChecksArgumentsAndTheWindowAtItsBoundary()
    {
        var input = Blocks.Input([2, 4, 4], DType.Float64);
        Assert.Throws<ArgumentNullException>("input", () => Blocks.MaxPool(null!, 2));
        var e1 = Assert.Throws<ArgumentOutOfRangeException>(() => Blocks.MaxPool(input, 0));
        Assert.Equal("Block 'maxpool1': size must be positive. Received: 0 (Parameter 'size')", e1.Message);
        var e2 = Assert.Throws<ArgumentOutOfRangeException>(() => Blocks.MaxPool(input, 2, 0, name: "p"));
        Assert.Equal("Block 'p': stride must be positive. Received: 0 (Parameter 'stride')", e2.Message);
        var e3 = Assert.Throws<ShapeMismatchException>(() => Blocks.MaxPool(Blocks.Input([4, 4]), 2));
        Assert.Equal("Blocks.MaxPool 'maxpool1': input 'input' has per-sample shape [4, 4]; max pooling needs [C, H, W].", e3.Message);
        // too short in one axis only, either one
        var eh = Assert.Throws<ShapeMismatchException>(() => Blocks.MaxPool(Blocks.Input([2, 3, 4]), 4));
        Assert.Equal("Blocks.MaxPool 'maxpool1': the 4×4 window does not fit input 'input' of per-sample shape [2, 3, 4].", eh.Message);
        var ew = Assert.Throws<ShapeMismatchException>(() => Blocks.MaxPool(Blocks.Input([2, 4, 3]), 4));
        Assert.Equal("Blocks.MaxPool 'maxpool1': the 4×4 window does not fit input 'input' of per-sample shape [2, 4, 3].", ew.Message);

        // a window exactly as large as the input: one maximum per channel
        var b = Blocks.MaxPool(input, 4, name: "whole");
        Assert.Equal("whole", b.Name);
        Assert.Equal("MaxPool2d(4×4, stride 4)", b.Description);
        Assert.Equal("MaxPool2d(3×3, stride 1)", Blocks.MaxPool(input, 3, 1).Description);
        Assert.Equal([2, 1, 1], b.Shape);
        var x = Data(3, 3, 2, 4, 4);
        double[] xs = x.ToDoubleArray(), y = b.Output(x).ToDoubleArray();
        Assert.Equal(6, y.Length);
        for (int p = 0; p < 6; p++)
        {
            double m = double.NegativeInfinity;
            for (int i = 0; i < 16; i++) m = Math.Max(m, xs[p * 16 + i]);
            Assert.Equal(m, y[p]);
        }
    }

    [Fact]
    public void DefaultNamesCountThePositionAndGivenNamesAreKept()
    {
        var rng = new RandomGenerator(1);
        var b = Blocks.Input([2, 6, 6]);
        b = Blocks.Conv(b, 2, 3, rng);         // 1
        b = Blocks.Activation(b, "relu");      // 2
        b = Blocks.MaxPool(b, 2);              // 3
        b = Blocks.Dropout(b, 0.25, rng);      // 4
        b = Blocks.Linear(b, 3, rng);          // 5
        var names = new List<string>();
        for (var k = b; k is not null; k = k.Previous) names.Add(k.Name);
        Assert.Equal(["linear5", "dropout4", "maxpool3", "activation2", "conv1", "input"], names);

        Assert.Equal("a", Blocks.Activation(b, "tanh", name: "a").Name);
        Assert.Equal("d", Blocks.Dropout(b, 0.5, name: "d").Name);
        var l = Blocks.Linear(b, 2, rng, name: "head");
        Assert.Equal("head", l.Name);
        Assert.Equal(["head.weight", "head.bias"], l.OwnParameters.Select(p => p.Name).ToArray());
        Assert.Equal("m", Blocks.MaxPool(Blocks.Input([1, 2, 2]), 2, name: "m").Name);
    }

    [Fact]
    public void ActivationLinearAndDropoutCheckTheirArguments()
    {
        var vec = Blocks.Input([5]);
        Assert.Throws<ArgumentNullException>("input", () => Blocks.Activation(null!, "relu"));
        Assert.Throws<ArgumentNullException>("activation", () => Blocks.Activation(vec, null!));
        Assert.Equal("Activation(Sigmoid)", Blocks.Activation(vec, "Sigmoid").Description);

        Assert.Throws<ArgumentNullException>("input", () => Blocks.Linear(null!, 2));
        var e1 = Assert.Throws<ArgumentOutOfRangeException>(() => Blocks.Linear(vec, -3));
        Assert.Equal("Block 'linear1': units must be positive. Received: -3 (Parameter 'units')", e1.Message);
        // 65536² = 2³² features: rejected before any weight is allocated
        var e2 = Assert.Throws<ShapeMismatchException>(() => Blocks.Linear(Blocks.Input([65536, 65536]), 1));
        Assert.Equal("Blocks.Linear 'linear1': input 'input' of per-sample shape [65536, 65536] has more than 2147483591 features.", e2.Message);
        // 2⁶⁴ features wrapped a long product to 0 and built a weight [1, 0]
        var e3 = Assert.Throws<ShapeMismatchException>(() => Blocks.Linear(Blocks.Input([65536, 65536, 65536, 65536]), 1));
        Assert.Equal("Blocks.Linear 'linear1': input 'input' of per-sample shape [65536, 65536, 65536, 65536] has more than 2147483591 features.", e3.Message);
        // Array.MaxLength + 1 features, one unit: the first count past the limit
        var e4 = Assert.Throws<ShapeMismatchException>(() => Blocks.Linear(Blocks.Input([2147483592]), 1, name: "big"));
        Assert.Equal("Blocks.Linear 'big': input 'input' of per-sample shape [2147483592] has more than 2147483591 features.", e4.Message);
        // few enough features, too many weights: 2 × 2³⁰ = 2³¹, and Array.MaxLength features with 2 units
        var e5 = Assert.Throws<ShapeMismatchException>(() => Blocks.Linear(Blocks.Input([1024, 1048576]), 2));
        Assert.Equal("Blocks.Linear 'linear1': input 'input' of per-sample shape [1024, 1048576] has 1073741824 features; a weight [2, 1073741824] would hold more than 2147483591 elements.", e5.Message);
        var e6 = Assert.Throws<ShapeMismatchException>(() => Blocks.Linear(Blocks.Input([2147483591]), 2));
        Assert.Equal("Blocks.Linear 'linear1': input 'input' of per-sample shape [2147483591] has 2147483591 features; a weight [2, 2147483591] would hold more than 2147483591 elements.", e6.Message);
        // the largest weight a test can afford, to show the check lets ordinary ones through
        Assert.Equal([3], Blocks.Linear(Blocks.Input([1000, 1000]), 3, bias: false).Shape);

        Assert.Throws<ArgumentNullException>("input", () => Blocks.Dropout(null!, 0.5));
        var ed = Assert.Throws<ArgumentOutOfRangeException>(() => Blocks.Dropout(vec, 1));
        Assert.Equal("p", ed.ParamName);
        Assert.Equal("Blocks.Dropout 'dropout1': the drop probability must be in [0, 1). Received: 1 (Parameter 'p')", ed.Message);
        Assert.Throws<ArgumentOutOfRangeException>("p", () => Blocks.Dropout(vec, double.NaN));
        Assert.Equal("Dropout(0.25)", Blocks.Dropout(vec, 0.25).Description);
    }

    [Fact]
    public void LinearDescribesItsFlattenAndComputesOnRankOneAndRankThreeInputs()
    {
        var rng = new RandomGenerator(4);
        var flat = Blocks.Linear(Blocks.Input([2, 3, 2], DType.Float64), 4, rng);
        Assert.Equal("Linear(flatten [2, 3, 2] = 12 → 4)", flat.Description);
        var vec = Blocks.Linear(Blocks.Input([7], DType.Float64), 3, rng);
        Assert.Equal("Linear(7 → 3)", vec.Description);
        Assert.Equal("linear1: Linear(7 → 3) → [3]", vec.ToString());

        foreach (var (b, d) in new[] { (flat, 12), (vec, 7) })
        {
            int units = b.Shape[0];
            using (Autograd.NoGrad()) b.OwnParameters[1].CopyFrom(Data(5, units));
            var x = d == 12 ? Data(6, 3, 2, 3, 2) : Data(6, 3, 7);
            double[] xs = x.ToDoubleArray(), ws = b.OwnParameters[0].ToDoubleArray(), bs = b.OwnParameters[1].ToDoubleArray();
            var expected = new double[3 * units];
            for (int s = 0; s < 3; s++)
                for (int o = 0; o < units; o++)
                {
                    double acc = bs[o];
                    for (int i = 0; i < d; i++) acc += ws[o * d + i] * xs[s * d + i];
                    expected[s * units + o] = acc;
                }
            foreach (var y in new[] { b.Output(x), b.EvalOutput(x) })
            {
                Assert.Equal([3, units], y.ShapeArray);
                var ys = y.ToDoubleArray();
                for (int i = 0; i < ys.Length; i++) Assert.Equal(expected[i], ys[i], 12);
            }
        }
    }

    [Fact]
    public void ConvRejectsAWeightTooLargeForOneArrayByName()
    {
        // 2 × 65536 × 128 × 128 = 2³¹ elements; the kernel fits the 128 × 128 input
        var e = Assert.Throws<ShapeMismatchException>(() => Blocks.Conv(Blocks.Input([65536, 128, 128]), 2, 128, name: "wide"));
        Assert.Equal("Blocks.Conv 'wide': a weight [2, 65536, 128, 128] for input 'input' of per-sample shape [65536, 128, 128] would hold more than 2147483591 elements.", e.Message);
        // the fit of the kernel is checked first
        var e2 = Assert.Throws<ShapeMismatchException>(() => Blocks.Conv(Blocks.Input([65536, 4, 4]), 65536, 5));
        Assert.Contains("the 5×5 kernel does not fit the height 4", e2.Message);
        // 65536³ would wrap a product of ints; 65536 × 65536 × 1 × 1 = 2³² does not fit either
        var e3 = Assert.Throws<ShapeMismatchException>(() => Blocks.Conv(Blocks.Input([65536, 2, 2]), 65536, 1));
        Assert.Equal("Blocks.Conv 'conv1': a weight [65536, 65536, 1, 1] for input 'input' of per-sample shape [65536, 2, 2] would hold more than 2147483591 elements.", e3.Message);
    }

    private static string Row(string name, string description, string shape, long own) =>
        name.PadRight(12) + " " + description.PadRight(44) + " " + shape.PadRight(14) + " " + own.ToString(System.Globalization.CultureInfo.InvariantCulture).PadLeft(8);

    [Fact]
    public void SummaryListsEveryBlockWithItsOwnCountAndTheTotal()
    {
        var rng = new RandomGenerator(1);
        var b = Blocks.Input([2, 6, 6], DType.Float64);
        b = Blocks.Conv(b, 3, 3, rng, padding: 1);
        var conv = b;
        b = Blocks.MaxPool(b, 2);
        // a block without parameters shares its predecessor's list instead of copying it
        Assert.Same(conv.Parameters, b.Parameters);
        b = Blocks.Linear(b, 4, rng);
        string expected = string.Join('\n',
            Row("input", "Input [2, 6, 6] Float64", "[2, 6, 6]", 0),
            Row("conv1", "Conv2d(2 → 3, 3×3, stride 1, padding 1)", "[3, 6, 6]", 3 * 2 * 9 + 3),
            Row("maxpool2", "MaxPool2d(2×2, stride 2)", "[3, 3, 3]", 0),
            Row("linear3", "Linear(flatten [3, 3, 3] = 27 → 4)", "[4]", 4 * 27 + 4),
            Row("total", "", "", 57 + 112));
        Assert.Equal(expected, b.Summary());
        Assert.Equal(169, b.ParameterCount);
    }
}
