using FlexNet.Autodiff;
using FlexNet.Layers.Recurrent;
using FlexNet.Tensors;

namespace FlexNet.Tests.Layers.Recurrent;

/// <summary>Survivors of the first Layers/Recurrent run (session 9) in <see cref="LstmSequence.Apply"/>: each shape
/// check on its own, and when the op records itself for backward.</summary>
public sealed class LstmSequenceMutationGapTests
{
    private const int T = 3, N = 2, I = 4, H = 5;

    private static Tensor R(int seed, params int[] shape) => Tensor.Normal(shape, 0, 0.5, new RandomGenerator((ulong)seed), DType.Float64);

    private static Tensor[] Args() => [R(1, T, N, I), R(2, 4 * H, I), R(3, 4 * H, H), R(4, 4 * H), R(5, 4 * H), R(6, N, H), R(7, N, H)];

    private static Tensor Run(Tensor[] a) => LstmSequence.Apply(a[0], a[1], a[2], a[3], a[4], a[5], a[6], reverse: false);

    [Fact]
    public void EachShapeCheckRejectsOnItsOwnWithTheWholeMessage()
    {
        using var _ = Autograd.NoGrad();
        Assert.Equal([T + 1, N, H], Run(Args()).Shape.ToArray()); // the valid call
        var one = Args();
        one[0] = R(1, 1, N, I); // a single step is a sequence too
        Assert.Equal([2, N, H], Run(one).Shape.ToArray());
        (int Index, Tensor Bad, string X, string Wih, string Whh, string H0, string C0)[] cases =
        [
            (0, R(1, 0, N, I), "[0, 2, 4]", "[20, 4]", "[20, 5]", "[2, 5]", "[2, 5]"),   // no step
            (1, R(2, 4 * H + 1, I), "[3, 2, 4]", "[21, 4]", "[20, 5]", "[2, 5]", "[2, 5]"),
            (1, R(2, 4 * H, I + 1), "[3, 2, 4]", "[20, 5]", "[20, 5]", "[2, 5]", "[2, 5]"),
            (2, R(3, 4 * H + 4, H + 1), "[3, 2, 4]", "[20, 4]", "[24, 6]", "[2, 5]", "[2, 5]"), // hs from W_hh: 4·6 ≠ 20
            (2, R(3, 4 * H + 1, H), "[3, 2, 4]", "[20, 4]", "[21, 5]", "[2, 5]", "[2, 5]"),
            (5, R(6, N, H, 1), "[3, 2, 4]", "[20, 4]", "[20, 5]", "[2, 5, 1]", "[2, 5]"),
            (5, R(6, N + 1, H), "[3, 2, 4]", "[20, 4]", "[20, 5]", "[3, 5]", "[2, 5]"),
            (5, R(6, N, H + 1), "[3, 2, 4]", "[20, 4]", "[20, 5]", "[2, 6]", "[2, 5]"),
            (6, R(7, N * H), "[3, 2, 4]", "[20, 4]", "[20, 5]", "[2, 5]", "[10]"),
            (6, R(7, N + 1, H), "[3, 2, 4]", "[20, 4]", "[20, 5]", "[2, 5]", "[3, 5]"),
            (6, R(7, N, H + 1), "[3, 2, 4]", "[20, 4]", "[20, 5]", "[2, 5]", "[2, 6]"),
        ];
        foreach (var (index, bad, x, wih, whh, h0, c0) in cases)
        {
            var a = Args();
            a[index] = bad;
            var e = Assert.Throws<ShapeMismatchException>(() => Run(a));
            Assert.Equal($"LstmSequence: x {x}, W_ih {wih}, W_hh {whh}, h0 {h0}, c0 {c0} do not fit an LSTM over [T, N, I].", e.Message);
        }
    }

    [Fact]
    public void RecordsWhenAnyInputNeedsAGradientAndNeverUnderNoGrad()
    {
        for (int k = 0; k < 7; k++)
        {
            var a = Args();
            a[k].RequireGrad();
            var y = Run(a);
            Assert.True(y.RequiresGrad, $"input {k} requires a gradient, the output does not");
            y.Sum().Backward();
            Assert.NotNull(a[k].Grad);
            using (Autograd.NoGrad()) Assert.False(Run(a).RequiresGrad, $"input {k}: recorded under NoGrad");
        }
        Assert.False(Run(Args()).RequiresGrad); // nothing needs a gradient
    }
}
