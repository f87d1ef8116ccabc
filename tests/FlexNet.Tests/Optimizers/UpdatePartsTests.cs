using FlexNet.Optimizers;
using FlexNet.Tensors;

namespace FlexNet.Tests.Optimizers;

/// <summary>A large parameter's update split over the cores (UpdateParts) against the same data updated as pieces
/// below the split size, which each rule updates whole on the calling thread.</summary>
public sealed class UpdatePartsTests
{
    public static TheoryData<string> Rules => ["sgd", "momentum", "nesterov", "sgd-decay", "adam", "adamw", "adagrad", "adadelta", "rmsprop", "rmsprop-centered", "rprop"];

    private static OptimizerRule Rule(string name) => name switch
    {
        "sgd" => new Sgd(0.05),
        "momentum" => new Momentum(0.05, 0.9),
        "nesterov" => new Nesterov(0.05, 0.9),
        "sgd-decay" => new Sgd(0.05, 0.8) { WeightDecay = 0.01 },
        "adam" => new Adam(0.01),
        "adamw" => new AdamW(0.01) { WeightDecay = 0.05 },
        "adagrad" => new Adagrad(0.1),
        "adadelta" => new Adadelta(),
        "rmsprop" => new RmsProp(0.01),
        "rmsprop-centered" => new RmsProp(0.01) { Centered = true, Momentum = 0.5 },
        _ => new Rprop(0.01),
    };

    [Theory]
    [MemberData(nameof(Rules))]
    public void ASplitUpdateEqualsTheUpdateOfThePiecesBitForBit(string name)
    {
        var rule = Rule(name);
        // 70,003 elements: parts [0, 35,008) and [35,008, 70,003) (64-aligned), the scalar tail in the last 3;
        // the pieces 30,000 + 30,000 + 10,003 (each under the split size) have their tail in the same 3 elements
        int[] pieces = [30_000, 30_000, 10_003];
        const int n = 70_003;
        Assert.True(n >= UpdateParts.SplitElements && pieces.Max() < UpdateParts.SplitElements);
        foreach (var dtype in new[] { DType.Float32, DType.Float64 })
        {
            var rng = new Random(2201);
            var w0 = new double[n];
            for (int i = 0; i < n; i++) w0[i] = rng.NextDouble() * 2 - 1;
            var big = Make(w0, 0, n, dtype);
            var bigState = rule.Init(big);
            var small = new Tensor[pieces.Length];
            var smallStates = new ParamState[pieces.Length];
            for (int p = 0, at = 0; p < pieces.Length; at += pieces[p], p++)
            {
                small[p] = Make(w0, at, pieces[p], dtype);
                smallStates[p] = rule.Init(small[p]);
            }
            int splits = UpdateParts.SplitsOnThisThread;
            for (int step = 0; step < 3; step++)
            {
                var g = new double[n];
                for (int i = 0; i < n; i++) g[i] = rng.NextDouble() * 2 - 1;
                if (step == 1)
                    g[5] = g[40_000] = g[70_002] = 0; // Rprop's zero-gradient branch on either side of the split
                if (step == 2)
                {
                    // a slot replaced by a new tensor (as a user may): the split update must use the new one
                    for (int k = 0; k < bigState.Slots.Length; k++)
                    {
                        var fresh = Tensor.Zeros(bigState.Slots[k].ShapeArray, dtype).Fill(0.25);
                        bigState.Slots[k] = fresh;
                        for (int p = 0; p < pieces.Length; p++)
                            smallStates[p].Slots[k] = Tensor.Zeros(smallStates[p].Slots[k].ShapeArray, dtype).Fill(0.25);
                    }
                }
                rule.Apply(bigState, big, Make(g, 0, n, dtype), 0.05);
                for (int p = 0, at = 0; p < pieces.Length; at += pieces[p], p++)
                    rule.Apply(smallStates[p], small[p], Make(g, at, pieces[p], dtype), 0.05);
            }
            if (Environment.ProcessorCount >= 2)
                Assert.Equal(splits + 3, UpdateParts.SplitsOnThisThread);
            var whole = Values(big);
            for (int p = 0, at = 0; p < pieces.Length; at += pieces[p], p++)
            {
                var part = Values(small[p]);
                for (int i = 0; i < part.Length; i++)
                    if (BitConverter.DoubleToInt64Bits(whole[at + i]) != BitConverter.DoubleToInt64Bits(part[i]))
                        Assert.Fail($"{name} {dtype}: element {at + i}: split update {whole[at + i]:R}, whole pieces {part[i]:R}");
                for (int k = 0; k < bigState.Slots.Length; k++)
                {
                    var bs = Values(bigState.Slots[k]);
                    var ss = Values(smallStates[p].Slots[k]);
                    for (int i = 0; i < ss.Length; i++)
                        if (BitConverter.DoubleToInt64Bits(bs[at + i]) != BitConverter.DoubleToInt64Bits(ss[i]))
                            Assert.Fail($"{name} {dtype}: slot {bigState.SlotNames[k]} element {at + i}: {bs[at + i]:R} against {ss[i]:R}");
                }
            }
        }
    }

    [Fact]
    public void SmallParametersAndRulesThatAreNotElementwiseAreNotSplit()
    {
        int splits = UpdateParts.SplitsOnThisThread;
        var w = Tensor.Zeros([UpdateParts.SplitElements - 1], DType.Float32);
        var rule = new Adam(0.01);
        var st = rule.Init(w);
        rule.Apply(st, w, Tensor.Zeros([UpdateParts.SplitElements - 1], DType.Float32).Fill(1), 0.01);
        Assert.Equal(splits, UpdateParts.SplitsOnThisThread);
        var big = Tensor.Zeros([UpdateParts.SplitElements], DType.Float32);
        var esgd = new Esgd(0.01);
        var hv = Tensor.Zeros([UpdateParts.SplitElements], DType.Float32).Fill(0.5);
        esgd.Apply(esgd.Init(big), big, Tensor.Zeros([UpdateParts.SplitElements], DType.Float32).Fill(1), 0.01, hv);
        Assert.Equal(splits, UpdateParts.SplitsOnThisThread);
        if (Environment.ProcessorCount < 2) return;
        rule.Apply(rule.Init(big), big, Tensor.Zeros([UpdateParts.SplitElements], DType.Float32).Fill(1), 0.01);
        Assert.Equal(splits + 1, UpdateParts.SplitsOnThisThread);
    }

    [Fact]
    public void OnePartPerCore_64Aligned_MadeOnceAndRemadeForANewSlot()
    {
        if (Environment.ProcessorCount < 2) Assert.Skip("needs two cores");
        const int n = 70_003;
        var rule = new Adam(0.01);
        var w = Tensor.Zeros([n], DType.Float32).Fill(0.5);
        w.Name = "dense.w";
        var g = Tensor.Zeros([n], DType.Float32).Fill(0.25);
        var st = rule.Init(w);
        rule.Apply(st, w, g, 0.01);
        var parts = st.Parts!;
        // ⌈70,003 / 2⌉ = 35,002 rounded up to 64: 35,008 and the remaining 34,995, each slot a view at its offset
        int cores = Environment.ProcessorCount;
        int chunk = ((n + cores - 1) / cores + 63) / 64 * 64;
        Assert.Equal((n + chunk - 1) / chunk, parts.Length);
        for (int j = 0; j < parts.Length; j++)
        {
            Assert.Equal(st.SlotNames, parts[j].SlotNames);
            for (int k = 0; k < st.Slots.Length; k++)
            {
                Assert.Equal(Math.Min(n, (j + 1) * chunk) - j * chunk, parts[j].Slots[k].Length);
                Assert.Same(st.Slots[k].Storage, parts[j].Slots[k].Storage);
                Assert.Equal(st.Slots[k].Offset + j * chunk, parts[j].Slots[k].Offset);
            }
        }
        rule.Apply(st, w, g, 0.01);
        Assert.Same(parts, st.Parts); // kept from step to step
        st.Slots[1] = Tensor.Zeros([n], DType.Float32);
        rule.Apply(st, w, g, 0.01);
        Assert.NotSame(parts, st.Parts);
        Assert.Same(st.Slots[1].Storage, st.Parts![0].Slots[1].Storage);
        // a slot that is not the parameter's size is refused, naming it
        st.Slots[1] = Tensor.Zeros([n - 1], DType.Float32);
        var ex = Assert.Throws<InvalidOperationException>(() => rule.Apply(st, w, g, 0.01));
        Assert.Contains("'exp_avg_sq' [70002]", ex.Message);
        Assert.Contains("'dense.w'", ex.Message);
        Assert.Contains("70003 elements", ex.Message);
    }

    [Fact]
    public void InitAndApplyRefuseNullsAndIntegerParameters()
    {
        var rule = new Sgd(0.1);
        Assert.Throws<ArgumentNullException>(() => rule.Init(null!));
        Assert.Throws<ArgumentException>(() => rule.Init(Tensor.FromArray(new[] { 1, 2 }, 2)));
        var w = Tensor.Zeros([2], DType.Float32);
        Assert.Throws<ArgumentNullException>(() => rule.Apply(null!, w, w, 0.1));
    }

    private static Tensor Make(double[] v, int from, int count, DType dtype)
    {
        if (dtype == DType.Float64) return Tensor.FromArray(v.AsSpan(from, count), count);
        var f = new float[count];
        for (int i = 0; i < count; i++) f[i] = (float)v[from + i];
        return Tensor.FromArray(f, count);
    }

    private static double[] Values(Tensor t)
    {
        var r = new double[t.Length];
        if (t.DType == DType.Float64) t.D.CopyTo(r);
        else for (int i = 0; i < r.Length; i++) r[i] = t.F[i];
        return r;
    }
}
