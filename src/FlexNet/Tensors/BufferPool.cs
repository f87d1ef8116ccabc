using System.Numerics;

namespace FlexNet.Tensors;

/// <summary>
/// Pool of tensor buffers in power-of-two buckets. Unlike <c>ArrayPool.Shared</c> it keeps many arrays of one
/// size (a training step allocates hundreds of same-sized intermediates), up to a byte budget, so a training
/// loop that runs inside a <see cref="TensorScope"/> per step does not churn the garbage collector.
/// Rented buffers are not cleared. Each thread first uses a small cache of its own for buffers up to 16K
/// elements (no lock, no atomic; at most 8 per size), then the shared buckets.
/// </summary>
internal static class BufferPool
{
    private const int MinBucketBits = 4;
    private const int Buckets = 31;
    private static readonly Stack<Array>[] FloatBuckets = NewBuckets();
    private static readonly Stack<Array>[] DoubleBuckets = NewBuckets();
    private static readonly Stack<Array>[] IntBuckets = NewBuckets();
    private static long _pooledBytes;

    /// <summary>Upper bound on the bytes held idle by the pool.</summary>
    internal static long MaxPooledBytes { get; set; } = 4L << 30;

    /// <summary>Buffers rented and not yet returned by the current thread (for leak tests). Per thread, because
    /// scopes are per thread and tests run in parallel; a scope rents and returns on its own thread.</summary>
    internal static long Outstanding => t_local?.Outstanding ?? 0;

    /// <summary>Largest bucket (elements, as a power of two) a thread keeps in its own cache.</summary>
    private const int LocalMaxBits = 14;

    /// <summary>Buffers per bucket a thread keeps in its own cache (so at most ~1 MB of float, ~1 MB of int and
    /// ~2 MB of double buffers per thread over all the cached buckets: 8 × 2^15 elements each).</summary>
    private const int LocalDepth = 8;

    /// <summary>A thread's own state: its outstanding count and a small lock-free cache of small buffers, which a
    /// training step rents and returns by the hundred (the shared buckets cost a lock and an atomic each time).
    /// One thread-static reference, so a rent or return looks up thread-local storage once.</summary>
    private sealed class Local
    {
        public long Outstanding, Live, Peak;
        public readonly Array?[][] Cache = NewLocalCache();
        public readonly int[][] Count = [new int[LocalMaxBits + 1], new int[LocalMaxBits + 1], new int[LocalMaxBits + 1]];
    }

    private static Array?[][] NewLocalCache()
    {
        var c = new Array?[3][];
        for (int d = 0; d < 3; d++) c[d] = new Array?[(LocalMaxBits + 1) * LocalDepth];
        return c;
    }

    [ThreadStatic] private static Local? t_local;

    private static Local ThisThread => t_local ??= new Local();

    private static int TypeIndex(DType dtype) => dtype switch { DType.Float32 => 0, DType.Float64 => 1, _ => 2 };

    /// <summary>Bytes of pooled buffers this thread rented and has not returned or forgotten (whole arrays, so a
    /// bucket's rounding up counts: what the thread's open scopes really hold for tensors). Per thread, like
    /// <see cref="Outstanding"/>: a scope rents and returns on its own thread, tests measure in parallel, and the
    /// count then costs no atomic operation (kernels on the worker threads never rent).</summary>
    internal static long LiveBytes => t_local?.Live ?? 0;

    /// <summary>Highest <see cref="LiveBytes"/> of this thread since its last <see cref="ResetPeak"/> (memory
    /// measurements).</summary>
    internal static long PeakLiveBytes => t_local?.Peak ?? 0;

    /// <summary>Starts a new peak measurement on this thread from its current <see cref="LiveBytes"/>.</summary>
    internal static void ResetPeak()
    {
        var local = ThisThread;
        local.Peak = local.Live;
    }

    private static void AddLive(Local local, long bytes)
    {
        long now = local.Live += bytes;
        if (now > local.Peak) local.Peak = now;
    }

    private static long BytesOf(Array a) => (long)a.Length * (a is double[] ? 8 : 4);

    internal static Stack<Array>[] NewBuckets()
    {
        var b = new Stack<Array>[Buckets];
        for (int i = 0; i < b.Length; i++) b[i] = new Stack<Array>();
        return b;
    }

    private static int BucketOf(int length) =>
        Math.Max(MinBucketBits, 32 - BitOperations.LeadingZeroCount((uint)Math.Max(length - 1, 1)));

    private static Stack<Array>[] For(DType dtype) => dtype switch
    {
        DType.Float32 => FloatBuckets,
        DType.Float64 => DoubleBuckets,
        _ => IntBuckets,
    };

    internal static Array Rent(DType dtype, int length)
    {
        var local = ThisThread;
        local.Outstanding++;
        int bucket = BucketOf(length);
        Array r;
        int t = TypeIndex(dtype);
        int have = bucket <= LocalMaxBits ? local.Count[t][bucket] : 0;
        if (have > 0)
        {
            local.Count[t][bucket] = have - 1;
            ref var slot = ref local.Cache[t][bucket * LocalDepth + have - 1];
            r = slot!;
            slot = null;
        }
        else if (bucket >= Buckets) r = NewArray(dtype, length);
        else
        {
            var stack = For(dtype)[bucket];
            Array? a = null;
            lock (stack)
            {
                if (stack.Count > 0) a = stack.Pop();
            }
            if (a is not null) Interlocked.Add(ref _pooledBytes, -(long)a.Length * dtype.SizeInBytes());
            r = a ?? NewArray(dtype, 1 << bucket);
        }
        AddLive(local, BytesOf(r));
        return r;
    }

    /// <summary>A rented buffer left the pool's care for good (kept past every scope).</summary>
    internal static void Forget(Array buffer)
    {
        var local = ThisThread;
        local.Outstanding--;
        AddLive(local, -BytesOf(buffer));
    }

    internal static void Return(Array buffer)
    {
        var local = ThisThread;
        local.Outstanding--;
        AddLive(local, -BytesOf(buffer));
        DType dtype = buffer is float[] ? DType.Float32 : buffer is double[] ? DType.Float64 : DType.Int32;
        int len = buffer.Length;
        if (!BitOperations.IsPow2(len) || len < (1 << MinBucketBits)) return;
        int bucket = BitOperations.Log2((uint)len);
        if (bucket <= LocalMaxBits)
        {
            int t = TypeIndex(dtype);
            int have = local.Count[t][bucket];
            if (have < LocalDepth)
            {
                local.Cache[t][bucket * LocalDepth + have] = buffer;
                local.Count[t][bucket] = have + 1;
                return;
            }
        }
        long bytes = (long)len * dtype.SizeInBytes();
        // Stryker disable once Statement: memory only: past the cap a buffer is dropped instead of kept; every rent works either way
        if (Volatile.Read(ref _pooledBytes) + bytes > MaxPooledBytes) return;
        var stack = For(dtype)[bucket];
        lock (stack) stack.Push(buffer);
        Interlocked.Add(ref _pooledBytes, bytes);
    }

    private static Array NewArray(DType dtype, int length) => dtype switch
    {
        DType.Float32 => GC.AllocateUninitializedArray<float>(length),
        DType.Float64 => GC.AllocateUninitializedArray<double>(length),
        _ => GC.AllocateUninitializedArray<int>(length),
    };
}
