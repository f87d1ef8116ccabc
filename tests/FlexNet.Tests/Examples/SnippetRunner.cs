using System.Collections.Immutable;
using System.Reflection;
using System.Runtime.Loader;
using System.Text;
using FlexNet.Tensors;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Emit;

namespace FlexNet.Tests.Examples;

/// <summary>What running a documented block gave: null <see cref="Failure"/> when it compiled (and, unless marked
/// <c>norun</c>, ran to the end with exit code 0 in time); otherwise why not, with the document's line numbers.</summary>
/// <param name="Failure">The compiler diagnostics, the exception, the exit code or the timeout; null on success.</param>
/// <param name="Output">What the block wrote to the console.</param>
internal sealed record SnippetResult(string? Failure, string Output);

/// <summary>
/// Compiles a documented C# block as its own top-level-statements console program, as a user's
/// <c>dotnet new console</c> project referencing FlexNet would (the SDK's implicit usings, nullable on, latest
/// language version; warnings are errors, as in this repository), against the running framework and FlexNet.dll with
/// its dependencies (never the test assemblies), then runs it in-process: the emitted assembly goes into a
/// collectible <see cref="AssemblyLoadContext"/> (FlexNet resolves to the already loaded copy) and its entry point
/// runs on its own thread with a timeout. A <c>#line</c> directive maps diagnostics and stack traces to the
/// document's lines. The metadata references are built once per process.
/// </summary>
internal static class SnippetRunner
{
    /// <summary>The global usings of an SDK console project with <c>ImplicitUsings</c> enabled.</summary>
    private const string ImplicitUsings =
        "global using System; global using System.Collections.Generic; global using System.IO; global using System.Linq; " +
        "global using System.Net.Http; global using System.Threading; global using System.Threading.Tasks;";

    private static readonly Lazy<ImmutableArray<MetadataReference>> References = new(LoadReferences);

    private static readonly CSharpParseOptions ParseOptions = new(LanguageVersion.Latest);

    private static readonly CSharpCompilationOptions CompileOptions = new CSharpCompilationOptions(OutputKind.ConsoleApplication)
        .WithNullableContextOptions(NullableContextOptions.Enable)
        .WithOptimizationLevel(OptimizationLevel.Debug)
        .WithGeneralDiagnosticOption(ReportDiagnostic.Error)
        // the SDK's default NoWarn: assembly-version unification notes
        .WithSpecificDiagnosticOptions([new("CS1701", ReportDiagnostic.Suppress), new("CS1702", ReportDiagnostic.Suppress)]);

    /// <summary>Compiles <paramref name="block"/> and, unless it is marked <c>norun</c>, runs it.</summary>
    /// <param name="block">The block.</param>
    /// <param name="timeout">How long the program may run.</param>
    /// <returns>The outcome.</returns>
    public static SnippetResult Check(CodeBlock block, TimeSpan timeout)
    {
        // '#line N "FILE"' makes line N of the document the line after the directive
        var source = $"#line {block.FirstCodeLine} \"{block.File}\"\n{block.Code}\n";
        var tree = CSharpSyntaxTree.ParseText(source, ParseOptions, path: block.File, encoding: Encoding.UTF8);
        var usings = CSharpSyntaxTree.ParseText(ImplicitUsings, ParseOptions, path: "ImplicitUsings.g.cs", encoding: Encoding.UTF8);
        string name = $"Snippet_{Path.GetFileNameWithoutExtension(block.File)}_{block.FenceLine}_{Guid.NewGuid():N}";
        var compilation = CSharpCompilation.Create(name, [usings, tree], References.Value, CompileOptions);
        using var pe = new MemoryStream();
        using var pdb = new MemoryStream();
        EmitResult emitted = compilation.Emit(pe, pdb, options: new EmitOptions(debugInformationFormat: DebugInformationFormat.PortablePdb));
        var problems = emitted.Diagnostics.Where(d => d.Severity >= DiagnosticSeverity.Warning).ToArray();
        if (!emitted.Success || problems.Length > 0)
        {
            var text = string.Join("\n", problems.OrderBy(d => d.Location.GetMappedLineSpan().StartLinePosition.Line).Select(d => "  " + d));
            return new SnippetResult($"{block.Id}: the C# block does not compile:\n{text}", "");
        }
        if (!block.Run) return new SnippetResult(null, "");
        pe.Position = 0;
        pdb.Position = 0;
        return Run(block, pe, pdb, timeout);
    }

    private static SnippetResult Run(CodeBlock block, Stream pe, Stream pdb, TimeSpan timeout)
    {
        var context = new AssemblyLoadContext($"snippet {block.Id}", isCollectible: true);
        var output = new StringWriter();
        var entry = context.LoadFromStream(pe, pdb).EntryPoint
                    ?? throw new InvalidOperationException($"{block.Id}: the compiled block has no entry point.");
        object?[] args = entry.GetParameters().Length == 0 ? [] : [Array.Empty<string>()];
        Exception? error = null;
        int exitCode = 0;
        ConsoleCapture.Install();
        ConsoleCapture.Current.Value = output; // flows into the thread started below
        var thread = new Thread(() =>
        {
            try
            {
                var r = entry.Invoke(null, BindingFlags.DoNotWrapExceptions, null, args, null);
                if (r is Task task) task.GetAwaiter().GetResult();
                exitCode = r switch { int code => code, Task<int> t => t.Result, _ => 0 };
            }
            catch (Exception e)
            {
                error = e;
            }
        })
        { IsBackground = true, Name = $"snippet {block.Id}" };
        try
        {
            thread.Start();
            if (!thread.Join(timeout))
            {
                // the thread cannot be stopped; it is a background thread, and the context stays loaded
                return new SnippetResult($"{block.Id}: the C# block did not finish within {timeout.TotalSeconds:0.#} s " +
                                         "(mark a long block 'norun').\n" + Tail(output), Text(output));
            }
        }
        finally
        {
            ConsoleCapture.Current.Value = null;
        }
        string printed = Text(output);
        if (thread.ThreadState == ThreadState.Stopped) context.Unload();
        if (error is not null) return new SnippetResult($"{block.Id}: the C# block threw {WithoutRunnerFrames(error)}\n{Tail(output)}", printed);
        if (exitCode != 0) return new SnippetResult($"{block.Id}: the C# block returned exit code {exitCode}.\n{Tail(output)}", printed);
        return new SnippetResult(null, printed);
    }

    /// <summary>The exception's text without the frames of the reflection call and of this runner.</summary>
    private static string WithoutRunnerFrames(Exception e) =>
        string.Join('\n', e.ToString().ReplaceLineEndings("\n").Split('\n').Where(l =>
            !l.Contains("at System.Reflection.", StringComparison.Ordinal) && !l.Contains(nameof(SnippetRunner), StringComparison.Ordinal)));

    // ConsoleCapture writes under lock(writer); a timed-out block may still be writing
    private static string Text(StringWriter output)
    {
        lock (output) return output.ToString();
    }

    private static string Tail(StringWriter output)
    {
        var s = Text(output);
        return s.Length == 0 ? "(it printed nothing)" : "it printed:\n" + (s.Length > 4000 ? "..." + s[^4000..] : s);
    }

    /// <summary>The running framework's assemblies plus FlexNet.dll and the non-framework assemblies it references
    /// (what a project referencing the FlexNet package compiles against), never the test assemblies.</summary>
    private static ImmutableArray<MetadataReference> LoadReferences()
    {
        string frameworkDir = Path.GetDirectoryName(typeof(object).Assembly.Location)!;
        var tpa = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries);
        var paths = new SortedSet<string>(tpa.Where(p => p.EndsWith(".dll", StringComparison.OrdinalIgnoreCase) &&
                                                         string.Equals(Path.GetDirectoryName(p), frameworkDir, StringComparison.Ordinal)),
                                          StringComparer.Ordinal);
        var pending = new Stack<Assembly>([typeof(Tensor).Assembly]);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        while (pending.Count > 0)
        {
            var asm = pending.Pop();
            if (!seen.Add(asm.GetName().Name!) || paths.Contains(asm.Location)) continue;
            paths.Add(asm.Location);
            foreach (var r in asm.GetReferencedAssemblies()) pending.Push(Assembly.Load(r));
        }
        return [.. paths.Select(p => (MetadataReference)MetadataReference.CreateFromFile(p))];
    }

    /// <summary>Routes Console.Out/Error of the flow that set <see cref="Current"/> (and the threads it starts) into
    /// that writer; every other writer passes through to the console as before.</summary>
    private sealed class ConsoleCapture(TextWriter inner) : TextWriter
    {
        private static readonly Lock Gate = new();
        private static TextWriter? _out, _error;

        public static readonly AsyncLocal<TextWriter?> Current = new();

        public override Encoding Encoding => inner.Encoding;

        private TextWriter Target => Current.Value ?? inner;

        /// <summary>Wraps Console.Out/Error unless the wrappers are still in place (someone may have set others since).</summary>
        public static void Install()
        {
            lock (Gate)
            {
                if (!ReferenceEquals(Console.Out, _out))
                {
                    Console.SetOut(new ConsoleCapture(Console.Out));
                    _out = Console.Out;
                }
                if (!ReferenceEquals(Console.Error, _error))
                {
                    Console.SetError(new ConsoleCapture(Console.Error));
                    _error = Console.Error;
                }
            }
        }

        public override void Write(char value)
        {
            var t = Target;
            lock (t) t.Write(value);
        }

        public override void Write(string? value)
        {
            var t = Target;
            lock (t) t.Write(value);
        }

        public override void Write(char[] buffer, int index, int count)
        {
            var t = Target;
            lock (t) t.Write(buffer, index, count);
        }

        public override void WriteLine(string? value)
        {
            var t = Target;
            lock (t) t.WriteLine(value);
        }

        public override void Flush() => Target.Flush();
    }
}
