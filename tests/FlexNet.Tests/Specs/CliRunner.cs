using System.Globalization;
using FlexNet.Cli;

namespace FlexNet.Tests.Specs;

/// <summary>The <c>flexnet</c> tool run in-process through <see cref="Program.Run"/> (a helper of its own, so that a
/// mutation run can leave the slow CLI test files out and keep the spec tests that call the tool).</summary>
internal static class CliRunner
{
    /// <summary>Runs the tool in-process; returns the exit code and what it wrote to standard output and error.</summary>
    internal static (int Code, string Out, string Err) Run(params string[] args)
    {
        var o = new StringWriter(CultureInfo.InvariantCulture);
        var e = new StringWriter(CultureInfo.InvariantCulture);
        int code = Program.Run(args, o, e);
        return (code, o.ToString(), e.ToString());
    }
}
