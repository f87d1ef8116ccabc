using FlexNet.Graph;
using FlexNet.Connections;
using FlexNet.Layers;
using FlexNet.Losses;
using FlexNet.Models;
using FlexNet.Optimizers;
using FlexNet.Tensors;
using FlexNet.Training;
using Xunit;

namespace FlexNet.Tests.Training;

/// <summary>
/// The trainer gathers a <see cref="TensorDataset"/>'s batches into arrays it keeps and has the library's models write
/// their outputs into an array it keeps (no Batch record or array per step); everything else keeps the public path:
/// a user's <see cref="IDataset"/> is asked through <see cref="IDataset.GetBatch"/> and its arrays are left alone,
/// and a model that implements the public forward itself is called through it.
/// </summary>
[Collection("Training")]
public sealed class StepBatchTests
{
    private const int Features = 6, Classes = 3, Count = 48, BatchSize = 8;

    /// <summary>A user's data set over plain arrays: every call gathers by hand into a new Batch.</summary>
    private sealed class ArrayDataset(float[] x, int[] y) : IDataset
    {
        public int Count => y.Length;

        public int Calls { get; private set; }

        public List<Batch> Returned { get; } = new();

        public Batch GetBatch(ReadOnlySpan<int> indices)
        {
            Calls++;
            int n = indices.Length;
            var xb = new float[n * Features];
            var yb = new int[n];
            for (int i = 0; i < n; i++)
            {
                Array.Copy(x, indices[i] * Features, xb, i * Features, Features);
                yb[i] = y[indices[i]];
            }
            var b = new Batch([Tensor.FromArray(xb, n, Features)], [Tensor.FromArray(yb, n)]);
            Returned.Add(b);
            return b;
        }
    }

    private static (float[] X, int[] Y) Samples()
    {
        var rng = new Random(5);
        var x = new float[Count * Features];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);
        var y = new int[Count];
        for (int i = 0; i < Count; i++) y[i] = (int)((x[i * Features] + 1) * 1.5f) % Classes;
        return (x, y);
    }

    private static Network Net()
    {
        var net = new Network("mlp", DType.Float32, 9);
        var x = net.Add(new InputLayer(Features, name: "x"));
        var h = net.Add(new Layer(10, "tanh", name: "h"));
        var y = net.Add(new Layer(Classes, name: "y"));
        net.ConnectDense(x, h);
        net.ConnectDense(h, y);
        net.AddOutput(y, OutputMode.LastStep);
        net.Compile();
        return net;
    }

    private static TrainerOptions Options(List<double> losses) => new()
    {
        Epochs = 3, BatchSize = BatchSize, Loss = new CrossEntropy(), Optimizer = new Sgd(0.05, 0.9), Progress = ProgressMode.None,
        OnBatchEnd = b => losses.Add(b.Loss),
    };

    [Fact]
    public void AUserDataset_TrainsExactlyAsTheSameDataAsTensors()
    {
        var (x, y) = Samples();
        var viaTensors = Net();
        var tensorLosses = new List<double>();
        Trainer.Fit(viaTensors.AsTrainable(), [Tensor.FromArray(x, Count, Features)], [Tensor.FromArray(y, Count)], Options(tensorLosses));

        var viaUser = Net();
        var userLosses = new List<double>();
        var data = new ArrayDataset(x, y);
        new Trainer(viaUser.AsTrainable(), Options(userLosses)).Fit(data);

        int steps = 3 * Count / BatchSize;
        Assert.Equal(steps, tensorLosses.Count);
        Assert.Equal(tensorLosses, userLosses); // bit-identical: same batches, same arithmetic
        var a = viaTensors.Parameters.ToList();
        var b = viaUser.Parameters.ToList();
        for (int i = 0; i < a.Count; i++) Assert.Equal(a[i].ToFloatArray(), b[i].ToFloatArray());
        Assert.True(tensorLosses[^1] < tensorLosses[0], $"training did not lower the loss: {tensorLosses[0]} -> {tensorLosses[^1]}");

        // the public path: one GetBatch per step (and one to count the targets); the user's arrays are not touched
        Assert.Equal(steps + 1, data.Calls);
        foreach (var batch in data.Returned)
        {
            Assert.NotNull(batch.Inputs[0]);
            Assert.NotNull(batch.Targets[0]);
        }
    }

    [Fact]
    public void TensorDatasetFillsTheSameBatchAsGetBatch()
    {
        // inputs [T, N, 2] along axis 1, weights [N], mask [T, N]; the trainer's path gives the same tensors
        var x = Tensor.Arange(0, 3 * 5 * 2).Reshape(3, 5, 2);
        var y = Tensor.FromArray(new[] { 0, 1, 2, 0, 1 }, 5);
        var w = Tensor.FromArray(new[] { 1f, 2f, 3f, 4f, 5f }, 5);
        var m = Tensor.FromArray(new float[] { 1, 1, 1, 1, 1, 1, 0, 1, 0, 1, 1, 0, 1, 0, 0 }, 3, 5);
        var d = new TensorDataset([x], [y], w, m, inputAxis: 1);
        var into = new StepBatch();
        ((IFillsBatch)d).FillBatch([4, 1], into);
        Assert.Equal([8f, 9f, 2f, 3f, 18f, 19f, 12f, 13f, 28f, 29f, 22f, 23f], into.Inputs[0].ToFloatArray());
        Assert.Equal([1, 1], into.Targets[0].ToInt32Array());
        Assert.Equal([5f, 2f], into.Weights!.ToFloatArray());
        Assert.Equal([1f, 1f, 1f, 0f, 0f, 0f], into.Mask!.ToFloatArray()); // m[t, 4], m[t, 1] for t = 0, 1, 2
        var arrays = (into.Inputs, into.Targets);
        ((IFillsBatch)d).FillBatch([0], into);
        Assert.Same(arrays.Inputs, into.Inputs); // the same arrays, refilled
        Assert.Same(arrays.Targets, into.Targets);
        Assert.Equal([0f, 1f, 10f, 11f, 20f, 21f], into.Inputs[0].ToFloatArray());
        Assert.Throws<ArgumentOutOfRangeException>(() => ((IFillsBatch)d).FillBatch([5], into));
        // a subset shifts its indices and fills through its source
        ((IFillsBatch)new SubsetDataset(d, 2, 3)).FillBatch([2, 0], into);
        Assert.Equal([1, 2], into.Targets[0].ToInt32Array()); // y[4], y[2]
        Assert.Throws<ArgumentOutOfRangeException>(() => ((IFillsBatch)new SubsetDataset(d, 2, 3)).FillBatch([3], into));
    }

    /// <summary>A model subclass that implements the public forward itself (implementing the interface again).</summary>
    private sealed class CountingModel : Model, IMultiTrainable
    {
        private readonly Dense _out = new(Classes);

        public CountingModel() : base("counting", DType.Float32, 4) => InputShape = [Features];

        public int Calls { get; private set; }

        protected override SymbolicTensor Forward(SymbolicTensor x) => _out.Call(x);

        public new Tensor[] Forward(Tensor[] inputs, bool training)
        {
            Calls++;
            return base.Forward(inputs, training);
        }
    }

    [Fact]
    public void AModelThatImplementsTheForwardItself_IsCalledThroughIt()
    {
        var (x, y) = Samples();
        var model = new CountingModel();
        var losses = new List<double>();
        new Trainer(model, Options(losses)).Fit(Tensor.FromArray(x, Count, Features), Tensor.FromArray(y, Count));
        Assert.Equal(3 * Count / BatchSize, model.Calls);
        Assert.Equal(3 * Count / BatchSize, losses.Count);
    }

    [Fact]
    public void NetworkForwardInto_WritesIntoTheGivenArray()
    {
        var net = Net();
        var x = Tensor.Normal([4, Features], 0, 1, new RandomGenerator(3), DType.Float32);
        var want = net.Forward([x], training: false)[0].ToFloatArray();
        var reuse = new Tensor[1];
        var got = net.ForwardInto([x], training: false, null, reuse);
        Assert.Same(reuse, got);
        Assert.Equal(want, got[0].ToFloatArray());
        var fresh = net.ForwardInto([x], training: false, null, new Tensor[2]); // wrong length: a new array
        Assert.Single(fresh);
        Assert.Equal(want, fresh[0].ToFloatArray());
    }
}
