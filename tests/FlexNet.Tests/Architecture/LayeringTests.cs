using System.Runtime.CompilerServices;
using System.Text.RegularExpressions;

namespace FlexNet.Tests.Architecture;

/// <summary>Guards the architecture: the compiled library's type references follow the layer order, every folder is
/// one namespace, and nothing names a .NET type to instantiate from a string.</summary>
public class LayeringTests
{
    private static string SrcRoot([CallerFilePath] string here = "") =>
        Path.GetFullPath(Path.Combine(Path.GetDirectoryName(here)!, "..", "..", "..", "src", "FlexNet"));

    private static IEnumerable<(string file, string text)> Files(string folder)
    {
        var dir = Path.Combine(SrcRoot(), folder);
        if (!Directory.Exists(dir)) yield break;
        foreach (var f in Directory.GetFiles(dir, "*.cs", SearchOption.AllDirectories))
            if (!Path.GetRelativePath(SrcRoot(), f).Split(Path.DirectorySeparatorChar).Any(p => p is "obj" or "bin"))
                yield return (Path.GetRelativePath(SrcRoot(), f), File.ReadAllText(f));
    }

    /// <summary>The library's layers from the bottom up (docs/architecture.md draws the same order): a namespace may
    /// use its own layer and those below it, never one above.</summary>
    internal static readonly string[][] Order =
    [
        ["FlexNet"],                                                    // errors
        ["FlexNet.Kernels"],                                            // span kernels
        ["FlexNet.Tensors", "FlexNet.Autodiff", "FlexNet.Autodiff.Ops"], // the engine: a tensor records its gradient function
        ["FlexNet.IO", "FlexNet.Data", "FlexNet.Initializers", "FlexNet.Distributed"], // files, data sets, initialisers, MPI
        ["FlexNet.Graph"],                                              // the graph engine: Layer, Connection, Network, plan
        ["FlexNet.FunctionalBlocks"],                                   // the functional tier: blocks over NN ops
        ["FlexNet.Connections", "FlexNet.Layers", "FlexNet.Layers.Recurrent"], // concrete connections and layers
        ["FlexNet.Losses", "FlexNet.Metrics", "FlexNet.Regularizers", "FlexNet.Optimizers"],
        ["FlexNet.Training"],
        ["FlexNet.Models"],
        ["FlexNet.Specs"],                                              // spec files: JSON/YAML to a network and a training
        ["FlexNet.Onnx"],                                               // ONNX export of Connect-built networks
    ];

    [Fact]
    public void CompiledLibraryFollowsTheLayerOrder()
    {
        var refs = TypeReferenceScanner.References(typeof(FlexNet.Graph.Network).Assembly);
        Assert.True(refs.Count > 1000, $"the scanner found only {refs.Count} references: it is not reading the IL");
        var bad = TypeReferenceScanner.Violations(refs, Order);
        Assert.True(bad.Count == 0, "References against the layer order:\n" + string.Join("\n", bad));
    }

    [Fact]
    public void EveryFolderIsOneNamespace()
    {
        var wrong = new List<string>();
        foreach (var (file, text) in Files(""))
        {
            var m = Regex.Match(text, @"^namespace ([\w.]+);", RegexOptions.Multiline);
            var dir = Path.GetDirectoryName(file)!.Replace(Path.DirectorySeparatorChar, '.');
            string expected = dir.Length == 0 ? "FlexNet" : "FlexNet." + dir;
            if (!m.Success || m.Groups[1].Value != expected) wrong.Add($"{file}: {(m.Success ? m.Groups[1].Value : "no namespace")}, expected {expected}");
        }
        Assert.True(wrong.Count == 0, string.Join("\n", wrong));
    }

    [Fact]
    public void ScannerFindsAViolationPlantedInAMethodBody()
    {
        var refs = TypeReferenceScanner.References(typeof(LayeringTests).Assembly)
            .Where(r => r.From.Namespace?.StartsWith("FlexNet.Tests.Architecture.Planted", StringComparison.Ordinal) == true).ToList();
        string[][] order = [["FlexNet.Tests.Architecture.Planted.Low"], ["FlexNet.Tests.Architecture.Planted.High"]];
        var bad = TypeReferenceScanner.Violations(refs, order);
        Assert.Single(bad);
        Assert.StartsWith("FlexNet.Tests.Architecture.Planted.Low -> FlexNet.Tests.Architecture.Planted.High: Sneaky uses Top", bad[0]);
        // the same references in the allowed direction pass
        Assert.Empty(TypeReferenceScanner.Violations(refs, [order[1], order[0]]));
    }

    [Fact]
    public void NoReflectiveTypeLoadingFromStrings()
    {
        var banned = new Regex(@"Type\.GetType\(|Activator\.CreateInstance|Assembly\.Load|BinaryFormatter|TypeNameHandling");
        var offenders = Files("").Where(f => banned.IsMatch(StripComments(f.text))).Select(f => f.file).ToList();
        Assert.True(offenders.Count == 0, "Reflective type loading is banned: " + string.Join(", ", offenders));
    }

    private static string StripComments(string s) => Regex.Replace(s, @"//.*?$|/\*.*?\*/", "", RegexOptions.Multiline | RegexOptions.Singleline);
}
