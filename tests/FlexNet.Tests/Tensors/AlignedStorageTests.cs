using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using FlexNet.Tensors;

namespace FlexNet.Tests.Tensors;

/// <summary>Garbage-collected buffers from <see cref="Storage.AlignFromBytes"/> on start their tensors on a 64-byte
/// boundary; smaller ones, pooled ones and wrapped arrays start at index 0; the values behave the same either way.</summary>
public sealed class AlignedStorageTests
{
    private static unsafe long AddressMod64<T>(Tensor t) where T : unmanaged
        => (long)Unsafe.AsPointer(ref MemoryMarshal.GetReference(t.Data<T>())) & 63;

    [Fact]
    public void LargeBuffers_StartOnA64ByteBoundary_SmallOnesAtIndexZero()
    {
        // 21,250 floats = 85,000 bytes: the first size aligned; one float less is not
        int first = Storage.AlignFromBytes / sizeof(float);
        var shapes = new[] { new[] { first }, new[] { 300, 100 }, new[] { 1, 50_000 } };
        foreach (var shape in shapes)
            for (int i = 0; i < 3; i++) // several allocations: the LOH hands out addresses of any 8-byte alignment
            {
                var t = Tensor.Zeros(shape);
                Assert.Equal(0, AddressMod64<float>(t));
                Assert.InRange(t.Offset, 0, 15);
                Assert.Equal(t.Offset, t.Storage.Origin);
                var d = Tensor.Zeros(shape, DType.Float64);
                Assert.Equal(0, AddressMod64<double>(d));
                Assert.InRange(d.Offset, 0, 7);
                var n = Tensor.Zeros(shape, DType.Int32);
                Assert.Equal(0, AddressMod64<int>(n));
                Assert.All(n.ToInt32Array(), v => Assert.Equal(0, v));
            }
        var small = Tensor.Zeros([first - 1]);
        Assert.Equal(0, small.Offset);
        Assert.Equal(0, small.Storage.Origin);
        using (TensorScope.Begin())
        {
            var pooled = Tensor.Zeros([300, 100]);
            Assert.Equal(0, pooled.Offset);
        }
        var wrapped = Tensor.Wrap(new float[30_000], 30_000);
        Assert.Equal(0, wrapped.Offset);
    }

    [Fact]
    public void AnAlignedTensor_KeepsItsValuesThroughViewsCopiesAndArithmetic()
    {
        var rng = new Random(4);
        float[] values = new float[300 * 100];
        for (int i = 0; i < values.Length; i++) values[i] = (float)rng.NextDouble() - 0.5f;
        var t = Tensor.Zeros([300, 100]);
        values.CopyTo(t.Data<float>());
        Assert.Equal(values, t.ToFloatArray());
        Assert.Equal(values[150 * 100 + 7], (float)t[150, 7]);
        var sum = (t + t).ToFloatArray();
        for (int i = 0; i < values.Length; i++) Assert.Equal(values[i] * 2, sum[i]);
        Assert.Equal(values, t.Clone().ToFloatArray());
        var col = t.Transpose(0, 1).Contiguous().ToFloatArray();
        Assert.Equal(values[3 * 100 + 99], col[99 * 300 + 3]);
    }
}
