using FlexNet.Tensors;

namespace FlexNet.Tests.Examples;

/// <summary>
/// Every <c>```csharp</c> block of README.md, docs/*.md and examples/README.md is compiled as its own top-level-statements program
/// against FlexNet.dll and run in-process (see <see cref="SnippetRunner"/>); a block marked <c>```csharp norun</c>
/// is compiled only. A block asserts with plain C# (<c>if (...) throw ...</c>) or prints. A failure names the
/// document and line and gives the compiler diagnostics or the exception with the document's line numbers.
/// The documents are copied next to the test binary at build time (see the test project).
/// </summary>
public class DocumentedCodeTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    private static readonly Lazy<Dictionary<string, CodeBlock>> AllBlocks = new(() =>
    {
        string root = Path.Combine(AppContext.BaseDirectory, "documents");
        var files = Directory.GetFiles(root, "*.md", SearchOption.AllDirectories).Order(StringComparer.Ordinal);
        var blocks = new Dictionary<string, CodeBlock>(StringComparer.Ordinal);
        foreach (var f in files)
        {
            string shown = Path.GetRelativePath(root, f).Replace('\\', '/');
            foreach (var b in MarkdownCode.Extract(shown, File.ReadAllText(f))) blocks.Add(b.Id, b);
        }
        return blocks;
    });

    /// <summary>The ids (<c>FILE:LINE</c>) of every documented C# block.</summary>
    public static TheoryData<string> Blocks => new(AllBlocks.Value.Keys);

    [Theory]
    [MemberData(nameof(Blocks))]
    public void BlockCompilesAndRuns(string id)
    {
        var result = SnippetRunner.Check(AllBlocks.Value[id], Timeout);
        if (result.Output.Length > 0) TestContext.Current.TestOutputHelper?.WriteLine(result.Output);
        Assert.True(result.Failure is null, result.Failure);
    }

    [Fact]
    public void ReadmeHasRunnableBlocks() =>
        Assert.True(AllBlocks.Value.Values.Count(b => b.File == "README.md" && b.Run) >= 2,
                    $"README.md should show runnable C# blocks; found: {string.Join(", ", AllBlocks.Value.Keys)}");

    // ---- the test can fail: deliberately broken blocks in a test-only document ----

    private const string Broken = """
        # A test-only document

        ```csharp
        using FlexNet.Tensors;
        var t = Tensor.Ones([2, 3]);
        if (t.Length != 6) throw new Exception("six elements");
        Console.WriteLine("fine");
        ```

        ```csharp
        using FlexNet.Tensors;
        var t = Tensor.Ones([2, 3]);
        int n = t.NoSuchMember;
        ```

        ```csharp
        using FlexNet.Tensors;
        Console.WriteLine("about to fail");
        var t = Tensor.Ones([2, 3]);
        if (t.Length != 7) throw new InvalidOperationException("the README claims seven elements");
        ```

        ```csharp norun
        throw new Exception("compiled, never run");
        ```

        ```csharp
        return 3;
        ```

        ```cs
        Thread.Sleep(System.Threading.Timeout.Infinite);
        ```

        ```csharp
        string s = null;
        Console.WriteLine(s);
        ```

        ```text
        not C#: ignored
        ```
        """;

    private static CodeBlock Block(int fenceLine) => MarkdownCode.Extract("broken.md", Broken).Single(b => b.FenceLine == fenceLine);

    [Fact]
    public void ExtractorFindsTheCSharpBlocksWithTheirLines()
    {
        var blocks = MarkdownCode.Extract("broken.md", Broken);
        Assert.Equal([3, 10, 16, 23, 27, 31, 35], blocks.Select(b => b.FenceLine).ToArray());
        Assert.Equal([true, true, true, false, true, true, true], blocks.Select(b => b.Run).ToArray());
        Assert.Equal("using FlexNet.Tensors;\nvar t = Tensor.Ones([2, 3]);\nint n = t.NoSuchMember;", blocks[1].Code);
    }

    [Fact]
    public void AGoodBlockPassesAndItsOutputIsCaptured()
    {
        var r = SnippetRunner.Check(Block(3), Timeout);
        Assert.Null(r.Failure);
        Assert.Equal("fine\n", r.Output.ReplaceLineEndings("\n"));
    }

    [Fact]
    public void ACompileErrorNamesTheDocumentLine()
    {
        var r = SnippetRunner.Check(Block(10), Timeout);
        Assert.NotNull(r.Failure);
        Assert.StartsWith("broken.md:10: the C# block does not compile", r.Failure);
        Assert.Contains("broken.md(13,", r.Failure);
        Assert.Contains("CS1061", r.Failure); // 'Tensor' does not contain a definition for 'NoSuchMember'
    }

    [Fact]
    public void AnExceptionNamesTheDocumentLineAndShowsTheOutput()
    {
        var r = SnippetRunner.Check(Block(16), Timeout);
        Assert.NotNull(r.Failure);
        Assert.StartsWith("broken.md:16: the C# block threw System.InvalidOperationException: the README claims seven elements", r.Failure);
        Assert.Contains("broken.md:line 20", r.Failure);
        Assert.Contains("about to fail", r.Failure);
    }

    [Fact]
    public void ANoRunBlockIsCompiledButNotRun() => Assert.Null(SnippetRunner.Check(Block(23), Timeout).Failure);

    [Fact]
    public void ANonZeroExitCodeFails() =>
        Assert.StartsWith("broken.md:27: the C# block returned exit code 3", SnippetRunner.Check(Block(27), Timeout).Failure);

    [Fact]
    public void ABlockThatDoesNotFinishFails() =>
        Assert.StartsWith("broken.md:31: the C# block did not finish within 0.5 s", SnippetRunner.Check(Block(31), TimeSpan.FromSeconds(0.5)).Failure);

    [Fact]
    public void ANullableWarningFails()
    {
        var r = SnippetRunner.Check(Block(35), Timeout);
        Assert.NotNull(r.Failure);
        Assert.Contains("broken.md(36,", r.Failure);
        Assert.Contains("CS8600", r.Failure); // converting null literal to a non-nullable type
    }

    [Fact]
    public void AnOpenFenceOrAnUnknownMarkerIsAnError()
    {
        var open = Assert.Throws<FormatException>(() => MarkdownCode.Extract("open.md", "text\n\n```csharp\nvar x = 1;\n"));
        Assert.StartsWith("open.md:3:", open.Message);
        var marker = Assert.Throws<FormatException>(() => MarkdownCode.Extract("marker.md", "```csharp\nvar x = 1;\n```\n\n```csharp no-run\nvar y = 2;\n```\n"));
        Assert.StartsWith("marker.md:5: unknown marker 'no-run'", marker.Message);
    }
}
