using System.Numerics;
using System.Runtime.Intrinsics;
using FlexNet.Kernels;
using Xunit;
using static FlexNet.Tests.Kernels.SimdTestSupport;

namespace FlexNet.Tests.Kernels;

/// <summary>
/// Part 2: tanh's polynomial near its 0.5 switch at every width, the softmax shape checks with their whole messages,
/// flushing that stays inside its span, transpose and column sums that write nothing past their destination, and
/// the worker pool's single-item and second-thread behaviour. Expectations are plain loops, Math in double, or
/// written out.
/// </summary>
public sealed partial class KernelMutationGapTests17C
{
    // ------------------------------------------------------------------ SimdMath.Series: tanh near 0.5

    private static float FloatUlp(double r)
    {
        float f = Math.Abs((float)r);
        return MathF.BitIncrement(f) - f;
    }

    private static float TanhAt(int width, float x) => width switch
    {
        0 => SimdMath.Tanh(x),
        128 => SimdMath.Tanh(Vector128.Create(x)).GetElement(1),
        256 => SimdMath.Tanh(Vector256.Create(x)).GetElement(5),
        _ => SimdMath.Tanh(Vector512.Create(x)).GetElement(11),
    };

    /// <summary>
    /// Float tanh on |x| in [0.4, 0.5), the top of the polynomial's range where its highest term is largest, within
    /// one ulp of Math.Tanh at every width (the polynomial's truncation error is below a quarter ulp).
    /// </summary>
    [Fact]
    public void Float_tanh_is_within_one_ulp_up_to_the_polynomial_switch_at_every_width()
    {
        foreach (int width in new[] { 0, 128, 256, 512 })
        {
            double worst = 0;
            float worstX = 0;
            for (int k = 0; k < 1 << 12; k++)
            {
                float a = 0.4f + k * (0.1f / (1 << 12));
                foreach (float x in new[] { a, -a })
                {
                    double want = Math.Tanh(x);
                    double err = Math.Abs(TanhAt(width, x) - want) / FloatUlp(want);
                    if (err > worst) { worst = err; worstX = x; }
                }
            }
            Assert.True(worst <= 1.0, $"width {width}: {worst:F3} ulp at x={worstX:R}");
        }
    }

    /// <summary>At exactly ±0.5 (the switch to the exp-based form): within 1.5 ulp (the vector exp form is the
    /// least accurate there, 1.27 ulp measured) for float, 2 ulp for double.</summary>
    [Fact]
    public void Tanh_and_expm1_at_exactly_one_half_are_accurate_at_every_width()
    {
        foreach (float x in new[] { 0.5f, -0.5f })
        {
            foreach (int width in new[] { 0, 128, 256, 512 })
                Near(Math.Tanh(x), TanhAt(width, x), 1.5 * FloatUlp(Math.Tanh(x)), $"tanhf({x}) width {width}");
            Near(Math.Exp(x) - 1, SimdMath.ExpM1(x), 1.5 * FloatUlp(Math.Exp(x) - 1), $"expm1f({x})");
        }
        foreach (double x in new[] { 0.5, -0.5 })
        {
            Near(Math.Tanh(x), SimdMath.Tanh(x), 2 * DoubleEps * Math.Abs(Math.Tanh(x)), $"tanh({x})");
            Near(Math.Exp(x) - 1, SimdMath.ExpM1(x), 2 * DoubleEps * Math.Abs(Math.Exp(x) - 1), $"expm1({x})");
        }
    }

    // ------------------------------------------------------------------ SoftmaxKernels shapes

    private static void ThrowsShape(Action a, string message)
    {
        var e = Assert.Throws<ShapeMismatchException>(a);
        Assert.Equal(message, e.Message);
    }

    [Fact]
    public void Softmax_refuses_each_second_operand_length_with_its_name()
    {
        const string S = "SoftmaxKernels.";
        ThrowsShape(() => SoftmaxKernels.Forward<float>(new float[6], new float[5], 2, 3), S + "Forward: input has 6 elements and y 5; both must be [2, 3].");
        ThrowsShape(() => SoftmaxKernels.LogForward<float>(new float[6], new float[7], 2, 3), S + "LogForward: input has 6 elements and y 7; both must be [2, 3].");
        ThrowsShape(() => SoftmaxKernels.Backward<double>(new double[6], new double[5], new double[6], 2, 3), S + "Backward: input has 6 elements and gy 5; both must be [2, 3].");
        ThrowsShape(() => SoftmaxKernels.Backward<double>(new double[6], new double[6], new double[5], 2, 3), S + "Backward: input has 6 elements and gx 5; both must be [2, 3].");
        ThrowsShape(() => SoftmaxKernels.LogBackward<float>(new float[6], new float[7], new float[6], 3, 2), S + "LogBackward: input has 6 elements and gy 7; both must be [3, 2].");
        ThrowsShape(() => SoftmaxKernels.LogBackward<float>(new float[6], new float[6], new float[7], 3, 2), S + "LogBackward: input has 6 elements and gx 7; both must be [3, 2].");
        ThrowsShape(() => SoftmaxKernels.CrossEntropy<float>(new float[6], [0, 1], 2, 3, new float[2], new float[5], 1f),
            S + "CrossEntropy: input has 6 elements and grad 5; both must be [2, 3].");
        ThrowsShape(() => SoftmaxKernels.CrossEntropy<float>(new float[6], [0, 1], 2, 3, new float[2], new float[7], 1f),
            S + "CrossEntropy: input has 6 elements and grad 7; both must be [2, 3].");
        ThrowsShape(() => SoftmaxKernels.CrossEntropy<float>(new float[6], [0, 1], 2, 3, new float[1], Span<float>.Empty, 1f),
            S + "CrossEntropy: labels has 2 elements and loss 1; both must be [2].");
        ThrowsShape(() => SoftmaxKernels.CrossEntropyBackward<double>(new double[6], [0, 1], 2, 3, new double[2], new double[5]),
            S + "CrossEntropyBackward: input has 6 elements and gx 5; both must be [2, 3].");
        ThrowsShape(() => SoftmaxKernels.CrossEntropyBackward<double>(new double[6], [0, 1], 2, 3, new double[3], new double[6]),
            S + "CrossEntropyBackward: labels has 2 elements and gLoss 3; both must be [2].");
    }

    [Fact]
    public void Softmax_refuses_each_negative_dimension_alone_and_rows_of_width_zero()
    {
        ThrowsShape(() => SoftmaxKernels.Forward<float>([], [], -1, 0), "SoftmaxKernels.Forward: input has 0 elements and y 0; both must be [-1, 0].");
        ThrowsShape(() => SoftmaxKernels.Forward<float>([], [], 0, -1), "SoftmaxKernels.Forward: input has 0 elements and y 0; both must be [0, -1].");
        ThrowsShape(() => SoftmaxKernels.Forward<float>([], [], 2, 0), "SoftmaxKernels.Forward: rows of width 0 ([2, 0]) have no softmax.");
        ThrowsShape(() => SoftmaxKernels.LogBackward<double>([], [], [], 1, 0), "SoftmaxKernels.LogBackward: rows of width 0 ([1, 0]) have no softmax.");
        // zero rows (of any width, 0 included) are an empty, valid batch
        SoftmaxKernels.Forward<float>([], [], 0, 3);
        SoftmaxKernels.Forward<float>([], [], 0, 0);
        SoftmaxKernels.LogForward<double>([], [], 0, 0);
        SoftmaxKernels.CrossEntropy<float>([], [], 0, 0, [], [], 1f);
    }

    // ------------------------------------------------------------------ Subnormals

    [Fact]
    public void Flush_changes_only_the_subnormals_inside_the_span_on_every_length()
    {
        Assert.Equal(BitConverter.Int64BitsToDouble(0x0010_0000_0000_0000), Subnormals.MinNormal<double>());
        Assert.Equal(BitConverter.Int32BitsToSingle(0x0080_0000), Subnormals.MinNormal<float>());
        Run<float>();
        Run<double>();

        static void Run<T>() where T : unmanaged, IFloatingPointIeee754<T>
        {
            T min = Subnormals.MinNormal<T>();
            T[] pattern = [T.Epsilon, -min / C<T>(2), min, T.One, -T.Epsilon, T.NegativeZero, -min, min - T.Epsilon, T.Zero, T.NaN];
            for (int n = 0; n <= 2 * Vector512<T>.Count + 1; n++)
            {
                var buf = new T[n + 1];
                for (int i = 0; i < n; i++) buf[i] = pattern[(i * 3 + n) % pattern.Length];
                buf[n] = T.Epsilon; // a subnormal just past the end must stay
                var want = (T[])buf.Clone();
                int count = 0;
                for (int i = 0; i < n; i++)
                    if (T.IsSubnormal(want[i])) { want[i] = T.IsNegative(want[i]) ? T.NegativeZero : T.Zero; count++; }
                Assert.Equal(count, Subnormals.FlushToZero(buf.AsSpan(0, n)));
                Identical(want, buf, $"{typeof(T).Name} n={n}");
            }
        }
    }

    // ------------------------------------------------------------------ Transpose

    [Fact]
    public void Transpose_refuses_each_negative_dimension_alone_and_accepts_an_empty_side()
    {
        ThrowsShape(() => Transpose.Run<float>([], -1, 0, []), "Transpose: source has 0 elements, destination 0; expected [-1, 0].");
        ThrowsShape(() => Transpose.Run<float>([], 0, -1, []), "Transpose: source has 0 elements, destination 0; expected [0, -1].");
        ThrowsShape(() => Transpose.Run<double>(new double[6], 2, 3, new double[5]), "Transpose: source has 6 elements, destination 5; expected [2, 3].");
        Transpose.Run<float>([], 0, 3, []);
        Transpose.Run<float>([], 3, 0, []);
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(3, 5)]
    [InlineData(16, 16)]
    [InlineData(17, 33)]
    [InlineData(32, 7)]
    public void Transpose_writes_nothing_past_the_destination(int rows, int cols)
    {
        const int Guard = 64;
        var src = new int[rows * cols + Guard];
        for (int i = 0; i < src.Length; i++) src[i] = i + 1;
        var dst = new int[rows * cols + Guard];
        Array.Fill(dst, -7);
        Transpose.Run<int>(src.AsSpan(0, rows * cols), rows, cols, dst.AsSpan(0, rows * cols));
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++)
                Assert.Equal(src[i * cols + j], dst[j * rows + i]);
        for (int k = rows * cols; k < dst.Length; k++) Assert.Equal(-7, dst[k]);
    }

    // ------------------------------------------------------------------ VectorOps.SumRows

    [Fact]
    public void SumRows_refuses_negative_rows_alone_and_an_overlapping_acc_with_the_whole_messages()
    {
        ThrowsShape(() => VectorOps.SumRows<float>([], -1, 0, []), "VectorOps.SumRows: x has 0 elements and acc 0; expected x [-1, 0] and acc [0].");
        var buf = new float[8];
        var e = Assert.Throws<ArgumentException>(() => VectorOps.SumRows<float>(buf.AsSpan(0, 6), 2, 3, buf.AsSpan(4, 3)));
        Assert.Equal("VectorOps.SumRows: acc must not overlap x.", e.Message);
    }

    /// <summary>No rows: acc is not touched at all, not even a negative zero turned into +0 by adding an empty sum.</summary>
    [Fact]
    public void SumRows_over_zero_rows_leaves_acc_bit_for_bit()
    {
        ForEachPath(bits =>
        {
            foreach (int cols in new[] { 1, 3, 5, 8, 17, 40 })
            {
                var acc = new double[cols];
                Array.Fill(acc, -0.0);
                VectorOps.SumRows<double>([], 0, cols, acc);
                foreach (double v in acc) Assert.True(double.IsNegative(v), $"bits={bits} cols={cols}: {v}");
            }
        });
    }

    [Fact]
    public void SumRows_writes_nothing_past_acc_and_reads_only_x_on_every_path()
    {
        ForEachPath(bits =>
        {
            var rng = new Random(bits + 17);
            foreach (int rows in new[] { 1, 3 })
                for (int cols = 1; cols <= 40; cols++)
                {
                    const int Guard = 64;
                    var x = new float[rows * cols + Guard];
                    for (int i = 0; i < x.Length; i++) x[i] = i < rows * cols ? (float)(rng.NextDouble() * 4 - 2) : 1000f;
                    var acc = new float[cols + Guard];
                    for (int j = 0; j < acc.Length; j++) acc[j] = j < cols ? 0.25f * j : -5f;
                    var want = (float[])acc.Clone();
                    for (int j = 0; j < cols; j++)
                    {
                        float s = 0;
                        for (int i = 0; i < rows; i++) s += x[i * cols + j];
                        want[j] += s;
                    }
                    VectorOps.SumRows<float>(x.AsSpan(0, rows * cols), rows, cols, acc.AsSpan(0, cols));
                    Identical(want, acc, $"bits={bits} rows={rows} cols={cols}");
                }
        });
    }

    // ------------------------------------------------------------------ WorkerPool

    private sealed class Recorder : IParallelBody
    {
        public int Runs;
        public int Thread = -1;
        public bool Inside;
        public void Run(int index)
        {
            Runs++;
            Thread = Environment.CurrentManagedThreadId;
            Inside = WorkerPool.InsideRegion;
        }
    }

    /// <summary>A single item opens no region: it runs once, on the caller, outside any region (so a kernel it calls
    /// may still use the workers).</summary>
    [Fact]
    public void A_single_item_runs_once_on_the_caller_outside_any_region()
    {
        var r = new Recorder();
        WorkerPool.For(1, r);
        Assert.Equal(1, r.Runs);
        Assert.Equal(Environment.CurrentManagedThreadId, r.Thread);
        Assert.False(r.Inside);
        Assert.False(WorkerPool.InsideRegion);
    }

    private sealed class Noop : IParallelBody
    {
        public void Run(int index) { }
    }

    /// <summary>Item 0 waits (bounded) until item 1 has started: only possible when two threads share the region.</summary>
    private sealed class Rendezvous : IParallelBody
    {
        public readonly ManualResetEventSlim SecondStarted = new(false);
        public volatile bool Met;
        public void Run(int index)
        {
            if (index == 1) SecondStarted.Set();
            else Met = SecondStarted.Wait(TimeSpan.FromSeconds(5));
        }
    }

    private static void OnNewThread(Action a)
    {
        Exception? error = null;
        var t = new Thread(() => { try { a(); } catch (Exception e) { error = e; } }) { IsBackground = true };
        t.Start();
        Assert.True(t.Join(TimeSpan.FromSeconds(20)), "the region did not finish within 20 s");
        if (error is not null) throw error;
    }

    /// <summary>
    /// Regions called from one thread after another (each thread ending afterwards) still share their items with a
    /// worker: the first caller released the pool, and the workers went back to waiting for the next region.
    /// </summary>
    [Fact]
    public void Regions_from_successive_threads_are_still_shared_with_the_workers()
    {
        Assert.SkipWhen(Environment.ProcessorCount < 2, "needs at least two cores (one worker)");
        OnNewThread(() => WorkerPool.For(2, new Noop()));
        OnNewThread(() => WorkerPool.For(2, new Noop()));
        OnNewThread(() => WorkerPool.For(3, new Noop()));
        var r = new Rendezvous();
        OnNewThread(() => WorkerPool.For(2, r));
        Assert.True(r.Met, "item 1 never ran while item 0 was running: the region was not shared");
    }
}
