using FlexNet.Tensors;
using Xunit;

namespace FlexNet.Tests.Tensors;

/// <summary>
/// The Stryker survivors of run 8 in RandomGenerator: its streams against a reference implementation of SplitMix64,
/// xoshiro256**, Lemire's bounded integers, the polar Box–Muller method and Fisher–Yates written here, and states
/// built by hand so that the rare branches (a draw exactly at the rejection threshold, a point exactly on the unit
/// circle) happen on the first draw.
/// </summary>
public sealed class TensorMutationGapRandomTests
{
    /// <summary>The algorithms as published, written independently of the library.</summary>
    private sealed class Reference
    {
        private ulong _a, _b, _c, _d;
        private double _spare;
        private bool _has;

        public Reference(ulong seed)
        {
            ulong x = seed;
            _a = SplitMix64(ref x);
            _b = SplitMix64(ref x);
            _c = SplitMix64(ref x);
            _d = SplitMix64(ref x);
        }

        public Reference(ulong a, ulong b, ulong c, ulong d) => (_a, _b, _c, _d) = (a, b, c, d);

        public static ulong SplitMix64(ref ulong x)
        {
            x = unchecked(x + 0x9E3779B97F4A7C15UL);
            ulong z = x;
            z = unchecked((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL);
            z = unchecked((z ^ (z >> 27)) * 0x94D049BB133111EBUL);
            return z ^ (z >> 31);
        }

        private static ulong Rotl(ulong x, int k) => (x << k) | (x >> (64 - k));

        public ulong Next()
        {
            ulong result = unchecked(Rotl(unchecked(_b * 5), 7) * 9);
            ulong t = _b << 17;
            _c ^= _a;
            _d ^= _b;
            _b ^= _c;
            _a ^= _d;
            _c ^= t;
            _d = Rotl(_d, 45);
            return result;
        }

        public double NextDouble() => (Next() >> 11) * Math.ScaleB(1.0, -53);

        public int NextInt(int n)
        {
            ulong bound = (ulong)n;
            ulong threshold = (1UL << 32) % bound;
            while (true)
            {
                ulong m = (Next() >> 32) * bound;
                if ((m & 0xFFFF_FFFFUL) >= threshold) return (int)(m >> 32);
            }
        }

        public double NextNormal()
        {
            if (_has) { _has = false; return _spare; }
            while (true)
            {
                double u = 2 * NextDouble() - 1, v = 2 * NextDouble() - 1, s = u * u + v * v;
                if (s >= 1 || s == 0) continue;
                double f = Math.Sqrt(-2 * Math.Log(s) / s);
                _spare = v * f;
                _has = true;
                return u * f;
            }
        }
    }

    /// <summary>The inverse of an odd number modulo 2^64 (Newton's iteration).</summary>
    private static ulong Inverse(ulong a)
    {
        ulong x = a;
        for (int i = 0; i < 6; i++) x = unchecked(x * (2 - a * x));
        Assert.Equal(1UL, unchecked(x * a));
        return x;
    }

    /// <summary>The s1 word that makes xoshiro256** output <paramref name="result"/> next.</summary>
    private static ulong S1For(ulong result)
    {
        ulong y = unchecked(result * Inverse(9));
        y = (y >> 7) | (y << 57);
        return unchecked(y * Inverse(5));
    }

    [Fact]
    public void SplitMixAndXoshiro_MatchThePublishedVectors()
    {
        ulong x = 0;
        Assert.Equal(0xE220A8397B1DCDAFUL, Reference.SplitMix64(ref x));
        var g = new RandomGenerator();
        g.SetState([1, 2, 3, 4, 0, 0]);
        Assert.Equal(11520UL, g.NextUInt64());
        Assert.Equal(0UL, g.NextUInt64());
        Assert.Equal(1509978240UL, g.NextUInt64());
        Assert.Equal(1215971899390074240UL, g.NextUInt64());
    }

    [Fact]
    public void Streams_MatchTheReference()
    {
        foreach (ulong seed in new ulong[] { 0, 1, 20230828, ulong.MaxValue })
        {
            var g = new RandomGenerator(seed);
            var r = new Reference(seed);
            for (int i = 0; i < 200; i++) Assert.Equal(r.Next(), g.NextUInt64());
            for (int i = 0; i < 200; i++) Assert.Equal(r.NextDouble(), g.NextDouble());
            foreach (int n in new[] { 1, 2, 3, 10, 1_000_000_007, int.MaxValue, 3 << 29 })
                for (int i = 0; i < 300; i++) Assert.Equal(r.NextInt(n), g.NextInt(n));
            for (int i = 0; i < 201; i++) Assert.Equal(r.NextNormal(), g.NextNormal());
            Assert.Equal(r.Next(), g.NextUInt64());
        }
    }

    [Fact]
    public void NextInt_AcceptsADrawExactlyAtTheThreshold()
    {
        const uint bound = 1_000_000_007;
        uint threshold = (uint)((1UL << 32) % bound);
        uint r = unchecked((uint)(threshold * Inverse(bound)));   // r·bound ≡ threshold (mod 2^32)
        ulong m = (ulong)r * bound;
        Assert.Equal(threshold, (uint)m);
        var g = new RandomGenerator();
        g.SetState([3, S1For((ulong)r << 32), 5, 7, 0, 0]);
        Assert.Equal((int)(m >> 32), g.NextInt((int)bound));
        var reference = new Reference(3, S1For((ulong)r << 32), 5, 7);
        Assert.Equal((int)(m >> 32), reference.NextInt((int)bound));
        Assert.Equal(reference.Next(), g.NextUInt64());
    }

    [Fact]
    public void NextNormal_RejectsAPointOnTheUnitCircleAndTheOrigin()
    {
        // first draw 0 (u = −1), second 2^63 (v = 0): s = 1 exactly
        ulong s1 = S1For(1UL << 63);
        var onCircle = new ulong[] { 1, 0, s1 ^ 1, 5 };
        // both draws 2^63: u = v = 0, s = 0
        var atOrigin = new ulong[] { 1, s1, 1, 5 };
        foreach (var st in new[] { onCircle, atOrigin })
        {
            var g = new RandomGenerator();
            g.SetState([st[0], st[1], st[2], st[3], 0, 0]);
            var check = new RandomGenerator();
            check.SetState([st[0], st[1], st[2], st[3], 0, 0]);
            Assert.Equal(st == onCircle ? 0.0 : 0.5, check.NextDouble());
            Assert.Equal(0.5, check.NextDouble());
            var r = new Reference(st[0], st[1], st[2], st[3]);
            double z = g.NextNormal();
            Assert.Equal(r.NextNormal(), z);
            Assert.NotEqual(0.0, z);
            Assert.Equal(r.NextNormal(), g.NextNormal());
        }
    }

    [Fact]
    public void Shuffle_IsFisherYatesFromTheLastPosition()
    {
        var g = new RandomGenerator(99);
        var r = new Reference(99);
        var values = new[] { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9 };
        var expected = (int[])values.Clone();
        for (int i = expected.Length - 1; i > 0; i--)
        {
            int j = r.NextInt(i + 1);
            (expected[i], expected[j]) = (expected[j], expected[i]);
        }
        g.Shuffle(values);
        Assert.Equal(expected, values);
        Assert.Equal(r.Next(), g.NextUInt64()); // exactly n − 1 draws
        g.Shuffle(Span<int>.Empty);
        g.Shuffle(new int[1]);
        Assert.Equal(r.Next(), g.NextUInt64()); // none for 0 or 1 element
    }

    [Fact]
    public void State_HoldsTheSpareNormal_AndRejectsBadStatesByName()
    {
        var g = new RandomGenerator(5);
        var s = g.GetState();
        Assert.Equal(0UL, s[4]);
        Assert.Equal(0UL, s[5]);
        g.NextNormal();
        s = g.GetState();
        Assert.Equal(1UL, s[5]);
        double spare = BitConverter.Int64BitsToDouble((long)s[4]);
        Assert.Equal(spare, g.NextNormal());
        Assert.Equal(0UL, g.GetState()[5]);

        Assert.Equal("must be positive. Received: 0 (Parameter 'maxExclusive')",
            Assert.Throws<ArgumentOutOfRangeException>(() => g.NextInt(0)).Message);
        Assert.Equal("must be positive. Received: -4 (Parameter 'maxExclusive')",
            Assert.Throws<ArgumentOutOfRangeException>(() => g.NextInt(-4)).Message);
        Assert.Equal("RandomGenerator state has 6 words; got 5. (Parameter 'state')",
            Assert.Throws<ArgumentException>(() => g.SetState(new ulong[5])).Message);
        Assert.Equal("RandomGenerator state of all zeros is invalid for xoshiro256**. (Parameter 'state')",
            Assert.Throws<ArgumentException>(() => g.SetState(new ulong[6])).Message);
        for (int w = 0; w < 4; w++)
        {
            var st = new ulong[6];
            st[w] = 1UL << (w * 9);
            g.SetState(st);            // one non-zero word is a valid state
            Assert.Equal(st, g.GetState());
        }
    }
}
