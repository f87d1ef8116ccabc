namespace FlexNet.Kernels;

/// <summary>A unit of row-parallel work: processes rows [rowStart, rowEnd). Implemented by small structs that
/// hold pinned pointers (spans cannot be captured by the parallel loop's delegate).</summary>
internal interface IRowJob
{
    void Run(int rowStart, int rowEnd);
}

/// <summary>
/// Splits row-wise kernels over cores. Chunks have a fixed size derived from the work per row only (never from
/// the core count), and each row is always computed by the same serial code, so results are identical for any
/// number of cores. Below <see cref="ChunkWork"/> units of work the job runs inline on the calling thread.
/// </summary>
internal static class RowParallel
{
    /// <summary>Work units (≈ elements × cost factor) per chunk; smaller jobs run serially.</summary>
    internal const long ChunkWork = 1 << 15;

    /// <summary>Runs <paramref name="job"/> over rows [0, rows) with ~<paramref name="workPerRow"/> units per row.</summary>
    public static void For<TJob>(TJob job, int rows, long workPerRow) where TJob : struct, IRowJob
    {
        if (rows <= 0) return;
        int rowsPerChunk = (int)Math.Clamp(ChunkWork / Math.Max(1, workPerRow), 1, rows);
        int chunks = (int)(((long)rows + rowsPerChunk - 1) / rowsPerChunk);
        if (chunks < 2 || Environment.ProcessorCount < 2)
        {
            job.Run(0, rows);
            return;
        }
        var body = RowBody<TJob>.Rent();
        body.Job = job;
        body.RowsPerChunk = rowsPerChunk;
        body.Rows = rows;
        try { WorkerPool.For(chunks, body); }
        finally { RowBody<TJob>.Return(body); }
    }

    /// <summary>The chunk loop of one job type as a reusable <see cref="IParallelBody"/> (one instance per thread
    /// and job type, taken while in use so a nested call of the same type gets its own).</summary>
    private sealed class RowBody<TJob> : IParallelBody where TJob : struct, IRowJob
    {
        [ThreadStatic] private static RowBody<TJob>? t_spare;
        public TJob Job;
        public int RowsPerChunk, Rows;

        public static RowBody<TJob> Rent()
        {
            var b = t_spare ?? new RowBody<TJob>();
            t_spare = null;
            return b;
        }

        public static void Return(RowBody<TJob> b)
        {
            b.Job = default;
            t_spare = b;
        }

        public void Run(int c)
        {
            int start = c * RowsPerChunk;
            Job.Run(start, Math.Min(Rows, start + RowsPerChunk));
        }
    }
}
