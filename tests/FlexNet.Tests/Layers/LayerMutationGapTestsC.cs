using FlexNet.Layers;
using FlexNet.Tensors;
using FlexNet.Tests.Testing;

namespace FlexNet.Tests.Layers;

/// <summary>Gaps of the session-11 Layers mutation run in the spec-argument reader (<see cref="LayerArgs"/>: each accepted
/// spelling, each rejection with its whole message) and the layer initialisation settings (<see cref="LayerInit"/>: the
/// accepted scheme and attribute names, the range checks, and the values <see cref="LayerInit.Apply"/> writes, replayed
/// from a second generator of the same seed).</summary>
public sealed class LayerMutationGapTestsC
{
    private const string P = "layers[2] 'hid2'";

    private static LayerArgs Args(params (string Key, object Value)[] kv) =>
        new(kv.ToDictionary(p => p.Key, p => p.Value), P);

    private static string Fail(Action a) => Assert.Throws<SpecValidationException>(a).Message;

    // ---------------------------------------------------------------- LayerArgs

    [Fact]
    public void NullValuesAreRejectedByName()
    {
        var e = Assert.Throws<ArgumentNullException>(() => new LayerArgs(null!, P));
        Assert.Equal("values", e.ParamName);
    }

    [Fact]
    public void IntegersAcceptIntLongAndWholeDoublesAndNameTheValueOtherwise()
    {
        Assert.Equal(3, Args(("size", 3)).Int("size"));
        Assert.Equal(4, Args(("SIZE", 4L)).Int("size"));
        Assert.Equal(5, Args(("size", 5.0)).OptionalInt("size"));
        Assert.Null(Args().OptionalInt("size"));
        Assert.Equal($"{P}: missing 'size' (a positive integer).", Fail(() => Args().Int("size")));
        foreach (var (v, shown) in new (object, string)[]
                 {
                     ("abc", "\"abc\""), (2.5, "2.5"), (true, "True"), (new[] { 1, 2 }, "[1, 2]"), (new[] { "a", "b" }, "[\"a\", \"b\"]"),
                     (1L << 40, "1099511627776"), (3e9, "3000000000"), (1.5f, "1.5"),
                 })
            Assert.Equal($"{P}: 'size' must be an integer; got {shown}.", Fail(() => Args(("size", v)).OptionalInt("size")));
    }

    [Fact]
    public void NegativeIntegersAreRejectedAndZeroOnlyWhenAllowed()
    {
        foreach (object neg in new object[] { -3, -3L, -3.0 })
        {
            Assert.Equal($"{P}: 'stride' must be positive; got -3.", Fail(() => Args(("stride", neg)).OptionalInt("stride")));
            Assert.Equal($"{P}: 'padding' must be non-negative; got -3.", Fail(() => Args(("padding", neg)).OptionalInt("padding", allowZero: true)));
        }
        Assert.Equal($"{P}: 'stride' must be positive; got 0.", Fail(() => Args(("stride", 0)).OptionalInt("stride")));
        Assert.Equal($"{P}: 'size' must be positive; got 0.", Fail(() => Args(("size", 0)).Int("size")));
        Assert.Equal(0, Args(("padding", 0)).OptionalInt("padding", allowZero: true));
        Assert.Equal(1, Args(("padding", 1)).OptionalInt("padding", allowZero: true));
    }

    [Fact]
    public void OtherTypedAccessorsNameTheWrongValue()
    {
        Assert.Equal(0.5, Args(("rate", 0.5)).OptionalDouble("rate"));
        Assert.Equal(2.0, Args(("rate", 2)).OptionalDouble("rate"));
        Assert.Equal(0.25, Args(("rate", 0.25f)).OptionalDouble("rate"));
        Assert.Equal($"{P}: 'rate' must be a number; got \"0.5\".", Fail(() => Args(("rate", "0.5")).OptionalDouble("rate")));
        Assert.Equal("tanh", Args(("activation", "tanh")).OptionalString("activation"));
        Assert.Equal($"{P}: 'activation' must be a string; got 7.", Fail(() => Args(("activation", 7)).OptionalString("activation")));
        Assert.True(Args(("bias", true)).OptionalBool("bias"));
        Assert.Equal($"{P}: 'bias' must be true or false; got \"yes\".", Fail(() => Args(("bias", "yes")).OptionalBool("bias")));
        Assert.Equal("enc", Args(("Name", "enc")).Name);
    }

    [Fact]
    public void ShapesArePositiveIntegersAndAnEmptyOrNonPositiveOneIsRejected()
    {
        Assert.Equal([3], Args(("shape", 3)).OptionalShape("shape")!);
        var given = new[] { 2, 3 };
        var got = Args(("shape", given)).OptionalShape("shape")!;
        Assert.Equal([2, 3], got);
        Assert.NotSame(given, got);
        Assert.Equal([4, 1, 2], Args(("shape", (4, 1, 2))).OptionalShape("shape")!);
        Assert.Null(Args().OptionalShape("shape"));
        foreach (var (v, shown) in new (object, string)[]
                 {
                     (Array.Empty<int>(), "[]"), (new[] { 2, 0 }, "[2, 0]"), (new[] { 0, 2 }, "[0, 2]"), (new[] { 2, -1 }, "[2, -1]"),
                     ((2, 0), "(2, 0)"), ((2, "a"), "(2, a)"), ("3", "\"3\""), (2.0, "2"),
                 })
            Assert.Equal($"{P}: 'shape' must be a shape of positive integers; got {shown}.", Fail(() => Args(("shape", v)).OptionalShape("shape")));
    }

    [Fact]
    public void SeedsAreNonNegativeIntegersOrTheirDecimalStrings()
    {
        Assert.Equal(0UL, Args(("rng", 0)).OptionalSeed("rng"));
        Assert.Equal(0UL, Args(("rng", 0L)).OptionalSeed("rng"));
        Assert.Equal(0UL, Args(("rng", 0.0)).OptionalSeed("rng"));
        Assert.Equal(7UL, Args(("rng", 7)).OptionalSeed("rng"));
        Assert.Equal(1UL << 40, Args(("rng", 1L << 40)).OptionalSeed("rng"));
        Assert.Equal(ulong.MaxValue, Args(("rng", ulong.MaxValue)).OptionalSeed("rng"));
        Assert.Equal(ulong.MaxValue, Args(("rng", "18446744073709551615")).OptionalSeed("rng"));
        Assert.Equal(9007199254740991UL, Args(("rng", 9007199254740991.0)).OptionalSeed("rng"));
        Assert.Null(Args().OptionalSeed("rng"));
        foreach (var (v, shown) in new (object, string)[]
                 {
                     (-1, "-1"), (-1L, "-1"), (-1.0, "-1"), (1.5, "1.5"), (9007199254740992.0, "9007199254740992"), ("-1", "\"-1\""), (" 5", "\" 5\""),
                     (true, "True"),
                 })
            Assert.Equal($"{P}: 'rng' must be a non-negative integer seed (or its decimal string); got {shown}.", Fail(() => Args(("rng", v)).OptionalSeed("rng")));
    }

    [Fact]
    public void UnusedArgumentsNameTheFormAndItsArgumentList()
    {
        var e = Fail(() => LayerRegistry.Create("dense", Args(("size", 3), ("sise", 4))));
        Assert.Equal($"{P}: form 'dense' has no argument 'sise'. Its arguments: size (int, required), activation, bias (bool), "
                     + "connection (a registered connection kind, default dense; plus its options), init (scheme), rng (seed), "
                     + "mean, std, sparsity, diagonal, radius, value, mean_PARAM, std_PARAM, ....", e);
        // a form without a registry entry lists no arguments
        Assert.Equal($"{P}: form 'nosuch' has no argument 'x'. Its arguments: .", Fail(() => Args(("x", 1)).RejectUnused("nosuch")));
        // read keys and ignored keys (case-insensitively) pass
        var a = Args(("Size", 1), ("FORM", "dense"));
        _ = a.OptionalInt("size");
        a.RejectUnused("dense", "form");
    }

    [Fact]
    public void InitReadsTheSchemeSeedAndAttributesAndNamesTheSpecInItsErrors()
    {
        var init = Args(("init", "He_Normal"), ("rng", 9), ("std_bias", 0.1), ("Sparsity", 0.25), ("size", 3)).Init();
        Assert.Equal("he_normal", init.Scheme);
        Assert.Equal(9UL, init.Seed);
        Assert.Equal(2, init.Attributes.Count);
        Assert.Equal(0.1, init.Attributes["std_bias"]);
        Assert.Equal(0.25, init.Attributes["sparsity"]);
        Assert.True(Args(("size", 3)).Init().IsDefault);
        Assert.Equal($"{P}: Unknown initialiser 'nope'. Known: {KnownSchemes}.", Fail(() => Args(("init", "nope")).Init()));
        Assert.Equal($"{P}: Init attribute 'std' = -1 is out of range.", Fail(() => Args(("std", -1.0)).Init()));
        Assert.Equal($"{P}: 'std' must be a number; got \"x\".", Fail(() => Args(("std", "x")).Init()));
    }

    // ---------------------------------------------------------------- LayerInit: names and checks

    private const string KnownSchemes = "torch, default, theanets, glorot_uniform, xavier_uniform, glorot_normal, xavier_normal, he_uniform, "
                                        + "kaiming_uniform, he_normal, kaiming_normal, orthogonal, identity, zeros, ones, constant";

    private static readonly string[] Schemes = KnownSchemes.Split(", ");

    [Fact]
    public void EverySchemeSpellingIsAcceptedInAnyCaseAndAnUnknownOneListsThemAll()
    {
        Assert.Equal(Schemes, LayerInit.SchemeNames);
        foreach (var s in Schemes)
        {
            Assert.Equal(s, new LayerInit(s).Scheme);
            Assert.Equal(s, new LayerInit(s.ToUpperInvariant()).Scheme);
            Assert.Equal(s, LayerInit.FromScheme(s).Scheme);
            LayerInit implicitly = s;
            Assert.Equal(s, implicitly.Scheme);
            Assert.Equal(s is "torch" or "default", new LayerInit(s).IsDefault);
        }
        foreach (var bad in new[] { "nonsense", "", "he-normal", "glorot" })
            Assert.Equal($"Unknown initialiser '{bad}'. Known: {KnownSchemes}.", Fail(() => _ = new LayerInit(bad)));
        Assert.Null(new LayerInit(null).Scheme);
        Assert.True(new LayerInit(null).IsDefault);
        Assert.True(new LayerInit().IsDefault);
        Assert.False(new LayerInit(null, seed: 0).IsDefault);
        Assert.False(new LayerInit("torch", seed: 3).IsDefault);
        Assert.False(new LayerInit("default", [new("mean", 0.0)]).IsDefault);
    }

    [Fact]
    public void EveryAttributeNameIsAcceptedAloneOrWithAParameterSuffix()
    {
        string[] names = ["mean", "std", "sparsity", "diagonal", "radius", "value"];
        Assert.Equal(names, LayerInit.AttributeNames);
        foreach (var a in names)
        {
            Assert.True(LayerInit.IsAttribute(a), a);
            Assert.True(LayerInit.IsAttribute(a.ToUpperInvariant() + "_W"), a + "_W");
            Assert.True(LayerInit.IsAttribute(a + "_weight_hh_l0"), a + "_weight_hh_l0");
            Assert.False(LayerInit.IsAttribute(a + "_"), a + "_");
            Assert.False(LayerInit.IsAttribute(a + "x"), a + "x");
            var init = new LayerInit(null, [new(a, 0.0), new(a + "_bias", 0.5)]);
            Assert.Equal(0.0, init.Attributes[a]);
            Assert.Equal(0.5, init.Attributes[a.ToUpperInvariant() + "_BIAS"]);
        }
        foreach (var bad in new[] { "_w", "", "size", "init", "rng", "stdev" })
        {
            Assert.False(LayerInit.IsAttribute(bad), bad);
            Assert.Equal($"Unknown init attribute '{bad}'. Known: mean, std, sparsity, diagonal, radius, value (optionally with _PARAM, e.g. std_weight).",
                         Fail(() => _ = new LayerInit(null, [new(bad, 1.0)])));
        }
    }

    [Fact]
    public void AttributeValuesOutsideTheirRangeAreRejectedWithTheValue()
    {
        foreach (var (k, v, shown) in new (string, double, string)[]
                 {
                     ("std", -0.5, "-0.5"), ("std_w", double.PositiveInfinity, "Infinity"), ("std", double.NaN, "NaN"),
                     ("sparsity", 1.0, "1"), ("sparsity_weight", -0.1, "-0.1"), ("sparsity", 1.5, "1.5"),
                     ("radius", -1.0, "-1"), ("radius", double.NaN, "NaN"), ("radius_hh", double.PositiveInfinity, "Infinity"),
                     ("mean", double.NaN, "NaN"), ("diagonal", double.NegativeInfinity, "-Infinity"), ("value_w", double.PositiveInfinity, "Infinity"),
                 })
            Assert.Equal($"Init attribute '{k}' = {shown} is out of range.", Fail(() => _ = new LayerInit(null, [new(k, v)])));
        // the edges that are allowed
        var ok = new LayerInit(null, [new("std", 0.0), new("sparsity", 0.0), new("sparsity_w", 0.999), new("radius", 0.0), new("mean", -5.0), new("diagonal", -2.0), new("value", -1e300)]);
        Assert.Equal(7, ok.Attributes.Count);
        Assert.False(ok.IsDefault);
    }

    // ---------------------------------------------------------------- LayerInit.Apply: the values written

    private static Tensor Param(int[] shape, DType dtype = DType.Float64)
    {
        int n = shape.Aggregate(1, (a, b) => a * b);
        var t = Tensor.FromArray(Enumerable.Range(0, n).Select(i => 100.0 + i).ToArray(), shape).To(dtype);
        return t.RequireGrad();
    }

    private static double[] Original(int[] shape) => Enumerable.Range(0, shape.Aggregate(1, (a, b) => a * b)).Select(i => 100.0 + i).ToArray();

    private static double[] Apply(LayerInit init, int[] shape, string shortName, ulong seed = 11, int hidden = 0, DType dtype = DType.Float64, string full = "net.p")
    {
        var p = Param(shape, dtype);
        init.Apply(p, shortName, hidden, new RandomGenerator(seed), full);
        Assert.Equal(shape, p.ShapeArray);
        Assert.Equal(dtype, p.DType);
        Assert.True(p.RequiresGrad);
        return p.ToDoubleArray();
    }

    private static double[] Normals(RandomGenerator rng, int n, double mean, double std) =>
        Enumerable.Range(0, n).Select(_ => mean + std * rng.NextNormal()).ToArray();

    private static double[] Uniforms(RandomGenerator rng, int n, double b) =>
        Enumerable.Range(0, n).Select(_ => -b + 2 * b * rng.NextDouble()).ToArray();

    private static double[] Eye(int rows, int cols, double d)
    {
        var v = new double[rows * cols];
        for (int i = 0; i < Math.Min(rows, cols); i++) v[i * cols + i] = d;
        return v;
    }

    private static void Same(double[] want, double[] got, string what) => T.Close(want, got, 1e-14, 0, what);

    // fan_out, fan_in of [3, 5] and of a conv weight [4, 2, 3] (receptive field 3)
    public static TheoryData<int[], int, int> WeightShapes => new() { { [3, 5], 5, 3 }, { [4, 2, 3], 6, 12 } };

    [Theory]
    [MemberData(nameof(WeightShapes))]
    public void NamedSchemesDrawTheirDistributionsWithTheFansOfTheShape(int[] shape, int fanIn, int fanOut)
    {
        int n = shape.Aggregate(1, (a, b) => a * b);
        int rows = shape[0], cols = n / rows;
        foreach (var s in Schemes)
        {
            var rng = new RandomGenerator(11);
            double[] want = s switch
            {
                "glorot_uniform" or "xavier_uniform" => Uniforms(rng, n, Math.Sqrt(6.0 / (fanIn + fanOut))),
                "glorot_normal" or "xavier_normal" => Normals(rng, n, 0, Math.Sqrt(2.0 / (fanIn + fanOut))),
                "he_uniform" or "kaiming_uniform" => Uniforms(rng, n, Math.Sqrt(6.0 / fanIn)),
                "he_normal" or "kaiming_normal" => Normals(rng, n, 0, Math.Sqrt(2.0 / fanIn)),
                "theanets" => Normals(rng, n, 0, 1 / Math.Sqrt(fanIn + fanOut)),
                "identity" => Eye(rows, cols, 1),
                "zeros" or "constant" => new double[n],
                "ones" => Enumerable.Repeat(1.0, n).ToArray(),
                "torch" or "default" => Original(shape),
                _ => [],
            };
            var got = Apply(new LayerInit(s), shape, "weight");
            if (s == "orthogonal")
            {
                // orthonormal rows (rows ≤ cols here), not the original values
                for (int i = 0; i < rows; i++)
                    for (int j = 0; j < rows; j++)
                        Assert.Equal(i == j ? 1.0 : 0.0, Enumerable.Range(0, cols).Sum(k => got[i * cols + k] * got[j * cols + k]), 12);
                continue;
            }
            Same(want, got, $"{s} {string.Join("x", shape)}");
        }
    }

    [Fact]
    public void ConstantTakesItsValuePerParameterFirstThenPerLayer()
    {
        Assert.All(Apply(new LayerInit("constant", [new("value", 0.3)]), [2, 3], "weight"), v => Assert.Equal(0.3, v));
        Assert.All(Apply(new LayerInit("constant", [new("value", 0.3), new("value_weight", -2.0)]), [2, 3], "weight"), v => Assert.Equal(-2.0, v));
        Assert.All(Apply(new LayerInit("constant", [new("value", 0.3), new("value_w", 4.0)]), [2, 3], "weight"), v => Assert.Equal(4.0, v));
        // another parameter's value does not apply
        Assert.All(Apply(new LayerInit("constant", [new("value_bias", 4.0)]), [2, 3], "weight"), v => Assert.Equal(0.0, v));
    }

    [Fact]
    public void BiasesStartAtZeroUnderASchemeAndKeepTheirValuesUnderTorch()
    {
        foreach (var s in Schemes)
        {
            var got = Apply(new LayerInit(s), [4], "bias");
            if (s is "torch" or "default") Same(Original([4]), got, s);
            else Assert.All(got, v => Assert.Equal(0.0, v));
        }
        // the theanets rules (attributes or a seed alone) also zero a bias
        Assert.All(Apply(new LayerInit(null, [new("std", 0.5)]), [4], "bias"), v => Assert.Equal(0.0, v));
        Assert.All(Apply(new LayerInit(null, seed: 3), [4], "bias"), v => Assert.Equal(0.0, v));
        Assert.All(Apply(new LayerInit(null, seed: 3), [4], "b"), v => Assert.Equal(0.0, v));
        // the default changes nothing
        Same(Original([4]), Apply(new LayerInit(), [4], "bias"), "default bias");
        Same(Original([3, 2]), Apply(new LayerInit(), [3, 2], "weight"), "default weight");
    }

    [Fact]
    public void PerParameterMeanAndStdDrawABiasAndTheirAliasesAreFound()
    {
        foreach (var (attrs, name, mean, std) in new (KeyValuePair<string, double>[], string, double, double)[]
                 {
                     ([new("std_bias", 0.3)], "bias", 0, 0.3),
                     ([new("mean_b", 2.0), new("std_b", 0.5)], "bias", 2, 0.5),
                     ([new("mean_bias", -1.0)], "b", -1, 0),
                     ([new("std_bias_ih", 0.7), new("std", 9.0)], "bias_ih_l0", 0, 0.7),
                     ([new("std_bias_hh", 0.2)], "bias_hh_l0", 0, 0.2),
                     ([new("mean_bias_hh_l0", 1.0), new("mean_bias_hh", 5.0)], "bias_hh_l0", 1, 0),
                 })
        {
            foreach (var s in new[] { null, "torch", "he_normal" })
            {
                var rng = new RandomGenerator(11);
                Same(Normals(rng, 5, mean, std), Apply(new LayerInit(s, attrs), [5], name), $"{s} {name} {attrs[0].Key}");
            }
        }
    }

    [Fact]
    public void ScalesKeepTheirValuesAndPeepholesDrawFromTheLayerAttributes()
    {
        foreach (var name in new[] { "gamma", "weight" })
        {
            Same(Original([4]), Apply(new LayerInit(null, [new("std", 0.5), new("mean", 3.0)]), [4], name), name);
            Same(Original([4]), Apply(new LayerInit("he_normal"), [4], name), name);
            Assert.All(Apply(new LayerInit(null, [new("mean_" + name, 1.0), new("std_" + name, 0.0)]), [4], name), v => Assert.Equal(1.0, v));
        }
        foreach (var name in new[] { "ci", "cf", "co" })
        {
            // a seed alone: N(0, 1/√(2·6)) from the generator of the mixed seed
            var rng = new RandomGenerator(Fnv(1, "x"));
            Same(Normals(rng, 6, 0, 1 / Math.Sqrt(12)), Apply(new LayerInit(null, seed: 1), [6], name, seed: 11, full: "x"), name + " default");
            rng = new RandomGenerator(11);
            Same(Normals(rng, 6, 0.5, 0.25), Apply(new LayerInit("theanets", [new("mean", 0.5), new("std", 0.25)]), [6], name), name + " layer attributes");
            Same(Original([6]), Apply(new LayerInit("torch"), [6], name), name + " torch");
            Same(Original([6]), Apply(new LayerInit("default", [new("value", 1.0)]), [6], name), name + " default scheme with an attribute");
        }
    }

    private static ulong Fnv(ulong seed, string name)
    {
        ulong h = 14695981039346656037UL ^ seed;
        foreach (char c in name) h = unchecked((h ^ c) * 1099511628211UL);
        return h;
    }

    [Fact]
    public void ASeedReplacesTheNetworkGeneratorMixedWithTheParameterName()
    {
        var net = new RandomGenerator(11);
        var p = Param([3, 4]);
        new LayerInit("glorot_uniform", seed: 42).Apply(p, "weight", 0, net, "dense1.weight");
        var rng = new RandomGenerator(Fnv(42, "dense1.weight"));
        Same(Uniforms(rng, 12, Math.Sqrt(6.0 / 7)), p.ToDoubleArray(), "seeded glorot");
        Assert.Equal(new RandomGenerator(11).NextUInt64(), net.NextUInt64()); // the network's generator is untouched
        // a seed alone selects the theanets rules
        var q = Param([3, 4]);
        new LayerInit(null, seed: 42).Apply(q, "weight", 0, new RandomGenerator(1), "dense2.weight");
        rng = new RandomGenerator(Fnv(42, "dense2.weight"));
        Same(Normals(rng, 12, 0, 1 / Math.Sqrt(7)), q.ToDoubleArray(), "seeded theanets");
        // the other seeds (a ulong above long.MaxValue) mix in the same way
        var r = Param([2, 2]);
        new LayerInit("he_uniform", seed: ulong.MaxValue - 5).Apply(r, "weight", 0, new RandomGenerator(1), "a.b");
        rng = new RandomGenerator(Fnv(ulong.MaxValue - 5, "a.b"));
        Same(Uniforms(rng, 4, Math.Sqrt(3.0)), r.ToDoubleArray(), "seeded he");
    }

    [Fact]
    public void TheanetsWeightsUseTheLayerAttributesUnlessThePerParameterOnesAreGiven()
    {
        // [out 3, in 4]: default std 1/√7
        foreach (var (attrs, name, mean, std) in new (KeyValuePair<string, double>[], string, double, double)[]
                 {
                     ([new("mean", 0.5)], "weight", 0.5, 1 / Math.Sqrt(7)),
                     ([new("std", 2.0)], "weight", 0, 2),
                     ([new("mean", 0.5), new("std", 2.0), new("std_weight", 0.1)], "weight", 0.5, 0.1),
                     ([new("mean", 0.5), new("mean_w", -3.0)], "weight", -3, 1 / Math.Sqrt(7)),
                     ([new("std_W", 0.2), new("std", 4.0)], "weight", 0, 0.2),
                     ([new("std_weight", 0.3)], "w", 0, 0.3),
                     ([new("std_hh", 0.4)], "weight_hh_l0", 0, 0.4),
                     ([new("mean_weight_hh", 1.0)], "weight_hh_l0", 1, 1 / Math.Sqrt(7)),
                     ([new("std_xh", 0.6), new("std_hh", 5.0)], "weight_ih_l0", 0, 0.6),
                     ([new("std_weight_ih", 0.7)], "weight_ih_l0", 0, 0.7),
                     ([new("std_bias", 9.0)], "weight", 0, 1 / Math.Sqrt(7)),
                 })
        {
            // a per-parameter mean or std draws once more after the layer's draw (the redraw below a named scheme)
            var rng = new RandomGenerator(11);
            if (attrs.Any(kv => kv.Key.Contains('_') && kv.Key != "std_bias")) _ = Normals(rng, 12, 0, 1);
            Same(Normals(rng, 12, mean, std), Apply(new LayerInit(null, attrs), [3, 4], name), $"{name} {string.Join(",", attrs.Select(kv => kv.Key))}");
        }
    }

    [Fact]
    public void PerParameterMeanOrStdRedrawsAfterANamedScheme()
    {
        // the scheme's draws come first, then the N(mean, std) that replaces them
        var rng = new RandomGenerator(11);
        _ = Normals(rng, 12, 0, Math.Sqrt(2.0 / 4));
        Same(Normals(rng, 12, 0.5, 0.1), Apply(new LayerInit("he_normal", [new("mean", 0.5), new("std_weight", 0.1)]), [3, 4], "weight"), "he then std_weight");
        rng = new RandomGenerator(11);
        _ = Uniforms(rng, 12, Math.Sqrt(6.0 / 7));
        Same(Normals(rng, 12, 2, 3), Apply(new LayerInit("glorot_uniform", [new("mean_weight", 2.0), new("std", 3.0)]), [3, 4], "weight"), "glorot then mean_weight");
        // torch: the default draw is skipped over and the per-parameter draw replaces the kept values
        rng = new RandomGenerator(11);
        _ = Normals(rng, 12, 0, 1 / Math.Sqrt(7));
        Same(Normals(rng, 12, 0, 0.5), Apply(new LayerInit("torch", [new("std_weight", 0.5)]), [3, 4], "weight"), "torch then std_weight");
        // the layer-level mean and std alone do not replace a named scheme's draws
        rng = new RandomGenerator(11);
        Same(Uniforms(rng, 12, Math.Sqrt(6.0 / 4)), Apply(new LayerInit("he_uniform", [new("mean", 0.5), new("std", 3.0)]), [3, 4], "weight"), "he with layer attributes");
        // nor do they change torch's values
        Same(Original([3, 4]), Apply(new LayerInit("torch", [new("mean", 0.5), new("std", 3.0)]), [3, 4], "weight"), "torch with layer attributes");
        Same(Original([3, 4]), Apply(new LayerInit("default", [new("std_bias", 3.0), new("value", 2.0)]), [3, 4], "weight"), "default with others' attributes");
    }

    [Fact]
    public void DiagonalGivesARectangularEyeAndWinsOverTheScheme()
    {
        Same(Eye(3, 5, 2), Apply(new LayerInit(null, [new("diagonal", 2.0)]), [3, 5], "weight"), "diagonal");
        Same(Eye(4, 2, -1), Apply(new LayerInit("he_normal", [new("diagonal_weight", -1.0), new("diagonal", 7.0)]), [4, 2], "weight"), "per-parameter diagonal");
        Same(Eye(2, 6, 0.5), Apply(new LayerInit("torch", [new("diagonal", 0.5)]), [2, 3, 2], "weight"), "conv diagonal under torch");
        Same(Eye(2, 2, 3), Apply(new LayerInit(null, [new("diagonal_hh", 3.0), new("std", 1.0)]), [2, 2], "weight_hh_l0"), "aliased diagonal");
    }

    [Fact]
    public void SparsityZeroesOffDiagonalEntriesWithTheNextDraws()
    {
        foreach (var (init, scheme) in new (LayerInit, string)[]
                 {
                     (new LayerInit(null, [new("sparsity", 0.5)]), "theanets"),
                     (new LayerInit("glorot_uniform", [new("sparsity_weight", 0.5), new("sparsity", 0.0)]), "glorot"),
                     (new LayerInit("torch", [new("sparsity", 0.5)]), "torch"),
                     (new LayerInit("default", [new("sparsity", 0.5)]), "torch"),
                 })
        {
            int rows = 5, cols = 6;
            var rng = new RandomGenerator(11);
            double[] want = scheme == "glorot" ? Uniforms(rng, 30, Math.Sqrt(6.0 / 11)) : Normals(rng, 30, 0, 1 / Math.Sqrt(11));
            if (scheme == "torch") want = Original([5, 6]); // torch draws the theanets values, then keeps its own
            int zeros = 0;
            for (int i = 0; i < rows; i++)
                for (int j = 0; j < cols; j++)
                    if (i != j && rng.NextDouble() < 0.5) { want[i * cols + j] = 0; zeros++; }
            Assert.InRange(zeros, 5, 20);
            Same(want, Apply(init, [rows, cols], "weight"), scheme + " sparsity");
        }
        // sparsity 0 (per parameter, over the layer's) draws nothing more
        var r0 = new RandomGenerator(11);
        Same(Normals(r0, 30, 0, 1 / Math.Sqrt(11)), Apply(new LayerInit(null, [new("sparsity", 0.9), new("sparsity_w", 0.0)]), [5, 6], "weight"), "sparsity 0");
    }

    private static double Sigma2(double a, double b, double c, double d)
    {
        double f = a * a + b * b + c * c + d * d, det = a * d - b * c;
        return Math.Sqrt((f + Math.Sqrt(f * f - 4 * det * det)) / 2);
    }

    [Fact]
    public void RadiusRescalesEachSquareBlockOfARecurrentMatrixOnly()
    {
        // [3·2, 2] with H = 2: three 2×2 blocks, each to spectral norm 1.5
        var rng = new RandomGenerator(11);
        var draws = Normals(rng, 12, 0, 1 / Math.Sqrt(8));
        var want = new double[12];
        for (int b = 0; b < 3; b++)
        {
            double s = Sigma2(draws[4 * b], draws[4 * b + 1], draws[4 * b + 2], draws[4 * b + 3]);
            for (int k = 0; k < 4; k++) want[4 * b + k] = draws[4 * b + k] * 1.5 / s;
        }
        T.Close(want, Apply(new LayerInit(null, [new("radius", 1.5)]), [6, 2], "weight_hh_l0", hidden: 2), 1e-8, 0, "radius 1.5");
        T.Close(want, Apply(new LayerInit(null, [new("radius_hh", 1.5), new("radius", 9.0)]), [6, 2], "weight_hh_l0", hidden: 2), 1e-8, 0, "radius_hh");
        // radius 0 zeroes the matrix
        Assert.All(Apply(new LayerInit(null, [new("radius", 0.0)]), [6, 2], "weight_hh_l0", hidden: 2), v => Assert.Equal(0.0, v));
        // not a recurrent matrix (no H, rank 3, columns not H, rows not a multiple of H): the draws stay
        Same(draws, Apply(new LayerInit(null, [new("radius", 1.5)]), [6, 2], "weight_hh_l0", hidden: 0), "no H");
        Same(draws, Apply(new LayerInit(null, [new("radius", 1.5)]), [6, 2], "weight_ih_l0", hidden: 3), "columns not H");
        var r5 = new RandomGenerator(11);
        Same(Normals(r5, 10, 0, 1 / Math.Sqrt(7)), Apply(new LayerInit(null, [new("radius", 1.5)]), [5, 2], "w", hidden: 2), "rows not a multiple of H");
        var r3 = new RandomGenerator(11);
        Same(Normals(r3, 12, 0, 1 / Math.Sqrt(8)), Apply(new LayerInit(null, [new("radius", 1.5)]), [6, 2, 1], "w", hidden: 2), "rank 3");
        // torch with a radius rescales the kept values: 1×1 blocks of H = 1 become ±r
        Assert.Equal([2.5, 2.5, 2.5], Apply(new LayerInit("torch", [new("radius", 2.5)]), [3, 1], "weight_hh_l0", hidden: 1));
    }

    [Fact]
    public void Float32ParametersGetTheDrawsRoundedToFloat()
    {
        var rng = new RandomGenerator(11);
        var want = Normals(rng, 6, 0, Math.Sqrt(2.0 / 3)).Select(v => (double)(float)v).ToArray();
        Assert.Equal(want, Apply(new LayerInit("he_normal"), [2, 3], "weight", dtype: DType.Float32));
        rng = new RandomGenerator(11);
        want = Normals(rng, 3, 1, 0.5).Select(v => (double)(float)v).ToArray();
        Assert.Equal(want, Apply(new LayerInit(null, [new("mean_bias", 1.0), new("std_bias", 0.5)]), [3], "bias", dtype: DType.Float32));
    }

    [Fact]
    public void TorchAndAZeroSparsityDrawNothingFromTheNetworkGenerator()
    {
        foreach (var init in new[] { new LayerInit("torch"), new LayerInit("default"), new LayerInit("TORCH", [new("std_bias", 1.0)]) })
        {
            var net = new RandomGenerator(11);
            var p = Param([3, 4]);
            init.Apply(p, "weight", 0, net, "n.weight");
            Same(Original([3, 4]), p.ToDoubleArray(), init.Scheme!);
            Assert.Equal(new RandomGenerator(11).NextUInt64(), net.NextUInt64());
        }
        // sparsity 0: the theanets draws (15 pairs, no spare left) and nothing more
        var g = new RandomGenerator(11);
        var q = Param([5, 6]);
        new LayerInit(null, [new("sparsity", 0.0)]).Apply(q, "weight", 0, g, "n.weight");
        var replay = new RandomGenerator(11);
        Same(Normals(replay, 30, 0, 1 / Math.Sqrt(11)), q.ToDoubleArray(), "sparsity 0");
        Assert.Equal(replay.NextUInt64(), g.NextUInt64());
    }

    // ---------------------------------------------------------------- LayerNorm

    [Fact]
    public void LayerNormLayerRejectsANonPositiveOrNonFiniteEpsilon()
    {
        foreach (double bad in new[] { 0.0, -1.0, double.PositiveInfinity, double.NaN, double.NegativeInfinity })
        {
            var e = Assert.Throws<ArgumentOutOfRangeException>(() => new LayerNormLayer(bad));
            Assert.Equal("epsilon", e.ParamName);
            Assert.Equal($"LayerNorm: epsilon must be positive. Received: {bad} (Parameter 'epsilon')", e.Message);
        }
        var l = new LayerNormLayer(double.Epsilon, "n");
        Assert.Equal(double.Epsilon, l.Epsilon);
        Assert.Equal("LayerNorm", l.Kind);
    }

    [Fact]
    public void LayerNormChecksEpsilonAndBuildsTrainableGammaAndBetaUnderItsInitSettings()
    {
        foreach (double bad in new[] { 0.0, -1.0 })
        {
            var e = Assert.Throws<ArgumentOutOfRangeException>(() => new LayerNorm(bad));
            Assert.Equal($"LayerNorm: epsilon must be positive. Received: {bad} (Parameter 'epsilon')", e.Message);
        }
        var ln = new LayerNorm(1e-3, "ln", new LayerInit(null, [new("mean_gamma", 2.0), new("mean_beta", -1.0)]));
        var config = ln.GetConfig()!;
        Assert.Equal("layernorm", config["form"]);
        Assert.Equal("layernorm", ln.Form);
        Assert.Equal(1e-3, config["epsilon"]);
        var x = FlexNet.Models.Functional.Input(4);
        var m = new FlexNet.Models.Model(x, ln.Call(x), "m", DType.Float64, 3);
        var gamma = m.Parameters.Single(t => t.Name == "ln.gamma");
        var beta = m.Parameters.Single(t => t.Name == "ln.beta");
        Assert.True(gamma.RequiresGrad);
        Assert.True(beta.RequiresGrad);
        Assert.Equal([2.0, 2, 2, 2], gamma.ToDoubleArray());
        Assert.Equal([-1.0, -1, -1, -1], beta.ToDoubleArray());
        // y = γ·(x − μ)/√(σ² + ε) + β on a plain row
        double[] row = [1, 2, 4, 7];
        double mu = row.Average(), v = row.Select(r => (r - mu) * (r - mu)).Average();
        var y = m.Forward(Tensor.FromArray(row, 1, 4)).ToDoubleArray();
        T.Close(row.Select(r => 2 * (r - mu) / Math.Sqrt(v + 1e-3) - 1).ToArray(), y, 1e-12, 1e-12, "layernorm");
    }

    // ---------------------------------------------------------------- LocalResponseNorm

    [Fact]
    public void LocalResponseNormChecksItsArgumentsWithTheWholeMessageAndKeepsTheEdges()
    {
        foreach (int bad in new[] { 0, -2 })
        {
            Assert.Equal($"LRN: size must be >= 1. Received: {bad} (Parameter 'size')", Assert.Throws<ArgumentOutOfRangeException>(() => new LocalResponseNorm(bad)).Message);
            Assert.Equal($"LRN: size must be >= 1. Received: {bad} (Parameter 'size')", Assert.Throws<ArgumentOutOfRangeException>(() => new LocalResponseNormLayer(bad)).Message);
        }
        foreach (var (alpha, k) in new[] { (0.1, 0.0), (0.1, -1.0), (-0.5, 1.0) })
        {
            Assert.Equal($"LRN: k must be > 0 and alpha >= 0. Received: k={k}, alpha={alpha} (Parameter 'k')",
                         Assert.Throws<ArgumentOutOfRangeException>(() => new LocalResponseNorm(3, alpha, 0.75, k)).Message);
            Assert.Equal($"LRN: k must be > 0, alpha >= 0 and beta finite. Received: k={k}, alpha={alpha}, beta=0.75 (Parameter 'k')",
                         Assert.Throws<ArgumentOutOfRangeException>(() => new LocalResponseNormLayer(3, alpha, 0.75, k)).Message);
        }
        foreach (var (alpha, beta, k) in new[] { (0.1, 0.75, double.NaN), (double.NaN, 0.75, 1.0), (0.1, 0.75, double.PositiveInfinity), (double.PositiveInfinity, 0.75, 1.0), (0.1, double.NaN, 1.0), (0.1, double.NegativeInfinity, 1.0) })
            Assert.Equal($"LRN: k must be > 0, alpha >= 0 and beta finite. Received: k={k}, alpha={alpha}, beta={beta} (Parameter 'k')",
                         Assert.Throws<ArgumentOutOfRangeException>(() => new LocalResponseNormLayer(3, alpha, beta, k)).Message);
        // the edges: one channel, alpha 0, the smallest positive k, any finite beta
        var b = new LocalResponseNorm(1, 0.0, -2.0, double.Epsilon, "lrn");
        Assert.Equal((1, 0.0, -2.0, double.Epsilon), (b.Size, b.Alpha, b.Beta, b.K));
        Assert.Equal("lrn", b.Form);
        var config = b.GetConfig()!;
        Assert.Equal("lrn", config["form"]);
        Assert.Equal((1, 0.0, -2.0, double.Epsilon), ((int)config["size"], (double)config["alpha"], (double)config["beta"], (double)config["k"]));
        Assert.False(config.ContainsKey("init"));
        var l = new LocalResponseNormLayer(1, 0.0, -2.0, double.Epsilon);
        Assert.Equal((1, 0.0, -2.0, double.Epsilon), (l.Size, l.Alpha, l.Beta, l.K));
        Assert.Equal("LRN(1)", l.Kind);
        Assert.Equal("LRN(7)", new LocalResponseNormLayer(7).Kind);
    }
}
