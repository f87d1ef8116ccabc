using FlexNet.Tensors;
using FlexNet.Training;
using Xunit;

namespace FlexNet.Tests.Training;

/// <summary>The refusals of <see cref="TensorDataset"/> and <see cref="SubsetDataset"/> with their whole messages, and
/// the ranges they accept at their limits.</summary>
public sealed class DatasetMessageTests
{
    /// <summary>4 samples: x[i] = [10 i, 10 i + 1], y[i] = i.</summary>
    private static TensorDataset Four(Tensor? weights = null, Tensor? mask = null, int targetAxis = 0, Tensor? y = null)
        => new([Tensor.FromArray(new float[] { 0, 1, 10, 11, 20, 21, 30, 31 }, 4, 2)],
            [y ?? Tensor.FromArray(new float[] { 0, 1, 2, 3 }, 4)], weights, mask, 0, targetAxis);

    [Fact]
    public void WeightsAndMasks_OfAnotherSampleCount_AreNamed()
    {
        var e = Assert.Throws<ShapeMismatchException>(() => Four(weights: Tensor.Ones([3])));
        Assert.Equal("TensorDataset: weights [3] must have 4 samples along axis 0 (the first input's count).", e.Message);
        // weights of rank 2 follow the targets' sample axis
        var yt = Tensor.Zeros([2, 4]);
        e = Assert.Throws<ShapeMismatchException>(() => Four(weights: Tensor.Ones([2, 3]), targetAxis: 1, y: yt));
        Assert.Equal("TensorDataset: weights [2, 3] must have 4 samples along axis 1 (the first input's count).", e.Message);
        e = Assert.Throws<ShapeMismatchException>(() => Four(mask: Tensor.Ones([2, 3])));
        Assert.Equal("TensorDataset: mask [2, 3] must have 4 samples along axis 1 (the first input's count).", e.Message);
        e = Assert.Throws<ShapeMismatchException>(() => Four(mask: Tensor.Ones([4])));
        Assert.Equal("TensorDataset: mask must be [T, N]; got [4].", e.Message);
    }

    [Fact]
    public void WeightsAndMask_AreGatheredWithTheirSamples()
    {
        var d = Four(weights: Tensor.FromArray(new float[] { 0.5f, 1, 2, 4 }, 4),
            mask: Tensor.FromArray(new float[] { 1, 0, 1, 0, 0, 1, 1, 1 }, 2, 4));
        var b = d.GetBatch([3, 0]);
        Assert.Equal(new float[] { 30, 31, 0, 1 }, b.Inputs[0].ToFloatArray());
        Assert.Equal(new float[] { 3, 0 }, b.Targets[0].ToFloatArray());
        Assert.Equal(new float[] { 4, 0.5f }, b.Weights!.ToFloatArray());
        Assert.Equal(new float[] { 0, 1, 1, 0 }, b.Mask!.ToFloatArray()); // mask[t, 3], mask[t, 0] for t = 0, 1
    }

    [Theory]
    [InlineData(4)]
    [InlineData(-1)]
    public void IndexOutsideTheDataSet_IsNamed(int index)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => Four().GetBatch([0, index]));
        Assert.Equal("indices", e.ParamName);
        Assert.Equal($"TensorDataset: index {index} is outside [0, 4). (Parameter 'indices')", e.Message);
    }

    [Theory]
    [InlineData(-1, 2, "[-1, 1)")]
    [InlineData(0, -1, "[0, -1)")]
    [InlineData(3, 2, "[3, 5)")]
    [InlineData(int.MaxValue, 1, "[2147483647, 2147483648)")] // start + count past int's range
    public void SubsetOutsideItsSource_IsNamed(int start, int count, string range)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new SubsetDataset(Four(), start, count));
        Assert.Equal($"SubsetDataset: {range} is outside [0, 4). (Parameter 'count')", e.Message);
    }

    [Fact]
    public void Subsets_AtTheEnds_AreAccepted_AndShiftTheirIndices()
    {
        Assert.Equal(0, new SubsetDataset(Four(), 4, 0).Count);
        Assert.Equal(4, new SubsetDataset(Four(), 0, 4).Count);
        var sub = new SubsetDataset(Four(), 1, 2);
        Assert.Equal(new float[] { 20, 21, 10, 11 }, sub.GetBatch([1, 0]).Inputs[0].ToFloatArray());
        foreach (int index in new[] { 2, -1 })
        {
            var e = Assert.Throws<ArgumentOutOfRangeException>(() => sub.GetBatch([0, index]));
            Assert.Equal($"SubsetDataset: index {index} is outside [0, 2). (Parameter 'indices')", e.Message);
        }
    }
}
