using FlexNet.Autodiff;
using FlexNet.Autodiff.Ops;
using FlexNet.Kernels;
using FlexNet.Layers;
using FlexNet.Losses;
using FlexNet.Models;
using FlexNet.Optimizers;
using FlexNet.Tensors;
using FlexNet.Tests.Testing;
using FlexNet.Training;
using static FlexNet.Tests.Models.FrozenModelTests;

namespace FlexNet.Tests.Models;

/// <summary>
/// A run that records no gradients (Model.Predict, Evaluate, a forward under NoGrad) keeps the packed weights of its
/// fused dense layers for the next such run, which uses a pack only while its weight's buffer has not been handed out
/// since (<see cref="Storage.Version"/>). So a second Predict packs nothing, and every way of changing a weight
/// (the indexer, Fill, CopyFrom, training, loading weights, an internal span write) shows in the next Predict, checked
/// against the MLP computed by hand from the weights as they are then.
/// </summary>
public sealed class InferencePackTests
{
    private static readonly int[] Outs = [64, 48, 10], Ins = [20, 64, 48];

    private static void AssertByHand(Sequential m, Tensor x, string what)
    {
        var (w, b) = Weights(m);
        T.Close(MlpByHand(w, b, Outs, Ins, x.ToDoubleArray(), x.Shape[0]), m.Predict(x).ToDoubleArray(), 1e-5, 1e-5, what);
    }

    [Fact]
    public void SecondPredict_PacksNothing_AndGivesTheSameBits()
    {
        Assert.SkipWhen(Gemm.Provider != GemmProvider.Managed, "the packs are used with the managed GEMM only");
        var m = Mlp(DType.Float32);
        Perturb(m);
        var x = FrozenModelTests.Data(2, DType.Float32, 40, 20);
        var first = m.Predict(x).ToDoubleArray();
        var net = m.Network;
        int packs = net.PacksMade;
        int expected = 2 + (Gemm.PacksTransposedB<float>(40, 10, 48) ? 1 : 0); // 64 and 48 outputs pack; 10 may not
        Assert.Equal(expected, packs);

        int blocked = Gemm.BlockedRunsOnThisThread;
        var second = m.Predict(x).ToDoubleArray();
        Assert.Equal(packs, net.PacksMade); // no weight packed again
        Assert.Equal(expected, net.HeldPackCount); // kept between the calls
        Assert.Equal(blocked, Gemm.BlockedRunsOnThisThread); // and no GEMM packed an operand itself
        Assert.Equal(first, second);
        using (Autograd.NoGrad()) _ = net.Forward([x], training: false); // any forward without recording
        Assert.Equal(packs, net.PacksMade);

        // a run that records (training's forward) packs nothing kept: the GEMMs pack for themselves, and the kept
        // packs are given back at its end, so the next Predict packs again
        _ = net.Forward([x], training: false);
        Assert.True(Gemm.BlockedRunsOnThisThread >= blocked + 2, $"{Gemm.BlockedRunsOnThisThread - blocked} blocked GEMMs in a recording forward");
        Assert.Equal(0, net.HeldPackCount);
        Assert.Equal(second, m.Predict(x).ToDoubleArray());
        Assert.Equal(packs + expected, net.PacksMade);
        AssertByHand(m, x, "after the recording run");
    }

    [Fact]
    public void EveryWayOfWritingAWeight_ShowsInTheNextPredict()
    {
        var m = Mlp(DType.Float32);
        Perturb(m);
        var x = FrozenModelTests.Data(5, DType.Float32, 40, 20);
        AssertByHand(m, x, "first Predict");
        var w1 = ((Dense)m.Layers[0]).Weight;
        var w2 = ((Dense)m.Layers[1]).Weight;
        var before = m.Predict(x).ToDoubleArray();

        w1[3, 7] = 2.5; // the public indexer
        AssertByHand(m, x, "after the indexer");
        Assert.NotEqual(before, m.Predict(x).ToDoubleArray());

        w2.Fill(0.01); // Fill
        AssertByHand(m, x, "after Fill");

        w2.CopyFrom(FrozenModelTests.Data(9, DType.Float32, 48, 64)); // CopyFrom
        AssertByHand(m, x, "after CopyFrom");

        w1.F[0] = -3f; // an internal span write (how optimizers and loaders write)
        AssertByHand(m, x, "after a span write");

        using (Autograd.NoGrad()) w1.CopyFrom(w1 * 0.5); // an update under NoGrad, as in Perturb
        AssertByHand(m, x, "after an update under NoGrad");

        var y = FrozenModelTests.Data(6, DType.Float32, 40, 10);
        m.Fit(x, y, new TrainerOptions { Epochs = 1, BatchSize = 8, Loss = new MeanSquaredError(), Optimizer = new Adam(0.01), Progress = ProgressMode.None });
        AssertByHand(m, x, "after training");

        string dir = Directory.CreateTempSubdirectory("flexnet-packs").FullName;
        try
        {
            var other = Mlp(DType.Float32);
            _ = other.Predict(x); // build it
            Perturb(other);
            string path = Path.Combine(dir, "w.safetensors");
            other.SaveWeights(path);
            var want = other.Predict(x).ToDoubleArray();
            Assert.NotEqual(want, m.Predict(x).ToDoubleArray());
            m.LoadWeights(path);
            AssertByHand(m, x, "after LoadWeights");
            Assert.Equal(want, m.Predict(x).ToDoubleArray());
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void APack_IsOfItsWeight_OnlyWhileTheBufferIsNotHandedOut()
    {
        var w = Tensor.Normal([6, 4], 0, 1, new RandomGenerator(1), DType.Float32);
        var pw = new PackedWeight(w);
        Assert.True(pw.IsPackOf(w));
        _ = w.ToFloatArray(); // reads count as hand-outs: the version is not told reads from writes
        Assert.False(pw.IsPackOf(w));
        pw.Pack(w);
        Assert.True(pw.IsPackOf(w));
        Assert.False(pw.IsPackOf(w.Reshape(6, 4))); // another tensor, even on the same buffer
        w.F[5] = 1f;
        Assert.False(pw.IsPackOf(w));
        pw.Pack(w);
        pw.Dispose();
        Assert.False(pw.IsPackOf(w)); // holds nothing

        // a caller's array can be written without any hand-out: never taken as unchanged
        var data = new float[24];
        var wrapped = Tensor.Wrap(data, 6, 4);
        var pwWrapped = new PackedWeight(wrapped);
        Assert.False(pwWrapped.IsPackOf(wrapped));
        pwWrapped.Dispose();

        // reading for a pack (Peek) leaves the version; a hand-out raises it
        var s = w.Storage;
        long v = s.Version;
        _ = w.F;
        Assert.True(s.Version > v);
        v = s.Version;
        _ = w.Peek<float>();
        Assert.Equal(v, s.Version);
    }
}

/// <summary>A model whose inference runs keep packed weights, dropped without any Dispose, unpins their buffers when it
/// is collected (a pinned handle never freed would keep them for the process's life). Alone in its collection: other
/// tests pin and unpin packs while they run.</summary>
[Collection("Training")]
public sealed class InferencePackCollectionTests
{
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static int PinsOfAPredictThenDrop(Tensor x)
    {
        var m = Mlp(DType.Float32);
        int before = GemmPackedB<float>.LivePins;
        _ = m.Predict(x);
        Assert.True(m.Network.HeldPackCount >= 2);
        return GemmPackedB<float>.LivePins - before;
    }

    private static void CollectAll()
    {
        for (int i = 0; i < 3; i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }
    }

    [Fact]
    public void AModelDroppedWithKeptPacks_UnpinsThemWhenCollected()
    {
        Assert.SkipWhen(Gemm.Provider != GemmProvider.Managed, "the packs are used with the managed GEMM only");
        var x = FrozenModelTests.Data(2, DType.Float32, 40, 20);
        CollectAll();
        int before = GemmPackedB<float>.LivePins;
        int pinned = PinsOfAPredictThenDrop(x);
        Assert.True(pinned >= 2, $"{pinned} buffers pinned by Predict");
        CollectAll();
        Assert.True(GemmPackedB<float>.LivePins <= before, $"{GemmPackedB<float>.LivePins - before} of {pinned} buffers still pinned after the model was collected");
    }
}
