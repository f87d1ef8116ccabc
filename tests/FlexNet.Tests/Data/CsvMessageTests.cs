using System.Text;
using FlexNet.Data;
using FlexNet.Tests.IO;
using Xunit;

namespace FlexNet.Tests.Data;

/// <summary>Every rejection of <see cref="Csv"/> and <see cref="CsvTable"/> with its whole message; the file is always
/// <c>f.csv</c>, so only the message can name the defect.</summary>
public sealed class CsvMessageTests : IDisposable
{
    private readonly string _dir = TestFiles.NewTempDir();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Save(string text, Encoding? encoding = null)
    {
        string p = Path.Combine(_dir, "f.csv");
        File.WriteAllText(p, text, encoding ?? new UTF8Encoding(false));
        return p;
    }

    private string Fails(string text, bool header, int? labelColumn = null)
    {
        string p = Save(text);
        return Assert.Throws<DatasetFormatException>(() => Csv.Read(p, header, labelColumn: labelColumn)).Message;
    }

    private string P => Path.Combine(_dir, "f.csv");

    [Fact]
    public void Arguments()
    {
        string p = Save("a\n1\n");
        Assert.Equal("labelColumnName", Assert.Throws<ArgumentNullException>(() => Csv.Read(p, (string)null!)).ParamName);
        foreach (char bad in new[] { '"', '\r', '\n' })
        {
            var ex = Assert.Throws<ArgumentException>(() => Csv.Read(p, false, bad));
            Assert.Equal($"CSV delimiter cannot be a quote or a line break. Received: '{bad}'. (Parameter 'delimiter')", ex.Message);
        }
    }

    [Fact]
    public void Utf16WithByteOrderMark_IsDecoded()
    {
        string p = Save("x,y\n1.5,-2\n", new UnicodeEncoding(bigEndian: false, byteOrderMark: true));
        CsvTable t = Csv.Read(p, hasHeader: true);
        Assert.Equal(["x", "y"], t.ColumnNames);
        Assert.Equal([1.5f, -2f], t.Data);
    }

    [Fact]
    public void EmptyFile_WithALabelColumn_HasNoColumnsAndNoLabels()
    {
        CsvTable t = Csv.Read(Save("\n  \n"), hasHeader: false, labelColumn: 0);
        Assert.Equal(0, t.Rows);
        Assert.Equal(0, t.Cols);
        Assert.Null(t.Labels);
        Assert.Null(t.ColumnNames);
        Assert.Equal($"CSV '{P}': the file has no header line (it is empty).", Fails("\n \t\n", header: true));
    }

    [Fact]
    public void RaggedRows_NameTheLineThatSetTheWidth()
    {
        Assert.Equal($"CSV '{P}', line 4: 2 columns, expected 3 (as on line 2, the header).", Fails("\na,b,c\n1,2,3\n4,5\n", header: true));
        Assert.Equal($"CSV '{P}', line 3: 1 columns, expected 2 (as on line 2).", Fails("\n1,2\n3\n", header: false));
    }

    [Fact]
    public void LabelColumns_OutsideTheTable()
    {
        string p = Save("a,b,c\n1,2,3\n");
        Assert.Equal($"CSV '{P}', line 1: no column named 'y' in the header (a, b, c).",
            Assert.Throws<DatasetFormatException>(() => Csv.Read(p, "y")).Message);
        Assert.Equal($"CSV '{P}', line 1: label column 3 is outside the 3 columns of the header.", Fails("a,b,c\n1,2,3\n", true, 3));
        Assert.Equal($"CSV '{P}', line 1: label column -4 is outside the 3 columns.", Fails("1,2,3\n", false, -4));
        CsvTable last = Csv.Read(Save("1,2,3\n"), false, labelColumn: 2);
        Assert.Equal([3f], last.Labels!);
        Assert.Equal([1f, 2f], last.Data);
        Assert.Equal(2, last.Cols);
    }

    [Fact]
    public void Quotes()
    {
        CsvTable t = Csv.Read(Save("\"a\"\"b\",\"c\"\"\",\"d\"\n\"1.5\",2,\"-3\"\n"), hasHeader: true);
        Assert.Equal(["a\"b", "c\"", "d"], t.ColumnNames);
        Assert.Equal([1.5f, 2f, -3f], t.Data);
        Assert.Equal($"CSV '{P}', line 1, column 2: quote opened at character 3 is never closed.", Fails("1,\"2\n", false));
        Assert.Equal($"CSV '{P}', line 1, column 2: quote opened at character 3 is never closed.", Fails("1,\"2\"\"\n", false));
        Assert.Equal($"CSV '{P}', line 1, column 1: unexpected character 'x' after a closing quote at character 4.", Fails("\"1\"x,2\n", false));
        Assert.Equal($"CSV '{P}', line 1, column 2: unexpected character 'y' after a closing quote at character 8.", Fails("1,\"2\"\"\"y\n", false));
    }

    [Fact]
    public void Cells()
    {
        Assert.Equal($"CSV '{P}', line 1, column 1: empty cell.", Fails(",1\n", false));
        Assert.Equal($"CSV '{P}', line 2, column 2 ('b'): empty cell.", Fails("a,b\n1, \n", true));
        string forty = new string('7', 39) + "x";
        Assert.Equal($"CSV '{P}', line 1, column 1: '{forty}' is not a number.", Fails(forty + "\n", false));
        Assert.Equal($"CSV '{P}', line 1, column 1: '{forty}...' is not a number.", Fails(forty + "z\n", false));
        Assert.Equal($"CSV '{P}', line 1, column 2: 'Infinity' is not a finite float32 value.", Fails("1,Infinity\n", false));
    }

    [Fact]
    public void ClassLabels_Rules()
    {
        CsvTable none = Csv.Read(Save("1\n"), false);
        Assert.Equal($"CSV '{P}' was read without a label column; pass labelColumn to Csv.Read.",
            Assert.Throws<InvalidOperationException>(() => none.ClassLabels()).Message);
        // 2147483520 is the largest float below 2^31; 2^31 itself is not an int.
        CsvTable big = Csv.Read(Save("2147483520\n0\n"), false, labelColumn: 0);
        Assert.Equal([2147483520, 0], big.ClassLabels());
        CsvTable over = Csv.Read(Save("0\n\n2147483648\n"), false, labelColumn: 0);
        Assert.Equal($"CSV '{P}', line 3: label {2147483648f} is not a class index (a non-negative integer).",
            Assert.Throws<DatasetFormatException>(() => over.ClassLabels()).Message);
        CsvTable three = Csv.Read(Save("2\n3\n"), false, labelColumn: 0);
        Assert.Equal([2, 3], three.ClassLabels(4));
        Assert.Equal($"CSV '{P}', line 2: label 3 is not a class index in 0..2.",
            Assert.Throws<DatasetFormatException>(() => three.ClassLabels(3)).Message);
        CsvTable half = Csv.Read(Save("0.5\n"), false, labelColumn: 0);
        Assert.Equal($"CSV '{P}', line 1: label 0.5 is not a class index (a non-negative integer).",
            Assert.Throws<DatasetFormatException>(() => half.ClassLabels()).Message);
        CsvTable neg = Csv.Read(Save("-1\n"), false, labelColumn: 0);
        Assert.Equal($"CSV '{P}', line 1: label -1 is not a class index in 0..9.",
            Assert.Throws<DatasetFormatException>(() => neg.ClassLabels(10)).Message);
    }
}
