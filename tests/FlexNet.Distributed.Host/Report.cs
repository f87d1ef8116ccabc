using FlexNet.Distributed;

namespace FlexNet.Distributed.Host;

/// <summary>Collects named checks on every rank; at the end the ranks agree (all-reduce) on which checks failed
/// anywhere, rank 0 prints one <c>PASS name</c> / <c>FAIL name: detail</c> line per check and a summary line, and
/// the exit code is non-zero on every rank when any check failed on any rank.</summary>
internal sealed class Report(ICommunicator c)
{
    private readonly List<(string Name, bool Ok, string Detail)> _checks = [];

    public void Check(string name, bool ok, string detail) => _checks.Add((name, ok, detail));

    public int Finish()
    {
        var failed = new int[_checks.Count];
        for (int i = 0; i < failed.Length; i++) failed[i] = _checks[i].Ok ? 0 : 1 << Math.Min(c.Rank, 30);
        var any = (int[])failed.Clone();
        c.AllReduce<int>(any, ReduceOp.Sum);
        for (int i = 0; i < _checks.Count; i++)
            if (!_checks[i].Ok) Console.Error.WriteLine($"[rank {c.Rank}] FAIL {_checks[i].Name}: {_checks[i].Detail}");
        int bad = 0;
        for (int i = 0; i < _checks.Count; i++)
        {
            if (any[i] != 0) bad++;
            if (c.Rank == 0) Console.WriteLine(any[i] == 0 ? $"PASS {_checks[i].Name}" : $"FAIL {_checks[i].Name} (ranks mask {any[i]}): {_checks[i].Detail}");
        }
        if (c.Rank == 0) Console.WriteLine($"{_checks.Count - bad} passed, {bad} failed");
        Console.Out.Flush();
        return bad == 0 ? 0 : 1;
    }
}
