using System.Globalization;
using System.Text;

namespace FlexNet.Data;

/// <summary>
/// Reads numeric CSV files into a float matrix. Fields are separated by one delimiter character; a field may be
/// wrapped in double quotes (<c>""</c> inside is a literal quote; quoted fields cannot span lines). Blank lines
/// are skipped. Numbers use the invariant culture (<c>1.5e-3</c>); NaN and infinities are rejected. A ragged
/// row, an empty or non-numeric cell raises <see cref="DatasetFormatException"/> naming the file, line and column.
/// </summary>
public static class Csv
{
    /// <summary>Reads a numeric CSV file.</summary>
    /// <param name="path">The file (UTF-8, a BOM is allowed).</param>
    /// <param name="hasHeader">Whether the first non-blank line holds column names.</param>
    /// <param name="delimiter">Field separator (not a quote or line break).</param>
    /// <param name="labelColumn">0-based column to take out as <see cref="CsvTable.Labels"/>; negative counts from the end (-1 = last); <c>null</c> for none.</param>
    /// <returns>The table: <c>Data</c> is row-major <c>[Rows, Cols]</c> without the label column.</returns>
    /// <exception cref="ArgumentException">Bad delimiter.</exception>
    /// <exception cref="DatasetFormatException">Malformed content, or <paramref name="labelColumn"/> outside the table.</exception>
    public static CsvTable Read(string path, bool hasHeader, char delimiter = ',', int? labelColumn = null) =>
        ReadCore(path, hasHeader, delimiter, labelColumn, null);

    /// <summary>Reads a numeric CSV file with a header, taking the column named <paramref name="labelColumnName"/> out as labels.</summary>
    /// <param name="path">The file.</param>
    /// <param name="labelColumnName">Header name of the label column (exact match).</param>
    /// <param name="delimiter">Field separator.</param>
    /// <returns>The table.</returns>
    /// <exception cref="DatasetFormatException">Malformed content, or no column of that name.</exception>
    public static CsvTable Read(string path, string labelColumnName, char delimiter = ',')
    {
        ArgumentNullException.ThrowIfNull(labelColumnName);
        return ReadCore(path, true, delimiter, null, labelColumnName);
    }

    private static CsvTable ReadCore(string path, bool hasHeader, char delimiter, int? labelColumn, string? labelName)
    {
        // Stryker disable once Statement: equivalent: new StreamReader(null) throws the same ArgumentNullException naming 'path'
        ArgumentNullException.ThrowIfNull(path);
        if (delimiter is '"' or '\r' or '\n')
            throw new ArgumentException($"CSV delimiter cannot be a quote or a line break. Received: '{delimiter}'.", nameof(delimiter));

        using var reader = new StreamReader(path, Encoding.UTF8, detectEncodingFromByteOrderMarks: true);
        var fields = new List<string>();
        string[]? header = null;
        int cols = -1, headerLine = 0, labelIndex = -1;
        var data = new List<float>();
        var labels = new List<float>();
        var lines = new List<int>();
        int lineNo = 0;
        string? line;
        while ((line = reader.ReadLine()) is not null)
        {
            lineNo++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            Split(line, delimiter, fields, path, lineNo);
            if (cols == -1) // the first non-blank line
            {
                cols = fields.Count;
                headerLine = lineNo;
                labelIndex = ResolveLabel(path, fields, hasHeader, labelColumn, labelName, lineNo);
                if (hasHeader)
                {
                    header = fields.ToArray();
                    continue;
                }
            }
            if (fields.Count != cols)
                throw new DatasetFormatException(
                    $"CSV '{path}', line {lineNo}: {fields.Count} columns, expected {cols} (as on line {headerLine}{(hasHeader ? ", the header" : "")}).");
            for (int c = 0; c < cols; c++)
            {
                float v = ParseCell(fields[c], path, lineNo, c, header);
                if (c == labelIndex) labels.Add(v);
                else data.Add(v);
            }
            lines.Add(lineNo);
        }
        if (hasHeader && header is null)
            throw new DatasetFormatException($"CSV '{path}': the file has no header line (it is empty).");

        int featureCols = Math.Max(cols, 0) - (labelIndex >= 0 ? 1 : 0);
        string[]? names = null;
        string? labelColumnName = null;
        if (header is not null)
        {
            var list = new List<string>(header);
            if (labelIndex >= 0)
            {
                labelColumnName = list[labelIndex];
                list.RemoveAt(labelIndex);
            }
            names = list.ToArray();
        }
        return new CsvTable(path, lines.Count, featureCols, data.ToArray(), names,
            labelIndex >= 0 ? labels.ToArray() : null, labelColumnName, lines.ToArray());
    }

    private static int ResolveLabel(string path, List<string> first, bool hasHeader, int? labelColumn, string? labelName, int lineNo)
    {
        if (labelName is not null)
        {
            int idx = first.IndexOf(labelName);
            if (idx < 0)
                throw new DatasetFormatException($"CSV '{path}', line {lineNo}: no column named '{labelName}' in the header ({string.Join(", ", first)}).");
            return idx;
        }
        if (labelColumn is not int lc) return -1;
        int resolved = lc < 0 ? first.Count + lc : lc;
        if (resolved < 0 || resolved >= first.Count)
            throw new DatasetFormatException(
                $"CSV '{path}', line {lineNo}: label column {lc} is outside the {first.Count} columns{(hasHeader ? " of the header" : "")}.");
        return resolved;
    }

    private static float ParseCell(string cell, string path, int lineNo, int col, string[]? header)
    {
        string where = header is null ? $"column {col + 1}" : $"column {col + 1} ('{header[col]}')";
        if (string.IsNullOrWhiteSpace(cell))
            throw new DatasetFormatException($"CSV '{path}', line {lineNo}, {where}: empty cell.");
        if (!float.TryParse(cell, NumberStyles.Float, CultureInfo.InvariantCulture, out float v))
            throw new DatasetFormatException($"CSV '{path}', line {lineNo}, {where}: '{Shorten(cell)}' is not a number.");
        if (!float.IsFinite(v))
            throw new DatasetFormatException($"CSV '{path}', line {lineNo}, {where}: '{Shorten(cell)}' is not a finite float32 value.");
        return v;
    }

    /// <summary>Splits one line into fields, honouring double quotes.</summary>
    private static void Split(string line, char delimiter, List<string> fields, string path, int lineNo)
    {
        fields.Clear();
        int i = 0;
        var sb = new StringBuilder();
        while (true)
        {
            if (i < line.Length && line[i] == '"')
            {
                sb.Clear();
                int start = i++;
                while (true)
                {
                    if (i >= line.Length)
                        throw new DatasetFormatException($"CSV '{path}', line {lineNo}, column {fields.Count + 1}: quote opened at character {start + 1} is never closed.");
                    if (line[i] == '"')
                    {
                        if (i + 1 < line.Length && line[i + 1] == '"') { sb.Append('"'); i += 2; continue; }
                        i++;
                        break;
                    }
                    sb.Append(line[i++]);
                }
                fields.Add(sb.ToString());
                if (i == line.Length) return;
                if (line[i] != delimiter)
                    throw new DatasetFormatException($"CSV '{path}', line {lineNo}, column {fields.Count}: unexpected character '{line[i]}' after a closing quote at character {i + 1}.");
                i++;
                continue;
            }
            int next = line.IndexOf(delimiter, i);
            if (next < 0)
            {
                fields.Add(line[i..]);
                return;
            }
            fields.Add(line[i..next]);
            i = next + 1;
        }
    }

    private static string Shorten(string s) => s.Length <= 40 ? s : s[..40] + "...";
}
