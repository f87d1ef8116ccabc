using System.CommandLine;
using FlexNet.Cli.Commands;

namespace FlexNet.Cli;

/// <summary>The <c>flexnet</c> command-line tool: parses arguments (System.CommandLine) and calls the library.</summary>
public static class Program
{
    /// <summary>Exit codes, as <c>flexnet --help</c> lists them.</summary>
    internal const string ExitCodes = """
        Exit codes:
          0  success
          1  a bad spec, model or data file, or a failed run (the message names the file and the place in it)
          2  a usage error (unknown command or option, missing or malformed argument)
          3  an internal error (a bug: please report it; --verbose prints the stack trace)
        """;

    /// <summary>Entry point.</summary>
    /// <param name="args">Command and options.</param>
    /// <returns>Process exit code: 0 success, 1 bad file or failed run, 2 usage error, 3 internal error.</returns>
    public static int Main(string[] args) => Run(args, Console.Out, Console.Error);

    /// <summary>Runs the tool in-process with the given writers (the tests call this).</summary>
    /// <param name="args">Command and options.</param>
    /// <param name="output">Standard output.</param>
    /// <param name="error">Standard error.</param>
    /// <returns>The exit code.</returns>
    public static int Run(string[] args, TextWriter output, TextWriter error)
    {
        var cli = new Cli(output, error);
        var root = cli.BuildRoot();
        var result = root.Parse(args);
        bool help = args.Any(a => a is "-h" or "--help" or "-?");
        if (result.Errors.Count > 0 && !help)
        {
            var cmd = result.CommandResult.Command;
            foreach (var e in result.Errors) error.WriteLine($"flexnet: {e.Message}");
            error.WriteLine($"Usage: {cli.Usage(cmd)}");
            error.WriteLine($"Run '{CommandPath(cmd)} --help' for more.");
            return 2;
        }
        return result.Invoke(new InvocationConfiguration { Output = output, Error = error, EnableDefaultExceptionHandler = false });
    }

    internal static string CommandPath(Command cmd) =>
        cmd is RootCommand ? "flexnet" : "flexnet " + cmd.Name;
}
