using FlexNet.Distributed;

namespace FlexNet.Distributed.Host;

/// <summary>Checks of the MPI binding itself: every rank fills buffers with values that depend on its rank, calls
/// the collective, and compares the result with what the formula says all ranks together must give (computed here
/// by loops over the ranks, not by MPI).</summary>
internal static class BindingChecks
{
    public static int Run(ICommunicator c, Report report)
    {
        int r = c.Rank, size = c.Size;
        // Values vary with rank and index, include negatives, and are exact in every type (sums stay < 2^24).
        static double Value(int rank, int i) => ((rank + 1) * 37 + i * 11) % 97 - 48;
        const int n = 1000;
        foreach (var op in new[] { ReduceOp.Sum, ReduceOp.Min, ReduceOp.Max })
        {
            var expect = new double[n];
            for (int i = 0; i < n; i++)
            {
                double acc = Value(0, i);
                for (int q = 1; q < size; q++)
                {
                    double v = Value(q, i);
                    acc = op == ReduceOp.Sum ? acc + v : op == ReduceOp.Min ? Math.Min(acc, v) : Math.Max(acc, v);
                }
                expect[i] = acc;
            }
            var f = new float[n]; var d = new double[n]; var k = new int[n]; var l = new long[n];
            for (int i = 0; i < n; i++) { f[i] = (float)Value(r, i); d[i] = Value(r, i) + 0.25; k[i] = (int)Value(r, i); l[i] = (long)Value(r, i) * 3_000_000_000L; }
            c.AllReduce<float>(f, op);
            c.AllReduce<double>(d, op);
            c.AllReduce<int>(k, op);
            c.AllReduce<long>(l, op);
            int bf = 0, bd = 0, bk = 0, bl = 0;
            double shift = op == ReduceOp.Sum ? 0.25 * size : 0.25;
            for (int i = 0; i < n; i++)
            {
                if (f[i] != (float)expect[i]) bf++;
                if (d[i] != expect[i] + shift) bd++;
                if (k[i] != (int)expect[i]) bk++;
                if (l[i] != (long)expect[i] * 3_000_000_000L) bl++;
            }
            report.Check($"allreduce {op} float", bf == 0, $"{bf} of {n} wrong, e.g. [0] = {f[0]}, expected {expect[0]}");
            report.Check($"allreduce {op} double", bd == 0, $"{bd} of {n} wrong, e.g. [0] = {d[0]}, expected {expect[0] + shift}");
            report.Check($"allreduce {op} int", bk == 0, $"{bk} of {n} wrong, e.g. [0] = {k[0]}, expected {expect[0]}");
            report.Check($"allreduce {op} long", bl == 0, $"{bl} of {n} wrong, e.g. [0] = {l[0]}, expected {(long)expect[0] * 3_000_000_000L}");
        }

        // Broadcast from every root, in turn, with a payload only the root knows.
        for (int root = 0; root < size; root++)
        {
            var buf = new double[257];
            for (int i = 0; i < buf.Length; i++) buf[i] = r == root ? Math.Sin(root * 1000 + i) : double.NaN;
            c.Broadcast<double>(buf, root);
            int bad = 0;
            for (int i = 0; i < buf.Length; i++) if (BitConverter.DoubleToInt64Bits(buf[i]) != BitConverter.DoubleToInt64Bits(Math.Sin(root * 1000 + i))) bad++;
            report.Check($"broadcast from rank {root}", bad == 0, $"{bad} of {buf.Length} values differ from the root's");
        }
        var bytes = new byte[3];
        if (r == 0) bytes = [1, 2, 3];
        c.Broadcast<byte>(bytes, 0);
        report.Check("broadcast of bytes", bytes[0] == 1 && bytes[1] == 2 && bytes[2] == 3, $"got {string.Join(",", bytes)}");

        // Barrier: rank 0 sleeps; nobody may leave the barrier before rank 0 has entered it. Each rank records the
        // wall time it left; rank 0 records when it entered. Clocks are the same machine's (local test).
        long entered = 0;
        if (r == 0) { Thread.Sleep(300); entered = DateTime.UtcNow.Ticks; }
        c.Barrier();
        long left = DateTime.UtcNow.Ticks;
        var t = new long[] { r == 0 ? entered : long.MinValue, left };
        var minLeft = new long[] { left };
        c.AllReduce<long>(t.AsSpan(0, 1), ReduceOp.Max);
        c.AllReduce<long>(minLeft, ReduceOp.Min);
        report.Check("barrier waits for the slowest rank", minLeft[0] >= t[0], $"a rank left {(t[0] - minLeft[0]) / 1e4:F1} ms before rank 0 entered");

        report.Check("size matches the launcher", MpiCommunicator.LaunchedWorldSize is not { } w || w == size, $"launcher says {MpiCommunicator.LaunchedWorldSize}, MPI says {size}");
        var ranks = new int[size];
        ranks[r] = 1;
        c.AllReduce<int>(ranks, ReduceOp.Sum);
        report.Check("ranks are 0..size-1, each once", Array.TrueForAll(ranks, v => v == 1), string.Join(",", ranks));
        return 0;
    }
}
