using FlexNet.Autodiff;
using FlexNet.Tensors;

namespace FlexNet.Tests.Autodiff;

/// <summary>Runs alone: the subnormal counters and switches of <see cref="Autograd"/> are process-wide.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class AutogradCountersCollection
{
    /// <summary>The collection's name.</summary>
    public const string Name = "Autograd counters";
}

/// <summary>The counters of the subnormal flush (issue 15, mutation testing of src/FlexNet/Autodiff): exactly which
/// gradients are scanned and flushed, and the census that counts without flushing. Alone in their collection so
/// that no other backward moves the process-wide counters meanwhile.</summary>
[Collection(AutogradCountersCollection.Name)]
public sealed class SubnormalCounterTests
{
    private const float S1 = 1e30f, S2 = 1e-20f, S3 = 1e-20f;

    /// <summary>Backward of Σ((x·S1)·S2)·S3 over 20 elements: the three scaling nodes below the root each receive 20
    /// gradient values (1, S3, S3·S2), and S3·S2 is subnormal in float32.</summary>
    private static (float[] Grad, long Scanned, long Flushed) Run(bool flush, bool census)
    {
        bool oldFlush = Autograd.FlushSubnormals, oldCensus = Autograd.SubnormalCensus;
        Autograd.FlushSubnormals = flush;
        Autograd.SubnormalCensus = census;
        try
        {
            var x = Tensor.FromArray(Enumerable.Range(1, 20).Select(i => (float)i).ToArray(), 20).RequireGrad();
            var loss = (((x * S1) * S2) * S3).Sum();
            long scanned = Autograd.SubnormalsScanned, flushed = Autograd.SubnormalsFlushed;
            loss.Backward();
            return (x.Grad!.ToFloatArray(), Autograd.SubnormalsScanned - scanned, Autograd.SubnormalsFlushed - flushed);
        }
        finally
        {
            Autograd.FlushSubnormals = oldFlush;
            Autograd.SubnormalCensus = oldCensus;
        }
    }

    [Fact]
    public void TheFlushScansEveryGradientBelowTheRootAndCountsWhatItZeroes()
    {
        Assert.True(float.IsSubnormal(S3 * S2));
        var (grad, scanned, flushed) = Run(flush: true, census: false);
        Assert.Equal(60, scanned);
        Assert.Equal(20, flushed);
        Assert.All(grad, g => Assert.Equal(0f, g));
    }

    [Fact]
    public void TheCensusCountsWithoutChangingAndIsIdleWhenFlushing()
    {
        float kept = S3 * S2 * S1;
        var (grad, scanned, counted) = Run(flush: false, census: true);
        Assert.Equal(0, scanned);
        Assert.Equal(20, counted);
        Assert.All(grad, g => Assert.Equal(kept, g));

        var (_, _, off) = Run(flush: false, census: false);
        Assert.Equal(0, off);
        var (flushedGrad, _, both) = Run(flush: true, census: true); // the census only runs with the flush off
        Assert.Equal(20, both);
        Assert.All(flushedGrad, g => Assert.Equal(0f, g));
    }

    [Fact]
    public void DoubleGradientsAreFlushedAndCountedToo()
    {
        bool old = Autograd.FlushSubnormals;
        try
        {
            foreach (bool flush in new[] { true, false })
            {
                Autograd.FlushSubnormals = flush;
                Autograd.SubnormalCensus = !flush;
                var x = Tensor.FromArray(new double[] { 1, 2, 3 }, 3).RequireGrad();
                var loss = ((x * 1e300) * 1e-300 * 1e-20).Sum(); // x·1e300 receives 1e-320: subnormal in double
                long flushed = Autograd.SubnormalsFlushed;
                loss.Backward();
                Assert.Equal(3, Autograd.SubnormalsFlushed - flushed);
                Assert.All(x.Grad!.ToDoubleArray(), g => Assert.Equal(flush ? 0 : 1e-320 * 1e300, g));
            }
        }
        finally
        {
            Autograd.FlushSubnormals = old;
            Autograd.SubnormalCensus = false;
        }
    }
}
