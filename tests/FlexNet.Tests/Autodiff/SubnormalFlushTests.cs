using FlexNet.Autodiff;
using FlexNet.Graph;
using FlexNet.Kernels;
using FlexNet.Losses;
using FlexNet.Optimizers;
using FlexNet.Training;
using FlexNet.Tensors;
using FlexNet.Connections;

namespace FlexNet.Tests.Autodiff;

/// <summary><see cref="Autograd.FlushSubnormals"/> and its kernel. The switch is process-wide, so the classes that
/// toggle it run in the non-parallel "Training" collection.</summary>
[Collection("Training")]
public sealed class SubnormalFlushTests
{
    private const float MinNormalF = 1.17549435e-38f;

    [Fact]
    public void MinNormalIsTheSmallestNormalNumber()
    {
        Assert.Equal(MinNormalF, Subnormals.MinNormal<float>());
        Assert.True(float.IsNormal(Subnormals.MinNormal<float>()));
        Assert.True(float.IsSubnormal(BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits(MinNormalF) - 1)));
        Assert.Equal(2.2250738585072014e-308, Subnormals.MinNormal<double>());
    }

    [Fact]
    [Trait("Category", "Kernels")] // rerun by CI with the SIMD levels switched off (Vector256 and scalar paths)
    public void KernelFlushesSubnormalsToSignedZeroAndLeavesEverythingElseBitIdentical()
    {
        var rng = new Random(5);
        float[] specials = [MinNormalF, -MinNormalF, 0f, -0f, float.NaN, float.PositiveInfinity, float.NegativeInfinity, float.MaxValue, 1e-30f];
        float[] subs = [float.Epsilon, -float.Epsilon, 1e-39f, -1e-39f, MinNormalF * 0.99999f, -5e-41f];
        for (int n = 0; n <= 70; n++)
        {
            var x = new float[n];
            for (int i = 0; i < n; i++)
            {
                int r = rng.Next(4);
                x[i] = r == 0 ? subs[rng.Next(subs.Length)] : r == 1 ? specials[rng.Next(specials.Length)] : (float)(rng.NextDouble() * 2 - 1) * MathF.Pow(10, rng.Next(-37, 38));
            }
            var before = (float[])x.Clone();
            int flushed = Subnormals.FlushToZero<float>(x);
            int expectedCount = 0;
            for (int i = 0; i < n; i++)
            {
                int bits = BitConverter.SingleToInt32Bits(before[i]);
                bool sub = (bits & 0x7F80_0000) == 0 && (bits & 0x007F_FFFF) != 0; // exponent 0, mantissa ≠ 0
                int want = sub ? bits & unchecked((int)0x8000_0000) : bits;
                if (sub) expectedCount++;
                Assert.True(want == BitConverter.SingleToInt32Bits(x[i]), $"n={n} i={i}: {before[i]:R} became {x[i]:R}");
            }
            Assert.Equal(expectedCount, flushed);
        }
    }

    [Fact]
    [Trait("Category", "Kernels")]
    public void KernelFlushesDoubleSubnormals()
    {
        double[] x = [1e-310, -4.9e-324, 2.2250738585072014e-308, -1.0, 0.0, double.NaN, 3e-300, 1e-320, 5.0, 6.0, -1e-315];
        var before = (double[])x.Clone();
        int flushed = Subnormals.FlushToZero<double>(x);
        Assert.Equal(4, flushed);
        for (int i = 0; i < x.Length; i++)
        {
            long bits = BitConverter.DoubleToInt64Bits(before[i]);
            bool sub = (bits & 0x7FF0_0000_0000_0000) == 0 && (bits & 0x000F_FFFF_FFFF_FFFF) != 0;
            long want = sub ? bits & long.MinValue : bits;
            Assert.Equal(want, BitConverter.DoubleToInt64Bits(x[i]));
        }
    }

    /// <summary>L = Σ ((x·s1)·s2)·s3 with s2 = s3 = 1e-20: the gradient reaching the node of x·s1 is
    /// 1e-20·1e-20 = 1e-40 (subnormal in float), so with the flush x.Grad is 0, without it 1e-40·s1.</summary>
    [Fact]
    public void GradientBelowMinNormalIsFlushedAndTheSwitchTurnsItOff()
    {
        const float s1 = 1e30f, s2 = 1e-20f, s3 = 1e-20f;
        float[] Grad(bool flush)
        {
            bool old = Autograd.FlushSubnormals;
            Autograd.FlushSubnormals = flush;
            try
            {
                var x = Tensor.FromArray(Enumerable.Range(1, 20).Select(i => (float)i).ToArray(), 20).RequireGrad();
                (((x * s1) * s2) * s3).Sum().Backward();
                return x.Grad!.ToFloatArray();
            }
            finally { Autograd.FlushSubnormals = old; }
        }
        Assert.True(Autograd.FlushSubnormals, "flushing is on by default");
        float reaching = s3 * s2; // what the node of x·s1 receives, computed here in float
        Assert.True(float.IsSubnormal(reaching));
        long before = Autograd.SubnormalsFlushed;
        Assert.All(Grad(flush: true), g => Assert.Equal(0f, g));
        Assert.True(Autograd.SubnormalsFlushed - before >= 20, "the 20 subnormal values were counted");
        float kept = reaching * s1;
        Assert.True(float.IsNormal(kept));
        Assert.All(Grad(flush: false), g => Assert.Equal(kept, g));
    }

    /// <summary>Training a small recurrent network on normal-range data: the flush finds nothing to do and every
    /// parameter after five steps is bit for bit the same with the switch on and off.</summary>
    [Fact]
    public void NormalRangeTrainingIsBitIdenticalWithAndWithoutTheFlush()
    {
        var on = Train(flush: true, out long flushedOn);
        var off = Train(flush: false, out _);
        Assert.Equal(0, flushedOn);
        Assert.Equal(on.Count, off.Count);
        for (int p = 0; p < on.Count; p++)
        {
            Assert.Equal(on[p].Length, off[p].Length);
            for (int i = 0; i < on[p].Length; i++)
                Assert.True(BitConverter.SingleToInt32Bits(on[p][i]) == BitConverter.SingleToInt32Bits(off[p][i]), $"parameter {p}[{i}]: {on[p][i]:R} vs {off[p][i]:R}");
        }
        Assert.Contains(on, a => a.Any(v => v != 0));
    }

    private static List<float[]> Train(bool flush, out long flushed)
    {
        bool old = Autograd.FlushSubnormals;
        Autograd.FlushSubnormals = flush;
        try
        {
            var net = new Network("fb", DType.Float32, seed: 7);
            var x = new InputLayer(6, name: "x");
            var h1 = new Layer(8, "relu", name: "h1");
            var h2 = new Layer(5, "tanh", name: "h2");
            var y = new Layer(3, name: "y");
            net.Connect(x, h1);
            net.ConnectDense(h2, h1, delay: 1, bias: false);
            net.Connect(h1, h2);
            net.Connect(h2, y);
            net.AddOutput(y, OutputMode.LastStep);
            net.Steps = 6;
            net.Compile();
            var rng = new Random(11);
            var xs = Enumerable.Range(0, 40 * 6).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
            var ys = Enumerable.Range(0, 40).Select(i => i % 3).ToArray();
            long before = Autograd.SubnormalsFlushed;
            net.Fit(Tensor.FromArray(xs, 40, 6), Tensor.FromArray(ys, 40), new TrainerOptions
            {
                Epochs = 1, BatchSize = 8, Shuffle = false, Loss = new CrossEntropy(), Optimizer = new Sgd(0.1, 0.9), Progress = ProgressMode.None,
            });
            flushed = Autograd.SubnormalsFlushed - before;
            return net.AsTrainable().Parameters.Select(p => p.ToFloatArray()).ToList();
        }
        finally { Autograd.FlushSubnormals = old; }
    }
}
