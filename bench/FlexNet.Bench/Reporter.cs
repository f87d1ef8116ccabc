using System.Globalization;

namespace FlexNet.Bench;

/// <summary>
/// Output in the format of shared/bench/pytorch/common.py: <c>NAME VALUE UNIT</c> on stdout (value with 0, 1
/// or 3 decimals for values ≥ 100, ≥ 10, below), details on stderr in lines starting with <c>#</c>.
/// </summary>
internal sealed class Reporter
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>Formats a value as common.py's <c>report</c> does (values below 0.01 other than 0, which common.py
    /// never prints, get 4 significant digits instead of rounding to 0.000).</summary>
    public static string FormatValue(double value)
        => value != 0 && Math.Abs(value) < 0.01 ? value.ToString("G4", Inv)
        : value >= 100 ? value.ToString("F0", Inv) : value >= 10 ? value.ToString("F1", Inv) : value.ToString("F3", Inv);

    /// <summary>Prints <c>name value unit</c> on stdout and the per-repeat figures on stderr.</summary>
    public void Report(string name, double value, string unit, IReadOnlyList<double>? perRepeat = null)
    {
        Console.Out.WriteLine($"{name} {FormatValue(value)} {unit}");
        Console.Out.Flush();
        if (perRepeat is { Count: > 0 })
        {
            string vals = string.Join(", ", perRepeat.Select(v => v.ToString("G4", Inv)));
            double spread = value != 0 ? (perRepeat.Max() - perRepeat.Min()) / value * 100 : 0;
            Log($"{name}: repeats [{vals}] {unit}; min-max spread {spread.ToString("F1", Inv)}% of median");
        }
    }

    /// <summary>A detail line on stderr (<c>#   message</c>).</summary>
    public void Log(string message)
    {
        Console.Error.WriteLine($"#   {message}");
        Console.Error.Flush();
    }
}
