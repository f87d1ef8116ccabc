using FlexNet.Tensors;

namespace FlexNet.Tests.Tensors;

/// <summary>Reseeding and state restore must leave nothing behind: the polar Box–Muller method makes normals in pairs
/// and caches the second, so a reseed has to drop that spare and a restore has to bring it back.</summary>
public sealed class RandomGeneratorReseedTests
{
    private static double[] Normals(RandomGenerator g, int n)
    {
        var v = new double[n];
        for (int i = 0; i < n; i++) v[i] = g.NextNormal();
        return v;
    }

    [Theory]
    [InlineData(1)] // an odd count leaves a spare normal cached
    [InlineData(2)]
    [InlineData(3)]
    public void ReseedAfterNormalsMatchesAFreshGenerator(int drawn)
    {
        var g = new RandomGenerator(5);
        _ = Normals(g, drawn);
        g.Reseed(9);
        Assert.Equal(Normals(new RandomGenerator(9), 6), Normals(g, 6));
    }

    [Fact]
    public void ReseedToTheSameSeedRestartsTheNormalStream()
    {
        var g = new RandomGenerator(77);
        double[] first = Normals(g, 3);
        g.Reseed(77);
        Assert.Equal(first, Normals(g, 3));
        // and uniforms after normals are the fresh generator's too
        g.Reseed(77);
        _ = g.NextNormal();
        g.Reseed(78);
        var fresh = new RandomGenerator(78);
        Assert.Equal(fresh.NextDouble(), g.NextDouble());
        Assert.Equal(fresh.NextNormal(), g.NextNormal());
    }

    [Fact]
    public void StateWithACachedSpareRestoresIt()
    {
        var g = new RandomGenerator(3);
        _ = g.NextNormal(); // the spare is now cached
        var state = g.GetState();
        Assert.Equal(1UL, state[5]);
        double[] next = Normals(g, 3);
        var h = new RandomGenerator(1234);
        h.SetState(state);
        Assert.Equal(next, Normals(h, 3));
    }

    [Fact]
    public void NormalsComeInPairsFromOneUniformPair()
    {
        // the polar method by hand from the same uniform stream: (u, v) accepted when 0 < s = u² + v² < 1,
        // then u·f and v·f with f = √(−2 ln s / s)
        var g = new RandomGenerator(11);
        var u01 = new RandomGenerator(11);
        for (int pair = 0; pair < 4; pair++)
        {
            double u, v, s;
            do
            {
                u = 2 * u01.NextDouble() - 1;
                v = 2 * u01.NextDouble() - 1;
                s = u * u + v * v;
            } while (s >= 1 || s == 0);
            double f = Math.Sqrt(-2 * Math.Log(s) / s);
            Assert.Equal(u * f, g.NextNormal());
            Assert.Equal(v * f, g.NextNormal());
        }
    }
}
