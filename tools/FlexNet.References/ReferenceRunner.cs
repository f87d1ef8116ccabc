using FlexNet.Layers.Recurrent;
using FlexNet.Graph;
using System.Globalization;
using FlexNet.Tensors;

namespace FlexNet.References;

/// <summary>Outcome of one reference case.</summary>
public enum CaseStatus
{
    /// <summary>Every stored output and gradient matched.</summary>
    Pass,

    /// <summary>Something differed or failed.</summary>
    Fail,

    /// <summary>The op is not supported.</summary>
    Skip,
}

/// <summary>Result of running one case.</summary>
/// <param name="Name">Case name.</param>
/// <param name="Status">Pass, fail or skip.</param>
/// <param name="Message">What differed and by how much, or why it was skipped.</param>
public sealed record CaseResult(string Name, CaseStatus Status, string Message);

/// <summary>
/// Runs PyTorch reference cases through FlexNet's public API: recognises a case by its metadata <c>op</c>,
/// computes every stored <c>out_*</c> and <c>grad_*</c> (and <c>final_*</c>/<c>losses</c> for optimizer
/// trajectories), and compares them in float64 with |a − e| ≤ <see cref="Tolerance"/>·(1 + |e|).
/// </summary>
public static partial class ReferenceRunner
{
    /// <summary>Tolerance of the float64 comparison (scaled by 1 + |expected|).</summary>
    public const double Tolerance = 1e-9;

    /// <summary>Computes a case: returns computed tensors keyed by the stored names they must match.</summary>
    /// <param name="c">The case.</param>
    /// <returns>Computed values by stored name (e.g. <c>out_y</c>, <c>grad_w</c>).</returns>
    public delegate IReadOnlyDictionary<string, Tensor> Handler(ReferenceCase c);

    private static readonly Dictionary<string, Handler> Handlers = new(StringComparer.OrdinalIgnoreCase);

    static ReferenceRunner() => RegisterBuiltIns();

    /// <summary>Registers (or replaces) the handler of an op name.</summary>
    /// <param name="op">The metadata <c>op</c> value.</param>
    /// <param name="handler">The computation.</param>
    public static void Register(string op, Handler handler) => Handlers[op] = handler;

    /// <summary>The op names with a handler.</summary>
    public static IReadOnlyCollection<string> SupportedOps => Handlers.Keys;

    /// <summary>Runs one case file.</summary>
    /// <param name="path">Path of the .safetensors case.</param>
    /// <returns>The result (never throws for a bad case: failures are reported as <see cref="CaseStatus.Fail"/>).</returns>
    public static CaseResult Run(string path)
    {
        string name = Path.GetFileNameWithoutExtension(path);
        ReferenceCase c;
        try
        {
            c = ReferenceCase.Load(path);
        }
        catch (FlexNetException e)
        {
            return new CaseResult(name, CaseStatus.Fail, e.Message);
        }
        if (!Handlers.TryGetValue(c.Op, out var handler))
            return new CaseResult(name, CaseStatus.Skip, $"op '{c.Op}' not supported");
        try
        {
            var computed = handler(c);
            return Compare(c, computed);
        }
        catch (Exception e) when (e is FlexNetException or ArgumentException or InvalidOperationException or FormatException or KeyNotFoundException)
        {
            return new CaseResult(name, CaseStatus.Fail, $"{e.GetType().Name}: {e.Message}");
        }
    }

    private static CaseResult Compare(ReferenceCase c, IReadOnlyDictionary<string, Tensor> computed)
    {
        int compared = 0;
        foreach (var key in c.TensorNames)
        {
            if (!(key.StartsWith("out_", StringComparison.Ordinal) || key.StartsWith("grad_", StringComparison.Ordinal)
                  || key.StartsWith("final_", StringComparison.Ordinal) || key == "losses"))
                continue;
            if (!computed.TryGetValue(key, out var actual))
                return new CaseResult(c.Name, CaseStatus.Fail, $"{key}: not computed");
            var expected = c.Get(key);
            if (expected.Length != actual.Length)
                return new CaseResult(c.Name, CaseStatus.Fail, $"{key}: shape {ShapeUtil.Format(actual.Shape)} vs expected {ShapeUtil.Format(expected.Shape)}");
            var e = expected.ToDoubleArray();
            var a = actual.ToDoubleArray();
            double worst = 0;
            int at = -1;
            for (int i = 0; i < e.Length; i++)
            {
                double err = Math.Abs(a[i] - e[i]) / (1 + Math.Abs(e[i]));
                if (!(err <= worst)) { worst = double.IsNaN(err) ? double.PositiveInfinity : err; at = i; }
            }
            if (worst > Tolerance)
                return new CaseResult(c.Name, CaseStatus.Fail, string.Create(CultureInfo.InvariantCulture,
                    $"{key}[{at}]: {a[at]:G12} vs expected {e[at]:G12} (scaled error {worst:G3} > {Tolerance:G1})"));
            compared++;
        }
        return compared == 0
            ? new CaseResult(c.Name, CaseStatus.Fail, "no out_/grad_ tensors to compare")
            : new CaseResult(c.Name, CaseStatus.Pass, $"{compared} tensors match");
    }

    /// <summary>Backward from the reference loss, then collects <c>out_*</c> and the gradients of the given leaves.</summary>
    /// <param name="c">The case.</param>
    /// <param name="outputs">Computed outputs by name without prefix.</param>
    /// <param name="leaves">Inputs/parameters by stored name; their gradients become <c>grad_NAME</c>.</param>
    /// <returns>Computed values keyed by stored names.</returns>
    public static Dictionary<string, Tensor> Collect(ReferenceCase c, IReadOnlyDictionary<string, Tensor> outputs,
                                                     IReadOnlyDictionary<string, Tensor> leaves)
    {
        c.SeedLoss(outputs).Backward();
        var r = new Dictionary<string, Tensor>();
        foreach (var (k, v) in outputs) r["out_" + k] = v;
        foreach (var (k, v) in leaves) r["grad_" + k] = v.Grad ?? Tensor.ZerosLike(v);
        return r;
    }
}
