using System.Diagnostics;
using System.Text;
using FlexNet.Cli.Reports;
using FlexNet.Specs;

namespace FlexNet.Cli.Commands;

/// <summary><c>flexnet summary</c>, <c>flexnet graph</c> and <c>flexnet layers</c>.</summary>
internal static class SpecCommands
{
    internal static int Summary(string specPath, TextWriter output)
    {
        if (specPath.EndsWith(".flexnet", StringComparison.OrdinalIgnoreCase))
        {
            output.WriteLine(ModelCommands.LoadNetwork(specPath).Summary());
            return 0;
        }
        var spec = TrainingSpec.Load(specPath);
        output.WriteLine(spec.Network.Summary());
        output.WriteLine($"loss: {spec.Loss.GetType().Name}; optimizer: {spec.Optimizer.Name} (lr {spec.Optimizer.LearningRate}); epochs {spec.Epochs}; batch {spec.BatchSize}; seed {spec.Seed}");
        return 0;
    }

    internal static int Graph(string specPath, string format, string? outPath, TextWriter output, TextWriter error, string layout = "auto")
    {
        var network = ModelCommands.LoadNetwork(specPath);
        string dot = network.ToDot();
        if (format == "dot")
        {
            if (outPath is null) output.Write(dot);
            else
            {
                File.WriteAllText(outPath, dot);
                output.WriteLine($"wrote {outPath}");
            }
            return 0;
        }
        if (outPath is null) throw new UsageException($"--format {format} needs --out FILE.");
        string? exe = layout == "msagl" ? null : FindOnPath("dot");
        if (exe is null)
        {
            if (layout == "graphviz")
            {
                error.WriteLine($"flexnet graph: --layout graphviz needs Graphviz's 'dot' program, which is not on the PATH " +
                                "(Debian: apt-get install graphviz). Use --layout msagl or auto to lay the graph out without it.");
                return 1;
            }
            var picture = GraphPicture.Layout(network);
            if (format == "svg") AtomicWrite(outPath, Encoding.UTF8.GetBytes(GraphPicture.ToSvg(picture)));
            else AtomicWrite(outPath, GraphPicture.ToPng(picture));
            output.WriteLine($"wrote {outPath} (laid out by MSAGL)");
            return 0;
        }
        var psi = new ProcessStartInfo(exe, ["-T" + format, "-o", outPath])
        {
            RedirectStandardInput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        using var p = Process.Start(psi) ?? throw new IOException("could not start Graphviz's dot");
        p.StandardInput.Write(dot);
        p.StandardInput.Close();
        string err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0)
        {
            error.WriteLine($"flexnet graph: Graphviz's dot failed (exit {p.ExitCode}): {err.Trim()}");
            return 1;
        }
        output.WriteLine($"wrote {outPath}");
        return 0;
    }

    private static void AtomicWrite(string path, byte[] bytes)
    {
        string tmp = path + ".tmp";
        File.WriteAllBytes(tmp, bytes);
        File.Move(tmp, path, overwrite: true);
    }

    private static string? FindOnPath(string name)
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            string f = Path.Combine(dir, name);
            if (File.Exists(f)) return f;
        }
        return null;
    }

    internal static int Layers(string? name, TextWriter output, TextWriter error)
    {
        if (name is null)
        {
            output.WriteLine($"spec layer kinds (layers[i].kind): {string.Join(", ", TrainingSpec.LayerKinds)}");
            output.WriteLine($"spec connection kinds (connections[i].kind): {string.Join(", ", TrainingSpec.ConnectionKinds)}");
            output.WriteLine($"spec losses: {string.Join(", ", TrainingSpec.LossNames)}");
            output.WriteLine();
            return LayersCommand.Run([], output, error);
        }
        return LayersCommand.Run([name], output, error);
    }
}
