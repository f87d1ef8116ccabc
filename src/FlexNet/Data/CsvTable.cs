namespace FlexNet.Data;

/// <summary>
/// A numeric table read by <see cref="Csv"/>: a row-major <see cref="Rows"/> × <see cref="Cols"/> feature
/// matrix, optionally with one label column taken out.
/// </summary>
public sealed class CsvTable
{
    private readonly int[] _lines;

    internal CsvTable(string sourceName, int rows, int cols, float[] data, string[]? columnNames,
        float[]? labels, string? labelColumnName, int[] lines)
    {
        SourceName = sourceName;
        Rows = rows;
        Cols = cols;
        Data = data;
        ColumnNames = columnNames;
        Labels = labels;
        LabelColumnName = labelColumnName;
        _lines = lines;
    }

    /// <summary>The file the table came from.</summary>
    public string SourceName { get; }

    /// <summary>Number of data rows (header and blank lines excluded).</summary>
    public int Rows { get; }

    /// <summary>Number of feature columns (the label column, when extracted, is not counted).</summary>
    public int Cols { get; }

    /// <summary>Features, row-major <c>[Rows, Cols]</c>: element (r, c) is <c>Data[r * Cols + c]</c>.</summary>
    public float[] Data { get; }

    /// <summary>Names of the feature columns from the header, or <c>null</c> without a header.</summary>
    public IReadOnlyList<string>? ColumnNames { get; }

    /// <summary>The extracted label column (length <see cref="Rows"/>), or <c>null</c> when none was requested.</summary>
    public float[]? Labels { get; }

    /// <summary>Header name of the label column, when there is a header and a label column.</summary>
    public string? LabelColumnName { get; }

    /// <summary>The 1-based line number of data row <paramref name="row"/> in the file.</summary>
    /// <param name="row">0-based data row index.</param>
    /// <returns>The line number.</returns>
    public int LineOf(int row) => _lines[row];

    /// <summary>Labels as class indices: each must be an integer in [0, <paramref name="classCount"/>) (or ≥ 0 when no count is given).</summary>
    /// <param name="classCount">Number of classes, or <c>null</c> for no upper bound.</param>
    /// <returns>One class index per row.</returns>
    /// <exception cref="InvalidOperationException">No label column was extracted.</exception>
    /// <exception cref="DatasetFormatException">A label is not a non-negative integer below <paramref name="classCount"/>: the message names the file and line.</exception>
    public int[] ClassLabels(int? classCount = null)
    {
        if (Labels is null)
            throw new InvalidOperationException($"CSV '{SourceName}' was read without a label column; pass labelColumn to Csv.Read.");
        var result = new int[Labels.Length];
        for (int i = 0; i < Labels.Length; i++)
        {
            float v = Labels[i];
            if (v < 0 || v != MathF.Floor(v) || v >= 2147483648f /* 2^31: (float)int.MaxValue rounds up to it, so > int.MaxValue let 2^31 through */ || (classCount is int k && v >= k))
                throw new DatasetFormatException(
                    $"CSV '{SourceName}', line {_lines[i]}: label {v} is not a class index{(classCount is int c ? $" in 0..{c - 1}" : " (a non-negative integer)")}.");
            result[i] = (int)v;
        }
        return result;
    }
}
