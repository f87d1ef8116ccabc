using System.Numerics;
using FlexNet.Kernels;
using Xunit;
using static FlexNet.Tests.Kernels.SimdTestSupport;

namespace FlexNet.Tests.Kernels;

/// <summary>
/// Gaps left by a mutation run over Activations, ChannelBias, ElementwiseOps, RowSum and RowParallel: clip with
/// equal bounds, the shape checks with each condition alone and their whole messages, the lane ops exactly at their
/// kinks on every SIMD path (the scalar member included: it runs at width 0 and for spans shorter than one vector),
/// BiasAct without a bias, and the row splitting of <see cref="RowParallel"/> observed through a job that records
/// the ranges it is given. Every expectation is computed here by a plain loop or written out.
/// </summary>
[Trait("Category", "Kernels")]
[Collection(SimdPathsCollection.Name)]
public sealed class KernelMutationGapTests17A
{
    private static T C<T>(double v) where T : unmanaged, IFloatingPointIeee754<T> => T.CreateChecked(v);

    // ------------------------------------------------------------------ clip bounds

    [Fact]
    public void Clip_accepts_equal_bounds_and_pins_every_value_to_them()
    {
        ClipEqual<float>();
        ClipEqual<double>();

        static void ClipEqual<T>() where T : unmanaged, IFloatingPointIeee754<T>
        {
            T b = C<T>(0.5);
            T[] x = [C<T>(-3), C<T>(0.5), C<T>(0.25), C<T>(0.75), C<T>(7), T.NaN, C<T>(0.5)];
            ForEachPath(bits =>
            {
                var y = new T[x.Length];
                Activations.Clip<T>(x, y, b, b);
                for (int i = 0; i < x.Length; i++)
                {
                    T want = T.IsNaN(x[i]) ? T.NaN : b;
                    Assert.True(want.Equals(y[i]), $"{typeof(T).Name} bits={bits} i={i}: {y[i]}");
                }
                T[] gy = [C<T>(1), C<T>(2), C<T>(3), C<T>(4), C<T>(5), C<T>(6), C<T>(7)];
                var gx = new T[x.Length];
                for (int i = 0; i < gx.Length; i++) gx[i] = C<T>(0.125);
                Activations.ClipBackward<T>(x, gy, gx, b, b);
                for (int i = 0; i < x.Length; i++)
                {
                    // gradient only where x sits exactly on the (single) bound
                    T want = x[i] == b ? C<T>(0.125) + gy[i] : C<T>(0.125);
                    Assert.True(want.Equals(gx[i]), $"{typeof(T).Name} bits={bits} i={i}: {gx[i]}");
                }
            });
        }
    }

    [Fact]
    public void Clip_refuses_bounds_one_step_apart_the_wrong_way_with_the_whole_message()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => Activations.Clip<double>(new double[2], new double[2], 2, 1));
        Assert.Equal("Activations.Clip: lower bound 2 must be <= upper bound 1 (and neither NaN). (Parameter 'lo')", e.Message);
        e = Assert.Throws<ArgumentOutOfRangeException>(() => Activations.ClipBackward<float>(new float[2], new float[2], new float[2], 2, 1));
        Assert.Equal("Activations.ClipBackward: lower bound 2 must be <= upper bound 1 (and neither NaN). (Parameter 'lo')", e.Message);
    }

    // ------------------------------------------------------------------ BiasAct shapes

    [Theory]
    [InlineData(0, -1, 0, 0, 0)]  // cols < 0 alone (rows * cols == x.Length == 0)
    [InlineData(-1, 0, 0, 0, 0)]  // rows < 0 alone
    [InlineData(-2, -3, 6, 6, 0)] // both negative, product matches
    [InlineData(2, 3, 5, 5, 0)]   // x length alone
    [InlineData(2, 3, 7, 7, 3)]   // x length one past
    [InlineData(2, 3, 6, 5, 0)]   // y length alone
    [InlineData(2, 3, 6, 6, 2)]   // bias length alone (neither cols nor empty)
    [InlineData(2, 3, 6, 6, 4)]   // bias one past
    public void BiasAct_refuses_each_shape_condition_alone_with_the_whole_message(int rows, int cols, int xLen, int yLen, int biasLen)
    {
        var e = Assert.Throws<ShapeMismatchException>(() =>
            Activations.BiasAct<float>(new float[xLen], new float[biasLen], new float[yLen], rows, cols, FusedActivation.Relu));
        Assert.Equal(
            $"Activations.BiasAct: x has {xLen} elements, y {yLen}, bias {biasLen}; expected x and y [{rows}, {cols}] and bias [{cols}] or empty.",
            e.Message);
    }

    [Theory]
    [InlineData(0, 3, 3)]
    [InlineData(0, 3, 0)]
    [InlineData(2, 0, 0)]
    [InlineData(0, 0, 0)]
    public void BiasAct_accepts_zero_rows_or_zero_cols(int rows, int cols, int biasLen)
    {
        var bias = new double[biasLen];
        for (int i = 0; i < biasLen; i++) bias[i] = i + 1;
        foreach (FusedActivation act in new[] { FusedActivation.Linear, FusedActivation.Relu, FusedActivation.Tanh, FusedActivation.Sigmoid })
            Activations.BiasAct<double>([], bias, [], rows, cols, act);
    }

    public static TheoryData<int, int, int> EmptyBiasCases() => new()
    {
        { 0, 1, 1 }, { 1, 3, 17 }, { 2, 5, 33 }, { 3, 200, 100 }, { 1, 300, 301 }, { 0, 513, 129 }, { 2, 1, 1 },
    };

    /// <summary>An empty bias means no bias: <c>y = act(x)</c>, serial and split over cores.</summary>
    [Theory, MemberData(nameof(EmptyBiasCases))]
    public void BiasAct_with_an_empty_bias_is_the_plain_activation(int actId, int rows, int cols)
    {
        var act = (FusedActivation)actId;
        Run<float>();
        Run<double>();

        void Run<T>() where T : unmanaged, IFloatingPointIeee754<T>
        {
            var rng = new Random(rows * 31 + cols + actId);
            T[] x = To<T>(Uniform(rng, rows * cols, -4, 4));
            var y = new T[x.Length];
            Activations.BiasAct<T>(x, ReadOnlySpan<T>.Empty, y, rows, cols, act);
            for (int i = 0; i < x.Length; i++)
            {
                double z = D(x[i]);
                double want = act switch
                {
                    FusedActivation.Linear => z,
                    FusedActivation.Relu => z > 0 ? z : 0,
                    FusedActivation.Tanh => Math.Tanh(z),
                    _ => 1 / (1 + Math.Exp(-z)),
                };
                double tol = act is FusedActivation.Linear or FusedActivation.Relu ? 0 : 8 * Eps<T>() * Math.Abs(want);
                if (!(Math.Abs(D(y[i]) - want) <= tol)) // context built only on failure
                    Near(want, D(y[i]), tol, $"{act} {typeof(T).Name} [{rows},{cols}] i={i}");
            }
            var inPlace = (T[])x.Clone();
            Activations.BiasAct<T>(inPlace, ReadOnlySpan<T>.Empty, inPlace, rows, cols, act);
            Identical(y, inPlace, $"{act} {typeof(T).Name} in place");
        }
    }

    // ------------------------------------------------------------------ RowSum shapes

    [Theory]
    [InlineData(2, 3, 5, 3)] // x alone
    [InlineData(2, 3, 7, 3)] // x one past
    [InlineData(2, 3, 6, 2)] // dst alone
    [InlineData(2, 3, 6, 4)] // dst one past
    public void RowSum_refuses_each_shape_condition_alone_with_the_whole_message(int rows, int cols, int xLen, int dstLen)
    {
        var e = Assert.Throws<ShapeMismatchException>(() => RowSum.AddColumnSums<double>(new double[xLen], rows, cols, new double[dstLen]));
        Assert.Equal($"RowSum.AddColumnSums: x has {xLen} elements, dst {dstLen}; expected [{rows}, {cols}] and [{cols}].", e.Message);
    }

    // ------------------------------------------------------------------ channel bias shapes

    private static void Forward(int xLen, int biasLen, int n, int c, int l) =>
        ConvKernels.AddChannelBias<double>(new double[xLen], new double[biasLen], n, c, l);

    private static void Backward(int gyLen, int biasLen, int n, int c, int l) =>
        ConvKernels.AddChannelBiasBackward<double>(new double[gyLen], n, c, l, new double[biasLen]);

    [Theory]
    [InlineData(-1, 2, 3)]
    [InlineData(2, -1, 3)]
    [InlineData(2, 3, -1)]
    [InlineData(-1, -1, 3)]
    public void ChannelBias_refuses_each_negative_dimension_alone(int n, int c, int l)
    {
        // spans big enough for every other check, so only the sign check can refuse
        int biasLen = Math.Max(c, 0);
        var e = Assert.Throws<ShapeMismatchException>(() => Forward(64, biasLen, n, c, l));
        Assert.Equal($"AddChannelBias: dimensions [N={n}, C={c}, L={l}] must be non-negative.", e.Message);
        e = Assert.Throws<ShapeMismatchException>(() => Backward(64, biasLen, n, c, l));
        Assert.Equal($"AddChannelBiasBackward: dimensions [N={n}, C={c}, L={l}] must be non-negative.", e.Message);
    }

    [Theory]
    [InlineData(0, 3, 4)]
    [InlineData(2, 0, 4)]
    [InlineData(2, 3, 0)]
    [InlineData(0, 0, 0)]
    public void ChannelBias_accepts_each_zero_dimension(int n, int c, int l)
    {
        var x = new double[] { 5 }; // one spare element: must stay untouched
        var bias = new double[c];
        for (int i = 0; i < c; i++) bias[i] = i + 1;
        ConvKernels.AddChannelBias<double>(x.AsSpan(0, n * c * l), bias, n, c, l);
        Assert.Equal(5, x[0]);
        var gb = new double[c];
        for (int i = 0; i < c; i++) gb[i] = 10 + i;
        ConvKernels.AddChannelBiasBackward<double>(ReadOnlySpan<double>.Empty, n, c, l, gb);
        for (int i = 0; i < c; i++) Assert.Equal(10 + i, gb[i]); // nothing to sum: += 0
    }

    [Fact]
    public void ChannelBias_refuses_a_buffer_one_short_of_the_product_with_the_whole_message()
    {
        // N=2, C=3, L=4 needs 24 (not 2*3/4 nor 2/3*4)
        var e = Assert.Throws<ShapeMismatchException>(() => Forward(23, 3, 2, 3, 4));
        Assert.Equal("AddChannelBias: x has 23 elements, [N=2, C=3, L=4] needs 24.", e.Message);
        e = Assert.Throws<ShapeMismatchException>(() => Backward(23, 3, 2, 3, 4));
        Assert.Equal("AddChannelBiasBackward: gy has 23 elements, [N=2, C=3, L=4] needs 24.", e.Message);
        e = Assert.Throws<ShapeMismatchException>(() => Forward(5, 3, 3, 2, 1));
        Assert.Equal("AddChannelBias: x has 5 elements, [N=3, C=2, L=1] needs 6.", e.Message);
    }

    [Fact]
    public void ChannelBias_refuses_a_bias_one_short_with_the_whole_message()
    {
        var e = Assert.Throws<ShapeMismatchException>(() => Forward(24, 2, 2, 3, 4));
        Assert.Equal("AddChannelBias: bias has 2 elements, expected [C=3].", e.Message);
        e = Assert.Throws<ShapeMismatchException>(() => Backward(24, 2, 2, 3, 4));
        Assert.Equal("AddChannelBiasBackward: bias has 2 elements, expected [C=3].", e.Message);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public void ChannelBias_at_the_exact_sizes_and_one_spare_element_computes_the_plain_loop(int spare)
    {
        const int n = 2, c = 3, l = 4;
        var rng = new Random(spare + 5);
        var x = new double[n * c * l + spare];
        for (int i = 0; i < x.Length; i++) x[i] = rng.Next(-50, 50) / 8.0;
        var bias = new double[c + spare];
        for (int i = 0; i < bias.Length; i++) bias[i] = rng.Next(-50, 50) / 8.0;
        var want = (double[])x.Clone();
        for (int a = 0; a < n; a++)
            for (int k = 0; k < c; k++)
                for (int j = 0; j < l; j++)
                    want[(a * c + k) * l + j] += bias[k];
        ConvKernels.AddChannelBias<double>(x, bias, n, c, l);
        Assert.Equal(want, x);

        var gb = new double[c + spare];
        for (int i = 0; i < gb.Length; i++) gb[i] = i + 0.5;
        var wantGb = (double[])gb.Clone();
        for (int k = 0; k < c; k++)
            for (int a = 0; a < n; a++)
                for (int j = 0; j < l; j++)
                    wantGb[k] += x[(a * c + k) * l + j];
        ConvKernels.AddChannelBiasBackward<double>(x, n, c, l, gb);
        Assert.Equal(wantGb, gb);
    }

    // ------------------------------------------------------------------ lane ops at their kinks

    private const double Slope = 0.125, Alpha = 1.5, Lo = -0.5, Hi = 0.75;

    /// <summary>
    /// Runs a backward kernel on every SIMD path with <paramref name="ties"/> at the first and the last index of a
    /// span of length <paramref name="n"/> (n = 1: the scalar member on every path) and checks
    /// <c>gx = gx0 + contribution(gy, x)</c> element by element.
    /// </summary>
    private static void Ties<T>(string name, int n, double[] ties, double[] others, Func<double, double, double> contribution,
        BwdKernel<T> kernel) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var rng = new Random(name.Length * 97 + n);
        ForEachPath(bits =>
        {
            foreach (double tie in ties)
            {
                var xd = new double[n];
                for (int i = 0; i < n; i++) xd[i] = others[rng.Next(others.Length)];
                xd[0] = tie;
                xd[n - 1] = tie;
                T[] x = To<T>(xd);
                T[] gy = To<T>(Uniform(rng, n, 0.5, 2));
                T[] gx0 = To<T>(Uniform(rng, n, 0.25, 1));
                var gx = (T[])gx0.Clone();
                kernel(x, gy, gx);
                for (int i = 0; i < n; i++)
                {
                    double want = D(gx0[i]) + contribution(D(gy[i]), D(x[i]));
                    double tol = 4 * Eps<T>() * (Math.Abs(want) + 4);
                    if (!(Math.Abs(D(gx[i]) - want) <= tol)) // context built only on failure
                        Near(want, D(gx[i]), tol, $"{name} {typeof(T).Name} bits={bits} n={n} i={i} x={D(x[i]):R}");
                }
            }
        });
    }

    private static readonly double[] ZeroTies = [0.0, -0.0];
    private static readonly double[] AwayFromZero = [-1.5, -0.25, 0.25, 1.5];

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(37)]
    public void Gradients_at_their_kinks_follow_the_documented_choice(int n)
    {
        All<float>(n);
        All<double>(n);

        static void All<T>(int n) where T : unmanaged, IFloatingPointIeee754<T>
        {
            T slope = C<T>(Slope), alpha = C<T>(Alpha), lo = C<T>(Lo), hi = C<T>(Hi);
            // relu'(0) = 0
            Ties<T>("ReluBackward", n, ZeroTies, AwayFromZero, (g, x) => x > 0 ? g : 0, Activations.ReluBackward);
            // leaky relu'(0) = slope
            Ties<T>("LeakyReluBackward", n, ZeroTies, AwayFromZero, (g, x) => x > 0 ? g : Slope * g,
                (s, g, gx) => Activations.LeakyReluBackward(s, g, gx, slope));
            // elu'(0) = alpha * exp(0) = alpha (the left branch)
            Ties<T>("EluBackward", n, ZeroTies, AwayFromZero, (g, x) => x > 0 ? g : g * Alpha * Math.Exp(x),
                (s, g, gx) => Activations.EluBackward(s, g, gx, alpha));
            // softplus'(0) = sigmoid(0) = 1/2
            Ties<T>("SoftplusBackward", n, ZeroTies, AwayFromZero, (g, x) => g / (1 + Math.Exp(-x)), Activations.SoftplusBackward);
            // |x|'(0) = sign(0) = 0, sign(NaN) = 0
            Ties<T>("AbsBackward", n, [0.0, -0.0, double.NaN], AwayFromZero, (g, x) => x > 0 ? g : x < 0 ? -g : 0,
                Activations.AbsBackward);
            // clip: inclusive at both bounds
            Ties<T>("ClipBackward", n, [Lo, Hi], [-2, Lo - 0.25, 0, Hi + 0.25, 2], (g, x) => x >= Lo && x <= Hi ? g : 0,
                (s, g, gx) => Activations.ClipBackward(s, g, gx, lo, hi));
        }
    }

    /// <summary>Forward values at ±0 bit for bit (the sign of the zero included): leaky relu is
    /// <c>x &gt; 0 ? x : slope * x</c>, elu is <c>x &gt; 0 ? x : alpha * (exp(x) - 1)</c> with exp(±0) = 1.</summary>
    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(37)]
    public void Forward_at_signed_zeros_follows_the_formula_bit_for_bit(int n)
    {
        All<float>(n);
        All<double>(n);

        static void All<T>(int n) where T : unmanaged, IFloatingPointIeee754<T>
        {
            foreach (double s in new[] { Slope, -0.5 })
            {
                T slope = C<T>(s);
                Zeros<T>($"LeakyRelu slope={s}", n, x => x > T.Zero ? x : slope * x, (x, y) => Activations.LeakyRelu(x, y, slope));
            }
            foreach (double a in new[] { Alpha, -Alpha })
            {
                T alpha = C<T>(a);
                Zeros<T>($"Elu alpha={a}", n, x => x > T.Zero ? x : alpha * (T.Exp(x) - T.One), (x, y) => Activations.Elu(x, y, alpha));
            }
        }

        static void Zeros<T>(string name, int n, Func<T, T> reference, FwdKernel<T> kernel) where T : unmanaged, IFloatingPointIeee754<T>
        {
            var rng = new Random(n);
            ForEachPath(bits =>
            {
                foreach (T zero in new[] { T.Zero, T.NegativeZero })
                {
                    // zeros at both ends, 1.5 and 0.75 (exact for both branches on the positive side) in between
                    var x = new T[n];
                    for (int i = 0; i < n; i++) x[i] = rng.Next(3) switch { 0 => zero, 1 => C<T>(1.5), _ => C<T>(0.75) };
                    x[0] = zero;
                    x[n - 1] = zero;
                    var y = new T[n];
                    kernel(x, y);
                    var want = new T[n];
                    for (int i = 0; i < n; i++) want[i] = reference(x[i]);
                    Identical(want, y, $"{name} {typeof(T).Name} bits={bits} n={n} zero={(T.IsNegative(zero) ? "-0" : "+0")}");
                }
            });
        }
    }

    // ------------------------------------------------------------------ RowParallel

    /// <summary>Records every range it is given (from any thread).</summary>
    private readonly struct RecordingJob(List<(int Start, int End, int Thread)> calls) : IRowJob
    {
        public void Run(int rowStart, int rowEnd)
        {
            lock (calls) calls.Add((rowStart, rowEnd, Environment.CurrentManagedThreadId));
        }
    }

    /// <summary>Counts visits per row without allocating.</summary>
    private readonly struct CountingJob(int[] hits) : IRowJob
    {
        public void Run(int rowStart, int rowEnd)
        {
            for (int r = rowStart; r < rowEnd; r++) Interlocked.Increment(ref hits[r]);
        }
    }

    private static List<(int Start, int End, int Thread)> Record(int rows, long workPerRow)
    {
        var calls = new List<(int, int, int)>();
        RowParallel.For(new RecordingJob(calls), rows, workPerRow);
        return calls;
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(7)]
    [InlineData(64)]
    [InlineData(1000)]
    public void RowParallel_visits_every_row_exactly_once_through_nonempty_ranges(int rows)
    {
        foreach (long work in new long[] { 0, 1, 33, 512, 1000, 1024, 1L << 15, (1L << 15) + 1, 1L << 16, long.MaxValue })
        {
            var calls = Record(rows, work);
            var seen = new int[rows];
            foreach (var (start, end, _) in calls)
            {
                Assert.True(0 <= start && start < end && end <= rows, $"rows={rows} work={work}: range [{start}, {end})");
                for (int r = start; r < end; r++) seen[r]++;
            }
            for (int r = 0; r < rows; r++) Assert.True(seen[r] == 1, $"rows={rows} work={work}: row {r} visited {seen[r]} times");
            if (rows == 0) Assert.Empty(calls);
        }
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(int.MinValue)]
    public void RowParallel_runs_nothing_for_negative_rows(int rows) => Assert.Empty(Record(rows, 10));

    /// <summary>
    /// Chunks of <c>ChunkWork / workPerRow</c> rows (at least 1, at most all), 32768 / workPerRow here written out;
    /// a single chunk runs inline on the calling thread as one call; several chunks run as one call each when
    /// there is more than one core (on a single core the whole job is one inline call).
    /// </summary>
    [Theory]
    [InlineData(1000, 1000, 32)]   // 32 chunks, the last [992, 1000)
    [InlineData(1000, 33, 992)]    // 2 chunks: [0, 992), [992, 1000)
    [InlineData(64, 1024, 32)]     // exactly 2 chunks
    [InlineData(96, 1024, 32)]     // exactly 3 chunks
    [InlineData(7, 1L << 16, 1)]   // more work per row than a chunk: one row each
    [InlineData(2, 1L << 15, 1)]
    [InlineData(1000, 1, 1000)]    // all in one chunk
    [InlineData(1000, 0, 1000)]    // no work given: as 1 per row
    [InlineData(1000, -7, 1000)]
    [InlineData(32, 1024, 32)]     // exactly one chunk's work
    [InlineData(1, 1L << 20, 1)]
    public void RowParallel_splits_into_chunks_sized_by_the_work_per_row(int rows, long workPerRow, int chunkRows)
    {
        Assert.Equal(1L << 15, RowParallel.ChunkWork);
        var want = new List<(int, int)>();
        if (chunkRows >= rows || Environment.ProcessorCount < 2) want.Add((0, rows));
        else
            for (int s = 0; s < rows; s += chunkRows) want.Add((s, Math.Min(rows, s + chunkRows)));
        int caller = Environment.CurrentManagedThreadId;
        for (int rep = 0; rep < 2; rep++)
        {
            var calls = Record(rows, workPerRow);
            Assert.Equal(want, calls.Select(t => (t.Start, t.End)).OrderBy(t => t.Item1));
            if (want.Count == 1) Assert.Equal(caller, Assert.Single(calls).Thread);
        }
    }

    /// <summary>The chunk loop object is reused: a parallel call allocates nothing on the calling thread once warm.</summary>
    [Fact]
    public void RowParallel_reuses_its_chunk_body_and_allocates_nothing_once_warm()
    {
        const int rows = 256;
        var hits = new int[rows];
        var job = new CountingJob(hits);
        RowParallel.For(job, rows, 1024); // 8 chunks: the parallel path (on more than one core)
        RowParallel.For(job, rows, 1024);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 8; i++) RowParallel.For(job, rows, 1024);
        long bytes = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(0, bytes);
        Assert.All(hits, h => Assert.Equal(10, h));
    }
}
