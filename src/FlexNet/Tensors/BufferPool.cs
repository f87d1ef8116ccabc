using System.Numerics;

namespace FlexNet.Tensors;

/// <summary>
/// Pool of tensor buffers in power-of-two buckets. Unlike <c>ArrayPool.Shared</c> it keeps many arrays of one
/// size (a training step allocates hundreds of same-sized intermediates), up to a byte budget, so a training
/// loop that runs inside a <see cref="TensorScope"/> per step does not churn the garbage collector.
/// Rented buffers are not cleared.
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
    internal static long Outstanding => _outstanding;

    [ThreadStatic] private static long _outstanding;

    private static long _liveBytes, _peakLiveBytes;

    /// <summary>Bytes of pooled buffers rented and not yet returned or forgotten, all threads (whole arrays, so
    /// a bucket's rounding up counts: what the process really holds for tensors of open scopes).</summary>
    internal static long LiveBytes => Interlocked.Read(ref _liveBytes);

    /// <summary>Highest <see cref="LiveBytes"/> since the last <see cref="ResetPeak"/> (memory measurements).</summary>
    internal static long PeakLiveBytes => Interlocked.Read(ref _peakLiveBytes);

    /// <summary>Starts a new peak measurement from the current <see cref="LiveBytes"/>.</summary>
    internal static void ResetPeak() => Interlocked.Exchange(ref _peakLiveBytes, Interlocked.Read(ref _liveBytes));

    private static void AddLive(long bytes)
    {
        long now = Interlocked.Add(ref _liveBytes, bytes);
        long peak;
        while (now > (peak = Interlocked.Read(ref _peakLiveBytes)) && Interlocked.CompareExchange(ref _peakLiveBytes, now, peak) != peak) { }
    }

    private static long BytesOf(Array a) => (long)a.Length * (a is double[] ? 8 : 4);

    private static Stack<Array>[] NewBuckets()
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
        _outstanding++;
        int bucket = BucketOf(length);
        Array r;
        if (bucket >= Buckets) r = NewArray(dtype, length);
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
        AddLive(BytesOf(r));
        return r;
    }

    /// <summary>A rented buffer left the pool's care for good (kept past every scope).</summary>
    internal static void Forget(Array buffer)
    {
        _outstanding--;
        AddLive(-BytesOf(buffer));
    }

    internal static void Return(Array buffer)
    {
        _outstanding--;
        AddLive(-BytesOf(buffer));
        DType dtype = buffer is float[] ? DType.Float32 : buffer is double[] ? DType.Float64 : DType.Int32;
        int len = buffer.Length;
        if (!BitOperations.IsPow2(len) || len < (1 << MinBucketBits)) return;
        long bytes = (long)len * dtype.SizeInBytes();
        if (Interlocked.Read(ref _pooledBytes) + bytes > MaxPooledBytes) return;
        var stack = For(dtype)[BitOperations.Log2((uint)len)];
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
