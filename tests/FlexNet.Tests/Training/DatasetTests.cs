using FlexNet.Losses;
using FlexNet.Optimizers;
using FlexNet.Training;
using FlexNet.Tensors;

namespace FlexNet.Tests.Training;

[Collection("Training")]
public sealed class DatasetTests
{
    /// <summary>Sequences [T, N, 4] built on demand, with a [T, N] mask that pads the last step of odd samples.</summary>
    private sealed class GeneratedSequences(int count) : IDataset
    {
        public int Count => count;

        public int Calls { get; private set; }

        public Batch GetBatch(ReadOnlySpan<int> indices)
        {
            Calls++;
            int n = indices.Length;
            var x = new float[3 * n * 4];
            var y = new int[3 * n];
            var m = new float[3 * n];
            for (int t = 0; t < 3; t++)
                for (int j = 0; j < n; j++)
                {
                    int s = indices[j];
                    for (int f = 0; f < 4; f++) x[(t * n + j) * 4 + f] = MathF.Sin(s * 0.37f + t * 1.3f + f);
                    y[t * n + j] = (s + t) % 3;
                    m[t * n + j] = t == 2 && s % 2 == 1 ? 0 : 1;
                }
            return new Batch([Tensor.FromArray(x, 3, n, 4)], [Tensor.FromArray(y, 3, n)], null, Tensor.FromArray(m, 3, n));
        }
    }

    /// <summary>A per-step MLP that records the mask it was given.</summary>
    private sealed class MaskedMlp(TinyMlp inner) : IMaskedTrainable
    {
        public double[]? LastMask { get; private set; }

        public IReadOnlyList<Tensor> Parameters => inner.Parameters;

        public Tensor[] Forward(Tensor[] inputs, bool training) => [inner.Forward(inputs[0], training)];

        public Tensor[] Forward(Tensor[] inputs, bool training, Tensor? mask)
        {
            LastMask = mask?.ToDoubleArray(); // copied: the mask lives in the step's scope
            return Forward(inputs, training);
        }
    }

    [Fact]
    public void CustomDatasetWithMasksReachesModelAndLoss()
    {
        var data = new GeneratedSequences(20);
        var model = new MaskedMlp(new TinyMlp(4, 8, 3, seed: 40));
        double logged = double.NaN;
        var o = new TrainerOptions
        {
            Epochs = 1, BatchSize = 20, Shuffle = false, Progress = ProgressMode.None, Optimizer = new Sgd(0),
            Loss = new CrossEntropy(), OnBatchEnd = b => logged = b.Loss,
        };
        var trainer = new Trainer(model, o);
        trainer.Fit(data);
        Assert.NotNull(model.LastMask);
        Assert.Equal(0.0, model.LastMask![2 * 20 + 1]); // [T=2, N=1]
        Assert.Equal(1.0, model.LastMask[2 * 20 + 2]);
        var all = Enumerable.Range(0, 20).ToArray();
        var b = data.GetBatch(all);
        var expected = new CrossEntropy().Compute(model.Forward(b.Inputs, false)[0], b.Targets[0], null, b.Mask).Item();
        Assert.Equal(expected, logged, 5);
        Assert.Equal(expected, trainer.Evaluate(data)["loss"], 5);

        // validation split on a data set holds out its last samples without copying
        o.ValidationSplit = 0.25;
        o.Epochs = 2;
        var h = trainer.Fit(data);
        Assert.False(double.IsNaN(h["val_loss"][^1]));
        var sub = new SubsetDataset(data, 15, 5);
        Assert.Equal(h["val_loss"][^1], trainer.Evaluate(sub)["loss"], 12);
        Assert.Throws<ArgumentOutOfRangeException>(() => new SubsetDataset(data, 15, 6));
        Assert.Throws<ArgumentOutOfRangeException>(() => sub.GetBatch([5]));
    }

    [Fact]
    public void TensorDatasetChecksSampleCounts()
    {
        var e = Assert.Throws<ShapeMismatchException>(() => new TensorDataset(Tensor.Zeros([5, 2]), Tensor.Zeros([4, 1])));
        Assert.Contains("[4, 1]", e.Message);
        Assert.Throws<ShapeMismatchException>(() => new TensorDataset([Tensor.Zeros([5, 2])], [Tensor.Zeros([5])], Tensor.Ones([4])));
        var d = new TensorDataset(Tensor.Arange(0, 6).Reshape(3, 2), Tensor.FromArray(new[] { 7, 8, 9 }, 3));
        var b = d.GetBatch([2, 0]);
        Assert.Equal([4f, 5f, 0f, 1f], b.Inputs[0].ToFloatArray());
        Assert.Equal([9, 7], b.Targets[0].ToInt32Array());
        Assert.Throws<ArgumentOutOfRangeException>(() => d.GetBatch([3]));
    }
}
