using FlexNet.Autodiff.Ops;
using FlexNet.Kernels;
using FlexNet.Tensors;

namespace FlexNet.Graph;

/// <summary>
/// Batching of layers that share their inputs: fused every-step layers whose inputs are all dense connections from the
/// same sources at the same delays (an LSTM's four gates, from x(t) and h(t−1)) run as one <see cref="DenseGroup"/>:
/// one product per source per step into a [N, ΣH] buffer instead of one per connection, one dx product per source in
/// backward, and the weight gradients once per walk over all steps.
/// </summary>
internal sealed partial class ExecutionPlan
{
    /// <summary>A set of layers run as one <see cref="DenseGroup"/>: members in plan order, and for each member the index
    /// of its connection from each group source (sources in the first member's connection order).</summary>
    private sealed record SharedInputGroup(int[] Members, int[][] ConnOf);

    private SharedInputGroup[] _groups = [];
    private int[] _groupOf = [];

    /// <summary>Finds the groups: every-step fused layers, none with hoisted inputs, whose connections are all dense
    /// with their own weight (not shared with another connection: a shared weight would be stacked twice), no two of
    /// them from the same source at the same delay, and whose (source, delay) sets are equal; two or more such layers
    /// make a group.</summary>
    private void FindGroups(IReadOnlyList<Connection> connections)
    {
        int L = _order.Length;
        _groupOf = new int[L];
        Array.Fill(_groupOf, -1);
        var uses = new Dictionary<Tensor, int>(ReferenceEqualityComparer.Instance);
        foreach (var c in connections)
        {
            if (c.TryGetAffine(out var w, out _) && w is not null) uses[w] = uses.GetValueOrDefault(w) + 1;
            foreach (var p in c.Parameters) if (!ReferenceEquals(p, w)) uses[p] = uses.GetValueOrDefault(p) + 1;
        }
        var bySignature = new Dictionary<string, List<int>>();
        for (int i = 0; i < L; i++)
        {
            if (_fused[i] is null || !_everyStep[i] || _invariant[i] is not null || _in[i].Length == 0) continue;
            var keys = new string[_in[i].Length];
            bool ok = true;
            for (int j = 0; ok && j < _in[i].Length; j++)
            {
                var c = _in[i][j];
                ok = c.TryGetAffine(out var w, out _) && w is not null && uses[w] == 1 && Contains(c.Parameters, w);
                keys[j] = $"{_inSrc[i][j]}@{c.Delay}";
            }
            if (!ok) continue;
            Array.Sort(keys, StringComparer.Ordinal);
            for (int j = 1; ok && j < keys.Length; j++) ok = keys[j] != keys[j - 1];
            if (!ok) continue;
            var sig = string.Join(",", keys);
            if (!bySignature.TryGetValue(sig, out var list)) bySignature[sig] = list = new List<int>();
            list.Add(i);
        }
        var groups = new List<SharedInputGroup>();
        foreach (var list in bySignature.Values)
        {
            if (list.Count < 2) continue;
            list.Sort();
            int first = list[0];
            var conns = new int[list.Count][];
            for (int k = 0; k < list.Count; k++)
            {
                int i = list[k];
                conns[k] = new int[_in[first].Length];
                for (int s = 0; s < conns[k].Length; s++)
                {
                    int src = _inSrc[first][s], delay = _in[first][s].Delay;
                    for (int j = 0; j < _in[i].Length; j++)
                        if (_inSrc[i][j] == src && _in[i][j].Delay == delay) conns[k][s] = j;
                }
                _groupOf[i] = groups.Count;
            }
            groups.Add(new SharedInputGroup(list.ToArray(), conns));
        }
        _groups = groups.ToArray();
    }

    private static bool Contains(IReadOnlyList<Tensor> ps, Tensor w)
    {
        foreach (var p in ps) if (ReferenceEquals(p, w)) return true;
        return false;
    }

    /// <summary>The group's layers other than <paramref name="i"/>, for the plan's description.</summary>
    private string GroupNote(int i)
    {
        if (_groupOf[i] < 0) return "";
        var names = new List<string>();
        foreach (int m in _groups[_groupOf[i]].Members) if (m != i) names.Add(_order[m].Name);
        return $"  [one product with: {string.Join(", ", names)}]";
    }

    /// <summary>Makes the run's <see cref="DenseGroup"/> of group <paramref name="g"/>: the members' weights in source
    /// order, their biases (connection biases in connection order, then the layer's) and activations.</summary>
    private DenseGroup MakeGroup(int g, int steps, int n)
    {
        var grp = _groups[g];
        int members = grp.Members.Length, sources = grp.ConnOf[0].Length;
        var ws = new Tensor[members][];
        var bs = new Tensor[members][];
        var acts = new FusedActivation[members];
        for (int k = 0; k < members; k++)
        {
            int i = grp.Members[k];
            ws[k] = new Tensor[sources];
            for (int s = 0; s < sources; s++)
            {
                _in[i][grp.ConnOf[k][s]].TryGetAffine(out var w, out _);
                ws[k][s] = w!;
            }
            var biases = new List<Tensor>();
            foreach (var c in _in[i])
                if (c.TryGetAffine(out _, out var b) && b is not null) biases.Add(b);
            if (_order[i].Bias is { } lb) biases.Add(lb);
            bs[k] = biases.ToArray();
            acts[k] = _fused[i]!.Value;
        }
        return new DenseGroup(ws, bs, acts, steps, n);
    }

    /// <summary>The source tensors of group <paramref name="g"/> at the current step (the first member's connections);
    /// null where a delayed source has no history yet (the caller puts the initial state there).</summary>
    private Tensor[] GroupInputs(int g, Tensor[] cur, RunState state)
    {
        int first = _groups[g].Members[0];
        var conns = _in[first];
        var xs = new Tensor[conns.Length];
        for (int s = 0; s < conns.Length; s++)
        {
            var c = conns[s];
            int src = _inSrc[first][s];
            xs[s] = c.Delay == 0 ? cur[src] : state.Read(src, c.Delay)!;
        }
        return xs;
    }
}
