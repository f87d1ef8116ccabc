using FlexNet.Kernels;
using Xunit;

namespace FlexNet.Tests.Kernels;

/// <summary>The range-parallel subnormal flush of large gradients against a bit-level check written here: every
/// subnormal becomes a zero of its sign, everything else keeps its bits, and the count is exact.</summary>
[Trait("Category", "Kernels")]
public sealed class ParallelFlushTests
{
    [Theory]
    [InlineData(300_007)]
    [InlineData(131_072)]
    [InlineData(1_000)]
    public void LargeFloatBuffersFlushLikeTheBitRule(int n)
    {
        var rng = new Random(n);
        var x = new float[n];
        for (int i = 0; i < n; i++)
        {
            x[i] = (i % 11) switch
            {
                0 => BitConverter.Int32BitsToSingle(rng.Next(1, 0x007F_FFFF)),                // positive subnormal
                1 => -BitConverter.Int32BitsToSingle(rng.Next(1, 0x007F_FFFF)),               // negative subnormal
                2 => float.NaN,
                3 => -0f,
                4 => float.Epsilon * (i % 3 == 0 ? 1 : -1),
                5 => 1.17549435e-38f,                                                       // smallest normal: kept
                _ => (float)(rng.NextDouble() * 2 - 1),
            };
        }
        x[^1] = float.Epsilon; // the very last element
        var before = (float[])x.Clone();
        long flushed = Subnormals.FlushToZeroAny<float>(x);
        long want = 0;
        for (int i = 0; i < n; i++)
        {
            int bits = BitConverter.SingleToInt32Bits(before[i]);
            bool sub = (bits & 0x7F80_0000) == 0 && (bits & 0x007F_FFFF) != 0;
            int expect = sub ? bits & unchecked((int)0x8000_0000) : bits;
            if (sub) want++;
            Assert.True(expect == BitConverter.SingleToInt32Bits(x[i]), $"element {i}: {before[i]:R} became {x[i]:R}");
        }
        Assert.Equal(want, flushed);
    }
}
