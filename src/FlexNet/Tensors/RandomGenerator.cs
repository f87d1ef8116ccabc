using System.Numerics;

namespace FlexNet.Tensors;

/// <summary>
/// A seeded pseudo-random generator (xoshiro256**, seeded through SplitMix64) whose whole state can be saved
/// and restored, so that training runs are repeatable and resumable. Not thread-safe: give each thread its own.
/// </summary>
public sealed class RandomGenerator
{
    private ulong _s0, _s1, _s2, _s3;
    private double _spareNormal;
    private bool _hasSpare;

    /// <summary>Creates a generator from a 64-bit seed.</summary>
    /// <param name="seed">Any value; equal seeds give equal streams.</param>
    public RandomGenerator(ulong seed = 20230828) => Reseed(seed);

    /// <summary>The process-wide default generator used when a factory is given none.</summary>
    public static RandomGenerator Default { get; set; } = new();

    /// <summary>Restarts the stream from <paramref name="seed"/>.</summary>
    /// <param name="seed">The new seed.</param>
    public void Reseed(ulong seed)
    {
        ulong x = seed;
        _s0 = SplitMix(ref x);
        _s1 = SplitMix(ref x);
        _s2 = SplitMix(ref x);
        _s3 = SplitMix(ref x);
        _hasSpare = false;
    }

    private static ulong SplitMix(ref ulong x)
    {
        ulong z = x += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>The next 64 random bits.</summary>
    /// <returns>A uniformly distributed 64-bit value.</returns>
    public ulong NextUInt64()
    {
        ulong result = BitOperations.RotateLeft(_s1 * 5, 7) * 9;
        ulong t = _s1 << 17;
        _s2 ^= _s0;
        _s3 ^= _s1;
        _s1 ^= _s2;
        _s0 ^= _s3;
        _s2 ^= t;
        _s3 = BitOperations.RotateLeft(_s3, 45);
        return result;
    }

    /// <summary>A uniform double in [0, 1).</summary>
    /// <returns>53 random bits scaled to [0, 1).</returns>
    // Stryker disable once Bitwise: equivalent: >> and >>> are the same shift of an unsigned value (the mark also drops the line's << mutant)
    public double NextDouble() => (NextUInt64() >> 11) * TwoToMinus53;

    private const double TwoToMinus53 = 1.0 / (1UL << 53);

    /// <summary>A uniform integer in [0, <paramref name="maxExclusive"/>).</summary>
    /// <param name="maxExclusive">Upper bound, positive.</param>
    /// <returns>An unbiased integer below the bound.</returns>
    public int NextInt(int maxExclusive)
    {
        if (maxExclusive <= 0) throw new ArgumentOutOfRangeException(nameof(maxExclusive), $"must be positive. Received: {maxExclusive}");
        // Lemire's multiply-shift with rejection for an unbiased result.
        // (the low 32 bits of r·bound below 2^32 mod bound are rejected: the remaining 2^32 − (2^32 mod bound)
        // values of r map evenly onto the bound)
        ulong bound = (ulong)maxExclusive;
        uint threshold = (uint)(0x1_0000_0000UL % bound);
        while (true)
        {
            // Stryker disable once Bitwise: equivalent: >> and >>> are the same shift of an unsigned value
            ulong r = NextUInt64() >> 32;
            ulong m = r * bound;
            // Stryker disable once Bitwise: equivalent: >> and >>> are the same shift of an unsigned value
            if ((uint)m >= threshold) return (int)(m >> 32);
        }
    }

    /// <summary>A standard normal sample N(0, 1) (Box–Muller, polar form).</summary>
    /// <returns>A normally distributed double.</returns>
    public double NextNormal()
    {
        if (_hasSpare)
        {
            _hasSpare = false;
            return _spareNormal;
        }
        double u, v, s;
        do
        {
            u = 2 * NextDouble() - 1;
            v = 2 * NextDouble() - 1;
            s = u * u + v * v;
        } while (s >= 1 || s == 0);
        double f = Math.Sqrt(-2 * Math.Log(s) / s);
        _spareNormal = v * f;
        _hasSpare = true;
        return u * f;
    }

    /// <summary>Shuffles <paramref name="values"/> in place (Fisher–Yates).</summary>
    /// <param name="values">The span to permute.</param>
    public void Shuffle(Span<int> values)
    {
        for (int i = values.Length - 1; i > 0; i--)
        {
            int j = NextInt(i + 1);
            (values[i], values[j]) = (values[j], values[i]);
        }
    }

    /// <summary>The complete state, for checkpoints.</summary>
    /// <returns>Six words: four of xoshiro state, the cached normal's bits and its flag.</returns>
    public ulong[] GetState() =>
        [_s0, _s1, _s2, _s3, (ulong)BitConverter.DoubleToInt64Bits(_spareNormal), _hasSpare ? 1UL : 0UL];

    /// <summary>Restores a state returned by <see cref="GetState"/>.</summary>
    /// <param name="state">Six words from <see cref="GetState"/>.</param>
    public void SetState(ReadOnlySpan<ulong> state)
    {
        if (state.Length != 6) throw new ArgumentException($"RandomGenerator state has 6 words; got {state.Length}.", nameof(state));
        if ((state[0] | state[1] | state[2] | state[3]) == 0)
            throw new ArgumentException("RandomGenerator state of all zeros is invalid for xoshiro256**.", nameof(state));
        (_s0, _s1, _s2, _s3) = (state[0], state[1], state[2], state[3]);
        _spareNormal = BitConverter.Int64BitsToDouble((long)state[4]);
        _hasSpare = state[5] != 0;
    }
}
