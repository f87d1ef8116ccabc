using FlexNet.Autodiff;
using FlexNet.Kernels;
using FlexNet.Layers;
using FlexNet.Losses;
using FlexNet.Models;
using FlexNet.Optimizers;
using FlexNet.Tensors;
using FlexNet.Tests.Testing;
using FlexNet.Training;
using static FlexNet.Models.Functional;

namespace FlexNet.Tests.Models;

/// <summary>
/// <see cref="Model.Freeze"/>: the frozen snapshot gives Model.Predict's bits on the weights it was frozen with, is
/// unchanged by training the original, keeps its packed weights from call to call (a second call packs nothing and
/// runs no packing GEMM), and refuses use after Dispose, bad inputs and concurrent calls as Predict does.
/// </summary>
public sealed class FrozenModelTests
{
    internal static Tensor Data(ulong seed, DType dtype, params int[] shape) =>
        Tensor.Normal(shape, 0, 1, new RandomGenerator(seed), dtype);

    internal static Sequential Mlp(DType dtype) =>
        new("mlp", dtype, 3, new Dense(64, "relu", name: "h1"), new Dense(48, "relu", name: "h2"), new Dense(10, name: "out")) { InputShape = [20] };

    internal static void Perturb(Model m)
    {
        // away from the initial values, biases included (they start at zero)
        var g = new RandomGenerator(77);
        using (Autograd.NoGrad())
            foreach (var p in m.Parameters) p.CopyFrom(p + Tensor.Normal(p.ShapeArray, 0, 0.1, g, p.DType));
    }

    /// <summary>The MLP by hand: y = W₃·relu(W₂·relu(W₁x + b₁) + b₂) + b₃ in double loops over copied weights.</summary>
    internal static double[] MlpByHand(double[][] w, double[][] b, int[] outs, int[] ins, double[] x, int n)
    {
        var cur = x;
        for (int l = 0; l < 3; l++)
        {
            var next = new double[n * outs[l]];
            for (int s = 0; s < n; s++)
                for (int o = 0; o < outs[l]; o++)
                {
                    double z = b[l][o];
                    for (int i = 0; i < ins[l]; i++) z += w[l][o * ins[l] + i] * cur[s * ins[l] + i];
                    next[s * outs[l] + o] = l < 2 ? Math.Max(z, 0) : z;
                }
            cur = next;
        }
        return cur;
    }

    internal static (double[][] W, double[][] B) Weights(Sequential m)
    {
        var w = new double[3][];
        var b = new double[3][];
        for (int l = 0; l < 3; l++)
        {
            var d = (Dense)m.Layers[l];
            w[l] = d.Weight.ToDoubleArray();
            b[l] = d.Bias!.ToDoubleArray();
        }
        return (w, b);
    }

    [Theory]
    [InlineData(DType.Float32)]
    [InlineData(DType.Float64)]
    public void Mlp_EqualsPredictBitForBit_AndTheHandComputation(DType dtype)
    {
        var m = Mlp(dtype);
        Perturb(m);
        var x = Data(1, dtype, 33, 20);
        using var frozen = m.Freeze();
        Assert.Equal("mlp", frozen.Name);
        Assert.Equal(dtype, frozen.DType);
        foreach (int batch in new[] { 256, 16, 1 }) // one batch; 16 + 16 + 1 (the last a matrix-vector product); all single rows
        {
            var want = m.Predict(x, batch).ToDoubleArray();
            Assert.Equal(want, frozen.Predict(x, batch).ToDoubleArray());
            Assert.Equal(want, frozen.Predict(x, batch).ToDoubleArray()); // with the kept packs
        }
        var (w, b) = Weights(m);
        var byHand = MlpByHand(w, b, [64, 48, 10], [20, 64, 48], x.ToDoubleArray(), 33);
        double tol = dtype == DType.Float32 ? 1e-5 : 1e-12;
        T.Close(byHand, frozen.Predict(x).ToDoubleArray(), tol, tol, "frozen MLP");
        // one sample without the batch axis gives one output, as Predict does
        var one = x.Slice(0, 5, 1).Squeeze(0);
        Assert.Equal([10], frozen.Predict(one).ShapeArray);
        Assert.Equal(m.Predict(one).ToDoubleArray(), frozen.Predict(one).ToDoubleArray());
    }

    [Fact]
    public void SecondCall_PacksNothing_AndRunsNoPackingGemm()
    {
        Assert.SkipWhen(Gemm.Provider != GemmProvider.Managed, "the kept packs are used with the managed GEMM only");
        var m = Mlp(DType.Float32);
        Perturb(m);
        var x = Data(2, DType.Float32, 40, 20);
        using var frozen = m.Freeze();
        var net = frozen.Snapshot.Network;
        var first = frozen.Predict(x).ToDoubleArray();
        int packs = net.PacksMade;
        // the layers whose unpacked GEMM packs Wᵀ (64 and 48 outputs; the 10 outputs of the last one are dot
        // products reading W in place, unless the vector width makes them a packed panel)
        int expected = 2 + (Gemm.PacksTransposedB<float>(40, 10, 48) ? 1 : 0);
        Assert.Equal(expected, packs);
        Assert.Equal(expected, net.KeptPackCount);

        int blocked = Gemm.BlockedRunsOnThisThread;
        var second = frozen.Predict(x).ToDoubleArray();
        Assert.Equal(blocked, Gemm.BlockedRunsOnThisThread); // no GEMM packed an operand
        Assert.Equal(packs, net.PacksMade); // and no weight was packed again
        Assert.Equal(first, second);

        // the hook can fail: a forward pass that records gradients runs the blocked (packing) GEMM at every call
        var original = m.Network.Forward([x], training: false)[0].ToDoubleArray();
        Assert.True(Gemm.BlockedRunsOnThisThread >= blocked + 2, $"{Gemm.BlockedRunsOnThisThread - blocked} blocked GEMMs in a recording forward");
        Assert.Equal(original, second);
    }

    [Fact]
    public void TrainingTheOriginal_LeavesTheFrozenOutputs()
    {
        var m = Mlp(DType.Float32);
        Perturb(m);
        var x = Data(3, DType.Float32, 40, 20);
        var y = Data(4, DType.Float32, 40, 10);
        var (w0, b0) = Weights(m);
        using var frozen = m.Freeze();
        var before = frozen.Predict(x).ToDoubleArray();
        Assert.Equal(m.Predict(x).ToDoubleArray(), before);

        m.Fit(x, y, new TrainerOptions { Epochs = 1, BatchSize = 8, Loss = new MeanSquaredError(), Optimizer = new Adam(0.01), Progress = ProgressMode.None });
        var (w1, _) = Weights(m);
        for (int l = 0; l < 3; l++) Assert.NotEqual(w0[l], w1[l]); // training changed every weight

        var after = frozen.Predict(x).ToDoubleArray();
        Assert.Equal(before, after);
        T.Close(MlpByHand(w0, b0, [64, 48, 10], [20, 64, 48], x.ToDoubleArray(), 40), after, 1e-5, 1e-5, "frozen MLP after training the original");
        Assert.NotEqual(before, m.Predict(x).ToDoubleArray());

        // writing the original's weights through spans does not reach the snapshot either
        ((Dense)m.Layers[0]).Weight.F.Fill(0.5f);
        Assert.Equal(before, frozen.Predict(x).ToDoubleArray());
    }

    [Theory]
    [InlineData(DType.Float32)]
    [InlineData(DType.Float64)]
    public void RecurrentFeedbackModel_EqualsPredictBitForBit(DType dtype)
    {
        var x = Input(6, sequence: true, name: "x");
        var h = new Dense(40, "tanh", name: "h").Call(x);
        var o = new Dense(24, name: "o").Call(h);
        var m = new Model(x, o, "feedback", dtype, 5).AddFeedback(h, h, delay: 1);
        var xs = Data(6, dtype, 3, 20, 6);
        _ = m.Predict(xs);
        Perturb(m);
        using var frozen = m.Freeze();
        var want = m.Predict(xs).ToDoubleArray();
        Assert.Equal(want, frozen.Predict(xs).ToDoubleArray());
        int packs = frozen.Snapshot.Network.PacksMade;
        Assert.True(packs > 0);
        Assert.Equal(want, frozen.Predict(xs).ToDoubleArray());
        Assert.Equal(want, frozen.Predict(xs, batchSize: 7).ToDoubleArray()); // 7 + 7 + 6 samples, on axis 1
        if (Gemm.Provider == GemmProvider.Managed) Assert.Equal(packs, frozen.Snapshot.Network.PacksMade);
    }

    [Fact]
    public void ConvModel_EqualsPredictBitForBit()
    {
        var m = new Sequential("cnn", DType.Float32, 2, new Conv2D(4, 3, padding: Padding.Same, activation: "relu", name: "conv"),
                               new MaxPool2D(2, name: "pool"), new Flatten("flat"), new Dense(24, "relu", name: "fc"), new Dense(3, name: "head")) { InputShape = [2, 6, 6] };
        Perturb(m);
        var x = Data(7, DType.Float32, 12, 2, 6, 6);
        using var frozen = m.Freeze();
        var want = m.Predict(x).ToDoubleArray();
        Assert.Equal(want, frozen.Predict(x).ToDoubleArray());
        Assert.Equal(want, frozen.Predict(x).ToDoubleArray());
    }

    [Fact]
    public void BatchNormAndDropout_RunInEvaluationMode()
    {
        var m = new Sequential("bn", DType.Float64, 4, new Dense(32, "relu", name: "fc"), new BatchNorm(name: "bn"), new Dropout(0.5, name: "drop"),
                               new Dense(3, name: "out")) { InputShape = [5] };
        var x = Data(13, DType.Float64, 24, 5);
        _ = m.Forward(x, training: true); // moves the running statistics away from 0 and 1
        using var frozen = m.Freeze();
        var want = m.Predict(x).ToDoubleArray();
        Assert.Equal(want, frozen.Predict(x).ToDoubleArray());
        Assert.Equal(want, frozen.Predict(x).ToDoubleArray()); // dropout off: the same at every call
        _ = m.Forward(x, training: true); // the original's statistics move again; the snapshot's do not
        Assert.NotEqual(want, m.Predict(x).ToDoubleArray());
        Assert.Equal(want, frozen.Predict(x).ToDoubleArray());
    }

    [Fact]
    public void BadInputs_ThrowWhatPredictThrows()
    {
        var m = Mlp(DType.Float32);
        using var frozen = m.Freeze();
        var wrongShape = Data(8, DType.Float32, 4, 19);
        var e1 = Assert.Throws<ShapeMismatchException>(() => m.Predict(wrongShape));
        var e2 = Assert.Throws<ShapeMismatchException>(() => frozen.Predict(wrongShape));
        Assert.Equal(e1.Message, e2.Message);
        Assert.Contains("input", e2.Message);
        Assert.Contains("[4, 19]", e2.Message);
        var wrongType = Data(8, DType.Float64, 4, 20);
        Assert.Equal(Assert.Throws<ArgumentException>(() => m.Predict(wrongType)).Message,
                     Assert.Throws<ArgumentException>(() => frozen.Predict(wrongType)).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => frozen.Predict(Data(8, DType.Float32, 4, 20), 0));
        Assert.Throws<ArgumentNullException>(() => frozen.Predict(null!));
        // a failed call leaves the frozen model usable
        var x = Data(9, DType.Float32, 4, 20);
        Assert.Equal(m.Predict(x).ToDoubleArray(), frozen.Predict(x).ToDoubleArray());
    }

    [Fact]
    public void Dispose_ReleasesThePacks_ThenPredictThrows()
    {
        var m = Mlp(DType.Float32);
        var frozen = m.Freeze();
        var x = Data(10, DType.Float32, 40, 20);
        _ = frozen.Predict(x);
        var net = frozen.Snapshot.Network;
        if (Gemm.Provider == GemmProvider.Managed) Assert.True(net.KeptPackCount > 0);
        frozen.Dispose();
        Assert.Equal(0, net.KeptPackCount);
        Assert.Throws<ObjectDisposedException>(() => frozen.Predict(x));
        frozen.Dispose(); // twice is fine
        Assert.Contains("disposed", frozen.ToString());
        // the original is untouched
        Assert.Equal([40, 10], m.Predict(x).ShapeArray);
    }

    [Fact]
    public void ConcurrentCall_Throws_NamingTheModel()
    {
        var m = Mlp(DType.Float32);
        using var frozen = m.Freeze();
        var busy = typeof(FrozenModel).GetField("_busy", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance)!;
        busy.SetValue(frozen, 1); // as while another thread is inside Predict
        var e = Assert.Throws<InvalidOperationException>(() => frozen.Predict(Data(11, DType.Float32, 2, 20)));
        Assert.Contains("'mlp'", e.Message);
        busy.SetValue(frozen, 0);
        Assert.Equal([2, 10], frozen.Predict(Data(11, DType.Float32, 2, 20)).ShapeArray);
    }

    private sealed class Unregistered : Model
    {
        private readonly Dense _d = new(3, name: "d");

        public Unregistered() : base("unreg", DType.Float32, 0) => InputShape = [4];

        protected override SymbolicTensor Forward(SymbolicTensor x) => _d.Call(x);
    }

    [Fact]
    public void ModelsThatCannotBeCopied_ThrowNamingTheModel()
    {
        var e = Assert.Throws<GraphException>(() => new Unregistered().Freeze());
        Assert.Contains("Model 'unreg' cannot be frozen", e.Message);
        Assert.Contains("ModelRegistry.Register", e.Message);

        var traced = new Sequential(new Dense(3)); // input shape unknown: nothing to copy yet
        Assert.Throws<GraphException>(() => traced.Freeze());

        var stateful = Mlp(DType.Float32);
        stateful.Network.Stateful = true;
        Assert.Contains("stateful", Assert.Throws<GraphException>(() => stateful.Freeze()).Message);
    }

    [Theory]
    [InlineData(64, 20)]
    [InlineData(1, 20)]
    public void PredictAfterWarmup_AllocatesOnlyTheOutput(int n, int features)
    {
        var m = Mlp(DType.Float32);
        using var frozen = m.Freeze();
        var x = Data(12, DType.Float32, n, features);
        for (int i = 0; i < 3; i++) _ = frozen.Predict(x, 64);
        long before = GC.GetAllocatedBytesForCurrentThread();
        var y = frozen.Predict(x, 64);
        long bytes = GC.GetAllocatedBytesForCurrentThread() - before;
        // what one output tensor of that shape costs (its object, storage and buffer), made the same way
        before = GC.GetAllocatedBytesForCurrentThread();
        var alone = Tensor.Zeros([n, 10], DType.Float32);
        long output = GC.GetAllocatedBytesForCurrentThread() - before;
        GC.KeepAlive(alone);
        Assert.Equal([n, 10], y.ShapeArray);
        Assert.True(bytes <= output, $"FrozenModel.Predict allocates {bytes} bytes per call; the output tensor alone is {output}");
        // Model.Predict allocates more (its batch index array, the trainer's adapter, scope and tensor objects)
        before = GC.GetAllocatedBytesForCurrentThread();
        _ = m.Predict(x, 64);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before > output);
    }
}
