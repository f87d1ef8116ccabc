using System.Numerics;

namespace FlexNet.Kernels;

internal static partial class Subnormals
{
    /// <summary>Buffers of at least this many elements are flushed in element ranges on the workers.</summary>
    internal const int ParallelLength = 1 << 17;

    /// <summary><see cref="FlushToZero{T}"/>, in fixed element ranges on the workers when the buffer is large (the same
    /// values and count: every element is handled alone).</summary>
    /// <returns>How many values were flushed.</returns>
    public static unsafe long FlushToZeroAny<T>(Span<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (x.Length < ParallelLength || Environment.ProcessorCount < 2) return FlushToZero(x);
        long flushed = 0;
        fixed (T* p = x)
            RowParallel.For(new FlushJob<T>(p, &flushed), x.Length, 1);
        return flushed;
    }

    private readonly unsafe struct FlushJob<T>(T* x, long* flushed) : IRowJob where T : unmanaged, IFloatingPointIeee754<T>
    {
        public void Run(int start, int end)
        {
            int n = FlushToZero(new Span<T>(x + start, end - start));
            if (n != 0) Interlocked.Add(ref *flushed, n);
        }
    }
}
