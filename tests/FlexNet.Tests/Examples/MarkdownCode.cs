namespace FlexNet.Tests.Examples;

/// <summary>One fenced C# block of a markdown document.</summary>
/// <param name="File">The document's path as reported (e.g. <c>README.md</c>).</param>
/// <param name="FenceLine">1-based line of the opening fence.</param>
/// <param name="Code">The block's text (the lines between the fences).</param>
/// <param name="Run">False for a block marked <c>norun</c>: compiled, not run.</param>
internal sealed record CodeBlock(string File, int FenceLine, string Code, bool Run)
{
    /// <summary>1-based line of the block's first code line.</summary>
    public int FirstCodeLine => FenceLine + 1;

    /// <summary><c>FILE:LINE</c> of the opening fence.</summary>
    public string Id => $"{File}:{FenceLine}";
}

/// <summary>
/// Finds the fenced C# blocks of a markdown document (CommonMark fences: up to three spaces of indentation, three
/// or more backticks or tildes, closed by a fence of the same character at least as long). A block is C# when
/// its info string's first word is <c>csharp</c>, <c>cs</c> or <c>c#</c>; the only marker accepted after it is
/// <c>norun</c> (compile, do not run). Any other marker, or a fence left open, is an error naming the line, so a
/// typo cannot make a block silently escape the test.
/// </summary>
internal static class MarkdownCode
{
    private static readonly string[] CSharpNames = ["csharp", "cs", "c#"];

    /// <summary>The C# blocks of <paramref name="markdown"/>, in document order.</summary>
    /// <param name="file">The document's path as reported in errors and block ids.</param>
    /// <param name="markdown">The document's text.</param>
    /// <returns>The blocks.</returns>
    /// <exception cref="FormatException">A fence left open or an unknown marker on a C# fence (names the line).</exception>
    public static List<CodeBlock> Extract(string file, string markdown)
    {
        var lines = markdown.ReplaceLineEndings("\n").Split('\n');
        var blocks = new List<CodeBlock>();
        for (int i = 0; i < lines.Length; i++)
        {
            if (!IsFence(lines[i], out char fenceChar, out int fenceLength, out string info)) continue;
            int open = i;
            int close = -1;
            for (int j = i + 1; j < lines.Length; j++)
            {
                if (IsFence(lines[j], out char c, out int n, out string rest) && c == fenceChar && n >= fenceLength && rest.Length == 0)
                {
                    close = j;
                    break;
                }
            }
            if (close < 0) throw new FormatException($"{file}:{open + 1}: the code fence opened here is never closed.");
            i = close;
            var words = info.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (words.Length == 0 || !CSharpNames.Contains(words[0], StringComparer.OrdinalIgnoreCase)) continue;
            bool run = true;
            foreach (var marker in words.Skip(1))
            {
                if (marker.Equals("norun", StringComparison.OrdinalIgnoreCase)) run = false;
                else throw new FormatException($"{file}:{open + 1}: unknown marker '{marker}' on a C# block; the only marker is 'norun' (compile, do not run).");
            }
            var code = string.Join('\n', lines[(open + 1)..close]);
            blocks.Add(new CodeBlock(file, open + 1, code, run));
        }
        return blocks;
    }

    private static bool IsFence(string line, out char fenceChar, out int length, out string info)
    {
        fenceChar = '\0';
        length = 0;
        info = "";
        int indent = 0;
        while (indent < line.Length && line[indent] == ' ') indent++;
        if (indent > 3 || indent >= line.Length || line[indent] is not ('`' or '~')) return false;
        fenceChar = line[indent];
        int k = indent;
        while (k < line.Length && line[k] == fenceChar) k++;
        length = k - indent;
        if (length < 3) return false;
        info = line[k..].Trim();
        return !(fenceChar == '`' && info.Contains('`'));
    }
}
