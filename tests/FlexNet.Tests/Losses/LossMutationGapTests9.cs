using FlexNet.Losses;
using FlexNet.Tensors;

namespace FlexNet.Tests.Losses;

/// <summary>The survivors of the session 9 Losses run: the registry (built once per process, so checked fresh), the
/// weighted mean, the feature axis of rank-3 outputs, <see cref="Loss.Register"/>'s checks, a float target of the
/// sample shape in cross-entropy, and KL of a scalar. Expected values are written out or computed by hand here.</summary>
public sealed class LossMutationGapTests9
{
    [Fact]
    public void AFreshRegistryHoldsEveryNameAndAlias()
    {
        var r = Loss.Build();
        Assert.Equal("loss", r.What);
        (string Name, Type Type)[] all =
        [
            ("mse", typeof(MeanSquaredError)), ("mean_squared_error", typeof(MeanSquaredError)), ("MSELoss", typeof(MeanSquaredError)),
            ("mae", typeof(MeanAbsoluteError)), ("mean_absolute_error", typeof(MeanAbsoluteError)), ("L1Loss", typeof(MeanAbsoluteError)),
            ("xe", typeof(CrossEntropy)), ("crossentropy", typeof(CrossEntropy)), ("cross_entropy", typeof(CrossEntropy)),
            ("sparse_categorical_crossentropy", typeof(CrossEntropy)), ("categorical_crossentropy", typeof(CrossEntropy)),
            ("CrossEntropyLoss", typeof(CrossEntropy)),
            ("bce", typeof(BinaryCrossEntropy)), ("binary_crossentropy", typeof(BinaryCrossEntropy)), ("BCELoss", typeof(BinaryCrossEntropy)),
            ("huber", typeof(Huber)), ("HuberLoss", typeof(Huber)),
            ("hinge", typeof(Hinge)),
            ("kl", typeof(KLDivergence)), ("kl_divergence", typeof(KLDivergence)), ("kld", typeof(KLDivergence)), ("KLDivLoss", typeof(KLDivergence)),
        ];
        foreach (var (name, type) in all)
        {
            Assert.True(r.TryGet(name, out var make), $"'{name}' is not in a fresh registry");
            Assert.IsType(type, make!());
        }
        Assert.Equal(["bce", "hinge", "huber", "kl", "mae", "mse", "xe"], r.Names.Order().ToArray());
        Assert.Equal(all.Length, r.AcceptedNames.Count);
    }

    [Fact]
    public void WeightedMeanIsTheWeightedSumOverTheWeightSum()
    {
        // mse per sample: [(1-0)², (3-1)², (2-2)²] averaged over 1 feature = [1, 4, 0]; weights [2, 1, 5]
        var output = Tensor.FromArray(new[] { 1.0, 3.0, 2.0 }, 3, 1);
        var target = Tensor.FromArray(new[] { 0.0, 1.0, 2.0 }, 3, 1);
        var w = Tensor.FromArray(new[] { 2.0, 1.0, 5.0 }, 3);
        double got = new MeanSquaredError().Compute(output, target, w).Item();
        Assert.Equal((2 * 1 + 1 * 4 + 5 * 0) / 8.0, got, 12);
        // weights [4, 1, 1]: the largest weighted value (4) and the sum (8) differ
        got = new MeanSquaredError().Compute(output, target, Tensor.FromArray(new[] { 4.0, 1.0, 1.0 }, 3)).Item();
        Assert.Equal(8 / 6.0, got, 12);
    }

    [Fact]
    public void Rank3OutputsAverageOverTheLastAxis()
    {
        // [2, 3, 4]: the per-sample values are the means over the 4 features, shape [2, 3]
        var o = new double[24];
        var t = new double[24];
        for (int i = 0; i < 24; i++) { o[i] = i * 0.5; t[i] = (i % 5) - 1.0; }
        var per = new MeanSquaredError().PerSample(Tensor.FromArray(o, 2, 3, 4), Tensor.FromArray(t, 2, 3, 4));
        Assert.Equal([2, 3], per.Shape.ToArray());
        var got = per.ToDoubleArray();
        for (int s = 0; s < 6; s++)
        {
            double want = 0;
            for (int f = 0; f < 4; f++) want += Math.Pow(o[s * 4 + f] - t[s * 4 + f], 2) / 4;
            Assert.Equal(want, got[s], 12);
        }
    }

    [Fact]
    public void RegisterChecksItsArgumentsAndMakesTheNameUsable()
    {
        Assert.Equal("name", Assert.Throws<ArgumentNullException>(() => Loss.Register(null!, () => new Hinge())).ParamName);
        Assert.Equal("name", Assert.ThrowsAny<ArgumentException>(() => Loss.Register("  ", () => new Hinge())).ParamName);
        Assert.Equal("factory", Assert.Throws<ArgumentNullException>(() => Loss.Register("gap9-null-factory", null!)).ParamName);
        Assert.DoesNotContain("gap9-null-factory", Loss.RegisteredNames);
        // a name no earlier run in this process registered (the registry is static)
        string name = "gap9-" + Guid.NewGuid().ToString("N");
        Loss.Register(" " + name + " ", () => new Huber(0.25));
        var made = Assert.IsType<Huber>(Loss.Create(name.ToUpperInvariant()));
        Assert.Equal(0.25, made.Delta);
    }

    [Fact]
    public void CrossEntropyRefusesFloatLabelsAndMisshapedTargetsWithTheirOwnMessages()
    {
        var logits = Tensor.FromArray(new double[12], 3, 4);
        var floatLabels = Tensor.FromArray(new[] { 0.0, 2.0, 1.0 }, 3);
        Assert.Equal("xe loss: the labels [3] are Float64 numbers, one per sample; a class loss takes integer labels: convert them to Int32 " +
                     "(labels.To(DType.Int32), or Tensor.FromArray(int[])), or give one-hot/probability targets of the logits' shape [3, 4].",
            Assert.Throws<ShapeMismatchException>(() => new CrossEntropy().PerSample(logits, floatLabels)).Message);
        // a float target of neither shape gets the general same-shape message
        Assert.Equal("xe loss: target [5] must have the output's shape [3, 4].",
            Assert.Throws<ShapeMismatchException>(() => new CrossEntropy().PerSample(logits, Tensor.FromArray(new double[5], 5))).Message);
    }

    [Fact]
    public void KlOfAScalarIsItsOnlyTerm()
    {
        // one probability p = 0.25 against q = 0.5: t·log t − t·log q = 0.25·(log 0.25 − log 0.5)
        var r = new KLDivergence { FromLogits = false }.PerSample(Tensor.Scalar(0.5, DType.Float64), Tensor.Scalar(0.25, DType.Float64));
        Assert.Equal(0, r.Rank);
        Assert.Equal(0.25 * (Math.Log(0.25) - Math.Log(0.5)), r.Item(), 12);
    }
}
